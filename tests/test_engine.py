"""The engine: config overrides, severities, suppression annotations, fix policies."""

from __future__ import annotations

import pytest
from helpers import config, findings, pod, workload_object
from oomguard.rules import CATALOGUE, RULES
from oomguard.rules.config import DEFAULT_CONFIG, ConfigError, config_from_data
from oomguard.rules.engine import (
    check_object,
    invalid_document,
    lint_fix_enabled,
    mutation_enabled,
    with_overrides,
)
from oomguard.rules.model import Problem, pointer

BARE = "{name: app, image: x}"  # no resources: limit, request and BestEffort findings
TWO = pod(BARE, "{name: side, image: x}")


def rules_of(text: str, cfg=DEFAULT_CONFIG) -> list[tuple[str, str | None]]:
    return sorted((f.rule, f.container) for f in findings(text, cfg=cfg))


def annotated(annotations: str, where: str = "metadata") -> str:
    if where == "metadata":
        return TWO.replace(
            "metadata: {name: p}", f"metadata: {{name: p, annotations: {annotations}}}"
        )
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
        f"    metadata: {{annotations: {annotations}}}\n"
        "    spec:\n      containers:\n"
        "      - {name: app, image: x}\n      - {name: side, image: x}\n"
    )
    return deployment


def test_unsuppressed_baseline():
    assert rules_of(TWO) == [
        ("best-effort-pod", None),
        ("memory-limit-missing", "app"),
        ("memory-limit-missing", "side"),
        ("memory-request-missing", "app"),
        ("memory-request-missing", "side"),
    ]


def test_ignore_annotation_lists_rules_for_all_containers():
    text = annotated('{oomguard.io/ignore: "memory-request-missing, best-effort-pod"}')
    assert rules_of(text) == [("memory-limit-missing", "app"), ("memory-limit-missing", "side")]


def test_ignore_all():
    assert rules_of(annotated('{oomguard.io/ignore: "all"}')) == []


def test_ignore_one_container():
    text = annotated('{oomguard.io/ignore.side: "memory-limit-missing,memory-request-missing"}')
    assert rules_of(text) == [
        ("best-effort-pod", None),
        ("memory-limit-missing", "app"),
        ("memory-request-missing", "app"),
    ]
    assert rules_of(annotated('{oomguard.io/ignore.side: "all"}')) == [
        ("best-effort-pod", None),
        ("memory-limit-missing", "app"),
        ("memory-request-missing", "app"),
    ]


def test_pod_template_annotations_count_too():
    text = annotated(
        "{oomguard.io/ignore.app: all, oomguard.io/ignore: best-effort-pod}", "template"
    )
    assert rules_of(text) == [
        ("memory-limit-missing", "side"),
        ("memory-request-missing", "side"),
    ]


def test_unknown_rule_names_suppress_nothing_and_are_reported():
    # A typo must not pass for a suppression: it is a manifest-invalid warning naming it.
    text = annotated('{oomguard.io/ignore: "memory-limit-missing, no-such-rule"}')
    found = findings(text)
    invalid = [f for f in found if f.rule == "manifest-invalid"]
    assert [(f.severity, f.container, f.path) for f in invalid] == [
        ("warning", None, ("metadata", "annotations", "oomguard.io/ignore"))
    ]
    assert invalid[0].message == (
        "annotation oomguard.io/ignore names 'no-such-rule', which is not an oomguard rule, "
        "so it suppresses nothing (`oomguard rules` lists them)"
    )
    assert sorted((f.rule, f.container) for f in found if f.rule != "manifest-invalid") == [
        ("best-effort-pod", None),
        ("memory-request-missing", "app"),
        ("memory-request-missing", "side"),
    ]
    # per container, on a pod template, and with a configured severity
    text = annotated('{oomguard.io/ignore.side: "memory-limit-mising"}', "template")
    invalid = [f for f in findings(text) if f.rule == "manifest-invalid"]
    assert [(f.severity, f.path[-1]) for f in invalid] == [("warning", "oomguard.io/ignore.side")]
    assert invalid[0].path[:3] == ("spec", "template", "metadata")
    cfg = config(rules={"manifest-invalid": {"severity": "error"}})
    assert [f.severity for f in findings(text, "manifest-invalid", cfg)] == ["error"]
    # not reported when annotations are not honoured, or when manifest-invalid is ignored
    assert findings(text, "manifest-invalid", config(honor_ignore_annotations=False)) == []
    text = annotated('{oomguard.io/ignore: "manifest-invalid,typo"}')
    assert findings(text, "manifest-invalid") == []


def test_non_string_ignore_values_are_manifest_invalid():
    found = findings(annotated("{oomguard.io/ignore: 1}"))
    assert [(f.rule, f.message) for f in found if f.rule == "manifest-invalid"] == [
        ("manifest-invalid", "annotation oomguard.io/ignore must be a string, not number")
    ]
    assert sorted((f.rule, f.container) for f in found if f.rule != "manifest-invalid") == (
        rules_of(TWO)
    )


