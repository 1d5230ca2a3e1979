"""From a plain Kubernetes object (dicts and lists) to the views rules check.

This is the boundary where shapes are checked: anything of the wrong type becomes a
``manifest-invalid`` problem here, so rules only ever see well-typed views. Paths are tuples
relative to the object (``("spec", "template", "spec", "containers", 0)``), the same paths
fixes use as JSON Pointers.

(Over 400 lines, on purpose: the typed views, the shape checks that build them and the walk
over every pod template of a registry kind (patterns, container slots, adapter views, the
container bound) belong together, so that no rule ever sees an unchecked field and no view
is built by a second, diverging walk. The patterns themselves live in rules/kinds.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from oomguard.rules.kinds import (
    LIST,
    MAP,
    REGISTRY,
    ContainerSlot,
    KindSpec,
    Registry,
    Template,
    expand,
    template_label,
)
from oomguard.rules.limit_ranges import (
    LimitRange,
    LimitRangeLookup,
    first_default,
    no_limit_ranges,
)
from oomguard.rules.model import Path, Problem
from oomguard.rules.quantity import GO_SPACE, QuantityError, is_millibytes, parse_quantity
from oomguard.rules.runtimes.argv import command_lines
from oomguard.rules.runtimes.env import Env, TextBudget, resolve_env
from oomguard.rules.text import type_name
from oomguard.rules.vpa import Vpa, VpaLookup, no_vpas

# Kinds whose data heap flags may be read from (envFrom, configMapKeyRef, secretKeyRef).
SOURCE_KINDS = ("ConfigMap", "Secret")

IGNORE_ANNOTATION = "oomguard.io/ignore"

# Containers judged per object. Kubernetes sets no count, but every rule runs per container,
# so an object with tens of thousands (a 6 MiB review holds ~45,000) would hold a webhook
# worker for minutes; no real pod template comes near this. The rest are said, not judged.
MAX_CONTAINERS = 500

# (kind, namespace, name) -> data, None when the source is not available, or a string saying
# why it exists but could not be read (e.g. "forbidden (403)"), for the finding's message.
Lookup = Callable[[str, str | None, str], dict[str, str] | str | None]


def no_lookup(kind: str, namespace: str | None, name: str) -> None:
    return None


# Immutable by convention, not frozen, for speed (see rules/model.py, above Problem).
@dataclass(slots=True, unsafe_hash=True, repr=False)
class MemoryValue:
    """One ``requests.memory`` / ``limits.memory`` value as written, and what it means."""

    raw: Any
    path: Path
    pod_level: bool = False
    value: Fraction | None = None  # bytes; None when it does not parse
    error: str | None = None  # why it does not parse
    # not written: where the API server takes it from ('the default of LimitRange "x"')
    origin: str | None = None
    # Worked out once, when the value is read (below): a container's limit and request are
    # compared by ~10 rules per check_object, and a property recomputed them on every read.
    millibytes: bool = field(init=False, repr=False, compare=False)
    # The byte count other rules may compare against: not for invalid or ``m`` values,
    # whose own rules report them first.
    usable: Fraction | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.millibytes = millibytes = is_millibytes(self.raw)
        self.usable = None if millibytes else self.value

    @property
    def text(self) -> str:
        """The value as the API server stores it (surrounding whitespace trimmed)."""
        return str(self.raw).strip(GO_SPACE)


_UNSET = object()  # nothing derived yet (None is a value a computation may return)


class cached_property:  # noqa: N801  (named as the functools decorator it stands for)
    """``functools.cached_property`` without its lock: Python 3.11's takes an RLock on every
    first read (removed in 3.12), and views are never shared between threads. The value is
    kept in the instance's ``__dict__``, as functools does, so that it is read from there
    afterwards and :meth:`Workload.release` can drop it."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


