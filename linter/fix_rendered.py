"""``--fix`` and ``--diff`` on charts and overlays: the fix written where the value lives.

A rendered chart or overlay is fixed like a file (each document converged in memory by
:func:`oomguard.rules.converge.converge`, the loop ``/mutate`` and plain ``--fix`` use), but
the final operations are not written into the rendered text, which nobody edits. Each is
mapped to the scalar that set the value (:class:`~oomguard.linter.render.Origin`: a
``values.yaml`` or ``--values`` key, an overlay patch, a base resource):

* a ``replace`` whose rendered old text holds the origin's literal exactly once, and whose
  new text differs from the old only inside that occurrence, becomes a ``replace`` of that
  scalar with the new literal (``-Xmx{{ .Values.jvm.maxHeap }}``: ``2g`` → ``1536m``);
* anything else is reported, not written: a value written in a template, no single source,
  an ``add`` of a missing field, a change outside the literal, two findings wanting two
  values for one key.

The edits go through :func:`~oomguard.linter.fix_splice.patch_text` (comment-preserving,
verified by re-reading), and the scalar must read back as the origin's literal first.

This module is over 400 lines because it is one pipeline (rendered ops → origins → scalar
edits → file texts) whose every refusal needs its own notice; the splicing, rendering and
writing it relies on live in the other ``fix_*`` modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from oomguard.linter.fix import FileFix, read_for_fix
from oomguard.linter.fix_splice import FixError, load_like_linter, patch_text
from oomguard.linter.loader import load_text
from oomguard.linter.render import Origin, Path, Rendered
from oomguard.linter.render.helm import SET_FILE
from oomguard.linter.render.value_source import inline_sources
from oomguard.rules.config import Config
from oomguard.rules.converge import check_document, converge
from oomguard.rules.engine import lint_fix_enabled
from oomguard.rules.fixes import apply_patch, parse_pointer
from oomguard.rules.model import Finding, pointer


def fix_rendered(rendered: Rendered, config: Config) -> tuple[dict[str, str], list[str]]:
    """The files to rewrite (path → new text) and the notices for one chart or overlay."""
    plans, notices = plan_rendered([rendered], config)
    edits = {path: plan.fixed for path, plan in plans.items() if plan.fixed != plan.original}
    return edits, notices


@dataclass
class ScalarEdit:
    """One scalar in a file the user edits, to be rewritten from ``old`` to ``new`` text."""

    file: str
    document: int
    path: Path
    old: str  # Origin.literal
    new: str
    why: list[str] = field(default_factory=list)  # "rule (object)" of the findings it fixes
    places: set[tuple] = field(default_factory=set)  # (unit, document, rendered path)

    @property
    def key(self) -> tuple[str, int, Path]:
        return (self.file, self.document, self.path)


def plan_rendered(
    renderings: Iterable[Rendered], config: Config, skip: frozenset[str] | set[str] = frozenset()
) -> tuple[dict[str, FileFix], list[str]]:
    """Per file, its text before and after the fixes of every rendered unit in
    ``renderings`` (planned together: a base file two overlays render is edited once), and
    the notices for what is not rewritten. Files in ``skip`` (fixed as plain files) are not
    edited. Nothing is written."""
    notices: list[str] = []
    edits: dict[tuple[str, int, Path], ScalarEdit] = {}
    conflicts: set[tuple[str, int, Path]] = set()
    renderings = list(renderings)
    for unit, rendered in enumerate(renderings):
        for edit in _edits(rendered, config, notices):
            edit.places = {(unit, *place) for place in edit.places}
            known = edits.get(edit.key)
            if known is None:
                edits[edit.key] = edit
            elif known.new == edit.new:
                known.why.extend(w for w in edit.why if w not in known.why)
                known.places |= edit.places
            elif edit.key not in conflicts:
                conflicts.add(edit.key)
                notices.append(
                    f"{_where(edit)}: not fixed: findings want different values for it "
                    f"({known.new!r} for {', '.join(known.why)}; {edit.new!r} for "
                    f"{', '.join(edit.why)}): one value feeds several places, set it by hand"
                )
    for key in conflicts:
        del edits[key]
    notices.extend(_outside(renderings, edits))
    notices.extend(_shared(renderings, edits))
    by_file: dict[str, list[ScalarEdit]] = {}
    for edit in edits.values():
        if edit.file in skip:
            notices.append(f"{_where(edit)}: not fixed: the file is also fixed as a manifest")
            continue
        by_file.setdefault(edit.file, []).append(edit)
    plans = {}
    for path, file_edits in by_file.items():
        plan = _apply_to_file(path, file_edits)
        if plan.problem:
            notices.append(f"{path}: not fixed: {plan.problem}")
        plans[path] = plan
    return plans, list(dict.fromkeys(notices))


# --------------------------------------------------------------------------- ops → origins


def _edits(rendered: Rendered, config: Config, notices: list[str]) -> list[ScalarEdit]:
    """The scalar edits for the converged fixes of every document of ``rendered``."""
    sources = _rendered_sources(rendered)
    lookup = sources.lookup
    # every round judges the Pod the lint judged: with the unit's LimitRanges and VPAs
    context = {"limit_ranges": sources.limit_ranges_for, "vpas": sources.vpa_for}
    found = []
    for index, document in enumerate(rendered.documents):
        loaded = load_text(document.text)
        if loaded.errors or not loaded.documents:
            continue  # the lint reports it; nothing to fix
        if len(loaded.documents) > 1:
            notices.append(
                f"{document.source}: not fixed: one rendered entry holds several documents"
            )
            continue
        data = loaded.documents[0].data
        # env values read from this rendering's ConfigMaps/Secrets, written as literals, so
        # the rules offer their in-place fixes; those are written at the key's origin
        data, inlined = inline_sources(rendered, data, lookup)
        convergence = converge(
            data, config, lambda rule: lint_fix_enabled(rule, config), lookup=lookup, **context
        )
        if not convergence.rounds:
            continue
        why = _attribution(data, convergence.rounds, config, lookup, context)
        for op, old, new, problem in _net_changes(data, convergence.patch):
            label = why(op["path"])
            source = inlined.get(_path_tuple(data, op["path"])) if not problem else None
            if source is not None:  # the value lives in a ConfigMap/Secret key: fix it there
                edit = _map(
                    rendered,
                    source.document,
                    source.path,
                    source.text,
                    new,
                    label,
                    notices,
                    document.source,
                )
                if edit is not None:
                    found.append(edit)
                continue
            if problem:
                notices.append(f"{document.source}: {label}: not fixed: {problem}")
                continue
            edit = _map(
                rendered,
                index,
                _path_tuple(data, op["path"]),
                old,
                new,
                label,
                notices,
                document.source,
            )
            if edit is not None:
                found.append(edit)
    return found


def _net_changes(data: Any, patch: list[dict]) -> list[tuple[dict, Any, Any, str | None]]:
    """(op, old value, new value, problem) per changed path: replaces of one path in several
    rounds are one change (old from the rendered document, new from the final one); an
    ``add`` or ``remove`` has no scalar to rewrite, nor has a replace in a list it shifts."""
    final = apply_patch(data, patch)
    changes: dict[str, tuple[dict, Any, Any, str | None]] = {}
    structural: list[str] = []
    for op in patch:
        path = op["path"]
        if op["op"] == "add":
            changes[path] = (op, None, None, _ADD_PROBLEM.format(what=_add_hint(op)))
            if path.rsplit("/", 1)[1].isdigit():  # an insert shifts the items after it
                structural.append(path.rsplit("/", 1)[0] + "/")
        elif op["op"] == "remove":
            changes[path] = (
                op,
                None,
                None,
                "a removal has no single value to rewrite: remove it by hand",
            )
            structural.append(path.rsplit("/", 1)[0] + "/")
        elif path not in changes:
            if any(path.startswith(parent) for parent in structural):
                problem = "it follows an addition or removal in the same place: fix it by hand"
                changes[path] = (op, None, None, problem)
                continue
            try:
                old, new = _at(data, path), _at(final, path)
            except (KeyError, IndexError, ValueError, TypeError):
                changes[path] = (op, None, None, "the value is not in the rendered object")
                continue
            changes[path] = (op, old, new, None if old != new else "")
    return [change for change in changes.values() if change[3] != ""]


_ADD_PROBLEM = "an add of a missing field: set it in values (e.g. {what}) by hand"


def _add_hint(op: dict) -> str:
    """``resources.limits.memory: 1Gi`` for an add, as the user would write it."""
    where = _in_container(op["path"])
    leaves = list(_leaves(op["value"], ()))
    if not leaves or any(not path for path, _ in leaves):
        return f"{where}: {_text(op['value'])}" if _is_scalar(op["value"]) else where
    return ", ".join(
        ".".join([where, *(str(part) for part in path)]) + f": {value}" for path, value in leaves
    )


def _in_container(ptr: str) -> str:
    """``resources.limits.memory`` for a pointer into a container, else the dotted path."""
    parts = parse_pointer(ptr)
    for at in range(len(parts) - 2, 0, -1):
        if parts[at - 1] in ("containers", "initContainers") and parts[at].isdigit():
            return ".".join(parts[at + 1 :]) or _dotted(ptr)
    return _dotted(ptr)


def _map(
    rendered: Rendered,
    index: int,
    path: Path,
    old: Any,
    new: Any,
    label: str,
    notices: list[str],
    source: str,
) -> ScalarEdit | None:
    """The edit of the scalar that set the value at ``path`` of rendered document ``index``,
    or None with a notice."""

    def refuse(why: str, where: str = source) -> None:
        notices.append(f"{where}: {label}: not fixed: {why}")

    if not (_is_scalar(old) and _is_scalar(new)):
        refuse("the fix replaces a whole object; set it by hand")
        return None
    old_text, new_text = _text(old), _text(new)
    ptr = pointer(path)
    try:
        origin = rendered.origin(index, path, old_text)
    except Exception as exc:  # noqa: BLE001  an engine bug tracing one value: said, not fatal
        refuse(f"where {_dotted(ptr)} was set could not be traced ({type(exc).__name__}: {exc})")
        return None
    if not isinstance(origin, Origin):
        refuse(f"no single values key or patch sets {_dotted(ptr)} ({old_text!r})")
        return None
    if origin.file == SET_FILE:  # Helm's --set: a flag of this run, no file to rewrite
        refuse(
            f"no single values key or patch sets {_dotted(ptr)} ({old_text!r}): it comes "
            "from --set; change the flag"
        )
        return None
    if not origin.editable:
        where = f"{origin.file}:{origin.line + 1}"
        if "kustomize" in rendered.engine:
            what = "an env file line" if not origin.pointer_path else "an inline patch"
            refuse(
                f"value written in {what} at {where}, not a YAML value of its own — "
                "fix it there by hand"
            )
        else:
            refuse(f"value written in template {where} — not rewritten")
        return None
    literal = origin.literal
    if not literal or old_text.count(literal) != 1:
        refuse(
            f"{origin.file}:{origin.line + 1} sets {literal!r}, which appears "
            f"{old_text.count(literal) if literal else 0} times in {old_text!r}: rewriting it "
            f"would change more than the fix; fix it by hand"
        )
        return None
    start = old_text.index(literal)
    prefix, suffix = old_text[:start], old_text[start + len(literal) :]
    if not (
        new_text.startswith(prefix)
        and new_text.endswith(suffix)
        and len(new_text) >= len(prefix) + len(suffix)
    ):
        refuse(
            f"the fix ({old_text!r} → {new_text!r}) changes text outside what "
            f"{origin.file}:{origin.line + 1} sets ({literal!r}): fix it by hand"
        )
        return None
    replacement = new_text[len(prefix) : len(new_text) - len(suffix)]
    pointer_path = tuple(origin.pointer_path)
    places = {(index, path)}
    head, tail = origin.around
    if (head or tail) and _strips_quotes(replacement, head, tail):
        refuse(
            f"{origin.file}:{origin.line + 1}: kustomize would drop the quotes of {replacement!r}"
        )
        return None
    return ScalarEdit(
        origin.file,
        origin.document,
        pointer_path,
        head + literal + tail,
        head + replacement + tail,
        [label],
        places,
    )


def _strips_quotes(value: str, head: str, tail: str) -> bool:
    """An unquoted generator value that is itself quoted: kustomize would unquote it."""
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"')
    return quoted and not tail


def _outside(renderings: list[Rendered], edits: dict[tuple[str, int, Path], ScalarEdit]):
    """Notices for edits of an overlay's value in a file outside the overlay (its base)."""
    for edit in edits.values():
        for unit in sorted({place[0] for place in edit.places}):
            rendered = renderings[unit]
            if "kustomize" in rendered.engine and not _inside(edit.file, rendered.unit):
                yield (
                    f"{_where(edit)}: lies outside {rendered.unit} (a shared base): every "
                    f"overlay that uses it changes with it"
                )


