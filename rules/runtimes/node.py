"""Node.js heap flags: ``--max-old-space-size=N`` (MiB) on the node command line or in
``NODE_OPTIONS``; ``--max-old-space-size-percentage=P`` takes precedence over it.

Node reads ``NODE_OPTIONS`` first and the command line after it, so for one flag the command
line wins. Without a flag current Node sizes its heap from the cgroup limit, so an unset flag
is not a finding.

``--max-old-space-size 1024`` (a space, not ``=``) is not a 1024 MiB heap: node declares the
flag as a ``V8Option`` (src/node_options.cc), and ``OptionsParser::Parse``
(src/node_options-inl.h) takes no value for those, so V8 gets the flag alone and
``FlagList::SetFlagsFromCommandLine`` (deps/v8/src/flags/flags.cc) stops with "missing value
for flag"; node exits at start. It is invalid, never a heap size, and no fix rewrites it.

``NODE`` at the bottom is this runtime in the shape the generic rules read
(``rules/runtimes/base.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from oomguard.rules.fixes import rewrite_token, target_bytes
from oomguard.rules.runtimes.argv import Token, env_words
from oomguard.rules.runtimes.base import (
    NO_SETTINGS,
    FixedHeap,
    Heap,
    Invalid,
    Runtime,
    Settings,
    percent_text,
)
from oomguard.rules.text import format_bytes, format_percent

if TYPE_CHECKING:
    from oomguard.rules.config import Config
    from oomguard.rules.model import PatchOp, Path
    from oomguard.rules.runtimes.env import EnvValue
    from oomguard.rules.workload import Container

NODE_PROGRAMS = frozenset({"node", "nodejs"})
_FLAG = re.compile(r"--max[-_]old[-_]space[-_]size(?P<pct>[-_]percentage)?(?:=(?P<value>.*))?")
_PERCENT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_SPACE_ERROR = (
    "node hands this flag to V8 without the word after it, so V8 finds no value and node "
    "exits at start (write it with =, e.g. --max-old-space-size=1024)"
)


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class NodeFlag:
    """One Node.js heap flag of a container, as written."""

    token: Token
    percentage: bool  # --max-old-space-size-percentage
    value: str
    mib: int | None = None
    percent: Fraction | None = None
    error: str | None = None

    @property
    def described(self) -> str:
        text = self.token.text
        if "=" not in text and self.value:
            text = f"{text} {self.value}"
        return f"{text} ({self.token.origin})"


@dataclass(eq=False, repr=False)
class NodeSettings:
    """The Node.js heap flags of one container, and the values that cannot be read."""

    flags: list[NodeFlag] = field(default_factory=list)
    unresolved: list[EnvValue] = field(default_factory=list)

    def effective(self) -> NodeFlag | None:
        """The flag that sizes the old space: the last valid percentage flag, else the last
        valid size flag."""
        valid = [flag for flag in self.flags if flag.error is None]
        percentage = [flag for flag in valid if flag.percentage]
        if percentage:
            return percentage[-1]
        return valid[-1] if valid else None

    @property
    def invalid(self) -> list[NodeFlag]:
        """In the order node meets them: ``ProcessGlobalArgsInternal`` (src/node.cc) handles
        ``NODE_OPTIONS`` first and returns on its error, and V8's
        ``FlagList::SetFlagsFromCommandLine`` stops at the first illegal value."""
        return [flag for flag in self.flags if flag.error is not None]


def node_settings(container: Container) -> NodeSettings:
    settings = NodeSettings()
    options = container.env.get("NODE_OPTIONS")
    if options is not None:
        if options.value is None and options.unresolved:
            settings.unresolved.append(options)
        _collect(settings, env_words(options, set()))
    node_lines = [line for line in container.commands if line.program in NODE_PROGRAMS]
    if node_lines:
        _collect(settings, _node_options(node_lines[-1].args))
    return settings


def node_heap(flag: NodeFlag, limit: Fraction) -> Fraction:
    """Old-space size in bytes that ``flag`` sets for ``limit``."""
    if flag.percentage:
        return Fraction(limit * flag.percent, 100)  # exact, whatever the operand types
    return Fraction(flag.mib * 1024**2)


def _node_options(args: list[Token]) -> list[Token]:
    """Node options come before the script name."""
    options = []
    takes_value = False
    for token in args:
        if not takes_value and not token.text.startswith("-"):
            break
        options.append(token)
        # "--max-old-space-size 4096": node makes the next word the script (and then fails)
        match = None if takes_value else _FLAG.fullmatch(token.text)
        takes_value = match is not None and match["value"] is None
    return options


def _collect(settings: NodeSettings, tokens: list[Token]) -> None:
    for index, token in enumerate(tokens):
        match = _FLAG.fullmatch(token.text)
        if match is None:
            continue
        value = match["value"]
        percentage = match["pct"] is not None
        if value is None and not percentage:  # "--max-old-space-size 4096": see the docstring
            value = tokens[index + 1].text if index + 1 < len(tokens) else ""
            settings.flags.append(NodeFlag(token, False, value, error=_SPACE_ERROR))
            continue
        if value is None:  # a node option: "--max-old-space-size-percentage 75" takes the next
            if index + 1 >= len(tokens):
                settings.flags.append(NodeFlag(token, True, "", error="it needs a value"))
                continue
            value = tokens[index + 1].text
        if percentage:
            if not _PERCENT.fullmatch(value) or not 0 < Fraction(value) <= 100:
                flag = NodeFlag(
                    token, True, value, error=f"{value!r} is not a percentage in (0, 100]"
                )
            else:
                flag = NodeFlag(token, True, value, percent=Fraction(value))
        elif value.isdigit() and value.isascii():
            flag = NodeFlag(token, False, value, mib=int(value))
        else:
            flag = NodeFlag(
                token,
                False,
                value,
                error=f"{value!r} is not a whole number of MiB (write e.g. 1536)",
            )
        settings.flags.append(flag)


# --- Node.js as a Runtime (rules/runtimes/base.py) ------------------------------------


def settings(container: Container) -> Settings:
    """Node's settings in the shape the generic rules read (once per container). No
    evidence: without a flag Node sizes its heap from the limit, so an unset flag is fine."""
    native = container.derive(node_settings)
    if not native.flags and not native.unresolved:
        return NO_SETTINGS
    return Settings(
        heap=_heap(container, native),
        invalid=tuple(
            Invalid(
                flag.described,
                f": {flag.error}; node rejects it",
                flag.token.path or container.path,
            )
            for flag in native.invalid
        ),
        unresolved=tuple(native.unresolved),
        sets_heap=bool(native.flags),
    )


def _heap(container: Container, native: NodeSettings) -> Heap | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    flag = native.effective()
    if flag is None:
        return None
    size = node_heap(flag, limit.usable)
    setting = (
        flag.described if not flag.percentage else f"{flag.described}, {format_bytes(int(size))},"
    )
    return Heap(size, setting, flag.token.path or container.path, flag)


def _rewrite(container: Container, heap: Heap, ratio: Fraction) -> tuple[PatchOp, ...]:
    flag: NodeFlag = heap.source
    name = flag.token.text.split("=", 1)[0]
    if "=" not in flag.token.text:
        return ()
    if flag.percentage:
        value = percent_text(ratio, flag.value)
    else:
        value = str(target_bytes(container.effective_limit.usable, ratio) // 1024**2)
    return rewrite_token(container.workload, flag.token, f"{name}={value}")


def _fixed(container: Container, config: Config) -> FixedHeap | None:
    size = container.derive(node_settings).effective()
    if size is None or size.percentage or not size.mib:
        return None
    percent = format_percent(config.thresholds.node_heap_ratio, 1).removesuffix("%")
    return (
        size.described,
        size.token.path or container.path,
        f"use --max-old-space-size-percentage={percent} instead",
        size.mib * 1024**2,
    )


def _start_sized(container: Container) -> tuple[str, Path] | None:
    size = container.derive(node_settings).effective()
    if size is None or not size.percentage:
        return None
    return size.described, size.token.path or container.path


def _ratio(config: Config) -> Fraction:
    return config.thresholds.node_heap_ratio


NODE = Runtime("Node.js", settings, _ratio, _rewrite, fixed=_fixed, start_sized=_start_sized)
