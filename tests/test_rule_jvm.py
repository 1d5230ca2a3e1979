"""JVM rules: heap at/over the limit, headroom, container support; precedence and units."""

from __future__ import annotations

import pytest
from helpers import apply_fix, config, dump, findings, none_of, one, pod, workload_object

EXCEEDS = "jvm-heap-exceeds-limit"
HEADROOM = "jvm-heap-headroom-low"
SUPPORT = "jvm-container-support-disabled"
INVALID = "runtime-flag-invalid"
UNSET = "runtime-heap-unset"
HEAP_RULES = (EXCEEDS, HEADROOM)


def java(*flags: str, limit: str = "2Gi", env: str = "", name: str = "app") -> str:
    command = ", ".join(["java", *flags, "-jar", "app.jar"])
    env_part = f", env: {env}" if env else ""
    return pod(
        f"{{name: {name}, image: eclipse-temurin:21-jre, command: [{command}]{env_part}, "
        f"resources: {{limits: {{memory: {limit}}}}}}}"
    )


def heap_findings(text: str, cfg=None):
    found = findings(text) if cfg is None else findings(text, cfg=cfg)
    return [(f.rule, f.container) for f in found if f.rule in (*HEAP_RULES, INVALID, SUPPORT)]


def test_exceeds_full_message_and_fix():
    text = java("-Xmx2g")
    finding = one(text, EXCEEDS)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.path == ("spec", "containers", 0, "command", 1)
    assert finding.message == (
        '-Xmx2g (command) is 100% of the 2Gi memory limit of container "app": heap plus '
        "off-heap memory will pass the limit and the kernel will kill the container (exit 137); "
        "use at most 75% (1536Mi)"
    )
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "command", 1), "value": "-Xmx1536m"},
    )
    none_of(text, HEADROOM)  # one finding per heap, the stronger one
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/command/1", "value": "-Xmx1536m"}
    ]
    assert heap_findings(dump(patched)) == []


def test_headroom_full_message():
    finding = one(java("-Xmx1800m"), HEADROOM)
    assert (finding.severity, finding.container) == ("warning", "app")
    assert finding.message == (
        '-Xmx1800m (command) is 87.9% of the 2Gi memory limit of container "app", above the 75% '
        "that leaves room for off-heap memory; use at most 1536Mi"
    )
    assert finding.fix[0]["value"] == "-Xmx1536m"


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("-Xmx1536m", []),  # exactly 0.75 × 2Gi: no finding
        ("-Xmx1572864k", []),  # the same in KiB
        ("-Xmx1572865k", [HEADROOM]),  # one KiB more
        ("-Xmx1610612736", []),  # bytes, exactly 75%
        ("-Xmx1610612737", [HEADROOM]),
        ("-Xmx2G", [EXCEEDS]),  # upper-case suffix
        ("-Xmx2g", [EXCEEDS]),
        ("-Xmx2048M", [EXCEEDS]),
        ("-Xmx0x80000000", [EXCEEDS]),  # hexadecimal: 2 GiB
        ("-Xmx0x60000000", []),  # 1.5 GiB
        ("-Xmx1t", [EXCEEDS]),
        ("-XX:MaxHeapSize=2g", [EXCEEDS]),
        ("-XX:MaxHeapSize=1610612736", []),
        ("-Xmx2GB", [INVALID]),
        ("-Xmx1.5g", [INVALID]),
        ("-Xmx", [INVALID]),
        ("-Xmx2gb", [INVALID]),
        ("-XX:MaxHeapSize=2GB", [INVALID]),
        ("-Xmx512M", []),
    ],
)
def test_size_grammar_and_boundaries(flag, expected):
    assert [rule for rule, _ in heap_findings(java(flag))] == expected


def test_headroom_message_does_not_round_onto_the_threshold():
    finding = one(java("-Xmx1572865k"), HEADROOM)
    assert finding.message.startswith(
        '-Xmx1572865k (command) is 75.00005% of the 2Gi memory limit of container "app", '
        "above the 75%"
    )


