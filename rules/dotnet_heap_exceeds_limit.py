"""The effective .NET GC heap hard limit is at or above the container's memory limit.

`DOTNET_GCHeapHardLimit` (or `COMPlus_GCHeapHardLimit`) is a byte count written in
**hexadecimal**: `209715200` is read as 0x209715200, about 8 GiB. A hard limit at or above
the cgroup limit means the GC never reacts before the kernel kills the process.
`GCHeapHardLimitPercent` (hex too) applies when no absolute limit is set.

Options: `thresholds.dotnet_heap_ratio` (default 0.75) sets the fixed value.

**Fix:** rewrite the value to `dotnet_heap_ratio` × limit, in hexadecimal.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: mcr.microsoft.com/dotnet/aspnet:8.0
      env:
        - {name: DOTNET_GCHeapHardLimit, value: "0x30000000"}
      resources:
        limits: {memory: 1Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: mcr.microsoft.com/dotnet/aspnet:8.0
      env:
        - {name: DOTNET_GCHeapHardLimit, value: "209715200"}
      resources:
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, heap_problems
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.dotnet import DOTNET
from oomguard.rules.workload import Workload

ID = "dotnet-heap-exceeds-limit"
SEVERITY = "error"
SUMMARY = "the effective .NET GC heap hard limit is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads the .NET GC settings from env (hex values, ConfigMaps), beyond what CEL can resolve"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = DOTNET
COMPARE = exceeds_limit


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)
