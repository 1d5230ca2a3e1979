"""``oomguard lint --jobs``: the second pass spread over worker processes.

The parent runs the first pass (:func:`run.prepare`: files, ConfigMaps and Secrets, rendered
charts and overlays) as before, then hands the plain files to workers in chunks of
consecutive files. Each worker holds the whole input's index (:class:`InputIndex`, given once,
when it starts) and lints a file exactly as the single-process path does
(:func:`run._lint_file`), into a fresh :class:`run.LintResult`; the parent takes the chunks
back in input order and adds each file's counts, notices and problems to its own result, then
prints the file's findings as one process would. So the output, its order (input order: see
linter/run.py) and the exit code are those of ``--jobs 1``, and at most
``_WINDOW_PER_JOB * jobs`` chunks are in flight: memory stays bounded by the chunks, not by
the input.

A worker that dies (killed, out of memory, a crash in C code) or a chunk that fails outside
the per-file guards is not fatal: its files are linted again one by one in a fresh pool, and
a file that kills its worker again gets an internal error (a manifest-invalid finding, exit
3); every other file's findings are kept. Workers ignore SIGINT: on Ctrl-C the parent stops
them (terminate) and exits 130.

Start method: ``fork`` on Linux when the process has one thread (cheap: the sources are
shared copy-on-write); ``spawn`` otherwise (other systems, or after the Helm SDK started
Go's threads, which a fork would not carry over), where the config and sources are pickled
once per worker.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from typing import Any

from oomguard.linter import run
from oomguard.rules.config import Config
from oomguard.rules.sources import InputIndex

# A chunk: consecutive files up to this many bytes or files (fewer round trips for small
# files, a bounded amount of findings in flight for big ones).
CHUNK_BYTES = 256 * 1024
CHUNK_FILES = 32
_WINDOW_PER_JOB = 2  # chunks in flight per worker
# Test hook (named so, read in workers only): a worker given a file whose name contains this
# kills itself with SIGKILL, as the out-of-memory killer would.
TEST_CRASH_ENV = "OOMGUARD_TEST_KILL_WORKER_ON"


@dataclass
class _Task:
    """Consecutive files for one worker: (position, path, kept bytes, first-pass crash)."""

    files: list[tuple[int, str, bytes | OSError | None, str | None]]


_worker: dict[str, Any] = {}  # this worker's config and LintInput


@contextmanager
def _sigint_held() -> Iterator[None]:
    """SIGINT blocked in this thread (where the system allows), delivered on leaving."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _start_worker(config: Config, sources: InputIndex) -> None:
    # the parent stops the workers on Ctrl-C; a SIGINT held since the fork is dropped here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    gc.set_threshold(max(gc.get_threshold()[0], run._GC_THRESHOLD))
    _worker["config"] = config
    _worker["input"] = run.LintInput([], sources, {})


def _lint_chunk(task: _Task) -> list[tuple[run._FileFindings, run.LintResult]]:
    """Each file of ``task`` linted as the single-process path does, with what it adds to
    the run's result."""
    config, lint_input = _worker["config"], _worker["input"]
    crash_on = os.environ.get(TEST_CRASH_ENV)
    done = []
    for position, path, kept, failed in task.files:
        if crash_on and crash_on in path:
            os.kill(os.getpid(), signal.SIGKILL)
        if kept is not None:
            lint_input.read_once[position] = kept
        if failed is not None:
            lint_input.failed[position] = failed
        result = run.LintResult()
        done.append((run._lint_file(position, path, lint_input, config, result), result))
    return done


def _merge(into: run.LintResult, part: run.LintResult) -> None:
    """Add one file's counts and lists to the run's result (every field ``_lint_file``
    touches: numbers add up, lists extend)."""
    for spec in fields(part):
        value = getattr(part, spec.name)
        if isinstance(value, list):
            getattr(into, spec.name).extend(value)
        elif isinstance(value, int):
            setattr(into, spec.name, getattr(into, spec.name) + value)


def _start_method() -> str:
    """``fork`` where it is safe: Linux, and one thread (the Helm SDK's Go runtime starts
    threads that a forked child would lack); ``spawn`` otherwise."""
    if sys.platform != "linux":
        return "spawn"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return "spawn"
    return "fork" if threads == 1 else "spawn"


