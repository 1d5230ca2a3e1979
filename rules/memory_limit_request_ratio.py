"""The memory limit is more than `thresholds.max_limit_request_ratio` (default 2.0) times the
request.

The scheduler reserves the request; the limit is what the container may really use. With a
wide gap the node is overcommitted: when several pods use more than they requested at once,
the node runs out of memory and the kernel kills one of them, even though each stayed under
its own limit.

Options: `thresholds.max_limit_request_ratio` (number, default `2.0`). Exactly at the ratio
does not fire.

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
        requests: {memory: 512Mi}
        limits: {memory: 1Gi}
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
        limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from oomguard.rules.cel import Cel, by_container, has, millibytes, quantity
from oomguard.rules.config import Config
from oomguard.rules.model import Option, Problem
from oomguard.rules.quantity import above_ratio
from oomguard.rules.workload import Workload

ID = "memory-limit-request-ratio"
SEVERITY = "warning"
SUMMARY = "limit / request is above thresholds.max_limit_request_ratio (default 2.0)"
FIX = None
OPTIONS = (
    Option(
        "max_limit_request_ratio",
        "number",
        2.0,
        minimum=1,
        description="memory-limit-request-ratio fires above this limit/request ratio "
        "(default 2.0).",
    ),
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    maximum = config.thresholds.max_limit_request_ratio
    for container in workload.containers:
        request, limit = container.own_memory("requests"), container.own_memory("limits")
        if request is None or limit is None or not request.usable or limit.usable is None:
            continue
        if not above_ratio(limit.usable, request.usable, maximum):  # limit / request > maximum
            continue
        ratio = Fraction(limit.usable, request.usable)  # byte counts may be ints: not `/`
        yield Problem(
            f"memory limit {limit.text} of {container.label} is {float(ratio):.3g}× its "
            f"request {request.text}, above the {float(maximum):g}× maximum: the node is "
            f"overcommitted by the difference",
            limit.path,
            container.name,
        )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: the container's own limit is at most the ratio times its own
    request (compared as floats: CEL's quantities cannot be multiplied)."""
    maximum = float(config.thresholds.max_limit_request_ratio)
    check = (
        f"!({has('c', 'requests')} && {has('c', 'limits')}) || "
        f"{millibytes('c', 'requests')} || {millibytes('c', 'limits')} || "
        f"{quantity('c', 'requests')}.sign() == 0 || "
        f"{quantity('c', 'limits')}.asApproximateFloat() <= "
        f"{maximum!r} * {quantity('c', 'requests')}.asApproximateFloat()"
    )
    return Cel(by_container(check), f"a memory limit is more than {maximum:g}× its request")
