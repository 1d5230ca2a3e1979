"""The registry of workload kinds: every kind oomguard judges, and where its pods are.

lint (the loader's kind pre-filter), ``oomguard audit`` (its list calls), the webhook (which
kinds it reviews), the Helm chart (its webhook ``rules``, checked against this registry
by ``tests/test_chart.py``) and the tests all derive from :data:`REGISTRY`. Config
``kinds:`` entries (``.oomguard.yaml``) add to it, through :func:`registry_for`.

Entries are keyed by ``(API group, kind)``, never by the bare kind: Knative's
``serving.knative.dev`` Service is not the core Service. The version is not part of the key
(an ``apps/v1beta2`` Deployment is judged as a Deployment); ``versions`` lists the ones
``audit`` may list, newest first. An object without a readable ``apiVersion`` (a kustomize
patch, a test snippet) is read as the built-in kind of that name, if there is one.

A :class:`KindSpec` names each pod template of the object as a :class:`Template`:

* ``path`` — a *path pattern* to a pod spec (or, with ``containers``, to the object that holds
  the containers): keys joined by dots, ``key[*]`` for every item of a list, ``*`` for every
  value of a map. ``spec.replicatedJobs[*].template.spec.template.spec``,
  ``spec.pytorchReplicaSpecs.*.template.spec``, ``spec.workerGroupSpecs[*].template.spec``.
* ``label`` / ``name_field`` — how findings name the template when the object has several:
  ``label=<value>`` where the value is the ``name_field`` of the element the last list
  wildcard matched (``worker-group=gpu`` from ``groupName``), else the key the last map
  wildcard matched (``replica=Worker``), else the list index; ``label`` alone for a path
  without wildcards (``head``). An object with a single pod template is not labelled.
* ``containers`` — :class:`ContainerSlot` patterns relative to ``path``. Default: a pod spec's
  ``initContainers[*]`` and ``containers[*]``. Tekton steps are ``steps[*]`` with their
  resources under ``computeResources`` (``resources`` in v1beta1: ``resources_by_version``);
  an Argo Workflows template has a *single* container
  object at ``container`` (and ``script``), whose name defaults to ``main``.
* ``pod_resources`` — whether the template has pod-level ``resources`` (a pod spec does).

``defaults_requests`` is True for Pods only: the API server copies limits into missing
requests when it defaults a Pod, never a controller's stored template (``rules/qos.py``
judges templates as the Pods they become).

**Adapters.** An operator whose custom resource is not shaped as pod specs (Strimzi's
``jvmOptions``, ECK, Spark's ``driver.memory``) carries ``adapter``: a function
``adapter(obj) -> list[Synthetic]`` run after the templates. Each :class:`Synthetic` is a pod
spec built from the object (plain dicts: ``containers`` with ``name``, ``resources``, ``env``,
``args`` as the operator would render them), a template ``label``, and ``anchor``: the path
in the object its findings point at (e.g. ``("spec", "kafka")``). The rules judge a synthetic
pod spec like any other; ``origins`` renames where its flags come from (``command`` ->
``spec.driver.memory``) so messages name the field the user wrote; its findings carry the
anchor as their path and no fix (a fix's path
must be a real JSON pointer into the object, and the synthetic one has none). An adapter must
be pure, never raise on odd input (return [] instead), and stay within the object.

**Notices.** ``notice(obj)`` returns one line when the object's pod template lives in another
object (an Argo Rollout's ``spec.workloadRef``), said by lint as a notice; ``audit`` judges
the referenced template as the object's own (linter/audit.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]

# One step of a compiled pattern: a key, LIST ("[*]": every item) or MAP ("*": every value).
LIST, MAP = object(), object()
_SEGMENT = re.compile(r"([A-Za-z0-9_$-]+)(\[\*\])?|\*")


class PatternError(ValueError):
    """A path pattern that cannot be read; the message says where."""


def compile_pattern(pattern: str) -> tuple:
    """``spec.workers[*].template.spec`` -> ("spec", "workers", LIST, "template", "spec").
    Raises :class:`PatternError` naming the bad segment."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("a path pattern must be a non-empty string")
    steps: list = []
    for segment in pattern.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise PatternError(f"path {pattern!r}: segment {segment!r} is not a key, key[*] or *")
        if segment == "*":
            steps.append(MAP)
        else:
            steps.append(match.group(1))
            if match.group(2):
                steps.append(LIST)
    return tuple(steps)


