"""Prometheus gauges of one ``oomguard audit`` run: a text file for node-exporter's textfile
collector or any scrape (``--metrics-file``, written atomically), and/or a push to a
Pushgateway (``--pushgateway``).

Every finding of the run counts, whatever ``--min-severity`` shows. Imported only by
``oomguard audit`` when one of the two flags is given: prometheus_client never loads on the
``oomguard lint`` start-up path.
"""

from __future__ import annotations

from collections import Counter

from oomguard.linter.audit import AuditResult
from oomguard.rules.container_oomkilled import ID as OOMKILLED
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

JOB = "oomguard_audit"


def audit_registry(result: AuditResult, duration_seconds: float, finished_at: float):
    """The gauges of ``result`` in a registry of their own."""
    registry = CollectorRegistry()
    findings = Gauge(
        "oomguard_audit_findings",
        "Findings of the last audit, by namespace, rule and severity",
        ["namespace", "rule", "severity"],
        registry=registry,
    )
    for (namespace, rule, severity), count in Counter(
        (f.namespace or "", f.rule, f.severity) for f in result.findings
    ).items():
        findings.labels(namespace, rule, severity).set(count)
    killed = Gauge(
        "oomguard_audit_oomkilled_containers",
        "Containers OOMKilled (last termination), by namespace and whether a rule explains it",
        ["namespace", "explained"],
        registry=registry,
    )
    kills = Gauge(
        "oomguard_audit_oomkills",
        "OOM kills of one workload's container seen in its pods' status, with the rules "
        "that explain them (explained_by empty: none does)",
        ["namespace", "kind", "name", "container", "explained_by"],
        registry=registry,
    )
    by_explained: Counter = Counter()
    for finding in result.findings:
        if finding.rule != OOMKILLED:
            continue
        facts = result.facts.get(id(finding))
        numbers = (
            facts.containers.get((finding.template, finding.container or ""), {}) if facts else {}
        )
        explained_by = numbers.get("explainedBy", "")
        by_explained[(finding.namespace or "", "true" if explained_by else "false")] += 1
        kills.labels(
            finding.namespace or "", finding.kind or "", finding.name or "",
            finding.container or "", explained_by,
        ).set(int(numbers.get("oomKills", "1")))  # fmt: skip
    for namespace in {ns for ns, _ in by_explained}:
        for explained in ("true", "false"):  # both series, so an alert sees 0 too
            killed.labels(namespace, explained).set(by_explained[(namespace, explained)])
    Gauge(
        "oomguard_audit_api_errors",
        "API errors of the last audit (a namespace, kind or source that could not be read)",
        registry=registry,
    ).set(len(result.api_errors))
    Gauge("oomguard_audit_namespaces", "Namespaces audited in full", registry=registry).set(
        result.namespaces
    )
    Gauge("oomguard_audit_workloads", "Workload objects judged", registry=registry).set(
        result.objects
    )
    Gauge(
        "oomguard_audit_internal_errors",
        "Rule failures (bugs to report) in the last audit",
        registry=registry,
    ).set(len(result.crashes))
    Gauge("oomguard_audit_duration_seconds", "Wall time of the last audit", registry=registry).set(
        duration_seconds
    )
    Gauge(
        "oomguard_audit_last_run_timestamp_seconds",
        "When the last audit finished (Unix time)",
        registry=registry,
    ).set(finished_at)
    return registry


def write_metrics_file(path: str, registry) -> None:
    """The Prometheus text format, atomically (prometheus_client writes a temporary file
    beside ``path`` and renames it): a scrape never reads half a file."""
    write_to_textfile(path, registry)


def push(url: str, registry, timeout: float) -> None:
    """Replace this job's metrics on the Pushgateway at ``url``."""
    push_to_gateway(url, job=JOB, registry=registry, timeout=timeout)


def export(
    result: AuditResult,
    duration_seconds: float,
    finished_at: float,
    metrics_file: str | None,
    pushgateway: str | None,
    timeout: float,
) -> list[str]:
    """Write and/or push the gauges; what failed, one line each (the caller says them)."""
    registry = audit_registry(result, duration_seconds, finished_at)
    problems = []
    if metrics_file:
        try:
            write_metrics_file(metrics_file, registry)
        except OSError as exc:
            problems.append(f"cannot write metrics file {metrics_file}: {exc.strerror or exc}")
    if pushgateway:
        try:
            push(pushgateway, registry, timeout)
        except Exception as exc:  # URLError, HTTPError, ValueError: the push failed, say why
            problems.append(f"cannot push metrics to {pushgateway}: {exc}")
    return problems
