"""Adapters for operators whose custom resources are not pod templates.

Each module turns its custom resource into the pod specs the operator would render (as
:class:`oomguard.rules.kinds.Synthetic`), so the same heap and memory rules judge them, and
exports ``KINDS``: its registry entries, each citing the source the rendering was read from.
Adapters are pure, read only the object, and return [] for shapes they cannot read (the
rules never see a guess).
"""

from __future__ import annotations

from typing import Any


def mapping(node: Any, key: str) -> dict:
    """``node[key]`` when both are mappings, else {}."""
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def memory_of(resources: Any, section: str) -> Any:
    """``resources.<section>.memory`` as written, or None."""
    return mapping(resources, section).get("memory")


def plain_resources(resources: Any) -> dict:
    """Only the ``requests``/``limits`` mappings of a resources object (the rules check
    their values' types)."""
    if not isinstance(resources, dict):
        return {}
    return {k: v for k, v in resources.items() if k in ("requests", "limits")}
