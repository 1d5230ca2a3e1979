"""One convergence for ``--fix``, ``--diff`` and ``/mutate`` (issue 11 §3, issue 16 §3): the
diff, applied with ``git apply``, gives exactly the bytes ``--fix`` writes, and the mutating
webhook's patch is the same operations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from oomguard.linter.fix import apply_fixes, load_like_linter
from oomguard.linter.run import lint_paths
from oomguard.rules.admission import Request, mutate
from oomguard.rules.config import DEFAULT_CONFIG, config_from_data

GOLDEN = Path(__file__).parent / "golden" / "fix"

# 2048m is 2.048 bytes (memory-quantity-millibytes rewrites it to 2048Mi); only at 2048Mi can
# -Xmx2g be judged: 2 GiB of heap in a 2 GiB container (jvm-heap-exceeds-limit → -Xmx1536m).
# The old --diff ran one round and showed only the first change; --fix wrote both.
TWO_ROUNDS = """\
apiVersion: v1
kind: Pod
metadata:
  name: two-rounds
spec:
  containers:
  - name: app
    image: eclipse-temurin:21
    command: ["java", "-Xmx2g", "-jar", "app.jar"]  # keep this comment
    resources:
      limits:
        memory: 2048m
      requests:
        memory: 2048m
"""

LIST_OF_TWO = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec:
    containers:
    - name: app
      image: node:22
      command: ["node", "--max-old-space-size=4096", "app.js"]
      resources: {limits: {memory: 1Gi}, requests: {memory: 1Gi}}
- apiVersion: v1
  kind: Pod
  metadata: {name: b}
  spec:
    containers:
    - name: app
      image: golang:1.22
      env:
      - {name: GOMEMLIMIT, value: 900MiB}
      resources: {limits: {memory: 512Mi}, requests: {memory: 512Mi}}
"""

