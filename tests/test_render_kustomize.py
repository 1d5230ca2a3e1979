"""The kustomize engine on overlays written the way real projects write them: a shop base
(Deployment + Service, configMapGenerator literals and an envs file) and three overlays —
staging (namePrefix, images, no resource change), prod (strategic-merge patch raising the
limit, an inline JSON6902 patch, a generator merge), perf (a JSON6902 patch file).

Rendering runs the real kustomize (``kubectl kustomize`` here, ``kustomize build`` when on
PATH); nothing is mocked. Origins are asserted to the exact file, 0-based line and column,
pointer path and literal of the fixture files.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from oomguard.linter.render import RendererMissing, RenderError, RenderOptions
from oomguard.linter.render.kustomize import build

DATA = os.path.join(os.path.dirname(__file__), "data")
SHOP = "kustomize/shop"

needs_kustomize = pytest.mark.skipif(
    not (shutil.which("kustomize") or shutil.which("kubectl")),
    reason="neither kustomize nor kubectl on PATH: the real engine cannot run here",
)


@pytest.fixture(autouse=True)
def in_data(monkeypatch):
    # unit paths are given relative, as a user in the repository root would
    monkeypatch.chdir(DATA)


def render(overlay: str):
    return build(f"{SHOP}/overlays/{overlay}", RenderOptions())


def objects(rendered) -> dict[tuple[str, str], int]:
    """(kind, name) -> document index."""
    out = {}
    for index, doc in enumerate(rendered.documents):
        data = yaml.safe_load(doc.text)
        out[(data["kind"], data["metadata"]["name"])] = index
    return out


@needs_kustomize
def test_staging_sources_are_the_base_files_relative_like_the_unit():
    rendered = render("staging")
    assert [(d.source, yaml.safe_load(d.text)["metadata"]["name"]) for d in rendered.documents] == [
        (f"{SHOP}/base/kustomization.yaml", "staging-orders-env-4tbg6m7m99"),
        (f"{SHOP}/base/kustomization.yaml", "staging-orders-jvm-8fct6khcgt"),
        (f"{SHOP}/base/service.yaml", "staging-orders"),
        (f"{SHOP}/base/deployment.yaml", "staging-orders"),
    ]
    assert rendered.engine in ("kustomize build", "kubectl kustomize")


@needs_kustomize
def test_build_metadata_annotations_are_stripped_and_user_annotations_kept(tmp_path):
    rendered = render("prod")
    for doc in rendered.documents:
        assert "config.kubernetes.io/origin" not in doc.text
        assert "alpha.config.kubernetes.io/transformations" not in doc.text
        assert "annotations:" not in doc.text  # the map left empty is removed too
    overlay = tmp_path / "annotated"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\ncommonAnnotations:\n  team: payments\n"
    )
    (overlay / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    (doc,) = build(str(overlay), RenderOptions()).documents
    assert yaml.safe_load(doc.text)["metadata"] == {
        "annotations": {"team": "payments"},
        "name": "c",
    }
    assert doc.source == str(overlay / "cm.yaml")


@needs_kustomize
def test_prod_renders_the_patched_limit_and_reports_its_inputs():
    rendered = render("prod")
    deployment = yaml.safe_load(
        rendered.documents[objects(rendered)[("Deployment", "orders")]].text
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "3Gi"
    assert deployment["spec"]["replicas"] == 4
    assert rendered.inputs == [
        f"{SHOP}/overlays/prod/kustomization.yaml",
        f"{SHOP}/overlays/prod/orders-resources.yaml",
        f"{SHOP}/base/kustomization.yaml",
        f"{SHOP}/base/deployment.yaml",
        f"{SHOP}/base/service.yaml",
        f"{SHOP}/base/orders.env",
    ]


@needs_kustomize
def test_missing_resource_is_a_render_error_naming_it():
    with pytest.raises(RenderError) as caught:
        build("kustomize/broken", RenderOptions())
    error = caught.value
    assert "hpa.yaml" in error.message
    assert "no such file or directory" in error.message
    assert error.file == "kustomize/broken/kustomization.yaml"
    assert error.line == 4  # "  - hpa.yaml", 0-based
    assert "oomguard-kustomize-" not in error.message  # the wrapper's temp dir is not shown


def test_neither_renderer_on_the_real_path_lookup_is_renderer_missing(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RendererMissing) as caught:
        build(f"{SHOP}/overlays/prod", RenderOptions())
    message = str(caught.value)
    assert "\n" not in message
    assert "install kustomize" in message and "kubectl" in message


# --------------------------------------------------------------------------- origins

CONTAINERS = ("spec", "template", "spec", "containers")
ORDERS_LIMIT = (*CONTAINERS, 0, "resources", "limits", "memory")


def rendered_value(rendered, document: int, path):
    node = yaml.safe_load(rendered.documents[document].text)
    for step in path:
        node = node[step]
    return node


def origin_of(rendered, kind: str, name: str, path):
    document = objects(rendered)[(kind, name)]
    value = rendered_value(rendered, document, path)
    return rendered.origin(document, path, value if isinstance(value, str) else str(value))


def assert_points_at(origin, file, line, column, pointer, literal, document=0, editable=True):
    assert origin is not None
    assert (origin.file, origin.line, origin.column) == (file, line, column)
    assert origin.pointer_path == pointer
    assert origin.literal == literal
    assert origin.document == document
    assert origin.editable is editable


def fix_patch(origin, new_value: str) -> str:
    """What --fix would write: the file's text with the scalar at pointer_path replaced."""
    from oomguard.linter.fix_splice import patch_text

    with open(origin.file, encoding="utf-8") as fh:
        text = fh.read()
    pointer = "/" + "/".join(str(p) for p in origin.pointer_path)
    op = {"op": "replace", "path": pointer, "value": new_value}
    return patch_text(text, {origin.document: [op]}, origin.file)


