"""Report formats for the tools that read Kubernetes policy reports: ``policyreport``
(``wgpolicyk8s.io/v1alpha2`` ``PolicyReport`` / ``ClusterPolicyReport``, read by Kyverno's
Policy Reporter and the Trivy adapters) and ``openreports`` (``openreports.io/v1alpha1``
``Report`` / ``ClusterReport``, its successor with the same result shape).

One report per namespace (named ``oomguard``), one cluster report for cluster-scoped objects;
one result per (workload, pod template, container, rule): two findings of one rule on one
container (two heap flags) are one result with both messages. The numbers behind a finding
(limit, request, ratio, heap, OOM kills) are in the result's ``properties`` when the front
end knows them (``oomguard audit``); lint has no cluster to ask and gives the messages only.

Mapping, per the reports' API (``result``: pass/fail/warn/error/skip; ``warn`` is "not met,
unscored"): ``error`` → ``fail`` with severity ``high``, scored; ``warning`` → ``warn``,
``medium``; ``info`` → ``warn``, ``info``. An info finding is a requirement not met, so it is
no ``pass``; and the rule did run on the object, so it is no ``skip`` either. Only findings
become results: there are no ``pass`` results, and ``summary.pass`` is 0. A namespace that
was audited and has no finding gets an empty report (applying it clears the old results);
a namespace that could not be listed gets none (its old report is left as it was, and the
API error is on stderr).

Importing this module registers both writers in :data:`oomguard.linter.output.FORMATS`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import yaml
from oomguard.linter.output import FORMATS, Shown
from oomguard.linter.run import LintResult
from oomguard.rules import RULES
from oomguard.rules.catalogue_docs import help_uri
from oomguard.rules.config import Config
from oomguard.rules.model import Finding

REPORT_NAME = "oomguard"
SOURCE = "oomguard"
CATEGORY = "memory"
MANAGED_BY = {"app.kubernetes.io/managed-by": "oomguard"}
# oomguard severity -> (result, severity, scored)
MAPPING = {
    "error": ("fail", "high", True),
    "warning": ("warn", "medium", False),
    "info": ("warn", "info", False),
}


@dataclass(frozen=True)
class Flavour:
    api_version: str
    kind: str
    cluster_kind: str
    top_level_source: bool  # openreports has a report-level ``source``


POLICY_REPORT = Flavour("wgpolicyk8s.io/v1alpha2", "PolicyReport", "ClusterPolicyReport", False)
OPEN_REPORTS = Flavour("openreports.io/v1alpha1", "Report", "ClusterReport", True)
FLAVOURS = {"policyreport": POLICY_REPORT, "openreports": OPEN_REPORTS}
FIELD_MANAGER = "oomguard"


def build_reports(
    findings: Iterable[Finding],
    flavour: Flavour,
    *,
    namespaces: Iterable[str] = (),
    cluster_scoped: bool = False,
    facts: dict[int, Any] | None = None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The reports for ``findings``: one per namespace in ``namespaces`` (empty when clean)
    or with a finding, and a cluster report when ``cluster_scoped`` or a finding has no
    namespace. ``facts`` maps ``id()`` of a finding to :class:`oomguard.rules.facts.Facts`
    (audit). With ``cluster_scoped`` False (lint), a finding
    without a namespace goes to a namespaced report without ``metadata.namespace``: applied,
    it lands where the objects would."""
    facts = facts or {}
    stamp = time.time() if now is None else now
    timestamp = {"seconds": int(stamp), "nanos": 0}
    grouped: dict[str | None, dict[tuple, dict[str, Any]]] = {ns: {} for ns in namespaces}
    if cluster_scoped:
        grouped.setdefault(None, {})
    for finding in findings:
        results = grouped.setdefault(finding.namespace, {})
        known = facts.get(id(finding))
        api_version = _api_version(finding, known)  # apps vs kruise StatefulSet
        key = (api_version, finding.kind, finding.name, finding.template, finding.container)
        # lint: two documents are two objects even when they name the same one
        key += (finding.rule, finding.file, finding.document)
        if key in results:
            results[key]["message"] += "; " + finding.message
            continue
        results[key] = _result(finding, known, timestamp)
    reports = []
    for namespace, results in grouped.items():
        cluster = namespace is None and cluster_scoped
        reports.append(_report(flavour, namespace, cluster, list(results.values())))
    return reports


