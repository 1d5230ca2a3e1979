"""A fixed heap size is at or above a memory limit the VPA that sets the container's memory
may give it.

With `controlledValues: RequestsAndLimits` (the default) a VerticalPodAutoscaler keeps the
written limit/request ratio: the limit it sets is the recommended request × limit ÷
request, and it holds the recommended request between the container policy's `minAllowed`
and `maxAllowed` (kubernetes/autoscaler vertical-pod-autoscaler,
`pkg/utils/vpa/limit_and_request_scaling.go` `getProportionalResourceLimit`,
`pkg/utils/vpa/capping.go` `maybeCapToPolicyMin` / `maybeCapToPolicyMax`). A heap written
as a number (`-Xmx`, `GOMEMLIMIT`, `--max-old-space-size`, `GCHeapHardLimit`) does not
follow; the rule compares it with those limits:

* at or above the limit at `maxAllowed`, the largest VPA may set: every Pod VPA updates is
  killed (exit 137), whatever it recommends (error);
* at or above the limit at the VPA's current recommendation (`status.recommendation`
  `upperBound`, then `target`, known in `oomguard audit` and the webhook): the Pods VPA
  updates now are killed (error);
* at or above the limit at `minAllowed`, the smallest VPA may set: the Pods are killed when
  VPA scales the container down, when it is idle (warning).

With `RequestsOnly` the limit stays as written and the heap rules of the runtime judge it;
with no limit (written, or a LimitRange default) VPA sets none.

**Fix:** size the heap as a share of the limit (`-XX:MaxRAMPercentage`,
`--max-old-space-size-percentage`, `DOTNET_GCHeapHardLimitPercent`, a `GOMEMLIMIT` derived
at start; see `vpa-heap-fixed`), or raise `minAllowed` / `maxAllowed` so that every limit VPA
may set holds the heap and its off-heap memory.

PASS:
```yaml
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: orders}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        minAllowed: {memory: 2Gi}
        maxAllowed: {memory: 4Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  template:
    spec:
      containers:
        - name: orders
          image: eclipse-temurin:21-jre
          command: [java, -Xmx1g, -jar, /app/orders.jar]
          resources:
            requests: {memory: 2Gi}
            limits: {memory: 2Gi}
```

FAIL:
```yaml
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: orders}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        maxAllowed: {memory: 2Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  template:
    spec:
      containers:
        - name: orders
          image: eclipse-temurin:21-jre
          command: [java, -Xmx3g, -jar, /app/orders.jar]
          resources:
            requests: {memory: 4Gi}
            limits: {memory: 4Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from oomguard.rules.config import Config
from oomguard.rules.limit_ranges import Bound
from oomguard.rules.model import Problem
from oomguard.rules.text import format_bytes
from oomguard.rules.vpa import REQUESTS_ONLY, ContainerPolicy, Vpa
from oomguard.rules.vpa_heap_fixed import fixed_heap
from oomguard.rules.workload import Container, Workload

ID = "vpa-heap-exceeds-limit"
SEVERITY = "error"
SUMMARY = "a fixed heap size at or above a memory limit the VerticalPodAutoscaler may set"
FIX = None
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs the VerticalPodAutoscaler that targets the workload, and the heap flags"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    vpa = workload.vpa()
    if vpa is None or not vpa.active:
        return
    for container in workload.containers:
        if (
            not vpa.resizes_memory(container.name)
            or vpa.policy(container.name).controlled_values == REQUESTS_ONLY
        ):
            continue
        fixed = fixed_heap(container, config)
        scale = limit_scale(container)
        if fixed is None or scale is None:
            continue
        setting, path, advice, size = fixed
        found = _first_exceeded(vpa, container, scale, size)
        if found is None:
            continue
        when, limit, severity = found
        yield Problem(
            f"{setting} is {format_bytes(size)}, at or above the {format_bytes(limit)} memory "
            f"limit {vpa.described} gives {container.label} {when}: heap plus off-heap "
            f"memory passes the limit and the kernel kills the container (exit 137); {advice}, "
            f"or raise the VPA's bounds",
            path,
            container.name,
            severity=severity,
        )


def limit_scale(container: Container) -> tuple[Fraction, Fraction | None] | None:
    """(limit, request) as the VPA reads them (the written limit, else the LimitRange's
    default; the request, else none), or None when the VPA sets no limit: no limit, or a
    pod-level one (VPA scales containers' resources)."""
    limit = container.effective_limit
    if limit is None or not limit.usable or limit.pod_level:
        return None
    request = container.request
    value = request.usable if request is not None and not request.pod_level else None
    return limit.usable, value or None


def vpa_limit(scale: tuple[Fraction, Fraction | None], recommended: Fraction) -> int:
    """The limit VPA sets for a recommended request (``getProportionalResourceLimit``: no
    request, or one equal to the limit, gives the request; else limit × recommended ÷
    request, in whole bytes rounded down as ``scaleQuantityProportionallyMem`` does)."""
    limit, request = scale
    if request is None or request == limit:
        return int(recommended)
    return int(limit * int(recommended) // request)


def _first_exceeded(
    vpa: Vpa, container: Container, scale: tuple[Fraction, Fraction | None], size: int
) -> tuple[str, int, str] | None:
    """(when, the limit, severity) of the first bound whose limit the heap reaches, most
    certain first: maxAllowed, the current target, minAllowed."""
    policy = vpa.policy(container.name)
    target, upper = (_capped(b, policy) for b in vpa.recommendation(container.name))
    candidates = (
        (policy.max_allowed, "at its maxAllowed", "the largest it may set", "error"),
        (upper, "at its recommendation's upperBound", "the most it now recommends", "error"),
        (target, "at its current target", "the Pods it updates now", "error"),
        (policy.min_allowed, "at its minAllowed", "when it scales the container down", "warning"),
    )
    for bound, at, meaning, severity in candidates:
        if bound is None:
            continue
        limit = vpa_limit(scale, bound.value)
        if size >= limit:
            return f"{at} {bound.text} ({_how(scale, bound)}; {meaning})", limit, severity
    return None


def _capped(recommended: Bound | None, policy: ContainerPolicy) -> Bound | None:
    """A recommendation as VPA applies it: held between minAllowed and maxAllowed."""
    if recommended is None:
        return None
    value = recommended.value
    if policy.min_allowed is not None:
        value = max(value, policy.min_allowed.value)
    if policy.max_allowed is not None:
        value = min(value, policy.max_allowed.value)
    return Bound(recommended.text if value == recommended.value else format_bytes(value), value)


def _how(scale: tuple[Fraction, Fraction | None], bound: Bound) -> str:
    limit, request = scale
    if request is None or request == limit:
        return "the limit follows the request"
    return f"{bound.text} × the written limit/request {format_bytes(limit)}/{format_bytes(request)}"
