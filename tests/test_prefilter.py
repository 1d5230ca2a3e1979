"""The loader's text pre-filter never hides a document that a YAML parser reads as a workload,
a ConfigMap or a Secret (issue 12, "gate bypasses": lint said 0 workloads and exit 0).

The pre-filter skips documents whose ``kind:`` line, read from the text, names a kind that
cannot concern memory, and (for the first pass) documents whose text cannot spell a
ConfigMap or Secret. Both are checked here against a full parse by PyYAML (libyaml), on
reproductions and on generated documents built from the shapes that fool a line-based reading:
directives, duplicate keys, quoted keys and values, multi-line quoted and flow scalars with
lines at column 0, indented roots, escapes, tags, anchors, merges, and every YAML line break.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oomguard.linter.loader import load_text
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from fuzz_lint import check_prefilter, full_parse, interesting, signatures  # noqa: E402

POD_2G = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: app
      image: x
      command: [java, -Xmx2g, -jar, app.jar]
      resources: {requests: {memory: 2Gi, cpu: 1}, limits: {memory: 2Gi, cpu: 1}}
"""


def _rules(path: Path) -> list[tuple[str, str | None]]:
    result = lint_paths([str(path)], DEFAULT_CONFIG)
    return sorted((f.rule, f.name) for f in result.findings)


def test_directive_file_with_a_leading_service_still_lints_the_pod(tmp_path: Path):
    """Regression: a %YAML directive made the file one chunk, judged by its first kind."""
    path = tmp_path / "d.yaml"
    path.write_text("%YAML 1.1\n---\nkind: Service\nmetadata: {name: s}\n---\n" + POD_2G)
    assert _rules(path) == [("jvm-heap-exceeds-limit", "p")]


def test_kind_line_inside_a_multiline_annotation_does_not_hide_the_pod(tmp_path: Path):
    """Regression: a column-0 "kind: Service" inside a quoted annotation was read as the
    document's kind."""
    pod = POD_2G.replace(
        "metadata: {name: p}\n",
        'metadata:\n  name: p\n  annotations:\n    note: "first\nkind: Service\n      last"\n',
    )
    pod = pod.replace("kind: Pod\n", "") + "kind: Pod\n"  # the real kind comes last
    path = tmp_path / "a.yaml"
    path.write_text(pod)
    assert full_parse(pod)[0]["kind"] == "Pod"
    assert _rules(path) == [("jvm-heap-exceeds-limit", "p")]


@pytest.mark.parametrize(
    "body",
    [
        "kind: Service\nkind: Pod\n",  # duplicate key: the last wins
        'kind: Service\n"kind": Pod\n',
        "kind: Service\n? kind\n: Pod\n",
        'kind: "Po\\x64"\n',
        'kind: "Po\\\n  d"\n',
        "kind: Service\n  List\nitems: [{kind: Pod, metadata: {name: p}}]\n",
        "  kind: Pod\n  metadata:\n    a: 'x\nkind: Service\n    '\n",
        "kind: Service\r---\rkind: Pod\r",
        "kind: Service\u2028---\u2028kind: Pod\n",
        "--- {kind: Pod}\n",
        "x: {a: 1,\nkind: Service}\nkind: Pod # c\n",
    ],
    ids=lambda body: repr(body)[:40],
)
def test_shapes_a_line_reading_gets_wrong_are_parsed(body: str):
    expected = [d for d in full_parse(body) if interesting(d)]
    assert expected, "the reproduction must hold a workload for a full parse"
    loaded = load_text(body)
    assert loaded.errors == []
    assert signatures(expected) <= signatures([d.data for d in loaded.documents])


def test_plain_uninteresting_documents_are_still_skipped():
    """The point of the pre-filter (CRDs are large): a plain one is not parsed at all."""
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: [\n"  # broken if parsed
    crd = "---\nkind: CustomResourceDefinition # c\r\nspec:\n  names:\n    kind: Pod\n"
    assert load_text(text + crd).errors == []
    assert load_text(text + crd).documents == []


# --- generated documents ----------------------------------------------------------------

KIND_VALUES = ["Pod", "Service", "ConfigMap", "Secret", "Deployment", "CustomResourceDefinition"]
KINDS = st.sampled_from(KIND_VALUES)
BREAKS = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"])


@st.composite
def kind_entry(draw: Any) -> str:
    kind = draw(KINDS)
    return draw(
        st.sampled_from(
            [
                f"kind: {kind}",
                f'kind: "{kind}"',
                f"kind: '{kind}'",
                f'"kind": {kind}',
                f"'kind': {kind}",
                f"? kind\n: {kind}",
                f"kind : {kind}",
                f"kind:\n  {kind}",
                f"kind: {kind} # c",
                f"kind: !!str {kind}",
                f"kind: &k {kind}",
                f'kind: "{kind[:-1]}\\x{ord(kind[-1]):02x}"',
                f'kind: "{kind[:2]}\\\n  {kind[2:]}"',
                f"kind: {kind[:2]}\n  {kind[2:]}",
                f"kind: {kind}\n  List",
                f"<<: {{kind: {kind}}}",
                f"kind: {kind}List",
            ]
        )
    )


@st.composite
def other_entry(draw: Any) -> str:
    hidden = draw(kind_entry())
    return draw(
        st.sampled_from(
            [
                "apiVersion: v1",
                f"metadata: {{name: n{draw(st.integers(0, 3))}}}",
                "# a comment",
                "",
                f'note: "first\n{hidden}\n  last"',
                f"note: 'first\n{hidden}\n  last'",
                f"note: {{a: 1,\n{hidden}}}",
                f"note: [1,\n{hidden}]",
                f"note: |\n  {hidden}",
                "items: []",
                "items:\n- {kind: Pod, metadata: {name: i}}",
                "spec:\n  containers: []",
            ]
        )
    )


@st.composite
def document(draw: Any) -> str:
    entries = draw(st.lists(st.one_of(kind_entry(), other_entry()), min_size=1, max_size=6))
    body = "\n".join(entries)
    indent = draw(st.sampled_from(["", "", "", "  "]))
    if indent:
        body = "\n".join(indent + line for line in body.split("\n"))
    if draw(st.booleans()):
        body = "{" + ", ".join(e.replace("\n", " ") for e in entries) + "}"
    header = draw(st.sampled_from(["", "---\n", "--- # c\n", "%YAML 1.1\n---\n", "--- "]))
    return header + body + "\n"


@st.composite
def stream(draw: Any) -> str:
    documents = draw(st.lists(document(), min_size=1, max_size=4))
    text = ""
    for index, doc in enumerate(documents):
        if index and not doc.startswith(("---", "%")):
            text += draw(st.sampled_from(["---\n", "...\n---\n"]))
        elif index and doc.startswith("%"):
            text += "...\n"
        text += doc
    breaks = draw(st.lists(BREAKS, min_size=1, max_size=3))
    parts = text.split("\n")
    return parts[0] + "".join(breaks[i % len(breaks)] + p for i, p in enumerate(parts[1:]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream())
def test_prefilter_never_hides_what_a_full_parse_reads(text: str):
    check_prefilter(text)


BROKEN_TEMPLATE = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Values.x }}\n"


