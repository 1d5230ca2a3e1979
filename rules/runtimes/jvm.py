"""The JVM's effective heap settings, read as the JVM reads them.

Order (for one flag the last occurrence wins): ``JAVA_TOOL_OPTIONS``, then
``JDK_JAVA_OPTIONS`` (the ``java`` launcher prepends it to its arguments, JDK 9+), then the
``java`` command line, then ``_JAVA_OPTIONS``. Conventional variables (``JAVA_OPTS``,
``JAVA_OPTIONS``, …) count where the command expands them, or, when the container sets no
command at all, as what the image's entrypoint passes to ``java`` (the convention these
names exist for).

Sizes follow HotSpot's ``atojulong``: digits or ``0x`` hex with at most one of ``k K m M g G t
T`` (powers of 1024); ``2GB`` or ``1.5g`` make the JVM refuse to start.

Without ``-Xmx`` the max heap follows ``Arguments::set_heap_size`` (JDK 8-25, arguments.cpp;
``GCArguments::set_heap_size`` in gcArguments.cpp since): with ``MinRAMPercentage`` (default
50) of the memory below the default ``MaxHeapSize`` (``ScaleForWordSize(96*M)``, 124.8 MiB on
64-bit, gc_globals.hpp) the memory is "small" and ``MinRAMPercentage`` sizes the heap *instead
of* ``MaxRAMPercentage``; otherwise the heap is ``MaxRAMPercentage`` (default 25) of it, but
at least that 124.8 MiB. So the default heap is 50 % below a 249.6 MiB limit and a flat
124.8 MiB up to 499.2 MiB. See :func:`ergonomic_max_heap`.

The legacy ``-XX:MaxRAMFraction=n`` / ``MinRAMFraction`` / ``InitialRAMFraction`` set the
matching percentage to 100/n when that percentage is not given (``set_heap_size``: "Convert
deprecated flags"; ``MaxRAMFraction=1`` is 100 %). We judge them as JDK 8 to 22 do, the JDKs
people run: JDK 23 made them obsolete (JDK-8324771: accepted with a warning and ignored) and
later JDKs no longer list them in ``special_jvm_flags``, so they refuse to start on them;
messages say so. Values a JDK refuses at start (a fraction of 0, a percentage outside 0-100,
a max heap below 2 MiB, an initial heap below 1 MiB, ``-Xms`` above ``-Xmx`` on the command
line) are errors, reported by ``runtime-flag-invalid``.

``JVM`` at the bottom is this runtime in the shape the generic rules read
(``rules/runtimes/base.py``).

(About 600 lines: where the options come from, how HotSpot turns them into a heap and how a
fix rewrites them are one model; split, each part would have to re-derive the others' order
rules.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

from oomguard.rules.fixes import rewrite_tokens, set_env, target_bytes
from oomguard.rules.model import Problem
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
from oomguard.rules.runtimes.env import FROM_POD_FIELD
from oomguard.rules.text import format_bytes, format_percent

if TYPE_CHECKING:
    from oomguard.rules.config import Config
    from oomguard.rules.model import PatchOp, Path
    from oomguard.rules.runtimes.env import EnvValue
    from oomguard.rules.workload import Container

CONVENTIONAL_VARS = (
    "JAVA_OPTS",
    "JAVA_OPTIONS",
    "JVM_OPTS",
    "ES_JAVA_OPTS",
    "CATALINA_OPTS",
    "KAFKA_HEAP_OPTS",
)
DEFAULT_MAX_RAM_PERCENTAGE = Fraction(25)
DEFAULT_MIN_RAM_PERCENTAGE = Fraction(50)
# gc_globals.hpp: MaxHeapSize defaults to ScaleForWordSize(96*M) = align_down(96M * 13 / 10,
# HeapWordSize) on 64-bit (globals_shared.hpp); set_heap_size compares against this default.
DEFAULT_MAX_HEAP_SIZE = 96 * 1024**2 * 13 // 10 // 8 * 8
# GCArguments::initialize_heap_flags_and_sizes: "Too small maximum heap" / "initial heap".
MIN_MAX_HEAP_SIZE = 2 * 1024**2
MIN_INITIAL_HEAP_SIZE = 1024**2
# set_heap_size: "Convert deprecated flags" (the percentage wins when both are given).
FRACTION_OF = {
    "MaxRAMPercentage": "MaxRAMFraction",
    "MinRAMPercentage": "MinRAMFraction",
    "InitialRAMPercentage": "InitialRAMFraction",
}
# Flags that set the max heap (InitialHeapSize only raises it).
HEAP_SETTINGS = frozenset(
    {"MaxHeapSize", "MaxRAM", "MaxRAMPercentage", "MinRAMPercentage", "MaxRAMFraction",
     "MinRAMFraction"}
)  # fmt: skip
LEGACY_NOTE = "JDK 23 ignores the flag and later JDKs refuse to start on it"
# JAVA_TOOL_OPTIONS and _JAVA_OPTIONS are read by the JVM itself (origin ENVIRON_VAR); the
# launcher puts JDK_JAVA_OPTIONS and its own arguments on the command line (COMMAND_LINE).
_ENVIRON_ORIGINS = ("env JAVA_TOOL_OPTIONS", "env _JAVA_OPTIONS")
JVM_IMAGE = re.compile(
    r"(^|/)(openjdk|eclipse-temurin|temurin|amazoncorretto|ibm-semeru-runtimes|zulu-openjdk|"
    r"liberica-openjdk[\w-]*|sapmachine|adoptopenjdk|java|jre|jdk|tomcat|jetty)(:|@|$)"
)
_SIZE = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)([kKmMgGtT]?)")
_PERCENT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
# Launcher options that take the next word as their value.
_WITH_VALUE = frozenset(
    {
        "-cp",
        "-classpath",
        "--class-path",
        "-p",
        "--module-path",
        "--upgrade-module-path",
        "--add-modules",
        "--limit-modules",
        "--add-reads",
        "--add-exports",
        "--add-opens",
        "--patch-module",
        "--enable-native-access",
    }
)


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class JvmFlag:
    """One heap-related JVM option as written."""

    # 'MaxHeapSize' (-Xmx or -XX:MaxHeapSize), 'InitialHeapSize' (-Xms or -XX:InitialHeapSize),
    # 'MaxRAMPercentage', 'MinRAMPercentage', 'MaxRAMFraction', 'MinRAMFraction',
    # 'InitialRAMFraction', 'MaxRAM', 'UseContainerSupport'
    name: str
    token: Token
    value: str  # the text after the flag name
    size: int | None = None  # bytes, for size flags
    percent: Fraction | None = None  # for the percentages, and 100/n for the fractions
    enabled: bool | None = None  # for ±UseContainerSupport
    error: str | None = None
    # when the JVM meets the error: 0 while parsing the options (the first one stops it), or
    # the order of GCArguments::initialize_heap_flags_and_sizes' checks after parsing (1-3)
    stage: int = 0

    @property
    def text(self) -> str:
        return self.token.text

    @property
    def described(self) -> str:
        return f"{self.text} ({self.token.origin})"

    @property
    def legacy(self) -> bool:
        """A RAMFraction flag (sizes the heap on JDK 8-22 only)."""
        return self.name.endswith("Fraction")

    @property
    def on_command_line(self) -> bool:
        return not self.token.origin.startswith(_ENVIRON_ORIGINS)


@dataclass(eq=False, repr=False)
class JvmSettings:
    """The JVM options of one container, and the values that cannot be read."""

    flags: list[JvmFlag] = field(default_factory=list)  # in the order the JVM applies them
    evidence: str | None = None  # why we believe a JVM runs here
    unresolved: list[EnvValue] = field(default_factory=list)
    # (flags list, its length, name -> last valid flag): rules ask ``last`` many times per
    # container, so the scan is done once per list (rebuilt when flags are added or replaced)
    _last: tuple | None = field(default=None, repr=False, compare=False)

    def last(self, name: str) -> JvmFlag | None:
        index = self._last
        if index is None or index[0] is not self.flags or index[1] != len(self.flags):
            by_name = {flag.name: flag for flag in self.flags if flag.error is None}
            index = self._last = (self.flags, len(self.flags), by_name)
        return index[2].get(name)

    @property
    def invalid(self) -> list[JvmFlag]:
        """The refused options in the order the JVM meets them: the first is the one it
        stops on (``Arguments::parse_each_vm_init_arg`` returns ``JNI_EINVAL`` at the first
        bad option, e.g. "Invalid maximum heap size"; the size checks after parsing exit at
        the first that fails)."""
        refused = [flag for flag in self.flags if flag.error is not None]
        return sorted(refused, key=lambda flag: flag.stage)  # stable: option order within

    @property
    def sets_heap(self) -> bool:
        return any(flag.name in HEAP_SETTINGS for flag in self.flags)

    def percentage(self, name: str) -> JvmFlag | None:
        """The flag that sets ``name`` ('MaxRAMPercentage', …): the percentage when given,
        else its legacy fraction."""
        return self.last(name) or self.last(FRACTION_OF[name])

    @property
    def container_support_disabled(self) -> JvmFlag | None:
        flag = self.last("UseContainerSupport")
        return flag if flag is not None and flag.enabled is False else None


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class JvmHeap:
    """The maximum heap the JVM will use in a container, and the flag that decides it."""

    size: Fraction
    flag: JvmFlag
    # 'MaxHeapSize', 'InitialHeapSize', 'MaxRAMPercentage', 'MinRAMPercentage' (small memory)
    # or 'floor' (the default MaxHeapSize, 124.8 MiB, is the heap)
    basis: str


def jvm_settings(container: Container) -> JvmSettings:
    settings = JvmSettings()
    env = container.env
    java_lines = [line for line in container.commands if line.program == "java"]
    java = java_lines[-1] if java_lines else None

    values = env.values

    def add_env(name: str, origin_note: str = "") -> None:
        value = env.get(name)
        if value is None:
            return
        if value.value is None:
            if value.unresolved:
                settings.unresolved.append(value)
            return
        for token in env_words(value, set()):
            if origin_note:
                token = Token(token.text, token.origin + origin_note, token.path, token.occurrence)
            _add(settings, token)

    # Each add_env only for a name the container sets (most names in most containers): the
    # call is most of the cost of a JVM-free container.
    if "JAVA_TOOL_OPTIONS" in values:
        add_env("JAVA_TOOL_OPTIONS")
    # Every java launcher the container starts reads it, whether the command runs java
    # directly, through a script or through the image's entrypoint.
    if "JDK_JAVA_OPTIONS" in values:
        add_env("JDK_JAVA_OPTIONS")
    if java is not None:
        settings.evidence = "its command runs java"
        for token in _jvm_options(java.args):
            _add(settings, token)
        # any variable it expands may hold the heap flag, whatever its name
        for name in sorted(java.references):
            value = env.get(name)
            if value is not None and value.value is None and _may_hold_flags(value):
                settings.unresolved.append(value)
    elif not container.spec.get("command"):  # the image's entrypoint runs, maybe with args
        for name in CONVENTIONAL_VARS:
            if name in values:
                add_env(name, ", passed to java by the image's entrypoint")
    if "_JAVA_OPTIONS" in values:
        add_env("_JAVA_OPTIONS")
    _check_start_values(settings)
    if settings.evidence is None:
        if JVM_IMAGE.search(container.image.split("@")[0].lower()):
            settings.evidence = f'its image "{container.image}" runs a JVM'
        elif settings.flags:
            settings.evidence = f"it sets JVM options ({settings.flags[0].token.origin})"
    return settings


def _may_hold_flags(value: EnvValue) -> bool:
    """An unknown value that could be JVM options: not a pod field (name, IP, …)."""
    return bool(value.unresolved) and value.unresolved != FROM_POD_FIELD


def effective_jvm_heap(settings: JvmSettings, limit: Fraction) -> JvmHeap | None:
    """The max heap the JVM sizes for this limit, when a flag sets it (None: JVM default).

    An initial heap (-Xms) above the max raises the max to it
    (``GCArguments::initialize_heap_flags_and_sizes``; ``set_heap_size`` without -Xmx), so
    -Xms decides then. Both on the command line, the JVM refuses instead (reported as
    invalid; the -Xms is still what a fix must lower)."""
    if not settings.flags:  # most containers: no flag, so none decides
        return None
    initial = settings.last("InitialHeapSize")
    explicit = settings.last("MaxHeapSize")
    if explicit is not None:
        if initial is not None and initial.size > explicit.size:
            return JvmHeap(Fraction(initial.size), initial, "InitialHeapSize")
        return JvmHeap(Fraction(explicit.size), explicit, "MaxHeapSize")
    if settings.container_support_disabled is not None and settings.last("MaxRAM") is None:
        return None  # sized from the node's memory: jvm-container-support-disabled says so
    max_ram = settings.last("MaxRAM")
    memory = Fraction(max_ram.size) if max_ram is not None else limit
    maximum = settings.percentage("MaxRAMPercentage")
    minimum = settings.percentage("MinRAMPercentage")
    size, basis = default_heap(settings, memory)
    if initial is not None and initial.size > size:
        return JvmHeap(Fraction(initial.size), initial, "InitialHeapSize")
    flag = {"MinRAMPercentage": minimum, "MaxRAMPercentage": maximum}.get(basis)
    if basis == "floor":
        flag = minimum or maximum  # a MinRAMPercentage that ends "small memory" decides
    flag = flag or max_ram
    if flag is None:
        return None
    return JvmHeap(size, flag, basis)


@lru_cache(maxsize=1024)  # Fraction arithmetic, for the few limits an input repeats
def ergonomic_max_heap(
    memory: Fraction, max_percent: Fraction, min_percent: Fraction
) -> tuple[Fraction, str]:
    """HotSpot's max heap without -Xmx, and what decided it.

    ``Arguments::set_heap_size`` (``GCArguments::set_heap_size`` in newer JDKs)::

        reasonable_min = phys_mem * MinRAMPercentage / 100
        if (reasonable_min < MaxHeapSize)   // the default, 124.8 MiB
          reasonable_max = reasonable_min    // "Small physical memory"
        else
          reasonable_max = MAX2(phys_mem * MaxRAMPercentage / 100, MaxHeapSize)
    """
    reasonable_min = memory * min_percent / 100
    if reasonable_min < DEFAULT_MAX_HEAP_SIZE:
        return reasonable_min, "MinRAMPercentage"
    share = memory * max_percent / 100
    if share >= DEFAULT_MAX_HEAP_SIZE:
        return share, "MaxRAMPercentage"
    return Fraction(DEFAULT_MAX_HEAP_SIZE), "floor"


def default_heap(settings: JvmSettings, memory: Fraction) -> tuple[Fraction, str]:
    """The heap the JVM picks for ``memory`` from its percentages (defaults where unset)."""
    maximum = settings.percentage("MaxRAMPercentage")
    minimum = settings.percentage("MinRAMPercentage")
    return ergonomic_max_heap(
        memory,
        maximum.percent if maximum is not None else DEFAULT_MAX_RAM_PERCENTAGE,
        minimum.percent if minimum is not None else DEFAULT_MIN_RAM_PERCENTAGE,
    )


def parse_jvm_size(text: str) -> int:
    """Bytes for a HotSpot size (``1536m``, ``2g``, ``0x100000``); ValueError if refused."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a JVM size (digits with one of k, m, g, t)")
    number = int(match.group(1), 16) if match.group(1)[:2].lower() == "0x" else int(match.group(1))
    size = number * _UNITS[match.group(2).lower()]
    if size >= 2**64:
        raise ValueError(f"{text!r} is too large")
    return size


