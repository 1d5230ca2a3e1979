"""A cProfile table for the bench scripts that profile one call (rule_pass.py,
webhook_profile.py)."""

from __future__ import annotations

import os


def print_profile(call, repetitions: int, top: int) -> None:
    """cProfile of ``repetitions`` calls of ``call``: the ``top`` functions, sorted by
    ``$SORT`` (tottime unless set)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repetitions):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(top)
