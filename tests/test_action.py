"""The GitHub Action (action.yml): its shell steps run for real, as the runner runs them.

scripts/action-run.sh is what each `run:` step of action.yml calls; the test gives it the
environment the runner gives (INPUT_* from `with:`, GITHUB_ACTION_PATH, GITHUB_OUTPUT,
RUNNER_TEMP), installs the real oomguard from a snapshot of this working tree (what
`uses: …@ref` checks out) and lints a fixture repository of real manifests.
STUBBED, the one step that cannot run here: github/codeql-action/upload-sarif (it talks to
GitHub's API). The test checks what it would receive: its `if:` condition and `sarif_file`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, REPO
from release_build import SOURCES

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
SCRIPT = REPO / "scripts" / "action-run.sh"
# what `uses: <repo>@<ref>` checks out and the install step pip-installs
ACTION_PARTS = (*SOURCES, "action.yml", "scripts")
# deps of the install come from the pinned set, so an upstream release cannot turn this red
PINNED = str(REPO / "constraints" / "test.txt")


def step(name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s["name"] == name)


@pytest.fixture(scope="module")
def action_env(tmp_path_factory) -> dict[str, str]:
    """The Action checked out at its ref and its install step run once (module scope)."""
    root = tmp_path_factory.mktemp("action")
    checkout = root / "action-checkout"
    checkout.mkdir()
    for part in ACTION_PARTS:
        if (REPO / part).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(REPO / part, checkout / part, ignore=ignore)
        else:
            shutil.copy2(REPO / part, checkout / part)
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "VIRTUAL_ENV" and not key.startswith(("INPUT_", "GITHUB_"))
    }
    env.update(
        GITHUB_ACTION_PATH=str(checkout),
        RUNNER_TEMP=str(root / "runner-temp"),
        PIP_CONSTRAINT=PINNED,
        NO_COLOR="1",
    )
    (root / "runner-temp").mkdir()
    install = step("Install oomguard")
    assert install["run"] == 'bash "$GITHUB_ACTION_PATH/scripts/action-run.sh" install'
    proc = subprocess.run(
        ["bash", str(checkout / "scripts" / "action-run.sh"), "install"],
        env={**env, "INPUT_PYTHON": sys.executable, "INPUT_VERSION": "", "INPUT_EXTRAS": ""},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from oomguard import __version__

    assert proc.stdout.strip().endswith(f"oomguard {__version__}")
    # the venv runs the installed copy, not this checkout
    venv_python = root / "runner-temp" / "oomguard-action-venv" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import oomguard.rules; print(oomguard.rules.__file__)"],
        capture_output=True, text=True, cwd=root,
    ).stdout  # fmt: skip
    assert "site-packages" in where and str(REPO) not in where
    return env


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A user's repository: one bad and one good manifest under k8s/."""
    (tmp_path / "k8s").mkdir()
    shutil.copyfile(EXAMPLES / "bad" / "jvm.yaml", tmp_path / "k8s" / "jvm.yaml")
    shutil.copyfile(EXAMPLES / "good" / "shop.yaml", tmp_path / "k8s" / "shop.yaml")
    return tmp_path


