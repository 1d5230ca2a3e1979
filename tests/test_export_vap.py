"""``oomguard export --target vap|kyverno``: the objects parse and fit the
admissionregistration/v1 API types (and Kyverno's ValidatingPolicy CRD), and every exported
CEL expression compiles and decides its rule's documented
PASS/FAIL examples the way the rule does.

CEL runs on cel-python (``celpy``), a CEL implementation from PyPI. It has no Kubernetes
quantity library, so ``quantity()``, ``sign``, ``compareTo``, ``asApproximateFloat``,
``asInteger`` and ``isInteger`` are implemented HERE, for the tests only, over oomguard's own
quantity parser (rules/quantity.py, which follows apimachinery's resource.ParseQuantity);
nor the Kubernetes regex library's ``find``/``findAll``, implemented HERE with RE2 (the
``google-re2`` binding celpy itself uses for ``matches``), as k8s.io/apiserver
pkg/cel/library/regex.go does with Go's regexp (RE2 syntax). This checks the
expressions' logic and syntax against CEL, not against the API server's CEL environment
(its type checking against the OpenAPI schema and its cost limits are not run here).
"""

from __future__ import annotations

import copy

import celpy
import jsonschema
import kubernetes.client.models as models
import pydantic
import pytest
import re2
import yaml
from celpy import celtypes
from helpers import config as make_config
from helpers import findings
from oomguard.linter.export import export_kyverno, export_vap, exported_in_part, header
from oomguard.rules import CATALOGUE, RULES
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.kinds import BUILTIN
from oomguard.rules.quantity import parse_quantity
from test_rule_catalogue import examples

EXPORTED = [rule for rule in CATALOGUE if hasattr(rule, "cel")]
HEAP_RULES = [
    "go-memlimit-exceeds-limit",
    "go-memlimit-headroom-low",
    "jvm-heap-exceeds-limit",
    "jvm-heap-headroom-low",
    "node-heap-exceeds-limit",
    "node-heap-headroom-low",
]
# Exported in part (CEL_REASON says what is left out): the documented examples CEL decides.
# The others are written on command lines (jvm-heap-exceeds-limit, node-heap-exceeds-limit)
# or size the heap by MaxRAMPercentage (jvm-heap-headroom-low), which the policies leave to
# the webhook: their FAIL example must pass the policy (never a verdict CEL cannot reach).
EXAMPLES_IN_SCOPE = {
    rule.ID
    for rule in EXPORTED
    if not hasattr(rule, "CEL_REASON")
    or rule.ID in {"go-memlimit-exceeds-limit", "go-memlimit-headroom-low",
                   "node-heap-headroom-low"}
}  # fmt: skip


# ------------------------------------------------------------ the Kubernetes quantity library


class Quantity:
    """A Kubernetes quantity for the test CEL environment (k8s.io/apiserver
    pkg/cel/library/quantity.go names these functions)."""

    def __init__(self, text: str):
        self.value = parse_quantity(text)


def _quantity(text):
    return Quantity(str(text))


def _sign(q):
    return celtypes.IntType((q.value > 0) - (q.value < 0))


def _compare_to(a, b):
    return celtypes.IntType((a.value > b.value) - (a.value < b.value))


def _approximate(q):
    return celtypes.DoubleType(float(q.value))


def _is_integer(q):
    return celtypes.BoolType(q.value.denominator == 1)


def _as_integer(q):
    """Errors (as the library does) when the value is no int64."""
    if q.value.denominator != 1 or not -(2**63) <= q.value < 2**63:
        raise ValueError("quantity is not an int64")
    return celtypes.IntType(int(q.value))


def _find(text, pattern):
    match = re2.search(str(pattern), str(text))
    return celtypes.StringType(match.group(0) if match else "")


def _find_all(text, pattern):
    return celtypes.ListType(
        [celtypes.StringType(m.group(0)) for m in re2.finditer(str(pattern), str(text))]
    )


FUNCTIONS = {
    "quantity": _quantity,
    "sign": _sign,
    "compareTo": _compare_to,
    "asApproximateFloat": _approximate,
    "isInteger": _is_integer,
    "asInteger": _as_integer,
    "find": _find,
    "findAll": _find_all,
}
ENV = celpy.Environment()


def evaluate(expression: str, activation: dict):
    program = ENV.program(ENV.compile(expression), functions=FUNCTIONS)
    return program.evaluate(activation)


