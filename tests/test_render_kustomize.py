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
