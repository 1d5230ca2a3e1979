"""Rendering lint results: ``text`` and ``json`` (``sarif`` and ``github`` live beside them).

Writers print each finding as it arrives and keep only counts (:class:`Shown`), so memory
does not grow with the number of findings; what they print is, byte for byte, what rendering
the whole list at once printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from oomguard.linter.run import LintResult
from oomguard.rules.config import Config
from oomguard.rules.engine import lint_fix_enabled
from oomguard.rules.model import Finding
from oomguard.rules.text import printable

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def fixable(finding: Finding, config: Config) -> bool:
    return finding.fixable and lint_fix_enabled(finding.rule, config)


class Shown:
    """The findings being printed, each with whether ``--fix`` can fix it, counted as they
    go by: the summary and the exit code need only the counts. Iterate once."""

    def __init__(self, findings: Iterable[Finding], config: Config) -> None:
        self._findings = findings
        self._config = config
        self.totals = {"error": 0, "warning": 0, "info": 0}
        self.fixable = 0

    def __iter__(self) -> Iterator[tuple[Finding, bool]]:
        for finding in self._findings:
            can_fix = fixable(finding, self._config)
            self.totals[finding.severity] += 1
            self.fixable += can_fix
            yield finding, can_fix


def summary_line(result: LintResult, shown: Shown) -> str:
    totals = shown.totals
    parts = [_plural(totals["error"], "error"), _plural(totals["warning"], "warning")]
    if totals["info"]:
        parts.append(_plural(totals["info"], "info"))
    line = f"{result.scope}, {_plural(result.objects, 'workload')}: {', '.join(parts)}"
    if shown.fixable:
        line += f" ({shown.fixable} fixable with --fix)"
    unknown = result.unknown_kinds
    if unknown:  # said even when info findings are hidden: never a silent skip
        line += (
            f"; {unknown} object of an unknown kind looks like a workload"
            if unknown == 1
            else f"; {unknown} objects of unknown kinds look like workloads"
        )
        if not totals["info"]:
            line += " (see --min-severity info)"
    return line


def object_label(f: Finding) -> str:
    """``Kind/name container``, as text output shows the object (raw: escape to print); with
    the pod template when the object has several: ``RayCluster/ray worker-group=gpu
    container=ray-worker``."""
    where = f"{f.kind}/{f.name}" if f.kind else ""
    if f.template:
        where += f" {f.template}"
        if f.container:
            where += f" container={f.container}"
    elif f.container:
        where += f" {f.container}"
    return where


def rendered_note(f: Finding) -> str:
    """For a finding in a rendered chart or overlay: `` (key jvm.maxHeap; rendered from
    charts/app/templates/deployment.yaml)``, escaped; empty for a plain file."""
    parts = []
    if f.values_key:
        parts.append(f"key {f.values_key}")
    if f.rendered_from and f.rendered_from != f.file:
        parts.append(f"rendered from {f.rendered_from}")
    return f" ({printable('; '.join(parts))})" if parts else ""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def write_text(
    out: TextIO,
    result: LintResult,
    shown: Shown,
    config: Config,
    *,
    colour: bool = False,
    quiet: bool = False,
) -> None:
    # names, messages and paths come from the manifests: escaped, so a manifest cannot move
    # the cursor, clear the reviewer's screen or print a fake summary
    for f, _ in shown:
        where = printable(object_label(f))
        severity = f.severity
        if colour:
            severity = f"{_COLOURS[severity]}{severity}{_RESET}"
            rule = f"{_BOLD}{f.rule}{_RESET}"
            suffix = f" {_DIM}[{where}]{_RESET}" if where else ""
        else:
            rule = f.rule
            suffix = f" [{where}]" if where else ""
        suffix += rendered_note(f)
        file = printable(f.file or "")
        where_in_file = file if f.line is None else f"{file}:{f.line}:{f.column}"
        out.write(f"{where_in_file}: {severity} {rule}: {printable(f.message)}{suffix}\n")
    if not quiet:
        out.write(summary_line(result, shown) + "\n")


def write_json(out: TextIO, result: LintResult, shown: Shown, config: Config, **_: object) -> None:
    out.write('{\n  "version": 1,\n  "findings": ')
    import json  # here, not at the top: a text report (the default) never loads json

    # as write_json_list lays the list out, each finding written as it comes
    string = json.encoder.encode_basestring  # the C function when available, as json uses
    opened = False
    for f, can_fix in shown:
        out.write((",\n    " if opened else "[\n    ") + _json_finding_text(f, can_fix, string))
        opened = True
    out.write("\n  ]" if opened else "[]")
    summary = {
        **result.read_counts(),
        "objects": result.objects,
        "errors": shown.totals["error"],
        "warnings": shown.totals["warning"],
        "infos": shown.totals["info"],
    }
    out.write(f',\n  "summary": {json_nested(summary, depth=1)}\n}}\n')


def _json_finding(f: Finding, can_fix: bool) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "message": f.message,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "kind": f.kind,
        "namespace": f.namespace,
        "name": f.name,
        "container": f.container,
        **({"template": f.template} if f.template else {}),
        "fixable": can_fix,
        # rendered charts and overlays only (docs/charts.md): keys added, none renamed
        **({"rendered_from": f.rendered_from} if f.rendered_from else {}),
        **({"values_key": f.values_key} if f.values_key else {}),
    }


def _json_finding_text(f: Finding, can_fix: bool, string: Callable[[str], str]) -> str:
    """``json_nested(_json_finding(f, can_fix), 2)``, written field by field: no dict built,
    each key's layout made once (tens of thousands of findings); ``string`` is json's
    string encoder."""
    parts = []
    values: tuple[Any, ...] = (
        f.rule, f.severity, f.message, f.file, f.line, f.column, f.kind, f.namespace, f.name,
        f.container, f.template or None, can_fix, f.rendered_from or None, f.values_key or None,
    )  # fmt: skip
    for prefix, item, optional in zip(_FINDING_PREFIXES, values, _FINDING_OPTIONAL, strict=True):
        kind = type(item)
        if kind is str:
            text = string(item)
        elif item is None:
            if optional:
                continue
            text = "null"
        elif item is True:
            text = "true"
        elif item is False:
            text = "false"
        elif kind is int:
            text = int.__repr__(item)
        else:  # not flat (a float, …): json_nested lays it out
            return json_nested(_json_finding(f, can_fix), 2)
        parts.append(prefix + text)
    return "{" + ",".join(parts) + "\n    }"


_FINDING_KEYS = (
    "rule", "severity", "message", "file", "line", "column", "kind", "namespace", "name",
    "container", "template", "fixable", "rendered_from", "values_key",
)  # fmt: skip
_FINDING_OPTIONAL = tuple(
    key in ("template", "rendered_from", "values_key") for key in _FINDING_KEYS
)
_FINDING_PREFIXES = tuple(f'\n      "{key}": ' for key in _FINDING_KEYS)


def write_json_list(out: TextIO, items: Iterable[Any], depth: int) -> None:
    """A list, one item at a time, as ``json.dumps(indent=2)`` lays it out as the value of a
    key ``depth`` levels down in a document (the list is not built)."""
    inner = "\n" + "  " * (depth + 1)
    opened = False
    for item in items:
        out.write(("," if opened else "[") + inner + json_nested(item, depth + 1))
        opened = True
    out.write("\n" + "  " * depth + "]" if opened else "[]")


def json_nested(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(indent=2, ensure_ascii=False)`` writes it ``depth`` levels
    down (a newline inside a JSON string is always escaped, so every raw one is layout)."""
    import json  # here, not at the top: a text report (the default) never loads json

    if type(value) is dict and value:
        # a finding: laid out here, each scalar through the C encoder (json's indenting
        # encoder is pure Python, a hot spot with tens of thousands of findings); one loop,
        # no generators: it runs once per finding
        pad = _PADS[depth + 1] if depth + 1 < len(_PADS) else "\n" + "  " * (depth + 1)
        parts = []
        string = json.encoder.encode_basestring  # the C function when available, as json uses
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                text = string(item)
            elif item is None:
                text = "null"
            elif item is True:
                text = "true"
            elif item is False:
                text = "false"
            elif kind is int:
                text = int.__repr__(item)  # what json's encoders write for an int
            else:
                break  # not flat (a float, a list, …): json lays it out
            if type(key) is not str:
                break
            parts.append(f"{pad}{string(key)}: {text}")
        else:
            return "{" + ",".join(parts) + "\n" + "  " * depth + "}"
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)


_PADS = tuple("\n" + "  " * level for level in range(8))


Writer = Callable[..., None]
FORMATS: dict[str, Writer] = {"text": write_text, "json": write_json}
