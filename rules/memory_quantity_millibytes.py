"""A memory quantity uses the `m` (milli) suffix.

`m` means thousandths: `512m` of memory is 0.512 **bytes**, not 512 MiB. Kubernetes rounds it
up to one byte, and the container is killed as soon as it starts. The other memory rules
wait for this one to be fixed before they compare the value.

**Fix:** rewrite `m` as `Mi` (`512m` → `512Mi`); `oomguard lint --fix` only, because a
webhook cannot ask the author which unit was meant.

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
        limits: {memory: 512Mi}
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
        limits: {memory: 512m}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.cel import POD, Cel, by_container, has, millibytes
from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.workload import Workload, memory_values

ID = "memory-quantity-millibytes"
SEVERITY = "error"
SUMMARY = "a memory quantity uses the m (milli) suffix: 512m is 0.512 bytes"
FIX = "rewrite"
FIX_IN_ADMISSION = False  # guesses the author's intent from the text: lint --fix only


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for label, name, value in memory_values(workload):
        if value.value is not None and value.millibytes:
            fixed = value.text[:-1] + "Mi"
            yield Problem(
                f"memory {value.path[-2][:-1]} {value.text} of {label} is {float(value.value):g} "
                f"bytes (m means milli); did you mean {fixed}?",
                value.path,
                name,
                ({"op": "replace", "path": value.path, "value": fixed},),
            )


def cel(config: Config) -> Cel:
    """For ``oomguard export``: no memory request or limit, of a container or of the pod,
    ends in ``m`` (canonical quantities: a fraction of a byte always does)."""

    def clean(holder: str) -> str:
        return " && ".join(
            f"!({has(holder, section)} && {millibytes(holder, section)})"
            for section in ("requests", "limits")
        )

    return Cel(f"{by_container(clean('c'))} && {clean(POD)}", SUMMARY)
