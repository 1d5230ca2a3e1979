"""How many processes ``oomguard lint`` uses: the cores it may use (CPU affinity, cgroup CPU
quota) and whether the input is big enough for workers to pay off. Cheap to import (no
multiprocessing): every lint run asks; the pool itself lives in jobs.py, imported only when
it is used."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

from oomguard.linter.run import LintInput

# Below these, one process (no pool): starting workers costs more than it saves, and a
# pre-commit run on a few files must start as fast as before. Measured (bench/lint_jobs.py
# --threshold, bench/RESULTS.md "Lint on every core"): forking two workers costs ~30 ms, and
# -j 2 was no faster than -j 1 below ~1 MiB of corpus files.
MIN_PARALLEL_BYTES = 1024 * 1024
MIN_PARALLEL_FILES = 4
DEBUG_ENV = "OOMGUARD_DEBUG"  # "jobs": say on stderr how many processes lint uses


# ---- how many cores ------------------------------------------------------------------------


def parse_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` (``"200000 100000"`` → 2.0); None for
    ``max`` (no limit) or text that is not a quota."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text: str, period_text: str) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; None when the
    quota is -1 (no limit) or unreadable."""
    try:
        quota, period = int(quota_text.strip()), int(period_text.strip())
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(self_cgroup: str, read: Callable[[str], str | None]) -> float | None:
    """The tightest CPU limit of this process's cgroup and its ancestors, from the text of
    ``/proc/self/cgroup`` and ``read(path)`` (a file's text, None when absent): cgroup v2's
    ``cpu.max``, else cgroup v1's CFS quota. None when there is no limit."""
    limits: list[float] = []
    for line in self_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # v2, unified
            for folder in _ancestors("/sys/fs/cgroup", path):
                text = read(f"{folder}/cpu.max")
                limit = parse_cpu_max(text) if text is not None else None
                limits += [limit] if limit is not None else []
        elif "cpu" in controllers.split(","):  # v1
            mount = "/sys/fs/cgroup/" + controllers
            for base in (mount, "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"):
                for folder in _ancestors(base, path):
                    quota, period = read(f"{folder}/cpu.cfs_quota_us"), None
                    if quota is not None:
                        period = read(f"{folder}/cpu.cfs_period_us")
                    limit = parse_cfs(quota, period) if quota and period else None
                    limits += [limit] if limit is not None else []
                if limits:
                    break
    return min(limits) if limits else None


def _ancestors(mount: str, path: str) -> list[str]:
    """``mount/a/b``, ``mount/a``, ``mount``: a limit on a parent cgroup binds too. Inside a
    container the path is often ``/`` (cgroup namespace), which leaves ``mount`` alone."""
    parts = [part for part in path.strip().split("/") if part and part != ".."]
    return [os.path.join(mount, *parts[:depth]) for depth in range(len(parts), -1, -1)]


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota
    (rounded up: 1.5 CPUs keep two workers busy part of the time)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            limit = cgroup_cpu_limit(handle.read(), _read_text)
    except OSError:
        limit = None
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


# ---- how many workers ----------------------------------------------------------------------


def plan_jobs(requested: int | None, sizes: list[int], cores: Callable[[], int]) -> int:
    """How many worker processes to use for files of ``sizes`` bytes: 1 means none (the
    single-process path). An explicit ``requested`` count (≥ 1) is used as given, never more
    workers than files; by default (None or 0), one process for a small input (fewer than
    MIN_PARALLEL_FILES files or MIN_PARALLEL_BYTES bytes), else ``cores()``."""
    files = len(sizes)
    if requested:
        return max(1, min(requested, files))
    if files < MIN_PARALLEL_FILES or sum(sizes) < MIN_PARALLEL_BYTES:
        return 1
    return max(1, min(cores(), files))


def input_sizes(lint_input: LintInput) -> list[int]:
    """Bytes of each plain file (kept bytes for stdin and pipes; 0 when unreadable)."""
    sizes = []
    for position, path in enumerate(lint_input.paths):
        kept = lint_input.read_once.get(position)
        if kept is not None:
            sizes.append(len(kept) if isinstance(kept, bytes) else 0)
            continue
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)
    return sizes


def choose_jobs(requested: int | None, lint_input: LintInput) -> int:
    """:func:`plan_jobs` for this input and machine (the cores are read only for an input
    big enough); said on stderr with OOMGUARD_DEBUG=jobs."""
    sizes = input_sizes(lint_input)
    jobs = plan_jobs(requested, sizes, available_cores)
    if "jobs" in os.environ.get(DEBUG_ENV, "").split(","):
        how = "one process" if jobs == 1 else f"{jobs} worker processes"
        print(
            f"oomguard: debug: {how} for {len(sizes)} files, {sum(sizes)} bytes "
            f"(--jobs {requested or 'auto'}, {available_cores()} cores available)",
            file=sys.stderr,
        )
    return jobs
