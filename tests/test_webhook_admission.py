"""Admission that never takes a cluster down (issue 15), end to end through the real gunicorn
server over TLS with AdmissionReviews as kube-apiserver sends them: Pods created by workload
controllers, mutation on UPDATE, and what re-applying the original manifest does."""

from __future__ import annotations

import base64
import copy
import json

import jsonpatch
import pytest
from conftest_webhook import Server, TLSFiles, container, deployment, pod, review

CONFIG = {
    "mode": "enforce",
    "namespace_modes": {"legacy": "warn"},
    "mutate": ["jvm-heap-exceeds-limit"],
    "admission": {
        "trusted_controllers": ["system:serviceaccount:strimzi:strimzi-cluster-operator"],
        "owner_kinds": ["core.strimzi.io/StrimziPodSet"],
    },
}

# userInfo exactly as the API server fills it for kube-controller-manager's ReplicaSet
# controller running with --use-service-account-credentials (its token's service account)
REPLICASET_CONTROLLER = {
    "username": "system:serviceaccount:kube-system:replicaset-controller",
    "uid": "0b9c6f0e-3a51-4d8e-a7c4-6f3b2e1d0c9a",
    "groups": [
        "system:serviceaccounts",
        "system:serviceaccounts:kube-system",
        "system:authenticated",
    ],
}
PERSON = {
    "username": "jane@example.com",
    "uid": "c3a1b2d4-0000-4e5f-8a9b-112233445566",
    "groups": ["developers", "system:authenticated"],
}
STRIMZI = {
    "username": "system:serviceaccount:strimzi:strimzi-cluster-operator",
    "uid": "7e7e7e7e-1111-4222-8333-444455556666",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:strimzi", "system:authenticated"],
}

JVM_DENIAL_LINE = (
    "- jvm-heap-exceeds-limit (container ledger): -Xmx2g (env JAVA_TOOL_OPTIONS) is 100% of "
    'the 2Gi memory limit of container "ledger"'
)
JVM_WARNING = (
    "jvm-heap-exceeds-limit [ledger]: use at most 75% (1536Mi); -Xmx2g (env JAVA_TOOL_OPTIONS) "
    "is 100% of the 2Gi memory…"
)


def jvm_container(xmx: str = "-Xmx2g") -> dict:
    return container("ledger", limit="2Gi", request="2Gi", env={"JAVA_TOOL_OPTIONS": xmx})


