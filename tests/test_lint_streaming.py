"""``oomguard lint`` prints each file's findings as soon as their place in the output is
settled, instead of keeping them all until the end (``linter/run.py``, ``linter/output.py``).

* Memory follows the largest file, not the whole input. Keeping every finding cost ~3 KiB
  (JSON) to ~10 KiB (SARIF) each: on the 40,000 findings below lint used to peak 125–380 MiB
  above its peak on one of the files; now it stays within ~10 MiB of it (bounded caches, and
  garbage awaiting the cyclic collector, whatever the input's size).
* The output order is input order, then line, column and rule (linter/run.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oomguard.linter.ci_formats import write_sarif
from oomguard.linter.output import Shown, write_json
from oomguard.linter.run import LintResult, lint_paths
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.model import Finding

FILES = 100
PODS_PER_FILE = 10
CONTAINERS = 20  # each: memory-limit-missing and memory-request-missing
ALLOWED_GROWTH_MIB = 40


def _pod(name: str) -> str:
    containers = "".join(f"  - {{name: c{n}, image: app}}\n" for n in range(CONTAINERS))
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n" + (
        containers
    )


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    for file in range(FILES):
        pods = (_pod(f"p{file}-{pod}") for pod in range(PODS_PER_FILE))
        (folder / f"m{file:03d}.yaml").write_text("---\n".join(pods))
    return folder


# The child reports its own peak (VmHWM, Linux). ru_maxrss from os.wait4 would not do: it
# counts the pytest process the child was forked from (33 MiB here early in a run, more
# later), which hides the growth being measured.
_PEAK_AT_EXIT = """
import atexit, runpy, sys
def report_peak():
    status = open("/proc/self/status").read()
    sys.stderr.write("\\n" + status[status.index("VmHWM:"):].split("\\n")[0])
atexit.register(report_peak)
runpy.run_module("oomguard", run_name="__main__", alter_sys=True)
"""


def _peak_rss_mib(*args: str, cwd: Path) -> tuple[int, float]:
    """(exit code, peak RSS in MiB) of ``oomguard`` in a subprocess, output discarded."""
    child = subprocess.run(
        [sys.executable, "-c", _PEAK_AT_EXIT, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    peak_kib = child.stderr.rsplit("VmHWM:", 1)[1].split()[0]
    return child.returncode, int(peak_kib) / 1024


@pytest.mark.parametrize("output", ["json", "sarif"])
def test_peak_memory_does_not_grow_with_the_findings(many_files: Path, output: str):
    code, one_file = _peak_rss_mib("lint", "m000.yaml", "--format", output, cwd=many_files)
    assert code == 1
    code, every_file = _peak_rss_mib("lint", ".", "--format", output, cwd=many_files)
    assert code == 1
    assert every_file < one_file + ALLOWED_GROWTH_MIB, (
        f"{FILES} files peaked at {every_file:.0f} MiB, one of them at {one_file:.0f} MiB"
    )


# --------------------------------------------------------------------------- same bytes

findings = st.lists(
    st.builds(
        Finding,
        rule=st.sampled_from(["memory-limit-missing", "jvm-heap-exceeds-limit"]),
        severity=st.sampled_from(["error", "warning", "info"]),
        message=st.text(),  # quotes, backslashes, newlines, U+2028, non-ASCII
        kind=st.none() | st.text(max_size=5),
        name=st.none() | st.text(max_size=5),
        container=st.none() | st.text(max_size=5),
        file=st.none() | st.text(max_size=8),
        line=st.none() | st.integers(1, 10**6),
        column=st.none() | st.integers(1, 500),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(findings)
def test_streamed_json_and_sarif_are_what_one_json_dumps_writes(found: list[Finding]):
    for write in (write_json, write_sarif):
        out = io.StringIO()
        result = LintResult(files=2, objects=3, notices=["a notice"])
        write(out, result, Shown(found, DEFAULT_CONFIG), DEFAULT_CONFIG)
        document = json.loads(out.getvalue())
        assert out.getvalue() == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert len(document["runs"][0]["results"]) == len(found)


# --------------------------------------------------------------------------- same order

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: heap}\ndata: {opts: -Xmx2g}\n"
BAD_POD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Pod
    metadata: {name: bad}
    spec:
      containers:
      - {name: c, image: x, resources: {requests: {memory: 1Gi, cpu: 1}}}
    """
)


