"""PyYAML for the lint path, imported without the one line that costs a tenth of a cold start.

``import yaml`` runs ``yaml/reader.py``, whose class body compiles ``Reader.NON_PRINTABLE``, a
character class with the range ``\\xA0-\\uD7FF``: ``re`` fills its bitmap one code point at a
time, ~55 M instructions, 10 % of a whole ``oomguard lint FILE`` run (bench/RESULTS.md,
2026-12-01). Our loader reads with libyaml (``yaml._yaml.CParser``) and never runs that
pure-Python reader, but ``yaml/__init__`` imports it all the same. So ``re``'s cache is handed,
under that exact pattern, the same set of code points written as its complement, which
compiles in ~1 % of the time: every ``NON_PRINTABLE.search`` answers alike
(tests/test_pyyaml_import.py checks each of the 1,114,112 code points, and that a lint run
gets the seeded pattern, so a changed PyYAML pattern fails the test rather than going
unnoticed). When ``re`` has no such cache, or yaml is already imported, nothing is seeded and
PyYAML compiles its own pattern as usual.
"""

from __future__ import annotations

import re
import sys

# yaml/reader.py's Reader.NON_PRINTABLE, character for character (PyYAML 5.1 to 6.x)
READER_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
# the code points that class leaves out: its complement within 0..0x10FFFF
NON_PRINTABLE = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"


def _seed_reader_pattern() -> None:
    cache = getattr(re, "_cache", None)  # re's compiled patterns by (type, pattern, flags)
    if "yaml" not in sys.modules and isinstance(cache, dict):
        cache[(str, READER_NON_PRINTABLE, 0)] = re.compile(NON_PRINTABLE)


_seed_reader_pattern()

import yaml  # noqa: E402  (after the seed, which is the point of this module)

__all__ = ["yaml"]
