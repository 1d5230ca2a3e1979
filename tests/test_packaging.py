"""The wheel holds every package of the source tree: pyproject.toml lists packages by hand
(its package-dir maps rules/, linter/, webhook/ under oomguard.*), so a new folder must be
listed there too or an installed oomguard fails to import it (the pre-commit hook installs
oomguard that way)."""

from __future__ import annotations

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
