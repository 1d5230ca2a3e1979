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


# --- origins: the values file line that set a rendered value -------------------------------

CONTAINER = ("spec", "template", "spec", "containers", 0)


def _small_chart(root: Path, values: str, template: str, name: str = "small") -> str:
    """A one-template chart ``root/name`` (for cases the fixtures do not cover)."""
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: small\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(values)
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n" + template
    )
    return f"charts/{name}"


def _where(origin) -> tuple:
    assert origin is not None
    return (origin.file, origin.line, origin.column, origin.key, origin.literal, origin.editable)


def test_spring_java_opts_and_resources_point_at_values_yaml(charts: Path):
    rendered = render_chart("charts/spring-app", RenderOptions())
    java_opts = rendered.origin(0, CONTAINER + ("env", 0, "value"), "-Xms1g -Xmx2g")
    # values.yaml line 10 (1-based): `javaOpts: "-Xms1g -Xmx2g"`, the scalar starts at its quote
    assert _where(java_opts) == (
        "charts/spring-app/values.yaml",
        9,
        10,
        "javaOpts",
        "-Xms1g -Xmx2g",
        True,
    )
    assert java_opts.pointer_path == ("javaOpts",)
    # `toYaml .Values.resources`: the leaf inside the block
    limit = rendered.origin(0, CONTAINER + ("resources", "limits", "memory"), "1536Mi")
    assert _where(limit) == (
        "charts/spring-app/values.yaml",
        16,
        12,
        "resources.limits.memory",
        "1536Mi",
        True,
    )
    assert limit.pointer_path == ("resources", "limits", "memory")


def test_go_memlimit_points_at_values_yaml(charts: Path):
    rendered = render_chart("charts/go-svc", RenderOptions())
    gomemlimit = rendered.origin(0, CONTAINER + ("env", 0, "value"), "460MiB")
    assert _where(gomemlimit) == (
        "charts/go-svc/values.yaml",
        4,
        14,
        "memory.goMemLimit",
        "460MiB",
        True,
    )
    limit = rendered.origin(0, CONTAINER + ("resources", "limits", "memory"), "512Mi")
    assert _where(limit) == ("charts/go-svc/values.yaml", 2, 9, "memory.limit", "512Mi", True)


def test_subchart_value_set_by_the_parent_or_by_its_own_values(charts: Path):
    rendered = render_chart("charts/platform", RenderOptions())
    # "-Xms{{ .Values.heap }} -Xmx{{ .Values.heap }}" in the subchart; the parent's
    # `worker.heap: 1g` overrides the subchart's `heap: 256m`.
    heap = rendered.origin(0, CONTAINER + ("env", 0, "value"), "-Xms1g -Xmx1g")
    assert _where(heap) == ("charts/platform/values.yaml", 6, 8, "worker.heap", "1g", True)
    queue = rendered.origin(0, CONTAINER + ("env", 1, "value"), "jobs")
    assert _where(queue) == (
        "charts/platform/charts/worker/values.yaml",
        2,
        7,
        "queue",
        "jobs",
        True,
    )


def test_values_file_override_wins_and_set_is_not_editable(charts: Path):
    rendered = render_chart(
        "charts/platform",
        RenderOptions(values=("charts/platform-prod.yaml",), set=("api.heap=950m",)),
    )
    heap = rendered.origin(0, CONTAINER + ("env", 0, "value"), "-Xms1800m -Xmx1800m")
    assert _where(heap) == ("charts/platform-prod.yaml", 6, 8, "worker.heap", "1800m", True)
    assert heap.pointer_path == ("worker", "heap")
    limit = rendered.origin(0, CONTAINER + ("resources", "limits", "memory"), "2Gi")
    assert _where(limit) == ("charts/platform-prod.yaml", 5, 15, "worker.memoryLimit", "2Gi", True)
    # api.heap: values.yaml 768m, platform-prod.yaml 900m, --set 950m (first --set, value at 9)
    api_heap = rendered.origin(1, CONTAINER + ("command", 1), "-Xmx950m")
    assert _where(api_heap) == ("<--set>", 0, 9, "api.heap", "950m", False)
    api_limit = rendered.origin(1, CONTAINER + ("resources", "limits", "memory"), "1Gi")
    assert _where(api_limit) == (
        "charts/platform/values.yaml",
        2,
        15,
        "api.memoryLimit",
        "1Gi",
        True,
    )


def test_value_hard_coded_in_the_template_is_reported_there_not_editable(charts: Path):
    rendered = render_chart("charts/hardcoded", RenderOptions())
    opts = rendered.origin(0, CONTAINER + ("env", 0, "value"), "-Xms2g -Xmx2g")
    # statefulset.yaml line 18 (1-based): `              value: "-Xms2g -Xmx2g"`
    assert _where(opts) == (
        "charts/hardcoded/templates/statefulset.yaml",
        17,
        22,
        None,
        "-Xms2g -Xmx2g",
        False,
    )
    limit = rendered.origin(0, CONTAINER + ("resources", "limits", "memory"), "1Gi")
    assert _where(limit) == ("charts/hardcoded/values.yaml", 0, 13, "memoryLimit", "1Gi", True)


