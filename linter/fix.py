"""``oomguard lint --fix`` and ``--diff``: the rules' fixes applied to files.

The rules decide what to change (``Finding.fix``, RFC 6902 intents). Each document with an
enabled fix is converged in memory by :func:`oomguard.rules.converge.converge` (the loop the
mutating webhook uses), and the final patch goes to the file's text once, so ``--diff`` shows
exactly what ``--fix`` writes. The parts:

* this module — which files and documents, the notices, the diff, linting again after;
* :mod:`oomguard.linter.fix_splice` — the patch spliced into the text and verified;
* :mod:`oomguard.linter.fix_render` — new values written in the file's own style;
* :mod:`oomguard.linter.fix_files` — reading regular files only and writing atomically.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from oomguard.linter.fix_files import (
    NotRegularFile,
    _write_problem,
    read_regular,
    write_atomic,
)
from oomguard.linter.fix_render import plain_ok
from oomguard.linter.fix_splice import (
    FixError,
    apply_patch,
    load_like_linter,
    parse_pointer,
    patch_text,
)
from oomguard.linter.loader import LoadError, decode
from oomguard.linter.render import Rendered
from oomguard.linter.run import STDIN, STDIN_NAME, LintResult, lint_paths, prepare
from oomguard.rules.config import Config
from oomguard.rules.converge import Convergence, converge
from oomguard.rules.engine import INVALID, lint_fix_enabled
from oomguard.rules.limit_ranges import LimitRangeLookup, no_limit_ranges
from oomguard.rules.model import Finding
from oomguard.rules.text import printable
from oomguard.rules.vpa import VpaLookup, no_vpas
from oomguard.rules.workload import Lookup, no_lookup

UTF8_BOM = b"\xef\xbb\xbf"
_YAML11_ONLY_BREAKS = ("\x85", "\u2028", "\u2029")
_YAML11_ONLY_PROBLEM = (
    "it holds NEL, LS or PS characters (U+0085, U+2028, U+2029), line breaks for YAML 1.1 "
    "readers but not for YAML 1.2 ones; write them as escapes or use LF line ends"
)


# --------------------------------------------------------------------------- front door


def apply_fixes(
    result: LintResult,
    config: Config,
    paths: list[str],
    *,
    write: bool,
    diff: bool,
    out: IO[str] | None = None,
    lookup: Lookup | None = None,
    limit_ranges: LimitRangeLookup | None = None,
    vpas: VpaLookup | None = None,
) -> LintResult:
    """Apply the enabled fixes of ``result``'s findings; with ``diff``, print what changes.

    Each document with an enabled fix is converged in memory (:func:`rules.converge.converge`,
    the loop ``/mutate`` uses) and the final patch is spliced into the text once, so the diff
    is exactly what is written. With ``write`` the files are rewritten and linted again; the
    returned result holds what remains. Without ``write`` nothing on disk changes and
    ``result``'s findings are returned unchanged. ``lookup`` resolves ConfigMaps and Secrets,
    ``limit_ranges`` and ``vpas`` give the LimitRanges and VerticalPodAutoscalers, as the lint
    did (by default, from the files in ``paths``): every round of the fix judges the Pod the
    lint judged.
    """
    out = out or sys.stdout
    notices: list[str] = []
    fixed_findings = 0
    fixed_files: set[str] = set()
    stdin_fixable = sum(1 for f in result.findings if f.file == STDIN_NAME and _enabled(f, config))
    if stdin_fixable:
        notices.append(
            f"{STDIN_NAME}: {stdin_fixable} fixable finding(s) not fixed: --fix and --diff "
            f"work on files, not on standard input"
        )
    # a rendered chart's or overlay's findings are fixed where their value lives (below)
    plans = fixable_by_file([f for f in result.findings if not _rendered(f)], config)
    if plans and None in (lookup, limit_ranges, vpas):
        sources = prepare([path for path in paths if path != STDIN], config).sources
        lookup = lookup or sources.lookup
        limit_ranges = limit_ranges or sources.limit_ranges_for
        vpas = vpas or sources.vpa_for
    outcomes = [
        (
            path,
            fix_file(
                path,
                found,
                config,
                lookup or no_lookup,
                limit_ranges=limit_ranges or no_limit_ranges,
                vpas=vpas or no_vpas,
            ),
        )
        for path, found in plans.items()
    ]
    renderings = _renderings(result, config, paths)
    if renderings:
        from oomguard.linter.fix_rendered import plan_rendered

        rendered_plans, rendered_notices = plan_rendered(renderings, config, skip=set(plans))
        notices.extend(rendered_notices)
        outcomes.extend((path, plan) for path, plan in rendered_plans.items())
    for path, outcome in outcomes:
        if outcome.problem and path in plans:
            notices.append(f"{path}: {outcome.problem_prefix}: {outcome.problem}")
        if outcome.fixed == outcome.original:
            continue
        if diff:
            text = unified_diff(path, outcome.original, outcome.fixed)
            out.write(terminal_safe(text) if _is_terminal(out) else text)
        if write:
            try:
                removed = write_atomic(path, outcome.encode(outcome.fixed))
            except OSError as exc:
                notices.append(f"{path}: not fixed: {_write_problem(exc)}")
                continue
            notices.extend(
                f"{stale}: removed (a temporary file left by an interrupted --fix)"
                for stale in removed
            )
            fixed_files.add(path)
            fixed_findings += outcome.count
    if fixed_files:
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
        if finding.rule == INVALID and finding.severity == "error":
            # a file that does not parse (or holds wrong types) is never written; a warning
            # of that rule (an ignore annotation naming no rule) does not stop its fixes
            broken.add(finding.file)
        elif finding.file not in (None, STDIN_NAME) and _enabled(finding, config):
            plans.setdefault(finding.file, []).append(finding)
    return {path: found for path, found in plans.items() if path not in broken | skip}


def _renderings(result: LintResult, config: Config, paths: list[str]) -> list[Rendered]:
    """The run's rendered charts and overlays: those the lint kept, else (when it kept only
    their names, yet found something in them) rendered again for the fix."""
    kept = [
        r
        for r in [*getattr(result, "renderings", ()), *getattr(result, "rendered", ())]
        if isinstance(r, Rendered)
    ]
    if kept or not any(_rendered(f) for f in result.findings):
        return kept
    units = getattr(prepare([p for p in paths if p != STDIN], config), "units", ())
    return [u.rendered for u in units if isinstance(getattr(u, "rendered", None), Rendered)]


def _rendered(finding: Finding) -> bool:
    """A finding of a rendered chart or overlay (its file is a values file or a patch)."""
    return getattr(finding, "rendered_from", None) is not None


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
    count: int = 0  # findings fixed
    partly: bool = False  # some rounds were written, the problem is about the later ones

    @property
    def problem_prefix(self) -> str:
        return "not fully fixed" if self.partly else "not fixed"

    def encode(self, text: str) -> bytes:
        return (UTF8_BOM if self.bom else b"") + text.encode("utf-8")


def read_for_fix(path: str) -> FileFix:
    """``path``'s text (``original``, ``bom``), or why it is not rewritten (``problem``): a
    regular UTF-8 file only, with no line break that the two YAML readers disagree on."""
    try:
        raw = read_regular(path)
    except NotRegularFile as exc:
        return FileFix(problem=str(exc))
    except OSError as exc:
        return FileFix(problem=f"cannot read it ({exc.strerror or exc})")
    bom = raw.startswith(UTF8_BOM)
    if not bom and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return FileFix(problem="only UTF-8 files are rewritten (this one is UTF-16/32)")
    try:
        text = decode(raw)
    except LoadError as exc:
        return FileFix(problem=exc.message)
    if any(char in text for char in _YAML11_ONLY_BREAKS):
        # libyaml (Kubernetes, the linter) ends lines there, ruamel.yaml (YAML 1.2) does not:
        # they would disagree on what the documents are and where a value is
        return FileFix(text, text, bom, problem=_YAML11_ONLY_PROBLEM)
    return FileFix(text, text, bom)


def fix_file(
    path: str,
    findings: list[Finding],
    config: Config,
    lookup: Lookup = no_lookup,
    *,
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
) -> FileFix:
    """Read ``path`` and apply the converged fixes of the documents ``findings`` are in to its
    text (nothing is written)."""
    read = read_for_fix(path)
    if read.problem is not None:
        return read
    text, bom = read.original, read.bom
    try:
        plan = converge_file(
            text,
            path,
            {f.document for f in findings},
            config,
            lookup,
            limit_ranges=limit_ranges,
            vpas=vpas,
        )
    except FixError as exc:
        return FileFix(text, text, bom, problem=str(exc))
    # all rounds at once; should the text refuse that, the first rounds alone
    problem = None
    for rounds in range(max((len(c.rounds) for c in plan.values()), default=0), 0, -1):
        patches = {i: [op for ops in c.rounds[:rounds] for op in ops] for i, c in plan.items()}
        try:
            fixed = patch_text(text, {i: ops for i, ops in patches.items() if ops}, path)
        except FixError as exc:
            problem = problem or str(exc)
            continue
        count = sum(sum(c.fixed[:rounds]) for c in plan.values())
        return FileFix(text, fixed, bom, problem, count, partly=problem is not None)
    return FileFix(text, text, bom, problem=problem)


def converge_file(
    text: str,
    path: str,
    indices: set[int | None],
    config: Config,
    lookup: Lookup = no_lookup,
    *,
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
) -> dict[int, Convergence]:
    """The converged fixes of the documents ``indices`` of a file's ``text``."""
    documents = {document.index: document for document in load_like_linter(text, path)}
    plan = {}
    for index in sorted(i for i in indices if i in documents):
        convergence = converge(
            documents[index].data,
            config,
            lambda rule: lint_fix_enabled(rule, config),
            lookup=lookup,
            limit_ranges=limit_ranges,
            vpas=vpas,
        )
        if convergence.rounds:
            plan[index] = convergence
    return plan


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


def terminal_safe(diff: str) -> str:
    """``diff`` with the control characters of each line escaped (``\\x1b``), for a
    terminal: a manifest must not clear the reviewer's screen. Piped, the real bytes are kept
    so ``git apply`` works."""
    return "\n".join(printable(line) for line in diff.split("\n"))  # not splitlines: \r, NEL…


def _is_terminal(out: IO[str]) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def _display_path(path: str) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return relative.removeprefix("./") if not relative.startswith("..") else path.lstrip("/")


__all__ = [
    "FixError",
    "apply_fixes",
    "apply_patch",
    "converge_file",
    "fix_file",
    "fixable_by_file",
    "load_like_linter",
    "parse_pointer",
    "patch_text",
    "plain_ok",
    "unified_diff",
    "write_atomic",
]
