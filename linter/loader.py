"""Reading manifest files fast, with positions, and without trusting them.

libyaml (through PyYAML's C parser) produces events; :func:`build_documents` turns them into
plain dicts and lists in one pass with an explicit stack, recording where every value starts
(ruamel.yaml's line/column numbering, shown 1-based). Doing it from events rather than from
composed nodes is faster, and it bounds what hostile input can cost: nesting depth, alias
expansion and document size are checked as the events arrive. ruamel.yaml's round-trip loader
is used only by ``--fix``.

Documents whose ``kind:`` (read from the text at column 0) cannot concern memory, such as
CustomResourceDefinitions, are not parsed at all; a document whose kind cannot be read that
way is parsed in full.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from oomguard.rules.kinds import registry_for
from oomguard.rules.workload import SOURCE_KINDS
from yaml import events as ev
from yaml._yaml import CParser

MAX_DEPTH = 100  # Kubernetes objects nest ~20 deep; deeper input is hostile or broken
MAX_NODES = 2_000_000  # values per document, aliases counted at their expanded size
MAX_FILE_BYTES = 64 * 1024 * 1024

INTERESTING_KINDS = registry_for().names | frozenset(SOURCE_KINDS)  # presets included
_DOC_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)
# libyaml also ends a line at a lone CR, NEL, LS and PS; a marker may follow any of them
# (a slower pattern, used only for text that has such breaks)
_ANY_BREAK_DOC_MARKER = re.compile(
    r"(?:^|(?<=[\r\x85\u2028\u2029]))(?:---|\.\.\.)(?=[ \t\r\n\x85\u2028\u2029]|\Z)", re.M
)
_KIND_LINE = re.compile(r"^kind:[ \t]*[\"']?([A-Za-z][A-Za-z0-9]*)", re.M)
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)

_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_CONSTRUCTORS = {
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
}


class LoadError(Exception):
    """A document that cannot be read; ``line``/``column`` are 0-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Document:
    """One YAML/JSON document: its data and where each value starts."""

    index: int
    data: Any
    positions: dict[int, Any] = field(repr=False, default_factory=dict)
    root: tuple[int, int] = (0, 0)
    problems: list[LoadError] = field(default_factory=list)  # e.g. duplicate keys

    def position(self, path: tuple) -> tuple[int, int]:
        """0-based (line, column) of the deepest node along ``path`` that exists."""
        where = self.root
        node = self.data
        for part in path:
            marks = self.positions.get(id(node))
            try:
                child = node[part]
                mark = marks[part]
            except (KeyError, IndexError, TypeError):
                break
            node, where = child, mark
        return where


@dataclass
class LoadedFile:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    skipped: str | None = None  # why the whole file was not linted (a notice, not an error)
    documents_seen: int = 0


def decode(data: bytes) -> str:
    """Text of a manifest file: UTF-8 (BOM allowed) or UTF-16/32 with a BOM."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\0" in data[:8192]:
        raise LoadError("binary file (NUL bytes), not a YAML or JSON manifest", 0, 0)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        raise LoadError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line, column) from None


def looks_like_template(text: str) -> bool:
    return "{{" in text and _TEMPLATE.search(text) is not None


def load_text(
    text: str, in_chart: bool = False, wanted: Callable[[str], bool] | None = None
) -> LoadedFile:
    """All interesting documents of a manifest file's text; with ``wanted``, only those whose
    text it accepts, plus any that look like a template: one of those failing to parse
    skips the whole file, so the documents returned are a subset of a full read's."""
    loaded = LoadedFile()
    if looks_like_template(text) and in_chart:
        loaded.skipped = "unrendered Helm template"
        return loaded
    for index, (offset, chunk) in enumerate(split_documents(text)):
        loaded.documents_seen += 1
        kind = _KIND_LINE.search(chunk)
        if kind and not _interesting(kind.group(1)):
            continue
        if wanted is not None and not wanted(chunk) and not looks_like_template(chunk):
            continue
        try:
            for document in build_documents(chunk, offset, index):
                loaded.documents.append(document)
        except LoadError as exc:
            if looks_like_template(chunk):
                loaded.skipped = "unrendered Helm template"
                loaded.documents.clear()
                loaded.errors.clear()
                return loaded
            loaded.errors.append(exc)
    return loaded