def test_value_with_no_single_source_has_no_origin(charts: Path):
    rendered = render_chart("charts/spring-app", RenderOptions())
    # "release-name-spring-app" is built from .Release.Name and .Chart.Name
    assert rendered.origin(0, ("metadata", "name"), "release-name-spring-app") is None
    small = _small_chart(
        charts,
        "minHeap: 2g\nmaxHeap: 2g\n",
        'data: {opts: "-Xms{{ .Values.minHeap }} -Xmx{{ .Values.maxHeap }}"}\n',
    )
    both = render_chart(small, RenderOptions())
    # Two values (both "2g", neither the whole text) make the field: no single source.
    assert both.origin(0, ("data", "opts"), "-Xms2g -Xmx2g") is None


def test_origin_search_is_bounded(charts: Path):
    template = 'data: {opts: "-Xmx{{ .Values.heap }}"}\n'
    # 20 values of the same text in file order; the used one is the 20th: beyond the bound.
    far = _small_chart(
        charts, "".join(f"unused{n}: 1g\n" for n in range(19)) + "heap: 1g\n", template
    )
    assert render_chart(far, RenderOptions()).origin(0, ("data", "opts"), "-Xmx1g") is None
    # The 16th is within it.
    near = _small_chart(
        charts, "".join(f"unused{n}: 1g\n" for n in range(15)) + "heap: 1g\n", template, "near"
    )
    origin = render_chart(near, RenderOptions()).origin(0, ("data", "opts"), "-Xmx1g")
    assert _where(origin) == ("charts/near/values.yaml", 15, 6, "heap", "1g", True)


def test_large_number_is_found_as_helm_prints_it(charts: Path):
    small = _small_chart(
        charts,
        "memory:\n  limit: 1Gi\n  goMemLimitBytes: 966367641\n",
        "data: {GOMEMLIMIT: {{ .Values.memory.goMemLimitBytes | quote }}}\n",
    )
    rendered = render_chart(small, RenderOptions())
    # Helm reads values numbers as float64 and text/template prints them with %v
    # (strconv.FormatFloat 'g', shortest): 966367641 renders as 9.66367641e+08.
    assert yaml.safe_load(rendered.documents[0].text)["data"] == {"GOMEMLIMIT": "9.66367641e+08"}
    origin = rendered.origin(0, ("data", "GOMEMLIMIT"), "9.66367641e+08")
    assert _where(origin) == (
        "charts/small/values.yaml",
        2,
        19,
        "memory.goMemLimitBytes",
        "966367641",
        True,
    )


def test_packaged_chart_values_are_located_inside_the_archive(charts: Path, tmp_path: Path):
    import helm_python

    helm_python.package("charts/go-svc", destination=str(tmp_path / "dist"))
    rendered = render_chart("dist/go-svc-0.3.0.tgz", RenderOptions())
    limit = rendered.origin(0, CONTAINER + ("resources", "limits", "memory"), "512Mi")
    assert _where(limit) == (
        "dist/go-svc-0.3.0.tgz/go-svc/values.yaml",
        2,
        9,
        "memory.limit",
        "512Mi",
        False,
    )


# --- the CLI backend's pure parts (no helm binary on the test machines) --------------------


def test_cli_output_is_split_on_source_lines():
    from oomguard.linter.render.helm import _documents, _split_sources

    # The shape `helm template` prints (pkg/action/action.go renderResources:
    # "---\n# Source: %s\n%s\n" per manifest).
    stdout = (
        "---\n# Source: app/charts/sub/templates/s.yaml\nkind: ConfigMap\nmetadata: {name: s}\n"
        "---\n# Source: app/templates/d.yaml\nkind: Deployment\nmetadata: {name: d}\n"
        "---\n# Source: app/templates/d.yaml\nkind: Service\nmetadata: {name: d}\n"
    )
    assert _split_sources(stdout) == [
        ("app/charts/sub/templates/s.yaml", "kind: ConfigMap\nmetadata: {name: s}"),
        ("app/templates/d.yaml", "kind: Deployment\nmetadata: {name: d}"),
        ("app/templates/d.yaml", "kind: Service\nmetadata: {name: d}\n"),
    ]
    # Re-rendered documents are matched by (template, ordinal): the CLI's entries per document
    # of one template count on, as the SDK's one entry per template does.
    documents, keys = _documents(_split_sources(stdout), lambda key: "charts/" + key)
    assert keys == [
        ("app/charts/sub/templates/s.yaml", 0),
        ("app/templates/d.yaml", 0),
        ("app/templates/d.yaml", 1),
    ]
    assert documents[2].source == "charts/app/templates/d.yaml"


def test_cli_override_keys_escape_dots_as_strvals_reads_them():
    from oomguard.linter.render.helm import _strvals_key

    assert _strvals_key(("podAnnotations", "example.com/heap", "x")) == (
        "podAnnotations.example\\.com/heap.x"
    )
    assert _strvals_key(("env", 2, "value")) == "env[2].value"


