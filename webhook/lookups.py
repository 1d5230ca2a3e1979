"""Optional cluster look-ups for the webhook, kept off the admission hot path.

* :class:`NamespaceModes`: namespace → ``oomguard.io/mode`` label, held in memory and fed by
  a watch on namespaces (list, then watch from the list's resourceVersion; relist on 410 or
  errors, with backoff), so a review never waits for the API server to learn a mode.
* ConfigMap reads for heap flags: ``oomguard.cluster_sources`` (shared with ``audit``),
  cached for ``lookups.cache_seconds``. A review may spend at most ``lookups.budget_ms`` on
  misses; past that, or while the API server is failing, the flag stays unresolved
  (``runtime-flag-unresolved``) and the fallback is counted.

* :class:`ClusterLookups`: both of the above for one worker process, started after gunicorn
  forks (threads and connections do not survive a fork), and the per-review view of them.

* :class:`LimitRangeCache`: every namespace's LimitRanges, watch-fed like the namespace
  modes (``lookups.limit_ranges``): a review reads its namespace's from memory, never waits.
  :class:`VpaCache` likewise for VerticalPodAutoscalers (``lookups.vpas``).

All are off unless enabled in the config (``lookups:``); the chart grants the RBAC only then.
Credentials: ``$KUBECONFIG`` / ``~/.kube/config`` when present, else the pod's service account.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oomguard.cluster_sources import ClusterSources, SourceLookup, for_webhook
from oomguard.kube import ApiError, Cluster, connect
from oomguard.rules.config import Config
from oomguard.rules.limit_ranges import (
    LimitRange,
    LimitRangeLookup,
    no_limit_ranges,
    parse_limit_range,
)
from oomguard.rules.vpa import Vpa, VpaLookup, no_vpas, parse_vpa
from oomguard.rules.workload import Lookup, no_lookup

MODE_LABEL = "oomguard.io/mode"
WATCH_PAGE_SIZE = 500  # items per page of a watch's (re)list


class _WatchFed:
    """A collection held in memory and kept current by a background watch (list, then watch
    from the list's resourceVersion; relist on 410 or errors, with backoff). Subclasses say
    what to keep of a listed item (:meth:`_entry`) under which key (:meth:`_key`)."""

    path = ""
    what = ""  # for error messages: "namespace watch"

    def __init__(
        self,
        cluster: Cluster,
        watch_seconds: int = 300,
        on_error: Callable[[str], None] = lambda message: None,
    ):
        self.cluster = cluster
        self.watch_seconds = watch_seconds
        self.on_error = on_error
        self.entries: dict[Any, Any] = {}
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"oomguard-{self.what.replace(' ', '-')}", daemon=True
        )

    def start(self) -> _WatchFed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _key(self, obj: dict) -> Any:
        raise NotImplementedError

    def _entry(self, obj: dict) -> Any:
        """What to keep of ``obj``; None: nothing (and drop what was kept)."""
        raise NotImplementedError

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                version = self._list()
                backoff = 1.0
                while not self._stop.is_set():
                    version = self._watch(version)
            except ApiError as exc:
                if exc.status != 410:  # 410 Gone: the resourceVersion expired, relist now
                    self.on_error(f"{self.what}: {exc}")
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)

    def _list(self) -> str:
        entries = {}
        page_version = ""
        for page in self.cluster.pages(self.path, WATCH_PAGE_SIZE):
            for item in page.get("items") or ():
                key, entry = self._key(item), self._entry(item)
                if key and entry is not None:
                    entries[key] = entry
            page_version = (page.get("metadata") or {}).get("resourceVersion", page_version)
        self.entries = entries
        self.synced.set()
        return page_version

    def _watch(self, version: str) -> str:
        for event in self.cluster.watch(self.path, version, self.watch_seconds):
            if self._stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(int(obj.get("code") or 0), str(obj.get("message") or "watch error"))
            version = (obj.get("metadata") or {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            key = self._key(obj)
            if not key:
                continue
            entries = dict(self.entries)  # replace, never mutate: readers need no lock
            entry = None if kind == "DELETED" else self._entry(obj)
            if entry is None:
                entries.pop(key, None)
            else:
                entries[key] = entry
            self.entries = entries
        return version


class NamespaceModes(_WatchFed):
    """Namespace labels, kept current by a background watch."""

    path = "/api/v1/namespaces"
    what = "namespace watch"

    @property
    def labels(self) -> dict[str, str]:
        return self.entries

    def label(self, namespace: str | None) -> str | None:
        """The namespace's ``oomguard.io/mode`` label, as last seen."""
        return self.entries.get(namespace or "")

    def _key(self, obj: dict) -> str | None:
        return _mode_of(obj)[0]

    def _entry(self, obj: dict) -> str | None:
        return _mode_of(obj)[1] or None


class VpaCache(_WatchFed):
    """Every namespace's VerticalPodAutoscalers (rules/vpa.py), kept current by a watch."""

    path = "/apis/autoscaling.k8s.io/v1/verticalpodautoscalers"
    what = "VerticalPodAutoscaler watch"

    def _key(self, obj: dict) -> tuple[str, str] | None:
        return _namespaced_key(obj)

    def _entry(self, obj: dict) -> Vpa | None:
        return parse_vpa(obj)

    def for_target(self, namespace: str | None, kind: str, name: str) -> Vpa | None:
        """The first VPA (by name) of the namespace that targets that workload."""
        entries = self.entries
        for key in sorted(entries):
            vpa = entries[key]
            if key[0] == namespace and (vpa.target_kind, vpa.target_name) == (kind, name):
                return vpa
        return None


class LimitRangeCache(_WatchFed):
    """The LimitRanges of every namespace (memory part, rules/limit_ranges.py), kept current
    by a background watch, as the API server's own LimitRanger plugin keeps them."""

    path = "/api/v1/limitranges"
    what = "LimitRange watch"

    def _key(self, obj: dict) -> tuple[str, str] | None:
        return _namespaced_key(obj)

    def _entry(self, obj: dict) -> LimitRange | None:
        return parse_limit_range(obj)

    def for_namespace(self, namespace: str | None) -> list[LimitRange]:
        """The namespace's LimitRanges, by name (the API server's order is its cache's)."""
        entries = self.entries
        return [entries[key] for key in sorted(entries) if key[0] == namespace]


@dataclass
class ReviewContext:
    """What the look-ups give one review, and the fallbacks it had to take."""

    namespace_label: str | None = None
    lookup: Lookup = no_lookup
    limit_ranges: LimitRangeLookup = no_limit_ranges
    vpas: VpaLookup = no_vpas
    missed: list[tuple[str, str]] = field(default_factory=list)  # (look-up, reason)

    @property
    def fallbacks(self) -> list[tuple[str, str]]:
        """(look-up, reason) for every look-up that could not be answered in time."""
        found = list(self.missed)
        if isinstance(self.lookup, SourceLookup):
            found += [("configmap", reason) for reason in self.lookup.fallbacks]
        return found


@dataclass
class ClusterLookups:
    """The look-ups enabled in ``config``, for the current worker process."""

    config: Config
    on_error: Callable[[str], None] = lambda message: None
    modes: NamespaceModes | None = field(default=None, init=False)
    sources: ClusterSources | None = field(default=None, init=False)
    limit_ranges: LimitRangeCache | None = field(default=None, init=False)
    vpas: VpaCache | None = field(default=None, init=False)
    _pid: int | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def enabled(self) -> bool:
        return (
            self.config.lookup_namespace_labels
            or self.config.lookup_configmaps
            or self.config.lookup_limit_ranges
            or self.config.lookup_vpas
        )

    def may_wait(self) -> bool:
        """Whether :meth:`for_review` can wait on the API server: ConfigMap reads (up to
        ``lookups.budget_ms``), or look-ups not started in this process yet (it connects)."""
        return bool(self.config.lookup_configmaps) or (
            bool(self.enabled) and self._pid != os.getpid()
        )

    def start(self) -> None:
        """Connect and start the namespace watch in this process (once per process: a fork
        leaves the parent's watch thread behind)."""
        if not self.enabled or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            budget_seconds = self.config.lookup_budget_ms / 1000
            cluster, _ = connect(None, None, timeout=max(budget_seconds, 1.0))
            if self.config.lookup_namespace_labels:
                self.modes = NamespaceModes(cluster, on_error=self.on_error).start()
            if self.config.lookup_limit_ranges:
                self.limit_ranges = LimitRangeCache(cluster, on_error=self.on_error).start()
            if self.config.lookup_vpas:
                self.vpas = VpaCache(cluster, on_error=self.on_error).start()
            if self.config.lookup_configmaps:
                self.sources = for_webhook(
                    cluster, self.config.lookup_cache_seconds, self.config.lookup_budget_ms
                )
            self._pid = os.getpid()

    def for_review(self, namespace: str | None) -> ReviewContext:
        """The namespace label and ConfigMap lookup for one review; never waits on the API
        server beyond the ConfigMap budget."""
        if not self.enabled:
            return ReviewContext()
        try:
            self.start()
        except ApiError as exc:
            self.on_error(f"cluster look-ups: {exc}")
            return ReviewContext(missed=[("connection", str(exc))])
        context = ReviewContext()
        if self.modes is not None:
            if self.modes.synced.is_set():
                context.namespace_label = self.modes.label(namespace)
            else:
                context.missed.append(("namespace_label", "namespace watch not synced yet"))
        if self.sources is not None:
            context.lookup = self.sources.lookup()  # its misses share one budget
        if self.limit_ranges is not None:
            context.limit_ranges = _review_limit_ranges(self.limit_ranges, namespace, context)
        if self.vpas is not None:
            context.vpas = _review_vpas(self.vpas, namespace, context)
        return context


def _review_vpas(cache: VpaCache, namespace: str | None, context: ReviewContext) -> VpaLookup:
    """The VPAs of the review's namespace; none (a fallback, counted) until the watch syncs."""
    if not cache.synced.is_set():
        context.missed.append(("vpas", "VerticalPodAutoscaler watch not synced yet"))
        return no_vpas
    return lambda _namespace, kind, name: cache.for_target(namespace, kind, name)


def _review_limit_ranges(
    cache: LimitRangeCache, namespace: str | None, context: ReviewContext
) -> LimitRangeLookup:
    """The LimitRanges of the review's namespace (the object may not name it); until the
    watch has synced, the reason, which memory-limit-missing then says."""
    if not cache.synced.is_set():
        reason = "LimitRange watch not synced yet"
        context.missed.append(("limit_ranges", reason))
        return lambda _namespace: reason
    ranges = cache.for_namespace(namespace)
    return lambda _namespace: ranges


def _namespaced_key(obj: dict) -> tuple[str, str] | None:
    """(namespace, name) of a namespaced object, or None."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        return None
    return namespace, name


def _mode_of(namespace: dict) -> tuple[str | None, str | None]:
    metadata = namespace.get("metadata") if isinstance(namespace.get("metadata"), dict) else {}
    labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    return metadata.get("name"), labels.get(MODE_LABEL)
