"""Run ``helm lint`` on a chart directory through helm-sdkpy; print the result as JSON.

Runs inside ``.venv-helm`` (Python >= 3.12, see scripts/helm-venv.sh), not the project venv:

    .venv-helm/bin/python scripts/helm_lint.py charts/oomguard

Output: ``{"messages": [{"severity": "INFO"|"WARNING"|"ERROR", "path": ...}], "errors": N}``.
helm-sdkpy serialises each message's error as ``{}``, so only its severity and path survive.
Helm logs ``fail`` calls (non-fatal while linting) on stderr; tests/helm_support.py reads them
there. Exit status: 0 when no message is an error, 1 otherwise, 2 when Helm itself failed.
"""

from __future__ import annotations

import asyncio
import json
import sys

SEVERITIES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: helm_lint.py CHART_DIR", file=sys.stderr)
        return 2
    import helm_sdkpy

    try:
        config = helm_sdkpy.Configuration(namespace="default")
        result = asyncio.run(helm_sdkpy.Lint(config).run(argv[0]))
    except helm_sdkpy.HelmError as exc:
        print(f"helm_lint.py: {exc}", file=sys.stderr)
        return 2
    messages = [
        {"severity": SEVERITIES.get(m.get("Severity"), str(m.get("Severity"))), "path": m["Path"]}
        for m in result.get("Messages") or []
    ]
    errors = sum(1 for m in messages if m["severity"] == "ERROR")
    json.dump({"messages": messages, "errors": errors}, sys.stdout)
    sys.stdout.write("\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
