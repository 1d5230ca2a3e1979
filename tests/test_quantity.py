"""The Kubernetes quantity parser: exact values, the whole grammar, and what it refuses.

Generated inputs from the grammar are checked against the kubernetes client's own
``parse_quantity`` (Decimal) for equality as exact fractions.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from kubernetes.utils import parse_quantity as k8s_parse_quantity
from oomguard.rules.quantity import QuantityError, is_millibytes, parse_quantity

GI = 1024**3


def k8s_value(text: object) -> Fraction:
    """The client's value, computed with enough Decimal digits not to round (its default
    28-digit context rounds e.g. ``1000000.0000001Pi``)."""
    with localcontext() as context:
        context.prec = 200
        value = k8s_parse_quantity(text)
    assert isinstance(value, Decimal)
    return Fraction(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Gi", Fraction(GI)),
        ("512Mi", Fraction(512 * 1024**2)),
        ("1Ki", Fraction(1024)),
        ("1Ti", Fraction(1024**4)),
        ("1Pi", Fraction(1024**5)),
        ("1Ei", Fraction(1024**6)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),  # E alone is exa, not an exponent
        ("512m", Fraction(512, 1000)),  # millibytes
        ("1u", Fraction(1, 10**6)),
        ("1n", Fraction(1, 10**9)),
        ("129e6", Fraction(129_000_000)),
        ("1.5E3", Fraction(1500)),
        ("1e-3", Fraction(1, 1000)),
        ("1e+3", Fraction(1000)),
        ("1.5Gi", Fraction(3 * GI, 2)),
        ("0.1", Fraction(1, 10)),  # exact, not the float 0.1
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("1.G", Fraction(10**9)),  # Kubernetes accepts an empty fraction
        ("+1Ki", Fraction(1024)),
        ("-1Ki", Fraction(-1024)),
        ("1073741824", Fraction(GI)),
        ("0", Fraction(0)),
        ("007Mi", Fraction(7 * 1024**2)),
    ],
)
def test_quantity_values(text, expected):
    assert parse_quantity(text) == expected


def test_yaml_numbers_are_quantities():
    assert parse_quantity(1073741824) == GI  # `memory: 1073741824` loads as an int
    assert parse_quantity(1.5) == Fraction(3, 2)
    assert parse_quantity(0.1) == Fraction(1, 10)  # the written decimal, not the binary float


@pytest.mark.parametrize(
    "text",
    ["1GB", "1.5gi", "Ki", "1e", "--1", "", "1K", "1 Gi", "1gi", "1ki", " ", "\x1f1Gi",
     "0x10", "1e3Ki", "Infinity", "NaN", "1_000", "١", "e3", ".", "+", "1.5.1"],
)  # fmt: skip
def test_quantity_rejects(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize("text", [" 1Gi", "1Gi ", "1Gi\n", "\t1Gi\r\n", "\u00a01Gi\u3000"])
def test_surrounding_whitespace_is_trimmed_as_the_api_server_does(text):
    # apimachinery resource/quantity.go Quantity.UnmarshalJSON:
    # ParseQuantity(strings.TrimSpace(string(value))); TrimSpace trims Go's unicode.IsSpace,
    # which does not include \x1c-\x1f (Python's str.strip would)
    assert parse_quantity(text) == GI
    assert is_millibytes(text.replace("1Gi", "512m")) is True


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}, float("nan"), float("inf")])
def test_non_quantity_types_are_rejected(value):
    with pytest.raises(QuantityError):
        parse_quantity(value)


def test_hostile_lengths_and_exponents_are_refused_quickly():
    with pytest.raises(QuantityError, match="too long"):
        parse_quantity("9" * 500)
    with pytest.raises(QuantityError, match="out of range"):
        parse_quantity("1e999999999")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512m", True), ("1.5m", True), ("5.m", True), ("512Mi", False), ("m", False),
     ("512M", False), (512, False), ("1e3", False)],
)  # fmt: skip
def test_is_millibytes(text, expected):
    assert is_millibytes(text) is expected


# The quantity grammar of k8s.io/apimachinery resource.Quantity, as a generator.
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=8)
NUMBER = st.one_of(
    DIGITS,
    st.builds(lambda a, b: f"{a}.{b}", DIGITS, DIGITS),
    st.builds(lambda a: f"{a}.", DIGITS),
    st.builds(lambda b: f".{b}", DIGITS),
)
SIGN = st.sampled_from(["", "+", "-"])
SUFFIX = st.one_of(
    st.sampled_from(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]),
    st.sampled_from(["n", "u", "m", "", "k", "M", "G", "T", "P", "E"]),
    st.builds(
        lambda e, sign, n: f"{e}{sign}{n}",
        st.sampled_from(["e", "E"]),
        SIGN,
        st.integers(min_value=0, max_value=30).map(str),
    ),
)
QUANTITY = st.builds(lambda s, n, x: f"{s}{n}{x}", SIGN, NUMBER, SUFFIX)


@settings(max_examples=600, deadline=None)
@given(QUANTITY)
def test_parser_agrees_with_the_kubernetes_client(text):
    assert parse_quantity(text) == k8s_value(text), text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**70))
def test_integer_limits_agree_with_the_kubernetes_client(number):
    assert parse_quantity(number) == k8s_value(number)
    assert parse_quantity(str(number)) == number


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.+-eEiKMGTPkmnu xXb", max_size=10))
@example("0E ")  # found by CI's random run: trailing space, trimmed as the API server does
def test_anything_accepted_is_accepted_by_the_kubernetes_client_too(text):
    """Random strings over the grammar's alphabet: whatever we accept, Kubernetes' client
    accepts with the same value (the client is looser, so not the other way round)."""
    try:
        ours = parse_quantity(text)
    except QuantityError:
        return
    # The API server trims surrounding space before parsing (Quantity.UnmarshalJSON calls
    # ParseQuantity(strings.TrimSpace(...)), apimachinery pkg/api/resource/quantity.go); the
    # Python client does not, so it is given the trimmed text: "0E " is stored as 0E (0 exa).
    assert ours == k8s_value(text.strip(" ")), text
