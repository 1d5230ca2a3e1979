"""``oomguard lint``: files → documents → objects → findings, one file at a time.

Two passes. :func:`prepare` lists the files and reads every ConfigMap, Secret, LimitRange and
VPA among them into one :class:`~oomguard.rules.sources.InputIndex`, parsing only the
documents whose text could hold one (a few per cent of a typical input), so that env resolves
from anywhere in the input. :func:`iter_findings` then reads the files one by one and hands
out each file's findings as soon as it is checked: memory is bounded by the largest file plus
the index, not by the number of findings.

Output order: the plain files in input order (as given; a folder's files as walked, sorted;
a path given twice is linted and printed twice), each file's findings by line, column and
rule; then each rendered chart or overlay's. ``--jobs N`` prints the same, by construction:
workers hand the files back in input order. Discovery of charts and overlays lives in
units.py, their linting in render_lint.py, the workers in jobs.py.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oomguard.linter
import oomguard.rules
from oomguard.linter.loader import Document, LoadedFile, LoadError
from oomguard.linter.reading import index_objects, load, read
from oomguard.linter.units import (  # noqa: F401  MANIFEST_SUFFIXES, _excluded: re-exported
    MANIFEST_SUFFIXES,
    STDIN,
    Discovered,
    MissingPath,
    _excluded,
    _special_file,
    discover_units,
)
from oomguard.rules.config import Config
from oomguard.rules.engine import Evaluation, check_object, invalid_document
from oomguard.rules.model import Finding
from oomguard.rules.sources import INDEX_KINDS, InputIndex
from oomguard.rules.workload import iter_objects

STDIN_NAME = "<stdin>"


class UsageError(Exception):
    """A mistake in how oomguard was called: exit 2 with a one-line message."""


@dataclass(eq=False, repr=False)
class LintResult:
    """What a run read and found. The CLI streams the findings (:func:`iter_findings`) and
    keeps only the rest; :func:`lint_paths` keeps the findings too."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    objects: int = 0
    notices: list[str] = field(default_factory=list)
    renderings: list[Any] = field(default_factory=list)  # render.Rendered, for --fix/--diff
    unreadable: list[str] = field(default_factory=list)  # exit 2, after reporting the rest
    crashes: list[str] = field(default_factory=list)
    unknown_kinds: int = 0  # objects outside the registry that hold containers
    rendered: list[tuple[str, str]] = field(default_factory=list)  # (chart|overlay, engine)

    @property
    def scope(self) -> str:
        """What was read, for the summary line: ``2 files, 1 chart rendered with <engine>``."""
        parts = [f"{self.files} file{'' if self.files == 1 else 's'}"]
        if self.rendered and not self.files:
            parts = []
        for kind in ("chart", "overlay"):
            engines = Counter(engine for what, engine in self.rendered if what == kind)
            if engines:
                count = sum(engines.values())
                parts.append(
                    f"{count} {kind}{'' if count == 1 else 's'} rendered with {', '.join(engines)}"
                )
        return ", ".join(parts)

    def read_counts(self) -> dict[str, int]:
        """What was read, for the JSON summary (``charts``/``overlays`` when rendered)."""
        counts = {"files": self.files}
        for kind in ("chart", "overlay"):
            rendered = sum(1 for what, _ in self.rendered if what == kind)
            if rendered:
                counts[f"{kind}s"] = rendered
        return counts


@dataclass(eq=False, repr=False)
class LintInput:
    """The first pass over the input, for one second pass: the files in the order they are
    linted, the index of their ConfigMaps, Secrets, LimitRanges and VPAs, and the bytes of
    those that can be read only once (handed over, then dropped, when their turn comes)."""

    paths: list[str]
    sources: InputIndex
    read_once: dict[int, bytes | OSError]  # by position in ``paths``
    failed: dict[int, str] = field(default_factory=dict)  # first-pass crashes, by position
    units: list[Any] = field(default_factory=list)  # render_lint.RenderedUnit, rendered
    notices: list[str] = field(default_factory=list)  # said by discovery


def iter_manifest_paths(paths: Iterable[str], exclude: tuple[str, ...]) -> Iterator[str]:
    """Plain files to lint, in a stable order (charts and overlays found are not listed)."""
    yield from discover(list(paths), Config(exclude=exclude)).files


def discover(paths: list[str], config: Config) -> Discovered:
    """Plain files to lint and charts and overlays to render (linter/units.py); a path
    that does not exist is a usage error."""
    try:
        return discover_units(paths, config.exclude, config.folder, config.source)
    except MissingPath as exc:
        raise UsageError(f"{exc}: no such file or directory") from None


