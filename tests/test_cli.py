"""``oomguard lint`` and ``oomguard rules`` as a user runs them: output formats, exit codes,
config discovery, stdin, directories, usage errors (one line, no traceback)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap

from conftest import EXAMPLES
from oomguard.rules import CATALOGUE

JVM_POD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Pod
    metadata: {name: api, namespace: shop}
    spec:
      containers:
        - name: app
          image: eclipse-temurin:21-jre
          command: [java, -Xmx2g, -jar, app.jar]
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {cpu: "1", memory: 2Gi}
    """
)
GOOD_POD = JVM_POD.replace("-Xmx2g", "-Xmx1g")


def test_text_output_names_file_line_column_rule_and_numbers(tmp_path, run_oomguard):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(JVM_POD)
    result = run_oomguard("lint", str(manifest))
    assert result.returncode == 1
    first, summary = result.stdout.splitlines()
    assert first == (
        f"{manifest}:8:23: error jvm-heap-exceeds-limit: -Xmx2g (command) is 100% of the 2Gi "
        'memory limit of container "app": heap plus off-heap memory will pass the limit and '
        "the kernel will kill the container (exit 137); use at most 75% (1536Mi) "
        "[Pod/api app]"
    )
    assert summary == "1 file, 1 workload: 1 error, 0 warnings (1 fixable with --fix)"
    assert result.stderr == ""


def test_clean_file_exits_zero(tmp_path, run_oomguard):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(GOOD_POD)
    result = run_oomguard("lint", str(manifest))
    assert result.returncode == 0
    assert result.stdout == "1 file, 1 workload: 0 errors, 0 warnings\n"


def test_json_output_fields_and_summary(tmp_path, run_oomguard):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(JVM_POD)
    result = run_oomguard("lint", "--format", "json", str(manifest))
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["summary"] == {"files": 1, "objects": 1, "errors": 1, "warnings": 0, "infos": 0}
    (finding,) = document["findings"]
    assert finding == {
        "rule": "jvm-heap-exceeds-limit",
        "severity": "error",
        "message": finding["message"],
        "file": str(manifest),
        "line": 8,
        "column": 23,
        "kind": "Pod",
        "namespace": "shop",
        "name": "api",
        "container": "app",
        "fixable": True,
    }
    assert "-Xmx2g (command) is 100% of the 2Gi" in finding["message"]


def test_stdin_and_multi_document_and_list(run_oomguard):
    stream = (
        JVM_POD
        + "---\n"
        + textwrap.dedent(
            """\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                spec:
                  containers:
                    - {name: web, image: nginx}
        """
        )
    )
    result = run_oomguard("lint", "--format", "json", "-", stdin=stream)
    findings = json.loads(result.stdout)["findings"]
    assert sorted((f["rule"], f["name"], f["file"], f["line"]) for f in findings) == [
        ("best-effort-pod", "web", "<stdin>", 23),
        ("jvm-heap-exceeds-limit", "api", "<stdin>", 8),
        ("memory-limit-missing", "web", "<stdin>", 23),
        ("memory-request-missing", "web", "<stdin>", 23),
    ]


def test_min_severity_and_fail_on(tmp_path, run_oomguard):
    manifest = tmp_path / "burstable.yaml"
    manifest.write_text(
        GOOD_POD.replace('requests: {cpu: "1", memory: 2Gi}', "requests: {memory: 1Gi}")
    )
    default = run_oomguard("lint", str(manifest))
    assert default.returncode == 0 and "qos-not-guaranteed" not in default.stdout
    infos = run_oomguard("lint", "--min-severity", "info", str(manifest))
    assert infos.returncode == 0
    assert "info qos-not-guaranteed: the pod is Burstable, not Guaranteed" in infos.stdout
    strict = run_oomguard("lint", "--fail-on", "info", str(manifest))
    assert strict.returncode == 1
    assert "qos-not-guaranteed" in strict.stdout  # what fails the run is always shown


