"""The YAML text splicer of ``--fix``: ``(text, document patches) → text``, or FixError.

Each operation becomes one small text edit at the positions ruamel.yaml's round-trip composer
reports for the nodes concerned. Re-dumping a whole document with ruamel changes bytes the
fix never meant to touch (flow-sequence spacing, trailing blanks, wrapped lines: about a third
of the real-world corpus does not survive a round trip unchanged), so nothing is re-dumped;
new values are rendered on their own (:mod:`oomguard.linter.fix_render`), in the style and
indentation found in the file. Every document is re-read with the linter's own loader and
compared with the patched data; any difference and the text is refused.

This module is over 400 lines because it is one algorithm over one node tree: locating a
value in the text, and the replace, insert and remove edits of block and flow styles, share
the same position helpers; splitting them would only scatter those helpers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oomguard.linter.fix_render import (
    _double_body,
    _is_mapping,
    _is_scalar,
    _is_sequence,
    _Layout,
    _plain,
    _scalar_text,
    plain_ok,
    render_flow,
    render_scalar,
)
from oomguard.linter.loader import Document, load_json, load_text, split_documents
from oomguard.rules.fixes import apply_patch, parse_pointer
from oomguard.rules.model import pointer


class FixError(Exception):
    """A patch that cannot be applied to the text exactly; the file is left as it is."""


def load_like_linter(text: str, path: str) -> list[Document]:
    """The documents exactly as ``oomguard lint`` reads them (JSON fallback included)."""
    loaded = load_text(text)
    if path.endswith(".json") and loaded.errors and not loaded.documents:
        loaded = load_json(text)
    if loaded.errors:
        raise FixError(loaded.errors[0].message)
    if loaded.templates:  # a document we could not parse: the file is never written
        raise FixError(f"document {loaded.templates[0] + 1} is an unrendered template")
    return loaded.documents


# --------------------------------------------------------------------------- text patching


def patch_text(text: str, patches: dict[int, list[dict]], path: str = "manifest.yaml") -> str:
    """``text`` with each document's strict RFC 6902 patch spliced in, verified by re-reading.

    Raises :class:`FixError` when an operation cannot be placed in the text or the result
    does not read back as exactly the patched data.
    """
    if not patches:
        return text
    chunks = _chunks(text)
    pieces = []
    cursor = 0
    for number, (start, chunk) in enumerate(chunks):
        # without YAML directives every chunk holds one document whose index is its number;
        # with them the file is one chunk and documents are numbered inside it
        local = (
            {index: ops for index, ops in patches.items()}
            if len(chunks) == 1
            else ({0: patches[number]} if number in patches else {})
        )
        if not local:
            continue
        if len(chunks) > 1 and len(_compose(chunk)) != 1:
            # the linter numbered this chunk as one document: another reading would put the
            # fix in the wrong document
            raise FixError(_NUMBERING_PROBLEM)
        edited = chunk
        for index, ops in sorted(local.items()):
            for op in ops:
                edited = _apply(edited, index, op)
        pieces.append(text[cursor:start])
        pieces.append(edited)
        cursor = start + len(chunk)
    pieces.append(text[cursor:])
    fixed = "".join(pieces)
    _verify(text, fixed, patches, path)
    return fixed


def _chunks(text: str) -> list[tuple[int, str]]:
    """(character offset, text) of each document chunk, as the linter splits the file. The
    chunks are consecutive slices of the text (empty ones left out), so each is found after
    the previous one; no line numbering is involved."""
    chunks = []
    cursor = 0
    for _, chunk in split_documents(text):
        start = text.find(chunk, cursor)
        if start == -1:
            raise FixError("cannot locate its documents in the text")
        chunks.append((start, chunk))
        cursor = start + len(chunk)
    return chunks


_NUMBERING_PROBLEM = "its documents cannot be numbered reliably (unusual line breaks?)"


def _verify(text: str, fixed: str, patches: dict[int, list[dict]], path: str) -> None:
    before = _by_index(load_like_linter(text, path))
    try:
        after = _by_index(load_like_linter(fixed, path))
    except FixError as exc:
        raise FixError(f"the fixed text would not parse ({exc})") from None
    expected = {
        index: apply_patch(data, patches[index]) if index in patches else data
        for index, data in before.items()
    }
    if after != expected:
        raise FixError("the fix could not be written without changing other values")


def _by_index(documents: list[Document]) -> dict[int, Any]:
    """Documents' data by index; two documents with one index would let a fix of one pass
    as a fix of the other, so that is refused."""
    by_index = {document.index: document.data for document in documents}
    if len(by_index) != len(documents):
        raise FixError(_NUMBERING_PROBLEM)
    return by_index


def _pointer_parts(pointer: str) -> list[str]:
    try:
        return parse_pointer(pointer)
    except ValueError as exc:
        raise FixError(str(exc)) from None


# --------------------------------------------------------------------------- one operation


@functools.lru_cache(maxsize=8)
def _compose(chunk: str) -> tuple[Any, ...]:
    """ruamel.yaml's round-trip node tree of ``chunk``, with a start and end mark per node.
    Cached: checking a candidate edit composes the text the next operation starts from."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return tuple(YAML(typ="rt").compose_all(chunk))
    except YAMLError as exc:
        raise FixError(f"ruamel.yaml cannot read it: {str(exc).splitlines()[0]}") from None