def _report(
    flavour: Flavour, namespace: str | None, cluster: bool, results: list[dict]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": REPORT_NAME, "labels": dict(MANAGED_BY)}
    if namespace is not None:
        metadata["namespace"] = namespace
    report: dict[str, Any] = {
        "apiVersion": flavour.api_version,
        "kind": flavour.cluster_kind if cluster else flavour.kind,
        "metadata": metadata,
    }
    if flavour.top_level_source:
        report["source"] = SOURCE
    if namespace is not None:
        report["scope"] = {"apiVersion": "v1", "kind": "Namespace", "name": namespace}
    report["summary"] = {
        outcome: sum(r["result"] == outcome for r in results)
        for outcome in ("pass", "fail", "warn", "error", "skip")
    }
    report["results"] = results
    return report


def _result(finding: Finding, object_facts: Any, timestamp: dict) -> dict[str, Any]:
    outcome, severity, scored = MAPPING[finding.severity]
    resource: dict[str, str] = {}
    if api_version := _api_version(finding, object_facts):
        resource["apiVersion"] = api_version
    resource["kind"] = finding.kind or ""
    resource["name"] = finding.name or ""
    if finding.namespace:
        resource["namespace"] = finding.namespace
    if object_facts is not None and object_facts.uid:
        resource["uid"] = object_facts.uid
    properties = {"help": help_uri(RULES[finding.rule]), "oomguardSeverity": finding.severity}
    if finding.template:
        properties["template"] = finding.template
    if finding.container:
        properties["container"] = finding.container
        if object_facts is not None:
            numbers = object_facts.containers.get((finding.template, finding.container), {})
            properties.update(numbers)
    return {
        "source": SOURCE,
        "policy": finding.rule,
        "rule": finding.rule,
        "category": CATEGORY,
        "result": outcome,
        "severity": severity,
        "scored": scored,
        "message": finding.message,
        "timestamp": timestamp,
        "resources": [resource],
        "properties": properties,
    }


def _api_version(finding: Finding, object_facts: Any) -> str | None:
    """The server's apiVersion (audit), else the manifest's (lint)."""
    if object_facts is not None and object_facts.api_version:
        return object_facts.api_version
    return finding.api_version


def _writer(flavour: Flavour):
    def write(out: TextIO, result: LintResult, shown: Shown, config: Config, **_: object) -> None:
        """A YAML stream of the reports (``kubectl apply -f -`` reads it). The findings are
        kept until the end: results are grouped per namespace."""
        reports = build_reports(
            (finding for finding, _fixable in shown),
            flavour,
            namespaces=getattr(result, "audited", ()),
            cluster_scoped=getattr(result, "cluster_scoped", False),
            facts=getattr(result, "facts", None),
        )
        yaml.dump_all(
            reports,
            out,
            Dumper=_NoAliases,
            sort_keys=False,
            allow_unicode=True,
            width=1_000_000,
        )

    return write


def report_path(report: dict[str, Any]) -> str:
    """The API path of a report object (the plural of each of these kinds is kind + s)."""
    namespace = report["metadata"].get("namespace")
    where = f"/namespaces/{namespace}" if namespace else ""
    plural = report["kind"].lower() + "s"
    return f"/apis/{report['apiVersion']}{where}/{plural}/{report['metadata']['name']}"


def applying_writer(flavour: Flavour, cluster: Any, problems: list[str]):
    """A writer for ``audit --apply``: the reports go to the cluster by server-side apply
    (field manager ``oomguard``), one line per report on ``out``; failures go to
    ``problems``. Applying the whole report replaces its ``results`` (an atomic list), so
    results of findings that are gone are removed."""
    from oomguard.kube import ApiError

    def write(out: TextIO, result: LintResult, shown: Shown, config: Config, **_: object) -> None:
        reports = build_reports(
            (finding for finding, _fixable in shown),
            flavour,
            namespaces=getattr(result, "audited", ()),
            cluster_scoped=getattr(result, "cluster_scoped", False),
            facts=getattr(result, "facts", None),
        )
        for report in reports:
            namespace = report["metadata"].get("namespace")
            label = f"{report['kind']} {namespace + '/' if namespace else ''}{REPORT_NAME}"
            try:
                cluster.apply(report_path(report), report, FIELD_MANAGER)
            except ApiError as exc:
                hint = ""
                if exc.status == 404:
                    group = report["apiVersion"].partition("/")[0]
                    hint = f" (is the {group} CustomResourceDefinition installed?)"
                problems.append(f"applying {label}: {exc}{hint}")
                continue
            count = len(report["results"])
            out.write(f"applied {label}: {count} result{'' if count == 1 else 's'}\n")

    return write


class _NoAliases(yaml.SafeDumper):
    """Each result spelled out: no ``&id001`` anchors for the shared timestamp."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


write_policyreport = _writer(POLICY_REPORT)
write_openreports = _writer(OPEN_REPORTS)

FORMATS["policyreport"] = write_policyreport
FORMATS["openreports"] = write_openreports
