"""``oomguard lint --jobs``: objects/s at 1, 2 and N worker processes on ~100k objects over
many files, wall and CPU time, beside checkov in the same run; and where workers start to
pay off (the small-input threshold of linter/cores.py).

    .venv/bin/python bench/lint_jobs.py                         # 100k objects, jobs 1 2 N
    .venv/bin/python bench/lint_jobs.py --count 10000 --runs 3
    .venv/bin/python bench/lint_jobs.py --threshold             # small inputs, -j 1 vs -j 2
    .venv/bin/python bench/lint_jobs.py --checkov ../main/bench/out/checkov-venv/bin/checkov

The input is ``bench/gen_inputs.py``'s (real-corpus workloads plus generated JVM, Go, Node
and .NET cases, 100 objects per file: 1,000 files at 100k), under bench/out/ (not
committed). Runs are not pinned (the point is to use the cores); each row gives the load
average at its start, as the machine may be shared. CPU time is user + system of the lint
process and its workers (``os.wait4`` of a small launcher: the pool's workers are waited
for, so their time is included). checkov runs ``-d DIR --framework kubernetes --check
CKV_K8S_12,CKV_K8S_13`` on the ``--checkov-count`` input (it takes ~5 minutes per 10k
objects) with a time limit; it is not run when its venv is absent (said in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_inputs import DEFAULT_OUT, corpus_workloads, generate  # noqa: E402
from lint_cold_start import CHECKOV, OOMGUARD, checkov_command, machine, now  # noqa: E402
from lint_throughput import run_child as throughput_run_child  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "real"


def run_child(command: list[str], stdout, timeout: float) -> tuple[float, float, int, int | None]:
    """(wall s, CPU s, peak RSS KiB of the largest process, exit code or None if killed):
    lint_throughput's launcher (CPU = user + system of the command and the children it
    waited for: the worker processes; bytecode as users have it)."""
    wall, rss, code, cpu = throughput_run_child(command, stdout, timeout)
    return wall, cpu, rss, code


def lint_once(folder: Path, jobs: int, timeout: float) -> tuple[float, float, int, int, str]:
    """(wall, CPU, peak RSS KiB, objects checked, sha of the output) of one run."""
    with tempfile.TemporaryFile("w+b") as out:
        command = [str(OOMGUARD), "lint", str(folder), "--format", "json"]
        command += ["--min-severity", "info", "--jobs", str(jobs)]
        wall, cpu, rss, code = run_child(command, out, timeout)
        if code not in (0, 1):
            raise SystemExit(f"oomguard failed on {folder} with --jobs {jobs} (exit {code})")
        out.seek(0)
        data = out.read()
    import hashlib

    return wall, cpu, rss, json.loads(data)["summary"]["objects"], hashlib.sha256(data).hexdigest()


def checkov_once(checkov: Path, folder: Path, timeout: float) -> tuple[float, float, str]:
    with tempfile.TemporaryFile("w+") as out:
        command = [*checkov_command(checkov, "-d", str(folder)), "-o", "json"]
        command.remove("--compact")
        wall, cpu, _, code = run_child(command, out, timeout)
        if code is None:
            return wall, cpu, f"did not finish in {timeout:.0f} s"
        out.seek(0)
        try:
            report = json.load(out)
        except ValueError:
            return wall, cpu, f"exit {code}, no JSON report"
    reports = report if isinstance(report, list) else [report]
    resources = sum(r.get("summary", {}).get("resource_count", 0) for r in reports)
    return wall, cpu, f"{resources:,} resources"


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def input_folder(count: int, out: Path) -> Path:
    folder = out / str(count)
    if not folder.is_dir() or len(list(folder.glob("*.yaml"))) != -(-count // 100):
        print(f"generating {count} objects into {folder} …", flush=True)
        generate(count, out, 100, corpus_workloads())
    return folder


def throughput(args: argparse.Namespace) -> None:
    from oomguard.linter.cores import available_cores

    cores = available_cores()
    folder = input_folder(args.count, args.inputs)
    files = sorted(folder.glob("*.yaml"))
    size = sum(p.stat().st_size for p in files) / 2**20
    print(f"# Lint on every core, {now()}\nmachine: {machine()}, available cores: {cores}\n")
    print(f"input: {args.count:,} objects, {len(files):,} files, {size:.1f} MiB\n")
    print(
        "| tool | jobs | wall (median) | CPU | objects/s (wall) | objects/s per CPU s | "
        "peak RSS (largest process) | load at start |"
    )
    print("|---|---|---|---|---|---|---|---|")
    outputs = set()
    counts = sorted({1, 2, cores})
    measured: dict[int, tuple[list, list]] = {jobs: ([], []) for jobs in counts}
    for _ in range(args.runs):
        for jobs in counts:  # interleaved: a change of load hits every count alike
            measured[jobs][1].append(load())
            measured[jobs][0].append(lint_once(folder, jobs, args.timeout))
    for jobs in counts:
        runs, loads = measured[jobs]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        objects = runs[0][3]
        outputs.update(r[4] for r in runs)
        print(
            f"| oomguard | {jobs} | {wall:.2f} s | {cpu:.2f} s | {objects / wall:,.0f} | "
            f"{objects / cpu:,.0f} | {max(r[2] for r in runs) / 1024:.0f} MiB | "
            f"{', '.join(loads)} |",
            flush=True,
        )
    print(f"\noutputs identical across jobs: {'yes' if len(outputs) == 1 else 'NO'}")
    checkov = args.checkov or (CHECKOV if CHECKOV.exists() else None)
    if checkov is None or not Path(checkov).exists():
        print(f"\ncheckov: not run, its venv is absent ({CHECKOV}; --checkov PATH)")
        return
    small = input_folder(args.checkov_count, args.inputs)
    at = load()
    wall, cpu, what = checkov_once(Path(checkov), small, args.checkov_timeout)
    print(
        f"\n| checkov | {args.checkov_count:,} objects | {wall:.2f} s | {cpu:.2f} s | "
        f"{args.checkov_count / wall:,.0f} | {args.checkov_count / cpu:,.0f} | {what} | {at} |"
    )


def threshold(args: argparse.Namespace) -> None:
    """Wall time of -j 1 and -j 2 on the first corpus files up to a number of bytes."""
    corpus = sorted(CORPUS.rglob("*.yaml"))
    print(f"# Where workers pay off, {now()}\nmachine: {machine()}\n")
    print("| input | -j 1 wall (median) | -j 2 wall (median) | load at start |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kib in args.sizes:
            folder = Path(tmp) / str(kib)
            folder.mkdir()
            total = 0
            for index, path in enumerate(corpus):
                if total >= kib * 1024:
                    break
                shutil.copy(path, folder / f"{index:04}-{path.name}")
                total += path.stat().st_size
            count = len(list(folder.iterdir()))
            at = load()
            walls: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.runs):
                for jobs in (1, 2):  # interleaved: load changes hit both alike
                    with tempfile.TemporaryFile() as out:
                        command = [str(OOMGUARD), "lint", str(folder), "--jobs", str(jobs)]
                        walls[jobs].append(run_child(command, out, args.timeout)[0])
            one, two = (statistics.median(walls[j]) * 1000 for j in (1, 2))
            print(
                f"| {count} files, {total / 1024:.0f} KiB | {one:.0f} ms | {two:.0f} ms | {at} |",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--inputs", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--checkov", type=Path, help="checkov executable (default: its venv)")
    parser.add_argument("--checkov-count", type=int, default=1000)
    parser.add_argument("--checkov-timeout", type=float, default=900)
    parser.add_argument("--threshold", action="store_true", help="measure the small-input cut")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[64, 128, 256, 512, 1024, 2048], metavar="KiB"
    )
    args = parser.parse_args(argv)
    if args.threshold:
        threshold(args)
    else:
        throughput(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
