"""Where a rendered Helm value was set: a values file line, a ``--set`` flag or a template.

:func:`find_origin` is what :func:`oomguard.linter.render.helm.render_chart` returns as
``Rendered.origin``. Candidates are the leaf scalars of the chart's and subcharts'
``values.yaml``, the ``--values`` files and ``--set`` (the last writer of each values path)
whose text, as Helm prints it, equals or occurs in the rendered value. Exact matches first,
then the longest; at most :data:`~oomguard.linter.render.helm.MAX_RERENDERS` are re-rendered
(cached), each with a sentinel of the same type in its place. The one candidate that changes
the rendered field is the origin; when several do (``-Xms{{ .Values.a }} -Xmx{{ .Values.b }}``
with equal values) the exact match wins, else there is no single source (None). Line and column
are 0-based, of the scalar token (a quoted scalar starts at its quote); ``key`` and
``pointer_path`` are the path inside that file (a subchart's own values.yaml says ``heap``,
the parent's says ``worker.heap``); ``literal`` is the scalar as written. A ``--set`` value is
``Origin(file="<--set>", line=<index of the --set flag>, column=<offset of its value>,
editable=False)``. With no values literal, a value written verbatim in the document's
template is reported there, ``editable=False``.
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
from dataclasses import dataclass
from typing import Any

from oomguard.linter.render import Origin, Path, RenderedDocument, RenderOptions
from oomguard.linter.render.helm import (
    MAX_RERENDERS,
    SET_FILE,
    chart_names,
    documents_by_key,
    sdk_module,
    with_override,
)

_SENTINEL = "oomguardsentinel"


@dataclass(frozen=True)
class _Literal:
    """A leaf scalar of a values source: where it is, and its path in the chart's values."""

    file: str
    vpath: Path  # in the top chart's values (a subchart's `heap` is `sub.heap`)
    key_path: Path  # inside ``file``
    value: Any
    literal: str
    line: int
    column: int
    editable: bool


def find_origin(
    path: str,
    options: RenderOptions,
    documents: list[RenderedDocument],
    keys: list[tuple[str, int]],
    rerender: Any,
    literals: list[_Literal],
    document: int,
    field: Path,
    value: Any,
) -> Origin | None:
    """The origin of ``value`` at ``field`` of rendered document ``document`` (see module);
    ``literals`` from :func:`effective_literals`."""
    texts = [value] if isinstance(value, str) else list(_value_texts(value))
    wanted = texts[0]
    if not wanted.strip():
        return None
    original = _field(documents[document].text, field)
    candidates = [
        lit for lit in literals if any(text and text in wanted for text in _value_texts(lit.value))
    ]
    # Exact matches first, then the longest (most specific) texts.
    candidates.sort(key=lambda lit: (wanted not in _value_texts(lit.value), -len(lit.literal)))
    changers: list[_Literal] = []
    for number, lit in enumerate(candidates[:MAX_RERENDERS]):
        rendered = rerender(((lit.vpath, _sentinel(lit.value, number)),))
        if rendered is None:
            continue
        again = documents_by_key(rendered).get(keys[document])
        if again is None or _field(again, field) != original:
            changers.append(lit)
    exact = [lit for lit in changers if wanted in _value_texts(lit.value)]
    found = changers if len(changers) == 1 else exact if len(exact) == 1 else []
    if found:
        lit = found[0]
        return Origin(
            file=lit.file,
            line=lit.line,
            column=lit.column,
            literal=lit.literal,
            pointer_path=lit.key_path,
            key=_dotted(lit.key_path),
            editable=lit.editable,
        )
    if changers:
        return None  # several values make this field: no single source
    return _template_origin(path, documents[document].source, wanted)


