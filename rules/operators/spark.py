"""Spark Operator (``sparkoperator.k8s.io``): ``driver.memory`` / ``executor.memory`` are the
JVM heaps (``spark.driver.memory`` / ``spark.executor.memory``, passed to ``spark-submit`` by
``internal/controller/sparkapplication/submission.go``); ``driver.memoryLimit`` /
``executor.memoryLimit`` replace the pod's memory limit (``addMemoryLimit`` in
``internal/webhook/sparkpod_defaulter.go``, converted by
``ConvertJavaMemoryStringToK8sMemoryString``
in ``pkg/util/util.go``: ``k``/``kb`` -> ``Ki`` … ``p``/``pb`` -> ``Pi``). Read from
kubeflow/spark-operator at 38082f3318e9.

Only a role with ``memoryLimit`` is judged: its heap against that limit (``memory: 4g`` with
``memoryLimit: 2g`` starts a 4 GiB heap in a 2 GiB container). Without it, Spark sets the limit
to the memory plus its overhead, which is always above the heap; that overhead's defaults are
Spark's, not the operator's, and are not modelled (docs/kinds.md).
"""

from __future__ import annotations

import re
from typing import Any

from oomguard.rules.kinds import KindSpec, Synthetic
from oomguard.rules.operators import mapping
from oomguard.rules.text import printable

_JAVA_SIZE = re.compile(r"([0-9]+)([kmgtp]b?)?", re.IGNORECASE)
_JVM_SIZE = re.compile(r"[0-9]+[kmgt]?", re.IGNORECASE)  # what -Xmx accepts as written
_K8S_UNIT = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti", "p": "Pi"}
_BYTES = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
CONTAINERS = {"driver": "spark-kubernetes-driver", "executor": "spark-kubernetes-executor"}
SOURCE = (
    "https://github.com/kubeflow/spark-operator/blob/38082f3318e9/"
    "internal/webhook/sparkpod_defaulter.go"
)


def heap_flag(memory: Any) -> str | None:
    """``-Xmx`` for a Spark memory string (MiB without a unit), or None when unreadable."""
    if not isinstance(memory, str):
        return None
    text = memory.strip()
    if _JVM_SIZE.fullmatch(text) and not text.isdigit():
        return f"-Xmx{text}"
    match = _JAVA_SIZE.fullmatch(text)
    if match is None:
        return None
    unit = (match.group(2) or "m")[0].lower()
    mib = int(match.group(1)) * _BYTES[unit] // 1024**2
    return f"-Xmx{mib}m"


def k8s_limit(memory_limit: Any) -> Any:
    """The limit the operator's webhook writes (its unit conversion), or the value as is."""
    if not isinstance(memory_limit, str):
        return memory_limit
    text = memory_limit.strip()
    lower = text.lower()
    for suffix in ("kb", "mb", "gb", "tb", "pb", "k", "m", "g", "t", "p"):
        if lower.endswith(suffix):
            return lower.removesuffix(suffix) + _K8S_UNIT[suffix[0]]
    return text


def _role(spec: dict, role: str, prefix: tuple) -> Synthetic | None:
    pod_spec = mapping(spec, role)
    if pod_spec.get("memoryLimit") is None:
        return None
    limit = k8s_limit(pod_spec["memoryLimit"])
    container: dict[str, Any] = {
        "name": CONTAINERS[role],
        # Spark requests memory + overhead; only the limit is the operator's here
        "resources": {"limits": {"memory": limit}, "requests": {"memory": limit}},
    }
    flag = heap_flag(pod_spec.get("memory"))
    if flag is not None:
        container["command"] = ["java", flag, "org.apache.spark.deploy.SparkSubmit"]
    field = ".".join((*prefix, role, "memory"))
    return Synthetic({"containers": [container]}, role, (*prefix, role), (("command", field),))


def _adapter(prefix: tuple):
    def adapter(obj: dict[str, Any]) -> list[Synthetic]:
        spec: Any = obj
        for key in prefix:
            spec = mapping(spec, key)
        found = [_role(spec, role, prefix) for role in ("driver", "executor")]
        return [s for s in found if s is not None]

    return adapter


def _notice(prefix: tuple):
    """What a role sets that is not judged, said (never a quiet pass): a heap with no
    ``memoryLimit`` (the limit is Spark's memory plus overhead, not modelled), or a memory
    string that cannot be read as a heap size."""

    def notice(obj: dict[str, Any]) -> str | None:
        spec: Any = obj
        for key in prefix:
            spec = mapping(spec, key)
        unjudged = []
        for role in ("driver", "executor"):
            pod_spec = mapping(spec, role)
            memory = pod_spec.get("memory")
            if memory is None:
                continue
            if pod_spec.get("memoryLimit") is None:
                unjudged.append(f"{role} (no memoryLimit)")
            elif heap_flag(memory) is None:
                unjudged.append(f"{role} (memory {printable(str(memory))[:20]!r} unreadable)")
        if not unjudged:
            return None
        name = mapping(obj, "metadata").get("name")
        return (
            f"{obj.get('kind')}/{printable(str(name))}: heap not judged for {', '.join(unjudged)}"
        )

    return notice


spark_application = _adapter(("spec",))
scheduled_spark_application = _adapter(("spec", "template"))

KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        "sparkoperator.k8s.io", "SparkApplication", ("v1beta2",), "sparkapplications", (),
        docs=SOURCE, adapter=spark_application, notice=_notice(("spec",)),
    ),
    KindSpec(
        "sparkoperator.k8s.io", "ScheduledSparkApplication", ("v1beta2",),
        "scheduledsparkapplications", (), docs=SOURCE, adapter=scheduled_spark_application,
        notice=_notice(("spec", "template")),
    ),
)  # fmt: skip
