"""A ConfigMap or Secret linted alone (what pre-commit passes when a commit changes only it)
also checks the workloads of the git repository that read it (linter/related.py). Real git
repositories in tmp_path, real files, the real command."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

GIT = ("git", "-c", "user.name=oomguard-tests", "-c", "user.email=tests@oomguard.invalid")

# The JVM reads JAVA_OPTS through the image's entrypoint (README: conventional JVM variables
# count when the container sets no command).
READER = textwrap.dedent(
    """\
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
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: unrelated, namespace: pay}
    spec:
      template:
        spec:
          containers:
            - name: app
              image: eclipse-temurin:21-jre
              command: [java, -Xmx2g, -jar, app.jar]
              resources:
                requests: {memory: 1Gi}
                limits: {memory: 1Gi}
    """
)
CONFIGMAP = textwrap.dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: jvm-opts, namespace: pay}
    data:
      JAVA_OPTS: -Xmx4g
    """
)
HEAP_ERROR = (
    "k8s/deploy.yaml:8:11: error jvm-heap-exceeds-limit: -Xmx4g (env JAVA_OPTS from ConfigMap "
    '"jvm-opts", passed to java by the image\'s entrypoint) is 400% of the 1Gi memory limit'
)


def git(*args: str, cwd: Path) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository whose Deployment (committed) reads a ConfigMap in another file."""
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "deploy.yaml").write_text(READER)
    (tmp_path / "k8s" / "cm.yaml").write_text(CONFIGMAP.replace("-Xmx4g", "-Xmx512m"))
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("name: ci\non: [push]\n")
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-q", "-m", "base", cwd=tmp_path)
    (tmp_path / "k8s" / "cm.yaml").write_text(CONFIGMAP)  # the change being committed
    return tmp_path


def test_configmap_alone_checks_the_workload_that_reads_it(repo, run_oomguard):
    result = run_oomguard("lint", "k8s/cm.yaml", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    first, summary = result.stdout.splitlines()
    assert first.startswith(HEAP_ERROR) and first.endswith("[Deployment/ledger app]")
    # the other Deployment of that file (its own -Xmx2g error) is not this change's business
    assert "unrelated" not in result.stdout
    assert summary == "2 files, 1 workload: 1 error, 0 warnings"
    assert result.stderr == (
        'oomguard: notice: also checked k8s/deploy.yaml: workloads there read ConfigMap "jvm-opts"'
        " (--no-related turns this off)\n"
    )


def test_no_related_checks_only_the_files_given(repo, run_oomguard):
    result = run_oomguard("lint", "--no-related", "k8s/cm.yaml", cwd=repo)
    assert result.returncode == 0
    assert result.stdout == "1 file, 0 workloads: 0 errors, 0 warnings\n"


def test_a_harmless_configmap_change_passes(repo, run_oomguard):
    (repo / "k8s" / "cm.yaml").write_text(CONFIGMAP.replace("-Xmx4g", "-Xmx512m"))
    result = run_oomguard("lint", "k8s/cm.yaml", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert result.stdout == "2 files, 1 workload: 0 errors, 0 warnings\n"


def test_staged_new_workload_is_found_and_untracked_is_not(repo, run_oomguard):
    (repo / "k8s" / "deploy.yaml").unlink()
    git("rm", "-q", "--cached", "k8s/deploy.yaml", cwd=repo)
    (repo / "k8s" / "untracked.yaml").write_text(READER)
    untracked = run_oomguard("lint", "k8s/cm.yaml", cwd=repo)
    assert untracked.returncode == 0 and "untracked.yaml" not in untracked.stdout
    git("add", "k8s/untracked.yaml", cwd=repo)  # staged, as in a commit that adds it
    staged = run_oomguard("lint", "k8s/cm.yaml", cwd=repo)
    assert staged.returncode == 1
    assert staged.stdout.startswith("k8s/untracked.yaml:8:11: error jvm-heap-exceeds-limit")


def test_secret_key_ref_from_a_subdirectory(repo, run_oomguard):
    secret = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Secret
        metadata: {name: go-env, namespace: pay}
        stringData: {GOMEMLIMIT: 2GiB}
        """
    )
    reader = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Pod
        metadata: {name: api, namespace: pay}
        spec:
          containers:
            - name: api
              image: golang-app:1
              env:
                - name: GOMEMLIMIT
                  valueFrom: {secretKeyRef: {name: go-env, key: GOMEMLIMIT}}
              resources:
                requests: {memory: 1Gi}
                limits: {memory: 1Gi}
        """
    )
    (repo / "apps").mkdir()
    (repo / "apps" / "pod.yaml").write_text(reader)
    git("add", "apps/pod.yaml", cwd=repo)
    (repo / "k8s" / "secret.yaml").write_text(secret)
    result = run_oomguard("lint", "secret.yaml", cwd=repo / "k8s")
    assert result.returncode == 1, result.stdout + result.stderr
    # outside the working directory, the path is absolute (as a walked folder's would be)
    assert result.stdout.startswith(f"{repo}/apps/pod.yaml:9:11: "), result.stdout
    assert "error go-memlimit-exceeds-limit" in result.stdout


def test_outside_git_nothing_is_searched(tmp_path, run_oomguard):
    (tmp_path / "deploy.yaml").write_text(READER)
    (tmp_path / "cm.yaml").write_text(CONFIGMAP)
    result = run_oomguard("lint", "cm.yaml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == "1 file, 0 workloads: 0 errors, 0 warnings\n"


def test_a_folder_given_is_not_a_reason_to_search(repo, run_oomguard):
    (repo / "other").mkdir()
    (repo / "other" / "cm.yaml").write_text(CONFIGMAP)
    result = run_oomguard("lint", "other", cwd=repo)
    assert result.returncode == 0 and "deploy.yaml" not in result.stdout


def test_given_workload_files_are_not_linted_twice(repo, run_oomguard):
    result = run_oomguard("lint", "k8s/cm.yaml", "k8s/deploy.yaml", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.count("Deployment/ledger app") == 1
    assert "Deployment/unrelated" in result.stdout  # a named file is reported in full
    assert "also checked" not in result.stderr


def test_a_repository_git_cannot_search_is_said_not_passed(repo, run_oomguard):
    # a corrupt index: rev-parse still finds the repository, git grep fails
    (repo / ".git" / "index").write_bytes(b"not an index")
    result = run_oomguard("lint", "k8s/cm.yaml", cwd=repo)
    assert result.returncode == 0
    said = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(
            'oomguard: notice: the workloads that read ConfigMap "jvm-opts" were not checked: '
            "git grep in . failed ("
        )
    ]
    assert len(said) == 1, result.stderr


# --- a named LimitRange or VerticalPodAutoscaler (issue 17) ----------------------------------

GOVERNED = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: orders, namespace: shop}
    spec:
      template:
        spec:
          containers:
            - name: orders
              image: eclipse-temurin:21-jre
              command: [java, -Xmx1g, -jar, app.jar]
              resources:
                requests: {memory: 256Mi}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: elsewhere, namespace: other}
    spec:
      template:
        spec:
          containers:
            - name: app
              image: eclipse-temurin:21-jre
              command: [java, -Xmx1g, -jar, app.jar]
              resources:
                requests: {memory: 256Mi}
    """
)


