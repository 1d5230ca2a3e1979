"""The one list of output formats: each name, the module whose import registers its writer in
:data:`oomguard.linter.output.FORMATS`, and the commands that offer it.

Plain data with no imports, so ``oomguard``'s argument parser can read the choices without
loading any writer: a format's module is imported only when it is asked for.
"""

from __future__ import annotations

OUTPUT = "oomguard.linter.output"
CI = "oomguard.linter.ci_formats"
REPORTS = "oomguard.linter.policy_report"

# name -> (module that registers the writer, commands offering it)
FORMAT_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "text": (OUTPUT, ("lint", "audit")),
    "json": (OUTPUT, ("lint", "audit")),
    "sarif": (CI, ("lint", "audit")),
    "github": (CI, ("lint", "audit")),
    "policyreport": (REPORTS, ("lint", "audit")),
    "openreports": (REPORTS, ("lint", "audit")),
}

# formats that are Kubernetes objects: ``audit --apply`` can apply them to the cluster
APPLYABLE_FORMATS = frozenset(
    name for name, (module, _) in FORMAT_MODULES.items() if module == REPORTS
)

# formats whose stdout is one machine-read document (a diff must go to stderr)
DOCUMENT_FORMATS = frozenset({"json", "sarif", "policyreport", "openreports"})


def format_choices(command: str) -> tuple[str, ...]:
    """The ``--format`` choices of ``command``, in the order above."""
    return tuple(name for name, (_, commands) in FORMAT_MODULES.items() if command in commands)
