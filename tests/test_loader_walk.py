"""The loader's event walk (linter/loader.py ``_build_documents``), which keeps the open
container in local variables for speed, against PyYAML's own composer and constructor: the
same data, and every value's position where PyYAML's composed node starts. Also the fast
paths of the JSON layout and of ``Finding.located`` against the library code they replace."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from oomguard.linter.loader import LoadError, build_documents
from oomguard.linter.output import _json_finding, _json_finding_text, json_nested
from oomguard.rules.model import Finding

TEXTS = [
    "plain scalar",
    "- 1\n- [2, {a: b}]\n- {c: [d, e], f: ~}\n",
    "a: 1\nb:\n  c: [x, y]\n  d: {e: 'q', f: \"r\"}\nlist:\n- name: one\n  value: 2\n- [3, 4]\n",
    "--- 3\n--- x\n--- {k: v}\n",
    "1: int key\n1.5: float key\nnull: null key\ntrue: bool key\n",
    "? complex\n: value\nempty:\nnested: {deep: {deeper: [1, [2, [3]]]}}\n",
    "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
    "      - name: app\n        resources: {limits: {memory: 1Gi}}\n",
]


def _oracle_positions(node: yaml.Node, path: tuple = ()) -> dict[tuple, tuple[int, int]]:
    """Path -> (line, column) of every value, from PyYAML's composed nodes."""
    found = {path: (node.start_mark.line, node.start_mark.column)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            found.update(_oracle_positions(value_node, (*path, key)))
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            found.update(_oracle_positions(child, (*path, index)))
    return found


@pytest.mark.parametrize("text", TEXTS)
def test_walk_gives_pyyaml_data_and_positions(text):
    documents = build_documents(text)
    assert [d.data for d in documents] == list(yaml.safe_load_all(text))
    for document, node in zip(documents, yaml.compose_all(text), strict=True):
        for path, where in _oracle_positions(node).items():
            assert document.position(path) == where, (text, path)


def test_merge_keys_and_their_positions():
    text = "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nmerged:\n  <<: [*b, *m]\n  y: 9\n"
    (document,) = build_documents(text)
    assert document.data == yaml.safe_load(text)
    assert document.data["merged"] == {"y": 9, "x": 1, "z": 3}
    # a merged value points where it is written, in the anchored mapping
    assert document.position(("merged", "x")) == (0, 13)
    assert document.position(("merged", "z")) == (1, 13)
    assert document.position(("merged", "y")) == (4, 5)


def test_an_alias_is_where_it_is_written_and_shares_the_anchored_value():
    text = "a: &anchor {x: 1}\nb: *anchor\nc: [*anchor, *anchor]\n"
    (document,) = build_documents(text)
    assert document.data == yaml.safe_load(text)
    assert document.data["b"] is document.data["a"]
    assert document.position(("b",)) == (1, 3)  # PyYAML's node would say (0, 3)
    assert document.position(("c", 1)) == (2, 13)
    assert document.position(("c", 1, "x")) == (0, 15)  # inside: the anchored mapping


def test_duplicate_key_is_a_problem_and_the_last_value_wins():
    (document,) = build_documents("a: 1\nb: {c: 2}\na: 3\n", line_offset=10)
    assert document.data == {"a": 3, "b": {"c": 2}}
    assert [(p.message, p.line, p.column) for p in document.problems] == [
        ("duplicate key 'a' in a mapping", 12, 3)
    ]
    assert document.position(("a",)) == (12, 3)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("{[1]: 2}", "a mapping or list used as a mapping key", 0, 1),
        ("? {a: 1}\n: 2", "a mapping or list used as a mapping key", 0, 2),
        ("&a [1, *a]", "recursive alias *a", 0, 7),
        ("a: *nowhere", "unknown alias *nowhere", 0, 3),
    ],
)
def test_walk_refuses_what_it_cannot_build(text, message, line, column):
    with pytest.raises(LoadError) as error:
        build_documents(text)
    assert (error.value.message, error.value.line, error.value.column) == (message, line, column)


def test_documents_before_an_error_are_kept():
    with pytest.raises(LoadError) as error:
        build_documents("a: 1\n---\nb: [2\n", first_index=4)
    assert [(d.index, d.data) for d in error.value.documents] == [(4, {"a": 1})]


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"rule": "r", "line": 3, "fixable": True, "no": False, "container": None},
        {"message": 'quote " newline \n unicode é \u2028', "n": -1},
        {"f": 1.5},  # a float: json lays it out
        {"nested": {"a": 1}},
        {1: "non-string key"},
        [1, {"a": 2}],
    ],
)
@pytest.mark.parametrize("depth", [0, 1, 3, 9])
def test_json_layout_equals_json_dumps(value, depth):
    expected = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)
    assert json_nested(value, depth) == expected


@pytest.mark.parametrize(
    "where",
    [
        {},
        {"file": "a.yaml", "line": 3, "column": 0, "kind": "Pod", "name": "p", "container": "c"},
        {"message": 'quote " newline \n unicode é \u2028', "namespace": "ns", "template": "t"},
        {"template": "", "rendered_from": "chart/t.yaml", "values_key": "jvm.heap"},
        {"name": 123, "namespace": True, "line": -1},  # non-string values from a manifest
        {"name": 1.5},  # a float: json lays it out
        {"template": ["x"]},
    ],
)
@pytest.mark.parametrize("can_fix", [True, False])
def test_json_finding_text_equals_json_nested(where, can_fix):
    finding = Finding(**{"rule": "r", "severity": "error", "message": "m", **where})
    expected = json_nested(_json_finding(finding, can_fix), 2)
    assert _json_finding_text(finding, can_fix, json.encoder.encode_basestring) == expected


def test_located_equals_dataclasses_replace():
    origin = object()
    finding = Finding(rule="r", severity="error", message="m", path=("spec", 0), origin=origin)
    for where in (
        {"file": "a.yaml", "line": 3, "column": 5, "document": 2},
        {"fix": ()},
        {"file": "t.yaml", "line": None, "column": None, "rendered_from": "t.yaml"},
    ):
        located = finding.located(**where)
        assert located == dataclasses.replace(finding, **where)
        assert located.origin is origin
    with pytest.raises(TypeError):
        finding.located(nowhere=1)
