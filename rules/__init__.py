"""The rule catalogue: one module per rule, each with ``ID``, ``SEVERITY``, ``SUMMARY``,
``FIX`` and ``check(workload, config)``; the module docstring is the rule's documentation.

Adding a rule: write its module, list it in ``CATALOGUE`` below, add its tests; the CLI,
the webhook, the JSON Schema test and ``docs/rules.md`` pick it up from here.
"""

from __future__ import annotations

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
