"""``--format policyreport`` / ``openreports``: reports validated against the published CRDs
(tests/data/crds), with ``oomguard audit`` against tests/fake_apiserver.py (a local server
answering with the Kubernetes API's JSON shapes: a contract test double, not a cluster)."""

from __future__ import annotations

import jsonschema
import pytest
import yaml
from fake_apiserver import FakeApiServer
from oomguard.linter.formats import REPORT_FORMATS, format_choices
from oomguard.linter.policy_report import OPEN_REPORTS, POLICY_REPORT, build_reports
from oomguard.rules.model import Finding
from report_schemas import validate_report
from test_audit import cluster_objects

HELP = "https://github.com/oomguard/oomguard/blob/main/docs/rules.md#"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """stdout/exit code of ``oomguard audit -A`` in both report formats; namespace
    ``secure`` answers 403."""
    import subprocess
    import sys

    runs = {}
    with FakeApiServer(cluster_objects(), forbidden={"/apis/apps/v1/namespaces/secure/"}) as api:
        kubeconfig = api.kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
        for fmt in ("policyreport", "openreports"):
            done = subprocess.run(
                [sys.executable, "-m", "oomguard", "audit", "--kubeconfig", kubeconfig, "-A"]
                + ["--format", fmt],
                capture_output=True,
                text=True,
                timeout=120,
            )
            runs[fmt] = (list(yaml.safe_load_all(done.stdout)), done.returncode, done.stderr)
    return runs


@pytest.mark.parametrize("fmt", ["policyreport", "openreports"])
def test_every_report_validates_against_its_crd(audited, fmt):
    reports, code, stderr = audited[fmt]
    assert code == 1  # error findings, as with every other format
    for report in reports:
        validate_report(report)
    kinds = {
        "policyreport": ("PolicyReport", "ClusterPolicyReport"),
        "openreports": ("Report", "ClusterReport"),
    }[fmt]
    # one per namespace audited in full, the cluster report last; none for the 403 namespace
    assert [(r["kind"], r["metadata"].get("namespace")) for r in reports] == [
        (kinds[0], "shop"),
        (kinds[0], "tools"),
        (kinds[1], None),
    ]
    assert "API error: namespace secure: 403" in stderr


def test_results_carry_mapping_numbers_and_help(audited):
    reports, _, _ = audited["policyreport"]
    shop = reports[0]
    assert shop["scope"] == {"apiVersion": "v1", "kind": "Namespace", "name": "shop"}
    results = {(r["resources"][0]["name"], r["rule"]): r for r in shop["results"]}
    assert sorted(results) == [
        ("nightly", "best-effort-pod"),
        ("nightly", "memory-limit-missing"),
        ("nightly", "memory-request-missing"),
        ("web", "container-oomkilled"),
        ("web", "jvm-heap-exceeds-limit"),
    ]
    heap = results[("web", "jvm-heap-exceeds-limit")]
    assert (heap["result"], heap["severity"], heap["scored"], heap["policy"]) == (
        "fail",
        "high",
        True,
        "jvm-heap-exceeds-limit",
    )
    assert heap["resources"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "namespace": "shop",
            "uid": "d1",
        }
    ]
    killed = results[("web", "container-oomkilled")]
    assert (killed["result"], killed["severity"], killed["scored"]) == ("warn", "medium", False)
    # pods web-7d9f-0 (5 restarts, finished 2026-11-25) and web-7d9f-2 (1, 2026-11-21)
    assert killed["properties"] == {
        "help": HELP + "container-oomkilled",
        "oomguardSeverity": "warning",
        "container": "app",
        "limit": "1Gi",
        "request": "1Gi",
        "limitRequestRatio": "1.00",
        "heap": "1Gi",
        "heapSetting": "-Xmx1g (command)",
        "heapShareOfLimit": "100%",
        "oomKills": "2",
        "lastOOMKill": "2026-11-25T10:00:00Z",
        "restartCount": "6",
        "explainedBy": "jvm-heap-exceeds-limit",
    }
    assert shop["summary"] == {"pass": 0, "fail": 3, "warn": 2, "error": 0, "skip": 0}


