"""A `GCHeapHardLimitPercent` value that the runtime ignores.

Environment values are hexadecimal and the runtime honours only 0 < percent < 100 after
parsing: `DOTNET_GCHeapHardLimitPercent=75` is 0x75 = 117 %, silently ignored, so the heap
keeps the default instead of what was written. Not reported when a valid
`GCHeapHardLimit` is set: the runtime ignores any percent then, and the hard limit is what
the `dotnet-heap-*` rules check.

**Fix:** rewrite as the hexadecimal of the evident decimal intent (`75` → `0x4B`), when the
value reads as a decimal percentage between 1 and 99.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: mcr.microsoft.com/dotnet/aspnet:8.0
      env:
        - {name: DOTNET_GCHeapHardLimitPercent, value: "0x4B"}
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
      image: mcr.microsoft.com/dotnet/aspnet:8.0
      env:
        - {name: DOTNET_GCHeapHardLimitPercent, value: "75"}
      resources:
        limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.fixes import set_env
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.base import env_path
from oomguard.rules.runtimes.dotnet import dotnet_settings, format_dotnet_hex
from oomguard.rules.workload import Workload

ID = "dotnet-heap-percent-ignored"
SEVERITY = "error"
SUMMARY = "a GCHeapHardLimitPercent the runtime ignores (outside 0 < p < 100 after hex parsing)"
FIX = "rewrite"
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads the .NET GC settings from env (hex values, ConfigMaps), beyond what CEL can resolve"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        settings = container.derive(dotnet_settings)
        percent = settings.percent
        if percent is None or percent.number is None or 0 < percent.number < 100:
            continue
        if settings.hard_limit is not None and settings.hard_limit.number is not None:
            continue  # a valid GCHeapHardLimit wins over any percent: rewriting it changes nothing
        text = percent.env.value.strip()
        fix = ()
        intent = ""
        if text.isdigit() and 0 < int(text) < 100:
            fix = set_env(container, percent.env.name, format_dotnet_hex(int(text)))
            intent = f"; for {int(text)}% write 0x{int(text):X}"
        yield Problem(
            f"{percent.text} in {container.label} is read as hexadecimal "
            f"0x{text.upper().removeprefix('0X')} = "
            f"{percent.number}%, outside 0 < p < 100, so the runtime ignores it{intent}",
            env_path(container, percent.env),
            container.name,
            fix,
        )
