"""``oomguard audit`` lists the registry's kinds the cluster serves, found through API
discovery (tests/fake_apiserver.py: a local server answering with the Kubernetes API's JSON
shapes, a contract test double with CRDs installed or not; there is no cluster here)."""

from __future__ import annotations

import copy

import yaml
from fake_apiserver import FakeApiServer
from oomguard.kube import connect
from oomguard.linter.audit import audit
from oomguard.rules.config import DEFAULT_CONFIG, config_from_data

# -Xmx2g at a 1Gi limit: the JVM reserves the heap it is given (hotspot arguments.cpp,
# set_heap_size takes -Xmx as MaxHeapSize as written).
POD = {
    "containers": [
        {
            "name": "app",
            "image": "eclipse-temurin:21-jre",
            "command": ["java", "-Xmx2g", "-jar", "app.jar"],
            "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        }
    ]
}
HEAP = (
    '-Xmx2g (command) is 200% of the 1Gi memory limit of container "app": heap plus off-heap '
    "memory will pass the limit and the kernel will kill the container (exit 137); use at most "
    "75% (768Mi)"
)

ARGO = ("argoproj.io", ("v1alpha1",), "Rollout", "rollouts", True)
KRUISE = ("apps.kruise.io", ("v1beta1", "v1alpha1"), "CloneSet", "clonesets", True)
KRUISE_STS = ("apps.kruise.io", ("v1beta1", "v1alpha1"), "StatefulSet", "statefulsets", True)
WORKFLOWS = (
    "argoproj.io",
    ("v1alpha1",),
    "ClusterWorkflowTemplate",
    "clusterworkflowtemplates",
    False,
)


def _obj(api_version, kind, name, spec, ns="shop"):
    metadata = {"name": name, "uid": f"{kind}-{name}"}
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def _objects():
    template = {"template": {"spec": copy.deepcopy(POD)}}
    return [
        _obj("argoproj.io/v1alpha1", "Rollout", "canary", copy.deepcopy(template)),
        # the template lives in the Deployment "base" (Argo Rollouts workloadRef)
        _obj(
            "argoproj.io/v1alpha1",
            "Rollout",
            "by-ref",
            {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "base"}},
        ),
        _obj("apps/v1", "Deployment", "base", {"replicas": 0, **copy.deepcopy(template)}),
        _obj("apps.kruise.io/v1beta1", "CloneSet", "clones", copy.deepcopy(template)),
        # same kind name and object name as a core StatefulSet: told apart by group
        _obj("apps.kruise.io/v1beta1", "StatefulSet", "db", copy.deepcopy(template)),
        _obj(
            "apps/v1",
            "StatefulSet",
            "db",
            {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}},
        ),
    ]


def _audit(tmp_path, config=DEFAULT_CONFIG, namespaces=("shop",), **server):
    with FakeApiServer(server.pop("objects", None) or _objects(), **server) as api:
        cluster, _ = connect(api.kubeconfig(tmp_path / "kubeconfig"), None, timeout=2)
        result = audit(cluster, None if namespaces is None else list(namespaces), config)
    return result, api.requests


def _heap(result):
    return sorted(
        (f.kind, f.name, f.container, f.message, f.file)
        for f in result.findings
        if f.rule == "jvm-heap-exceeds-limit"
    )


def test_served_crd_kinds_are_listed_and_judged(tmp_path):
    result, requests = _audit(tmp_path, crds=(ARGO, KRUISE, KRUISE_STS))
    assert result.api_errors == []
    assert _heap(result) == [
        ("CloneSet", "clones", "app", HEAP, "shop/CloneSet/clones"),
        ("Deployment", "base", "app", HEAP, "shop/Deployment/base"),
        # workloadRef: the Deployment's template judged as the Rollout's, named the Rollout
        ("Rollout", "by-ref", "app", HEAP, "shop/Rollout/by-ref"),
        ("Rollout", "canary", "app", HEAP, "shop/Rollout/canary"),
        ("StatefulSet", "db", "app", HEAP, "shop/StatefulSet/db"),  # the Kruise one
    ]
    # the core StatefulSet "db" is judged on its own (no limit at all)
    assert ("StatefulSet", "db", "db") in {
        (f.kind, f.name, f.container) for f in result.findings if f.rule == "memory-limit-missing"
    }
    assert result.objects == 6
    lists = [r.split("?")[0] for r in requests if "?limit=" in r]
    assert "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts" in lists
    # both versions served: the one the registry entry names first is listed, once
    assert "/apis/apps.kruise.io/v1beta1/namespaces/shop/clonesets" in lists
    assert not any("apps.kruise.io/v1alpha1" in r for r in lists)
    assert "Rollout.argoproj.io" not in result.unserved


