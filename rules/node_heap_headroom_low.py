"""Node's `--max-old-space-size` leaves too little of the limit for the rest of the process.

Above `thresholds.node_heap_ratio` (default 0.75) of the limit, new space, code, buffers and
native add-ons can push the process over the limit. Exactly at the ratio does not fire.

**Fix:** rewrite the value to `node_heap_ratio` × limit in MiB.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: web
      image: node:22-slim
      env:
        - {name: NODE_OPTIONS, value: --max-old-space-size=1536}
      resources:
        limits: {memory: 2Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: web
      image: node:22-slim
      env:
        - {name: NODE_OPTIONS, value: --max-old-space-size=1800}
      resources:
        limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import Cel, heap_headroom, node_heap_flag
from oomguard.rules.config import Config
from oomguard.rules.heap import headroom_low, heap_problems
from oomguard.rules.model import Option, Problem
from oomguard.rules.runtimes.node import NODE
from oomguard.rules.text import format_percent
from oomguard.rules.workload import Workload

ID = "node-heap-headroom-low"
SEVERITY = "warning"
SUMMARY = "--max-old-space-size is above thresholds.node_heap_ratio (default 0.75) of the limit"
FIX = "rewrite"
OPTIONS = (
    Option(
        "node_heap_ratio",
        "number",
        0.75,
        exclusive_minimum=0,
        maximum=1,
        description="node-heap-headroom-low fires above this share of the limit; fixes set "
        "--max-old-space-size to it (default 0.75).",
    ),
)
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "exported only for a container whose one --max-old-space-size=N anywhere is in a "
    "literal NODE_OPTIONS, with no envFrom, no env from ConfigMaps or Secrets and no $ "
    "expansion; flags on node command lines (which win over NODE_OPTIONS), in scripts, "
    "and --max-old-space-size-percentage are left out"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = NODE
COMPARE = headroom_low


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the one literal --max-old-space-size is at most the ratio
    of the limit (or at or above the limit: the other rule's)."""
    ratio = config.thresholds.node_heap_ratio
    return Cel(
        heap_headroom(node_heap_flag(), ratio),
        f"--max-old-space-size is above {format_percent(ratio, 1)} of the memory limit",
    )