def lint_paths(paths: list[str], config: Config) -> LintResult:
    """Lint and keep every finding in ``result.findings`` (for ``--fix`` and the tests)."""
    result = LintResult()
    result.findings = list(iter_findings(prepare(paths, config), config, result))
    return result


def prepare(paths: list[str], config: Config) -> LintInput:
    """The first pass: list the files (a bad path raises UsageError before anything is
    printed) and read every ConfigMap and Secret, parsing only the documents whose text may
    hold one. Standard input and pipes cannot be read twice: their bytes are kept."""
    found = discover(paths, config)
    files = found.files
    sources = InputIndex()
    read_once: dict[int, bytes | OSError] = {}
    failed: dict[int, str] = {}
    for position, path in enumerate(files):
        once = path == STDIN or _special_file(path)
        try:
            raw = read(path)
        except OSError as exc:
            if once:
                read_once[position] = exc.with_traceback(None)
            continue
        if once:
            read_once[position] = raw
        try:
            for obj in index_objects(raw, path):
                sources.add(obj, position)
        except Exception as exc:  # noqa: BLE001  a bug on one file must not end the run
            failed[position] = _bug(exc)
    units = _render(found, config) if found.units else []
    return LintInput(files, sources, read_once, failed, units, found.notices)


def _render(found: Discovered, config: Config) -> list[Any]:
    """Render every chart and overlay (a missing renderer is a usage error: exit 2, before
    anything is printed); a unit that fails to render becomes a finding later."""
    from oomguard.linter.render import RendererMissing
    from oomguard.linter.render_lint import add_sources, render_unit

    units = []
    for unit in found.units:
        try:
            done = render_unit(unit, config)
        except RendererMissing as exc:
            raise UsageError(str(exc)) from None
        add_sources(done)
        units.append(done)
    return units


def iter_findings(
    lint_input: LintInput, config: Config, result: LintResult, jobs: int = 1
) -> Iterator[Finding]:
    """The second pass: every finding, in output order (see the module), file by file.
    Counts, notices and problems go to ``result`` as files are read; they are complete
    once the iterator is exhausted. With ``jobs`` > 1 the plain files are linted by that many
    worker processes (linter/jobs.py), with the same output."""
    # Linting makes millions of short-lived dicts and lists but no reference cycles
    # (check_object breaks the one it makes), so the cyclic collector finds nothing while
    # costing ~15% of the run; let it look far less often, and restore it afterwards.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    try:
        result.notices.extend(lint_input.notices)
        if lint_input.units:
            from oomguard.linter.render_lint import dedupe

            yield from dedupe(_all_findings(lint_input, config, result, jobs))
        else:
            yield from _all_findings(lint_input, config, result, jobs)
    finally:
        gc.set_threshold(*thresholds)


_GC_THRESHOLD = 100_000


def _all_findings(
    lint_input: LintInput, config: Config, result: LintResult, jobs: int = 1
) -> Iterator[Finding]:
    """The plain files' findings in input order, then each rendered unit's."""
    for done in _linted_files(lint_input, config, result, jobs):
        yield from sorted(done.found, key=_place)
    if lint_input.units:
        from oomguard.linter.render_lint import unit_findings

        for unit in lint_input.units:
            yield from unit_findings(unit, config, lint_input.sources, result)


def _linted_files(
    lint_input: LintInput, config: Config, result: LintResult, jobs: int
) -> Iterator[_FileFindings]:
    """Each plain file's findings in input order: here, or by worker processes."""
    if jobs > 1 and len(lint_input.paths) > 1:
        from oomguard.linter.jobs import linted_files

        yield from linted_files(lint_input, config, result, jobs)
        return
    for position, path in enumerate(lint_input.paths):
        yield _lint_file(position, path, lint_input, config, result)


def _place(finding: Finding) -> tuple[int, int, str]:
    """A finding's place among its file's: line, column, rule."""
    return finding.line or 0, finding.column or 0, finding.rule


@dataclass(eq=False, repr=False)
class _FileFindings:
    """One file's findings, in the order they were found."""

    name: str
    found: list[Finding] = field(default_factory=list)


