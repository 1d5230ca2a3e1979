"""A short, count-bounded run of the lint fuzz target (tests/fuzz/fuzz_lint.py) in the test
suite: every seed, then a fixed number of random mutations from a fixed RNG seed, so the
run is the same on every machine and its length does not depend on the machine's speed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_lint  # noqa: E402

MUTATIONS = 400


@pytest.fixture(scope="module")
def target() -> fuzz_lint.Target:
    return fuzz_lint.Target()


def test_every_seed_lints_cleanly(target: fuzz_lint.Target):
    seeds = fuzz_lint.load_seeds([])
    assert len(seeds) >= 9
    for seed in seeds:
        target(seed)


@pytest.mark.parametrize("rng_seed", [1, 2])
def test_random_mutations_find_nothing(target: fuzz_lint.Target, rng_seed: int):
    seeds = fuzz_lint.load_seeds([])
    reports: list[str] = []
    result = fuzz_lint.fuzz_random(
        target, seeds, runs=MUTATIONS, rng_seed=rng_seed, save=False, report=reports.append
    )
    assert result["execs"] == MUTATIONS
    assert result["failures"] == {}, reports


def test_the_target_reports_a_crash_of_the_run(target: fuzz_lint.Target, monkeypatch):
    """The target must fail when lint hides a bug behind its safety net (a fault injected
    with monkeypatch, named so): otherwise the fuzzer could find nothing."""
    import oomguard.linter.run as run

    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(run, "check_object", broken)
    with pytest.raises(AssertionError, match="failed while checking the object"):
        target(fuzz_lint.COMPANION.encode())
