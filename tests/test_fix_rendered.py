"""``--fix`` / ``--diff`` on charts and overlays: the fix goes where the value lives.

Tests named ``test_hand_traced_*`` render with the real engines (Helm's Go SDK in-process via
helm-python-sdk, ``kubectl kustomize``) but trace origins with :func:`hand_traced`, a
test-only table of "rendered path → file and key" — standing in for the engines' own tracing
(linter/render/helm.py, kustomize.py) so the mapping of fixes to origins is tested on its
own. Tests named ``test_engine_*`` use the engines' tracing end to end, ``test_cli_*`` the
command. (Over 400 lines: one feature seen at three levels that share the fixtures and
helpers above; splitting would copy them.)
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from oomguard.linter.fix import apply_fixes, unified_diff
from oomguard.linter.fix_rendered import fix_rendered
from oomguard.linter.render import Origin, Rendered, RenderedDocument
from oomguard.linter.run import LintResult
from oomguard.rules.config import DEFAULT_CONFIG, Config, config_from_data

DATA = Path(__file__).parent / "data" / "fix_rendered"
CONTAINER = ("spec", "template", "spec", "containers", 0)
JAVA_OPTS = (*CONTAINER, "env", 0, "value")
LIMIT = (*CONTAINER, "resources", "limits", "memory")


# --------------------------------------------------------------------------- test helpers


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / name, target)
    return target


def helm_documents(chart: Path, *value_files: Path) -> list[RenderedDocument]:
    """The chart rendered by Helm's own Go SDK, values merged as ``helm template -f`` does."""
    import helm_python  # the dev extra; a missing engine must fail, not skip
    from ruamel.yaml import YAML

    values: dict = {}
    for path in value_files:
        _merge(values, YAML(typ="safe").load(path.read_text()) or {})
    rendered = helm_python.Chart.load(str(chart)).render(
        values, name="release-name", namespace="default"
    )
    return [
        RenderedDocument(text, str(chart.parent / source))
        for source, text in sorted(rendered.items())
        if text.strip()
    ]


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def kustomize_documents(overlay: Path) -> list[RenderedDocument]:
    text = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [RenderedDocument(part, str(overlay)) for part in text.split("\n---\n")]


def hand_traced(table: dict[tuple[int, tuple], Origin | tuple[Path, tuple]]):
    """A test-only origin tracer: (document, rendered path) → the scalar's file and path
    there (line, column and literal read from the file), or a given Origin."""
    from ruamel.yaml import YAML

    def origin(document: int, path: tuple, value: str) -> Origin | None:
        entry = table.get((document, tuple(path)))
        if entry is None or isinstance(entry, Origin):
            return entry
        file, pointer_path = entry
        node = YAML(typ="rt").load(file.read_text())
        for part in pointer_path[:-1]:
            node = node[part]
        last = pointer_path[-1]
        line, column = node.lc.value(last) if isinstance(node, dict) else node.lc.item(last)
        literal = str(node[last])
        assert literal in value, "the hand-built table must match the rendering"
        key = ".".join(map(str, pointer_path))
        return Origin(str(file), line, column, literal, pointer_path, 0, key)

    return origin


def rendered(unit: Path, documents, table) -> Rendered:
    return Rendered(str(unit), "test", documents, hand_traced(table))


def run_fix(r: Rendered, config: Config = DEFAULT_CONFIG, *, write=True, diff=True):
    out = io.StringIO()
    result = LintResult(renderings=[r])
    after = apply_fixes(result, config, [r.unit], write=write, diff=diff, out=out)
    return after, out.getvalue()


# --------------------------------------------------------------------------- Helm


SPRING_VALUES_FIXED = """\
# Default values for spring-app.
replicaCount: 1

image:
  repository: ghcr.io/example/spring-app
  tag: "1.4.2"

# JVM options, passed as JAVA_TOOL_OPTIONS
javaOpts: "-Xms512m -Xmx1536m"   # heap sized by hand

resources:
  requests:
    cpu: 250m
    memory: 1Gi
  limits:
    memory: 2Gi   # hard cap
"""


