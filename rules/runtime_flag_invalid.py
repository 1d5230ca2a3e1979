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
from oomguard.rules.fixes import target_bytes
from oomguard.rules.heap import env_path
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.dotnet import dotnet_settings, format_dotnet_hex
from oomguard.rules.runtimes.go import format_gomemlimit, go_settings
from oomguard.rules.runtimes.jvm import jvm_settings
from oomguard.rules.runtimes.node import node_settings
from oomguard.rules.text import format_bytes
from oomguard.rules.workload import Workload

ID = "runtime-flag-invalid"
SEVERITY = "error"
SUMMARY = "a heap flag the runtime cannot parse (-Xmx2GB, GOMEMLIMIT=1G, --max-old-space-size=2g)"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "parses each runtime's flag grammar, beyond what CEL can parse"


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        where = container.label
        # One finding per runtime: the option it stops on (the first it meets), the rest
        # counted. One value with -Xmx2GB repeated made tens of thousands of findings.
        jvm_invalid = container.derive(jvm_settings).invalid
        if jvm_invalid:
            flag = jvm_invalid[0]
            yield Problem(
                f"{flag.described} in {where}: {flag.error}; the JVM refuses to start"
                f"{_more(jvm_invalid)}",
                flag.token.path or container.path,
                container.name,
            )
        go = container.derive(go_settings)
        divided = _divided_memlimit(container, go, config)
        if divided is not None:
            yield divided
        if go.memlimit_error:
            yield Problem(
                f"{go.memlimit_error} in {where}; the Go program aborts at start-up",
                env_path(container, go.memlimit),
                container.name,
            )
        node_invalid = container.derive(node_settings).invalid
        if node_invalid:
            flag = node_invalid[0]
            yield Problem(
                f"{flag.described} in {where}: {flag.error}; node rejects it{_more(node_invalid)}",
                flag.token.path or container.path,
                container.name,
            )
        dotnet = container.derive(dotnet_settings)
        divided = _divided_hard_limit(container, dotnet.hard_limit, config)
        if divided is not None:
            yield divided
        for setting in dotnet.invalid:
            yield Problem(
                f"{setting.text} in {where}: {setting.error}; the runtime ignores it",
                env_path(container, setting.env),
                container.name,
            )


def _more(invalid: list) -> str:
    """How many more refused options follow the one the runtime stops on."""
    others = len(invalid) - 1
    if not others:
        return ""
    return f" (and {others} more invalid heap option{'s' if others > 1 else ''})"


def _divided_hard_limit(container, setting, config: Config) -> Problem | None:
    """GCHeapHardLimit from resourceFieldRef with a divisor: a decimal unit count that .NET
    reads as hexadecimal bytes (gcconfig.h: GC settings from the environment are hex)."""
    if setting is None or setting.number is None or setting.env.divisor is None:
        return None
    env = setting.env
    limit = container.limit
    target = format_dotnet_hex(target_bytes(limit.usable, config.thresholds.dotnet_heap_ratio))
    meant = int(env.value) * env.divisor_bytes
    return Problem(
        f"{env.name}={env.value} ({env.origin.removeprefix(f'env {env.name} ')}) in "
        f"{container.label} counts in units of {env.divisor} ({env.value} × {env.divisor} = "
        f"{format_bytes(meant)}), but .NET reads it as hexadecimal bytes: a GC heap hard "
        f"limit of 0x{env.value} = {setting.number} bytes; replace the resourceFieldRef with "
        f"{env.name}={target} (no divisor gives .NET hexadecimal bytes)",
        env_path(container, env),
        container.name,
    )


def _divided_memlimit(container, go, config: Config) -> Problem | None:
    """GOMEMLIMIT from resourceFieldRef with a divisor: a unit count that Go reads as bytes."""
    memlimit = go.memlimit
    if memlimit is None or memlimit.divisor is None or go.memlimit_bytes is None:
        return None
    limit = container.limit
    target = target_bytes(limit.usable, config.thresholds.go_memlimit_ratio)
    value = format_gomemlimit(target, None)
    meant = int(memlimit.value) * memlimit.divisor_bytes
    return Problem(
        f"GOMEMLIMIT={memlimit.value} ({memlimit.origin.removeprefix('env GOMEMLIMIT ')}) in "
        f"{container.label} counts in units of {memlimit.divisor} ({memlimit.value} × "
        f"{memlimit.divisor} = {format_bytes(meant)}), but Go "
        f"reads a number without a unit as bytes: a soft limit of {memlimit.value} bytes "
        f"keeps the garbage collector running; replace the resourceFieldRef with "
        f"GOMEMLIMIT={value} (no divisor gives Go bytes)",
        env_path(container, memlimit),
        container.name,
    )
