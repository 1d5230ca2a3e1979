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

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oomguard.linter.loader import INTERESTING_KINDS, load_text
from oomguard.linter.run import _may_hold_source, lint_paths
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.workload import SOURCE_KINDS

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
    assert yaml.safe_load(pod)["kind"] == "Pod"
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
    expected = [d for d in _reference(body) if _interesting_root(d)]
    assert expected, "the reproduction must hold a workload for a full parse"
    loaded = load_text(body)
    assert loaded.errors == []
    assert _signatures(expected) <= _signatures([d.data for d in loaded.documents])


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


def _reference(text: str) -> list[Any]:
    """The documents libyaml reads, up to the first it cannot."""
    read = []
    try:
        for data in yaml.load_all(text, Loader=yaml.CSafeLoader):
            read.append(data)
    except (yaml.YAMLError, ValueError, TypeError):
        pass
    return read


def _interesting_root(data: Any) -> bool:
    kind = data.get("kind") if isinstance(data, dict) else None
    return isinstance(kind, str) and (kind in INTERESTING_KINDS or kind.endswith("List"))


def _signatures(documents: list[Any]) -> Counter:
    def name(data: dict) -> Any:
        metadata = data.get("metadata")
        return str(metadata.get("name")) if isinstance(metadata, dict) else None

    return Counter((d["kind"], name(d)) for d in documents if _interesting_root(d))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream())
def test_prefilter_never_hides_what_a_full_parse_reads(text: str):
    expected = [d for d in _reference(text) if _interesting_root(d)]
    loaded = load_text(text)
    if loaded.errors:
        return  # said out loud (manifest-invalid): not a silent pass
    assert _signatures(expected) <= _signatures([d.data for d in loaded.documents])
    sources = [d for d in expected if d["kind"] in SOURCE_KINDS]
    first_pass = load_text(text, wanted=_may_hold_source) if _may_hold_source(text) else None
    if sources:
        assert first_pass is not None
        if not first_pass.errors:
            assert _signatures(sources) <= _signatures([d.data for d in first_pass.documents])
