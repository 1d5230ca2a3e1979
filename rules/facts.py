"""The numbers behind a workload's findings, per container: limit, request, their ratio, the
effective heap of its runtime and what a live cluster saw (last OOM kill, restarts).

Reports that carry structured data beside the message (PolicyReport ``properties``) read
them here, from the same views and heap checks the rules use, so a report never parses a
message. Values are strings, as the reports' schemas want them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from oomguard.rules.config import Config
from oomguard.rules.container_oomkilled import explaining_rules
from oomguard.rules.heap import heap_check
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.text import format_bytes, format_percent
from oomguard.rules.workload import Container, Lookup, Workload, build_workloads, no_lookup


@dataclass(frozen=True)
class Facts:
    """One object: its identity beyond the finding's kind/namespace/name, and per
    (pod template label or None, container name) the numbers, ``{"limit": "1Gi", …}``."""

    api_version: str | None = None
    uid: str | None = None
    containers: dict[tuple[str | None, str], dict[str, str]] = field(default_factory=dict)


def object_facts(
    obj: dict[str, Any],
    config: Config,
    lookup: Lookup = no_lookup,
    observed: dict[str, list[dict[str, Any]]] | None = None,
) -> Facts:
    """The facts of ``obj``; without containers for an object outside the registry."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    api_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else None
    uid = metadata.get("uid") if isinstance(metadata.get("uid"), str) else None
    facts = Facts(api_version, uid)
    if config.registry.lookup(obj) is None:
        return facts
    for view in build_workloads(obj, lookup, config.registry):
        view.observed = observed or {}
        for container in view.containers:
            facts.containers[(view.template, container.name)] = container_facts(
                container, config, view
            )
        view.release()  # break the view <-> container cycles (see engine.check_object)
    return facts


def container_facts(container: Container, config: Config, view: Workload) -> dict[str, str]:
    facts: dict[str, str] = {}
    limit, request = container.limit, container.request
    if limit is not None:
        facts["limit"] = limit.text
    if request is not None:
        facts["request"] = request.text
    if limit is not None and request is not None and limit.usable and request.usable:
        facts["limitRequestRatio"] = f"{float(Fraction(limit.usable, request.usable)):.2f}"
    for runtime in RUNTIMES:
        check = heap_check(runtime, container, config)
        if check is not None:
            facts["heap"] = format_bytes(check.size)
            # the setting is written for a sentence: "-XX:MaxRAMPercentage=100 (…), a heap of 2Gi,"
            facts["heapSetting"] = check.setting.rstrip(",")
            facts["heapShareOfLimit"] = format_percent(check.size, check.limit.usable)
            break
    oom = [r for r in view.observed.get(container.name, ()) if r.get("reason") == "OOMKilled"]
    if oom:  # the same counts as the container-oomkilled message
        facts["oomKills"] = str(len(oom))
        facts["lastOOMKill"] = max(str(r.get("finishedAt") or "") for r in oom) or "unknown"
        facts["restartCount"] = str(sum(int(r.get("restartCount") or 0) for r in oom))
        facts["explainedBy"] = ",".join(explaining_rules(view, container.name, config))
    return facts
