"""``oomguard lint --fix`` / ``--diff``: golden files for every fixable rule, idempotency, and
the end-to-end command on the examples."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES
from oomguard.linter.fix import apply_fixes, fixable_by_file
from oomguard.linter.run import lint_paths
from oomguard.rules import CATALOGUE
from oomguard.rules.config import DEFAULT_CONFIG, Config, config_from_data

GOLDEN = Path(__file__).parent / "golden" / "fix"
FIXABLE_RULES = sorted(rule.ID for rule in CATALOGUE if rule.FIX)


def only_fix(rule: str) -> Config:
    """Defaults configured (so fixes that add values can run) and only ``rule``'s fix on."""
    return config_from_data(
        {
            "defaults": {"memory_request": "256Mi", "memory_limit": "256Mi"},
            "fix": {"enable": [rule]},
        }
    )


def fix_in_place(path: Path, config: Config):
    before = lint_paths([str(path)], config)
    after = apply_fixes(before, config, [str(path)], write=True, diff=False)
    return before, after


def errors(result) -> collections.Counter:
    return collections.Counter(
        (f.rule, f.kind, f.name, f.container) for f in result.findings if f.severity == "error"
    )


def test_every_fixable_rule_has_a_golden_pair():
    inputs = sorted(p.stem for p in GOLDEN.glob("*.yaml") if not p.name.endswith(".fixed.yaml"))
    assert inputs == FIXABLE_RULES
    for rule in FIXABLE_RULES:
        assert (GOLDEN / f"{rule}.fixed.yaml").is_file(), rule


@pytest.mark.parametrize("rule", FIXABLE_RULES)
def test_golden(rule, tmp_path):
    source = GOLDEN / f"{rule}.yaml"
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    config = only_fix(rule)

    before, after = fix_in_place(target, config)

    assert any(f.rule == rule and f.fixable for f in before.findings), "fixture must trip the rule"
    assert target.read_bytes() == (GOLDEN / f"{rule}.fixed.yaml").read_bytes()
    assert not [f for f in after.findings if f.rule == rule], "the rule's findings are fixed"
    assert not errors(after) - errors(before), "a fix must not introduce a new error"
    assert not [n for n in after.notices if "not fixed" in n]

    # idempotent: a second run finds nothing to fix and changes no byte
    fixed_bytes = target.read_bytes()
    again = lint_paths([str(target)], config)
    assert not [f for f in again.findings if f.fixable and f.rule == rule]
    apply_fixes(again, config, [str(target)], write=True, diff=False)
    assert target.read_bytes() == fixed_bytes


@pytest.mark.parametrize("rule", FIXABLE_RULES)
def test_golden_diff_matches_the_fix_and_writes_nothing(rule, tmp_path, capsys):
    source = GOLDEN / f"{rule}.yaml"
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    config = only_fix(rule)
    result = lint_paths([str(target)], config)
    apply_fixes(result, config, [str(target)], write=False, diff=True)
    diff = capsys.readouterr().out
    assert target.read_bytes() == source.read_bytes()
    lines = diff.splitlines()
    assert lines[0].startswith("--- a/") and lines[0].endswith(f"/{source.name}")
    assert lines[1].startswith("+++ b/") and lines[1].endswith(f"/{source.name}")
    original = [line.rstrip("\r") for line in source.read_text().splitlines()]
    expected = [
        line.rstrip("\r") for line in (GOLDEN / f"{rule}.fixed.yaml").read_text().splitlines()
    ]
    removed = [line[1:].rstrip("\r") for line in lines[2:] if line.startswith("-")]
    added = [line[1:].rstrip("\r") for line in lines[2:] if line.startswith("+")]
    assert removed or added
    assert all(line in original for line in removed)
    assert all(line in expected for line in added)
    assert len(expected) - len(original) == len(added) - len(removed)


def test_default_config_applies_only_rewrites(tmp_path):
    target = tmp_path / "bad.yaml"
    shutil.copyfile(GOLDEN / "memory-limit-missing.yaml", target)
    fix_in_place(target, DEFAULT_CONFIG)
    # adding a limit needs configured defaults or fix.enable: nothing changes by default
    assert target.read_bytes() == (GOLDEN / "memory-limit-missing.yaml").read_bytes()