def format_jvm_size(size: int, like: str) -> str:
    """``size`` bytes in the unit the existing value ``like`` uses, when it divides evenly,
    else in MiB (``1536m``), keeping the suffix's case."""
    match = _SIZE.fullmatch(like)
    unit = match.group(2) if match else "m"
    if size % _UNITS[unit.lower()] != 0:
        unit = "M" if unit.isupper() else "m"
    return f"{size // _UNITS[unit.lower()]}{unit}"


def _jvm_options(args: list[Token]) -> list[Token]:
    """The JVM options of a ``java`` command line: everything before the main class or jar."""
    options = []
    skip_value = False
    for token in args:
        if skip_value:
            skip_value = False
            continue
        text = token.text
        if text in ("-jar", "-m", "--module") or not text.startswith("-"):
            break
        if text in _WITH_VALUE:
            skip_value = True
            continue
        options.append(token)
    return options


def _add(settings: JvmSettings, token: Token) -> None:
    text = token.text
    if text.startswith("-Xmx"):
        settings.flags.append(_size_flag("MaxHeapSize", token, text[4:]))
    elif text.startswith("-XX:MaxHeapSize="):
        settings.flags.append(_size_flag("MaxHeapSize", token, text.split("=", 1)[1]))
    elif text.startswith("-Xms") and text[4:5].isdigit():  # not OpenJ9's -Xmso (stack size)
        settings.flags.append(_size_flag("InitialHeapSize", token, text[4:]))
    elif text.startswith("-XX:InitialHeapSize="):
        settings.flags.append(_size_flag("InitialHeapSize", token, text.split("=", 1)[1]))
    elif text.startswith("-XX:MaxRAM="):
        settings.flags.append(_size_flag("MaxRAM", token, text.split("=", 1)[1]))
    elif text.startswith(("-XX:MaxRAMPercentage=", "-XX:MinRAMPercentage=")):
        settings.flags.append(_percent_flag(text[4:].split("=", 1)[0], token))
    elif text.startswith(("-XX:MaxRAMFraction=", "-XX:MinRAMFraction=", "-XX:InitialRAMFraction=")):
        settings.flags.append(_fraction_flag(text[4:].split("=", 1)[0], token))
    elif text in ("-XX:+UseContainerSupport", "-XX:-UseContainerSupport"):
        settings.flags.append(
            JvmFlag("UseContainerSupport", token, text[4], enabled=text[4] == "+")
        )


