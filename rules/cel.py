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


@dataclass(frozen=True, eq=False, repr=False)
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


# ------------------------------------------------- runtime heap flags written as literals
#
# The heap rules judge GOMEMLIMIT, -Xmx/-XX:MaxHeapSize and --max-old-space-size against the
# limit. CEL decides the literal cases only, and only where no source CEL cannot read could
# change the answer: a rule exported here fails a container only when oomguard would find
# the same problem. Sizes are whole bytes as CEL ints (an int64 overflow is a CEL error,
# which failurePolicy Ignore turns into "not judged"). Regexes are RE2, as the Kubernetes
# CEL regex library (``matches``, ``find``) runs them; whitespace is the ASCII set RE2's
# ``\s`` has, a subset of what oomguard's word split uses, so a word CEL finds is one
# oomguard finds.

_SPACE = r"[\t\n\f\r ]"
_JVM_UNITS = "{'': 1, 'k': 1024, 'K': 1024, 'm': 1048576, 'M': 1048576, 'g': 1073741824, 'G': 1073741824, 't': 1099511627776, 'T': 1099511627776}"  # noqa: E501
_GO_UNITS = "{'': 1, 'Ki': 1024, 'Mi': 1048576, 'Gi': 1073741824, 'Ti': 1099511627776}"
JVM_FLAG_VARS = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")


@dataclass(frozen=True, eq=False, repr=False)
class HeapFlag:
    """How CEL finds one runtime's heap setting in a container ``c``: ``found`` (over an
    env entry ``e``) is true for the one entry that decides it, ``size`` (over ``e``) is its
    bytes, ``guard`` (over ``c``) is true when nothing CEL cannot read could change it."""

    guard: str
    found: str
    size: str


def limit_set(holder: str = "c") -> str:
    """A usable limit applies: the container's own, else the pod's; above zero, not in
    millibytes (those are other rules' findings and no heap rule compares against them)."""

    def usable(h: str) -> str:
        return f"(!{millibytes(h, 'limits')} && {quantity(h, 'limits')}.sign() > 0)"

    return f"({has(holder, 'limits')} ? {usable(holder)} : ({has(POD, 'limits')} && {usable(POD)}))"


def limit_bytes(holder: str = "c") -> str:
    return (
        f"({has(holder, 'limits')} ? {quantity(holder, 'limits')} : "
        f"{quantity(POD, 'limits')}).asInteger()"
    )


def _only_entry(name_test: str) -> str:
    """``e`` is an entry ``name_test`` accepts, with a literal value, and no other entry of
    ``c`` has its name (for a repeated name the kubelet keeps the last: not judged)."""
    return f"({name_test} && has(e.value) && c.env.exists_one(f, f.name == e.name))"


def _texts() -> str:
    """Every string of ``c`` a flag can be written in that CEL can read."""
    return (
        "((has(c.command) ? c.command : []) + (has(c.args) ? c.args : []) + "
        "(has(c.env) ? c.env.filter(e, has(e.value)).map(e, e.value) : []))"
    )


def _closed() -> str:
    """Nothing CEL cannot read feeds the container's flags: no envFrom, no env from a
    ConfigMap or Secret (a pod field or resourceFieldRef holds no flags), no ``$`` (kubelet
    ``$(VAR)`` expansion or a shell's) in the command, args or env values."""
    return (
        "(!has(c.envFrom) || size(c.envFrom) == 0) && "
        "(!has(c.env) || c.env.all(e, !has(e.valueFrom) || "
        "has(e.valueFrom.fieldRef) || has(e.valueFrom.resourceFieldRef))) && "
        f"{_texts()}.all(s, !s.contains('$'))"
    )


def _mentioned_once(pattern: str) -> str:
    """The flag's name appears exactly once in all of ``c``'s readable strings."""
    return (
        f"{_texts()}.exists_one(s, s.matches('{pattern}')) && "
        f"{_texts()}.all(s, size(s.findAll('{pattern}')) <= 1)"
    )


def _word(pattern: str) -> str:
    return f"(^|{_SPACE}){pattern}({_SPACE}|$)"


GO_MEMLIMIT = "^[0-9]+(([KMGT]i)?B)?$"  # runtime.parseByteCount (rules/runtimes/go.py)


def go_memlimit_flag() -> HeapFlag:
    """A literal GOMEMLIMIT in Go's grammar (the one env entry of that name: ``env`` wins
    over ``envFrom``). Values Go refuses are runtime-flag-invalid's, not judged here."""
    found = _only_entry("e.name == 'GOMEMLIMIT'") + f" && e.value.matches('{GO_MEMLIMIT}')"
    size = f"int(e.value.find('^[0-9]+')) * {_GO_UNITS}[e.value.find('[KMGT]i')]"
    return HeapFlag("has(c.env)", found, size)


