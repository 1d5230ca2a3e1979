"""Helm: render a chart directory or packaged ``.tgz`` and trace rendered values to their source.

Backends, chosen by ``OOMGUARD_HELM``:

* ``cli`` — the ``helm`` CLI (``helm template RELEASE PATH --namespace … -f … --set …
  --kube-version …``); documents are split on its ``# Source:`` lines. Tested with the
  official Helm v3 binary that a PyPI package ships (tests/test_render_helm_cli.py).
* ``sdk`` — helm-python-sdk (``pip install 'oomguard[helm]'``), Helm's Go SDK in-process.
* unset / ``auto`` — the CLI when ``helm`` is on PATH, else the SDK.

Neither available: :class:`RendererMissing`. ``helm_python`` is imported only here, only when
a chart is rendered (lint start-up stays light).

Values as ``helm template`` composes them: ``--values`` files merged in order (maps merge
recursively, anything else is replaced: Helm's ``mergeMaps``), then each ``--set`` (parsed by
Helm's own ``strvals`` through the SDK) merged on top; the chart's defaults and subcharts are
coalesced by Helm itself. One difference: a ``--set a[1]=x`` replaces a list from a values file
instead of writing into it.

Origins (:mod:`.helm_origin`): candidates are the leaf scalars of the chart's and subcharts'
``values.yaml``, the ``--values`` files and ``--set`` whose text equals or occurs in the rendered
value. At most :data:`MAX_RERENDERS` candidates are tried: each is re-rendered with a sentinel
in its place, and the candidate that changes the rendered field is the origin, located in the
file that wrote it last (line/column 0-based, of the scalar token). A ``--set`` value is
reported as ``Origin(file="<--set>", line=<index of the --set flag>, column=<offset of the
value in it>, editable=False)``. When no values literal sets it, a value written verbatim in
the document's template is reported there, not editable.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from typing import Any

from oomguard.linter.render import (
    Origin,
    Path,
    Rendered,
    RenderedDocument,
    RendererMissing,
    RenderError,
    RenderOptions,
)
from oomguard.rules.text import printable

BACKEND_ENV = "OOMGUARD_HELM"  # "cli", "sdk" or "auto" (default)
MAX_RERENDERS = 16  # candidates re-rendered per origin look-up
SET_FILE = "<--set>"  # Origin.file of a value set by --set
INSTALL_HINT = (
    "rendering a Helm chart needs Helm: pip install 'oomguard[helm]' (in-process), "
    "or put the helm CLI on PATH"
)
# Under pre-commit (it sets PRE_COMMIT=1 for hooks) the hook's environment is pre-commit's:
# say which hook id brings Helm along.
PRE_COMMIT_HINT = (
    "rendering a Helm chart needs Helm: use the pre-commit hook id oomguard-charts (or "
    "oomguard-charts-fix), which installs it in-process, or put the helm CLI on PATH"
)
# Helm's releaseutil.SplitManifests separator.
_DOC_SEP = re.compile(r"(?:^|\s*\n)---\s*")
_SOURCE_LINE = re.compile(r"^# Source: (.+)$", re.M)
# Template positions in Helm's messages: "(app/templates/x.yaml:6:10)", "template: app/...:3:5".
_MESSAGE_POS = re.compile(r"([\w.-]+(?:/charts/[\w.-]+)*/templates/[^\s:()\"]+):(\d+)")

# A renderer takes the user values (files and --set already merged) plus an override
# (values path -> replacement) and returns [(Helm template key, rendered text)].
Renderer = Callable[[tuple[tuple[Path, Any], ...]], list[tuple[str, str]]]


def render_chart(path: str, options: RenderOptions) -> Rendered:
    """Render the chart directory or ``.tgz`` at ``path`` as ``helm template`` would.

    Raises RendererMissing when no Helm is available, RenderError when Helm refuses the
    chart, its values or a template (the message is Helm's own, escaped)."""
    backend = _backend()
    if backend == "cli":
        engine, render = _cli_renderer(path, options)
    else:
        engine, render = _sdk_renderer(path, options)
    to_source = _source_mapper(path)
    documents, keys = _documents(render(()), to_source)
    cache: dict[tuple, list[tuple[str, str]] | None] = {}
    literals: list[Any] = []

    def rerender(override: tuple[tuple[Path, Any], ...]) -> list[tuple[str, str]] | None:
        if override not in cache:
            try:
                cache[override] = render(override)
            except RenderError:
                cache[override] = None  # the sentinel broke the chart: inconclusive
        return cache[override]

    def origin(document: int, field: Path, value: str) -> Origin | None:
        if not 0 <= document < len(documents):
            return None
        from oomguard.linter.render import helm_origin  # ruamel: only on demand

        if not literals:  # the values files, read once per rendering
            literals.append(helm_origin.effective_literals(path, options))
        return helm_origin.find_origin(
            path, options, documents, keys, rerender, literals[0], document, field, value
        )

    return Rendered(
        unit=path,
        engine=engine,
        documents=documents,
        origin=origin,
        inputs=_inputs(path, options),
    )


# --- backends -----------------------------------------------------------------------------


def _backend() -> str:
    wanted = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "cli", "sdk"):
        raise RendererMissing(f"{BACKEND_ENV}={printable(wanted)!r}: expected cli, sdk or auto")
    if wanted in ("auto", "cli") and shutil.which("helm"):
        return "cli"
    if wanted in ("auto", "sdk") and sdk_module() is not None:
        return "sdk"
    if wanted == "cli":  # forced: the SDK, even when installed, is not what was asked for
        raise RendererMissing(
            f"rendering a Helm chart: {BACKEND_ENV}=cli but no helm CLI on PATH "
            f"(install Helm, or unset {BACKEND_ENV} to use helm-python-sdk)"
        )
    if wanted == "sdk":
        raise RendererMissing(
            f"rendering a Helm chart: {BACKEND_ENV}=sdk but helm-python-sdk is not installed "
            "(pip install 'oomguard[helm]')"
        )
    raise RendererMissing(PRE_COMMIT_HINT if os.environ.get("PRE_COMMIT") else INSTALL_HINT)


