"""Memory request/limit rules: missing, invalid, millibytes, too low, request > limit, ratio."""

from __future__ import annotations

import pytest
from helpers import (
    ALL_RULES,
    apply_fix,
    config,
    dump,
    findings,
    none_of,
    one,
    pod,
    rule_ids,
    workload_object,
)

ML = "memory-limit-missing"
MR = "memory-request-missing"
RATIO = "memory-limit-request-ratio"
LOW = "memory-limit-too-low"
OVER = "memory-request-exceeds-limit"
INVALID = "memory-quantity-invalid"
MILLI = "memory-quantity-millibytes"
DEFAULTS = config(defaults={"memory_request": "256Mi", "memory_limit": "512Mi"})


def container(resources: str, name: str = "app") -> str:
    return f"{{name: {name}, image: example/app:1, resources: {resources}}}"


# --- memory-limit-missing -------------------------------------------------------------------


def test_limit_missing_with_request_states_it_and_copies_it():
    text = pod(container("{requests: {memory: 300Mi}}"))
    finding = one(text, ML)
    assert finding.severity == "error"
    assert finding.container == "app"
    assert finding.path == ("spec", "containers", 0)
    assert finding.message == (
        'container "app" has no memory limit; its request is 300Mi: it can use the '
        "node's memory until the OOM killer picks a victim"
    )
    assert finding.fix == (
        {"op": "add", "path": ("spec", "containers", 0, "resources", "limits", "memory"),
         "value": "300Mi"},
    )  # fmt: skip


def test_limit_missing_fix_uses_the_configured_ratio():
    text = pod(container("{requests: {memory: 100Mi}}"))
    finding = one(text, ML, config(fix={"limit_ratio": 1.5}))
    assert finding.fix[0]["value"] == "150Mi"
    finding = one(text, ML, config(fix={"limit_ratio": 1.25}))
    assert finding.fix[0]["value"] == "125Mi"


def test_limit_missing_without_request_or_default_has_no_fix():
    finding = one(pod(container("{}")), ML)
    assert finding.fix == ()
    assert finding.message.startswith('container "app" has no memory limit: ')


def test_limit_missing_without_request_uses_the_default_limit():
    finding = one(pod(container("{}")), ML, DEFAULTS)
    assert finding.fix[0]["value"] == "512Mi"


def test_limit_missing_does_not_fire_with_a_limit_or_pod_level_limit():
    none_of(pod(container("{limits: {memory: 1Gi}}")), ML)
    none_of(pod(container("{}"), pod_spec="resources: {limits: {memory: 1Gi}}"), ML)


def test_limit_missing_fires_for_each_container_init_and_sidecar():
    text = pod(
        container("{limits: {memory: 1Gi}}", "ok"),
        container("{}", "bad"),
        pod_spec="""
        initContainers:
          - {name: migrate, image: x}
          - {name: proxy, image: x, restartPolicy: Always}
        """,
    )
    found = findings(text, ML)
    assert [(f.container, f.path) for f in found] == [
        ("migrate", ("spec", "initContainers", 0)),
        ("proxy", ("spec", "initContainers", 1)),
        ("bad", ("spec", "containers", 1)),
    ]
    assert found[0].message.startswith('init container "migrate" has no memory limit')


def test_limit_of_zero_is_no_limit():
    """The kubelet sets no cgroup limit for 0: the container is unlimited, not tiny."""
    text = pod(container('{limits: {memory: "0"}}'))
    finding = one(text, ML)
    assert finding.message.startswith(
        'container "app" has no memory limit (a limit of 0 means none): '
    )
    none_of(text, LOW)
    none_of(text, MR)  # the request defaults to the limit as written
    patch, patched = apply_fix(workload_object(text), [one(text, ML, DEFAULTS)])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/resources/limits/memory", "value": "512Mi"}
    ]
    none_of(dump(patched), ML)


