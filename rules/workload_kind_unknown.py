"""An object of a kind oomguard does not know holds containers: they are not checked.

oomguard judges the kinds in its registry (listed in the README's "Workload kinds" and in
docs/kinds.md: the built-in workload kinds, the presets for common operators, and the
`kinds:` of `.oomguard.yaml`). An object of any other kind whose shape holds containers (a
list under a `containers` or `initContainers` key whose entries have an `image`,
`resources` or `env`, found by a walk of at most 8 levels and 2,000 nodes) is a workload
oomguard cannot read without being told where its pod templates are, so instead of passing
it in silence this rule names it and the config entry that adds it. The text summary line
counts these objects even when `info` findings are hidden.

PASS:
```yaml
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  ports: [{port: 80}]
```

FAIL:
```yaml
apiVersion: example.com/v1
kind: Widget
metadata: {name: api}
spec:
  workers:
    template:
      spec:
        containers:
          - name: app
            image: example/api:1.0
            env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx2g"}]
            resources:
              limits: {memory: 1Gi}
```
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from oomguard.rules.config import Config
from oomguard.rules.model import Path, Problem
from oomguard.rules.workload import Workload

ID = "workload-kind-unknown"
SEVERITY = "info"
SUMMARY = "an object of a kind oomguard does not know holds containers; add it under kinds:"
FIX = None
# why `oomguard export` leaves it out (rules/cel.py)
CEL_REASON = "judges objects outside the registry, which a policy matching named kinds never sees"

MAX_DEPTH = 8
MAX_NODES = 2000
_CONTAINER_KEYS = ("containers", "initContainers")
_CONTAINER_FIELDS = ("image", "resources", "env")
# Kinds that carry another object rather than run pods: an AdmissionReview (the webhook's
# request, e.g. examples/admission/) holds a whole Deployment, which is not a workload of its own.
_ENVELOPES = frozenset({("admission.k8s.io", "AdmissionReview")})


def check(workload: Workload, config: Config) -> Iterator[Problem]:
    """Views of registry kinds never fire; the engine builds a bare view (``known`` False)
    for an object outside the registry whose shape holds containers."""
    if workload.known:
        return
    api_version = workload.obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    if (group, workload.kind) in _ENVELOPES:
        return
    path = container_list(workload.obj)
    if path is None:
        return
    pattern = "".join("[*]" if isinstance(key, int) else f".{key}" for key in path[:-1])
    pattern = pattern.lstrip(".") or "spec"
    yield Problem(
        f"{workload.kind} ({api_version}) is not a workload kind oomguard knows, but "
        f"{'.'.join(map(str, path))} holds containers: their memory settings are not checked; "
        f"add it to .oomguard.yaml: kinds: [{{apiVersion: {api_version}, "
        f"kind: {workload.kind}, templates: [{{path: {pattern}}}]}}]",
        path,
    )


def container_list(obj: dict[str, Any]) -> Path | None:
    """The path of the first list of containers in ``obj`` (breadth first, bounded)."""
    queue: deque[tuple[Path, Any]] = deque([((), obj)])
    seen = 0
    while queue and seen < MAX_NODES:
        path, node = queue.popleft()
        seen += 1
        if len(path) >= MAX_DEPTH:
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if key in _CONTAINER_KEYS and _looks_like_containers(value):
                return (*path, key)
            if isinstance(value, dict | list) and key not in ("metadata", "status"):
                queue.append(((*path, key), value))
    return None


def _looks_like_containers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) for item in value)
        and any(field in item for item in value for field in _CONTAINER_FIELDS)
    )
