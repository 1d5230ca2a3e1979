"""What CEL (Kubernetes ``ValidatingAdmissionPolicy`` expressions) needs from the rules: the
pod spec of each registry kind whose pods CEL can reach, and the building blocks the rule
modules write their checks with.

A rule that CEL can express declares ``cel(config) -> Cel`` in its own module: one boolean
expression, true when the object passes, over the variables below (``variables.podSpec``,
``variables.containers``: init and regular containers, ``variables.podLevel``: the pod sets
pod-level requests or limits). A rule without it is not exported; ``CEL_REASON`` in its
module, when present, says why (the exporter, linter/export.py, lists them).

The Kubernetes quantity library (``quantity()``, ``compareTo``, ``sign``,
``asApproximateFloat``, Kubernetes 1.29+) does the arithmetic. Quantities reach admission
in their canonical form (the API server decoded them), so a millibyte value ends in ``m``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from oomguard.rules.kinds import LIST, MAP, POD_CONTAINERS, KindSpec, Registry
from oomguard.rules.text import format_bytes

POD = "variables.podSpec"
REASON_DEFAULT = "needs oomguard's own reading of the object, which CEL cannot reproduce"


@dataclass(frozen=True)
class Cel:
    """One rule as CEL: ``expression`` is true when the object passes."""

    expression: str
    message: str


def cel_kinds(registry: Registry) -> list[KindSpec]:
    """Kinds CEL can judge: one pod template at a fixed path (no wildcards), the pod spec's
    own container lists, no operator adapter (it builds pods CEL cannot see)."""
    return [
        spec
        for spec in registry.kinds.values()
        if len(spec.templates) == 1
        and spec.adapter is None
        and spec.templates[0].containers == POD_CONTAINERS
        and spec.templates[0].pod_resources
        and LIST not in spec.templates[0].steps
        and MAP not in spec.templates[0].steps
    ]


def pod_spec_expression(root: str, kinds: Iterable[KindSpec]) -> str:
    """``root``'s pod spec by its kind: a chain of conditionals, the most common path last."""
    by_path: dict[str, list[str]] = {}
    for spec in kinds:
        by_path.setdefault(spec.templates[0].path, []).append(spec.kind)
    paths = sorted(by_path, key=lambda path: len(by_path[path]))
    *special, common = paths
    expression = f"{root}.{common}"
    for path in reversed(special):
        test = " || ".join(f"{root}.kind == '{kind}'" for kind in sorted(by_path[path]))
        expression = f"({test}) ? {root}.{path} : {expression}"
    return f"({expression})" if special else expression  # a conditional binds loosest


def variables(kinds: list[KindSpec]) -> list[dict[str, str]]:
    """The ``spec.variables`` every exported policy shares (evaluated in this order)."""
    pod = pod_spec_expression("object", kinds)
    old = pod_spec_expression("oldObject", kinds)
    return [
        {"name": "podSpec", "expression": pod},
        {
            "name": "containers",
            "expression": f"{POD}.containers + "
            f"(has({POD}.initContainers) ? {POD}.initContainers : [])",
        },
        {
            "name": "podLevel",
            "expression": f"has({POD}.resources) && ("
            f"(has({POD}.resources.requests) && size({POD}.resources.requests) > 0) || "
            f"(has({POD}.resources.limits) && size({POD}.resources.limits) > 0))",
        },
        # an UPDATE that leaves the pod spec as it was (a scale, a label) is not judged again
        {
            "name": "unchanged",
            "expression": f"request.operation == 'UPDATE' && {old} == {POD}",
        },
    ]


# ---------------------------------------------------------------- building blocks for rules


def has(holder: str, section: str, name: str = "memory") -> str:
    """``holder`` (a container or the pod spec) sets ``resources.<section>.<name>``."""
    return (
        f"(has({holder}.resources) && has({holder}.resources.{section}) && "
        f"'{name}' in {holder}.resources.{section})"
    )


def value(holder: str, section: str, name: str = "memory") -> str:
    """The quantity's text (quantities reach admission as strings)."""
    return f"string({holder}.resources.{section}['{name}'])"


def quantity(holder: str, section: str, name: str = "memory") -> str:
    return f"quantity({value(holder, section, name)})"


def millibytes(holder: str, section: str) -> str:
    return f"{value(holder, section)}.endsWith('m')"


def positive(holder: str, section: str, name: str) -> str:
    return f"({has(holder, section, name)} && {quantity(holder, section, name)}.sign() > 0)"


def bytes_literal(size: Fraction | int) -> str:
    """A byte count as a quantity literal for ``quantity('…')`` (whole bytes, rounded up)."""
    text = format_bytes(ceil(size))
    return str(ceil(size)) if " " in text or "." in text else text  # "1536 bytes", "1.5Gi"


def by_container(check: str) -> str:
    """``check`` (over ``c``) for every container."""
    return f"variables.containers.all(c, {check})"
