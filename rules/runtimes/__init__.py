"""Language runtimes whose heap oomguard judges against the memory limit.

Each module (``jvm``, ``go``, ``node``, ``dotnet``) reads its runtime's settings and defines
one :class:`~oomguard.rules.runtimes.base.Runtime`; ``RUNTIMES`` lists them in the order their
findings appear (JVM, Go, Node.js, .NET). Adding a runtime: its module here (parser plus
``Runtime``), listed in ``RUNTIMES``, and its ``*-exceeds-limit``/``*-headroom-low`` rule
modules (a few lines each over ``rules/heap.py``); the generic rules pick it up from here.
``tests/test_runtimes.py`` fails when one of these lists drifts.

``RUNTIMES`` is built on first use: ``rules/fixes.py`` imports ``runtimes.argv``, which runs
this file first, and the runtime modules import ``rules/fixes.py`` back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oomguard.rules.runtimes.base import Runtime

    RUNTIMES: tuple[Runtime, ...]


def __getattr__(name: str) -> object:
    if name != "RUNTIMES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from oomguard.rules.runtimes.dotnet import DOTNET
    from oomguard.rules.runtimes.go import GO
    from oomguard.rules.runtimes.jvm import JVM
    from oomguard.rules.runtimes.node import NODE

    runtimes = (JVM, GO, NODE, DOTNET)
    globals()["RUNTIMES"] = runtimes
    return runtimes
