"""Lint cold start: the whole ``oomguard lint FILE`` process on one small manifest, beside
checkov's memory checks on the same file, measured in the same run.

    .venv/bin/python bench/lint_cold_start.py            # 15 runs each, interleaved
    .venv/bin/python bench/lint_cold_start.py --runs 30 --no-checkov

Four commands are timed, interleaved so that machine noise hits them alike:

* ``oomguard lint small.yaml`` in a folder without ``.oomguard.yaml`` (what pre-commit pays);
* the same with a ``.oomguard.yaml`` beside it, validated on an earlier run (the verdict is
  remembered under ``$XDG_CACHE_HOME``: every pre-commit run after the first);
* the same on a first run with that config (jsonschema imported, the config validated);
* ``checkov -f small.yaml --framework kubernetes --check CKV_K8S_12,CKV_K8S_13``.

checkov 3.3.30 is installed into its own venv (``bench/out/checkov-venv``, git-ignored) on
first use, so it never touches the project's environment. The script also lists the
slowest imports of the lint path (``python -X importtime``) and checks that it imports none
of flask, the kubernetes client, gunicorn or ruamel.yaml.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
OOMGUARD = REPO / ".venv" / "bin" / "oomguard"
PYTHON = REPO / ".venv" / "bin" / "python"
CHECKOV_VENV = OUT / "checkov-venv"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"
CHECKOV_VERSION = "3.3.30"
CHECKOV_CHECKS = "CKV_K8S_12,CKV_K8S_13"  # memory requests / memory limits
BUDGET_S = 0.25
FORBIDDEN = ("flask", "kubernetes", "gunicorn", "ruamel", "werkzeug", "jsonschema")

SMALL_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: eclipse-temurin:21-jre
          command: ["java", "-Xmx2g", "-jar", "/app/app.jar"]
          resources:
            requests: {cpu: 500m, memory: 2Gi}
            limits: {cpu: "1", memory: 2Gi}
"""
CONFIG = "thresholds:\n  jvm_heap_ratio: 0.7\nrules:\n  qos-not-guaranteed: {enabled: true}\n"


def machine() -> str:
    """One line naming the machine: CPU model, cores, load, Python."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{model}, nproc={os.cpu_count()}, load average {load}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ensure_checkov() -> Path | None:
    """checkov's executable, installing it into its own venv first if missing."""
    if CHECKOV.exists():
        return CHECKOV
    print(f"checkov not found: installing checkov=={CHECKOV_VERSION} into {CHECKOV_VENV} …")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        subprocess.run(
            [str(CHECKOV_VENV / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"could not install checkov ({exc}); measuring oomguard alone")
        return None
    return CHECKOV


def checkov_command(checkov: Path, *target: str) -> list[str]:
    # --skip-download: no network calls to Prisma Cloud (they fail offline and cost seconds)
    return [
        str(checkov),
        *target,
        "--framework",
        "kubernetes",
        "--check",
        CHECKOV_CHECKS,
        "--skip-download",
        "--quiet",
        "--compact",
    ]


def cache_env(fresh: bool) -> dict[str, str]:
    """The environment of a run: a config validation remembered from earlier runs, or (fresh)
    an empty cache, as on the first run with a new or changed config."""
    cache = OUT / "cold" / ("fresh-cache" if fresh else "cache")
    if fresh:
        shutil.rmtree(cache, ignore_errors=True)
    # Bytecode as users have it: pip compiles .pyc files at install and an editable checkout
    # writes them on its first run. A PYTHONDONTWRITEBYTECODE in the caller's environment
    # (set on some CI machines) would make every timed run compile all ~75 modules again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "XDG_CACHE_HOME": str(cache)}


def timed(command: list[str], cwd: Path, fresh: bool = False) -> float:
    env = cache_env(fresh)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def prepare() -> tuple[Path, Path]:
    """Two folders with the same small manifest, one of them with a config file."""
    plain, configured = OUT / "cold" / "plain", OUT / "cold" / "configured"
    for folder in (plain, configured):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "small.yaml").write_text(SMALL_MANIFEST)
    (configured / ".oomguard.yaml").write_text(CONFIG)
    return plain, configured


def slowest_imports(cwd: Path, count: int = 8) -> list[tuple[int, str]]:
    """(self µs, module) of the modules that cost most to import in one first lint run."""
    run = subprocess.run(
        [str(PYTHON), "-X", "importtime", "-m", "oomguard", "lint", "small.yaml"],
        cwd=cwd,
        env=cache_env(fresh=True),
        capture_output=True,
        text=True,
    )
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        rows.append((int(own), name.strip()))
    return sorted(rows, reverse=True)[:count]


def imported_modules(cwd: Path, fresh: bool = True) -> list[str]:
    """Forbidden top-level packages that one lint run imports."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['oomguard', 'lint', 'small.yaml']\n"
        "try:\n    runpy.run_module('oomguard', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    )
    run = subprocess.run(
        [str(PYTHON), "-c", code], cwd=cwd, env=cache_env(fresh), capture_output=True, text=True
    )
    return run.stdout.strip().splitlines()[-1:] or [run.stderr.strip()]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:.0f} ms "
        f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-checkov", action="store_true")
    args = parser.parse_args(argv)

    plain, configured = prepare()
    lint = [str(OOMGUARD), "lint", "small.yaml"]
    commands = {
        "oomguard lint small.yaml": (lint, plain, False),
        "oomguard lint small.yaml (with .oomguard.yaml, validated on an earlier run)": (
            lint,
            configured,
            False,
        ),
        "oomguard lint small.yaml (with .oomguard.yaml, first run: jsonschema validates)": (
            lint,
            configured,
            True,
        ),
    }
    checkov = None if args.no_checkov else ensure_checkov()
    if checkov is not None:
        label = f"checkov -f small.yaml --framework kubernetes --check {CHECKOV_CHECKS}"
        commands[label] = (checkov_command(checkov, "-f", "small.yaml"), plain, False)

    print(f"# Lint cold start, {now()}\nmachine: {machine()}\n")
    for command, cwd, fresh in commands.values():  # warm the page cache and .pyc files
        timed(command, cwd, fresh)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.runs):
        for label, (command, cwd, fresh) in commands.items():
            times[label].append(timed(command, cwd, fresh))

    ours = statistics.median(times["oomguard lint small.yaml"])
    print("| command | wall time |\n|---|---|")
    for label, values in times.items():
        print(f"| `{label}` | {summary(values)} |")
    print()
    verdict = "meets" if ours <= BUDGET_S else "MISSES"
    print(f"oomguard: {ours * 1000:.0f} ms, {verdict} the {BUDGET_S * 1000:.0f} ms budget")
    if checkov is not None:
        theirs = statistics.median(times[label])
        print(f"checkov / oomguard: {theirs / ours:.0f}× (checkov {theirs:.2f} s)")
    print("\nmodules that cost most to import in `oomguard lint` (self time, -X importtime):")
    for micros, name in slowest_imports(plain):
        print(f"  {micros / 1000:6.1f} ms  {name}")
    print("  with .oomguard.yaml:")
    for micros, name in slowest_imports(configured, 4):
        print(f"  {micros / 1000:6.1f} ms  {name}")
    print(f"\nforbidden modules imported by a lint run (no config): {imported_modules(plain)[0]}")
    print(
        f"… with .oomguard.yaml, first run (jsonschema expected): {imported_modules(configured)[0]}"
    )
    print(
        f"… with .oomguard.yaml, validated before: {imported_modules(configured, fresh=False)[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
