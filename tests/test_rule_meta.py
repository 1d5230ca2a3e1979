"""Rule metadata is declared on each rule module (rules/__init__.py's docstring) and read
only from there: the engine's fix policy, container-oomkilled's explanations, the config's
thresholds and the generated schemas follow the declarations, and nothing else lists rules."""

from __future__ import annotations

import re
from dataclasses import fields
from fractions import Fraction

import pytest
from conftest import REPO
from helpers import config, findings
from oomguard.rules import CATALOGUE, META, OPTIONS, RULES, jvm_heap_exceeds_limit
from oomguard.rules.config import DEFAULT_CONFIG, ConfigError, Thresholds, config_from_data
from oomguard.rules.engine import lint_fix_enabled, mutation_enabled
from oomguard.rules.model import RuleMeta
from oomguard.rules.quantity import parse_quantity

DECLARATIONS = {f.name.upper() for f in fields(RuleMeta)}


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.ID)
def test_declarations_are_known_and_consistent(rule):
    # a misspelt declaration (FIX_IN_ADMISION) would silently get the default
    declared = {name for name in vars(rule) if re.match(r"(FIX|EXPLAINS|OPTION)", name)}
    assert declared <= DECLARATIONS, declared - DECLARATIONS
    meta = META[rule.ID]
    assert meta.fix == rule.FIX
    assert isinstance(meta.fix_in_admission, bool) and isinstance(meta.fix_needs_defaults, bool)
    assert isinstance(meta.explains_oom_kill, bool)
    if meta.fix is None:  # fix policies on a rule without a fix mean a mistake
        assert meta.fix_in_admission and not meta.fix_needs_defaults, rule.ID
    if meta.fix_needs_defaults:
        assert meta.fix == "add", rule.ID


def test_undeclared_rules_get_the_defaults():
    meta = META["qos-not-guaranteed"]  # declares FIX only
    assert (meta.fix_in_admission, meta.fix_needs_defaults, meta.explains_oom_kill) == (
        True,
        False,
        False,
    )
    assert meta.options == ()


def test_fix_policy_follows_the_declarations():
    with_defaults = config(defaults={"memory_request": "1Gi", "memory_limit": "1Gi"})
    everything = config(mutate=list(RULES))
    for rule_id, meta in META.items():
        assert mutation_enabled(rule_id, everything) == meta.fix_in_admission, rule_id
        assert lint_fix_enabled(rule_id, DEFAULT_CONFIG) == (meta.fix == "rewrite"), rule_id
        by_default = meta.fix == "rewrite" or meta.fix_needs_defaults
        assert lint_fix_enabled(rule_id, with_defaults) == by_default, rule_id
    # today's declarations (docs/fix.md): the millibytes rewrite is lint-only; the
    # resource-adding fixes are the ones driven by `defaults:`
    assert [r for r, m in META.items() if not m.fix_in_admission] == ["memory-quantity-millibytes"]
    assert [r for r, m in META.items() if m.fix_needs_defaults] == [
        "memory-limit-missing",
        "memory-request-missing",
        "best-effort-pod",
    ]


def test_thresholds_are_the_declared_options():
    """Thresholds keeps typed fields for the rules that read them; names and defaults must
    be the declared ones (the schema's thresholds are generated from the declarations)."""
    assert [f.name for f in fields(Thresholds)] == [option.name for option in OPTIONS]
    assert len({option.name for option in OPTIONS}) == len(OPTIONS)  # one owner per key
    defaults = Thresholds()
    for option in OPTIONS:
        expected = (
            parse_quantity(option.default)
            if option.type == "quantity"
            else Fraction(str(option.default))
        )
        assert getattr(defaults, option.name) == expected, option.name


def test_thresholds_are_parsed_by_their_declared_type():
    parsed = config_from_data(
        {"thresholds": {"min_limit": "32Mi", "jvm_heap_ratio": 0.5}}, "t"
    ).thresholds
    assert parsed.min_limit == 32 * 1024**2
    assert parsed.jvm_heap_ratio == Fraction(1, 2)
    assert parsed.go_memlimit_ratio == Fraction(9, 10)  # not given: the default
    with pytest.raises(ConfigError, match=r"thresholds\.min_limit"):
        config_from_data({"thresholds": {"min_limit": "lots"}}, "t")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": {"no-such-rule": {"enabled": False}}}, "'no-such-rule' is not a rule ID"),
        ({"mutate": ["no-such-rule"]}, "'no-such-rule' is not a rule ID"),
        ({"mode": "loud"}, "'loud' is not one of ['enforce', 'warn', 'audit']"),
        ({"rules": {"memory-limit-missing": {"severity": "fatal"}}}, "'fatal' is not one of"),
    ],
)
def test_a_bad_rule_id_is_recognised_by_the_catalogue(data, message, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no remembered verdicts
    with pytest.raises(ConfigError) as error:
        config_from_data(data, "t")
    assert message in str(error.value)


# A Pod dump: -Xmx1g at its 1Gi limit (jvm-heap-exceeds-limit) and an OOM kill in its status
KILLED = """
apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
    - name: app
      image: eclipse-temurin:21
      env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]
      resources: {requests: {memory: 1Gi}, limits: {memory: 1Gi}}
status:
  containerStatuses:
    - name: app
      restartCount: 3
      lastState:
        terminated: {reason: OOMKilled, exitCode: 137, finishedAt: "2026-11-20T10:00:00Z"}
"""


def test_oom_kill_explanation_reads_the_engines_findings(monkeypatch):
    """The explaining rules' checks run once per view (before, container-oomkilled ran
    each of them again for every OOM-killed container)."""
    calls = []
    original = jvm_heap_exceeds_limit.check

    def counted(workload, cfg):
        calls.append(workload.name)
        return original(workload, cfg)

    monkeypatch.setattr(jvm_heap_exceeds_limit, "check", counted)
    (killed,) = findings(KILLED, "container-oomkilled")
    assert killed.message.endswith("3 restarts; explained by jvm-heap-exceeds-limit")
    assert calls == ["api"]


def test_a_disabled_explaining_rule_still_explains():
    cfg = config(rules={"jvm-heap-exceeds-limit": {"enabled": False}})
    assert findings(KILLED, "jvm-heap-exceeds-limit", cfg) == []
    (killed,) = findings(KILLED, "container-oomkilled", cfg)
    assert killed.message.endswith("; explained by jvm-heap-exceeds-limit")


def test_only_rule_modules_name_rule_ids():
    """No hand-kept list of rule IDs in the engine, the config code or container-oomkilled:
    they read the declarations."""
    ids = re.compile("|".join(re.escape(f'"{rule_id}"') for rule_id in RULES))
    for path in ("engine.py", "config.py", "container_oomkilled.py", "catalogue_docs.py"):
        text = (REPO / "rules" / path).read_text("utf-8")
        own = f'"{getattr(RULES.get(path[:-3].replace("_", "-")), "ID", "")}"'
        assert [m for m in ids.findall(text) if m != own] == [], path