def _lint_file(
    position: int, path: str, lint_input: LintInput, config: Config, result: LintResult
) -> _FileFindings:
    """One file's findings; what was read and what went wrong goes to ``result``."""
    name = _name(path)
    done = _FileFindings(name)
    try:
        raw = _read_at(lint_input, position, path)
    except OSError as exc:
        result.unreadable.append(f"{name}: {exc.strerror or exc}")
        return done
    result.files += 1
    failed = lint_input.failed.pop(position, None)
    if failed is not None:
        _internal_error(done, result, name, f"reading its ConfigMaps and Secrets: {failed}")
    try:
        loaded = load(raw, path)
        objects = _objects(loaded, name, done)
    except Exception as exc:  # noqa: BLE001  a bug on one file must not hide the others
        _internal_error(done, result, name, f"reading it: {_bug(exc)}")
        return done
    if loaded.skipped:
        result.notices.append(
            f"{name}: {loaded.skipped}, skipped "
            f"(lint the rendered output: helm template … | oomguard lint -)"
        )
        return done
    if loaded.templates:
        numbers = ", ".join(str(index + 1) for index in loaded.templates)
        result.notices.append(
            f"{name}: document{'s' if len(loaded.templates) > 1 else ''} {numbers}: "
            "unrendered Helm template that does not parse, skipped "
            "(lint the rendered output: helm template … | oomguard lint -)"
        )
    sources = lint_input.sources
    for document, prefix, obj in objects:
        try:
            evaluation = check_object(
                obj,
                config,
                lookup=sources.lookup,
                prefix=prefix,
                limit_ranges=sources.limit_ranges_for,
                vpas=sources.vpa_for,
            )
        except Exception as exc:  # noqa: BLE001  a bug on one object must not hide the rest
            line, column = document.position(prefix)
            where = f"checking the object at line {line + 1}: {_bug(exc)}"
            _internal_error(done, result, name, where, document.index, line, column)
            continue
        result.objects += evaluation.checked
        result.unknown_kinds += evaluation.unknown_kind
        result.notices.extend(f"{name}: {notice}" for notice in evaluation.notices)
        done.found.extend(_located(evaluation, name, document))
        result.crashes.extend(evaluation.crashes)
    return done


def _objects(
    loaded: LoadedFile, name: str, done: _FileFindings
) -> list[tuple[Document, tuple, dict[str, Any]]]:
    """The objects to check in a loaded file; its load errors, a document's problems and
    Kubernetes objects (with an ``apiVersion``) whose ``kind`` is not a string go to ``done``
    as manifest-invalid findings. Other YAML with such a ``kind`` is not Kubernetes: skipped."""
    for error in loaded.errors:
        done.found.append(_invalid(error, name))
    objects = []
    for document in loaded.documents:
        for problem in document.problems:
            done.found.append(_invalid(problem, name, document.index))
        for prefix, obj in iter_objects(document.data):
            kind = obj.get("kind")
            if kind is not None and not isinstance(kind, str):
                if "apiVersion" in obj:
                    line, column = document.position((*prefix, "kind"))
                    message = f"kind must be a string, not {_type_name(kind)}"
                    error = LoadError(message, line, column)
                    done.found.append(_invalid(error, name, document.index))
            elif kind not in INDEX_KINDS:  # read by prepare()
                objects.append((document, prefix, obj))
    return objects


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)


def _bug(exc: Exception) -> str:
    """An unexpected exception, named by its type and the code line that raised it: never
    its message, which may quote the input (a secret, control characters)."""
    import traceback  # here, not at the top: only a rule's crash needs it

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    ours = [frame for frame in frames if frame.filename.startswith(_OUR_CODE)] or frames
    where = [f"{Path(frame.filename).name}:{frame.lineno}" for frame in (ours[-1], frames[-1])]
    return f"{type(exc).__name__} at {where[0]}" + (
        f" ({where[1]})" if ours[-1] is not frames[-1] else ""
    )


_OUR_CODE = tuple(str(Path(module.__file__).parent) for module in (oomguard.linter, oomguard.rules))


def _internal_error(
    done: _FileFindings,
    result: LintResult,
    name: str,
    what: str,
    document: int = 0,
    line: int = 0,
    column: int = 0,
) -> None:
    """A bug met on one file: a manifest-invalid finding there (the file was not fully
    judged, and must not pass a gate), and a crash for the exit code (3)."""
    error = LoadError(f"oomguard failed while {what} (a bug: please report it)", line, column)
    done.found.append(_invalid(error, name, document))
    result.crashes.append(f"{name}: failed while {what}")


def _name(path: str) -> str:
    return STDIN_NAME if path == STDIN else path


def _read_at(lint_input: LintInput, position: int, path: str) -> bytes:
    kept = lint_input.read_once.pop(position, None)
    if kept is None:
        return read(path)
    if isinstance(kept, OSError):
        raise kept
    return kept


def _located(evaluation: Evaluation, name: str, document: Document) -> list[Finding]:
    """The evaluation's findings placed in the file (no reference to the document)."""
    located = []
    for finding in evaluation.findings:
        line, column = document.position(finding.path)
        located.append(
            finding.located(file=name, line=line + 1, column=column + 1, document=document.index)
        )
    return located


def _invalid(error: LoadError, name: str, document: int = 0) -> Finding:
    line = error.line + 1 if error.line is not None else 1
    column = error.column + 1 if error.column is not None else 1
    return invalid_document(error.message, file=name, line=line, column=column, document=document)