def spring(chart: Path, values: Path) -> Rendered:
    table = {
        (0, JAVA_OPTS): (values, ("javaOpts",)),
        (0, LIMIT): (values, ("resources", "limits", "memory")),
    }
    return rendered(chart, helm_documents(chart, values), table)


def test_hand_traced_values_line_rewritten_byte_for_byte_then_nothing(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values = chart / "values.yaml"
    before = values.read_text()

    edits, notices = fix_rendered(spring(chart, values), DEFAULT_CONFIG)
    assert edits == {str(values): SPRING_VALUES_FIXED}
    assert values.read_text() == before  # planning writes nothing

    after, diff = run_fix(spring(chart, values))
    # -Xmx2g is 100% of the 2Gi limit (jvm-heap-exceeds-limit); 75% of 2Gi is 1536m
    assert values.read_text() == SPRING_VALUES_FIXED
    assert diff == unified_diff(str(values), before, SPRING_VALUES_FIXED)
    assert any("fixed 1 finding in 1 file" in n for n in after.notices)

    # rendered again: the finding is gone, and a second run changes no byte
    again = spring(chart, values)
    assert fix_rendered(again, DEFAULT_CONFIG)[0] == {}
    _, diff = run_fix(again)
    assert diff == ""
    assert values.read_text() == SPRING_VALUES_FIXED


def test_hand_traced_diff_alone_writes_nothing_and_shows_the_fix(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values = chart / "values.yaml"
    before = values.read_bytes()
    _, diff = run_fix(spring(chart, values), write=False)
    assert values.read_bytes() == before
    assert diff.splitlines()[2:] == [
        "@@ -6,7 +6,7 @@",
        '   tag: "1.4.2"',
        " ",
        " # JVM options, passed as JAVA_TOOL_OPTIONS",
        '-javaOpts: "-Xms512m -Xmx2g"   # heap sized by hand',
        '+javaOpts: "-Xms512m -Xmx1536m"   # heap sized by hand',
        " ",
        " resources:",
        "   requests:",
    ]


def test_hand_traced_values_override_file_is_the_one_rewritten(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values, prod = chart / "values.yaml", chart / "prod.yaml"
    values_before, prod_before = values.read_bytes(), prod.read_text()
    table = {
        (0, JAVA_OPTS): (prod, ("javaOpts",)),
        (0, LIMIT): (prod, ("resources", "limits", "memory")),
    }
    r = rendered(chart, helm_documents(chart, values, prod), table)
    run_fix(r)
    # -Xmx4g is 100% of the 4Gi limit; 75% of 4Gi is 3g (whole GiB written in g)
    assert prod.read_text() == prod_before.replace('"-Xms1g -Xmx4g"', '"-Xms1g -Xmx3g"')
    assert values.read_bytes() == values_before


def test_hand_traced_template_literal_not_rewritten_notice_names_template_line(tmp_path):
    chart = copy_fixture("hardcoded", tmp_path)
    template = chart / "templates" / "deployment.yaml"
    args = (*CONTAINER, "command", 1)
    table = {
        (0, args): Origin(str(template), 16, 32, "-Xmx2g", editable=False),
        (0, LIMIT): (chart / "values.yaml", ("memoryLimit",)),
    }
    files = {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    r = rendered(chart, helm_documents(chart, chart / "values.yaml"), table)

    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert notices == [
        f"{chart}/templates/deployment.yaml: jvm-heap-exceeds-limit "
        f"(Deployment/release-name-hardcoded, container app): not fixed: value written in "
        f"template {template}:17 — not rewritten"
    ]
    after, diff = run_fix(r)
    assert diff == ""
    assert {p: p.read_bytes() for p in files} == files
    assert notices[0] in after.notices


def test_hand_traced_no_origin_is_said(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    r = rendered(chart, helm_documents(chart, chart / "values.yaml"), {})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert len(notices) == 1
    assert "jvm-heap-exceeds-limit" in notices[0]
    assert (
        "no single values key or patch sets spec.template.spec.containers.0.env.0" in (notices[0])
    )


def test_hand_traced_part_of_a_value_from_values(tmp_path):
    """``-Xmx{{ .Values.heap }}``: only the values literal ``2g`` is rewritten."""
    values = tmp_path / "values.yaml"
    values.write_text("jvm:\n  heap: 2g  # max heap\n")
    doc = _deployment("-Xms512m -Xmx2g", "2Gi")
    r = rendered(tmp_path, [doc], {(0, JAVA_OPTS): (values, ("jvm", "heap"))})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert notices == []
    assert edits == {str(values): "jvm:\n  heap: 1536m  # max heap\n"}


def test_hand_traced_number_stays_a_number_and_string_stays_string(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text('heapMb: 2048\nxms: "512"\n')
    doc = _deployment("-Xms512m -Xmx2048m", "2Gi")
    r = rendered(tmp_path, [doc], {(0, JAVA_OPTS): (values, ("heapMb",))})
    edits, _ = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {str(values): 'heapMb: 1536\nxms: "512"\n'}


def test_hand_traced_literal_twice_in_the_value_is_not_guessed(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("heap: 512m\n")
    doc = _deployment("-Xms512m -Xmx512m", "512Mi")
    r = rendered(tmp_path, [doc], {(0, JAVA_OPTS): (values, ("heap",))})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert "sets '512m', which appears 2 times in '-Xms512m -Xmx512m': rewriting it" in (notices[0])


def test_hand_traced_fix_outside_the_literal_is_not_written(tmp_path):
    """The values key sets the -Xms part only; the fix changes -Xmx (in the template)."""
    values = tmp_path / "values.yaml"
    values.write_text("opts: -Xms512m\n")
    doc = _deployment("-Xms512m -Xmx2g", "2Gi")
    r = rendered(tmp_path, [doc], {(0, JAVA_OPTS): (values, ("opts",))})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert "changes text outside what" in notices[0]
    assert values.read_text() == "opts: -Xms512m\n"


def test_hand_traced_whole_value_replace_of_a_limit_from_values(tmp_path):
    """memory-quantity-millibytes: ``2048m`` (2 bytes) → ``2048Mi``, where values set it."""
    values = tmp_path / "values.yaml"
    values.write_text("resources:\n  limits:\n    memory: 2048m   # typo\n")
    doc = _deployment("-Xmx1g", "2048m")
    r = rendered(tmp_path, [doc], {(0, LIMIT): (values, ("resources", "limits", "memory"))})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert notices == []
    assert edits == {str(values): "resources:\n  limits:\n    memory: 2048Mi   # typo\n"}


def test_hand_traced_one_key_two_workloads_two_values_neither_written(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text('javaOpts: "-Xmx2g"\n')
    docs = [_deployment("-Xmx2g", "2Gi", "a"), _deployment("-Xmx2g", "2560Mi", "b")]
    table = {(0, JAVA_OPTS): (values, ("javaOpts",)), (1, JAVA_OPTS): (values, ("javaOpts",))}
    edits, notices = fix_rendered(rendered(tmp_path, docs, table), DEFAULT_CONFIG)
    assert edits == {}
    assert len(notices) == 1
    assert notices[0].startswith(f"{values}: javaOpts: not fixed: findings want different")
    assert "'-Xmx1536m' for jvm-heap-exceeds-limit (Deployment/a" in notices[0]
    assert "'-Xmx1920m' for jvm-heap-headroom-low (Deployment/b" in notices[0]


def test_hand_traced_one_key_two_workloads_same_value_written_once(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text('javaOpts: "-Xmx2g"\n')
    docs = [_deployment("-Xmx2g", "2Gi", "a"), _deployment("-Xmx2g", "2Gi", "b")]
    table = {(0, JAVA_OPTS): (values, ("javaOpts",)), (1, JAVA_OPTS): (values, ("javaOpts",))}
    edits, notices = fix_rendered(rendered(tmp_path, docs, table), DEFAULT_CONFIG)
    assert (edits, notices) == ({str(values): 'javaOpts: "-Xmx1536m"\n'}, [])


def test_hand_traced_conflict_in_a_shared_base_says_only_the_conflict(tmp_path):
    base, overlay = tmp_path / "base", tmp_path / "overlays" / "prod"
    base.mkdir()
    overlay.mkdir(parents=True)
    resource = base / "heap.yaml"
    resource.write_text('javaOpts: "-Xmx2g"\n')
    docs = [_deployment("-Xmx2g", "2Gi", "a"), _deployment("-Xmx2g", "2560Mi", "b")]
    table = {
        (0, JAVA_OPTS): (resource, ("javaOpts",)),
        (1, JAVA_OPTS): (resource, ("javaOpts",)),
    }
    r = Rendered(str(overlay), "kubectl kustomize", docs, hand_traced(table))
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert len(notices) == 1 and "findings want different values" in notices[0], notices


def test_hand_traced_value_that_does_not_read_back_is_not_replaced(tmp_path):
    """The file changed since rendering (or the tracer is wrong): refuse, never guess."""
    values = tmp_path / "values.yaml"
    values.write_text('javaOpts: "-Xmx2g"\n')
    stale = Origin(str(values), 0, 10, "-Xmx2g", ("javaOpts",))
    values.write_text('javaOpts: "-Xmx3g"\n')
    r = rendered(tmp_path, [_deployment("-Xmx2g", "2Gi")], {(0, JAVA_OPTS): stale})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert notices == [
        f"{values}: not fixed: javaOpts reads '-Xmx3g', not the value that was rendered ('-Xmx2g')"
    ]


def test_hand_traced_crlf_and_bom_values_file_kept(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_bytes(b'\xef\xbb\xbf# heap\r\njavaOpts: "-Xmx2g"\r\n')
    origin = Origin(str(values), 1, 10, "-Xmx2g", ("javaOpts",))
    r = rendered(tmp_path, [_deployment("-Xmx2g", "2Gi")], {(0, JAVA_OPTS): origin})
    run_fix(r)
    assert values.read_bytes() == b'\xef\xbb\xbf# heap\r\njavaOpts: "-Xmx1536m"\r\n'


def test_hand_traced_unparsable_values_file_never_written(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text('javaOpts: "-Xmx2g"\nbroken: [\n')
    origin = Origin(str(values), 0, 10, "-Xmx2g", ("javaOpts",))
    r = rendered(tmp_path, [_deployment("-Xmx2g", "2Gi")], {(0, JAVA_OPTS): origin})
    after, diff = run_fix(r)
    assert diff == ""
    assert values.read_text() == 'javaOpts: "-Xmx2g"\nbroken: [\n'
    assert any(n.startswith(f"{values}: not fixed: ") for n in after.notices)


def test_hand_traced_add_of_a_missing_field_is_left_to_the_user(tmp_path):
    config = config_from_data({"defaults": {"memory_limit": "1Gi", "memory_request": "1Gi"}})
    doc = RenderedDocument(_deployment("-Xmx2g", "2Gi").text.split("          resources:")[0], "t")
    edits, notices = fix_rendered(rendered(tmp_path, [doc], {}), config)
    assert edits == {}
    assert any(
        "memory-limit-missing" in n
        and "an add of a missing field: set it in values (e.g. resources.limits.memory: 1Gi" in n
        for n in notices
    ), notices


def _deployment(java_opts: str, limit: str, name: str = "app") -> RenderedDocument:
    text = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: ghcr.io/example/app:1.0
          env:
            - name: JAVA_TOOL_OPTIONS
              value: "{java_opts}"
          resources:
            limits:
              memory: {limit}
"""
    return RenderedDocument(text, f"templates/{name}.yaml")


# --------------------------------------------------------------------------- kustomize


def test_hand_traced_overlay_patch_file_rewritten(tmp_path):
    root = copy_fixture("kustomize", tmp_path)
    overlay = root / "overlays" / "prod"
    patch, base = overlay / "memory.yaml", root / "base" / "deployment.yaml"
    patch_before, base_before = patch.read_text(), base.read_bytes()
    table = {
        (0, JAVA_OPTS): (patch, (*CONTAINER, "env", 0, "value")),
        (0, LIMIT): (patch, LIMIT),
    }
    r = rendered(overlay, kustomize_documents(overlay), table)
    _, diff = run_fix(r)
    expected = patch_before.replace('"-Xmx2g"  # raised', '"-Xmx1536m"  # raised')
    assert patch.read_text() == expected
    assert diff == unified_diff(str(patch), patch_before, expected)
    assert base.read_bytes() == base_before
    # rendered again by kustomize: nothing left to fix
    again = rendered(overlay, kustomize_documents(overlay), table)
    assert fix_rendered(again, DEFAULT_CONFIG) == ({}, [])


def test_hand_traced_patch_file_other_documents_untouched(tmp_path):
    """A patch file with two documents: only the one the origin names is edited."""
    patches = tmp_path / "patches.yaml"
    first = "# sidecar limits\nkind: Deployment\nmetadata: {name: a}\nheap: -Xmx2g\n"
    second = "kind: Deployment\nmetadata: {name: b}\nheap: -Xmx2g  # same text\n"
    patches.write_text(first + "---\n" + second)
    origin = Origin(str(patches), 6, 6, "-Xmx2g", ("heap",), document=1)
    r = rendered(tmp_path, [_deployment("-Xmx2g", "2Gi")], {(0, JAVA_OPTS): origin})
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert notices == []
    assert edits == {str(patches): first + "---\n" + second.replace("-Xmx2g", "-Xmx1536m")}


def test_hand_traced_engine_error_while_tracing_is_said_not_fatal(tmp_path):
    def broken(document, path, value):
        raise RuntimeError("sentinel render failed")

    r = Rendered(str(tmp_path), "test", [_deployment("-Xmx2g", "2Gi")], broken)
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {}
    assert notices == [
        "templates/app.yaml: jvm-heap-exceeds-limit (Deployment/app, container app): not "
        "fixed: where spec.template.spec.containers.0.env.0.value was set could not be traced "
        "(RuntimeError: sentinel render failed)"
    ]


def test_hand_traced_overlay_fix_in_a_shared_base_is_said(tmp_path):
    """The value comes from the base's resource file: written there, and said, since every
    overlay of that base changes with it."""
    base, overlay = tmp_path / "base", tmp_path / "overlays" / "prod"
    base.mkdir()
    overlay.mkdir(parents=True)
    resource = base / "deployment.yaml"
    resource.write_text(_deployment("-Xmx2g", "2Gi").text)
    table = {(0, JAVA_OPTS): (resource, JAVA_OPTS)}
    r = Rendered(
        str(overlay), "kubectl kustomize", [_deployment("-Xmx2g", "2Gi")], hand_traced(table)
    )
    edits, notices = fix_rendered(r, DEFAULT_CONFIG)
    assert edits == {
        str(resource): _deployment("-Xmx2g", "2Gi").text.replace("-Xmx2g", "-Xmx1536m")
    }
    assert notices == [
        f"{resource}: spec.template.spec.containers.0.env.0.value: lies outside {overlay} (a "
        "shared base): every overlay that uses it changes with it"
    ]


# --------------------------------------------------------------------------- plain files


def test_plain_files_fixed_as_before_beside_a_rendering(tmp_path):
    """A run with plain files and no rendering: the plain flow is untouched."""
    from oomguard.linter.run import lint_paths

    manifest = tmp_path / "m.yaml"
    manifest.write_text(_deployment("-Xmx2g", "2Gi").text)
    result = lint_paths([str(manifest)], DEFAULT_CONFIG)
    assert result.renderings == []
    apply_fixes(result, DEFAULT_CONFIG, [str(manifest)], write=True, diff=False)
    assert 'value: "-Xmx1536m"' in manifest.read_text()


def test_rendered_findings_are_not_fixed_as_plain_files(tmp_path):
    """A rendered unit's finding is placed at its values file (or template): the plain-file
    flow must leave it to fix_rendered (else it reads templates as manifests). The lint kept
    no renderings here, so --fix renders the chart again to say why it is not rewritten."""
    from oomguard.rules.model import Finding

    chart = copy_fixture("hardcoded", tmp_path)
    template = chart / "templates" / "deployment.yaml"
    before = template.read_bytes()
    fix = ({"op": "replace", "path": (*CONTAINER, "command", 1), "value": "-Xmx1536m"},)
    finding = Finding(
        "jvm-heap-exceeds-limit",
        "error",
        "m",
        (*CONTAINER, "command", 1),
        fix=fix,
        file=str(template),
        line=17,
        rendered_from=str(template),
    )
    result = LintResult(findings=[finding])
    after = apply_fixes(result, DEFAULT_CONFIG, [str(chart)], write=True, diff=False)
    assert template.read_bytes() == before
    assert not any("unrendered template" in notice for notice in after.notices), after.notices
    assert any(
        notice.endswith(f"value written in template {template}:17 — not rewritten")
        for notice in after.notices
    ), after.notices


# --------------------------------------------------------------------------- real engines


def engine_chart(chart: Path, *values: Path) -> Rendered:
    from oomguard.linter.render import RenderOptions
    from oomguard.linter.render.helm import render_chart

    return render_chart(str(chart), RenderOptions(values=tuple(str(v) for v in values)))


def engine_overlay(overlay: Path) -> Rendered:
    from oomguard.linter.render import RenderOptions
    from oomguard.linter.render.kustomize import build

    return build(str(overlay), RenderOptions())


def remaining(r: Rendered) -> list[str]:
    """The rules still found in the rendered documents (what lint reports)."""
    from oomguard.linter.loader import load_text
    from oomguard.rules.converge import check_document

    return sorted(
        f.rule
        for document in r.documents
        for loaded in load_text(document.text).documents
        for f in check_document(loaded.data, DEFAULT_CONFIG)
        if f.severity != "info"
    )


def test_engine_spring_chart_values_line_rewritten_then_nothing(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values = chart / "values.yaml"
    before = values.read_text()
    assert remaining(engine_chart(chart)) == ["jvm-heap-exceeds-limit"]
    assert fix_rendered(engine_chart(chart), DEFAULT_CONFIG) == (
        {str(values): SPRING_VALUES_FIXED},
        [],
    )

    after, diff = run_fix(engine_chart(chart))

    assert values.read_text() == SPRING_VALUES_FIXED
    assert diff == unified_diff(str(values), before, SPRING_VALUES_FIXED)
    assert any("fixed 1 finding in 1 file" in n for n in after.notices)
    again = engine_chart(chart)  # rendered again by Helm: the finding is gone
    assert remaining(again) == []
    _, diff = run_fix(again)
    assert diff == ""
    assert values.read_text() == SPRING_VALUES_FIXED


def test_engine_diff_shows_exactly_what_fix_writes(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values = chart / "values.yaml"
    before = values.read_text()
    _, preview = run_fix(engine_chart(chart), write=False)
    assert values.read_text() == before
    _, written = run_fix(engine_chart(chart), diff=True)
    assert preview == written == unified_diff(str(values), before, values.read_text())
    assert values.read_text() != before


def test_engine_values_override_file_is_the_one_rewritten(tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values, prod = chart / "values.yaml", chart / "prod.yaml"
    values_before, prod_before = values.read_bytes(), prod.read_text()
    # 4Gi limit over the 1Gi request of values.yaml: a ratio warning --fix does not touch
    found = ["jvm-heap-exceeds-limit", "memory-limit-request-ratio"]
    assert remaining(engine_chart(chart, prod)) == found
    run_fix(engine_chart(chart, prod))
    assert prod.read_text() == prod_before.replace('"-Xms1g -Xmx4g"', '"-Xms1g -Xmx3g"')
    assert values.read_bytes() == values_before
    assert remaining(engine_chart(chart, prod)) == ["memory-limit-request-ratio"]


def test_engine_two_rounds_two_files(tmp_path):
    """Round 1 reads the 2048m limit as 2048Mi (memory-quantity-millibytes, in the override
    file); only then is -Xmx2g over 75% of it (round 2, in values.yaml)."""
    chart = copy_fixture("spring-app", tmp_path)
    override = tmp_path / "typo.yaml"
    override.write_text("resources:\n  limits:\n    memory: 2048m  # meant Mi\n")
    edits, notices = fix_rendered(engine_chart(chart, override), DEFAULT_CONFIG)
    assert notices == []
    assert edits == {
        str(override): "resources:\n  limits:\n    memory: 2048Mi  # meant Mi\n",
        str(chart / "values.yaml"): SPRING_VALUES_FIXED,
    }


def test_engine_template_literal_not_rewritten_notice_names_template_line(tmp_path):
    chart = copy_fixture("hardcoded", tmp_path)
    files = {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    after, diff = run_fix(engine_chart(chart))
    assert diff == ""
    assert {p: p.read_bytes() for p in files} == files
    template = chart / "templates" / "deployment.yaml"
    assert (
        f"jvm-heap-exceeds-limit (Deployment/release-name-hardcoded, container app): not "
        f"fixed: value written in template {template}:17 — not rewritten"
    ) in "\n".join(after.notices)


def test_engine_overlay_patch_file_rewritten(tmp_path):
    root = copy_fixture("kustomize", tmp_path)
    overlay = root / "overlays" / "prod"
    patch, base = overlay / "memory.yaml", root / "base" / "deployment.yaml"
    patch_before, base_before = patch.read_text(), base.read_bytes()
    assert remaining(engine_overlay(overlay)) == ["jvm-heap-exceeds-limit"]
    _, diff = run_fix(engine_overlay(overlay))
    expected = patch_before.replace('"-Xmx2g"  # raised', '"-Xmx1536m"  # raised')
    assert patch.read_text() == expected
    assert diff == unified_diff(str(patch), patch_before, expected)
    assert base.read_bytes() == base_before
    again = engine_overlay(overlay)
    assert remaining(again) == []
    assert fix_rendered(again, DEFAULT_CONFIG) == ({}, [])


def test_engine_overlay_value_in_the_base_written_there_and_said(tmp_path):
    root = copy_fixture("kustomize", tmp_path)
    resource = root / "base" / "deployment.yaml"
    resource.write_text(resource.read_text().replace('"-Xmx768m"', '"-Xmx1g"'))
    dev = root / "overlays" / "dev"
    dev.mkdir()
    (dev / "kustomization.yaml").write_text("resources:\n  - ../../base\nnamePrefix: dev-\n")
    before = resource.read_text()
    edits, notices = fix_rendered(engine_overlay(dev), DEFAULT_CONFIG)
    # -Xmx1g is 100% of the base's 1Gi limit; 75% is 768m
    assert edits == {str(resource): before.replace('"-Xmx1g"', '"-Xmx768m"')}
    assert notices == [
        f"{resource}: spec.template.spec.containers.0.env.0.value: lies outside {dev} (a "
        "shared base): every overlay that uses it changes with it"
    ]


def test_engine_go_service_gomemlimit_from_values(tmp_path):
    chart = copy_fixture("go-svc", tmp_path)
    values = chart / "values.yaml"
    # GOMEMLIMIT 2GiB is the whole 2Gi limit; 90% of it, whole MiB (docs/fix.md), is 1843MiB
    expected = values.read_text().replace("goMemLimit: 2GiB", "goMemLimit: 1843MiB")
    run_fix(engine_chart(chart))
    assert values.read_text() == expected
    assert fix_rendered(engine_chart(chart), DEFAULT_CONFIG) == ({}, [])


def test_engine_overlay_json6902_patch_value_rewritten(tmp_path):
    root = copy_fixture("kustomize", tmp_path)
    overlay = root / "overlays" / "perf"
    patch = overlay / "heap.json6902.yaml"
    before = patch.read_text()
    run_fix(engine_overlay(overlay))
    # -Xmx1g is all of the base's 1Gi limit; 75% is 768m
    assert patch.read_text() == before.replace("value: -Xmx1g", "value: -Xmx768m")
    assert fix_rendered(engine_overlay(overlay), DEFAULT_CONFIG) == ({}, [])


def test_hand_traced_key_feeding_a_workload_without_finding_is_said(tmp_path):
    """javaOpts feeds a (2Gi) and b (4Gi); only a has a finding: the write changes b too,
    and a notice says so."""
    values = tmp_path / "values.yaml"
    values.write_text('javaOpts: "-Xmx2g"\n')
    docs = [_deployment("-Xmx2g", "2Gi", "a"), _deployment("-Xmx2g", "4Gi", "b")]
    table = {(0, JAVA_OPTS): (values, ("javaOpts",)), (1, JAVA_OPTS): (values, ("javaOpts",))}
    edits, notices = fix_rendered(rendered(tmp_path, docs, table), DEFAULT_CONFIG)
    assert edits == {str(values): 'javaOpts: "-Xmx1536m"\n'}
    assert notices == [
        f"{values}: javaOpts: also sets spec.template.spec.containers.0.env.0.value of "
        "Deployment/b (templates/b.yaml), which changes with it to '-Xmx1536m'"
    ]


# --------------------------------------------------------------------------- the command


def test_cli_fix_chart_rewrites_values_line_then_nothing(run_oomguard, tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    values = chart / "values.yaml"

    preview = run_oomguard("lint", "--diff", "spring-app", cwd=tmp_path)
    assert values.read_text() != SPRING_VALUES_FIXED  # --diff alone writes nothing
    fixed = run_oomguard("lint", "--fix", "--diff", "spring-app", cwd=tmp_path)

    assert values.read_text() == SPRING_VALUES_FIXED
    diff = unified_diff(
        "spring-app/values.yaml",
        (DATA / "spring-app" / "values.yaml").read_text(),
        SPRING_VALUES_FIXED,
    )
    assert preview.stdout.startswith(diff) and fixed.stdout.startswith(diff)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr  # linted again: no error left
    assert "fixed 1 finding in 1 file" in fixed.stderr
    again = run_oomguard("lint", "--fix", "--diff", "spring-app", cwd=tmp_path)
    assert "--- a/" not in again.stdout and "fixed" not in again.stderr
    assert values.read_text() == SPRING_VALUES_FIXED


def test_cli_fix_values_override_file_rewritten(run_oomguard, tmp_path):
    chart = copy_fixture("spring-app", tmp_path)
    before = (chart / "values.yaml").read_bytes()
    run_oomguard("lint", "--fix", "--values", "spring-app/prod.yaml", "spring-app", cwd=tmp_path)
    assert (chart / "prod.yaml").read_text() == (
        DATA / "spring-app" / "prod.yaml"
    ).read_text().replace("-Xmx4g", "-Xmx3g")
    assert (chart / "values.yaml").read_bytes() == before


def test_cli_fix_template_literal_said_not_rewritten(run_oomguard, tmp_path):
    chart = copy_fixture("hardcoded", tmp_path)
    files = {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    done = run_oomguard("lint", "--fix", "hardcoded", cwd=tmp_path)
    assert done.returncode == 1
    assert {p: p.read_bytes() for p in files} == files
    assert (
        "not fixed: value written in template hardcoded/templates/deployment.yaml:17 — not "
        "rewritten" in done.stderr
    )


def test_cli_overlay_diff_equals_fix(run_oomguard, tmp_path):
    root = copy_fixture("kustomize", tmp_path)
    patch = root / "overlays" / "prod" / "memory.yaml"
    before = patch.read_text()
    preview = run_oomguard("lint", "--diff", "kustomize/overlays/prod", cwd=tmp_path)
    assert patch.read_text() == before
    done = run_oomguard("lint", "--fix", "kustomize/overlays/prod", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    after = patch.read_text()
    assert after == before.replace('"-Xmx2g"', '"-Xmx1536m"')
    assert preview.stdout.startswith(
        unified_diff("kustomize/overlays/prod/memory.yaml", before, after)
    )