def memory_value(raw: Any, path: Path, pod_level: bool = False) -> MemoryValue:
    try:
        value = parse_quantity(raw)
    except QuantityError as exc:
        return MemoryValue(raw, path, pod_level, None, str(exc))
    if value.numerator < 0:  # a Fraction's sign is its numerator's (no Fraction comparison)
        return MemoryValue(raw, path, pod_level, None, f"{raw!r} is negative")
    return MemoryValue(raw, path, pod_level, value)


@dataclass(eq=False, repr=False)
class Container:
    """One entry of ``containers`` or ``initContainers``."""

    name: str
    path: Path
    spec: dict[str, Any]
    init: bool
    workload: Workload = field(repr=False)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources_key: str = "resources"  # Tekton steps: computeResources
    # what rules work out per container, by key: a compute function (``derive``) or a key of
    # a rule helper's own (``heap_check``: the runtime); cleared by ``Workload.release``
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    _memory: dict = field(default_factory=dict, repr=False, compare=False)  # own_memory, once

    # label, resources_path and image are read by many rules per container (messages, fixes,
    # runtime evidence): built on first read, then read from the instance like a field.
    @cached_property
    def resources_path(self) -> Path:
        return (*self.path, self.resources_key)

    def derive(self, compute: Callable[[Container], Any]) -> Any:
        """``compute(self)``, once: rules share the runtime settings they read."""
        value = self.memo.get(compute, _UNSET)
        if value is _UNSET:
            value = self.memo[compute] = compute(self)
        return value

    @cached_property
    def label(self) -> str:
        return f'init container "{self.name}"' if self.init else f'container "{self.name}"'

    def own_memory(self, section: str) -> MemoryValue | None:
        """``resources.<section>.memory`` of this container as written (read once: rules
        and the QoS class ask again and again; a MemoryValue is immutable)."""
        if section in self._memory:
            return self._memory[section]
        values = self.resources.get(section)
        if values is None or "memory" not in values:
            value = None
        else:
            value = memory_value(values["memory"], (*self.resources_path, section, "memory"))
        self._memory[section] = value
        return value

    @cached_property
    def limit(self) -> MemoryValue | None:
        """The memory limit that applies: the container's own, else the pod-level one."""
        return self.own_memory("limits") or self.workload.pod_memory("limits")

    @cached_property
    def request(self) -> MemoryValue | None:
        """The memory request as written (container, else pod level); not defaulted."""
        return self.own_memory("requests") or self.workload.pod_memory("requests")

    @cached_property
    def limit_default(self) -> tuple[LimitRange, MemoryValue] | None:
        """The limit a LimitRange of the namespace gives this container when none is written
        (container or pod level): ``mergeContainerResources`` (see rules/limit_ranges.py)."""
        if self.limit is not None:
            return None
        found = first_default(self.workload.namespace_limit_ranges()[0], "default")
        if found is None:
            return None
        limit_range, bound = found
        origin = f"the default of {limit_range.described}"
        return limit_range, MemoryValue(bound.text, self.path, value=bound.value, origin=origin)

    @cached_property
    def effective_limit(self) -> MemoryValue | None:
        """The memory limit the Pod's container gets: as written, else a LimitRange's
        default (``origin`` says which)."""
        if self.limit is not None:
            return self.limit
        return self.limit_default[1] if self.limit_default else None

    @cached_property
    def effective_request(self) -> MemoryValue | None:
        """The memory request the Pod's container gets: as written; else its own limit
        (``SetDefaults_Pod``, before admission); else a LimitRange's ``defaultRequest``."""
        if self.request is not None:
            return self.request
        own = self.own_memory("limits")
        if own is not None:
            return own
        if self.workload.pod_memory("limits") is not None:
            return None  # pod-level resources: not defaulted by oomguard (see docs)
        found = first_default(self.workload.namespace_limit_ranges()[0], "default_request")
        if found is None:
            return None
        limit_range, bound = found
        origin = f"the defaultRequest of {limit_range.described}"
        return MemoryValue(bound.text, self.path, value=bound.value, origin=origin)

    @property
    def limit_bytes(self) -> Fraction | None:
        return self.limit.usable if self.limit else None

    @cached_property
    def env(self) -> Env:
        env = resolve_env(self)
        origins = self.workload.origins
        if origins:  # an adapter's container: say the custom resource's field
            for name, value in env.values.items():
                if value.origin in origins:
                    env.values[name] = replace(value, origin=origins[value.origin])
        return env

    @cached_property
    def commands(self) -> list:
        lines = command_lines(self)
        origins = self.workload.origins
        if origins:
            for line in lines:
                line.args = [
                    replace(t, origin=origins[t.origin]) if t.origin in origins else t
                    for t in line.args
                ]
        return lines

    @cached_property
    def image(self) -> str:
        image = self.spec.get("image")
        return image if isinstance(image, str) else ""


