"""Documentation generated from the rule metadata stays in step with it."""

from __future__ import annotations

import json

from conftest import REPO
from conftest_webhook import Server, TLSFiles
from oomguard.rules import CATALOGUE, RULES
from oomguard.rules.catalogue_docs import (
    render_chart_schema,
    render_chart_workload_kinds,
    render_config_schema,
    render_markdown,
)
from oomguard.rules.config import schema


def test_committed_rules_doc_is_fresh():
    committed = (REPO / "docs" / "rules.md").read_text("utf-8")
    assert committed == render_markdown(), (
        "docs/rules.md is stale: run `oomguard rules --format markdown > docs/rules.md`"
    )


def test_every_rule_has_metadata_and_examples():
    assert len(CATALOGUE) == len(RULES) == 31
    for rule in CATALOGUE:
        assert rule.SEVERITY in ("error", "warning", "info")
        assert rule.FIX in ("rewrite", "add", None)
        assert rule.SUMMARY and len(rule.SUMMARY) < 100
        assert "PASS:\n```yaml" in rule.__doc__ and "FAIL:\n```yaml" in rule.__doc__, rule.ID
        assert rule.__name__.rsplit(".", 1)[-1] == rule.ID.replace("-", "_")


def test_config_schema_lists_exactly_the_catalogue():
    assert schema()["$defs"]["rule"]["enum"] == [rule.ID for rule in CATALOGUE]


def test_generated_schema_entries_are_fresh():
    """The rule IDs and thresholds of both config schemas are generated from the rule
    modules' declarations: a new rule or option without a regeneration fails here."""
    for path, render in (
        (REPO / "rules" / "config.schema.json", render_config_schema),
        (REPO / "charts" / "oomguard" / "values.schema.json", render_chart_schema),
    ):
        committed = path.read_text("utf-8")
        assert committed == render(json.loads(committed)), (
            f"{path.relative_to(REPO)} is stale: run `.venv/bin/python scripts/regenerate.py`"
        )


def test_chart_workload_kinds_are_generated_from_the_registry():
    """A new preset kind reaches the chart's webhook rules by regeneration, not by hand."""
    path = REPO / "charts" / "oomguard" / "values.yaml"
    committed = path.read_text("utf-8")
    assert committed == render_chart_workload_kinds(committed), (
        "charts/oomguard/values.yaml's workloadKinds is stale: run "
        "`.venv/bin/python scripts/regenerate.py`"
    )


def test_spec_rule_ids_are_all_implemented():
    text = (REPO.parent / "shared" / "spec" / "oomguard.md").read_text("utf-8")
    table = [
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    ]
    # the spec's catalogue in its order, then container-oomkilled (issue 7: audit history) and
    # workload-kind-unknown (issue 13: objects of kinds outside the registry), then
    # the rules of issue 17 (LimitRanges, VerticalPodAutoscalers, in-place resize)
    issue_17 = [
        "limitrange-violation",
        "vpa-heap-fixed",
        "vpa-limit-below-max-allowed",
        "vpa-heap-exceeds-limit",
        "heap-resize-in-place",
    ]
    assert [*table, "container-oomkilled", "workload-kind-unknown", *issue_17] == [
        rule.ID for rule in CATALOGUE
    ]


def test_readme_webhook_example_is_what_the_server_answers(tmp_path):
    """The README's curl of examples/admission/deployment-deny.json shows the real answer."""
    readme = (REPO / "README.md").read_text("utf-8")
    after_curl = readme[readme.index("--data @examples/admission/deployment-deny.json") :]
    shown = json.loads(after_curl.split("```json\n", 1)[1].split("\n```", 1)[0])
    body = (REPO / "examples" / "admission" / "deployment-deny.json").read_bytes()
    server = Server(tmp_path, TLSFiles(tmp_path / "tls"))  # no --config: the defaults
    try:
        answer = server.post("/validate", body)
    finally:
        assert server.stop() == 0
    assert answer.status_code == 200
    assert answer.json() == shown


def _readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    start = readme.index(f"\n## {title}")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def test_readme_config_example_loads_and_adds_its_kind():
    import yaml
    from oomguard.rules.config import config_from_data

    block = _readme_section("Configuration").split("```yaml\n", 1)[1].split("\n```", 1)[0]
    config = config_from_data(yaml.safe_load(block), "README")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget"}
    assert config.registry.lookup(widget).templates[0].label == "worker-group"


def test_readme_and_kinds_doc_name_every_registry_kind():
    from oomguard.rules.kinds import registry_for

    section = _readme_section("Workload kinds")
    kinds_doc = (REPO / "docs" / "kinds.md").read_text("utf-8")
    assert "(docs/kinds.md)" in section
    for spec in registry_for().kinds.values():
        assert spec.kind in section, spec.kind
        assert spec.kind in kinds_doc, spec.kind
