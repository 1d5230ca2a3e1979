"""The whole real-world corpus (894 files from 15 projects) through ``lint_paths``.

No crash, every workload object seen, and the finding counts asserted: the headline counts
are cross-checked against an independent PyYAML walk of the same files, the rest are pinned
so that a change in any rule's behaviour on real manifests shows up here.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import yaml
from conftest import CORPUS, needs_corpus
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG, config_from_data
from oomguard.rules.kinds import registry_for

REGISTRY = registry_for()  # built-ins and presets, as lint judges them

pytestmark = needs_corpus
# Pinned per-rule counts over the corpus, every rule enabled, infos included. The 11 OpenKruise
# objects (apps.kruise.io DaemonSet/StatefulSet) are judged by their presets; files holding only
# such objects are now read, which adds two duplicate-key manifest-invalid findings.
EXPECTED = {
    "best-effort-pod": 506,
    "go-memlimit-exceeds-limit": 2,
    "jvm-heap-exceeds-limit": 9,
    "manifest-invalid": 7,
    "memory-limit-missing": 704,
    "memory-limit-request-ratio": 105,
    "memory-limit-too-low": 1,
    "memory-request-exceeds-limit": 3,
    "memory-request-missing": 653,
    "node-heap-exceeds-limit": 4,
    "qos-not-guaranteed": 418,
    "runtime-flag-unresolved": 24,
    "runtime-heap-unset": 17,
}


@pytest.fixture(scope="module")
def corpus_result():
    config = config_from_data({})
    return lint_paths([str(CORPUS)], config)


def _oracle():
    """Independent counts with PyYAML: workloads, BestEffort pods (containers present, no
    container or init container with any cpu/memory request or limit, as the corpus's own
    stats.py counts them) and containers with no memory limit anywhere."""
    objects = best_effort = no_limit = 0
    for path in sorted(CORPUS.rglob("*.y*ml")):
        for doc in yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader):
            items = (
                doc.get("items")
                if isinstance(doc, dict) and str(doc.get("kind")).endswith("List")
                else None
            )
            for obj in items if isinstance(items, list) else [doc]:
                if not isinstance(obj, dict) or REGISTRY.lookup(obj) is None:
                    continue
                objects += 1
                spec = obj
                for key in REGISTRY.lookup(obj).templates[0].steps:
                    spec = spec.get(key) if isinstance(spec, dict) else None
                if not isinstance(spec, dict):
                    continue
                pod_limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
                regular = (
                    [c for c in spec.get("containers") or [] if isinstance(c, dict)]
                    if isinstance(spec.get("containers"), list)
                    else []
                )
                init = [c for c in spec.get("initContainers") or [] if isinstance(c, dict)]
                sets_any = False
                for container in regular + init:
                    resources = container.get("resources") or {}
                    for section in ("requests", "limits"):
                        values = resources.get(section) or {}
                        sets_any |= any(values.get(r) is not None for r in ("cpu", "memory"))
                    if (resources.get("limits") or {}).get("memory") is None and pod_limit is None:
                        no_limit += 1
                best_effort += bool(regular) and not sets_any
    return objects, best_effort, no_limit


def test_corpus_lints_without_crash_and_sees_every_workload(corpus_result):
    assert corpus_result.crashes == []
    assert corpus_result.unreadable == []
    assert corpus_result.files == 894
    objects, _, _ = _oracle()
    assert corpus_result.objects == objects == 1055


def test_corpus_headline_counts_match_an_independent_walk(corpus_result):
    counts = collections.Counter(f.rule for f in corpus_result.findings)
    _, best_effort, no_limit = _oracle()
    # sourcegraph's ingress-nginx Deployment has no resources, but the LimitRange beside it
    # (min memory 90Mi, cpu 100m: the API server's defaultRequest) makes its Pods Burstable
    assert best_effort == 507
    assert counts["best-effort-pod"] == best_effort - 1
    assert counts["memory-limit-missing"] == no_limit


def test_corpus_finding_counts_per_rule(corpus_result):
    counts = collections.Counter(f.rule for f in corpus_result.findings)
    assert dict(counts) == EXPECTED


def test_corpus_findings_all_have_positions_and_objects(corpus_result):
    for finding in corpus_result.findings:
        assert finding.file and finding.line >= 1 and finding.column >= 1
        if finding.rule != "manifest-invalid":
            assert finding.kind in REGISTRY.names


def test_corpus_real_heap_findings(corpus_result):
    """The heap mistakes real projects ship, with their numbers."""
    by_rule = collections.defaultdict(list)
    for finding in corpus_result.findings:
        by_rule[finding.rule].append(finding)
    bank = [f for f in by_rule["jvm-heap-exceeds-limit"] if "bank-of-anthos" in f.file]
    assert len(bank) == 9
    assert all(
        f.message.startswith(
            "-Xmx512m (env JVM_OPTS, passed to java by the image's "
            "entrypoint) is 100% of the 512Mi memory limit"
        )
        for f in bank
    )
    node = sorted(Path(f.file).name for f in by_rule["node-heap-exceeds-limit"])
    assert node == [
        "aws__microservices__tb-services.yml",
        "azure__microservices__tb-services.yml",
        "gcp__microservices__tb-services.yml",
        "minikube__thingsboard.yml",
    ]
    istio = by_rule["go-memlimit-exceeds-limit"]
    assert {f.container for f in istio} == {"istio-proxy"}
    assert all(
        "GOMEMLIMIT=524288000 (from limits.memory via resourceFieldRef) is 100% of the "
        "500Mi memory limit" in f.message
        for f in istio
    )


def test_default_config_hides_infos(corpus_result):
    assert DEFAULT_CONFIG.rules == {}
    infos = [f for f in corpus_result.findings if f.severity == "info"]
    assert {f.rule for f in infos} == {
        "memory-request-missing",  # the ingress-nginx LimitRange's request (see above)
        "qos-not-guaranteed",
        "runtime-flag-unresolved",
        "runtime-heap-unset",
    }
