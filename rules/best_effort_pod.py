"""The pod is BestEffort: no container sets any cpu or memory request or limit.

BestEffort pods get `oom_score_adj` 1000: under node memory pressure they are the first
processes the kernel kills and the first pods the kubelet evicts. QoS is computed as
Kubernetes does, over init and regular containers (ephemeral containers excluded), or from
pod-level `spec.resources` when it is set.

**Fix:** through `memory-limit-missing` and `memory-request-missing`, when `defaults` are
configured.

A LimitRange of the namespace that gives containers a default request or limit (memory or
cpu) makes the Pod the API server admits Burstable or Guaranteed: no finding then.

PASS:
```yaml
apiVersion: batch/v1
kind: Job
metadata: {name: report}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: example/report:2
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {memory: 64Mi}
```

FAIL:
```yaml
apiVersion: batch/v1
kind: Job
metadata: {name: report}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: example/report:2
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, positive
from oomguard.rules.config import Config
from oomguard.rules.fixes import set_value
from oomguard.rules.model import Problem
from oomguard.rules.qos import pod_qos
from oomguard.rules.workload import Workload

ID = "best-effort-pod"
SEVERITY = "error"
SUMMARY = "no container in the pod sets any cpu or memory request or limit (QoS BestEffort)"
FIX = "add"
FIX_NEEDS_DEFAULTS = True  # adds the configured defaults.memory_*


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    if not workload.complete_pod or pod_qos(workload) != "BestEffort":
        return
    if _defaulted_by_limit_range(workload):
        return
    fix = []
    for container in workload.containers:
        if config.default_memory_request:
            fix.append(
                set_value(
                    (*container.resources_path, "requests", "memory"),
                    config.default_memory_request,
                )
            )
        if config.default_memory_limit:
            fix.append(
                set_value(
                    (*container.resources_path, "limits", "memory"), config.default_memory_limit
                )
            )
    count = len(workload.containers)
    yield Problem(
        f"the pod is BestEffort: none of its {count} container{'s' if count > 1 else ''} "
        f"sets a cpu or memory request or limit, so it is the first killed under memory "
        f"pressure (oom_score_adj 1000)",
        (*workload.pod_path, "containers"),
        None,
        tuple(fix),
    )


def _defaulted_by_limit_range(workload: Workload) -> bool:
    """A LimitRange of the namespace gives the containers a request or limit (memory, or
    cpu): the Pod the API server admits is not BestEffort (rules/limit_ranges.py)."""
    if any(r.cpu_defaults for r in workload.namespace_limit_ranges()[0]):
        return True
    return any(
        value is not None and value.origin is not None and value.usable
        for container in workload.containers
        for value in (container.effective_limit, container.effective_request)
    )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: some cpu or memory request or limit is set (above zero), on
    the pod when it sets pod-level values, else on a container (rules/qos.py)."""

    def any_set(holder: str) -> str:
        return " || ".join(
            positive(holder, section, name)
            for section in ("requests", "limits")
            for name in ("cpu", "memory")
        )

    containers = f"variables.containers.exists(c, {any_set('c')})"
    return Cel(f"variables.podLevel ? ({any_set(POD)}) : {containers}", SUMMARY)
