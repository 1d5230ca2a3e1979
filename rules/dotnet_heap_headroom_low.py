"""The .NET GC heap hard limit leaves too little of the memory limit for native memory.

Above `thresholds.dotnet_heap_ratio` (default 0.75, also the runtime's own default share)
of the limit, the runtime, JIT, native libraries and thread stacks can push the process over
the limit. Exactly at the ratio does not fire.

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
        - {name: DOTNET_GCHeapHardLimitPercent, value: "0x46"}
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
        - {name: DOTNET_GCHeapHardLimitPercent, value: "0x5A"}
      resources:
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from oomguard.rules.config import Config
from oomguard.rules.heap import headroom_low, heap_problems
from oomguard.rules.model import Option, Problem
from oomguard.rules.runtimes.dotnet import DOTNET
from oomguard.rules.workload import Workload

ID = "dotnet-heap-headroom-low"
SEVERITY = "warning"
SUMMARY = "the .NET GC heap limit is above thresholds.dotnet_heap_ratio (default 0.75) of the limit"
FIX = "rewrite"
OPTIONS = (
    Option(
        "dotnet_heap_ratio",
        "number",
        0.75,
        exclusive_minimum=0,
        maximum=1,
        description="dotnet-heap-headroom-low fires above this share of the limit; fixes set "
        "the .NET GC heap limit to it (default 0.75).",
    ),
)
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads the .NET GC settings from env (hex values, ConfigMaps), beyond what CEL can resolve"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = DOTNET
COMPARE = headroom_low


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)
