"""The release: `python -m build` gives an sdist and a wheel that pass `twine check`, hold
what a build and a run need, carry the one version, and install in a fresh venv where
`oomguard lint examples/` answers exactly as the checkout does (tests/release_build.py)."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, REPO
from oomguard import __version__
from release_build import dist, wheel_venv

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
TWINE = Path(sys.executable).with_name("twine")


@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    return dist()


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def test_version_is_written_once():
    project = PYPROJECT["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "oomguard.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    # the other places that name it follow it (the chart's appVersion is the image tag)
    chart = yaml.safe_load((REPO / "charts" / "oomguard" / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## [{__version__}] - " in changelog


def test_sdist_and_wheel_pass_twine_check(built):
    assert TWINE.exists(), f"{TWINE} missing: install the dev extra (.[dev])"
    proc = subprocess.run(
        [str(TWINE), "check", "--strict", *map(str, built)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2


def test_artifacts_carry_the_version(built):
    sdist, wheel = built
    assert sdist.name == f"oomguard-{__version__}.tar.gz"
    assert wheel.name == f"oomguard-{__version__}-py3-none-any.whl"
    meta = wheel_metadata(wheel)
    assert meta["Version"] == __version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta["License-File"] == "LICENSE"
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(f"oomguard-{__version__}.dist-info/licenses/LICENSE").decode()
    assert text == (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def test_sdist_holds_what_a_build_needs_and_no_tests(built):
    sdist, _ = built
    top = f"oomguard-{__version__}/"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(top) for n in tar.getnames()}
    for required in ("pyproject.toml", "README.md", "CHANGELOG.md", "PKG-INFO", "LICENSE",
                     "rules/config.schema.json", "webhook/admission_review.schema.json",
                     "cli/__init__.py", "linter/render/__init__.py"):  # fmt: skip
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)  # half a suite would not run
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_wheel_holds_every_module_and_data_file(built):
    """Derived from package-dir: every .py and .json of each package folder, at its name."""
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    setuptools = PYPROJECT["tool"]["setuptools"]
    expected = set()
    for package, folder in setuptools["package-dir"].items():
        for file in (REPO / folder).iterdir():
            if file.suffix in (".py", ".json"):
                expected.add(f"{package.replace('.', '/')}/{file.name}")
    assert {
        "oomguard/rules/config.schema.json",
        "oomguard/webhook/admission_review.schema.json",
    } <= (expected)
    missing = expected - names
    assert not missing, sorted(missing)
    assert not any(n.startswith(("rules/", "linter/", "webhook/", "tests/")) for n in names)


def test_installed_wheel_lints_examples_as_the_checkout_does(built, tmp_path):
    bin_dir = wheel_venv()
    # the installed copy runs, not the checkout: import from a folder outside the repository
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import oomguard.rules as r; print(r.__file__)"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert "site-packages/oomguard/rules/__init__.py" in where.stdout, where.stderr
    assert not where.stdout.startswith(str(REPO))
    version = subprocess.run(
        [str(bin_dir / "oomguard"), "--version"], capture_output=True, text=True
    )
    metadata = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import importlib.metadata as m; print(m.version('oomguard'))"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert (
        version.stdout.strip() == f"oomguard {metadata.stdout.strip()}" == f"oomguard {__version__}"
    )

    shutil.copytree(EXAMPLES, tmp_path / "examples")
    args = ["lint", "examples/", "--format", "json", "--min-severity", "info"]
    installed = subprocess.run(
        [str(bin_dir / "oomguard"), *args], capture_output=True, text=True, cwd=tmp_path
    )
    checkout = subprocess.run(
        [sys.executable, "-m", "oomguard", *args], capture_output=True, text=True, cwd=REPO
    )
    assert checkout.returncode == installed.returncode == 1, installed.stderr
    ours, theirs = json.loads(installed.stdout), json.loads(checkout.stdout)
    assert len(ours["findings"]) > 20  # every example file was read
    assert ours == theirs  # same relative paths: both ran from the folder holding examples/
    assert installed.stderr == checkout.stderr


def test_install_docs_name_the_artifacts_that_are_built(built):
    """docs/install.md's snippets name the real wheel, version, tags, chart values and hook."""
    from packaging.requirements import Requirement

    text = (REPO / "docs" / "install.md").read_text()
    sdist, wheel = built
    assert set(re.findall(r"oomguard-[\w.]+-py3-none-any\.whl", text)) == {wheel.name}
    assert set(re.findall(r"oomguard-[\d.]+\.tar\.gz", text)) == {sdist.name}
    assert set(re.findall(r"oomguard:([\w.]+)", text)) == {__version__}  # image tags
    assert set(re.findall(r"@(v[\w.]+)", text)) == {f"v{__version__}"}  # git refs
    assert set(re.findall(r"rev: (\S+)", text)) == {f"v{__version__}"}
    for line in re.findall(r"pip install '(oomguard[^']*@ git\+[^']+)'", text):
        requirement = Requirement(line)
        assert requirement.name == "oomguard" and requirement.extras <= {"helm"}
        assert requirement.url.endswith(f"@v{__version__}")
    assert "PLACEHOLDER" in text and "git.example.com/you/oomguard" in text
    values = yaml.safe_load((REPO / "charts" / "oomguard" / "values.yaml").read_text())
    for key in re.findall(r"--set image\.(\w+)=", text):
        assert key in values["image"], key
    hooks = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(re.findall(r"- id: ([\w-]+)", text)) <= hooks
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(re.findall(r"(?:oomguard|\.whl|\.)\[(\w+)\]", text)) <= set(extras)