def _percent_flag(name: str, token: Token) -> JvmFlag:
    """gc_globals.hpp: ``product(double, MaxRAMPercentage, 25.0, …) range(0.0, 100.0)``,
    likewise ``MinRAMPercentage`` (50.0); out of range, the JVM refuses to start."""
    value = token.text.split("=", 1)[1]
    if not _PERCENT.fullmatch(value):
        return JvmFlag(name, token, value, error=f"{value!r} is not a number")
    # parsed once, whole numbers (most) from an int: Fraction's string parsing is slow
    percent = Fraction(int(value)) if value.isdigit() else Fraction(value)
    if percent > 100:  # never below 0: _PERCENT takes no sign
        return JvmFlag(name, token, value, error=f"{value} is outside the allowed range 0 to 100")
    return JvmFlag(name, token, value, percent=percent)


def _fraction_flag(name: str, token: Token) -> JvmFlag:
    """gc_globals.hpp (JDK 8-22): ``product(uintx, MaxRAMFraction, 4, …) range(1, max_uintx)``,
    likewise ``MinRAMFraction`` (2) and ``InitialRAMFraction`` (64); the heap is 1/n."""
    value = token.text.split("=", 1)[1]
    try:
        number = parse_jvm_size(value)
    except ValueError:
        return JvmFlag(name, token, value, error=f"{value!r} is not a whole number")
    if number < 1:
        return JvmFlag(name, token, value, error=f"{value} is below the allowed minimum 1")
    return JvmFlag(name, token, value, percent=Fraction(100, number))


