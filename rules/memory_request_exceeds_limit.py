"""A memory request is greater than the memory limit.

The API server rejects such a pod (`must be less than or equal to memory limit`); on a
controller the error only appears later, as a ReplicaSet or Job that silently fails to create
pods. Checked per container and for pod-level `spec.resources`.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: cache}
spec:
  containers:
    - name: redis
      image: redis:7
      resources:
        requests: {memory: 512Mi}
        limits: {memory: 1Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: cache}
spec:
  containers:
    - name: redis
      image: redis:7
      resources:
        requests: {memory: 2Gi}
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.quantity import less
from oomguard.rules.text import format_percent
from oomguard.rules.workload import Workload

ID = "memory-request-exceeds-limit"
SEVERITY = "error"
SUMMARY = "a memory request is greater than its limit (the API server rejects it)"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "the API server rejects such a Pod itself (and a controller's Pods with it); the "
    "webhook and lint catch it in the template before that"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    pairs = [
        (c.label, c.name, c.own_memory("requests"), c.own_memory("limits"))
        for c in workload.containers
    ]
    pairs.append(("the pod", None, workload.pod_memory("requests"), workload.pod_memory("limits")))
    for label, name, request, limit in pairs:
        if request is None or limit is None or request.usable is None or limit.usable is None:
            continue
        if less(limit.usable, request.usable):
            share = ""
            if limit.usable:  # a limit of 0 is compared too, but has no percentage
                share = f" ({format_percent(request.usable, limit.usable)} of it)"
            yield Problem(
                f"memory request {request.text} of {label} is greater than its limit "
                f"{limit.text}{share}; the API server rejects this pod",
                request.path,
                name,
            )
