"""The JVM's effective heap settings, read as the JVM reads them.

Order (for one flag the last occurrence wins): ``JAVA_TOOL_OPTIONS``, then
``JDK_JAVA_OPTIONS`` (the ``java`` launcher prepends it to its arguments, JDK 9+), then the
``java`` command line, then ``_JAVA_OPTIONS``. Conventional variables (``JAVA_OPTS``,
``JAVA_OPTIONS``, …) count where the command expands them, or, when the container sets no
command at all, as what the image's entrypoint passes to ``java`` (the convention these
names exist for).

Sizes follow HotSpot's ``atojulong``: digits or ``0x`` hex with at most one of ``k K m M g G t
T`` (powers of 1024); ``2GB`` or ``1.5g`` make the JVM refuse to start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from oomguard.rules.runtimes.argv import Token, env_words

if TYPE_CHECKING:
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


@dataclass(frozen=True, slots=True)
class JvmFlag:
    """One heap-related JVM option as written."""

    # 'MaxHeapSize' (-Xmx or -XX:MaxHeapSize), 'InitialHeapSize' (-Xms or -XX:InitialHeapSize),
    # 'MaxRAMPercentage', 'MaxRAM', 'UseContainerSupport'
    name: str
    token: Token
    value: str  # the text after the flag name
    size: int | None = None  # bytes, for size flags
    percent: Fraction | None = None  # for MaxRAMPercentage
    enabled: bool | None = None  # for ±UseContainerSupport
    error: str | None = None

    @property
    def text(self) -> str:
        return self.token.text

    @property
    def described(self) -> str:
        return f"{self.text} ({self.token.origin})"


@dataclass
class JvmSettings:
    flags: list[JvmFlag] = field(default_factory=list)  # in the order the JVM applies them
    evidence: str | None = None  # why we believe a JVM runs here
    unresolved: list[EnvValue] = field(default_factory=list)

    def last(self, name: str) -> JvmFlag | None:
        found = [flag for flag in self.flags if flag.name == name and flag.error is None]
        return found[-1] if found else None

    @property
    def invalid(self) -> list[JvmFlag]:
        return [flag for flag in self.flags if flag.error is not None]

    @property
    def container_support_disabled(self) -> JvmFlag | None:
        flag = self.last("UseContainerSupport")
        return flag if flag is not None and flag.enabled is False else None


@dataclass(frozen=True, slots=True)
class JvmHeap:
    """The maximum heap the JVM will use in a container, and the flag that decides it."""

    size: Fraction
    flag: JvmFlag
    basis: str  # 'MaxHeapSize', 'InitialHeapSize' or 'MaxRAMPercentage'


def jvm_settings(container: Container) -> JvmSettings:
    settings = JvmSettings()
    env = container.env
    java_lines = [line for line in container.commands if line.program == "java"]
    java = java_lines[-1] if java_lines else None

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

    add_env("JAVA_TOOL_OPTIONS")
    # Every java launcher the container starts reads it, whether the command runs java
    # directly, through a script or through the image's entrypoint.
    add_env("JDK_JAVA_OPTIONS")
    if java is not None:
        settings.evidence = "its command runs java"
        for token in _jvm_options(java.args):
            _add(settings, token)
        for name in CONVENTIONAL_VARS:
            value = env.get(name)
            if name in java.references and value is not None and value.unresolved:
                settings.unresolved.append(value)
    elif not container.spec.get("command"):  # the image's entrypoint runs, maybe with args
        for name in CONVENTIONAL_VARS:
            add_env(name, ", passed to java by the image's entrypoint")
    add_env("_JAVA_OPTIONS")
    if settings.evidence is None:
        if JVM_IMAGE.search(container.image.split("@")[0].lower()):
            settings.evidence = f'its image "{container.image}" runs a JVM'
        elif settings.flags:
            settings.evidence = f"it sets JVM options ({settings.flags[0].token.origin})"
    return settings


def effective_jvm_heap(settings: JvmSettings, limit: Fraction) -> JvmHeap | None:
    """The max heap the JVM sizes for this limit, when a flag sets it (None: JVM default).

    Without -Xmx, HotSpot raises the max heap to an initial heap (-Xms) set above it
    (``Arguments::set_heap_size``), so -Xms decides then."""
    explicit = settings.last("MaxHeapSize")
    if explicit is not None:
        return JvmHeap(Fraction(explicit.size), explicit, "MaxHeapSize")
    if settings.container_support_disabled is not None and settings.last("MaxRAM") is None:
        return None  # sized from the node's memory: jvm-container-support-disabled says so
    percentage = settings.last("MaxRAMPercentage")
    max_ram = settings.last("MaxRAM")
    initial = settings.last("InitialHeapSize")
    memory = Fraction(max_ram.size) if max_ram is not None else limit
    percent = percentage.percent if percentage is not None else DEFAULT_MAX_RAM_PERCENTAGE
    derived = memory * percent / 100
    if initial is not None and initial.size > derived:
        return JvmHeap(Fraction(initial.size), initial, "InitialHeapSize")
    if percentage is None and max_ram is None:
        return None
    return JvmHeap(derived, percentage or max_ram, "MaxRAMPercentage")


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
    elif text.startswith("-XX:MaxRAMPercentage="):
        value = text.split("=", 1)[1]
        if not _PERCENT.fullmatch(value):
            settings.flags.append(
                JvmFlag("MaxRAMPercentage", token, value, error=f"{value!r} is not a number")
            )
        elif not 0 <= Fraction(value) <= 100:
            settings.flags.append(
                JvmFlag(
                    "MaxRAMPercentage",
                    token,
                    value,
                    error=f"{value} is outside the allowed range 0 to 100",
                )
            )
        else:
            settings.flags.append(
                JvmFlag("MaxRAMPercentage", token, value, percent=Fraction(value))
            )
    elif text in ("-XX:+UseContainerSupport", "-XX:-UseContainerSupport"):
        settings.flags.append(
            JvmFlag("UseContainerSupport", token, text[4], enabled=text[4] == "+")
        )


def _size_flag(name: str, token: Token, value: str) -> JvmFlag:
    try:
        return JvmFlag(name, token, value, size=parse_jvm_size(value))
    except ValueError as exc:
        return JvmFlag(name, token, value, error=str(exc))