@needs_kustomize
def test_prod_limit_comes_from_the_prod_patch_file_line():
    origin = origin_of(render("prod"), "Deployment", "orders", ORDERS_LIMIT)
    # orders-resources.yaml line 15 (1-based): "              memory: 3Gi"
    assert_points_at(
        origin,
        f"{SHOP}/overlays/prod/orders-resources.yaml",
        14,
        22,
        (*CONTAINERS, 0, "resources", "limits", "memory"),
        "3Gi",
    )
    fixed = fix_patch(origin, "4Gi")
    assert fixed.splitlines()[14] == "              memory: 4Gi"
    with open(origin.file, encoding="utf-8") as fh:
        assert fixed.replace("memory: 4Gi", "memory: 3Gi") == fh.read()


@needs_kustomize
def test_staging_limit_comes_from_the_base_file_line():
    rendered = render("staging")
    origin = origin_of(rendered, "Deployment", "staging-orders", ORDERS_LIMIT)
    # base/deployment.yaml line 37 (1-based): "              memory: 1Gi" (the orders container)
    assert_points_at(origin, f"{SHOP}/base/deployment.yaml", 36, 22, ORDERS_LIMIT, "1Gi")
    sidecar = (*CONTAINERS, 1, "resources", "limits", "memory")
    assert_points_at(
        origin_of(rendered, "Deployment", "staging-orders", sidecar),
        f"{SHOP}/base/deployment.yaml",
        41,
        22,
        sidecar,
        "64Mi",
    )


@needs_kustomize
def test_prod_sidecar_limit_not_patched_comes_from_the_base():
    sidecar = (*CONTAINERS, 1, "resources", "limits", "memory")
    origin = origin_of(render("prod"), "Deployment", "orders", sidecar)
    assert_points_at(origin, f"{SHOP}/base/deployment.yaml", 41, 22, sidecar, "64Mi")


@needs_kustomize
def test_json6902_patch_file_origin_is_the_op_value_line():
    rendered = render("perf")
    origin = origin_of(rendered, "Deployment", "orders-perf", ORDERS_LIMIT)
    # orders-limits.json6902.yaml line 3 (1-based): "  value: 4Gi"
    assert_points_at(
        origin, f"{SHOP}/overlays/perf/orders-limits.json6902.yaml", 2, 9, (0, "value"), "4Gi"
    )
    assert fix_patch(origin, "5Gi").splitlines()[2] == "  value: 5Gi"
    # an "add" of a whole map: the scalar inside the op's value
    requests = (*CONTAINERS, 1, "resources", "requests", "memory")
    assert_points_at(
        origin_of(rendered, "Deployment", "orders-perf", requests),
        f"{SHOP}/overlays/perf/orders-limits.json6902.yaml",
        6,
        12,
        (1, "value", "memory"),
        "96Mi",
    )


