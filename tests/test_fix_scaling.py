"""``--fix`` cost is linear in the occurrences of the text it edits (issue 12): the splicer
re-parsed the document once per earlier occurrence (200 → 55 s, 3,000 → over 300 s). These
tests count parses, not seconds; the timing lives in ``bench/fix_scaling.py``."""

from __future__ import annotations

from oomguard.linter import fix_splice
from oomguard.linter.fix import apply_fixes, patch_text
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG

POINTER = "/spec/containers/0/env/0/value"


def pod(value: str) -> str:
    return (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: app\n    image: eclipse-temurin:21\n    env:\n    - name: JAVA_OPTS\n"
        f"      value: {value}\n"
        "    resources: {limits: {memory: 2Gi}, requests: {memory: 2Gi}}\n"
    )


def test_3000_earlier_occurrences_edit_the_right_one_with_few_parses(tmp_path):
    decoys = " ".join(["-Dsize=2g"] * 3000)
    text = pod(f'"{decoys} -Xmx2g -Dtail=2g"')
    target = tmp_path / "pod.yaml"
    target.write_text(text)
    result = lint_paths([str(target)], DEFAULT_CONFIG)
    fix_splice._compose.cache_clear()

    after = apply_fixes(result, DEFAULT_CONFIG, [str(target)], write=True, diff=False)

    assert target.read_text() == pod(f'"{decoys} -Xmx1536m -Dtail=2g"')
    assert "fixed 1 finding in 1 file" in after.notices
    # the document before the edit and at most two candidate edits, not one per occurrence
    assert fix_splice._compose.cache_info().misses <= 3


def test_every_quote_style_edits_only_the_flag(tmp_path):
    decoys = " ".join(["-Dsize=2g"] * 50)
    for before, after in [
        (f"{decoys} -Xmx2g", f"{decoys} -Xmx1536m"),  # plain
        (f"'{decoys} -Xmx2g'", f"'{decoys} -Xmx1536m'"),
        (f'"{decoys} -Xmx2g"', f'"{decoys} -Xmx1536m"'),
    ]:
        value = f"{decoys} -Xmx1536m"
        fix_splice._compose.cache_clear()
        fixed = patch_text(pod(before), {0: [{"op": "replace", "path": POINTER, "value": value}]})
        assert fixed == pod(after), before[:12]
        assert fix_splice._compose.cache_info().misses <= 3


def test_escapes_that_hide_an_occurrence_still_edit_the_right_one():
    # "\x32\x67" is "2g" written with escapes: the value's first "2g" is not in the source
    # text, so counting from the start finds the wrong place (the check refuses it) and
    # counting from the end finds the flag; the escapes stay as they were
    text = pod('"\\x32\\x67 -Xmx2g"')
    fix_splice._compose.cache_clear()
    fixed = patch_text(text, {0: [{"op": "replace", "path": POINTER, "value": "2g -Xmx1536m"}]})
    assert fixed == pod('"\\x32\\x67 -Xmx1536m"')
    assert fix_splice._compose.cache_info().misses <= 3


def test_escapes_on_both_sides_fall_back_to_rendering_the_value():
    # occurrences hidden before and after the flag: neither count finds it, and the value is
    # written again whole (still double-quoted), never at a wrong occurrence
    text = pod('"\\x32\\x67 -Xmx2g \\x32\\x67"')
    value = "2g -Xmx1536m 2g"
    fixed = patch_text(text, {0: [{"op": "replace", "path": POINTER, "value": value}]})
    assert fixed == pod(f'"{value}"')
