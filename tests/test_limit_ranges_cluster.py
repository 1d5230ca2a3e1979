"""LimitRanges read from a cluster (issue 17): ``oomguard audit`` lists each namespace's, the
webhook holds every namespace's in a watch-fed cache (``lookups.limit_ranges``). API contract
tests against the local API-shaped server in tests/fake_apiserver.py (a test double, named
as such: there is no Kubernetes API server on these machines), and the webhook served for
real (gunicorn, TLS).

The "done when" of the issue: ``-Xmx1g`` with no limit in a namespace whose LimitRange
defaults the limit to 512Mi is an error naming both numbers and the LimitRange, in lint
(tests/test_limit_ranges.py), audit and admission (here). LimitRanger semantics and their
sources: see tests/test_limit_ranges.py.
"""

from __future__ import annotations

import copy

import pytest
from conftest_webhook import Server, TLSFiles, container, deployment, review
from fake_apiserver import FakeApiServer
from oomguard.kube import connect
from oomguard.linter.audit import audit
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.webhook.lookups import LimitRangeCache
from test_webhook import answer, log_line
from test_webhook_lookups import _until

HEAP = (
    '-Xmx1g (command) is 200% of the 512Mi memory limit container "orders" gets from the '
    'default of LimitRange "defaults" in namespace shop (no limit is written): heap plus '
    "off-heap memory will pass the limit and the kernel will kill the container (exit 137); "
    "write a memory limit, or use at most 75% (384Mi)"
)


def limit_range(name="defaults", namespace="shop", default="512Mi", version="1"):
    return {
        "kind": "LimitRange",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
        "spec": {"limits": [{"type": "Container", "default": {"memory": default}}]},
    }


def orders(namespace="shop") -> dict:
    spec = container("orders")  # a cpu request only: Burstable, not BestEffort
    spec["command"] = ["java", "-Xmx1g", "-jar", "app.jar"]
    obj = deployment("orders", [spec], namespace=namespace)
    obj["metadata"]["uid"] = f"uid-orders-{namespace}"
    return obj


# --- oomguard audit ------------------------------------------------------------------------


def _audit(tmp_path, objects, namespaces=("shop",), **server):
    with FakeApiServer(objects, **server) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=1)
        result = audit(cluster, list(namespaces), DEFAULT_CONFIG)
    return result, api.requests


def _by_rule(result):
    return {(f.rule, f.severity): f for f in result.findings}


def test_audit_applies_the_namespaces_limit_range_default(tmp_path):
    result, requests = _audit(tmp_path, [orders(), limit_range()])
    found = _by_rule(result)
    heap = found[("jvm-heap-exceeds-limit", "error")]
    assert (heap.message, heap.container, heap.file) == (HEAP, "orders", "shop/Deployment/orders")
    assert found[("memory-limit-missing", "info")].message == (
        'container "orders": no limit written; LimitRange "defaults" in namespace shop gives 512Mi'
    )
    assert ("memory-limit-missing", "error") not in found
    assert result.api_errors == []
    # listed like the workloads: a paged list call
    assert any(p.startswith("/api/v1/namespaces/shop/limitranges?limit=") for p in requests)


def test_audit_limit_range_of_another_namespace_does_not_apply(tmp_path):
    result, _ = _audit(tmp_path, [orders(), limit_range(namespace="other")])
    found = _by_rule(result)
    assert ("memory-limit-missing", "error") in found
    assert ("jvm-heap-exceeds-limit", "error") not in found