@needs_kustomize
def test_inline_json6902_patch_points_into_kustomization_yaml_not_editable():
    origin = origin_of(render("prod"), "Deployment", "orders", ("spec", "replicas"))
    # prod/kustomization.yaml line 16 (1-based): "        value: 4" inside "patch: |-"
    assert_points_at(
        origin,
        f"{SHOP}/overlays/prod/kustomization.yaml",
        15,
        15,
        ("patches", 1, "patch"),
        "4",
        editable=False,
    )


@needs_kustomize
def test_config_map_generator_literal_feeding_java_tool_options():
    rendered = render("staging")
    origin = origin_of(
        rendered, "ConfigMap", "staging-orders-jvm-8fct6khcgt", ("data", "JAVA_TOOL_OPTIONS")
    )
    # base/kustomization.yaml line 16 (1-based):
    #   "      - JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0"
    # the column is where the value starts, after "JAVA_TOOL_OPTIONS="
    assert_points_at(
        origin,
        f"{SHOP}/base/kustomization.yaml",
        15,
        26,
        ("configMapGenerator", 0, "literals", 0),
        "-XX:MaxRAMPercentage=75.0",
    )
    # the scalar is `KEY=value`: --fix rewrites the part after `KEY=` only
    assert origin.around == ("JAVA_TOOL_OPTIONS=", "")
    # the Deployment reads it through valueFrom.configMapKeyRef on the rendered (hashed) name
    deployment = yaml.safe_load(
        rendered.documents[objects(rendered)[("Deployment", "staging-orders")]].text
    )
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]
    assert env["valueFrom"]["configMapKeyRef"]["name"] == "staging-orders-jvm-8fct6khcgt"


@needs_kustomize
def test_generator_merged_in_the_overlay_points_at_the_overlay_literal():
    origin = origin_of(
        render("prod"), "ConfigMap", "orders-jvm-df4c6m948g", ("data", "JAVA_TOOL_OPTIONS")
    )
    assert_points_at(
        origin,
        f"{SHOP}/overlays/prod/kustomization.yaml",
        21,
        26,
        ("configMapGenerator", 0, "literals", 0),
        "-XX:MaxRAMPercentage=80.0 -XX:+ExitOnOutOfMemoryError",
    )
    assert origin.around == ("JAVA_TOOL_OPTIONS=", "")


@needs_kustomize
def test_generator_envs_file_line_feeding_envfrom():
    origin = origin_of(
        render("perf"), "ConfigMap", "orders-env-perf-4tbg6m7m99", ("data", "JDK_JAVA_OPTIONS")
    )
    # base/orders.env line 3 (1-based): "JDK_JAVA_OPTIONS=-Xss512k"
    assert_points_at(origin, f"{SHOP}/base/orders.env", 2, 17, (), "-Xss512k", editable=False)


@needs_kustomize
def test_value_no_file_holds_has_no_origin():
    rendered = render("staging")
    document = objects(rendered)[("Deployment", "staging-orders")]
    # the image tag was set by the overlay's images: transformer, not written in any file
    image = (*CONTAINERS, 0, "image")
    assert rendered_value(rendered, document, image) == "ghcr.io/example/orders:1.5.0-rc.1"
    assert rendered.origin(document, image, "ghcr.io/example/orders:1.5.0-rc.1") is None
    # a value that is not the rendered one is never attributed to a file
    assert rendered.origin(document, ORDERS_LIMIT, "3Gi") is None
    assert rendered.origin(len(rendered.documents), ORDERS_LIMIT, "1Gi") is None