def test_invalid_size_message():
    finding = one(java("-Xmx2GB"), INVALID)
    assert finding.message == (
        "-Xmx2GB (command) in container \"app\": '2GB' is not a JVM size (digits with one of "
        "k, m, g, t); the JVM refuses to start"
    )
    assert finding.path == ("spec", "containers", 0, "command", 1)
    assert [f.rule for f in findings(java("-Xmx2GB")) if f.rule == UNSET] == []


def test_max_ram_percentage():
    finding = one(java("-XX:MaxRAMPercentage=90"), HEADROOM)
    assert finding.message == (
        "-XX:MaxRAMPercentage=90 (command), a heap of 1.8Gi, is 90% of the 2Gi memory limit of "
        'container "app", above the 75% that leaves room for off-heap memory; use at most 1536Mi'
    )
    assert finding.fix[0]["value"] == "-XX:MaxRAMPercentage=75"
    assert one(java("-XX:MaxRAMPercentage=100"), EXCEEDS).fix[0]["value"] == (
        "-XX:MaxRAMPercentage=75"
    )
    assert one(java("-XX:MaxRAMPercentage=80.0"), HEADROOM).fix[0]["value"] == (
        "-XX:MaxRAMPercentage=75.0"
    )  # the decimal style is kept
    none_of(java("-XX:MaxRAMPercentage=75"), HEADROOM)  # exactly at the ratio
    none_of(java("-XX:MaxRAMPercentage=75.0"), HEADROOM)
    assert [r for r, _ in heap_findings(java("-XX:MaxRAMPercentage=101"))] == [INVALID]


def test_xmx_wins_over_max_ram_percentage_in_any_order():
    for flags in (("-XX:MaxRAMPercentage=90", "-Xmx1g"), ("-Xmx1g", "-XX:MaxRAMPercentage=90")):
        assert heap_findings(java(*flags)) == []
    assert [r for r, _ in heap_findings(java("-XX:MaxRAMPercentage=50", "-Xmx3g"))] == [EXCEEDS]


def test_last_flag_wins():
    assert heap_findings(java("-Xmx3g", "-Xmx1g")) == []
    finding = one(java("-Xmx1g", "-Xmx3g"), EXCEEDS)
    assert finding.path == ("spec", "containers", 0, "command", 2)
    assert finding.message.startswith("-Xmx3g (command) is 150%")
    # -XX:MaxHeapSize and -Xmx are the same flag
    assert heap_findings(java("-Xmx3g", "-XX:MaxHeapSize=1g")) == []


def test_max_ram_replaces_the_detected_memory():
    # 25% (the default) of MaxRAM=4g is 1g: 50% of the 2Gi limit, fine
    assert heap_findings(java("-XX:MaxRAM=4g")) == []
    finding = one(java("-XX:MaxRAM=8g"), EXCEEDS)
    assert finding.message.startswith(
        "-XX:MaxRAM=8g (command), a heap of 2Gi, is 100% of the 2Gi memory limit"
    )
    assert finding.fix == ()  # which of the two flags to change is the author's call
    finding = one(java("-XX:MaxRAM=4g", "-XX:MaxRAMPercentage=50"), EXCEEDS)
    assert finding.message.startswith("-XX:MaxRAMPercentage=50 (command), a heap of 2Gi, is 100%")
    # an explicit -Xmx still wins over both
    assert heap_findings(java("-XX:MaxRAM=64g", "-Xmx1g")) == []


