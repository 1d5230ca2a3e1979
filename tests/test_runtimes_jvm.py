"""The JVM resolver: where flags come from and in which order the JVM applies them."""

from __future__ import annotations

from fractions import Fraction

import pytest
from helpers import container_view, findings, one, pod
from oomguard.rules.runtimes.jvm import (
    DEFAULT_MAX_HEAP_SIZE,
    effective_jvm_heap,
    ergonomic_max_heap,
    format_jvm_size,
    jvm_settings,
    parse_jvm_size,
)

GI = 1024**3
EXCEEDS = "jvm-heap-exceeds-limit"
UNSET = "runtime-heap-unset"
UNRESOLVED = "runtime-flag-unresolved"
INVALID = "runtime-flag-invalid"


def spec(command: str = "", args: str = "", env: str = "", image: str = "example/app:1") -> str:
    parts = [f"name: app, image: {image}"]
    if command:
        parts.append(f"command: {command}")
    if args:
        parts.append(f"args: {args}")
    if env:
        parts.append(f"env: {env}")
    parts.append("resources: {limits: {memory: 2Gi}}")
    return pod("{" + ", ".join(parts) + "}")


def heap(text: str) -> tuple[int, str] | None:
    """(max heap in bytes, the deciding flag with its origin) for a 2Gi limit."""
    settings = jvm_settings(container_view(text))
    found = effective_jvm_heap(settings, Fraction(2 * GI))
    return None if found is None else (int(found.size), found.flag.described)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1536m", 1536 * 1024**2), ("1572864k", 1536 * 1024**2), ("1572864K", 1536 * 1024**2),
     ("2g", 2 * GI), ("2G", 2 * GI), ("1t", 1024**4), ("0x80000000", 2 * GI),
     ("0X10k", 16 * 1024), ("1073741824", GI), ("0", 0)],
)  # fmt: skip
def test_parse_jvm_size(text, size):
    assert parse_jvm_size(text) == size


@pytest.mark.parametrize(
    "text", ["2GB", "1.5g", "", "g", "2 g", "-1g", "2kb", "0x", "1e3", "2Gi", "99999999999999999t"]
)
def test_parse_jvm_size_refuses(text):
    with pytest.raises(ValueError):
        parse_jvm_size(text)


def test_format_jvm_size_keeps_unit_and_case():
    assert format_jvm_size(3 * GI, "4g") == "3g"
    assert format_jvm_size(3 * GI, "4G") == "3G"
    assert format_jvm_size(1536 * 1024**2, "2g") == "1536m"
    assert format_jvm_size(1536 * 1024**2, "2G") == "1536M"
    assert format_jvm_size(1536 * 1024**2, "4194304k") == "1572864k"


# --- precedence -----------------------------------------------------------------------------


def test_command_line_wins_over_java_tool_options():
    text = spec("[java, -Xmx1g, -jar, a.jar]", env='[{name: JAVA_TOOL_OPTIONS, value: "-Xmx4g"}]')
    assert heap(text) == (GI, "-Xmx1g (command)")


def test_java_options_underscore_wins_over_command_line():
    text = spec("[java, -Xmx1g, -jar, a.jar]", env='[{name: _JAVA_OPTIONS, value: "-Xmx4g"}]')
    assert heap(text) == (4 * GI, "-Xmx4g (env _JAVA_OPTIONS)")


def test_jdk_java_options_sits_between_tool_options_and_command_line():
    env = '[{name: JDK_JAVA_OPTIONS, value: "-Xmx3g"}, {name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]'
    assert heap(spec("[java, -jar, a.jar]", env=env)) == (3 * GI, "-Xmx3g (env JDK_JAVA_OPTIONS)")
    text = spec("[java, -Xmx512m, -jar, a.jar]", env=env)
    assert heap(text) == (512 * 1024**2, "-Xmx512m (command)")


def test_jdk_java_options_counts_when_the_image_entrypoint_runs_java():
    """Every java launcher reads it, also one the image's entrypoint or a script starts."""
    env = '[{name: JDK_JAVA_OPTIONS, value: "-Xmx3g"}]'
    assert heap(spec(env=env)) == (3 * GI, "-Xmx3g (env JDK_JAVA_OPTIONS)")
    assert heap(spec("[/app/start.sh]", env=env)) == (3 * GI, "-Xmx3g (env JDK_JAVA_OPTIONS)")


def test_full_order():
    env = (
        '[{name: _JAVA_OPTIONS, value: "-XX:MaxRAMPercentage=40"},'
        ' {name: JAVA_TOOL_OPTIONS, value: "-Xmx4g"}]'
    )
    # -Xmx (tool options) wins over MaxRAMPercentage whatever the order
    assert heap(spec("[java, -jar, a.jar]", env=env)) == (4 * GI, "-Xmx4g (env JAVA_TOOL_OPTIONS)")


