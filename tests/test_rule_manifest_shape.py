"""Object shapes: every workload kind, List wrappers, CronJob templates, init containers,
sidecars, ephemeral containers, pod-level resources, and wrong types (manifest-invalid)."""

from __future__ import annotations

import json

import pytest
from helpers import apply_fix, findings, none_of, one, pod, workload_object

ML = "memory-limit-missing"
INVALID = "manifest-invalid"
EXCEEDS = "jvm-heap-exceeds-limit"
BAD_CONTAINER = "{name: app, image: x, command: [java, -Xmx2g, -jar, a.jar], resources: {limits: {memory: 2Gi}}}"  # noqa: E501

TEMPLATE = "template:\n  spec:\n    containers:\n    - " + BAD_CONTAINER


def indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


KINDS = {
    "Deployment": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "StatefulSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "DaemonSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "ReplicaSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "ReplicationController": ("v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "Job": ("batch/v1", "spec:\n" + indent(TEMPLATE, 2), ("spec", "template", "spec")),
    "CronJob": (
        "batch/v1",
        "spec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n" + indent(TEMPLATE, 6),
        ("spec", "jobTemplate", "spec", "template", "spec"),
    ),
    "PodTemplate": ("v1", TEMPLATE, ("template", "spec")),
    "Pod": ("v1", "spec:\n  containers:\n  - " + BAD_CONTAINER, ("spec",)),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_workload_kind_is_checked_at_its_pod_spec(kind):
    api, body, pod_path = KINDS[kind]
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: w, namespace: ns}}\n{body}\n"
    finding = one(text, EXCEEDS)
    assert (finding.kind, finding.namespace, finding.name) == (kind, "ns", "w")
    assert finding.path == (*pod_path, "containers", 0, "command", 1)
    patch, _ = apply_fix(workload_object(text), [finding])
    assert patch[0]["path"] == "/" + "/".join(map(str, finding.path))


@pytest.mark.parametrize(
    "text",
    ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}",
     "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}",
     "name: not-kubernetes\nsteps: [a, b]",
     "apiVersion: example.com/v1\nkind: Rollout\nmetadata: {name: r}\nspec: {}"],
)  # fmt: skip
def test_other_objects_are_skipped(text):
    assert findings(text) == []


def test_list_items_get_an_items_prefix():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec:\n    containers:\n"
        "    - " + BAD_CONTAINER + "\n"
    )
    finding = one(text, EXCEEDS)
    assert finding.path == ("items", 1, "spec", "containers", 0, "command", 1)
    assert finding.fix[0]["path"] == ("items", 1, "spec", "containers", 0, "command", 1)
    assert finding.name == "a"


def test_typed_lists_and_cronjob_in_a_list():
    text = (
        "apiVersion: batch/v1\nkind: CronJobList\nitems:\n"
        "- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {name: nightly}\n  spec:\n"
        "    jobTemplate:\n      spec:\n        template:\n          spec:\n"
        "            containers:\n            - {name: job, image: x}\n"
    )
    finding = one(text, ML)
    assert finding.path == ("items", 0, "spec", "jobTemplate", "spec", "template", "spec",
                            "containers", 0)  # fmt: skip
    assert finding.container == "job"


def test_ephemeral_containers_are_ignored():
    text = pod(
        "{name: app, image: x, resources: {limits: {memory: 1Gi}}}",
        pod_spec="ephemeralContainers: [{name: debug, image: busybox}]",
    )
    assert [f.container for f in findings(text) if f.rule == ML] == []


def test_pod_level_limit_counts_for_containers_without_one():
    text = pod(
        "{name: a, image: x}",
        "{name: b, image: x, resources: {limits: {memory: 1Gi}}}",
        pod_spec="resources: {limits: {memory: 2Gi}}",
    )
    none_of(text, ML)
    none_of(text, "memory-request-missing")


def test_one_finding_per_container_not_per_controller():
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - {name: a, image: x}\n      - {name: b, image: x}\n"
    )
    assert [f.container for f in findings(text, ML)] == ["a", "b"]


