"""LimitRanges: the memory defaults and bounds the API server gives a namespace's Pods.

Plain data, shared by lint (LimitRanges in the input), ``audit`` (listed per namespace) and
the webhook (its watch-fed cache). Only memory is read. The semantics, from Kubernetes:

* ``pkg/apis/core/v1/defaults.go`` ``SetDefaults_LimitRangeItem``: in an item of type
  ``Container`` a missing ``default`` (limit) is the ``max``; a missing ``defaultRequest`` is
  the ``default``, else the ``min``. A LimitRange read from the API server already has these;
  one in a file gets them here, as the API server will store it.
* ``plugin/pkg/admission/limitranger/admission.go`` ``defaultContainerResourceRequirements``:
  the defaults of a LimitRange are those of its ``Container`` items (a later item overwrites
  an earlier one); ``mergeContainerResources`` fills a container's limit (request) only when
  it has none, for containers and init containers alike. The plugin runs the LimitRanges of
  the namespace one after the other, so the first that sets a default wins (the API server's
  order is its cache's; oomguard's is the input's, or the list's).
* ``SetDefaults_Pod`` (defaults.go) runs before admission: a Pod's container with a limit and
  no request gets the limit as its request, so ``defaultRequest`` never applies to it. It runs
  on Pods only, never on templates: a Deployment's template is not defaulted when it is
  admitted, the Pods made from it are. oomguard judges what the Pod will get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from oomguard.rules.quantity import GO_SPACE, QuantityError, parse_quantity

KIND = "LimitRange"
CONTAINER = "Container"
POD = "Pod"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Bound:
    """One memory quantity of a LimitRange: as written, and in bytes."""

    text: str
    value: Fraction


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class LimitRangeItem:
    """The memory part of one ``spec.limits[]`` entry (type ``Container`` or ``Pod``)."""

    type: str
    default: Bound | None = None
    default_request: Bound | None = None
    max: Bound | None = None
    min: Bound | None = None
    max_ratio: Bound | None = None  # maxLimitRequestRatio


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class LimitRange:
    """The memory part of one LimitRange object."""

    name: str
    namespace: str | None
    items: tuple[LimitRangeItem, ...] = ()
    problems: tuple[str, ...] = ()  # memory values that do not parse (the API refuses them)
    # a Container item gives a cpu default (default, defaultRequest, max or min: see
    # _defaulted): such a Pod is not BestEffort even without any memory default
    cpu_defaults: bool = False

    @property
    def described(self) -> str:
        """``LimitRange "defaults" in namespace shop``, for messages."""
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f'{KIND} "{self.name}"{where}'

    def container_default(self, field: str) -> Bound | None:
        """The ``default`` or ``default_request`` this LimitRange gives a container: that of
        its last ``Container`` item that has one (``defaultContainerResourceRequirements``
        assigns item after item into one map)."""
        found = None
        for item in self.items:
            if item.type == CONTAINER and getattr(item, field) is not None:
                found = getattr(item, field)
        return found


# namespace -> the LimitRanges of that namespace in order, or why they could not be read
LimitRangeLookup = Callable[[str | None], Sequence[LimitRange] | str]


def no_limit_ranges(namespace: str | None) -> tuple[LimitRange, ...]:
    return ()


def first_default(ranges: Sequence[LimitRange], field: str) -> tuple[LimitRange, Bound] | None:
    """The first LimitRange that sets ``field`` for containers, and its value."""
    for limit_range in ranges:
        bound = limit_range.container_default(field)
        if bound is not None:
            return limit_range, bound
    return None


def parse_limit_range(obj: dict[str, Any]) -> LimitRange | None:
    """The memory part of a LimitRange object (with the API server's defaults applied); None
    when it has no name. Values that do not parse are left out and named in ``problems``."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str):
        return None
    namespace = metadata.get("namespace")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    entries = spec.get("limits") if isinstance(spec.get("limits"), list) else []
    items, problems = [], []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("type") not in (CONTAINER, POD):
            continue  # PersistentVolumeClaim items, or shapes the API server refuses
        values = {}
        for key in ("default", "defaultRequest", "max", "min", "maxLimitRequestRatio"):
            section = entry.get(key)
            if not isinstance(section, dict) or "memory" not in section:
                continue
            value = bound(section["memory"])
            if value is None:
                problems.append(f"spec.limits[{index}].{key}.memory {section['memory']!r}")
            else:
                values[key] = value
        item = LimitRangeItem(
            entry["type"],
            values.get("default"),
            values.get("defaultRequest"),
            values.get("max"),
            values.get("min"),
            values.get("maxLimitRequestRatio"),
        )
        items.append(_defaulted(item))
    cpu_defaults = any(
        isinstance(entry, dict)
        and entry.get("type") == CONTAINER
        and any(
            isinstance(entry.get(key), dict) and "cpu" in entry[key]
            for key in ("default", "defaultRequest", "max", "min")
        )
        for entry in entries
    )
    return LimitRange(
        name,
        namespace if isinstance(namespace, str) else None,
        tuple(items),
        tuple(problems),
        cpu_defaults,
    )


def _defaulted(item: LimitRangeItem) -> LimitRangeItem:
    """``SetDefaults_LimitRangeItem``: default ← max; defaultRequest ← default, else min."""
    if item.type != CONTAINER:
        return item
    default = item.default or item.max
    request = item.default_request or default or item.min
    return LimitRangeItem(item.type, default, request, item.max, item.min, item.max_ratio)


def bound(raw: Any) -> Bound | None:
    """A memory quantity as a Bound; None when it is not one the API server accepts."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        value = parse_quantity(raw)
    except QuantityError:
        return None
    return Bound(str(raw).strip(GO_SPACE), value) if value >= 0 else None
