"""``oomguard lint`` on Helm charts and kustomize overlays, through the real CLI and the real
engines: Helm in-process (helm-python-sdk, pinned in constraints/test.txt) and ``kubectl
kustomize`` (no mocks; a missing renderer is made missing for real: the SDK hidden from
Python, kubectl removed from PATH).

The charts and overlays live in tests/data/render/ and are written as projects write them:
``charts/app`` (a Spring Boot service, JVM options and resources from values.yaml),
``charts/clean`` (the same chart with a heap that fits), ``charts/required`` (a template using
``required``), ``kustomize/`` (a base with a dev and a prod overlay; only prod raises the
limit, by a strategic-merge patch).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

DATA = REPO / "tests" / "data" / "render"
SDK = "helm-python-sdk 0.2.2"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A copy of tests/data/render in a git repository of its own (the repository whose
    overlays a changed base file renders)."""
    target = tmp_path / "repo"
    shutil.copytree(DATA, target)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def lint(run_oomguard, work: Path, *args: str, env: dict | None = None):
    return run_oomguard("lint", *args, cwd=work, env={"OOMGUARD_HELM": "sdk", **(env or {})})


def lines(stdout: str) -> list[str]:
    return stdout.splitlines()


# --- charts ---------------------------------------------------------------------------


def test_chart_heap_mistake_is_reported_at_its_values_line(run_oomguard, work):
    """values.yaml line 8 (`  javaOpts: "-Xmx2g -XX:+UseG1GC"`) sets the heap that the
    template puts in JAVA_TOOL_OPTIONS; the limit is 1Gi (line 14)."""
    result = lint(run_oomguard, work, "charts/app")
    assert result.returncode == 1, result.stdout + result.stderr
    first = lines(result.stdout)[0]
    assert first.startswith("charts/app/values.yaml:8:")
    assert (
        "error jvm-heap-exceeds-limit: -Xmx2g (env JAVA_TOOL_OPTIONS) is 200% of the 1Gi" in first
    )
    assert "(key jvm.javaOpts; rendered from charts/app/templates/deployment.yaml)" in first
    assert lines(result.stdout)[-1].startswith(f"1 chart rendered with {SDK}")


def test_chart_finding_in_json_names_the_template_and_key(run_oomguard, work):
    result = lint(run_oomguard, work, "charts/app", "--format", "json")
    document = json.loads(result.stdout)
    (finding,) = document["findings"]
    assert finding["rule"] == "jvm-heap-exceeds-limit"
    assert finding["container"] == "orders" and finding["kind"] == "Deployment"
    assert finding["rendered_from"] == "charts/app/templates/deployment.yaml"
    assert finding["file"] == "charts/app/values.yaml" and finding["line"] == 8
    assert finding["values_key"] == "jvm.javaOpts"
    assert document["summary"] == {
        "files": 0,
        "charts": 1,
        "objects": 1,
        "errors": 1,
        "warnings": 0,
        "infos": 0,
    }


def test_a_chart_without_problems_passes_and_says_it_rendered(run_oomguard, work):
    result = lint(run_oomguard, work, "charts/clean")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"1 chart rendered with {SDK}")
    assert result.stdout.rstrip().endswith("1 workload: 0 errors, 0 warnings")


def test_a_template_named_renders_its_chart(run_oomguard, work):
    """pre-commit names the changed file: a template (or _helpers.tpl) renders its chart,
    never linted raw."""
    for changed in ("charts/app/templates/deployment.yaml", "charts/app/templates/_helpers.tpl"):
        result = lint(run_oomguard, work, changed)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "jvm-heap-exceeds-limit" in result.stdout
        assert f"1 chart rendered with {SDK}" in result.stdout
        assert "unrendered" not in result.stderr