def _field(text: str, field: Path) -> Any:
    import yaml

    try:
        node = yaml.safe_load(text)
    except yaml.YAMLError:
        return _SENTINEL  # unreadable after a re-render: counts as changed
    for step in field:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _sentinel(value: Any, number: int) -> Any:
    """A replacement of the same type (a string where a template does `| int` would fail)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7919 + number
    if isinstance(value, float):
        return value + 0.5 + number
    return f"{_SENTINEL}{number}"


def _value_texts(value: Any) -> tuple[str, ...]:
    """How Helm prints a value: strings as they are; numbers (float64 after Helm's YAML to
    JSON) by Go's %v, so 1000000 prints `1e+06`; also the plain decimal for `toJson`/`int`."""
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, int | float):
        plain = str(int(value)) if float(value).is_integer() else repr(float(value))
        return (_go_float(float(value)), plain)
    return (str(value),)


def _go_float(number: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): shortest digits, exponent form from 1e+06."""
    from decimal import Decimal

    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    if not isinstance(exponent, int):
        return repr(number)
    text = "".join(map(str, digits))
    point = len(digits) + exponent - 1
    if point < -4 or point >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    return f"{'-' if sign else ''}{Decimal(repr(number)).normalize():f}"


def _dotted(key_path: Path) -> str:
    out = ""
    for step in key_path:
        out += f"[{step}]" if isinstance(step, int) else ("." if out else "") + str(step)
    return out


def effective_literals(path: str, options: RenderOptions) -> list[_Literal]:
    """The last writer of each values path: subcharts' values.yaml, the chart's values.yaml,
    the --values files in order, then --set."""
    last: dict[Path, _Literal] = {}
    for file, text, prefix, editable in _values_sources(path, options):
        for lit in _literals(file, text, prefix, editable):
            last[lit.vpath] = lit
    for index, expression in enumerate(options.set):
        for vpath, value in _set_leaves(expression):
            literal = _value_texts(value)[-1] if not isinstance(value, str) else value
            at = expression.find("=" + literal)  # `a=1,b=2g`: the value's own offset
            column = at + 1 if at >= 0 else expression.find("=") + 1
            last[vpath] = _Literal(SET_FILE, vpath, vpath, value, literal, index, column, False)
    return list(last.values())


def _values_sources(path: str, options: RenderOptions) -> list[tuple[str, str, Path, bool]]:
    """(file as reported, its text, values prefix, editable), lowest precedence first."""
    sources: list[tuple[str, str, Path, bool]] = []
    if os.path.isdir(path):
        _chart_values(path, (), sources)
    else:
        _archive_values(path, (), sources)
    for file in options.values:
        try:
            with open(file, encoding="utf-8") as stream:
                sources.append((file, stream.read(), (), True))
        except (OSError, UnicodeDecodeError):
            continue  # read once by the render; gone now: no candidates from it
    return sources


def _chart_values(chart: str, prefix: Path, sources: list) -> None:
    """Subcharts first (deepest lowest): a parent's values override its subcharts'."""
    import yaml

    subcharts = os.path.join(chart, "charts")
    for entry in sorted(os.listdir(subcharts)) if os.path.isdir(subcharts) else []:
        where = os.path.join(subcharts, entry)
        if os.path.isfile(os.path.join(where, "Chart.yaml")):
            try:
                with open(os.path.join(where, "Chart.yaml"), encoding="utf-8") as stream:
                    name = (yaml.safe_load(stream) or {}).get("name") or entry
            except (OSError, yaml.YAMLError, AttributeError):
                continue
            names = chart_names(chart, name)
            _chart_values(where, prefix + (names[-1],), sources)  # an alias, if any
        elif entry.endswith(".tgz"):
            _archive_values(where, prefix, sources, chart)
    values = os.path.join(chart, "values.yaml")
    try:
        with open(values, encoding="utf-8") as stream:
            sources.append((posixpath.normpath(values), stream.read(), prefix, True))
    except (OSError, UnicodeDecodeError):
        pass


def _archive_values(archive_path: str, prefix: Path, sources: list, parent: str = "") -> None:
    """values.yaml files inside a packaged chart (not editable), deepest first. As a
    subchart of ``parent``, its values sit under its name (or alias)."""
    try:
        with tarfile.open(archive_path) as archive:
            found = []
            for member in archive.getmembers():
                steps = _archive_prefix(member.name) if member.isfile() else None
                if steps is not None:
                    data = archive.extractfile(member)
                    text = data.read().decode("utf-8", "replace") if data else ""
                    found.append((steps, member.name, text))
    except (OSError, tarfile.TarError):
        return
    if parent and found:
        top = found[0][1].split("/", 1)[0]
        prefix = prefix + (chart_names(parent, top)[-1],)
    for steps, name, text in sorted(found, key=lambda item: -len(item[0])):
        sources.append((f"{archive_path}/{name}", text, prefix + steps, False))


def _archive_prefix(name: str) -> Path | None:
    """``app/values.yaml`` -> (), ``app/charts/sub/values.yaml`` -> ("sub",)."""
    parts = name.split("/")
    if len(parts) < 2 or parts[-1] != "values.yaml" or len(parts) % 2:
        return None
    middle = parts[1:-1]
    if any(step != "charts" for step in middle[0::2]):
        return None
    return tuple(middle[1::2])


def _literals(file: str, text: str, prefix: Path, editable: bool) -> list[_Literal]:
    """Leaf scalars of one values file, with the 0-based line/column of each scalar token."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="rt").load(text)
    except (YAMLError, ValueError):
        return []
    lines = text.splitlines()
    out: list[_Literal] = []

    def walk(node: Any, key_path: Path) -> None:
        if isinstance(node, dict):
            items = [
                (k if isinstance(k, str) else str(k), v, node.lc.value(k)) for k, v in node.items()
            ]
        elif isinstance(node, list):
            items = [(i, v, node.lc.item(i)) for i, v in enumerate(node)]
        else:
            return
        for step, value, (line, column) in items:
            if isinstance(value, dict | list):
                walk(value, key_path + (step,))
            elif value is not None:
                plain = value if isinstance(value, bool | int | float) else str(value)
                literal = plain if isinstance(plain, str) else _token(lines, line, column)
                vpath = prefix + key_path + (step,)
                out.append(
                    _Literal(
                        file, vpath, key_path + (step,), plain, literal, line, column, editable
                    )
                )

    walk(data, ())
    return out


