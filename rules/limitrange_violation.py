"""The API server would reject the Pod: its memory breaks a LimitRange of its namespace.

The LimitRanger admission plugin first fills in the LimitRange defaults (a container's
missing limit from `default`, its missing request from `defaultRequest`), then refuses every
Pod whose containers (and init containers) break an item of type `Container` (`min`, `max`,
`maxLimitRequestRatio`), or whose sum over its containers breaks an item of type `Pod`
(kubernetes plugin/pkg/admission/limitranger/admission.go, `PodLimitFunc`, `minConstraint`,
`maxConstraint`, `limitRequestRatioConstraint`). A `max` also needs a limit and a `min` a
request; a ratio needs both. A default limit below the request written is refused too: a
request may not exceed its limit. A Deployment whose template breaks one is accepted, but
its ReplicaSet can create no Pod: the rollout hangs with `FailedCreate` events.

LimitRanges are read from the input (same namespace as the workload, or no namespace on
both), from the cluster in `oomguard audit`, and from the webhook's cache when
`lookups.limit_ranges` is on. Only memory is judged. A LimitRange memory value that is not
a quantity (which the API server would refuse) is left out, said as a warning.

PASS:
```yaml
apiVersion: v1
kind: LimitRange
metadata: {name: caps, namespace: shop}
spec:
  limits:
    - type: Container
      max: {memory: 1Gi}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: 1Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: LimitRange
metadata: {name: caps, namespace: shop}
spec:
  limits:
    - type: Container
      max: {memory: 1Gi}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from oomguard.rules.config import Config
from oomguard.rules.limit_ranges import CONTAINER, POD, Bound, LimitRange, LimitRangeItem
from oomguard.rules.model import Problem
from oomguard.rules.text import format_bytes
from oomguard.rules.workload import Container, MemoryValue, Workload

ID = "limitrange-violation"
SEVERITY = "error"
SUMMARY = "the API server would reject the Pod: its memory breaks a LimitRange of the namespace"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs the namespace's LimitRanges, which a ValidatingAdmissionPolicy cannot read"

REJECTED = "the API server would reject the Pod"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    ranges = workload.namespace_limit_ranges()[0]
    if not ranges:
        return
    for limit_range in ranges:
        for value in limit_range.problems:
            # never silent: a value we cannot read is said (the API server refuses it)
            yield Problem(
                f"{limit_range.described}: {value} is not a memory quantity the API server "
                "accepts (it would refuse that LimitRange); oomguard leaves that value out",
                workload.pod_path,
                severity="warning",
            )
    containers = [c for c in workload.containers if _readable(c)]
    for container in containers:
        yield from _default_below_request(container)
    for limit_range in ranges:
        for item in limit_range.items:
            if item.type == CONTAINER:
                for container in containers:
                    yield from _container_item(limit_range, item, container)
            elif item.type == POD and len(containers) == len(workload.containers):
                yield from _pod_item(limit_range, item, workload)


def _readable(container: Container) -> bool:
    """Values that do not parse (or are in millibytes) are their own rules' findings."""
    return all(
        value is None or value.usable is not None
        for value in (container.effective_limit, container.effective_request)
    )


def _default_below_request(container: Container) -> Iterator[Problem]:
    limit, request = container.effective_limit, container.effective_request
    if limit is None or request is None or limit.origin is None or request.origin is not None:
        return
    if request.usable > limit.usable:
        yield Problem(
            f"{REJECTED}: {container.label} gets the {limit.text} memory limit from "
            f"{limit.origin}, below its {request.text} request (a request may not exceed its "
            f"limit); write a memory limit of at least {request.text}",
            request.path,
            container.name,
        )


def _container_item(
    limit_range: LimitRange, item: LimitRangeItem, container: Container
) -> Iterator[Problem]:
    limit, request = container.effective_limit, container.effective_request
    for message in _violations(item, "Container", _value(limit), _value(request)):
        where = (limit or request).path if (limit or request) else container.path
        yield Problem(
            f"{REJECTED}: {container.label} breaks {limit_range.described}: {message}"
            f"{_origins(limit, request)}",
            where,
            container.name,
        )


def _pod_item(
    limit_range: LimitRange, item: LimitRangeItem, workload: Workload
) -> Iterator[Problem]:
    """Type Pod: the sum over the containers (absent when one has none), raised to any init
    container's larger value (``PodLimitFunc``, ``sum``)."""
    totals = []
    for effective in (lambda c: c.effective_limit, lambda c: c.effective_request):
        regular = [effective(c) for c in workload.containers if not c.init]
        total: Fraction | None = (
            sum((v.usable for v in regular), Fraction(0))
            if regular and all(v is not None for v in regular)
            else None
        )
        for container in workload.containers:
            value = effective(container)
            if container.init and value is not None and (total is None or value.usable > total):
                total = value.usable
        totals.append(total)
    limit, request = totals
    for message in _violations(item, "Pod", _bytes(limit), _bytes(request)):
        yield Problem(
            f"{REJECTED}: the pod breaks {limit_range.described}: {message}", workload.pod_path
        )


def _violations(
    item: LimitRangeItem, per: str, limit: tuple | None, request: tuple | None
) -> Iterator[str]:
    """The API server's checks of one item, in its words; ``limit``/``request`` are
    (bytes, text) or None when absent."""
    if item.min is not None:
        if request is None:
            yield f"minimum memory usage per {per} is {item.min.text}, but no request is specified"
        elif request[0] < item.min.value:
            yield f"minimum memory usage per {per} is {item.min.text}, but request is {request[1]}"
        elif limit is not None and limit[0] < item.min.value:
            yield f"minimum memory usage per {per} is {item.min.text}, but limit is {limit[1]}"
    if item.max is not None:
        if limit is None:
            yield f"maximum memory usage per {per} is {item.max.text}, but no limit is specified"
        elif limit[0] > item.max.value:
            yield f"maximum memory usage per {per} is {item.max.text}, but limit is {limit[1]}"
        elif request is not None and request[0] > item.max.value:
            yield f"maximum memory usage per {per} is {item.max.text}, but request is {request[1]}"
    if item.max_ratio is not None:
        yield from _ratio(item.max_ratio, per, limit, request)


def _ratio(bound: Bound, per: str, limit: tuple | None, request: tuple | None) -> Iterator[str]:
    said = f"memory max limit to request ratio per {per} is {bound.text}"
    if request is None or request[0] == 0:
        yield f"{said}, but no request is specified or request is 0"
    elif limit is None or limit[0] == 0:
        yield f"{said}, but no limit is specified or limit is 0"
    elif (ratio := Fraction(limit[0], request[0])) > bound.value:  # exact: never `/` on ints
        yield f"{said}, but limit {limit[1]} / request {request[1]} is {float(ratio):.3g}"


def _value(value: MemoryValue | None) -> tuple[Fraction, str] | None:
    return None if value is None else (value.usable, value.text)


def _bytes(total: Fraction | None) -> tuple[Fraction, str] | None:
    return None if total is None else (total, format_bytes(total))


def _origins(limit: MemoryValue | None, request: MemoryValue | None) -> str:
    """Where values nobody wrote come from."""
    said = [
        f"{what} {value.text} is {value.origin}"
        for what, value in (("limit", limit), ("request", request))
        if value is not None and value.origin is not None
    ]
    return f" ({'; '.join(said)})" if said else ""
