"""``oomguard lint``: files → documents → objects → findings, one file at a time.

A workload whose env refers to a ConfigMap or Secret not seen yet is kept aside and checked
once every file has been read, so flags resolve from anywhere in the input while memory stays
bounded by the largest file plus those few workloads.
"""

from __future__ import annotations

import fnmatch
import gc
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oomguard.linter.loader import (
    MAX_FILE_BYTES,
    Document,
    LoadError,
    decode,
    load_json,
    load_text,
)
from oomguard.rules.config import Config
from oomguard.rules.engine import Evaluation, check_object, invalid_document
from oomguard.rules.model import Finding
from oomguard.rules.runtimes.env import source_data
from oomguard.rules.workload import SOURCE_KINDS, iter_objects

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "<stdin>"


class UsageError(Exception):
    """A mistake in how oomguard was called: exit 2 with a one-line message."""


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    objects: int = 0
    notices: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # exit 2, after reporting the rest
    crashes: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        """What was read, for the summary line."""
        return f"{self.files} file{'' if self.files == 1 else 's'}"

    def read_counts(self) -> dict[str, int]:
        """What was read, for the JSON summary."""
        return {"files": self.files}


class Sources:
    """ConfigMaps and Secrets of the input set, for env resolution."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[tuple[str | None, dict[str, str]]]] = {}
        # look-ups that found nothing: (kind, name) and how many sources had that key then
        self.misses: list[tuple[tuple[str, str], int]] = []

    def add(self, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        name = metadata.get("name")
        if isinstance(name, str):
            namespace = (
                metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
            )
            self.data.setdefault((obj["kind"], name), []).append((namespace, source_data(obj)))

    def lookup(self, kind: str, namespace: str | None, name: str) -> dict[str, str] | None:
        for source_namespace, data in self.data.get((kind, name), ()):
            if namespace is None or source_namespace is None or namespace == source_namespace:
                return data
        self.misses.append(((kind, name), len(self.data.get((kind, name), ()))))
        return None

    def changed_since(self, misses: list[tuple[tuple[str, str], int]]) -> bool:
        """Whether a source that failed look-ups asked for has been read since: only then
        can checking the object again give a different answer."""
        return any(len(self.data.get(key, ())) != seen for key, seen in misses)


def iter_manifest_paths(paths: Iterable[str], exclude: tuple[str, ...]) -> Iterator[str]:
    """Files to lint, in a stable order; directories are walked for *.yaml, *.yml, *.json."""
    for given in paths:
        if given == STDIN:
            yield STDIN
            continue
        if not os.path.exists(given):
            raise UsageError(f"{given}: no such file or directory")
        if os.path.isdir(given):
            for root, dirs, files in os.walk(given):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not d.startswith(".") and not _excluded(os.path.join(root, d), exclude)
                )
                for name in sorted(files):
                    path = os.path.join(root, name)
                    if (
                        name.endswith(MANIFEST_SUFFIXES)
                        and not _excluded(path, exclude)
                        and not _special_file(path)
                    ):
                        yield path
        elif not _excluded(given, exclude):
            yield given


def _special_file(path: str) -> bool:
    """A FIFO, socket or device found while walking a folder: reading a FIFO with no writer
    would block forever, so only regular files are linted from folders. (A path given
    explicitly is read whatever it is: ``oomguard lint <(helm template …)`` is a pipe.)"""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # e.g. a dangling symlink: reading it reports the path as unreadable


def _excluded(path: str, patterns: tuple[str, ...]) -> bool:
    normalized = Path(path).as_posix().removeprefix("./")
    return any(fnmatch.fnmatch(normalized, pattern) for pattern in patterns)


def lint_paths(paths: list[str], config: Config) -> LintResult:
    # Linting makes millions of short-lived dicts and lists but no reference cycles
    # (check_object breaks the one it makes), so the cyclic collector finds nothing while
    # costing ~15% of the run; let it look far less often, and restore it afterwards.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    try:
        return _lint_paths(paths, config)
    finally:
        gc.set_threshold(*thresholds)


_GC_THRESHOLD = 100_000


def _lint_paths(paths: list[str], config: Config) -> LintResult:
    result = LintResult()
    sources = Sources()
    deferred: list[_Deferred] = []
    for path in iter_manifest_paths(paths, config.exclude):
        name = STDIN_NAME if path == STDIN else path
        try:
            raw = _read(path)
        except OSError as exc:
            result.unreadable.append(f"{name}: {exc.strerror or exc}")
            continue
        result.files += 1
        loaded = _load(raw, path)
        if loaded.skipped:
            result.notices.append(
                f"{name}: {loaded.skipped}, skipped "
                f"(lint the rendered output: helm template … | oomguard lint -)"
            )
            continue
        for error in loaded.errors:
            result.findings.append(_invalid(error, name))
        objects = []
        for document in loaded.documents:
            for problem in document.problems:
                result.findings.append(_invalid(problem, name, document.index))
            for prefix, obj in iter_objects(document.data):
                if obj.get("kind") in SOURCE_KINDS:
                    sources.add(obj)
                else:
                    objects.append((document, prefix, obj))
        for document, prefix, obj in objects:
            sources.misses = []
            evaluation = check_object(obj, config, lookup=sources.lookup, prefix=prefix)
            if sources.misses:
                deferred.append(
                    _Deferred(
                        path,
                        document.index,
                        prefix,
                        sources.misses,
                        _Located(evaluation, name, document),
                        document if path == STDIN else None,  # stdin cannot be read twice
                    )
                )
                continue
            _collect(result, _Located(evaluation, name, document))
    for item in deferred:
        if sources.changed_since(item.misses):
            found = _find_again(item)
            if found is not None:
                document, obj = found
                evaluation = check_object(obj, config, lookup=sources.lookup, prefix=item.prefix)
                item.located = _Located(evaluation, item.located.name, document)
        _collect(result, item.located)
    order = {}
    result.findings.sort(
        key=lambda f: (order.setdefault(f.file, len(order)), f.line or 0, f.column or 0, f.rule)
    )
    return result


def _read(path: str) -> bytes:
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


def _load(raw: bytes, path: str):
    from oomguard.linter.loader import LoadedFile

    if len(raw) > MAX_FILE_BYTES:
        return LoadedFile(errors=[LoadError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", 0, 0)])
    try:
        text = decode(raw)
    except LoadError as exc:
        return LoadedFile(errors=[exc])
    # resolving the path is costly; only text with template syntax needs to know
    in_chart = path != STDIN and "{{" in text and _in_chart_templates(path)
    loaded = load_text(text, in_chart=in_chart)
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


class _Located:
    """An evaluation with its findings placed in the file (no reference to the document)."""

    __slots__ = ("checked", "crashes", "findings", "name")

    def __init__(self, evaluation: Evaluation, name: str, document: Document) -> None:
        self.name = name
        self.checked = evaluation.checked
        self.crashes = evaluation.crashes
        self.findings = []
        for finding in evaluation.findings:
            line, column = document.position(finding.path)
            self.findings.append(
                finding.located(
                    file=name, line=line + 1, column=column + 1, document=document.index
                )
            )


@dataclass
class _Deferred:
    """A workload whose env asked for ConfigMaps or Secrets not read yet: its findings as
    they stand, and where to find it again should one of those sources turn up later. The
    document itself is not kept (that would hold every such file in memory), except for stdin.
    """

    path: str
    document_index: int
    prefix: tuple
    misses: list[tuple[tuple[str, str], int]]
    located: _Located
    document: Document | None = None


def _find_again(item: _Deferred) -> tuple[Document, dict[str, Any]] | None:
    """The deferred object, read again from its file (None if the file changed meanwhile)."""
    document = item.document
    if document is None:
        try:
            loaded = _load(_read(item.path), item.path)
        except OSError:
            return None
        document = next((d for d in loaded.documents if d.index == item.document_index), None)
        if document is None:
            return None
    for prefix, obj in iter_objects(document.data):
        if prefix == item.prefix:
            return document, obj
    return None


def _collect(result: LintResult, located: _Located) -> None:
    if located.checked:
        result.objects += 1
    result.crashes.extend(located.crashes)
    result.findings.extend(located.findings)


def _invalid(error: LoadError, name: str, document: int = 0) -> Finding:
    line = error.line + 1 if error.line is not None else 1
    column = error.column + 1 if error.column is not None else 1
    return invalid_document(error.message, file=name, line=line, column=column, document=document)
