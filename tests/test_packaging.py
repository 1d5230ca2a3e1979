"""The wheel holds every package of the source tree: pyproject.toml lists packages by hand
(its package-dir maps rules/, linter/, webhook/ under oomguard.*), so a new folder must be
listed there too or an installed oomguard fails to import it (the pre-commit hook installs
oomguard that way)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_source_package_is_in_pyproject():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {Path(folder): name for name, folder in setuptools["package-dir"].items()}
    top = [folder for folder in folders if len(folder.parts) == 1]
    found = set()
    for root in top:
        for init in (REPO / root).rglob("__init__.py"):
            folder = init.parent.relative_to(REPO)
            if folder in folders:
                found.add(folders[folder])
            else:
                raise AssertionError(f"{folder} is a package but not in pyproject's package-dir")
    assert sorted(found) == sorted(setuptools["packages"])


def test_an_installed_oomguard_is_not_shadowed_by_the_checkout(tmp_path):
    """From the repository root, ``python -m oomguard`` puts the checkout first on sys.path:
    with a non-editable install (CI images, benchmarks, tools) every module must still come
    from the install. A root folder named ``oomguard/`` used to hide it (``python -m oomguard
    serve``: No module named 'oomguard.webhook'). The install is of a copy of the sources, so
    the build leaves nothing behind in the checkout; pip's build isolation fetches setuptools
    (from its cache after the first run)."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for folder in {Path(f).parts[0] for f in setuptools["package-dir"].values()}:
        shutil.copytree(
            REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, *args], cwd=REPO, capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
        )  # fmt: skip

    version = run("-m", "oomguard", "--version")
    assert version.returncode == 0 and version.stdout.startswith("oomguard "), version
    for command in ("serve", "lint", "audit", "rules"):
        helped = run("-m", "oomguard", command, "--help")
        assert helped.returncode == 0 and helped.stdout.startswith(f"usage: oomguard {command}")
    modules = ("oomguard", "oomguard.cli", "oomguard.rules.engine", "oomguard.linter.formats",
               "oomguard.webhook.server")  # fmt: skip
    where = run(
        "-c", f"import importlib; [print(importlib.import_module(m).__file__) for m in {modules!r}]"
    )
    # -c also puts the working directory (the checkout) first on sys.path
    files = where.stdout.split()
    assert where.returncode == 0 and len(files) == len(modules), where.stderr
    for module, file in zip(modules, files, strict=True):
        assert Path(file).is_relative_to(site), (module, file)
