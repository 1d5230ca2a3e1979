"""Rendering charts with real Helm (helm-python-sdk in-process; no mocks) and tracing values.

The charts under tests/data/charts are written the way projects write them (``toYaml
.Values.resources``, ``required``, ``lookup``, ``semverCompare`` on ``.Capabilities``, a
subchart overridden from the parent and from a ``--values`` file). Helm behaviour cited from
helm/helm v3/v4: pkg/engine/engine.go (``required``/``fail`` messages, offline ``lookup``),
pkg/chart/common/util/coalesce.go (subchart values under the subchart's name),
pkg/cli/values/options.go (``-f`` then ``--set``), pkg/releaseutil/manifest.go (splitting).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from oomguard.linter.render import RendererMissing, RenderError, RenderOptions
from oomguard.linter.render.helm import BACKEND_ENV, render_chart

DATA = Path(__file__).parent / "data" / "charts"


@pytest.fixture(autouse=True)
def _sdk_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine has no helm CLI; pin the in-process backend so a developer's helm on PATH
    # does not change what these tests exercise.
    monkeypatch.setenv(BACKEND_ENV, "sdk")


@pytest.fixture
def charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture charts, cwd set so units are given as relative paths."""
    shutil.copytree(DATA, tmp_path / "charts")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "charts"


def _objects(rendered) -> list[dict]:
    return [yaml.safe_load(doc.text) for doc in rendered.documents]


def test_spring_chart_documents_name_their_templates(charts: Path):
    rendered = render_chart("charts/spring-app", RenderOptions())
    assert [(doc.source, yaml.safe_load(doc.text)["kind"]) for doc in rendered.documents] == [
        ("charts/spring-app/templates/deployment.yaml", "Deployment"),
        ("charts/spring-app/templates/secret.yaml", "Secret"),
        ("charts/spring-app/templates/service.yaml", "Service"),
    ]  # NOTES.txt and _helpers.tpl render no documents
    deployment = _objects(rendered)[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0] == {"name": "JAVA_OPTS", "value": "-Xms1g -Xmx2g"}
    assert container["resources"] == {
        "limits": {"memory": "1536Mi"},
        "requests": {"cpu": "250m", "memory": "1Gi"},
    }
    assert deployment["metadata"]["name"] == "release-name-spring-app"
    assert rendered.engine.startswith("helm-python-sdk 0.2.2")


def test_lookup_is_empty_offline_as_in_helm_template(charts: Path):
    secret = _objects(render_chart("charts/spring-app", RenderOptions()))[1]
    assert secret["data"] == {"password": "Z2VuZXJhdGVk"}  # the `else` branch: no cluster


def test_inputs_are_every_chart_file_and_the_values_files(charts: Path):
    rendered = render_chart("charts/platform", RenderOptions(values=("charts/platform-prod.yaml",)))
    assert rendered.inputs == [
        "charts/platform/Chart.yaml",
        "charts/platform/values.yaml",
        "charts/platform/charts/worker/Chart.yaml",
        "charts/platform/charts/worker/values.yaml",
        "charts/platform/charts/worker/templates/worker.yaml",
        "charts/platform/templates/api.yaml",
        "charts/platform-prod.yaml",
    ]


def test_subchart_documents_and_values_override_order(charts: Path):
    default = render_chart("charts/platform", RenderOptions(release="shop", namespace="prod"))
    assert [doc.source for doc in default.documents] == [
        "charts/platform/charts/worker/templates/worker.yaml",
        "charts/platform/templates/api.yaml",
    ]
    worker, api = _objects(default)
    env = worker["spec"]["template"]["spec"]["containers"][0]["env"]
    # The parent's `worker.heap: 1g` overrides the subchart's own `heap: 256m`.
    assert env[0]["value"] == "-Xms1g -Xmx1g"
    assert worker["metadata"]["name"] == "shop-worker"

    prod = render_chart(
        "charts/platform",
        RenderOptions(values=("charts/platform-prod.yaml",), set=("api.heap=950m",)),
    )
    worker, api = _objects(prod)
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0]["value"] == "-Xms1800m -Xmx1800m"
    assert container["resources"]["limits"]["memory"] == "2Gi"
    # --set wins over the --values file, which wins over values.yaml.
    assert api["spec"]["template"]["spec"]["containers"][0]["command"][1] == "-Xmx950m"


