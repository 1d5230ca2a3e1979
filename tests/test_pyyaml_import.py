"""linter/pyyaml.py: PyYAML imported with its Reader.NON_PRINTABLE pattern seeded in re's cache
as the complement of the same set (a tenth of a lint cold start, bench/RESULTS.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml
from oomguard.linter import pyyaml


def test_the_seeded_pattern_matches_exactly_the_code_points_pyyaml_calls_non_printable():
    # re.UNICODE (the default for str patterns) only makes a cache key of its own, so this is
    # PyYAML's pattern as re compiles it, not the seeded one
    theirs = re.compile(pyyaml.READER_NON_PRINTABLE, re.UNICODE)
    ours = re.compile(pyyaml.NON_PRINTABLE)
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    found = [m.start() for m in theirs.finditer(every)]
    assert [m.start() for m in ours.finditer(every)] == found
    # the set in words: C0 controls but TAB LF CR, DEL to C1 but NEL, surrogates, U+FFFE/FFFF
    assert len(found) == 29 + 32 + 2048 + 2


def test_the_pattern_is_the_one_the_installed_pyyaml_compiles():
    # yaml/reader.py: class Reader, NON_PRINTABLE = re.compile('...'); read from its source,
    # so a PyYAML that changes the pattern fails here instead of quietly missing the seed
    tree = ast.parse(Path(yaml.reader.__file__).read_text("utf-8"))
    (reader,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Reader")
    (call,) = (
        n.value
        for n in reader.body
        if isinstance(n, ast.Assign) and [t.id for t in n.targets] == ["NON_PRINTABLE"]
    )
    assert call.args[0].value == pyyaml.READER_NON_PRINTABLE


def test_a_lint_run_gets_the_seeded_pattern(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['oomguard', 'lint', 'pod.yaml']\n"
        "try:\n    runpy.run_module('oomguard', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(repr(sys.modules['yaml'].reader.Reader.NON_PRINTABLE.pattern))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ast.literal_eval(run.stdout.strip().splitlines()[-1]) == pyyaml.NON_PRINTABLE
