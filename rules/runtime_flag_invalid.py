"""A heap flag the runtime cannot parse.

The JVM refuses to start on `-Xmx2GB` or `-Xmx1.5g` (sizes are digits with one of `k m g t`),
on `-XX:MaxRAMPercentage`/`-XX:MinRAMPercentage` outside 0–100, on a `RAMFraction` of 0, on a
max heap below 2 MiB (`-Xmx0`, `-Xmx1m`), a non-zero initial heap below 1 MiB, and on `-Xms`
above `-Xmx` when both are on the command line (not in `JAVA_TOOL_OPTIONS`); a Go program
aborts at start-up on a malformed `GOMEMLIMIT` (`512Mi`, `1G`, `1GB`, `1.5GiB`: Go wants
`512MiB`); Node rejects `--max-old-space-size=2g` (a whole number of MiB) and exits at start
on `--max-old-space-size 1024` (with a space node hands the flag to V8 without its value);
.NET ignores a GC setting that is not hexadecimal.

One finding per container and runtime: the option the runtime stops on, the first in the
order it reads them (JVM: `JAVA_TOOL_OPTIONS`, the command line, `_JAVA_OPTIONS`; Node:
`NODE_OPTIONS`, then the command line), with the number of other invalid heap options in
the message ("(and 3 more invalid heap options)").

`GOMEMLIMIT` from the Downward API (`resourceFieldRef: limits.memory`) with a `divisor` is a
count of divisor units (`divisor: 1Mi` and a 512Mi limit give `512`), which Go reads as bytes:
a soft limit of 512 bytes keeps the garbage collector running. The message names the literal
`GOMEMLIMIT` to write instead, at `thresholds.go_memlimit_ratio` of the limit: no divisor can
give Go bytes below the limit (without one the value is the whole limit, which
`go-memlimit-exceeds-limit` reports and its fix replaces by that literal), so oomguard never
"fixes" the divisor; `--fix` leaves this one to the author. Likewise
`DOTNET_GCHeapHardLimit` from such a reference: `1024` (1Gi in units of 1Mi) is read as
hexadecimal bytes, 0x1024 = 4132 bytes.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: api
      image: example/api:1
      env:
        - {name: GOMEMLIMIT, value: 460MiB}
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
    - name: api
      image: example/api:1
      env:
        - {name: GOMEMLIMIT, value: 460Mi}
      resources:
        limits: {memory: 512Mi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.model import Problem
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.workload import Workload

ID = "runtime-flag-invalid"
SEVERITY = "error"
SUMMARY = "a heap flag the runtime cannot parse (-Xmx2GB, GOMEMLIMIT=1G, --max-old-space-size=2g)"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "parses each runtime's flag grammar, beyond what CEL can parse"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        for runtime in RUNTIMES:
            misread = runtime.misread(container, config)
            if misread is not None:
                yield misread
            invalid = runtime.of(container).invalid
            # A runtime that stops on the first bad option: that one, the rest counted. One
            # value with -Xmx2GB repeated made tens of thousands of findings.
            for setting in invalid[:1] if runtime.stops_on_invalid else invalid:
                more = _more(invalid) if runtime.stops_on_invalid else ""
                yield Problem(
                    f"{setting.setting} in {container.label}{setting.detail}{more}",
                    setting.path,
                    container.name,
                )


def _more(invalid: tuple) -> str:
    """How many more refused options follow the one the runtime stops on."""
    others = len(invalid) - 1
    if not others:
        return ""
    return f" (and {others} more invalid heap option{'s' if others > 1 else ''})"
