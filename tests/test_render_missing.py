"""A missing renderer is never a green run: every way a chart or overlay can reach lint
without its engine ends in exit 2 and one line on stderr saying what to install, before any
finding is printed (a run that cannot judge part of its input does not report the rest as if
it were the whole; docs/charts.md "Renderers").

Renderers are made missing for real: ``PATH`` set to an empty folder (no helm, kustomize or
kubectl), helm-python-sdk hidden from Python by a module that raises ImportError.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO

RENDER = REPO / "tests" / "data" / "render"


@pytest.fixture
def no_engines(tmp_path: Path) -> dict[str, str]:
    """PATH without any renderer, and helm_python unimportable."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "helm_python.py").write_text("raise ImportError('hidden by the test')\n")
    return {"PATH": str(empty), "PYTHONPATH": str(hidden), "OOMGUARD_HELM": "auto"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder with a chart, an overlay and a plain manifest with an error of its own."""
    root = tmp_path / "repo"
    shutil.copytree(RENDER / "charts" / "clean", root / "charts" / "clean")
    shutil.copytree(RENDER / "kustomize", root / "kustomize")
    shutil.copyfile(EXAMPLES / "bad" / "node.yaml", root / "bad.yaml")
    return root


def assert_usage_error(result, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # nothing half-judged is printed
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("oomguard: "), result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_helm_cli_forced_and_absent_says_so(run_oomguard, repo, tmp_path):
    """OOMGUARD_HELM=cli with helm-python-sdk installed but no helm on PATH: the SDK is not
    silently used instead, and the line names the setting, not the SDK install."""
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_oomguard(
        "lint", "charts/clean", cwd=repo, env={"OOMGUARD_HELM": "cli", "PATH": str(empty)}
    )
    assert_usage_error(result, "OOMGUARD_HELM=cli but no helm CLI on PATH")


def test_helm_sdk_forced_and_absent_says_so(run_oomguard, repo, no_engines):
    result = run_oomguard(
        "lint", "charts/clean", cwd=repo, env={**no_engines, "OOMGUARD_HELM": "sdk"}
    )
    assert_usage_error(result, "OOMGUARD_HELM=sdk but helm-python-sdk is not installed")


def test_no_helm_at_all_names_both_ways_to_get_it(run_oomguard, repo, no_engines):
    result = run_oomguard("lint", "charts/clean", cwd=repo, env=no_engines)
    assert_usage_error(result, "pip install 'oomguard[helm]'", "helm CLI on PATH")


def test_under_pre_commit_the_line_names_the_charts_hook(run_oomguard, repo, no_engines):
    """pre-commit sets PRE_COMMIT=1 for hooks; its environment is not the user's to pip into."""
    result = run_oomguard("lint", "charts/clean", cwd=repo, env={**no_engines, "PRE_COMMIT": "1"})
    assert_usage_error(result, "hook id oomguard-charts")


def test_a_walk_meeting_a_chart_without_helm_is_exit_2(run_oomguard, repo, no_engines):
    """The walk finds charts/clean beside bad.yaml (an error of its own): exit 2, one line —
    not exit 1 with bad.yaml's finding as if the chart had been judged."""
    result = run_oomguard("lint", ".", cwd=repo, env=no_engines)
    assert_usage_error(result, "rendering a Helm chart needs Helm")


def test_a_walk_meeting_an_overlay_without_kustomize_or_kubectl_is_exit_2(
    run_oomguard, repo, no_engines
):
    shutil.rmtree(repo / "charts")
    result = run_oomguard("lint", ".", cwd=repo, env=no_engines)
    assert_usage_error(result, "needs `kustomize` or `kubectl` on PATH")
    # excluding the overlays is the way to lint the rest without kustomize
    (repo / ".oomguard.yaml").write_text("exclude: ['kustomize/*']\n")
    rest = run_oomguard("lint", ".", cwd=repo, env=no_engines)
    assert rest.returncode == 1, rest.stdout + rest.stderr
    assert "bad.yaml:17:29: error node-heap-exceeds-limit" in rest.stdout


def test_fail_on_empty_with_a_chart_rendering_no_workload(run_oomguard, tmp_path):
    """A chart whose only Deployment is disabled by default renders nothing to judge: with
    --fail-on-empty that is exit 2, without it a pass that says 0 workloads."""
    chart = tmp_path / "off"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: off\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("enabled: false\n")
    (chart / "templates" / "deployment.yaml").write_text(
        "{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {template: {spec: {containers: [{name: a, image: b}]}}}\n{{- end }}\n"
    )
    env = {"OOMGUARD_HELM": "sdk"}
    strict = run_oomguard("lint", "--fail-on-empty", "off", cwd=tmp_path, env=env)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    assert "no Kubernetes workloads found in off" in strict.stderr
    assert "1 chart rendered with helm-python-sdk" in strict.stdout
    assert ", 0 workloads:" in strict.stdout
    lenient = run_oomguard("lint", "off", cwd=tmp_path, env=env)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "no Kubernetes workloads found in off" in lenient.stderr