def test_subchart_in_a_differently_named_folder_and_packaged(charts: Path, tmp_path: Path):
    import helm_python

    subcharts = charts / "platform" / "charts"
    (subcharts / "worker").rename(subcharts / "worker-src")
    folder = render_chart("charts/platform", RenderOptions())
    assert folder.documents[0].source == "charts/platform/charts/worker-src/templates/worker.yaml"
    queue = folder.origin(0, CONTAINER + ("env", 1, "value"), "jobs")
    assert _where(queue) == (
        "charts/platform/charts/worker-src/values.yaml",
        2,
        7,
        "queue",
        "jobs",
        True,
    )

    # `helm dependency build` leaves subcharts packaged: charts/worker-0.1.0.tgz
    helm_python.package(str(subcharts / "worker-src"), destination=str(subcharts))
    shutil.rmtree(subcharts / "worker-src")
    packaged = render_chart("charts/platform", RenderOptions())
    assert [doc.source for doc in packaged.documents] == [
        "charts/platform/charts/worker-0.1.0.tgz/worker/templates/worker.yaml",
        "charts/platform/templates/api.yaml",
    ]
    queue = packaged.origin(0, CONTAINER + ("env", 1, "value"), "jobs")
    assert _where(queue) == (
        "charts/platform/charts/worker-0.1.0.tgz/worker/values.yaml",
        2,
        7,
        "queue",
        "jobs",
        False,
    )
    heap = packaged.origin(0, CONTAINER + ("env", 0, "value"), "-Xms1g -Xmx1g")
    assert _where(heap) == ("charts/platform/values.yaml", 6, 8, "worker.heap", "1g", True)


def test_aliased_subchart_values_and_sources(charts: Path):
    platform = charts / "platform"
    (platform / "Chart.yaml").write_text(
        "apiVersion: v2\nname: platform\nversion: 2.0.0\n"
        "dependencies:\n  - name: worker\n    version: 0.1.0\n    alias: batch\n"
    )
    (platform / "values.yaml").write_text(
        "api: {heap: 768m, memoryLimit: 1Gi}\nbatch:\n  heap: 640m\n"
    )
    rendered = render_chart("charts/platform", RenderOptions())
    # Helm names an aliased subchart's templates by the alias (pkg/chart/v2/util/dependencies.go)
    assert rendered.documents[0].source == "charts/platform/charts/worker/templates/worker.yaml"
    heap = rendered.origin(0, CONTAINER + ("env", 0, "value"), "-Xms640m -Xmx640m")
    assert _where(heap) == ("charts/platform/values.yaml", 2, 8, "batch.heap", "640m", True)


def test_subchart_template_failure_names_the_subchart_file(charts: Path):
    template = charts / "platform" / "charts" / "worker" / "templates" / "worker.yaml"
    text = template.read_text().replace(
        "{{ .Values.queue }}", '{{ required "worker.queue is required" .Values.missing }}'
    )
    template.write_text(text)
    with pytest.raises(RenderError) as caught:
        render_chart("charts/platform", RenderOptions())
    assert caught.value.message.endswith("worker.queue is required")
    assert caught.value.message.startswith(
        "execution error at (platform/charts/worker/templates/worker.yaml:19:24)"
    )
    assert (caught.value.file, caught.value.line) == (
        "charts/platform/charts/worker/templates/worker.yaml",
        18,
    )


def test_set_with_several_keys_points_at_the_value_in_its_flag(charts: Path):
    rendered = render_chart(
        "charts/platform",
        RenderOptions(set=("worker.queue=bulk", "api.memoryLimit=2Gi,api.heap=1536m")),
    )
    api_heap = rendered.origin(1, CONTAINER + ("command", 1), "-Xmx1536m")
    # second --set flag (index 1), "1536m" starts at offset 29 of its expression
    assert _where(api_heap) == ("<--set>", 1, 29, "api.heap", "1536m", False)
    assert api_heap.pointer_path == ("api", "heap")
    queue = rendered.origin(0, CONTAINER + ("env", 1, "value"), "bulk")
    assert _where(queue) == ("<--set>", 0, 13, "worker.queue", "bulk", False)


def test_values_schema_is_enforced_with_helms_message(charts: Path):
    (charts / "go-svc" / "values.schema.json").write_text(
        '{"type": "object", "properties": {"memory": {"type": "object",'
        ' "properties": {"limit": {"type": "string", "pattern": "^[0-9]+(Mi|Gi)$"}}}}}'
    )
    with pytest.raises(RenderError) as caught:
        render_chart("charts/go-svc", RenderOptions(set=("memory.limit=512M",)))
    assert caught.value.message.startswith(
        "values don't meet the specifications of the schema(s) in the following chart(s):"
    )
    assert "/memory/limit" in caught.value.message
    assert "\n" not in caught.value.message  # escaped: one line


def test_importing_the_engine_loads_neither_helm_nor_ruamel():
    import subprocess

    probe = (
        "import sys, oomguard.linter.render.helm; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'helm_python', 'ruamel'}))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
