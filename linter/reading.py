"""Reading one input file for ``oomguard lint``: bounded bytes, decoded and parsed, and the
first pass's shortcut (only documents whose text can hold a ConfigMap, Secret, LimitRange or
VPA are parsed). linter/run.py drives both passes over these."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from oomguard.linter.loader import (
    MAX_FILE_BYTES,
    LoadedFile,
    LoadError,
    decode,
    load_json,
    load_text,
)
from oomguard.linter.units import STDIN
from oomguard.rules.sources import INDEX_KINDS
from oomguard.rules.workload import iter_objects


def index_objects(raw: bytes, path: str) -> Iterator[dict[str, Any]]:
    """The objects of one file the input index keeps, as reading it in full finds them."""
    loaded = load(raw, path, wanted=may_hold_source)
    if loaded.skipped:
        return
    for document in loaded.documents:
        for _, obj in iter_objects(document.data):
            if obj.get("kind") in INDEX_KINDS:
                yield obj


# Escapes in a double-quoted (or JSON) string that can spell a letter, or join two lines.
_LETTER_ESCAPE = re.compile(r"\\[xuU\r\n\x85\u2028\u2029]")


def may_hold_source(text: str) -> bool:
    """Whether ``text`` can parse to a ConfigMap or Secret: the kind has to be written out,
    unless it is spelt with escapes (``"Config\\x4dap"``) or across an escaped line break."""
    return any(kind in text for kind in INDEX_KINDS) or _LETTER_ESCAPE.search(text) is not None


def read(path: str) -> bytes:
    """The bytes of ``path`` (``-``: standard input), at most MAX_FILE_BYTES + 1."""
    if path == STDIN:
        return _read_bounded(sys.stdin.buffer)
    with open(path, "rb") as handle:
        return _read_bounded(handle)


def _read_bounded(handle: Any) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes, in chunks: ``read(MAX_FILE_BYTES + 1)`` would
    allocate the whole 64 MiB buffer for every file, however small."""
    chunks = []
    size = 0
    while size <= MAX_FILE_BYTES:
        chunk = handle.read(min(_READ_CHUNK, MAX_FILE_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_READ_CHUNK = 1 << 20


def load(raw: bytes, path: str, wanted: Callable[[str], bool] | None = None) -> LoadedFile:
    """The documents of one file; with ``wanted``, only those whose text it accepts (see
    :func:`load_text`), and none if it rejects the whole text."""
    if len(raw) > MAX_FILE_BYTES:
        return LoadedFile(errors=[LoadError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", 0, 0)])
    try:
        text = decode(raw)
    except LoadError as exc:
        return LoadedFile(errors=[exc])
    if wanted is not None:
        if not wanted(text):
            return LoadedFile()
        if path.endswith(".json"):
            wanted = None  # whether the JSON fallback below applies depends on every document
    # resolving the path is costly; only text with template syntax needs to know
    in_chart = path != STDIN and "{{" in text and _in_chart_templates(path)
    loaded = load_text(text, in_chart=in_chart, wanted=wanted)
    if path.endswith(".json") and loaded.errors and not loaded.documents:
        # JSON's own error is the clearer one (YAML 1.1 refuses some valid JSON, e.g. tabs),
        # unless JSON gave up without a position: then libyaml's error, which has one
        as_json = load_json(text)
        if as_json.documents or as_json.errors[0].line is not None:
            return as_json
    return loaded


def _in_chart_templates(path: str) -> bool:
    parts = Path(path).resolve().parts
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] == "templates" and (Path(*parts[:index]) / "Chart.yaml").is_file():
            return True
    return False
