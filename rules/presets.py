"""Presets: other projects' workload kinds, each written from that project's API types.

Every entry cites, in ``docs``, the file its group, versions, plural and paths were read from
(a pinned commit, so the citation stays true). Kinds whose custom resource is not shaped as pod
templates (Strimzi, ECK, the Spark Operator) are in ``rules/operators/``; their entries carry
an ``adapter``. docs/kinds.md lists all of them and what is not covered.
"""

from __future__ import annotations

from typing import Any

from oomguard.rules.kinds import PRESETS as _REGISTRY_PRESETS
from oomguard.rules.kinds import ContainerSlot, KindSpec, Template
from oomguard.rules.operators import eck, spark, strimzi
from oomguard.rules.text import printable


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://github.com/{repo}/blob/{commit}/{path}"


def _pod(path: str, label: str = "", name_field: str | None = None) -> Template:
    return Template(path, label=label, name_field=name_field)


_ROLLOUTS = _gh("argoproj/argo-rollouts", "9f8d111d8f8e", "pkg/apis/rollouts/v1alpha1/types.go")
_KNATIVE = _gh("knative/serving", "98e5ef90aa70", "pkg/apis/serving/v1/configuration_types.go")
_KRUISE = "openkruise/kruise", "07169cfac7b9"
_KEDA = _gh("kedacore/keda", "8b4f083ca8c8", "apis/keda/v1alpha1/scaledjob_types.go")
_JOBSET = _gh("kubernetes-sigs/jobset", "08dfbdfd6827", "api/jobset/v1alpha2/jobset_types.go")
_KUBEFLOW = "kubeflow/training-operator", "078ec30ff266"  # release-1.9: the v1 API
_RAY = "ray-project/kuberay", "feeaf72facab"
_LWS = _gh("kubernetes-sigs/lws", "060ab4da17ee", "api/leaderworkerset/v1/leaderworkerset_types.go")
_OPENSHIFT = _gh("openshift/api", "2a3d73913b5a", "apps/v1/types.go")
_ARGO_WF = _gh(
    "argoproj/argo-workflows", "f016ad89eb26", "pkg/apis/workflow/v1alpha1/workflow_types.go"
)
_TEKTON = "tektoncd/pipeline", "3ee1745ae5b2"

# Knative names a container whose ``name`` is omitted (the docs' samples omit it):
# pkg/apis/config/defaults.go DefaultUserContainerName / DefaultInitContainerName.
_KNATIVE_SLOTS = (
    ContainerSlot("initContainers[*]", init=True, default_name="init-container"),
    ContainerSlot("containers[*]", default_name="user-container"),
)
_KNATIVE_TEMPLATE = (Template("spec.template.spec", containers=_KNATIVE_SLOTS),)

# Argo Workflows: a template holds one ``container`` or ``script`` (an inline Container the
# controller names "main": workflow/common/common.go MainContainerName), plus
# ``initContainers``, ``sidecars`` and ``containerSet.containers`` (UserContainer and
# ContainerNode inline a Container). Templates have no pod-level resources.
_ARGO_SLOTS = (
    ContainerSlot("initContainers[*]", init=True),
    ContainerSlot("container", default_name="main"),
    ContainerSlot("script", default_name="main"),
    ContainerSlot("containerSet.containers[*]"),
    ContainerSlot("sidecars[*]"),
)


def _argo_templates(prefix: str) -> tuple[Template, ...]:
    return (
        Template(
            f"{prefix}.templates[*]",
            label="template",
            name_field="name",
            containers=_ARGO_SLOTS,
            pod_resources=False,
        ),
    )


# Tekton: a Task's steps and sidecars are Containers whose resources are under
# ``computeResources`` in v1 (pkg/apis/pipeline/v1/container_types.go Step/Sidecar), and
# under ``resources`` in v1beta1 (pkg/apis/pipeline/v1beta1/container_types.go: Step and
# Sidecar ``Resources corev1.ResourceRequirements `json:"resources"```).
_TEKTON_V1BETA1 = (("v1beta1", "resources"),)
_TEKTON_SLOTS = (
    ContainerSlot("steps[*]", resources_key="computeResources",
                  resources_by_version=_TEKTON_V1BETA1),
    ContainerSlot("sidecars[*]", resources_key="computeResources",
                  resources_by_version=_TEKTON_V1BETA1),
)  # fmt: skip