def admit(policy: dict, obj: dict, operation: str = "CREATE", old: dict | None = None,
          username: str = "alice") -> bool | None:  # fmt: skip
    """The policy's verdict on a request, as the API server works it out: None when its
    match conditions leave the object out, else whether every validation passes."""
    activation = {
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel(
            {
                "operation": operation,
                "kind": {"kind": obj["kind"]},
                "userInfo": {"username": username},
            }
        ),
    }
    for condition in policy["spec"].get("matchConditions", ()):
        if not evaluate(condition["expression"], activation):
            return None
    values = {}
    for variable in policy["spec"]["variables"]:
        activation["variables"] = celpy.json_to_cel(values) if values else celpy.json_to_cel({})
        activation["variables"] = celtypes.MapType(
            {celtypes.StringType(k): v for k, v in values.items()}
        )
        values[variable["name"]] = evaluate(variable["expression"], activation)
    activation["variables"] = celtypes.MapType(
        {celtypes.StringType(k): v for k, v in values.items()}
    )
    return all(bool(evaluate(v["expression"], activation)) for v in policy["spec"]["validations"])


def policies(config=DEFAULT_CONFIG) -> dict[str, dict]:
    objects, _ = export_vap(config)
    return {
        o["metadata"]["name"].removeprefix("oomguard-"): o
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicy"
    }


def example(rule, which: str) -> dict:
    return yaml.safe_load(examples(rule)[which])


# ------------------------------------------------------------------------------------ tests


def test_exported_subset_and_header():
    assert sorted(policies()) == sorted(
        [
            *HEAP_RULES,
            "memory-limit-missing",
            "memory-request-missing",
            "best-effort-pod",
            "memory-limit-too-low",
            "memory-limit-request-ratio",
            "memory-quantity-millibytes",
            "qos-not-guaranteed",
        ]
    )
    _, left_out = export_vap(DEFAULT_CONFIG)
    assert {rule for rule, _ in left_out} == set(RULES) - set(policies())
    text = header(DEFAULT_CONFIG, left_out)
    assert "#   container-oomkilled: needs the pods' status in a running cluster" in text
    partial = dict(exported_in_part(DEFAULT_CONFIG))
    assert sorted(partial) == sorted(HEAP_RULES)
    assert "Exported in part (the rest is left to the webhook, lint and audit):" in text
    assert f"#   jvm-heap-exceeds-limit: {partial['jvm-heap-exceeds-limit']}" in text
    assert "the last occurrence wins" in partial["jvm-heap-headroom-low"]
    assert all(line.startswith("# ") for line in text.splitlines())


@pytest.mark.parametrize("rule", EXPORTED, ids=lambda r: r.ID)
def test_cel_decides_the_documented_examples(rule):
    policy = policies()[rule.ID]
    assert admit(policy, example(rule, "PASS")) is True
    assert admit(policy, example(rule, "FAIL")) is (rule.ID not in EXAMPLES_IN_SCOPE)


@pytest.mark.parametrize("rule", EXPORTED, ids=lambda r: r.ID)
def test_every_builtin_kind_reaches_the_pod_spec(rule):
    """The FAIL example's pod spec inside every built-in kind fails; the PASS one passes."""
    policy = policies()[rule.ID]
    for which, expected in (("FAIL", rule.ID not in EXAMPLES_IN_SCOPE), ("PASS", True)):
        source = example(rule, which)
        pod = source["spec"] if source["kind"] == "Pod" else _pod_spec(source)
        for spec in BUILTIN:
            obj = _wrap(spec, pod)
            assert admit(policy, obj) is expected, (rule.ID, which, spec.kind)


def _pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def _wrap(spec, pod: dict) -> dict:
    """An object of ``spec``'s kind whose pod template spec is ``pod``."""
    obj: dict = {
        "apiVersion": f"{spec.group}/{spec.versions[0]}" if spec.group else spec.versions[0],
        "kind": spec.kind,
        "metadata": {"name": "x", "namespace": "shop"},
    }
    node = obj
    *parents, last = spec.templates[0].path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = copy.deepcopy(pod)
    return obj


