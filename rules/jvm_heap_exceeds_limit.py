"""The JVM's maximum heap is at or above the container's memory limit.

The heap is only part of a JVM's memory: metaspace, code cache, thread stacks, GC structures
and direct buffers come on top. With `-Xmx` (or `-XX:MaxHeapSize`, or
`-XX:MaxRAMPercentage` ≥ 100) at the limit, the process passes the cgroup limit as the heap
fills and the kernel kills it with SIGKILL (exit 137) without a Java `OutOfMemoryError`.
Flags are read in the JVM's own order: `JAVA_TOOL_OPTIONS`, `JDK_JAVA_OPTIONS`, the command
line (including `$JAVA_OPTS` where the command expands it), `_JAVA_OPTIONS`; the last wins.
An initial heap (`-Xms`, `-XX:InitialHeapSize`) larger than the max heap raises the max heap
to it, so it is judged the same way (both on the command line, the JVM refuses instead:
`runtime-flag-invalid`).

Without `-Xmx` the heap is what HotSpot's `Arguments::set_heap_size` picks: in a small
container (`MinRAMPercentage`, default 50%, of the limit below the default max heap of
124.8Mi) `-XX:MinRAMPercentage` sizes the heap *instead of* `-XX:MaxRAMPercentage`, and
above that the heap is `MaxRAMPercentage` of the limit but at least 124.8Mi. Findings name
the flag that decides and the heap it gives.

The legacy `-XX:MaxRAMFraction=n` / `-XX:MinRAMFraction=n` (heap = limit / n, so `1` is
100%) are judged as JDK 8 to 22 apply them, since we cannot know the JDK version and those
are the JDKs most people run; JDK 23 ignores them (obsolete, JDK-8324771) and later JDKs
refuse to start on them, which the message says.

Options: `thresholds.jvm_heap_ratio` (default 0.75) sets the fixed value.

**Fix:** rewrite the flag in place to `jvm_heap_ratio` × limit, rounded down to whole MiB
(`-Xmx2g` → `-Xmx1536m` for a 2Gi limit), and lower any `-Xms` above that to the same
value (an initial heap above the max stops the JVM at start). Percentages: each of
`MaxRAMPercentage`/`MinRAMPercentage` above the ratio is rewritten to it (a fraction flag
becomes the percentage, which every JDK since 8u191 reads); none when `-XX:MaxRAM` is set.

PASS:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  template:
    spec:
      containers:
        - name: orders
          image: eclipse-temurin:21-jre
          command: [java, -Xmx1536m, -jar, /app/orders.jar]
          resources:
            limits: {memory: 2Gi}
```

FAIL:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  template:
    spec:
      containers:
        - name: orders
          image: eclipse-temurin:21-jre
          command: [java, -Xmx2g, -jar, /app/orders.jar]
          resources:
            limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from oomguard.rules.cel import Cel, heap_exceeds, jvm_max_heap_flag
from oomguard.rules.config import Config
from oomguard.rules.heap import exceeds_limit, heap_problems
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.jvm import JVM, MIN_MAX_HEAP_SIZE
from oomguard.rules.workload import Workload

ID = "jvm-heap-exceeds-limit"
SEVERITY = "error"
SUMMARY = "the JVM's effective max heap is at or above the container memory limit"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# what `oomguard export` leaves out (rules/cel.py: the policy judges the rest)
CEL_REASON = (
    "exported only for a container whose one -Xmx/-XX:MaxHeapSize= (decimal) anywhere is "
    "in a literal JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or _JAVA_OPTIONS (the last occurrence "
    "wins, which CEL cannot order, so two are not judged), with no envFrom, no env from "
    "ConfigMaps or Secrets and no $ expansion; flags on command lines, in shell scripts, in "
    "JAVA_OPTS-style variables, hex sizes, and the heap HotSpot sizes from "
    "Max/MinRAMPercentage, the RAMFraction flags or MaxRAM are left out"
)

# the runtime whose heap it judges, and how (rules/heap.py)
RUNTIME = JVM
COMPARE = exceeds_limit


def check(workload: Workload, config: Config) -> list[Problem]:
    return heap_problems(RUNTIME, COMPARE, workload, config)


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the one literal -Xmx is below the limit. An -Xms only raises
    the max heap (jvm.effective_jvm_heap), so an -Xmx at or above the limit is a finding
    whatever -Xms says; below 2 MiB the JVM refuses it (runtime-flag-invalid's)."""
    return Cel(
        heap_exceeds(jvm_max_heap_flag(), at_least=MIN_MAX_HEAP_SIZE),
        "the JVM's -Xmx is at or above the memory limit",
    )