def test_set_and_values_apply_to_the_chart(run_oomguard, work):
    """--set wins over -f, which wins over values.yaml (Helm's order)."""
    (work / "big-heap.yaml").write_text('jvm:\n  javaOpts: "-Xmx4g"\n')
    over = lint(run_oomguard, work, "charts/clean", "-f", "big-heap.yaml")
    assert over.returncode == 1, over.stdout + over.stderr
    assert "-Xmx4g (env JAVA_TOOL_OPTIONS) is 400% of the 1Gi" in over.stdout
    back = lint(
        run_oomguard, work, "charts/clean", "-f", "big-heap.yaml", "--set", "jvm.javaOpts=-Xmx600m"
    )
    assert back.returncode == 0, back.stdout + back.stderr


def test_fix_of_a_value_from_set_names_the_flag_and_writes_nothing(run_oomguard, work):
    """`--set jvm.javaOpts=-Xmx4g` sets the heap: no file holds it, so --fix and --diff
    write nothing and say the value comes from --set (not "written in template <--set>")."""
    before = {p: p.read_bytes() for p in (work / "charts" / "clean").rglob("*") if p.is_file()}
    for mode in ("--fix", "--diff"):
        result = lint(run_oomguard, work, mode, "charts/clean", "--set", "jvm.javaOpts=-Xmx4g")
        assert result.returncode == 1, result.stdout + result.stderr
        notices = [line for line in lines(result.stderr) if "not fixed" in line]
        assert len(notices) == 1, result.stderr
        assert "jvm-heap-exceeds-limit" in notices[0]
        assert notices[0].endswith(
            "not fixed: no single values key or patch sets "
            "spec.template.spec.containers.0.env.0.value ('-Xmx4g'): it comes from --set; "
            "change the flag"
        ), notices[0]
        assert "written in template" not in result.stderr
    assert {p: p.read_bytes() for p in before} == before


def test_config_render_entries_apply_by_glob(run_oomguard, work):
    (work / ".oomguard.yaml").write_text(
        "render:\n  - path: charts/clean\n    set: [jvm.javaOpts=-Xmx2g]\n"
        "    release: shop\n    namespace: orders\n"
    )
    result = lint(run_oomguard, work, "charts/clean", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "jvm-heap-exceeds-limit"
    assert finding["name"] == "shop-clean" and finding["namespace"] in (None, "orders")
    # the command line comes last
    flagged = lint(run_oomguard, work, "charts/clean", "--set", "jvm.javaOpts=-Xmx500m")
    assert flagged.returncode == 0, flagged.stdout + flagged.stderr


def test_a_render_failure_is_manifest_invalid_and_hides_nothing(run_oomguard, work):
    """`required` fails the render: Helm's message at the template line, exit 1; the chart
    beside it is still linted."""
    result = lint(run_oomguard, work, "charts/required", "charts/app")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in lines(result.stdout) if "manifest-invalid" in line]
    assert len(failed) == 1
    assert failed[0].startswith("charts/required/templates/deployment.yaml:14:")
    assert "image.tag is required" in failed[0]
    assert "jvm-heap-exceeds-limit" in result.stdout  # charts/app's finding is still there


