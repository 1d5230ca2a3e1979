"""``oomguard audit``: the same rules over a live cluster, plus its OOMKilled history.

Which collections are listed comes from the registry of workload kinds
(``rules/kinds.py``: built-ins, presets and the config's ``kinds:``) matched against the API
server's discovery documents (``/api``, ``/apis``, ``/apis/<group>/<version>``): each registry
kind the cluster serves is listed at a version its entry names when the cluster serves one
(else the group's preferred version), under the plural discovery gives. A kind the cluster
does not serve is skipped without a word (most clusters lack most presets' CRDs); it is kept
in :attr:`AuditResult.unserved`. Workloads are listed with paged list calls (``limit`` +
``continue``) per namespace, so a 403 or a timeout in one namespace is reported and the audit
goes on; a failing list of a preset or config kind is reported alone and the namespace's other
kinds are still judged. An Argo Rollout with ``spec.workloadRef`` is judged with the pod
template of the Deployment it names (findings name the Rollout).

A pod owned by a controller is judged once, through its controller (a Deployment's
pods through the Deployment, a CronJob's through the CronJob); pods whose controller is not a
workload kind (an operator's custom resource) are judged once per controller. The pods'
``OOMKilled`` terminations are attached to the object that is judged, for the
``container-oomkilled`` rule. ConfigMaps and Secrets that heap flags refer to are read on
demand and cached (``oomguard.cluster_sources``, shared with the webhook). Each namespace's
LimitRanges are listed once: their defaults and bounds apply to what its workloads' Pods get
(rules/limit_ranges.py); so are its VerticalPodAutoscalers (rules/vpa.py), when the cluster
serves them.

The kubernetes client is imported (through :mod:`oomguard.kube`) only by this command, never
on the ``oomguard lint`` start-up path.

Over ~400 lines because it is one command's whole walk of a cluster — discovery, listing,
pod-to-controller attribution and the per-namespace look-ups — whose parts share
:class:`AuditResult`'s error bookkeeping; the judging itself is in ``rules/``, the paging in
``oomguard.kube``, the source look-ups in ``oomguard.cluster_sources``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from oomguard.cluster_sources import for_audit, unreadable_reason
from oomguard.kube import ApiError, Cluster
from oomguard.linter.run import LintResult
from oomguard.rules.config import Config
from oomguard.rules.container_oomkilled import terminations
from oomguard.rules.engine import check_object
from oomguard.rules.facts import Facts, object_facts
from oomguard.rules.kinds import BUILTIN, KindSpec, Registry
from oomguard.rules.limit_ranges import KIND as LIMIT_RANGE
from oomguard.rules.limit_ranges import LimitRange, parse_limit_range
from oomguard.rules.presets import rollout_workload_ref
from oomguard.rules.text import printable
from oomguard.rules.vpa import KIND as VPA
from oomguard.rules.vpa import Vpa, parse_vpa

POD = ("", "Pod")
BUILTIN_KEYS = frozenset(spec.key for spec in BUILTIN)
LIMIT_RANGES_PATH = "/api/v1/namespaces/{ns}/limitranges"
VPAS_PATH = "/apis/autoscaling.k8s.io/v1/namespaces/{ns}/verticalpodautoscalers"


@dataclass
class AuditResult(LintResult):
    namespaces: int = 0
    api_errors: list[str] = field(default_factory=list)
    unserved: list[str] = field(default_factory=list)  # registry kinds the cluster lacks
    audited: list[str] = field(default_factory=list)  # namespaces listed and judged in full
    cluster_scoped: bool = False  # the cluster-scoped kinds were judged (-A)
    # the numbers behind the findings (reports' properties), by id() of a finding in findings
    facts: dict[int, Facts] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{self.namespaces} namespace{'' if self.namespaces == 1 else 's'}"

    def read_counts(self) -> dict[str, int]:
        return {"files": 0, "namespaces": self.namespaces}


@dataclass(frozen=True)
class Collection:
    """A registry kind as this cluster serves it (from discovery)."""

    spec: KindSpec
    group_version: str  # "apps/v1", "v1"
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None) -> str:
        root = f"/apis/{self.group_version}" if self.spec.group else f"/api/{self.group_version}"
        where = f"/namespaces/{namespace}" if namespace is not None and self.namespaced else ""
        return f"{root}{where}/{self.plural}"


def audit(
    cluster: Cluster,
    namespaces: list[str] | None,
    config: Config,
    progress: Callable[[str], None] = lambda message: None,
) -> AuditResult:
    """Check every workload in ``namespaces`` (None: all namespaces, and the cluster-scoped
    kinds once)."""
    result = AuditResult()
    collections = discover(cluster, config.registry, result)
    if namespaces is None:
        try:
            namespaces = sorted(
                (item.get("metadata") or {}).get("name", "")
                for item in cluster.list("/api/v1/namespaces", "Namespace")
            )
        except ApiError as exc:
            result.api_errors.append(_namespaces_unlisted(exc))
            return result
        scoped = [c for c in collections if not c.namespaced]
        if scoped:
            _judge(cluster, None, _list_all(cluster, None, scoped, result), config, result)
        result.cluster_scoped = True
    namespaced = [c for c in collections if c.namespaced]
    for index, namespace in enumerate(namespaces, start=1):
        progress(f"[{index}/{len(namespaces)}] {namespace}")
        try:
            objects = _list_all(cluster, namespace, namespaced, result)
        except ApiError as exc:
            result.api_errors.append(f"namespace {namespace}: {exc}")
            continue
        result.namespaces += 1
        result.audited.append(namespace)
        _judge(cluster, namespace, objects, config, result)
    return result


def _list_all(
    cluster: Cluster, namespace: str | None, collections: list[Collection], result: AuditResult
) -> dict[tuple[str, str], list[dict]]:
    """Every object of ``collections`` in ``namespace``. A built-in list that fails fails the
    namespace (raises: its owner chains would be judged half); any other is reported alone."""
    objects: dict[tuple[str, str], list[dict]] = {}
    for collection in collections:
        api_version = collection.group_version
        try:
            items = list(cluster.list(collection.path(namespace), collection.spec.kind))
        except ApiError as exc:
            if collection.spec.key in BUILTIN_KEYS:
                raise
            where = f"namespace {namespace}: " if namespace is not None else ""
            result.api_errors.append(
                f"{where}{collection.spec.kind} ({api_version} {collection.plural}): {exc}"
            )
            continue
        for item in items:
            item.setdefault("apiVersion", api_version)  # list items may carry none
        objects.setdefault(collection.spec.key, []).extend(items)
    return objects


def _judge(
    cluster: Cluster,
    namespace: str | None,
    objects: dict[tuple[str, str], list[dict]],
    config: Config,
    result: AuditResult,
) -> None:
    lookup = for_audit(cluster).lookup(result.api_errors)  # read once each, failures said
    limit_ranges = namespace_limit_ranges(cluster, namespace, result.api_errors)
    vpas = namespace_vpas(cluster, namespace, result.api_errors)
    deployments = {_name(d): d for d in objects.get(("apps", "Deployment"), ())}
    for obj, observed in judged_objects(objects):
        judged = with_referenced_template(obj, deployments)
        evaluation = check_object(
            judged,
            config,
            lookup=lookup,
            observed=observed,
            limit_ranges=lambda _namespace: limit_ranges,
            vpas=lambda _namespace, kind, name: vpas.get((kind, name)),
        )
        result.objects += evaluation.checked
        result.crashes.extend(evaluation.crashes)
        where = f"{obj['kind']}/{_name(obj)}"
        where = f"{namespace}/{where}" if namespace is not None else where
        located = [f.located(file=where) for f in evaluation.findings]
        result.findings.extend(located)
        if located:
            try:
                facts = object_facts(judged, config, lookup, observed)
            except Exception as exc:  # the numbers are extra: their failure must not hide
                result.crashes.append(f"facts of {where}: {type(exc).__name__}: {exc}")
                continue
            # by finding: two kinds of one name (apps and kruise StatefulSet) share ``where``
            result.facts.update((id(f), facts) for f in located)


def namespace_limit_ranges(
    cluster: Cluster, namespace: str | None, errors: list[str]
) -> list[LimitRange] | str:
    """The LimitRanges of ``namespace`` (paged, like the workload lists), or why they could
    not be read: a 403 or a timeout is an API error, and the rules judge the limits as
    written (``memory-limit-missing`` says the LimitRanges were not read)."""
    if namespace is None:
        return []  # cluster-scoped kinds: no namespace, no LimitRange
    try:
        items = cluster.list(LIMIT_RANGES_PATH.format(ns=namespace), LIMIT_RANGE)
        ranges = []
        for item in items:
            item.setdefault("metadata", {}).setdefault("namespace", namespace)
            parsed = parse_limit_range(item)
            if parsed is not None:
                ranges.append(parsed)
        return ranges
    except ApiError as exc:
        errors.append(f"namespace {namespace}: LimitRanges: {exc}")
        return unreadable_reason(exc)


def namespace_vpas(
    cluster: Cluster, namespace: str | None, errors: list[str]
) -> dict[tuple[str, str], Vpa]:
    """The VerticalPodAutoscalers of ``namespace`` by target (kind, name): none when the
    cluster does not serve them (404: VPA is not installed, said nowhere, as for other kinds
    it lacks); a 403 or a timeout is an API error and the VPA rules stay silent."""
    if namespace is None:
        return {}
    found: dict[tuple[str, str], Vpa] = {}
    try:
        for item in cluster.list(VPAS_PATH.format(ns=namespace), VPA):
            item.setdefault("metadata", {}).setdefault("namespace", namespace)
            vpa = parse_vpa(item)
            if vpa is not None:
                found.setdefault((vpa.target_kind, vpa.target_name), vpa)
    except ApiError as exc:
        if exc.status != 404:
            errors.append(f"namespace {namespace}: VerticalPodAutoscalers: {exc}")
    return found


def with_referenced_template(obj: dict, deployments: dict[str | None, dict]) -> dict:
    """An Argo Rollout with ``spec.workloadRef`` (and no template of its own) as the
    Deployment it names makes its pods: with that Deployment's pod template (Argo Rollouts
    pkg/apis/rollouts/v1alpha1/types.go ``WorkloadRef``; the controller copies the
    Deployment's template, rollout/controller.go ``setRolloutWorkloadRef``). Anything else,
    or a reference to a Deployment not found, as it is."""
    ref = rollout_workload_ref(obj)
    if ref is None or ref.get("kind") != "Deployment":
        return obj
    deployment = deployments.get(ref.get("name"))
    template = ((deployment or {}).get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return obj
    return {**obj, "spec": {**obj["spec"], "template": template}}


def discover(cluster: Cluster, registry: Registry, result: AuditResult) -> list[Collection]:
    """The registry's kinds this cluster serves, from its discovery documents. Registry
    kinds it does not serve go to ``result.unserved``, silently; a discovery call that fails
    is an API error (and the built-in kinds are then listed at their usual paths)."""
    try:
        served = {"": _served_versions(cluster.get("/api"), core=True)}
        for group in cluster.get("/apis").get("groups") or ():
            if isinstance(group, dict) and isinstance(group.get("name"), str):
                served[group["name"]] = _served_versions(group)
    except ApiError as exc:
        if exc.status:  # no connection at all: the list calls say so, namespace by namespace
            result.api_errors.append(
                f"API discovery: {exc}; only the built-in kinds are listed, at their usual paths"
            )
        return [
            Collection(spec, spec.api_version, spec.plural, spec.namespaced)
            for spec in registry.kinds.values()
            if spec.key in BUILTIN_KEYS
        ]
    resources: dict[str, list[dict] | None] = {}
    collections = []
    for spec in registry.kinds.values():
        found = None
        for version in _candidate_versions(spec, served.get(spec.group, [])):
            group_version = f"{spec.group}/{version}" if spec.group else version
            if group_version not in resources:
                resources[group_version] = _resource_list(cluster, spec, group_version, result)
            found = _resource_of(spec, resources[group_version] or ())
            if found is not None:
                plural, namespaced = found
                collections.append(Collection(spec, group_version, plural, namespaced))
                break
        if found is None:
            result.unserved.append(f"{spec.kind}.{spec.group}" if spec.group else spec.kind)
    return collections


def _served_versions(document: dict, core: bool = False) -> list[str]:
    """Versions of a discovery group (``APIGroup``; ``APIVersions`` for the core group),
    the preferred one first."""
    if core:
        return [v for v in document.get("versions") or () if isinstance(v, str)]
    preferred = (document.get("preferredVersion") or {}).get("version")
    versions = [v.get("version") for v in document.get("versions") or () if isinstance(v, dict)]
    ordered = [preferred] if preferred in versions else []
    return ordered + [v for v in versions if isinstance(v, str) and v != preferred]


def _candidate_versions(spec: KindSpec, served: list[str]) -> list[str]:
    """The versions the entry lists that are served, in its order; then the others served
    (preferred first): a kind whose entry names an old version is still found."""
    listed = [v for v in spec.versions if v in served]
    return listed + [v for v in served if v not in listed]


def _resource_list(
    cluster: Cluster, spec: KindSpec, group_version: str, result: AuditResult
) -> list[dict] | None:
    root = f"/apis/{group_version}" if spec.group else f"/api/{group_version}"
    try:
        document = cluster.get(root)
    except ApiError as exc:
        if exc.status != 404:  # a group version gone since /apis was read is just not served
            result.api_errors.append(f"API discovery {group_version}: {exc}")
        return None
    return [r for r in document.get("resources") or () if isinstance(r, dict)]


def _resource_of(spec: KindSpec, resources: Any) -> tuple[str, bool] | None:
    """(plural, namespaced) of the listable resource of ``spec``'s kind, not a subresource."""
    for resource in resources:
        name = resource.get("name")
        verbs = resource.get("verbs")
        if (
            resource.get("kind") == spec.kind
            and isinstance(name, str)
            and "/" not in name
            and (not isinstance(verbs, list) or "list" in verbs)
        ):
            return name, bool(resource.get("namespaced", True))
    return None