def _heap_from_configmap(name: str, configmap: str = "heap") -> str:
    """A Deployment whose only finding depends on the ConfigMap's -Xmx (2g > its 1Gi)."""
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          template:
            spec:
              containers:
              - name: app
                image: eclipse-temurin:21
                env:
                - name: JAVA_TOOL_OPTIONS
                  valueFrom: {{configMapKeyRef: {{name: {configmap}, key: opts}}}}
                resources: {{limits: {{memory: 1Gi, cpu: 1}}, requests: {{memory: 1Gi, cpu: 1}}}}
        """
    )


def _order(paths: list[Path]) -> list[tuple[str, str]]:
    result = lint_paths([str(path) for path in paths], DEFAULT_CONFIG)
    return [(Path(f.file).name, f.rule) for f in result.findings if f.severity != "info"]


def test_configmap_from_a_later_file_resolves_and_files_keep_input_order(tmp_path: Path):
    """A workload whose ConfigMap comes from a later file is judged with it, and its file's
    findings keep the file's place in the input (they used to go last: issue 16)."""
    (tmp_path / "a.yaml").write_text(_heap_from_configmap("a"))
    (tmp_path / "b.yaml").write_text(BAD_POD)
    (tmp_path / "c.yaml").write_text(CONFIGMAP)
    (tmp_path / "d.yaml").write_text(_heap_from_configmap("d"))
    assert _order([tmp_path]) == [
        ("a.yaml", "jvm-heap-exceeds-limit"),
        ("b.yaml", "memory-limit-missing"),
        ("d.yaml", "jvm-heap-exceeds-limit"),
    ]
    assert _order([tmp_path / "d.yaml", tmp_path]) == [
        ("d.yaml", "jvm-heap-exceeds-limit"),
        ("a.yaml", "jvm-heap-exceeds-limit"),
        ("b.yaml", "memory-limit-missing"),
        ("d.yaml", "jvm-heap-exceeds-limit"),
    ]


def test_a_workload_whose_configmap_is_missing_keeps_its_place(tmp_path: Path):
    """A look-up that finds nothing made a workload "late" (printed after every other file);
    now its findings stay at its file's place, sorted by line with the file's others."""
    (tmp_path / "a.yaml").write_text(_heap_from_configmap("a", "absent") + "---\n" + BAD_POD)
    (tmp_path / "b.yaml").write_text(BAD_POD.replace("bad", "worse"))
    (tmp_path / "c.yaml").write_text(_heap_from_configmap("c", "absent"))
    (tmp_path / "d.yaml").write_text(BAD_POD.replace("bad", "worst"))
    result = lint_paths([str(tmp_path)], DEFAULT_CONFIG)
    placed = [(Path(f.file).name, f.line, f.rule) for f in result.findings]
    assert [name for name, _, _ in placed] == sorted(name for name, _, _ in placed)
    assert ("c.yaml", 11, "runtime-flag-unresolved") in placed
    assert [(line, rule) for name, line, rule in placed if name == "a.yaml"] == sorted(
        (line, rule) for name, line, rule in placed if name == "a.yaml"
    )


def test_a_file_read_twice_is_printed_at_each_reading(tmp_path: Path):
    """Input order, reading by reading: a path given twice is linted, and printed, twice."""
    (tmp_path / "a.yaml").write_text(BAD_POD)
    (tmp_path / "b.yaml").write_text(BAD_POD.replace("bad", "worse"))
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert _order([b, a, b]) == [
        ("b.yaml", "memory-limit-missing"),
        ("a.yaml", "memory-limit-missing"),
        ("b.yaml", "memory-limit-missing"),
    ]


def test_configmap_spelt_with_escapes_is_found(tmp_path: Path):
    """The first pass parses only documents whose text can hold a ConfigMap: a kind written
    with escapes must not slip past it."""
    (tmp_path / "a.yaml").write_text(
        _heap_from_configmap("a", "x") + "---\n" + _heap_from_configmap("b", "y")
    )
    (tmp_path / "b.json").write_text(
        '{"apiVersion": "v1", "kind": "Config\\u004dap", "metadata": {"name": "x"},'
        ' "data": {"opts": "-Xmx2g"}}'
    )
    (tmp_path / "c.yaml").write_text(
        'apiVersion: v1\n"kind": "Config\\\n  Map"\nmetadata: {name: y}\ndata: {opts: -Xmx2g}\n'
    )
    assert _order([tmp_path]) == [("a.yaml", "jvm-heap-exceeds-limit")] * 2


@pytest.mark.parametrize("path", ["-", "/dev/stdin"])
def test_stdin_and_pipes_are_read_once(tmp_path: Path, run_oomguard, path: str):
    """The first pass reads standard input or a pipe, the second must see the same bytes."""
    (tmp_path / "cm.yaml").write_text(CONFIGMAP)
    proc = run_oomguard(
        "lint", path, "cm.yaml", "--format", "json", stdin=_heap_from_configmap("a"), cwd=tmp_path
    )
    found = json.loads(proc.stdout)["findings"]
    assert [f["rule"] for f in found] == ["jvm-heap-exceeds-limit"]
    assert proc.returncode == 1


def test_a_bad_path_stops_the_run_before_any_output(tmp_path: Path, run_oomguard):
    (tmp_path / "a.yaml").write_text(BAD_POD)
    proc = run_oomguard("lint", "a.yaml", "missing.yaml", "--format", "json", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "oomguard: missing.yaml: no such file or directory\n"
