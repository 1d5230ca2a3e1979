"""The runtimes (rules/runtimes/): every runtime module defines one Runtime listed in
RUNTIMES, each Runtime has its two heap rules and its threshold in the catalogue, and the
generic rules read each runtime's settings once per container. These fail when a hand-kept
list (RUNTIMES, CATALOGUE, a rule's RUNTIME/COMPARE, a threshold) drifts."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from fractions import Fraction

import pytest
from conftest import REPO
from helpers import config, findings, pod, workload_object
from oomguard import rules
from oomguard.rules import CATALOGUE, runtimes
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.heap import exceeds_limit, headroom_low, heap_check
from oomguard.rules.runtimes import RUNTIMES
from oomguard.rules.runtimes.base import Runtime
from oomguard.rules.workload import build_workload

# modules of rules/runtimes/ that hold shared parsing, not a runtime
SHARED = {"argv", "base", "env", "shell_words"}


def runtime_modules():
    return [
        importlib.import_module(f"oomguard.rules.runtimes.{info.name}")
        for info in pkgutil.iter_modules([str(REPO / "rules" / "runtimes")])
        if info.name not in SHARED
    ]


def test_every_runtime_module_defines_one_runtime_listed_in_runtimes():
    modules = runtime_modules()
    assert modules  # rules/runtimes/ read
    defined = []
    for module in modules:
        own = [value for value in vars(module).values() if isinstance(value, Runtime)]
        assert len(own) == 1, module.__name__
        defined.append(own[0])
    assert sorted(map(id, defined)) == sorted(map(id, RUNTIMES))
    assert len({id(runtime) for runtime in RUNTIMES}) == len(RUNTIMES)
    assert len({runtime.name for runtime in RUNTIMES}) == len(RUNTIMES)


def test_runtimes_in_output_order():
    # the order findings of different runtimes in one container appear in (and the facts'
    # heap of a container with two runtimes' settings): part of the output; a new runtime
    # goes after these
    assert [runtime.name for runtime in RUNTIMES][:4] == ["JVM", "Go", "Node.js", ".NET"]
    assert runtimes.RUNTIMES is RUNTIMES


def test_every_runtime_has_its_exceeds_and_headroom_rules_in_the_catalogue():
    heap_rules = [rule for rule in CATALOGUE if hasattr(rule, "RUNTIME")]
    pairs = Counter((id(rule.RUNTIME), rule.COMPARE) for rule in heap_rules)
    expected = {(id(r), compare) for r in RUNTIMES for compare in (exceeds_limit, headroom_low)}
    assert set(pairs) == expected
    assert set(pairs.values()) == {1}  # one rule module each
    # a heap rule module outside CATALOGUE would never run
    modules = [
        importlib.import_module(f"oomguard.rules.{info.name}")
        for info in pkgutil.iter_modules(rules.__path__)
    ]
    assert {m.__name__ for m in modules if hasattr(m, "RUNTIME")} == {
        rule.__name__ for rule in heap_rules
    }


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda r: r.name)
def test_each_runtime_reads_the_threshold_its_headroom_rule_declares(runtime):
    (rule,) = [r for r in CATALOGUE if getattr(r, "RUNTIME", None) is runtime
               and r.COMPARE is headroom_low]  # fmt: skip
    (option,) = rule.OPTIONS
    assert runtime.ratio(DEFAULT_CONFIG) == Fraction(str(option.default))
    assert runtime.ratio(config(thresholds={option.name: 0.5})) == Fraction(1, 2)


def test_settings_are_read_once_per_container():
    """Eleven rules and the facts ask each runtime about each container: the settings are
    computed once per container (Container.derive), not once per rule."""
    calls: Counter = Counter()
    originals = {runtime: runtime.settings for runtime in RUNTIMES}

    def counting(runtime, original):
        def counted(container):
            calls[runtime.name, container.name] += 1
            return original(container)

        return counted

    text = pod(
        "{name: a, image: eclipse-temurin:21, command: [java, -Xmx2g, -jar, a.jar],"
        ' env: [{name: GOMEMLIMIT, value: "1G"}], resources: {limits: {memory: 1Gi}}}',
        "{name: b, image: golang:1, env: [{name: NODE_OPTIONS, value: --max-old-space-size=900},"
        ' {name: DOTNET_GCHeapHardLimit, value: "0x40000000"}],'
        " resources: {limits: {memory: 1Gi}}}",
    )
    try:
        for runtime, original in originals.items():  # Runtime is frozen: swap the field
            object.__setattr__(runtime, "settings", counting(runtime, original))
        found = findings(text)
    finally:
        for runtime, original in originals.items():
            object.__setattr__(runtime, "settings", original)
    assert {f.rule for f in found} >= {
        "jvm-heap-exceeds-limit", "runtime-flag-invalid", "node-heap-headroom-low",
        "dotnet-heap-exceeds-limit", "runtime-heap-unset",
    }  # fmt: skip
    assert calls == {(r.name, c): 1 for r in RUNTIMES for c in ("a", "b")}


def test_heap_check_is_kept_per_runtime_and_per_config():
    # rules/heap.py keeps each runtime's HeapCheck in the container's memo, keyed by the
    # runtime and stamped with the config: two runtimes in one container, and a second
    # config (another jvm_heap_ratio), must each get their own answer.
    obj = workload_object(
        pod(
            "{name: a, image: x, command: [java, -Xmx2g, -jar, a.jar],"
            " env: [{name: NODE_OPTIONS, value: --max-old-space-size=900}],"
            " resources: {limits: {memory: 1Gi}}}"
        )
    )
    container = build_workload(obj).containers[0]
    jvm, node = (next(r for r in RUNTIMES if r.name == name) for name in ("JVM", "Node.js"))
    half = config(thresholds={"jvm_heap_ratio": 0.5})
    first = heap_check(jvm, container, DEFAULT_CONFIG)
    assert (first.size, first.ratio) == (2 * 1024**3, Fraction(3, 4))
    assert heap_check(node, container, DEFAULT_CONFIG).size == 900 * 1024**2
    assert heap_check(jvm, container, DEFAULT_CONFIG) is first
    assert heap_check(jvm, container, half).ratio == Fraction(1, 2)
    assert heap_check(jvm, container, DEFAULT_CONFIG).ratio == Fraction(3, 4)
    assert heap_check(node, container, half).size == 900 * 1024**2
