"""The rule catalogue: one module per rule, each with ``ID``, ``SEVERITY``, ``SUMMARY``,
``FIX`` and ``check(workload, config)``; the module docstring is the rule's documentation.

A rule module may also declare, as module attributes (what it leaves out gets the default
of :class:`~oomguard.rules.model.RuleMeta`, read only through :func:`rule_meta` / ``META``):

* ``FIX_IN_ADMISSION = False``: its fix runs in ``lint --fix`` only, never in ``/mutate``
  (a fix that guesses the author's intent from the text).
* ``FIX_NEEDS_DEFAULTS = True``: its fix adds values from ``defaults:``; ``lint --fix``
  applies it by default only when those are configured.
* ``EXPLAINS_OOM_KILL = True``: its finding on a container names a cause of that
  container's OOM kills (``container-oomkilled`` lists it).
* ``OPTIONS``: the ``thresholds:`` keys it owns, as :class:`~oomguard.rules.model.Option`
  (name, type, default, bounds, description); ``OPTIONS`` below collects them, and the
  config schema's ``thresholds`` are generated from them.

Adding a rule: write its module (docstring with PASS/FAIL examples, ``ID``, ``SEVERITY``,
``SUMMARY``, ``FIX``, ``check()`` and the declarations above it needs), list it in
``CATALOGUE`` below, add its tests, then ``python scripts/regenerate.py`` (``docs/rules.md``
and the rule and threshold entries of ``rules/config.schema.json`` and of the chart's
``values.schema.json``; tests fail while they are stale). Nothing else lists rules: the
engine, the CLI, the webhook and the tests read the catalogue and these declarations.
"""

from __future__ import annotations

from dataclasses import fields
from types import ModuleType

from oomguard.rules import (
    best_effort_pod,
    container_oomkilled,
    dotnet_heap_exceeds_limit,
    dotnet_heap_headroom_low,
    dotnet_heap_percent_ignored,
    go_gc_off_without_memlimit,
    go_memlimit_exceeds_limit,
    go_memlimit_headroom_low,
    heap_resize_in_place,
    jvm_container_support_disabled,
    jvm_heap_exceeds_limit,
    jvm_heap_headroom_low,
    limitrange_violation,
    manifest_invalid,
    memory_limit_missing,
    memory_limit_request_ratio,
    memory_limit_too_low,
    memory_quantity_invalid,
    memory_quantity_millibytes,
    memory_request_exceeds_limit,
    memory_request_missing,
    node_heap_exceeds_limit,
    node_heap_headroom_low,
    presets,  # noqa: F401 (fills kinds.PRESETS: other projects' workload kinds)
    qos_not_guaranteed,
    runtime_flag_invalid,
    runtime_flag_unresolved,
    runtime_heap_unset,
    vpa_heap_fixed,
    vpa_limit_below_max_allowed,
    workload_kind_unknown,
)
from oomguard.rules.model import Option, RuleMeta

# In the order of the specification's catalogue.
CATALOGUE: tuple[ModuleType, ...] = (
    memory_limit_missing,
    memory_request_missing,
    best_effort_pod,
    memory_request_exceeds_limit,
    memory_quantity_invalid,
    memory_quantity_millibytes,
    memory_limit_too_low,
    memory_limit_request_ratio,
    qos_not_guaranteed,
    jvm_heap_exceeds_limit,
    jvm_heap_headroom_low,
    jvm_container_support_disabled,
    go_memlimit_exceeds_limit,
    go_memlimit_headroom_low,
    go_gc_off_without_memlimit,
    node_heap_exceeds_limit,
    node_heap_headroom_low,
    dotnet_heap_exceeds_limit,
    dotnet_heap_headroom_low,
    dotnet_heap_percent_ignored,
    runtime_flag_invalid,
    runtime_flag_unresolved,
    runtime_heap_unset,
    manifest_invalid,
    container_oomkilled,  # needs a pod status: oomguard audit, or Pod dumps
    workload_kind_unknown,  # objects outside the registry only
    limitrange_violation,  # needs LimitRanges: in the input, the cluster or the webhook's cache
    vpa_heap_fixed,  # needs VerticalPodAutoscalers in the input
    vpa_limit_below_max_allowed,
    heap_resize_in_place,  # in-place resize: a resizePolicy, or an in-place VPA in the input
)
RULES: dict[str, ModuleType] = {rule.ID: rule for rule in CATALOGUE}


def rule_meta(rule: ModuleType) -> RuleMeta:
    """A rule module's declarations, with the defaults for what it does not declare."""
    return RuleMeta(**{f.name: getattr(rule, f.name.upper(), f.default) for f in fields(RuleMeta)})


META: dict[str, RuleMeta] = {rule.ID: rule_meta(rule) for rule in CATALOGUE}
# Every rule's ``thresholds:`` keys, in catalogue order (a key belongs to one rule).
OPTIONS: tuple[Option, ...] = tuple(o for rule in CATALOGUE for o in META[rule.ID].options)
