"""Presets and operator adapters (issue 13, items 2 and 3), on one realistic manifest per
preset (tests/data/kinds/, each with a real heap mistake) and its clean twin (``*.clean.yaml``:
the same manifest with the one heap value corrected).

Three layers:

* the registry entry: the object's (group, kind) is found, its path patterns reach exactly the
  pod specs the project's API types define (cited in each entry's ``docs``), with the label;
* the rules on what the registry reaches: each template (or adapter pod spec) judged as a Pod
  by the real engine finds the mistake with its numbers, and the clean twin has no error;
* the front ends: ``oomguard lint`` on the file, and the webhook's /validate and /mutate
  (the mutation patch applied with ``jsonpatch`` and the result validated again).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from pathlib import Path

import jsonpatch
import pytest
import yaml
from oomguard.rules.config import config_from_data
from oomguard.rules.engine import check_object
from oomguard.rules.kinds import expand, registry_for, template_label
from oomguard.rules.operators import eck, spark, strimzi

DATA = Path(__file__).parent / "data" / "kinds"
CONFIG = config_from_data({})


def load(name: str) -> dict:
    return yaml.safe_load((DATA / name).read_text())


# name -> (rule, container, template label, words the message must hold)
# The numbers: -Xmx2g against 1Gi is 200% (HotSpot reads "2g" as 2 GiB, atojulong);
# GOMEMLIMIT=2GiB against 1Gi (runtime/debug: the limit in bytes, IEC suffixes).
PRESET_CASES = {
    "rollout.yaml": ("jvm-heap-exceeds-limit", "checkout", "", ["-Xmx2g", "200%", "1Gi"]),
    # no container name in Knative's samples: DefaultUserContainerName
    "knative-service.yaml": ("go-memlimit-exceeds-limit", "user-container", "", ["2GiB", "1Gi"]),
    "kruise-cloneset.yaml": ("jvm-heap-exceeds-limit", "tomcat", "", ["-Xmx2g", "200%", "1Gi"]),
    "keda-scaledjob.yaml": ("jvm-heap-exceeds-limit", "consumer", "", ["-Xmx2g", "200%"]),
    "jobset.yaml": (
        "jvm-heap-exceeds-limit", "worker", "replicated-job=workers", ["-Xmx2g", "200%"]
    ),
    "pytorchjob.yaml": ("go-memlimit-exceeds-limit", "pytorch", "replica=Worker", ["2GiB"]),
    "raycluster.yaml": (
        "jvm-heap-exceeds-limit", "ray-worker", "worker-group=gpu", ["-Xmx2g", "200%"]
    ),
    "lws.yaml": ("jvm-heap-exceeds-limit", "leader", "leader", ["-Xmx2g", "200%", "1Gi"]),
    "deploymentconfig.yaml": ("jvm-heap-exceeds-limit", "frontend", "", ["-Xmx2g", "200%"]),
}  # fmt: skip

# Kinds whose containers are not in a pod spec (container slots): judged by the engine only.
SLOT_CASES = {
    "argo-workflow.yaml": ("jvm-heap-exceeds-limit", "main", "template=extract", ["-Xmx2g"]),
    "tekton-task.yaml": ("jvm-heap-exceeds-limit", "build", "", ["-Xmx2g", "200%", "1Gi"]),
    # v1beta1 steps keep their resources under ``resources``
    "tekton-task-v1beta1.yaml": (
        "jvm-heap-exceeds-limit", "build", "", ["-Xmx2g", "200%", "1Gi"]
    ),
}  # fmt: skip

# Adapters: the pod spec the operator renders.
ADAPTER_CASES = {
    # KAFKA_HEAP_OPTS="-Xms2g -Xmx2g" (JvmOptionUtils.appendHeapOpts) at the 1Gi limit
    "strimzi-kafkaconnect.yaml": (
        "jvm-heap-exceeds-limit", "connect", "", ["-Xmx2g", "KAFKA_HEAP_OPTS", "200%", "1Gi"]
    ),
    # the pool's -Xmx6g at its 4Gi limit: 150%
    "strimzi-nodepool.yaml": (
        "jvm-heap-exceeds-limit", "kafka", "", ["-Xmx6g", "150%", "4Gi"]
    ),
    # no resources: ECK's DefaultResources (2Gi, nodespec/defaults.go); ES_JAVA_OPTS -Xmx4g
    "eck-elasticsearch.yaml": (
        "jvm-heap-exceeds-limit", "elasticsearch", "nodeset=default",
        ["-Xmx4g", "ES_JAVA_OPTS", "200%", "2Gi"],
    ),
    # driver.memory 4g is -Xmx4g; driver.memoryLimit 2g becomes a 2Gi limit (addMemoryLimit)
    "spark-application.yaml": (
        "jvm-heap-exceeds-limit", "spark-kubernetes-driver", "driver", ["-Xmx4g", "200%", "2Gi"]
    ),
}  # fmt: skip

ALL_CASES = {**PRESET_CASES, **SLOT_CASES, **ADAPTER_CASES}


def as_pod(pod_spec: dict, name: str = "judged") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod_spec}


def findings_of(pod_spec: dict) -> list:
    return check_object(as_pod(pod_spec), CONFIG).findings


def errors(findings) -> list:
    return [f for f in findings if f.severity == "error"]


# --- the registry entries ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_every_fixture_is_a_registry_kind_with_a_cited_source(name):
    obj = load(name)
    spec = registry_for().lookup(obj)
    assert spec is not None, name
    assert obj["apiVersion"].rpartition("/")[0] == spec.group
    assert obj["apiVersion"].rpartition("/")[2] in spec.versions
    assert spec.docs.startswith("https://github.com/") and "/blob/" in spec.docs


def test_group_tells_knative_service_from_the_core_service():
    registry = registry_for()
    assert registry.lookup({"apiVersion": "v1", "kind": "Service"}) is None
    assert registry.lookup(load("knative-service.yaml")).plural == "services"
    # Kruise's StatefulSet is not apps/v1's
    kruise = registry.lookup({"apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet"})
    assert kruise.group == "apps.kruise.io"


def _templates(obj: dict) -> dict[str, tuple]:
    """label -> (path, pod spec) for every pod template the registry entry reaches, with the
    slots' default container names filled in (Knative's "user-container")."""
    spec = registry_for().lookup(obj)
    found = {}
    for template in spec.templates:
        for path, node, match in expand(obj, template.steps):
            for slot in template.containers:
                for _, container, _ in expand(node, slot.steps):
                    if slot.default_name and isinstance(container, dict):
                        container.setdefault("name", slot.default_name)
            found[template_label(template, match)] = (path, node)
    return found


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rollout.yaml", {"": ("spec", "template", "spec")}),
        ("knative-service.yaml", {"": ("spec", "template", "spec")}),
        ("kruise-cloneset.yaml", {"": ("spec", "template", "spec")}),
        ("keda-scaledjob.yaml", {"": ("spec", "jobTargetRef", "template", "spec")}),
        (
            "jobset.yaml",
            {
                "replicated-job=driver": ("spec", "replicatedJobs", 0, "template", "spec",
                                          "template", "spec"),
                "replicated-job=workers": ("spec", "replicatedJobs", 1, "template", "spec",
                                           "template", "spec"),
            },
        ),
        (
            "pytorchjob.yaml",
            {
                "replica=Master": ("spec", "pytorchReplicaSpecs", "Master", "template", "spec"),
                "replica=Worker": ("spec", "pytorchReplicaSpecs", "Worker", "template", "spec"),
            },
        ),
        (
            "raycluster.yaml",
            {
                "head": ("spec", "headGroupSpec", "template", "spec"),
                "worker-group=cpu": ("spec", "workerGroupSpecs", 0, "template", "spec"),
                "worker-group=gpu": ("spec", "workerGroupSpecs", 1, "template", "spec"),
            },
        ),
        (
            "lws.yaml",
            {
                "leader": ("spec", "leaderWorkerTemplate", "leaderTemplate", "spec"),
                "worker": ("spec", "leaderWorkerTemplate", "workerTemplate", "spec"),
            },
        ),
        ("deploymentconfig.yaml", {"": ("spec", "template", "spec")}),
        (
            "argo-workflow.yaml",
            {
                "template=main": ("spec", "templates", 0),
                "template=extract": ("spec", "templates", 1),
                "template=load": ("spec", "templates", 2),
            },
        ),
        ("tekton-task.yaml", {"": ("spec",)}),
    ],
)  # fmt: skip
def test_path_patterns_reach_every_pod_template_with_its_label(name, expected):
    found = _templates(load(name))
    assert {label: path for label, (path, _) in found.items()} == expected


def test_tekton_steps_and_argo_containers_are_container_slots():
    task = registry_for().lookup(load("tekton-task.yaml")).templates[0]
    assert [(s.path, s.resources_key) for s in task.containers] == [
        ("steps[*]", "computeResources"),
        ("sidecars[*]", "computeResources"),
    ]
    # tektoncd/pipeline pkg/apis/pipeline/v1beta1/container_types.go: Step.Resources is
    # `json:"resources"`; v1 renamed it ComputeResources `json:"computeResources"`
    v1beta1 = load("tekton-task-v1beta1.yaml")
    assert [s.resources_key_for(v1beta1) for s in task.containers] == ["resources", "resources"]
    assert [s.resources_key_for(load("tekton-task.yaml")) for s in task.containers] == [
        "computeResources",
        "computeResources",
    ]
    workflow = registry_for().lookup(load("argo-workflow.yaml")).templates[0]
    slots = {s.path: s.default_name for s in workflow.containers}
    # workflow/common/common.go: MainContainerName = "main"
    assert slots["container"] == "main" and slots["script"] == "main"
    assert workflow.pod_resources is False


@pytest.mark.parametrize(
    "api_version, kind, path",
    [
        ("ray.io/v1", "RayJob", "spec.rayClusterSpec.workerGroupSpecs[*].template.spec"),
        ("ray.io/v1", "RayService", "spec.rayClusterConfig.workerGroupSpecs[*].template.spec"),
        ("argoproj.io/v1alpha1", "CronWorkflow", "spec.workflowSpec.templates[*]"),
        ("tekton.dev/v1", "Pipeline", "spec.tasks[*].taskSpec"),
        ("tekton.dev/v1", "TaskRun", "spec.taskSpec"),
        ("kubeflow.org/v1", "TFJob", "spec.tfReplicaSpecs.*.template.spec"),
        ("kubeflow.org/v1", "MPIJob", "spec.mpiReplicaSpecs.*.template.spec"),
        ("apps.kruise.io/v1beta1", "DaemonSet", "spec.template.spec"),
    ],
)
def test_other_presets_have_the_paths_of_their_api_types(api_version, kind, path):
    spec = registry_for().lookup({"apiVersion": api_version, "kind": kind})
    assert path in [t.path for t in spec.templates]


# --- the rules on what the registry reaches ----------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESET_CASES))
def test_preset_template_judged_as_a_pod_finds_the_mistake_with_numbers(name):
    rule, container, label, words = PRESET_CASES[name]
    pod_spec = _templates(load(name))[label][1]
    found = [f for f in findings_of(pod_spec) if f.rule == rule]
    assert len(found) == 1, findings_of(pod_spec)
    if container is not None:
        assert found[0].container == container
    for word in words:
        assert word in found[0].message


@pytest.mark.parametrize("name", sorted(PRESET_CASES))
def test_preset_clean_twin_has_no_error_in_any_template(name):
    for label, (_, pod_spec) in _templates(load(name.replace(".yaml", ".clean.yaml"))).items():
        assert errors(findings_of(pod_spec)) == [], label


def _synthetic(name: str) -> list:
    obj = load(name)
    return registry_for().lookup(obj).adapter(obj)


@pytest.mark.parametrize("name", sorted(ADAPTER_CASES))
def test_adapter_pod_spec_judged_as_a_pod_finds_the_mistake_with_numbers(name):
    rule, container, label, words = ADAPTER_CASES[name]
    synthetic = {s.label: s for s in _synthetic(name)}
    pod_spec = synthetic[label].pod
    found = [f for f in findings_of(pod_spec) if f.rule == rule]
    assert len(found) == 1, findings_of(pod_spec)
    assert found[0].container == container
    for word in words:
        assert word in found[0].message


@pytest.mark.parametrize("name", sorted(ADAPTER_CASES))
def test_adapter_clean_twin_has_no_error(name):
    for synthetic in _synthetic(name.replace(".yaml", ".clean.yaml")):
        assert errors(findings_of(synthetic.pod)) == [], synthetic.label


def test_strimzi_renders_heap_options_as_jvm_option_utils_does():
    # JvmOptionUtils.heapOptions / appendHeapOpts / jvmPerformanceOptions
    env = strimzi.heap_env(
        {"-Xms": "1g", "-Xmx": "2g", "-XX": {"UseG1GC": True, "MaxGCPauseMillis": 20,
                                              "MaxRAMPercentage": 70}},
        {"limits": {"memory": "4Gi"}},
        75,
    )  # fmt: skip
    assert env == [
        {"name": "KAFKA_HEAP_OPTS", "value": "-Xms1g -Xmx2g -XX:MaxRAMPercentage=70"},
        {"name": "KAFKA_JVM_PERFORMANCE_OPTS", "value": "-XX:+UseG1GC -XX:MaxGCPauseMillis=20"},
    ]
    # no -Xmx, a memory limit: the dynamic heap (STRIMZI_DYNAMIC_HEAP_PERCENTAGE)
    assert strimzi.heap_env(None, {"limits": {"memory": "4Gi"}}, 50) == [
        {"name": "KAFKA_HEAP_OPTS", "value": "-XX:MaxRAMPercentage=50"}
    ]
    # no memory at all: -Xms128M (DEFAULT_JVM_XMS) and no -Xmx
    assert strimzi.heap_env({}, None, 75) == [{"name": "KAFKA_HEAP_OPTS", "value": "-Xms128M"}]


def test_strimzi_dynamic_heap_is_not_an_error():
    obj = load("strimzi-kafkaconnect.yaml")
    del obj["spec"]["jvmOptions"]
    (synthetic,) = strimzi.KINDS[2].adapter(obj)
    assert errors(findings_of(synthetic.pod)) == []
    assert not [f for f in findings_of(synthetic.pod) if f.rule.startswith("jvm-heap")]


def test_strimzi_node_pool_without_jvm_options_judges_only_its_memory():
    obj = load("strimzi-nodepool.yaml")
    del obj["spec"]["jvmOptions"]
    (synthetic,) = strimzi.node_pool(obj)
    assert "env" not in synthetic.pod["containers"][0]  # they come from the Kafka object
    assert synthetic.pod["containers"][0]["resources"]["limits"]["memory"] == "4Gi"


def test_strimzi_kafka_components_are_labelled_and_anchored():
    kafka = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "spec": {
            "kafka": {"jvmOptions": {"-Xmx": "3g"}, "resources": {"limits": {"memory": "2Gi"}}},
            "zookeeper": {"resources": {"limits": {"memory": "1Gi"}}},
            "cruiseControl": {},
        },
    }
    found = {s.label: s for s in strimzi.kafka(kafka)}
    assert {label: s.anchor for label, s in found.items()} == {
        "kafka": ("spec", "kafka"),
        "zookeeper": ("spec", "zookeeper"),
        "cruise-control": ("spec", "cruiseControl"),
    }
    (error,) = errors(findings_of(found["kafka"].pod))
    assert error.rule == "jvm-heap-exceeds-limit" and "150%" in error.message
    # a KRaft Kafka's spec.kafka has no resources: its pools carry them
    del kafka["spec"]["kafka"]["resources"]
    assert "kafka" not in {s.label for s in strimzi.kafka(kafka)}


def test_eck_memory_follows_defaults_and_the_nodeset_shorthand():
    # WithResourcesAndOverrides: defaults only when nothing is set; shorthand wins
    assert eck.main_resources({}, None) == {
        "requests": {"memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert eck.main_resources({"resources": {"limits": {"memory": "8Gi"}}}, None) == {
        "limits": {"memory": "8Gi"}
    }
    assert eck.main_resources(
        {"resources": {"limits": {"memory": "8Gi", "cpu": "2"}}},
        {"limits": {"memory": "4Gi"}, "requests": {"memory": "4Gi"}},
    ) == {"limits": {"memory": "4Gi", "cpu": "2"}, "requests": {"memory": "4Gi"}}
    # a cpu-only shorthand still suppresses the memory defaults
    assert eck.main_resources({}, {"limits": {"cpu": "2"}}) == {}


@pytest.mark.parametrize(
    "memory, flag",
    [("4g", "-Xmx4g"), ("512m", "-Xmx512m"), ("2gb", "-Xmx2048m"), ("1024", "-Xmx1024m"),
     ("1.5g", None), (None, None)],
)  # fmt: skip
def test_spark_memory_becomes_the_heap_flag(memory, flag):
    assert spark.heap_flag(memory) == flag


def test_spark_without_memory_limit_is_not_judged_and_limit_units_convert():
    obj = load("spark-application.yaml")
    assert [s.label for s in spark.spark_application(obj)] == ["driver"]
    assert spark.k8s_limit("2g") == "2Gi" and spark.k8s_limit("512mb") == "512Mi"
    scheduled = {"spec": {"template": obj["spec"]}}
    (synthetic,) = spark.scheduled_spark_application(scheduled)
    assert synthetic.anchor == ("spec", "template", "driver")


@pytest.mark.parametrize("junk", [None, [], "x", {"spec": []}, {"spec": {"nodeSets": "x"}}])
def test_adapters_never_raise_on_odd_shapes(junk):
    obj = junk if isinstance(junk, dict) else {"spec": junk}
    for kinds in (strimzi.KINDS, eck.KINDS, spark.KINDS):
        for spec in kinds:
            assert isinstance(spec.adapter(obj), list)


# --- the front ends (need the core engine to walk templates and adapters) ------------------


def test_tekton_v1beta1_step_limits_are_read_from_resources():
    findings = check_object(load("tekton-task-v1beta1.yaml"), CONFIG).findings
    (heap,) = [f for f in findings if f.rule == "jvm-heap-exceeds-limit"]
    assert heap.message.startswith(
        '-Xmx2g (env JAVA_TOOL_OPTIONS) is 200% of the 1Gi memory limit of container "build"'
    )
    # the limits under `resources` are read: no step is said to lack one
    assert not [f for f in findings if f.rule in ("memory-limit-missing", "best-effort-pod")]
    # the v1 key in a v1beta1 object is not where Tekton v1beta1 reads resources
    moved = load("tekton-task-v1beta1.yaml")
    for step in moved["spec"]["steps"]:
        step["computeResources"] = step.pop("resources")
    missing = [f for f in check_object(moved, CONFIG).findings if f.rule == "memory-limit-missing"]
    assert sorted((f.container, f.path) for f in missing) == [
        ("build", ("spec", "steps", 0)),
        ("report", ("spec", "steps", 1)),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "spark-application.yaml",
            # the heap is spark.driver.memory (submission.go), not a command anyone wrote
            "-Xmx4g (spec.driver.memory) is 200% of the 2Gi memory limit of container "
            '"spark-kubernetes-driver": heap plus off-heap memory will pass the limit and the '
            "kernel will kill the container (exit 137); use at most 75% (1536Mi)",
        ),
        (
            "strimzi-kafkaconnect.yaml",
            # JvmOptionUtils.heapOptions renders jvmOptions -Xmx into KAFKA_HEAP_OPTS
            "-Xmx2g (spec.jvmOptions as KAFKA_HEAP_OPTS) is 200% of the 1Gi memory limit of "
            'container "connect": heap plus off-heap memory will pass the limit and the kernel '
            "will kill the container (exit 137); use at most 75% (768Mi)",
        ),
    ],
)
def test_adapter_messages_name_the_custom_resource_field(name, message):
    (heap,) = [
        f for f in check_object(load(name), CONFIG).findings if f.rule == "jvm-heap-exceeds-limit"
    ]
    assert heap.message == message


def test_strimzi_kafka_component_message_names_its_jvm_options():
    kafka = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": {"name": "events"},
        "spec": {
            "kafka": {
                "jvmOptions": {"-Xmx": "3g"},
                "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "2Gi"}},
            }
        },
    }
    (heap,) = [
        f for f in check_object(kafka, CONFIG).findings if f.rule == "jvm-heap-exceeds-limit"
    ]
    assert heap.message.startswith(
        "-Xmx3g (spec.kafka.jvmOptions as KAFKA_HEAP_OPTS) is 150% of the 2Gi memory limit"
    )


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_lint_finds_the_mistake_with_numbers_and_label(name):
    rule, container, label, words = ALL_CASES[name]
    out = subprocess.run(
        [sys.executable, "-m", "oomguard", "lint", "--format", "json", str(DATA / name)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    found = [f for f in json.loads(out.stdout)["findings"] if f["rule"] == rule]
    assert len(found) == 1
    if container is not None:
        assert found[0]["container"] == container
    for word in [*words, label]:
        assert word in json.dumps(found[0])
    clean = subprocess.run(
        [
            sys.executable,
            "-m",
            "oomguard",
            "lint",
            str(DATA / name.replace(".yaml", ".clean.yaml")),
        ],
        capture_output=True,
        text=True,
    )
    assert clean.returncode == 0, clean.stdout


def _review(obj: dict) -> bytes:
    group, _, version = obj["apiVersion"].rpartition("/")
    spec = registry_for().lookup(obj)
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": spec.plural},
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:ci:deployer"},
        "namespace": "shop",
        "object": obj,
        "dryRun": False,
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def client():
    from oomguard.webhook.app import create_app

    config = config_from_data(
        {"mode": "enforce", "mutate": ["jvm-heap-exceeds-limit", "go-memlimit-exceeds-limit"]}
    )
    return create_app(config).test_client()


def _answer(client, path: str, obj: dict) -> dict:
    response = client.post(path, data=_review(obj), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_webhook_denies_the_mistake_and_its_patch_leaves_no_error(client, name):
    rule, _, _, words = ALL_CASES[name]
    obj = load(name)
    denied = _answer(client, "/validate", obj)
    assert denied["allowed"] is False
    assert rule in denied["status"]["message"]
    for word in words:
        assert word in denied["status"]["message"]
    assert _answer(client, "/validate", load(name.replace(".yaml", ".clean.yaml")))["allowed"]
    mutation = _answer(client, "/mutate", obj)
    if name in ADAPTER_CASES:
        assert "patch" not in mutation  # no exact pointer into the custom resource
        return
    patched = jsonpatch.apply_patch(obj, json.loads(base64.b64decode(mutation["patch"])))
    assert _answer(client, "/validate", patched)["allowed"] is True


def test_spark_roles_whose_heap_is_not_judged_are_said():
    # never a quiet pass: the executor sets memory but no memoryLimit (the pod's limit is then
    # Spark's memory plus overhead, not modelled), and an unreadable memory string is named
    from oomguard.rules.engine import check_object

    obj = load("spark-application.yaml")
    config = config_from_data({})
    assert check_object(obj, config).notices == [
        "SparkApplication/spark-pi: heap not judged for executor (no memoryLimit)"
    ]
    obj["spec"]["executor"]["memoryLimit"] = "1g"
    obj["spec"]["driver"]["memory"] = "1.5g"
    assert check_object(obj, config).notices == [
        "SparkApplication/spark-pi: heap not judged for driver (memory '1.5g' unreadable)"
    ]
    obj["spec"]["driver"]["memory"] = "1g"
    assert check_object(obj, config).notices == []
