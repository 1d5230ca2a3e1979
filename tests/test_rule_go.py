"""Go rules: GOMEMLIMIT against the limit, GOGC=off, the GOMEMLIMIT grammar."""

from __future__ import annotations

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
from oomguard.rules.runtimes.go import format_gomemlimit, go_settings, parse_gomemlimit

EXCEEDS = "go-memlimit-exceeds-limit"
HEADROOM = "go-memlimit-headroom-low"
GC_OFF = "go-gc-off-without-memlimit"
INVALID = "runtime-flag-invalid"
UNRESOLVED = "runtime-flag-unresolved"
UNSET = "runtime-heap-unset"
GO_RULES = (EXCEEDS, HEADROOM, GC_OFF, INVALID, UNRESOLVED)
GI = 1024**3
FIELD_REF = "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]"


def go(env: str, limit: str = "1Gi", image: str = "example/gateway:3") -> str:
    limits = f"resources: {{limits: {{memory: {limit}}}}}" if limit else "resources: {}"
    return pod(f"{{name: app, image: {image}, env: {env}, {limits}}}")


def memlimit(value: str, **kwargs) -> str:
    return go(f'[{{name: GOMEMLIMIT, value: "{value}"}}]', **kwargs)


def go_findings(text: str, cfg=None):
    found = findings(text) if cfg is None else findings(text, cfg=cfg)
    return [f.rule for f in found if f.rule in GO_RULES]


@pytest.mark.parametrize(
    ("text", "size"),
    [("1073741824", GI), ("900MiB", 900 * 1024**2), ("1GiB", GI), ("1024KiB", 1024**2),
     ("1TiB", 1024**4), ("512B", 512), ("0", 0), ("off", None), ("", None)],
)  # fmt: skip
def test_parse_gomemlimit(text, size):
    assert parse_gomemlimit(text) == size


@pytest.mark.parametrize(
    "text", ["1G", "512Mi", "1GB", "1.5GiB", "1gib", "1 GiB", "-1", "1e9", "OFF", "1KB", "9" * 30]
)
def test_parse_gomemlimit_refuses(text):
    with pytest.raises(ValueError):
        parse_gomemlimit(text)


def test_format_gomemlimit():
    assert format_gomemlimit(921 * 1024**2, None) == "921MiB"
    assert format_gomemlimit(2 * GI, "3GiB") == "2GiB"
    assert format_gomemlimit(1843 * 1024**2, "3GiB") == "1843MiB"


def test_exceeds_full_message_and_fix():
    text = memlimit("1GiB")
    finding = one(text, EXCEEDS)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")
    assert finding.message == (
        'GOMEMLIMIT=1GiB is 100% of the 1Gi memory limit of container "app": heap plus off-heap '
        "memory will pass the limit and the kernel will kill the container (exit 137); use at "
        "most 90% (921Mi)"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [{"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "921MiB"}]
    assert go_findings(dump(patched)) == []


def test_headroom_full_message():
    finding = one(memlimit("1000MiB"), HEADROOM)
    assert finding.severity == "warning"
    assert finding.message == (
        'GOMEMLIMIT=1000MiB is 97.7% of the 1Gi memory limit of container "app", above the 90% '
        "that leaves room for off-heap memory; use at most 921Mi"
    )
    assert finding.fix[0]["value"] == "921MiB"


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("900MiB", "1000Mi", []),  # exactly 0.9 × limit
        ("943718400", "1000Mi", []),  # the same in bytes
        ("943718401", "1000Mi", [HEADROOM]),
        ("1073741824", "1Gi", [EXCEEDS]),
        ("1GiB", "1Gi", [EXCEEDS]),
        ("2GiB", "1Gi", [EXCEEDS]),
        ("1G", "1Gi", [INVALID]),
        ("512Mi", "1Gi", [INVALID]),
        ("1.5GiB", "2Gi", [INVALID]),
        ("off", "1Gi", []),
        ("", "1Gi", []),
        ("1GiB", "1G", [EXCEEDS]),  # 2^30 > 10^9
        ("900MiB", "1G", [HEADROOM]),  # 943718400 > 0.9 × 10^9
    ],
)
def test_grammar_and_boundaries(value, limit, expected):
    assert go_findings(memlimit(value, limit=limit)) == expected


def test_invalid_message():
    finding = one(memlimit("1G"), INVALID)
    assert finding.message == (
        'GOMEMLIMIT=1G is malformed (Go accepts e.g. 1073741824, 900MiB, 1GiB) in container "app"; '
        "the Go program aborts at start-up"
    )
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")


def test_later_env_entry_wins_and_env_wins_over_env_from():
    text = go('[{name: GOMEMLIMIT, value: "2GiB"}, {name: GOMEMLIMIT, value: "900MiB"}]')
    assert go_findings(text) == []
    text = go('[{name: GOMEMLIMIT, value: "900MiB"}, {name: GOMEMLIMIT, value: "2GiB"}]')
    assert one(text, EXCEEDS).path == ("spec", "containers", 0, "env", 1, "value")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: go}\ndata: {GOMEMLIMIT: 4GiB}\n---\n"
    text = cm + pod(
        "{name: app, image: x, envFrom: [{configMapRef: {name: go}}], "
        'env: [{name: GOMEMLIMIT, value: "900MiB"}], resources: {limits: {memory: 1Gi}}}'
    )
    assert go_findings(text) == []


