"""`GOGC=off` (or any negative `GOGC`) without `GOMEMLIMIT`.

`GOGC=off` turns the garbage collector off unless a memory limit is reached; Go reads any
negative `GOGC` (`-1`, `-50`) the same way. With no `GOMEMLIMIT` there is no such limit, so
the heap grows until the kernel kills the container.

**Fix:** add `GOMEMLIMIT` = `thresholds.go_memlimit_ratio` × the container's limit (needs a
limit).

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: batch}
spec:
  containers:
    - name: batch
      image: example/batch:1
      env:
        - {name: GOGC, value: "off"}
        - {name: GOMEMLIMIT, value: 900MiB}
      resources:
        limits: {memory: 1Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: batch}
spec:
  containers:
    - name: batch
      image: example/batch:1
      env:
        - {name: GOGC, value: "off"}
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
from oomguard.rules.workload import Workload

ID = "go-gc-off-without-memlimit"
SEVERITY = "error"
SUMMARY = "GOGC=off (or negative) and no GOMEMLIMIT: the heap grows until the kill"
FIX = "add"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads GOGC and GOMEMLIMIT from env ($(VAR) expansion, ConfigMaps), beyond what CEL can resolve"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        settings = container.derive(go_settings)
        if settings.gogc_off is None or settings.memlimit_bytes is not None:
            continue
        if settings.memlimit is not None and (
            settings.memlimit.value is None or settings.memlimit_error
        ):
            continue  # unknown or invalid: runtime-flag-unresolved / -invalid report it
        fix = ()
        advice = ""
        limit = container.limit_bytes
        if limit:
            value = format_gomemlimit(
                target_bytes(limit, config.thresholds.go_memlimit_ratio), None
            )
            fix = set_env(container, "GOMEMLIMIT", value)
            advice = f" at its {container.limit.text} limit; set GOMEMLIMIT={value}"
        path = settings.gogc_off.path
        yield Problem(
            f"GOGC={settings.gogc_off.value} in {container.label} without GOMEMLIMIT turns "
            f"garbage collection off for good: the heap grows until the container is "
            f"killed{advice}",
            (*path, "value") if path and settings.gogc_off.literal else (path or container.path),
            container.name,
            fix,
        )