def test_limit_of_zero_below_a_request():
    """The API server compares the request with a limit of 0 too, and rejects the pod."""
    text = pod(container('{limits: {memory: "0"}, requests: {memory: 64Mi}}'))
    assert one(text, OVER).message == (
        'memory request 64Mi of container "app" is greater than its limit 0; '
        "the API server rejects this pod"
    )
    finding = one(text, ML)
    assert "(a limit of 0 means none); its request is 64Mi" in finding.message
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/resources/limits/memory", "value": "64Mi"}
    ]
    assert [f.rule for f in findings(dump(patched)) if f.rule in (ML, OVER, LOW)] == []


# --- memory-request-missing -----------------------------------------------------------------


def test_request_missing_fires_without_request_and_limit():
    finding = one(pod(container("{limits: {cpu: 1}}")), MR)
    assert (finding.severity, finding.container) == ("warning", "app")
    assert finding.message == (
        'container "app" has no memory request: the scheduler assumes it needs none'
    )
    assert finding.fix == ()
    assert one(pod(container("{}")), MR, DEFAULTS).fix == (
        {"op": "add", "path": ("spec", "containers", 0, "resources", "requests", "memory"),
         "value": "256Mi"},
    )  # fmt: skip


def test_a_limit_alone_defaults_the_request():
    none_of(pod(container("{limits: {memory: 1Gi}}")), MR)
    none_of(pod(container("{}"), pod_spec="resources: {requests: {memory: 1Gi}}"), MR)


def test_limit_and_request_missing_fixes_make_one_consistent_patch():
    text = pod("{name: app, image: example/app:1}")  # no resources mapping at all
    found = [f for f in findings(text, cfg=DEFAULTS) if f.rule in (ML, MR)]
    assert sorted(f.rule for f in found) == [ML, MR]
    patch, patched = apply_fix(workload_object(text), found)
    assert patch == [
        {"op": "add", "path": "/spec/containers/0/resources",
         "value": {"limits": {"memory": "512Mi"}}},
        {"op": "add", "path": "/spec/containers/0/resources/requests",
         "value": {"memory": "256Mi"}},
    ]  # fmt: skip
    assert patched["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "512Mi"},
        "requests": {"memory": "256Mi"},
    }
    assert [f.rule for f in findings(dump(patched), cfg=DEFAULTS) if f.rule in (ML, MR)] == []


# --- memory-request-exceeds-limit ----------------------------------------------------------


def test_request_above_limit():
    finding = one(pod(container("{requests: {memory: 2Gi}, limits: {memory: 1Gi}}")), OVER)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.path == ("spec", "containers", 0, "resources", "requests", "memory")
    assert finding.message == (
        'memory request 2Gi of container "app" is greater than its limit 1Gi (200% of it); '
        "the API server rejects this pod"
    )


@pytest.mark.parametrize(
    "resources",
    ["{requests: {memory: 1Gi}, limits: {memory: 1Gi}}",
     "{requests: {memory: 1073741824}, limits: {memory: 1Gi}}",
     "{requests: {memory: 1G}, limits: {memory: 1Gi}}",  # 10^9 < 2^30
     "{requests: {memory: 2Gi}}"],
)  # fmt: skip
def test_request_not_above_limit(resources):
    none_of(pod(container(resources)), OVER)


def test_request_above_limit_in_exact_arithmetic():
    # 1.000000001G is 1 byte more than 1G: floats would call them equal after scaling
    finding = one(pod(container("{requests: {memory: 1000000001}, limits: {memory: 1G}}")), OVER)
    assert "greater than its limit 1G" in finding.message


def test_pod_level_request_above_pod_level_limit():
    text = pod(
        container("{}"), pod_spec="resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}"
    )
    finding = one(text, OVER)
    assert finding.container is None
    assert finding.path == ("spec", "resources", "requests", "memory")
    assert finding.message.startswith("memory request 2Gi of the pod is greater than its limit 1Gi")


# --- memory-quantity-invalid / millibytes ---------------------------------------------------