def test_container_support_disabled():
    text = java("-XX:-UseContainerSupport")
    finding = one(text, SUPPORT)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.message == (
        '-XX:-UseContainerSupport (command) makes the JVM of container "app" size its heap from '
        "the node's memory (25% of it by default) instead of its 2Gi memory limit; remove it or "
        "set -Xmx"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [{"op": "remove", "path": "/spec/containers/0/command/1"}]
    assert patched["spec"]["containers"][0]["command"] == ["java", "-jar", "app.jar"]
    none_of(dump(patched), SUPPORT)
    # MaxRAMPercentage is then a share of the node's memory: still reported, no heap rule
    assert heap_findings(java("-XX:-UseContainerSupport", "-XX:MaxRAMPercentage=50")) == [
        (SUPPORT, "app")
    ]


@pytest.mark.parametrize(
    "flags",
    [("-XX:-UseContainerSupport", "-Xmx1g"), ("-XX:-UseContainerSupport", "-XX:MaxRAM=1g"),
     ("-XX:-UseContainerSupport", "-XX:+UseContainerSupport"), ("-XX:+UseContainerSupport",)],
)  # fmt: skip
def test_container_support_not_reported(flags):
    none_of(java(*flags), SUPPORT)


def test_container_support_disabled_with_xmx_still_checks_the_heap():
    assert heap_findings(java("-XX:-UseContainerSupport", "-Xmx4g")) == [(EXCEEDS, "app")]


def test_container_support_flag_inside_an_env_value_is_removed_as_a_word():
    text = pod(
        "{name: app, image: eclipse-temurin:21, env: [{name: JAVA_TOOL_OPTIONS, value: "
        '"-Dx=1 -XX:-UseContainerSupport -Dy=2"}], resources: {limits: {memory: 1Gi}}}'
    )
    finding = one(text, SUPPORT)
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "-Dx=1 -Dy=2"}
    ]


def test_ratio_is_configurable():
    cfg = config(thresholds={"jvm_heap_ratio": 0.5})
    finding = one(java("-Xmx1100m"), HEADROOM, cfg)
    assert finding.message.endswith("above the 50% that leaves room for off-heap memory; use at "
                                    "most 1Gi")  # fmt: skip
    assert finding.fix[0]["value"] == "-Xmx1024m"
    none_of(java("-Xmx1g"), HEADROOM, cfg)


def test_fix_keeps_the_unit_when_it_divides():
    # 0.75 × 4Gi = 3Gi: written in g when the flag used g
    assert one(java("-Xmx4g", limit="4Gi"), EXCEEDS).fix[0]["value"] == "-Xmx3g"
    assert one(java("-Xmx4G", limit="4Gi"), EXCEEDS).fix[0]["value"] == "-Xmx3G"
    # 0.75 × 1000Mi = 750Mi: not whole GiB, so MiB
    assert one(java("-Xmx1g", limit="1000Mi"), EXCEEDS).fix[0]["value"] == "-Xmx750m"


def test_no_limit_no_heap_finding():
    text = pod("{name: app, image: x, command: [java, -Xmx64g, -jar, a.jar]}")
    assert [f.rule for f in findings(text) if f.rule in HEAP_RULES] == []


def test_pod_level_limit_applies_to_containers_without_one():
    text = pod(
        "{name: app, image: x, command: [java, -Xmx2g, -jar, a.jar]}",
        pod_spec="resources: {limits: {memory: 2Gi}}",
    )
    assert one(text, EXCEEDS).message.startswith(
        '-Xmx2g (command) is 100% of the 2Gi memory limit of container "app"'
    )


def test_init_and_sidecar_containers_are_checked():
    text = pod(
        "{name: app, image: x, resources: {limits: {memory: 1Gi}}}",
        pod_spec="""
        initContainers:
          - {name: warm, image: x, command: [java, -Xmx1g, -jar, w.jar],
             resources: {limits: {memory: 1Gi}}}
          - {name: agent, image: x, restartPolicy: Always, command: [java, -Xmx900m, -jar, a.jar],
             resources: {limits: {memory: 1Gi}}}
        """,
    )
    assert heap_findings(text) == [(EXCEEDS, "warm"), (HEADROOM, "agent")]
    assert one(text, EXCEEDS).message.startswith(
        '-Xmx1g (command) is 100% of the 1Gi memory limit of init container "warm"'
    )


# --- the initial heap (-Xms) ------------------------------------------------------------------


