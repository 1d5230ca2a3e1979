"""The objects of an input that other objects are judged against, held in memory.

:class:`InputIndex` keeps the ConfigMaps and Secrets of a lint input (for env resolution,
``rules/runtimes/env.py``), its LimitRanges (``rules/limit_ranges.py``) and its
VerticalPodAutoscalers (``rules/vpa.py``). ``oomguard lint`` fills one from all its files
before it checks any workload, a rendered chart or overlay one from its own output, and the
rule tests (``tests/helpers.py``) one from the documents of a test: all three judge with the
same precedence.

Precedence, by (kind, name):

* a look-up from a workload with a namespace matches a source of that namespace or one with
  none; from a workload with none, a source of any namespace;
* among matching sources, the **first in input order** wins (a later duplicate never
  overrides an earlier one, whatever their namespaces).

The cluster-backed look-up (``oomguard audit``, ``oomguard serve``) is
``oomguard.cluster_sources``; both are a :data:`~oomguard.rules.workload.Lookup`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from oomguard.rules.limit_ranges import KIND as LIMIT_RANGE
from oomguard.rules.limit_ranges import LimitRange, parse_limit_range
from oomguard.rules.runtimes.env import source_data
from oomguard.rules.vpa import KIND as VPA
from oomguard.rules.vpa import Vpa, parse_vpa
from oomguard.rules.workload import SOURCE_KINDS, iter_objects

# The kinds an index keeps: env sources, LimitRanges (defaults and bounds of a namespace)
# and VerticalPodAutoscalers (which workloads have their resources rewritten).
INDEX_KINDS = (*SOURCE_KINDS, LIMIT_RANGE, VPA)


@dataclass(eq=False, repr=False)
class InputIndex:
    """ConfigMaps/Secrets, LimitRanges and VPAs of an input, as plain data."""

    # (kind, name) -> [(namespace, data, origin)], in input order; ``origin`` is the caller's
    # number for where the source was read (lint: the file's position in the input), not used
    # by the look-up
    sources: dict[tuple[str, str], list[tuple[str | None, dict[str, str], int]]] = field(
        default_factory=dict
    )
    # namespace -> its LimitRanges in input order: a look-up per workload costs its own
    # namespace's few, not every LimitRange of the input (workloads x LimitRanges)
    limit_ranges: dict[str | None, list[LimitRange]] = field(default_factory=dict)
    vpas: dict[tuple[str | None, str, str], Vpa] = field(default_factory=dict)  # first wins

    def add(self, obj: dict[str, Any], origin: int = -1) -> None:
        """Keep ``obj`` if it is of an :data:`INDEX_KINDS` kind (anything else is ignored)."""
        kind = obj.get("kind")
        if kind == LIMIT_RANGE:
            limit_range = parse_limit_range(obj)
            if limit_range is not None:
                self.limit_ranges.setdefault(limit_range.namespace, []).append(limit_range)
        elif kind == VPA:
            vpa = parse_vpa(obj)
            if vpa is not None:
                self.vpas.setdefault((vpa.namespace, vpa.target_kind, vpa.target_name), vpa)
        elif kind in SOURCE_KINDS:
            metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            name, namespace = metadata.get("name"), metadata.get("namespace")
            if isinstance(name, str):
                namespace = namespace if isinstance(namespace, str) else None
                entry = (namespace, source_data(obj), origin)
                self.sources.setdefault((kind, name), []).append(entry)

    def lookup(self, kind: str, namespace: str | None, name: str) -> dict[str, str] | None:
        """The data of the source ``kind``/``name`` seen from ``namespace`` (see the module's
        precedence), or None when the input has none."""
        for source_namespace, data, _ in self.sources.get((kind, name), ()):
            if namespace is None or source_namespace is None or namespace == source_namespace:
                return data
        return None

    def put_first(self, first: InputIndex) -> None:
        """Let ``first``'s objects win over this index's own (linter/related.py: the files
        named on the command line over the related files found for them)."""
        for key, entries in first.sources.items():
            mine = self.sources.get(key, [])
            self.sources[key] = [(ns, data, -1) for ns, data, _ in entries] + mine
        for namespace, ranges in first.limit_ranges.items():
            self.limit_ranges[namespace] = ranges + self.limit_ranges.get(namespace, [])
        self.vpas = {**self.vpas, **first.vpas}

    def limit_ranges_for(self, namespace: str | None) -> list[LimitRange]:
        """The LimitRanges of ``namespace`` (no namespace: those with none), in input order."""
        return list(self.limit_ranges.get(namespace, ()))

    def vpa_for(self, namespace: str | None, kind: str, name: str) -> Vpa | None:
        """The first VPA targeting that workload (same namespace, or none on both)."""
        return self.vpas.get((namespace, kind, name))


def index_of(documents: Iterable[Any]) -> InputIndex:
    """The index of parsed documents (also inside ``List``/``*List`` wrappers), in order."""
    index = InputIndex()
    for document in documents:
        for _, obj in iter_objects(document):
            index.add(obj)
    return index
