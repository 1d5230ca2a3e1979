"""Strimzi (``kafka.strimzi.io``): ``jvmOptions`` and ``resources`` per component, rendered as
the operator renders them, so the JVM heap rules judge ``-Xmx`` against the limit.

Read from strimzi/strimzi-kafka-operator at 8541da1e336b:

* ``cluster-operator/.../model/JvmOptionUtils.java`` ``heapOptions``: ``KAFKA_HEAP_OPTS`` gets
  ``-Xms<v>``, ``-Xmx<v>`` and the ``-XX`` ``InitialRAMPercentage``/``MaxRAMPercentage``
  entries (``appendHeapOpts``); the other ``-XX`` entries go to ``KAFKA_JVM_PERFORMANCE_OPTS``
  (``true`` -> ``-XX:+K``, ``false`` -> ``-XX:-K``, else ``-XX:K=V``). With neither ``-Xmx``
  nor ``MaxRAMPercentage`` and a memory request or limit, the image's
  ``dynamic_resources.sh`` sets the heap the JVM reports for ``-XX:MaxRAMPercentage=<p>``
  (capped at a maximum): p = 50 capped at 5 GiB for Kafka brokers (``KafkaCluster``), 75 for
  Connect, MirrorMaker 2, the Bridge and Cruise Control, 75 capped at 2 GiB for ZooKeeper
  (``ZookeeperCluster`` in 0.45.0). Without memory request or limit and without ``-Xms``, the
  heap options are ``-Xms128M`` (``DEFAULT_JVM_XMS``).
* the run scripts start ``java ${KAFKA_HEAP_OPTS} ${KAFKA_JVM_PERFORMANCE_OPTS} …``
  (``docker-images/kafka-based/kafka/cruise-control-scripts/cruise_control_run.sh``).
* ``KafkaPool.java``: a node pool's ``jvmOptions`` replace the Kafka's
  ``spec.kafka.jvmOptions``; its ``resources`` are its own.

``javaSystemProperties`` (``-D…`` in ``STRIMZI_JAVA_SYSTEM_PROPERTIES``) cannot size a heap and
is not read. A cap on the dynamic heap only lowers it, and is not modelled: the percentage is
at most 75, which the heap rules accept.
"""

from __future__ import annotations

from typing import Any

from oomguard.rules.kinds import KindSpec, Synthetic
from oomguard.rules.operators import mapping, memory_of, plain_resources

GROUP = "kafka.strimzi.io"
VERSIONS = ("v1", "v1beta2")
SOURCE = (
    "https://github.com/strimzi/strimzi-kafka-operator/blob/8541da1e336b/"
    "cluster-operator/src/main/java/io/strimzi/operator/cluster/model/JvmOptionUtils.java"
)
_HEAP_XX = ("InitialRAMPercentage", "MaxRAMPercentage")
DEFAULT_XMS = "128M"


def _xx_value(value: Any) -> str:
    if isinstance(value, bool):  # Jackson reads a YAML boolean into the String map as "true"
        return "true" if value else "false"
    return str(value)


def heap_env(jvm: Any, resources: Any, percent: int) -> list[dict[str, str]]:
    """The ``KAFKA_HEAP_OPTS`` / ``KAFKA_JVM_PERFORMANCE_OPTS`` env Strimzi renders."""
    jvm = jvm if isinstance(jvm, dict) else {}
    xx = mapping(jvm, "-XX")
    heap: list[str] = []
    if jvm.get("-Xms") is not None:
        heap.append(f"-Xms{jvm['-Xms']}")
    if jvm.get("-Xmx") is not None:
        heap.append(f"-Xmx{jvm['-Xmx']}")
    heap += [f"-XX:{key}={_xx_value(xx[key])}" for key in _HEAP_XX if xx.get(key) is not None]
    if jvm.get("-Xmx") is None and xx.get("MaxRAMPercentage") is None:
        if memory_of(resources, "requests") is not None or memory_of(resources, "limits"):
            # dynamic_resources.sh: the heap java reports for -XX:MaxRAMPercentage=<p>
            heap.append(f"-XX:MaxRAMPercentage={percent}")
        elif jvm.get("-Xms") is None and xx.get("InitialRAMPercentage") is None:
            heap.append(f"-Xms{DEFAULT_XMS}")
    performance = [
        (f"-XX:+{key}" if _xx_value(value).lower() == "true" else
         f"-XX:-{key}" if _xx_value(value).lower() == "false" else
         f"-XX:{key}={_xx_value(value)}")
        for key, value in xx.items()
        if isinstance(key, str) and key not in _HEAP_XX and value is not None
    ]  # fmt: skip
    env = [{"name": "KAFKA_HEAP_OPTS", "value": " ".join(heap)}] if heap else []
    if performance:
        env.append({"name": "KAFKA_JVM_PERFORMANCE_OPTS", "value": " ".join(performance)})
    return env