def sdk_module() -> Any:
    try:
        import helm_python  # lazy: lint start-up must not pay for Helm
    except ImportError:
        return None
    return helm_python


def _helm_error(error: Exception, path: str) -> RenderError:
    message = printable(str(error))
    where = _MESSAGE_POS.search(str(error))
    if where:
        return RenderError(message, _source_mapper(path)(where.group(1)), int(where.group(2)) - 1)
    return RenderError(message, path)


def _user_values(helm: Any, options: RenderOptions) -> dict:
    """``-f`` files then ``--set``, as Helm's cli/values.Options.MergeValues composes them."""
    merged: dict = {}
    for file in options.values:
        try:
            with open(file, encoding="utf-8") as stream:
                merged = _merge_maps(merged, helm.values_from_yaml(stream.read()) or {})
        except (OSError, UnicodeDecodeError) as error:
            raise RenderError(f"cannot read values file: {printable(str(error))}", file) from None
        except helm.HelmError as error:
            raise RenderError(f"{file}: {printable(str(error))}", file) from None
    for expression in options.set:
        try:
            merged = _merge_maps(merged, helm.parse_set_string(expression))
        except helm.HelmError as error:
            raise RenderError(f"--set {printable(expression)}: {printable(str(error))}") from None
    return merged


def _merge_maps(base: dict, override: dict) -> dict:
    """Helm's ``mergeMaps`` (pkg/cli/values/options.go): maps merge, the rest is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def with_override(values: dict, override: tuple[tuple[Path, Any], ...]) -> dict:
    out = json.loads(json.dumps(values))
    for vpath, replacement in override:
        node = out
        for step in vpath[:-1]:
            if not isinstance(node, dict) or not isinstance(node.get(step), dict):
                node[step] = {}  # type: ignore[index]
            node = node[step]
        node[vpath[-1]] = replacement
    return out


def _sdk_renderer(path: str, options: RenderOptions) -> tuple[str, Renderer]:
    helm = sdk_module()
    try:
        chart = helm.Chart.load(path)
    except helm.HelmError as error:
        raise RenderError(f"cannot load chart: {printable(str(error))}", path) from None
    values = _user_values(helm, options)
    opts: dict[str, Any] = {"name": options.release}
    if options.namespace:
        opts["namespace"] = options.namespace
    if options.kube_version:
        opts["kube_version"] = options.kube_version

    def render(override: tuple[tuple[Path, Any], ...]) -> list[tuple[str, str]]:
        try:
            # Chart.render has no kube_version keyword; the native call takes it in its opts
            # JSON (helm-python-sdk 0.2.2, pinned).
            out = helm._native.call_string(
                "helm_render",
                chart._raw(),
                json.dumps(with_override(values, override)),
                json.dumps(opts),
            )
        except helm.HelmError as error:
            raise _helm_error(error, path) from None
        return sorted(json.loads(out).items())

    version = getattr(helm, "__version__", "?")
    return f"helm-python-sdk {version} (Helm {helm.EXPECTED_HELM_SDK_VERSION})", render


def _cli_renderer(path: str, options: RenderOptions) -> tuple[str, Renderer]:
    helm = shutil.which("helm") or "helm"
    base = [helm, "template", options.release, path]
    if options.namespace:
        base += ["--namespace", options.namespace]
    for file in options.values:
        base += ["--values", file]
    for expression in options.set:
        base += ["--set", expression]
    if options.kube_version:
        base += ["--kube-version", options.kube_version]

    def render(override: tuple[tuple[Path, Any], ...]) -> list[tuple[str, str]]:
        args = list(base)
        for vpath, replacement in override:
            # --set-string is applied after --set (MergeValues), so the sentinel wins.
            flag = "--set-string" if isinstance(replacement, str) else "--set"
            args += [flag, f"{_strvals_key(vpath)}={json.dumps(replacement).strip(chr(34))}"]
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RenderError(f"helm template: {printable(str(error))}", path) from None
        if run.returncode != 0:
            # the CLI's own advice after the error ("Use --debug flag to render out invalid
            # YAML") is not about oomguard's command line; the message is kept on one line
            message = run.stderr.strip().removeprefix("Error: ")
            message = message.split("\n\nUse --debug flag", 1)[0].strip()
            message = re.sub(r"\s*\n\s*", " ", message)
            raise _helm_error(RuntimeError(message or f"helm exited {run.returncode}"), path)
        return _split_sources(run.stdout)

    try:
        version = subprocess.run(
            [helm, "version", "--short"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    return f"helm {printable(version) or '?'} (CLI)", render


def _strvals_key(vpath: Path) -> str:
    out = ""
    for step in vpath:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            escaped = re.sub(r"([\\.,=\[])", r"\\\1", step)
            out += ("." if out else "") + escaped
    return out


def _split_sources(stdout: str) -> list[tuple[str, str]]:
    """``helm template`` output: each manifest follows a ``# Source: key`` line."""
    out: list[tuple[str, str]] = []
    for chunk in _DOC_SEP.split(stdout):
        found = _SOURCE_LINE.search(chunk)
        if found:
            out.append((found.group(1).strip(), chunk[found.end() :].lstrip("\n")))
    return out