# Container's cached properties (kept in __dict__, see cached_property)
_CACHED = ("limit", "request", "env", "commands")


@dataclass(eq=False, repr=False)
class Workload:
    """One pod template of a workload object (an object may have several, each its own view),
    with shape problems found while reading the object."""

    obj: dict[str, Any]
    kind: str
    name: str | None
    namespace: str | None
    pod_path: Path
    pod: dict[str, Any]
    containers: list[Container] = field(default_factory=list)
    # string annotations of the object and of its pod template, each with its path
    annotations: list[tuple[Path, dict[str, str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lookup: Lookup = field(default=no_lookup, repr=False)
    limit_ranges: LimitRangeLookup = field(default=no_limit_ranges, repr=False)
    vpas: VpaLookup = field(default=no_vpas, repr=False)
    pod_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What a live cluster observed, per container name (``oomguard audit`` only):
    # [{"pod": …, "reason": "OOMKilled", "exitCode": 137, "finishedAt": …, "restartCount": …}]
    observed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # What each rule run so far yielded here, before suppression (rules/engine.py fills it)
    found: dict[str, list[Problem]] = field(default_factory=dict, repr=False)
    budget: TextBudget = field(default_factory=TextBudget, repr=False)
    _by_name: tuple[int, dict[str, Container]] = field(default=(-1, {}), repr=False)
    # how findings name this pod template when the object has several (``worker-group=gpu``)
    template: str | None = None
    # an adapter's view (rules/kinds.py): where its findings point, with no fix; and the
    # custom resource's field each origin of its flags stands for (command: spec.driver.memory)
    anchor: Path | None = None
    origins: dict[str, str] = field(default_factory=dict)
    known: bool = True  # False: a bare view of an object outside the registry
    _derived: dict = field(default_factory=dict, repr=False, compare=False)

    def derive(self, compute: Callable[[Workload], Any]) -> Any:
        """``compute(self)``, once: rules share what they work out (the QoS class)."""
        value = self._derived.get(compute, _UNSET)
        if value is _UNSET:
            value = self._derived[compute] = compute(self)
        return value

    def namespace_limit_ranges(self) -> tuple[tuple[LimitRange, ...], str | None]:
        """The LimitRanges of the workload's namespace, and why they could not be read (a
        403, a timeout) when they could not; asked once per view."""
        return self.derive(_namespace_limit_ranges)

    def vpa(self) -> Vpa | None:
        """The VerticalPodAutoscaler that targets this workload (rules/vpa.py), if known."""
        if self.name is None:
            return None
        return self.vpas(self.namespace, self.kind, self.name)

    def pod_memory(self, section: str) -> MemoryValue | None:
        values = self.pod_resources.get(section)
        if values is None or "memory" not in values:
            return None
        return memory_value(
            values["memory"], (*self.pod_path, "resources", section, "memory"), True
        )

    @property
    def complete_pod(self) -> bool:
        """The pod spec has regular containers; a kustomize patch that only adds init
        containers is not a pod whose QoS class can be judged."""
        return any(not container.init for container in self.containers)

    def release(self) -> None:
        """Drop every link between this view, its containers and what the rules worked out
        about them (settings and checks that point back at their container), once the rules
        have run. Without cycles, reference counting frees the view and the parsed object at
        once: the cyclic GC then neither runs for them nor lets them pile up (it cost ~7 % of
        a lint run, and memory must follow the largest file)."""
        for container in self.containers:
            container.memo.clear()
            for cached in _CACHED:
                container.__dict__.pop(cached, None)
        self._derived.clear()
        self._by_name = (-1, {})
        self.containers.clear()

    def container(self, name: str) -> Container | None:
        """The first container of that name (rules ask once per container: a dict, not a
        scan, so that a review with thousands of containers costs linear time)."""
        count, by_name = self._by_name
        if count != len(self.containers):  # built once the containers are all read
            by_name = {}
            for container in reversed(self.containers):
                by_name[container.name] = container
            self._by_name = (len(self.containers), by_name)
        return by_name.get(name)

    def ignored_rules(self, container: str | None) -> set[str]:
        """Rules suppressed by ``oomguard.io/ignore`` (all containers) and
        ``oomguard.io/ignore.<container>`` annotations; ``all`` suppresses every rule. The
        object's and its pod template's annotations add up."""
        if not self.ignore_annotated():
            return set()  # no ignore annotation at all (most objects): no entries to read
        names = {IGNORE_ANNOTATION}
        if container is not None:
            names.add(f"{IGNORE_ANNOTATION}.{container}")
        return {rule for path, key, rule in self.ignore_entries() if key in names}

    def ignore_annotated(self) -> bool:
        """Some annotation of the object or pod template starts ``oomguard.io/ignore``."""
        return any(
            key.startswith(IGNORE_ANNOTATION) for _, values in self.annotations for key in values
        )

    def ignore_entries(self) -> Iterator[tuple[Path, str, str]]:
        """Every rule ID named by an ``oomguard.io/ignore*`` annotation: (path of the
        annotation, its key, the ID)."""
        for path, values in self.annotations:
            for key, value in values.items():
                if key == IGNORE_ANNOTATION or key.startswith(IGNORE_ANNOTATION + "."):
                    for part in value.split(","):
                        if part.strip():
                            yield (*path, "annotations", key), key, part.strip()


def _namespace_limit_ranges(workload: Workload) -> tuple[tuple[LimitRange, ...], str | None]:
    found = workload.limit_ranges(workload.namespace)
    return ((), found) if isinstance(found, str) else (tuple(found), None)


def is_workload(obj: Any, registry: Registry = REGISTRY) -> bool:
    return isinstance(obj, dict) and registry.lookup(obj) is not None


def iter_objects(doc: Any) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Top-level objects of a document with their paths, expanding ``List``/``*List`` items.

    Items of a typed list (``DeploymentList``) may omit ``kind`` and ``apiVersion``: the API
    server's list responses do (``kubectl get deployments -o json`` keeps them, a raw
    ``GET /apis/apps/v1/deployments`` does not), and every item is of the list's kind. Such
    an item is read as a copy with the kind and apiVersion of the list; the document itself
    is not changed, so fixes still address ``items/<n>``."""
    if not isinstance(doc, dict):
        return
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_kind = kind.removesuffix("List")
        for index, item in enumerate(items):
            if isinstance(item, dict):
                if "kind" not in item and item_kind:
                    item = {**item, "kind": item_kind}
                    if "apiVersion" not in item and isinstance(doc.get("apiVersion"), str):
                        item["apiVersion"] = doc["apiVersion"]
                yield ("items", index), item
    else:
        yield (), doc


class _Shape:
    """Collects manifest-invalid problems while typed views are built."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def expect(
        self, value: Any, kind: type, path: Path, what: str, container: str | None = None
    ) -> bool:
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return True
        expected = {dict: "a mapping", list: "a list", str: "a string"}[kind]
        self.problems.append(
            Problem(f"{what} must be {expected}, not {type_name(value)}", path, container)
        )
        return False

    def mapping(self, parent: dict, key: str, path: Path, what: str, container=None) -> dict:
        """``parent[key]`` when it is a mapping; {} when absent or null-free and wrong."""
        value = parent.get(key)
        if value is None:
            return {}
        if type(value) is dict:  # the common case: no path to build (hot)
            return value
        return value if self.expect(value, dict, (*path, key), what, container) else {}


def build_workloads(
    obj: dict[str, Any],
    lookup: Lookup = no_lookup,
    registry: Registry = REGISTRY,
    limit_ranges: LimitRangeLookup = no_limit_ranges,
    vpas: VpaLookup = no_vpas,
    spec: KindSpec | None = None,
) -> list[Workload]:
    """One typed view per pod template of a workload object (its kind must be in
    ``registry``), then one per pod spec its adapter builds. Built-in kinds have exactly one;
    a kind whose templates are all absent still gives one empty view (the object is read).
    ``spec``: the object's registry entry, when the caller has looked it up already."""
    if spec is None:
        spec = registry.lookup(obj)
    if spec is None:
        raise ValueError("not a registry kind")
    shape = _Shape()
    metadata = shape.mapping(obj, "metadata", (), "metadata")
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
    head = (obj, spec.kind, name, namespace, lookup)
    object_annotations = [(("metadata",), _annotations(shape, metadata, ("metadata",)))]
    labelled = len(spec.templates) > 1 or spec.adapter is not None
    views: list[Workload] = []
    for template in spec.templates:
        if LIST not in template.steps and MAP not in template.steps:
            pod_path, pod, annotations = _walk(shape, obj, template.steps)
            matches = [(pod_path, pod, annotations, template.label)]
        else:
            labelled = True
            matches = [
                (path, node, _template_annotations(shape, obj, path), template_label(template, m))
                for path, node, m in expand(obj, template.steps)
                if shape.expect(node, dict, path, ".".join(map(str, path)))
            ]
        for pod_path, pod, annotations, label in matches:
            view = _view(shape, head, template, pod_path, pod, [*object_annotations, *annotations])
            view.template = label or None
            views.append(view)
    if spec.adapter is not None:
        views.extend(_synthetic_views(head, spec.adapter, object_annotations))
    if not views:
        empty = Template("spec", containers=())
        views.append(_view(shape, head, empty, (), {}, object_annotations))
    if not labelled:
        for view in views:
            view.template = None
    _bound_containers(shape, views)
    for view in views:
        view.limit_ranges = limit_ranges
        view.vpas = vpas
    for problem in shape.problems:  # each said once: in the view it is in, else the first
        owner = next((v for v in views if problem.path[: len(v.pod_path)] == v.pod_path), None)
        (owner or views[0]).problems.append(problem)
    return views


def _bound_containers(shape: _Shape, views: list[Workload]) -> None:
    """Keep the first MAX_CONTAINERS containers of the object; the rest are a problem."""
    total = sum(len(view.containers) for view in views)
    if total <= MAX_CONTAINERS:
        return
    left, said = MAX_CONTAINERS, False
    for view in views:
        if len(view.containers) > left:
            if not said:
                first = view.containers[left]
                shape.problems.append(
                    Problem(
                        f"the object has {total:,} containers; oomguard judges at most "
                        f"{MAX_CONTAINERS} per object, so {total - MAX_CONTAINERS:,} from "
                        f"{first.label} on are not checked",
                        first.path,
                    )
                )
                said = True
            del view.containers[left:]
        left -= len(view.containers)


def build_workload(obj: dict[str, Any], lookup: Lookup = no_lookup) -> Workload:
    """The view of an object with one pod template (a built-in kind)."""
    return build_workloads(obj, lookup)[0]


def _walk(shape: _Shape, obj: dict, steps: tuple) -> tuple[Path, dict, list]:
    """Follow a path without wildcards, saying where a node has the wrong type; the pod
    template's own annotations (metadata beside a ``spec`` step) apply too."""
    annotations = []
    node: Any = obj
    walked: Path = ()
    for key in steps:
        if not isinstance(node, dict):
            break
        if key == "spec" and walked and "metadata" in node and isinstance(node["metadata"], dict):
            template = (*walked, "metadata")
            annotations.append((template, _annotations(shape, node["metadata"], template)))
        child = node.get(key)
        if child is None or type(child) is not dict:  # the label only when it may be said
            child = shape.mapping(node, key, walked, ".".join(map(str, (*walked, key))))
        node = child
        walked = (*walked, key)
    return steps, node if isinstance(node, dict) else {}, annotations


def _template_annotations(shape: _Shape, obj: dict, pod_path: Path) -> list:
    """Annotations of every pod template metadata on the way to a pod spec found by pattern."""
    found = []
    node: Any = obj
    for index, key in enumerate(pod_path):
        if (
            key == "spec"
            and index
            and isinstance(node, dict)
            and isinstance(node.get("metadata"), dict)
        ):
            where = (*pod_path[:index], "metadata")
            found.append((where, _annotations(shape, node["metadata"], where)))
        node = node[key]
    return found


def _view(shape, head, template, pod_path, pod, annotations) -> Workload:
    obj, kind, name, namespace, lookup = head
    workload = Workload(obj, kind, name, namespace, pod_path, pod, annotations=annotations)
    workload.lookup = lookup
    if template.pod_resources:
        workload.pod_resources = _resources(shape, pod, pod_path, None, "resources")
    for slot in template.containers:
        _containers(shape, workload, slot, pod, pod_path)
    return workload


def _containers(shape, workload: Workload, slot: ContainerSlot, pod: dict, pod_path) -> None:
    section = slot.path
    if slot.steps in _STANDARD:  # a pod spec's list: its exact shape checks, fast
        section = slot.steps[0]
        entries = pod.get(section)
        if section not in pod or (entries is None and slot.init):
            return
        if not shape.expect(entries, list, (*pod_path, section), section):
            return
        found = [((*pod_path, section, index), spec) for index, spec in enumerate(entries)]
    else:
        found = [(path, spec) for path, spec, _ in expand(pod, slot.steps, pod_path)]
    for path, spec in found:
        if type(spec) is not dict and not shape.expect(spec, dict, path, _where(section, path)):
            continue
        cname = spec.get("name")
        if cname is None and slot.default_name:
            cname = slot.default_name
        if not isinstance(cname, str):
            where = _where(section, path)
            shape.expect(cname, str, (*path, "name"), f"{where}.name")
            cname = where
        _check_container_fields(shape, spec, path, cname)
        key = slot.resources_key_for(workload.obj)
        workload.containers.append(
            Container(
                name=cname,
                path=path,
                spec=spec,
                init=slot.init,
                workload=workload,
                resources=_resources(shape, spec, path, cname, key),
                resources_key=key,
            )
        )


_STANDARD = frozenset({("containers", LIST), ("initContainers", LIST)})


def _where(section: str, path: Path) -> str:
    """How messages name a container entry: ``containers[0]`` (built only when said)."""
    return f"{section}[{path[-1]}]" if isinstance(path[-1], int) else section


def _synthetic_views(head, adapter, annotations) -> list[Workload]:
    """Views of the pod specs an adapter builds (see rules/kinds.py); their shape problems
    and findings point at the adapter's anchor."""
    views = []
    for synthetic in adapter(head[0]):
        shape = _Shape()
        view = _view(shape, head, Template("spec"), (), synthetic.pod, annotations)
        view.template = synthetic.label or None
        view.anchor = synthetic.anchor
        view.origins = dict(synthetic.origins)
        view.problems = shape.problems
        view.pod_path = ("<adapter>",)  # matches no path of the object's own problems
        views.append(view)
    return views


def _annotations(shape: _Shape, metadata: dict, path: Path) -> dict[str, str]:
    annotations = shape.mapping(metadata, "annotations", path, "metadata.annotations")
    for key, value in annotations.items():
        if isinstance(key, str) and key.startswith(IGNORE_ANNOTATION):
            # a suppression that cannot be read is said, never dropped
            shape.expect(value, str, (*path, "annotations", key), f"annotation {key}")
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


def _resources(shape: _Shape, spec: dict, path: Path, container: str | None, key: str) -> dict:
    resources = spec.get(key)
    if resources is None:  # absent (many containers): nothing to say, no label to build
        resources = {}
    elif type(resources) is not dict:  # labels only when they may be said
        resources = shape.mapping(spec, key, path, _resources_what(key, container), container)
    sections = {}
    for section in ("requests", "limits"):
        values = resources.get(section)
        if values is None:
            values = {}
        elif type(values) is not dict:
            what = _resources_what(key, container)
            values = shape.mapping(
                resources, section, (*path, "resources"), f"{what}.{section}", container
            )
        memory = values.get("memory")
        if memory is not None and type(memory) is not str and isinstance(memory, dict | list):
            # reported here, and kept: a value that cannot be read is never treated as absent
            shape.expect(
                memory,
                str,
                (*path, key, section, "memory"),
                f"{_resources_what(key, container)}.{section}.memory",
                container,
            )
        sections[section] = values
    return sections


def _resources_what(key: str, container: str | None) -> str:
    return key if container is None else f"container {container!r} {key}"


def _check_container_fields(shape: _Shape, spec: dict, path: Path, name: str) -> None:
    """Types the runtime resolvers rely on: argv strings and env entries."""
    for key in ("command", "args"):
        items = spec.get(key)
        if items is not None and (
            type(items) is list or shape.expect(items, list, (*path, key), key, name)
        ):
            for index, item in enumerate(items):
                if type(item) is not str and not isinstance(item, str):  # said only (hot)
                    shape.expect(item, str, (*path, key, index), f"{key}[{index}]", name)
    for key in ("env", "envFrom"):
        items = spec.get(key)
        if items is not None:
            if type(items) is not list and not shape.expect(items, list, (*path, key), key, name):
                continue
            for index, entry in enumerate(items):
                if type(entry) is dict and (key != "env" or _plain_env_entry(entry)):
                    continue  # nothing to say: skip building the path and labels (hot)
                where = (*path, key, index)
                if not shape.expect(entry, dict, where, f"{key}[{index}]", name):
                    continue
                if key == "env":
                    shape.expect(
                        entry.get("name"), str, (*where, "name"), f"env[{index}].name", name
                    )
                    if "value" in entry and entry["value"] is not None:
                        shape.expect(
                            entry["value"],
                            str,
                            (*where, "value"),
                            f"env {entry.get('name')!s} value",
                            name,
                        )


def _plain_env_entry(entry: dict) -> bool:
    """An env entry whose name and value have the types _check_container_fields asks for."""
    value = entry.get("value")
    return isinstance(entry.get("name"), str) and (
        value is None or type(value) is str or isinstance(value, str)
    )


def memory_values(workload: Workload) -> list[tuple[str, str | None, MemoryValue]]:
    """Every memory request and limit as written: (whose, container name, value); listed
    once per view (memory-quantity-invalid and memory-quantity-millibytes both read it)."""
    return workload.derive(_memory_values)


def _memory_values(workload: Workload) -> list[tuple[str, str | None, MemoryValue]]:
    found = []
    for container in workload.containers:
        for section in ("requests", "limits"):
            value = container.own_memory(section)
            if value is not None:
                found.append((container.label, container.name, value))
    for section in ("requests", "limits"):
        value = workload.pod_memory(section)
        if value is not None:
            found.append(("the pod", None, value))
    return found
