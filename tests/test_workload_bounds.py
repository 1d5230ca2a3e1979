"""Bounds on what one object can cost the rules (issue 12: a 6 MiB review with ~45,000
containers held a webhook worker for over two minutes)."""

from __future__ import annotations

from oomguard.rules.admission import Request, validate
from oomguard.rules.config import config_from_data
from oomguard.rules.workload import MAX_CONTAINERS, build_workloads


def _deployment(count: int, heap: str = "-Xmx2g") -> dict:
    containers = [
        {
            "name": f"c{i}",
            "image": "example.com/app:1",
            "env": [{"name": "JAVA_TOOL_OPTIONS", "value": heap}],
            "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}},
        }
        for i in range(count)
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "big", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def test_containers_past_the_bound_are_said_not_judged():
    (view,) = build_workloads(_deployment(MAX_CONTAINERS + 250))
    assert len(view.containers) == MAX_CONTAINERS
    assert [c.name for c in view.containers[-2:]] == [
        f"c{MAX_CONTAINERS - 2}",
        f"c{MAX_CONTAINERS - 1}",
    ]
    (problem,) = view.problems
    assert problem.path == ("spec", "template", "spec", "containers", MAX_CONTAINERS)
    assert problem.message == (
        f"the object has {MAX_CONTAINERS + 250:,} containers; oomguard judges at most "
        f'{MAX_CONTAINERS} per object, so 250 from container "c{MAX_CONTAINERS}" on are not checked'
    )


def test_at_the_bound_every_container_is_judged():
    (view,) = build_workloads(_deployment(MAX_CONTAINERS))
    assert len(view.containers) == MAX_CONTAINERS
    assert view.problems == []


def test_webhook_denies_a_huge_object_with_the_bound_and_the_judged_errors():
    config = config_from_data({"mode": "enforce"})
    decision = validate(Request("CREATE", _deployment(20_000), namespace="shop"), config)
    assert decision.allowed is False
    rules = [finding.rule for finding in decision.findings]
    # the first MAX_CONTAINERS containers are judged (-Xmx2g is 200% of 1Gi), the rest said once
    assert rules.count("jvm-heap-exceeds-limit") == MAX_CONTAINERS
    assert rules.count("manifest-invalid") == 1


def test_container_lookup_by_name_gives_the_first_of_a_name():
    obj = _deployment(3)
    obj["spec"]["template"]["spec"]["containers"][2]["name"] = "c0"
    (view,) = build_workloads(obj)
    assert view.container("c0") is view.containers[0]
    assert view.container("c1") is view.containers[1]
    assert view.container("nope") is None
