"""Shared fixtures: paths to the repository, the examples and the real-world corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CORPUS = REPO.parent / "shared" / "corpus" / "real"


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
