"""Terminal escape injection: names, messages and paths from a manifest (or an API server)
never reach a terminal or a CI log raw. A manifest in a pull request must not be able to
clear the reviewer's screen, move the cursor over a finding, or print a fake summary.
JSON and SARIF keep the real string (``json`` escapes it)."""

from __future__ import annotations

import io
import json
import textwrap

import pytest
from oomguard.linter.ci_formats import write_github
from oomguard.linter.output import Shown
from oomguard.linter.run import LintResult
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.model import Finding
from oomguard.rules.text import printable

# Every character class the escaping must cover, with the escape it must print.
HOSTILE = {
    "\x1b": "\\x1b",  # ESC: colours, cursor moves, screen clears
    "\r": "\\x0d",  # back to the start of the line: overwrite what was printed
    "\b": "\\x08",  # backspace
    "\n": "\\x0a",  # a fake extra line
    "\x00": "\\x00",
    "\x7f": "\\x7f",  # DEL
    "\x9b": "\\x9b",  # C1 CSI: an escape sequence in one character on some terminals
    "\x85": "\\x85",  # NEL
    "\u2028": "\\u2028",  # line separator
    "\u2029": "\\u2029",  # paragraph separator
    "\u202e": "\\u202e",  # right-to-left override: reorders what a reviewer reads
    "\u202a": "\\u202a",
    "\u2066": "\\u2066",  # left-to-right isolate
    "\u2069": "\\u2069",  # pop directional isolate
}


@pytest.mark.parametrize(("raw", "shown"), HOSTILE.items())
def test_printable_escapes_each_control_character(raw, shown):
    assert printable(f"a{raw}b") == f"a{shown}b"


def test_printable_keeps_ordinary_text_and_unicode():
    text = 'Deployment/café-日本 "app": -Xmx2g is 100% of 2Gi \\x1b (already visible)'
    assert printable(text) == text