def test_later_env_entry_wins():
    env = '[{name: JAVA_TOOL_OPTIONS, value: "-Xmx4g"}, {name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]'
    assert heap(spec("[java, -jar, a.jar]", env=env)) == (GI, "-Xmx1g (env JAVA_TOOL_OPTIONS)")


def test_last_occurrence_within_one_variable_wins():
    env = '[{name: JAVA_TOOL_OPTIONS, value: "-Xmx4g -Xms1g -Xmx1g"}]'
    assert heap(spec("[java, -jar, a.jar]", env=env)) == (GI, "-Xmx1g (env JAVA_TOOL_OPTIONS)")


# --- where JAVA_OPTS counts ----------------------------------------------------------------

OPTS = '[{name: JAVA_OPTS, value: "-Xms1g -Xmx3g"}]'


@pytest.mark.parametrize(
    "command",
    ['[sh, -c, "exec java $JAVA_OPTS -jar app.jar"]',
     '[sh, -c, "exec java ${JAVA_OPTS} -jar app.jar"]',
     '[/bin/bash, -c, "java ${JAVA_OPTS:-} -jar app.jar"]',
     '[sh, -ec, "cd /app && exec java $JAVA_OPTS -jar app.jar"]'],
)  # fmt: skip
def test_java_opts_counts_when_the_command_expands_it(command):
    size, described = heap(spec(command, env=OPTS))
    assert (size, described) == (3 * GI, "-Xmx3g (env JAVA_OPTS)")


def test_kubernetes_expansion_of_a_whole_argument():
    env = '[{name: JAVA_OPTS, value: "-Xmx3g"}]'
    assert heap(spec('[java, "$(JAVA_OPTS)", -jar, app.jar]', env=env)) == (
        3 * GI, "-Xmx3g (env JAVA_OPTS)"
    )  # fmt: skip
    text = spec("[java]", args='["$(JAVA_OPTS)", -jar, app.jar]', env=env)
    finding = one(text, EXCEEDS)
    assert finding.message.startswith("-Xmx3g (env JAVA_OPTS) is 150% of the 2Gi")
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "env", 0, "value"),
         "value": "-Xmx1536m"},
    )  # fmt: skip


def test_kubernetes_expansion_does_not_split_words():
    """``"$(JAVA_OPTS)"`` is one argv element: java gets "-Xmx3g -Xms1g" as one option,
    an -Xmx whose value is "3g -Xms1g", and refuses to start."""
    env = '[{name: JAVA_OPTS, value: "-Xmx3g -Xms1g"}]'
    finding = one(spec('[java, "$(JAVA_OPTS)", -jar, app.jar]', env=env), INVALID)
    assert finding.message.startswith('-Xmx3g -Xms1g (env JAVA_OPTS) in container "app": ')
    assert finding.message.endswith("the JVM refuses to start")


def test_kubernetes_expansion_inside_a_script_is_split_by_the_shell():
    text = spec('[sh, -c, "exec java $(JAVA_OPTS) -jar app.jar"]', env=OPTS)
    assert heap(text) == (3 * GI, "-Xmx3g (command expanding $(JAVA_OPTS))")
    assert one(text, EXCEEDS).fix == ()  # the text is not written in the command


def test_java_opts_counts_when_no_command_is_set():
    assert heap(spec(env=OPTS)) == (
        3 * GI,
        "-Xmx3g (env JAVA_OPTS, passed to java by the image's entrypoint)",
    )
    assert heap(spec(args="[--server.port=8080]", env=OPTS))[0] == 3 * GI  # args only


def test_java_opts_not_counted_when_the_command_does_not_expand_it():
    text = spec("[java, -jar, app.jar]", env=OPTS)
    assert heap(text) is None
    # the JVM then has no heap setting at all
    finding = one(text, UNSET)
    assert finding.message == (
        'container "app" runs a JVM (its command runs java) with no heap setting: the default '
        "heap is 25% of the 2Gi limit (512Mi); set -XX:MaxRAMPercentage=75"
    )


def test_export_in_a_script():
    command = '[sh, -c, "export JAVA_OPTS=\\"-Xmx3g\\"; exec java $JAVA_OPTS -jar app.jar"]'
    assert heap(spec(command)) == (3 * GI, "-Xmx3g (command)")
    command = '[sh, -c, "JAVA_OPTS=-Xmx3g\\nexec java $JAVA_OPTS -jar app.jar"]'
    assert heap(spec(command)) == (3 * GI, "-Xmx3g (command)")


def test_script_default_applies_when_the_variable_is_unset():
    command = '[sh, -c, "exec java ${JAVA_OPTS:--Xmx3g} -jar app.jar"]'
    assert heap(spec(command))[0] == 3 * GI


