"""``oomguard lint --fix`` and ``--diff``: the rules' JSON-Patch operations applied to files.

The rules decide what to change (``Finding.fix``, RFC 6902 intents); ``rules.fixes.materialize``
turns the intents of one document into a strict patch. This module only applies that patch to
the file's text, and it does so by *splicing*: each operation becomes one small text edit at
the positions ruamel.yaml's round-trip composer reports for the nodes concerned. Re-dumping a
whole document with ruamel changes bytes the fix never meant to touch (flow-sequence spacing,
trailing blanks, wrapped lines: about a third of the real-world corpus does not survive a
round trip unchanged), so nothing is re-dumped; new values are rendered on their own, in the
style and indentation found in the file. Every document edited is re-read with the linter's
own loader and compared with the patched data; any difference and the file is left alone.

Writes are atomic (temp file in the target's directory, fsync, ``os.replace``, mode kept).
A symlink is written through: its target is replaced and the link stays a link.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

import yaml
from oomguard.linter.loader import (
    Document,
    LoadError,
    decode,
    load_json,
    load_text,
    split_documents,
)
from oomguard.linter.run import STDIN, STDIN_NAME, LintResult, lint_paths
from oomguard.rules.config import Config
from oomguard.rules.engine import lint_fix_enabled
from oomguard.rules.fixes import FIX_ROUNDS, materialize
from oomguard.rules.model import Finding, pointer

UTF8_BOM = b"\xef\xbb\xbf"


class FixError(Exception):
    """A patch that cannot be applied to the text exactly; the file is left as it is."""


# --------------------------------------------------------------------------- front door


def apply_fixes(
    result: LintResult,
    config: Config,
    paths: list[str],
    *,
    write: bool,
    diff: bool,
    out: IO[str] | None = None,
) -> LintResult:
    """Apply the enabled fixes of ``result``'s findings; with ``diff``, print what changes.

    With ``write`` the files are rewritten and linted again (up to ``FIX_ROUNDS`` times, as a
    fix can make another finding fixable); the returned result holds what remains. Without
    ``write`` nothing on disk changes and ``result``'s findings are returned unchanged.
    """
    out = out or sys.stdout
    notices: list[str] = []
    skipped: set[str] = set()
    fixed_findings = 0
    fixed_files: set[str] = set()
    stdin_fixable = sum(1 for f in result.findings if f.file == STDIN_NAME and _enabled(f, config))
    if stdin_fixable:
        notices.append(
            f"{STDIN_NAME}: {stdin_fixable} fixable finding(s) not fixed: --fix and --diff "
            f"work on files, not on standard input"
        )
    for _ in range(FIX_ROUNDS if write else 1):
        plans = fixable_by_file(result.findings, config, skip=skipped)
        if not plans:
            break
        progress = False
        for path, findings in plans.items():
            outcome = fix_file(path, findings)
            if outcome.problem:
                notices.append(f"{path}: not fixed: {outcome.problem}")
                skipped.add(path)
                continue
            if outcome.fixed == outcome.original:
                skipped.add(path)  # nothing to do after all (e.g. a duplicate of a done fix)
                continue
            if diff:
                out.write(unified_diff(path, outcome.original, outcome.fixed))
            if write:
                try:
                    write_atomic(path, outcome.encode(outcome.fixed))
                except OSError as exc:
                    notices.append(f"{path}: not fixed: {_write_problem(exc)}")
                    skipped.add(path)
                    continue
                progress = True
                fixed_files.add(path)
                fixed_findings += len(findings)
        if not write or not progress:
            break
        result = relint(result, paths, config)
    if fixed_findings:
        notices.append(
            f"fixed {fixed_findings} finding{'s' if fixed_findings != 1 else ''} in "
            f"{len(fixed_files)} file{'s' if len(fixed_files) != 1 else ''}"
        )
    result.notices.extend(notices)
    return result


def fixable_by_file(
    findings: Iterable[Finding], config: Config, skip: frozenset[str] | set[str] = frozenset()
) -> dict[str, list[Finding]]:
    """Findings whose fix is enabled, by file (files with unparsable input excluded)."""
    plans: dict[str, list[Finding]] = {}
    broken: set[str | None] = set()
    for finding in findings:
        if finding.rule == "manifest-invalid":
            broken.add(finding.file)  # a file that does not parse is never written
        elif finding.file not in (None, STDIN_NAME) and _enabled(finding, config):
            plans.setdefault(finding.file, []).append(finding)
    return {path: found for path, found in plans.items() if path not in broken | skip}


def _enabled(finding: Finding, config: Config) -> bool:
    return finding.fixable and lint_fix_enabled(finding.rule, config)


def relint(previous: LintResult, paths: list[str], config: Config) -> LintResult:
    """Lint the files again after writing; standard input cannot be re-read, so its findings
    are carried over from ``previous``."""
    files = [path for path in paths if path != STDIN]
    fresh = lint_paths(files, config) if files else LintResult()
    if STDIN in paths:
        fresh.findings[:0] = [f for f in previous.findings if f.file == STDIN_NAME]
        fresh.files, fresh.objects = previous.files, previous.objects
    return fresh


# --------------------------------------------------------------------------- one file


@dataclass
class FileFix:
    original: str = ""
    fixed: str = ""
    bom: bool = False
    problem: str | None = None

    def encode(self, text: str) -> bytes:
        return (UTF8_BOM if self.bom else b"") + text.encode("utf-8")


def fix_file(path: str, findings: list[Finding]) -> FileFix:
    """Read ``path`` and apply the fixes of ``findings`` to its text (nothing is written)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        return FileFix(problem=f"cannot read it ({exc.strerror or exc})")
    bom = raw.startswith(UTF8_BOM)
    if not bom and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return FileFix(problem="only UTF-8 files are rewritten (this one is UTF-16/32)")
    try:
        text = decode(raw)
    except LoadError as exc:
        return FileFix(problem=exc.message)
    try:
        fixed = patch_text(text, document_patches(text, path, findings), path)
    except FixError as exc:
        return FileFix(text, text, bom, problem=str(exc))
    return FileFix(text, fixed, bom)


