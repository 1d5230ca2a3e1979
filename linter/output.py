"""Rendering lint results: ``text`` and ``json`` (``sarif`` and ``github`` live beside them)."""

from __future__ import annotations

import json
from collections.abc import Callable

from oomguard.linter.run import LintResult
from oomguard.rules.config import Config
from oomguard.rules.engine import lint_fix_enabled
from oomguard.rules.model import Finding

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def fixable(finding: Finding, config: Config) -> bool:
    return finding.fixable and lint_fix_enabled(finding.rule, config)


def counts(findings: list[Finding]) -> dict[str, int]:
    totals = {"error": 0, "warning": 0, "info": 0}
    for finding in findings:
        totals[finding.severity] += 1
    return totals


def summary_line(result: LintResult, findings: list[Finding], config: Config) -> str:
    totals = counts(findings)
    parts = [_plural(totals["error"], "error"), _plural(totals["warning"], "warning")]
    if totals["info"]:
        parts.append(_plural(totals["info"], "info"))
    line = f"{result.scope}, {_plural(result.objects, 'workload')}: {', '.join(parts)}"
    fixes = sum(fixable(f, config) for f in findings)
    if fixes:
        line += f" ({fixes} fixable with --fix)"
    return line


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(
    result: LintResult,
    findings: list[Finding],
    config: Config,
    *,
    colour: bool = False,
    quiet: bool = False,
) -> str:
    lines = []
    for f in findings:
        where = f"{f.kind}/{f.name}" if f.kind else ""
        if f.container:
            where += f" {f.container}"
        severity = f.severity
        if colour:
            severity = f"{_COLOURS[severity]}{severity}{_RESET}"
            rule = f"{_BOLD}{f.rule}{_RESET}"
            suffix = f" {_DIM}[{where}]{_RESET}" if where else ""
        else:
            rule = f.rule
            suffix = f" [{where}]" if where else ""
        where_in_file = f.file if f.line is None else f"{f.file}:{f.line}:{f.column}"
        lines.append(f"{where_in_file}: {severity} {rule}: {f.message}{suffix}")
    if not quiet:
        lines.append(summary_line(result, findings, config))
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(result: LintResult, findings: list[Finding], config: Config, **_: object) -> str:
    totals = counts(findings)
    document = {
        "version": 1,
        "findings": [
            {
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
                "fixable": fixable(f, config),
            }
            for f in findings
        ],
        "summary": {
            **result.read_counts(),
            "objects": result.objects,
            "errors": totals["error"],
            "warnings": totals["warning"],
            "infos": totals["info"],
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


Renderer = Callable[..., str]
FORMATS: dict[str, Renderer] = {"text": render_text, "json": render_json}
