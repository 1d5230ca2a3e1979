"""Hostile environments: $(VAR) expansion bombs and huge flag values stay bounded in memory.

The kubelet expands ``$(VAR)`` with no limit (kubernetes
third_party/forked/golang/expansion/expand.go ``Expand``, called per env entry by
pkg/kubelet/kubelet_pods.go ``makeEnvironmentVariables``), so ``V{i} = "$(V{i-1})$(V{i-1})"``
doubles each entry. Linux refuses ``execve`` with any argument or environment string over
``MAX_ARG_STRLEN`` = 32 pages (include/uapi/linux/binfmts.h; fs/exec.c ``copy_strings``
returns E2BIG): 128 KiB with 4 KiB pages, so no container starts with such a value. oomguard
reads none of them and reports the value as unresolved, with that reason.

Memory is measured with tracemalloc peaks (allocation sizes, not time): the bounds are
generous multiples of what the bounded code needs, far below what the unbounded code took.
"""

from __future__ import annotations

import json
import tracemalloc

from helpers import ALL_RULES, container_view, findings, pod
from oomguard.cli import main
from oomguard.rules.admission import ENFORCE, Request, decide, validate
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.engine import check_object
from oomguard.rules.runtimes.env import MAX_STRING, TooLong, expand_references

MIB = 1024 * 1024
UNRESOLVED = "runtime-flag-unresolved"


def bomb_env(levels: int, last: str = "JAVA_TOOL_OPTIONS") -> list[dict]:
    env = [{"name": "V0", "value": "-Xmx1g"}]
    env += [{"name": f"V{i}", "value": f"$(V{i - 1})$(V{i - 1})"} for i in range(1, levels)]
    return [*env, {"name": last, "value": f"$(V{levels - 1})"}]


def pod_object(*containers: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": list(containers)},
    }


def jvm_container(name: str = "app", env: list | None = None, **fields) -> dict:
    return {
        "name": name,
        "image": "eclipse-temurin:21",
        "resources": {"limits": {"memory": "1Gi"}},
        "env": env or [],
        **fields,
    }