def test_env_from_configmap_and_fix_overrides_it_with_an_env_entry():
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: go}\ndata: {GOMEMLIMIT: 4GiB}\n---\n"
    text = cm + pod(
        "{name: app, image: x, envFrom: [{configMapRef: {name: go}}], "
        "resources: {limits: {memory: 1Gi}}}"
    )
    finding = one(text, EXCEEDS)
    assert finding.message.startswith(
        'GOMEMLIMIT=4GiB (from ConfigMap "go") is 400% of the 1Gi memory limit'
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "add", "path": "/spec/containers/0/env",
         "value": [{"name": "GOMEMLIMIT", "value": "921MiB"}]},
    ]  # fmt: skip
    assert go_findings(cm + dump(patched)) == []


def test_env_from_prefix():
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: go}\ndata: {MEMLIMIT: 4GiB}\n---\n"
    text = cm + pod(
        "{name: app, image: x, envFrom: [{configMapRef: {name: go}, prefix: GO}], "
        "resources: {limits: {memory: 1Gi}}}"
    )
    assert go_findings(text) == [EXCEEDS]


def test_resource_field_ref_copies_the_limit():
    text = go("[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]")
    finding = one(text, EXCEEDS)
    assert finding.message.startswith(
        "GOMEMLIMIT=1073741824 (from limits.memory via resourceFieldRef) is 100% of the 1Gi"
    )
    # issue 11: the fix replaces the reference by a literal, and the finding says so
    assert finding.message.endswith(
        "use at most 90% (921Mi); the fix writes that value in place of the valueFrom "
        "reference, so it no longer follows its source"
    )
    assert finding.path == ("spec", "containers", 0, "env", 0)
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/env/0",
         "value": {"name": "GOMEMLIMIT", "value": "921MiB"}},
    ]  # fmt: skip
    assert go_findings(dump(patched)) == []


def test_resource_field_ref_divisor_gives_a_count_go_reads_as_bytes():
    """divisor 1Mi turns a 1Gi limit into "1024" (kubernetes pkg/api/v1/resource/helpers.go
    convertResourceMemoryToString: ceil(limit / divisor)); Go's readGOMEMLIMIT
    (src/runtime/mgcpacer.go) calls parseByteCount (src/runtime/string.go), which reads a
    number without a unit as bytes: a soft limit of 1024 bytes, so the GC runs all the
    time. Reported with the numbers; no fix (no divisor gives Go bytes)."""
    env = FIELD_REF.replace("}}}", ", divisor: 1Mi}}}")
    settings = go_settings(container_view(go(env)))
    assert settings.memlimit.value == "1024"
    assert settings.memlimit_bytes == 1024
    assert go_findings(go(env)) == [INVALID]
    finding = one(go(env), INVALID)
    assert (finding.container, finding.path) == ("app", ("spec", "containers", 0, "env", 0))
    assert finding.message == (
        "GOMEMLIMIT=1024 (from limits.memory via resourceFieldRef, divisor 1Mi) in container "
        '"app" counts in units of 1Mi (1024 × 1Mi = 1Gi), but Go reads a number without a unit '
        "as bytes: a soft limit of 1024 bytes keeps the garbage collector running; replace the "
        "resourceFieldRef with GOMEMLIMIT=921MiB (no divisor gives Go bytes)"
    )
    assert finding.fix == ()


@pytest.mark.parametrize("divisor", ["3Mi", "1024", "abc"])
def test_resource_field_ref_divisor_the_api_server_refuses_is_unresolved(divisor):
    # pkg/apis/core/validation validContainerResourceDivisorForMemory: 1, 1k…1E, 1Ki…1Ei only
    env = FIELD_REF.replace("}}}", f", divisor: {divisor}}}}}}}")
    finding = one(go(env), UNRESOLVED)
    assert "is not one the API server accepts for memory" in finding.message


def test_resource_field_ref_divisor_rounds_up():
    env = FIELD_REF.replace("}}}", ", divisor: 1Gi}}}")
    assert go_settings(container_view(go(env, limit="1536Mi"))).memlimit.value == "2"


def test_resource_field_ref_divisor_count_is_exact_for_large_limits():
    """convertResourceMemoryToString (kubernetes pkg/api/v1/resource/helpers.go) divides
    in integers: ceil(10^18 + 1 bytes / 1k) is 10^15 + 1. Byte counts are ints, and float
    division would round 10^15 + 0.001 to 10^15 before the ceiling."""
    env = FIELD_REF.replace("}}}", ", divisor: 1k}}}")
    view = container_view(go(env, limit="1000000000000000001"))
    assert go_settings(view).memlimit.value == "1000000000000001"