def judged_objects(objects: dict[tuple[str, str], list[dict]]) -> Iterator[tuple[dict, dict]]:
    """The objects to check in one namespace, each once, with the OOM kills of its pods."""
    by_uid = {_uid(obj): obj for items in objects.values() for obj in items if _uid(obj)}

    def top(obj: dict) -> dict:
        """The outermost workload controlling ``obj`` (Pod → ReplicaSet → Deployment)."""
        seen = set()
        while True:
            owner = _controller(obj)
            if owner is None or owner not in by_uid or owner in seen:
                return obj
            seen.add(owner)
            obj = by_uid[owner]

    observed: dict[tuple, dict[str, list[dict]]] = {}
    judged: dict[tuple, dict] = {}
    for kind, items in objects.items():
        for obj in items:
            root = top(obj)
            if kind == POD and root is obj and _controller(obj):
                # owned by something that is not a workload kind: one pod per controller
                key: tuple = ("owner", _controller(obj))
            else:
                key = ("object", id(root))
            judged.setdefault(key, root)
            if kind == POD:
                for container, records in terminations(obj).items():
                    observed.setdefault(key, {}).setdefault(container, []).extend(records)
    for key, obj in judged.items():
        yield obj, observed.get(key, {})


def _namespaces_unlisted(exc: ApiError) -> str:
    if exc.status == 403:
        return (
            f"listing namespaces: {exc}; these credentials may not list namespaces: "
            "name the ones to audit with -n NS (repeatable)"
        )
    return f"listing namespaces: {exc}"


def _name(obj: dict) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return metadata.get("name")


def _uid(obj: dict) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return metadata.get("uid")


def _controller(obj: dict) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for owner in metadata.get("ownerReferences") or ():
        if isinstance(owner, dict) and owner.get("controller"):
            return owner.get("uid")
    return None


def tty_progress(message: str) -> None:
    """A one-line progress indicator on stderr (only when stderr is a terminal): cut to the
    terminal's width, since a line that wraps leaves its first part behind on every update."""
    sys.stderr.write(progress_line(message, terminal_columns()))
    sys.stderr.flush()


def progress_line(message: str, columns: int) -> str:
    """Back to the line's start, clear it, and write the message in ``columns - 1``
    characters (the last column would make some terminals wrap)."""
    text = printable(f"oomguard audit {message}")[: max(columns - 1, 1)]
    return f"\r\033[K{text}"


def terminal_columns() -> int:
    """The width of the terminal stderr writes to ($COLUMNS first, as shutil does)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns or 80
    except (OSError, ValueError):
        return 80