@pytest.mark.parametrize("value", ["1GB", "1.5gi", "512 Mi", '" 1gi"', "-1Gi", "1e", "Ki"])
def test_invalid_quantities(value):
    finding = one(pod(container(f"{{limits: {{memory: {value}}}}}")), INVALID)
    assert (finding.severity, finding.container) == ("error", "app")
    assert finding.path == ("spec", "containers", 0, "resources", "limits", "memory")
    assert finding.message.startswith('memory limit of container "app": ')
    assert finding.message.endswith("(write e.g. 512Mi or 1Gi)")
    # the invalid value is not compared by other rules
    assert [f.rule for f in findings(pod(container(f"{{limits: {{memory: {value}}}}}")))
            if f.rule in (LOW, ML, RATIO, OVER)] == []  # fmt: skip


def test_invalid_quantity_message_names_the_value():
    finding = one(pod(container("{requests: {memory: 1GB}, limits: {memory: 1Gi}}")), INVALID)
    assert finding.message == (
        "memory request of container \"app\": '1GB' is not a valid quantity "
        "(write e.g. 512Mi or 1Gi)"
    )


@pytest.mark.parametrize(
    "value", ["1Gi", "1073741824", "129e6", "1.5E3Ki".replace("Ki", ""), "0.5Gi", "1e9", "+1Gi"]
)
def test_valid_quantities_are_not_invalid(value):
    none_of(pod(container(f'{{limits: {{memory: "{value}"}}}}')), INVALID)


def test_quantity_with_surrounding_spaces_is_what_the_api_server_stores():
    # apimachinery resource/quantity.go Quantity.UnmarshalJSON trims with strings.TrimSpace:
    # "2Gi " is stored as 2Gi, so a request of "2Gi " over a 1Gi limit is over the limit.
    text = pod(container('{requests: {memory: "2Gi "}, limits: {memory: " 1Gi"}}'))
    assert rule_ids(text, ALL_RULES).count(INVALID) == 0
    finding = one(text, OVER)
    assert finding.message.startswith('memory request 2Gi of container "app" is greater')


def test_millibytes_fix_of_a_value_with_spaces_writes_a_valid_quantity():
    text = pod(container('{limits: {memory: " 512m "}}'))
    finding = one(text, MILLI)
    assert finding.message.startswith('memory limit 512m of container "app" is 0.512 bytes')
    assert finding.fix[0]["value"] == "512Mi"  # not " 512Mi" or "512 Mi"


def test_millibytes():
    text = pod(container("{requests: {memory: 256m}, limits: {memory: 512m}}"))
    found = findings(text, MILLI)
    assert [(f.container, f.path[-2], f.severity) for f in found] == [
        ("app", "requests", "error"),
        ("app", "limits", "error"),
    ]
    assert found[1].message == (
        'memory limit 512m of container "app" is 0.512 bytes (m means milli); did you mean 512Mi?'
    )
    # the other rules wait for the unit to be fixed
    assert [f.rule for f in findings(text) if f.rule in (LOW, ML, RATIO, OVER, INVALID)] == []
    patch, patched = apply_fix(workload_object(text), found)
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/resources/requests/memory",
         "value": "256Mi"},
        {"op": "replace", "path": "/spec/containers/0/resources/limits/memory", "value": "512Mi"},
    ]  # fmt: skip
    none_of(dump(patched), MILLI)


def test_millibytes_decimal_and_pod_level():
    finding = one(pod(container("{}"), pod_spec="resources: {limits: {memory: 1.5m}}"), MILLI)
    assert finding.container is None
    assert finding.message.startswith("memory limit 1.5m of the pod is 0.0015 bytes")
    none_of(pod(container("{limits: {memory: 512M}}")), MILLI)  # megabytes are fine


# --- memory-limit-too-low -------------------------------------------------------------------


