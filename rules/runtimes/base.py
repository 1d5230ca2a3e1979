"""What oomguard knows about a language runtime in a container, in one shape.

A :class:`Runtime` (one per module in ``rules/runtimes/``, listed in ``RUNTIMES``) reads a
container once (:meth:`Runtime.of`, cached on the container) into :class:`Settings`: the
effective heap against the container's memory limit and the setting that decides it, the
settings the runtime refuses or ignores, the values it reads that cannot be known, and why we
believe it runs there. Its ``rewrite`` is the fix: the patch that brings the heap to a share of
the limit. The generic rules (``runtime-flag-invalid``, ``runtime-flag-unresolved``,
``runtime-heap-unset``, ``*-exceeds-limit``/``*-headroom-low`` through ``rules/heap.py``)
read only this shape; how a runtime parses its flags stays in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oomguard.rules.config import Config
    from oomguard.rules.model import PatchOp, Path, Problem
    from oomguard.rules.runtimes.env import EnvValue
    from oomguard.rules.workload import Container


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class Heap:
    """The heap (or soft limit) the runtime will use under the container's limit."""

    size: Fraction  # bytes
    setting: str  # how it is set, for messages: '-Xmx2g (env JAVA_OPTS)'
    path: Path  # the most specific node that sets it
    source: Any  # the runtime's own record of that setting, for its rewrite


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class Invalid:
    """A setting the runtime refuses or ignores; the finding reads
    ``{setting} in {container}{detail}``."""

    setting: str  # '-Xmx2GB (env JAVA_OPTS)'
    detail: str  # ': ... ; the JVM refuses to start'
    path: Path


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class Settings:
    """What a runtime's reading of one container found: its heap, bad and unknown values."""

    heap: Heap | None = None  # None: no limit, or the runtime's default (which follows it)
    invalid: tuple[Invalid, ...] = ()  # in the order the runtime meets them
    unresolved: tuple[EnvValue, ...] = ()  # values it reads that cannot be known here
    evidence: str | None = None  # why we believe it runs here: 'its command runs java'
    sets_heap: bool = False  # some visible setting sizes the heap


# What a runtime reads in most containers: no setting of it at all (shared: it is immutable).
NO_SETTINGS = Settings()

# (the setting as written, where, what to use instead, its size in bytes)
FixedHeap = tuple[str, "Path", str, int]


def _nothing(container: Container, config: Config) -> None:
    return None


def _nothing_yet(container: Container) -> None:
    return None


@dataclass(frozen=True, eq=False, repr=False)
class Runtime:
    """One language runtime. The callables are plain functions of its module, so
    ``Container.derive(runtime.settings)`` computes the settings once per container."""

    name: str  # 'JVM'
    settings: Callable[[Container], Settings]
    # the configured share of the limit its heap may take (thresholds.*_ratio)
    ratio: Callable[[Config], Fraction]
    # the patch that brings ``heap`` down to ``target`` bytes (``ratio`` × the limit)
    rewrite: Callable[[Container, Heap, Fraction], tuple[PatchOp, ...]]
    # True: it stops on the first invalid setting (one finding, the rest counted);
    # False: it ignores each on its own (one finding each)
    stops_on_invalid: bool = True
    # a value it reads in another unit than written (a resourceFieldRef divisor); config
    # decides the value the message proposes
    misread: Callable[[Container, Config], Problem | None] = _nothing
    # runtime-heap-unset's finding and fix for it (None: its default follows the limit)
    unset: Callable[[Container, Config], Problem | None] = _nothing
    # an absolute heap size, which does not follow a limit VPA changes: (the setting as
    # written, where, what to use instead, its size in bytes)
    fixed: Callable[[Container, Config], FixedHeap | None] = _nothing
    # a heap the runtime sizes from the limit once, at start: (described, where)
    start_sized: Callable[[Container], tuple[str, Path] | None] = _nothing_yet

    def of(self, container: Container) -> Settings:
        # the memo read here first: several rules ask per container, after the first
        settings = container.memo.get(self.settings)
        return settings if settings is not None else container.derive(self.settings)


def env_path(container: Container, value: EnvValue) -> Path:
    """The node that sets an environment value: its literal ``value`` or its ``valueFrom``."""
    if value.path is None:
        return container.path
    return (*value.path, "value") if value.literal else value.path


def percent_text(ratio: Fraction, like: str) -> str:
    """``ratio`` as a percentage number, with a decimal point when the old value had one."""
    percent = ratio * 100
    whole = percent.denominator == 1
    if "." in like:
        return f"{float(percent):.1f}" if whole else f"{float(percent):g}"
    return str(percent.numerator) if whole else f"{float(percent):g}"
