"""Runtime heap sizes against the container's memory limit, for every runtime alike.

Each ``*_heap_check`` returns what the ``*-exceeds-limit`` and ``*-headroom-low`` rules of
that runtime compare: the effective heap in bytes, the limit, the configured ratio, the
setting that decides the heap (named in messages), where it is written and the rewrite that
brings it to ``ratio`` × limit. The two rules of a runtime then differ only in the
comparison (:func:`exceeds_limit`, :func:`headroom_low`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from oomguard.rules.config import Config
from oomguard.rules.fixes import (
    replaces_reference,
    rewrite_token,
    rewrite_tokens,
    set_env,
    target_bytes,
)
from oomguard.rules.model import PatchOp, Path, Problem
from oomguard.rules.runtimes import dotnet, go, jvm, node
from oomguard.rules.text import format_bytes, format_percent
from oomguard.rules.workload import Container, MemoryValue


@dataclass(frozen=True, slots=True)
class HeapCheck:
    container: Container
    size: Fraction  # effective heap (or soft limit) in bytes
    limit: MemoryValue
    ratio: Fraction  # the configured share of the limit the heap may take
    setting: str  # how the heap is set, for messages: '-Xmx2g (env JAVA_OPTS)'
    path: Path  # the most specific node that sets it
    fix: tuple[PatchOp, ...]

    @property
    def target(self) -> int:
        return target_bytes(self.limit.usable, self.ratio)


def _literal_note(check: HeapCheck) -> str:
    if not replaces_reference(_fix(check)):
        return ""
    return (
        "; the fix writes that value in place of the valueFrom reference, "
        "so it no longer follows its source"
    )


def exceeds_limit(check: HeapCheck | None) -> Problem | None:
    if check is None or check.size < check.limit.usable:
        return None
    return Problem(
        f"{check.setting} is {_share(check)} of {_the_limit(check)}: heap plus off-heap "
        f"memory will pass the limit and the kernel will kill the container (exit 137); "
        f"{_use_at_most(check)} {format_percent(check.ratio, 1)} "
        f"({format_bytes(check.target)}){_literal_note(check)}",
        check.path,
        check.container.name,
        _fix(check),
    )


def headroom_low(check: HeapCheck | None) -> Problem | None:
    if check is None:
        return None
    limit = check.limit.usable
    if not check.ratio * limit < check.size < limit:
        return None
    return Problem(
        f"{check.setting} is {_share(check)} of {_the_limit(check)}, above the "
        f"{format_percent(check.ratio, 1)} that leaves room for off-heap memory; "
        f"{_use_at_most(check)} {format_bytes(check.target)}{_literal_note(check)}",
        check.path,
        check.container.name,
        _fix(check),
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


def _fix(check: HeapCheck) -> tuple[PatchOp, ...]:
    """No fix against a limit nobody wrote: whether the heap or the limit is wrong is the
    author's call (and the namespace's default may change)."""
    return () if check.limit.origin is not None else check.fix


def _share(check: HeapCheck) -> str:
    return format_percent(check.size, check.limit.usable)


def jvm_heap_check(container: Container, config: Config) -> HeapCheck | None:
    """The JVM heap against the limit, worked out once per container and config (two rules
    ask; a HeapCheck is immutable)."""
    checks = container.derive(_jvm_checks)
    hit = checks.get(id(config))
    if hit is None or hit[0] is not config:  # the config is kept: its id is not reused
        hit = checks[id(config)] = (config, _jvm_heap_check(container, config))
    return hit[1]


def _jvm_checks(container: Container) -> dict[int, tuple[Config, HeapCheck | None]]:
    return {}


def _jvm_heap_check(container: Container, config: Config) -> HeapCheck | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    settings = container.derive(jvm.jvm_settings)
    heap = jvm.effective_jvm_heap(settings, limit.usable)
    if heap is None:
        return None
    ratio = config.thresholds.jvm_heap_ratio
    flag = heap.flag
    if heap.basis in ("MaxHeapSize", "InitialHeapSize"):
        size = target_bytes(limit.usable, ratio)
        # an initial heap above the max raises the max (or stops the JVM): lower -Xms with -Xmx
        sized = [f for f in settings.flags if f.name == "InitialHeapSize" and f.size]
        fix = rewrite_tokens(
            container.workload,
            [
                (f.token, _jvm_size_text(f, size))
                for f in dict.fromkeys((flag, settings.last("MaxHeapSize"), *sized))
                if f is not None and f.size > size
            ],
        )
        setting = flag.described
        if heap.basis == "InitialHeapSize":
            setting += f", an initial heap that raises the max heap to {format_bytes(flag.size)},"
    else:
        fix = () if settings.last("MaxRAM") else _jvm_percent_fix(container, settings, ratio)
        setting = f"{flag.described}, a heap of {format_bytes(int(heap.size))}"
        if heap.basis == "MinRAMPercentage":
            # set_heap_size's "small physical memory" rule: MaxRAMPercentage plays no part
            setting += " (MinRAMPercentage sizes the heap of a container this small)"
        elif heap.basis == "floor":
            setting += " (HotSpot's default MaxHeapSize, the least it picks here)"
        if flag.legacy:
            setting += f" on JDK 8 to 22 ({jvm.LEGACY_NOTE})"
        setting += ","
    return HeapCheck(
        container, heap.size, limit, ratio, setting, flag.token.path or container.path, fix
    )


def _jvm_percent_fix(
    container: Container, settings: jvm.JvmSettings, ratio: Fraction
) -> tuple[PatchOp, ...]:
    """Rewrite the Max/MinRAMPercentage (or legacy fraction) flags above ``ratio`` to it, in
    place. With both at most ``ratio`` the heap is at most ``ratio`` × the limit, whichever
    of ``set_heap_size``'s branches applies (see ``jvm.ergonomic_max_heap``); a fraction
    becomes the percentage, which every JDK since 8u191 reads."""
    rewrites = []
    for name in ("MaxRAMPercentage", "MinRAMPercentage"):
        flag = settings.percentage(name)
        if flag is not None and flag.percent > ratio * 100:
            like = "" if flag.legacy else flag.value
            rewrites.append((flag.token, f"-XX:{name}={_percent_text(ratio, like)}"))
    return rewrite_tokens(container.workload, rewrites)


def _jvm_size_text(flag: jvm.JvmFlag, size: int) -> str:
    """``flag`` as written, with ``size`` in the unit style of its value."""
    prefix = flag.text[: len(flag.text) - len(flag.value)]
    return prefix + jvm.format_jvm_size(size, flag.value)


def go_heap_check(container: Container, config: Config) -> HeapCheck | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    settings = container.derive(go.go_settings)
    if limit is None or not limit.usable or settings.memlimit_bytes is None:
        return None
    ratio = config.thresholds.go_memlimit_ratio
    memlimit = settings.memlimit
    value = go.format_gomemlimit(
        target_bytes(limit.usable, ratio), memlimit.value if memlimit.literal else None
    )
    described = f"GOMEMLIMIT={memlimit.value}"
    if not memlimit.literal:
        described += f" ({memlimit.origin.removeprefix('env GOMEMLIMIT ')})"
    return HeapCheck(
        container,
        Fraction(settings.memlimit_bytes),
        limit,
        ratio,
        described,
        env_path(container, memlimit),
        set_env(container, "GOMEMLIMIT", value),
    )


def node_heap_check(container: Container, config: Config) -> HeapCheck | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    flag = container.derive(node.node_settings).effective()
    if flag is None:
        return None
    ratio = config.thresholds.node_heap_ratio
    size = node.node_heap(flag, limit.usable)
    name = flag.token.text.split("=", 1)[0]
    if "=" not in flag.token.text:
        fix: tuple[PatchOp, ...] = ()
    elif flag.percentage:
        fix = rewrite_token(
            container.workload, flag.token, f"{name}={_percent_text(ratio, flag.value)}"
        )
    else:
        fix = rewrite_token(
            container.workload, flag.token, f"{name}={target_bytes(limit.usable, ratio) // 1024**2}"
        )
    setting = (
        flag.described if not flag.percentage else f"{flag.described}, {format_bytes(int(size))},"
    )
    return HeapCheck(container, size, limit, ratio, setting, flag.token.path or container.path, fix)


def dotnet_heap_check(container: Container, config: Config) -> HeapCheck | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    settings = container.derive(dotnet.dotnet_settings)
    effective = dotnet.effective_dotnet_heap(settings, limit.usable)
    if effective is None:
        return None
    size, setting = effective
    ratio = config.thresholds.dotnet_heap_ratio
    if setting.setting == "GCHeapHardLimit":
        new = dotnet.format_dotnet_hex(target_bytes(limit.usable, ratio))
        described = f"{setting.text} (hexadecimal: {format_bytes(int(size))})"
    else:
        new = dotnet.format_dotnet_hex(int(ratio * 100))
        described = f"{setting.text} ({setting.number}% = {format_bytes(int(size))})"
    return HeapCheck(
        container,
        size,
        limit,
        ratio,
        described,
        env_path(container, setting.env),
        set_env(container, setting.env.name, new),
    )


def env_path(container: Container, value) -> Path:
    if value.path is None:
        return container.path
    return (*value.path, "value") if value.literal else value.path


def _percent_text(ratio: Fraction, like: str) -> str:
    """``ratio`` as a percentage number, with a decimal point when the old value had one."""
    percent = ratio * 100
    whole = percent.denominator == 1
    if "." in like:
        return f"{float(percent):.1f}" if whole else f"{float(percent):g}"
    return str(percent.numerator) if whole else f"{float(percent):g}"
