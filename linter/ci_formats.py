"""CI output formats: ``sarif`` (SARIF 2.1.0, for code scanning) and ``github`` (workflow
commands that GitHub Actions turns into annotations on the pull request).

Importing this module registers both in :data:`oomguard.linter.output.FORMATS`; the CLI does
so only when one of them is asked for. Rule metadata comes from the catalogue, as for
``oomguard rules``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from oomguard import __version__
from oomguard.linter.output import (
    FORMATS,
    Shown,
    json_nested,
    object_label,
    summary_line,
    write_json_list,
)
from oomguard.linter.run import STDIN_NAME, LintResult
from oomguard.rules import CATALOGUE
from oomguard.rules.catalogue_docs import help_uri, rule_help
from oomguard.rules.config import Config
from oomguard.rules.engine import rule_enabled, rule_severity
from oomguard.rules.model import Finding
from oomguard.rules.text import printable

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}
INFORMATION_URI = "https://github.com/oomguard/oomguard"
SOURCE_ROOT = "%SRCROOT%"


# --------------------------------------------------------------------------- SARIF


def write_sarif(out: TextIO, result: LintResult, shown: Shown, config: Config, **_: object) -> None:
    """The results come last in the log but the invocation before them tells how the run
    ended, so they are rendered into a spool file (disk past a few MiB) as they arrive."""
    rule_index = {rule.ID: index for index, rule in enumerate(CATALOGUE)}
    with tempfile.SpooledTemporaryFile(
        _SPOOL_BYTES, "w+", encoding="utf-8", errors="surrogatepass"
    ) as results:
        write_json_list(
            results, (_sarif_result(f, can_fix, rule_index) for f, can_fix in shown), depth=3
        )
        run = {
            "tool": {
                "driver": {
                    "name": "oomguard",
                    "version": __version__,
                    "semanticVersion": __version__,
                    "informationUri": INFORMATION_URI,
                    "rules": [_rule_descriptor(rule, config) for rule in CATALOGUE],
                }
            },
            "invocations": [_invocation(result)],
            "originalUriBaseIds": {SOURCE_ROOT: {"uri": Path.cwd().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": [],
        }
        log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
        # "results" is the last key of the last object: its placeholder is the last match
        head, tail = json_nested(log, depth=0).rsplit('"results": []', 1)
        out.write(head + '"results": ')
        results.seek(0)
        shutil.copyfileobj(results, out)
        out.write(tail + "\n")


_SPOOL_BYTES = 4 * 2**20


def _rule_descriptor(rule, config: Config) -> dict:
    documentation = rule_help(rule)
    title = documentation.split("\n", 1)[0].strip() or rule.SUMMARY
    return {
        "id": rule.ID,
        "name": "".join(part.capitalize() for part in rule.ID.split("-")),
        "shortDescription": {"text": rule.SUMMARY},
        "fullDescription": {"text": title},
        "help": {"text": documentation, "markdown": documentation},
        "helpUri": help_uri(rule),
        "defaultConfiguration": {
            "enabled": rule_enabled(rule.ID, config),
            "level": SARIF_LEVELS[rule_severity(rule.ID, config)],
        },
        "properties": {
            "tags": ["kubernetes", "memory", "reliability"],
            "fix": rule.FIX or "none",
        },
    }


def _invocation(result: LintResult) -> dict:
    notifications = (
        [
            {"level": "error", "message": {"text": f"cannot read {problem}"}}
            for problem in result.unreadable
        ]
        + [
            {"level": "error", "message": {"text": f"internal error: {crash}"}}
            for crash in result.crashes
        ]
        + [{"level": "note", "message": {"text": notice}} for notice in result.notices]
    )
    invocation: dict = {"executionSuccessful": not result.crashes and not result.unreadable}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _sarif_result(finding: Finding, can_fix: bool, rule_index: dict[str, int]) -> dict:
    location: dict = {}
    if _has_file_position(finding):
        location["physicalLocation"] = {
            "artifactLocation": _artifact(finding.file),
            "region": {"startLine": finding.line, "startColumn": finding.column or 1},
        }
    elif _file_only(finding):  # a rendered object traced to its template, not to a line
        location["physicalLocation"] = {"artifactLocation": _artifact(finding.file)}
    logical = _object_name(finding)
    if logical:
        location["logicalLocations"] = [
            {"fullyQualifiedName": logical, "kind": "object" if not finding.container else "member"}
        ]
    sarif: dict = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": SARIF_LEVELS[finding.severity],
        "message": {"text": _message_with_object(finding)},
        "locations": [location] if location else [],
        "partialFingerprints": {"oomguard/v1": _fingerprint(finding)},
        "properties": {"fixable": can_fix},
    }
    return sarif


def _artifact(path: str) -> dict:
    """A relative URI under %SRCROOT% (the working directory) when possible, else file://."""
    relative = _relative(path)
    if os.path.isabs(relative):
        return {"uri": Path(relative).as_uri()}
    return {"uri": quote(Path(relative).as_posix()), "uriBaseId": SOURCE_ROOT}


