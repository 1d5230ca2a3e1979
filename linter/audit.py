"""``oomguard audit``: the same rules over a live cluster, plus its OOMKilled history.

Workloads are listed through the kubernetes client with paged list calls (``limit`` +
``continue``) per namespace, so a 403 or a timeout in one namespace is reported and the audit
goes on. A pod owned by a controller is judged once, through its controller (a Deployment's
pods through the Deployment, a CronJob's through the CronJob); pods whose controller is not a
workload kind (an operator's custom resource) are judged once per controller. The pods'
``OOMKilled`` terminations are attached to the object that is judged, for the
``container-oomkilled`` rule. ConfigMaps and Secrets that heap flags refer to are read on
demand and cached.

The kubernetes client is imported (through :mod:`oomguard.kube`) only by this command, never
on the ``oomguard lint`` start-up path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from oomguard.linter.run import LintResult
from oomguard.rules.config import Config
from oomguard.rules.container_oomkilled import terminations
from oomguard.rules.engine import check_object
from oomguard.rules.runtimes.env import source_data
from oomguard.rules.text import printable

from oomguard.kube import ApiError, Cluster

# (kind, API path of the namespaced collection), in the order they are listed.
COLLECTIONS = (
    ("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"),
    ("StatefulSet", "/apis/apps/v1/namespaces/{ns}/statefulsets"),
    ("DaemonSet", "/apis/apps/v1/namespaces/{ns}/daemonsets"),
    ("ReplicaSet", "/apis/apps/v1/namespaces/{ns}/replicasets"),
    ("ReplicationController", "/api/v1/namespaces/{ns}/replicationcontrollers"),
    ("CronJob", "/apis/batch/v1/namespaces/{ns}/cronjobs"),
    ("Job", "/apis/batch/v1/namespaces/{ns}/jobs"),
    ("Pod", "/api/v1/namespaces/{ns}/pods"),
)
SOURCE_PATHS = {
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps/{name}",
    "Secret": "/api/v1/namespaces/{ns}/secrets/{name}",
}


@dataclass
class AuditResult(LintResult):
    namespaces: int = 0
    api_errors: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return f"{self.namespaces} namespace{'' if self.namespaces == 1 else 's'}"

    def read_counts(self) -> dict[str, int]:
        return {"files": 0, "namespaces": self.namespaces}


def audit(
    cluster: Cluster,
    namespaces: list[str] | None,
    config: Config,
    progress: Callable[[str], None] = lambda message: None,
) -> AuditResult:
    """Check every workload in ``namespaces`` (None: all namespaces)."""
    result = AuditResult()
    if namespaces is None:
        try:
            namespaces = sorted(
                (item.get("metadata") or {}).get("name", "")
                for item in cluster.list("/api/v1/namespaces", "Namespace")
            )
        except ApiError as exc:
            result.api_errors.append(_namespaces_unlisted(exc))
            return result
    for index, namespace in enumerate(namespaces, start=1):
        progress(f"[{index}/{len(namespaces)}] {namespace}")
        try:
            objects = {
                kind: list(cluster.list(path.format(ns=namespace), kind))
                for kind, path in COLLECTIONS
            }
        except ApiError as exc:
            result.api_errors.append(f"namespace {namespace}: {exc}")
            continue
        result.namespaces += 1
        lookup = _SourceCache(cluster, result.api_errors)
        for obj, observed in judged_objects(objects):
            evaluation = check_object(obj, config, lookup=lookup, observed=observed)
            result.objects += evaluation.checked
            result.crashes.extend(evaluation.crashes)
            where = f"{namespace}/{obj['kind']}/{(obj.get('metadata') or {}).get('name')}"
            result.findings.extend(f.located(file=where) for f in evaluation.findings)
    return result


def judged_objects(objects: dict[str, list[dict]]) -> Iterator[tuple[dict, dict]]:
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
            if kind == "Pod" and root is obj and _controller(obj):
                # owned by something that is not a workload kind: one pod per controller
                key: tuple = ("owner", _controller(obj))
            else:
                key = ("object", id(root))
            judged.setdefault(key, root)
            if kind == "Pod":
                for container, records in terminations(obj).items():
                    observed.setdefault(key, {}).setdefault(container, []).extend(records)
    for key, obj in judged.items():
        yield obj, observed.get(key, {})


class _SourceCache:
    """ConfigMap/Secret look-ups for env resolution, read once each."""

    def __init__(self, cluster: Cluster, errors: list[str]):
        self.cluster = cluster
        self.errors = errors
        self.cache: dict[tuple[str, str | None, str], dict[str, str] | None] = {}

    def __call__(self, kind: str, namespace: str | None, name: str) -> dict[str, str] | str | None:
        """The source's data; None when it does not exist; why, when it could not be read
        (a 403 is not an absent ConfigMap, and the finding must say which)."""
        key = (kind, namespace, name)
        if key not in self.cache:
            try:
                obj = self.cluster.get(SOURCE_PATHS[kind].format(ns=namespace, name=name))
                obj.setdefault("kind", kind)
                self.cache[key] = source_data(obj)
            except ApiError as exc:
                if exc.status == 404:
                    self.cache[key] = None
                else:
                    self.errors.append(f"{kind} {namespace}/{name}: {exc}")
                    self.cache[key] = unreadable_reason(exc)
        return self.cache[key]


def unreadable_reason(exc: ApiError) -> str:
    """Why a ConfigMap or Secret could not be read, for the finding's message."""
    if exc.status == 403:
        return "forbidden (403): the audit's credentials may not read it"
    return f"the API server failed ({exc})"


def _namespaces_unlisted(exc: ApiError) -> str:
    if exc.status == 403:
        return (
            f"listing namespaces: {exc}; these credentials may not list namespaces: "
            "name the ones to audit with -n NS (repeatable)"
        )
    return f"listing namespaces: {exc}"


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
