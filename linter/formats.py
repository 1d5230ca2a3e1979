"""The report formats of ``oomguard lint`` and ``oomguard audit``, in one registry: each
name, the module whose import puts its writer in :data:`oomguard.linter.output.FORMATS`
(imported only when the format is chosen: a text run never loads SARIF), and whether its
output is one document on stdout (``--diff`` then goes to stderr). The CLI's ``--format``
choices come from here; a new format is its writer module plus an entry here."""

from __future__ import annotations

from typing import NamedTuple


class ReportFormat(NamedTuple):
    module: str  # importing it registers the writer under the format's name
    document: bool  # one JSON/SARIF document on stdout: nothing else may be printed there


REPORT_FORMATS: dict[str, ReportFormat] = {
    "text": ReportFormat("oomguard.linter.output", document=False),
    "json": ReportFormat("oomguard.linter.output", document=True),
    "sarif": ReportFormat("oomguard.linter.ci_formats", document=True),
    "github": ReportFormat("oomguard.linter.ci_formats", document=False),
}