def test_heap_from_a_configmap_has_its_share_and_setting(audited):
    reports, _, _ = audited["openreports"]
    tools = reports[1]
    assert tools["source"] == "oomguard"
    (heap,) = [r for r in tools["results"] if r["rule"] == "jvm-heap-exceeds-limit"]
    assert heap["properties"]["heap"] == "2Gi"
    assert heap["properties"]["heapShareOfLimit"] == "100%"
    assert heap["properties"]["heapSetting"] == (
        '-XX:MaxRAMPercentage=100 (env JAVA_TOOL_OPTIONS from ConfigMap "jvm-flags" key '
        '"JAVA_TOOL_OPTIONS"), a heap of 2Gi'
    )
    assert "oomKills" not in heap["properties"]  # the StatefulSet has no pods here


def _finding(rule, severity, message, container="app", namespace="shop"):
    return Finding(rule, severity, message, kind="Deployment", namespace=namespace,
                   name="api", container=container)  # fmt: skip


def test_one_result_per_workload_container_rule_and_info_is_warn():
    findings = [
        _finding("jvm-heap-exceeds-limit", "error", "-Xmx2g is 200%"),
        _finding("jvm-heap-exceeds-limit", "error", "-XX:MaxRAMPercentage=100 is 100%"),
        _finding("jvm-heap-exceeds-limit", "error", "-Xmx3g is 300%", container="sidecar"),
        _finding("qos-not-guaranteed", "info", "the pod is Burstable", container=None),
    ]
    (report,) = build_reports(findings, POLICY_REPORT, now=1_700_000_000.5)
    validate_report(report)
    assert [(r["properties"].get("container"), r["message"]) for r in report["results"]] == [
        ("app", "-Xmx2g is 200%; -XX:MaxRAMPercentage=100 is 100%"),
        ("sidecar", "-Xmx3g is 300%"),
        (None, "the pod is Burstable"),
    ]
    info = report["results"][2]
    assert (info["result"], info["severity"], info["scored"]) == ("warn", "info", False)
    assert info["timestamp"] == {"seconds": 1_700_000_000, "nanos": 0}
    assert report["summary"] == {"pass": 0, "fail": 2, "warn": 1, "error": 0, "skip": 0}


def test_clean_namespace_gets_an_empty_report_and_lint_findings_no_namespace():
    reports = build_reports(
        [_finding("memory-limit-missing", "error", "no limit", namespace=None)],
        OPEN_REPORTS,
        namespaces=["quiet"],
    )
    assert [(r["kind"], r["metadata"].get("namespace"), len(r["results"])) for r in reports] == [
        ("Report", "quiet", 0),
        ("Report", None, 1),  # lint: no namespace written, applied where the objects go
    ]
    for report in reports:
        validate_report(report)


def test_the_validator_rejects_what_the_api_server_would():
    (report,) = build_reports([_finding("memory-limit-missing", "error", "x")], POLICY_REPORT)
    bad_severity = {**report, "results": [{**report["results"][0], "severity": "error"}]}
    with pytest.raises(jsonschema.ValidationError):
        validate_report(bad_severity)
    unknown = {**report, "results": [{**report["results"][0], "url": "https://x"}]}
    with pytest.raises(AssertionError, match=r"\.results\[0\]\.url"):
        validate_report(unknown)


def test_formats_are_declared_once(run_oomguard):
    assert "policyreport" in format_choices("audit") and "openreports" in format_choices("lint")
    for name, (module, *_) in REPORT_FORMATS.items():
        __import__(module)
        from oomguard.linter.output import FORMATS

        assert name in FORMATS, name
    bad = run_oomguard("audit", "--format", "kyverno")
    assert bad.returncode == 2 and "'policyreport'" in bad.stderr


def test_lint_policyreport(tmp_path, run_oomguard):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: dev}\n"
        "spec:\n  containers:\n    - {name: shell, image: busybox}\n"
    )
    done = run_oomguard("lint", "--format", "policyreport", str(manifest))
    (report,) = yaml.safe_load_all(done.stdout)
    validate_report(report)
    assert done.returncode == 1
    assert report["metadata"]["namespace"] == "dev"
    assert {r["rule"] for r in report["results"]} == {
        "memory-limit-missing",
        "memory-request-missing",
        "best-effort-pod",
    }
    # lint has no cluster: the manifest's apiVersion, no uid, no numbers
    assert report["results"][0]["resources"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "debug", "namespace": "dev"}
    ]
    assert not any("limit" in r["properties"] for r in report["results"])


