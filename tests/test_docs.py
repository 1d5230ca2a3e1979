"""Documentation generated from the rule metadata stays in step with it."""

from __future__ import annotations

from conftest import REPO
from oomguard.rules import CATALOGUE, RULES
from oomguard.rules.catalogue_docs import render_markdown
from oomguard.rules.config import schema


def test_committed_rules_doc_is_fresh():
    committed = (REPO / "docs" / "rules.md").read_text("utf-8")
    assert committed == render_markdown(), (
        "docs/rules.md is stale: run `oomguard rules --format markdown > docs/rules.md`"
    )


def test_every_rule_has_metadata_and_examples():
    assert len(CATALOGUE) == len(RULES) == 25
    for rule in CATALOGUE:
        assert rule.SEVERITY in ("error", "warning", "info")
        assert rule.FIX in ("rewrite", "add", None)
        assert rule.SUMMARY and len(rule.SUMMARY) < 100
        assert "PASS:\n```yaml" in rule.__doc__ and "FAIL:\n```yaml" in rule.__doc__, rule.ID
        assert rule.__name__.rsplit(".", 1)[-1] == rule.ID.replace("-", "_")


def test_config_schema_lists_exactly_the_catalogue():
    assert schema()["$defs"]["rule"]["enum"] == [rule.ID for rule in CATALOGUE]


def test_spec_rule_ids_are_all_implemented():
    text = (REPO.parent / "shared" / "spec" / "oomguard.md").read_text("utf-8")
    table = [
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    ]
    # the spec's catalogue in its order, then container-oomkilled (issue 7: audit history)
    assert [*table, "container-oomkilled"] == [rule.ID for rule in CATALOGUE]