def _check_start_values(settings: JvmSettings) -> None:
    """Mark the sizes the JVM refuses once all options are read
    (``GCArguments::initialize_heap_flags_and_sizes``): the final max heap below 2 MiB ("Too
    small maximum heap"), a non-zero initial heap below 1 MiB ("Too small initial heap"; 0
    lets ergonomics choose), and -Xms above -Xmx when both are on the command line ("Initial
    heap size set to a larger value than the maximum heap size")."""
    if not settings.flags:
        return
    maximum = settings.last("MaxHeapSize")
    initial = settings.last("InitialHeapSize")
    errors: dict[int, tuple[str, int]] = {}
    if maximum is not None and maximum.size < MIN_MAX_HEAP_SIZE:
        errors[id(maximum)] = ("a maximum heap below 2 MiB (the JVM's minimum)", 2)
    if initial is not None and 0 < initial.size < MIN_INITIAL_HEAP_SIZE:
        errors[id(initial)] = ("an initial heap below 1 MiB (the JVM's minimum)", 3)
    elif (
        initial is not None
        and maximum is not None
        and initial.size > maximum.size
        and initial.on_command_line
        and maximum.on_command_line
    ):
        errors[id(initial)] = (f"an initial heap above the maximum heap {maximum.text}", 1)
    settings.flags = [
        replace(flag, error=errors[id(flag)][0], stage=errors[id(flag)][1])
        if id(flag) in errors
        else flag
        for flag in settings.flags
    ]