def _fingerprint(finding: Finding) -> str:
    """Stable across runs and unrelated edits: no line numbers, no message numbers."""
    key = "\0".join(
        str(part)
        for part in (
            finding.rule,
            _relative(finding.file or ""),
            finding.kind,
            finding.namespace,
            finding.name,
            finding.container,
            # only when set: fingerprints of objects with one pod template stay as they were
            *((finding.template,) if finding.template else ()),
        )
    )
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --------------------------------------------------------------------------- GitHub


def write_github(
    out: TextIO,
    result: LintResult,
    shown: Shown,
    config: Config,
    *,
    quiet: bool = False,
    **_: object,
) -> None:
    for finding, _fixable in shown:
        properties = {}
        if _has_file_position(finding):
            properties = {
                "file": _relative(finding.file).replace(os.sep, "/"),
                "line": str(finding.line),
                "col": str(finding.column or 1),
            }
        elif _file_only(finding):
            properties = {"file": _relative(finding.file).replace(os.sep, "/")}
        properties["title"] = f"oomguard {finding.rule}"
        rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
        command = GITHUB_COMMANDS[finding.severity]
        message = escape_data(_message_with_object(finding))
        out.write(f"::{command} {rendered}::{message}\n")
    if not quiet:
        out.write(summary_line(result, shown) + "\n")


def escape_data(text: str) -> str:
    """Workflow-command message escaping (as in @actions/core ``escapeData``): ``%``, CR
    and LF are encoded (GitHub shows the line breaks inside the annotation); then every other
    control character is made visible (:func:`printable`), since the Actions log interprets
    ANSI escapes and a raw one would hide or fake lines."""
    encoded = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(encoded)


def escape_property(text: str) -> str:
    """Workflow-command property escaping (``escapeProperty``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# --------------------------------------------------------------------------- shared


def _has_file_position(finding: Finding) -> bool:
    return (
        finding.file not in (None, STDIN_NAME)
        and finding.line is not None
        # a rendered value from Helm's --set is placed at "<--set>", which is no file
        and not (finding.rendered_from and finding.file.startswith("<"))
    )


def _file_only(finding: Finding) -> bool:
    """A finding of a rendered chart or overlay placed at a file without a line (its
    template or resource file; ``<--set>`` is no file)."""
    return (
        finding.rendered_from is not None
        and finding.file is not None
        and finding.line is None
        and not finding.file.startswith("<")
    )


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it is inside it (CI checks out the
    repository there), without a leading ``./``."""
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:
            return path
        return path if relative.startswith("..") else relative
    return path.removeprefix("./")


def _object_name(finding: Finding) -> str:
    if not finding.kind:
        return ""
    name = finding.object_ref
    if finding.template:
        name = f"{name}/{finding.template}"
    return f"{name}/{finding.container}" if finding.container else name


def _message_with_object(finding: Finding) -> str:
    where = object_label(finding)
    return f"{finding.message} [{where}]" if where else finding.message


FORMATS["sarif"] = write_sarif
FORMATS["github"] = write_github