def _token(lines: list[str], line: int, column: int) -> str:
    found = re.match(r"[^\s,#\]}]+", lines[line][column:]) if line < len(lines) else None
    return found.group() if found else ""


def _set_leaves(expression: str) -> list[tuple[Path, Any]]:
    helm = sdk_module()
    if helm is not None:
        try:
            parsed: Any = helm.parse_set_string(expression)
        except helm.HelmError:
            return []
    else:  # CLI backend without the SDK: plain `a.b=value` only
        key, sep, value = expression.partition("=")
        if not sep or re.search(r"[,\[\]{}\\]", expression):
            return []
        parsed = with_override({}, ((tuple(key.split(".")), value),))
    out: list[tuple[Path, Any]] = []

    def walk(node: Any, vpath: Path) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, vpath + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, vpath + (index,))
        elif node is not None:
            out.append((vpath, node))

    walk(parsed, ())
    return out


def _template_origin(path: str, source: str, wanted: str) -> Origin | None:
    """A value written verbatim in the document's template: reported there, not editable."""
    text = _template_text(path, source)
    if text is None:
        return None
    found = re.search(r"(?<![\w.])" + re.escape(wanted) + r"(?![\w.])", text)
    if not found:
        return None
    line = text.count("\n", 0, found.start())
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1)
    return Origin(file=source, line=line, column=column, literal=wanted, editable=False)


def _template_text(path: str, source: str) -> str | None:
    """The template's text: a file, or a member of a packaged chart or subchart."""
    try:
        if os.path.isfile(source):
            with open(source, encoding="utf-8") as stream:
                return stream.read()
        archive_path, sep, member = source.partition(".tgz/")
        if sep and os.path.isfile(archive_path + ".tgz"):
            with tarfile.open(archive_path + ".tgz") as archive:
                data = archive.extractfile(member)
                return data.read().decode("utf-8", "replace") if data else None
    except (OSError, KeyError, tarfile.TarError, UnicodeDecodeError):
        return None
    return None