def _shared(renderings: list[Rendered], edits: dict[tuple[str, int, Path], ScalarEdit]):
    """Notices for the other rendered places an edited scalar also sets (one values key
    feeding two workloads, only one of them with a finding): they change with it, so say so.
    Only values whose text holds an edited literal are traced (bounded, as the lint's)."""
    literals = {edit.old for edit in edits.values()}
    if not literals:
        return []
    notices = []
    for unit, rendered in enumerate(renderings):
        for index, document in enumerate(rendered.documents):
            loaded = load_text(document.text)
            if loaded.errors or len(loaded.documents) != 1:
                continue
            data = loaded.documents[0].data
            for path, value in _leaves(data, ()):
                text = _text(value)
                if not any(literal in text for literal in literals):
                    continue
                try:
                    origin = rendered.origin(index, path, text)
                except Exception:  # noqa: BLE001  tracing is best effort here: the write is checked
                    continue
                if not isinstance(origin, Origin):
                    continue
                edit = edits.get((origin.file, origin.document, tuple(origin.pointer_path)))
                if edit is None or (unit, index, path) in edit.places:
                    continue
                notices.append(
                    f"{_where(edit)}: also sets {_dotted(pointer(path))} of {_ref(data)} "
                    f"({document.source}), which changes with it to "
                    f"{text.replace(edit.old, edit.new, 1)!r}"
                )
    return notices