def test_missing_helm_is_a_usage_error(run_oomguard, work, tmp_path):
    """No helm CLI on PATH and the SDK hidden from Python: exit 2 and one line, never a
    pass (OOMGUARD_HELM=auto; the forced backends: tests/test_render_missing.py)."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "helm_python.py").write_text("raise ImportError('hidden by the test')\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PYTHONPATH": str(hidden), "OOMGUARD_HELM": "auto", "PATH": str(empty)}
    result = lint(run_oomguard, work, "charts/clean", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("oomguard: rendering a Helm chart needs Helm")
    assert "oomguard[helm]" in result.stderr


def test_a_walk_renders_charts_and_leaves_packages_with_a_notice(run_oomguard, work):
    (work / "charts" / "old-release.tgz").write_bytes(b"\x1f\x8b not really")
    result = lint(run_oomguard, work, "charts")
    # charts/required fails to render: a finding, not counted as rendered
    assert f"2 charts rendered with {SDK}" in result.stdout
    assert "charts/old-release.tgz: packaged chart not rendered when walking a folder" in (
        result.stderr
    )
    assert "unrendered" not in result.stderr


def test_a_packaged_chart_named_is_rendered(run_oomguard, work, tmp_path):
    import tarfile

    archive = work / "app-0.1.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(work / "charts" / "app", arcname="app")
    result = lint(run_oomguard, work, "app-0.1.0.tgz")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "jvm-heap-exceeds-limit" in result.stdout
    assert f"1 chart rendered with {SDK}" in result.stdout


# --- overlays ---------------------------------------------------------------------------


def test_overlay_limit_change_is_caught_at_its_patch(run_oomguard, work):
    """prod's patch (overlays/prod/memory.yaml line 12, `memory: 2Gi`) raises the limit to
    4x the request; dev does not change it."""
    prod = lint(run_oomguard, work, "kustomize/overlays/prod", "--fail-on", "warning")
    assert prod.returncode == 1, prod.stdout + prod.stderr
    (finding,) = [line for line in lines(prod.stdout) if "memory-limit-request-ratio" in line]
    assert finding.startswith("kustomize/overlays/prod/memory.yaml:12:")
    assert lines(prod.stdout)[-1].startswith("1 overlay rendered with kubectl kustomize")
    dev = lint(run_oomguard, work, "kustomize/overlays/dev", "--fail-on", "warning")
    assert dev.returncode == 0, dev.stdout + dev.stderr


def test_a_changed_base_file_renders_the_overlays_including_it(run_oomguard, work):
    result = lint(run_oomguard, work, "kustomize/base/deployment.yaml", "--fail-on", "warning")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 overlays rendered with kubectl kustomize" in result.stdout
    assert "memory-limit-request-ratio" in result.stdout


def test_missing_kustomize_is_a_usage_error(run_oomguard, work, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = lint(run_oomguard, work, "kustomize/overlays/dev", env={"PATH": str(empty)})
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "kustomize" in result.stderr


def test_a_base_rendered_alone_and_through_an_overlay_is_reported_once(run_oomguard, work):
    """A walk renders the base and both overlays. dev leaves the base as it is: its finding
    (same rule, file, line, column, container, message) is the base's, reported once; prod
    changes the limit, so its finding says something else and stays."""
    base = work / "kustomize" / "base" / "deployment.yaml"
    base.write_text(base.read_text().replace("-Xmx300m", "-Xmx2g"))
    result = lint(run_oomguard, work, "kustomize", "--format", "json")
    assert json.loads(result.stdout)["summary"]["overlays"] == 3
    heap = [
        f["message"].split(" memory limit")[0]
        for f in json.loads(result.stdout)["findings"]
        if f["rule"] == "jvm-heap-exceeds-limit"
    ]
    assert sorted(heap) == [
        "-Xmx2g (env JAVA_TOOL_OPTIONS) is 100% of the 2Gi",
        "-Xmx2g (env JAVA_TOOL_OPTIONS) is 400% of the 512Mi",
    ]


# --- plain runs and config ----------------------------------------------------------------


def test_exclude_is_relative_to_the_config_folder(run_oomguard, tmp_path):
    """The same .oomguard.yaml excludes the same files from the repository root and from a
    subfolder (before, globs were matched against paths relative to the working directory,
    so `generated/*` excluded nothing when run from inside generated/)."""
    bad = (REPO / "examples" / "bad" / "node.yaml").read_text()
    (tmp_path / ".oomguard.yaml").write_text("exclude: [generated/*]\n")
    for folder in ("generated", "app"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "node.yaml").write_text(bad)
    from_root = run_oomguard("lint", ".", cwd=tmp_path)
    assert from_root.returncode == 1
    assert "app/node.yaml" in from_root.stdout and "generated" not in from_root.stdout
    inside = run_oomguard("lint", ".", cwd=tmp_path / "generated")
    assert inside.returncode == 0, inside.stdout
    assert "no Kubernetes workloads found in ." in inside.stderr
    beside = run_oomguard("lint", "../generated/node.yaml", "node.yaml", cwd=tmp_path / "app")
    assert beside.returncode == 1
    assert "../generated" not in beside.stdout and "node.yaml:17:29" in beside.stdout


def test_render_config_is_validated(run_oomguard, tmp_path):
    (tmp_path / ".oomguard.yaml").write_text("render:\n  - values: [a.yaml]\n")
    (tmp_path / "pod.yaml").write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n")
    result = run_oomguard("lint", "pod.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "render.0" in result.stderr and "'path' is a required property" in result.stderr


def test_plain_manifests_are_not_rendered(run_oomguard):
    result = run_oomguard("lint", str(REPO / "examples" / "good"))
    assert result.returncode == 0
    assert "rendered" not in result.stdout
    assert result.stdout.startswith("1 file, 3 workloads: 0 errors")


@pytest.mark.parametrize("name", ["kustomization.yml", "Kustomization"])
def test_every_kustomization_file_name_makes_an_overlay(run_oomguard, work, name):
    base = work / "kustomize" / "base"
    (base / "kustomization.yaml").rename(base / name)
    result = lint(run_oomguard, work, "kustomize/base")
    assert "1 overlay rendered with kubectl kustomize" in result.stdout, result.stderr
    assert os.path.exists(base / name)


def test_readme_commands_run_as_written(run_oomguard):
    """The README's "Charts and overlays" commands, run from the repository root, exit as
    their comments say."""
    import re
    import shlex

    section = (REPO / "README.md").read_text("utf-8").split("## Charts and overlays", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith(".venv/bin/oomguard ")]
    assert len(commands) == 4
    for line in commands:
        command, comment = line.split("#", 1)
        expected = int(re.match(r" exit (\d)", comment).group(1))
        result = run_oomguard(*shlex.split(command)[1:], env={"OOMGUARD_HELM": "sdk"})
        assert result.returncode == expected, (line, result.stdout, result.stderr)
    shown = section.split("```\ntests/", 1)[1].split("\n```", 1)[0]
    app = run_oomguard("lint", "tests/data/render/charts/app").stdout.splitlines()[0]
    start, end = shown.split(" … ")
    assert app.startswith("tests/" + start) and app.endswith(end)


def test_which_overlays_a_changed_kustomize_file_renders(tmp_path, monkeypatch):
    """Read statically: a file reached through a JSON6902 patch, a generator's file or a
    component renders the top-level overlays including it (not the base on its own); a
    file no kustomization names renders its nearest kustomization folder."""
    from oomguard.linter.units import Unit, discover_units

    layout = {
        "base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "base/deploy.yaml": "kind: Deployment\n",
        "base/notes.yaml": "not named anywhere\n",
        "components/jvm/kustomization.yaml": (
            "kind: Component\nconfigMapGenerator:\n  - name: jvm\n    files: [opts=jvm.env]\n"
        ),
        "components/jvm/jvm.env": "-Xmx1g\n",
        "overlays/a/kustomization.yaml": (
            "resources: [../../base]\npatchesJson6902:\n"
            "  - target: {kind: Deployment, name: d}\n    path: limits.json6902.yaml\n"
        ),
        "overlays/a/limits.json6902.yaml": "- op: replace\n",
        "overlays/b/kustomization.yaml": (
            "resources: [../../base]\ncomponents: [../../components/jvm]\n"
        ),
    }
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)

    def rendered(*files: str) -> list[Unit]:
        return discover_units(list(files), (), None, None).units

    assert rendered("base/deploy.yaml") == [
        Unit("overlay", "overlays/a"),
        Unit("overlay", "overlays/b"),
    ]
    assert rendered("overlays/a/limits.json6902.yaml") == [Unit("overlay", "overlays/a")]
    assert rendered("components/jvm/jvm.env") == [Unit("overlay", "overlays/b")]
    assert rendered("base/notes.yaml") == [Unit("overlay", "base")]
    # named twice, or by a file and its folder: rendered once
    assert rendered("overlays/a", "overlays/a/limits.json6902.yaml") == [
        Unit("overlay", "overlays/a")
    ]


def test_release_namespace_and_kube_version_reach_the_templates(run_oomguard, work):
    """-n and --kube-version are Helm's .Release.Namespace and .Capabilities.KubeVersion
    (a chart sizing its heap by cluster version, as charts gate features)."""
    template = work / "charts" / "clean" / "templates" / "deployment.yaml"
    template.write_text(
        template.read_text()
        .replace("  name: {{", "  namespace: {{ .Release.Namespace }}\n  name: {{", 1)
        .replace(
            "value: {{ .Values.jvm.javaOpts | quote }}",
            'value: {{ if semverCompare ">=1.31-0" .Capabilities.KubeVersion.Version }}'
            '"-Xmx2g"{{ else }}{{ .Values.jvm.javaOpts | quote }}{{ end }}',
        )
    )
    old = lint(run_oomguard, work, "charts/clean", "--kube-version", "1.30.0")
    assert old.returncode == 0, old.stdout + old.stderr
    new = lint(
        run_oomguard,
        work,
        "charts/clean",
        "--kube-version",
        "1.31.2",
        "-n",
        "shop",
        "--release-name",
        "orders",
        "--format",
        "json",
    )
    assert new.returncode == 1, new.stdout + new.stderr
    (finding,) = json.loads(new.stdout)["findings"]
    assert finding["rule"] == "jvm-heap-exceeds-limit"
    assert (finding["namespace"], finding["name"]) == ("shop", "orders-clean")
    # written in the template, not in values: reported at the template's line
    assert finding["file"] == "charts/clean/templates/deployment.yaml" and finding["line"] == 23


def test_config_values_are_relative_to_the_config_folder(run_oomguard, work):
    """render: values paths resolve against .oomguard.yaml's folder, whichever folder lint
    runs from."""
    (work / "ci").mkdir()
    (work / "ci" / "big-heap.yaml").write_text('jvm:\n  javaOpts: "-Xmx3g"\n')
    (work / ".oomguard.yaml").write_text(
        "render:\n  - path: charts/clean\n    values: [ci/big-heap.yaml]\n"
    )
    for cwd, target in ((work, "charts/clean"), (work / "charts", "clean")):
        result = run_oomguard("lint", target, cwd=cwd, env={"OOMGUARD_HELM": "sdk"})
        assert result.returncode == 1, result.stdout + result.stderr
        first = result.stdout.splitlines()[0]
        assert "-Xmx3g (env JAVA_TOOL_OPTIONS) is 300%" in first
        # relative to the working directory when inside it, else absolute (as every path)
        file, line = first.split(":")[:2]
        assert (cwd / file).resolve() == (work / "ci" / "big-heap.yaml").resolve()
        assert line == "2" and file == ("ci/big-heap.yaml" if cwd == work else file)


def test_ci_formats_place_rendered_findings_at_files(run_oomguard, work):
    """SARIF (valid against the official schema) and GitHub annotations: a values line when
    traced; the template file without a region when the finding has no line (a container
    with no limit: nothing in values sets a missing field)."""
    from test_sarif import validate

    args = ("charts/clean", "--set", "resources=null")
    sarif = lint(run_oomguard, work, *args, "--format", "sarif")
    log = json.loads(sarif.stdout)
    validate(log)
    places = {
        result["ruleId"]: result["locations"][0].get("physicalLocation")
        for result in log["runs"][0]["results"]
    }
    template = {"uri": "charts/clean/templates/deployment.yaml", "uriBaseId": "%SRCROOT%"}
    assert places["memory-limit-missing"] == {"artifactLocation": template}
    from_set = lint(
        run_oomguard, work, "charts/clean", "--set", "jvm.javaOpts=-Xmx4g", "--format", "sarif"
    )
    (result,) = json.loads(from_set.stdout)["runs"][0]["results"]
    assert result["ruleId"] == "jvm-heap-exceeds-limit"
    assert "physicalLocation" not in result["locations"][0]  # "<--set>" is no file
    github = lint(run_oomguard, work, *args, "--format", "github")
    assert (
        "::error file=charts/clean/templates/deployment.yaml,title=oomguard memory-limit-missing"
        in github.stdout
    )
