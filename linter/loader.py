"""Reading manifest files fast, with positions, and without trusting them.

libyaml (through PyYAML's C parser) produces events; :func:`build_documents` turns them into
plain dicts and lists in one pass with an explicit stack, recording where every value starts
(ruamel.yaml's line/column numbering, shown 1-based). Doing it from events rather than from
composed nodes is faster, and it bounds what hostile input can cost: nesting depth, alias
expansion and document size are checked as the events arrive. ruamel.yaml's round-trip loader
is used only by ``--fix``.

Documents whose ``kind:`` (read from the text at column 0) cannot concern memory, such as
CustomResourceDefinitions, are not parsed at all; a document whose kind cannot surely be read
that way (see :func:`_uninteresting_kind`) is parsed in full.

Over 400 lines: the document splitter, the text pre-filter and the event walk each follow
libyaml's rules for lines, markers and documents, and must agree with one another
(tests/test_prefilter.py and the fuzz target hold them to a full parse); kept together so
that they cannot drift apart.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from oomguard.linter.pyyaml import yaml
from oomguard.rules.kinds import registry_for
from oomguard.rules.model import MAX_DEPTH
from oomguard.rules.workload import SOURCE_KINDS
from yaml import events as ev
from yaml._yaml import CParser

MAX_NODES = 2_000_000  # values per document, aliases counted at their expanded size
MAX_FILE_BYTES = 64 * 1024 * 1024

INTERESTING_KINDS = registry_for().names | frozenset(SOURCE_KINDS)  # presets included
_GROUPS_OF: dict[str, frozenset[str]] = {}
for _group, _kind in registry_for().kinds:
    _GROUPS_OF[_kind] = _GROUPS_OF.get(_kind, frozenset()) | {_group}
# Built-in kinds that never hold containers: the only ones the pre-filter skips unparsed
# (not LimitRange: its defaults and bounds apply to the namespace's Pods). Any
# other kind is parsed: it may be a workload kind of the registry (a preset, a config
# ``kinds:`` entry) or an unknown one that workload-kind-unknown must name. A kind of the same
# name in the registry (Knative's Service) is parsed when its apiVersion names that group (or
# cannot be read from the text).
NOT_WORKLOADS = frozenset(
    [
        "APIService",
        "Binding",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "EndpointSlice",
        "Endpoints",
        "Event",
        "FlowSchema",
        "HorizontalPodAutoscaler",
        "Ingress",
        "IngressClass",
        "Lease",
        "MutatingWebhookConfiguration",
        "Namespace",
        "NetworkPolicy",
        "Node",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "RuntimeClass",
        "Service",
        "ServiceAccount",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    ]
)
_DOC_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)
# libyaml also ends a line at a lone CR, NEL, LS and PS; a marker may follow any of them
# (a slower pattern, used only for text that has such breaks)
_ANY_BREAK_DOC_MARKER = re.compile(
    r"(?:^|(?<=[\r\x85\u2028\u2029]))(?:---|\.\.\.)(?=[ \t\r\n\x85\u2028\u2029]|\Z)", re.M
)
# A line at column 0 (not blank, not indented) and the shapes of one that the kind pre-filter
# understands; see _uninteresting_kind.
_COLUMN_0 = re.compile(r"^[^ \t\r\n][^\n]*", re.M)
_PLAIN_KEY_LINE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*:(?:[ \t]|\r?$)|-(?:[ \t]|\r?$)|#")
_API_VERSION_LINE = re.compile(r"apiVersion:[ \t]+([A-Za-z0-9][A-Za-z0-9./-]*)[ \t]*(#[^\n]*)?\r?$")
_KIND_LINE = re.compile(
    r"kind:[ \t]+(?:([A-Za-z][A-Za-z0-9]*)|\"([A-Za-z][A-Za-z0-9]*)\"|'([A-Za-z][A-Za-z0-9]*)')"
    r"[ \t]*(#[^\n]*)?\r?$"
)
_FIRST_CONTENT = re.compile(r"^([ \t]*)[^ \t\r\n#]", re.M)
_START_MARKER = re.compile(r"---[ \t]*(?:#[^\n]*)?\r?$")

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
        self.documents: list[Document] = []  # those read before the error (build_documents)


@dataclass(eq=False)  # repr: tests/test_hostile_input.py reads the documents' data in it
class Document:
    """One YAML/JSON document: its data and where each value starts."""

    index: int
    data: Any
    # id of each container -> the marks of its values (objects with ``line`` and ``column``:
    # libyaml's own marks, kept as they come, since building a tuple per value cost ~10 % of
    # reading), counted from ``line_offset``
    positions: dict[int, Any] = field(repr=False, default_factory=dict)
    root: Any = None  # the mark of the root value; None: (0, 0)
    problems: list[LoadError] = field(default_factory=list)  # e.g. duplicate keys
    line_offset: int = 0

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
        if where is None:
            return (0, 0)
        return (where.line + self.line_offset, where.column)


@dataclass(eq=False)  # repr: tests/test_hostile_input.py reads the documents' data in it
class LoadedFile:
    """What reading one manifest file gave: its documents, errors and notices."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    skipped: str | None = None  # why the whole file was not linted (a notice, not an error)
    documents_seen: int = 0
    templates: list[int] = field(default_factory=list)  # unparsable documents with {{ }}