def _tekton(path: str, label: str = "", name_field: str | None = None) -> Template:
    return Template(
        path, label=label, name_field=name_field, containers=_TEKTON_SLOTS, pod_resources=False
    )


def rollout_workload_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ``spec.workloadRef`` of an Argo Rollout that has no ``spec.template`` of its own
    (RolloutSpec: "WorkloadRef holds a references to a workload that provides Pod template"),
    else None."""
    if obj.get("kind") != "Rollout" or not str(obj.get("apiVersion", "")).startswith(
        "argoproj.io/"
    ):
        return None
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("template") is not None:
        return None
    ref = spec.get("workloadRef")
    return ref if isinstance(ref, dict) else None


def _rollout_notice(obj: dict[str, Any]) -> str | None:
    ref = rollout_workload_ref(obj)
    if ref is None:
        return None
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name, kind, target = (
        printable(str(value)) for value in (metadata.get("name"), ref.get("kind"), ref.get("name"))
    )
    return (
        f"Rollout/{name}: its pod template is in {kind}/{target} (spec.workloadRef), "
        "judged there; audit judges it as the Rollout's"
    )


def _kubeflow(kind: str, plural: str, field: str, types: str) -> KindSpec:
    return KindSpec(
        "kubeflow.org",
        kind,
        ("v1",),
        plural,
        (_pod(f"spec.{field}.*.template.spec", label="replica"),),
        docs=_gh(*_KUBEFLOW, f"pkg/apis/kubeflow.org/v1/{types}"),
    )


def _ray_cluster(prefix: str) -> tuple[Template, ...]:
    return (
        _pod(f"{prefix}.headGroupSpec.template.spec", label="head"),
        _pod(f"{prefix}.workerGroupSpecs[*].template.spec", "worker-group", "groupName"),
    )


PRESETS: tuple[KindSpec, ...] = (
    # Argo Rollouts: spec.template, or spec.workloadRef naming a Deployment whose template
    # the Rollout runs (RolloutSpec.WorkloadRef): lint says so in a notice, audit judges the
    # Deployment's template as the Rollout's (see docs/kinds.md).
    KindSpec("argoproj.io", "Rollout", ("v1alpha1",), "rollouts",
             (_pod("spec.template.spec"),), docs=_ROLLOUTS, notice=_rollout_notice),
    # Knative: Service inlines ConfigurationSpec; RevisionSpec inlines corev1.PodSpec.
    KindSpec("serving.knative.dev", "Service", ("v1",), "services", _KNATIVE_TEMPLATE,
             docs=_KNATIVE),
    KindSpec("serving.knative.dev", "Configuration", ("v1",), "configurations",
             _KNATIVE_TEMPLATE, docs=_KNATIVE),
    # OpenKruise: v1beta1 is the storage version of all three; v1alpha1 is still served.
    KindSpec("apps.kruise.io", "CloneSet", ("v1beta1", "v1alpha1"), "clonesets",
             (_pod("spec.template.spec"),),
             docs=_gh(*_KRUISE, "apis/apps/v1beta1/cloneset_types.go")),
    KindSpec("apps.kruise.io", "StatefulSet", ("v1beta1", "v1alpha1"), "statefulsets",
             (_pod("spec.template.spec"),),
             docs=_gh(*_KRUISE, "apis/apps/v1beta1/statefulset_types.go")),
    KindSpec("apps.kruise.io", "DaemonSet", ("v1beta1", "v1alpha1"), "daemonsets",
             (_pod("spec.template.spec"),),
             docs=_gh(*_KRUISE, "apis/apps/v1beta1/daemonset_types.go")),
    KindSpec("apps.kruise.io", "BroadcastJob", ("v1beta1", "v1alpha1"), "broadcastjobs",
             (_pod("spec.template.spec"),),
             docs=_gh(*_KRUISE, "apis/apps/v1beta1/broadcastjob_types.go")),
    # KEDA: jobTargetRef is a batchv1.JobSpec.
    KindSpec("keda.sh", "ScaledJob", ("v1alpha1",), "scaledjobs",
             (_pod("spec.jobTargetRef.template.spec"),), docs=_KEDA),
    KindSpec("jobset.x-k8s.io", "JobSet", ("v1alpha2",), "jobsets",
             (_pod("spec.replicatedJobs[*].template.spec.template.spec",
                   "replicated-job", "name"),), docs=_JOBSET),
    _kubeflow("PyTorchJob", "pytorchjobs", "pytorchReplicaSpecs", "pytorch_types.go"),
    _kubeflow("TFJob", "tfjobs", "tfReplicaSpecs", "tensorflow_types.go"),
    _kubeflow("MPIJob", "mpijobs", "mpiReplicaSpecs", "mpi_types.go"),
    _kubeflow("XGBoostJob", "xgboostjobs", "xgbReplicaSpecs", "xgboost_types.go"),
    _kubeflow("PaddleJob", "paddlejobs", "paddleReplicaSpecs", "paddlepaddle_types.go"),
    _kubeflow("JAXJob", "jaxjobs", "jaxReplicaSpecs", "jax_types.go"),
    KindSpec("ray.io", "RayCluster", ("v1",), "rayclusters", _ray_cluster("spec"),
             docs=_gh(*_RAY, "ray-operator/apis/ray/v1/raycluster_types.go")),
    KindSpec("ray.io", "RayJob", ("v1",), "rayjobs",
             (*_ray_cluster("spec.rayClusterSpec"),
              _pod("spec.submitterPodTemplate.spec", label="submitter")),
             docs=_gh(*_RAY, "ray-operator/apis/ray/v1/rayjob_types.go")),
    KindSpec("ray.io", "RayService", ("v1",), "rayservices", _ray_cluster("spec.rayClusterConfig"),
             docs=_gh(*_RAY, "ray-operator/apis/ray/v1/rayservice_types.go")),
    KindSpec("leaderworkerset.x-k8s.io", "LeaderWorkerSet", ("v1",), "leaderworkersets",
             (_pod("spec.leaderWorkerTemplate.leaderTemplate.spec", label="leader"),
              _pod("spec.leaderWorkerTemplate.workerTemplate.spec", label="worker")),
             docs=_LWS),
    KindSpec("apps.openshift.io", "DeploymentConfig", ("v1",), "deploymentconfigs",
             (_pod("spec.template.spec"),), docs=_OPENSHIFT),
    KindSpec("argoproj.io", "Workflow", ("v1alpha1",), "workflows",
             _argo_templates("spec"), docs=_ARGO_WF),
    KindSpec("argoproj.io", "WorkflowTemplate", ("v1alpha1",), "workflowtemplates",
             _argo_templates("spec"), docs=_ARGO_WF),
    KindSpec("argoproj.io", "ClusterWorkflowTemplate", ("v1alpha1",), "clusterworkflowtemplates",
             _argo_templates("spec"), namespaced=False, docs=_ARGO_WF),
    KindSpec("argoproj.io", "CronWorkflow", ("v1alpha1",), "cronworkflows",
             _argo_templates("spec.workflowSpec"),
             docs=_gh("argoproj/argo-workflows", "f016ad89eb26",
                      "pkg/apis/workflow/v1alpha1/cron_workflow_types.go")),
    KindSpec("tekton.dev", "Task", ("v1", "v1beta1"), "tasks", (_tekton("spec"),),
             docs=_gh(*_TEKTON, "pkg/apis/pipeline/v1/task_types.go")),
    KindSpec("tekton.dev", "TaskRun", ("v1", "v1beta1"), "taskruns",
             (_tekton("spec.taskSpec"),),
             docs=_gh(*_TEKTON, "pkg/apis/pipeline/v1/taskrun_types.go")),
    KindSpec("tekton.dev", "Pipeline", ("v1", "v1beta1"), "pipelines",
             (_tekton("spec.tasks[*].taskSpec", "task", "name"),
              _tekton("spec.finally[*].taskSpec", "finally", "name")),
             docs=_gh(*_TEKTON, "pkg/apis/pipeline/v1/pipeline_types.go")),
    KindSpec("tekton.dev", "PipelineRun", ("v1", "v1beta1"), "pipelineruns",
             (_tekton("spec.pipelineSpec.tasks[*].taskSpec", "task", "name"),
              _tekton("spec.pipelineSpec.finally[*].taskSpec", "finally", "name")),
             docs=_gh(*_TEKTON, "pkg/apis/pipeline/v1/pipelinerun_types.go")),
    *strimzi.KINDS,
    *eck.KINDS,
    *spark.KINDS,
)  # fmt: skip

# kinds.registry_for() reads kinds.PRESETS; this module is imported once (rules/__init__.py)
if not _REGISTRY_PRESETS:
    _REGISTRY_PRESETS.extend(PRESETS)