def _leaves(data: Any, path: Path):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for position, value in enumerate(data):
            yield from _leaves(value, (*path, position))
    elif _is_scalar(data):
        yield path, data


def _ref(data: Any) -> str:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{data.get('kind', '?') if isinstance(data, dict) else '?'}/{name or '?'}"


def _attribution(data: Any, rounds: list[list[dict]], config: Config, lookup, context: dict):
    """``pointer → "rule (object)"`` for notices: the finding of the round that wrote it."""
    stages: list[tuple[list[dict], list[Finding]]] = []
    work = data
    for ops in rounds:
        stages.append((ops, check_document(work, config, lookup, **context)))
        work = apply_patch(work, ops)

    def why(ptr: str) -> str:
        for _, findings in stages:
            for finding in findings:
                if not finding.fix or not lint_fix_enabled(finding.rule, config):
                    continue
                for intent in finding.fix:
                    written = pointer(tuple(intent["path"]))
                    if (
                        ptr == written
                        or ptr.startswith(written + "/")
                        or written.startswith(ptr + "/")
                    ):
                        return _label(finding)
        return "a fix"

    return why


def _label(finding: Finding) -> str:
    where = f", container {finding.container}" if finding.container else ""
    return f"{finding.rule} ({finding.object_ref}{where})"


