"""A container has neither a memory request nor a memory limit.

The scheduler places pods by their requests. A container with no memory request counts as
needing none, so nodes get overcommitted, and under node memory pressure the kubelet evicts
it early. (A limit alone is fine: the API server defaults the request to the limit.)

When a LimitRange of the namespace gives the container a request (its `defaultRequest`, or
its `default`, `min` or `max` through the API server's defaulting of the LimitRange), the
finding is `info` and names it: "no request written; the defaultRequest of LimitRange
"defaults" in namespace shop gives 256Mi".

**Fix:** set the request to `defaults.memory_request` when configured.

PASS:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
          resources:
            limits: {memory: 128Mi}
```

FAIL:
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, by_container, has
from oomguard.rules.config import Config
from oomguard.rules.fixes import set_value
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload

ID = "memory-request-missing"
SEVERITY = "warning"
SUMMARY = "a container has neither a memory request nor a memory limit"
FIX = "add"
FIX_NEEDS_DEFAULTS = True  # adds the configured defaults.memory_*


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        if container.request is not None or container.limit is not None:
            continue
        fix = ()
        if config.default_memory_request:
            fix = (
                set_value(
                    (*container.resources_path, "requests", "memory"),
                    config.default_memory_request,
                ),
            )
        given = container.effective_request
        if given is not None and given.origin is not None:
            yield Problem(
                f"{container.label}: no request written; {given.origin} gives {given.text}",
                container.path,
                container.name,
                fix,
                severity="info",
            )
            continue
        yield Problem(
            f"{container.label} has no memory request: the scheduler assumes it needs none",
            container.path,
            container.name,
            fix,
        )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: every container has a memory request or limit (its own or
    the pod's)."""
    sources = [has("c", "requests"), has("c", "limits"), has(POD, "requests"), has(POD, "limits")]
    return Cel(by_container(" || ".join(sources)), SUMMARY)
