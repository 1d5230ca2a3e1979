"""``oomguard lint``: files → documents → objects → findings, one file at a time.

A workload whose env refers to a ConfigMap or Secret not seen yet is kept aside and checked
once every file has been read, so flags resolve from anywhere in the input while memory stays
bounded by the largest file plus those few workloads.
"""

from __future__ import annotations

import fnmatch
import os
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
from oomguard.rules.engine import check_object, invalid_document
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
        self.missed = False

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
        self.missed = True
        return None


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
                    if name.endswith(MANIFEST_SUFFIXES) and not _excluded(path, exclude):
                        yield path
        elif not _excluded(given, exclude):
            yield given


def _excluded(path: str, patterns: tuple[str, ...]) -> bool:
    normalized = Path(path).as_posix().removeprefix("./")
    return any(fnmatch.fnmatch(normalized, pattern) for pattern in patterns)


def lint_paths(paths: list[str], config: Config) -> LintResult:
    result = LintResult()
    sources = Sources()
    deferred: list[tuple[str, Document, tuple, dict]] = []
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
            sources.missed = False
            evaluation = check_object(obj, config, lookup=sources.lookup, prefix=prefix)
            if sources.missed:
                deferred.append((name, document, prefix, obj))
                continue
            _collect(result, evaluation, name, document)
    for name, document, prefix, obj in deferred:
        _collect(
            result, check_object(obj, config, lookup=sources.lookup, prefix=prefix), name, document
        )
    order = {}
    result.findings.sort(
        key=lambda f: (order.setdefault(f.file, len(order)), f.line or 0, f.column or 0, f.rule)
    )
    return result


def _read(path: str) -> bytes:
    if path == STDIN:
        return sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    with open(path, "rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _load(raw: bytes, path: str):
    from oomguard.linter.loader import LoadedFile

    if len(raw) > MAX_FILE_BYTES:
        return LoadedFile(errors=[LoadError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", 0, 0)])
    try:
        text = decode(raw)
    except LoadError as exc:
        return LoadedFile(errors=[exc])
    loaded = load_text(text, in_chart=path != STDIN and _in_chart_templates(path))
    if path.endswith(".json") and loaded.errors and not loaded.documents:
        return load_json(text)
    return loaded


def _in_chart_templates(path: str) -> bool:
    parts = Path(path).resolve().parts
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] == "templates" and (Path(*parts[:index]) / "Chart.yaml").is_file():
            return True
    return False


def _collect(result: LintResult, evaluation, name: str, document: Document) -> None:
    if evaluation.checked:
        result.objects += 1
    result.crashes.extend(evaluation.crashes)
    for finding in evaluation.findings:
        line, column = document.position(finding.path)
        result.findings.append(
            finding.located(file=name, line=line + 1, column=column + 1, document=document.index)
        )


def _invalid(error: LoadError, name: str, document: int = 0) -> Finding:
    line = error.line + 1 if error.line is not None else 1
    column = error.column + 1 if error.column is not None else 1
    return invalid_document(error.message, file=name, line=line, column=column, document=document)
