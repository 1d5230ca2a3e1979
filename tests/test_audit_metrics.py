"""``oomguard audit --metrics-file`` / ``--pushgateway``: the gauges of a run, against
tests/fake_apiserver.py (a local server answering with the Kubernetes API's JSON shapes: a
contract test double, not a cluster) and a local HTTP server standing in for a Pushgateway
(it records the PUT prometheus_client sends; no Pushgateway runs here)."""

from __future__ import annotations

import copy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_apiserver import FakeApiServer
from prometheus_client.parser import text_string_to_metric_families
from test_audit import cluster_objects


def samples(text: str) -> dict[tuple, float]:
    """{(name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _objects_with_an_unexplained_kill() -> list[dict]:
    """The audit tests' cluster plus a busybox Pod OOMKilled at 64Mi: no rule explains it."""
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "cache", "namespace": "tools", "uid": "c1"},
        "spec": {
            "containers": [
                {
                    "name": "memcached",
                    "image": "busybox:1.36",
                    "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "64Mi"}},
                }
            ]
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "memcached",
                    "restartCount": 3,
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2026-11-29T08:00:00Z",
                        }
                    },
                }
            ]
        },
    }
    return [*cluster_objects(), pod]


@pytest.fixture(scope="module")
def api():
    forbidden = {"/apis/apps/v1/namespaces/secure/"}
    with FakeApiServer(_objects_with_an_unexplained_kill(), forbidden=forbidden) as server:
        yield server


def test_metrics_file_has_the_runs_gauges(api, tmp_path, run_oomguard):
    path = tmp_path / "oomguard.prom"
    path.write_text("stale content of an earlier run\n")
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    done = run_oomguard(
        "audit", "--kubeconfig", kubeconfig, "-A", "-q", "--metrics-file", str(path)
    )
    assert done.returncode == 1  # error findings, as without the flag
    got = samples(path.read_text())
    assert {p.name for p in tmp_path.iterdir()} == {"oomguard.prom", "kubeconfig"}  # no temp
    findings = {labels: value for (name, labels), value in got.items()
                if name == "oomguard_audit_findings"}  # fmt: skip
    assert (
        findings[(("namespace", "shop"), ("rule", "jvm-heap-exceeds-limit"), ("severity", "error"))]
        == 1
    )
    assert (
        findings[(("namespace", "tools"), ("rule", "container-oomkilled"), ("severity", "warning"))]
        == 1
    )
    # shop 5 and tools 4 (as test_policy_report shows them), plus the cache Pod's kill and its
    # qos-not-guaranteed: info findings count too, though text output hides them
    assert sum(findings.values()) == 11
    assert (
        findings[(("namespace", "tools"), ("rule", "qos-not-guaranteed"), ("severity", "info"))]
        == 1
    )
    assert got[("oomguard_audit_oomkilled_containers",
                (("explained", "true"), ("namespace", "shop")))] == 1  # fmt: skip
    assert got[("oomguard_audit_oomkilled_containers",
                (("explained", "false"), ("namespace", "shop")))] == 0  # fmt: skip
    assert got[("oomguard_audit_oomkilled_containers",
                (("explained", "false"), ("namespace", "tools")))] == 1  # fmt: skip
    # web: kills in pods web-7d9f-0 and web-7d9f-2, explained by the -Xmx1g at the 1Gi limit
    assert got[("oomguard_audit_oomkills", (("container", "app"),
                ("explained_by", "jvm-heap-exceeds-limit"), ("kind", "Deployment"),
                ("name", "web"), ("namespace", "shop")))] == 2  # fmt: skip
    assert got[("oomguard_audit_oomkills", (("container", "memcached"), ("explained_by", ""),
                ("kind", "Pod"), ("name", "cache"), ("namespace", "tools")))] == 1  # fmt: skip
    assert got[("oomguard_audit_api_errors", ())] == 1  # namespace secure: 403
    assert got[("oomguard_audit_namespaces", ())] == 2
    assert got[("oomguard_audit_workloads", ())] == 5
    assert got[("oomguard_audit_internal_errors", ())] == 0
    assert ("oomguard_audit_duration_seconds", ()) in got
    assert ("oomguard_audit_last_run_timestamp_seconds", ()) in got


class _Pushgateway:
    """Records what is pushed: method, path and body of each request."""

    def __init__(self):
        self.received: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.received.append(("PUT", self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


def test_pushgateway_gets_the_same_gauges(api, tmp_path, run_oomguard):
    gateway = _Pushgateway()
    try:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", namespace="tools")
        done = run_oomguard("audit", "--kubeconfig", kubeconfig, "-q", "--pushgateway",
                            gateway.url)  # fmt: skip
    finally:
        gateway.httpd.shutdown()
    assert done.returncode == 1, done.stderr
    ((method, path, body),) = gateway.received
    assert (method, path) == ("PUT", "/metrics/job/oomguard_audit")
    got = samples(body)
    assert got[("oomguard_audit_namespaces", ())] == 1
    assert got[("oomguard_audit_oomkilled_containers",
                (("explained", "false"), ("namespace", "tools")))] == 1  # fmt: skip


def test_metrics_that_cannot_be_written_are_said_and_fail_a_clean_run(tmp_path, run_oomguard):
    clean = [o for o in copy.deepcopy(cluster_objects()) if o["metadata"]["namespace"] == "shop"]
    clean = [o for o in clean if o["kind"] in ("Pod",) and o["metadata"]["name"] == "web-7d9f-1"]
    for pod in clean:
        pod["metadata"].pop("ownerReferences")
        pod["spec"]["containers"][0]["command"] = ["java", "-Xmx512m", "-jar", "app.jar"]
    with FakeApiServer(clean) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", namespace="shop")
        missing = tmp_path / "no-such-dir" / "m.prom"
        done = run_oomguard("audit", "--kubeconfig", kubeconfig, "--metrics-file", str(missing))
        refused = run_oomguard("audit", "--kubeconfig", kubeconfig, "--pushgateway",
                               "http://127.0.0.1:9")  # fmt: skip
    assert done.returncode == 2
    assert f"oomguard: cannot write metrics file {missing}: " in done.stderr
    assert refused.returncode == 2
    assert "oomguard: cannot push metrics to http://127.0.0.1:9: " in refused.stderr
    assert "Traceback" not in done.stderr + refused.stderr
