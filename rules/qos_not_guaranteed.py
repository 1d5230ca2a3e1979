"""The pod is Burstable: requests differ from limits (reported per container concerned).

Guaranteed pods (every container with cpu and memory limits equal to its requests) get
`oom_score_adj` -997 and are the last to be killed or evicted under node memory pressure.
For critical workloads raise this rule to `warning` or `error` in the config.

Severity `info`: shown with `--min-severity info`.

**Fix:** set each memory (and cpu) request equal to its limit.

PASS:
```yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {cpu: "1", memory: 2Gi}
```

FAIL:
```yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16
          resources:
            requests: {cpu: 500m, memory: 1Gi}
            limits: {cpu: "1", memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, has, positive, quantity
from oomguard.rules.config import Config
from oomguard.rules.fixes import set_value
from oomguard.rules.model import Problem
from oomguard.rules.qos import QOS_RESOURCES, guaranteed_gaps, pod_qos
from oomguard.rules.quantity import QuantityError, parse_quantity
from oomguard.rules.workload import Workload

ID = "qos-not-guaranteed"
SEVERITY = "info"
SUMMARY = "the pod is Burstable (requests ≠ limits); raise for critical workloads"
FIX = "add"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    if not workload.complete_pod or pod_qos(workload) != "Burstable":
        return
    reasons: dict[str | None, list[str]] = {}
    for name, reason in guaranteed_gaps(workload):
        reasons.setdefault(name, []).append(reason)
    for name, gaps in reasons.items():
        container = workload.container(name) if name is not None else None
        if container is None:
            yield Problem(
                f"the pod is Burstable, not Guaranteed: pod-level {', '.join(gaps)}",
                (*workload.pod_path, "resources"),
            )
            continue
        limits = container.resources.get("limits", {})
        fix = tuple(
            set_value((*container.resources_path, "requests", resource), limits[resource])
            for resource in QOS_RESOURCES
            if resource in limits
            and container.resources.get("requests", {}).get(resource) != limits[resource]
            and _copyable(resource, limits[resource], container)
        )
        yield Problem(
            f"the pod is Burstable, not Guaranteed: {container.label} has {', '.join(gaps)}",
            container.resources_path
            if container.resources_key in container.spec
            else container.path,
            container.name,
            fix,
        )


def _copyable(resource: str, value: object, container) -> bool:
    """Only a valid limit is copied: copying `1GB` or `512m` would add a second error."""
    if resource == "memory":
        return container.limit is not None and container.limit.usable is not None
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the pod is Guaranteed (every cpu and memory limit set, each
    request absent or equal to it; the pod's values when it sets pod-level ones) or
    BestEffort (best-effort-pod's business), as rules/qos.py computes it."""

    def guaranteed(holder: str) -> str:
        return " && ".join(
            f"{positive(holder, 'limits', name)} && (!{has(holder, 'requests', name)} || "
            f"{quantity(holder, 'requests', name)}.compareTo({quantity(holder, 'limits', name)})"
            " == 0)"
            for name in ("cpu", "memory")
        )

    def any_set(holder: str) -> str:
        return " || ".join(
            positive(holder, section, name)
            for section in ("requests", "limits")
            for name in ("cpu", "memory")
        )

    all_guaranteed = f"variables.containers.all(c, {guaranteed('c')})"
    none_set = f"!variables.containers.exists(c, {any_set('c')})"
    expression = (
        f"variables.podLevel ? (({guaranteed(POD)}) || !({any_set(POD)})) : "
        f"({all_guaranteed} || {none_set})"
    )
    return Cel(expression, SUMMARY)
