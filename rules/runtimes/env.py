"""A container's environment as the kubelet builds it.

``envFrom`` sources first (later sources override earlier ones, with their ``prefix``), then
``env`` entries in order (later entries override earlier ones). ``$(VAR)`` in a value expands
from the variables defined before it; ``$$`` escapes. ``resourceFieldRef`` on
``limits.memory``/``requests.memory`` resolves to the container's values (with ``divisor``,
rounded up as the kubelet does); ConfigMap and Secret references resolve through the
workload's lookup (the lint input set, or the API in the webhook).
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oomguard.rules.model import Path
from oomguard.rules.quantity import QuantityError, parse_quantity

if TYPE_CHECKING:
    from oomguard.rules.workload import Container, Env

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


@dataclass(frozen=True, slots=True)
class EnvValue:
    """One environment variable: its value (None when it cannot be known) and origin."""

    name: str
    value: str | None
    origin: str  # for messages: 'env GOMEMLIMIT', 'limits.memory via resourceFieldRef', …
    path: Path | None = None  # the env entry in the object; None when it came from envFrom
    literal: bool = False  # the value is written in the entry's own `value:` field
    unresolved: str | None = None  # why the value is unknown


def resolve_env(container: Container) -> Env:
    from oomguard.rules.workload import Env

    env = Env()
    spec = container.spec
    for source in _list(spec.get("envFrom")):
        if not isinstance(source, dict):
            continue
        prefix = source.get("prefix") if isinstance(source.get("prefix"), str) else ""
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
                continue
            data = _source_data(container, kind, ref["name"])
            described = f'{kind} "{ref["name"]}"'
            if data is None:
                env.unresolved_sources.append(described)
                continue
            for name, value in data.items():
                env.values[prefix + name] = EnvValue(
                    prefix + name, value, f"env {prefix + name} from {described}"
                )
    defined = {name: v.value for name, v in env.values.items() if v.value is not None}
    for index, entry in enumerate(_list(spec.get("env"))):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        value = _entry_value(container, entry, (*container.path, "env", index), defined)
        env.values[value.name] = value
        if value.value is not None:
            defined[value.name] = value.value
        else:
            defined.pop(value.name, None)
    return env


def expand_references(text: str, defined: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined names are replaced, others kept, ``$$`` → ``$``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return defined.get(match.group(1), match.group(0))

    return _REFERENCE.sub(substitute, text)


def _entry_value(
    container: Container, entry: dict, path: Path, defined: dict[str, str]
) -> EnvValue:
    name = entry["name"]
    if "valueFrom" not in entry or entry.get("valueFrom") is None:
        raw = entry.get("value")
        text = expand_references(raw, defined) if isinstance(raw, str) else ""
        return EnvValue(name, text, f"env {name}", path, literal=True)
    source = entry["valueFrom"]
    if not isinstance(source, dict):
        return EnvValue(name, None, f"env {name}", path, unresolved="valueFrom is not a mapping")
    if isinstance(source.get("resourceFieldRef"), dict):
        return _resource_field(container, name, source["resourceFieldRef"], path)
    for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        ref = source.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("name"), str):
            described = f'{kind} "{ref["name"]}" key "{ref.get("key")}"'
            data = _source_data(container, kind, ref["name"])
            if data is None:
                return EnvValue(
                    name,
                    None,
                    f"env {name} from {described}",
                    path,
                    unresolved=f'{kind} "{ref["name"]}" is not in the input',
                )
            value = data.get(str(ref.get("key")))
            if value is None:
                return EnvValue(
                    name,
                    None,
                    f"env {name} from {described}",
                    path,
                    unresolved=f"{described} does not exist",
                )
            return EnvValue(name, value, f"env {name} from {described}", path)
    return EnvValue(name, None, f"env {name}", path, unresolved="set from a field of the pod")


def _resource_field(container: Container, name: str, ref: dict, path: Path) -> EnvValue:
    resource = ref.get("resource")
    target = container
    if isinstance(ref.get("containerName"), str) and ref["containerName"]:
        target = container.workload.container(ref["containerName"]) or container
    origin = f"env {name} from {resource} via resourceFieldRef"
    if resource not in ("limits.memory", "requests.memory"):
        return EnvValue(name, None, origin, path, unresolved=f"{resource} is not a memory size")
    memory = target.limit if resource == "limits.memory" else (target.request or target.limit)
    if memory is None or memory.usable is None:
        reason = (
            "is not set, so it is the node's allocatable memory" if memory is None else "is invalid"
        )
        return EnvValue(name, None, origin, path, unresolved=f"{resource} {reason}")
    try:
        divisor = parse_quantity(ref.get("divisor", 1))
    except QuantityError:
        divisor = 1
    divisor = divisor if divisor > 0 else 1
    return EnvValue(name, str(math.ceil(memory.usable / divisor)), origin, path)


def _source_data(container: Container, kind: str, name: str) -> dict[str, str] | None:
    data = container.workload.lookup(kind, container.workload.namespace, name)
    return data if isinstance(data, dict) else None


def source_data(obj: dict[str, Any]) -> dict[str, str]:
    """The string data of a ConfigMap or Secret object (Secret ``data`` is base64)."""
    data: dict[str, str] = {}
    if obj.get("kind") == "Secret" and isinstance(obj.get("data"), dict):
        for key, value in obj["data"].items():
            try:
                data[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
            except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
                continue
    for field_name in ("data", "stringData") if obj.get("kind") == "ConfigMap" else ("stringData",):
        values = obj.get(field_name)
        if isinstance(values, dict):
            data.update({str(k): v if isinstance(v, str) else str(v) for k, v in values.items()})
    return data


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