def component(
    node: Any, anchor: tuple, name: str, percent: int, label: str = "", *, jvm: bool = True
) -> Synthetic | None:
    """One Strimzi component (a mapping with ``jvmOptions`` and ``resources``) as the pod
    spec of its JVM container. ``jvm=False``: the JVM options are not in this object."""
    if not isinstance(node, dict):
        return None
    resources = node.get("resources")
    container: dict[str, Any] = {
        "name": name,
        "resources": plain_resources(resources),
    }
    if jvm:
        container["command"] = [
            "sh",
            "-c",
            "exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS -cp /opt/kafka/libs/* main",
        ]
        container["env"] = heap_env(node.get("jvmOptions"), resources, percent)
    where = ".".join(anchor)
    # KAFKA_HEAP_OPTS holds jvmOptions' heap flags, else the heap Strimzi sets from resources
    source = (
        f"{where}.jvmOptions"
        if isinstance(node.get("jvmOptions"), dict)
        else (f"{where}.resources, by Strimzi")
    )
    origins = (
        ("env KAFKA_HEAP_OPTS", f"{source} as KAFKA_HEAP_OPTS"),
        ("env KAFKA_JVM_PERFORMANCE_OPTS", f"{where}.jvmOptions.-XX as KAFKA_JVM_PERFORMANCE_OPTS"),
    )
    return Synthetic({"containers": [container]}, label, anchor, origins)


def kafka(obj: dict[str, Any]) -> list[Synthetic]:
    """A Kafka: ``spec.kafka`` (when it carries its own ``resources``: ZooKeeper-era and
    pre-node-pool clusters), ``spec.zookeeper`` (Strimzi 0.45 and earlier) and
    ``spec.cruiseControl``."""
    spec = mapping(obj, "spec")
    found = []
    if "resources" in mapping(spec, "kafka"):
        found.append(component(spec["kafka"], ("spec", "kafka"), "kafka", 50, "kafka"))
    if "zookeeper" in spec:
        found.append(
            component(spec["zookeeper"], ("spec", "zookeeper"), "zookeeper", 75, "zookeeper")
        )
    if "cruiseControl" in spec:
        found.append(
            component(
                spec["cruiseControl"], ("spec", "cruiseControl"), "cruise-control", 75,
                "cruise-control",
            )
        )  # fmt: skip
    return [s for s in found if s is not None]


def node_pool(obj: dict[str, Any]) -> list[Synthetic]:
    """A KafkaNodePool: its resources, and its jvmOptions when it has them (else they come
    from its Kafka's ``spec.kafka.jvmOptions``, another object: the heap is not judged)."""
    spec = mapping(obj, "spec")
    found = component(spec, ("spec",), "kafka", 50, jvm="jvmOptions" in spec)
    return [found] if found else []


def _single(name: str) -> Any:
    def adapter(obj: dict[str, Any]) -> list[Synthetic]:
        found = component(obj.get("spec"), ("spec",), name, 75)
        return [found] if found else []

    adapter.__name__ = f"strimzi_{name.replace('-', '_')}"
    return adapter


def _kind(kind: str, plural: str, adapter: Any, crd: str) -> KindSpec:
    return KindSpec(
        GROUP,
        kind,
        VERSIONS,
        plural,
        (),
        docs=f"{SOURCE} ; CRD: https://github.com/strimzi/strimzi-kafka-operator/blob/"
        f"8541da1e336b/packaging/install/cluster-operator/{crd}",
        adapter=adapter,
    )


KINDS: tuple[KindSpec, ...] = (
    _kind("Kafka", "kafkas", kafka, "040-Crd-kafka.yaml"),
    _kind("KafkaNodePool", "kafkanodepools", node_pool, "045-Crd-kafkanodepool.yaml"),
    _kind("KafkaConnect", "kafkaconnects", _single("connect"), "041-Crd-kafkaconnect.yaml"),
    _kind(
        "KafkaMirrorMaker2", "kafkamirrormaker2s", _single("mirrormaker2"),
        "048-Crd-kafkamirrormaker2.yaml",
    ),
    _kind("KafkaBridge", "kafkabridges", _single("bridge"), "046-Crd-kafkabridge.yaml"),
)  # fmt: skip
