"""Pod QoS class, computed as Kubernetes computes it (``ComputePodQOS``).

cpu and memory over init and regular containers (ephemeral excluded); a quantity counts only
when it is greater than zero. Requests are taken after API defaulting (a resource with only a
limit gets a request equal to it), because that is the pod that will run, even though a
controller's template is stored undefaulted. When pod-level ``spec.resources`` is set, the
class comes from the pod-level values.

A cpu or memory value that is present but does not parse (``4gi``, ``1GB``, a mapping) makes
the class ``Unknown``: the API server rejects the pod, ``memory-quantity-invalid`` (or
``manifest-invalid``) says why, and no rule may treat the value as absent — a fix that adds
a default over ``4gi`` would replace a 4 GiB intent with 256Mi.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

from oomguard.rules.quantity import QuantityError, parse_quantity, same
from oomguard.rules.workload import Workload

QOS_RESOURCES = ("cpu", "memory")


def pod_qos(workload: Workload) -> str:
    """``Guaranteed``, ``Burstable``, ``BestEffort``, or ``Unknown`` when a value is unreadable
    (worked out once per view: several rules ask)."""
    return workload.derive(_pod_qos)


def _pod_qos(workload: Workload) -> str:
    if unreadable_values(workload):
        return "Unknown"
    return (
        "Guaranteed"
        if not guaranteed_gaps(workload)
        else ("BestEffort" if _best_effort(workload) else "Burstable")
    )


def guaranteed_gaps(workload: Workload) -> tuple[tuple[str | None, str], ...]:
    """Why the pod is not Guaranteed: (container name or None for the pod, reason) pairs
    (worked out once per view: the QoS class and qos-not-guaranteed both ask)."""
    return workload.derive(_guaranteed_gaps)


def _guaranteed_gaps(workload: Workload) -> tuple[tuple[str | None, str], ...]:
    if workload.pod_resources.get("requests") or workload.pod_resources.get("limits"):
        return tuple((None, reason) for reason in _gaps(workload.pod_resources))
    gaps = []
    for container in workload.containers:
        gaps.extend((container.name, reason) for reason in _gaps(container.resources))
    if not workload.containers:
        gaps.append((None, "it has no containers"))
    return tuple(gaps)


def _best_effort(workload: Workload) -> bool:
    sources = (
        [workload.pod_resources]
        if (workload.pod_resources.get("requests") or workload.pod_resources.get("limits"))
        else [c.resources for c in workload.containers]
    )
    return not any(
        _positive(resources.get(section, {}).get(name))
        for resources in sources
        for section in ("requests", "limits")
        for name in QOS_RESOURCES
    )


def _gaps(resources: dict[str, dict[str, Any]]) -> list[str]:
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    gaps = []
    for name in QOS_RESOURCES:
        limit = _positive(limits.get(name))
        request = _positive(requests.get(name)) if name in requests else limit
        if limit is None:
            gaps.append(f"no {name} limit")
        elif not same(request, limit):
            gaps.append(f"{name} request {requests.get(name)} ≠ limit {limits.get(name)}")
    return gaps


def unreadable_values(workload: Workload) -> list[tuple[str | None, str, str, Any]]:
    """cpu and memory values written but not parsable: (container or None, section,
    resource, value)."""
    found = []
    owners = [(None, workload.pod_resources)] + [(c.name, c.resources) for c in workload.containers]
    for owner, resources in owners:
        for section in ("requests", "limits"):
            values = resources.get(section, {})
            for name in QOS_RESOURCES:
                if name in values and values[name] is not None and not _parses(values[name]):
                    found.append((owner, section, name, values[name]))
    return found


def _parses(raw: Any) -> bool:
    if type(raw) is str and len(raw) <= _CACHED_TEXT:  # most values: the cached answer
        return _text_parses(raw)
    try:
        parse_quantity(raw)
    except QuantityError:
        return False
    return True


def _positive(raw: Any) -> Fraction | None:
    if type(raw) is str and len(raw) <= _CACHED_TEXT:  # most values: the cached answer
        return _text_positive(raw)
    if raw is None:
        return None
    try:
        value = parse_quantity(raw)
    except QuantityError:
        return None
    return value if value.numerator > 0 else None


# The QoS walks read each cpu and memory value of a pod two or three times (unreadable
# values, the gaps, BestEffort), and manifests repeat a few quantities: the answers for
# strings are cached (a Fraction is immutable), which skips two Python calls per read. Only
# short strings: a webhook worker must not keep thousands of long hostile values.
_CACHED_TEXT = 64


@lru_cache(maxsize=4096)
def _text_parses(raw: str) -> bool:
    try:
        parse_quantity(raw)
    except QuantityError:
        return False
    return True


@lru_cache(maxsize=4096)
def _text_positive(raw: str) -> Fraction | None:
    try:
        value = parse_quantity(raw)
    except QuantityError:
        return None
    # a Fraction's sign is its numerator's (the denominator is kept positive), and comparing
    # the int skips Fraction's pure-Python comparison
    return value if value.numerator > 0 else None
