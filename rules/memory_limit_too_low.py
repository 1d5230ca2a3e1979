"""A memory limit is below `thresholds.min_limit` (default 16Mi).

No real process starts in a few MiB: the runtime, shared libraries and the first allocations
pass such a limit at once, and the container is OOMKilled in a restart loop. A tiny limit is
almost always a unit mistake (`16` bytes meant as `16Mi`, `64k` meant as `64Mi`).

Options: `thresholds.min_limit` (quantity, default `16Mi`).

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: 64Mi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: example/api:1.0
      resources:
        limits: {memory: "64"}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, by_container, bytes_literal, has, millibytes, quantity
from oomguard.rules.config import Config
from oomguard.rules.model import Option, Problem
from oomguard.rules.quantity import less
from oomguard.rules.text import format_bytes
from oomguard.rules.workload import Workload

ID = "memory-limit-too-low"
SEVERITY = "warning"
SUMMARY = "a memory limit is below thresholds.min_limit (default 16Mi)"
FIX = None
OPTIONS = (
    Option(
        "min_limit",
        "quantity",
        "16Mi",
        description="memory-limit-too-low fires below this limit (default 16Mi).",
    ),
)
EXPLAINS_OOM_KILL = True


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    minimum = config.thresholds.min_limit
    for container in workload.containers:
        limit = container.limit
        if limit is None or not limit.usable or not less(limit.usable, minimum):
            continue  # 0 is no limit at all: memory-limit-missing reports it
        if limit.pod_level and container is not workload.containers[0]:
            continue  # one pod-level limit, one finding
        yield Problem(
            f"memory limit {limit.text} of {container.label} is {format_bytes(limit.usable)}, "
            f"below the {format_bytes(minimum)} minimum: it will be OOMKilled as it starts",
            limit.path,
            None if limit.pod_level else container.name,
        )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the limit that applies (the container's, else the pod's) is
    zero (no limit: another rule), in millibytes (another rule) or at least the minimum."""
    minimum = bytes_literal(config.thresholds.min_limit)

    def fine(holder: str) -> str:
        return (
            f"({quantity(holder, 'limits')}.sign() == 0 || {millibytes(holder, 'limits')} || "
            f"{quantity(holder, 'limits')}.compareTo(quantity('{minimum}')) >= 0)"
        )

    check = f"{has('c', 'limits')} ? {fine('c')} : (!{has(POD, 'limits')} || {fine(POD)})"
    return Cel(by_container(check), f"a memory limit is below the {minimum} minimum")