@dataclass(frozen=True, slots=True, repr=False)
class ContainerSlot:
    """Where containers sit relative to a template's path."""

    path: str  # "containers[*]" (a list) or "container" (one container object)
    init: bool = False
    resources_key: str = "resources"  # Tekton: "computeResources"
    default_name: str | None = None  # Argo's template.container: "main"
    # (API version, key) where an older version keeps resources under another key: Tekton
    # v1beta1 steps have "resources", v1 "computeResources"
    resources_by_version: tuple[tuple[str, str], ...] = ()
    steps: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", compile_pattern(self.path))

    def resources_key_for(self, obj: dict[str, Any]) -> str:
        """The key of a container's resources in ``obj``, by its apiVersion's version."""
        if self.resources_by_version:
            version = str(obj.get("apiVersion", "")).rpartition("/")[2]
            for listed, key in self.resources_by_version:
                if listed == version:
                    return key
        return self.resources_key


POD_CONTAINERS = (
    ContainerSlot("initContainers[*]", init=True),
    ContainerSlot("containers[*]"),
)


@dataclass(frozen=True, slots=True, repr=False)
class Template:
    """One pod template of a kind (see the module docstring)."""

    path: str
    label: str = ""
    name_field: str | None = None
    containers: tuple[ContainerSlot, ...] = POD_CONTAINERS
    pod_resources: bool = True
    steps: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", compile_pattern(self.path))


@dataclass(frozen=True, slots=True, repr=False)
class Synthetic:
    """A pod spec an adapter built from an operator's custom resource."""

    pod: dict[str, Any]
    label: str
    anchor: Path
    # (origin as the rules would say it, the custom resource's field it stands for):
    # ("command", "spec.driver.memory"), so messages name what the user wrote
    origins: tuple[tuple[str, str], ...] = ()


Adapter = Callable[[dict[str, Any]], list[Synthetic]]


@dataclass(frozen=True, slots=True, repr=False)
class KindSpec:
    """A workload kind lint and the webhook read: its API names and its pod templates."""

    group: str  # "" for the core group
    kind: str
    versions: tuple[str, ...]
    plural: str
    templates: tuple[Template, ...]
    namespaced: bool = True
    defaults_requests: bool = False
    docs: str = ""
    adapter: Adapter | None = None
    # says when an object's pods come from elsewhere (an Argo Rollout's workloadRef), so
    # lint is never silent about a template it cannot see
    notice: Callable[[dict[str, Any]], str | None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.versions[0]}" if self.group else self.versions[0]


def expand(node: Any, steps: tuple, base: Path = ()) -> Iterator[tuple[Path, Any, tuple]]:
    """Every node ``steps`` reaches from ``node``: (its path, the node, the last wildcard
    match as (a list index as text or a map key, the list item or None)). Missing keys and
    wrong types end a branch quietly; rules/workload.py checks the type of the node reached."""
    yield from _expand(node, steps, 0, base, None, None)


def _expand(node, steps, at, path, wild, element) -> Iterator[tuple[Path, Any, Any]]:
    if at == len(steps):
        yield path, node, (wild, element)
        return
    step = steps[at]
    if step is LIST:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _expand(item, steps, at + 1, (*path, index), str(index), item)
    elif step is MAP:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str):
                    yield from _expand(value, steps, at + 1, (*path, key), key, None)
    elif isinstance(node, dict) and node.get(step) is not None:
        yield from _expand(node[step], steps, at + 1, (*path, step), wild, element)


def template_label(template: Template, match: tuple[str | None, Any]) -> str:
    """The name findings give a template (see the module docstring)."""
    wild, element = match
    if wild is None:
        return template.label
    if template.name_field and isinstance(element, dict):
        name = element.get(template.name_field)
        if isinstance(name, str) and name:
            wild = name
    return f"{template.label}={wild}" if template.label else wild


def _pod(path: str, **extra: Any) -> tuple[Template, ...]:
    return (Template(path, **extra),)


_K8S = "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/"

