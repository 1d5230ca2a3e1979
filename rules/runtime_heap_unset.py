"""A Go program or a JVM runs with a memory limit but no heap setting.

The Go runtime ignores the cgroup limit unless `GOMEMLIMIT` is set, so its GC lets the heap
grow past the limit. A JVM without `-Xmx`/`-XX:MaxRAMPercentage` takes 25% of the limit for
its heap and wastes the rest. The evidence (command or image) is named in the message; Node
and .NET are not checked because their defaults follow the limit.

Severity `info`: shown with `--min-severity info`.

**Fix:** add `GOMEMLIMIT` (`thresholds.go_memlimit_ratio` × limit) or
`-XX:MaxRAMPercentage` (`thresholds.jvm_heap_ratio`) in `JAVA_TOOL_OPTIONS`; applied by the
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
from oomguard.rules.fixes import set_env, target_bytes
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.go import format_gomemlimit, go_settings
from oomguard.rules.runtimes.jvm import jvm_settings
from oomguard.rules.text import format_bytes, format_percent
from oomguard.rules.workload import Container, Workload

ID = "runtime-heap-unset"
SEVERITY = "info"
SUMMARY = "a Go program with a limit but no GOMEMLIMIT, or a JVM with no heap setting"
FIX = "add"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        limit = container.limit_bytes
        if not limit or container.env.unresolved_sources:
            continue  # an envFrom source we cannot read may hold the setting
        jvm = container.derive(jvm_settings)
        if (
            jvm.evidence
            and not jvm.unresolved
            and not any(
                flag.name in ("MaxHeapSize", "MaxRAMPercentage", "MaxRAM") for flag in jvm.flags
            )
        ):
            percent = format_percent(config.thresholds.jvm_heap_ratio, 1).rstrip("%")
            yield Problem(
                f"{container.label} runs a JVM ({jvm.evidence}) with no heap setting: the "
                f"default heap is 25% of the {container.limit.text} limit "
                f"({format_bytes(limit / 4)}); set -XX:MaxRAMPercentage={percent}",
                container.path,
                container.name,
                _jvm_fix(container, percent),
            )
        go = container.derive(go_settings)
        if go.evidence and go.memlimit is None:
            value = format_gomemlimit(
                target_bytes(limit, config.thresholds.go_memlimit_ratio), None
            )
            yield Problem(
                f"{container.label} runs a Go program ({go.evidence}) with a "
                f"{container.limit.text} limit but no GOMEMLIMIT: the Go GC ignores the "
                f"limit; set GOMEMLIMIT={value}",
                container.path,
                container.name,
                set_env(container, "GOMEMLIMIT", value),
            )


def _jvm_fix(container: Container, percent: str) -> tuple:
    flag = f"-XX:MaxRAMPercentage={percent}"
    existing = container.env.get("JAVA_TOOL_OPTIONS")
    if existing is not None and existing.literal and existing.value:
        return set_env(container, "JAVA_TOOL_OPTIONS", f"{existing.value} {flag}")
    if existing is not None and not existing.literal:
        return ()
    return set_env(container, "JAVA_TOOL_OPTIONS", flag)