def decode(data: bytes) -> str:
    """Text of a manifest file: UTF-8 (BOM allowed) or UTF-16/32 with a BOM."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                name = encoding.upper()
                raise LoadError(f"not {name} text (at byte {exc.start})", 0, 0) from None
    if b"\0" in data[:8192]:
        raise LoadError("binary file (NUL bytes), not a YAML or JSON manifest", 0, 0)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = start + exc.start
        line = data.count(b"\n", 0, at)
        column = at - max(data.rfind(b"\n", 0, at) + 1, start)  # the BOM is no column
        raise LoadError(f"not UTF-8 text (byte 0x{data[at]:02x})", line, column) from None


def looks_like_template(text: str) -> bool:
    """Whether ``text`` holds ``{{`` and, after it, ``}}`` (Go template syntax). Two finds,
    linear: a lazy regex (``{{.*?}}``) retried from every ``{{`` was quadratic (a file of
    many ``{{`` and no ``}}``: 80 KB took 24 s)."""
    start = text.find("{{")
    return start != -1 and text.find("}}", start + 2) != -1


def load_text(
    text: str, in_chart: bool = False, wanted: Callable[[str], bool] | None = None
) -> LoadedFile:
    """All interesting documents of a manifest file's text; with ``wanted``, only those whose
    text it accepts. In a chart's templates folder, a file with template syntax is skipped
    whole; elsewhere, a document with template syntax that does not parse is skipped alone
    (listed in ``templates``): the other documents are still read, so such a document cannot
    hide a workload beside it."""
    loaded = LoadedFile()
    if in_chart and looks_like_template(text):
        loaded.skipped = "unrendered Helm template"
        return loaded
    for index, (offset, chunk) in enumerate(split_documents(text)):
        loaded.documents_seen += 1
        if _uninteresting_kind(chunk):
            continue
        if wanted is not None and not wanted(chunk):
            continue
        try:
            for document in build_documents(chunk, offset, index):
                loaded.documents.append(document)
        except LoadError as exc:
            loaded.documents.extend(exc.documents)  # a chunk may hold several (directives)
            if looks_like_template(chunk):
                loaded.templates.append(index + len(exc.documents))
            else:
                loaded.errors.append(exc)
    return loaded


def split_documents(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each document; one chunk when directives make splitting unsafe."""
    odd = has_odd_line_breaks(text)
    # a directive; faster than re.M's "^%", and "%" alone is found faster than "\n%"
    if "%" in text and (
        text.startswith("%") or "\n%" in text or (odd and re.search("[\r\x85\u2028\u2029]%", text))
    ):
        return [(0, text)]
    chunks = []
    start = 0
    line = 0
    markers = (
        [match.start() for match in _ANY_BREAK_DOC_MARKER.finditer(text)]
        if odd
        else _marker_starts(text)
    )
    for marker in markers:
        if marker > start or chunks:
            chunks.append((line, text[start:marker]))
        line += _line_breaks(text, start, marker) if odd else text.count("\n", start, marker)
        start = marker
    chunks.append((line, text[start:]))
    return [(first, chunk) for first, chunk in chunks if _has_content(chunk)]


def _marker_starts(text: str) -> list[int]:
    """Where ``_DOC_MARKER`` matches in ``text`` (lines that end with LF or CRLF only), found
    with ``str.find``: a regex anchored at line starts is tried at every character, which
    made splitting ~5 % of a lint run."""
    starts = []
    for marker in ("---", "..."):
        at = 0 if text.startswith(marker) else -1
        if at == -1 and (found := text.find("\n" + marker)) != -1:
            at = found + 1
        while at != -1:
            end = at + 3
            if end == len(text) or text[end] in " \t\r\n":
                starts.append(at)
            found = text.find("\n" + marker, end)
            at = -1 if found == -1 else found + 1
    return sorted(starts)


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
    # the first lines first: a document's content begins near its top, and splitting the
    # whole text into lines only to read a few is a hot spot. Every line of the cut text but
    # the last (maybe cut short) is a whole line of the chunk.
    if len(chunk) > _HEAD and any(_content_line(raw) for raw in chunk[:_HEAD].splitlines()[:-1]):
        return True
    return any(_content_line(raw) for raw in chunk.splitlines())


def _content_line(raw: str) -> bool:
    stripped = raw.strip()
    return bool(stripped) and not stripped.startswith("#") and stripped not in ("---", "...")


_HEAD = 256


def _interesting(kind: str, api_version: str | None = None) -> bool:
    if kind not in NOT_WORKLOADS or kind.endswith("List"):
        return True
    if kind not in INTERESTING_KINDS:
        return False
    # a core kind's name that a workload kind shares in another group (Knative's Service):
    # the group decides, and without a readable apiVersion the document is parsed
    return api_version is None or api_version.rpartition("/")[0] in _GROUPS_OF.get(kind, ())


def _uninteresting_kind(chunk: str) -> bool:
    """Whether ``chunk`` (one document) surely is an object of a kind that cannot concern
    memory, read from its text without parsing it (CRDs are large and common).

    Only a plain layout is judged: a block mapping at column 0 whose lines at column 0 are
    plain keys, list items or comments, exactly one of them ``kind:``, with a one-word value
    ending its line. Anything else (a directive, a second document, an indented, quoted or
    flow root, ``kind:`` written twice, e.g. once inside a multi-line quoted annotation,
    tags, escapes, odd line breaks) could make a YAML parser read another kind, so the
    document is parsed."""
    # Most documents are workloads: a ``kind:`` line at column 0 that names an interesting
    # kind (or cannot be read) makes the answer False wherever the walk below would stop, so
    # it is looked for first, with str.find (the walk's regexes cost ~5 µs a document).
    found = chunk.find("\nkind:")
    at = 0 if chunk.startswith("kind:") else found + 1 if found != -1 else -1
    if at != -1:
        end = chunk.find("\n", at)
        written = _KIND_LINE.match(chunk[at:] if end == -1 else chunk[at:end])
        if written is None:
            return False
        name = written.group(1) or written.group(2) or written.group(3)
        if name not in NOT_WORKLOADS or name.endswith("List"):
            return False
    if _has_odd_break(chunk):
        return False
    kind = None
    api_version: str | None = None
    first = _FIRST_CONTENT.search(chunk)
    if first is None or first.group(1):
        return False  # nothing, or an indented root
    for match in _COLUMN_0.finditer(chunk):
        line = match.group()
        if match.start() == first.start() and line.startswith("---"):
            if not _START_MARKER.match(line):
                return False  # content after the marker, e.g. "--- {kind: Pod}"
            second = _FIRST_CONTENT.search(chunk, match.end())
            if second is not None and second.group(1):
                return False
            continue
        if not _PLAIN_KEY_LINE.match(line):
            return False
        if line.startswith("apiVersion:"):
            version = _API_VERSION_LINE.match(line)
            api_version = None if version is None or api_version else version.group(1)
            if version is None or _continued(chunk, match.end()):
                api_version = ""  # unreadable or written twice: "" counts as unknown below
        if line.startswith("kind:"):
            if kind is not None:
                return False
            kind = _KIND_LINE.match(line)
            if kind is None or _continued(chunk, match.end()):
                return False
            name = kind.group(1) or kind.group(2) or kind.group(3)
            if name not in NOT_WORKLOADS or name.endswith("List"):
                return False  # interesting whatever follows: stop reading (most documents)
    if kind is None:
        return False
    return not _interesting(kind.group(1) or kind.group(2) or kind.group(3), api_version or None)


def _has_odd_break(chunk: str) -> bool:
    """Whether ``chunk`` has a line break other than LF or CRLF (CR alone, NEL, LS, PS) or a
    BOM: libyaml and a line-based reading of the text may disagree on lines there, so the
    pre-filter does not judge it. Substring tests: faster than a regex over the text."""
    return (
        ("\r" in chunk and chunk.count("\r") != chunk.count("\r\n"))
        or "\x85" in chunk
        or "\u2028" in chunk
        or "\u2029" in chunk
        or "\ufeff" in chunk
    )


def _continued(chunk: str, end: int) -> bool:
    """Whether the next line with content after ``end`` is indented: the value on the line
    before may go on there (a plain scalar folds over lines)."""
    following = _FIRST_CONTENT.search(chunk, end)
    return following is not None and bool(following.group(1))


def build_documents(text: str, line_offset: int = 0, first_index: int = 0) -> list[Document]:
    """Plain data and positions for every document in ``text`` (see module doc). A
    :class:`LoadError` carries the documents completed before it (``error.documents``)."""
    documents: list[Document] = []
    try:
        _build_documents(documents, text, line_offset, first_index)
    except LoadError as exc:
        exc.documents = documents
        raise
    return documents


def _build_documents(
    documents: list[Document], text: str, line_offset: int, first_index: int
) -> None:
    """Append to ``documents`` each document of ``text`` as it is completed.

    This loop runs once per YAML event, so it is written for speed: events come straight
    from libyaml's parser (no generator in between), the open container's state lives in
    local variables (saved on ``stack`` only while a child is open), scalars are placed
    inline, and plain scalars are resolved through a bounded cache, since manifests repeat
    keys and values.
    """
    # the open container: its value, marks, pending key, ``<<`` merges (None until one),
    # whether it is a list, its anchor and the event count where it started; ``container``
    # is None at the top level. ``stack`` holds the same for each enclosing container.
    container: Any = None
    marks: Any = None
    key: Any = _NO_KEY
    merges: list | None = None
    is_list = False
    anchor: str | None = None
    started = 0
    stack: list[tuple] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    positions: dict[int, Any] = {}
    problems: list[LoadError] = []
    count = 0
    root: Any = None
    root_mark: Any = _START
    plain = _PLAIN_SCALARS
    no_key = _NO_KEY
    missing = _MISSING  # locals: read once per event or more
    scalar_event = _SCALAR
    max_nodes = MAX_NODES
    mapping_start, sequence_start = _MAPPING_START, _SEQUENCE_START
    mapping_end, sequence_end = _MAPPING_END, _SEQUENCE_END
    get_event = CParser(text).get_event

    try:
        # each branch fetches the event after its own: the pairs loop below reads ahead
        event = get_event()
        while event is not None:
            cls = type(event)
            count += 1
            if count > max_nodes:
                raise LoadError(
                    f"document has more than {MAX_NODES:,} values", *_mark(event, line_offset)
                )
            if cls is scalar_event:
                if event.tag is None and event.implicit[0]:
                    raw = event.value
                    value = plain.get(raw, missing)
                    if value is missing:
                        value = _scalar(event)
                        if len(raw) <= _PLAIN_CACHE_TEXT and len(plain) < _PLAIN_CACHE_SIZE:
                            plain[raw] = value
                else:
                    value = _scalar(event)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
            elif cls is mapping_start or cls is sequence_start:
                if len(stack) >= MAX_DEPTH:
                    raise LoadError(
                        f"nested deeper than {MAX_DEPTH} levels", *_mark(event, line_offset)
                    )
                new: Any
                new_marks: Any
                if cls is mapping_start:
                    new = {}
                    new_marks = {}
                else:
                    new = []
                    new_marks = []
                positions[id(new)] = new_marks
                if container is None:
                    root, root_mark = new, event.start_mark
                elif is_list:
                    container.append(new)
                    marks.append(event.start_mark)
                elif key is no_key:
                    raise LoadError(
                        "a mapping or list used as a mapping key", *_mark(event, line_offset)
                    )
                elif key != "<<" and key not in container:  # the common case inline
                    container[key] = new
                    marks[key] = event.start_mark
                    key = no_key
                else:
                    merges = _place_value(
                        container, marks, key, new, event.start_mark, problems, line_offset, merges
                    )
                    key = no_key
                stack.append((container, marks, key, merges, is_list, anchor, started))
                container = new  # one name at a time: no tuple built and unpacked
                marks = new_marks
                key = no_key
                merges = None
                is_list = cls is sequence_start
                anchor, started = event.anchor, count
                if anchor:
                    open_anchors.add(anchor)
                event = get_event()
                continue
            elif cls is mapping_end or cls is sequence_end:
                if merges:
                    for merged in merges:
                        _merge(container, merged, positions)
                if anchor:
                    open_anchors.discard(anchor)
                    anchors[anchor] = (container, count - started + 1)
                container, marks, key, merges, is_list, anchor, started = stack.pop()
                event = get_event()
                continue
            elif cls is _ALIAS:
                if event.anchor in open_anchors:
                    raise LoadError(f"recursive alias *{event.anchor}", *_mark(event, line_offset))
                if event.anchor not in anchors:
                    raise LoadError(f"unknown alias *{event.anchor}", *_mark(event, line_offset))
                value, size = anchors[event.anchor]
                count += size
                if count > max_nodes:
                    raise LoadError(
                        f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
                        *_mark(event, line_offset),
                    )
            elif cls is _DOCUMENT_END:
                documents.append(
                    Document(
                        first_index + len(documents),
                        root,
                        positions,
                        root_mark,
                        problems,
                        line_offset,
                    )
                )
                root, positions, problems, anchors, count = None, {}, [], {}, 0
                root_mark = _START
                event = get_event()
                continue
            else:
                event = get_event()
                continue
            # a scalar or an alias value: place it (the common cases inline)
            if is_list:
                container.append(value)
                marks.append(event.start_mark)
            elif key is no_key:
                if container is None:
                    root, root_mark = value, event.start_mark
                else:
                    key = (
                        value if type(value) is str else _key(value, event.start_mark, line_offset)
                    )
                    # Most of a manifest is ``key: value`` pairs of plain scalars: read them
                    # here, each event checked as above, until another kind of event (or a
                    # scalar with an anchor) comes, which is then dispatched above. Inline,
                    # not a function: this loop runs for most scalars of every file.
                    while True:
                        event = get_event()  # a value, or a key when key is no_key
                        if (
                            type(event) is not scalar_event
                            or event.tag is not None
                            or not event.implicit[0]
                            or event.anchor
                        ):
                            break
                        count += 1
                        if count > max_nodes:
                            raise LoadError(
                                f"document has more than {MAX_NODES:,} values",
                                *_mark(event, line_offset),
                            )
                        raw = event.value
                        value = plain.get(raw, missing)
                        if value is missing:
                            value = _scalar(event)
                            if len(raw) <= _PLAIN_CACHE_TEXT and len(plain) < _PLAIN_CACHE_SIZE:
                                plain[raw] = value
                        if key is no_key:
                            key = (
                                value
                                if type(value) is str
                                else _key(value, event.start_mark, line_offset)
                            )
                        elif key != "<<" and key not in container:
                            container[key] = value
                            marks[key] = event.start_mark
                            key = no_key
                        else:
                            merges = _place_value(
                                container, marks, key, value, event.start_mark, problems,
                                line_offset, merges,
                            )  # fmt: skip
                            key = no_key
                    continue
            elif key != "<<" and key not in container:  # a new key's value
                container[key] = value
                marks[key] = event.start_mark
                key = no_key
            else:
                merges = _place_value(
                    container, marks, key, value, event.start_mark, problems, line_offset, merges
                )
                key = no_key
            event = get_event()
    except yaml.MarkedYAMLError as exc:
        if exc.problem and "maximum nesting depth" in exc.problem and exc.problem_mark:
            raise _nesting_error(text, exc.problem_mark, line_offset) from None
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        if mark is None:
            raise LoadError(message) from None
        raise LoadError(message, mark.line + line_offset, mark.column) from None
    except yaml.YAMLError as exc:
        raise LoadError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None


def _nesting_error(text: str, mark: Any, line_offset: int) -> LoadError:
    """Our own depth error for text that libyaml refused for its nesting limit.

    Builds of libyaml from 0.2.6 on have a limit of their own (1000), and in flow context
    their scanner looks ahead, so it fails before we see the event at depth MAX_DEPTH. The
    text before libyaml's mark is read again, for the place where our limit is passed: the
    message and position are then the same whatever libyaml is installed."""
    depth = 0
    get_event = CParser(text[: mark.index]).get_event
    try:
        while (event := get_event()) is not None:
            cls = event.__class__
            if cls is _MAPPING_START or cls is _SEQUENCE_START:
                depth += 1
                if depth > MAX_DEPTH:
                    return LoadError(
                        f"nested deeper than {MAX_DEPTH} levels", *_mark(event, line_offset)
                    )
            elif cls is _MAPPING_END or cls is _SEQUENCE_END:
                depth -= 1
    except yaml.YAMLError:
        pass  # the cut text ends mid-collection: expected
    return LoadError(
        "nested deeper than the YAML parser allows", mark.line + line_offset, mark.column
    )


def _key(value: Any, where: Any, line_offset: int) -> Any:
    """A mapping key that is not a string: refused when a mapping or list, else kept
    (as its text when unhashable); ``where`` is its mark (``line`` from ``line_offset``)."""
    if isinstance(value, dict | list):
        raise LoadError(
            "a mapping or list used as a mapping key", where.line + line_offset, where.column
        )
    return value if _hashable(value) else str(value)


def _place_value(
    container: dict,
    marks: dict,
    key: Any,
    value: Any,
    where: Any,
    problems: list,
    line_offset: int,
    merges: list | None,
) -> list | None:
    """A mapping's value the inline paths do not place: a ``<<`` merge (returned in
    ``merges``, applied when the mapping ends) or a duplicate key (a problem; the last
    value wins)."""
    if key == "<<" and isinstance(value, dict | list):
        return [*merges, value] if merges else [value]
    if key in container:
        message = f"duplicate key {key!r} in a mapping"
        problems.append(LoadError(message, where.line + line_offset, where.column))
    container[key] = value
    marks[key] = where
    return merges


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
    except Exception:  # noqa: BLE001  PyYAML's constructors fail in many ways on odd text
        # (``!!int ""``: IndexError, ``!!bool x``: KeyError): the value stays the text
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
                positions[id(container)][key] = positions.get(id(source), {}).get(key)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Where(NamedTuple):
    line: int
    column: int


_START = _Where(0, 0)  # a document's own start: its first line


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
