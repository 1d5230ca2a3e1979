"""``oomguard audit --format policyreport --apply``: reports written by server-side apply,
against tests/fake_apiserver.py (a local server answering with the Kubernetes API's JSON
shapes, with a one-manager server-side apply: a contract test double, not a cluster)."""

from __future__ import annotations

import copy

from fake_apiserver import FakeApiServer
from report_schemas import validate_report
from test_audit import cluster_objects

REPORT_CRDS = (
    ("wgpolicyk8s.io", ("v1alpha2",), "PolicyReport", "policyreports", True),
    ("wgpolicyk8s.io", ("v1alpha2",), "ClusterPolicyReport", "clusterpolicyreports", False),
    ("openreports.io", ("v1alpha1",), "Report", "reports", True),
    ("openreports.io", ("v1alpha1",), "ClusterReport", "clusterreports", False),
)
SHOP = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/oomguard"
TOOLS = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/tools/policyreports/oomguard"
CLUSTER = "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/oomguard"
FORBIDDEN = "/apis/apps/v1/namespaces/secure/"


def _audit(run_oomguard, server, tmp_path, *extra):
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    return run_oomguard(
        "audit", "--kubeconfig", kubeconfig, "-A", "--format", "policyreport", "--apply", *extra
    )


def test_apply_update_and_stale_removal(tmp_path, run_oomguard):
    objects = cluster_objects()
    with FakeApiServer(objects, forbidden={FORBIDDEN}, crds=REPORT_CRDS) as server:
        first = _audit(run_oomguard, server, tmp_path)
        applied = copy.deepcopy(server.applied)
        # the web Deployment gets a heap that fits: its result must go from the report
        web = next(
            o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web"
        )
        container = web["spec"]["template"]["spec"]["containers"][0]
        container["command"] = ["java", "-Xmx512m", "-jar", "app.jar"]
        second = _audit(run_oomguard, server, tmp_path)
        patches = [r for r in server.requests if r.startswith("PATCH ")]
    # the secure namespace could not be listed: exit 2, and no report written for it
    assert first.returncode == 2, first.stderr
    assert "API error: namespace secure: 403" in first.stderr
    assert first.stdout.splitlines() == [
        "applied PolicyReport shop/oomguard: 5 results",
        "applied PolicyReport tools/oomguard: 4 results",
        "applied ClusterPolicyReport oomguard: 0 results",
    ]
    assert sorted(applied) == sorted([SHOP, TOOLS, CLUSTER])
    for report in applied.values():
        validate_report(report)
        assert report["metadata"]["managedFields"] == [
            {"manager": "oomguard", "operation": "Apply"}
        ]
    assert all("?fieldManager=oomguard&force=true" in p for p in patches)
    rules = lambda report: sorted((r["resources"][0]["name"], r["rule"]) for r in report["results"])  # noqa: E731
    assert ("web", "jvm-heap-exceeds-limit") in rules(applied[SHOP])
    # second run: the same object updated in place, the fixed finding's result gone
    shop = server.applied[SHOP]
    assert shop["metadata"]["uid"] == applied[SHOP]["metadata"]["uid"]
    assert shop["metadata"]["resourceVersion"] != applied[SHOP]["metadata"]["resourceVersion"]
    assert ("web", "jvm-heap-exceeds-limit") not in rules(shop)
    assert ("nightly", "best-effort-pod") in rules(shop)
    assert second.returncode == 2 and "applied PolicyReport shop/oomguard" in second.stdout


def test_findings_alone_do_not_fail_an_applying_run(tmp_path, run_oomguard):
    objects = [o for o in cluster_objects() if o["metadata"]["namespace"] == "tools"]
    with FakeApiServer(objects, crds=REPORT_CRDS) as server:
        done = _audit(run_oomguard, server, tmp_path)
    assert done.returncode == 0, done.stderr  # the reports carry the findings
    assert "applied PolicyReport tools/oomguard: 4 results" in done.stdout


def test_missing_crd_and_forbidden_apply_are_said(tmp_path, run_oomguard):
    objects = [o for o in cluster_objects() if o["metadata"]["namespace"] == "tools"]
    with FakeApiServer(objects) as server:  # no report CRDs installed
        missing = _audit(run_oomguard, server, tmp_path)
    assert missing.returncode == 2
    assert (
        "oomguard: API error: applying PolicyReport tools/oomguard: 404 the server could not "
        "find /apis/wgpolicyk8s.io/v1alpha2/namespaces/tools/policyreports/oomguard "
        "(is the wgpolicyk8s.io CustomResourceDefinition installed?)"
    ) in missing.stderr
    with FakeApiServer(objects, crds=REPORT_CRDS, forbidden={TOOLS}) as server:
        forbidden = _audit(run_oomguard, server, tmp_path)
    assert forbidden.returncode == 2
    assert "API error: applying PolicyReport tools/oomguard: 403 forbidden" in forbidden.stderr
    assert "applied ClusterPolicyReport oomguard: 0 results" in forbidden.stdout


def test_apply_needs_a_report_format(tmp_path, run_oomguard):
    done = run_oomguard("audit", "--kubeconfig", str(tmp_path / "none"), "--apply")
    assert done.returncode == 2
    assert done.stderr == "oomguard: --apply needs --format openreports or policyreport\n"


def test_openreports_apply(tmp_path, run_oomguard):
    objects = [o for o in cluster_objects() if o["metadata"]["namespace"] == "tools"]
    with FakeApiServer(objects, crds=REPORT_CRDS) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        done = run_oomguard(
            "audit", "--kubeconfig", kubeconfig, "-n", "tools", "--format", "openreports", "--apply"
        )
        report = server.applied["/apis/openreports.io/v1alpha1/namespaces/tools/reports/oomguard"]
    assert done.returncode == 0, done.stderr
    validate_report(report)
    assert report["source"] == "oomguard" and len(report["results"]) == 4
