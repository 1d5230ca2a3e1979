"""Lint charts and overlays: render each unit with the real engine, check the rendered
objects with the same engine as any file, and place each finding where its value was set.

* A finding's place is the :class:`~oomguard.linter.render.Origin` the engine traces (a
  ``values.yaml`` or patch line, or a template line for a literal written there), else the
  rendered object's source file (Helm's ``# Source:`` template, kustomize's resource file)
  without a line. ``rendered_from`` always names that source file.
* ``RenderError`` (``required``/``fail``, a bad values file, a missing resource) is a
  ``manifest-invalid`` finding at the file and line the engine names, else at the unit; the
  other units and files are still linted. ``RendererMissing`` is a usage error (exit 2).
* A rendered ConfigMap or Secret serves its own unit's workloads first, then the plain
  files' ones serve too.

Nothing here is imported by a run without charts or overlays (the engines load Helm's
shared library or start kustomize).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from oomguard.linter.loader import load_text
from oomguard.linter.render import Origin, Rendered, RendererMissing, RenderError, RenderOptions
from oomguard.linter.units import Unit
from oomguard.rules.config import Config, RenderSetting
from oomguard.rules.engine import check_object, invalid_document
from oomguard.rules.model import Finding
from oomguard.rules.sources import INDEX_KINDS, InputIndex
from oomguard.rules.workload import SOURCE_KINDS, iter_objects


@dataclass
class RenderedUnit:
    """A unit after the first pass: its rendering, or why there is none."""

    unit: Unit
    rendered: Rendered | None = None
    error: RenderError | None = None
    crash: str | None = None
    sources: Any = None  # rules/sources.InputIndex of its own ConfigMaps, Secrets, …
    notices: list[str] = field(default_factory=list)


def render_options(unit: Unit, config: Config) -> RenderOptions:
    """The config's matching ``render:`` entries in order, then the command line's flags:
    values files and ``--set`` add up (later wins, as in Helm), the others replace."""
    folder = config.folder
    settings: list[tuple[RenderSetting, str | None]] = [
        (entry, folder) for entry in config.render if _matches(entry.path, unit.path, folder)
    ]
    settings.append((config.render_flags, None))
    options = RenderOptions()
    for setting, base in settings:
        values = tuple(_relative_to(base, value) for value in setting.values)
        options = replace(
            options,
            values=options.values + values,
            set=options.set + setting.set,
            release=setting.release or options.release,
            namespace=setting.namespace or options.namespace,
            kube_version=setting.kube_version or options.kube_version,
            kustomize_flags=options.kustomize_flags + setting.kustomize_flags,
        )
    return options


def _matches(pattern: str | None, path: str, folder: str | None) -> bool:
    if pattern is None:
        return False
    base = folder or os.getcwd()
    relative = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
    return fnmatch.fnmatch(relative, pattern.rstrip("/"))


def _relative_to(base: str | None, path: str) -> str:
    """A config's values path, resolved against the config's folder, shown relative to the
    working directory (as findings show files)."""
    if base is None or os.path.isabs(path):
        return path
    joined = os.path.join(base, path)
    relative = os.path.relpath(joined)
    return joined if relative.startswith("..") else relative


def render_unit(unit: Unit, config: Config) -> RenderedUnit:
    """Render one unit. Raises RendererMissing (the caller makes it a usage error)."""
    options = render_options(unit, config)
    try:
        if unit.kind == "chart":
            from oomguard.linter.render.helm import render_chart

            rendered = render_chart(unit.path, options)
        else:
            from oomguard.linter.render.kustomize import build

            rendered = build(unit.path, options)
    except RendererMissing:
        raise
    except RenderError as exc:
        return RenderedUnit(unit, error=exc)
    except Exception as exc:  # noqa: BLE001  an engine bug on one unit must not end the run
        from oomguard.linter.run import _bug

        return RenderedUnit(unit, crash=_bug(exc))
    return RenderedUnit(unit, rendered=rendered)


def add_sources(done: RenderedUnit) -> None:
    """The unit's rendered ConfigMaps and Secrets (and LimitRanges and VPAs), for its own
    workloads."""
    done.sources = rendered_index(done.rendered) if done.rendered is not None else InputIndex()


def rendered_index(rendered: Any) -> InputIndex:
    """The index of a rendering's ConfigMaps, Secrets, LimitRanges and VPAs (render.Rendered),
    as the lint reads them (also for --fix, linter/fix_rendered.py)."""
    index = InputIndex()
    for document in rendered.documents:
        if not any(kind in document.text for kind in INDEX_KINDS):
            continue
        for loaded in load_text(document.text).documents:
            for _, obj in iter_objects(loaded.data):
                index.add(obj)
    return index


def unit_findings(done: RenderedUnit, config: Config, plain: Any, result: Any) -> list[Finding]:
    """Every finding of one rendered unit, placed at its source; counts and notices go to
    ``result`` (a run.LintResult), crashes too."""
    unit = done.unit
    if done.crash is not None:
        result.crashes.append(f"{unit.path}: failed while rendering it: {done.crash}")
        message = f"oomguard failed while rendering it: {done.crash} (a bug: please report it)"
        return [invalid_document(message, file=unit.path, line=None, column=None)]
    if done.error is not None:
        return [_render_failed(unit, done.error)]
    rendered = done.rendered
    assert rendered is not None
    result.rendered.append((unit.kind, rendered.engine))
    result.renderings.append(rendered)  # --fix/--diff map fixes to origins through it
    result.notices.extend(f"{unit.path}: {notice}" for notice in rendered.notices)

    def lookup(kind: str, namespace: str | None, name: str) -> dict[str, str] | None:
        found = done.sources.lookup(kind, namespace, name)
        return found if found is not None else plain.lookup(kind, namespace, name)

    def limit_ranges(namespace: str | None) -> list:
        """The unit's LimitRanges of the namespace, then the plain files' (issue 17)."""
        return [*done.sources.limit_ranges_for(namespace), *plain.limit_ranges_for(namespace)]

    def vpas(namespace: str | None, kind: str, name: str) -> Any:
        return done.sources.vpa_for(namespace, kind, name) or plain.vpa_for(namespace, kind, name)

    findings: list[Finding] = []
    for index, document in enumerate(rendered.documents):
        loaded = load_text(document.text)
        for error in loaded.errors:
            message = f"rendered output does not parse: {error.message}"
            findings.append(invalid_document(message, file=document.source))
        for parsed in loaded.documents:
            for prefix, obj in iter_objects(parsed.data):
                if obj.get("kind") in SOURCE_KINDS or not isinstance(obj.get("kind"), str):
                    continue
                try:
                    evaluation = check_object(
                        obj,
                        config,
                        lookup=lookup,
                        prefix=prefix,
                        limit_ranges=limit_ranges,
                        vpas=vpas,
                    )
                except Exception as exc:  # noqa: BLE001  one object must not hide the rest
                    from oomguard.linter.run import _bug

                    what = f"checking an object rendered from it: {_bug(exc)}"
                    result.crashes.append(f"{document.source}: failed while {what}")
                    findings.append(
                        invalid_document(f"oomguard failed while {what}", file=document.source)
                    )
                    continue
                result.objects += evaluation.checked
                result.unknown_kinds += evaluation.unknown_kind
                result.crashes.extend(evaluation.crashes)
                result.notices.extend(f"{document.source}: {n}" for n in evaluation.notices)
                for finding in evaluation.findings:
                    findings.append(
                        _placed(
                            finding,
                            rendered,
                            index,
                            parsed.data,
                            result,
                            (obj, prefix, lookup, config),
                        )
                    )
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.column or 0, f.rule))


def _render_failed(unit: Unit, error: RenderError) -> Finding:
    line = error.line + 1 if error.line is not None else None
    return invalid_document(
        f"cannot render {unit.kind} {unit.path}: {error.message}",
        file=error.file or unit.path,
        line=line,
        column=1 if line is not None else None,
    )


def _placed(
    finding: Finding, rendered: Rendered, index: int, data: Any, result: Any, where: tuple = ()
) -> Finding:
    """The finding at the line that set its value, or at the rendered object's source. A
    value read from a ConfigMap/Secret of the same rendering (``configMapKeyRef``,
    ``envFrom``) is traced from that object's key (:mod:`.render.value_source`)."""
    source = rendered.documents[index].source
    origin = None
    value = _value_at(data, finding.path)
    try:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            origin = rendered.origin(index, finding.path, str(value))
        if origin is None and where:
            origin = _from_config_source(finding, rendered, *where[:3])
            if isinstance(origin, Origin) and origin.editable and not finding.fix:
                finding = finding.located(fix=_inlined_fix(finding, rendered, *where))
    except Exception as exc:  # noqa: BLE001  no origin is a worse place, not a lost finding
        from oomguard.linter.run import _bug

        result.notices.append(f"{source}: where a value was set not traced: {_bug(exc)}")
    if isinstance(origin, Origin):
        return finding.located(
            file=origin.file,
            line=origin.line + 1,
            column=origin.column + 1,
            document=origin.document,
            rendered_from=source,
            values_key=origin.key,
            origin=origin,
            # a value written inside a template is reported there, never rewritten
            fix=finding.fix if origin.editable else (),
        )
    return finding.located(file=source, line=None, column=None, rendered_from=source, fix=())