def document_patches(text: str, path: str, findings: list[Finding]) -> dict[int, list[dict]]:
    """One strict RFC 6902 patch per document index, from the findings' fix intents."""
    documents = {document.index: document for document in load_like_linter(text, path)}
    intents: dict[int, list[dict]] = {}
    for finding in findings:
        intents.setdefault(finding.document, []).extend(finding.fix)
    patches = {}
    for index, ops in intents.items():
        if index in documents:
            patch = materialize(documents[index].data, ops)
            if patch:
                patches[index] = patch
    return patches


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
    """(character offset, text) of each document chunk, as the linter splits the file."""
    line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
    chunks = []
    for first_line, chunk in split_documents(text):
        start = line_starts[first_line]
        if text[start : start + len(chunk)] != chunk:
            raise FixError("cannot locate its documents in the text")
        chunks.append((start, chunk))
    return chunks


def _verify(text: str, fixed: str, patches: dict[int, list[dict]], path: str) -> None:
    before = {d.index: d.data for d in load_like_linter(text, path)}
    try:
        after = {d.index: d.data for d in load_like_linter(fixed, path)}
    except FixError as exc:
        raise FixError(f"the fixed text would not parse ({exc})") from None
    expected = {
        index: apply_patch(data, patches[index]) if index in patches else data
        for index, data in before.items()
    }
    if after != expected:
        raise FixError("the fix could not be written without changing other values")


def apply_patch(data: Any, patch: list[dict]) -> Any:
    """A strict RFC 6902 patch (add/replace/remove) applied to a deep copy of plain data."""
    result = json.loads(json.dumps(data))
    for op in patch:
        parts = parse_pointer(op["path"])
        parent = result
        for part in parts[:-1]:
            parent = parent[int(part) if isinstance(parent, list) else part]
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op["op"] == "remove":
                del parent[index]
            elif op["op"] == "replace":
                parent[index] = op["value"]
            else:
                parent.insert(index, op["value"])
        elif op["op"] == "remove":
            del parent[last]
        else:
            parent[last] = op["value"]
    return result


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901 pointer → reference tokens (``~1`` → ``/``, then ``~0`` → ``~``)."""
    if not pointer.startswith("/"):
        raise FixError(f"not a JSON pointer: {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


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
    parts = parse_pointer(op["path"])
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


def _is_mapping(node: Any) -> bool:
    return node.__class__.__name__ == "MappingNode"


def _is_sequence(node: Any) -> bool:
    return node.__class__.__name__ == "SequenceNode"


def _is_scalar(node: Any) -> bool:
    return node.__class__.__name__ == "ScalarNode"


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


def _scalar_text(node: Any) -> str:
    """A scalar's value; ruamel marks the line folds of ``>`` scalars with BEL characters."""
    return node.value.replace("\a", "") if node.style == ">" else node.value


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
    if style == '"':
        old_mid, new_mid = _double_body(old_mid), _double_body(new_mid)
    elif style == "'":
        old_mid, new_mid = old_mid.replace("'", "''"), new_mid.replace("'", "''")
    elif (style == "" and not plain_ok(new, flow=False)) or "\n" in new_mid:
        return
    start = source.find(old_mid)
    while start != -1:
        yield source[:start] + new_mid + source[start + len(old_mid) :]
        start = source.find(old_mid, start + 1)


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
                newline = "\r\n" if "\r\n" in chunk else "\n"
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
    line_start = chunk.rfind("\n", 0, node.start_mark.index) + 1
    before = chunk[line_start : node.start_mark.index]
    return before.count("[") + before.count("{") > before.count("]") + before.count("}")


