""".NET GC heap limits from the environment: ``DOTNET_GCHeapHardLimit`` (bytes) and
``DOTNET_GCHeapHardLimitPercent``, also with the legacy ``COMPlus_`` prefix (``DOTNET_`` wins).

Environment values are **hexadecimal** with or without ``0x``: ``GCHeapHardLimitPercent=75``
is 0x75 = 117 %, which the runtime ignores (it honours only 0 < p < 100), and
``GCHeapHardLimit=209715200`` is 0x209715200 bytes, about 8 GiB. The percent is ignored when
``GCHeapHardLimit`` is set. With a container limit and no setting, the default is
max(20 MB, 75 % of the limit): no finding.

``DOTNET`` at the bottom is this runtime in the shape the generic rules read
(``rules/runtimes/base.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from oomguard.rules.fixes import set_env, target_bytes
from oomguard.rules.model import Problem
from oomguard.rules.runtimes.base import (
    NO_SETTINGS,
    FixedHeap,
    Heap,
    Invalid,
    Runtime,
    Settings,
    env_path,
)
from oomguard.rules.text import format_bytes

if TYPE_CHECKING:
    from oomguard.rules.config import Config
    from oomguard.rules.model import PatchOp, Path
    from oomguard.rules.runtimes.env import EnvValue
    from oomguard.rules.workload import Container

PREFIXES = ("DOTNET_", "COMPlus_")
_HEX = re.compile(r"(0[xX])?([0-9a-fA-F]{1,16})")


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class DotnetSetting:
    """One .NET GC heap variable of a container, as set."""

    env: EnvValue
    setting: str  # 'GCHeapHardLimit' or 'GCHeapHardLimitPercent'
    number: int | None  # parsed hexadecimal value
    error: str | None = None

    @property
    def text(self) -> str:
        return f"{self.env.name}={self.env.value}"


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class DotnetSettings:
    """The .NET GC heap variables of one container."""

    hard_limit: DotnetSetting | None
    percent: DotnetSetting | None
    unresolved: tuple[EnvValue, ...] = ()

    @property
    def invalid(self) -> list[DotnetSetting]:
        return [s for s in (self.hard_limit, self.percent) if s is not None and s.error]

    @property
    def percent_honoured(self) -> bool:
        return (
            self.percent is not None
            and self.percent.number is not None
            and 0 < self.percent.number < 100
            and (self.hard_limit is None or self.hard_limit.number is None)
        )


def parse_dotnet_hex(text: str) -> int:
    """The number a .NET runtime reads from an environment value (hexadecimal)."""
    match = _HEX.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not hexadecimal (the runtime reads env values as hex)")
    return int(match.group(2), 16)


def format_dotnet_hex(number: int) -> str:
    """``number`` as hex, always with ``0x``: the runtime reads both, but ``30000000`` without
    the prefix reads as a decimal to people (the mistake ``dotnet-heap-*`` rules find)."""
    return f"0x{number:X}"


def dotnet_settings(container: Container) -> DotnetSettings:
    found: dict[str, DotnetSetting] = {}
    unresolved = []
    for setting in ("GCHeapHardLimit", "GCHeapHardLimitPercent"):
        for prefix in PREFIXES:  # DOTNET_ first: it takes precedence
            value = container.env.get(prefix + setting)
            if value is None:
                continue
            if value.value is None:
                if value.unresolved:
                    unresolved.append(value)
                break
            try:
                found[setting] = DotnetSetting(value, setting, parse_dotnet_hex(value.value))
            except ValueError as exc:
                found[setting] = DotnetSetting(value, setting, None, str(exc))
            break
    if not found and not unresolved:  # most containers: one shared, immutable answer
        return _NO_DOTNET_SETTINGS
    return DotnetSettings(
        found.get("GCHeapHardLimit"), found.get("GCHeapHardLimitPercent"), tuple(unresolved)
    )


_NO_DOTNET_SETTINGS = DotnetSettings(None, None)


def effective_dotnet_heap(
    settings: DotnetSettings, limit: Fraction
) -> tuple[Fraction, DotnetSetting] | None:
    """The GC hard limit in bytes and the setting that decides it (None: runtime default)."""
    hard = settings.hard_limit
    if hard is not None and hard.number is not None:
        return Fraction(hard.number), hard
    if settings.percent_honoured:
        # exact (limit and number may both be ints, and `/` would give a float)
        return Fraction(limit * settings.percent.number, 100), settings.percent
    return None


# --- .NET as a Runtime (rules/runtimes/base.py) ---------------------------------------


def settings(container: Container) -> Settings:
    """.NET's settings in the shape the generic rules read (once per container). No
    evidence: with a limit and no setting its default follows the limit."""
    native = container.derive(dotnet_settings)
    if native.hard_limit is None and native.percent is None and not native.unresolved:
        return NO_SETTINGS
    return Settings(
        heap=_heap(container, native),
        invalid=tuple(
            Invalid(
                setting.text,
                f": {setting.error}; the runtime ignores it",
                env_path(container, setting.env),
            )
            for setting in native.invalid
        ),
        unresolved=native.unresolved,
        sets_heap=native.hard_limit is not None or native.percent is not None,
    )


def _heap(container: Container, native: DotnetSettings) -> Heap | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    effective = effective_dotnet_heap(native, limit.usable)
    if effective is None:
        return None
    size, setting = effective
    if setting.setting == "GCHeapHardLimit":
        described = f"{setting.text} (hexadecimal: {format_bytes(int(size))})"
    else:
        described = f"{setting.text} ({setting.number}% = {format_bytes(int(size))})"
    return Heap(size, described, env_path(container, setting.env), setting)


def _rewrite(container: Container, heap: Heap, ratio: Fraction) -> tuple[PatchOp, ...]:
    setting: DotnetSetting = heap.source
    if setting.setting == "GCHeapHardLimit":
        new = format_dotnet_hex(target_bytes(container.effective_limit.usable, ratio))
    else:
        new = format_dotnet_hex(int(ratio * 100))
    return set_env(container, setting.env.name, new)


def _divided_hard_limit(container: Container, config: Config) -> Problem | None:
    """GCHeapHardLimit from resourceFieldRef with a divisor: a decimal unit count that .NET
    reads as hexadecimal bytes (gcconfig.h: GC settings from the environment are hex)."""
    setting = container.derive(dotnet_settings).hard_limit
    if setting is None or setting.number is None or setting.env.divisor is None:
        return None
    env = setting.env
    limit = container.limit
    target = format_dotnet_hex(target_bytes(limit.usable, config.thresholds.dotnet_heap_ratio))
    meant = int(env.value) * env.divisor_bytes
    return Problem(
        f"{env.name}={env.value} ({env.origin.removeprefix(f'env {env.name} ')}) in "
        f"{container.label} counts in units of {env.divisor} ({env.value} × {env.divisor} = "
        f"{format_bytes(meant)}), but .NET reads it as hexadecimal bytes: a GC heap hard "
        f"limit of 0x{env.value} = {setting.number} bytes; replace the resourceFieldRef with "
        f"{env.name}={target} (no divisor gives .NET hexadecimal bytes)",
        env_path(container, env),
        container.name,
    )


def _fixed(container: Container, config: Config) -> FixedHeap | None:
    hard = container.derive(dotnet_settings).hard_limit
    if hard is None or not hard.number:
        return None
    percent = int(config.thresholds.dotnet_heap_ratio * 100)
    return (
        hard.text,
        env_path(container, hard.env),
        f"use DOTNET_GCHeapHardLimitPercent={format_dotnet_hex(percent)} "
        f"(hexadecimal, {percent}%) instead",
        hard.number,
    )


def _start_sized(container: Container) -> tuple[str, Path] | None:
    percent = container.derive(dotnet_settings).percent
    if percent is None or not percent.number:
        return None
    return percent.text, env_path(container, percent.env)


def _ratio(config: Config) -> Fraction:
    return config.thresholds.dotnet_heap_ratio


DOTNET = Runtime(
    ".NET",
    settings,
    _ratio,
    _rewrite,
    # .NET ignores each bad GC setting on its own (it does not stop): one finding each
    stops_on_invalid=False,
    misread=_divided_hard_limit,
    fixed=_fixed,
    start_sized=_start_sized,
)