def test_best_effort_pod_and_512m_limit_are_denied():
    """The issue's "done when": a BestEffort Pod and a 512m limit, denied in enforce mode."""
    objects, _ = export_vap(DEFAULT_CONFIG)
    deny = {
        o["spec"]["policyName"].removeprefix("oomguard-")
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
        and o["spec"]["validationActions"] == ["Deny"]
    }
    assert {"best-effort-pod", "memory-quantity-millibytes"} <= deny
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]}}  # fmt: skip
    assert admit(policies()["best-effort-pod"], bare) is False
    milli = copy.deepcopy(bare)
    milli["spec"]["containers"][0]["resources"] = {"limits": {"memory": "512m"}}
    assert admit(policies()["memory-quantity-millibytes"], milli) is False
    assert admit(policies()["best-effort-pod"], milli) is True  # 512m is above zero


def test_thresholds_from_the_config_are_baked_in():
    strict = make_config(thresholds={"min_limit": "64Mi", "max_limit_request_ratio": 1.5})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "x", "resources": {"requests": {"memory": "20Mi"},
                                                   "limits": {"memory": "32Mi"}}}]}}  # fmt: skip
    assert admit(policies()["memory-limit-too-low"], pod) is True  # 32Mi >= 16Mi
    assert admit(policies(strict)["memory-limit-too-low"], pod) is False  # < 64Mi
    assert "quantity('64Mi')" in str(policies(strict)["memory-limit-too-low"]["spec"])
    assert admit(policies()["memory-limit-request-ratio"], pod) is True  # 1.6 <= 2.0
    assert admit(policies(strict)["memory-limit-request-ratio"], pod) is False  # 1.6 > 1.5


def test_pod_level_limit_counts_and_zero_is_no_limit():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "resources": {"limits": {"memory": "1Gi"}},
        "containers": [{"name": "a", "image": "x"}]}}  # fmt: skip
    assert admit(policies()["memory-limit-missing"], pod) is True
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "0"}}
    assert admit(policies()["memory-limit-missing"], pod) is False  # 0 sets no cgroup limit


def test_unchanged_update_and_controller_pods_are_not_judged_again():
    policy = policies()["best-effort-pod"]
    bare = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "a", "image": "busybox"}]}}}}  # fmt: skip
    scaled = copy.deepcopy(bare)
    scaled["spec"]["replicas"] = 5
    assert admit(policy, scaled, "UPDATE", old=bare) is True  # pod template as it was
    changed = copy.deepcopy(scaled)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    assert admit(policy, changed, "UPDATE", old=bare) is False
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": bare["spec"]["template"]["spec"],
           "metadata": {"name": "p", "ownerReferences": [
               {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "d-1", "uid": "u",
                "controller": True}]}}  # fmt: skip
    made = "system:serviceaccount:kube-system:replicaset-controller"
    assert admit(policy, pod, username=made) is None  # judged at its Deployment
    assert admit(policy, pod, username="mallory") is False  # a person's ownerReference
    # an operator's service account is trusted only when the config says so (as the webhook)
    operator = "system:serviceaccount:ops:my-operator"
    assert admit(policy, pod, username=operator) is False
    trusting = make_config(admission={"trusted_controllers": [operator]})
    assert admit(policies(trusting)["best-effort-pod"], pod, username=operator) is None
    mirror = {**pod, "metadata": {"name": "etcd-node1", "annotations": {
        "kubernetes.io/config.mirror": "abc"}}}  # fmt: skip
    assert admit(policy, mirror, username="system:node:node1") is None
    assert admit(policy, mirror, username="mallory") is False


def test_modes_map_to_bindings():
    config = make_config(mode="enforce", namespace_modes={"dev": "warn", "legacy": "audit"})
    objects, _ = export_vap(config)
    bindings = {
        o["metadata"]["name"]: o["spec"]
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    error = {k: v for k, v in bindings.items() if k.startswith("oomguard-memory-limit-missing-")}
    assert {
        k: (v["validationActions"], v["matchResources"]["namespaceSelector"])
        for k, v in error.items()
    } == {  # fmt: skip
        "oomguard-memory-limit-missing-deny": (
            ["Deny"],
            {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": ["dev", "legacy"],
                    }
                ]
            },  # fmt: skip
        ),
        "oomguard-memory-limit-missing-warn": (
            ["Warn"],
            {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["dev"]}
                ]
            },  # fmt: skip
        ),
        "oomguard-memory-limit-missing-audit": (
            ["Audit"],
            {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["legacy"]}
                ]
            },  # fmt: skip
        ),
    }
    # the opt-out label counts outside enforce only
    assert "objectSelector" not in error["oomguard-memory-limit-missing-deny"]["matchResources"]
    assert error["oomguard-memory-limit-missing-warn"]["matchResources"]["objectSelector"] == {
        "matchExpressions": [{"key": "oomguard.io/ignore", "operator": "NotIn", "values": ["true"]}]
    }
    # a warning rule warns in enforce and warn alike: one binding for both, one for audit
    warning = sorted(k for k in bindings if k.startswith("oomguard-memory-request-missing-"))
    assert warning == [
        "oomguard-memory-request-missing-audit",
        "oomguard-memory-request-missing-warn",
    ]
    off = make_config(rules={"qos-not-guaranteed": {"enabled": False}})
    assert "qos-not-guaranteed" not in policies(off)
    assert ("qos-not-guaranteed", "turned off in the config") in export_vap(off)[1]