def test_kube_version_reaches_capabilities(charts: Path):
    old = render_chart("charts/go-svc", RenderOptions(kube_version="1.20.0"))
    pdb = _objects(old)[1]
    assert (pdb["apiVersion"], pdb["metadata"]["annotations"]) == (
        "policy/v1beta1",
        {"example.com/rendered-for": "v1.20.0"},
    )
    new = _objects(render_chart("charts/go-svc", RenderOptions(kube_version="v1.30.2")))[1]
    assert (new["apiVersion"], new["metadata"]["annotations"]) == (
        "policy/v1",
        {"example.com/rendered-for": "v1.30.2"},
    )


def test_packaged_chart_renders_with_archive_member_sources(charts: Path, tmp_path: Path):
    import helm_python

    archive = helm_python.package("charts/go-svc", destination=str(tmp_path / "dist"))
    assert Path(archive).name == "go-svc-0.3.0.tgz"
    rendered = render_chart("dist/go-svc-0.3.0.tgz", RenderOptions(set=("memory.limit=1Gi",)))
    assert [doc.source for doc in rendered.documents] == [
        "dist/go-svc-0.3.0.tgz/go-svc/templates/deployment.yaml",
        "dist/go-svc-0.3.0.tgz/go-svc/templates/pdb.yaml",
    ]
    container = _objects(rendered)[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"memory": "1Gi"}}
    assert rendered.inputs == ["dist/go-svc-0.3.0.tgz"]


def test_required_value_missing_is_helms_message_at_the_template_line(charts: Path):
    with pytest.raises(RenderError) as caught:
        render_chart("charts/needs-image", RenderOptions())
    error = caught.value
    assert error.message == (
        "execution error at (needs-image/templates/deployment.yaml:10:20): "
        "image.repository must be set"
    )
    assert (error.file, error.line) == ("charts/needs-image/templates/deployment.yaml", 9)


def test_template_failure_message_is_escaped(charts: Path):
    template = charts / "needs-image" / "templates" / "deployment.yaml"
    template.write_text('{{ fail "bad \\x1b[2J value" }}\n')
    with pytest.raises(RenderError) as caught:
        render_chart("charts/needs-image", RenderOptions())
    assert caught.value.message == (
        "execution error at (needs-image/templates/deployment.yaml:1:3): bad \\x1b[2J value"
    )
    assert "\x1b" not in str(caught.value)


def test_unreadable_values_file_names_the_file(charts: Path):
    (charts / "broken.yaml").write_text("api: [\n")
    with pytest.raises(RenderError) as caught:
        render_chart("charts/platform", RenderOptions(values=("charts/broken.yaml",)))
    assert caught.value.file == "charts/broken.yaml"
    assert caught.value.message.startswith("charts/broken.yaml: error converting YAML to JSON")


def test_no_helm_at_all_is_renderer_missing(charts: Path, monkeypatch: pytest.MonkeyPatch):
    # Simulated absence (named so): no helm on PATH and the SDK import made to fail.
    monkeypatch.setenv(BACKEND_ENV, "auto")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "helm_python", None)
    with pytest.raises(RendererMissing) as caught:
        render_chart("charts/spring-app", RenderOptions())
    assert str(caught.value) == (
        "rendering a Helm chart needs Helm: pip install 'oomguard[helm]' (in-process), "
        "or put the helm CLI on PATH"
    )


def test_cli_backend_without_helm_on_path_is_renderer_missing(
    charts: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(BACKEND_ENV, "cli")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RendererMissing):
        render_chart("charts/spring-app", RenderOptions())