def test_fix_lowers_an_initial_heap_that_would_exceed_the_new_max():
    """-Xms above -Xmx stops the JVM at start ("Initial heap size set to a larger value than
    the maximum heap size"): the fix lowers both, in one replace of the string."""
    text = java(env='[{name: JAVA_TOOL_OPTIONS, value: "-Xms2g -Xmx2g -XX:+UseG1GC"}]')
    finding = one(text, EXCEEDS)
    assert finding.message.startswith("-Xmx2g (env JAVA_TOOL_OPTIONS) is 100% of the 2Gi")
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {
            "op": "replace",
            "path": "/spec/containers/0/env/0/value",
            "value": "-Xms1536m -Xmx1536m -XX:+UseG1GC",
        }
    ]
    assert heap_findings(dump(patched)) == []


def test_fix_keeps_an_initial_heap_already_under_the_new_max():
    finding = one(java("-Xms512m", "-Xmx2g"), EXCEEDS)
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "command", 2), "value": "-Xmx1536m"},
    )


def test_repeated_initial_heaps_are_all_lowered():
    text = java(env='[{name: JAVA_TOOL_OPTIONS, value: "-Xms2g -Xmx2g -Xms2g"}]')
    patch, _ = apply_fix(workload_object(text), [one(text, EXCEEDS)])
    assert patch[0]["value"] == "-Xms1536m -Xmx1536m -Xms1536m"


def test_initial_heap_above_the_percentage_heap_becomes_the_max():
    """Without -Xmx, HotSpot raises the max heap to -Xms when that is larger."""
    finding = one(java("-XX:MaxRAMPercentage=50", "-Xms2g"), EXCEEDS)
    assert finding.path == ("spec", "containers", 0, "command", 2)
    assert finding.message == (
        "-Xms2g (command), an initial heap that raises the max heap to 2Gi, is 100% of the 2Gi "
        'memory limit of container "app": heap plus off-heap memory will pass the limit and the '
        "kernel will kill the container (exit 137); use at most 75% (1536Mi)"
    )
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "command", 2), "value": "-Xms1536m"},
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("-Xms1g",), []),  # raises the 512Mi default max heap to 1Gi: under 75% of 2Gi
        (("-Xms1800m",), [HEADROOM]),  # raises the default 512Mi max heap to 1800m
        (("-XX:InitialHeapSize=2g",), [EXCEEDS]),
        # both on the command line: GCArguments::initialize_heap_flags_and_sizes refuses
        # ("Initial heap size set to a larger value than the maximum heap size")
        (("-Xms2g", "-Xmx1g"), [INVALID]),
        (("-Xmso256k",), []),  # OpenJ9's thread stack size, not a heap flag
        (("-Xms1.5g",), [INVALID]),
    ],
)
def test_initial_heap_cases(flags, expected):
    assert [rule for rule, _ in heap_findings(java(*flags))] == expected


# --- Legacy RAMFraction flags (issue 11, section 2) ---------------------------------------
# arguments.cpp Arguments::set_heap_size, JDK 8-22 ("Convert deprecated flags"):
#   if (FLAG_IS_DEFAULT(MaxRAMPercentage) && !FLAG_IS_DEFAULT(MaxRAMFraction))
#     MaxRAMPercentage = 100.0 / MaxRAMFraction;     (likewise Min/InitialRAMFraction)
# gc_globals.hpp: product(uintx, MaxRAMFraction, 4, ...) range(1, max_uintx).
# JDK-8324771 (openjdk/jdk PR 17592) obsoleted them in JDK 23; JDK 25's special_jvm_flags no
# longer lists them, so it refuses to start ("Unrecognized VM option").


def test_max_ram_fraction_one_is_the_whole_limit():
    text = java("-XX:MaxRAMFraction=1")
    finding = one(text, EXCEEDS)
    assert finding.path == ("spec", "containers", 0, "command", 1)
    assert finding.message == (
        "-XX:MaxRAMFraction=1 (command), a heap of 2Gi on JDK 8 to 22 (JDK 23 ignores the flag "
        "and later JDKs refuse to start on it), is 100% of the 2Gi memory limit of container "
        '"app": heap plus off-heap memory will pass the limit and the kernel will kill the '
        "container (exit 137); use at most 75% (1536Mi)"
    )
    # the fix writes the percentage every JDK since 8u191 reads, and converges
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "command", 1),
         "value": "-XX:MaxRAMPercentage=75"},
    )  # fmt: skip
    _, patched = apply_fix(workload_object(text), [finding])
    assert heap_findings(dump(patched)) == []


