"""The CPU cost of the rule pass alone (``check_object``), per object, without YAML reading.

Loads the input once the way ``oomguard lint`` does (its first pass for the ConfigMaps,
Secrets, LimitRanges and VPAs; then each file's objects), then runs ``check_object`` over
every object ``--reps`` times and prints CPU µs per object (``time.process_time``). With
``--webhook`` the object is the load test's review object (``bench/webhook_load.py``'s
3-container Deployment), checked as ``admission.validate`` checks it.

    python bench/rule_pass.py /work/shared/corpus/real --reps 5
    python bench/rule_pass.py --webhook --reps 3000
    python bench/rule_pass.py --webhook --cprofile 30      # top functions by own time

For instruction counts (this VM has no perf counters), run the same command under
``valgrind --tool=cachegrind`` twice, with ``--reps 0`` and ``--reps N``: the difference over
N x objects is the rule pass's instructions per object, free of start-up and loading.
Nothing is cached between repetitions: each ``check_object`` builds its views afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def corpus_jobs(paths: list[str], config):
    """(object, prefix, check keyword arguments) for every object of the input."""
    from oomguard.linter import run
    from oomguard.linter.reading import load, read

    lint_input = run.prepare(paths, config)
    sources = lint_input.sources
    keywords = {
        "lookup": sources.lookup,
        "limit_ranges": sources.limit_ranges_for,
        "vpas": sources.vpa_for,
    }
    jobs = []
    for path in lint_input.paths:
        try:
            loaded = load(read(path), path)
        except Exception:  # noqa: BLE001, S112  what lint says about it is not timed here
            continue
        done = run._FileFindings(path)
        for _document, prefix, obj in run._objects(loaded, path, done):
            jobs.append((obj, prefix, keywords))
    return jobs


def webhook_jobs(config):
    from oomguard.rules import admission
    from oomguard.webhook import review
    from webhook_load import deployment_review

    body = deployment_review("00000000-0000-0000-0000-000000000001")
    request = review.parse_review(body, "application/json", "allow").request
    mode = admission.admission_mode(request, config)
    keywords = {
        "lookup": request.lookup,
        "unsuppressible": admission._unsuppressible(config, mode),
        "limit_ranges": request.limit_ranges,
        "vpas": request.vpas,
    }
    return [(request.obj, (), keywords)]


def run_pass(jobs, config) -> int:
    from oomguard.rules.engine import check_object

    findings = 0
    for obj, prefix, keywords in jobs:
        findings += len(check_object(obj, config, prefix=prefix, **keywords).findings)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["/work/shared/corpus/real"])
    parser.add_argument("--webhook", action="store_true", help="the load test's review object")
    parser.add_argument("--reps", type=int, default=5, help="passes over the objects")
    parser.add_argument("--cprofile", type=int, default=0, help="top N functions (0: off)")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)

    import gc

    from oomguard.rules.config import DEFAULT_CONFIG

    config = DEFAULT_CONFIG
    jobs = webhook_jobs(config) if args.webhook else corpus_jobs(args.paths, config)
    gc.set_threshold(100_000, 10, 10)  # as `oomguard lint` runs (linter/run.py)
    findings = run_pass(jobs, config) if args.reps else 0  # warm: first-call set-ups
    started = time.process_time()
    for _ in range(max(args.reps - 1, 0)):
        run_pass(jobs, config)
    spent = time.process_time() - started
    per_object = spent * 1e6 / max(len(jobs) * (args.reps - 1), 1)
    result = {
        "objects": len(jobs),
        "findings_per_pass": findings,
        "reps": args.reps,
        "cpu_us_per_object": round(per_object, 2),
        "load": os.getloadavg(),
    }
    print(json.dumps(result) if args.json else result)
    if args.cprofile:
        from profiling import print_profile

        print_profile(lambda: run_pass(jobs, config), max(args.reps, 1), args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
