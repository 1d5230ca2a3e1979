"""Lint and render charts/oomguard with real Helm (helm-sdkpy) from the project's test suite.

Helm is not installed on these machines; helm-sdkpy ships it as a shared library but needs
Python >= 3.12, so it lives in its own venv, ``.venv-helm`` (created by
``scripts/helm-venv.sh``, which ``scripts/test.sh`` runs), and is driven through
``scripts/helm_lint.py`` in a subprocess.

helm-sdkpy exposes ``helm lint`` but not ``helm template``. To get the rendered manifests,
:func:`helm` copies the chart to a temporary directory, writes the merged values there as
``values.yaml`` (what ``helm lint -f overrides.yaml`` validates and renders) and adds one
template that includes every other template and passes the concatenation to ``fail``: while
linting, Helm logs ``fail`` messages instead of aborting, so the rendered text arrives
(base64) on stderr and the lint result stays unaffected. Everything is rendered by Helm's own
engine (sprig, ``genCA``, ``lookup``, schema validation); only the release name and namespace
are set by that template, because Helm's lint renders as ``test-release`` in no namespace.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "oomguard"
HELM_PYTHON = REPO / ".venv-helm" / "bin" / "python"
HELM_LINT = REPO / "scripts" / "helm_lint.py"

RELEASE = "oomguard"
NAMESPACE = "oomguard-system"
RENDER_TEMPLATE = "zz-render-for-tests.yaml"
RENDER_MARK = "OOMGUARD-RENDER:"
_RENDER_RE = re.compile(re.escape(RENDER_MARK) + r"([A-Za-z0-9+/=]*)")
_FAIL_RE = re.compile(r"funcMap fail message=(.*)")


class HelmUnavailable(AssertionError):
    """.venv-helm is missing: the chart tests fail (they are never skipped)."""


def require_helm() -> None:
    if not HELM_PYTHON.exists():
        raise HelmUnavailable(
            f"{HELM_PYTHON.relative_to(REPO)} is missing: run `bash scripts/helm-venv.sh` "
            "(needs Python >= 3.12; scripts/test.sh does it) before the chart tests"
        )


def merge_values(base: Any, override: Any) -> Any:
    """Helm's ``-f`` coalescing: maps merge recursively, a null deletes the key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def default_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


@dataclass
class HelmResult:
    messages: list[dict[str, str]]
    returncode: int
    stderr: str
    rendered: str | None = None
    fails: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, str]]:
        return [m for m in self.messages if m["severity"] == "ERROR"]

    @property
    def problems(self) -> list[dict[str, str]]:
        """Lint messages at WARNING or ERROR (INFO, e.g. "icon is recommended", is not one)."""
        return [m for m in self.messages if m["severity"] in ("WARNING", "ERROR")]

    def documents(self) -> list[dict[str, Any]]:
        assert self.rendered is not None, "not rendered"
        return [doc for doc in yaml.safe_load_all(self.rendered) if doc]

    def find(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [
            doc
            for doc in self.documents()
            if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
        ]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = self.find(kind, name)
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


def _render_template(
    chart: Path, release: str, namespace: str, kube_version: str | None = None
) -> str:
    """A template that renders every other template and hands the result to ``fail``.
    ``kube_version`` ("1.29.0"): the templates see it as ``.Capabilities.KubeVersion`` (the
    render context is a map, so its Capabilities can be replaced by a map with the same
    fields; helm-sdkpy's lint has no --kube-version)."""
    names = sorted(
        p.relative_to(chart / "templates").as_posix()
        for p in (chart / "templates").rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml") and p.name != RENDER_TEMPLATE
    )
    lines = [
        f'{{{{- $_ := set .Release "Name" {json.dumps(release)} }}}}',
        f'{{{{- $_ := set .Release "Namespace" {json.dumps(namespace)} }}}}',
        '{{- $out := "" }}',
    ]
    if kube_version is not None:
        major, minor = kube_version.split(".")[:2]
        version = json.dumps(f"v{kube_version}")
        lines += [
            f'{{{{- $kv := dict "Version" {version} "GitVersion" {version} '
            f'"Major" {json.dumps(major)} "Minor" {json.dumps(minor)} }}}}',
            '{{- $_ := set . "Capabilities" (dict "KubeVersion" $kv '
            '"APIVersions" .Capabilities.APIVersions "HelmVersion" .Capabilities.HelmVersion) }}',
        ]
    for name in names:
        path = f"{chart.name}/templates/{name}"
        lines.append(
            f'{{{{- $out = printf "%s---\\n# Source: %s\\n%s\\n" $out {json.dumps(path)} '
            f"(include {json.dumps(path)} .) }}}}"
        )
    lines.append(f'{{{{- fail (printf "{RENDER_MARK}%s" (b64enc $out)) }}}}')
    return "\n".join(lines) + "\n"


def helm(
    tmp_path: Path,
    overrides: dict[str, Any] | None = None,
    *,
    values: dict[str, Any] | None = None,
    render: bool = True,
    schema: bool = True,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    kube_version: str | None = None,
) -> HelmResult:
    """``helm lint`` the chart with ``overrides`` merged into the defaults (or with exactly
    ``values``), and, with ``render``, return the manifests Helm rendered (for the Kubernetes
    version ``kube_version``, e.g. "1.29.0"; default: Helm's own default version)."""
    require_helm()
    chart = tmp_path / "oomguard"
    if chart.exists():
        shutil.rmtree(chart)
    shutil.copytree(CHART, chart)
    if values is None:
        values = merge_values(default_values(), overrides or {})
    (chart / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    if not schema:
        (chart / "values.schema.json").unlink()
    if render:
        (chart / "templates" / RENDER_TEMPLATE).write_text(
            _render_template(chart, release, namespace, kube_version)
        )
    proc = subprocess.run(
        [str(HELM_PYTHON), str(HELM_LINT), str(chart)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    if proc.returncode not in (0, 1):
        raise AssertionError(f"helm_lint.py failed ({proc.returncode}): {proc.stderr}")
    result = json.loads(proc.stdout)
    rendered = None
    fails = []
    for line in proc.stderr.splitlines():
        match = _RENDER_RE.search(line)
        if match:
            rendered = base64.b64decode(match.group(1)).decode()
        elif _FAIL_RE.search(line):
            fails.append(_FAIL_RE.search(line).group(1))
    if render and rendered is None and not result["errors"]:
        raise AssertionError(f"Helm rendered nothing; stderr:\n{proc.stderr}")
    return HelmResult(result["messages"], proc.returncode, proc.stderr, rendered, fails)
