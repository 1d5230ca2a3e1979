"""``oomguard lint --jobs``: worker processes give the output of one process, byte for byte,
with the same exit code; a dead worker costs only its file; small inputs stay in one process;
the cgroup CPU quota is read right."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS, EXAMPLES, REPO, needs_corpus
from oomguard.linter.cores import (
    MIN_PARALLEL_BYTES,
    MIN_PARALLEL_FILES,
    available_cores,
    cgroup_cpu_limit,
    parse_cfs,
    parse_cpu_max,
    plan_jobs,
)
from oomguard.linter.jobs import TEST_CRASH_ENV, linted_files
from oomguard.linter.run import LintResult, _all_findings, prepare
from oomguard.rules.config import DEFAULT_CONFIG
from test_limit_ranges import DEFAULT_512, deployment
from test_lint_streaming import BAD_POD, CONFIGMAP, _heap_from_configmap

ALL_FORMATS = ("text", "json", "sarif", "github", "policyreport")


def _lint(run_oomguard, *args: str, env=None, cwd=None):
    proc = run_oomguard("lint", *args, "--min-severity", "info", env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


# --------------------------------------------------------------------------- same output


@needs_corpus
@pytest.mark.parametrize("output", ["json", "text"])
def test_corpus_output_is_byte_identical_with_workers(run_oomguard, output: str):
    one = _lint(run_oomguard, str(CORPUS), "--format", output, "--jobs", "1")
    assert one[1] and one[0] in (0, 1)
    for jobs in ("2", "3"):
        assert _lint(run_oomguard, str(CORPUS), "--format", output, "--jobs", jobs) == one


def _run_time(output: str, run: tuple[int, str, str]) -> tuple[int, str, str]:
    """A PolicyReport's results carry the time of the run (policy_report.py): the one part
    of any format that differs between two runs, whatever the processes."""
    if output != "policyreport":
        return run
    return run[0], re.sub(r"(?m)^(\s+seconds:) \d+$", r"\1 <run time>", run[1]), run[2]


@pytest.mark.parametrize("output", ALL_FORMATS)
def test_examples_output_is_byte_identical_with_workers(run_oomguard, output: str):
    paths = [str(EXAMPLES / "bad"), str(EXAMPLES / "good")]
    one = _run_time(output, _lint(run_oomguard, *paths, "--format", output, "-j", "1"))
    assert one[0] == 1 and one[1]
    for jobs in ("2", "3"):
        many = _lint(run_oomguard, *paths, "--format", output, "-j", jobs)
        assert _run_time(output, many) == one


def test_cross_file_lookups_stdin_and_repeated_paths_keep_their_order(tmp_path, run_oomguard):
    """A ConfigMap from a later file, a path given twice and standard input: the parent's
    output order (input order), with the look-ups made in workers."""
    (tmp_path / "a.yaml").write_text(_heap_from_configmap("a"))
    (tmp_path / "b.yaml").write_text(BAD_POD)
    (tmp_path / "c.yaml").write_text(CONFIGMAP)
    (tmp_path / "d.yaml").write_text(_heap_from_configmap("d"))
    # a LimitRange in a later file gives the -Xmx1g Deployment of e.yaml its 512Mi default
    (tmp_path / "e.yaml").write_text(deployment())
    (tmp_path / "f.yaml").write_text(DEFAULT_512)
    args = ("-", ".", "b.yaml", "--format", "json")
    stdin = _heap_from_configmap("s")
    one = run_oomguard("lint", *args, "-j", "1", stdin=stdin, cwd=tmp_path)
    found = [(f["file"], f["rule"]) for f in json.loads(one.stdout)["findings"]]
    assert ("<stdin>", "jvm-heap-exceeds-limit") in found
    # input order: stdin, the folder as walked, then b.yaml again (a's ConfigMap is in c)
    files = [file for file, _ in found]
    assert files == sorted(
        files, key=["<stdin>", "./a.yaml", "./b.yaml", "./d.yaml", "./e.yaml", "b.yaml"].index
    )
    assert ("./a.yaml", "jvm-heap-exceeds-limit") in found
    assert ("./e.yaml", "jvm-heap-exceeds-limit") in found  # 1g heap > the LimitRange's 512Mi
    for jobs in ("2", "4"):
        many = run_oomguard("lint", *args, "-j", jobs, stdin=stdin, cwd=tmp_path)
        assert (many.returncode, many.stdout, many.stderr) == (
            one.returncode,
            one.stdout,
            one.stderr,
        )


def test_charts_and_overlays_beside_plain_files_give_the_same_output(run_oomguard):
    """Charts and overlays render in the main process before the workers start (the Helm
    SDK's threads then make the pool spawn, not fork); plain files go to the workers."""
    paths = [str(REPO / "tests" / "data" / "render"), str(EXAMPLES / "bad")]
    one = _lint(run_oomguard, *paths, "--format", "json", "-j", "1")
    assert any("rendered_from" in f for f in json.loads(one[1])["findings"])
    assert _lint(run_oomguard, *paths, "--format", "json", "-j", "2") == one


def test_fix_with_workers_writes_what_one_process_writes(tmp_path, run_oomguard):
    """--fix: workers only read; the fixes are planned and written by the main process."""
    trees = []
    for jobs in ("1", "2"):
        tree = tmp_path / f"j{jobs}"
        shutil.copytree(EXAMPLES / "bad", tree)
        proc = run_oomguard("lint", ".", "--fix", "--format", "json", "-j", jobs, cwd=tree)
        files = {p.name: p.read_text() for p in sorted(tree.iterdir())}
        trees.append((proc.returncode, proc.stdout, proc.stderr, files))
    assert trees[0] == trees[1]
    assert trees[0][3] != {p.name: p.read_text() for p in sorted((EXAMPLES / "bad").iterdir())}


def test_spawned_workers_give_the_same_findings_in_order():
    """The ``spawn`` start method (other systems, or after the Helm SDK started threads):
    config and sources pickled to each worker, same findings, counts and notices."""
    paths = [str(p) for p in sorted((EXAMPLES / "bad").iterdir())] + [str(EXAMPLES / "good")]
    serial, parallel = LintResult(), LintResult()
    expected = list(_all_findings(prepare(paths, DEFAULT_CONFIG), DEFAULT_CONFIG, serial))
    lint_input = prepare(paths, DEFAULT_CONFIG)
    files = list(linted_files(lint_input, DEFAULT_CONFIG, parallel, 2, method="spawn"))
    got = [finding for done in files for finding in done.found]
    assert sorted(got, key=repr) == sorted(expected, key=repr) and len(got) > 5
    assert (parallel.files, parallel.objects, parallel.notices, parallel.crashes) == (
        serial.files,
        serial.objects,
        serial.notices,
        serial.crashes,
    )


# --------------------------------------------------------------------------- a dead worker


def test_a_killed_worker_is_an_internal_error_for_its_file_only(run_oomguard):
    """The test hook kills the worker (SIGKILL, as the OOM killer would) whenever it is given
    jvm.yaml: that file gets an internal error and exit 3; every other file is linted again
    in a fresh worker and keeps all its findings."""
    paths = [str(EXAMPLES / "bad"), str(EXAMPLES / "good")]
    code, out, err = _lint(run_oomguard, *paths, "--format", "json", "-j", "1")
    expected = [f for f in json.loads(out)["findings"] if not f["file"].endswith("jvm.yaml")]
    assert len(expected) > 5 and code == 1
    env = {TEST_CRASH_ENV: "jvm.yaml"}
    code, out, err = _lint(run_oomguard, *paths, "--format", "json", "-j", "2", env=env)
    found = json.loads(out)["findings"]
    jvm = [f for f in found if f["file"].endswith("jvm.yaml")]
    assert code == 3
    assert [f["rule"] for f in jvm] == ["manifest-invalid"]
    assert "worker process died" in jvm[0]["message"]
    assert [f for f in found if not f["file"].endswith("jvm.yaml")] == expected
    jvm_path = str(EXAMPLES / "bad" / "jvm.yaml")
    assert (
        f"oomguard: internal error: {jvm_path}: failed while linting it in a worker process: "
        "its worker process died (please report this)"
    ) in err.splitlines()


@pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc: Linux")
@needs_corpus
def test_ctrl_c_stops_the_workers(tmp_path):
    """SIGINT to the process group (what Ctrl-C sends): exit 130 and no worker left."""
    env = {**os.environ, "OOMGUARD_DEBUG": "jobs", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "oomguard", "lint", str(CORPUS), str(CORPUS), "-j", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a shell without job control starts background jobs with SIGINT ignored, and the
        # child would inherit that: give it the default, as an interactive terminal does
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = proc.stderr.readline()  # said once the first pass is done, before the workers start
    assert "2 worker processes" in line
    workers = _children_after_start(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    assert (proc.wait(timeout=60), proc.stderr.read()[-6000:]) == (130, "")
    assert workers and not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def _children_after_start(pid: int) -> list[int]:
    """The worker processes of ``pid``, once they are running (polling /proc, no timing
    judged: the loop waits until they exist or the parent is gone)."""
    while Path(f"/proc/{pid}").exists():
        children = Path(f"/proc/{pid}/task/{pid}/children")
        found = [int(c) for c in children.read_text().split()] if children.exists() else []
        if len(found) >= 2:
            return found
    return []


# --------------------------------------------------------------------------- how many


def test_small_input_stays_in_one_process(run_oomguard):
    env = {"OOMGUARD_DEBUG": "jobs"}
    code, _, err = _lint(run_oomguard, str(EXAMPLES / "bad" / "jvm.yaml"), env=env)
    assert "oomguard: debug: one process for 1 files" in err
    code, _, err = _lint(run_oomguard, str(EXAMPLES), env=env)
    assert "oomguard: debug: one process for 7 files" in err


def test_big_input_uses_the_available_cores(tmp_path, run_oomguard):
    text = (EXAMPLES / "bad" / "jvm.yaml").read_text()
    copies = -(-MIN_PARALLEL_BYTES // len(text)) // MIN_PARALLEL_FILES + 1
    for index in range(MIN_PARALLEL_FILES):
        (tmp_path / f"f{index}.yaml").write_text("---\n".join([text] * copies))
    _, _, err = _lint(run_oomguard, str(tmp_path), env={"OOMGUARD_DEBUG": "jobs"})
    cores = min(available_cores(), MIN_PARALLEL_FILES)
    how = "one process" if cores == 1 else f"{cores} worker processes"
    assert f"oomguard: debug: {how} for {MIN_PARALLEL_FILES} files" in err


def test_plan_jobs():
    big = [MIN_PARALLEL_BYTES] * MIN_PARALLEL_FILES

    def cores() -> int:
        return 8

    assert plan_jobs(None, big, cores) == MIN_PARALLEL_FILES  # never more workers than files
    assert plan_jobs(0, big * 4, cores) == 8
    assert plan_jobs(None, big[:-1], cores) == 1  # too few files
    assert plan_jobs(None, [MIN_PARALLEL_BYTES // 8] * 6, cores) == 1  # too few bytes
    assert plan_jobs(3, [10, 10], cores) == 2  # explicit: as asked, at most the files
    assert plan_jobs(1, big * 4, cores) == 1


def test_bad_jobs_value_is_a_usage_error(run_oomguard):
    proc = run_oomguard("lint", str(EXAMPLES), "--jobs", "-2")
    assert proc.returncode == 2
    assert "expected a whole number of processes, not '-2'" in proc.stderr


# --------------------------------------------------------------------------- cgroups


def test_cgroup_v2_cpu_max():
    assert parse_cpu_max("max 100000\n") is None
    assert parse_cpu_max("150000 100000\n") == 1.5
    assert parse_cpu_max("200000 100000") == 2.0
    assert parse_cpu_max("50000") == 0.5  # period defaults to 100000 (kernel's default)
    assert parse_cpu_max("") is None
    assert parse_cpu_max("junk 100000") is None


def test_cgroup_v1_cfs_quota():
    assert parse_cfs("-1\n", "100000\n") is None
    assert parse_cfs("300000\n", "100000\n") == 3.0
    assert parse_cfs("25000", "50000") == 0.5
    assert parse_cfs("x", "100000") is None


def _reader(files: dict[str, str]):
    return files.get


def test_cgroup_limit_v2_takes_the_tightest_ancestor():
    files = {
        "/sys/fs/cgroup/kubepods/pod1/cpu.max": "max 100000\n",
        "/sys/fs/cgroup/kubepods/cpu.max": "300000 100000\n",
        "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "150000 100000\n",
        "/sys/fs/cgroup/cpu.max": "max 100000\n",
    }
    assert cgroup_cpu_limit("0::/kubepods/pod1/c1\n", _reader(files)) == 1.5
    assert cgroup_cpu_limit("0::/kubepods/pod1\n", _reader(files)) == 3.0
    assert cgroup_cpu_limit("0::/\n", _reader(files)) is None
    # inside a container with a cgroup namespace: the path is / and the limit is at the root
    assert cgroup_cpu_limit("0::/\n", _reader({"/sys/fs/cgroup/cpu.max": "200000 100000"})) == 2


def test_cgroup_limit_v1_cfs_quota():
    self_cgroup = textwrap.dedent(
        """\
        12:memory:/docker/abc
        4:cpu,cpuacct:/docker/abc
        1:name=systemd:/docker/abc
        """
    )
    files = {
        "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n",
        "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
        "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
    }
    assert cgroup_cpu_limit(self_cgroup, _reader(files)) == 2.0
    # no quota anywhere: no limit; the memory controller's line is not read for CPUs
    unlimited = {path: "-1\n" if "quota" in path else text for path, text in files.items()}
    assert cgroup_cpu_limit(self_cgroup, _reader(unlimited)) is None


def test_available_cores_is_at_most_the_affinity():
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


def test_workers_that_cannot_start_leave_one_process_linting():
    """When no pool can be made (here an unknown start method; on a machine, fork's EAGAIN),
    the files are linted in the main process, with a notice: nothing is lost."""
    paths = [str(p) for p in sorted((EXAMPLES / "bad").iterdir())]
    serial, fallback = LintResult(), LintResult()
    expected = list(_all_findings(prepare(paths, DEFAULT_CONFIG), DEFAULT_CONFIG, serial))
    lint_input = prepare(paths, DEFAULT_CONFIG)
    files = list(linted_files(lint_input, DEFAULT_CONFIG, fallback, 2, method="no-such-method"))
    assert sorted((f for d in files for f in d.found), key=repr) == sorted(expected, key=repr)
    assert fallback.notices == [
        "could not start worker processes (ValueError): linted in one process",
        *serial.notices,
    ]


def test_at_most_two_chunks_per_worker_are_in_flight(tmp_path, monkeypatch):
    """Bounded memory: the main process never has more than _WINDOW_PER_JOB chunks per
    worker submitted and not yet handed out, however many files are waiting."""
    from oomguard.linter import jobs

    for index in range(30):
        (tmp_path / f"f{index:02}.yaml").write_text(BAD_POD.replace("bad", f"bad{index}"))
    monkeypatch.setattr(jobs, "CHUNK_FILES", 1)  # one file per chunk: chunks = files
    submitted: list[int] = []
    submit = jobs._Pool.submit

    def counting(self, task):
        submitted.append(len(task.files))
        return submit(self, task)

    monkeypatch.setattr(jobs._Pool, "submit", counting)
    lint_input = prepare([str(tmp_path)], DEFAULT_CONFIG)
    handed = 0
    for _ in linted_files(lint_input, DEFAULT_CONFIG, LintResult(), 2):
        handed += 1
        in_flight = sum(1 for files in submitted if files) - handed
        assert 0 <= in_flight <= jobs._WINDOW_PER_JOB * 2
    assert handed == 30 and sum(submitted) == 30