@needs_kustomize
def test_sources_of_prod_and_perf_documents():
    for overlay, suffix in (("prod", ""), ("perf", "-perf")):
        rendered = render(overlay)
        assert [d.source for d in rendered.documents] == [
            f"{SHOP}/base/kustomization.yaml",
            f"{SHOP}/base/kustomization.yaml",
            f"{SHOP}/base/service.yaml",
            f"{SHOP}/base/deployment.yaml",
        ], overlay
        assert ("Deployment", f"orders{suffix}") in objects(rendered)


@needs_kustomize
def test_component_patch_selected_by_label_through_a_name_prefix():
    rendered = render("batch")
    component = f"{SHOP}/components/heap-dump"
    document = objects(rendered)[("Deployment", "batch-orders")]
    containers = rendered_value(rendered, document, CONTAINERS)
    # kustomize's strategic merge takes the patch's list order; the base lists "orders" first,
    # so base lookups must follow the merge key "name", not the rendered index
    assert [c["name"] for c in containers] == ["log-shipper", "orders"]
    orders = (*CONTAINERS, 1, "resources")
    # heap-dump.yaml line 19 (1-based): "              memory: 1536Mi"
    assert_points_at(
        rendered.origin(document, (*orders, "limits", "memory"), "1536Mi"),
        f"{component}/heap-dump.yaml",
        18,
        22,
        (*CONTAINERS, 1, "resources", "limits", "memory"),
        "1536Mi",
    )
    assert_points_at(
        rendered.origin(document, (*CONTAINERS, 0, "resources", "limits", "memory"), "128Mi"),
        f"{component}/heap-dump.yaml",
        11,
        22,
        (*CONTAINERS, 0, "resources", "limits", "memory"),
        "128Mi",
    )
    # not patched: the base's line, at the base's index of "orders"
    assert_points_at(
        rendered.origin(document, (*orders, "requests", "memory"), "768Mi"),
        f"{SHOP}/base/deployment.yaml",
        34,
        22,
        (*CONTAINERS, 0, "resources", "requests", "memory"),
        "768Mi",
    )
    # a quoted scalar: the column is its opening quote, the literal its value
    java_opts = (*CONTAINERS, 1, "env", 0, "value")
    assert rendered_value(rendered, document, java_opts[:-1])["name"] == "JAVA_OPTS"
    assert_points_at(
        rendered.origin(document, java_opts, containers[1]["env"][0]["value"]),
        f"{component}/heap-dump.yaml",
        15,
        21,
        java_opts,
        "-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps",
    )
    assert f"{component}/kustomization.yaml" in rendered.inputs
    assert f"{component}/heap-dump.yaml" in rendered.inputs


def test_overlay_inputs_walks_the_tree_without_rendering():
    from oomguard.linter.render.kustomize import overlay_inputs

    assert overlay_inputs(f"{SHOP}/overlays/perf") == [
        f"{SHOP}/overlays/perf/kustomization.yaml",
        f"{SHOP}/overlays/perf/orders-limits.json6902.yaml",
        f"{SHOP}/base/kustomization.yaml",
        f"{SHOP}/base/deployment.yaml",
        f"{SHOP}/base/service.yaml",
        f"{SHOP}/base/orders.env",
    ]


@needs_kustomize
def test_kustomize_flags_are_passed_to_the_engine(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "app").mkdir()
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n"
    )
    (tmp_path / "shared" / "web.yaml").write_text(service)
    (tmp_path / "app" / "kustomization.yaml").write_text("resources:\n  - ../shared/web.yaml\n")
    unit = str(tmp_path / "app")
    with pytest.raises(RenderError) as caught:  # kustomize's default load restrictor
        build(unit, RenderOptions())
    assert "is not in or below" in caught.value.message
    assert "'../shared/web.yaml'" in caught.value.message  # relative names left as written
    assert (caught.value.file, caught.value.line) == (f"{unit}/kustomization.yaml", 1)
    rendered = build(
        unit, RenderOptions(kustomize_flags=("--load-restrictor", "LoadRestrictionsNone"))
    )
    assert [d.source for d in rendered.documents] == [str(tmp_path / "shared" / "web.yaml")]
    port = rendered.origin(0, ("spec", "ports", 0, "port"), "80")
    assert (port.file, port.line, port.column, port.literal) == (
        str(tmp_path / "shared" / "web.yaml"),
        6,
        12,
        "80",
    )