CASES = {
    "two-rounds.yaml": TWO_ROUNDS,
    "list.yaml": LIST_OF_TWO,
    "jvm.yaml": (GOLDEN / "jvm-heap-exceeds-limit.yaml").read_text(),
    "node.yaml": (GOLDEN / "node-heap-exceeds-limit.yaml").read_text(),
    "millibytes.yaml": (GOLDEN / "memory-quantity-millibytes.yaml").read_text(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_diff_applied_equals_what_fix_writes(name, tmp_path, monkeypatch, capsys):
    previewed, fixed = tmp_path / "previewed", tmp_path / "fixed"
    for folder in (previewed, fixed):
        folder.mkdir()
        (folder / name).write_text(CASES[name])
    original = CASES[name].encode()

    monkeypatch.chdir(previewed)
    result = lint_paths([name], DEFAULT_CONFIG)
    apply_fixes(result, DEFAULT_CONFIG, [name], write=False, diff=True)
    diff = capsys.readouterr().out
    assert diff.startswith(f"--- a/{name}\n+++ b/{name}\n")
    assert (previewed / name).read_bytes() == original  # --diff writes nothing
    subprocess.run(["git", "apply", "-"], input=diff.encode(), cwd=previewed, check=True)

    monkeypatch.chdir(fixed)
    apply_fixes(lint_paths([name], DEFAULT_CONFIG), DEFAULT_CONFIG, [name], write=True, diff=False)

    assert (fixed / name).read_bytes() != original
    assert (previewed / name).read_bytes() == (fixed / name).read_bytes()


def test_two_rounds_are_previewed_and_written(tmp_path, capsys):
    target = tmp_path / "pod.yaml"
    target.write_text(TWO_ROUNDS)
    result = lint_paths([str(target)], DEFAULT_CONFIG)
    apply_fixes(result, DEFAULT_CONFIG, [str(target)], write=True, diff=True)
    diff = capsys.readouterr().out
    assert '+    command: ["java", "-Xmx1536m", "-jar", "app.jar"]  # keep this comment' in diff
    assert "+        memory: 2048Mi" in diff
    assert target.read_text() == TWO_ROUNDS.replace("-Xmx2g", "-Xmx1536m").replace(
        "2048m", "2048Mi"
    )
    again = lint_paths([str(target)], DEFAULT_CONFIG)
    assert not [f for f in again.findings if f.fixable]


def test_mutate_patch_is_the_same_operations_as_lint_fix(tmp_path):
    rules = ["jvm-heap-exceeds-limit", "node-heap-exceeds-limit", "go-memlimit-exceeds-limit"]
    config = config_from_data({"mutate": rules, "fix": {"enable": rules}})
    import jsonpatch

    for name in ("list.yaml", "jvm.yaml", "node.yaml"):
        target = tmp_path / name
        target.write_text(CASES[name])
        [document] = load_like_linter(CASES[name], name)
        objects = document.data["items"] if document.data.get("kind") == "List" else [document.data]
        apply_fixes(
            lint_paths([str(target)], config), config, [str(target)], write=True, diff=False
        )
        [written] = load_like_linter(target.read_text(), name)
        written_objects = (
            written.data["items"] if written.data.get("kind") == "List" else [written.data]
        )
        assert written_objects != objects, name
        for obj, expected in zip(objects, written_objects, strict=True):
            decision = mutate(Request("CREATE", obj), config)
            assert decision.patch, name
            # the webhook adds one operation: the oomguard.io/mutated annotation (issue 15)
            *fixes, mark = decision.patch
            assert jsonpatch.apply_patch(obj, fixes) == expected, name
            assert mark["path"].startswith("/metadata/annotations"), name


def test_a_later_round_the_text_refuses_leaves_the_earlier_rounds(tmp_path, monkeypatch, capsys):
    from oomguard.linter import fix
    from oomguard.linter.fix_splice import FixError

    real = fix.patch_text

    def refuses_the_second_round(text, patches, path="manifest.yaml"):
        # a stand-in for a corner of YAML the splicer cannot place: the -Xmx edit of round 2
        if any(
            op["path"].startswith("/spec/containers/0/command")
            for ops in patches.values()
            for op in ops
        ):
            raise FixError("cannot apply replace at /spec/containers/0/command/1")
        return real(text, patches, path)

    monkeypatch.setattr(fix, "patch_text", refuses_the_second_round)
    target = tmp_path / "pod.yaml"
    target.write_text(TWO_ROUNDS)
    result = lint_paths([str(target)], DEFAULT_CONFIG)
    after = apply_fixes(result, DEFAULT_CONFIG, [str(target)], write=True, diff=True)
    diff = capsys.readouterr().out
    assert target.read_text() == TWO_ROUNDS.replace("2048m", "2048Mi")
    assert "+        memory: 2048Mi" in diff and "-Xmx1536m" not in diff
    assert (
        f"{target}: not fully fixed: cannot apply replace at /spec/containers/0/command/1"
        in after.notices
    )
    assert "fixed 2 findings in 1 file" in after.notices  # the two millibyte quantities
    assert [f.rule for f in after.findings if f.rule == "jvm-heap-exceeds-limit"] == [
        "jvm-heap-exceeds-limit"
    ]


# --- every round with the LimitRanges and VPAs of the first (issue 17) ------------------------
# A LimitRange that defaults the memory makes the Pod Burstable (LimitRanger admission,
# plugin/pkg/admission/limitranger/admission.go mergeContainerResources): best-effort-pod does
# not fire, so its fix must not add the configured defaults in any round.

LIMIT_RANGE = """\
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: shop}
spec:
  limits:
  - {type: Container, default: {memory: 1Gi}, defaultRequest: {memory: 512Mi}}
"""

UNDER_DEFAULTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: orders
        image: eclipse-temurin:8
        command: [java, -XX:-UseContainerSupport, -jar, app.jar]
"""

ROUNDS_RULES = ["jvm-container-support-disabled", "best-effort-pod"]
ROUNDS_CONFIG = config_from_data(
    {
        "defaults": {"memory_request": "256Mi", "memory_limit": "256Mi"},
        "fix": {"enable": ROUNDS_RULES},
        "mutate": ROUNDS_RULES,
    }
)


def test_lint_fix_under_a_limit_range_default_is_one_rounds_result_and_idempotent(tmp_path):
    (tmp_path / "limits.yaml").write_text(LIMIT_RANGE)
    target = tmp_path / "app.yaml"
    target.write_text(UNDER_DEFAULTS)
    paths = [str(tmp_path / "limits.yaml"), str(target)]
    first = lint_paths(paths, ROUNDS_CONFIG)
    enabled = [f.rule for f in first.findings if f.fixable and f.rule in ROUNDS_RULES]
    assert enabled == ["jvm-container-support-disabled"]
    after = apply_fixes(first, ROUNDS_CONFIG, paths, write=True, diff=False)
    # the one fix the lint reported, and no resources: the LimitRange gives them
    assert target.read_text() == UNDER_DEFAULTS.replace("-XX:-UseContainerSupport, ", "")
    assert "fixed 1 finding in 1 file" in after.notices
    assert not [f for f in after.findings if f.fixable and f.rule in ROUNDS_RULES]
    again = apply_fixes(
        lint_paths(paths, ROUNDS_CONFIG), ROUNDS_CONFIG, paths, write=True, diff=False
    )
    assert target.read_text() == UNDER_DEFAULTS.replace("-XX:-UseContainerSupport, ", "")
    assert not any(n.startswith("fixed ") for n in again.notices), again.notices


def test_mutate_rounds_keep_the_namespaces_limit_ranges():
    import yaml
    from oomguard.rules.limit_ranges import parse_limit_range

    ranges = (parse_limit_range(yaml.safe_load(LIMIT_RANGE)),)
    obj = yaml.safe_load(UNDER_DEFAULTS)
    request = Request("CREATE", obj, limit_ranges=lambda namespace: ranges)
    decision = mutate(request, ROUNDS_CONFIG)
    *fixes, mark = decision.patch
    assert fixes == [{"op": "remove", "path": "/spec/template/spec/containers/0/command/1"}]
    assert mark["path"].startswith("/metadata/annotations")
