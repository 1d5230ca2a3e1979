"""``--format sarif``: valid against the official SARIF 2.1.0 schema, with rule metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from conftest import EXAMPLES
from oomguard.rules import CATALOGUE

# OASIS sarif-spec, Schemata/sarif-schema-2.1.0.json (2.1.0 errata01), vendored unchanged
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict) -> None:
    validator = jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


@pytest.fixture
def sarif(run_oomguard):
    def run(*args: str, **kwargs) -> tuple[dict, int]:
        proc = run_oomguard("lint", "--format", "sarif", *args, **kwargs)
        assert "Traceback" not in proc.stderr
        return json.loads(proc.stdout), proc.returncode

    return run


def test_schema_is_the_official_one():
    data = (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
    )
    assert SCHEMA["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )


def test_examples_validate_and_map_severities(sarif):
    log, code = sarif("--min-severity", "info", "examples/bad", "examples/good")
    validate(log)
    assert code == 1
    run = log["runs"][0]
    results = run["results"]
    levels = {(r["ruleId"], r["level"]) for r in results}
    assert ("jvm-heap-exceeds-limit", "error") in levels
    assert ("jvm-heap-headroom-low", "warning") in levels
    assert ("qos-not-guaranteed", "note") in levels  # info → note
    assert run["invocations"][0]["executionSuccessful"] is True


def test_rule_metadata_comes_from_the_catalogue(sarif):
    log, _ = sarif("examples/good")
    validate(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "oomguard"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [rule.ID for rule in CATALOGUE]
    by_id = {r["id"]: r for r in rules}
    jvm = by_id["jvm-heap-exceeds-limit"]
    assert jvm["helpUri"].endswith("docs/rules.md#jvm-heap-exceeds-limit")
    assert jvm["defaultConfiguration"]["level"] == "error"
    assert jvm["shortDescription"]["text"] == CATALOGUE[9].SUMMARY
    assert "PASS:" in jvm["help"]["markdown"]
    assert by_id["qos-not-guaranteed"]["defaultConfiguration"]["level"] == "note"


def test_result_location_and_rule_index(sarif):
    log, _ = sarif("examples/bad/jvm.yaml")
    validate(log)
    run = log["runs"][0]
    first = run["results"][0]
    assert first["ruleId"] == "jvm-heap-exceeds-limit"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    physical = first["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {
        "uri": "examples/bad/jvm.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert physical["region"] == {"startLine": 19, "startColumn": 22}
    logical = first["locations"][0]["logicalLocations"][0]
    assert logical["fullyQualifiedName"] == "Deployment/bank/ledger/ledger"
    assert first["message"]["text"].startswith("-Xmx2g (env JAVA_OPTS) is 100% of the 2Gi")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")


def test_fingerprints_ignore_line_moves(sarif, tmp_path):
    text = (EXAMPLES / "bad" / "node.yaml").read_text()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "m.yaml").write_text(text)
    (tmp_path / "b" / "m.yaml").write_text("# a new comment line\n" + text)
    a, _ = sarif("m.yaml", cwd=tmp_path / "a")
    b, _ = sarif("m.yaml", cwd=tmp_path / "b")
    prints = [[r["partialFingerprints"] for r in log["runs"][0]["results"]] for log in (a, b)]
    lines = [
        [
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in log["runs"][0]["results"]
        ]
        for log in (a, b)
    ]
    assert prints[0] == prints[1]
    assert [line + 1 for line in lines[0]] == lines[1]


def test_stdin_and_odd_paths_stay_valid(sarif, tmp_path):
    text = (EXAMPLES / "bad" / "node.yaml").read_text()
    log, code = sarif("-", stdin=text)
    validate(log)
    assert code == 1
    assert all(
        "physicalLocation" not in loc for r in log["runs"][0]["results"] for loc in r["locations"]
    )
    odd = tmp_path / "dir with space" / "100%.yaml"
    odd.parent.mkdir()
    odd.write_text(text)
    log, _ = sarif(str(odd))
    validate(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ]
    assert uri.startswith("file:///") and uri.endswith("/dir%20with%20space/100%25.yaml")


def test_unreadable_paths_become_notifications(sarif, tmp_path):
    (tmp_path / "ok.yaml").write_text((EXAMPLES / "good" / "shop.yaml").read_text())
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    log, code = sarif(".", cwd=tmp_path)
    validate(log)
    assert code == 2
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["message"]["text"].startswith("cannot read ./gone.yaml")


def test_broken_manifest_is_a_result(sarif, tmp_path):
    (tmp_path / "broken.yaml").write_text("kind: Pod\nspec: [unclosed\n")
    log, code = sarif("broken.yaml", cwd=tmp_path)
    validate(log)
    assert code == 1
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["manifest-invalid"]