_JVM_SIZE = "-(Xmx|XX:MaxHeapSize=)[0-9]+[kKmMgGtT]?"  # decimal only: hex is not judged
_JVM_MAX_HEAP = "Xmx|MaxHeapSize"
JVM_INITIAL_HEAP = "Xms|InitialHeapSize"


def jvm_max_heap_flag() -> HeapFlag:
    """The one ``-Xmx``/``-XX:MaxHeapSize=`` (decimal digits, one of k m g t) written
    anywhere in the container, in a literal JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or
    _JAVA_OPTIONS, with nothing hidden that could add a later one (the last one wins)."""
    names = "[" + ", ".join(f"'{name}'" for name in JVM_FLAG_VARS) + "]"
    word = _word(_JVM_SIZE)
    found = _only_entry(f"e.name in {names}") + f" && e.value.matches('{word}')"
    written = f"e.value.find('{word}').find('[0-9]+[kKmMgGtT]?')"
    size = f"int({written}.find('^[0-9]+')) * {_JVM_UNITS}[{written}.find('[kKmMgGtT]')]"
    guard = f"has(c.env) && {_closed()} && {_mentioned_once(_JVM_MAX_HEAP)}"
    return HeapFlag(guard, found, size)


_NODE_NAME = "max[-_]old[-_]space[-_]size"
_NODE_SIZE = f"--{_NODE_NAME}=[0-9]+"


def node_heap_flag() -> HeapFlag:
    """The one ``--max-old-space-size=N`` written anywhere in the container (no
    ``-percentage`` form, which wins over it), in a literal NODE_OPTIONS, with nothing hidden
    that could add one (the command line wins over NODE_OPTIONS)."""
    word = _word(_NODE_SIZE)
    found = _only_entry("e.name == 'NODE_OPTIONS'") + f" && e.value.matches('{word}')"
    size = f"int(e.value.find('{word}').find('[0-9]+')) * 1048576"
    guard = f"has(c.env) && {_closed()} && {_mentioned_once(_NODE_NAME)}"
    return HeapFlag(guard, found, size)


def heap_exceeds(flag: HeapFlag, *, at_least: int = 0) -> str:
    """Every container passes ``*-exceeds-limit``: no judged heap at or above its limit.
    ``at_least``: the smallest size the runtime accepts (smaller is another rule's)."""
    bad = f"{flag.size} >= {limit_bytes()}"
    if at_least:
        bad = f"{flag.size} >= {at_least} && {bad}"
    return by_container(_judged(flag, bad))


def heap_headroom(flag: HeapFlag, ratio: Fraction, *, also: str = "true", at_least: int = 0) -> str:
    """Every container passes ``*-headroom-low``: no judged heap above ``ratio`` × its
    limit and below the limit (compared exactly, in whole numbers: ``size × q > p × limit``
    for ``ratio`` = p/q). ``also`` (over ``c``) must hold for the heap to be judged;
    ``at_least`` as for :func:`heap_exceeds`."""
    bad = (
        f"{flag.size} * {ratio.denominator} > {ratio.numerator} * {limit_bytes()} && "
        f"{flag.size} < {limit_bytes()}"
    )
    if at_least:
        bad = f"{flag.size} >= {at_least} && {bad}"
    return by_container(_judged(flag, bad, also))


def _judged(flag: HeapFlag, bad: str, also: str = "true") -> str:
    return f"!({flag.guard} && {also} && {limit_set()}) || c.env.all(e, !({flag.found} && {bad}))"


def no_mention(pattern: str) -> str:
    """No readable string of ``c`` mentions ``pattern``."""
    return f"{_texts()}.all(s, !s.matches('{pattern}'))"


def go_memlimit_copies_limit() -> str:
    """Every container passes: none sets GOMEMLIMIT (its one env entry of that name) from
    ``resourceFieldRef: {resource: limits.memory}`` of its own limit with divisor 1, which
    the kubelet writes as the limit's bytes, a GOMEMLIMIT equal to the limit
    (rules/runtimes/env.py resolves it the same way)."""
    ref = "e.valueFrom.resourceFieldRef"
    copies = (
        "e.name == 'GOMEMLIMIT' && c.env.exists_one(f, f.name == e.name) && "
        f"has(e.valueFrom) && has({ref}) && {ref}.resource == 'limits.memory' && "
        f"(!has({ref}.containerName) || {ref}.containerName == '' || "
        f"{ref}.containerName == c.name) && "
        f"(!has({ref}.divisor) || string({ref}.divisor) == '1')"
    )
    usable = f"!{millibytes('c', 'limits')} && {quantity('c', 'limits')}.sign() > 0"
    return by_container(
        f"!(has(c.env) && {has('c', 'limits')} && {usable}) || !c.env.exists(e, {copies})"
    )
