"""`-XX:-UseContainerSupport` without an explicit `-Xmx`/`-XX:MaxRAM`.

With container support off, the JVM sizes its heap from the **node's** memory, not the
container's limit: on a 64 GiB node the default heap is 16 GiB, far above a 2 GiB limit, and
the container is OOMKilled once the heap grows.

**Fix:** remove the flag.

PASS:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: legacy}
spec:
  containers:
    - name: app
      image: eclipse-temurin:17-jre
      command: [java, -XX:-UseContainerSupport, -Xmx1g, -jar, app.jar]
      resources:
        limits: {memory: 2Gi}
```

FAIL:
```yaml
apiVersion: v1
kind: Pod
metadata: {name: legacy}
spec:
  containers:
    - name: app
      image: eclipse-temurin:17-jre
      command: [java, -XX:-UseContainerSupport, -jar, app.jar]
      resources:
        limits: {memory: 2Gi}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from oomguard.rules.config import Config
from oomguard.rules.fixes import remove_token
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.jvm import jvm_settings
from oomguard.rules.workload import Workload

ID = "jvm-container-support-disabled"
SEVERITY = "error"
SUMMARY = "-XX:-UseContainerSupport without an explicit -Xmx or -XX:MaxRAM"
FIX = "rewrite"
EXPLAINS_OOM_KILL = True
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = (
    "reads JVM flags from command lines, shell scripts and env ($(VAR) expansion, "
    "ConfigMaps), beyond what CEL can parse"
)


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    for container in workload.containers:
        settings = container.derive(jvm_settings)
        flag = settings.container_support_disabled
        if flag is None or settings.last("MaxHeapSize") or settings.last("MaxRAM"):
            continue
        limit = f"its {container.limit.text} memory limit" if container.limit else "a limit"
        yield Problem(
            f"{flag.described} makes the JVM of {container.label} size its heap from the "
            f"node's memory (25% of it by default) instead of {limit}; remove it or set -Xmx",
            flag.token.path or container.path,
            container.name,
            remove_token(workload, flag.token),
        )
