"""Every rule's documented PASS/FAIL examples, and every fixable rule's fix as a real patch.

The examples are the ones in each rule module's docstring (and so in ``docs/rules.md``): the
FAIL example must make that rule fire, the PASS example must not. For each rule with a fix,
the fix of its FAIL example must materialize into a strict RFC 6902 patch that jsonpatch
accepts, the patched object must no longer fire the rule, and fixing again yields nothing.
"""

from __future__ import annotations

import re

import pytest
from helpers import ALL_RULES, apply_fix, config, documents, dump, findings, workload_object
from oomguard.rules import CATALOGUE
from oomguard.rules.fixes import materialize
from oomguard.rules.model import SEVERITIES

EXAMPLE = re.compile(r"^(PASS|FAIL):\n```yaml\n(.*?)```", re.S | re.M)
# Fixes that add values need defaults; runtime-heap-unset's fix is opt-in but attached.
WITH_DEFAULTS = config(defaults={"memory_request": "256Mi", "memory_limit": "256Mi"})
# Rules about something absent or unknown: there is no number to state.
NO_NUMBERS = {"memory-request-missing", "runtime-flag-unresolved"}


def examples(rule) -> dict[str, str]:
    found = {kind: text for kind, text in EXAMPLE.findall(rule.__doc__ or "")}
    assert set(found) == {"PASS", "FAIL"}, f"{rule.ID} lacks a PASS or FAIL example"
    return found


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.ID)
def test_rule_metadata(rule):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.ID)
    assert rule.SEVERITY in SEVERITIES
    assert rule.SUMMARY and len(rule.SUMMARY) <= 100
    assert rule.FIX in (None, "add", "rewrite")


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.ID)
def test_fail_example_fires(rule):
    text = examples(rule)["FAIL"]
    if rule.ID == "manifest-invalid":
        # the loader reports syntax errors; wrong types are found by the rule itself
        assert documents(text)
    fired = findings(text, rule.ID, ALL_RULES)
    assert fired, f"{rule.ID} does not fire on its FAIL example"
    for finding in fired:
        assert finding.severity == rule.SEVERITY
        if rule.ID not in NO_NUMBERS:
            assert re.search(r"\d", finding.message), f"no number in: {finding.message}"


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.ID)
def test_pass_example_does_not_fire(rule):
    assert findings(examples(rule)["PASS"], rule.ID, ALL_RULES) == []


FIXABLE = [rule for rule in CATALOGUE if rule.FIX]


@pytest.mark.parametrize("rule", [r for r in CATALOGUE if not r.FIX], ids=lambda r: r.ID)
def test_rules_declaring_no_fix_offer_none(rule):
    """``FIX = None`` is what ``oomguard rules``, SARIF and ``fix.enable`` show: a rule that
    attaches fix operations anyway would be applied under a kind nobody declared."""
    fired = findings(examples(rule)["FAIL"], rule.ID, WITH_DEFAULTS)
    assert fired and not any(f.fix for f in fired), rule.ID


@pytest.mark.parametrize("rule", FIXABLE, ids=lambda r: r.ID)
def test_fix_of_the_fail_example_is_a_strict_idempotent_patch(rule):
    text = examples(rule)["FAIL"]
    obj = workload_object(text)
    fired = findings(text, rule.ID, WITH_DEFAULTS)
    assert fired and all(f.fix for f in fired), f"{rule.ID} offers no fix on its FAIL example"
    patch, patched = apply_fix(obj, fired)
    assert patch, rule.ID
    for op in patch:
        assert op["op"] in ("add", "replace", "remove")
        assert isinstance(op["path"], str) and op["path"].startswith("/")
    assert findings(dump(patched), rule.ID, WITH_DEFAULTS) == []
    again = findings(dump(patched), cfg=WITH_DEFAULTS)
    assert materialize(patched, [op for f in again if f.rule == rule.ID for op in f.fix]) == []
