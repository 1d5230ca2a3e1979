"""A rendered workload's env value read from a ConfigMap or Secret of the same rendering.

``JAVA_TOOL_OPTIONS`` from a ``configMapKeyRef`` or ``envFrom``: the finding is about the
workload, but the value is written in the ConfigMap (a kustomize ``configMapGenerator``
literal or env file, a Helm ConfigMap template fed from ``values.yaml``). These helpers find
that ConfigMap's key in the rendered documents, so the engine's ``Rendered.origin`` can trace
it like any other rendered value (``path == ("data", KEY)``).

Which env variable a finding is about is read structurally: the variables its fix rewrites
(``set_env`` ops: ``{"name": …, "value": …}`` at an ``env`` entry), else the env entry its
path points at, else the variables whose ``origin`` (the text the rules write in the message
for exactly this, ``env X from ConfigMap "c" key "K"``) occurs in the message. The env itself
is resolved by the rules' own code (``rules/runtimes/env.py``, ``EnvValue.source``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oomguard.linter.loader import load_text
from oomguard.linter.render import Path, Rendered
from oomguard.rules.model import Finding
from oomguard.rules.workload import SOURCE_KINDS, Container, build_workloads, is_workload


@dataclass(frozen=True)
class KeySource:
    """Where in the rendering an env value is written: rendered document ``document``,
    ``path`` (``("data", KEY)``) and the value there as rendered (``text``)."""

    document: int
    path: Path
    text: str
    env: str  # the variable's name, for notices
    described: str  # 'ConfigMap "orders-jvm" key "JAVA_TOOL_OPTIONS"'


def container_at(obj: dict, prefix: Path, path: Path, name: str | None, lookup: Any):
    """The container of ``obj`` (at ``prefix`` in its document) that ``path`` lies in."""
    if not is_workload(obj):
        return None
    relative = tuple(path[len(prefix) :]) if tuple(path[: len(prefix)]) == tuple(prefix) else path
    for view in build_workloads(obj, lookup):
        for container in view.containers:
            inside = tuple(relative[: len(container.path)]) == tuple(container.path)
            if inside and (name is None or container.name == name):
                return container
    return None


def finding_env_names(finding: Finding, container: Container, prefix: Path) -> list[str]:
    """The env variables the finding is about (see module), those read from a source only."""
    names: list[str] = []
    for op in finding.fix:
        value = op.get("value")
        steps = tuple(op["path"])
        in_env = len(steps) >= 2 and (steps[-2] == "env" or steps[-1] == "-")
        if in_env and isinstance(value, dict) and isinstance(value.get("name"), str):
            names.append(value["name"])
    env = container.env.values
    relative = tuple(finding.path[len(prefix) :])
    for name, value in env.items():
        if value.path is not None and tuple(value.path) == relative:
            names.append(name)
    if not names:
        names = [n for n, v in env.items() if v.source is not None and v.origin in finding.message]
    return [n for n in dict.fromkeys(names) if n in env and env[n].source is not None]


def key_source(rendered: Rendered, kind: str, namespace: str | None, name: str, key: str):
    """(document index, path, rendered value) of ``key`` of the ConfigMap/Secret ``name``."""
    for index, document in enumerate(rendered.documents):
        if kind not in document.text or name not in document.text:
            continue
        loaded = load_text(document.text)
        if loaded.errors or len(loaded.documents) != 1:
            continue
        obj = loaded.documents[0].data
        if not isinstance(obj, dict) or obj.get("kind") != kind or kind not in SOURCE_KINDS:
            continue
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if metadata.get("name") != name:
            continue
        theirs = metadata.get("namespace")
        if namespace and isinstance(theirs, str) and theirs != namespace:
            continue
        fields = ("data",) if kind == "ConfigMap" else ("stringData", "data")
        for field_name in fields:
            values = obj.get(field_name)
            if isinstance(values, dict) and key in values and values[key] is not None:
                return index, (field_name, key), str(values[key])
    return None


def env_sources(
    rendered: Rendered, obj: dict, prefix: Path, finding: Finding, lookup: Any
) -> list[KeySource]:
    """The rendered ConfigMap/Secret keys the finding's env values were read from."""
    container = container_at(obj, prefix, finding.path, finding.container, lookup)
    if container is None:
        return []
    out = []
    for env_name in finding_env_names(finding, container, prefix):
        value = container.env.values[env_name]
        kind, name, key = value.source  # type: ignore[misc]
        found = key_source(rendered, kind, container.workload.namespace, name, key)
        if found is not None:
            index, path, text = found
            out.append(KeySource(index, path, text, env_name, f'{kind} "{name}" key "{key}"'))
    return out


def inline_sources(
    rendered: Rendered, obj: dict, lookup: Any
) -> tuple[dict, dict[Path, KeySource]]:
    """A copy of ``obj`` whose env values read from a ConfigMap/Secret of this rendering are
    written as literal ``value:`` entries (a ``valueFrom`` entry rewritten in place, an
    ``envFrom`` value appended as an entry: same environment), and for each such literal its
    path -> the key it stands for. The rules then offer their in-place fixes of those values
    (a flag read from a ConfigMap has none), which ``--fix`` writes at the key's origin.
    A value holding ``$`` is left as it is: written literally, Kubernetes would expand it."""
    import copy

    if not is_workload(obj):
        return obj, {}
    inlined = copy.deepcopy(obj)
    mapping: dict[Path, KeySource] = {}
    for view in build_workloads(obj, lookup):
        for container in view.containers:
            spec = _node(inlined, container.path)
            if not isinstance(spec, dict):
                continue
            appended: list[tuple[str, str, KeySource]] = []
            for env_name, value in container.env.values.items():
                if value.source is None or value.value is None or "$" in value.value:
                    continue
                kind, name, key = value.source
                found = key_source(rendered, kind, view.namespace, name, key)
                if found is None:
                    continue
                described = f'{kind} "{name}" key "{key}"'
                source = KeySource(found[0], found[1], found[2], env_name, described)
                if value.path is not None:
                    entry = _node(inlined, value.path)
                    if isinstance(entry, dict):
                        entry.pop("valueFrom", None)
                        entry["value"] = value.value
                        mapping[(*value.path, "value")] = source
                else:
                    appended.append((env_name, value.value, source))
            if appended:
                env = spec.get("env") if isinstance(spec.get("env"), list) else []
                spec["env"] = env
                for env_name, text, source in appended:
                    env.append({"name": env_name, "value": text})
                    mapping[(*container.path, "env", len(env) - 1, "value")] = source
    return inlined, mapping


def _node(data: Any, path: Path) -> Any:
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data
