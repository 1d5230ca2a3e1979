"""Runtime heap sizes against the container's memory limit, for every runtime alike.

:func:`heap_check` gives what the ``*-exceeds-limit`` and ``*-headroom-low`` rules of a
runtime (``rules/runtimes/``) compare: the effective heap in bytes, the limit, the configured
ratio, the setting that decides the heap (named in messages), where it is written and the
rewrite that brings it to ``ratio`` × limit. The two rules of a runtime then differ only in
the comparison (:func:`exceeds_limit`, :func:`headroom_low`); :func:`heap_problems` is all a
rule module runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from oomguard.rules.config import Config
from oomguard.rules.fixes import replaces_reference, target_bytes
from oomguard.rules.model import PatchOp, Path, Problem
from oomguard.rules.quantity import above_ratio, less
from oomguard.rules.runtimes.base import Heap, Runtime
from oomguard.rules.text import format_bytes, format_percent
from oomguard.rules.workload import Container, MemoryValue, Workload


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class HeapCheck:
    """One container's heap (or soft limit) beside its memory limit, for the heap rules."""

    container: Container
    runtime: Runtime
    heap: Heap
    limit: MemoryValue
    ratio: Fraction  # the configured share of the limit the heap may take

    @property
    def size(self) -> Fraction:  # effective heap (or soft limit) in bytes
        return self.heap.size

    @property
    def setting(self) -> str:  # how the heap is set, for messages: '-Xmx2g (env JAVA_OPTS)'
        return self.heap.setting

    @property
    def path(self) -> Path:  # the most specific node that sets it
        return self.heap.path

    @property
    def target(self) -> int:
        return target_bytes(self.limit.usable, self.ratio)

    def fix(self) -> tuple[PatchOp, ...]:
        """The runtime's rewrite, worked out only for a finding. None against a limit
        nobody wrote: whether the heap or the limit is wrong is the author's call (and the
        namespace's default may change)."""
        if self.limit.origin is not None:
            return ()
        return self.runtime.rewrite(self.container, self.heap, self.ratio)


def heap_check(runtime: Runtime, container: Container, config: Config) -> HeapCheck | None:
    """``runtime``'s heap in ``container`` against its limit, worked out once per container
    and config (two rules and the facts ask; a HeapCheck is immutable). The memo is read
    first, keyed by the runtime: one dict look-up for the second rule that asks."""
    hit = container.memo.get(runtime)
    if hit is not None and hit[0] is config:
        return hit[1]
    heap = container.derive(runtime.settings).heap
    check = (
        None  # most containers, for most runtimes
        if heap is None
        else HeapCheck(container, runtime, heap, container.effective_limit, runtime.ratio(config))
    )
    container.memo[runtime] = (config, check)
    return check


def heap_problems(
    runtime: Runtime,
    compare: Callable[[HeapCheck | None], Problem | None],
    workload: Workload,
    config: Config,
) -> list[Problem]:
    """A heap rule's ``check``: ``compare`` (:func:`exceeds_limit` or :func:`headroom_low`)
    on ``runtime``'s heap in each container."""
    problems = []
    for container in workload.containers:
        check = heap_check(runtime, container, config)
        if check is None:
            continue
        problem = compare(check)
        if problem is not None:
            problems.append(problem)
    return problems


def _literal_note(fix: tuple[PatchOp, ...]) -> str:
    if not replaces_reference(fix):
        return ""
    return (
        "; the fix writes that value in place of the valueFrom reference, "
        "so it no longer follows its source"
    )


def exceeds_limit(check: HeapCheck | None) -> Problem | None:
    if check is None or less(check.size, check.limit.usable):
        return None
    fix = check.fix()
    return Problem(
        f"{check.setting} is {_share(check)} of {_the_limit(check)}: heap plus off-heap "
        f"memory will pass the limit and the kernel will kill the container (exit 137); "
        f"{_use_at_most(check)} {format_percent(check.ratio, 1)} "
        f"({format_bytes(check.target)}){_literal_note(fix)}",
        check.path,
        check.container.name,
        fix,
    )


def headroom_low(check: HeapCheck | None) -> Problem | None:
    if check is None:
        return None
    limit = check.limit.usable
    if not (above_ratio(check.size, limit, check.ratio) and less(check.size, limit)):
        return None  # not ratio × limit < size < limit
    fix = check.fix()
    return Problem(
        f"{check.setting} is {_share(check)} of {_the_limit(check)}, above the "
        f"{format_percent(check.ratio, 1)} that leaves room for off-heap memory; "
        f"{_use_at_most(check)} {format_bytes(check.target)}{_literal_note(fix)}",
        check.path,
        check.container.name,
        fix,
    )


def _the_limit(check: HeapCheck) -> str:
    """``the 2Gi memory limit of container "app"``, or where a limit nobody wrote comes from."""
    limit, label = check.limit, check.container.label
    if limit.origin is None:
        return f"the {limit.text} memory limit of {label}"
    return f"the {limit.text} memory limit {label} gets from {limit.origin} (no limit is written)"


def _use_at_most(check: HeapCheck) -> str:
    if check.limit.origin is None:
        return "use at most"
    return "write a memory limit, or use at most"


def _share(check: HeapCheck) -> str:
    return format_percent(check.size, check.limit.usable)
