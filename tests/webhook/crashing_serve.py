"""``oomguard serve`` with a fault injected on purpose, to test the failure mode: the fault is
injected before gunicorn forks, so every worker has it. Default: one rule is broken;
``OOMGUARD_TEST_FAULT=internal``: the policy itself fails (outside any rule)."""

import os
import sys

from oomguard.cli import main
from oomguard.rules import admission, memory_limit_too_low


def broken_check(*_args, **_kwargs):
    raise RuntimeError("injected fault")


if os.environ.get("OOMGUARD_TEST_FAULT") == "internal":
    admission.check_object = broken_check
else:
    memory_limit_too_low.check = broken_check
sys.exit(main(sys.argv[1:]))