def _size_flag(name: str, token: Token, value: str) -> JvmFlag:
    try:
        return JvmFlag(name, token, value, size=parse_jvm_size(value))
    except ValueError as exc:
        return JvmFlag(name, token, value, error=str(exc))


# --- the JVM as a Runtime (rules/runtimes/base.py) -------------------------------------


def settings(container: Container) -> Settings:
    """The JVM's settings in the shape the generic rules read (once per container)."""
    native = container.derive(jvm_settings)
    if not native.flags and not native.unresolved:  # most containers: at most evidence
        return Settings(evidence=native.evidence) if native.evidence else NO_SETTINGS
    return Settings(
        heap=_heap(container, native),
        invalid=tuple(
            Invalid(
                flag.described,
                f": {flag.error}; the JVM refuses to start",
                flag.token.path or container.path,
            )
            for flag in native.invalid
        ),
        unresolved=tuple(native.unresolved),
        evidence=native.evidence,
        sets_heap=native.sets_heap,
    )


def _heap(container: Container, native: JvmSettings) -> Heap | None:
    limit = container.effective_limit  # a LimitRange default when none is written
    if limit is None or not limit.usable:
        return None
    heap = effective_jvm_heap(native, limit.usable)
    if heap is None:
        return None
    flag = heap.flag
    if heap.basis in ("MaxHeapSize", "InitialHeapSize"):
        setting = flag.described
        if heap.basis == "InitialHeapSize":
            setting += f", an initial heap that raises the max heap to {format_bytes(flag.size)},"
    else:
        setting = f"{flag.described}, a heap of {format_bytes(int(heap.size))}"
        if heap.basis == "MinRAMPercentage":
            # set_heap_size's "small physical memory" rule: MaxRAMPercentage plays no part
            setting += " (MinRAMPercentage sizes the heap of a container this small)"
        elif heap.basis == "floor":
            setting += " (HotSpot's default MaxHeapSize, the least it picks here)"
        if flag.legacy:
            setting += f" on JDK 8 to 22 ({LEGACY_NOTE})"
        setting += ","
    return Heap(heap.size, setting, flag.token.path or container.path, heap)


