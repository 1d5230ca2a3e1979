"""runtime-flag-invalid, runtime-flag-unresolved and runtime-heap-unset across runtimes."""

from __future__ import annotations

from helpers import apply_fix, config, dump, findings, none_of, one, pod, workload_object

INVALID = "runtime-flag-invalid"
UNRESOLVED = "runtime-flag-unresolved"
UNSET = "runtime-heap-unset"


def test_every_runtime_reports_its_invalid_flag_once():
    text = pod(
        "{name: app, image: x, command: [java, -Xmx2GB, -jar, a.jar], env: ["
        '{name: GOMEMLIMIT, value: "1G"}, {name: NODE_OPTIONS, value: "--max-old-space-size=2g"},'
        ' {name: DOTNET_GCHeapHardLimit, value: "2G"}], resources: {limits: {memory: 4Gi}}}'
    )
    found = findings(text, INVALID)
    assert [(f.severity, f.container, f.path[-2:]) for f in found] == [
        ("error", "app", ("command", 1)),
        ("error", "app", (0, "value")),
        ("error", "app", (1, "value")),
        ("error", "app", (2, "value")),
    ]
    assert found[3].message == (
        "DOTNET_GCHeapHardLimit=2G in container \"app\": '2G' is not hexadecimal (the runtime "
        "reads env values as hex); the runtime ignores it"
    )


def test_max_ram_percentage_out_of_range_is_invalid():
    text = pod("{name: app, image: x, command: [java, -XX:MaxRAMPercentage=150, -jar, a.jar], "
               "resources: {limits: {memory: 1Gi}}}")  # fmt: skip
    assert one(text, INVALID).message == (
        '-XX:MaxRAMPercentage=150 (command) in container "app": 150 is outside the allowed '
        "range 0 to 100; the JVM refuses to start"
    )


def test_unresolved_sources_one_finding_per_variable():
    text = pod(
        "{name: app, image: eclipse-temurin:21, envFrom: [{configMapRef: {name: runtime}}], env: ["
        "{name: JAVA_TOOL_OPTIONS, valueFrom: {configMapKeyRef: {name: jvm, key: opts}}},"
        " {name: NODE_OPTIONS, valueFrom: {secretKeyRef: {name: node, key: opts}}},"
        " {name: GOMEMLIMIT, valueFrom: {configMapKeyRef: {name: go, key: limit}}}],"
        " resources: {limits: {memory: 1Gi}}}"
    )
    found = findings(text, UNRESOLVED)
    assert [(f.severity, f.path[-2:]) for f in found] == [
        ("info", ("env", 0)),
        ("info", ("env", 1)),
        ("info", ("env", 2)),
    ]
    assert [f.message.split(" in container")[0] for f in found] == [
        'env JAVA_TOOL_OPTIONS from ConfigMap "jvm" key "opts"',
        'env NODE_OPTIONS from Secret "node" key "opts"',
        'env GOMEMLIMIT from ConfigMap "go" key "limit"',
    ]
    none_of(text, UNSET)  # the JVM's heap setting may be in the ConfigMap


def test_unresolved_values_in_the_order_env_writes_them():
    # the order lint prints them in (by line), now also the webhook's and audit's: the rule
    # no longer lists one runtime's values before another's
    text = pod(
        "{name: app, image: eclipse-temurin:21, env: ["
        " {name: GOMEMLIMIT, valueFrom: {configMapKeyRef: {name: go, key: limit}}},"
        " {name: JAVA_TOOL_OPTIONS, valueFrom: {configMapKeyRef: {name: jvm, key: opts}}}],"
        " resources: {limits: {memory: 1Gi}}}"
    )
    assert [f.path[-2:] for f in findings(text, UNRESOLVED)] == [("env", 0), ("env", 1)]


