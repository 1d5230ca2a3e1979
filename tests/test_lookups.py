"""API contract tests for the webhook's cluster look-ups (namespace mode labels through a
watch, ConfigMaps through a TTL cache with a per-review time budget), against the local
API-shaped server in tests/fake_apiserver.py. Not end-to-end: there is no API server here."""

from __future__ import annotations

import re
import time

import pytest
from fake_apiserver import FakeApiServer
from oomguard.cluster_sources import for_audit, for_webhook
from oomguard.kube import connect
from oomguard.rules.config import config_from_data, namespace_mode
from oomguard.webhook.lookups import ClusterLookups, NamespaceModes

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
        cache = for_webhook(cluster, ttl_seconds=30, budget_ms=2000, clock=lambda: now[0])
        lookup = cache.lookup()
        assert lookup("ConfigMap", "shop", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx4g"}
        assert cache.lookup()("ConfigMap", "shop", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx4g"}
        reads = [p for p in api.requests if p.endswith("/configmaps/jvm")]
        assert len(reads) == 1
        missing = cache.lookup()
        assert missing("ConfigMap", "shop", "missing") is None
        assert missing.fallbacks == []  # 404 is an answer, not a fallback
        assert cache.lookup()("ConfigMap", "shop", "missing") is None
        assert len([p for p in api.requests if p.endswith("/configmaps/missing")]) == 1  # cached
        now[0] += 31
        cache.lookup()("ConfigMap", "shop", "jvm")
        assert len([p for p in api.requests if p.endswith("/configmaps/jvm")]) == 2
        assert lookup.fallbacks == []


def test_hanging_api_server_costs_one_budget_then_falls_back_at_once(tmp_path):
    # The fake hangs 3 s; the read's own timeout (stated in the fallback) shows the budget
    # bounded the wait, and the request log shows the second review did not ask at all.
    with FakeApiServer([CONFIGMAP], hang={"/api/v1/namespaces/shop/configmaps"}) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = for_webhook(cluster, ttl_seconds=30, budget_ms=50)
        lookup = cache.lookup()
        assert lookup("ConfigMap", "shop", "jvm") is None
        (fallback,) = lookup.fallbacks
        timed_out = re.fullmatch(
            r"ConfigMap shop/jvm: API server timed out after (\d+) ms", fallback
        )
        assert timed_out, fallback
        assert 0 < int(timed_out[1]) <= 50
        reads = len(api.requests)
        second = cache.lookup()
        assert second("ConfigMap", "shop", "jvm") is None
        assert len(api.requests) == reads  # the API is known to be failing: not asked
        assert second.fallbacks == ["ConfigMap shop/jvm: API server failing, not asked"]


@pytest.mark.parametrize("budget_ms", [1])
def test_spent_budget_falls_back_without_calling(tmp_path, budget_ms):
    with FakeApiServer([CONFIGMAP]) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = for_webhook(cluster, ttl_seconds=30, budget_ms=budget_ms)
        lookup = cache.lookup()
        time.sleep(0.005)
        assert lookup("ConfigMap", "shop", "jvm") is None
        assert not any(p.endswith("/configmaps/jvm") for p in api.requests)
        assert lookup.fallbacks == ["ConfigMap shop/jvm: look-up budget 1 ms spent"]


def test_forbidden_configmap_is_a_fallback_but_does_not_stop_other_reads(tmp_path):
    other = {**CONFIGMAP, "metadata": {**CONFIGMAP["metadata"], "namespace": "tools"}}
    forbidden = {"/api/v1/namespaces/shop/configmaps"}
    with FakeApiServer([CONFIGMAP, other], forbidden=forbidden) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = for_webhook(cluster, ttl_seconds=30, budget_ms=2000)
        lookup = cache.lookup()
        assert lookup("ConfigMap", "shop", "jvm") is None
        assert lookup.fallbacks == [
            "ConfigMap shop/jvm: 403 forbidden: cannot list resource at "
            '"/api/v1/namespaces/shop/configmaps/jvm"'
        ]
        # a 403 is about that object (RBAC), not a failing API server: keep reading others
        assert lookup("ConfigMap", "tools", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx4g"}
        assert lookup("Secret", "tools", "jvm") is None  # the webhook never reads Secrets
        assert not any("/secrets/" in p for p in api.requests)


def test_lost_credentials_fall_back_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "gone"))
    monkeypatch.setenv("HOME", str(tmp_path))
    errors = []
    lookups = ClusterLookups(
        config_from_data({"lookups": {"namespace_labels": True}}), on_error=errors.append
    )
    context = lookups.for_review("shop")
    assert context.namespace_label is None
    ((lookup, reason),) = context.fallbacks
    assert lookup == "connection" and reason.startswith("no kubeconfig and not in a cluster")
    assert errors == [f"cluster look-ups: {reason}"]


def test_audit_reads_secrets_once_and_says_why_one_could_not_be_read(tmp_path):
    """The audit's settings of the one cluster source (oomguard.cluster_sources): Secrets
    too, a 403 answered with its reason (the finding names it) and asked once, a 404 None."""
    secret = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "jvm", "namespace": "tools", "uid": "s1"},
        "data": {"JAVA_TOOL_OPTIONS": "LVhteDJn"},  # base64 of -Xmx2g
    }
    forbidden = {"/api/v1/namespaces/shop/configmaps"}
    with FakeApiServer([CONFIGMAP, secret], forbidden=forbidden) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        errors: list[str] = []
        lookup = for_audit(cluster).lookup(errors)
        assert lookup("Secret", "tools", "jvm") == {"JAVA_TOOL_OPTIONS": "-Xmx2g"}
        why = "forbidden (403): the audit's credentials may not read it"
        assert lookup("ConfigMap", "shop", "jvm") == why
        assert lookup("ConfigMap", "shop", "jvm") == why
        assert lookup("Secret", "tools", "gone") is None
        assert len([p for p in api.requests if p.endswith("/shop/configmaps/jvm")]) == 1
        assert errors == [
            "ConfigMap shop/jvm: 403 forbidden: cannot list resource at "
            '"/api/v1/namespaces/shop/configmaps/jvm"'
        ]