def test_limit_too_low():
    finding = one(pod(container('{limits: {memory: "64"}}')), LOW)
    assert (finding.severity, finding.container) == ("warning", "app")
    assert finding.message == (
        'memory limit 64 of container "app" is 64 bytes, below the 16Mi minimum: '
        "it will be OOMKilled as it starts"
    )


def test_limit_too_low_boundary_and_threshold():
    none_of(pod(container("{limits: {memory: 16Mi}}")), LOW)  # exactly at the minimum
    finding = one(pod(container("{limits: {memory: 16383Ki}}")), LOW)
    assert "is 16383Ki, below the 16Mi minimum" in finding.message
    cfg = config(thresholds={"min_limit": "128Mi"})
    assert "below the 128Mi minimum" in one(pod(container("{limits: {memory: 64Mi}}")), LOW,
                                            cfg).message  # fmt: skip
    none_of(pod(container("{limits: {memory: 128Mi}}")), LOW, cfg)


def test_limit_too_low_from_pod_level_is_reported_once():
    text = pod(
        container("{}", "a"), container("{}", "b"), pod_spec="resources: {limits: {memory: 8Mi}}"
    )
    finding = one(text, LOW)
    assert finding.container is None
    assert finding.path == ("spec", "resources", "limits", "memory")


# --- memory-limit-request-ratio -------------------------------------------------------------


def test_ratio_above_maximum():
    finding = one(pod(container("{requests: {memory: 256Mi}, limits: {memory: 2Gi}}")), RATIO)
    assert (finding.severity, finding.container) == ("warning", "app")
    assert finding.path == ("spec", "containers", 0, "resources", "limits", "memory")
    assert finding.message == (
        'memory limit 2Gi of container "app" is 8× its request 256Mi, above the 2× maximum: '
        "the node is overcommitted by the difference"
    )


def test_ratio_exactly_two_does_not_fire():
    none_of(pod(container("{requests: {memory: 512Mi}, limits: {memory: 1Gi}}")), RATIO)
    # one byte more does
    finding = one(pod(container("{requests: {memory: 512Mi}, limits: {memory: 1073741825}}")),
                  RATIO)  # fmt: skip
    assert "is 2× its request 512Mi" in finding.message


def test_ratio_threshold_is_configurable():
    text = pod(container("{requests: {memory: 1Gi}, limits: {memory: 1536Mi}}"))
    none_of(text, RATIO)
    finding = one(text, RATIO, config(thresholds={"max_limit_request_ratio": 1.25}))
    assert finding.message.endswith("above the 1.25× maximum: the node is overcommitted by the "
                                    "difference")  # fmt: skip


def test_ratio_mixed_units_and_yaml_integers():
    # 129e6 bytes request, 1Gi written as a YAML integer: 8.32×
    text = pod(container("{requests: {memory: 129e6}, limits: {memory: 1073741824}}"))
    finding = one(text, RATIO)
    assert 'memory limit 1073741824 of container "app" is 8.32× its request 129e6' in (
        finding.message
    )
    none_of(pod(container("{requests: {memory: 1.5E3Mi}, limits: {memory: 1500Mi}}")), RATIO)


def test_limit_missing_adds_no_default_beside_an_unreadable_request():
    # request "4gi" means 4 GiB to its author; a default 512Mi limit beside it would be
    # below that intent once the request is corrected: the request is reported, no fix
    for request in ('"4gi"', "2048m"):
        text = pod(container(f"{{requests: {{memory: {request}}}}}"))
        finding = one(text, ML, DEFAULTS)
        assert finding.fix == ()


def test_wrong_typed_memory_is_manifest_invalid_and_not_overwritten():
    text = pod(container("{limits: {memory: {size: 4Gi}}}"))
    assert "manifest-invalid" in rule_ids(text, ALL_RULES)
    none_of(text, INVALID)  # reported once, as manifest-invalid
    none_of(text, ML, DEFAULTS)  # present, so not "missing": no default written over it
    assert [f.fix for f in findings(text, cfg=DEFAULTS) if f.fix] == []