def test_missing_key_in_a_configmap_of_the_input():
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: go}\ndata: {other: x}\n---\n"
        + pod(
            "{name: app, image: x, env: [{name: GOMEMLIMIT, valueFrom: {configMapKeyRef: "
            "{name: go, key: limit}}}], resources: {limits: {memory: 1Gi}}}"
        )  # fmt: skip
    )
    assert one(text, UNRESOLVED).message.endswith(
        'cannot be checked: ConfigMap "go" key "limit" does not exist'
    )


def test_configmap_in_another_namespace_is_not_used():
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: go, namespace: a}\ndata: {l: 4GiB}\n"
    workload = pod("{name: app, image: x, env: [{name: GOMEMLIMIT, valueFrom: {configMapKeyRef: "
                   "{name: go, key: l}}}], resources: {limits: {memory: 1Gi}}}")  # fmt: skip
    other = workload.replace("metadata: {name: p}", "metadata: {name: p, namespace: b}")
    same = workload.replace("metadata: {name: p}", "metadata: {name: p, namespace: a}")
    assert [f.rule for f in findings(cm + "---\n" + other) if f.rule.startswith(("go", "runtime"))
            ] == [UNRESOLVED]  # fmt: skip
    assert "go-memlimit-exceeds-limit" in [f.rule for f in findings(cm + "---\n" + same)]


def test_heap_unset_for_a_jvm_with_evidence_named():
    text = pod("{name: app, image: eclipse-temurin:21-jre, resources: {limits: {memory: 4Gi}}}")
    finding = one(text, UNSET)
    assert finding.message == (
        'container "app" runs a JVM (its image "eclipse-temurin:21-jre" runs a JVM) with no heap '
        "setting: the default heap is 25% of the 4Gi limit (1Gi); set -XX:MaxRAMPercentage=75"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "add", "path": "/spec/containers/0/env",
         "value": [{"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75"}]},
    ]  # fmt: skip
    none_of(dump(patched), UNSET)


