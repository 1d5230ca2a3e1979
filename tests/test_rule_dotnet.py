""".NET rules: GCHeapHardLimit / GCHeapHardLimitPercent read as hexadecimal env values."""

from __future__ import annotations

from fractions import Fraction

import pytest
from helpers import (
    apply_fix,
    config,
    container_view,
    dump,
    findings,
    none_of,
    one,
    pod,
    workload_object,
)
from oomguard.rules.runtimes.dotnet import (
    dotnet_settings,
    effective_dotnet_heap,
    format_dotnet_hex,
    parse_dotnet_hex,
)

EXCEEDS = "dotnet-heap-exceeds-limit"
HEADROOM = "dotnet-heap-headroom-low"
IGNORED = "dotnet-heap-percent-ignored"
INVALID = "runtime-flag-invalid"
UNRESOLVED = "runtime-flag-unresolved"
DOTNET_RULES = (EXCEEDS, HEADROOM, IGNORED, INVALID, UNRESOLVED)
GI = 1024**3


def dotnet(*env: tuple[str, str], limit: str = "1Gi") -> str:
    entries = ", ".join(f'{{name: {name}, value: "{value}"}}' for name, value in env)
    limits = f"{{limits: {{memory: {limit}}}}}" if limit else "{}"
    return pod(
        f"{{name: api, image: mcr.microsoft.com/dotnet/aspnet:8.0, env: [{entries}], "
        f"resources: {limits}}}"
    )


def percent(value: str, **kwargs) -> str:
    return dotnet(("DOTNET_GCHeapHardLimitPercent", value), **kwargs)


def hard(value: str, **kwargs) -> str:
    return dotnet(("DOTNET_GCHeapHardLimit", value), **kwargs)


def rules(text: str) -> list[str]:
    return [f.rule for f in findings(text) if f.rule in DOTNET_RULES]


@pytest.mark.parametrize(
    ("text", "number"),
    [("0x1E", 30), ("1E", 30), ("1e", 30), ("0X1e", 30), ("4B", 75), ("75", 0x75),
     ("209715200", 0x209715200), ("0x40000000", GI), (" 0x10 ", 16)],
)  # fmt: skip
def test_parse_dotnet_hex(text, number):
    assert parse_dotnet_hex(text) == number


@pytest.mark.parametrize("text", ["", "0x", "zz", "1.5", "-1", "0x1G", "12345678901234567"])
def test_parse_dotnet_hex_refuses(text):
    with pytest.raises(ValueError):
        parse_dotnet_hex(text)


def test_format_dotnet_hex():
    # always with 0x, even when the old value had none (issue 11, section 3)
    assert format_dotnet_hex(75) == "0x4B"
    assert format_dotnet_hex(0x30000000) == "0x30000000"


def test_percent_heap_is_exact_for_a_whole_byte_limit():
    """0x21 = 33 % of 1Gi: the runtime's GCHeap::Initialize (gc.cpp) takes that share of the
    memory limit; oomguard keeps it exact, 354334801.92 bytes, as before byte counts became
    ints. Limit and percentage are both ints here: int / int would give a float."""
    view = container_view(percent("0x21"))
    heap, setting = effective_dotnet_heap(dotnet_settings(view), view.limit.usable)
    assert type(view.limit.usable) is int
    assert heap == Fraction(GI * 33, 100)
    assert setting.number == 33


@pytest.mark.parametrize("value", ["0x1E", "1E", "0x4B", "4B", "0x1", "0x63"])
def test_honoured_percentages_at_or_under_the_ratio_are_fine(value):
    assert rules(percent(value)) == ([HEADROOM] if value == "0x63" else [])


