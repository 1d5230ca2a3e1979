"""Which admission requests are judged, and where: the webhook's scope decisions.

Kept apart from :mod:`oomguard.rules.admission` (the decision policy) because they answer
a different question — *whether and where* an object is judged, from who sent it and what
changed — and the chart's ``matchConditions`` mirror them in CEL
(``charts/oomguard/templates/_helpers.tpl``, checked by ``tests/test_chart.py``):

* **owned objects** (:func:`owned_by_controller`) — a CREATE whose controller
  ``ownerReference`` names a workload kind, sent by a trusted controller identity, is judged
  at its controller: a ReplicaSet's Pods, a Deployment's ReplicaSets, a CronJob's Jobs. Trust
  comes from the requester (``request.userInfo``), which the API server sets from the
  credentials; an ``ownerReference`` alone is written by whoever writes the object.
* **mirror Pods** (:func:`mirror_pod`) — the kubelet's read-only copies of static Pods.
* **unchanged templates** (:func:`templates_unchanged`) — an UPDATE whose pod templates are
  equal in ``object`` and ``oldObject`` is never mutated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oomguard.rules.config import Config
from oomguard.rules.kinds import expand

if TYPE_CHECKING:  # admission imports this module
    from oomguard.rules.admission import Request

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"  # set by the kubelet on mirror Pods

# The identities kube-controller-manager creates Pods, ReplicaSets and Jobs with. With
# --use-service-account-credentials (kubeadm's default) each controller has its own service
# account in kube-system, named in cmd/kube-controller-manager/app/apps.go
# (startReplicaSetController: ClientOrDie("replicaset-controller"), startStatefulSetController:
# "statefulset-controller", startDaemonSetController: "daemon-set-controller",
# startDeploymentController: "deployment-controller"), batch.go (startJobController:
# "job-controller", startCronJobController: "cronjob-controller") and core.go
# (startReplicationController: "replication-controller"); without it they all share the
# manager's own user.
BUILTIN_CONTROLLERS = (
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:kube-system:statefulset-controller",
    "system:serviceaccount:kube-system:daemon-set-controller",
    "system:serviceaccount:kube-system:job-controller",
    "system:serviceaccount:kube-system:replication-controller",
    "system:serviceaccount:kube-system:deployment-controller",
    "system:serviceaccount:kube-system:cronjob-controller",
    "system:kube-controller-manager",
)
# (group, kind) of the built-in controllers whose objects carry a controller ownerReference
OWNER_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("batch", "CronJob"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("", "ReplicationController"),
    }
)


def trusted_controller(request: Request, config: Config) -> bool:
    """The requester is a workload controller: its username or one of its groups is one of
    :data:`BUILTIN_CONTROLLERS` or ``admission.trusted_controllers``."""
    trusted = {*BUILTIN_CONTROLLERS, *config.trusted_controllers}
    return request.user in trusted or any(group in trusted for group in request.groups)


def controller_owner(obj: Any) -> tuple[str, str, str] | None:
    """(group, kind, name) of the object's controller ``ownerReference``, if it has one."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    references = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    for ref in references if isinstance(references, list) else ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            api_version, kind, name = ref.get("apiVersion"), ref.get("kind"), ref.get("name")
            if isinstance(api_version, str) and isinstance(kind, str):
                return api_version.rpartition("/")[0], kind, name if isinstance(name, str) else ""
    return None


def owned_by_controller(request: Request, config: Config) -> str | None:
    """``Kind/name`` of the controller when this is a CREATE of a workload kind (a Pod, a
    ReplicaSet, a Job …) by a trusted controller for a workload kind it owns (see the module
    doc), else None. Owner kinds: the built-in
    controllers', the registry's (its kinds are judged at admission themselves) and
    ``admission.owner_kinds``. A forged ``ownerReference`` from anyone else is no owner."""
    obj = request.obj
    if request.operation != "CREATE" or not isinstance(obj, dict):
        return None
    if config.registry.lookup(obj) is None:
        return None
    owner = controller_owner(obj)
    if owner is None or not trusted_controller(request, config):
        return None
    group, kind, name = owner
    known = (group, kind) in OWNER_KINDS or (group, kind) in config.registry.kinds
    configured = (f"{group}/{kind}" if group else kind) in config.owner_kinds
    return f"{kind}/{name}" if known or configured else None


def mirror_pod(request: Request) -> bool:
    """A Pod with the ``kubernetes.io/config.mirror`` annotation sent by a node
    (``system:node:<name>``): only the kubelet makes those; the annotation alone, which
    anyone may write, is not enough."""
    metadata = request.obj.get("metadata") if isinstance(request.obj, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return (
        request.obj.get("kind") == "Pod"
        and isinstance(annotations, dict)
        and MIRROR_ANNOTATION in annotations
        and (request.user or "").startswith("system:node:")
    )


def templates_unchanged(request: Request, config: Config) -> bool:
    """An UPDATE whose every pod template (each path of its kind in the registry) is equal
    in ``object`` and ``oldObject``: a metadata edit, a scale, a status-like change."""
    if request.operation != "UPDATE" or not isinstance(request.old_obj, dict):
        return False
    spec = config.registry.lookup(request.obj)
    if spec is None or config.registry.lookup(request.old_obj) is not spec:
        return False
    return all(
        _templates(request.obj, template.steps) == _templates(request.old_obj, template.steps)
        for template in spec.templates
    )


def _templates(obj: dict, steps: tuple) -> list[tuple]:
    return [(path, node) for path, node, _ in expand(obj, steps)]
