"""Validation of report objects against the published CRDs in tests/data/crds (see the
README there for their source): the version's ``openAPIV3Schema`` with jsonschema, plus
the check the API server's pruning makes silently, which jsonschema does not: a field the
structural schema does not declare would be dropped on apply, so it is an error here."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

CRDS = Path(__file__).parent / "data" / "crds"
CRD_FILES = {
    ("wgpolicyk8s.io", "PolicyReport"): "wgpolicyk8s.io_policyreports.yaml",
    ("wgpolicyk8s.io", "ClusterPolicyReport"): "wgpolicyk8s.io_clusterpolicyreports.yaml",
    ("openreports.io", "Report"): "openreports.io_reports.yaml",
    ("openreports.io", "ClusterReport"): "openreports.io_clusterreports.yaml",
}


def crd_schema(api_version: str, kind: str) -> dict:
    group, _, version = api_version.partition("/")
    crd = yaml.safe_load((CRDS / CRD_FILES[(group, kind)]).read_text())
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return entry["schema"]["openAPIV3Schema"]


def pruned_fields(value, schema: dict, path: str = "") -> list[str]:
    """Paths of fields the structural schema does not declare (metadata is the API
    server's own: not walked)."""
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if path == "" and key == "metadata":
                continue
            if key in schema["properties"]:
                found += pruned_fields(item, schema["properties"][key], f"{path}.{key}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += pruned_fields(item, schema["items"], f"{path}[{index}]")
    return found


def validate_report(report: dict) -> None:
    """Raise when ``report`` breaks its CRD's schema or holds fields it would lose."""
    schema = crd_schema(report["apiVersion"], report["kind"])
    jsonschema.Draft7Validator(schema).validate(report)
    lost = pruned_fields(report, schema)
    assert not lost, f"fields the API server would prune: {lost}"