def test_percent_75_is_hex_117_and_ignored():
    text = percent("75")
    finding = one(text, IGNORED)
    assert (finding.severity, finding.container) == ("error", "api")
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")
    assert finding.message == (
        'DOTNET_GCHeapHardLimitPercent=75 in container "api" is read as hexadecimal 0x75 = 117%, '
        "outside 0 < p < 100, so the runtime ignores it; for 75% write 0x4B"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [{"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "0x4B"}]
    assert rules(dump(patched)) == []  # 0x4B = 75%: exactly the ratio


@pytest.mark.parametrize(
    ("value", "fix"),
    [("64", "0x40"),  # 0x64 = 100: outside, intent 64%
     ("0", None), ("0x0", None), ("0x64", None), ("FF", None), ("100", None)],
)  # fmt: skip
def test_percent_outside_the_range(value, fix):
    finding = one(percent(value), IGNORED)
    assert (finding.fix[0]["value"] if finding.fix else None) == fix


def test_percent_ignored_is_not_reported_when_a_hard_limit_decides():
    text = dotnet(("DOTNET_GCHeapHardLimit", "0x20000000"), ("DOTNET_GCHeapHardLimitPercent", "75"))
    assert rules(text) == []


def test_percent_headroom_message_and_fix():
    text = percent("0x5A")
    finding = one(text, HEADROOM)
    assert finding.severity == "warning"
    assert finding.message == (
        "DOTNET_GCHeapHardLimitPercent=0x5A (90% = 921.6Mi) is 90% of the 1Gi memory limit of "
        'container "api", above the 75% that leaves room for off-heap memory; use at most 768Mi'
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [{"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "0x4B"}]
    assert rules(dump(patched)) == []


def test_hard_limit_decimal_looking_value_is_hex():
    text = hard("209715200")
    finding = one(text, EXCEEDS)
    assert (finding.severity, finding.container) == ("error", "api")
    assert finding.message == (
        "DOTNET_GCHeapHardLimit=209715200 (hexadecimal: 8.1Gi) is 814.8% of the 1Gi memory limit "
        'of container "api": heap plus off-heap memory will pass the limit and the kernel will '
        "kill the container (exit 137); use at most 75% (768Mi)"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    # 0x30000000 = 768 MiB, written with 0x: "30000000" would read as a decimal to people,
    # the very mistake this finding is about (the runtime reads both as hex: clrconfignative
    # parses env values with the 0x prefix optional)
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "0x30000000"}
    ]
    assert rules(dump(patched)) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0x30000000", []),  # exactly 75% of 1Gi
     ("0x30000001", [HEADROOM]),
     ("0x3FFFFFFF", [HEADROOM]),
     ("0x40000000", [EXCEEDS]),
     ("C800000", []),  # 200 MiB
     ("zz", [INVALID])],
)  # fmt: skip
def test_hard_limit_boundaries(value, expected):
    assert rules(hard(value)) == expected


def test_hard_limit_wins_over_percent():
    text = dotnet(
        ("DOTNET_GCHeapHardLimitPercent", "0x5A"), ("DOTNET_GCHeapHardLimit", "0x20000000")
    )
    assert rules(text) == []  # the 90% is ignored; 512Mi is 50%
    text = dotnet(
        ("DOTNET_GCHeapHardLimitPercent", "0x1E"), ("DOTNET_GCHeapHardLimit", "0x40000000")
    )
    assert rules(text) == [EXCEEDS]


def test_an_invalid_hard_limit_lets_the_percent_apply():
    text = dotnet(("DOTNET_GCHeapHardLimit", "zz"), ("DOTNET_GCHeapHardLimitPercent", "0x5A"))
    assert sorted(rules(text)) == [HEADROOM, INVALID]


def test_complus_prefix_and_dotnet_precedence():
    assert rules(dotnet(("COMPlus_GCHeapHardLimit", "0x40000000"))) == [EXCEEDS]
    assert rules(dotnet(("COMPlus_GCHeapHardLimitPercent", "75"))) == [IGNORED]
    # DOTNET_ wins over COMPlus_, whatever the order of the entries
    for env in (
        (("COMPlus_GCHeapHardLimit", "0x40000000"), ("DOTNET_GCHeapHardLimit", "0x20000000")),
        (("DOTNET_GCHeapHardLimit", "0x20000000"), ("COMPlus_GCHeapHardLimit", "0x40000000")),
    ):
        assert rules(dotnet(*env)) == []
        settings = dotnet_settings(container_view(dotnet(*env)))
        assert settings.hard_limit.env.name == "DOTNET_GCHeapHardLimit"
    finding = one(dotnet(("COMPlus_GCHeapHardLimitPercent", "75")), IGNORED)
    assert finding.message.startswith("COMPlus_GCHeapHardLimitPercent=75 in container")


def test_no_setting_is_the_runtime_default_and_no_finding():
    assert rules(dotnet(("ASPNETCORE_URLS", "http://+:8080"))) == []
    none_of(dotnet(("ASPNETCORE_URLS", "http://+:8080")), "runtime-heap-unset")


def test_no_limit_no_heap_comparison():
    assert rules(hard("0x40000000", limit="")) == []
    assert rules(percent("75", limit="")) == [IGNORED]  # wrong whatever the limit


def test_ratio_is_configurable():
    cfg = config(thresholds={"dotnet_heap_ratio": 0.5})
    finding = one(percent("0x3C"), HEADROOM, cfg)
    assert finding.fix[0]["value"] == "0x32"


def test_unresolved_percent_from_a_secret():
    text = pod(
        "{name: api, image: x, env: [{name: DOTNET_GCHeapHardLimitPercent, valueFrom: "
        "{secretKeyRef: {name: gc, key: pct}}}], resources: {limits: {memory: 1Gi}}}"
    )
    finding = one(text, UNRESOLVED)
    assert finding.message == (
        'env DOTNET_GCHeapHardLimitPercent from Secret "gc" key "pct" in container "api" cannot '
        'be checked: Secret "gc" is not in the input'
    )


def test_percent_from_a_secret_in_the_input_base64():
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: gc}\n"
        "data: {pct: NzU=}\n---\n"  # base64 of "75"
    )
    text = secret + pod(
        "{name: api, image: x, env: [{name: DOTNET_GCHeapHardLimitPercent, valueFrom: "
        "{secretKeyRef: {name: gc, key: pct}}}], resources: {limits: {memory: 1Gi}}}"
    )
    finding = one(text, IGNORED)
    assert "is read as hexadecimal 0x75 = 117%" in finding.message