@pytest.mark.parametrize(
    ("spec", "message", "path"),
    [
        ('containers: [{name: app, image: x, resources: "abc"}]',
         "container 'app' resources must be a mapping, not string",
         ("spec", "containers", 0, "resources")),
        ("containers: [{name: app, image: x, args: [--port, 8080]}]",
         "args[1] must be a string, not number", ("spec", "containers", 0, "args", 1)),
        ("containers: {app: {image: x}}", "containers must be a list, not mapping",
         ("spec", "containers")),
        ("containers: [{name: app, image: x, env: [{name: A, value: 1}]}]",
         "env A value must be a string, not number", ("spec", "containers", 0, "env", 0, "value")),
        ("containers: [{name: 7, image: x}]", "containers[0].name must be a string, not number",
         ("spec", "containers", 0, "name")),
        ("containers: [{name: app, resources: {limits: {memory: [1Gi]}}}]",
         "container 'app' resources.limits.memory must be a string, not list",
         ("spec", "containers", 0, "resources", "limits", "memory")),
    ],
)  # fmt: skip
def test_wrong_types_are_manifest_invalid(spec, message, path):
    text = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {spec}\n"
    finding = one(text, INVALID)
    assert finding.severity == "error"
    assert finding.message == message
    assert finding.path == path


@pytest.mark.parametrize(
    ("name", "value"),
    [("DOTNET_GCHeapHardLimitPercent", "75"), ("DOTNET_GCHeapHardLimit", "0x20000000"),
     ("GOMEMLIMIT", "100"), ("NODE_OPTIONS", "5"), ("JAVA_TOOL_OPTIONS", "1")],
)  # fmt: skip
def test_an_env_value_of_another_type_is_invalid_and_judged_by_no_runtime_rule(name, value):
    """`value: 75` is no string: the API server rejects the object (core/v1 EnvVar.value is a
    string; a JSON number fails to decode), so the runtime never reads it. manifest-invalid
    says so; no rule judges it as an empty value (.NET said "'' is not hexadecimal"), and the
    variable is unresolved (info) for the rules that need it."""
    text = pod(
        f"{{name: app, image: x, env: [{{name: {name}, value: {value}}}], "
        "resources: {requests: {memory: 512Mi}, limits: {memory: 512Mi}}}"
    )
    errors = [(f.rule, f.message) for f in findings(text) if f.severity == "error"]
    assert errors == [(INVALID, f"env {name} value must be a string, not number")], errors
    unresolved = one(text, "runtime-flag-unresolved")
    assert unresolved.message == (
        f'env {name} in container "app" cannot be checked: the value is a number, not a string'
    )
    assert unresolved.severity == "info" and unresolved.container == "app"


def test_containers_null_is_invalid_and_other_rules_still_run():
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: null\n"
    assert one(text, INVALID).message == "containers must be a list, not null"


def test_a_bad_container_does_not_hide_the_others():
    text = pod('{name: bad, image: x, resources: "abc"}', "{name: good, image: x}")
    rules = {(f.rule, f.container) for f in findings(text)}
    assert (INVALID, "bad") in rules
    assert (ML, "good") in rules


def test_yaml_integer_limit_is_a_quantity():
    text = pod("{name: app, image: x, command: [java, -Xmx1g, -jar, a.jar], "
               "resources: {limits: {memory: 1073741824}}}")  # fmt: skip
    message = one(text, EXCEEDS).message
    assert message.startswith("-Xmx1g (command) is 100% of the 1073741824 memory")
    none_of(text, INVALID)


def test_items_of_a_typed_list_without_kind_take_the_lists_kind(tmp_path, run_oomguard):
    # A raw API list response (GET /apis/apps/v1/namespaces/shop/deployments) leaves kind and
    # apiVersion out of its items: each item is of the list's kind (DeploymentList ->
    # Deployment), as apimachinery's list types hold typed items.
    text = (
        "apiVersion: apps/v1\nkind: DeploymentList\nmetadata: {resourceVersion: '1'}\nitems:\n"
        "- metadata: {name: api, namespace: shop}\n  spec:\n    template:\n      spec:\n"
        "        containers:\n        - {name: app, image: x}\n"
        "- kind: ConfigMap\n  metadata: {name: c}\n"
    )
    finding = one(text, ML)
    assert (finding.kind, finding.namespace, finding.name, finding.container) == (
        "Deployment",
        "shop",
        "api",
        "app",
    )
    assert finding.path == ("items", 0, "spec", "template", "spec", "containers", 0)
    manifest = tmp_path / "list.yaml"
    manifest.write_text(text)
    result = run_oomguard("lint", "--format", "json", str(manifest))
    rules = [(f["rule"], f["kind"], f["name"]) for f in json.loads(result.stdout)["findings"]]
    assert (ML, "Deployment", "api") in rules
    assert manifest.read_text() == text  # reading the list does not change it
