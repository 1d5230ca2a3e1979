"""``oomguard serve`` with one rule broken on purpose, to test the failure mode: the fault is
injected before gunicorn forks, so every worker runs the broken rule."""

import sys

from oomguard.rules import memory_limit_too_low

from oomguard.cli import main


def broken_check(workload, config):
    raise RuntimeError("injected fault")


memory_limit_too_low.check = broken_check
sys.exit(main(sys.argv[1:]))
