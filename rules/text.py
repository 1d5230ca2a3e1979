"""Formatting shared by every rule message: sizes, percentages, YAML type names, and
:func:`printable` for any text that reaches a person (terminal, denial message)."""

from __future__ import annotations

import re
from fractions import Fraction

MI = 1024**2


def format_bytes(value: Fraction | int) -> str:
    """Render a byte count the way people write limits: ``2Gi``, ``1536Mi``, ``1.5Mi``, ``100M``."""
    if type(value) is not int:  # ints (most sizes) skip Fraction's pure-Python construction
        value = Fraction(value)
        if value.denominator != 1:
            return f"{float(value):.3g} bytes"
        value = value.numerator
    n = value
    if n:
        for suffix, unit in _BINARY_UNITS:
            if n % unit == 0:
                return f"{n // unit}{suffix}"
        for suffix, unit in _DECIMAL_UNITS:
            if n % unit == 0:
                return f"{n // unit}{suffix}"
    if n >= 1024 * MI:
        return f"{n / (1024 * MI):.1f}Gi"
    if n >= MI:
        return f"{n / MI:.1f}Mi"
    return f"{n} bytes" if n != 1 else "1 byte"


_BINARY_UNITS = tuple(
    (suffix, 1024**power)
    for suffix, power in (("Ei", 6), ("Pi", 5), ("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1))
)
_DECIMAL_UNITS = (("G", 1000**3), ("M", 1000**2), ("k", 1000))


def format_percent(part: Fraction | int, whole: Fraction | int) -> str:
    """``part`` as a percentage of ``whole``: ``75%``, ``87.5%``, ``133.3%``."""
    # Exact, as Fraction(part) / Fraction(whole) * 100, but on the integer terms: Fraction's
    # operators are pure Python and this runs for most findings' messages.
    part_num, part_den = ratio_terms(part)
    whole_num, whole_den = ratio_terms(whole)
    num, den = part_num * whole_den * 100, part_den * whole_num
    if den == 0:
        raise ZeroDivisionError(f"Fraction({num}, 0)")
    if den < 0:
        num, den = -num, -den
    if num % den == 0:
        return f"{num // den}%"
    # One decimal, or as many as it takes not to look whole: 75.00006% must not read as 75%
    # next to a 75% threshold it passes. (int / int is correctly rounded, as float(Fraction).)
    for decimals in range(1, 7):
        text = f"{num / den:.{decimals}f}".rstrip("0").rstrip(".")
        if "." in text:
            break
    return f"{text}%"


def ratio_terms(value: Fraction | int) -> tuple[int, int]:
    """(numerator, denominator) of a number (the denominator positive), read without building
    a Fraction when it is one already or an int."""
    if type(value) is int:
        return value, 1
    if type(value) is not Fraction:
        value = Fraction(value)
    return value.numerator, value.denominator


def type_name(value: object) -> str:
    """The YAML/JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


# C0 controls (ESC, CR, BS, LF, ...), DEL, C1 controls, the Unicode line and paragraph
# separators, and the bidi marks, embeddings, overrides and isolates: each can move the
# cursor, clear a screen or reorder what a reviewer reads.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(s: str) -> str:
    """``s`` safe to print on a terminal or in a one-line message: every control or
    reordering character becomes a visible escape (``\\x1b``, ``\\u202e``)."""
    return _UNPRINTABLE.sub(_escape, s)