def test_enable_disable_and_unknown_rule(tmp_path, run_oomguard):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(JVM_POD)
    disabled = run_oomguard("lint", "--disable", "jvm-heap-exceeds-limit", str(manifest))
    assert disabled.returncode == 0
    unknown = run_oomguard("lint", "--disable", "no-such-rule", str(manifest))
    assert unknown.returncode == 2
    assert unknown.stderr == "oomguard: unknown rule 'no-such-rule' (`oomguard rules` lists them)\n"


def test_nearest_config_file_is_used_and_validated(tmp_path, run_oomguard):
    (tmp_path / "deploy").mkdir()
    manifest = tmp_path / "deploy" / "pod.yaml"
    manifest.write_text(JVM_POD.replace("-Xmx2g", "-Xmx1700m"))
    (tmp_path / ".oomguard.yaml").write_text("thresholds:\n  jvm_heap_ratio: 0.9\n")
    relaxed = run_oomguard("lint", "pod.yaml", cwd=tmp_path / "deploy")
    assert relaxed.returncode == 0, relaxed.stdout
    assert "jvm-heap-headroom-low" not in relaxed.stdout
    (tmp_path / ".oomguard.yaml").write_text("thresholds:\n  jvm_heap_ratio: lots\n")
    bad = run_oomguard("lint", "pod.yaml", cwd=tmp_path / "deploy")
    assert bad.returncode == 2
    assert bad.stderr.startswith("oomguard: config ")
    assert "thresholds.jvm_heap_ratio: 'lots' is not of type 'number'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_usage_errors_are_one_line(tmp_path, run_oomguard):
    missing = run_oomguard("lint", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert missing.stderr == f"oomguard: {tmp_path / 'nope.yaml'}: no such file or directory\n"
    no_paths = run_oomguard("lint")
    assert no_paths.returncode == 2 and len(no_paths.stderr.splitlines()) == 1
    bad_flag = run_oomguard("lint", "--format", "xml", "x.yaml")
    assert bad_flag.returncode == 2 and "Traceback" not in bad_flag.stderr
    config = run_oomguard("lint", "--config", str(tmp_path / "none.yaml"), "x.yaml")
    assert config.returncode == 2
    assert config.stderr == f"oomguard: config file {tmp_path / 'none.yaml'}: no such file\n"


def test_unreadable_file_is_reported_and_others_still_linted(tmp_path, run_oomguard):
    (tmp_path / "a.yaml").write_text(JVM_POD)
    (tmp_path / "b.yaml").mkdir()  # a directory where a file is expected: os.open fails
    result = run_oomguard("lint", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml") + "/")
    assert "jvm-heap-exceeds-limit" in result.stdout


def test_directory_walk_skips_non_kubernetes_and_reports_invalid_yaml(tmp_path, run_oomguard):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "pod.yml").write_text(JVM_POD)
    (tmp_path / "app" / "values.yaml").write_text("replicas: 3\nimage: {tag: v1}\n")
    (tmp_path / "app" / "package.json").write_text('{"name": "web", "version": "1.0.0"}')
    (tmp_path / "app" / "broken.yaml").write_text("kind: Pod\nspec: [unclosed\n")
    (tmp_path / "app" / "notes.txt").write_text("kind: Pod\n")
    result = run_oomguard("lint", "--format", "json", str(tmp_path))
    document = json.loads(result.stdout)
    assert document["summary"]["files"] == 4
    rules = sorted(
        (f["rule"], f["file"].rsplit("/", 1)[-1], f["line"]) for f in document["findings"]
    )
    assert rules == [
        ("jvm-heap-exceeds-limit", "pod.yml", 8),
        ("manifest-invalid", "broken.yaml", 3),
    ]


def test_unrendered_helm_template_outside_a_chart_is_skipped_with_a_notice(tmp_path, run_oomguard):
    """A stray template (no Chart.yaml above it) cannot be rendered: said, never a pass.
    A chart folder is rendered instead (tests/test_lint_render.py)."""
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    result = run_oomguard("lint", str(stray))
    assert result.returncode == 0
    assert "document 1: unrendered Helm template that does not parse, skipped" in result.stderr
    quiet = run_oomguard("lint", "--quiet", str(stray))
    assert quiet.stderr == "" and quiet.stdout == ""


def test_examples_show_every_rule_family(run_oomguard):
    result = run_oomguard("lint", "--format", "json", str(EXAMPLES))
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    good = [f for f in findings if "/good/" in f["file"]]
    assert good == []
    fired = {f["rule"] for f in findings}
    assert {
        "best-effort-pod",
        "memory-limit-missing",
        "memory-request-exceeds-limit",
        "memory-quantity-invalid",
        "memory-quantity-millibytes",
        "memory-limit-request-ratio",
        "jvm-heap-exceeds-limit",
        "jvm-heap-headroom-low",
        "jvm-container-support-disabled",
        "go-memlimit-exceeds-limit",
        "go-gc-off-without-memlimit",
        "runtime-flag-invalid",
        "node-heap-exceeds-limit",
        "node-heap-headroom-low",
        "dotnet-heap-exceeds-limit",
        "dotnet-heap-percent-ignored",
    } <= fired


def test_rules_command_formats(run_oomguard):
    text = run_oomguard("rules")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].split()[:2] == ["memory-limit-missing", "error"]
    listed = json.loads(run_oomguard("rules", "--format", "json").stdout)["rules"]
    assert [rule["id"] for rule in listed] == [rule.ID for rule in CATALOGUE]
    assert listed[9]["id"] == "jvm-heap-exceeds-limit" and listed[9]["fix"] == "rewrite"
    markdown = run_oomguard("rules", "--format", "markdown").stdout
    assert markdown.startswith("# oomguard rules")


