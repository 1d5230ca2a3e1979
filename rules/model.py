"""The data every rule and every front end shares: severities, problems and findings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# How deep any input object may nest, for every front end (linter/loader.py, webhook/review.py):
# Kubernetes objects nest ~20 levels (a Pod spec ~15); deeper input is hostile or broken.
MAX_DEPTH = 100

Path = tuple[str | int, ...]
PatchOp = dict[str, Any]


# Immutable by convention, not frozen: a frozen dataclass's __init__ sets each field through
# object.__setattr__ (3-5x the cost), and lint builds tens of thousands per input. Nothing
# assigns a field (dataclasses.replace makes a copy); unsafe_hash keeps the frozen hash.
@dataclass(slots=True, unsafe_hash=True)
class Problem:
    """What a rule's ``check()`` yields: a message about one node of the object.

    ``path`` is relative to the object (``("spec", "template", …)``); ``fix`` is a list of
    RFC 6902 operations whose paths are relative to the object too.
    """

    message: str
    path: Path = ()
    container: str | None = None
    fix: tuple[PatchOp, ...] = ()
    # at most this severity (a rule's finding made milder by what it found, e.g. a
    # LimitRange default for a missing limit); never raises the configured one
    severity: str | None = None


# Immutable by convention, not frozen, for speed (see above Problem).
@dataclass(slots=True, unsafe_hash=True)
class Finding:
    """A problem attributed to a rule, an object and (once a front end knows it) a place."""

    rule: str
    severity: str
    message: str
    path: Path = ()
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    container: str | None = None
    fix: tuple[PatchOp, ...] = ()
    # the object's apiVersion as written (apps/v1 and apps.kruise.io StatefulSets differ)
    api_version: str | None = None
    template: str | None = None  # the pod template, when the object has several
    file: str | None = None
    line: int | None = None
    column: int | None = None
    document: int = 0
    # a rendered chart or overlay (docs/charts.md): the template or resource file the object
    # came from, the dotted values key that set the value, and the linter's Origin (for --fix)
    rendered_from: str | None = None
    values_key: str | None = None
    origin: Any = field(default=None, compare=False, repr=False)

    @property
    def fixable(self) -> bool:
        return bool(self.fix)

    @property
    def object_ref(self) -> str:
        """``Deployment/shop/api`` style reference, for messages."""
        parts = [self.kind or "?"]
        if self.namespace:
            parts.append(self.namespace)
        parts.append(self.name or "?")
        return "/".join(parts)

    def located(self, **where: Any) -> Finding:
        """This finding with some fields set (where it is: file, line, …). Once per finding,
        so built positionally: ``dataclasses.replace`` cost ~1.5 times as much."""
        values = list(_FINDING_VALUES(self))
        for name, value in where.items():
            if name not in _FINDING_INDEX:
                raise TypeError(f"Finding has no field {name!r}")
            values[_FINDING_INDEX[name]] = value
        return Finding(*values)


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_FINDING_INDEX = {name: index for index, name in enumerate(_FINDING_FIELDS)}
_FINDING_VALUES = attrgetter(*_FINDING_FIELDS)


def pointer(path: Path) -> str:
    """RFC 6901 JSON Pointer for a path: ``~`` → ``~0`` and ``/`` → ``~1``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def milder(severity: str, cap: str | None) -> str:
    """``severity``, lowered to ``cap`` when that is milder."""
    return cap if cap is not None and SEVERITY_RANK[cap] < SEVERITY_RANK[severity] else severity


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


@dataclass(frozen=True, eq=False, repr=False)
class Option:
    """A ``thresholds:`` key a rule owns: its JSON Schema type (``number`` or ``quantity``),
    default (as written in the config file), bounds and description."""

    name: str
    type: str
    default: Any
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    description: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class RuleMeta:
    """What the engine and the tools need to know about a rule besides its check: the
    module's declarations (upper-case attributes of the same names), else these defaults."""

    fix: str | None = None  # "rewrite", "add" or None
    fix_in_admission: bool = True
    fix_needs_defaults: bool = False
    explains_oom_kill: bool = False
    options: tuple[Option, ...] = ()
