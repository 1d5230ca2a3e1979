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

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, node_heap_check
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload

ID = "node-heap-exceeds-limit"
SEVERITY = "error"
SUMMARY = "Node's --max-old-space-size is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads --max-old-space-size from command lines, scripts and NODE_OPTIONS, beyond what"
    " CEL can parse"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        problem = exceeds_limit(node_heap_check(container, config))
        if problem is not None:
            yield problem
