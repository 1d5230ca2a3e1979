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
from fractions import Fraction

from oomguard.rules.config import Config
from oomguard.rules.fixes import set_env, target_bytes
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.go import format_gomemlimit, go_settings
from oomguard.rules.runtimes.jvm import (
    DEFAULT_MAX_HEAP_SIZE,
    DEFAULT_MIN_RAM_PERCENTAGE,
    JvmSettings,
    default_heap,
    ergonomic_max_heap,
    jvm_settings,
)
from oomguard.rules.text import format_bytes, format_percent
from oomguard.rules.workload import Container, Workload

ID = "runtime-heap-unset"
SEVERITY = "info"
SUMMARY = "a Go program with a limit but no GOMEMLIMIT, or a JVM with no heap setting"
FIX = "add"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "recognises runtimes from images and command lines, beyond what CEL can parse"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        limit = container.limit_bytes
        if not limit or container.env.unresolved_sources:
            continue  # an envFrom source we cannot read may hold the setting
        jvm = container.derive(jvm_settings)
        # command text not read may set the heap (runtime-flag-unresolved says so)
        unread = container.commands.unread
        if jvm.evidence and not jvm.unresolved and not jvm.sets_heap and not unread:
            percent = format_percent(config.thresholds.jvm_heap_ratio, 1).rstrip("%")
            flags = _jvm_flags(limit, percent)
            yield Problem(
                f"{container.label} runs a JVM ({jvm.evidence}) with no heap setting: the "
                f"default heap is {_default_heap_text(jvm, container)}; set {' '.join(flags)}",
                container.path,
                container.name,
                _jvm_fix(container, " ".join(flags)),
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


def _default_heap_text(settings: JvmSettings, container: Container) -> str:
    """What HotSpot picks with no flag (``Arguments::set_heap_size``), said plainly."""
    limit = container.limit
    heap, basis = default_heap(settings, Fraction(limit.usable))
    size = format_bytes(int(heap))
    small = format_bytes(2 * DEFAULT_MAX_HEAP_SIZE)  # where MinRAMPercentage's 50% meets it
    if basis == "MaxRAMPercentage":
        return f"25% of the {limit.text} limit ({size})"
    if basis == "MinRAMPercentage":
        return (
            f"50% of the {limit.text} limit ({size}): below {small} "
            f"the JVM uses MinRAMPercentage, not MaxRAMPercentage"
        )
    return (
        f"{size}, {format_percent(heap, limit.usable)} of the {limit.text} limit (the JVM's "
        f"default max heap, the least it picks above {small})"
    )


def _jvm_flags(limit: int, percent: str) -> list[str]:
    """-XX:MaxRAMPercentage, plus -XX:MinRAMPercentage where MaxRAMPercentage alone would not
    give that share (the small-memory rule, or the 124.8Mi floor, decides there)."""
    share = Fraction(percent)
    flags = [f"-XX:MaxRAMPercentage={percent}"]
    heap, _ = ergonomic_max_heap(Fraction(limit), share, DEFAULT_MIN_RAM_PERCENTAGE)
    if heap != limit * share / 100:
        flags.append(f"-XX:MinRAMPercentage={percent}")
    return flags


def _jvm_fix(container: Container, flag: str) -> tuple:
    existing = container.env.get("JAVA_TOOL_OPTIONS")
    if existing is not None and existing.literal and existing.value:
        return set_env(container, "JAVA_TOOL_OPTIONS", f"{existing.value} {flag}")
    if existing is not None and not existing.literal:
        return ()
    return set_env(container, "JAVA_TOOL_OPTIONS", flag)
