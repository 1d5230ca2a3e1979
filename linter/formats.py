"""The report formats of ``oomguard lint`` and ``oomguard audit``, in one registry: each
name, the module whose import puts its writer in :data:`oomguard.linter.output.FORMATS`
(imported only when the format is chosen: a text run never loads SARIF), whether its output
is one document on stdout (``--diff`` then goes to stderr), whether it is Kubernetes objects
that ``audit --apply`` can apply, and the commands that offer it. The CLI's ``--format``
choices come from here; a new format is its writer module plus an entry here.

Plain data with no imports, so the argument parser can read the choices without loading any
writer."""

from __future__ import annotations

from typing import NamedTuple

OUTPUT = "oomguard.linter.output"
CI = "oomguard.linter.ci_formats"
REPORTS = "oomguard.linter.policy_report"


class ReportFormat(NamedTuple):
    module: str  # importing it registers the writer under the format's name
    document: bool  # one JSON/SARIF/YAML document on stdout: nothing else may be printed there
    applyable: bool = False  # Kubernetes objects: `audit --apply` can apply them
    commands: tuple[str, ...] = ("lint", "audit")


REPORT_FORMATS: dict[str, ReportFormat] = {
    "text": ReportFormat(OUTPUT, document=False),
    "json": ReportFormat(OUTPUT, document=True),
    "sarif": ReportFormat(CI, document=True),
    "github": ReportFormat(CI, document=False),
    "policyreport": ReportFormat(REPORTS, document=True, applyable=True),
    "openreports": ReportFormat(REPORTS, document=True, applyable=True),
}

APPLYABLE_FORMATS = frozenset(name for name, fmt in REPORT_FORMATS.items() if fmt.applyable)


def format_choices(command: str) -> tuple[str, ...]:
    """The ``--format`` choices of ``command``, in the order above."""
    return tuple(name for name, fmt in REPORT_FORMATS.items() if command in fmt.commands)