def test_objects_fit_the_admissionregistration_v1_types():
    """The kubernetes client's generated models (pydantic, ``extra="forbid"``, from the
    API's OpenAPI) take every object: no unknown field, every type and required field."""
    objects, _ = export_vap(make_config(namespace_modes={"dev": "warn"}))
    for obj in objects:
        getattr(models, "V1" + obj["kind"]).model_validate(obj)
    assert {o["apiVersion"] for o in objects} == {"admissionregistration.k8s.io/v1"}
    wrong = copy.deepcopy(objects[0])
    wrong["spec"]["validations"][0]["messages"] = "a typo the API server would drop"
    with pytest.raises(pydantic.ValidationError, match="messages"):
        models.V1ValidatingAdmissionPolicy.model_validate(wrong)


def test_export_command(run_oomguard, tmp_path):
    done = run_oomguard("export", "--target", "vap")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# oomguard export --target vap")
    documents = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert len([d for d in documents if d["kind"] == "ValidatingAdmissionPolicy"]) == 13
    assert run_oomguard("export").returncode == 2  # --target is required
    bad = tmp_path / ".oomguard.yaml"
    bad.write_text("mode: sometimes\n")
    failed = run_oomguard("export", "--target", "vap", "--config", str(bad))
    assert failed.returncode == 2 and failed.stderr.startswith("oomguard: ")


# ------------------------------------------------ literal runtime heap values, at the edges
#
# Each case: a Pod's one container (limit, env, command), then per rule: True when CEL
# decides it as oomguard does (the test checks oomguard's own verdict on the same Pod), or
# "left" when oomguard finds a problem the policy leaves to the webhook (it must pass the
# policy). A policy never denies what oomguard admits: checked for every case and rule.
GO_EXCEEDS, GO_HEADROOM = "go-memlimit-exceeds-limit", "go-memlimit-headroom-low"
JVM_EXCEEDS, JVM_HEADROOM = "jvm-heap-exceeds-limit", "jvm-heap-headroom-low"
NODE_EXCEEDS, NODE_HEADROOM = "node-heap-exceeds-limit", "node-heap-headroom-low"


def _pod(limit: str | None, env: list, command: list | None = None, **extra) -> dict:
    container: dict = {"name": "app", "image": "example/app:1", "env": env, **extra}
    if limit is not None:
        container["resources"] = {"limits": {"memory": limit}}
    if command is not None:
        container["command"] = command
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"containers": [container]}}  # fmt: skip


def _env(name: str, value: str) -> dict:
    return {"name": name, "value": value}


