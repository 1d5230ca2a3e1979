"""`GOMEMLIMIT` leaves too little of the memory limit for memory Go does not manage.

Above `thresholds.go_memlimit_ratio` (default 0.9) of the limit, goroutine stacks, cgo
allocations and the runtime's own overhead can push the process over the limit before the GC
reacts. Exactly at the ratio does not fire.

**Fix:** set `GOMEMLIMIT` to `go_memlimit_ratio` × limit in MiB.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: worker}
spec:
  containers:
    - name: worker
      image: example/worker:1
      env:
        - {name: GOMEMLIMIT, value: 460MiB}
      resources:
        limits: {memory: 512Mi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: worker}
spec:
  containers:
    - name: worker
      image: example/worker:1
      env:
        - {name: GOMEMLIMIT, value: 500MiB}
      resources:
        limits: {memory: 512Mi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import Cel, go_memlimit_flag, heap_headroom
from oomguard.rules.config import Config
from oomguard.rules.heap import headroom_low, heap_problems
from oomguard.rules.model import Option, Problem
from oomguard.rules.runtimes.go import GO
from oomguard.rules.text import format_percent
from oomguard.rules.workload import Workload

ID = "go-memlimit-headroom-low"
SEVERITY = "warning"
SUMMARY = "GOMEMLIMIT is above thresholds.go_memlimit_ratio (default 0.9) of the limit"
FIX = "rewrite"
OPTIONS = (
    Option(
        "go_memlimit_ratio",
        "number",
        0.9,
        exclusive_minimum=0,
        maximum=1,
        description="go-memlimit-headroom-low fires above this share of the limit; fixes set "
        "GOMEMLIMIT to it (default 0.9).",
    ),
)
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "GOMEMLIMIT from valueFrom (resourceFieldRef, ConfigMaps, Secrets), envFrom or $(VAR) "
    "expansion, and a name written twice in env (the kubelet keeps the last), are not "
    "exported: CEL sees no resolved environment"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = GO
COMPARE = headroom_low


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: a literal GOMEMLIMIT in Go's grammar is at most the ratio
    of the limit (or at or above the limit: the other rule's)."""
    ratio = config.thresholds.go_memlimit_ratio
    return Cel(
        heap_headroom(go_memlimit_flag(), ratio),
        f"GOMEMLIMIT is above {format_percent(ratio, 1)} of the memory limit",
    )
