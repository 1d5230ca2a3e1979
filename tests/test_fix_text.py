"""Splicing strict RFC 6902 patches into manifest text: layout, quoting and refusals."""

from __future__ import annotations

import pytest
from oomguard.linter.fix import FixError, apply_patch, patch_text, plain_ok


def patched(text: str, *ops: dict, index: int = 0, path: str = "x.yaml") -> str:
    return patch_text(text, {index: list(ops)}, path)


def test_no_patch_is_the_identity():
    text = "a:   1   # odd\n---\nb: [ x ,y ]\n"
    assert patch_text(text, {}) is text


def test_scalar_replace_keeps_quotes_and_comment():
    text = "a:\n  b: 'x-2g'   # note\n  c: \"y\"\n"
    assert patched(text, {"op": "replace", "path": "/a/b", "value": "x-1536m"}) == (
        "a:\n  b: 'x-1536m'   # note\n  c: \"y\"\n"
    )


def test_plain_value_that_would_change_type_is_quoted():
    assert patched("a: abc\n", {"op": "replace", "path": "/a", "value": "123"}) == 'a: "123"\n'
    assert patched("a: abc\n", {"op": "replace", "path": "/a", "value": "on"}) == 'a: "on"\n'
    assert patched("a: abc\n", {"op": "replace", "path": "/a", "value": "0x4B"}) == 'a: "0x4B"\n'


def test_double_quoted_value_is_escaped():
    text = 'a: "x"\n'
    out = patched(text, {"op": "replace", "path": "/a", "value": 'say "hi"\n'})
    assert out == 'a: "say \\"hi\\"\\n"\n'


def test_literal_block_changes_only_the_flag():
    text = "cmd: |\n  exec java -Xmx2g \\\n    -jar app.jar\nnext: 1\n"
    value = "exec java -Xmx1g \\\n  -jar app.jar\n"
    assert patched(text, {"op": "replace", "path": "/cmd", "value": value}) == (
        "cmd: |\n  exec java -Xmx1g \\\n    -jar app.jar\nnext: 1\n"
    )


def test_folded_block_changes_only_the_flag():
    text = "v: >-\n  --a\n  --max-old-space-size=1800\nnext: 1\n"
    out = patched(text, {"op": "replace", "path": "/v", "value": "--a --max-old-space-size=1536"})
    assert out == "v: >-\n  --a\n  --max-old-space-size=1536\nnext: 1\n"


def test_flow_sequence_removals():
    remove = {"op": "remove", "path": "/a/0"}
    assert patched("a: [x, y, z]\n", remove) == "a: [y, z]\n"
    assert patched("a: [x, y, z]  # c\n", {"op": "remove", "path": "/a/2"}) == "a: [x, y]  # c\n"
    assert patched("a: [x]\n", remove) == "a: []\n"


def test_block_sequence_removal_takes_the_item_lines():
    text = "a:\n  - x\n  - y   # gone\nb: 1\n"
    assert patched(text, {"op": "remove", "path": "/a/1"}) == "a:\n  - x\nb: 1\n"
    assert patched(text, {"op": "remove", "path": "/a/0"}) == "a:\n  - y   # gone\nb: 1\n"


def test_add_to_block_mapping_uses_the_file_indentation():
    text = "top:\n    one:\n        a: 1   # c\n    two: 2\n"
    out = patched(text, {"op": "add", "path": "/top/one/b", "value": {"c": "d"}})
    assert out == "top:\n    one:\n        a: 1   # c\n        b:\n            c: d\n    two: 2\n"


def test_add_after_an_empty_value():
    text = "a:\n  b:\nc: 1\n"
    assert patched(text, {"op": "add", "path": "/a/d", "value": "x"}) == "a:\n  b:\n  d: x\nc: 1\n"


def test_add_at_end_of_file_without_newline_keeps_no_newline():
    out = patched("a:\n  b: 1", {"op": "add", "path": "/a/c", "value": "on"})
    assert out == 'a:\n  b: 1\n  c: "on"'


def test_append_follows_sequence_offset_and_item_style():
    block = "env:\n- name: A\n  value: b\n"
    item = {"name": "X", "value": "y"}
    assert patched(block, {"op": "add", "path": "/env/-", "value": item}) == (
        "env:\n- name: A\n  value: b\n- name: X\n  value: y\n"
    )
    flow_items = "env:\n  - {name: A, value: b}\n"
    assert patched(flow_items, {"op": "add", "path": "/env/-", "value": item}) == (
        "env:\n  - {name: A, value: b}\n  - {name: X, value: y}\n"
    )
    flow = "env: [{name: A, value: b}]\n"
    assert patched(flow, {"op": "add", "path": "/env/-", "value": item}) == (
        "env: [{name: A, value: b}, {name: X, value: y}]\n"
    )