class _Pool:
    """A ProcessPoolExecutor that can be replaced when a worker dies, and stopped at once."""

    def __init__(self, jobs: int, config: Config, sources: InputIndex, method: str) -> None:
        self._args = (jobs, config, sources, method)
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        jobs, config, sources, method = self._args
        return ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context(method),
            initializer=_start_worker,
            initargs=(config, sources),
        )

    def submit(self, task: _Task) -> Future:
        # Submitting may start workers. SIGINT is held back meanwhile: a forked child must
        # not take it before it ignores it (_start_worker), and in the parent it would land
        # in an at-fork hook, where Python ignores exceptions: Ctrl-C would be lost.
        with _sigint_held():
            return self.executor.submit(_lint_chunk, task)

    def replace(self) -> None:
        self.stop()
        self.executor = self._new()

    def stop(self) -> None:
        """Stop the workers now (a broken pool, Ctrl-C, an output pipe closed)."""
        # ProcessPoolExecutor has no public terminate; its process table is the way in
        # (list() of a dict's values is atomic under the GIL: its manager thread may remove one)
        for process in list((getattr(self.executor, "_processes", None) or {}).values()):
            process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def _tasks(lint_input: run.LintInput) -> Iterator[_Task]:
    """Consecutive files in chunks of up to CHUNK_BYTES or CHUNK_FILES; the kept bytes and
    first-pass crashes travel with their file (and leave the parent's input)."""
    files: list[tuple[int, str, bytes | OSError | None, str | None]] = []
    size = 0
    for position, path in enumerate(lint_input.paths):
        kept = lint_input.read_once.pop(position, None)
        failed = lint_input.failed.pop(position, None)
        files.append((position, path, kept, failed))
        with suppress(OSError):
            size += len(kept) if isinstance(kept, bytes) else os.stat(path).st_size
        if size >= CHUNK_BYTES or len(files) >= CHUNK_FILES:
            yield _Task(files)
            files, size = [], 0
    if files:
        yield _Task(files)


def linted_files(
    lint_input: run.LintInput,
    config: Config,
    result: run.LintResult,
    jobs: int,
    method: str | None = None,
) -> Iterator[run._FileFindings]:
    """Each plain file's findings, in input order, linted by ``jobs`` worker processes; the
    counts, notices and problems go to ``result`` in the same order as in one process."""
    pool = _started(jobs, config, lint_input.sources, method or _start_method(), result)
    if pool is None:  # no workers is no reason to lint nothing
        for position, path in enumerate(lint_input.paths):
            yield run._lint_file(position, path, lint_input, config, result)
        return
    window: deque[tuple[_Task, Future]] = deque()
    tasks = _tasks(lint_input)
    retry: deque[_Task] = deque()  # in flight when a worker died: submitted again, in order
    finished = False
    try:
        while True:
            while len(window) < _WINDOW_PER_JOB * jobs:
                task = retry.popleft() if retry else next(tasks, None)
                if task is None:
                    break
                window.append((task, pool.submit(task)))
            if not window:
                break
            task, future = window.popleft()
            try:
                files = future.result()
            except Exception:  # noqa: BLE001  a dead worker (BrokenProcessPool) or a chunk
                # that failed outside the per-file guards: find the file, keep the others
                retry.extendleft(reversed([waiting for waiting, _ in window]))
                window.clear()
                pool.replace()
                files = [_alone(pool, one, position, path) for one, position, path in _split(task)]
            for done, part in files:
                _merge(result, part)
                yield done
        finished = True
    finally:
        if finished:
            pool.close()
        else:  # Ctrl-C, or the consumer stopped (a closed pipe)
            pool.stop()


def _started(
    jobs: int, config: Config, sources: InputIndex, method: str, result: run.LintResult
) -> _Pool | None:
    """A pool whose workers have started, or None (with a notice) when they cannot (fork's
    EAGAIN, an unknown start method). Stopped if interrupted while starting."""
    pool = None
    try:
        pool = _Pool(jobs, config, sources, method)
        pool.submit(_Task([])).result()
        return pool
    except Exception as exc:  # noqa: BLE001
        result.notices.append(
            f"could not start worker processes ({type(exc).__name__}): linted in one process"
        )
        if pool is not None:
            pool.stop()
        return None
    except BaseException:  # Ctrl-C while the workers start
        if pool is not None:
            pool.stop()
        raise


def _split(task: _Task) -> Iterator[tuple[_Task, int, str]]:
    for file in task.files:
        yield _Task([file]), file[0], file[1]


def _alone(
    pool: _Pool, task: _Task, position: int, path: str
) -> tuple[run._FileFindings, run.LintResult]:
    """One file linted alone in a worker; if that fails too, an internal error for it."""
    try:
        return pool.submit(task).result()[0]
    except Exception as exc:  # noqa: BLE001  the worker died on this very file
        pool.replace()
        name = run._name(path)
        done, result = run._FileFindings(name), run.LintResult()
        result.files = 1
        how = "its worker process died" if isinstance(exc, BrokenProcessPool) else run._bug(exc)
        what = f"linting it in a worker process: {how}"
        run._internal_error(done, result, name, what)
        return done, result
