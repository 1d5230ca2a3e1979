"""A heap flag's value cannot be known from the input.

The value comes from a ConfigMap or Secret that is not in the linted files (or, in the
webhook, not readable), or from `resourceFieldRef: limits.memory` on a container without a
limit (which resolves to the node's allocatable memory). An `envFrom` source that is not in
the input is reported for a container that evidently runs a JVM or a Go program with no
visible heap setting: the source may hold it (`runtime-heap-unset` stays silent then).
oomguard cannot check what it cannot see; lint the ConfigMap together with the workload to
have it checked. A variable expanded into a `java` command line (`java $(OPTS)`,
`sh -c 'exec java $OPTS …'`) whose value is unknown is reported whatever its name: the
heap flag may be in it (variables set from a pod field, such as `status.podIP`, are not).
Command text oomguard does not read is reported too, once per container with a count: an
argument whose `$(VAR)` expansion passes what Linux passes to a program or the object's
budget, a shell script past that budget (or past 64 KiB, of which the start is read).

Severity `info`: shown with `--min-severity info`.

PASS:
```yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: jvm}
data: {JAVA_TOOL_OPTIONS: "-XX:MaxRAMPercentage=70"}
---
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: eclipse-temurin:21-jre
      env:
        - name: JAVA_TOOL_OPTIONS
          valueFrom:
            configMapKeyRef: {name: jvm, key: JAVA_TOOL_OPTIONS}
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
      env:
        - name: JAVA_TOOL_OPTIONS
          valueFrom:
            configMapKeyRef: {name: jvm, key: JAVA_TOOL_OPTIONS}
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

ID = "runtime-flag-unresolved"
SEVERITY = "info"
SUMMARY = "a heap flag's value comes from a ConfigMap/Secret not in the input (or not readable)"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "needs ConfigMap and Secret look-ups, which an admission policy cannot make"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        values = sorted(
            (value for runtime in RUNTIMES for value in runtime.of(container).unresolved),
            key=_written_order,
        )
        seen = set()
        for value in values:
            if value.name in seen:
                continue
            seen.add(value.name)
            yield Problem(
                f"{value.origin} in {container.label} cannot be checked: {value.unresolved}",
                value.path or container.path,
                container.name,
            )
        unread = container.commands.unread
        if unread:  # command text not read (too long, budget spent): one finding, the rest counted
            first = unread[0]
            more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
            yield Problem(
                f"{first.origin} of {container.label} cannot be checked: {first.unresolved}{more}",
                first.path or container.path,
                container.name,
            )
        if values or not container.env.unresolved_sources:
            continue
        evidence = _unset_heap_evidence(container)
        if evidence:
            # a JVM or Go program with no visible heap setting: it may sit in the source
            sources = ", ".join(container.env.unresolved_sources)
            # an entry says "(cannot be read: …)" when the source exists but was refused
            missing = (
                "is not available" if "(cannot be read: " in sources else "is not in the input"
            )
            yield Problem(
                f"envFrom {sources} of {container.label} {missing}, so the heap "
                f"settings of the program it runs ({evidence}) cannot be checked",
                (*container.path, "envFrom"),
                container.name,
            )


def _written_order(value) -> tuple[bool, int]:
    """Values in the order the container's ``env`` writes them (as ``lint`` prints them),
    values from ``envFrom`` after, in runtime order (the sort is stable)."""
    index = value.path[-1] if value.path else None
    return (not isinstance(index, int), index if isinstance(index, int) else 0)


def _unset_heap_evidence(container) -> str | None:
    """Why a runtime runs here, when no heap setting of it is visible (the first such)."""
    for runtime in RUNTIMES:
        settings = runtime.of(container)
        if settings.evidence and not settings.sets_heap:
            return settings.evidence
    return None
