"""The shipped pre-commit hooks, run by the real ``pre-commit`` tool (``pre-commit try-repo``).

``try-repo`` clones the hook repository at a commit; uncommitted files it does not know
about would be missing from that clone. So the test snapshots the package sources as they
are on disk into a fresh git repository and points ``try-repo`` there: it tests the working
tree whether or not it has been committed. pre-commit installs the hook's environment with
pip (from PyPI) once per session; later runs reuse it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, REPO

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
PACKAGE_PARTS = (
    "pyproject.toml",
    "README.md",
    ".pre-commit-hooks.yaml",
    "cli",
    "rules",
    "linter",
    "webhook",
)
GIT = ("git", "-c", "user.name=oomguard-tests", "-c", "user.email=tests@oomguard.invalid")


@pytest.fixture(scope="module", autouse=True)
def _tools_present():
    """Fail, never skip: a CI without the dev extra or git must not pass silently."""
    assert PRE_COMMIT.exists(), f"{PRE_COMMIT} missing: install the dev extra (.[dev])"
    assert shutil.which("git"), "git is needed to run pre-commit try-repo"


def test_hook_definitions():
    hooks = {
        hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    }
    assert set(hooks) == {
        "oomguard",
        "oomguard-fix",
        "oomguard-charts",
        "oomguard-charts-fix",
        "oomguard-docker",  # tested in test_dockerfile
    }
    assert hooks["oomguard"]["entry"] == hooks["oomguard-charts"]["entry"] == "oomguard lint"
    assert hooks["oomguard-fix"]["entry"] == "oomguard lint --fix"
    assert hooks["oomguard-charts-fix"]["entry"] == "oomguard lint --fix"
    # the charts hooks bring Helm in-process (the same requirement as the `helm` extra);
    # the plain ones stay light (helm-python-sdk is ~250 MB)
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["helm"]
    for hook_id in ("oomguard-charts", "oomguard-charts-fix"):
        assert hooks[hook_id]["additional_dependencies"] == extra
    for hook_id in ("oomguard", "oomguard-fix"):
        assert "additional_dependencies" not in hooks[hook_id]
    # one run per hook sees every file (test_many_files_are_one_run_so_no_batch_misses_a_limitrange)
    assert all(hook.get("require_serial") is True for hook in hooks.values()), hooks
    files = re.compile(hooks["oomguard"]["files"])
    python_hooks = ("oomguard", "oomguard-fix", "oomguard-charts", "oomguard-charts-fix")
    for hook in (hooks[hook_id] for hook_id in python_hooks):
        assert hook["language"] == "python"
        assert "types_or" not in hook and hook["files"] == hooks["oomguard"]["files"]
    # YAML and JSON as before, plus Helm's .tpl and kustomize's extension-less Kustomization
    for path in ("a.yaml", "b/c.yml", "d.json", "chart/templates/_helpers.tpl", "k/Kustomization"):
        assert files.search(path), path
    for path in ("notes.txt", "a.yaml.orig", "chart.tgz", "MyKustomization"):
        assert not files.search(path), path


def git(*args: str, cwd: Path) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    snapshot = tmp_path_factory.mktemp("hook-repo")
    for part in PACKAGE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(
                source,
                snapshot / part,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
            )
        else:
            shutil.copyfile(source, snapshot / part)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's repository with one bad and one good manifest, staged."""
    shutil.copyfile(EXAMPLES / "bad" / "node.yaml", tmp_path / "bad.yaml")
    shutil.copyfile(EXAMPLES / "good" / "shop.yaml", tmp_path / "good.yaml")
    (tmp_path / "notes.txt").write_text("not a manifest\n")
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    return tmp_path


# pre-commit pip-installs the hook's environment itself: the same pinned versions as the test
# environment, so a new upstream release cannot turn this test red overnight
PINNED = {
    "PIP_CONSTRAINT": str(Path(__file__).resolve().parent.parent / "constraints" / "test.txt")
}


