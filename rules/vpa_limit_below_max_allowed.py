"""A VPA with `controlledValues: RequestsOnly` may raise the memory request past the limit it
leaves as written.

With `RequestsOnly` a VerticalPodAutoscaler sets the memory request from its recommendation
and keeps the written limit. When the container needs more than that limit, VPA's
recommendation (up to `maxAllowed`, unbounded without one) rises, but the limit does not: the
container is killed at the limit (exit 137) however much VPA recommends, again and again (a
public Loki incident had a VPA target above a static limit). The rule fires when the
container's `maxAllowed` memory is above its written limit, or when there is no `maxAllowed`.

**Fix:** raise the limit to at least `maxAllowed` (or lower `maxAllowed` to the limit), or
let VPA scale the limit with `controlledValues: RequestsAndLimits`.

PASS:
```yaml
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: ingester}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: ingester}
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        controlledValues: RequestsOnly
        maxAllowed: {memory: 4Gi}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ingester}
spec:
  template:
    spec:
      containers:
        - name: ingester
          image: grafana/loki:3.0.0
          resources:
            requests: {memory: 2Gi}
            limits: {memory: 4Gi}
```

FAIL:
```yaml
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: ingester}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: ingester}
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        controlledValues: RequestsOnly
        maxAllowed: {memory: 8Gi}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ingester}
spec:
  template:
    spec:
      containers:
        - name: ingester
          image: grafana/loki:3.0.0
          resources:
            requests: {memory: 2Gi}
            limits: {memory: 4Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.vpa import REQUESTS_ONLY
from oomguard.rules.workload import Workload

ID = "vpa-limit-below-max-allowed"
SEVERITY = "warning"
SUMMARY = "a RequestsOnly VPA may raise the memory request past the limit it leaves as written"
FIX = None
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs the VerticalPodAutoscaler that targets the workload"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    vpa = workload.vpa()
    if vpa is None or not vpa.active:
        return
    for container in workload.containers:
        policy = vpa.policy(container.name)
        limit = container.limit
        if (
            not vpa.resizes_memory(container.name)
            or policy.controlled_values != REQUESTS_ONLY
            or limit is None
            or not limit.usable
        ):
            continue
        maximum = policy.max_allowed
        if maximum is not None and maximum.value <= limit.usable:
            continue
        bound = (
            f"up to its maxAllowed {maximum.text}"
            if maximum is not None
            else "with no maxAllowed to bound it"
        )
        advice = (
            f"raise the limit to at least {maximum.text}"
            if maximum is not None
            else "set maxAllowed memory to the limit"
        )
        yield Problem(
            f"{vpa.described} with controlledValues RequestsOnly may raise the memory request "
            f"of {container.label} {bound}, but leaves its {limit.text} limit: past "
            f"{limit.text} the container is killed (exit 137) however much VPA recommends; "
            f"{advice}, or use controlledValues RequestsAndLimits",
            limit.path,
            container.name,
        )
