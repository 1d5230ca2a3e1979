"""`GOMEMLIMIT` is at or above the container's memory limit.

`GOMEMLIMIT` is a soft limit on the memory the Go runtime manages; the GC works harder only as
the heap approaches it. Set at (or above) the cgroup limit, the kernel kills the process
before the GC reacts, and memory outside the Go heap (cgo, mmap, stacks) is not counted at
all. A common cause is `valueFrom.resourceFieldRef: {resource: limits.memory}`, which copies
the limit itself.

Options: `thresholds.go_memlimit_ratio` (default 0.9) sets the fixed value.

**Fix:** set `GOMEMLIMIT` to `go_memlimit_ratio` × limit in MiB (`GOMEMLIMIT=1843MiB` for 2Gi).

PASS:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway}
spec:
  template:
    spec:
      containers:
        - name: gateway
          image: example/gateway:3
          env:
            - {name: GOMEMLIMIT, value: 900MiB}
          resources:
            limits: {memory: 1Gi}
```

FAIL:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway}
spec:
  template:
    spec:
      containers:
        - name: gateway
          image: example/gateway:3
          env:
            - name: GOMEMLIMIT
              valueFrom:
                resourceFieldRef: {resource: limits.memory}
          resources:
            limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import Cel, go_memlimit_copies_limit, go_memlimit_flag, heap_exceeds
from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, heap_problems
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.go import GO
from oomguard.rules.workload import Workload

ID = "go-memlimit-exceeds-limit"
SEVERITY = "error"
SUMMARY = "GOMEMLIMIT is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "GOMEMLIMIT from ConfigMaps, Secrets, envFrom, $(VAR) expansion, resourceFieldRef with "
    "a divisor or on another container's or the pod's limit, and a name written twice in "
    "env (the kubelet keeps the last), are not exported: CEL sees no resolved environment"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = GO
COMPARE = exceeds_limit


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: a literal GOMEMLIMIT in Go's grammar is below the limit, and
    no GOMEMLIMIT copies the container's own limit through resourceFieldRef."""
    return Cel(
        f"{heap_exceeds(go_memlimit_flag())} && {go_memlimit_copies_limit()}",
        "GOMEMLIMIT is at or above the memory limit",
    )
