"""Kubernetes ``resource.Quantity`` parsing in exact arithmetic.

The grammar is the one in ``k8s.io/apimachinery/pkg/api/resource/quantity.go``::

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Surrounding whitespace is accepted, as the API server does: ``Quantity.UnmarshalJSON`` calls
``ParseQuantity(strings.TrimSpace(...))`` (same file), so ``"1Gi "`` is stored as ``1Gi``.

Values are exact byte counts: an ``int`` when whole (most), else a :class:`fractions.Fraction`,
so ``512m`` is exactly 64/125 bytes and comparisons never suffer float rounding. Whole counts
are ints because Fraction's ``numerator``/``denominator`` are pure-Python properties, read by
every comparison; code that divides byte counts must write ``Fraction(a, b)`` (``a / b`` on
two ints is a float). Runtime heap flags have their own grammars and are
parsed in :mod:`oomguard.rules.runtimes`, never here.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from oomguard.rules.text import type_name

_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>[KMGTPE]i)|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
# n and u are missing from the grammar comment in quantity.go but accepted by its parser.
_DECIMAL = {"n": -3, "u": -2, "m": -1, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
# Quantities this large are not memory sizes; bounding them keeps hostile input cheap.
_MAX_TEXT = 128
_MAX_EXPONENT = 64
# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip also takes \x1c-\x1f).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class QuantityError(ValueError):
    """A value that Kubernetes would refuse as a resource quantity."""


def parse_quantity(value: object) -> Fraction | int:
    """Return the exact number of bytes a Kubernetes quantity denotes.

    Accepts strings in the quantity grammar and JSON numbers (which Kubernetes also accepts).
    Raises :class:`QuantityError` for anything else.
    """
    if type(value) is str:  # the common case, first
        return _parse_text(value.strip(GO_SPACE))
    if isinstance(value, bool):
        raise QuantityError(f"{str(value).lower()} is not a quantity")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise QuantityError(f"{value} is not a quantity")
        if abs(value) >= 1e64:
            raise QuantityError(f"{value} is out of range")
        return _whole(Fraction(repr(value)))
    if not isinstance(value, str):
        raise QuantityError(f"a quantity must be a string or a number, not {type_name(value)}")
    return _parse_text(value.strip(GO_SPACE))


@lru_cache(maxsize=4096)  # manifests repeat the same few quantities; Fractions are immutable
def _parse_text(value: str) -> Fraction | int:
    if len(value) > _MAX_TEXT:
        raise QuantityError(f"{value[:20]}… is too long to be a quantity")
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise QuantityError(f"{value!r} is not a valid quantity")
    number = Fraction(match["number"])
    if match["sign"] == "-":
        number = -number
    if match["binary"]:
        return _whole(number * 1024 ** _BINARY[match["binary"]])
    if match["decimal"]:
        return _whole(number * Fraction(1000) ** _DECIMAL[match["decimal"]])
    if match["exponent"]:
        exponent = int(match["exponent"])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{value!r} is out of range")
        return _whole(number * Fraction(10) ** exponent)
    return _whole(number)


def _whole(value: Fraction) -> Fraction | int:
    """A whole byte count as an int (see the module's docstring), else the Fraction."""
    return value.numerator if value.denominator == 1 else value


# Exact comparisons of byte counts (Fractions or ints) on their integer terms. Fraction's own
# operators are pure Python and check numbers.Rational on every call (~1 µs for a comparison,
# ~1.5 µs for a product or quotient); these run per container for most rules. Fractions are
# kept normalised (lowest terms, positive denominator), so the terms decide both.


def less(a: Fraction | int, b: Fraction | int) -> bool:
    """``a < b``, exactly."""
    return a.numerator * b.denominator < b.numerator * a.denominator


def same(a: Fraction | int | None, b: Fraction | int | None) -> bool:
    """``a == b`` for byte counts or None, exactly."""
    if a is b:  # both None, or one cached value read twice (a request written as its limit)
        return True
    if a is None or b is None:
        return False
    return a.numerator == b.numerator and a.denominator == b.denominator


def above_ratio(part: Fraction | int, whole: Fraction | int, ratio: Fraction | int) -> bool:
    """``part > ratio × whole``, exactly (``part / whole > ratio`` when ``whole`` is positive)."""
    return (
        part.numerator * whole.denominator * ratio.denominator
        > ratio.numerator * whole.numerator * part.denominator
    )


def is_millibytes(value: object) -> bool:
    """True for a quantity string with the ``m`` (milli) suffix, e.g. ``512m`` = 0.512 bytes."""
    if not isinstance(value, str):
        return False
    if value[-1:] != "m":
        if not value or value[-1] not in GO_SPACE:
            return False
        # only the end matters: value[-2] must be a digit or ".", so never leading space
        value = value.rstrip(GO_SPACE)
    return len(value) > 1 and value[-1] == "m" and value[-2] in "0123456789."