def test_audit_limit_range_violation_is_an_error(tmp_path):
    capped = limit_range(name="caps")
    capped["spec"]["limits"] = [{"type": "Container", "max": {"memory": "1Gi"}}]
    big = orders()
    big["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "2Gi"}}
    result, _ = _audit(tmp_path, [big, capped])
    (violation,) = [f for f in result.findings if f.rule == "limitrange-violation"]
    assert violation.severity == "error"
    assert violation.message == (
        'the API server would reject the Pod: container "orders" breaks LimitRange "caps" in '
        "namespace shop: maximum memory usage per Container is 1Gi, but limit is 2Gi"
    )


@pytest.mark.parametrize(
    ("server", "error", "reason"),
    [
        (
            {"forbidden": {"/api/v1/namespaces/shop/limitranges"}},
            "forbidden",
            "forbidden (403): the audit's credentials may not read it",
        ),
        ({"hang": {"/api/v1/namespaces/shop/limitranges"}}, "timed out", "the API server failed"),
    ],
)
def test_audit_unreadable_limit_ranges_fall_back_to_the_limits_as_written(
    tmp_path, server, error, reason
):
    result, _ = _audit(tmp_path, [orders(), limit_range()], **server)
    (api_error,) = result.api_errors
    assert api_error.startswith("namespace shop: LimitRanges: ") and error in api_error
    missing = _by_rule(result)[("memory-limit-missing", "error")]
    assert "the namespace's LimitRanges could not be read (" + reason in missing.message
    assert result.namespaces == 1  # the namespace is still judged
    assert not any(f.rule == "jvm-heap-exceeds-limit" for f in result.findings)


# --- the webhook's watch-fed cache -------------------------------------------------------


def test_cache_lists_every_namespace_and_follows_the_watch(tmp_path):
    objects = [limit_range(), limit_range("b", "shop", "1Gi"), limit_range(namespace="other")]
    with FakeApiServer(objects) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        cache = LimitRangeCache(cluster).start()
        try:
            assert cache.synced.wait(5)
            assert [(r.name, r.namespace) for r in cache.for_namespace("shop")] == [
                ("b", "shop"),
                ("defaults", "shop"),
            ]
            lists = [p for p in api.requests if p.startswith("/api/v1/limitranges?")]
            assert lists and "limit=500" in lists[0]
            api.watch_events.put({"type": "DELETED", "object": limit_range("b", version="2")})
            assert _until(lambda: len(cache.for_namespace("shop")) == 1)
            changed = limit_range(default="2Gi", version="3")
            api.watch_events.put({"type": "MODIFIED", "object": changed})
            assert _until(
                lambda: cache.for_namespace("shop")[0].container_default("default").text == "2Gi"
            )
        finally:
            cache.stop()
            api.watch_events.put(None)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TLSFiles(tmp_path_factory.mktemp("tls"))


def _serve(tmp_path, tls, api: FakeApiServer) -> Server:
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    # one worker: the fake API server hands each watch event to one watcher only
    return Server(
        tmp_path,
        tls,
        {"mode": "enforce", "lookups": {"limit_ranges": True}},
        ("--workers", "1"),
        env={"KUBECONFIG": kubeconfig},
    )


def test_admission_denies_the_heap_against_the_default_and_follows_the_watch(tmp_path, tls):
    with FakeApiServer([limit_range()]) as api:
        server = _serve(tmp_path, tls, api)
        try:

            def judged() -> dict:
                return answer(server.post("/validate", review(copy.deepcopy(orders()))))

            # until the watch has synced, the limit is judged as written (memory-limit-missing)
            denied = _until(lambda: (r := judged())["allowed"] is False and HEAP in str(r) and r)
            assert denied["status"]["message"].splitlines()[1:] == [
                f"- jvm-heap-exceeds-limit (container orders): {HEAP}"
            ]  # memory-limit-missing is info now: not a reason to deny
            api.watch_events.put(
                {"type": "MODIFIED", "object": limit_range(default="2Gi", version="2")}
            )
            assert _until(lambda: judged()["allowed"])  # 1g is 50% of the 2Gi default
            lists = [p for p in api.requests if p.startswith("/api/v1/limitranges?")]
            assert len(lists) == 2  # one list, one watch: no API call per review
        finally:
            assert server.stop() == 0
            api.watch_events.put(None)


@pytest.mark.parametrize("failure", ["forbidden", "hang"])
def test_admission_without_limit_ranges_judges_the_limits_as_written(tmp_path, tls, failure):
    with FakeApiServer([limit_range()], **{failure: {"/api/v1/limitranges"}}) as api:
        server = _serve(tmp_path, tls, api)
        try:
            uid = "4b8f3c1e-0000-4000-8000-00000000c001"
            denied = answer(server.post("/validate", review(orders(), uid=uid)))
            assert denied["allowed"] is False
            (reason,) = denied["status"]["message"].splitlines()[1:]
            assert reason.startswith("- memory-limit-missing (container orders): ")
            assert "LimitRanges could not be read (LimitRange watch not synced yet)" in reason
            line = log_line(server, uid)
            assert line["lookup_fallbacks"] == ["limit_ranges: LimitRange watch not synced yet"]
            key = 'oomguard_lookup_fallbacks_total{endpoint="validate",lookup="limit_ranges"}'
            assert server.metrics()[key] == 1.0
        finally:
            assert server.stop() == 0
            api.watch_events.put(None)


# --- oomguard audit: VerticalPodAutoscalers ------------------------------------------------

VPA_CRD = ("autoscaling.k8s.io", ("v1",), "VerticalPodAutoscaler", "verticalpodautoscalers", True)


def vpa(mode="Auto", namespace="shop"):
    return {
        "kind": "VerticalPodAutoscaler",
        "apiVersion": "autoscaling.k8s.io/v1",
        "metadata": {"name": "orders-vpa", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"},
            "updatePolicy": {"updateMode": mode},
        },
    }


def sized_orders():
    obj = orders()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }
    return obj


