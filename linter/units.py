"""Which inputs are charts and overlays (rendered) and which are plain manifest files.

* A directory holding ``Chart.yaml`` is a **chart unit**; one holding ``kustomization.yaml``,
  ``kustomization.yml`` or ``Kustomization`` is an **overlay unit**. A walk renders them and
  does not descend into them, so a chart's templates and an overlay's patches are never
  linted as plain manifests. A packaged chart (``.tgz``) is a chart unit when named; a walk
  leaves ``.tgz`` files alone, with a notice (they are usually build artefacts or a chart's
  downloaded dependencies).
* A file named explicitly that lies inside a chart renders the outermost chart holding it
  (a subchart's template renders its parent). A file inside a kustomize directory renders the
  top-level overlays of its repository (git top level, else the config file's folder, else
  the working directory) whose kustomization tree includes it, read statically and bounded.

Only the file system is looked at here, and git once per repository when a named file lies
in a kustomize directory; nothing is rendered. Plain-manifest runs never reach git.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHART_FILE = "Chart.yaml"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# bounds on reading kustomization trees statically (a repository of overlays is far smaller)
MAX_KUSTOMIZATIONS = 2000
MAX_DEPTH = 32
_SKIPPED_DIRS = {"node_modules", "vendor", "__pycache__"}


@dataclass(frozen=True)
class Unit:
    """A chart or overlay to render: ``kind`` is "chart" or "overlay"; ``path`` as shown."""

    kind: str
    path: str


@dataclass
class Discovered:
    files: list[str] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def add_unit(self, unit: Unit) -> None:
        key = os.path.realpath(unit.path)
        if all(os.path.realpath(known.path) != key for known in self.units):
            self.units.append(unit)


def kustomization_file(folder: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def unit_of_dir(folder: str) -> Unit | None:
    """The unit a directory is, if any (a chart wins over a kustomization beside it)."""
    if os.path.isfile(os.path.join(folder, CHART_FILE)):
        return Unit("chart", folder)
    if kustomization_file(folder):
        return Unit("overlay", folder)
    return None


def outermost_chart(path: str) -> str | None:
    """The outermost directory holding ``Chart.yaml`` among the ancestors of ``path``."""
    found = None
    folder = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else path
    folder = os.path.abspath(folder)
    while True:
        if os.path.isfile(os.path.join(folder, CHART_FILE)):
            found = folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return _shown(found) if found else None
        folder = parent


def in_kustomize_dir(path: str) -> bool:
    """Whether a folder holding ``path`` (up to the file system root) holds a kustomization."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        if kustomization_file(folder):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


def _shown(path: str) -> str:
    """A path relative to the working directory when inside it (as findings show files)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


# --- kustomization trees, read statically -----------------------------------------------


def _entries(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(directories or files as resources/components/bases, files read by the
    kustomization: patches, generator inputs, replacements ...) named by one kustomization."""
    resources: list[str] = []
    files: list[str] = []
    for key in ("resources", "bases", "components", "crds"):
        resources.extend(item for item in _list(data.get(key)) if isinstance(item, str))
    for key in ("patchesStrategicMerge",):
        files.extend(item for item in _list(data.get(key)) if isinstance(item, str))
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in _list(data.get(key)):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                files.append(item["path"])
            elif key == "replacements" and isinstance(item, str):
                files.append(item)
    for key in ("configMapGenerator", "secretGenerator"):
        for item in _list(data.get(key)):
            if not isinstance(item, dict):
                continue
            for entry in _list(item.get("files")):
                if isinstance(entry, str):
                    files.append(entry.split("=", 1)[-1])
            files.extend(entry for entry in _list(item.get("envs")) if isinstance(entry, str))
            if isinstance(item.get("env"), str):
                files.append(item["env"])
    for key in ("transformers", "generators", "validators"):
        resources.extend(item for item in _list(data.get(key)) if isinstance(item, str))
    return [r for r in resources if not _remote(r)], files


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "git@", "gitlab.com/"))


def _read_kustomization(folder: str) -> dict[str, Any]:
    import yaml

    path = kustomization_file(folder)
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            data = yaml.load(handle.read(1 << 20), Loader=getattr(yaml, "CSafeLoader", None))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def kustomization_tree(folder: str, cache: dict[str, set[str]] | None = None) -> set[str]:
    """Every file (real paths) the kustomization in ``folder`` reads, through its resources,
    bases and components, bounded in depth; kustomizations it includes are in it too."""
    cache = {} if cache is None else cache
    return _tree(os.path.realpath(folder), cache, 0)


def _tree(folder: str, cache: dict[str, set[str]], depth: int) -> set[str]:
    if folder in cache:
        return cache[folder]
    cache[folder] = set()  # a cycle reads as empty
    found: set[str] = set()
    own = kustomization_file(folder)
    if own is None or depth > MAX_DEPTH:
        return found
    found.add(os.path.realpath(own))
    resources, files = _entries(_read_kustomization(folder))
    for entry in files:
        found.add(os.path.realpath(os.path.join(folder, entry)))
    for entry in resources:
        target = os.path.realpath(os.path.join(folder, entry))
        if os.path.isdir(target):
            found.add(target)  # marks the folder as included (for top-level overlays)
            found |= _tree(target, cache, depth + 1)
        else:
            found.add(target)
    cache[folder] = found
    return found


def kustomizations_under(root: str) -> list[str]:
    """The folders under ``root`` holding a kustomization (hidden and vendored folders
    skipped), at most MAX_KUSTOMIZATIONS."""
    found = []
    for folder, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        if kustomization_file(folder):
            found.append(folder)
            if len(found) >= MAX_KUSTOMIZATIONS:
                break
    return found


def overlays_including(files: list[str], root: str) -> dict[str, list[str]]:
    """For each file, the top-level overlays under ``root`` whose tree includes it (an
    overlay no other kustomization under ``root`` includes); when none does, the nearest
    kustomization folder holding the file."""
    cache: dict[str, set[str]] = {}
    folders = kustomizations_under(root)
    trees = {folder: kustomization_tree(folder, cache) for folder in folders}
    included = set().union(*trees.values()) if trees else set()
    tops = [folder for folder in folders if os.path.realpath(folder) not in included]
    answer: dict[str, list[str]] = {}
    for file in files:
        real = os.path.realpath(file)
        chosen = [_shown(top) for top in tops if real in trees[top]]
        if not chosen:
            nearest = _nearest_kustomization(file)
            chosen = [_shown(nearest)] if nearest else []
        answer[file] = chosen
    return answer


def _nearest_kustomization(path: str) -> str | None:
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        if kustomization_file(folder):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def repository_root(path: str, config_source: str | None) -> str:
    """Where to look for overlays: the git top level of ``path``, else the config file's
    folder, else the working directory."""
    from oomguard.linter.related import _git_top

    top = _git_top(os.path.dirname(os.path.abspath(path)))
    if top:
        return top
    if config_source and os.path.isfile(config_source):
        return os.path.dirname(os.path.abspath(config_source))
    return os.getcwd()


def display(path: str) -> str:
    return Path(path).as_posix()