def test_enable_turns_on_a_rule_the_config_turned_off(tmp_path, run_oomguard):
    (tmp_path / "pod.yaml").write_text(JVM_POD)
    (tmp_path / ".oomguard.yaml").write_text("rules: {jvm-heap-exceeds-limit: {enabled: false}}\n")
    off = run_oomguard("lint", "pod.yaml", "--format", "json", cwd=tmp_path)
    on = run_oomguard(
        "lint", "pod.yaml", "--format", "json", "--enable", "jvm-heap-exceeds-limit", cwd=tmp_path
    )
    rules_off = {f["rule"] for f in json.loads(off.stdout)["findings"]}
    rules_on = {f["rule"] for f in json.loads(on.stdout)["findings"]}
    assert "jvm-heap-exceeds-limit" not in rules_off
    assert rules_on - rules_off == {"jvm-heap-exceeds-limit"}
    assert on.returncode == 1


def _on_a_terminal(*args: str, cwd, env: dict[str, str]) -> bytes:
    """stdout of ``oomguard`` when it is a terminal (a pseudo-terminal)."""

    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "oomguard", *args],
        cwd=cwd,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    child.wait(30)
    os.close(leader)
    return output


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    (tmp_path / "pod.yaml").write_text(JVM_POD)
    plain_env = {"NO_COLOR": None}
    coloured = _on_a_terminal("lint", "pod.yaml", cwd=tmp_path, env=plain_env)
    assert b"\x1b[" in coloured and b"jvm-heap-exceeds-limit" in coloured
    flag = _on_a_terminal("lint", "pod.yaml", "--no-color", cwd=tmp_path, env=plain_env)
    assert b"jvm-heap-exceeds-limit" in flag and b"\x1b[" not in flag
    env = _on_a_terminal("lint", "pod.yaml", cwd=tmp_path, env={"NO_COLOR": "1"})
    assert b"jvm-heap-exceeds-limit" in env and b"\x1b[" not in env


def test_a_reader_that_leaves_early_makes_the_run_fail_141_quietly():
    """`oomguard lint k8s/ | head -1` under `set -o pipefail`: the report is cut, so the run
    must not pass as clean (it returned 0 before). 141 = 128 + SIGPIPE, what a shell reports
    for a tool killed by it; no traceback, nothing on stderr. Our read end is closed before
    the child writes, so every write of it fails (EPIPE): no race."""
    for args in (["lint", str(EXAMPLES / "bad")], ["lint", "--format", "json", str(EXAMPLES)]):
        child = subprocess.Popen(
            [sys.executable, "-m", "oomguard", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        child.stdout.close()
        stderr = child.stderr.read()
        assert child.wait(timeout=120) == 141, (args, stderr)
        assert stderr == b"", (args, stderr)
