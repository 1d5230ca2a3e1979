"""A heap flag read from a ConfigMap of the same rendering (``configMapKeyRef`` / ``envFrom``)
is reported, and fixed, where the ConfigMap key's value is written: a kustomize
``configMapGenerator`` literal, a generator ``envs:`` file line (reported, not rewritten), a
Helm values line. Real engines: ``kubectl kustomize`` and helm-python-sdk (no mocks).

Fixtures: tests/data/kustomize/shop (base generator ``orders-jvm`` with
``JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0``; overlay prod merges
``JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=80.0 -XX:+ExitOnOutOfMemoryError`` at
kustomization.yaml line 22, limit 3Gi) and tests/data/config-source/cm-app (a ConfigMap
template fed by ``jvm.toolOptions`` (values.yaml line 7, read by ``envFrom``) and
``jvm.workerOptions`` (line 9, read by ``configMapKeyRef``); limits 1Gi).
JVM behaviour (MaxRAMPercentage of the container limit; JAVA_TOOL_OPTIONS read by the JVM
itself, JDK_JAVA_OPTIONS by the java launcher after it) is the rules' (rules/runtimes/jvm.py,
citing HotSpot arguments.cpp ``set_heap_size``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO

SHOP = REPO / "tests" / "data" / "kustomize" / "shop"
CM_APP = REPO / "tests" / "data" / "config-source" / "cm-app"
PROD_LITERAL = "      - JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=80.0 -XX:+ExitOnOutOfMemoryError\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    shutil.copytree(SHOP, tmp_path / "shop")
    return tmp_path


def lint(run_oomguard, cwd: Path, *args: str):
    return run_oomguard("lint", *args, cwd=cwd, env={"OOMGUARD_HELM": "sdk"})


def test_generator_literal_is_where_the_finding_points(run_oomguard, shop):
    result = lint(run_oomguard, shop, "shop/overlays/prod", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "jvm-heap-headroom-low" and finding["container"] == "orders"
    # line 22 column 27: the value after `      - JAVA_TOOL_OPTIONS=`
    assert (finding["file"], finding["line"], finding["column"]) == (
        "shop/overlays/prod/kustomization.yaml",
        22,
        27,
    )
    assert finding["rendered_from"] == "shop/base/deployment.yaml"
    assert finding["fixable"] is True
    lines = (shop / "shop/overlays/prod/kustomization.yaml").read_text().splitlines()
    assert lines[21][26:].startswith("-XX:MaxRAMPercentage=80.0")


def test_generator_literal_fix_rewrites_only_the_value_part(run_oomguard, shop):
    kustomization = shop / "shop/overlays/prod/kustomization.yaml"
    before = kustomization.read_text()
    assert PROD_LITERAL in before
    diff = lint(run_oomguard, shop, "--diff", "shop/overlays/prod")
    assert (
        "-      - JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=80.0 -XX:+ExitOnOutOfMemoryError\n"
        "+      - JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0 -XX:+ExitOnOutOfMemoryError\n"
    ) in diff.stdout
    assert kustomization.read_text() == before  # --diff writes nothing
    fixed = lint(run_oomguard, shop, "--fix", "shop/overlays/prod")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.rstrip().endswith("1 workload: 0 errors, 0 warnings")
    assert kustomization.read_text() == before.replace(
        PROD_LITERAL, PROD_LITERAL.replace("=80.0", "=75.0")
    )
    again = lint(run_oomguard, shop, "--fix", "shop/overlays/prod")
    assert "fixed" not in again.stderr
    assert kustomization.read_text() == before.replace("=80.0 ", "=75.0 ")


def test_generator_quoted_literal_keeps_its_quotes(run_oomguard, shop):
    kustomization = shop / "shop/overlays/prod/kustomization.yaml"
    quoted = PROD_LITERAL.replace("OPTIONS=-XX", 'OPTIONS="-XX').replace("Error\n", 'Error"\n')
    quoted = "      - '" + quoted.strip()[2:] + "'\n"
    kustomization.write_text(kustomization.read_text().replace(PROD_LITERAL, quoted))
    result = lint(run_oomguard, shop, "--format", "json", "shop/overlays/prod")
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["line"], finding["column"]) == (22, 29)  # after `'JAVA_TOOL_OPTIONS="`
    lint(run_oomguard, shop, "--fix", "shop/overlays/prod")
    assert quoted.replace("=80.0", "=75.0") in kustomization.read_text()


def test_env_file_line_is_reported_there_and_not_rewritten(run_oomguard, shop):
    """The base's orders.env (generator ``envs:``) sets JDK_JAVA_OPTIONS, read by envFrom."""
    env_file = shop / "shop/base/orders.env"
    text = env_file.read_text().replace("-Xss512k", "-Xss512k -XX:MaxRAMPercentage=90.0")
    env_file.write_text(text)
    result = lint(run_oomguard, shop, "--format", "json", "shop/base")
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["rule"] == "jvm-heap-headroom-low"
    assert (finding["file"], finding["line"], finding["column"]) == ("shop/base/orders.env", 3, 18)
    assert finding["fixable"] is False
    fixed = lint(run_oomguard, shop, "--fix", "shop/base")
    assert env_file.read_text() == text
    assert (
        "not fixed: value written in an env file line at shop/base/orders.env:3, not a YAML "
        "value of its own — fix it there by hand" in fixed.stderr
    )


def test_helm_configmap_value_is_reported_and_fixed_at_its_values_line(run_oomguard, tmp_path):
    chart = tmp_path / "cm-app"
    shutil.copytree(CM_APP, chart)
    result = lint(run_oomguard, tmp_path, "cm-app", "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    placed = sorted(
        (f["container"], f["file"], f["line"], f["column"], f["values_key"], f["fixable"])
        for f in findings
    )
    assert placed == [
        ("billing", "cm-app/values.yaml", 7, 16, "jvm.toolOptions", True),  # envFrom
        ("worker", "cm-app/values.yaml", 9, 18, "jvm.workerOptions", True),  # configMapKeyRef
    ]
    before = (chart / "values.yaml").read_text()
    fixed = lint(run_oomguard, tmp_path, "--fix", "cm-app")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (chart / "values.yaml").read_text() == before.replace(
        '"-XX:MaxRAMPercentage=90.0 ', '"-XX:MaxRAMPercentage=75.0 '
    ).replace('"-Xmx900m"', '"-Xmx768m"')
    assert (chart / "templates/configmap.yaml").read_text() == (
        CM_APP / "templates/configmap.yaml"
    ).read_text()