def test_object_and_template_annotations_add_up():
    # the Deployment's own annotation and its pod template's: both suppress (before, the
    # template's replaced the object's when both set oomguard.io/ignore)
    text = annotated('{oomguard.io/ignore: "memory-request-missing"}', "template").replace(
        "metadata: {name: d}",
        'metadata: {name: d, annotations: {oomguard.io/ignore: "best-effort-pod"}}',
    )
    assert rules_of(text) == [("memory-limit-missing", "app"), ("memory-limit-missing", "side")]


def test_annotations_can_be_ignored_by_config_or_caller():
    text = annotated('{oomguard.io/ignore: "all"}')
    assert rules_of(text, config(honor_ignore_annotations=False)) == rules_of(TWO)
    obj = workload_object(text)
    assert check_object(obj, DEFAULT_CONFIG, honor_ignore=False).findings != []


def test_severity_override():
    cfg = config(rules={"memory-request-missing": {"severity": "error"}})
    severities = {f.rule: f.severity for f in findings(TWO, cfg=cfg)}
    assert severities["memory-request-missing"] == "error"
    assert severities["memory-limit-missing"] == "error"
    cfg = config(rules={"qos-not-guaranteed": {"severity": "error"}})
    text = pod("{name: a, image: x, resources: {limits: {memory: 1Gi}}}")
    assert [(f.rule, f.severity) for f in findings(text, cfg=cfg)] == [
        ("qos-not-guaranteed", "error")
    ]


def test_disable_in_config_and_on_the_command_line():
    cfg = config(rules={"memory-request-missing": {"enabled": False}})
    assert "memory-request-missing" not in {f.rule for f in findings(TWO, cfg=cfg)}
    cfg = with_overrides(DEFAULT_CONFIG, enable=[], disable=["best-effort-pod"])
    assert "best-effort-pod" not in {f.rule for f in findings(TWO, cfg=cfg)}
    cfg = with_overrides(cfg, enable=["best-effort-pod"], disable=[])
    assert "best-effort-pod" in {f.rule for f in findings(TWO, cfg=cfg)}


def test_disabling_every_rule_yields_nothing():
    cfg = with_overrides(DEFAULT_CONFIG, enable=[], disable=[r.ID for r in CATALOGUE])
    assert findings(TWO, cfg=cfg) == []


def test_findings_name_the_object():
    text = TWO.replace("metadata: {name: p}", "metadata: {name: p, namespace: shop}")
    finding = findings(text, "memory-limit-missing")[0]
    assert (finding.kind, finding.namespace, finding.name) == ("Pod", "shop", "p")
    assert finding.object_ref == "Pod/shop/p"


def test_prefix_applies_to_paths_and_fixes():
    cfg = config(defaults={"memory_limit": "1Gi"})
    result = check_object(workload_object(pod(BARE)), cfg, prefix=("items", 3))
    finding = next(f for f in result.findings if f.rule == "memory-limit-missing")
    assert finding.path == ("items", 3, "spec", "containers", 0)
    assert finding.fix[0]["path"] == ("items", 3, "spec", "containers", 0, "resources", "limits",
                                      "memory")  # fmt: skip


def test_non_workloads_are_not_checked():
    result = check_object({"kind": "Service", "metadata": {"name": "s"}}, DEFAULT_CONFIG)
    assert (result.checked, result.findings, result.crashes) == (False, [], [])
    assert check_object(["not", "an", "object"], DEFAULT_CONFIG).checked is False


def test_fix_policies():
    assert lint_fix_enabled("jvm-heap-exceeds-limit", DEFAULT_CONFIG)  # rewrites: on
    assert not lint_fix_enabled("memory-limit-missing", DEFAULT_CONFIG)  # adds: need defaults
    assert lint_fix_enabled("memory-limit-missing", config(defaults={"memory_limit": "1Gi"}))
    assert not lint_fix_enabled("runtime-heap-unset", config(defaults={"memory_limit": "1Gi"}))
    only = config(fix={"enable": ["runtime-heap-unset"]})
    assert lint_fix_enabled("runtime-heap-unset", only)
    assert not lint_fix_enabled("jvm-heap-exceeds-limit", only)
    cfg = config(mutate=["jvm-heap-exceeds-limit", "memory-quantity-millibytes"])
    assert mutation_enabled("jvm-heap-exceeds-limit", cfg)
    assert not mutation_enabled("memory-quantity-millibytes", cfg)  # lint only
    assert not mutation_enabled("go-memlimit-exceeds-limit", cfg)


