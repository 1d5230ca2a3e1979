"""The webhook's cluster look-ups, served for real: ``oomguard serve`` (gunicorn, TLS) reading
namespace labels and ConfigMaps from the local API-shaped server in tests/fake_apiserver.py
through a kubeconfig. These are API contract tests, not end-to-end tests: there is no
Kubernetes API server on these machines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from conftest_webhook import Server, TLSFiles, container, deployment, review
from fake_apiserver import FakeApiServer
from test_webhook import answer, log_line

JVM_FROM_CONFIGMAP = {
    "name": "JAVA_TOOL_OPTIONS",
    "valueFrom": {"configMapKeyRef": {"name": "jvm", "key": "JAVA_TOOL_OPTIONS"}},
}
CONFIGMAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "jvm", "namespace": "shop", "uid": "cm-jvm"},
    "data": {"JAVA_TOOL_OPTIONS": "-Xmx2g"},
}
CONFIGMAP_DENIAL = (
    "- jvm-heap-exceeds-limit (container ledger): -Xmx2g (env JAVA_TOOL_OPTIONS from ConfigMap"
    ' "jvm" key "JAVA_TOOL_OPTIONS") is 100% of the 2Gi memory limit of container "ledger":'
    " heap plus off-heap memory will pass the limit and the kernel will kill the container"
    " (exit 137); use at most 75% (1536Mi)"
)


def unlimited(namespace: str) -> dict:
    """One error (memory-limit-missing) in any mode that shows it."""
    return deployment("cache", [container("cache", request="64Mi")], namespace=namespace)


def ledger_from_configmap() -> dict:
    spec = container("ledger", limit="2Gi", request="2Gi")
    spec["env"] = [JVM_FROM_CONFIGMAP]
    return deployment("ledger", [spec])


def _until(check, seconds: float = 10.0):
    """Poll ``check`` until it returns something truthy (a watch is asynchronous)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TLSFiles(tmp_path_factory.mktemp("tls"))


def _serve(tmp_path, tls, api: FakeApiServer, lookups: dict) -> Server:
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    # one worker: the fake API server hands each watch event to one watcher only
    return Server(
        tmp_path,
        tls,
        {"mode": "enforce", "lookups": lookups},
        ("--workers", "1"),
        env={"KUBECONFIG": kubeconfig},
    )


def test_namespace_label_sets_the_mode_and_follows_the_watch(tmp_path, tls):
    labels = {"legacy": {"oomguard.io/mode": "audit"}, "shop": {}}
    with FakeApiServer([], namespace_labels=labels) as api:
        server = _serve(tmp_path, tls, api, {"namespace_labels": True})
        try:

            def judged(namespace: str) -> dict:
                return answer(
                    server.post("/validate", review(unlimited(namespace), namespace=namespace))
                )

            # the watch syncs in the background; until then the config's mode applies
            _until(lambda: judged("legacy")["allowed"])
            assert judged("shop")["allowed"] is False  # no label: the config's enforce
            assert judged("shop")["status"]["code"] == 403
            quiet = judged("legacy")
            assert "warnings" not in quiet  # audit: allowed silently

            api.watch_events.put(
                {
                    "type": "MODIFIED",
                    "object": {
                        "kind": "Namespace",
                        "apiVersion": "v1",
                        "metadata": {
                            "name": "shop",
                            "resourceVersion": "101",
                            "labels": {"oomguard.io/mode": "warn"},
                        },
                    },
                }
            )
            warned = _until(lambda: (r := judged("shop"))["allowed"] and r)
            assert warned["warnings"][0].startswith("memory-limit-missing: ")
            uid = "4b8f3c1e-0000-4000-8000-00000000a001"
            server.post("/validate", review(unlimited("shop"), namespace="shop", uid=uid))
            line = log_line(server, uid)
            assert (line["mode"], line["decision"]) == ("warn", "warned")
            lists = [p for p in api.requests if p.startswith("/api/v1/namespaces?")]
            watches = [p for p in lists if "watch=true" in p]
            assert len(watches) == 1 and len(lists) == 2  # one list, one watch: no call per review
        finally:
            assert server.stop() == 0
            api.watch_events.put(None)


def test_configmap_flags_are_resolved_and_cached(tmp_path, tls):
    with FakeApiServer([CONFIGMAP]) as api:
        server = _serve(tmp_path, tls, api, {"configmaps": True, "cache_seconds": 300})
        try:
            for _ in range(3):
                denied = answer(server.post("/validate", review(ledger_from_configmap())))
                assert denied["allowed"] is False
                assert denied["status"]["message"].splitlines()[1:] == [CONFIGMAP_DENIAL]
            reads = [p for p in api.requests if p == "/api/v1/namespaces/shop/configmaps/jvm"]
            assert len(reads) == 1  # the TTL cache answered the second and third review
            assert not any(key.startswith("oomguard_lookup_fallbacks") for key in server.metrics())
        finally:
            assert server.stop() == 0


def test_hanging_api_server_costs_at_most_the_budget_and_is_counted(tmp_path, tls):
    # The fake API server hangs 3 s. That the review did not wait for it is shown by what
    # the review says it did (the read's timeout, then no read at all), not by a stopwatch:
    # how long it took is a benchmark figure, not a pass/fail one.
    configmap_path = "/api/v1/namespaces/shop/configmaps/jvm"
    with FakeApiServer([CONFIGMAP], hang={"/api/v1/namespaces/shop/configmaps"}) as api:
        server = _serve(tmp_path, tls, api, {"configmaps": True, "budget_ms": 50})
        try:
            uid = "4b8f3c1e-0000-4000-8000-00000000b001"
            first = answer(server.post("/validate", review(ledger_from_configmap(), uid=uid)))
            # unresolved is info: allowed, not shown to the user, but logged and counted
            assert first == {"uid": uid, "allowed": True}
            line = log_line(server, uid)
            assert "runtime-flag-unresolved" in line["rules"]
            # the read timeout is what is left of the 50 ms budget when the read starts
            (fallback,) = line["lookup_fallbacks"]
            timed_out = re.fullmatch(
                r"configmap: ConfigMap shop/jvm: API server timed out after (\d+) ms", fallback
            )
            assert timed_out, fallback
            assert 0 < int(timed_out[1]) <= 50
            reads = api.requests.count(configmap_path)
            # while the API server is failing, later reviews do not ask it at all
            for index in range(5):
                uid = f"4b8f3c1e-0000-4000-8000-00000000b10{index}"
                answer(server.post("/validate", review(ledger_from_configmap(), uid=uid)))
                assert log_line(server, uid)["lookup_fallbacks"] == [
                    "configmap: ConfigMap shop/jvm: API server failing, not asked"
                ]
            assert api.requests.count(configmap_path) == reads
            samples = server.metrics()
            key = 'oomguard_lookup_fallbacks_total{endpoint="validate",lookup="configmap"}'
            assert samples[key] == 6.0
        finally:
            assert server.stop() == 0


def test_serve_refuses_look_ups_without_cluster_credentials(tmp_path, tls):
    config = tmp_path / "config.yaml"
    config.write_text("lookups:\n  namespace_labels: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "oomguard", "serve", "--cert", str(tls.cert_file)]
        + ["--key", str(tls.key_file), "--config", str(config), "--port", "18443"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("oomguard: config enables cluster look-ups, but no kubeconfig and")
    assert "Traceback" not in result.stderr