def test_a_broken_template_document_does_not_hide_the_workload_beside_it(tmp_path: Path):
    """Regression (found by tests/fuzz/fuzz_lint.py): outside a chart, one document with
    ``{{ }}`` that did not parse made the whole file "an unrendered Helm template": the Pod
    beside it was skipped, exit 0. Now only that document is skipped, with a notice."""
    path = tmp_path / "mixed.yaml"
    path.write_text(POD_2G + BROKEN_TEMPLATE)
    result = lint_paths([str(path)], DEFAULT_CONFIG)
    assert sorted((f.rule, f.name) for f in result.findings) == [("jvm-heap-exceeds-limit", "p")]
    assert result.notices == [
        f"{path}: document 2: unrendered Helm template that does not parse, skipped "
        "(lint the rendered output: helm template … | oomguard lint -)"
    ]


def test_fix_never_writes_a_file_with_a_broken_template_document(tmp_path: Path, run_oomguard):
    path = tmp_path / "mixed.yaml"
    path.write_text(POD_2G + BROKEN_TEMPLATE)
    before = path.read_bytes()
    result = run_oomguard("lint", "--fix", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert path.read_bytes() == before
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        # NEL line breaks: one chunk for the line-based splitter, two documents for libyaml
        "kind: ConfigMap\x85metadata: {name: cfg}\x85---\x85kind: Secret\x85a: {{ x }\x85",
        # a directive makes the file one chunk too; the second document is broken
        "%YAML 1.1\n---\nkind: ConfigMap\nmetadata: {name: cfg}\n---\nkind: Pod\na: {b\n",
    ],
    ids=["nel-then-broken-template", "directive-then-broken-document"],
)
def test_documents_before_a_broken_one_in_the_same_chunk_are_kept(text: str):
    """Regression (found by tests/fuzz/fuzz_lint.py): when one document of a chunk holding
    several failed, the documents before it were lost too, silently for a template."""
    assert [d["kind"] for d in full_parse(text)] == ["ConfigMap"]
    for loaded in (load_text(text), load_text(text, wanted=lambda chunk: True)):
        assert [d.data["kind"] for d in loaded.documents] == ["ConfigMap"]
        assert len(loaded.errors) + len(loaded.templates) == 1
    check_prefilter(text)


def test_a_shared_kind_name_is_judged_by_its_group():
    """Knative's Service shares its name with the core Service: the apiVersion decides."""
    core = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: [\n"  # broken if parsed
    assert load_text(core).errors == [] and load_text(core).documents == []
    knative = (
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: k}\n"
        "spec: {template: {spec: {containers: [{image: x}]}}}\n"
    )
    assert [d.data["metadata"]["name"] for d in load_text(knative).documents] == ["k"]
    unsure = "apiVersion: v1\napiVersion: serving.knative.dev/v1\nkind: Service\nspec: [\n"
    assert load_text(unsure).errors != []  # apiVersion written twice: parsed, not guessed


_MARKER_PIECES = ["---", "...", "\n", "\r\n", "\r", " ", "\t", "-", ".", "a", "#", "kind: Pod"]


@given(st.lists(st.sampled_from(_MARKER_PIECES), max_size=14).map("".join))
@settings(max_examples=500)
def test_document_markers_are_found_where_the_line_anchored_pattern_finds_them(text: str):
    # split_documents finds "---"/"..." lines with str.find (the anchored regex tried every
    # character); where it finds them must be exactly where the pattern matches.
    from oomguard.linter.loader import _DOC_MARKER, _marker_starts

    assert _marker_starts(text) == [match.start() for match in _DOC_MARKER.finditer(text)]
