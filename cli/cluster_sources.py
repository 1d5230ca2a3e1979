"""ConfigMaps and Secrets read from a live cluster for env resolution: the one
cluster-backed :data:`~oomguard.rules.workload.Lookup`, used by ``oomguard audit``
(linter/audit.py) and ``oomguard serve`` (webhook/lookups.py). An input's own sources are
looked up in memory instead (rules/sources.py).

:class:`ClusterSources` reads each object once (``GET``, never a list) and keeps the answer
— its data, or None on 404 — for ``ttl_seconds`` (None: for its whole life). Each unit of work
(one audit namespace, one admission review) asks through its own :class:`SourceLookup`, which
records every read it could not answer (``fallbacks``: ``"<Kind> <ns>/<name>: <reason>"``).
The two callers differ only in the settings they pass (:func:`for_audit`, :func:`for_webhook`):

=================  ==========================  =========================================
setting            audit                       serve
=================  ==========================  =========================================
kinds              ConfigMap, Secret           ConfigMap (the webhook never holds Secrets)
cache              for the run                 ``lookups.cache_seconds``
time               the client's timeout        ``lookups.budget_ms`` per review, shared
                                               by its misses
API server failing each read tries             misses fall back at once for
                                               :data:`FAILURE_HOLD_SECONDS`
a failed read      says why (a string: the     None (the flag stays unresolved), asked
                   finding names a 403), once  again by the next review
                   per namespace
=================  ==========================  =========================================
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from oomguard.kube import ApiError, Cluster
from oomguard.rules.runtimes.env import source_data
from oomguard.rules.workload import SOURCE_KINDS

PATHS = {
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps/{name}",
    "Secret": "/api/v1/namespaces/{ns}/secrets/{name}",
}
# After an API failure, misses fall back at once for this long instead of waiting again.
FAILURE_HOLD_SECONDS = 5.0

Key = tuple[str, str | None, str]  # (kind, namespace, name)
Data = dict[str, str] | None


class ClusterSources:
    """Source data read from the cluster and kept for a while (see the module)."""

    def __init__(
        self,
        cluster: Cluster,
        kinds: tuple[str, ...] = ("ConfigMap",),
        ttl_seconds: float | None = None,
        budget_ms: int | None = None,
        failure_hold_seconds: float = 0.0,
        say_why: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cluster = cluster
        self.kinds = kinds
        self.ttl = ttl_seconds
        self.budget = budget_ms / 1000 if budget_ms is not None else None
        self.failure_hold = failure_hold_seconds
        self.say_why = say_why
        self.clock = clock
        self.entries: dict[Key, tuple[float, Data]] = {}  # key -> (expiry, data)
        self.failing_until = 0.0
        self.lock = threading.Lock()  # webhook reviews run in threads

    def lookup(self, fallbacks: list[str] | None = None) -> SourceLookup:
        """A look-up for one unit of work; its misses share one budget, and go to
        ``fallbacks`` (a new list when None)."""
        deadline = self.clock() + self.budget if self.budget is not None else None
        return SourceLookup(self, deadline, [] if fallbacks is None else fallbacks)

    def cached(self, key: Key) -> tuple[bool, Data]:
        """(whether the answer is held and fresh, the answer)."""
        with self.lock:
            entry = self.entries.get(key)
        if entry is not None and entry[0] > self.clock():
            return True, entry[1]
        return False, None

    def read(self, key: Key, timeout: float | None = None) -> Data:
        """Ask the API server (a 404 is an answer, None, kept like data); any other failure
        raises ApiError, and one of the server's own (no answer, 5xx) starts the hold."""
        kind, namespace, name = key
        try:
            obj = self.cluster.get(PATHS[kind].format(ns=namespace, name=name), timeout=timeout)
            obj.setdefault("kind", kind)
            data: Data = source_data(obj)
        except ApiError as exc:
            if exc.status == 0 or exc.status >= 500:
                self.failing_until = self.clock() + self.failure_hold
            if exc.status != 404:
                raise
            data = None
        expiry = self.clock() + self.ttl if self.ttl is not None else float("inf")
        with self.lock:
            self.entries[key] = (expiry, data)
        return data


class SourceLookup:
    """The :data:`~oomguard.rules.workload.Lookup` one unit of work uses: the source's data,
    None when it does not exist (or, for the webhook, could not be read), or why it could not
    be read (audit)."""

    def __init__(self, sources: ClusterSources, deadline: float | None, fallbacks: list[str]):
        self.sources = sources
        self.deadline = deadline
        self.fallbacks = fallbacks
        self._failed: dict[Key, str] = {}  # audit: a failed read is answered, not retried

    def __call__(self, kind: str, namespace: str | None, name: str) -> dict[str, str] | str | None:
        sources = self.sources
        if kind not in sources.kinds:
            return None
        key = (kind, namespace, name)
        if key in self._failed:
            return self._failed[key]
        hit, data = sources.cached(key)
        if hit:
            return data
        now = sources.clock()
        if now < sources.failing_until:
            return self._miss(key, "API server failing, not asked")
        remaining = None
        if self.deadline is not None:
            remaining = self.deadline - now
            if remaining <= 0:
                budget_ms = round((sources.budget or 0) * 1000)
                return self._miss(key, f"look-up budget {budget_ms} ms spent")
        try:
            return sources.read(key, remaining)
        except ApiError as exc:
            return self._miss(key, str(exc), unreadable_reason(exc))

    def _miss(self, key: Key, reason: str, why: str | None = None) -> str | None:
        kind, namespace, name = key
        self.fallbacks.append(f"{kind} {namespace}/{name}: {reason}")
        if not self.sources.say_why:
            return None
        self._failed[key] = why or reason
        return self._failed[key]


def for_audit(cluster: Cluster) -> ClusterSources:
    """``oomguard audit``: ConfigMaps and Secrets, read once each, failures said."""
    return ClusterSources(cluster, kinds=SOURCE_KINDS, say_why=True)


def for_webhook(
    cluster: Cluster,
    ttl_seconds: float,
    budget_ms: int,
    clock: Callable[[], float] = time.monotonic,
) -> ClusterSources:
    """``oomguard serve``: ConfigMaps only, a TTL, a budget per review, a failure hold."""
    return ClusterSources(
        cluster,
        ttl_seconds=ttl_seconds,
        budget_ms=budget_ms,
        failure_hold_seconds=FAILURE_HOLD_SECONDS,
        clock=clock,
    )


def unreadable_reason(exc: ApiError) -> str:
    """Why a ConfigMap or Secret (or a LimitRange list) could not be read, for the finding's
    message."""
    if exc.status == 403:
        return "forbidden (403): the audit's credentials may not read it"
    return f"the API server failed ({exc})"