def peak_of(function, *args, **kwargs):
    """(result, peak bytes allocated while ``function`` ran)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = function(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_expansion_bomb_through_the_webhook_entry_is_bounded_and_reported():
    # 30 doublings: 6 * 2**29 bytes = 3 GiB if expanded; the 1.5 KB review took 856 MB
    review = Request("CREATE", pod_object(jvm_container(env=bomb_env(30))), namespace="shop")
    decision, peak = peak_of(validate, review, ALL_RULES)
    assert peak < 8 * MIB, peak
    assert decision.crashes == ()  # before: MemoryError in every rule, and the review allowed
    unresolved = [f for f in decision.findings if f.rule == UNRESOLVED]
    assert [f.container for f in unresolved] == ["app"]
    message = unresolved[0].message
    assert message.startswith('env JAVA_TOOL_OPTIONS in container "app" cannot be checked')
    assert "it references $(V29), which is not expanded" in message
    assert f"it expands to over {MAX_STRING} bytes" in message and "MAX_ARG_STRLEN" in message
    # the message names the first cause once, not a chain through V28, V27, …
    assert "$(V28)" not in message


def test_expansion_bomb_on_lint_of_a_small_file_is_bounded(tmp_path, capsys):
    lines = [
        "apiVersion: v1",
        "kind: Pod",
        "metadata: {name: bomb}",
        "spec:",
        "  containers:",
        "    - name: app",
        "      image: eclipse-temurin:21",
        "      resources: {limits: {memory: 1Gi}}",
        "      env:",
        "        - {name: V0, value: '-Xmx1g'}",
        *(f"        - {{name: V{i}, value: '$(V{i - 1})$(V{i - 1})'}}" for i in range(1, 32)),
        "        - {name: JAVA_TOOL_OPTIONS, value: '$(V31)'}",
    ]
    manifest = tmp_path / "bomb.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    assert manifest.stat().st_size < 2000  # the 1,251-byte file reached 3.3 GB
    argv = ["lint", "--format", "json", "--min-severity", "info", str(manifest)]
    code, peak = peak_of(main, argv)
    out = capsys.readouterr()
    assert peak < 32 * MIB, peak
    assert code == 0, out.err
    assert "internal error" not in out.err
    rules = [(f["rule"], f["container"]) for f in json.loads(out.out)["findings"]]
    assert (UNRESOLVED, "app") in rules


def test_a_value_over_max_arg_strlen_is_unresolved_not_read():
    long_value = "-Dx=" + "y" * MAX_STRING
    container = container_view(pod('{name: app, env: [{name: A, value: "' + long_value + '"}]}'))
    value = container.env.get("A")
    assert value.value is None
    assert value.unresolved.startswith(f"it is {len(long_value)} bytes long")
    # exactly at the limit it is still read
    fits = "y" * MAX_STRING
    container = container_view(pod('{name: app, env: [{name: A, value: "' + fits + '"}]}'))
    assert container.env.get("A").value == fits


def test_long_java_tool_options_memory_is_a_small_multiple_of_its_size():
    # The issue: one 5.7 MiB JAVA_TOOL_OPTIONS cost 313 MB per worker (~240 bytes per word as
    # tokens). Over MAX_ARG_STRLEN it is never tokenised; it is reported as unresolved.
    value = " ".join(["-Xmx1g"] * (int(5.7 * MIB) // 7))
    obj = pod_object(jvm_container(env=[{"name": "JAVA_TOOL_OPTIONS", "value": value}]))
    decision, peak = peak_of(validate, Request("CREATE", obj), ALL_RULES)
    assert peak < 2 * MIB, peak  # measured before the fix: 361 MiB
    assert [f.rule for f in decision.findings if f.rule == UNRESOLVED] == [UNRESOLVED]


def test_many_flag_values_under_the_string_limit_share_one_budget_per_object():
    # 45 containers with a 128 KiB JAVA_TOOL_OPTIONS each (5.7 MiB in all): each value is
    # startable, so only the per-object budget bounds the words rules tokenise.
    value = " ".join(["-Xmx2GB"] * (MAX_STRING // 8 - 1))
    containers = [
        jvm_container(f"c{i}", env=[{"name": "JAVA_TOOL_OPTIONS", "value": value}])
        for i in range(45)
    ]
    evaluation, peak = peak_of(check_object, pod_object(*containers), ALL_RULES)
    assert peak < 48 * MIB, peak  # measured before the fix: over 1 GiB
    assert evaluation.crashes == []
    unresolved = {f.container for f in evaluation.findings if f.rule == UNRESOLVED}
    invalid = {f.container for f in evaluation.findings if f.rule == "runtime-flag-invalid"}
    # every container is either checked or said to be unchecked, never silently skipped
    assert unresolved | invalid == {f"c{i}" for i in range(45)}
    assert unresolved and invalid
    decision = decide(evaluation, ENFORCE)
    assert not decision.allowed


def test_shell_assignment_doubling_is_bounded():
    script = "A=-Xmx1g; " + " ".join("A=$A$A;" for _ in range(40)) + " exec java $A -jar a.jar"
    obj = pod_object(jvm_container(command=["sh", "-c", script]))
    evaluation, peak = peak_of(check_object, obj, DEFAULT_CONFIG)
    assert peak < 8 * MIB, peak
    assert evaluation.crashes == []


def test_shell_word_of_many_references_is_bounded():
    env = [{"name": "OPTS", "value": "-Dx=" + "y" * (MAX_STRING - 8)}]
    script = "exec java " + "$OPTS" * 10_000 + " $OPTS $OPTS $OPTS -jar a.jar"
    obj = pod_object(jvm_container(env=env, command=["sh", "-c", script]))
    evaluation, peak = peak_of(check_object, obj, DEFAULT_CONFIG)
    assert peak < 8 * MIB, peak  # unbounded: 10,000 x 128 KiB = 1.2 GiB
    assert evaluation.crashes == []


def test_argv_element_expansion_is_bounded():
    env = bomb_env(20, last="UNUSED")
    args = ["$(V19)"] + ["x$(V19)y"] * 50 + ["-Xmx2g", "-jar", "a.jar"]
    obj = pod_object(jvm_container(env=env, command=["java"], args=args))
    evaluation, peak = peak_of(check_object, obj, DEFAULT_CONFIG)
    assert peak < 8 * MIB, peak
    assert evaluation.crashes == []
    exceeds = [f for f in evaluation.findings if f.rule == "jvm-heap-exceeds-limit"]
    assert [f.container for f in exceeds] == ["app"]  # -Xmx2g is still read
    # the variable java expands is unknown, and the 51 elements not expanded are said once,
    # with a count (never silently dropped)
    unread = [(f.path[-2:], f.message) for f in evaluation.findings if f.rule == UNRESOLVED]
    root = (
        "it references $(V18), which is not expanded: it expands to over 131072 bytes; Linux "
        "passes at most 131072 bytes to a program in one string (MAX_ARG_STRLEN, 4 KiB pages), "
        "so the container cannot start with it"
    )
    assert unread == [
        (("env", 19), f'env V19 in container "app" cannot be checked: {root}'),
        (
            ("args", 0),
            f'args[0] of container "app" cannot be checked: $(V19) is not read: {root} '
            "(and 50 more)",
        ),
    ]


def test_expand_references_scans_like_the_kubelet():
    # expand.go tryReadVariableName: "$(" reads to the next ")" whatever it holds; an unclosed
    # "$(" is kept; "$" before another character is kept with it; "$$" is one "$".
    defined = {"A": "1", "B": "2", "A$(B": "odd"}
    assert expand_references("$(A$(B))", defined) == "odd)"
    assert expand_references("$(C$(B))", defined) == "$(C$(B))"
    assert expand_references("x$(A", defined) == "x$(A"
    assert expand_references("$x$(A)$", defined) == "$x1$"
    assert expand_references("$$$(A)", defined) == "$1"


def test_expand_references_refuses_to_build_past_the_limit():
    defined = {"A": "a" * 1000}
    assert expand_references("$(A)" * 10, defined, limit=10_000) == "a" * 10_000
    try:
        expand_references("$(A)" * 11, defined, limit=10_000)
    except TooLong as exc:
        assert "it expands to over 10000 bytes" in str(exc)
    else:
        raise AssertionError("TooLong not raised")


def test_small_expansions_keep_working():
    found = findings(
        pod(
            "{name: app, image: eclipse-temurin:21, resources: {limits: {memory: 1Gi}}, env: ["
            '{name: HEAP, value: "2g"}, {name: JAVA_TOOL_OPTIONS, value: "-Xmx$(HEAP)"}]}'
        ),
        "jvm-heap-exceeds-limit",
    )
    assert [(f.container, f.message.split(" (")[0]) for f in found] == [("app", "-Xmx2g")]


def _script_of(size: int) -> str:
    script = "exec java -Xmx2g -jar a.jar # "
    return script + "x" * (size - len(script))


def test_a_script_past_the_object_read_budget_is_unresolved_not_silent():
    # four 64 KiB scripts spend the object's 256 KiB read budget; the fifth is not read
    obj = pod_object(
        *(jvm_container(f"c{i}", command=["sh", "-c", _script_of(64 * 1024)]) for i in range(5))
    )
    found = check_object(obj, ALL_RULES).findings
    exceeds = [f.container for f in found if f.rule == "jvm-heap-exceeds-limit"]
    assert exceeds == ["c0", "c1", "c2", "c3"]
    unresolved = [(f.container, f.path, f.message) for f in found if f.rule == UNRESOLVED]
    assert unresolved == [
        (
            "c4",
            ("spec", "containers", 4, "command", 2),
            'the shell script (command) of container "c4" cannot be checked: oomguard reads at '
            "most 256 KiB of flag text (environment values and shell scripts) per object and "
            "this object has used it",
        )
    ]
    # what oomguard did not read may set the heap: no "heap unset" claim (nor its fix)
    assert [f.container for f in found if f.rule == "runtime-heap-unset"] == []


def test_a_script_over_64_kib_says_only_its_start_is_read():
    obj = pod_object(jvm_container(command=["sh", "-c", _script_of(100_000)]))
    found = check_object(obj, ALL_RULES).findings
    assert [f.container for f in found if f.rule == "jvm-heap-exceeds-limit"] == ["app"]
    assert [f.message for f in found if f.rule == UNRESOLVED] == [
        'the shell script (command) of container "app" cannot be checked: it is 100000 bytes '
        "long and oomguard reads only its first 64 KiB as commands"
    ]