def test_fix_of_the_examples_leaves_only_unfixable_findings(tmp_path, run_oomguard):
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    before = {p: p.read_text() for p in work.rglob("*.yaml")}

    first = run_oomguard("lint", "--fix", "bad", "good", cwd=work)
    assert first.returncode == 1, first.stderr  # errors without a fix remain and still fail
    assert "Traceback" not in first.stderr
    assert "fixed " in first.stderr
    remaining = lint_paths([str(work / "bad"), str(work / "good")], DEFAULT_CONFIG)
    assert fixable_by_file(remaining.findings, DEFAULT_CONFIG) == {}
    assert not errors(remaining) - errors(lint_paths([str(EXAMPLES)], DEFAULT_CONFIG))
    changed = {p for p, text in before.items() if p.read_text() != text}
    assert changed and all(p.parent.name == "bad" for p in changed)
    for path in changed:
        comments = [line.partition("#")[2] for line in before[path].splitlines() if "#" in line]
        kept = [line.partition("#")[2] for line in path.read_text().splitlines() if "#" in line]
        assert kept == comments, path  # every comment kept, in order

    after_first = {p: p.read_bytes() for p in work.rglob("*.yaml")}
    second = run_oomguard("lint", "--fix", "bad", "good", cwd=work)
    assert {p: p.read_bytes() for p in work.rglob("*.yaml")} == after_first
    assert "fixed " not in second.stderr
    assert second.stdout == first.stdout


def test_cli_diff_prints_a_git_style_diff_and_writes_nothing(tmp_path, run_oomguard):
    target = tmp_path / "jvm.yaml"
    shutil.copyfile(EXAMPLES / "bad" / "jvm.yaml", target)
    original = target.read_bytes()
    proc = run_oomguard("lint", "--diff", "jvm.yaml", cwd=tmp_path)
    assert target.read_bytes() == original
    assert proc.returncode == 1
    assert proc.stdout.startswith("--- a/jvm.yaml\n+++ b/jvm.yaml\n@@ ")
    assert '-              value: "-Xms512m -Xmx2g -XX:+UseG1GC"' in proc.stdout
    assert '+              value: "-Xms512m -Xmx1536m -XX:+UseG1GC"' in proc.stdout
    assert '+          command: ["java", "-jar", "/app/audit.jar"]' in proc.stdout
    # findings are still reported after the diff (the file did not change)
    assert "jvm.yaml:19:22: error jvm-heap-exceeds-limit" in proc.stdout


def test_cli_diff_keeps_json_output_parseable(tmp_path, run_oomguard):
    import json

    target = tmp_path / "node.yaml"
    shutil.copyfile(EXAMPLES / "bad" / "node.yaml", target)
    proc = run_oomguard("lint", "--diff", "--format", "json", "node.yaml", cwd=tmp_path)
    document = json.loads(proc.stdout)
    assert {f["rule"] for f in document["findings"]} == {
        "node-heap-exceeds-limit",
        "node-heap-headroom-low",
    }
    assert "+++ b/node.yaml" in proc.stderr


def test_stdin_is_never_rewritten(run_oomguard):
    text = (EXAMPLES / "bad" / "node.yaml").read_text()
    proc = run_oomguard("lint", "--fix", "-", stdin=text)
    assert proc.returncode == 1
    assert "<stdin>: 2 fixable finding(s) not fixed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chained_fixes_converge_in_one_run(tmp_path):
    # 512m is fixed to 512Mi first; only then can the heap be checked against the limit
    target = tmp_path / "chain.yaml"
    target.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: app\n      image: node:22\n"
        '      command: ["node", "--max-old-space-size=500", "app.js"]\n'
        "      resources:\n        limits: {memory: 512m}\n"
    )
    config = DEFAULT_CONFIG
    _, after = fix_in_place(target, config)
    assert '"--max-old-space-size=384"' in target.read_text()
    assert "memory: 512Mi}" in target.read_text()
    assert not [f for f in after.findings if f.severity in ("error", "warning")]


TYPO_POD = """apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    oomguard.io/ignore: "memory-limit-reqest-ratio"
spec:
  containers:
    - name: app
      image: java:17
      env: [{name: JAVA_OPTS, value: "-Xmx2g"}]
      command: ["sh", "-c", "exec java $JAVA_OPTS -jar app.jar"]
      resources: {limits: {memory: 2Gi}, requests: {memory: 2Gi}}
"""


def test_a_typo_in_an_ignore_annotation_does_not_stop_the_fixes(tmp_path, run_oomguard):
    # the typo is a manifest-invalid *warning*: the file parses, so its fixes still apply
    (tmp_path / "p.yaml").write_text(TYPO_POD)
    proc = run_oomguard("lint", "--fix", "p.yaml", cwd=tmp_path)
    assert "warning manifest-invalid: annotation oomguard.io/ignore names" in proc.stdout
    assert "fixed 1 finding in 1 file" in proc.stderr
    assert '{name: JAVA_OPTS, value: "-Xmx1536m"}' in (tmp_path / "p.yaml").read_text()


def test_a_manifest_invalid_error_still_keeps_the_file_unwritten(tmp_path, run_oomguard):
    broken = TYPO_POD.replace("requests: {memory: 2Gi}", 'requests: "abc"')
    (tmp_path / "p.yaml").write_text(broken)
    run_oomguard("lint", "--fix", "p.yaml", cwd=tmp_path)
    assert (tmp_path / "p.yaml").read_text() == broken
