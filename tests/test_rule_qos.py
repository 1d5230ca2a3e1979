"""QoS: best-effort-pod, qos-not-guaranteed, and the QoS class computed as Kubernetes does.

``reference_qos`` is a line-by-line port of ``ComputePodQOS`` (pkg/apis/core/helper/qos) run
on the pod after API defaulting (a resource with only a limit gets a request equal to it);
generated pods are checked against it.
"""

from __future__ import annotations

from fractions import Fraction

import yaml
from helpers import apply_fix, config, dump, findings, none_of, one, pod, workload_object
from hypothesis import given, settings
from hypothesis import strategies as st
from oomguard.rules.qos import pod_qos
from oomguard.rules.quantity import parse_quantity
from oomguard.rules.workload import build_workload

BE = "best-effort-pod"
QOS = "qos-not-guaranteed"
QOS_ON = config(rules={QOS: {"severity": "warning"}})


def c(name: str, resources: str = "{}", extra: str = "") -> str:
    return f"{{name: {name}, image: x, resources: {resources}{extra}}}"


# --- best-effort-pod ------------------------------------------------------------------------


def test_best_effort_pod_fires_once_per_pod():
    finding = one(pod(c("a"), c("b")), BE)
    assert (finding.severity, finding.container) == ("error", None)
    assert finding.path == ("spec", "containers")
    assert finding.message == (
        "the pod is BestEffort: none of its 2 containers sets a cpu or memory request or limit, "
        "so it is the first killed under memory pressure (oom_score_adj 1000)"
    )


def test_any_cpu_or_memory_value_anywhere_makes_it_burstable():
    none_of(pod(c("a"), c("b", "{requests: {cpu: 10m}}")), BE)
    none_of(pod(c("a"), pod_spec="initContainers: [{name: i, image: x, "
                                 "resources: {limits: {memory: 64Mi}}}]"), BE)  # fmt: skip
    none_of(pod(c("a"), pod_spec="resources: {requests: {memory: 64Mi}}"), BE)


def test_zero_quantities_and_other_resources_do_not_count():
    text = pod(c("a", '{requests: {cpu: "0", memory: "0"}, limits: {ephemeral-storage: 1Gi}}'))
    assert one(text, BE).container is None


def test_pod_level_resources_decide_the_class():
    # containers set values, but pod-level resources without cpu/memory make it BestEffort
    text = pod(c("a", "{limits: {cpu: 1, memory: 1Gi}}"),
               pod_spec="resources: {limits: {hugepages-2Mi: 2Mi}}")  # fmt: skip
    one(text, BE)
    text = pod(c("a"), pod_spec="resources: {limits: {cpu: 1, memory: 1Gi}}")
    assert pod_qos(build_workload(workload_object(text))) == "Guaranteed"


def test_an_init_only_fragment_is_not_judged():
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: i}]"
    none_of(text, BE)