def _rendered_sources(rendered: Rendered):
    """The unit's own ConfigMaps and Secrets (for env resolution), LimitRanges and VPAs, as
    the lint reads them."""
    from oomguard.linter.render_lint import rendered_index

    return rendered_index(rendered)


# --------------------------------------------------------------------------- one file


def _apply_to_file(path: str, edits: list[ScalarEdit]) -> FileFix:
    """``path``'s text with ``edits`` spliced in; each scalar must read as its literal."""
    read = read_for_fix(path)
    if read.problem is not None:
        return read
    text, bom = read.original, read.bom
    try:
        documents = {doc.index: doc.data for doc in load_like_linter(text, path)}
    except FixError as exc:
        return FileFix(text, text, bom, problem=str(exc))
    patches: dict[int, list[dict]] = {}
    problems = []
    count = 0
    for edit in edits:
        try:
            current = _value(documents[edit.document], edit.path)
        except (KeyError, IndexError, TypeError):
            problems.append(f"{_dotted(pointer(edit.path))} not found in it")
            continue
        value = _typed(current, edit.old, edit.new)
        if value is None:
            problems.append(
                f"{_dotted(pointer(edit.path))} reads {current!r}, not the value that was "
                f"rendered ({edit.old!r})"
            )
            continue
        patches.setdefault(edit.document, []).append(
            {"op": "replace", "path": pointer(edit.path), "value": value}
        )
        count += len(edit.why)
    problem = "; ".join(problems) or None
    if not patches:
        return FileFix(text, text, bom, problem=problem)
    try:
        fixed = patch_text(text, patches, path)
    except FixError as exc:
        return FileFix(text, text, bom, problem=str(exc))
    return FileFix(text, fixed, bom, problem, count)


def _typed(current: Any, literal: str, new: str) -> Any:
    """The new scalar in the type of the one written (a string stays a string, a number
    stays a number when the new text is one); None when ``current`` is not ``literal``."""
    if isinstance(current, bool) or not _is_scalar(current) or _text(current) != literal:
        return None
    if isinstance(current, int):
        return int(new) if new.isdigit() else new
    if isinstance(current, float):
        try:
            return float(new) if _text(float(new)) == new else new
        except ValueError:
            return new
    return new


# --------------------------------------------------------------------------- helpers


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _at(data: Any, ptr: str) -> Any:
    return _value(data, _path_tuple(data, ptr))


def _value(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _path_tuple(data: Any, ptr: str) -> Path:
    """A pointer as a path of keys and list indices (as findings and origins spell it)."""
    path: list[str | int] = []
    for part in parse_pointer(ptr):
        if isinstance(data, list):
            path.append(int(part))
            data = data[int(part)] if int(part) < len(data) else None
        else:
            path.append(part)
            data = data.get(part) if isinstance(data, dict) else None
    return tuple(path)


def _dotted(ptr: str) -> str:
    return ".".join(parse_pointer(ptr)) if ptr.startswith("/") else ptr


def _inside(path: str, directory: str) -> bool:
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(directory))
    return not relative.startswith("..")


def _where(edit: ScalarEdit) -> str:
    return f"{edit.file}: {_dotted(pointer(edit.path))}"