# runtime.parseByteCount (go/src/runtime/runtime1.go via rules/runtimes/go.py): digits with
# an optional KiB..TiB or B suffix; 0.9 of 512Mi is 483183820.8 bytes, of 10Gi exactly 9GiB.
GO_CASES = {
    "460MiB under the ratio": (_pod("512Mi", [_env("GOMEMLIMIT", "460MiB")]), set(), set()),
    "500MiB above the ratio": (_pod("512Mi", [_env("GOMEMLIMIT", "500MiB")]), {GO_HEADROOM}, set()),
    "512MiB at the limit": (_pod("512Mi", [_env("GOMEMLIMIT", "512MiB")]), {GO_EXCEEDS}, set()),
    "bytes, no suffix, at the limit": (
        _pod("512Mi", [_env("GOMEMLIMIT", "536870912")]),
        {GO_EXCEEDS},
        set(),
    ),
    "one byte under the limit": (
        _pod("512Mi", [_env("GOMEMLIMIT", "536870911B")]),
        {GO_HEADROOM},
        set(),
    ),
    "exactly at the ratio": (_pod("10Gi", [_env("GOMEMLIMIT", "9GiB")]), set(), set()),
    "one byte over the ratio": (
        _pod("10Gi", [_env("GOMEMLIMIT", "9663676417B")]),
        {GO_HEADROOM},
        set(),
    ),
    "512Mi: Go aborts, no heap rule": (_pod("256Mi", [_env("GOMEMLIMIT", "512Mi")]), set(), set()),
    "1GB: Go aborts, no heap rule": (_pod("256Mi", [_env("GOMEMLIMIT", "1GB")]), set(), set()),
    "resourceFieldRef copies the limit": (
        _pod(
            "1Gi",
            [
                {
                    "name": "GOMEMLIMIT",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}},
                }
            ],
        ),
        {GO_EXCEEDS},
        set(),
    ),  # fmt: skip
    "resourceFieldRef in MiB is 1024 bytes": (
        _pod(
            "1Gi",
            [
                {
                    "name": "GOMEMLIMIT",
                    "valueFrom": {
                        "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                    },
                }
            ],
        ),
        set(),
        set(),
    ),  # fmt: skip
    "the kubelet keeps the last of two (here the lower)": (
        _pod("512Mi", [_env("GOMEMLIMIT", "600MiB"), _env("GOMEMLIMIT", "400MiB")]),
        set(),
        set(),
    ),
    "the last of two is too high: left to the webhook": (
        _pod("512Mi", [_env("GOMEMLIMIT", "400MiB"), _env("GOMEMLIMIT", "600MiB")]),
        set(),
        {GO_EXCEEDS},
    ),  # fmt: skip
    "$(VAR) expansion: left to the webhook": (
        _pod("512Mi", [_env("SIZE", "600"), _env("GOMEMLIMIT", "$(SIZE)MiB")]),
        set(),
        {GO_EXCEEDS},
    ),  # fmt: skip
    "the pod-level limit applies": (
        {
            **_pod(None, [_env("GOMEMLIMIT", "512MiB")]),
            "spec": {
                "resources": {"limits": {"memory": "512Mi"}},
                "containers": [
                    {"name": "app", "image": "example/app:1", "env": [_env("GOMEMLIMIT", "512MiB")]}
                ],
            },
        },
        {GO_EXCEEDS},
        set(),
    ),  # fmt: skip
    "no limit: nothing to compare": (_pod(None, [_env("GOMEMLIMIT", "512MiB")]), set(), set()),
    "millibyte limit: not compared": (
        _pod("536870912000m", [_env("GOMEMLIMIT", "600MiB")]),
        set(),
        set(),
    ),
}
# HotSpot's atojulong (rules/runtimes/jvm.py parse_jvm_size): k m g t in powers of 1024;
# the last occurrence wins (Arguments::parse_each_vm_init_arg, in the order of jvm.py's
# docstring); 0.75 of 2Gi is exactly 1536m.
JVM_CASES = {
    "exactly at the ratio": (_pod("2Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1536m")]), set(), set()),
    "1 MiB over the ratio": (
        _pod("2Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1537m")]),
        {JVM_HEADROOM},
        set(),
    ),
    "1g at a 1024Mi limit": (
        _pod("1024Mi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1g")]),
        {JVM_EXCEEDS},
        set(),
    ),  # fmt: skip
    "1024m at a 1Gi limit": (
        _pod("1Gi", [_env("JDK_JAVA_OPTIONS", "-Dx=1 -Xmx1024m -Dy=2")]),
        {JVM_EXCEEDS},
        set(),
    ),
    "MaxHeapSize one byte under the limit": (
        _pod("2Gi", [_env("_JAVA_OPTIONS", "-XX:MaxHeapSize=2147483647")]),
        {JVM_HEADROOM},
        set(),
    ),
    "2GB: the JVM refuses it, no heap rule": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx2GB")]),
        set(),
        set(),
    ),
    "below 2 MiB, above the ratio: the JVM refuses it": (
        _pod("2Mi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1800k")]),
        set(),
        set(),
    ),
    "below 2 MiB: the JVM refuses it": (
        _pod("1Mi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1536k")]),
        set(),
        set(),
    ),
    "-Xmx inside another option's value is no flag": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Dopts=-Xmx4g")]),
        set(),
        set(),
    ),
    "the command line wins over JAVA_TOOL_OPTIONS": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1g")], ["java", "-Xmx512m", "-jar", "a.jar"]),
        set(),
        set(),
    ),  # fmt: skip
    "the last of two in one value wins (lower)": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx1g -Xmx512m")]),
        set(),
        set(),
    ),
    "the last of two is too high: left to the webhook": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx512m -Xmx1g")]),
        set(),
        {JVM_EXCEEDS},
    ),
    "-Xms above -Xmx raises the heap: still at or above the limit": (
        _pod("1Gi", [_env("JAVA_TOOL_OPTIONS", "-Xms2g -Xmx1g")]),
        {JVM_EXCEEDS},
        set(),
    ),
    "-Xms present: headroom left to the webhook": (
        _pod("2Gi", [_env("JAVA_TOOL_OPTIONS", "-Xms1g -Xmx1600m")]),
        set(),
        {JVM_HEADROOM},
    ),
    "hex: left to the webhook": (
        _pod("2Gi", [_env("JAVA_TOOL_OPTIONS", "-Xmx0x80000000")]),
        set(),
        {JVM_EXCEEDS},
    ),
    "a ConfigMap could add a later flag: left to the webhook": (
        _pod(
            "1Gi",
            [_env("JAVA_TOOL_OPTIONS", "-Xmx2g")],
            envFrom=[{"configMapRef": {"name": "jvm"}}],
        ),
        set(),
        {JVM_EXCEEDS},
    ),  # fmt: skip
    "a shell expands variables: left to the webhook": (
        _pod(
            "1Gi",
            [_env("JAVA_TOOL_OPTIONS", "-Xmx2g")],
            ["sh", "-c", "exec java $EXTRA -jar a.jar"],
        ),
        set(),
        {JVM_EXCEEDS},
    ),  # fmt: skip
}
# Node: --max-old-space-size=N MiB, [-_] alike (rules/runtimes/node.py _FLAG); the command
# line wins over NODE_OPTIONS and the -percentage form over both; 0.75 of 2Gi is 1536 MiB.
NODE_CASES = {
    "exactly at the ratio": (
        _pod("2Gi", [_env("NODE_OPTIONS", "--max-old-space-size=1536")]),
        set(),
        set(),
    ),
    "1 MiB over the ratio": (
        _pod("2Gi", [_env("NODE_OPTIONS", "--max-old-space-size=1537")]),
        {NODE_HEADROOM},
        set(),
    ),
    "at the limit, underscores": (
        _pod("2Gi", [_env("NODE_OPTIONS", "--max_old_space_size=2048")]),
        {NODE_EXCEEDS},
        set(),
    ),
    "a space instead of =: node exits, no heap rule": (
        _pod("2Gi", [_env("NODE_OPTIONS", "--max-old-space-size 4096")]),
        set(),
        set(),
    ),
    "the command line wins": (
        _pod(
            "2Gi",
            [_env("NODE_OPTIONS", "--max-old-space-size=4096")],
            ["node", "--max-old-space-size=1024", "server.js"],
        ),
        set(),
        set(),
    ),  # fmt: skip
    "the percentage wins": (
        _pod(
            "2Gi",
            [_env("NODE_OPTIONS", "--max-old-space-size=4096 --max-old-space-size-percentage=50")],
        ),
        set(),
        set(),
    ),  # fmt: skip
    "command line only: left to the webhook": (
        _pod("1Gi", [], ["node", "--max-old-space-size=4096", "server.js"]),
        set(),
        {NODE_EXCEEDS},
    ),  # fmt: skip
}
CASES = [
    (f"{runtime}: {name}", *case)
    for runtime, table in (("go", GO_CASES), ("jvm", JVM_CASES), ("node", NODE_CASES))
    for name, case in table.items()
]