def test_audit_reads_the_namespaces_vpas(tmp_path):
    result, requests = _audit(tmp_path, [sized_orders(), vpa()], crds=(VPA_CRD,))
    (fixed,) = [f for f in result.findings if f.rule == "vpa-heap-fixed"]
    assert fixed.message.startswith(
        'VerticalPodAutoscaler "orders-vpa" (updateMode Auto) sets the memory of container '
        '"orders", but -Xmx1g (command) is a fixed size'
    )
    assert fixed.message.endswith("use -XX:MaxRAMPercentage=75.0 instead")
    assert result.api_errors == []
    path = "/apis/autoscaling.k8s.io/v1/namespaces/shop/verticalpodautoscalers?limit="
    assert any(p.startswith(path) for p in requests)


def test_audit_without_vpa_installed_says_nothing(tmp_path):
    result, _ = _audit(tmp_path, [sized_orders()])  # the CRD is not served: 404
    assert result.api_errors == []
    assert not any(f.rule == "vpa-heap-fixed" for f in result.findings)


def test_audit_vpas_forbidden_is_an_api_error(tmp_path):
    forbidden = {"/apis/autoscaling.k8s.io/v1/namespaces/shop/verticalpodautoscalers"}
    result, _ = _audit(tmp_path, [sized_orders(), vpa()], crds=(VPA_CRD,), forbidden=forbidden)
    (error,) = result.api_errors
    assert error.startswith("namespace shop: VerticalPodAutoscalers: ") and "forbidden" in error
    assert not any(f.rule == "vpa-heap-fixed" for f in result.findings)
    assert result.namespaces == 1


# --- the webhook's VPA cache -----------------------------------------------------------------


def test_admission_warns_about_a_fixed_heap_under_a_vpa(tmp_path, tls):
    with FakeApiServer([vpa("Recreate")], crds=(VPA_CRD,)) as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        server = Server(
            tmp_path,
            tls,
            {"mode": "enforce", "lookups": {"vpas": True}},
            ("--workers", "1"),
            env={"KUBECONFIG": kubeconfig},
        )
        try:

            def judged() -> dict:
                return answer(server.post("/validate", review(copy.deepcopy(sized_orders()))))

            def vpa_warnings() -> list[str]:
                answered = judged()
                assert answered["allowed"] is True  # a warning never denies
                return [w for w in answered.get("warnings", []) if w.startswith("vpa-heap-fixed")]

            # until the watch has synced the VPA is not known: no such warning
            (warning,) = _until(vpa_warnings)
            assert warning.startswith(
                "vpa-heap-fixed [orders]: use -XX:MaxRAMPercentage=75.0 instead; "
                'VerticalPodAutoscaler "orders-vpa"'
            )
            lists = [p for p in api.requests if "/verticalpodautoscalers?" in p]
            assert lists[0].startswith(
                "/apis/autoscaling.k8s.io/v1/verticalpodautoscalers?limit=500"
            )
        finally:
            assert server.stop() == 0
            api.watch_events.put(None)