def try_repo(hook_repo: Path, home: Path, cwd: Path, hook: str, *files: str):
    env = {
        **os.environ,
        **PINNED,
        "PRE_COMMIT_HOME": str(home),
        "NO_COLOR": "1",
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(hook_repo), hook, "--files", *files],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_fails_on_a_bad_manifest(hook_repo, pre_commit_home, project):
    proc = try_repo(hook_repo, pre_commit_home, project, "oomguard", "bad.yaml", "notes.txt")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "oomguard" in proc.stdout and "Failed" in proc.stdout
    assert "bad.yaml:17:29: error node-heap-exceeds-limit" in proc.stdout
    assert (project / "bad.yaml").read_bytes() == (EXAMPLES / "bad" / "node.yaml").read_bytes()


def test_hook_passes_on_a_good_manifest(hook_repo, pre_commit_home, project):
    proc = try_repo(hook_repo, pre_commit_home, project, "oomguard", "good.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_fix_hook_rewrites_the_file(hook_repo, pre_commit_home, project):
    proc = try_repo(hook_repo, pre_commit_home, project, "oomguard-fix", "bad.yaml", "good.yaml")
    # pre-commit fails a hook that modified files, so the fix can be reviewed and staged
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "files were modified by this hook" in proc.stdout
    fixed = (project / "bad.yaml").read_text()
    assert '"--max-old-space-size=768"' in fixed
    assert "value: --max-old-space-size=1536" in fixed
    assert (project / "good.yaml").read_bytes() == (EXAMPLES / "good" / "shop.yaml").read_bytes()

    git("add", "-A", cwd=project)
    again = try_repo(hook_repo, pre_commit_home, project, "oomguard", "bad.yaml", "good.yaml")
    assert again.returncode == 0, again.stdout + again.stderr


def _readme_precommit_config(hook_repo: Path) -> str:
    """The README's .pre-commit-config.yaml, its two placeholders filled in as it says."""
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## In pre-commit", 1)[1]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "repo: /path/to/oomguard" in snippet and "rev: 0000000000" in snippet
    commit = subprocess.run(
        ["git", "-C", str(hook_repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return snippet.replace("/path/to/oomguard", str(hook_repo)).replace("0" * 40, commit)


def pre_commit_run(home: Path, cwd: Path, *files: str):
    env = {**os.environ, **PINNED, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--color", "never", "--files", *files],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_readme_snippet_works_when_copied(hook_repo, pre_commit_home, project):
    (project / ".pre-commit-config.yaml").write_text(_readme_precommit_config(hook_repo))
    git("add", ".pre-commit-config.yaml", cwd=project)
    bad = pre_commit_run(pre_commit_home, project, "bad.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.yaml:17:29: error node-heap-exceeds-limit" in bad.stdout
    good = pre_commit_run(pre_commit_home, project, "good.yaml", "notes.txt")
    assert good.returncode == 0, good.stdout + good.stderr


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: jvm-opts, namespace: pay}
data:
  JAVA_OPTS: HEAP
"""
READER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: pay}
spec:
  template:
    spec:
      containers:
        - name: app
          image: eclipse-temurin:21-jre
          envFrom:
            - configMapRef: {name: jvm-opts}
          resources:
            requests: {memory: 1Gi}
            limits: {memory: 1Gi}
"""


def test_committing_a_configmap_alone_checks_the_deployment_that_reads_it(
    hook_repo, pre_commit_home, tmp_path
):
    """issue 11 §4: the hook is given only cm.yaml; the Deployment is in another file."""
    (tmp_path / "deploy.yaml").write_text(READER)
    (tmp_path / "cm.yaml").write_text(CONFIGMAP.replace("HEAP", "-Xmx512m"))
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-q", "-m", "base", cwd=tmp_path)
    (tmp_path / "cm.yaml").write_text(CONFIGMAP.replace("HEAP", "-Xmx4g"))
    git("add", "cm.yaml", cwd=tmp_path)
    proc = try_repo(hook_repo, pre_commit_home, tmp_path, "oomguard", "cm.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deploy.yaml:8:11: error jvm-heap-exceeds-limit: -Xmx4g (env JAVA_OPTS" in proc.stdout
    assert "also checked deploy.yaml" in proc.stdout  # pre-commit shows the hook's stderr


def test_committing_one_template_renders_its_chart(hook_repo, pre_commit_home, tmp_path):
    """issue 14 §4: the hook is given only the changed template; the chart is rendered (Helm
    in-process: the `oomguard-charts` hook installs helm-python-sdk itself, no
    additional_dependencies to write) and the heap set in values.yaml is reported. The plain
    `oomguard` hook has no Helm (no helm CLI on these machines): it fails, saying which hook
    to use, never passes."""
    shutil.copytree(REPO / "tests" / "data" / "render" / "charts" / "app", tmp_path / "app")
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-q", "-m", "chart", cwd=tmp_path)
    template = tmp_path / "app" / "templates" / "deployment.yaml"
    template.write_text(
        template.read_text().replace("replicas:", "revisionHistoryLimit: 3\n  replicas:")
    )
    commit = subprocess.run(
        ["git", "-C", str(hook_repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {commit}\n    hooks:\n"
        "      - id: oomguard-charts\n"
    )
    git("add", "-A", cwd=tmp_path)
    proc = pre_commit_run(pre_commit_home, tmp_path, "app/templates/deployment.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error jvm-heap-exceeds-limit: -Xmx2g (env JAVA_TOOL_OPTIONS)" in proc.stdout
    assert "app/values.yaml:8:" in proc.stdout
    assert "1 chart rendered with helm-python-sdk 0.2.2" in proc.stdout
    # a .tpl file reaches the hook too (files: in .pre-commit-hooks.yaml)
    helpers = pre_commit_run(pre_commit_home, tmp_path, "app/templates/_helpers.tpl")
    assert helpers.returncode == 1, helpers.stdout + helpers.stderr
    assert "1 chart rendered with helm-python-sdk 0.2.2" in helpers.stdout
    # the plain hook on the same commit: no Helm in its environment, so exit 2, one line
    assert not shutil.which("helm"), "this test expects no helm CLI on PATH"
    plain = try_repo(hook_repo, pre_commit_home, tmp_path, "oomguard", "app/values.yaml")
    assert plain.returncode == 1, plain.stdout + plain.stderr  # pre-commit: the hook failed
    assert "rendering a Helm chart needs Helm: use the pre-commit hook id oomguard-charts" in (
        plain.stdout
    )
    assert "jvm-heap-exceeds-limit" not in plain.stdout


LIMIT_RANGE = """\
apiVersion: v1
kind: LimitRange
metadata: {name: mem, namespace: pay}
spec:
  limits:
    - type: Container
      max: {memory: 1Gi}
"""
OVER_THE_RANGE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, namespace: pay}
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
          resources:
            requests: {memory: 2Gi}
            limits: {memory: 2Gi}
"""


def test_many_files_are_one_run_so_no_batch_misses_a_limitrange(
    hook_repo, pre_commit_home, tmp_path
):
    """The hooks set `require_serial: true`: pre-commit would otherwise split 8 files over one
    batch per CPU (pre_commit/xargs.py partition: max(4, ceil(8 / cpus)) files each), and the
    Deployments in a batch without the LimitRange would pass. oomguard spreads a large list
    over its own workers (--jobs) with the whole list in view."""
    (tmp_path / "lr.yaml").write_text(LIMIT_RANGE)
    files = ["lr.yaml"]
    for index in range(1, 8):
        (tmp_path / f"d{index}.yaml").write_text(OVER_THE_RANGE.replace("NAME", f"app{index}"))
        files.append(f"d{index}.yaml")
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    proc = try_repo(hook_repo, pre_commit_home, tmp_path, "oomguard", *files)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for index in range(1, 8):
        assert (
            f"d{index}.yaml:12:30: error limitrange-violation: the API server would reject the "
            f'Pod: container "app" breaks LimitRange "mem" in namespace pay: maximum memory usage '
            f"per Container is 1Gi, but limit is 2Gi [Deployment/app{index} app]"
        ) in proc.stdout, proc.stdout
    # one invocation saw every file: one summary, of all eight
    assert proc.stdout.count("8 files, 7 workloads: 7 errors, 0 warnings") == 1, proc.stdout
    assert proc.stdout.count(" workloads: ") == 1, proc.stdout