def _rewrite(container: Container, heap: Heap, ratio: Fraction) -> tuple[PatchOp, ...]:
    native = container.derive(jvm_settings)
    jvm_heap: JvmHeap = heap.source
    if jvm_heap.basis not in ("MaxHeapSize", "InitialHeapSize"):
        return () if native.last("MaxRAM") else _percent_fix(container, native, ratio)
    size = target_bytes(container.effective_limit.usable, ratio)
    # an initial heap above the max raises the max (or stops the JVM): lower -Xms with -Xmx
    sized = [f for f in native.flags if f.name == "InitialHeapSize" and f.size]
    return rewrite_tokens(
        container.workload,
        [
            (f.token, _size_text(f, size))
            for f in dict.fromkeys((jvm_heap.flag, native.last("MaxHeapSize"), *sized))
            if f is not None and f.size > size
        ],
    )


def _percent_fix(container: Container, native: JvmSettings, ratio: Fraction) -> tuple[PatchOp, ...]:
    """Rewrite the Max/MinRAMPercentage (or legacy fraction) flags above ``ratio`` to it, in
    place. With both at most ``ratio`` the heap is at most ``ratio`` × the limit, whichever
    of ``set_heap_size``'s branches applies (see :func:`ergonomic_max_heap`); a fraction
    becomes the percentage, which every JDK since 8u191 reads."""
    rewrites = []
    for name in ("MaxRAMPercentage", "MinRAMPercentage"):
        flag = native.percentage(name)
        if flag is not None and flag.percent > ratio * 100:
            like = "" if flag.legacy else flag.value
            rewrites.append((flag.token, f"-XX:{name}={percent_text(ratio, like)}"))
    return rewrite_tokens(container.workload, rewrites)