def limit_range(default: str, namespace: str | None = "shop") -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: LimitRange\nmetadata: {{name: defaults{where}}}\n"
        f"spec: {{limits: [{{type: Container, default: {{memory: {default}}}}}]}}\n"
    )


def committed(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    git("commit", "-q", "-m", "base", cwd=tmp_path)


def test_a_lowered_limit_range_default_checks_the_namespaces_workloads(tmp_path, run_oomguard):
    committed(tmp_path, {"apps/deploy.yaml": GOVERNED, "ns/limits.yaml": limit_range("4Gi")})
    harmless = run_oomguard("lint", "ns/limits.yaml", cwd=tmp_path)
    assert harmless.returncode == 0, harmless.stdout + harmless.stderr
    assert harmless.stdout == "2 files, 1 workload: 0 errors, 0 warnings\n"
    (tmp_path / "ns" / "limits.yaml").write_text(limit_range("512Mi"))  # the change
    result = run_oomguard("lint", "ns/limits.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if " error " in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        "apps/deploy.yaml:10:27: error jvm-heap-exceeds-limit: -Xmx1g (command) is 200% of the "
        '512Mi memory limit container "orders" gets from the default of LimitRange "defaults" '
        "in namespace shop"
    )
    assert "elsewhere" not in result.stdout  # namespace other: not this LimitRange's
    assert result.stderr == (
        "oomguard: notice: also checked apps/deploy.yaml: workloads there depend on "
        'LimitRange "defaults" (--no-related turns this off)\n'
    )
    assert run_oomguard("lint", "--no-related", "ns/limits.yaml", cwd=tmp_path).returncode == 0


def test_a_limit_range_without_namespace_checks_the_workloads_beside_it(tmp_path, run_oomguard):
    plain = GOVERNED.replace(", namespace: shop", "").replace(", namespace: other", "")
    committed(
        tmp_path,
        {
            "base/app/deploy.yaml": plain,
            "base/limits.yaml": limit_range("4Gi", None),
            "other/deploy.yaml": plain,
        },
    )
    (tmp_path / "base" / "limits.yaml").write_text(limit_range("512Mi", None))
    result = run_oomguard("lint", "base/limits.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    heap = [line for line in result.stdout.splitlines() if "jvm-heap-exceeds-limit" in line]
    # both Deployments beside it (no namespace on either side); other/ is not beside it
    assert [line.split(":")[0] for line in heap] == ["base/app/deploy.yaml"] * 2
    assert "other/deploy.yaml" not in result.stdout + result.stderr


def test_a_named_vpa_checks_its_target_workload(tmp_path, run_oomguard):
    sized = GOVERNED.replace(
        "requests: {memory: 256Mi}",
        "requests: {memory: 2Gi}\n            limits: {memory: 2Gi}",
    )
    vpa = (
        "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\n"
        "metadata: {name: orders-vpa, namespace: shop}\n"
        "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}\n"
        "  updatePolicy: {updateMode: 'Off'}\n"
        "  resourcePolicy:\n"
        "    containerPolicies: [{containerName: '*', maxAllowed: {memory: 512Mi}}]\n"
    )
    committed(tmp_path, {"apps/deploy.yaml": sized, "apps/vpa.yaml": vpa})
    (tmp_path / "apps" / "vpa.yaml").write_text(vpa.replace("'Off'", "Recreate"))
    result = run_oomguard("lint", "apps/vpa.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    (error,) = [line for line in result.stdout.splitlines() if " error " in line]
    assert error.startswith(
        "apps/deploy.yaml:10:27: error vpa-heap-exceeds-limit: -Xmx1g (command) is 1Gi, at or "
        'above the 512Mi memory limit VerticalPodAutoscaler "orders-vpa" (updateMode Recreate)'
    )
    assert "Deployment/orders" in error and "elsewhere" not in result.stdout
    assert 'workloads there depend on VerticalPodAutoscaler "orders-vpa"' in result.stderr
