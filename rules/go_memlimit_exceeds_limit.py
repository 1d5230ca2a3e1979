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

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, go_heap_check
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload

ID = "go-memlimit-exceeds-limit"
SEVERITY = "error"
SUMMARY = "GOMEMLIMIT is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads GOMEMLIMIT from env ($(VAR) expansion, ConfigMaps) with Go's size grammar, "
    "beyond what CEL can parse"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        problem = exceeds_limit(go_heap_check(container, config))
        if problem is not None:
            yield problem