# Arguments::set_heap_size: below 2 x 124.8Mi the default heap is MinRAMPercentage (50%),
# and up to 4 x 124.8Mi it is the 124.8Mi default MaxHeapSize, not 25% (see test_rule_jvm.py).
def test_heap_unset_small_limit_says_what_the_jvm_does_and_sets_both_percentages():
    text = pod("{name: app, image: eclipse-temurin:21-jre, resources: {limits: {memory: 128Mi}}}")
    finding = one(text, UNSET)
    assert finding.message == (
        'container "app" runs a JVM (its image "eclipse-temurin:21-jre" runs a JVM) with no heap '
        "setting: the default heap is 50% of the 128Mi limit (64Mi): below 249.6Mi the JVM uses "
        "MinRAMPercentage, not MaxRAMPercentage; set -XX:MaxRAMPercentage=75 "
        "-XX:MinRAMPercentage=75"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch[0]["value"] == [
        {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75 -XX:MinRAMPercentage=75"}
    ]
    none_of(dump(patched), UNSET)
    # with both at 75 the heap is 96Mi, exactly the ratio: no heap finding either
    assert [f.rule for f in findings(dump(patched)) if f.rule.startswith("jvm-")] == []


def test_heap_unset_middle_limit_names_the_default_max_heap():
    text = pod("{name: app, image: eclipse-temurin:21-jre, resources: {limits: {memory: 300Mi}}}")
    finding = one(text, UNSET)
    assert finding.message.endswith(
        "the default heap is 124.8Mi, 41.6% of the 300Mi limit (the JVM's default max heap, the "
        "least it picks above 249.6Mi); set -XX:MaxRAMPercentage=75"
    )


def test_heap_unset_fix_appends_to_existing_tool_options():
    text = pod("{name: app, image: eclipse-temurin:21, env: [{name: JAVA_TOOL_OPTIONS, value: "
               "-Dfile.encoding=UTF-8}], resources: {limits: {memory: 4Gi}}}")  # fmt: skip
    finding = one(text, UNSET)
    assert finding.fix == (
        {"op": "replace", "path": ("spec", "containers", 0, "env", 0, "value"),
         "value": "-Dfile.encoding=UTF-8 -XX:MaxRAMPercentage=75"},
    )  # fmt: skip


def test_heap_unset_uses_the_configured_ratio():
    text = pod("{name: app, image: eclipse-temurin:21, resources: {limits: {memory: 4Gi}}}")
    finding = one(text, UNSET, config(thresholds={"jvm_heap_ratio": 0.6}))
    assert finding.message.endswith("set -XX:MaxRAMPercentage=60")


def test_heap_unset_not_for_node_dotnet_or_unknown_images_or_without_limit():
    for image in ("node:22", "mcr.microsoft.com/dotnet/aspnet:8.0", "nginx:1.27"):
        none_of(pod(f"{{name: app, image: {image}, resources: {{limits: {{memory: 1Gi}}}}}}"),
                UNSET)  # fmt: skip
    none_of(pod("{name: app, image: eclipse-temurin:21}"), UNSET)


def test_heap_unset_ko_binary_is_go():
    text = pod("{name: app, image: ghcr.io/x/y:1, command: [/ko-app/server], "
               "resources: {limits: {memory: 512Mi}}}")  # fmt: skip
    assert '(its command "/ko-app/server" is a ko-built Go binary)' in one(text, UNSET).message


def test_env_from_source_not_in_the_input_replaces_heap_unset():
    """The JVM's heap setting may sit in the missing ConfigMap: say it cannot be checked
    instead of claiming there is none."""
    text = pod("{name: app, image: eclipse-temurin:21, envFrom: [{configMapRef: {name: jvm}}], "
               "resources: {limits: {memory: 1Gi}}}")  # fmt: skip
    none_of(text, UNSET)
    finding = one(text, UNRESOLVED)
    assert finding.path == ("spec", "containers", 0, "envFrom")
    assert finding.message == (
        'envFrom ConfigMap "jvm" of container "app" is not in the input, so the heap settings '
        'of the program it runs (its image "eclipse-temurin:21" runs a JVM) cannot be checked'
    )
    # with the ConfigMap in the input, its value is checked
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: jvm}\n"
    assert one(cm + 'data: {JAVA_TOOL_OPTIONS: "-Xmx1g"}\n---\n' + text,
               "jvm-heap-exceeds-limit").message.startswith(
        '-Xmx1g (env JAVA_TOOL_OPTIONS from ConfigMap "jvm") is 100% of the 1Gi'
    )  # fmt: skip
    assert [f.rule for f in findings(cm + "data: {A: b}\n---\n" + text)
            if f.rule in (UNSET, UNRESOLVED)] == [UNSET]  # fmt: skip


def test_env_from_missing_is_silent_when_the_heap_setting_is_visible_or_no_runtime():
    none_of(pod("{name: app, image: eclipse-temurin:21, envFrom: [{configMapRef: {name: c}}], "
                "command: [java, -Xmx512m, -jar, a.jar], resources: {limits: {memory: 1Gi}}}"),
            UNRESOLVED)  # fmt: skip
    none_of(pod("{name: app, image: nginx:1.27, envFrom: [{configMapRef: {name: c}}], "
                "resources: {limits: {memory: 1Gi}}}"), UNRESOLVED)  # fmt: skip


# hotspot arguments.cpp Arguments::parse_each_vm_init_arg: "Invalid maximum heap size: %s" and
# return JNI_EINVAL at the first bad option; Arguments::parse_vm_init_args reads
# JAVA_TOOL_OPTIONS, then the command line, then _JAVA_OPTIONS. One finding: that option.
def test_jvm_repeated_invalid_flag_is_one_finding_naming_the_first_the_jvm_meets():
    text = pod(
        "{name: app, image: x, command: [java, -XX:MaxRAMPercentage=150, -jar, a.jar], env: ["
        '{name: _JAVA_OPTIONS, value: "-Xmx1.5g"},'
        f' {{name: JAVA_TOOL_OPTIONS, value: "{"-Xmx2GB " * 5000}"}}],'
        " resources: {limits: {memory: 4Gi}}}"
    )
    found = findings(text, INVALID)
    assert [(f.container, f.path[-3:]) for f in found] == [("app", ("env", 1, "value"))]
    assert found[0].message == (
        "-Xmx2GB (env JAVA_TOOL_OPTIONS) in container \"app\": '2GB' is not a JVM size (digits "
        "with one of k, m, g, t); the JVM refuses to start (and 5001 more invalid heap options)"
    )


def test_jvm_command_line_error_comes_before_java_options_and_before_start_checks():
    # JAVA_TOOL_OPTIONS' -Xmx1m parses; the heap size checks (GCArguments::
    # initialize_heap_flags_and_sizes, "Too small maximum heap") run only after all options
    # are parsed, so the command line's unparsable -Xmx2GB is what the JVM stops on.
    text = pod(
        "{name: app, image: x, command: [java, -Xmx2GB, -jar, a.jar], env: ["
        '{name: _JAVA_OPTIONS, value: "-XX:MinRAMPercentage=101"},'
        ' {name: JAVA_TOOL_OPTIONS, value: "-Xms1m"}], resources: {limits: {memory: 4Gi}}}'
    )
    assert one(text, INVALID).message == (
        "-Xmx2GB (command) in container \"app\": '2GB' is not a JVM size (digits with one of k, "
        "m, g, t); the JVM refuses to start (and 1 more invalid heap option)"
    )


def test_jvm_only_start_check_errors_report_the_first_check():
    # initialize_heap_flags_and_sizes checks "Too small maximum heap" before "Too small
    # initial heap": -Xmx1m is reported, the -Xms512k counted.
    text = pod(
        "{name: app, image: x, command: [java, -Xms512k, -Xmx1m, -jar, a.jar],"
        " resources: {limits: {memory: 4Gi}}}"
    )
    assert one(text, INVALID).message == (
        '-Xmx1m (command) in container "app": a maximum heap below 2 MiB (the JVM\'s minimum); '
        "the JVM refuses to start (and 1 more invalid heap option)"
    )


# node src/node.cc ProcessGlobalArgsInternal: NODE_OPTIONS is processed first and its error
# returns; V8 flags.cc FlagList::SetFlagsFromCommandLine stops at the first illegal value.
def test_node_repeated_invalid_flags_are_one_finding_for_node_options_first():
    text = pod(
        "{name: app, image: node:22, command: [node, --max-old-space-size=1x, app.js], env: ["
        '{name: NODE_OPTIONS, value: "--max-old-space-size=2g --max-old-space-size=3g"}],'
        " resources: {limits: {memory: 4Gi}}}"
    )
    found = findings(text, INVALID)
    assert [(f.container, f.path[-3:]) for f in found] == [("app", ("env", 0, "value"))]
    assert found[0].message == (
        "--max-old-space-size=2g (env NODE_OPTIONS) in container \"app\": '2g' is not a whole "
        "number of MiB (write e.g. 1536); node rejects it (and 2 more invalid heap options)"
    )


def test_any_variable_java_expands_from_a_missing_configmap_is_unresolved():
    # the kubelet puts $(HEAP)'s value into the argument (expansion.Expand); the flag may be
    # in it whatever the variable's name. A pod field (status.podIP) cannot hold JVM options.
    env = (
        "env: [{name: HEAP, valueFrom: {configMapKeyRef: {name: jvm, key: heap}}},"
        " {name: MEM, valueFrom: {configMapKeyRef: {name: jvm, key: mem}}},"
        " {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]"
    )
    for command in (
        '[java, "$(HEAP)", "-Xmx$(MEM)", "-Dip=$(IP)", -jar, a.jar]',
        '[sh, -c, "exec java $HEAP -Xmx${MEM} -Dip=$IP -jar a.jar"]',
    ):
        text = pod(
            f"{{name: app, image: eclipse-temurin:21, command: {command}, {env},"
            " resources: {limits: {memory: 1Gi}}}"
        )
        found = findings(text, UNRESOLVED)
        assert [(f.path[-2:], f.message) for f in found] == [
            (
                ("env", 0),
                'env HEAP from ConfigMap "jvm" key "heap" in container "app" cannot be '
                'checked: ConfigMap "jvm" is not in the input',
            ),
            (
                ("env", 1),
                'env MEM from ConfigMap "jvm" key "mem" in container "app" cannot be checked: '
                'ConfigMap "jvm" is not in the input',
            ),
        ], command
        # "-Xmx$(MEM)" is unknown, not the literal text "$(MEM)" the JVM would refuse
        none_of(text, INVALID)
        none_of(text, UNSET)


# kubernetes pkg/api/v1/resource/helpers.go ExtractContainerResourceValue ->
# convertResourceMemoryToString: ceil(limit / divisor), a count of divisor units, no unit.
MEM_1MI = "{name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}"


def test_jvm_xmx_from_a_divided_limit_is_judged_with_the_expanded_value():
    # hotspot atojulong: "-Xmx1024" is 1024 bytes; GCArguments::initialize_heap_flags_and_sizes
    # refuses a max heap below 2 MiB ("Too small maximum heap").
    text = pod(
        f'{{name: app, image: x, command: [java, "-Xmx$(MEM)", -jar, a.jar], env: [{MEM_1MI}],'
        " resources: {limits: {memory: 1Gi}}}"
    )
    assert one(text, INVALID).message == (
        '-Xmx1024 (command expanding $(MEM) = 1024 units of 1Mi) in container "app": a maximum '
        "heap below 2 MiB (the JVM's minimum); the JVM refuses to start"
    )
    none_of(text, "jvm-heap-exceeds-limit")
    # "-Xmx$(MEM)m" is 1024m = 1 GiB: the whole limit
    text = text.replace('"-Xmx$(MEM)"', '"-Xmx$(MEM)m"')
    found = findings(text, "jvm-heap-exceeds-limit")
    assert [(f.container, f.message) for f in found] == [
        (
            "app",
            "-Xmx1024m (command expanding $(MEM) = 1024 units of 1Mi) is 100% of the 1Gi memory "
            'limit of container "app": heap plus off-heap memory will pass the limit and the '
            "kernel will kill the container (exit 137); use at most 75% (768Mi)",
        )
    ]
    none_of(text, INVALID)


def test_dotnet_hard_limit_from_a_divided_limit_is_read_as_hex_bytes():
    # runtime gcconfig.h: GC settings from the environment are read as hexadecimal, so
    # "1024" (1Gi in units of 1Mi) is 0x1024 = 4132 bytes.
    text = pod(
        "{name: app, image: x, env: [{name: DOTNET_GCHeapHardLimit, valueFrom: {resourceFieldRef:"
        " {resource: limits.memory, divisor: 1Mi}}}], resources: {limits: {memory: 1Gi}}}"
    )
    found = findings(text, INVALID)
    assert [(f.container, f.path[-2:], f.message) for f in found] == [
        (
            "app",
            ("env", 0),
            "DOTNET_GCHeapHardLimit=1024 (from limits.memory via resourceFieldRef, divisor 1Mi) "
            'in container "app" counts in units of 1Mi (1024 × 1Mi = 1Gi), but .NET reads it as '
            "hexadecimal bytes: a GC heap hard limit of 0x1024 = 4132 bytes; replace the "
            "resourceFieldRef with DOTNET_GCHeapHardLimit=0x30000000 (no divisor gives .NET "
            "hexadecimal bytes)",
        )
    ]
    none_of(text, "dotnet-heap-exceeds-limit")
