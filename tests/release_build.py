"""One release build per test session, shared by tests/test_release.py and
tests/test_dockerfile.py: `python -m build --no-isolation` (offline: the pinned setuptools
of the dev extra) on a snapshot of the working tree, so the checkout gets no build/ or
*.egg-info and uncommitted files count. The wheel is built from the sdist, which proves the
sdist holds what a build needs. Also a fresh venv with that wheel installed, its
dependencies from constraints/test.txt."""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints" / "test.txt"


def package_folders() -> tuple[str, ...]:
    """The top-level folders of the package, read from pyproject's package-dir (the one
    place they are named), so a moved folder cannot be left out of the release tests."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    folders = project["tool"]["setuptools"]["package-dir"].values()
    return tuple(sorted({folder.split("/")[0] for folder in folders}))


# the files of the repository a release is built from (MANIFEST.in names the extras)
SOURCES = (
    "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "CHANGELOG.md", *package_folders(),
)  # fmt: skip


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="oomguard-release-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def snapshot(dest: Path, parts: tuple[str, ...] = SOURCES) -> Path:
    shutil.rmtree(dest, ignore_errors=True)  # a failed earlier attempt leaves a partial copy
    dest.mkdir(parents=True)
    for part in parts:
        if (REPO / part).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(REPO / part, dest / part, ignore=ignore)
        else:
            shutil.copy2(REPO / part, dest / part)
    return dest


@functools.cache
def dist() -> tuple[Path, Path]:
    """(sdist, wheel) of the working tree."""
    src = snapshot(_root() / "src")
    out = _root() / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"python -m build failed:\n{proc.stdout}\n{proc.stderr}")
    (sdist,) = out.glob("oomguard-*.tar.gz")
    (wheel,) = out.glob("oomguard-*.whl")
    return sdist, wheel


@functools.cache
def wheel_venv() -> Path:
    """A fresh venv (no system site-packages) with the wheel installed; returns its bin/."""
    venv = _root() / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile",
         "--disable-pip-version-check", "-c", str(CONSTRAINTS), str(dist()[1])],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"pip install of the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    return venv / "bin"
