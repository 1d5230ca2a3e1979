"""API contract tests for the webhook's cluster look-ups (namespace mode labels through a
watch, ConfigMaps through a TTL cache with a per-review time budget), against the local
API-shaped server in tests/fake_apiserver.py. Not end-to-end: there is no API server here."""

from __future__ import annotations

import time

import pytest
from fake_apiserver import FakeApiServer
from oomguard.rules.config import config_from_data, namespace_mode
from oomguard.webhook.lookups import NamespaceModes, SourceCache

from oomguard.kube import connect

CONFIGMAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "jvm", "namespace": "shop", "uid": "cm1"},
    "data": {"JAVA_TOOL_OPTIONS": "-Xmx4g"},
}


def _wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _namespace_event(kind, name, mode=None, version="101"):
    labels = {"oomguard.io/mode": mode} if mode else {}
    return {
        "type": kind,
        "object": {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": name, "resourceVersion": version, "labels": labels},
        },
    }


def test_namespace_labels_follow_the_watch_without_restart(tmp_path):
    labels = {"legacy": {"oomguard.io/mode": "warn"}, "shop": {}}
    with FakeApiServer([], namespace_labels=labels) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        modes = NamespaceModes(cluster).start()
        assert modes.synced.wait(5)
        assert modes.label("legacy") == "warn" and modes.label("shop") is None
        api.watch_events.put(_namespace_event("MODIFIED", "shop", "audit", "102"))
        assert _wait_for(lambda: modes.label("shop") == "audit")
        api.watch_events.put(_namespace_event("DELETED", "legacy", "warn", "103"))
        assert _wait_for(lambda: modes.label("legacy") is None)
        watches = [p for p in api.requests if "watch=true" in p]
        assert watches and "resourceVersion=12345" in watches[0]  # the list's version
        modes.stop()
        api.watch_events.put(None)


def test_expired_watch_relists(tmp_path):
    with FakeApiServer([], namespace_labels={"a": {"oomguard.io/mode": "audit"}}) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        modes = NamespaceModes(cluster).start()
        assert modes.synced.wait(5)
        lists_before = sum(p.startswith("/api/v1/namespaces?limit") for p in api.requests)
        api.namespace_labels["a"] = {"oomguard.io/mode": "enforce"}
        api.watch_events.put(
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Expired",
                    "code": 410,
                    "message": "too old resource version: 100 (200)",
                },
            }
        )
        api.watch_events.put(None)
        assert _wait_for(lambda: modes.label("a") == "enforce")
        assert (
            sum(p.startswith("/api/v1/namespaces?limit") for p in api.requests) == lists_before + 1
        )
        modes.stop()
        api.watch_events.put(None)


def test_namespace_mode_precedence():
    config = config_from_data({"mode": "enforce", "namespace_modes": {"legacy": "warn"}})
    assert namespace_mode(config, "shop") == "enforce"
    assert namespace_mode(config, "legacy") == "warn"
    assert namespace_mode(config, "legacy", label="audit") == "audit"
    assert namespace_mode(config, "shop", label="block") == "enforce"  # invalid label ignored


def test_configmaps_are_cached_for_the_ttl(tmp_path):
    now = [1000.0]
    with FakeApiServer([CONFIGMAP]) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = SourceCache(cluster, ttl_seconds=30, budget_ms=2000, clock=lambda: now[0])
        lookup = cache.for_review()
        assert lookup("ConfigMap", "shop", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx4g"}
        assert cache.for_review()("ConfigMap", "shop", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx4g"}
        reads = [p for p in api.requests if p.endswith("/configmaps/jvm")]
        assert len(reads) == 1
        assert cache.for_review()("ConfigMap", "shop", "missing") is None  # 404: not a fallback
        now[0] += 31
        cache.for_review()("ConfigMap", "shop", "jvm")
        assert len([p for p in api.requests if p.endswith("/configmaps/jvm")]) == 2
        assert lookup.fallbacks == []


def test_hanging_api_server_costs_one_budget_then_falls_back_at_once(tmp_path):
    with FakeApiServer([CONFIGMAP], hang={"/api/v1/namespaces/shop/configmaps"}) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = SourceCache(cluster, budget_ms=50)
        lookup = cache.for_review()
        started = time.monotonic()
        assert lookup("ConfigMap", "shop", "jvm") is None
        first = time.monotonic() - started
        assert first < 0.5, f"look-up took {first:.3f}s with a 50 ms budget"
        assert len(lookup.fallbacks) == 1
        started = time.monotonic()
        second = cache.for_review()
        assert second("ConfigMap", "shop", "jvm") is None
        assert time.monotonic() - started < 0.01  # the API is known to be failing
        assert second.fallbacks == ["ConfigMap shop/jvm: API server failing, not asked"]


@pytest.mark.parametrize("budget_ms", [1])
def test_spent_budget_falls_back_without_calling(tmp_path, budget_ms):
    with FakeApiServer([CONFIGMAP]) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = SourceCache(cluster, budget_ms=budget_ms)
        lookup = cache.for_review()
        time.sleep(0.005)
        assert lookup("ConfigMap", "shop", "jvm") is None
        assert not any(p.endswith("/configmaps/jvm") for p in api.requests)
