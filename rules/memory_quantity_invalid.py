"""A memory quantity does not parse as a Kubernetes quantity.

Kubernetes accepts plain numbers, decimals, exponents (`129e6`), binary suffixes
`Ki Mi Gi Ti Pi Ei` and decimal suffixes `k M G T P E`. Anything else (`1GB`, `512 Mi`,
`1.5gi`, a negative size) is rejected by the API server, so the workload never runs.

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
        limits: {memory: 1GB}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload, memory_values

ID = "memory-quantity-invalid"
SEVERITY = "error"
SUMMARY = "a memory quantity does not parse (the API server rejects it)"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "the API server rejects a quantity it cannot parse before any admission policy sees the object"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for label, name, value in memory_values(workload):
        if value.error is not None and not isinstance(value.raw, dict | list):
            # a mapping or list is manifest-invalid (reported where the shape is checked)
            yield Problem(
                f"memory {value.path[-2][:-1]} of {label}: {value.error} (write e.g. 512Mi or 1Gi)",
                value.path,
                name,
            )