def _size_text(flag: JvmFlag, size: int) -> str:
    """``flag`` as written, with ``size`` in the unit style of its value."""
    prefix = flag.text[: len(flag.text) - len(flag.value)]
    return prefix + format_jvm_size(size, flag.value)


def _unset(container: Container, config: Config) -> Problem | None:
    """A JVM with no heap setting: the default heap, and the flags to set."""
    native = container.derive(jvm_settings)
    # command text not read may set the heap (runtime-flag-unresolved says so)
    if not native.evidence or native.unresolved or native.sets_heap or container.commands.unread:
        return None
    percent = format_percent(config.thresholds.jvm_heap_ratio, 1).rstrip("%")
    flags = " ".join(_unset_flags(container.limit_bytes, percent))
    return Problem(
        f"{container.label} runs a JVM ({native.evidence}) with no heap setting: the "
        f"default heap is {_default_heap_text(native, container)}; set {flags}",
        container.path,
        container.name,
        _unset_fix(container, flags),
    )


def _default_heap_text(native: JvmSettings, container: Container) -> str:
    """What HotSpot picks with no flag (``Arguments::set_heap_size``), said plainly."""
    limit = container.limit
    heap, basis = default_heap(native, Fraction(limit.usable))
    size = format_bytes(int(heap))
    small = format_bytes(2 * DEFAULT_MAX_HEAP_SIZE)  # where MinRAMPercentage's 50% meets it
    if basis == "MaxRAMPercentage":
        return f"25% of the {limit.text} limit ({size})"
    if basis == "MinRAMPercentage":
        return (
            f"50% of the {limit.text} limit ({size}): below {small} "
            f"the JVM uses MinRAMPercentage, not MaxRAMPercentage"
        )
    return (
        f"{size}, {format_percent(heap, limit.usable)} of the {limit.text} limit (the JVM's "
        f"default max heap, the least it picks above {small})"
    )


def _unset_flags(limit: int, percent: str) -> list[str]:
    """-XX:MaxRAMPercentage, plus -XX:MinRAMPercentage where MaxRAMPercentage alone would not
    give that share (the small-memory rule, or the 124.8Mi floor, decides there)."""
    share = Fraction(percent)
    flags = [f"-XX:MaxRAMPercentage={percent}"]
    heap, _ = ergonomic_max_heap(Fraction(limit), share, DEFAULT_MIN_RAM_PERCENTAGE)
    if heap != limit * share / 100:
        flags.append(f"-XX:MinRAMPercentage={percent}")
    return flags


def _unset_fix(container: Container, flag: str) -> tuple:
    existing = container.env.get("JAVA_TOOL_OPTIONS")
    if existing is not None and existing.literal and existing.value:
        return set_env(container, "JAVA_TOOL_OPTIONS", f"{existing.value} {flag}")
    if existing is not None and not existing.literal:
        return ()
    return set_env(container, "JAVA_TOOL_OPTIONS", flag)


def _fixed(container: Container, config: Config) -> FixedHeap | None:
    flag = container.derive(jvm_settings).last("MaxHeapSize")
    if flag is None or not flag.size:
        return None
    percent = format_percent(config.thresholds.jvm_heap_ratio, 1).removesuffix("%")
    return (
        flag.described,
        flag.token.path or container.path,
        f"use -XX:MaxRAMPercentage={float(percent):.1f} instead",
        int(flag.size),
    )


def _start_sized(container: Container) -> tuple[str, Path] | None:
    flag = container.derive(jvm_settings).percentage("MaxRAMPercentage")
    if flag is None:
        return None
    return flag.described, flag.token.path or container.path


def _ratio(config: Config) -> Fraction:
    return config.thresholds.jvm_heap_ratio


JVM = Runtime(
    "JVM", settings, _ratio, _rewrite, unset=_unset, fixed=_fixed, start_sized=_start_sized
)