# A Pod whose names and heap flag carry a screen clear, a carriage return that would print
# a fake summary over the real finding, and a bidi override.
HOSTILE_POD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Pod
    metadata: {name: "api\\e[2J\\e[H", namespace: shop}
    spec:
      containers:
        - name: "app\\r0 errors\\u202e"
          image: eclipse-temurin:21-jre
          command: [java, "-Xmx2g\\e]0;owned\\a", -jar, app.jar]
          resources:
            requests: {cpu: "1", memory: 2Gi}
            limits: {cpu: "1", memory: 2Gi}
    """
)


def _assert_no_raw_controls(text: str) -> None:
    bad = [c for c in text if c in HOSTILE and c != "\n"]
    assert bad == [], f"raw control characters {bad!r} in {text!r}"


def test_text_output_escapes_names_and_messages(tmp_path, run_oomguard):
    (tmp_path / "pod.yaml").write_text(HOSTILE_POD)
    result = run_oomguard("lint", "pod.yaml", cwd=tmp_path)
    assert result.returncode == 1
    _assert_no_raw_controls(result.stdout)
    first = result.stdout.splitlines()[0]
    assert first.startswith("pod.yaml:8:")
    assert "error runtime-flag-invalid: -Xmx2g\\x1b]0;owned\\x07 (command)" in first
    assert "[Pod/api\\x1b[2J\\x1b[H app\\x0d0 errors\\u202e]" in first
    # one line per finding and the summary: the \r and \n in names made no extra line
    assert result.stdout.splitlines()[-1].startswith("1 file, 1 workload: 1 error")


def test_json_keeps_the_real_strings(tmp_path, run_oomguard):
    (tmp_path / "pod.yaml").write_text(HOSTILE_POD)
    result = run_oomguard("lint", "--format", "json", "pod.yaml", cwd=tmp_path)
    (finding,) = [
        f for f in json.loads(result.stdout)["findings"] if f["rule"] == "runtime-flag-invalid"
    ]
    assert finding["name"] == "api\x1b[2J\x1b[H"
    assert finding["container"] == "app\r0 errors\u202e"


def test_github_annotations_escape_controls_beside_the_toolkit_escapes():
    finding = Finding(
        rule="memory-limit-missing",
        severity="error",
        message="100% \x1b[2Jgone\r\nnext",
        kind="Pod",
        name="p\u202e",
        container="c",
        file="dir/m\x1b.yaml",
        line=3,
        column=5,
    )
    out = io.StringIO()
    write_github(out, LintResult(files=1, objects=1), Shown([finding], DEFAULT_CONFIG), {})
    line = out.getvalue().splitlines()[0]
    assert line == (
        "::error file=dir/m\\x1b.yaml,line=3,col=5,title=oomguard memory-limit-missing::"
        "100%25 \\x1b[2Jgone%0D%0Anext [Pod/p\\u202e c]"
    )


def test_stderr_notices_escape_file_names(tmp_path, run_oomguard):
    stray = tmp_path / "stray"  # a template outside a chart: skipped with a notice
    stray.mkdir()
    template = stray / "de\x1b[2Jploy.yaml"
    template.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .x }}\n")
    result = run_oomguard("lint", str(stray))
    assert "unrendered Helm template that does not parse, skipped" in result.stderr
    assert "de\\x1b[2Jploy.yaml" in result.stderr
    _assert_no_raw_controls(result.stderr)


def test_usage_error_escapes_the_path(tmp_path, run_oomguard):
    result = run_oomguard("lint", str(tmp_path / "no\x1b[2Jpe.yaml"))
    assert result.returncode == 2
    assert result.stderr == f"oomguard: {tmp_path}/no\\x1b[2Jpe.yaml: no such file or directory\n"


# A fixable Pod (-Xmx2g at a 1Gi limit) with a bidi override beside the fix: YAML refuses raw
# ESC but allows U+202E and U+2066 (its printable set), which reorder what a reviewer reads.
DIFF_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers:\n    - name: app\n"
    "      image: eclipse-temurin:21\n"
    "      command: [java, -Xmx2g, -jar, app.jar]  # \u202eruns as root\u2066\n"
    "      resources: {limits: {memory: 1Gi}}\n"
)


def _diff_under_a_terminal(cwd) -> str:
    """``oomguard lint --diff`` with its stdout on a pseudo-terminal, as a reviewer runs it."""
    import os
    import pty
    import subprocess
    import sys

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oomguard", "lint", "--diff", "-q", "pod.yaml"],
        stdout=child,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    proc.wait(timeout=120)
    return b"".join(chunks).decode().replace("\r\n", "\n")  # the tty's ONLCR


def test_diff_on_a_terminal_escapes_control_characters(tmp_path):
    (tmp_path / "pod.yaml").write_text(DIFF_POD)
    shown = _diff_under_a_terminal(tmp_path)
    assert "-      command: [java, -Xmx2g, -jar, app.jar]  # \\u202eruns as root\\u2066\n" in shown
    assert (
        "+      command: [java, -Xmx768m, -jar, app.jar]  # \\u202eruns as root\\u2066\n" in shown
    )
    _assert_no_raw_controls(shown)


def test_diff_piped_keeps_the_real_bytes_for_git_apply(tmp_path, run_oomguard):
    import subprocess

    (tmp_path / "pod.yaml").write_text(DIFF_POD)
    result = run_oomguard("lint", "--diff", "-q", "pod.yaml", cwd=tmp_path)
    assert "+      command: [java, -Xmx768m, -jar, app.jar]  # \u202eruns as root\u2066\n" in (
        result.stdout
    )
    (tmp_path / "fix.patch").write_text(result.stdout)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    applied = subprocess.run(
        ["git", "apply", "fix.patch"], cwd=tmp_path, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "pod.yaml").read_text() == DIFF_POD.replace("-Xmx2g", "-Xmx768m")
