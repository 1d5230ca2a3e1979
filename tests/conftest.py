"""Shared fixtures: paths to the repository, the examples and the real-world corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI and `bash scripts/test.sh` must give the same answer on every run: property tests use a
# fixed seed (derandomize) unless HYPOTHESIS_PROFILE=explore asks for fresh random examples
# (run that locally to hunt; a failure found there becomes an explicit example in the test).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# The real-world corpus lives beside the repository (../shared), not in it; OOMGUARD_TEST_CORPUS
# points elsewhere. Tests that need it are skipped, with this reason, when it is missing.
CORPUS = Path(os.environ.get("OOMGUARD_TEST_CORPUS") or REPO.parent / "shared" / "corpus" / "real")
CORPUS_AVAILABLE = CORPUS.is_dir() and next(CORPUS.rglob("*.y*ml"), None) is not None
CORPUS_MISSING = (
    f"real-world corpus missing: no manifests under {CORPUS} "
    "(clone ../shared beside the repository, or set OOMGUARD_TEST_CORPUS)"
)
needs_corpus = pytest.mark.skipif(not CORPUS_AVAILABLE, reason=CORPUS_MISSING)


@pytest.fixture
def run_oomguard():
    """Run the installed ``oomguard`` command in a subprocess, as a user would."""

    def run(*args: str, stdin: str | None = None, cwd: Path | None = None, env=None):
        return subprocess.run(
            [sys.executable, "-m", "oomguard", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or REPO,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            timeout=120,
        )

    return run