def owned_pod(api_version: str = "apps/v1", kind: str = "ReplicaSet", name: str = "ledger-7d9c"):
    """A Pod as the ReplicaSet controller creates it: generateName, the template's labels and
    one controller ownerReference (pkg/controller/controller_utils.go GetPodFromTemplate)."""
    obj = pod("", [jvm_container()])
    obj["metadata"] = {
        "generateName": f"{name}-",
        "namespace": "shop",
        "labels": {"app": "ledger", "pod-template-hash": "7d9c"},
        "ownerReferences": [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": name,
                "uid": "e2b1c7a0-5f4d-4c3b-9a8e-7d6c5b4a3f21",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    return obj


def ledger(xmx: str = "-Xmx2g", extra: list | None = None) -> dict:
    return deployment("ledger", [jvm_container(xmx), *(extra or [])])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tls = TLSFiles(tmp_path_factory.mktemp("tls"))
    srv = Server(tmp_path_factory.mktemp("serve"), tls, CONFIG)
    yield srv
    assert srv.stop() == 0


def answer(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["response"]


def patch_of(response: dict) -> list:
    return json.loads(base64.b64decode(response["patch"])) if "patch" in response else []


# --- owned Pods ------------------------------------------------------------------------------


def test_pod_from_replicaset_controller_is_admitted_warned_counted_logged(server):
    before = server.metrics()
    body = review(owned_pod(), user=REPLICASET_CONTROLLER)
    validated = answer(server.post("/validate", body))
    # the same findings that deny it from a person come back as warnings; the ReplicaSet keeps
    # creating its Pods (a drain, a scale-up) even under enforce
    assert validated["allowed"] is True and "status" not in validated
    # advice and numbers first, so the 120-character cut keeps them (issue 15)
    assert validated["warnings"][0] == JVM_WARNING
    mutated = answer(server.post("/mutate", review(owned_pod(), user=REPLICASET_CONTROLLER)))
    assert mutated["allowed"] is True and "patch" not in mutated  # never mutated at the Pod
    after = server.metrics()
    key = (
        'oomguard_admission_reviews_total{{dry_run="false",endpoint="{}",mode="enforce",'
        'result="owned"}}'
    )
    assert after.get(key.format("validate"), 0) - before.get(key.format("validate"), 0) == 1
    assert after.get(key.format("mutate"), 0) - before.get(key.format("mutate"), 0) == 1
    finding = (
        'oomguard_admission_findings_total{endpoint="validate",mode="enforce",'
        'rule="jvm-heap-exceeds-limit",severity="error"}'
    )
    assert after.get(finding, 0) - before.get(finding, 0) == 1
    line = next(r for r in server.json_log() if r.get("uid") == body["request"]["uid"])
    assert line["decision"] == "owned" and line["owner"] == "ReplicaSet/ledger-7d9c"
    assert line["user"] == REPLICASET_CONTROLLER["username"]
    # info findings (no cpu limit) are logged and counted, never shown
    assert line["rules"] == ["qos-not-guaranteed", "jvm-heap-exceeds-limit"]


def test_forged_owner_reference_from_a_person_is_denied_in_enforce(server):
    validated = answer(server.post("/validate", review(owned_pod(), user=PERSON)))
    assert validated["allowed"] is False and validated["status"]["code"] == 403
    assert JVM_DENIAL_LINE in validated["status"]["message"]


def test_trusted_controller_with_a_non_workload_owner_is_judged(server):
    # a ConfigMap "owning" a Pod is no workload whose template oomguard judged
    obj = owned_pod(api_version="v1", kind="ConfigMap", name="settings")
    validated = answer(server.post("/validate", review(obj, user=REPLICASET_CONTROLLER)))
    assert validated["allowed"] is False and JVM_DENIAL_LINE in validated["status"]["message"]


def test_pod_update_by_controller_is_not_an_owned_create(server):
    obj = owned_pod()
    obj["metadata"]["name"] = "ledger-7d9c-abcde"
    healthy_old = copy.deepcopy(obj)
    healthy_old["spec"]["containers"][0]["env"][0]["value"] = "-Xmx1g"
    body = review(obj, operation="UPDATE", old=healthy_old, user=REPLICASET_CONTROLLER)
    assert answer(server.post("/validate", body))["allowed"] is False


def test_configured_operator_identity_and_owner_kind(server):
    obj = owned_pod(api_version="core.strimzi.io/v1beta2", kind="StrimziPodSet", name="kafka")
    validated = answer(server.post("/validate", review(obj, user=STRIMZI)))
    assert validated["allowed"] is True and validated["warnings"][0].startswith("jvm-heap")
    # the same operator-owned Pod from a person is judged:
    # trust needs both a trusted requester and a known owner kind, here only one holds
    forged = answer(server.post("/validate", review(obj, user=PERSON)))
    assert forged["allowed"] is False


# --- mutation on UPDATE ----------------------------------------------------------------------


def test_label_only_update_is_never_patched(server):
    old = ledger()  # created before the rule was in mutate: still -Xmx2g at a 2Gi limit
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["team"] = "payments"
    mutated = answer(server.post("/mutate", review(new, operation="UPDATE", old=old)))
    assert mutated["allowed"] is True and "patch" not in mutated and "patchType" not in mutated
    # the ratchet admits the edit and shows the existing error as a warning
    validated = answer(server.post("/validate", review(new, operation="UPDATE", old=old)))
    assert validated["allowed"] is True and validated["warnings"] == [JVM_WARNING]


def test_scale_update_is_never_patched(server):
    old = ledger()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert "patch" not in answer(server.post("/mutate", review(new, operation="UPDATE", old=old)))


def test_template_update_with_a_new_mutated_error_is_patched_then_admitted(server):
    old = ledger("-Xmx1g")
    new = ledger("-Xmx3g")  # a new error of a rule in mutate:
    mutated = answer(server.post("/mutate", review(new, operation="UPDATE", old=old)))
    assert patch_of(mutated) == [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/env/0/value",
            "value": "-Xmx1536m",
        },
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"oomguard.io/mutated": "jvm-heap-exceeds-limit"},
        },
    ]
    assert mutated["warnings"] == [
        "oomguard changed this object (jvm-heap-exceeds-limit); annotation oomguard.io/mutated"
    ]
    fixed = jsonpatch.apply_patch(new, patch_of(mutated))
    validated = answer(server.post("/validate", review(fixed, operation="UPDATE", old=old)))
    assert validated["allowed"] is True and "warnings" not in validated


