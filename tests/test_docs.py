"""Documentation generated from the rule metadata stays in step with it."""

from __future__ import annotations

import json

from conftest import REPO
from conftest_webhook import Server, TLSFiles
from oomguard.rules import CATALOGUE, RULES
from oomguard.rules.catalogue_docs import render_markdown
from oomguard.rules.config import schema


def test_committed_rules_doc_is_fresh():
    committed = (REPO / "docs" / "rules.md").read_text("utf-8")
    assert committed == render_markdown(), (
        "docs/rules.md is stale: run `oomguard rules --format markdown > docs/rules.md`"
    )


def test_every_rule_has_metadata_and_examples():
    assert len(CATALOGUE) == len(RULES) == 26
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
    # the spec's catalogue in its order, then container-oomkilled (issue 7: audit history) and
    # workload-kind-unknown (issue 13: objects of kinds outside the registry)
    assert [*table, "container-oomkilled", "workload-kind-unknown"] == [
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