def _from_config_source(
    finding: Finding, rendered: Rendered, obj: Any, prefix: tuple, lookup: Any
) -> Origin | None:
    """The origin of the ConfigMap/Secret key the finding's env value came from, when the
    rendering holds that object and exactly one such key is involved."""
    from oomguard.linter.render.value_source import env_sources

    found = env_sources(rendered, obj, prefix, finding, lookup)
    if len({(s.document, s.path) for s in found}) != 1:
        return None
    source = found[0]
    origin = rendered.origin(source.document, source.path, source.text)
    return origin if isinstance(origin, Origin) else None


def _inlined_fix(
    finding: Finding, rendered: Rendered, obj: Any, prefix: tuple, lookup: Any, config: Config
):
    """The fix the rules offer once the ConfigMap value is written as a literal (what
    ``--fix`` writes at the key's origin), so the finding counts as fixable; () if none."""
    from oomguard.linter.render.value_source import inline_sources

    inlined, mapping = inline_sources(rendered, obj, lookup)
    if not mapping:
        return ()
    for other in check_object(inlined, config, lookup=lookup, prefix=prefix).findings:
        if other.rule == finding.rule and other.container == finding.container:
            written = {tuple(op["path"])[len(prefix) :] for op in other.fix}
            if written & set(mapping):
                return other.fix
    return ()


def _value_at(data: Any, path: tuple) -> Any:
    for part in path:
        if (
            isinstance(data, dict)
            and part in data
            or isinstance(data, list)
            and isinstance(part, int)
            and 0 <= part < len(data)
        ):
            data = data[part]
        else:
            return None
    return data


def dedupe(findings: Iterator[Finding]) -> Iterator[Finding]:
    """Drop a finding already reported at the same place for the same container with the
    same words (a plain file an overlay also reads as a resource, a base rendered alone and
    through its overlay)."""
    seen: set[tuple] = set()
    for finding in findings:
        key = (
            finding.rule,
            finding.file,
            finding.line,
            finding.column,
            finding.container,
            finding.message,
        )
        if key not in seen:
            seen.add(key)
            yield finding