BUILTIN: tuple[KindSpec, ...] = (
    KindSpec(
        "", "Pod", ("v1",), "pods", _pod("spec"), defaults_requests=True, docs=_K8S + "pod-v1/"
    ),
    KindSpec("apps", "Deployment", ("v1",), "deployments", _pod("spec.template.spec"),
             docs=_K8S + "deployment-v1/"),
    KindSpec("apps", "StatefulSet", ("v1",), "statefulsets", _pod("spec.template.spec"),
             docs=_K8S + "stateful-set-v1/"),
    KindSpec("apps", "DaemonSet", ("v1",), "daemonsets", _pod("spec.template.spec"),
             docs=_K8S + "daemon-set-v1/"),
    KindSpec("apps", "ReplicaSet", ("v1",), "replicasets", _pod("spec.template.spec"),
             docs=_K8S + "replica-set-v1/"),
    KindSpec("", "ReplicationController", ("v1",), "replicationcontrollers",
             _pod("spec.template.spec"), docs=_K8S + "replication-controller-v1/"),
    KindSpec("batch", "Job", ("v1",), "jobs", _pod("spec.template.spec"),
             docs=_K8S + "job-v1/"),
    KindSpec("batch", "CronJob", ("v1",), "cronjobs",
             _pod("spec.jobTemplate.spec.template.spec"), docs=_K8S + "cron-job-v1/"),
    KindSpec("", "PodTemplate", ("v1",), "podtemplates", _pod("template.spec"),
             docs=_K8S + "pod-template-v1/"),
)  # fmt: skip

# Groups that served a built-in kind before it moved (``extensions/v1beta1`` Deployment):
# still judged as that kind.
LEGACY_GROUPS = {
    ("extensions", "Deployment"): ("apps", "Deployment"),
    ("extensions", "DaemonSet"): ("apps", "DaemonSet"),
    ("extensions", "ReplicaSet"): ("apps", "ReplicaSet"),
}


@dataclass(frozen=True, eq=False, repr=False)
class Registry:
    """The kinds judged in one run: the built-ins, the presets, the config's ``kinds:``."""

    kinds: dict[tuple[str, str], KindSpec]
    # bare kind -> the built-in (or only) entry, for objects without a readable apiVersion
    by_name: dict[str, KindSpec]
    names: frozenset[str]  # every bare kind name, for the loader's text pre-filter

    def lookup(self, obj: dict[str, Any]) -> KindSpec | None:
        """The entry an object is judged by, or None (not a workload kind we know)."""
        kind = obj.get("kind")
        if not isinstance(kind, str) or kind not in self.names:  # a mapping is no kind
            return None
        api_version = obj.get("apiVersion")
        if not isinstance(api_version, str):
            return self.by_name.get(kind)
        group = api_version.rpartition("/")[0]
        key = LEGACY_GROUPS.get((group, kind), (group, kind))
        return self.kinds.get(key)


def make_registry(specs: Iterable[KindSpec]) -> Registry:
    """A registry of ``specs``; a later entry with the same (group, kind) replaces one before
    it (a config entry may re-describe a preset)."""
    kinds: dict[tuple[str, str], KindSpec] = {}
    for spec in specs:
        kinds[spec.key] = spec
    by_name = {spec.kind: spec for spec in kinds.values() if spec.group in _BUILTIN_GROUPS}
    return Registry(kinds, by_name, frozenset(spec.kind for spec in kinds.values()))


_BUILTIN_GROUPS = frozenset({"", "apps", "batch"})

# Presets for other projects' workload kinds (rules/presets.py, when present, appends here).
PRESETS: list[KindSpec] = []

REGISTRY = make_registry(BUILTIN)


def registry_for(extra: tuple[KindSpec, ...] = ()) -> Registry:
    """The registry with the presets and config ``kinds:`` entries added (cached)."""
    key = (len(PRESETS), extra)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _CACHE[key] = make_registry((*BUILTIN, *PRESETS, *extra))
    return cached


_CACHE: dict[tuple, Registry] = {}


def spec_from_config(entry: dict[str, Any]) -> KindSpec:
    """A :class:`KindSpec` from one ``kinds:`` entry of ``.oomguard.yaml`` (already checked by
    the schema). Raises :class:`PatternError` for a path pattern that cannot be read."""
    api_version = entry["apiVersion"]
    group, _, version = api_version.rpartition("/")
    templates = []
    for item in entry.get("templates") or ():
        slots = tuple(
            ContainerSlot(
                slot["path"],
                init=slot.get("init", False),
                resources_key=slot.get("resources_key", "resources"),
                default_name=slot.get("default_name"),
            )
            for slot in item.get("containers") or ()
        )
        templates.append(
            Template(
                item["path"],
                label=item.get("label", ""),
                name_field=item.get("name_field"),
                containers=slots or POD_CONTAINERS,
                pod_resources=not slots,
            )
        )
    kind = entry["kind"]
    return KindSpec(
        group,
        kind,
        (version,),
        entry.get("plural") or kind.lower() + "s",
        tuple(templates),
        namespaced=entry.get("namespaced", True),
        docs="config kinds:",
    )
