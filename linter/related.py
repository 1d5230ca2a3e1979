"""Workloads elsewhere in the repository that read a ConfigMap or Secret being linted.

pre-commit passes only the files a commit changes. A commit that raises ``JAVA_OPTS`` in a
ConfigMap to ``-Xmx4g`` changes nothing in the Deployment (another file) whose 1Gi limit it
now overruns; linting the ConfigMap alone finds nothing. So when lint is given files by name
and they hold ConfigMaps or Secrets, the workload files of the same git repository that read
one of them are linted too, with the given sources first, and their findings about the
objects that reference a given source are reported.

The same holds for a LimitRange or a VerticalPodAutoscaler (issue 17): a commit that lowers
a namespace's default limit, or a VPA's ``minAllowed``, changes what the workloads of that
namespace get. A named file's LimitRange re-checks the tracked workloads of its namespace
(``git grep`` for the namespace's name, then the objects of that namespace); one with no
namespace applies to the workloads with none, which are looked for beside it (its folder and
below: the files applied with it). A named file's VPA re-checks its ``targetRef`` workload
(same namespace, or none on both). The related files are linted with the named LimitRanges
and VPAs first.

Finding them is kept cheap for the pre-commit start-up budget: nothing happens unless a
named file holds a source; then ``git grep`` (C, over the tracked files only) lists the
tracked YAML/JSON files that contain a source's name, a byte search keeps those that also
hold a reference key (``configMapKeyRef`` …), and only those are parsed. Outside a git
repository nothing is searched (walking an unknown tree could read a home directory).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from oomguard.linter.loader import MAX_FILE_BYTES, LoadError, decode, load_text
from oomguard.linter.run import (
    MANIFEST_SUFFIXES,
    STDIN,
    LintInput,
    LintResult,
    iter_findings,
    prepare,
)
from oomguard.rules.config import Config
from oomguard.rules.limit_ranges import KIND as LIMIT_RANGE
from oomguard.rules.model import Finding
from oomguard.rules.vpa import KIND as VPA
from oomguard.rules.vpa import parse_vpa
from oomguard.rules.workload import is_workload, iter_objects

# The keys through which a pod reads a source's data into env, by source kind.
REFERENCE_KEYS = {
    "ConfigMap": ("configMapKeyRef", "configMapRef"),
    "Secret": ("secretKeyRef", "secretRef"),
}
_ANY_REFERENCE = re.compile(
    b"|".join(key.encode() for keys in REFERENCE_KEYS.values() for key in keys)
)
_GIT_TIMEOUT = 10


@dataclass
class Related:
    """The related files found for one run, and the objects in them that read a source."""

    paths: list[str] = field(default_factory=list)
    readers: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # file -> (kind, name)
    sources: list[str] = field(default_factory=list)  # 'ConfigMap "x"', for the notice
    problems: list[str] = field(default_factory=list)  # why a repository was not searched
    governed: bool = False  # a named LimitRange or VPA, not only ConfigMaps/Secrets


@dataclass(frozen=True)
class Governor:
    """A LimitRange or VPA of a named file: whose workloads it changes."""

    label: str  # 'LimitRange "defaults"', for the notice
    path: str  # the named file
    namespace: str | None
    target: tuple[str, str] | None = None  # a VPA's targetRef (kind, name)

    def governs(self, obj: dict[str, Any], namespace: str | None) -> bool:
        if namespace != self.namespace:
            return False
        if self.target is None:
            return True
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return (obj.get("kind"), metadata.get("name")) == self.target


def given_sources(lint_input: LintInput, given: list[str]) -> dict[str, set[str]]:
    """kind -> names of the ConfigMaps and Secrets in the files named on the command line
    (not in walked folders, not on stdin)."""
    named = {os.path.realpath(p) for p in given if p != STDIN and os.path.isfile(p)}
    found: dict[str, set[str]] = {}
    for (kind, name), entries in lint_input.sources.sources.items():
        for _namespace, _data, position in entries:
            if os.path.realpath(lint_input.paths[position]) in named:
                found.setdefault(kind, set()).add(name)
    return found


def given_governors(lint_input: LintInput, given: list[str]) -> list[Governor]:
    """The LimitRanges and VPAs in the files named on the command line (read again here, only
    when the input holds one: the lint's first pass keeps no file per LimitRange)."""
    if not (lint_input.sources.limit_ranges or lint_input.sources.vpas):
        return []
    found = []
    for path in given:
        if path == STDIN or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
            loaded = (
                load_text(decode(raw))
                if LIMIT_RANGE.encode() in raw or b"VerticalPod" in raw
                else None
            )
        except (OSError, LoadError):
            continue  # the lint says why it could not read it
        for document in loaded.documents if loaded else ():
            for _, obj in iter_objects(document.data):
                governor = _governor(obj, path)
                if governor is not None:
                    found.append(governor)
    return found


def _governor(obj: dict[str, Any], path: str) -> Governor | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    namespace = namespace if isinstance(namespace, str) else None
    if obj.get("kind") == LIMIT_RANGE and isinstance(name, str):
        return Governor(f'{LIMIT_RANGE} "{name}"', path, namespace)
    if obj.get("kind") == VPA:
        vpa = parse_vpa(obj)
        if vpa is not None:
            target = (vpa.target_kind, vpa.target_name)
            return Governor(f'{VPA} "{vpa.name}"', path, namespace, target)
    return None


def find_related(lint_input: LintInput, given: list[str], config: Config) -> Related:
    """The tracked workload files that read a source of the named files, or that a named
    LimitRange or VPA governs."""
    related = Related()
    sources = given_sources(lint_input, given)
    governors = given_governors(lint_input, given)
    if not sources and not governors:
        return related
    related.sources = sorted(
        f'{kind} "{name}"' for kind, names in sources.items() for name in names
    ) + sorted({g.label for g in governors})
    related.governed = bool(governors)
    linted = {os.path.realpath(p) for p in lint_input.paths if p != STDIN}
    for governor in governors:
        _add_governed(related, governor, linted, config)
    if not sources:
        return related
    names = sorted(name for names in sources.values() for name in names)
    for path in tracked_mentions(given, names, config.exclude, related.problems, config.folder):
        if os.path.realpath(path) in linted:
            continue
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            continue  # deleted in the work tree, unreadable: not this commit's business
        if not _ANY_REFERENCE.search(raw):
            continue
        readers = _readers(raw, sources)
        if readers:
            _add(related, path, readers)
    return related


def _add(related: Related, path: str, readers: set[tuple[str, str]]) -> None:
    if path not in related.readers:
        related.paths.append(path)
    related.readers.setdefault(path, set()).update(readers)


def _add_governed(related: Related, governor: Governor, linted: set[str], config: Config) -> None:
    """The tracked files holding workloads ``governor`` applies to: of its namespace (found
    by its name), its target (found by the target's name), or, with no namespace and no
    target, beside it (its folder and below)."""
    top = _git_top(os.path.dirname(os.path.abspath(governor.path)))
    if top is None:
        return
    if governor.target is not None:
        names, under = [governor.target[1]], ""
    elif governor.namespace is not None:
        names, under = [governor.namespace], ""
    else:
        folder = os.path.relpath(os.path.dirname(os.path.abspath(governor.path)), top)
        names, under = ["kind"], "" if folder == "." else folder + "/"
    for name in _git_grep(top, names, related.problems, under):
        path = _display_path(os.path.join(top, name))
        if os.path.realpath(path) in linted or _excluded_path(path, config):
            continue
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
            loaded = load_text(decode(raw))
        except (OSError, LoadError):
            continue  # deleted in the work tree, unreadable: not this commit's business
        governed = set()
        for document in loaded.documents:
            for _, obj in iter_objects(document.data):
                metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                namespace = metadata.get("namespace")
                namespace = namespace if isinstance(namespace, str) else None
                if is_workload(obj, config.registry) and governor.governs(obj, namespace):
                    governed.add((str(obj.get("kind")), str(metadata.get("name"))))
        if governed:
            _add(related, path, governed)


def _excluded_path(path: str, config: Config) -> bool:
    from oomguard.linter.run import _excluded

    return _excluded(path, config.exclude, config.folder)


def tracked_mentions(
    given: list[str],
    names: list[str],
    exclude: tuple[str, ...],
    problems: list[str],
    folder: str | None = None,
) -> Iterator[str]:
    """The git-tracked *.yaml, *.yml and *.json files of the repositories holding the named
    files that contain one of ``names``, as paths relative to the working directory when
    inside it. A repository git could not search is said in ``problems``."""
    from oomguard.linter.run import _excluded

    tops: list[str] = []
    for path in given:
        if path == STDIN or not os.path.isfile(path):
            continue
        top = _git_top(os.path.dirname(os.path.abspath(path)))
        if top and top not in tops:
            tops.append(top)
    for top in tops:
        for name in _git_grep(top, names, problems):
            path = _display_path(os.path.join(top, name))
            if not _excluded(path, exclude, folder):
                yield path


def _git_top(folder: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", folder, "rev-parse", "--show-toplevel"],
            capture_output=True,
            timeout=_GIT_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or it hung: nothing is searched (docs/ci.md says so)
    top = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return top if proc.returncode == 0 and top else None


def _git_grep(top: str, names: list[str], problems: list[str], under: str = "") -> list[str]:
    """Tracked manifest files (paths from ``top``, in its folder ``under`` and below) whose
    work-tree text holds a name."""
    patterns = [arg for name in names for arg in ("-e", name)]
    globs = [f"{under}*{suffix}" for suffix in MANIFEST_SUFFIXES]
    try:
        proc = subprocess.run(
            ["git", "-C", top, "grep", "-l", "-z", "-F", "--full-name", *patterns, "--", *globs],
            capture_output=True,
            timeout=_GIT_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        problems.append(f"git grep in {_display_path(top)} failed ({type(exc).__name__})")
        return []
    if proc.returncode == 1:  # no match
        return []
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        problems.append(
            f"git grep in {_display_path(top)} failed ({''.join(reason) or proc.returncode})"
        )
        return []
    return [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]


def _display_path(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _readers(raw: bytes, sources: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(kind, name) of the objects in a file that reference one of ``sources``."""
    try:
        loaded = load_text(decode(raw))
    except LoadError:
        return set()
    readers = set()
    for document in loaded.documents:
        for _, obj in iter_objects(document.data):
            if _references(obj, sources):
                metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                readers.add((str(obj.get("kind")), str(metadata.get("name"))))
    return readers


def _references(value: Any, sources: dict[str, set[str]]) -> bool:
    """Whether a reference key anywhere in ``value`` names one of ``sources``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for kind, keys in REFERENCE_KEYS.items():
                for key in keys:
                    ref = item.get(key)
                    if isinstance(ref, dict) and ref.get("name") in sources.get(kind, ()):
                        return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def related_findings(
    lint_input: LintInput, related: Related, config: Config, result: LintResult
) -> Iterator[Finding]:
    """Lint the related files with the input's sources first (the named ConfigMap wins over
    another of the same name) and hand out the findings about the objects that read one.
    Counts, notices and problems are added to ``result``."""
    for problem in related.problems:  # never a quiet pass: the readers were not looked for
        result.notices.append(
            f"the workloads that {'depend on' if related.governed else 'read'} "
            f"{_few(related.sources)} were not checked: {problem}"
        )
    if not related.paths:
        return
    extra = prepare(related.paths, config)
    extra.sources.put_first(lint_input.sources)  # ConfigMaps, LimitRanges and VPAs alike
    own = LintResult()
    for finding in iter_findings(extra, config, own):
        readers = related.readers.get(finding.file or "", set())
        if finding.kind is None or (finding.kind, str(finding.name)) in readers:
            yield finding
    result.files += own.files
    # only the readers are reported on, so only they count as checked
    result.objects += sum(len(readers) for readers in related.readers.values())
    result.notices.extend(own.notices)
    result.unreadable.extend(own.unreadable)
    result.crashes.extend(own.crashes)
    verb = "depend on" if related.governed else "read"
    result.notices.append(
        f"also checked {_few(related.paths)}: workloads there {verb} {_few(related.sources)} "
        "(--no-related turns this off)"
    )


def _few(items: list[str]) -> str:
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    return ", ".join(items[:3]) + more