# --- documents and sources ----------------------------------------------------------------


def _is_empty(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _documents(
    rendered: list[tuple[str, str]], to_source: Callable[[str], str] = str
) -> tuple[list[RenderedDocument], list[tuple[str, int]]]:
    """YAML documents of every rendered template (NOTES.txt and non-YAML dropped), with
    their source file and a (template key, ordinal) key to find them again after a re-render."""
    documents: list[RenderedDocument] = []
    keys: list[tuple[str, int]] = []
    ordinals: dict[str, int] = {}
    for key, text in rendered:
        if not key.endswith((".yaml", ".yml", ".json")):
            continue
        for part in _DOC_SEP.split(text):
            if _is_empty(part):
                continue
            # The CLI gives one entry per document, the SDK one per template: count per key.
            ordinal = ordinals[key] = ordinals.get(key, -1) + 1
            documents.append(RenderedDocument(part.strip("\n") + "\n", to_source(key)))
            keys.append((key, ordinal))
    return documents, keys


def documents_by_key(rendered: list[tuple[str, str]]) -> dict[tuple[str, int], str]:
    docs, keys = _documents(rendered)
    return {key: doc.text for key, doc in zip(keys, docs, strict=True)}


def _source_mapper(path: str) -> Callable[[str], str]:
    """Helm's template name (``app/templates/x.yaml``, ``app/charts/sub/templates/y.yaml``:
    chart names, or aliases) as a file path like ``path``: subcharts by their folder in
    ``charts/``; inside a packaged chart (or subchart), the archive member under the
    archive's path (``dist/app-1.0.0.tgz/app/templates/x.yaml``)."""
    if not os.path.isdir(path):
        return lambda key: f"{path}/{key}"
    folders: dict[str, str] = {}
    _subchart_folders(path, "", "", folders)

    def to_source(key: str) -> str:
        rest = key.split("/", 1)[1] if "/" in key else key
        for prefix in sorted(folders, key=len, reverse=True):
            if rest.startswith(prefix + "/"):
                return posixpath.normpath(
                    posixpath.join(path, folders[prefix] + rest[len(prefix) :])
                )
        return posixpath.normpath(posixpath.join(path, rest))

    return to_source


def _subchart_folders(chart: str, named: str, folder: str, folders: dict[str, str]) -> None:
    """``charts/<name or alias>`` (Helm's naming, nested) -> the folder or archive member."""
    import yaml

    subcharts = os.path.join(chart, "charts")
    for entry in sorted(os.listdir(subcharts)) if os.path.isdir(subcharts) else []:
        where = os.path.join(subcharts, entry)
        try:
            if os.path.isfile(os.path.join(where, "Chart.yaml")):
                with open(os.path.join(where, "Chart.yaml"), encoding="utf-8") as stream:
                    names = chart_names(chart, (yaml.safe_load(stream) or {}).get("name", entry))
                for name in names:
                    folders[f"{named}charts/{name}"] = f"{folder}charts/{entry}"
                    _subchart_folders(
                        where, f"{named}charts/{name}/", f"{folder}charts/{entry}/", folders
                    )
            elif entry.endswith(".tgz") and tarfile.is_tarfile(where):
                with tarfile.open(where) as archive:
                    top = archive.getnames()[0].split("/", 1)[0]
                for name in chart_names(chart, top):
                    folders[f"{named}charts/{name}"] = f"{folder}charts/{entry}/{top}"
        except (OSError, yaml.YAMLError, tarfile.TarError, IndexError, AttributeError):
            continue  # an unreadable subchart: Helm's own load reports it


def chart_names(parent: str, name: str) -> list[str]:
    """A subchart's name and the aliases the parent's Chart.yaml gives it."""
    import yaml

    try:
        with open(os.path.join(parent, "Chart.yaml"), encoding="utf-8") as stream:
            meta = yaml.safe_load(stream) or {}
    except (OSError, yaml.YAMLError):
        return [name]
    deps = meta.get("dependencies") if isinstance(meta, dict) else None
    aliases = [
        d["alias"]
        for d in deps or []
        if isinstance(d, dict) and d.get("name") == name and isinstance(d.get("alias"), str)
    ]
    return [name, *aliases]


def _inputs(path: str, options: RenderOptions) -> list[str]:
    files: list[str] = []
    if os.path.isdir(path):
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            files += [posixpath.join(folder, name) for name in sorted(names)]
    else:
        files.append(path)
    return files + list(options.values)
