"""API contract tests for ``oomguard audit`` against a local server that answers with the
Kubernetes API's JSON shapes (tests/fake_apiserver.py). Not end-to-end: there is no API
server on these machines."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from fake_apiserver import FakeApiServer
from oomguard import kube
from oomguard.kube import connect
from oomguard.linter.audit import audit
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG


def _meta(name, ns, uid, owner=None):
    metadata = {"name": name, "namespace": ns, "uid": uid}
    if owner:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": owner[0],
                "name": owner[1],
                "uid": owner[2],
                "controller": True,
            }
        ]
    return metadata


POD_SPEC = {
    "containers": [
        {
            "name": "app",
            "image": "eclipse-temurin:21-jre",
            "command": ["java", "-Xmx1g", "-jar", "app.jar"],
            "resources": {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
        }
    ],
}


def _pod(name, ns, uid, owner, oom_restarts=None):
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta(name, ns, uid, owner),
        "spec": copy.deepcopy(POD_SPEC),
        "status": {"phase": "Running"},
    }
    if oom_restarts is not None:
        pod["status"]["containerStatuses"] = [
            {
                "name": "app",
                "ready": True,
                "restartCount": oom_restarts,
                "lastState": {
                    "terminated": {
                        "reason": "OOMKilled",
                        "exitCode": 137,
                        "finishedAt": f"2026-11-2{oom_restarts}T10:00:00Z",
                    }
                },
                "state": {"running": {"startedAt": "2026-11-22T10:00:00Z"}},
            }
        ]
    return pod


def cluster_objects():
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _meta("web", "shop", "d1"),
        "spec": {"replicas": 3, "template": {"spec": copy.deepcopy(POD_SPEC)}},
    }
    replicaset = {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": _meta("web-7d9f", "shop", "rs1", ("Deployment", "web", "d1")),
        "spec": {"replicas": 3, "template": {"spec": copy.deepcopy(POD_SPEC)}},
    }
    pods = [
        _pod(f"web-7d9f-{i}", "shop", f"p{i}", ("ReplicaSet", "web-7d9f", "rs1"), restarts)
        for i, restarts in enumerate((5, None, 1))
    ]
    cronjob = {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": _meta("nightly", "shop", "cj1"),
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "report", "image": "example/report:1"}],
                        }
                    }
                }
            },
        },
    }
    job = {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": _meta("nightly-2911", "shop", "j1", ("CronJob", "nightly", "cj1")),
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "report", "image": "example/report:1"}],
                }
            }
        },
    }
    job_pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta("nightly-2911-x", "shop", "jp1", ("Job", "nightly-2911", "j1")),
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "report", "image": "example/report:1"}],
        },
    }
    bare = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta("debug", "tools", "b1"),
        "spec": {"containers": [{"name": "shell", "image": "busybox:1.36"}]},
    }
    configmap = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": _meta("jvm-flags", "tools", "cm1"),
        "data": {"JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=100"},
    }
    from_configmap = {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": _meta("search", "tools", "s1"),
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "search",
                            "image": "eclipse-temurin:21-jre",
                            "env": [
                                {
                                    "name": "JAVA_TOOL_OPTIONS",
                                    "valueFrom": {
                                        "configMapKeyRef": {
                                            "name": "jvm-flags",
                                            "key": "JAVA_TOOL_OPTIONS",
                                        }
                                    },
                                }
                            ],
                            "resources": {
                                "requests": {"cpu": "1", "memory": "2Gi"},
                                "limits": {"cpu": "1", "memory": "2Gi"},
                            },
                        }
                    ]
                }
            }
        },
    }
    locked = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _meta("vault", "secure", "v1"),
        "spec": {"template": {"spec": {"containers": [{"name": "v", "image": "vault"}]}}},
    }
    return [
        deployment,
        replicaset,
        *pods,
        cronjob,
        job,
        job_pod,
        bare,
        configmap,
        from_configmap,
        locked,
    ]


@pytest.fixture
def server():
    with FakeApiServer(cluster_objects(), forbidden={"/apis/apps/v1/namespaces/secure/"}) as api:
        yield api


def _run(server, tmp_path, namespaces, monkeypatch, page_size=2):
    monkeypatch.setattr(kube, "PAGE_SIZE", page_size)
    cluster, default = connect(server.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
    return audit(cluster, namespaces, DEFAULT_CONFIG), default


def test_pagination_reaches_every_object_and_namespace(server, tmp_path, monkeypatch):
    result, default = _run(server, tmp_path, None, monkeypatch)
    assert default == "default"
    assert result.namespaces == 2  # shop, tools; secure is forbidden
    pod_pages = [p for p in server.requests if p.startswith("/api/v1/namespaces/shop/pods")]
    # 4 pods, 2 per page: the continue token is followed to the last page
    assert pod_pages == [
        "/api/v1/namespaces/shop/pods?limit=2",
        "/api/v1/namespaces/shop/pods?limit=2&continue=2",
    ]
    (killed,) = [f for f in result.findings if f.rule == "container-oomkilled"]
    assert "in 2 pods" in killed.message  # web-7d9f-0 on page 1, web-7d9f-2 on page 2
    # Deployment web, CronJob nightly, Pod debug, StatefulSet search
    assert result.objects == 4


def test_controller_deduplication_and_oomkilled_history(server, tmp_path, monkeypatch):
    result, _ = _run(server, tmp_path, ["shop"], monkeypatch)
    by_rule = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    assert {f.name for f in result.findings} == {"web", "nightly"}
    (heap,) = by_rule["jvm-heap-exceeds-limit"]  # once for 3 replicas, through the Deployment
    assert (heap.kind, heap.name, heap.container) == ("Deployment", "web", "app")
    (killed,) = by_rule["container-oomkilled"]
    assert (killed.kind, killed.name, killed.container, killed.severity) == (
        "Deployment",
        "web",
        "app",
        "warning",
    )
    assert killed.message == (
        'container "app" was OOMKilled (exit 137) at its 1Gi limit in 2 pods, '
        "last at 2026-11-25T10:00:00Z, 6 restarts; explained by jvm-heap-exceeds-limit"
    )
    assert killed.file == "shop/Deployment/web"
    assert [f.name for f in by_rule["best-effort-pod"]] == ["nightly"]  # once, via the CronJob


def test_configmap_flags_resolve_through_the_api(server, tmp_path, monkeypatch):
    result, _ = _run(server, tmp_path, ["tools"], monkeypatch)
    (heap,) = [f for f in result.findings if f.rule == "jvm-heap-exceeds-limit"]
    assert heap.name == "search" and heap.container == "search"
    assert heap.message.startswith(
        '-XX:MaxRAMPercentage=100 (env JAVA_TOOL_OPTIONS from ConfigMap "jvm-flags" key '
        '"JAVA_TOOL_OPTIONS"), a heap of 2Gi, is 100% of the 2Gi memory limit'
    )
    assert "/api/v1/namespaces/tools/configmaps/jvm-flags" in server.requests


def test_forbidden_namespace_is_reported_and_the_audit_goes_on(server, tmp_path, monkeypatch):
    result, _ = _run(server, tmp_path, ["secure", "tools"], monkeypatch)
    assert len(result.api_errors) == 1
    assert result.api_errors[0].startswith("namespace secure: 403 forbidden: cannot list")
    assert {f.name for f in result.findings} == {"debug", "search"}


def test_hanging_api_server_times_out_per_namespace(tmp_path, monkeypatch):
    objects = cluster_objects()
    with FakeApiServer(objects, hang={"/apis/apps/v1/namespaces/shop/"}) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=0.5)
        result = audit(cluster, ["shop", "tools"], DEFAULT_CONFIG)
    assert len(result.api_errors) == 1 and result.api_errors[0].startswith("namespace shop: ")
    assert result.api_errors[0] == "namespace shop: API server timed out after 500 ms"
    assert {f.name for f in result.findings} == {"debug", "search"}


def test_audit_prints_what_lint_prints_for_the_same_objects(server, tmp_path, monkeypatch):
    result, _ = _run(server, tmp_path, ["tools"], monkeypatch)
    manifests = tmp_path / "tools.yaml"
    manifests.write_text(
        yaml.safe_dump_all([o for o in cluster_objects() if o["metadata"]["namespace"] == "tools"])
    )
    linted = lint_paths([str(manifests)], DEFAULT_CONFIG)
    key = lambda f: (f.rule, f.kind, f.name, f.container, f.message)  # noqa: E731
    assert sorted(map(key, result.findings)) == sorted(map(key, linted.findings))


def test_audit_command_end_to_end_output(server, tmp_path, run_oomguard):
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", namespace="tools")
    result = run_oomguard("audit", "--kubeconfig", kubeconfig, "--format", "json")
    document = json.loads(result.stdout)
    assert result.returncode == 1
    assert document["summary"]["namespaces"] == 1
    assert {(f["kind"], f["name"]) for f in document["findings"]} == {
        ("Pod", "debug"),
        ("StatefulSet", "search"),
    }
    text = run_oomguard("audit", "--kubeconfig", kubeconfig, "-A")
    assert "API error: namespace secure: 403" in text.stderr
    assert text.stdout.splitlines()[-1].startswith("2 namespaces, 4 workloads: ")
    bad = run_oomguard("audit", "--kubeconfig", str(tmp_path / "missing"))
    assert bad.returncode == 2 and bad.stderr.startswith("oomguard: kubeconfig: ")
    assert "Traceback" not in bad.stderr