def test_template_update_with_a_new_unmutated_error_is_denied(server):
    old = ledger("-Xmx1g")
    new = ledger("-Xmx1g", extra=[container("log-shipper", request="64Mi")])
    mutated = answer(server.post("/mutate", review(new, operation="UPDATE", old=old)))
    assert "patch" not in mutated  # memory-limit-missing is not in mutate:
    validated = answer(server.post("/validate", review(new, operation="UPDATE", old=old)))
    assert validated["allowed"] is False
    assert "- memory-limit-missing (container log-shipper)" in validated["status"]["message"]


def test_reapply_of_the_original_manifest_changes_nothing(server):
    """The documented outcome (webhook/README.md, "Mutation and GitOps"): the file says
    -Xmx2g, the cluster holds -Xmx1536m. Re-applying the file sends an UPDATE whose template
    has -Xmx2g again (kubectl's three-way merge takes the file's value); the webhook rewrites
    it to exactly the live object, so the API server stores nothing new (no generation bump,
    no rollout). A dry run (Argo CD's server-side diff, Flux's drift check) gets the same
    patch, so they compare the live object with itself and see no drift."""
    manifest = ledger()
    created = answer(server.post("/mutate", review(manifest)))
    live = jsonpatch.apply_patch(manifest, patch_of(created))
    assert live["metadata"]["annotations"] == {"oomguard.io/mutated": "jvm-heap-exceeds-limit"}

    reapplied = copy.deepcopy(live)  # live object with the file's fields merged in
    reapplied["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "-Xmx2g"
    for dry_run in (True, False):
        body = review(reapplied, operation="UPDATE", old=live, dry_run=dry_run)
        mutated = answer(server.post("/mutate", body))
        assert jsonpatch.apply_patch(reapplied, patch_of(mutated)) == live
    validated = answer(server.post("/validate", review(live, operation="UPDATE", old=live)))
    assert validated["allowed"] is True and "warnings" not in validated


def test_mirror_pod_from_its_node_is_skipped_but_not_from_a_person(server):
    mirror = pod("etcd-worker-1", [jvm_container()])
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "3f2a9c"}
    node = {"username": "system:node:worker-1", "uid": "n1", "groups": ["system:nodes"]}
    from_node = answer(server.post("/validate", review(mirror, user=node)))
    assert from_node == {"uid": from_node["uid"], "allowed": True}  # not judged at all
    from_person = answer(server.post("/validate", review(mirror, user=PERSON)))
    assert from_person["allowed"] is False


def test_replicaset_from_deployment_controller_is_judged_at_its_deployment(server):
    """A rollout of a Deployment admitted before enforce (its UPDATE passes the ratchet)
    makes the deployment controller CREATE a ReplicaSet with the same template: admitted and
    never mutated (a mutated ReplicaSet template would no longer match its Deployment's, and
    the controller would make another one)."""
    rs = ledger()
    rs["kind"] = "ReplicaSet"
    rs["metadata"]["name"] = "ledger-7d9c"
    rs["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "ledger",
            "uid": "d1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    controller = {
        "username": "system:serviceaccount:kube-system:deployment-controller",
        "uid": "dc",
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ],
    }
    validated = answer(server.post("/validate", review(rs, user=controller)))
    assert validated["allowed"] is True and validated["warnings"] == [JVM_WARNING]
    assert "patch" not in answer(server.post("/mutate", review(rs, user=controller)))
    assert answer(server.post("/validate", review(rs, user=PERSON)))["allowed"] is False