def test_resource_field_ref_of_another_container():
    text = pod(
        "{name: app, image: x, resources: {limits: {memory: 2Gi}}}",
        "{name: proxy, image: x, env: [{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: "
        "{resource: limits.memory, containerName: app}}}], resources: {limits: {memory: 1Gi}}}",
    )
    finding = one(text, EXCEEDS)
    assert finding.container == "proxy"
    assert finding.message.startswith("GOMEMLIMIT=2147483648 (from limits.memory via "
                                      "resourceFieldRef) is 200% of the 1Gi")  # fmt: skip


def test_resource_field_ref_without_a_limit_is_unresolved():
    """The istio pattern: the value becomes the node's allocatable memory."""
    text = go(
        "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]", limit=""
    )
    concerned = (*GO_RULES, "memory-limit-missing")
    assert sorted(f.rule for f in findings(text) if f.rule in concerned) == [
        "memory-limit-missing",
        UNRESOLVED,
    ]
    finding = one(text, UNRESOLVED)
    assert finding.severity == "info"
    assert finding.path == ("spec", "containers", 0, "env", 0)
    assert finding.message == (
        'env GOMEMLIMIT from limits.memory via resourceFieldRef in container "app" cannot be '
        "checked: limits.memory is not set, so it is the node's allocatable memory"
    )


def test_gc_off_without_memlimit():
    text = go('[{name: GOGC, value: "off"}]')
    finding = one(text, GC_OFF)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.path == ("spec", "containers", 0, "env", 0, "value")
    assert finding.message == (
        'GOGC=off in container "app" without GOMEMLIMIT turns garbage collection off for good: '
        "the heap grows until the container is killed at its 1Gi limit; set GOMEMLIMIT=921MiB"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "add", "path": "/spec/containers/0/env/-",
         "value": {"name": "GOMEMLIMIT", "value": "921MiB"}},
    ]  # fmt: skip
    assert go_findings(dump(patched)) == []


def test_gc_off_without_a_limit_has_no_fix():
    finding = one(go('[{name: GOGC, value: "off"}]', limit=""), GC_OFF)
    assert finding.fix == ()
    assert finding.message.endswith("the heap grows until the container is killed")


@pytest.mark.parametrize(
    "env",
    ['[{name: GOGC, value: "off"}, {name: GOMEMLIMIT, value: 900MiB}]',
     '[{name: GOGC, value: "100"}]',
     '[{name: GOGC, value: "off"}, {name: GOGC, value: "50"}]',  # the later entry wins
     '[{name: GOGC, value: "off"}, {name: GOMEMLIMIT, value: 1G}]'],  # invalid reported instead
)  # fmt: skip
def test_gc_off_not_reported(env):
    none_of(go(env), GC_OFF)


# Go's runtime.readGOGC (src/runtime/mgcpacer.go) returns -1 for "off" and atoi32(GOGC)
# otherwise, sign included (runtime/string.go atoi64 accepts a leading '-'); a negative
# gcPercent leaves the pacer without a heap goal (gcControllerState.commit), the same as off.
# Unparsable text or a value outside int32 falls back to the default 100; "-0" is 0.
@pytest.mark.parametrize("value", ["-1", "-50", "-2147483648"])
def test_negative_gogc_turns_gc_off(value):
    finding = one(go(f'[{{name: GOGC, value: "{value}"}}]'), GC_OFF)
    assert finding.message == (
        f'GOGC={value} in container "app" without GOMEMLIMIT turns garbage collection off for '
        "good: the heap grows until the container is killed at its 1Gi limit; "
        "set GOMEMLIMIT=921MiB"
    )


@pytest.mark.parametrize("value", ["-0", "-", "-2147483649", "+50", "0", "50", "-1x", " -1"])
def test_gogc_values_that_keep_gc_on(value):
    none_of(go(f'[{{name: GOGC, value: "{value}"}}]'), GC_OFF)


def test_gc_off_with_memlimit_off_is_reported():
    assert go_findings(go('[{name: GOGC, value: "off"}, {name: GOMEMLIMIT, value: "off"}]')) == [
        GC_OFF
    ]


def test_threshold_is_configurable():
    cfg = config(thresholds={"go_memlimit_ratio": 0.8})
    finding = one(memlimit("900MiB"), HEADROOM, cfg)
    assert finding.fix[0]["value"] == "819MiB"
    assert finding.message.endswith("above the 80% that leaves room for off-heap memory; use at "
                                    "most 819Mi")  # fmt: skip


def test_go_program_without_memlimit_is_info():
    text = pod("{name: app, image: quay.io/prometheus/prometheus:v2.53.0, "
               "resources: {limits: {memory: 2Gi}}}")  # fmt: skip
    finding = one(text, UNSET)
    assert finding.severity == "info"
    assert finding.message == (
        'container "app" runs a Go program (its image "quay.io/prometheus/prometheus:v2.53.0" is '
        "a Go program) with a 2Gi limit but no GOMEMLIMIT: the Go GC ignores the limit; set "
        "GOMEMLIMIT=1843MiB"
    )
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "add", "path": "/spec/containers/0/env",
         "value": [{"name": "GOMEMLIMIT", "value": "1843MiB"}]},
    ]  # fmt: skip
    none_of(dump(patched), UNSET)
    none_of(pod("{name: app, image: quay.io/prometheus/prometheus:v2.53.0}"), UNSET)  # no limit
