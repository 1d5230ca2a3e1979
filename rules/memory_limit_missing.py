"""A container has no memory limit.

Without `limits.memory` (and no pod-level `spec.resources.limits.memory`), or with a limit of
`0`, which the kubelet treats as no limit at all, a container may grow until the node runs
out of memory; then the kernel's OOM killer picks victims across the node, and a BestEffort
or Burstable pod that did nothing wrong can be the one killed. The limit is also what every
runtime heap setting is measured against.

**LimitRange defaults.** When a LimitRange of the workload's namespace (in the input, in
the cluster for `audit`, or in the webhook's cache when `lookups.limit_ranges` is on) has a
memory `default` for containers, the API server writes that limit into the Pod: the finding
is then `info`, "no limit written; LimitRange "defaults" in namespace shop gives 512Mi", and
the heap rules judge the heap against that limit. A limit of `0` is written, so no default
applies to it. When the namespace's LimitRanges could not be read, the message says so.

**Fix:** set the limit to the request × `fix.limit_ratio` (default 1.0) when there is a
request, else to `defaults.memory_limit` when configured.

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
        requests: {memory: 256Mi}
        limits: {memory: 256Mi}
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
        requests: {memory: 256Mi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, by_container, has, quantity
from oomguard.rules.config import Config
from oomguard.rules.fixes import set_value
from oomguard.rules.model import Problem
from oomguard.rules.text import format_bytes
from oomguard.rules.workload import Workload

ID = "memory-limit-missing"
SEVERITY = "error"
SUMMARY = "a container has no memory limit (and no pod-level limit)"
FIX = "add"
FIX_NEEDS_DEFAULTS = True  # adds the configured defaults.memory_*


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        limit = container.limit
        if limit is not None and (limit.value is None or limit.value.numerator != 0):
            continue  # a limit of 0 sets no cgroup limit at all (the kubelet skips it)
        request = container.request
        fix = ()
        hint = ""
        if request is not None and request.usable:
            value = (
                request.text
                if config.fix_limit_ratio == 1
                else format_bytes(int(request.usable * config.fix_limit_ratio))
            )
            fix = (set_value((*container.resources_path, "limits", "memory"), value),)
            hint = f"; its request is {request.text}"
        elif config.default_memory_limit and (
            request is None or request.value is not None and not request.millibytes
        ):
            # a request that does not parse (or is in millibytes) is reported by its own
            # rule; a default limit beside it could be below what the author meant
            fix = (
                set_value(
                    (*container.resources_path, "limits", "memory"), config.default_memory_limit
                ),
            )
        if limit is not None:
            hint = f" (a limit of {limit.text} means none){hint}"
        defaulted = container.limit_default
        if defaulted is not None:
            limit_range, value = defaulted
            yield Problem(
                f"{container.label}: no limit written; {limit_range.described} gives "
                f"{value.text}{hint}",
                container.path,
                container.name,
                fix,
                severity="info",
            )
            continue
        unread = container.workload.namespace_limit_ranges()[1]
        if unread is not None:
            hint += f"; the namespace's LimitRanges could not be read ({unread})"
        yield Problem(
            f"{container.label} has no memory limit{hint}: it can use the node's memory until "
            f"the OOM killer picks a victim",
            container.path,
            container.name,
            fix,
        )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: every container has a non-zero memory limit, its own or the
    pod's."""
    own = f"{quantity('c', 'limits')}.sign() != 0"
    pod = f"({has(POD, 'limits')} && {quantity(POD, 'limits')}.sign() != 0)"
    return Cel(by_container(f"{has('c', 'limits')} ? {own} : {pod}"), SUMMARY)