def test_lint_keeps_two_objects_of_one_name_apart(tmp_path, run_oomguard):
    """An apps and an OpenKruise StatefulSet both named shop/db, in one file: two workloads,
    two results, each with its own apiVersion and message (they were one result with both
    messages joined, and no apiVersion)."""
    template = (
        "apiVersion: {api}\nkind: StatefulSet\nmetadata: {{name: db, namespace: shop}}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        "          image: eclipse-temurin:21-jre\n"
        "          env: [{{name: JAVA_TOOL_OPTIONS, value: -Xmx{heap}}}]\n"
        "          resources: {{requests: {{memory: 2Gi}}, limits: {{memory: 2Gi}}}}\n"
    )
    manifest = tmp_path / "sts.yaml"
    manifest.write_text(
        template.format(api="apps/v1", heap="2g")
        + "---\n"
        + template.format(api="apps.kruise.io/v1beta1", heap="3g")
    )
    done = run_oomguard("lint", "--format", "policyreport", str(manifest))
    assert done.returncode == 1, done.stderr
    (report,) = yaml.safe_load_all(done.stdout)
    validate_report(report)
    heaps = [
        (r["resources"][0]["apiVersion"], r["message"].split(" ", 1)[0])
        for r in report["results"]
        if r["rule"] == "jvm-heap-exceeds-limit"
    ]
    assert heaps == [("apps/v1", "-Xmx2g"), ("apps.kruise.io/v1beta1", "-Xmx3g")], report
    assert report["summary"]["fail"] == 2, report


def test_two_kinds_of_one_name_keep_their_own_numbers(tmp_path):
    """An apps StatefulSet and an OpenKruise StatefulSet both named db in one namespace share
    the audit's object label (shop/StatefulSet/db): each result still gets its own object's
    apiVersion, uid and limit."""
    from oomguard.kube import connect
    from oomguard.linter.audit import audit
    from oomguard.rules.config import DEFAULT_CONFIG

    def statefulset(api_version, uid, limit):
        container = {"name": "app", "image": "example/db:1",
                     "resources": {"limits": {"memory": limit}}}  # fmt: skip
        return {
            "kind": "StatefulSet",
            "apiVersion": api_version,
            "metadata": {"name": "db", "namespace": "shop", "uid": uid},
            "spec": {"template": {"spec": {"containers": [container]}}},
        }

    objects = [statefulset("apps/v1", "s-apps", "1Gi"),
               statefulset("apps.kruise.io/v1beta1", "s-kruise", "2Gi")]  # fmt: skip
    kruise = (("apps.kruise.io", ("v1beta1",), "StatefulSet", "statefulsets", True),)
    with FakeApiServer(objects, crds=kruise) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        result = audit(cluster, ["shop"], DEFAULT_CONFIG)
    (report,) = build_reports(
        result.findings, POLICY_REPORT, namespaces=result.audited, facts=result.facts
    )
    validate_report(report)
    limits = {
        (r["resources"][0]["apiVersion"], r["resources"][0]["uid"], r["properties"]["limit"])
        for r in report["results"]
        if r["rule"] == "qos-not-guaranteed"
    }
    assert limits == {("apps/v1", "s-apps", "1Gi"), ("apps.kruise.io/v1beta1", "s-kruise", "2Gi")}


def test_control_characters_from_a_manifest_are_escaped(tmp_path, run_oomguard):
    """A name with an escape sequence cannot drive the terminal of whoever reads the YAML."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        'apiVersion: v1\nkind: Pod\nmetadata: {name: "x\\e[2Jy", namespace: dev}\n'
        'spec:\n  containers:\n    - {name: "c\\e]0;owned\\a", image: busybox}\n'
    )
    done = run_oomguard("lint", "--format", "policyreport", str(manifest))
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    (report,) = yaml.safe_load_all(done.stdout)
    assert report["results"][0]["resources"][0]["name"] == "x\x1b[2Jy"  # the data is intact
