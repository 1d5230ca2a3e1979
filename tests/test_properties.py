"""Property-based hardening: random and mutated manifests never crash the rules or the linter.

Objects come from two places: generated workload skeletons in which every field may hold the
wrong type, odd unicode, huge, negative or zero numbers and empty strings; and real workload
objects from the corpus with one node replaced by such junk. For each, ``check_object`` must
raise nothing and report no rule crash, and ``lint_paths`` over a multi-document file must
give the same findings twice and whatever order the documents are in.
"""

from __future__ import annotations

import collections
import copy
import random
from pathlib import Path
from typing import Any

import yaml
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG, config_from_data
from oomguard.rules.engine import check_object
from oomguard.rules.kinds import REGISTRY

BUILTIN_KINDS = sorted(REGISTRY.by_name)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ALL_RULES = config_from_data({"rules": {"qos-not-guaranteed": {"enabled": True}}})

QUANTITIES = st.sampled_from(
    ["0", "-1", "-1Gi", "0Gi", "", " ", "1e400", "9" * 200, "512m", "1.5Gi", "0x10", "1Gi ",
     "Infinity", "NaN", "1E", "1Ei", "129e6", "2Gi", "256Mi", ".5", "5.", "+1k", "1 Gi"]
)  # fmt: skip
FLAG_TEXT = st.sampled_from(
    ["-Xmx2g", "-Xmx", "-Xmx-1", "-Xmx99999999999999999999g", "-XX:MaxRAMPercentage=-5",
     "-XX:MaxRAMPercentage=1e9", "-XX:-UseContainerSupport", "--max-old-space-size=",
     "--max-old-space-size=-1", "--max_old_space_size=1e99", "$(JAVA_OPTS)", "${X", "'",
     '"', "sh", "-c", "exec java $JAVA_OPTS", "java", "node", "dotnet", "\u0000", "\U0001f600"]
)  # fmt: skip
ENV_NAMES = st.sampled_from(
    ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "JAVA_OPTS", "GOMEMLIMIT",
     "GOGC", "NODE_OPTIONS", "DOTNET_GCHeapHardLimit", "DOTNET_GCHeapHardLimitPercent",
     "COMPlus_GCHeapHardLimitPercent", "", "X"]
)  # fmt: skip
ENV_VALUES = st.sampled_from(
    ["1GiB", "1G", "off", "", "0x4B", "75", "0", "100", "0xFFFFFFFFFFFFFFFFFFFF", "-1",
     "-Xmx4g", "--max-old-space-size=4096", "ZZ", "0x", "1e3"]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | QUANTITIES
    | FLAG_TEXT
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def maybe(right: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the right shape, sometimes anything at all."""
    return st.one_of(right, right, right, JUNK)


def _resources() -> st.SearchStrategy:
    section = st.fixed_dictionaries(
        {}, optional={"memory": maybe(QUANTITIES), "cpu": maybe(QUANTITIES)}
    )
    return st.fixed_dictionaries(
        {}, optional={"requests": maybe(section), "limits": maybe(section)}
    )


def _env_entry() -> st.SearchStrategy:
    value_from = st.fixed_dictionaries(
        {},
        optional={
            "resourceFieldRef": maybe(
                st.fixed_dictionaries(
                    {"resource": maybe(st.just("limits.memory"))},
                    optional={"divisor": maybe(QUANTITIES)},
                )
            ),
            "configMapKeyRef": maybe(
                st.fixed_dictionaries({"name": maybe(st.just("cfg")), "key": maybe(ENV_NAMES)})
            ),
        },
    )
    return st.fixed_dictionaries(
        {"name": maybe(ENV_NAMES)},
        optional={"value": maybe(ENV_VALUES | FLAG_TEXT), "valueFrom": maybe(value_from)},
    )


def _container() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"name": maybe(st.sampled_from(["app", "side", "", "\u00e9\u00e8", "a/b~c"]))},
        optional={
            "image": maybe(st.sampled_from(["eclipse-temurin:21", "golang:1.22", "node:20", ""])),
            "command": maybe(st.lists(maybe(FLAG_TEXT), max_size=5)),
            "args": maybe(st.lists(maybe(FLAG_TEXT), max_size=5)),
            "env": maybe(st.lists(maybe(_env_entry()), max_size=4)),
            "envFrom": maybe(
                st.lists(maybe(st.fixed_dictionaries({"configMapRef": maybe(JUNK)})), max_size=2)
            ),
            "resources": maybe(_resources()),
            "restartPolicy": maybe(st.just("Always")),
        },
    )


@st.composite
def workloads(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(BUILTIN_KINDS))
    pod = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "containers": maybe(st.lists(maybe(_container()), max_size=3)),
                "initContainers": maybe(st.lists(maybe(_container()), max_size=2)),
                "resources": maybe(_resources()),
            },
        )
    )
    obj: Any = pod
    for key in reversed(REGISTRY.by_name[kind].templates[0].steps):
        obj = {key: draw(maybe(st.just(obj)))}
    annotations = maybe(
        st.dictionaries(
            st.sampled_from(["oomguard.io/ignore", "oomguard.io/ignore.app", "x"]),
            maybe(st.sampled_from(["all", "memory-limit-missing", "", ","])),
            max_size=2,
        )
    )
    metadata = st.fixed_dictionaries(
        {"name": maybe(st.text(min_size=1, max_size=8))},
        optional={"namespace": maybe(st.just("ns")), "annotations": annotations},
    )
    return {
        "apiVersion": REGISTRY.by_name[kind].api_version,
        "kind": kind,
        "metadata": draw(maybe(metadata)),
        **obj,
    }


def _corpus_workloads(limit: int = 120) -> list[dict]:
    found = []
    for path in sorted(Path(CORPUS).rglob("*.y*ml")):
        for doc in yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader):
            if isinstance(doc, dict) and REGISTRY.lookup(doc):
                found.append(doc)
    return random.Random(6).sample(found, min(limit, len(found)))


CORPUS_OBJECTS = _corpus_workloads()


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a nested structure (the root excluded)."""
    paths: list[tuple] = []
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            paths.append((*path, key))
            paths.extend(_nodes(child, (*path, key)))
    return paths


@st.composite
def mutated_corpus_objects(draw) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(CORPUS_OBJECTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # kind and apiVersion pick the registry entry; again each time: the last one moved nodes
        paths = [p for p in _nodes(obj) if p not in (("kind",), ("apiVersion",))]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(JUNK)
    return obj


def _assert_checks_cleanly(obj: dict[str, Any]) -> None:
    for config in (DEFAULT_CONFIG, ALL_RULES):
        evaluation = check_object(obj, config)
        assert evaluation.crashes == []
        assert evaluation.checked
        for finding in evaluation.findings:
            assert isinstance(finding.message, str) and finding.message
            assert finding.rule and finding.severity in ("info", "warning", "error")


@SETTINGS
@given(workloads())
def test_generated_workloads_never_crash_a_rule(obj):
    _assert_checks_cleanly(obj)


@SETTINGS
@given(mutated_corpus_objects())
def test_mutated_corpus_objects_never_crash_a_rule(obj):
    _assert_checks_cleanly(obj)


@SETTINGS
@given(st.lists(JUNK, max_size=3), st.sampled_from(BUILTIN_KINDS))
def test_any_value_under_a_workload_kind_never_crashes(values, kind):
    for value in values:
        obj = value if isinstance(value, dict) else {"spec": value}
        obj["kind"] = kind
        _assert_checks_cleanly(obj)


def _comparable(result) -> collections.Counter:
    """Findings without their place in the file (which moves when documents move)."""
    return collections.Counter(
        (f.rule, f.severity, f.message, f.kind, f.namespace, f.name, f.container)
        for f in result.findings
    )


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(workloads() | mutated_corpus_objects(), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_findings_are_deterministic_and_independent_of_document_order(tmp_path_factory, docs, rnd):
    folder = tmp_path_factory.mktemp("order")
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                  "data": {"GOMEMLIMIT": "1GiB", "JAVA_TOOL_OPTIONS": "-Xmx4g"}}  # fmt: skip
    documents = [*docs, config_map]
    shuffled = documents[:]
    rnd.shuffle(shuffled)
    results = []
    for name, order in (("a.yaml", documents), ("b.yaml", shuffled), ("c.yaml", documents)):
        path = folder / name
        path.write_text(yaml.safe_dump_all(order, allow_unicode=True, sort_keys=False))
        result = lint_paths([str(path)], ALL_RULES)
        assert result.crashes == []
        assert result.objects == len(docs)
        results.append(result)
    assert _comparable(results[0]) == _comparable(results[1]) == _comparable(results[2])
    located = [(f.rule, f.line, f.column, f.message) for f in results[0].findings]
    assert located == [(f.rule, f.line, f.column, f.message) for f in results[2].findings]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_random_bytes_never_crash_the_linter(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "x.yaml"
    path.write_bytes(b"kind: Pod\n" + data)
    result = lint_paths([str(path)], ALL_RULES)
    assert result.crashes == []
    for finding in result.findings:
        if finding.rule == "manifest-invalid":
            assert finding.line >= 1 and finding.column >= 1
