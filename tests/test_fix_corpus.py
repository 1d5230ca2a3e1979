"""``--fix`` over the real-world corpus: byte-exact round trips, and real fixes that only do
what they say (verified re-read, idempotent, no new errors)."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus
from oomguard.linter.fix import apply_fixes, load_like_linter, patch_text
from oomguard.linter.loader import decode
from oomguard.linter.run import MANIFEST_SUFFIXES, lint_paths
from oomguard.rules import CATALOGUE
from oomguard.rules.config import DEFAULT_CONFIG, config_from_data
from oomguard.rules.model import pointer

pytestmark = needs_corpus
ALL_FIXES = config_from_data(
    {
        "defaults": {"memory_request": "256Mi", "memory_limit": "256Mi"},
        "fix": {"enable": [rule.ID for rule in CATALOGUE if rule.FIX]},
    }
)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in MANIFEST_SUFFIXES)


def first_memory_value(data, path=()):
    """Path and value of the first string under ``…/limits|requests/memory``."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*path, key)
            in_resources = path[-1:] in (("limits",), ("requests",))
            if key == "memory" and in_resources and isinstance(value, str):
                return here, value
            found = first_memory_value(value, here)
            if found:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = first_memory_value(value, (*path, index))
            if found:
                return found
    return None


def test_replace_and_replace_back_is_byte_identical_for_every_corpus_file():
    round_trips = 0
    for path in corpus_files():
        try:
            text = decode(path.read_bytes())
            documents = load_like_linter(text, str(path))
        except Exception:  # noqa: BLE001  (unparsable corpus files are manifest-invalid)
            continue
        for document in documents:
            found = first_memory_value(document.data)
            if not found:
                continue
            where, old = found
            other = "999Mi" if old != "999Mi" else "998Mi"
            there = {document.index: [{"op": "replace", "path": pointer(where), "value": other}]}
            back = {document.index: [{"op": "replace", "path": pointer(where), "value": old}]}
            changed = patch_text(text, there, str(path))
            assert changed != text
            assert patch_text(changed, back, str(path)) == text, (path, where)
            round_trips += 1
            break
    assert round_trips > 300  # the corpus has ~375 files with a string memory quantity


def lint_copy(tmp_path: Path, files: list[Path]) -> tuple[Path, dict[Path, bytes]]:
    root = tmp_path / "corpus"
    for source in files:
        target = root / source.relative_to(CORPUS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root, {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def errors(result) -> collections.Counter:
    return collections.Counter(
        (f.rule, f.file, f.kind, f.name, f.container)
        for f in result.findings
        if f.severity == "error"
    )


@pytest.mark.parametrize(
    "config, sample",
    [(DEFAULT_CONFIG, 1), (ALL_FIXES, 6)],
    ids=["default-config-every-file", "all-fixes-every-6th-file"],
)
def test_fixing_the_corpus(tmp_path, config, sample):
    root, before = lint_copy(tmp_path, corpus_files()[::sample])
    first = lint_paths([str(root)], config)
    fixable = {f.file for f in first.findings if f.fixable}
    fixed = apply_fixes(first, config, [str(root)], write=True, diff=False)

    assert not [n for n in fixed.notices if "not fixed" in n]
    after = {p: p.read_bytes() for p in before}
    changed = {p for p in before if after[p] != before[p]}
    assert changed, "the corpus has fixable findings"
    assert {str(p) for p in changed} <= fixable  # files without fixes keep every byte
    broken = {f.file for f in first.findings if f.rule == "manifest-invalid"}
    assert not {str(p) for p in changed} & broken  # unparsable: never written
    assert broken or sample > 1  # the whole corpus does hold unparsable files
    assert not errors(fixed) - errors(first)
    for path in changed:
        # the changed file still reads, with as many documents as before
        old = load_like_linter(decode(before[path]), str(path))
        new = load_like_linter(decode(after[path]), str(path))
        assert [d.index for d in old] == [d.index for d in new]

    again = apply_fixes(
        lint_paths([str(root)], config), config, [str(root)], write=True, diff=False
    )
    assert {p: p.read_bytes() for p in before} == after
    assert not [n for n in again.notices if n.startswith("fixed ")]
