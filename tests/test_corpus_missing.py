"""Without the real-world corpus (a fresh clone with no ../shared beside it), the tests that
need it are skipped with a one-line reason: never counted as passed, and never a Hypothesis
error ("Cannot sample from a length-zero sequence", as before)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

CORPUS_TESTS = ["tests/test_corpus.py", "tests/test_fix_corpus.py", "tests/test_properties.py"]
# the corpus tests in those files (the other tests there need no corpus and are deselected)
NEEDING = "corpus or deterministic"


def test_corpus_tests_are_skipped_with_the_reason_when_it_is_missing(tmp_path: Path):
    empty = tmp_path / "no-corpus"
    empty.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         *CORPUS_TESTS, "-k", NEEDING],
        cwd=REPO,
        env={**os.environ, "OOMGUARD_TEST_CORPUS": str(empty)},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "length-zero" not in output
    summary = output.strip().splitlines()[-1]
    skipped = re.fullmatch(r"=* ?(\d+) skipped, \d+ deselected in .*", summary)
    assert skipped, summary  # nothing passed, failed or errored
    reasons = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert sum(int(re.search(r"\[(\d+)\]", line)[1]) for line in reasons) == int(skipped[1])
    assert int(skipped[1]) >= 11
    for line in reasons:
        assert line.endswith(
            f"real-world corpus missing: no manifests under {empty} "
            "(clone ../shared beside the repository, or set OOMGUARD_TEST_CORPUS)"
        )
