"""A container's environment as the kubelet builds it.

``envFrom`` sources first (later sources override earlier ones, with their ``prefix``), then
``env`` entries in order (later entries override earlier ones). ``$(VAR)`` in a value expands
from the variables defined before it; ``$$`` escapes. ``resourceFieldRef`` on
``limits.memory``/``requests.memory`` resolves to the container's values (with ``divisor``,
rounded up as the kubelet does); ConfigMap and Secret references resolve through the
workload's lookup (the lint input set, or the API in the webhook).

Bounds. The kubelet expands ``$(VAR)`` without any limit (kubernetes
third_party/forked/golang/expansion/expand.go ``Expand``; pkg/kubelet makeEnvironmentVariables),
so ``V{i} = "$(V{i-1})$(V{i-1})"`` doubles with every entry. Linux refuses to start a program
with one argument or environment string over ``MAX_ARG_STRLEN`` (32 pages, 128 KiB with 4 KiB
pages: include/uapi/linux/binfmts.h, checked in fs/exec.c ``copy_strings``), so no container
runs with a longer value: oomguard reads none (the value is *unresolved*, with that reason),
and stops expanding and reading flag text once an object has used its :class:`TextBudget`.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from oomguard.rules.model import Path
from oomguard.rules.quantity import QuantityError, parse_quantity
from oomguard.rules.text import type_name

if TYPE_CHECKING:
    from oomguard.rules.workload import Container

# The longest argument or environment string Linux passes to a program (MAX_ARG_STRLEN).
MAX_STRING = 32 * 4096
# Per object: bytes $(VAR) expansion may produce, and bytes of env values rules may read as
# flags (words cost ~40x their size as tokens, so this bounds a review's memory).
MAX_EXPANDED = 1024 * 1024
MAX_READ = 256 * 1024


class TooLong(Exception):
    """An expansion would produce more than its limit; ``root`` is the first cause."""

    def __init__(self, message: str, root: str | None = None) -> None:
        super().__init__(message)
        self.root = root or message


@dataclass(eq=False, repr=False)
class TextBudget:
    """What one object may still spend on expanding and reading text (bytes)."""

    expanded: int = MAX_EXPANDED
    read: int = MAX_READ

    def spend_expanded(self, size: int) -> bool:
        if size > self.expanded:
            return False
        self.expanded -= size
        return True

    def spend_read(self, size: int) -> bool:
        if size > self.read:
            return False
        self.read -= size
        return True


def too_long_reason(what: str) -> str:
    return (
        f"{what}; Linux passes at most {MAX_STRING} bytes to a program in one string "
        "(MAX_ARG_STRLEN, 4 KiB pages), so the container cannot start with it"
    )


OVER_READ_BUDGET = (
    f"oomguard reads at most {MAX_READ // 1024} KiB of environment values as flags per object "
    "and this object has used it"
)
FROM_POD_FIELD = "set from a field of the pod"
OVER_BUDGET = (
    f"oomguard expands and reads at most {MAX_EXPANDED // 1024} KiB of environment text per "
    "object and this object has used it"
)


# A container's environment; here rather than in workload.py (which imports this module), so
# that resolve_env, run for every container, needs no import of its own.
@dataclass(eq=False, repr=False)
class Env:
    """A container's resolved environment, in Kubernetes' precedence."""

    values: dict[str, Any] = field(default_factory=dict)  # name -> EnvValue
    unresolved_sources: list[str] = field(default_factory=list)  # envFrom sources not found
    budget: TextBudget | None = field(default=None, repr=False)
    _read: dict[str, Any] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> Any:
        """The value rules read, once charged to the object's budget (a value past it is
        unresolved, with the reason): reading flags costs memory in proportion to them."""
        value = self.values.get(name)
        if value is None or value.value is None or self.budget is None:
            return value
        if name not in self._read:
            self._read[name] = (
                value
                if self.budget.spend_read(len(value.value))
                else replace(value, value=None, unresolved=OVER_READ_BUDGET)
            )
        return self._read[name]


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class EnvValue:
    """One environment variable: its value (None when it cannot be known) and origin."""

    name: str
    value: str | None
    origin: str  # for messages: 'env GOMEMLIMIT', 'limits.memory via resourceFieldRef', …
    path: Path | None = None  # the env entry in the object; None when it came from envFrom
    literal: bool = False  # the value is written in the entry's own `value:` field
    unresolved: str | None = None  # why the value is unknown
    overlong: str | None = None  # why oomguard would not build it (MAX_STRING, budget)
    # resourceFieldRef with a divisor other than 1: the value counts units of it, not bytes
    divisor: str | None = None
    divisor_bytes: int | None = None
    # (kind, name, key) of the ConfigMap or Secret the value was read from, so a front end
    # can point at where that key is written (linter/render_lint.py)
    source: tuple[str, str, str] | None = None


def resolve_env(container: Container) -> Env:
    budget = container.workload.budget
    env = Env(budget=budget)
    spec = container.spec
    # names whose value oomguard could not expand (too long, or past the budget), with why
    unexpanded: dict[str, str] = {}
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
            if not isinstance(data, dict):
                env.unresolved_sources.append(
                    f"{described} (cannot be read: {data})" if data else described
                )
                continue
            for name, value in data.items():
                origin = f"env {prefix + name} from {described}"
                where = (kind, ref["name"], str(name))
                env.values[prefix + name] = _bounded(
                    EnvValue(prefix + name, value, origin, source=where)
                )
    defined: dict[str, str] = {}
    for name, value in env.values.items():
        if value.value is not None:
            defined[name] = value.value
        elif value.unresolved:
            unexpanded[name] = value.unresolved
    for index, entry in enumerate(_list(spec.get("env"))):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        path = (*container.path, "env", index)
        value = _entry_value(container, entry, path, defined, unexpanded, budget)
        if value.value is not None and len(value.value) > MAX_STRING:  # else _bounded keeps it
            value = _bounded(value)
        env.values[value.name] = value
        unexpanded.pop(value.name, None)
        defined.pop(value.name, None)
        if value.value is not None:
            defined[value.name] = value.value
        elif value.overlong:
            unexpanded[value.name] = value.overlong
    return env


def expand_references(
    text: str,
    defined: dict[str, str],
    *,
    unexpanded: dict[str, str] | None = None,
    limit: int = MAX_STRING,
    budget: TextBudget | None = None,
) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined names are replaced, others kept, ``$$`` → ``$``.

    Scans as the kubelet's ``expansion.Expand`` does (kubernetes
    third_party/forked/golang/expansion/expand.go): ``$(`` reads up to the next ``)`` whatever
    it holds, an unclosed ``$(`` stays, ``$`` before any other character stays with it.
    Raises :class:`TooLong` (with the reason) when the result would pass ``limit`` bytes, when
    it would use more than ``budget`` has left, or when it references a name in
    ``unexpanded``; nothing longer than ``limit`` is ever built.
    """
    if "$" not in text:
        return text
    pieces: list[str] = []
    size = 0
    checkpoint = 0
    cursor = text.find("$")
    substituted = False
    while 0 <= cursor < len(text) - 1:
        pieces.append(text[checkpoint:cursor])
        following = text[cursor + 1]
        end = cursor + 2
        piece = text[cursor:end]  # '$' and the character after it, kept as written
        if following == "$":
            piece = "$"
        elif following == "(":
            close = text.find(")", cursor + 2)
            if close < 0:
                piece, end = "$(", cursor + 2
            else:
                name, end = text[cursor + 2 : close], close + 1
                if unexpanded and name in unexpanded:
                    root = unexpanded[name]
                    raise TooLong(f"it references $({name}), which is not expanded: {root}", root)
                piece = defined.get(name, text[cursor:end])
                substituted = substituted or name in defined
        pieces.append(piece)
        size += cursor - checkpoint + len(piece)
        if size > limit:
            raise TooLong(too_long_reason(f"it expands to over {limit} bytes"))
        checkpoint = end
        cursor = text.find("$", end)
    pieces.append(text[checkpoint:])
    size += len(text) - checkpoint
    if size > limit:
        raise TooLong(too_long_reason(f"it expands to {size} bytes"))
    if substituted and budget is not None and not budget.spend_expanded(size):
        raise TooLong(OVER_BUDGET)
    return "".join(pieces)


