"""A Go program or a JVM runs with a memory limit but no heap setting.

The Go runtime ignores the cgroup limit unless `GOMEMLIMIT` is set, so its GC lets the heap
grow past the limit. A JVM without `-Xmx`/`-XX:MaxRAMPercentage` takes 25% of the limit for
its heap and wastes the rest; in a small container HotSpot uses `MinRAMPercentage` (50%)
instead below a 249.6Mi limit, and at least its default max heap (124.8Mi) up to 499.2Mi, and
the message gives that figure. The evidence (command or image) is named in the message; Node
and .NET are not checked because their defaults follow the limit.

Severity `info`: shown with `--min-severity info`.

**Fix:** add `GOMEMLIMIT` (`thresholds.go_memlimit_ratio` × limit) or
`-XX:MaxRAMPercentage` (`thresholds.jvm_heap_ratio`) in `JAVA_TOOL_OPTIONS`, with
`-XX:MinRAMPercentage` at the same value where the limit is small enough that
`MaxRAMPercentage` alone would change nothing; applied by the
mutating webhook only when listed in `mutate`, by `--fix` only when listed in `fix.enable`.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: eclipse-temurin:21-jre
      command: [java, -XX:MaxRAMPercentage=75, -jar, app.jar]
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
      image: eclipse-temurin:21-jre
      command: [java, -jar, app.jar]
      resources:
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.workload import Workload

ID = "runtime-heap-unset"
SEVERITY = "info"
SUMMARY = "a Go program with a limit but no GOMEMLIMIT, or a JVM with no heap setting"
FIX = "add"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "recognises runtimes from images and command lines, beyond what CEL can parse"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        if not container.limit_bytes or container.env.unresolved_sources:
            continue  # an envFrom source we cannot read may hold the setting
        for runtime in RUNTIMES:  # each says what it runs with unset (JVM, Go; Node, .NET: no)
            problem = runtime.unset(container, config)
            if problem is not None:
                yield problem