@pytest.mark.parametrize(
    ("flags", "limit", "expected"),
    [
        (("-XX:MaxRAMFraction=1",), "2Gi", [EXCEEDS]),  # 100%
        (("-XX:MaxRAMFraction=2",), "2Gi", []),  # 50%
        (("-XX:MaxRAMFraction=4",), "2Gi", []),  # the default, 25%
        # an explicit MaxRAMPercentage wins over the fraction, in any order
        (("-XX:MaxRAMPercentage=50", "-XX:MaxRAMFraction=1"), "2Gi", []),
        (("-XX:MaxRAMFraction=1", "-XX:MaxRAMPercentage=50"), "2Gi", []),
        (("-XX:MaxRAMFraction=2", "-XX:MaxRAMFraction=1"), "2Gi", [EXCEEDS]),  # last wins
        # small memory: MinRAMFraction=1 (100%) sizes the heap of a 100Mi container
        (("-XX:MinRAMFraction=1",), "100Mi", [EXCEEDS]),
        (("-XX:MaxRAMFraction=0",), "2Gi", [INVALID]),  # range(1, max_uintx)
        (("-XX:MinRAMFraction=0",), "2Gi", [INVALID]),
        (("-XX:InitialRAMFraction=0",), "2Gi", [INVALID]),
        (("-XX:MaxRAMFraction=x",), "2Gi", [INVALID]),
    ],
)
def test_ram_fraction_cases(flags, limit, expected):
    assert [rule for rule, _ in heap_findings(java(*flags, limit=limit))] == expected


def test_fraction_in_java_tool_options_is_a_heap_setting():
    text = java(limit="2Gi", env='[{name: JAVA_TOOL_OPTIONS, value: "-XX:MaxRAMFraction=1"}]')
    assert one(text, EXCEEDS).path == ("spec", "containers", 0, "env", 0, "value")
    none_of(text, UNSET)  # the heap is set: not "no heap setting"


# --- HotSpot's small-memory rule (issue 11, section 2) --------------------------------------
# Arguments::set_heap_size (arguments.cpp, JDK 8-25; GCArguments::set_heap_size since):
#   reasonable_max = phys_mem * MaxRAMPercentage / 100;
#   reasonable_min = phys_mem * MinRAMPercentage / 100;
#   if (reasonable_min < MaxHeapSize) reasonable_max = reasonable_min;  // small memory
#   else reasonable_max = MAX2(reasonable_max, MaxHeapSize);
# MaxHeapSize here is its default, ScaleForWordSize(96*M) = 124.8Mi on 64-bit
# (gc_globals.hpp, globals_shared.hpp); MinRAMPercentage defaults to 50.


def test_max_ram_percentage_changes_nothing_in_a_small_container():
    # 50% of 200Mi = 100Mi < 124.8Mi: the heap is 100Mi whatever MaxRAMPercentage says, so
    # MaxRAMPercentage=90 is not a 90% heap (this was a false alarm)
    assert heap_findings(java("-XX:MaxRAMPercentage=90", limit="200Mi")) == []
    assert heap_findings(java("-XX:MaxRAMPercentage=100", limit="200Mi")) == []
    # from 249.6Mi on the memory is not small and MaxRAMPercentage counts again
    assert [r for r, _ in heap_findings(java("-XX:MaxRAMPercentage=100", limit="250Mi"))] == [
        EXCEEDS
    ]


def test_min_ram_percentage_sizes_a_small_container():
    text = java("-XX:MinRAMPercentage=100", limit="100Mi")
    finding = one(text, EXCEEDS)
    assert finding.message == (
        "-XX:MinRAMPercentage=100 (command), a heap of 100Mi (MinRAMPercentage sizes the heap "
        'of a container this small), is 100% of the 100Mi memory limit of container "app": '
        "heap plus off-heap memory will pass the limit and the kernel will kill the container "
        "(exit 137); use at most 75% (75Mi)"
    )
    assert finding.fix[0]["value"] == "-XX:MinRAMPercentage=75"
    _, patched = apply_fix(workload_object(text), [finding])
    assert heap_findings(dump(patched)) == []  # 75Mi: below 124.8Mi, so MinRAMPercentage