def split_documents(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each document; one chunk when directives make splitting unsafe."""
    odd = has_odd_line_breaks(text)
    if text.startswith("%") or "\n%" in text or (odd and re.search("[\r\x85\u2028\u2029]%", text)):
        return [(0, text)]  # a directive; faster than re.M's "^%"
    chunks = []
    start = 0
    line = 0
    for match in (_ANY_BREAK_DOC_MARKER if odd else _DOC_MARKER).finditer(text):
        if match.start() > start or chunks:
            chunks.append((line, text[start : match.start()]))
        line += (
            _line_breaks(text, start, match.start())
            if odd
            else text.count("\n", start, match.start())
        )
        start = match.start()
    chunks.append((line, text[start:]))
    return [(first, chunk) for first, chunk in chunks if _has_content(chunk)]


def has_odd_line_breaks(text: str) -> bool:
    """Whether ``text`` ends a line other than with LF or CRLF (a lone CR, NEL, LS or PS)."""
    return (
        ("\r" in text and text.count("\r") != text.count("\r\n"))
        or "\x85" in text
        or "\u2028" in text
        or "\u2029" in text
    )


def _line_breaks(text: str, start: int, end: int) -> int:
    """Line breaks in ``text[start:end]`` as libyaml counts them (CRLF is one)."""
    count = text.count("\n", start, end) + text.count("\r", start, end)
    count -= text.count("\r\n", start, end)
    return count + sum(text.count(c, start, end) for c in "\x85\u2028\u2029")


def _has_content(chunk: str) -> bool:
    for raw in chunk.splitlines():
        stripped = raw.strip()
        if stripped and not stripped.startswith("#") and stripped not in ("---", "..."):
            return True
    return False


def _interesting(kind: str) -> bool:
    return kind in INTERESTING_KINDS or kind.endswith("List")


def build_documents(text: str, line_offset: int = 0, first_index: int = 0) -> list[Document]:
    """Plain data and positions for every document in ``text`` (see module doc).

    This loop runs once per YAML event, so it is written for speed: events come straight
    from libyaml's parser (no generator in between), scalars are placed inline, and plain
    scalars are resolved through a bounded cache, since manifests repeat keys and values.
    """
    documents: list[Document] = []
    # frames: [container, pending key, merges, anchor, start count, the container's marks]
    stack: list[list[Any]] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    positions: dict[int, Any] = {}
    problems: list[LoadError] = []
    count = 0
    root: Any = None
    root_mark = (line_offset, 0)
    plain = _PLAIN_SCALARS
    no_key = _NO_KEY
    get_event = CParser(text).get_event

    try:
        while (event := get_event()) is not None:
            cls = event.__class__
            count += 1
            if count > MAX_NODES:
                raise LoadError(
                    f"document has more than {MAX_NODES:,} values", *_mark(event, line_offset)
                )
            if cls is _SCALAR:
                if event.tag is None and event.implicit[0]:
                    raw = event.value
                    value = plain.get(raw, _MISSING)
                    if value is _MISSING:
                        value = _scalar(event)
                        if len(raw) <= _PLAIN_CACHE_TEXT and len(plain) < _PLAIN_CACHE_SIZE:
                            plain[raw] = value
                else:
                    value = _scalar(event)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
            elif cls is _MAPPING_START or cls is _SEQUENCE_START:
                if len(stack) >= MAX_DEPTH:
                    raise LoadError(
                        f"nested deeper than {MAX_DEPTH} levels", *_mark(event, line_offset)
                    )
                new: Any
                marks: Any
                new, marks = ({}, {}) if cls is _MAPPING_START else ([], [])
                positions[id(new)] = marks
                if stack:
                    _place(stack[-1], new, _mark(event, line_offset), problems)
                else:
                    root, root_mark = new, _mark(event, line_offset)
                stack.append([new, no_key, [], event.anchor, count, marks])
                if event.anchor:
                    open_anchors.add(event.anchor)
                continue
            elif cls is _MAPPING_END or cls is _SEQUENCE_END:
                container, _, merges, anchor, started, _ = stack.pop()
                for merged in merges:
                    _merge(container, merged, positions)
                if anchor:
                    open_anchors.discard(anchor)
                    anchors[anchor] = (container, count - started + 1)
                continue
            elif cls is _ALIAS:
                if event.anchor in open_anchors:
                    raise LoadError(f"recursive alias *{event.anchor}", *_mark(event, line_offset))
                if event.anchor not in anchors:
                    raise LoadError(f"unknown alias *{event.anchor}", *_mark(event, line_offset))
                value, size = anchors[event.anchor]
                count += size
                if count > MAX_NODES:
                    raise LoadError(
                        f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
                        *_mark(event, line_offset),
                    )
            elif cls is _DOCUMENT_END:
                documents.append(
                    Document(first_index + len(documents), root, positions, root_mark, problems)
                )
                root, positions, problems, anchors, count = None, {}, [], {}, 0
                continue
            else:
                continue
            # a scalar or an alias value: place it (the common case, inlined)
            mark = event.start_mark
            if not stack:
                root, root_mark = value, (mark.line + line_offset, mark.column)
                continue
            frame = stack[-1]
            container = frame[0]
            if type(container) is list:
                container.append(value)
                frame[5].append((mark.line + line_offset, mark.column))
            elif frame[1] is no_key and type(value) is str:
                frame[1] = value
            else:
                _place(frame, value, (mark.line + line_offset, mark.column), problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        if mark is None:
            raise LoadError(message) from None
        raise LoadError(message, mark.line + line_offset, mark.column) from None
    except yaml.YAMLError as exc:
        raise LoadError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    return documents


def _place(frame: list[Any], value: Any, where: tuple[int, int], problems: list) -> None:
    """Put a value into the open container of ``frame``, as its next key or value."""
    container = frame[0]
    if type(container) is list:
        container.append(value)
        frame[5].append(where)
        return
    key = frame[1]
    if key is _NO_KEY:
        if isinstance(value, dict | list):
            raise LoadError("a mapping or list used as a mapping key", *where)
        frame[1] = value if _hashable(value) else str(value)
        return
    frame[1] = _NO_KEY
    if key == "<<" and isinstance(value, dict | list):
        frame[2].append(value)
        return
    if key in container:
        problems.append(LoadError(f"duplicate key {key!r} in a mapping", *where))
    container[key] = value
    frame[5][key] = where


class _NoKey:
    __slots__ = ()


_NO_KEY = _NoKey()
_MISSING = object()
_SCALAR, _ALIAS = ev.ScalarEvent, ev.AliasEvent
_MAPPING_START, _MAPPING_END = ev.MappingStartEvent, ev.MappingEndEvent
_SEQUENCE_START, _SEQUENCE_END = ev.SequenceStartEvent, ev.SequenceEndEvent
_DOCUMENT_END = ev.DocumentEndEvent
# Plain scalar text -> resolved value (str, int, float, bool or None: all immutable). Bounded
# so that hostile input with millions of distinct scalars cannot grow it without limit.
_PLAIN_SCALARS: dict[str, Any] = {}
_PLAIN_CACHE_SIZE = 50_000
_PLAIN_CACHE_TEXT = 64


def _scalar(event: ev.ScalarEvent) -> Any:
    value = event.value
    tag = event.tag
    if tag is not None and tag != "!":
        if tag in _CONSTRUCTORS:
            return _construct(tag, value)
        return value  # !!str and application tags: the text
    if not event.implicit[0]:  # quoted, literal or folded
        return value
    for resolved, regexp in _RESOLVERS.get(value[:1], ()):
        if regexp.match(value):
            return _construct(resolved, value) if resolved in _CONSTRUCTORS else value
    return value


def _construct(tag: str, value: str) -> Any:
    try:
        return _CONSTRUCTORS[tag](yaml.ScalarNode(tag, value))
    except (ValueError, yaml.YAMLError):
        return value


def _merge(container: Any, merged: Any, positions: dict[int, Any]) -> None:
    sources = merged if isinstance(merged, list) else [merged]
    if type(container) is not dict:
        return
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key, value in source.items():
            if key not in container:
                container[key] = value
                positions[id(container)][key] = positions.get(id(source), {}).get(key, (0, 0))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _mark(event: Any, line_offset: int) -> tuple[int, int]:
    return event.start_mark.line + line_offset, event.start_mark.column


def load_json(text: str) -> LoadedFile:
    """A JSON file that libyaml refused (JSON allows what YAML 1.1 does not, e.g. tabs):
    parsed with the json module; positions are those of the document start."""
    import json

    loaded = LoadedFile(documents_seen=1)
    try:
        data = json.loads(text)
    except RecursionError:  # no position to give: the caller keeps libyaml's bounded error
        loaded.errors.append(LoadError("JSON nested too deeply"))
        return loaded
    except ValueError as exc:
        line, column = getattr(exc, "lineno", 1) - 1, getattr(exc, "colno", 1) - 1
        loaded.errors.append(LoadError(getattr(exc, "msg", "invalid JSON"), line, column))
        return loaded
    loaded.documents.append(Document(0, data))
    return loaded