def test_flags_after_the_main_class_or_jar_are_program_arguments():
    assert heap(spec("[java, -jar, app.jar, -Xmx4g]")) is None
    assert heap(spec("[java, -cp, /app/lib, com.example.Main, -Xmx4g]")) is None
    assert heap(spec("[java, -cp, /app/lib, -Xmx1g, com.example.Main]"))[0] == GI


def test_the_last_java_line_of_a_script_is_the_one_that_runs():
    command = '[sh, -c, "java -Xmx4g -version; exec java -Xmx1g -jar app.jar"]'
    assert heap(spec(command)) == (GI, "-Xmx1g (command)")


def test_java_opts_from_an_unknown_configmap_is_unresolved():
    env = "[{name: JAVA_OPTS, valueFrom: {configMapKeyRef: {name: jvm, key: opts}}}]"
    text = spec('[sh, -c, "exec java $JAVA_OPTS -jar app.jar"]', env=env)
    finding = one(text, UNRESOLVED)
    assert finding.message == (
        'env JAVA_OPTS from ConfigMap "jvm" key "opts" in container "app" cannot be checked: '
        'ConfigMap "jvm" is not in the input'
    )
    assert [f.rule for f in findings(text) if f.rule == UNSET] == []  # unknown, not unset


def test_java_opts_from_a_configmap_in_the_input():
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: jvm}\ndata: {opts: -Xmx2g}\n---\n"
        + spec(
            '[sh, -c, "exec java $JAVA_OPTS -jar app.jar"]',
            env="[{name: JAVA_OPTS, valueFrom: {configMapKeyRef: {name: jvm, key: opts}}}]",
        )
    )
    finding = one(text, EXCEEDS)
    assert finding.message.startswith(
        '-Xmx2g (env JAVA_OPTS from ConfigMap "jvm" key "opts") is 100% of the 2Gi'
    )
    assert finding.fix == ()  # the ConfigMap is another object
    assert finding.path == ("spec", "containers", 0)


def test_evidence():
    assert jvm_settings(container_view(spec("[java, -jar, a.jar]"))).evidence == (
        "its command runs java"
    )
    assert jvm_settings(container_view(spec(image="eclipse-temurin:21-jre"))).evidence == (
        'its image "eclipse-temurin:21-jre" runs a JVM'
    )
    assert jvm_settings(container_view(spec(image="nginx:1.27"))).evidence is None


def test_default_max_heap_size_is_hotspots():
    # gc_globals.hpp: MaxHeapSize = ScaleForWordSize(96*M); globals_shared.hpp (_LP64):
    # align_down((x) * 13 / 10, HeapWordSize), HeapWordSize = 8
    assert DEFAULT_MAX_HEAP_SIZE == 130862280  # 124.8 MiB


MI = 1024**2


@pytest.mark.parametrize(
    ("memory", "max_percent", "min_percent", "expected"),
    [
        # Arguments::set_heap_size: reasonable_min < MaxHeapSize -> "small physical memory"
        (128 * MI, 25, 50, (Fraction(64 * MI), "MinRAMPercentage")),
        (200 * MI, 90, 50, (Fraction(100 * MI), "MinRAMPercentage")),
        # not small: MAX2(phys_mem * MaxRAMPercentage / 100, MaxHeapSize)
        (300 * MI, 25, 50, (Fraction(DEFAULT_MAX_HEAP_SIZE), "floor")),
        (499 * MI, 25, 50, (Fraction(DEFAULT_MAX_HEAP_SIZE), "floor")),
        (GI, 25, 50, (Fraction(256 * MI), "MaxRAMPercentage")),
        (200 * MI, 75, 75, (Fraction(150 * MI), "MaxRAMPercentage")),
        (100 * MI, 75, 75, (Fraction(75 * MI), "MinRAMPercentage")),
    ],
)
def test_ergonomic_max_heap(memory, max_percent, min_percent, expected):
    result = ergonomic_max_heap(Fraction(memory), Fraction(max_percent), Fraction(min_percent))
    assert result == expected


@pytest.mark.parametrize("ratio", [50, 60, 75, 90, 100])
@pytest.mark.parametrize("memory_mi", [16, 64, 128, 160, 200, 249, 250, 300, 499, 500, 4096])
def test_equal_percentages_give_exactly_that_share(ratio, memory_mi):
    """Why the fixes set Max and MinRAMPercentage alike: whichever branch applies, the heap
    is then exactly that share of the memory."""
    memory = Fraction(memory_mi * MI)
    size, _ = ergonomic_max_heap(memory, Fraction(ratio), Fraction(ratio))
    assert size == memory * ratio / 100
