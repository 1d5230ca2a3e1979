"""The in-memory index of an input's ConfigMaps and Secrets (rules/sources.py): one
precedence for ``oomguard lint``, rendered charts and the rule tests (tests/helpers.py)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from helpers import documents, findings
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG
from oomguard.rules.sources import InputIndex, index_of


def _configmap(name: str, opts: str, namespace: str | None = None) -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}{where}}}\n"
        f"data: {{opts: {opts}}}\n"
    )


def test_the_first_matching_source_in_input_order_wins():
    index = index_of(
        documents(
            "---\n".join(
                [
                    _configmap("heap", "-Xmx1g"),  # no namespace: matches any
                    _configmap("heap", "-Xmx2g", "prod"),
                    _configmap("heap", "-Xmx3g", "prod"),
                    _configmap("other", "-Xmx4g", "dev"),
                ]
            )
        )
    )
    assert index.lookup("ConfigMap", "prod", "heap") == {"opts": "-Xmx1g"}
    assert index.lookup("ConfigMap", None, "heap") == {"opts": "-Xmx1g"}
    assert index.lookup("ConfigMap", None, "other") == {"opts": "-Xmx4g"}  # any namespace
    assert index.lookup("ConfigMap", "prod", "other") is None  # another namespace's
    assert index.lookup("Secret", "prod", "heap") is None  # kinds do not mix


def test_a_namespaced_source_does_not_match_another_namespace_but_a_later_one_does():
    index = index_of(
        documents(_configmap("heap", "-Xmx2g", "dev") + "---\n" + _configmap("heap", "-Xmx3g"))
    )
    assert index.lookup("ConfigMap", "prod", "heap") == {"opts": "-Xmx3g"}
    assert index.lookup("ConfigMap", "dev", "heap") == {"opts": "-Xmx2g"}


def test_secret_data_is_decoded_and_string_data_read():
    index = InputIndex()
    index.add(
        {
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"a": "LVhteDFn"},  # base64 of -Xmx1g
            "stringData": {"b": "-Xmx2g"},
        }
    )
    index.add({"kind": "ConfigMap", "metadata": {"name": 7}, "data": {"a": "x"}})  # no name
    assert index.lookup("Secret", "any", "s") == {"a": "-Xmx1g", "b": "-Xmx2g"}
    assert index.sources.keys() == {("Secret", "s")}


def test_put_first_lets_the_other_index_win():
    named = index_of(documents(_configmap("heap", "-Xmx1g")))
    related = index_of(documents(_configmap("heap", "-Xmx3g")))
    related.put_first(named)
    assert related.lookup("ConfigMap", None, "heap") == {"opts": "-Xmx1g"}


DEPLOYMENT = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: app}
    spec:
      template:
        spec:
          containers:
          - name: app
            image: eclipse-temurin:21
            env:
            - name: JAVA_TOOL_OPTIONS
              valueFrom: {configMapKeyRef: {name: heap, key: opts}}
            resources: {limits: {memory: 1Gi, cpu: 1}, requests: {memory: 1Gi, cpu: 1}}
    """
)


def test_rule_tests_and_lint_resolve_a_duplicate_name_alike(tmp_path: Path):
    """Two ConfigMaps of one name: the first (-Xmx2g, over the 1Gi limit) is the one read,
    by lint and by the test helpers alike (the helpers used to take the last)."""
    text = _configmap("heap", "-Xmx2g") + "---\n" + _configmap("heap", "-Xmx512m")
    text += "---\n" + DEPLOYMENT
    from_helpers = [f.rule for f in findings(text) if f.severity != "info"]
    (tmp_path / "all.yaml").write_text(text)
    linted = lint_paths([str(tmp_path / "all.yaml")], DEFAULT_CONFIG).findings
    assert from_helpers == ["jvm-heap-exceeds-limit"]
    assert [f.rule for f in linted if f.severity != "info"] == from_helpers


def test_sources_are_read_and_lists_paged_in_one_place_each():
    """One in-memory index, one cluster source, one paging loop (issue 16, item 4): a new
    reader of ConfigMap/Secret data or a second ``continue`` loop fails here."""
    repo = Path(__file__).resolve().parent.parent
    code = {
        str(path.relative_to(repo)): path.read_text("utf-8")
        for folder in ("cli", "rules", "linter", "webhook")
        for path in (repo / folder).rglob("*.py")
    }
    readers = sorted(p for p, text in code.items() if re.search(r"\bsource_data\(obj\)", text))
    assert readers == ["cli/cluster_sources.py", "rules/sources.py"]
    paging = sorted(p for p, text in code.items() if '"continue"' in text)
    assert paging == ["cli/kube.py"]


def _limit_range(name: str, namespace: str | None, memory: str) -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: LimitRange\nmetadata: {{name: {name}{where}}}\n"
        f"spec: {{limits: [{{type: Container, default: {{memory: {memory}}}}}]}}\n"
    )


def test_limit_ranges_are_kept_by_namespace_in_input_order():
    """A workload's look-up reads its own namespace's LimitRanges, in input order (kept per
    namespace, so an input with many namespaces does not cost workloads x LimitRanges)."""
    text = "---\n".join(
        [_limit_range(f"lr{i}", f"ns{i % 50}", f"{i + 1}Mi") for i in range(200)]
        + [_limit_range("cluster", None, "1Gi")]
    )
    index = index_of(documents(text))
    assert [r.name for r in index.limit_ranges_for("ns7")] == ["lr7", "lr57", "lr107", "lr157"]
    assert [r.name for r in index.limit_ranges_for(None)] == ["cluster"]
    assert index.limit_ranges_for("elsewhere") == []
    first = index_of(documents(_limit_range("named", "ns7", "2Gi")))
    index.put_first(first)
    assert [r.name for r in index.limit_ranges_for("ns7")][:2] == ["named", "lr7"]
