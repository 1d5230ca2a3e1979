"""The JVM's maximum heap leaves too little of the memory limit for everything else.

Above `thresholds.jvm_heap_ratio` (default 0.75) of the limit, metaspace, thread stacks, the
code cache and direct buffers have too little room, and a full heap pushes the process over
the limit. 50–75% is the usual band (`-XX:MaxRAMPercentage=75`). Exactly at the ratio does
not fire. The heap is computed as for `jvm-heap-exceeds-limit` (`MinRAMPercentage` in small
containers, the legacy fraction flags as JDK 8 to 22 read them).

**Fix:** rewrite the flag in place to `jvm_heap_ratio` × limit, rounded down to whole MiB,
and any `-Xms` above that with it; percentage (or fraction) flags above the ratio become
the ratio.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: search}
spec:
  containers:
    - name: search
      image: eclipse-temurin:21-jre
      env:
        - {name: JAVA_TOOL_OPTIONS, value: "-XX:MaxRAMPercentage=75"}
      resources:
        limits: {memory: 4Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: search}
spec:
  containers:
    - name: search
      image: eclipse-temurin:21-jre
      env:
        - {name: JAVA_TOOL_OPTIONS, value: "-XX:MaxRAMPercentage=90"}
      resources:
        limits: {memory: 4Gi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import JVM_INITIAL_HEAP, Cel, heap_headroom, jvm_max_heap_flag, no_mention
from oomguard.rules.config import Config
from oomguard.rules.heap import headroom_low, heap_problems
from oomguard.rules.model import Option, Problem
from oomguard.rules.runtimes.jvm import JVM, MIN_MAX_HEAP_SIZE
from oomguard.rules.text import format_percent
from oomguard.rules.workload import Workload

ID = "jvm-heap-headroom-low"
SEVERITY = "warning"
SUMMARY = "the JVM's max heap is above thresholds.jvm_heap_ratio (default 0.75) of the limit"
FIX = "rewrite"
OPTIONS = (
    Option(
        "jvm_heap_ratio",
        "number",
        0.75,
        exclusive_minimum=0,
        maximum=1,
        description="jvm-heap-headroom-low fires above this share of the limit; fixes set "
        "the JVM's max heap to it (default 0.75).",
    ),
)
EXPLAINS_OOM_KILL = True
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "exported only for a container whose one -Xmx/-XX:MaxHeapSize= (decimal) anywhere is "
    "in a literal JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or _JAVA_OPTIONS (the last occurrence "
    "wins, which CEL cannot order, so two are not judged), with no envFrom, no env from "
    "ConfigMaps or Secrets and no $ expansion; flags on command lines, in shell scripts, in "
    "JAVA_OPTS-style variables, hex sizes, and the heap HotSpot sizes from "
    "Max/MinRAMPercentage, the RAMFraction flags or MaxRAM are left out"
    "; so is a container that mentions -Xms or InitialHeapSize anywhere (an initial heap "
    "above -Xmx raises the heap)"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = JVM
COMPARE = headroom_low


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the one literal -Xmx is at most the ratio of the limit (or
    at or above the limit: the other rule's); judged only with no -Xms anywhere; below
    2 MiB the JVM refuses it (runtime-flag-invalid's)."""
    ratio = config.thresholds.jvm_heap_ratio
    return Cel(
        heap_headroom(
            jvm_max_heap_flag(),
            ratio,
            also=no_mention(JVM_INITIAL_HEAP),
            at_least=MIN_MAX_HEAP_SIZE,
        ),
        f"the JVM's -Xmx is above {format_percent(ratio, 1)} of the memory limit",
    )