@pytest.mark.parametrize(("name", "pod", "denied", "left"), CASES, ids=[c[0] for c in CASES])
def test_literal_heap_values_at_the_edges(name, pod, denied, left):
    exported = policies()
    for rule in HEAP_RULES:
        found = bool(findings(yaml.safe_dump(pod), rule))
        # oomguard's own verdict: the policy's, or one the policy leaves to the webhook
        assert found is (rule in denied or rule in left), (name, rule)
        assert admit(exported[rule], pod) is (rule not in denied), (name, rule)


def test_heap_ratios_from_the_config_are_baked_in():
    env = [_env("NODE_OPTIONS", "--max-old-space-size=1400"),
           _env("JAVA_TOOL_OPTIONS", "-Xmx1400m"), _env("GOMEMLIMIT", "1400MiB")]  # fmt: skip
    pod = _pod("2Gi", env)
    strict = make_config(thresholds={"jvm_heap_ratio": 0.5, "node_heap_ratio": 0.6,
                                     "go_memlimit_ratio": 0.65})  # fmt: skip
    for rule in (GO_HEADROOM, JVM_HEADROOM, NODE_HEADROOM):
        assert admit(policies()[rule], pod) is True, rule  # 1400/2048 = 0.68 < 0.75, < 0.9
        assert admit(policies(strict)[rule], pod) is False, rule
        assert bool(findings(yaml.safe_dump(pod), rule, strict)), rule
    assert "* 20 > 13 *" in str(policies(strict)[GO_HEADROOM]["spec"])  # 0.65 = 13/20, exact


