"""The workload-kind registry (rules/kinds.py): patterns with list and map wildcards, one view
per pod template, findings that name the template, config ``kinds:``, and objects of unknown
kinds that hold containers (workload-kind-unknown)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonpatch
import pytest
import yaml
from oomguard.rules.admission import Request, mutate, validate
from oomguard.rules.config import ConfigError, config_from_data
from oomguard.rules.engine import check_object
from oomguard.rules.kinds import REGISTRY, PatternError, Template, compile_pattern, expand

# A CRD the registry does not know, with a pod template per worker group (a list) and per
# replica type (a map); -Xmx2g at a 1Gi limit is over it (the JVM reserves the heap it is
# given: hotspot arguments.cpp, set_heap_size, takes -Xmx as MaxHeapSize as written).
WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata: {name: ray, namespace: ml}
spec:
  workerGroups:
    - groupName: cpu
      template:
        spec:
          containers:
            - name: worker
              image: example/w:1
              resources: {limits: {memory: 1Gi}, requests: {memory: 1Gi}}
    - groupName: gpu
      template:
        spec:
          containers:
            - name: worker
              image: example/w:1
              env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx2g"}]
              resources: {limits: {memory: 1Gi}, requests: {memory: 1Gi}}
  replicas:
    Master:
      template:
        spec:
          containers:
            - {name: main, image: example/m:1}
"""
KINDS_CONFIG = {
    "kinds": [
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "templates": [
                {
                    "path": "spec.workerGroups[*].template.spec",
                    "label": "worker-group",
                    "name_field": "groupName",
                },
                {"path": "spec.replicas.*.template.spec", "label": "replica"},
            ],
        }
    ]
}


def test_patterns_expand_over_lists_and_maps():
    obj = yaml.safe_load(WIDGET)
    workers = Template("spec.workerGroups[*].template.spec", "worker-group", "groupName")
    assert [path for path, _, _ in expand(obj, workers.steps)] == [
        ("spec", "workerGroups", 0, "template", "spec"),
        ("spec", "workerGroups", 1, "template", "spec"),
    ]
    replicas = Template("spec.replicas.*.template.spec", "replica")
    assert [path for path, _, _ in expand(obj, replicas.steps)] == [
        ("spec", "replicas", "Master", "template", "spec")
    ]


@pytest.mark.parametrize("bad", ["", "spec..x", "spec.[*]", "spec.a[0]", "spec.a b"])
def test_a_bad_pattern_is_refused(bad):
    with pytest.raises(PatternError):
        compile_pattern(bad)


def test_registry_is_keyed_by_group_not_bare_kind():
    knative = {"apiVersion": "serving.knative.dev/v1", "kind": "Deployment"}
    assert REGISTRY.lookup(knative) is None
    assert REGISTRY.lookup({"apiVersion": "extensions/v1beta1", "kind": "DaemonSet"}).group == (
        "apps"
    )
    assert REGISTRY.lookup({"kind": "Pod"}).defaults_requests is True


def test_config_kind_is_judged_per_template_with_labels_and_real_fix_paths():
    config = config_from_data(KINDS_CONFIG)
    obj = yaml.safe_load(WIDGET)
    evaluation = check_object(obj, config)
    assert evaluation.checked
    heap = [f for f in evaluation.findings if f.rule == "jvm-heap-exceeds-limit"]
    assert [(f.template, f.container) for f in heap] == [("worker-group=gpu", "worker")]
    assert "200% of the 1Gi memory limit" in heap[0].message
    # the Master replica has no resources: BestEffort, judged in its own template
    best_effort = [f for f in evaluation.findings if f.rule == "best-effort-pod"]
    assert [f.template for f in best_effort] == ["replica=Master"]
    # the fix's path is a real JSON pointer into the object: applying it removes the finding
    patch = jsonpatch.JsonPatch(
        [{**op, "path": "/" + "/".join(map(str, op["path"]))} for op in heap[0].fix]
    )
    fixed = patch.apply(obj)
    again = check_object(fixed, config)
    assert not [f for f in again.findings if f.rule == "jvm-heap-exceeds-limit"]


def test_webhook_reviews_a_config_kind_and_its_mutation_applies():
    config = config_from_data({**KINDS_CONFIG, "mutate": ["jvm-heap-exceeds-limit"]})
    obj = yaml.safe_load(WIDGET)
    decision = validate(Request("CREATE", obj, namespace="ml"), config)
    assert not decision.allowed and "jvm-heap-exceeds-limit" in decision.rules
    patched = mutate(Request("CREATE", obj, namespace="ml"), config)
    fixed = jsonpatch.JsonPatch(list(patched.patch)).apply(obj)
    *fixes, mark = patched.patch  # the last operation marks the object (issue 15)
    assert fixes and all(op["path"].startswith("/spec/workerGroups/1/") for op in fixes)
    assert mark["value"] == {"oomguard.io/mutated": "jvm-heap-exceeds-limit"}
    # re-checked: the heap error is gone; the Master replica's own errors remain
    again = validate(Request("CREATE", fixed, namespace="ml"), config)
    errors = {(f.rule, f.template) for f in again.findings if f.severity == "error"}
    assert errors == {
        ("memory-limit-missing", "replica=Master"),
        ("best-effort-pod", "replica=Master"),
    }


def test_without_config_the_kind_is_named_not_skipped():
    evaluation = check_object(yaml.safe_load(WIDGET), config_from_data({}))
    assert not evaluation.checked and evaluation.unknown_kind
    (finding,) = evaluation.findings
    assert finding.rule == "workload-kind-unknown" and finding.severity == "info"
    assert finding.path == ("spec", "workerGroups", 0, "template", "spec", "containers")
    assert "Widget (example.com/v1)" in finding.message
    assert "path: spec.workerGroups[*].template.spec" in finding.message


def test_a_core_kind_without_containers_is_not_named():
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}
    assert check_object(service, config_from_data({})).findings == []


def test_a_bad_config_path_is_a_one_line_error():
    data = {
        "kinds": [{"apiVersion": "example.com/v1", "kind": "W", "templates": [{"path": "a..b"}]}]
    }
    with pytest.raises(ConfigError) as error:
        config_from_data(data)
    assert "\n" not in str(error.value) and "kinds.0.templates.0.path" in str(error.value)


def test_lint_cli_counts_unknown_kinds_in_the_summary(run_oomguard, tmp_path):
    (tmp_path / "w.yaml").write_text(WIDGET)
    result = run_oomguard("lint", str(tmp_path / "w.yaml"))
    assert result.returncode == 0
    assert (
        "1 object of an unknown kind looks like a workload (see --min-severity info)"
        in result.stdout
    )
    (tmp_path / ".oomguard.yaml").write_text(yaml.safe_dump(KINDS_CONFIG))
    result = run_oomguard("lint", "w.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "[Widget/ml/ray worker-group=gpu container=worker]" in result.stdout.replace(
        "Widget/ray", "Widget/ml/ray"
    )


def test_an_admission_review_is_an_envelope_not_an_unknown_workload():
    """examples/admission/ holds an AdmissionReview carrying a Deployment: lint must not
    ask to register AdmissionReview as a workload kind."""
    review = json.loads(
        (
            Path(__file__).resolve().parent.parent
            / "examples"
            / "admission"
            / "deployment-deny.json"
        ).read_text()
    )
    evaluation = check_object(review, config_from_data({}))
    assert evaluation.findings == [] and not evaluation.unknown_kind
    # the same shape under another kind is still named
    review["kind"] = "Envelope"
    (finding,) = check_object(review, config_from_data({})).findings
    assert finding.rule == "workload-kind-unknown"