@needs_kustomize
def test_control_characters_in_kustomize_message_are_escaped(tmp_path):
    (tmp_path / "kustomization.yaml").write_text('resources:\n  - "evil\\e[31mred.yaml"\n')
    with pytest.raises(RenderError) as caught:
        build(str(tmp_path), RenderOptions())
    assert "\x1b" not in caught.value.message
    assert "evil\\x1b[31mred.yaml" in caught.value.message


@needs_kustomize
def test_output_over_the_bound_is_an_error_not_a_partial_render(monkeypatch):
    from oomguard.linter.render import kustomize

    monkeypatch.setattr(kustomize, "MAX_OUTPUT_BYTES", 1024)  # the shop renders ~3 KiB
    with pytest.raises(RenderError) as caught:
        build(f"{SHOP}/overlays/prod", RenderOptions())
    assert caught.value.message == (
        "kustomize output exceeds the 1024 bytes bound; overlay not linted"
    )
    assert kustomize._size(64 * 1024 * 1024) == "64 MiB"  # the default bound, as said


@needs_kustomize
def test_a_kustomization_file_path_renders_its_directory():
    rendered = build(f"{SHOP}/overlays/prod/kustomization.yaml", RenderOptions())
    assert rendered.inputs[0] == f"{SHOP}/overlays/prod/kustomization.yaml"
    assert [d.source for d in rendered.documents][2:] == [
        f"{SHOP}/base/service.yaml",
        f"{SHOP}/base/deployment.yaml",
    ]


@needs_kustomize
def test_secret_generator_literal_origin_compares_the_decoded_value(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "secretGenerator:\n"
        "  - name: jvm\n"
        "    literals:\n"
        '      - "JAVA_TOOL_OPTIONS=-Xmx1g"\n'
        "generatorOptions:\n"
        "  disableNameSuffixHash: true\n"
    )
    rendered = build(str(tmp_path), RenderOptions())
    (doc,) = rendered.documents
    assert doc.source == str(tmp_path / "kustomization.yaml")
    encoded = yaml.safe_load(doc.text)["data"]["JAVA_TOOL_OPTIONS"]
    assert encoded == "LVhteDFn"  # base64 of -Xmx1g
    origin = rendered.origin(0, ("data", "JAVA_TOOL_OPTIONS"), encoded)
    # line 4 (1-based): '      - "JAVA_TOOL_OPTIONS=-Xmx1g"': after the quote and "KEY="
    assert_points_at(
        origin,
        str(tmp_path / "kustomization.yaml"),
        3,
        27,
        ("secretGenerator", 0, "literals", 0),
        "-Xmx1g",
    )
    assert origin.around == ("JAVA_TOOL_OPTIONS=", "")  # the YAML quotes are not in the scalar
    assert rendered.origin(0, ("data", "JAVA_TOOL_OPTIONS"), "-Xmx1g") is None  # not decoded


@needs_kustomize
def test_engine_past_its_timeout_is_an_error(monkeypatch):
    from oomguard.linter.render import kustomize

    # zero: the real engine cannot have finished when the wait starts (no timing assertion)
    monkeypatch.setattr(kustomize, "TIMEOUT_SECONDS", 0)
    with pytest.raises(RenderError) as caught:
        build(f"{SHOP}/overlays/prod", RenderOptions())
    assert "did not finish within 0 s" in caught.value.message


@needs_kustomize
def test_legacy_patches_strategic_merge_traced_and_deprecation_warnings_said(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "legacy").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources:\n  - web.yaml\n")
    (tmp_path / "base" / "web.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n"
    )
    (tmp_path / "legacy" / "kustomization.yaml").write_text(
        "bases:\n  - ../base\npatchesStrategicMerge:\n  - memory.yaml\n"
    )
    (tmp_path / "legacy" / "memory.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          resources:\n"
        "            limits: {memory: 256Mi}\n"
    )
    unit = str(tmp_path / "legacy")
    rendered = build(unit, RenderOptions())
    assert [d.source for d in rendered.documents] == [str(tmp_path / "base" / "web.yaml")]
    limit = (*CONTAINERS, 0, "resources", "limits", "memory")
    # memory.yaml line 11 (1-based): "            limits: {memory: 256Mi}" (flow mapping)
    assert_points_at(
        rendered.origin(0, limit, "256Mi"), f"{unit}/memory.yaml", 10, 29, limit, "256Mi"
    )
    assert any("'bases' is deprecated" in n for n in rendered.notices)
    assert any("'patchesStrategicMerge' is deprecated" in n for n in rendered.notices)
    assert all(n.startswith(f"{unit}: kustomize: ") for n in rendered.notices)