# ---------------------------------------------------------------- --target kyverno


def test_kyverno_policies_fit_the_validatingpolicy_crd():
    """Every ValidatingPolicy validates against the v1 openAPIV3Schema of Kyverno 1.17.0's
    published CRD (tests/data/crds, the first release serving v1), with no field the API
    server would prune; a misspelt field is caught."""
    from report_schemas import CRDS, pruned_fields

    crd = yaml.safe_load((CRDS / "policies.kyverno.io_validatingpolicies.yaml").read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = v1["schema"]["openAPIV3Schema"]
    objects, _ = export_kyverno(make_config(namespace_modes={"dev": "warn"}))
    assert {o["apiVersion"] for o in objects} == {"policies.kyverno.io/v1"}
    for obj in objects:
        jsonschema.Draft7Validator(schema).validate(obj)
        assert pruned_fields(obj, schema) == [], obj["metadata"]["name"]
    wrong = copy.deepcopy(objects[0])
    wrong["spec"]["validationAction"] = ["Deny"]
    assert pruned_fields(wrong, schema) == [".spec.validationAction"]
    wrong = copy.deepcopy(objects[0])
    wrong["spec"]["validationActions"] = ["Block"]
    with pytest.raises(jsonschema.ValidationError, match="Block"):
        jsonschema.Draft7Validator(schema).validate(wrong)


def test_kyverno_policies_carry_the_vap_cel_and_the_bindings_selectors():
    config = make_config(mode="enforce", namespace_modes={"dev": "warn", "legacy": "audit"})
    vap, vap_left = export_vap(config)
    kyverno, kyverno_left = export_kyverno(config)
    assert kyverno_left == vap_left
    by_name = {o["metadata"]["name"]: o["spec"] for o in kyverno}
    bindings = [o for o in vap if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    # one ValidatingPolicy per binding, its action and selectors in matchConstraints
    assert sorted(by_name) == sorted(b["metadata"]["name"] for b in bindings)
    for binding in bindings:
        spec = by_name[binding["metadata"]["name"]]
        (policy,) = [o for o in vap if o["metadata"]["name"] == binding["spec"]["policyName"]]
        assert spec["validationActions"] == binding["spec"]["validationActions"]
        for field in ("matchConditions", "variables", "validations", "failurePolicy"):
            assert spec[field] == policy["spec"][field]
        match = spec["matchConstraints"]
        assert match["resourceRules"] == policy["spec"]["matchConstraints"]["resourceRules"]
        for selector in ("namespaceSelector", "objectSelector"):
            assert match.get(selector) == binding["spec"].get("matchResources", {}).get(selector)
        assert spec["evaluation"] == {"background": {"enabled": False}}
        assert spec["autogen"] == {"podControllers": {"controllers": []}}
    deny = by_name["oomguard-best-effort-pod-deny"]
    assert deny["matchConstraints"]["namespaceSelector"] == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
         "values": ["dev", "legacy"]}]}  # fmt: skip
    # the CEL is the tested one: a BestEffort Pod fails it
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]}}  # fmt: skip
    assert admit({"spec": deny}, bare) is False


def test_export_kyverno_command(run_oomguard):
    done = run_oomguard("export", "--target", "kyverno")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# oomguard export --target kyverno: Kyverno ValidatingPolicies")
    assert "# (policies.kyverno.io/v1, Kyverno 1.17+)" in done.stdout
    assert "#   container-oomkilled: needs the pods' status" in done.stdout
    documents = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert {d["kind"] for d in documents} == {"ValidatingPolicy"}
    assert len(documents) == 13  # default config: enforce, one action per rule
