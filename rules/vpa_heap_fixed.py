"""A heap size is written as a fixed number in a workload whose memory a VPA sets.

A VerticalPodAutoscaler in any `updateMode` but `Off` (`Auto`, the default, `Recreate`,
`InPlaceOrRecreate`, `InPlace`, and `Initial`, which sets the resources when a Pod is
created) writes the Pods' memory request (and, with `controlledValues: RequestsAndLimits`,
the default, the limit too, keeping their ratio) from its recommendation. A heap size
written in the template (`-Xmx2g`, `GOMEMLIMIT=1800MiB`, `--max-old-space-size=1536`,
`GCHeapHardLimit`) does not follow: after VPA lowers the limit the heap is sized past it
and the kernel kills the container (exit 137); after VPA raises it the new memory goes
unused, and VPA, seeing no growth, may lower it again. GKE's documentation calls VPA not
ready for JVM workloads for this reason (kubernetes/autoscaler #5029, #4086).

**Fix:** size the heap as a share of the limit the Pod gets: `-XX:MaxRAMPercentage` for the
JVM, `--max-old-space-size-percentage` for Node, `DOTNET_GCHeapHardLimitPercent` for .NET;
for Go, a `GOMEMLIMIT` derived at start from the limit (the downward API's `limits.memory`
through `env[].valueFrom.resourceFieldRef`, lowered by a start script, or a library that
reads the cgroup limit). No automatic fix: the share is the author's call.

VPAs are read from the input (same namespace as the workload, or no namespace on both),
matched by `spec.targetRef` kind and name; a container whose policy is `mode: Off`, or whose
`controlledResources` leave out memory, is not resized.

PASS:
```yaml
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: orders}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}
  updatePolicy: {updateMode: Recreate}
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
          command: [java, -XX:MaxRAMPercentage=75.0, -jar, /app/orders.jar]
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
  updatePolicy: {updateMode: Recreate}
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
          command: [java, -Xmx1536m, -jar, /app/orders.jar]
          resources:
            requests: {memory: 2Gi}
            limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.runtimes.base import FixedHeap
from oomguard.rules.workload import Container, Workload

ID = "vpa-heap-fixed"
SEVERITY = "warning"
SUMMARY = "a fixed heap size in a workload whose memory a VerticalPodAutoscaler sets"
FIX = None
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs the VerticalPodAutoscaler that targets the workload, and the heap flags"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    vpa = workload.vpa()
    if vpa is None or not vpa.active:
        return
    for container in workload.containers:
        if not vpa.resizes_memory(container.name):
            continue
        fixed = fixed_heap(container, config)
        if fixed is None:
            continue
        setting, path, advice, _size = fixed
        yield Problem(
            f"{vpa.described} sets the memory of {container.label}, but {setting} is a fixed "
            f"size: the heap does not follow the limit VPA gives the Pod (below it: killed, "
            f"exit 137; above it: unused memory); {advice}",
            path,
            container.name,
        )


def fixed_heap(container: Container, config: Config) -> FixedHeap | None:
    """(the setting as written, where, what to use instead, its size in bytes) of an
    absolute heap size: the first runtime's that has one."""
    for runtime in RUNTIMES:
        fixed = runtime.fixed(container, config)
        if fixed is not None:
            return fixed
    return None
