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

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHART_FILE = "Chart.yaml"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# bounds on reading kustomization trees statically (a repository of overlays is far smaller)
MAX_KUSTOMIZATIONS = 2000
MAX_DEPTH = 32
_SKIPPED_DIRS = {"node_modules", "vendor", "__pycache__"}


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class MissingPath(Exception):
    """A path given that does not exist (the caller makes it a usage error)."""


@dataclass(frozen=True, repr=False)
class Unit:
    """A chart or overlay to render: ``kind`` is "chart" or "overlay"; ``path`` as shown."""

    kind: str
    path: str


@dataclass(eq=False, repr=False)
class Discovered:
    """The files, charts and overlays found under the paths given, with notices."""

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


# --- discovery ---------------------------------------------------------------------------


def discover_units(
    paths: list[str], exclude: tuple[str, ...], folder: str | None, config_source: str | None
) -> Discovered:
    """Plain files to lint, in a stable order, and the charts and overlays to render
    (linter/units.py says which is which); directories are walked for *.yaml, *.yml,
    *.json, and a chart or overlay folder met on the way is rendered, not walked."""
    found = Discovered()
    in_kustomize: list[str] = []
    for given in paths:
        if given == STDIN:
            found.files.append(STDIN)
            continue
        if not os.path.exists(given):
            raise MissingPath(given)
        if os.path.isdir(given):
            chart = outermost_chart(given)
            unit = Unit("chart", chart) if chart else unit_of_dir(given)
            if unit is not None:
                found.add_unit(unit)
                continue
            _walk(given, exclude, folder, found)
        elif _excluded(given, exclude, folder):
            continue
        elif given.endswith(".tgz"):
            found.add_unit(Unit("chart", given))
        elif chart := outermost_chart(given):
            found.add_unit(Unit("chart", chart))
        elif in_kustomize_dir(given):
            in_kustomize.append(given)
        else:
            found.files.append(given)
    if in_kustomize:
        roots: dict[str, list[str]] = {}
        for path in in_kustomize:
            roots.setdefault(repository_root(path, config_source), []).append(path)
        for root, files in roots.items():
            for overlays in overlays_including(files, root).values():
                for overlay in overlays:
                    found.add_unit(Unit("overlay", overlay))
    return found


def _walk(given: str, exclude: tuple[str, ...], folder: str | None, found: Discovered) -> None:
    for root, dirs, files in os.walk(given):
        if root != given:
            unit = _unit_in_listing(root, files)
            if unit is not None:
                dirs[:] = []
                if not _excluded(root, exclude, folder):
                    found.add_unit(unit)
                continue
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not _excluded(os.path.join(root, d), exclude, folder)
        )
        for name in sorted(files):
            path = os.path.join(root, name)
            if _excluded(path, exclude, folder):
                continue
            if name.endswith(MANIFEST_SUFFIXES) and not _special_file(path):
                found.files.append(path)
            elif name.endswith(".tgz"):
                found.notices.append(
                    f"{path}: packaged chart not rendered when walking a folder "
                    "(name it to render it: oomguard lint chart.tgz)"
                )


def _unit_in_listing(root: str, files: list[str]) -> Unit | None:
    """The unit a walked folder is, from its listing (no extra system calls)."""
    if CHART_FILE in files:
        return Unit("chart", root)
    if any(name in files for name in KUSTOMIZATION_FILES):
        return Unit("overlay", root)
    return None


def _special_file(path: str) -> bool:
    """A FIFO, socket or device. Found while walking a folder, it is not linted: reading a
    FIFO with no writer would block forever. Given explicitly, it is read whatever it is
    (``oomguard lint <(helm template …)`` is a pipe), but only once."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # e.g. a dangling symlink: reading it reports the path as unreadable


def _excluded(path: str, patterns: tuple[str, ...], folder: str | None = None) -> bool:
    """Whether an ``exclude`` glob matches ``path``: relative to the config file's
    ``folder`` when it lies inside it (the same files whichever folder lint runs from),
    else as given."""
    if not patterns:
        return False
    normalized = Path(path).as_posix().removeprefix("./")
    if folder is not None:
        relative = os.path.relpath(os.path.abspath(path), folder)
        if not relative.startswith(".."):
            normalized = Path(relative).as_posix()
    return any(fnmatch.fnmatch(normalized, pattern) for pattern in patterns)


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
            text = handle.read(1 << 20)  # a kustomization is small: bounded
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
