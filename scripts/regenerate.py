"""Write the files generated from the rule modules and the registry of workload kinds:
docs/rules.md, the rule IDs and thresholds of rules/config.schema.json and of
charts/oomguard/values.schema.json, and the chart's webhooks.workloadKinds list
(charts/oomguard/values.yaml).

    .venv/bin/python scripts/regenerate.py

tests/test_docs.py fails while any of them is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from oomguard.rules.catalogue_docs import (
    render_chart_schema,
    render_chart_workload_kinds,
    render_config_schema,
    render_markdown,
)

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    (REPO / "docs" / "rules.md").write_text(render_markdown(), "utf-8")
    for path, render in (
        (REPO / "rules" / "config.schema.json", render_config_schema),
        (REPO / "charts" / "oomguard" / "values.schema.json", render_chart_schema),
    ):
        path.write_text(render(json.loads(path.read_text("utf-8"))), "utf-8")
    values = REPO / "charts" / "oomguard" / "values.yaml"
    values.write_text(render_chart_workload_kinds(values.read_text("utf-8")), "utf-8")


if __name__ == "__main__":
    main()
