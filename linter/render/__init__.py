"""Charts and overlays rendered by the real engines, and where each rendered value came from.

``oomguard lint PATH`` renders a directory holding ``Chart.yaml`` (or a packaged chart
``.tgz``) with Helm and a directory holding ``kustomization.yaml`` with kustomize, then lints
the rendered objects like any other input. Findings point at the source: :class:`Origin` says
which file, line and key set a rendered value (a ``values.yaml`` literal, an overlay patch, a
template), which is also where ``--fix`` writes.

The engines live in :mod:`.helm` and :mod:`.kustomize`; both return a :class:`Rendered`.
This module holds only the shared data types, so that the lint flow, the fixer and the
engines agree on one shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]


class RendererMissing(Exception):
    """The input needs a renderer this machine does not have: exit 2, one line saying what
    to install (never a silent pass)."""


class RenderError(Exception):
    """The renderer ran and refused the input (``required``/``fail`` in a template, a YAML
    error in values, a missing file in a kustomization): reported as a ``manifest-invalid``
    finding at ``file``/``line`` when the engine's message names them, else at the unit."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line  # 0-based, like Document positions


@dataclass(frozen=True)
class RenderOptions:
    """How one chart or overlay is rendered (CLI flags and ``.oomguard.yaml`` ``render:``)."""

    values: tuple[str, ...] = ()  # --values FILE, in order (Helm: later files win)
    set: tuple[str, ...] = ()  # --set key=value, Helm's own syntax and semantics
    release: str = "release-name"  # helm template's default release name
    namespace: str | None = None
    kube_version: str | None = None  # .Capabilities.KubeVersion, e.g. "1.30.0"
    kustomize_flags: tuple[str, ...] = ()  # e.g. ("--enable-helm",)


@dataclass(frozen=True)
class Origin:
    """Where a rendered value was written: a scalar in a YAML file the user edits.

    ``pointer_path`` locates the scalar inside document ``document`` of ``file`` (for
    :func:`oomguard.linter.fix_splice.patch_text`); ``literal`` is its text as written there,
    which occurs in the rendered value (a values literal may be only part of it:
    ``-Xmx{{ .Values.heap }}``). ``key`` is the dotted values key (``jvm.maxHeap``) for Helm.
    ``editable`` is False for a value written inside a template (reported, never rewritten).
    ``around`` is the text the scalar holds before and after ``literal`` when the scalar is
    more than the value (a kustomize generator literal ``KEY=value``): ``--fix`` rewrites only
    the part between them.
    """

    file: str
    line: int  # 0-based
    column: int  # 0-based
    literal: str
    pointer_path: Path = ()
    document: int = 0
    key: str | None = None
    editable: bool = True
    around: tuple[str, str] = ("", "")


@dataclass
class RenderedDocument:
    """One rendered YAML document and the file it came from (Helm's ``# Source:`` template,
    made relative like the unit path; kustomize's origin resource file)."""

    text: str
    source: str


@dataclass
class Rendered:
    """A rendered chart or overlay.

    ``origin(document, path, value)`` finds where the value at ``path`` (relative to the
    object in rendered document ``document``) was set; ``value`` is its rendered text. It
    re-renders as needed (bounded) and returns None when no single source is found.
    ``inputs`` are the files the rendering read (templates, values, patches, resources): a
    change to any of them means the unit must be linted again (pre-commit).
    """

    unit: str  # the chart / overlay directory (or .tgz) as given
    engine: str  # e.g. "helm v3.16.2 (CLI)", "helm-python-sdk 0.2.2", "kubectl kustomize"
    documents: list[RenderedDocument]
    origin: Callable[[int, Path, str], Origin | None]
    inputs: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def no_origin(document: int, path: Path, value: Any) -> Origin | None:
    """For engines (or inputs) where origins cannot be traced."""
    return None
