"""Rule-test helpers: a YAML string in, the findings of ``check_object`` out.

A string may hold several documents: ConfigMaps and Secrets among them are the look-up set
(as in one lint run), the workload objects (also inside ``List``/``*List`` wrappers, with
their ``items/N`` path prefix) are checked. A rule crash fails the test at once.
"""

from __future__ import annotations

from textwrap import dedent
from typing import Any

import jsonpatch
import yaml
from oomguard.rules.config import DEFAULT_CONFIG, Config, config_from_data
from oomguard.rules.engine import check_object
from oomguard.rules.fixes import materialize
from oomguard.rules.model import Finding
from oomguard.rules.sources import index_of
from oomguard.rules.workload import build_workload, is_workload, iter_objects

# Every rule on, info included: tests filter by rule ID themselves.
ALL_RULES = config_from_data({})


def config(**data: Any) -> Config:
    """A validated config from keyword sections: ``config(thresholds={...})``."""
    return config_from_data(data)


def documents(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(dedent(text)) if doc is not None]


def lookup_from(docs: list[Any]):
    """The look-up a lint run builds from the ConfigMaps and Secrets of its input: the
    product's own index (rules/sources.py), so tests judge with its precedence."""
    return index_of(docs).lookup


def limit_ranges_from(docs: list[Any]):
    """The LimitRange look-up a lint run builds from its input (rules/sources.py)."""
    return index_of(docs).limit_ranges_for


def vpas_from(docs: list[Any]):
    """The VPA look-up a lint run builds from its input (rules/sources.py)."""
    return index_of(docs).vpa_for


def findings(
    text: str,
    rule: str | None = None,
    cfg: Config = DEFAULT_CONFIG,
    *,
    lookup=None,
    limit_ranges=None,
) -> list[Finding]:
    """Findings for every workload object in ``text`` (only ``rule``'s when given); the
    LimitRanges in ``text`` apply unless ``limit_ranges`` is given."""
    docs = documents(text)
    index = index_of(docs)
    lookup = lookup or index.lookup
    limit_ranges = limit_ranges or index.limit_ranges_for
    found: list[Finding] = []
    for doc in docs:
        for prefix, obj in iter_objects(doc):
            evaluation = check_object(
                obj,
                cfg,
                lookup=lookup,
                prefix=prefix,
                limit_ranges=limit_ranges,
                vpas=index.vpa_for,
            )
            assert evaluation.crashes == [], evaluation.crashes
            found.extend(evaluation.findings)
    return [f for f in found if rule is None or f.rule == rule]


def rule_ids(text: str, cfg: Config = DEFAULT_CONFIG, **kwargs: Any) -> list[str]:
    return sorted(f.rule for f in findings(text, cfg=cfg, **kwargs))


def one(text: str, rule: str, cfg: Config = DEFAULT_CONFIG, **kwargs: Any) -> Finding:
    """The single finding of ``rule`` (fails when there are none or several)."""
    found = findings(text, rule, cfg, **kwargs)
    assert len(found) == 1, [f.message for f in found] or f"{rule} did not fire"
    return found[0]


def none_of(text: str, rule: str, cfg: Config = DEFAULT_CONFIG, **kwargs: Any) -> None:
    found = findings(text, rule, cfg, **kwargs)
    assert found == [], [f.message for f in found]


def workload_object(text: str) -> dict[str, Any]:
    """The first workload object of ``text``."""
    for doc in documents(text):
        for _, obj in iter_objects(doc):
            if is_workload(obj):
                return obj
    raise AssertionError("no workload object in the text")


def container_view(text: str, name: str | None = None, lookup=None):
    """The typed :class:`Container` view of a container of the first workload in ``text``."""
    docs = documents(text)
    obj = workload_object(text)
    workload = build_workload(obj, lookup or lookup_from(docs))
    if name is None:
        return workload.containers[0]
    found = workload.container(name)
    assert found is not None, name
    return found


def apply_fix(obj: dict[str, Any], finding_list: list[Finding]) -> tuple[list, dict]:
    """Materialize the fixes of findings into a strict patch and apply it; returns both."""
    ops = [op for f in finding_list for op in f.fix]
    patch = materialize(obj, ops)
    patched = jsonpatch.apply_patch(obj, patch)
    return patch, patched


def dump(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


def pod(*containers: str, pod_spec: str = "", name: str = "p") -> str:
    """A Pod manifest from container bodies written as flow-style YAML mappings, e.g.
    ``pod("{name: app, image: x, resources: {limits: {memory: 1Gi}}}")``."""
    items = "".join(f"    - {body}\n" for body in containers)
    extra = "".join(f"  {line}\n" for line in dedent(pod_spec).strip().splitlines())
    head = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n"
    return f"{head}{extra}  containers:\n{items}"


def app(resources: str = "", **fields: str) -> str:
    """One container named ``app`` as a flow mapping; ``fields`` are raw YAML values."""
    parts = ["name: app", "image: example/app:1"]
    parts += [f"{key}: {value}" for key, value in fields.items()]
    if resources:
        parts.append(f"resources: {resources}")
    return "{" + ", ".join(parts) + "}"
