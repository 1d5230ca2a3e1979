"""Lint throughput: workload objects per second and peak memory of ``oomguard lint`` on
generated inputs of 1k, 10k and 100k objects, on one core, beside checkov on the same input.

    .venv/bin/python bench/lint_throughput.py                      # 1000 10000 100000
    .venv/bin/python bench/lint_throughput.py 1000 10000 --runs 3 --checkov-max 10000

Inputs are made by ``bench/gen_inputs.py`` (real-corpus workloads plus generated JVM, Go,
Node and .NET flag cases, 100 objects per file) when missing. Each run is a whole process
pinned to CPU 0 (``taskset -c 0``), printing JSON with every severity; objects/s counts
the workload objects oomguard reports having checked, divided by wall time (start-up
included); objects per CPU second divide them by the process's user + system time, the
figure to compare on a shared machine. Peak RSS is the child's ``ru_maxrss`` (from
``os.wait4`` in a small launcher process, so that it does not include this script's own
peak). checkov runs ``-d DIR --framework kubernetes --check CKV_K8S_12,CKV_K8S_13`` on
the same folder for inputs up to ``--checkov-max`` objects, with a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_inputs import DEFAULT_OUT, corpus_workloads, generate  # noqa: E402
from lint_cold_start import (  # noqa: E402
    OOMGUARD,
    checkov_command,
    ensure_checkov,
    machine,
    now,
)

BUDGET = 2000  # objects/s on one core


def pinned(command: list[str]) -> list[str]:
    return ["taskset", "-c", "0", *command] if shutil.which("taskset") else command


# A child's ru_maxrss starts from its parent's peak (Linux carries it over exec), and this
# process grows as it reads the reports: each command is run from a small launcher, which
# prints the wall time, peak RSS (KiB) and exit code of that command alone.
_LAUNCHER = """
import os, subprocess, sys, time
timeout, command = float(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
child = subprocess.Popen(command, stderr=subprocess.DEVNULL)
code = "killed"
while True:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        code = os.waitstatus_to_exitcode(status)
        break
    if time.perf_counter() - start > timeout:
        child.kill()
        _, _, usage = os.wait4(child.pid, 0)
        break
    time.sleep(0.02)
cpu = usage.ru_utime + usage.ru_stime
print(time.perf_counter() - start, usage.ru_maxrss, code, cpu, file=sys.stderr)
"""


def run_child(command: list[str], stdout, timeout: float) -> tuple[float, int, int | None, float]:
    """(wall seconds, peak RSS in KiB, exit code or None when killed at the time limit, CPU
    seconds: user + system)."""
    # bytecode as users have it (written on the first run): a PYTHONDONTWRITEBYTECODE in the
    # caller's environment made every run compile all modules (~0.1 s), as in lint_cold_start
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    launcher = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, str(timeout), *command],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    seconds, rss, code, cpu = launcher.stderr.split()
    return float(seconds), int(rss), None if code == "killed" else int(code), float(cpu)


def lint_once(folder: Path, timeout: float) -> tuple[float, int, int, int, float]:
    """(seconds, peak RSS KiB, objects checked, findings, CPU seconds) of one oomguard run."""
    with tempfile.TemporaryFile("w+") as out:
        command = pinned(
            [str(OOMGUARD), "lint", str(folder), "--format", "json", "--min-severity", "info"]
        )
        seconds, rss, code, cpu = run_child(command, out, timeout)
        if code not in (0, 1):
            raise SystemExit(f"oomguard failed on {folder} (exit {code})")
        out.seek(0)
        report = json.load(out)
    return seconds, rss, report["summary"]["objects"], len(report["findings"]), cpu


def checkov_once(checkov: Path, folder: Path, timeout: float) -> tuple[float, int, str]:
    """(seconds, peak RSS KiB, what checkov reported) of one checkov run."""
    with tempfile.TemporaryFile("w+") as out:
        command = pinned([*checkov_command(checkov, "-d", str(folder)), "-o", "json"])
        command.remove("--compact")
        seconds, rss, code, _ = run_child(command, out, timeout)
        if code is None:
            return seconds, rss, f"did not finish in {timeout:.0f} s"
        out.seek(0)
        try:
            report = json.load(out)
        except ValueError:
            return seconds, rss, f"exit {code}, no JSON report"
    reports = report if isinstance(report, list) else [report]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    failed = sum(r.get("summary", {}).get("failed", 0) for r in reports)
    resources = sum(r.get("summary", {}).get("resource_count", 0) for r in reports)
    return seconds, rss, f"{resources} resources, {passed} passed, {failed} failed checks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=3, help="runs per input (median); 1 at 100k")
    parser.add_argument("--checkov-max", type=int, default=10000)
    parser.add_argument("--checkov-timeout", type=float, default=900)
    parser.add_argument("--no-checkov", action="store_true")
    parser.add_argument("--inputs", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    corpus = None
    folders = {}
    for count in args.counts:
        folder = args.inputs / str(count)
        if not folder.is_dir() or len(list(folder.glob("*.yaml"))) != -(-count // 100):
            corpus = corpus if corpus is not None else corpus_workloads()
            print(f"generating {count} objects into {folder} …")
            generate(count, args.inputs, 100, corpus)
        folders[count] = folder
    checkov = None if args.no_checkov else ensure_checkov()

    print(f"# Lint throughput, {now()}\nmachine: {machine()}\n")
    print(
        "| input | tool | wall (median) | CPU user+sys (median) | objects/s (wall) "
        "| objects per CPU s | peak RSS | result |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for count, folder in folders.items():
        size = sum(p.stat().st_size for p in folder.glob("*.yaml")) / 2**20
        largest = max(p.stat().st_size for p in folder.glob("*.yaml")) / 2**10
        label = f"{count:,} objects ({size:.1f} MiB, largest file {largest:.0f} KiB)"
        runs = [
            lint_once(folder, args.checkov_timeout)
            for _ in range(1 if count >= 100_000 else args.runs)
        ]
        seconds = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[4] for r in runs)
        rss = max(r[1] for r in runs)
        objects, findings = runs[0][2], runs[0][3]
        verdict = "✓" if objects / seconds >= BUDGET else "below budget"
        print(
            f"| {label} | oomguard | {seconds:.2f} s | {cpu:.2f} s | "
            f"{objects / seconds:,.0f} {verdict} | {objects / cpu:,.0f} | "
            f"{rss / 1024:.0f} MiB | {objects:,} objects checked, {findings:,} findings |"
        )
        if checkov is not None and count <= args.checkov_max:
            seconds, rss, what = checkov_once(checkov, folder, args.checkov_timeout)
            rate = f"{count / seconds:,.0f}" if "did not finish" not in what else "–"
            print(
                f"| {label} | checkov | {seconds:.2f} s | – | {rate} | – | {rss / 1024:.0f} MiB "
                f"| {what} |"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
