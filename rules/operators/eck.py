"""ECK Elasticsearch (``elasticsearch.k8s.elastic.co``): each ``spec.nodeSets[*]`` becomes the
pod ECK renders, with the ``elasticsearch`` container's memory as ECK sets it.

Read from elastic/cloud-on-k8s at 7b93383d8ec1:

* ``pkg/controller/elasticsearch/nodespec/podspec.go``: the pod is the nodeSet's
  ``podTemplate`` with the main container ``elasticsearch``
  (``ElasticsearchContainerName``, ``pkg/apis/elasticsearch/v1/elasticsearch_types.go``) and
  ``WithResourcesAndOverrides(DefaultResources, nodeSet.Resources)``.
* ``pkg/controller/common/defaults/pod_template.go`` ``WithResourcesAndOverrides``: when the
  container has neither requests nor limits and the nodeSet's ``resources`` shorthand is
  empty, ECK sets ``DefaultResources`` (``nodespec/defaults.go``: memory request and limit
  2Gi); then the shorthand's ``limits.memory`` / ``requests.memory`` replace the container's.
* The heap: ``ES_JAVA_OPTS`` of the container, read by the JVM rules as the image's entrypoint
  passes it to ``java``. Without a heap flag Elasticsearch sizes the heap itself
  (``MachineDependentHeap.java`` in elastic/elasticsearch ``distribution/tools/server-cli``):
  at most 60 % of the memory (master-only nodes; 50 % for data nodes, 40 % for ML-only), which
  no heap rule rejects, so nothing is added for it.

Findings point at the nodeSet (``spec/nodeSets/<n>``) and carry no fix: the memory may come
from the shorthand, the template or ECK's default.
"""

from __future__ import annotations

import copy
from typing import Any

from oomguard.rules.kinds import KindSpec, Synthetic
from oomguard.rules.operators import mapping

MAIN = "elasticsearch"
DEFAULT_MEMORY = "2Gi"
SOURCE = (
    "https://github.com/elastic/cloud-on-k8s/blob/7b93383d8ec1/"
    "pkg/controller/common/defaults/pod_template.go"
)


def main_resources(container: dict[str, Any], shorthand: Any) -> dict[str, Any]:
    """The ``elasticsearch`` container's resources after ECK's defaults and the nodeSet's
    ``resources`` shorthand."""
    resources = container.get("resources")
    merged = {
        section: dict(values)
        for section, values in (resources.items() if isinstance(resources, dict) else ())
        if section in ("requests", "limits") and isinstance(values, dict)
    }
    override = {
        section: mapping(shorthand, section).get("memory")
        for section in ("requests", "limits")
        if mapping(shorthand, section).get("memory") is not None
    }
    if not merged and not _shorthand_set(shorthand):
        merged = {"requests": {"memory": DEFAULT_MEMORY}, "limits": {"memory": DEFAULT_MEMORY}}
    for section, memory in override.items():
        merged.setdefault(section, {})["memory"] = memory
    return merged


def _shorthand_set(shorthand: Any) -> bool:
    return any(
        value is not None
        for section in ("requests", "limits")
        for value in mapping(shorthand, section).values()
    )


def elasticsearch(obj: dict[str, Any]) -> list[Synthetic]:
    node_sets = mapping(obj, "spec").get("nodeSets")
    if not isinstance(node_sets, list):
        return []
    found = []
    for index, node_set in enumerate(node_sets):
        if not isinstance(node_set, dict):
            continue
        template = mapping(node_set, "podTemplate")
        pod = copy.deepcopy(mapping(template, "spec"))
        containers = pod.get("containers")
        if containers is None:
            containers = pod["containers"] = []
        if not isinstance(containers, list):
            continue  # the rules' shape check says so on the template itself
        main = next((c for c in containers if isinstance(c, dict) and c.get("name") == MAIN), None)
        if main is None:
            main = {"name": MAIN}
            containers.append(main)
        main["resources"] = main_resources(main, node_set.get("resources"))
        name = node_set.get("name")
        label = f"nodeset={name}" if isinstance(name, str) and name else f"nodeset={index}"
        found.append(Synthetic(pod, label, ("spec", "nodeSets", index)))
    return found


KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        "elasticsearch.k8s.elastic.co",
        "Elasticsearch",
        ("v1",),
        "elasticsearches",
        (),
        docs=SOURCE,
        adapter=elasticsearch,
    ),
)
