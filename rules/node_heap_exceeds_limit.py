"""Node's `--max-old-space-size` is at or above the container's memory limit.

The flag sizes V8's old generation in MiB; young generation, code, buffers and native
memory come on top. At or above the cgroup limit, the process is OOMKilled before V8 reports
`heap out of memory`. Read from the `node` command line and `NODE_OPTIONS` (the command line
wins); `--max-old-space-size-percentage` takes precedence.

Options: `thresholds.node_heap_ratio` (default 0.75) sets the fixed value.

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
      command: [node, --max-old-space-size=768, server.js]
      resources:
        limits: {memory: 1Gi}
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
      command: [node, --max-old-space-size=4096, server.js]
      resources:
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import Cel, heap_exceeds, node_heap_flag
from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, heap_problems
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.node import NODE
from oomguard.rules.workload import Workload

ID = "node-heap-exceeds-limit"
SEVERITY = "error"
SUMMARY = "Node's --max-old-space-size is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "exported only for a container whose one --max-old-space-size=N anywhere is in a "
    "literal NODE_OPTIONS, with no envFrom, no env from ConfigMaps or Secrets and no $ "
    "expansion; flags on node command lines (which win over NODE_OPTIONS), in scripts, "
    "and --max-old-space-size-percentage are left out"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = NODE
COMPARE = exceeds_limit


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the one literal --max-old-space-size is below the limit."""
    return Cel(
        heap_exceeds(node_heap_flag()), "--max-old-space-size is at or above the memory limit"
    )