def _apply(chunk: str, index: int, op: dict) -> str:
    """``chunk`` with one strict patch operation spliced into document ``index``."""
    roots = _compose(chunk)
    if index >= len(roots):
        raise FixError(f"document {index + 1} not found")
    root = roots[index]
    parts = _pointer_parts(op["path"])
    parent = _node_at(root, parts[:-1])
    last = parts[-1]
    kind = op["op"]
    if _is_mapping(parent):
        pair = _pair(parent, last)
        if pair is None and kind == "replace" and _pair(parent, "<<") is not None:
            raise FixError(f"{op['path']} comes from a YAML merge key (<<)")
        if kind == "remove":
            return _splice(chunk, _remove_pair(chunk, parent, pair))
        if pair is not None:
            return _replace_node(chunk, index, parts, pair[1], op["value"], root)
        if kind == "add":
            return _splice(chunk, _insert_pair(chunk, parent, last, op["value"], root))
    elif _is_sequence(parent):
        if last == "-" and kind == "add":
            return _splice(chunk, _append_item(chunk, parent, op["value"], root))
        if last.isdigit() and int(last) < len(parent.value):
            item = parent.value[int(last)]
            if kind == "remove":
                return _splice(chunk, _remove_item(chunk, parent, int(last)))
            if kind == "replace":
                return _replace_node(chunk, index, parts, item, op["value"], root)
    raise FixError(f"cannot apply {kind} at {op['path']}")


def _node_at(root: Any, parts: list[str]) -> Any:
    node = root
    for part in parts:
        if _is_mapping(node):
            pair = _pair(node, part)
            if pair is None:
                raise FixError(f"no {part!r} in the text (from a merge key or alias?)")
            node = pair[1]
        elif _is_sequence(node) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            raise FixError(f"cannot find {part!r} in the text")
    return node


def _pair(mapping: Any, key: str) -> tuple[Any, Any] | None:
    found = None
    for key_node, value_node in mapping.value:
        if _is_scalar(key_node) and key_node.value == key:
            if found is not None:
                raise FixError(f"duplicate key {key!r}")
            found = (key_node, value_node)
    return found


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _splice(chunk: str, edit: _Edit) -> str:
    return chunk[: edit.start] + edit.text + chunk[edit.end :]


# --- replace


def _replace_node(chunk: str, index: int, parts: list[str], node: Any, value: Any, root) -> str:
    if _is_mapping(node) and isinstance(value, dict):
        # key by key, so the comments and layout of what stays are kept
        current = _plain(node)
        for key, new in value.items():
            if key not in current or current[key] != new:
                chunk = _apply(chunk, index, {"op": "add", "path": _ptr(parts, key), "value": new})
        for key in current:
            if key not in value:
                chunk = _apply(chunk, index, {"op": "remove", "path": _ptr(parts, key)})
        return chunk
    if _is_scalar(node) and _is_scalar_value(value):
        return _replace_scalar(chunk, index, parts, node, value)
    if _is_sequence(node) and isinstance(value, list) and len(value) == len(node.value):
        current = _plain(node)
        for position, new in enumerate(value):
            if current[position] != new:
                chunk = _apply(
                    chunk, index, {"op": "replace", "path": _ptr(parts, position), "value": new}
                )
        return chunk
    return _splice(chunk, _rewrite_node(chunk, node, value, root))