def test_json_stays_json():
    text = '{\n  "a": {\n    "b": "1"\n  }\n}\n'
    out = patched(text, {"op": "add", "path": "/a/c", "value": {"d": "2"}}, path="x.json")
    assert out == '{\n  "a": {\n    "b": "1",\n    "c": {"d": "2"}\n  }\n}\n'
    empty = patched('{"a": {}}\n', {"op": "add", "path": "/a/c", "value": "x"}, path="x.json")
    assert empty == '{"a": {"c": "x"}}\n'


def test_crlf_is_kept_for_new_lines():
    text = "a:\r\n  b: 1\r\n"
    out = patched(text, {"op": "add", "path": "/a/c", "value": "x"})
    assert out == "a:\r\n  b: 1\r\n  c: x\r\n"


def test_replacing_a_mapping_keeps_the_keys_that_stay():
    text = (
        "env:\n  - name: GOMEMLIMIT   # keep me\n    valueFrom:\n      resourceFieldRef:\n"
        "        resource: limits.memory\n  - name: B\n    value: c\n"
    )
    value = {"name": "GOMEMLIMIT", "value": "921MiB"}
    out = patched(text, {"op": "replace", "path": "/env/0", "value": value})
    assert out == (
        "env:\n  - name: GOMEMLIMIT   # keep me\n    value: 921MiB\n  - name: B\n    value: c\n"
    )


def test_other_documents_are_untouched():
    text = "# head\n---\na: [ 1,2 ]   # odd\n---\nb: x\n...\n---\nc:    'y'\n"
    out = patched(text, {"op": "replace", "path": "/b", "value": "z"}, index=1)
    assert out == "# head\n---\na: [ 1,2 ]   # odd\n---\nb: z\n...\n---\nc:    'y'\n"


def test_documents_after_a_directive_are_found_by_index():
    text = "%YAML 1.1\n---\na: 1\n---\nb: 2\n"
    out = patched(text, {"op": "replace", "path": "/b", "value": 3}, index=1)
    assert out == "%YAML 1.1\n---\na: 1\n---\nb: 3\n"


@pytest.mark.parametrize(
    "text, op, reason",
    [
        ("base: &m 1Gi\nlim: *m\n", {"op": "replace", "path": "/base", "value": "2Gi"}, "anchor"),
        ("lim: !!str 512m\n", {"op": "replace", "path": "/lim", "value": "512Mi"}, "tag"),
        (
            "base: &b {memory: 1Gi}\nr:\n  <<: *b\n",
            {"op": "replace", "path": "/r/memory", "value": "2Gi"},
            "merge key",
        ),
    ],
)
def test_shared_values_are_refused_rather_than_changed_twice(text, op, reason):
    with pytest.raises(FixError, match=reason):
        patched(text, op)


def test_a_result_that_would_read_back_differently_is_refused():
    # keep-chomped block scalar: a line added after it would swallow its trailing newlines
    text = "a:\n  s: |+\n    x\n\nb: 1\n"
    with pytest.raises(FixError):
        patched(text, {"op": "add", "path": "/a/u", "value": {"k": "v"}}, index=0)


def test_apply_patch_follows_rfc6902_on_plain_data():
    data = {"a": [1, 2], "b": {"c": 1}}
    patch = [
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "remove", "path": "/a/0"},
        {"op": "replace", "path": "/b/c", "value": 2},
        {"op": "add", "path": "/b/d~1e", "value": "x"},
    ]
    assert apply_patch(data, patch) == {"a": [2, 3], "b": {"c": 2, "d/e": "x"}}
    assert data == {"a": [1, 2], "b": {"c": 1}}


@pytest.mark.parametrize(
    "text, ok",
    [
        ("512Mi", True),
        ("-Xmx1536m", True),
        ("--max-old-space-size=768", True),
        ("0x4B", False),
        ("18000000", False),
        ("off", False),
        ("yes", False),
        ("1e3", False),
        ("a: b", False),
        ("- x", False),
        ("", False),
        ("x #y", False),
    ],
)
def test_plain_ok(text, ok):
    assert plain_ok(text, flow=False) is ok