def lint_step(
    env: dict, workspace: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess, dict]:
    """The Lint step with `with:` inputs (defaults from action.yml); returns its outputs."""
    lint = step("Lint")
    values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values.update({k.replace("_", "-"): v for k, v in inputs.items()})
    step_env = {}
    for var, expr in lint["env"].items():
        match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expr)
        assert match, expr
        step_env[var] = values[match[1]]
    outputs_file = workspace.parent / f"{workspace.name}-outputs"
    outputs_file.write_text("")
    proc = subprocess.run(
        ["bash", str(Path(env["GITHUB_ACTION_PATH"]) / "scripts" / "action-run.sh"), "lint"],
        env={**env, **step_env, "GITHUB_OUTPUT": str(outputs_file)},
        cwd=workspace, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the lint step itself never fails
    outputs = dict(line.split("=", 1) for line in outputs_file.read_text().splitlines())
    return proc, outputs


def finish(env: dict, outputs: dict) -> int:
    proc = subprocess.run(
        ["bash", str(Path(env["GITHUB_ACTION_PATH"]) / "scripts" / "action-run.sh"), "finish"],
        env={**env, "OOMGUARD_EXIT_CODE": outputs["exit-code"]},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.returncode


def upload_runs(outputs: dict) -> bool:
    """The upload step's `if:` evaluated on the lint outputs (the upload itself is stubbed)."""
    condition = step("Upload SARIF to code scanning")["if"]
    assert condition == "steps.lint.outputs.upload == 'true'"
    return outputs.get("upload") == "true"


def test_sarif_written_and_uploaded_and_the_job_fails_on_errors(action_env, workspace):
    proc, outputs = lint_step(action_env, workspace, paths="k8s")
    assert outputs["exit-code"] == "1"
    assert outputs["sarif-file"] == "oomguard.sarif"
    assert upload_runs(outputs)
    assert "oomguard: 3 result(s) in oomguard.sarif" in proc.stdout
    log = json.loads((workspace / "oomguard.sarif").read_text())
    assert log["version"] == "2.1.0"
    results = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in log["runs"][0]["results"]
    }  # fmt: skip
    # examples/bad/jvm.yaml: -Xmx2g against a 2Gi limit (line 19), -UseContainerSupport (26);
    # the warning of line 48 is shown too (min-severity warning), the info is not
    assert ("jvm-heap-exceeds-limit", "k8s/jvm.yaml", 19) in results
    assert ("jvm-container-support-disabled", "k8s/jvm.yaml", 26) in results
    assert ("jvm-heap-headroom-low", "k8s/jvm.yaml", 48) in results
    assert not any(uri == "k8s/shop.yaml" for _, uri, _ in results)
    # the stubbed upload step gets `sarif_file: ${{ steps.lint.outputs.sarif-file }}`
    upload = step("Upload SARIF to code scanning")["with"]
    assert upload["sarif_file"] == "${{ steps.lint.outputs.sarif-file }}"
    assert finish(action_env, outputs) == 1


def test_fail_on_and_config(action_env, workspace):
    """With both error rules disabled by the config only a warning is left: fail-on decides."""
    (workspace / "ci.oomguard.yaml").write_text(
        "rules:\n  jvm-heap-exceeds-limit: {enabled: false}\n"
        "  jvm-container-support-disabled: {enabled: false}\n"
    )
    _, outputs = lint_step(action_env, workspace, paths="k8s", config="ci.oomguard.yaml")
    assert outputs["exit-code"] == "0" and finish(action_env, outputs) == 0
    log = json.loads((workspace / "oomguard.sarif").read_text())
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["jvm-heap-headroom-low"]
    _, outputs = lint_step(
        action_env, workspace, paths="k8s", config="ci.oomguard.yaml", fail_on="warning"
    )
    assert outputs["exit-code"] == "1" and finish(action_env, outputs) == 1


def test_github_format_prints_annotations_and_uploads_nothing(action_env, workspace):
    proc, outputs = lint_step(
        action_env, workspace, paths="k8s/jvm.yaml\nk8s/shop.yaml", format="github"
    )
    assert outputs["exit-code"] == "1"
    assert not upload_runs(outputs) and outputs["sarif-file"] == ""
    assert not (workspace / "oomguard.sarif").exists()
    assert proc.stdout.startswith(
        "::error file=k8s/jvm.yaml,line=19,col=22,title=oomguard jvm-heap-exceeds-limit::-Xmx2g"
    )
    assert "::warning file=k8s/jvm.yaml,line=48,col=22,title=oomguard jvm-heap-headroom-low::" in (
        proc.stdout
    )
    assert "::notice" not in proc.stdout  # the info finding stays below min-severity


def test_min_severity_info_and_extra_args(action_env, workspace):
    proc, outputs = lint_step(
        action_env, workspace, paths="k8s", format="github", min_severity="info",
        args="--disable jvm-heap-exceeds-limit",
    )  # fmt: skip
    assert "::notice file=k8s/jvm.yaml" in proc.stdout
    assert "jvm-heap-exceeds-limit" not in proc.stdout
    assert outputs["exit-code"] == "1"  # jvm-container-support-disabled is still an error


def test_upload_sarif_false_writes_but_does_not_upload(action_env, workspace):
    _, outputs = lint_step(
        action_env, workspace, paths="k8s", upload_sarif="false", sarif_file="out/o.sarif"
    )
    assert outputs["sarif-file"] == "out/o.sarif"  # its folder is created
    assert outputs["exit-code"] == "1" and not upload_runs(outputs)
    assert json.loads((workspace / "out" / "o.sarif").read_text())["runs"][0]["results"]


def test_usage_error_uploads_nothing_and_fails_with_2(action_env, workspace):
    proc, outputs = lint_step(action_env, workspace, paths="k8s", fail_on="fatal")
    assert outputs["exit-code"] == "2" and finish(action_env, outputs) == 2
    assert not upload_runs(outputs)
    assert "no SARIF log to upload" in proc.stderr
    assert "oomguard: argument --fail-on: invalid choice" in proc.stderr


def test_bad_upload_sarif_value_is_an_error_annotation(action_env, workspace):
    outputs_file = workspace / "outputs"
    outputs_file.write_text("")
    proc = subprocess.run(
        ["bash", str(SCRIPT), "lint"],
        env={**action_env, "INPUT_UPLOAD_SARIF": "yes", "GITHUB_OUTPUT": str(outputs_file)},
        cwd=workspace, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "::error title=oomguard action::upload-sarif must be true or false, not 'yes'" in (
        proc.stdout
    )


def test_install_refuses_an_old_python(action_env, tmp_path):
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 'Python 3.9.0'; exit 1\n")  # STUB: an interpreter < 3.11
    old.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(SCRIPT), "install"],
        env={**action_env, "INPUT_PYTHON": str(old), "RUNNER_TEMP": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "oomguard needs Python >= 3.11" in proc.stdout
    assert not (tmp_path / "oomguard-action-venv").exists()


# --- action.yml itself ---------------------------------------------------------------------


def test_every_input_is_used_and_documented():
    text = (REPO / "action.yml").read_text()
    readme_section = README_ACTION_SECTION()
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description", "").strip(), f"input {name} has no description"
        assert "default" in spec and spec.get("required") is False, name
        assert f"${{{{ inputs.{name} }}}}" in text, f"input {name} is never used"
        assert f"`{name}`" in readme_section, f"input {name} is not in the README's Action table"
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == set(ACTION["inputs"]), used ^ set(ACTION["inputs"])


def test_every_input_variable_the_script_reads_is_mapped_by_action_yml():
    mapped = {var for s in ACTION["runs"]["steps"] for var in s.get("env", {})}
    read = set(re.findall(r"\$\{?(INPUT_[A-Z_]+|OOMGUARD_EXIT_CODE)", SCRIPT.read_text()))
    assert read == mapped, read ^ mapped


def test_run_steps_call_the_script_and_the_upload_is_pinned_by_sha():
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash"
            assert re.fullmatch(
                r'bash "\$GITHUB_ACTION_PATH/scripts/action-run\.sh" (install|lint|finish)',
                s["run"],
            ), s["run"]  # no inline shell: everything testable is in the script
    uses = [s["uses"] for s in steps if "uses" in s]
    assert len(uses) == 1
    # a full commit SHA (a tag can be moved), with the version it is in a comment
    line = next(ln for ln in (REPO / "action.yml").read_text().splitlines() if "uses:" in ln)
    assert re.search(
        r"uses: github/codeql-action/upload-sarif@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line
    )
    outputs = ACTION["outputs"]
    assert outputs["exit-code"]["value"] == "${{ steps.lint.outputs.exit-code }}"


def README_ACTION_SECTION() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    return readme.split("## GitHub Action", 1)[1].split("\n## ", 1)[0]


def test_readme_snippet_uses_real_inputs_and_the_permission_upload_needs():
    section = README_ACTION_SECTION()
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    workflow = yaml.safe_load(snippet)
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["oomguard"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    action_step = next(s for s in steps if "oomguard" in s.get("uses", ""))
    repo, _, ref = action_step["uses"].partition("@")
    assert ref == "v" + __import__("oomguard").__version__  # the tag of this version
    assert set(action_step["with"]) <= set(ACTION["inputs"])


def test_every_upload_sarif_snippet_uses_the_actions_pin():
    """The hand-written workflows in the README and docs/ci.md upload with the same pinned
    commit as action.yml (codeql-action v3 is deprecated in December 2026)."""
    pinned = set(re.findall(r"upload-sarif@(\S+ # \S+)", (REPO / "action.yml").read_text()))
    assert len(pinned) == 1
    for doc in (REPO / "README.md", REPO / "docs" / "ci.md"):
        found = set(re.findall(r"upload-sarif@(\S+ # \S+|\S+)", doc.read_text()))
        assert found == pinned, (doc.name, found)