def test_min_ram_percentage_that_ends_small_memory_gives_the_default_max_heap():
    # 100% of 128Mi >= 124.8Mi: not small, so MAX2(25% of 128Mi, 124.8Mi) = 124.8Mi
    text = java("-XX:MinRAMPercentage=100", limit="128Mi")
    finding = one(text, HEADROOM)
    assert finding.message.startswith(
        "-XX:MinRAMPercentage=100 (command), a heap of 124.8Mi (HotSpot's default MaxHeapSize, "
        "the least it picks here), is 97.5% of the 128Mi memory limit"
    )
    _, patched = apply_fix(workload_object(text), [finding])
    assert heap_findings(dump(patched)) == []  # MinRAMPercentage=75: 96Mi


def test_both_percentages_above_the_ratio_are_rewritten():
    text = java("-XX:MinRAMPercentage=100", "-XX:MaxRAMPercentage=100", limit="1Gi")
    finding = one(text, EXCEEDS)
    assert sorted(op["value"] for op in finding.fix) == [
        "-XX:MaxRAMPercentage=75",
        "-XX:MinRAMPercentage=75",
    ]
    _, patched = apply_fix(workload_object(text), [finding])
    assert heap_findings(dump(patched)) == []


# --- Values the JVM refuses at start ---------------------------------------------------------
# GCArguments::initialize_heap_flags_and_sizes (gcArguments.cpp): "Too small maximum heap"
# (MaxHeapSize < 2*M), "Too small initial heap" (InitialHeapSize < M; -Xms0 leaves it to
# ergonomics in set_heap_size), and, when both are FLAG_IS_CMDLINE, "Initial heap size set to
# a larger value than the maximum heap size". JAVA_TOOL_OPTIONS is read with origin
# ENVIRON_VAR (not the command line): there -Xms above -Xmx raises MaxHeapSize to it.
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("-Xmx0",), [INVALID]),
        (("-Xmx1m",), [INVALID]),
        (("-Xmx2047k",), [INVALID]),
        (("-Xmx2m",), []),
        (("-Xmx0", "-Xmx1g"), []),  # the last one is the value checked
        (("-XX:MaxHeapSize=1024",), [INVALID]),  # bytes
        (("-Xms512k",), [INVALID]),
        (("-Xms1m",), []),
        (("-Xms0",), []),
        (("-Xms1g", "-Xmx1g"), []),
        (("-XX:MinRAMPercentage=101",), [INVALID]),
        (("-XX:MinRAMPercentage=-1",), [INVALID]),
    ],
)
def test_values_the_jvm_refuses(flags, expected):
    assert [rule for rule, _ in heap_findings(java(*flags))] == expected


def test_refused_values_messages():
    assert one(java("-Xmx0"), INVALID).message == (
        '-Xmx0 (command) in container "app": a maximum heap below 2 MiB (the JVM\'s minimum); '
        "the JVM refuses to start"
    )
    assert one(java("-Xms2g", "-Xmx1g"), INVALID).message == (
        '-Xms2g (command) in container "app": an initial heap above the maximum heap -Xmx1g; '
        "the JVM refuses to start"
    )


def test_initial_heap_from_java_tool_options_raises_the_max():
    text = java("-Xmx1g", env='[{name: JAVA_TOOL_OPTIONS, value: "-Xms2g"}]')
    finding = one(text, EXCEEDS)
    assert finding.message.startswith(
        "-Xms2g (env JAVA_TOOL_OPTIONS), an initial heap that raises the max heap to 2Gi, is "
        "100% of the 2Gi memory limit"
    )
    none_of(text, INVALID)
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "env", 0, "value"),
         "value": "-Xms1536m"},
    )  # fmt: skip