def _rewrite_node(chunk: str, node: Any, value: Any, root: Any) -> _Edit:
    """Replace a whole node (a value whose shape changes) with ``value`` rendered in place."""
    start = node.start_mark.index
    if (_is_mapping(node) or _is_sequence(node)) and not node.flow_style and value:
        end = _content_end(chunk, node)
        column = node.start_mark.column
        lines = _Layout.of(root).block(value, column)
        newline = "\r\n" if "\r\n" in chunk else "\n"
        return _Edit(start, end, newline.join(lines)[column:])
    end = _content_end(chunk, node)
    return _Edit(start, end, render_flow(value, _json_style(node, root)))


# --- insert and remove


def _insert_pair(chunk: str, mapping: Any, key: str, value: Any, root: Any) -> _Edit:
    newline = "\r\n" if "\r\n" in chunk else "\n"
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
    newline = "\r\n" if "\r\n" in chunk else "\n"
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
    end_of_line = chunk.find("\n", after)
    if end_of_line == -1:
        return _Edit(len(chunk), len(chunk), newline + text)
    return _Edit(end_of_line + 1, end_of_line + 1, text + newline)


def _remove_item(chunk: str, sequence: Any, position: int) -> _Edit:
    items = sequence.value
    item = items[position]
    if sequence.flow_style:
        return _flow_remove(chunk, [(i.start_mark.index, i) for i in items], position)
    dash = chunk.rfind("-", 0, item.start_mark.index)
    line_start = chunk.rfind("\n", 0, dash) + 1
    if chunk[line_start:dash].strip():
        raise FixError("cannot remove a list item that shares its line")
    if position + 1 < len(items):
        next_dash = chunk.rfind("-", 0, items[position + 1].start_mark.index)
        return _Edit(line_start, chunk.rfind("\n", 0, next_dash) + 1, "")
    return _Edit(line_start, _end_of_line(chunk, _content_end(chunk, item)), "")


def _remove_pair(chunk: str, mapping: Any, pair: tuple[Any, Any] | None) -> _Edit:
    if pair is None:
        raise FixError("nothing to remove")
    pairs = mapping.value
    position = next(i for i, p in enumerate(pairs) if p[0] is pair[0])
    if mapping.flow_style:
        return _flow_remove(chunk, [(k.start_mark.index, v) for k, v in pairs], position)
    key = pair[0]
    line_start = chunk.rfind("\n", 0, key.start_mark.index) + 1
    if chunk[line_start : key.start_mark.index].strip() or len(pairs) == 1:
        raise FixError("cannot remove a key that shares its line with a list dash")
    if position + 1 < len(pairs):
        next_key = pairs[position + 1][0]
        return _Edit(line_start, chunk.rfind("\n", 0, next_key.start_mark.index) + 1, "")
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
    end = chunk.find("\n", position)
    return len(chunk) if end == -1 else end + 1


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


# --------------------------------------------------------------------------- rendering


