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

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.heap import headroom_low, node_heap_check
from oomguard.rules.model import Option, Problem
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
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads --max-old-space-size from command lines, scripts and NODE_OPTIONS, beyond what"
    " CEL can parse"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        problem = headroom_low(node_heap_check(container, config))
        if problem is not None:
            yield problem