def _ptr(parts: list[str], key: Any) -> str:
    return pointer((*parts, key))


def _is_scalar_value(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _replace_scalar(chunk: str, index: int, parts: list[str], node: Any, value: Any) -> str:
    source = chunk[node.start_mark.index : node.end_mark.index]
    if source[:1] in ("&", "!", "*"):
        raise FixError(f"{_ptr(parts[:-1], parts[-1])} carries an anchor or tag")
    style = node.style or ""
    if isinstance(value, str) and _scalar_text(node) == value and _plain(node) == value:
        return chunk  # already this string: leave its spelling alone
    if isinstance(value, str):
        # smallest change first: only the characters that differ, e.g. 2g → 1536m in -Xmx2g
        for candidate in _middle_edits(source, _scalar_text(node), value, style):
            edited = chunk[: node.start_mark.index] + candidate + chunk[node.end_mark.index :]
            if _scalar_reads_as(edited, index, parts, value, style):
                return edited
    flow = _in_flow(chunk, node)
    rendered = _render_scalar_like(value, style, source, chunk, node, flow)
    end = node.end_mark.index
    if style in ("|", ">") and rendered[:1] not in ("|", ">"):
        end = _content_end(chunk, node)  # a block scalar's end mark is past its line break
    return chunk[: node.start_mark.index] + rendered + chunk[end:]


def _middle_edits(source: str, old: str, new: str, style: str) -> Iterable[str]:
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    old_mid, new_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    if not old_mid:
        return
    # the changed text is the k-th occurrence of old_mid in the value, and the j-th from its
    # end: try those two places in the source only. (Trying every occurrence, each checked by
    # a parse, was quadratic; should escapes hide or add occurrences on both sides, the check
    # fails and the scalar is rendered again.)
    nth = _occurrences_before(old, old_mid, prefix)
    nth_from_end = _occurrences_before(old, old_mid, len(old)) - nth - 1
    if style == '"':
        old_mid, new_mid = _double_body(old_mid), _double_body(new_mid)
    elif style == "'":
        old_mid, new_mid = old_mid.replace("'", "''"), new_mid.replace("'", "''")
    elif (style == "" and not plain_ok(new, flow=False)) or "\n" in new_mid:
        return
    starts = _occurrences(source, old_mid)
    for place in dict.fromkeys((nth, len(starts) - 1 - nth_from_end)):
        if 0 <= place < len(starts):
            start = starts[place]
            yield source[:start] + new_mid + source[start + len(old_mid) :]


def _occurrences_before(text: str, part: str, end: int) -> int:
    """How many (overlapping) occurrences of ``part`` in ``text`` start before ``end``."""
    return sum(1 for start in _occurrences(text, part) if start < end)


def _occurrences(text: str, part: str) -> list[int]:
    """Start of every (overlapping) occurrence of ``part`` in ``text``."""
    starts = []
    start = text.find(part)
    while start != -1:
        starts.append(start)
        start = text.find(part, start + 1)
    return starts


def _scalar_reads_as(chunk: str, index: int, parts: list[str], value: str, style: str) -> bool:
    try:
        node = _node_at(_compose(chunk)[index], parts)
    except (FixError, IndexError):
        return False
    return _is_scalar(node) and _scalar_text(node) == value and (node.style or "") == style


def _render_scalar_like(value: Any, style: str, source: str, chunk: str, node, flow: bool) -> str:
    if not isinstance(value, str):
        return render_scalar(value, flow)
    if style == "'" and "\n" not in value and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style in ("|", ">") and not flow:
        header = source.split("\n", 1)[0]
        if header in ("|", "|-") and value and value.strip("\n") == value.rstrip("\n"):
            body_indent = _block_body_indent(source, node)
            keep_newline = header == "|"
            body = value[:-1] if keep_newline and value.endswith("\n") else value
            if keep_newline == value.endswith("\n") and "\n\n" not in body:
                lines = [" " * body_indent + line if line else "" for line in body.split("\n")]
                newline = _newline(chunk)
                return header + newline + newline.join(lines) + (newline if keep_newline else "")
    if style == '"':
        return '"' + _double_body(value) + '"'
    return render_scalar(value, flow)


def _block_body_indent(source: str, node: Any) -> int:
    for line in source.split("\n")[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return node.start_mark.column + 2


def _in_flow(chunk: str, node: Any) -> bool:
    """Whether ``node`` sits inside a flow collection (a cheap bracket count on its line)."""
    before = chunk[_line_start(chunk, node.start_mark.index) : node.start_mark.index]
    return before.count("[") + before.count("{") > before.count("]") + before.count("}")


def _rewrite_node(chunk: str, node: Any, value: Any, root: Any) -> _Edit:
    """Replace a whole node (a value whose shape changes) with ``value`` rendered in place."""
    start = node.start_mark.index
    if (_is_mapping(node) or _is_sequence(node)) and not node.flow_style and value:
        end = _content_end(chunk, node)
        column = node.start_mark.column
        lines = _Layout.of(root).block(value, column)
        newline = _newline(chunk)
        return _Edit(start, end, newline.join(lines)[column:])
    end = _content_end(chunk, node)
    return _Edit(start, end, render_flow(value, _json_style(node, root)))


# --- insert and remove


def _insert_pair(chunk: str, mapping: Any, key: str, value: Any, root: Any) -> _Edit:
    newline = _newline(chunk)
    if mapping.flow_style:
        json_style = _json_style(mapping, root)
        entry = f"{render_scalar(key, True, json_style)}: {render_flow(value, json_style)}"
        return _flow_insert(chunk, mapping, entry, newline)
    if not mapping.value:
        raise FixError("cannot add to an empty block mapping")
    column = mapping.value[0][0].start_mark.column
    lines = _Layout.of(root).block({key: value}, column)
    return _line_insert(chunk, _content_end(chunk, mapping), newline.join(lines), newline)


def _append_item(chunk: str, sequence: Any, value: Any, root: Any) -> _Edit:
    newline = _newline(chunk)
    if sequence.flow_style:
        return _flow_insert(
            chunk, sequence, render_flow(value, _json_style(sequence, root)), newline
        )
    layout = _Layout.of(root)
    dash = sequence.start_mark.column
    gap = sequence.value[0].start_mark.column - dash if sequence.value else layout.gap
    last = sequence.value[-1] if sequence.value else None
    if last is not None and (_is_mapping(last) or _is_sequence(last)) and last.flow_style:
        text = " " * dash + "-" + " " * (gap - 1) + render_flow(value, _json_style(last, root))
    else:
        lines = _Layout(layout.step, layout.offset, gap).block([value], dash)
        text = newline.join(lines)
    return _line_insert(chunk, _content_end(chunk, sequence), text, newline)


def _flow_insert(chunk: str, collection: Any, entry: str, newline: str) -> _Edit:
    items = collection.value
    if not items:
        position = collection.start_mark.index + 1
        return _Edit(position, position, entry)
    last = items[-1]
    last_start = last[0].start_mark if isinstance(last, tuple) else last.start_mark
    end = _content_end(chunk, last[1] if isinstance(last, tuple) else last)
    if last_start.line != collection.start_mark.line:  # one entry per line (JSON-like)
        return _Edit(end, end, "," + newline + " " * last_start.column + entry)
    return _Edit(end, end, ", " + entry)


def _line_insert(chunk: str, after: int, text: str, newline: str) -> _Edit:
    """Insert whole lines after the line that holds position ``after``."""
    next_line = _next_line(chunk, after)
    if next_line == -1:
        return _Edit(len(chunk), len(chunk), newline + text)
    return _Edit(next_line, next_line, text + newline)


def _remove_item(chunk: str, sequence: Any, position: int) -> _Edit:
    items = sequence.value
    item = items[position]
    if sequence.flow_style:
        return _flow_remove(chunk, [(i.start_mark.index, i) for i in items], position)
    dash = chunk.rfind("-", 0, item.start_mark.index)
    line_start = _line_start(chunk, dash)
    if chunk[line_start:dash].strip():
        raise FixError("cannot remove a list item that shares its line")
    if position + 1 < len(items):
        next_dash = chunk.rfind("-", 0, items[position + 1].start_mark.index)
        return _Edit(line_start, _line_start(chunk, next_dash), "")
    return _Edit(line_start, _end_of_line(chunk, _content_end(chunk, item)), "")


def _remove_pair(chunk: str, mapping: Any, pair: tuple[Any, Any] | None) -> _Edit:
    if pair is None:
        raise FixError("nothing to remove")
    pairs = mapping.value
    position = next(i for i, p in enumerate(pairs) if p[0] is pair[0])
    if mapping.flow_style:
        return _flow_remove(chunk, [(k.start_mark.index, v) for k, v in pairs], position)
    key = pair[0]
    line_start = _line_start(chunk, key.start_mark.index)
    if chunk[line_start : key.start_mark.index].strip() or len(pairs) == 1:
        raise FixError("cannot remove a key that shares its line with a list dash")
    if position + 1 < len(pairs):
        next_key = pairs[position + 1][0]
        return _Edit(line_start, _line_start(chunk, next_key.start_mark.index), "")
    return _Edit(line_start, _end_of_line(chunk, _content_end(chunk, pair[1], key)), "")


def _flow_remove(chunk: str, entries: list[tuple[int, Any]], position: int) -> _Edit:
    start = entries[position][0]
    if position + 1 < len(entries):
        return _Edit(start, entries[position + 1][0], "")
    end = _content_end(chunk, entries[position][1])
    if position > 0:
        return _Edit(_content_end(chunk, entries[position - 1][1]), end, "")
    return _Edit(start, end, "")


def _end_of_line(chunk: str, position: int) -> int:
    """Where the line after the one holding ``position`` starts (or the end)."""
    next_line = _next_line(chunk, position)
    return len(chunk) if next_line == -1 else next_line


def _newline(chunk: str) -> str:
    """The line break the text uses: CRLF, a lone CR (old Mac files) or LF."""
    if "\r\n" in chunk:
        return "\r\n"
    return "\r" if "\r" in chunk and "\n" not in chunk else "\n"


def _line_start(chunk: str, position: int) -> int:
    """Start of the line holding ``position`` (LF, CRLF and lone CR end lines)."""
    return max(chunk.rfind("\n", 0, position), chunk.rfind("\r", 0, position)) + 1


def _next_line(chunk: str, position: int) -> int:
    """Start of the line after the one holding ``position``; -1 on the last line."""
    ends = [end for end in (chunk.find("\n", position), chunk.find("\r", position)) if end != -1]
    if not ends:
        return -1
    end = min(ends)
    return end + 2 if chunk.startswith("\r\n", end) else end + 1


def _content_end(chunk: str, node: Any, key: Any = None) -> int:
    """Where the text of ``node`` really ends: block nodes' end marks point past comments and
    blank lines up to the next token, so descend to the last scalar or flow collection."""
    if _is_scalar(node):
        if node.value == "" and node.style is None and key is not None:
            return key.end_mark.index  # `key:` with nothing after it
        end = node.end_mark.index
        if node.style in ("|", ">"):
            while end > node.start_mark.index and chunk[end - 1] in " \t\r\n":
                end -= 1
        return end
    if node.flow_style or not node.value:
        return node.end_mark.index
    last = node.value[-1]
    if isinstance(last, tuple):
        return _content_end(chunk, last[1], last[0])
    return _content_end(chunk, last)


def _json_style(node: Any, root: Any) -> bool:
    """Whether a flow collection is written JSON-style (double-quoted keys or strings); an
    empty one follows the document's root."""
    for entry in node.value:
        first = entry[0] if isinstance(entry, tuple) else entry
        if _is_scalar(first):
            return first.style == '"'
    return node is not root and bool(root.flow_style) and _json_style(root, root)