def test_invalid_document_finding():
    finding = invalid_document("bad YAML", file="x.yaml", line=3, column=5)
    assert (finding.rule, finding.severity, finding.line, finding.column) == (
        "manifest-invalid", "error", 3, 5
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "fragment"),
    [({"rules": {"no-such-rule": {"severity": "error"}}}, "no-such-rule"),
     ({"rules": {"qos-not-guaranteed": {"severity": "fatal"}}}, "qos-not-guaranteed"),
     ({"thresholds": {"min_limit": "16MB"}}, "min_limit"),
     ({"defaults": {"memory_limit": "lots"}}, "memory_limit"),
     # both defaults land on one container in one fix round; the API server would reject
     # it (k8s pkg/apis/core/validation ValidateResourceRequirements: request <= limit)
     ({"defaults": {"memory_request": "2Gi", "memory_limit": "1Gi"}},
      r"defaults.memory_request \(2Gi\) is above defaults.memory_limit \(1Gi\)"),
     ({"bogus": 1}, "bogus")],
)  # fmt: skip
def test_bad_config_names_the_key(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        config_from_data(data)


def test_pointer_escaping():
    assert pointer(("metadata", "annotations", "oomguard.io/ignore")) == (
        "/metadata/annotations/oomguard.io~1ignore"
    )
    assert pointer(("a~b", 0, "-")) == "/a~0b/0/-"


def test_checking_an_object_leaves_no_reference_cycles():
    # The views, their containers and the settings rules work out about them point at each
    # other; check_object breaks every such link, so that reference counting frees an object
    # at once (lint memory follows the largest file, and the cyclic GC had ~85k objects to
    # find per collection on the benchmark input).
    import gc

    import yaml

    obj = yaml.safe_load(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
        "    spec:\n      containers:\n"
        "      - name: app\n        image: eclipse-temurin:21\n"
        "        command: [sh, -c, 'exec java $JAVA_OPTS -jar app.jar']\n"
        "        env:\n        - {name: JAVA_OPTS, value: -Xmx2g}\n"
        "        - {name: GOMEMLIMIT, value: 1GiB}\n"
        "        - {name: NODE_OPTIONS, value: --max-old-space-size=3000}\n"
        "        resources: {limits: {memory: 1Gi}}\n"
        "      - {name: side, image: x}\n"
    )
    gc.collect()
    gc.disable()
    try:
        evaluation = check_object(obj, DEFAULT_CONFIG)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert {f.rule for f in evaluation.findings} >= {"jvm-heap-exceeds-limit"}
    assert unreachable == 0


def test_a_rule_failing_half_way_gives_a_crash_and_none_of_its_findings(monkeypatch):
    # rules/engine.py reads each rule's problems into a list before any is kept: a rule that
    # yields one problem and then raises is said as a crash, and its first problem is not
    # reported as if the rule had finished; the other rules' findings stay.
    def half_way(workload, config):
        yield Problem("first of two", ("spec",), "app")
        raise RuntimeError("half way")

    monkeypatch.setattr(RULES["memory-request-missing"], "check", half_way)
    result = check_object(workload_object(TWO), DEFAULT_CONFIG)
    assert result.crashes == ["rule memory-request-missing failed on Pod/p: RuntimeError: half way"]
    assert sorted((f.rule, f.container) for f in result.findings) == [
        ("best-effort-pod", None),
        ("memory-limit-missing", "app"),
        ("memory-limit-missing", "side"),
    ]


JOBSET = """
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {name: training%s}
spec:
  replicatedJobs:
    - name: driver
      template:
        spec:
          template:
            spec:
              containers:
                - {name: driver, image: x}
    - name: workers
      template:
        spec:
          template:
            metadata:
              annotations: {oomguard.io/ignore.worker: "memory-request-missing, typo-here"}
            spec:
              containers:
                - {name: worker, image: x}
"""


def test_ignore_annotations_of_one_pod_template_act_in_its_view_only():
    # An object with two pod templates is judged as two views; the engine looks for
    # suppressions only in a view with an oomguard.io/ignore* annotation (its own template's
    # or the object's), so each case is pinned here: the second template's per-container
    # entry suppresses there and its typo is said once; the first template is untouched; an
    # object annotation's typo is said once, in the first view.
    where = ("spec", "replicatedJobs", 1, "template", "spec", "template", "metadata")
    for extra, typos in (
        ("", []),
        (', annotations: {oomguard.io/ignore: "object-typo"}', [("metadata",)]),
    ):
        found = findings(JOBSET % extra)
        assert sorted(
            (f.rule, f.template, f.container) for f in found if f.rule != "best-effort-pod"
        ) == sorted(
            [
                ("memory-limit-missing", "replicated-job=driver", "driver"),
                ("memory-request-missing", "replicated-job=driver", "driver"),
                ("memory-limit-missing", "replicated-job=workers", "worker"),
                ("manifest-invalid", "replicated-job=workers", None),
            ]
            + [("manifest-invalid", "replicated-job=driver", None) for _ in typos]
        )
        invalid = {f.path[:-2]: f.message for f in found if f.rule == "manifest-invalid"}
        assert "'typo-here'" in invalid[where]
        for path in typos:
            assert "'object-typo'" in invalid[path]