@needs_kustomize
def test_multi_document_resource_file_document_index_as_the_fixer_numbers_it(tmp_path):
    # a comment, a Service, an empty document, then the Deployment: the fixer's numbering
    # (empty documents left out) puts the Deployment at index 1
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - app.yaml\n")
    text = (
        "# web tier\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
        "  ports:\n    - port: 80\n---\n---\napiVersion: apps/v1\nkind: Deployment\n"
        "metadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: web\n          image: nginx:1.27\n          resources:\n"
        "            limits:\n              memory: 128Mi\n"
    )
    (tmp_path / "app.yaml").write_text(text)
    rendered = build(str(tmp_path), RenderOptions())
    document = objects(rendered)[("Deployment", "web")]
    assert rendered.documents[document].source == str(tmp_path / "app.yaml")
    limit = (*CONTAINERS, 0, "resources", "limits", "memory")
    origin = rendered.origin(document, limit, "128Mi")
    assert_points_at(origin, str(tmp_path / "app.yaml"), 23, 22, limit, "128Mi", document=1)
    fixed = fix_patch(origin, "256Mi")
    assert fixed == text.replace("memory: 128Mi", "memory: 256Mi")


@needs_kustomize
def test_kustomize_cli_on_path_is_preferred_shim_that_runs_kubectl(tmp_path, monkeypatch):
    # no kustomize binary on this machine: a shim named `kustomize` checks the argv shape
    # `kustomize build [flags] DIR` and runs the real engine through kubectl (named so)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("the shim needs kubectl")
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    shim = shim_dir / "kustomize"
    shim.write_text(
        f'#!/bin/sh\n[ "$1" = build ] || exit 64\nshift\nexec {kubectl} kustomize "$@"\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    rendered = build(f"{SHOP}/overlays/prod", RenderOptions(kustomize_flags=("--reorder", "none")))
    assert rendered.engine == "kustomize build"
    # --reorder none: the base's resource order, generated objects last (the default sorts
    # ConfigMaps first), so the flag reached the engine
    assert [d.source for d in rendered.documents] == [
        f"{SHOP}/base/deployment.yaml",
        f"{SHOP}/base/service.yaml",
        f"{SHOP}/base/kustomization.yaml",
        f"{SHOP}/base/kustomization.yaml",
    ]


@needs_kustomize
def test_bad_engine_flag_is_a_render_error_without_the_wrapper_path():
    with pytest.raises(RenderError) as caught:
        build(f"{SHOP}/overlays/prod", RenderOptions(kustomize_flags=("--no-such-flag",)))
    assert "no-such-flag" in caught.value.message
    assert "oomguard-kustomize-" not in caught.value.message
    assert caught.value.file is None  # no file of the user's is named
    assert "\n" not in caught.value.message  # kubectl adds a usage line: joined into one


@needs_kustomize
def test_json6902_append_op_origin_is_the_appended_value_line():
    rendered = render("perf")
    document = objects(rendered)[("Deployment", "orders-perf")]
    env = rendered_value(rendered, document, (*CONTAINERS, 0, "env"))
    assert [e["name"] for e in env] == ["JAVA_TOOL_OPTIONS", "JAVA_OPTS"]
    # orders-limits.json6902.yaml line 12 (1-based): '    value: "-Xmx3g -XX:+AlwaysPreTouch"'
    assert_points_at(
        rendered.origin(document, (*CONTAINERS, 0, "env", 1, "value"), env[1]["value"]),
        f"{SHOP}/overlays/perf/orders-limits.json6902.yaml",
        11,
        11,
        (2, "value", "value"),
        "-Xmx3g -XX:+AlwaysPreTouch",
    )