def test_kinds_the_cluster_lacks_are_skipped_without_an_error(tmp_path):
    result, requests = _audit(tmp_path)  # no CRDs installed
    assert result.api_errors == []
    assert _heap(result) == [("Deployment", "base", "app", HEAP, "shop/Deployment/base")]
    assert {"Rollout.argoproj.io", "CloneSet.apps.kruise.io", "JobSet.jobset.x-k8s.io"} <= set(
        result.unserved
    )
    # never asked for: no list call, no discovery of a group the cluster does not serve
    assert not any("argoproj.io" in r or "kruise" in r for r in requests)
    assert result.objects == 2  # the Deployment and the core StatefulSet


def test_a_config_kind_is_listed_at_the_version_the_cluster_prefers(tmp_path):
    config = config_from_data(
        {
            "kinds": [
                {
                    "apiVersion": "example.com/v1",
                    "kind": "Widget",
                    "plural": "widgets",
                    "templates": [{"path": "spec.template.spec"}],
                }
            ]
        },
        "test",
    )
    widget = _obj("example.com/v2", "Widget", "w", {"template": {"spec": copy.deepcopy(POD)}})
    crd = ("example.com", ("v2", "v1"), "Widget", "widgets", True)
    result, requests = _audit(tmp_path, config, objects=[widget], crds=(crd,))
    assert _heap(result) == [("Widget", "w", "app", HEAP, "shop/Widget/w")]
    assert any(r.startswith("/apis/example.com/v1/namespaces/shop/widgets?") for r in requests)
    # without the config entry the same cluster's Widget is not listed
    plain, requests = _audit(tmp_path, objects=[widget], crds=(crd,))
    assert plain.objects == 0 and not any("widgets" in r for r in requests)


def test_cluster_scoped_kinds_are_listed_once_with_all_namespaces(tmp_path):
    template = {"templates": [{"name": "build", "container": copy.deepcopy(POD["containers"][0])}]}
    shared = _obj("argoproj.io/v1alpha1", "ClusterWorkflowTemplate", "shared", template, ns=None)
    result, requests = _audit(
        tmp_path, namespaces=None, objects=[shared, *_objects()], crds=(WORKFLOWS,)
    )
    assert ("ClusterWorkflowTemplate", "shared", "app", HEAP, "ClusterWorkflowTemplate/shared") in (
        _heap(result)
    )
    assert [r for r in requests if "clusterworkflowtemplates" in r] == [
        "/apis/argoproj.io/v1alpha1/clusterworkflowtemplates?limit=250"
    ]


def test_forbidden_discovery_is_said_and_built_in_kinds_still_listed(tmp_path):
    result, _ = _audit(tmp_path, crds=(ARGO,), discovery_forbidden=True)
    assert result.api_errors == [
        "API discovery: 403 forbidden: discovery; only the built-in kinds are listed, at their "
        "usual paths"
    ]
    assert _heap(result) == [("Deployment", "base", "app", HEAP, "shop/Deployment/base")]


def test_a_forbidden_crd_list_is_reported_and_the_namespace_still_judged(tmp_path):
    forbidden = {"/apis/argoproj.io/v1alpha1/namespaces/shop/"}
    result, _ = _audit(tmp_path, crds=(ARGO,), forbidden=forbidden)
    assert result.api_errors == [
        "namespace shop: Rollout (argoproj.io/v1alpha1 rollouts): 403 forbidden: cannot list "
        'resource at "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts"'
    ]
    assert result.namespaces == 1
    assert _heap(result) == [("Deployment", "base", "app", HEAP, "shop/Deployment/base")]


def test_lint_says_a_rollout_template_lives_in_its_workload_ref(tmp_path, run_oomguard):
    rollout = _objects()[1]
    rollout["metadata"]["name"] = "by-ref\x1b[2J"  # escaped, never sent to the terminal raw
    manifest = tmp_path / "rollout.yaml"
    manifest.write_text(yaml.safe_dump(rollout))
    result = run_oomguard("lint", str(manifest))
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"oomguard: notice: {manifest}: Rollout/by-ref\\x1b[2J: its pod template is in "
        "Deployment/base (spec.workloadRef), judged there; audit judges it as the Rollout's"
    ]
    # a Rollout with its own template gets no notice
    manifest.write_text(yaml.safe_dump(_objects()[0]))
    assert "notice" not in run_oomguard("lint", str(manifest)).stderr