@dataclass
class _Layout:
    """Indentation found in the document: mapping step, list dash offset, dash-to-text gap."""

    step: int = 2
    offset: int = 2
    gap: int = 2

    @classmethod
    def of(cls, root: Any) -> _Layout:
        found: dict[str, int] = {}
        stack = [root]
        while stack and len(found) < 3:
            node = stack.pop()
            if _is_mapping(node) and not node.flow_style:
                for key, value in node.value:
                    if (
                        _is_mapping(value)
                        and not value.flow_style
                        and "step" not in found
                        and value.start_mark.line > key.start_mark.line
                    ):
                        found["step"] = value.start_mark.column - key.start_mark.column
                    if _is_sequence(value) and not value.flow_style and value.value:
                        found.setdefault("offset", value.start_mark.column - key.start_mark.column)
                        found.setdefault(
                            "gap", value.value[0].start_mark.column - value.start_mark.column
                        )
                    stack.append(value)
            elif _is_sequence(node) and not node.flow_style:
                stack.extend(node.value)
        # a zero step or gap would be nonsense (e.g. from odd flow layouts): keep the default
        return cls(**{k: v for k, v in found.items() if v > 0 or k == "offset"})

    def block(self, value: Any, column: int) -> list[str]:
        """Lines of ``value`` in block style, its first line starting at ``column``."""
        pad = " " * column
        if isinstance(value, dict):
            lines = []
            for key, item in value.items():
                head = f"{pad}{render_scalar(str(key), False)}:"
                if isinstance(item, dict) and item:
                    lines += [head, *self.block(item, column + self.step)]
                elif isinstance(item, list) and item:
                    lines += [head, *self.block(item, column + self.offset)]
                else:
                    lines.append(f"{head} {render_flow(item, False)}")
            return lines
        if isinstance(value, list):
            lines = []
            for item in value:
                dash = pad + "-" + " " * (self.gap - 1)
                if isinstance(item, dict | list) and item:
                    inner = self.block(item, column + self.gap)
                    lines += [dash + inner[0][column + self.gap :], *inner[1:]]
                else:
                    lines.append(dash + render_flow(item, False))
            return lines
        return [pad + render_flow(value, False)]


_PLAIN_FIRST_FORBIDDEN = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}")


def plain_ok(text: str, flow: bool) -> bool:
    """Whether ``text`` can be written unquoted and still read back as this string, both by
    YAML 1.1 readers (Kubernetes, PyYAML) and YAML 1.2 ones (ruamel.yaml)."""
    if not text or text != text.strip() or not text.isprintable():
        return False
    first = text[0]
    if first in _PLAIN_FIRST_FORBIDDEN and not (
        first in "-?:" and len(text) > 1 and text[1] not in " " and text[1] not in _FLOW_INDICATORS
    ):
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    if flow and any(c in _FLOW_INDICATORS for c in text):
        return False
    return _resolves_to_str(text)


def _resolves_to_str(text: str) -> bool:
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar
    from ruamel.yaml.resolver import VersionedResolver

    str_tag = "tag:yaml.org,2002:str"
    yaml11 = yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))
    yaml12 = VersionedResolver().resolve(RuamelScalar, text, (True, False))
    return yaml11 == str_tag and str(getattr(yaml12, "value", yaml12)) == str_tag


def render_scalar(value: Any, flow: bool, json_style: bool = False) -> str:
    if isinstance(value, str):
        if not json_style and plain_ok(value, flow):
            return value
        return '"' + _double_body(value) + '"'
    return json.dumps(value)


def render_flow(value: Any, json_style: bool) -> str:
    if isinstance(value, dict):
        entries = (
            f"{render_scalar(str(k), True, json_style)}: {render_flow(v, json_style)}"
            for k, v in value.items()
        )
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render_flow(v, json_style) for v in value) + "]"
    return render_scalar(value, True, json_style)


def _double_body(text: str) -> str:
    """A YAML double-quoted scalar's body: JSON escapes are valid YAML escapes."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _plain(node: Any) -> Any:
    """Plain data of a composed node, resolved as the linter resolves it (YAML 1.1)."""
    if _is_mapping(node):
        return {_plain(k): _plain(v) for k, v in node.value}
    if _is_sequence(node):
        return [_plain(item) for item in node.value]
    if node.style:
        return _scalar_text(node)
    tag = yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, node.value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return yaml.safe_load(node.value)
    except yaml.YAMLError:
        return node.value


# --------------------------------------------------------------------------- output


def unified_diff(path: str, before: str, after: str) -> str:
    """``git diff``-style unified diff (``--- a/path`` / ``+++ b/path``)."""
    name = _display_path(path)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{name}",
        f"b/{name}",
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _display_path(path: str) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return relative.removeprefix("./") if not relative.startswith("..") else path.lstrip("/")


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file's content atomically, keeping its mode; a symlink is written through.

    Raises ``PermissionError`` for a read-only file rather than replacing it anyway (a rename
    would succeed in a writable directory and silently drop the protection).
    """
    target = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    if not os.access(target, os.W_OK):
        raise PermissionError(13, "the file is read-only", path)
    directory = os.path.dirname(target) or "."
    handle, temp = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".oomguard-tmp", dir=directory
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # not every file system lets a directory be synced
    finally:
        os.close(handle)


def _write_problem(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied ({exc.strerror or 'read-only'})"
    return exc.strerror or str(exc)


__all__ = [
    "FixError",
    "apply_fixes",
    "apply_patch",
    "fix_file",
    "fixable_by_file",
    "patch_text",
    "plain_ok",
    "unified_diff",
    "write_atomic",
]