def test_best_effort_fix_with_defaults_adds_both_values_to_every_container():
    text = pod(c("a"), pod_spec="initContainers: [{name: i, image: x}]")
    cfg = config(defaults={"memory_request": "128Mi", "memory_limit": "256Mi"})
    finding = one(text, BE, cfg)
    patch, patched = apply_fix(workload_object(text), [finding])
    for entry in (*patched["spec"]["initContainers"], *patched["spec"]["containers"]):
        assert entry["resources"] == {
            "requests": {"memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        }
    assert len(patch) == 4
    none_of(dump(patched), BE, cfg)


# --- qos-not-guaranteed ---------------------------------------------------------------------


def test_qos_is_info_by_default_and_per_container():
    text = pod(
        c("a", "{requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}"),
        c("b", "{requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 1, memory: 2Gi}}"),
    )
    finding = one(text, QOS)
    assert (finding.severity, finding.container) == ("info", "b")
    assert finding.path == ("spec", "containers", 1, "resources")
    assert finding.message == (
        'the pod is Burstable, not Guaranteed: container "b" has cpu request 500m ≠ limit 1, '
        "memory request 1Gi ≠ limit 2Gi"
    )
    assert one(text, QOS, QOS_ON).severity == "warning"


def test_qos_fix_copies_limits_to_requests():
    text = pod(c("b", "{requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 1, memory: 2Gi}}"))
    finding = one(text, QOS)
    patch, patched = apply_fix(workload_object(text), [finding])
    assert patch == [
        {"op": "replace", "path": "/spec/containers/0/resources/requests/cpu", "value": 1},
        {"op": "replace", "path": "/spec/containers/0/resources/requests/memory", "value": "2Gi"},
    ]
    none_of(dump(patched), QOS)
    assert pod_qos(build_workload(patched)) == "Guaranteed"


def test_qos_does_not_copy_an_invalid_or_millibyte_limit():
    text = pod(c("b", "{requests: {cpu: 1, memory: 1Mi}, limits: {cpu: 1, memory: 512m}}"))
    assert one(text, QOS).fix == ()


def test_request_defaults_to_limit():
    none_of(pod(c("a", "{limits: {cpu: 1, memory: 1Gi}}")), QOS)  # Guaranteed


def test_init_containers_and_sidecars_count():
    ok = "{limits: {cpu: 1, memory: 1Gi}}"
    text = pod(c("a", ok), pod_spec="initContainers: [{name: proxy, image: x, restartPolicy: "
                                    "Always, resources: {limits: {memory: 1Gi}}}]")  # fmt: skip
    finding = one(text, QOS)
    assert finding.container == "proxy"
    assert finding.message.endswith('init container "proxy" has no cpu limit')


def test_pod_level_burstable_is_reported_for_the_pod():
    text = pod(
        c("a"), pod_spec="resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 2Gi}}"
    )
    finding = one(text, QOS)
    assert finding.container is None
    assert finding.path == ("spec", "resources")
    assert finding.message == (
        "the pod is Burstable, not Guaranteed: pod-level no cpu limit, "
        "memory request 1Gi ≠ limit 2Gi"
    )


def test_best_effort_and_guaranteed_pods_have_no_qos_finding():
    none_of(pod(c("a")), QOS)


# --- the class, against Kubernetes ----------------------------------------------------------


def reference_qos(pod_spec: dict) -> str:
    """``ComputePodQOS`` on the defaulted pod (valid pods only: request ≤ limit)."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True

    def defaulted(resources: dict) -> tuple[dict, dict]:
        lim = dict(resources.get("limits") or {})
        req = dict(resources.get("requests") or {})
        for name, value in lim.items():
            req.setdefault(name, value)
        return req, lim

    pod_resources = pod_spec.get("resources")
    sources = [pod_resources] if pod_resources else [
        ct.get("resources") or {} for ct in (*pod_spec.get("containers", ()),
                                            *pod_spec.get("initContainers", ()))
    ]  # fmt: skip
    for resources in sources:
        req, lim = defaulted(resources)
        for name, value in req.items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                requests[name] = requests.get(name, 0) + quantity
        found = set()
        for name, value in lim.items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                found.add(name)
                limits[name] = limits.get(name, 0) + quantity
        if (lim or not pod_resources) and not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and any(limits.get(n) != v for n, v in requests.items()):
        guaranteed = False
    return "Guaranteed" if guaranteed and len(requests) == len(limits) else "Burstable"


VALUES = st.sampled_from(["0", "1", "2", "500m", "1Gi", "2Gi", "0.5"])
RESOURCES = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage"]),
                                    VALUES, max_size=3),
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage"]),
                                  VALUES, max_size=3),
    },
)  # fmt: skip


def valid(resources: dict) -> bool:
    limits = resources.get("limits") or {}
    return all(
        name not in limits or parse_quantity(value) <= parse_quantity(limits[name])
        for name, value in (resources.get("requests") or {}).items()
    )


@settings(max_examples=400, deadline=None)
@given(
    containers=st.lists(RESOURCES.filter(valid), min_size=1, max_size=3),
    init=st.lists(RESOURCES.filter(valid), max_size=2),
    # an empty pod-level mapping (`requests: {}`) is treated as not set: see the report
    pod_level=st.none() | RESOURCES.filter(lambda r: valid(r) and any(r.values())),
)
def test_qos_class_matches_kubernetes(containers, init, pod_level):
    spec: dict = {
        "containers": [{"name": f"c{i}", "image": "x", "resources": r}
                       for i, r in enumerate(containers)],
        "initContainers": [{"name": f"i{i}", "image": "x", "resources": r}
                           for i, r in enumerate(init)],
    }  # fmt: skip
    if pod_level:
        spec["resources"] = pod_level
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    expected = reference_qos(spec)
    assert pod_qos(build_workload(obj)) == expected, yaml.safe_dump(spec)
    rules = {f.rule for f in findings(dump(obj))}
    assert (BE in rules) == (expected == "BestEffort")
    assert (QOS in rules) == (expected == "Burstable")


# --- values that do not parse are present, never absent ---------------------------------------

DEFAULTS = config(defaults={"memory_request": "256Mi", "memory_limit": "256Mi"})


def test_an_unparsable_value_is_not_best_effort_and_gets_no_default(tmp_path, run_oomguard):
    # `memory: 4gi` is a 4 GiB intent the API server refuses; with defaults configured the fix
    # wrote 256Mi over it (issue 11, section 3). It is reported, never replaced.
    for value in ('"4gi"', "1GB", "[4Gi]"):
        text = pod(c("a", f"{{requests: {{memory: {value}}}, limits: {{memory: {value}}}}}"))
        assert pod_qos(build_workload(workload_object(text))) == "Unknown"
        none_of(text, BE, DEFAULTS)
        none_of(text, QOS, QOS_ON)
        assert [f.fix for f in findings(text, cfg=DEFAULTS) if f.fix] == []
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(pod(c("a", '{requests: {memory: "4gi"}, limits: {memory: "4gi"}}')))
    before = manifest.read_text()
    config_file = tmp_path / ".oomguard.yaml"
    config_file.write_text("defaults: {memory_request: 256Mi, memory_limit: 256Mi}\n")
    result = run_oomguard("lint", "--fix", "--config", str(config_file), str(manifest))
    assert manifest.read_text() == before, result.stdout
    assert "memory-quantity-invalid" in result.stdout


def test_unparsable_cpu_makes_the_class_unknown_too():
    text = pod(c("a", '{requests: {cpu: "1 core"}}'))
    assert pod_qos(build_workload(workload_object(text))) == "Unknown"
    none_of(text, BE, DEFAULTS)


def test_qos_fix_never_copies_over_an_unparsable_request():
    text = pod(c("a", '{requests: {cpu: "1", memory: "1gi"}, limits: {cpu: "1", memory: 1Gi}}'))
    assert [f.fix for f in findings(text, cfg=QOS_ON) if f.fix] == []


def test_long_values_read_past_the_cache_give_the_same_class():
    # rules/qos.py caches its answers for strings of at most 64 characters; longer ones (here
    # padded with spaces, which the API server trims: Quantity.UnmarshalJSON's TrimSpace)
    # take the uncached path and must be judged alike.
    pad = " " * 70

    def qos(cpu: str, memory: str, cpu_limit: str) -> str:
        resources = (
            f'{{requests: {{cpu: "{cpu}", memory: "{memory}"}}, '
            f'limits: {{cpu: "{cpu_limit}", memory: "{memory}"}}}}'
        )
        return pod_qos(build_workload(workload_object(pod(c("a", resources)))))

    assert qos("1", "1Gi", "1") == qos(f"1{pad}", f"{pad}1Gi", f"1{pad}") == "Guaranteed"
    assert qos("250m", "1Gi", "1") == qos(f"250m{pad}", f"1Gi{pad}", "1") == "Burstable"
    assert qos("1 core", "1Gi", "1") == qos(f"1 core{pad}", "1Gi", "1") == "Unknown"
    assert qos("0", "0", "0") == qos(f"0{pad}", f"0{pad}", f"0{pad}") == "BestEffort"
