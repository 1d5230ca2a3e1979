"""A heap sized at start in a container whose memory may be resized in place.

With in-place Pod resize (Kubernetes 1.33+, beta) a running container's memory limit
changes without a restart when its `resizePolicy` for memory is `NotRequired` (the default
when none is written). The JVM, Go, Node and .NET size their heap when they start: from an
absolute flag (`-Xmx`, `GOMEMLIMIT`, `--max-old-space-size`, `GCHeapHardLimit`) or from the
limit they see then (`-XX:MaxRAMPercentage`, `--max-old-space-size-percentage`,
`GCHeapHardLimitPercent`, a `GOMEMLIMIT` from the downward API, which is an environment
variable set once). After a resize the heap still fits the old limit: a smaller limit kills
the container (exit 137) as the heap fills; a larger one goes unused.

It fires when such a container's memory can be resized in place: its memory `resizePolicy`
is written as `NotRequired`, or a VerticalPodAutoscaler in the input resizes it in place
(`updateMode: InPlaceOrRecreate` or `InPlace`) and its memory `resizePolicy` is not
`RestartContainer`.

**Fix:** `resizePolicy: [{resourceName: memory, restartPolicy: RestartContainer}]`, so the
runtime starts again with the new limit.

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
          command: [java, -XX:MaxRAMPercentage=75.0, -jar, /app/orders.jar]
          resizePolicy:
            - {resourceName: memory, restartPolicy: RestartContainer}
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
          command: [java, -XX:MaxRAMPercentage=75.0, -jar, /app/orders.jar]
          resizePolicy:
            - {resourceName: memory, restartPolicy: NotRequired}
          resources:
            limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Path, Problem
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.vpa_heap_fixed import fixed_heap
from oomguard.rules.workload import Container, Workload

ID = "heap-resize-in-place"
SEVERITY = "warning"
SUMMARY = "a heap sized at start in a container whose memory limit may be resized in place"
FIX = None
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "reads the runtimes' heap flags (env, scripts, ConfigMaps), beyond what CEL can parse"

RESTART = "RestartContainer"
NOT_REQUIRED = "NotRequired"
IN_PLACE_MODES = frozenset({"InPlaceOrRecreate", "InPlace"})


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    vpa = workload.vpa()
    for container in workload.containers:
        if container.init and container.spec.get("restartPolicy") != "Always":
            continue  # a run-to-completion init container is not resized
        policy, policy_path = memory_resize_policy(container)
        if policy == RESTART:
            continue
        if policy == NOT_REQUIRED:
            why = f"its memory resizePolicy is {NOT_REQUIRED}"
        elif (
            vpa is not None
            and vpa.update_mode in IN_PLACE_MODES
            and vpa.resizes_memory(container.name)
        ):
            why = f"{vpa.described} resizes it in place (no memory resizePolicy: {NOT_REQUIRED})"
        else:
            continue
        sized = start_sized_heap(container, config)
        if sized is None:
            continue
        setting, path = sized
        yield Problem(
            f"the memory limit of {container.label} may change while it runs ({why}), but "
            f"{setting} sizes the heap once, at start: after a resize it still fits the old "
            f"limit (a smaller one: killed, exit 137; a larger one: unused); set the memory "
            f"resizePolicy to restartPolicy: {RESTART}",
            path if policy != NOT_REQUIRED else policy_path,
            container.name,
        )


def memory_resize_policy(container: Container) -> tuple[str | None, Path]:
    """The container's ``resizePolicy`` restartPolicy for memory, as written, and where."""
    entries = container.spec.get("resizePolicy")
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("resourceName") == "memory":
                policy = entry.get("restartPolicy")
                path = (*container.path, "resizePolicy", index)
                return (policy if isinstance(policy, str) else None), path
    return None, container.path


def start_sized_heap(container: Container, config: Config) -> tuple[str, Path] | None:
    """A heap setting the runtime reads only at start: (described, where), or None. An
    absolute size of any runtime first, then a share of the limit."""
    fixed = fixed_heap(container, config)
    if fixed is not None:
        return fixed[0], fixed[1]
    for runtime in RUNTIMES:
        sized = runtime.start_sized(container)
        if sized is not None:
            return sized
    return None