def _bounded(value: EnvValue) -> EnvValue:
    """``value``, or unresolved when no program could be started with it."""
    if value.value is None or len(value.value) <= MAX_STRING:
        return value
    reason = too_long_reason(f"it is {len(value.value)} bytes long")
    return replace(value, value=None, unresolved=reason, overlong=reason)


def _entry_value(
    container: Container,
    entry: dict,
    path: Path,
    defined: dict[str, str],
    unexpanded: dict[str, str],
    budget: TextBudget | None,
) -> EnvValue:
    name = entry["name"]
    if "valueFrom" not in entry or entry.get("valueFrom") is None:
        raw = entry.get("value")
        try:
            if type(raw) is str and "$" not in raw:  # nothing to expand (most values)
                text = raw
            elif isinstance(raw, str):
                text = expand_references(raw, defined, unexpanded=unexpanded, budget=budget)
            elif raw is None:  # no value: the variable is set, empty
                text = ""
            else:  # `value: 75`: the API server rejects the object (manifest-invalid says
                # so); the runtime would never read it, so no rule judges it as "" either
                why = f"the value is a {type_name(raw)}, not a string"
                return EnvValue(name, None, f"env {name}", path, True, unresolved=why)
        except TooLong as exc:
            return EnvValue(
                name, None, f"env {name}", path, True, unresolved=str(exc), overlong=exc.root
            )
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
            if not isinstance(data, dict):
                why = f"cannot be read: {data}" if data else "is not in the input"
                return EnvValue(
                    name,
                    None,
                    f"env {name} from {described}",
                    path,
                    unresolved=f'{kind} "{ref["name"]}" {why}',
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
            where = (kind, ref["name"], str(ref.get("key")))
            return EnvValue(name, value, f"env {name} from {described}", path, source=where)
    return EnvValue(name, None, f"env {name}", path, unresolved=FROM_POD_FIELD)


def _resource_field(container: Container, name: str, ref: dict, path: Path) -> EnvValue:
    resource = ref.get("resource")
    target = container
    if isinstance(ref.get("containerName"), str) and ref["containerName"]:
        target = container.workload.container(ref["containerName"]) or container
    origin = f"env {name} from {resource} via resourceFieldRef"
    if resource not in ("limits.memory", "requests.memory"):
        return EnvValue(name, None, origin, path, unresolved=f"{resource} is not a memory size")
    divisor, divisor_text = _divisor(ref.get("divisor"))
    if divisor is None:
        return EnvValue(
            name,
            None,
            origin,
            path,
            unresolved=f"divisor {divisor_text} is not one the API server accepts for memory "
            f"({', '.join(MEMORY_DIVISORS)})",
        )
    # what the Pod's container gets: a LimitRange default when none is written
    memory = (
        target.effective_limit
        if resource == "limits.memory"
        else (target.effective_request or target.effective_limit)
    )
    if memory is None or memory.usable is None:
        reason = (
            "is not set, so it is the node's allocatable memory" if memory is None else "is invalid"
        )
        return EnvValue(name, None, origin, path, unresolved=f"{resource} {reason}")
    if memory.origin is not None:
        origin = f"{origin} ({memory.text}, {memory.origin})"
    if divisor == 1:
        return EnvValue(name, str(math.ceil(memory.usable)), origin, path)
    # ExtractContainerResourceValue -> convertResourceMemoryToString: ceil(memory / divisor)
    # (kubernetes pkg/api/v1/resource/helpers.go): a count of divisor units, not bytes
    count = math.ceil(Fraction(memory.usable, divisor))  # exact: a byte count may be an int
    origin = f"{origin}, divisor {divisor_text}"
    return EnvValue(name, str(count), origin, path, divisor=divisor_text, divisor_bytes=divisor)


# The divisors validation accepts for memory: it compares the quantity's canonical string
# (kubernetes pkg/apis/core/validation validateContainerResourceDivisor:
# validContainerResourceDivisorForMemory.Has(divisor.String())), so 1024 (canonical "1024")
# is refused where 1Ki is not. An unset or zero divisor means 1.
MEMORY_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi")
_DECIMAL_DIVISORS = frozenset(10 ** (3 * power) for power in range(7))
_BINARY_DIVISORS = frozenset(1024**power for power in range(1, 7))
_BINARY_SUFFIX = re.compile(r"[KMGTPE]i$")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+$")


def _divisor(raw: object) -> tuple[int | None, str]:
    """(bytes, text) of a resourceFieldRef divisor; bytes is None when validation refuses it."""
    if raw is None:
        return 1, "1"
    text = str(raw).strip()
    try:
        value = parse_quantity(raw)
    except QuantityError:
        return None, repr(raw)
    if value in (0, 1):
        return 1, "1"
    if _BINARY_SUFFIX.search(text):
        accepted = value in _BINARY_DIVISORS  # canonical BinarySI: 1Ki, 1Mi, …
    else:  # DecimalSI canonicalises 1000 to 1k; DecimalExponent keeps 1e3 and is refused
        accepted = not _EXPONENT.search(text) and value in _DECIMAL_DIVISORS
    return (int(value), text) if accepted else (None, repr(raw))


def _source_data(container: Container, kind: str, name: str) -> dict[str, str] | str | None:
    """The source's data, None when absent, or why it could not be read (see Lookup)."""
    data = container.workload.lookup(kind, container.workload.namespace, name)
    return data if isinstance(data, dict | str) else None


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
