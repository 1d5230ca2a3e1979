"""Where a value of a kustomize-rendered object was written (``Rendered.origin``).

Over ~400 lines because the three kinds of origin (patches, the resource file, generators)
share the object/target matching, the merge-key navigation and the YAML position helpers;
split apart they would import each other's internals.

``Rendered.origin(document, path, value)`` answers, first match wins:

1. the patches of the kustomizations in that object's transformations annotation, newest
   (closest to the unit) first, and within one kustomization the later patch first
   (``patchesJson6902``, ``patches``, ``patchesStrategicMerge``, each from its end).
   A patch counts only when it targets the object (``target:`` selector, or the patch's own
   kind/name) and writes exactly ``value`` at ``path``: a strategic-merge patch navigated
   through lists by merge key (``name``, ``mountPath``, ``containerPort``), a JSON6902
   ``add``/``replace`` op whose path is ``path`` or a prefix of it. The Origin points at the
   scalar in the patch file (``pointer_path`` inside its document; for a JSON6902 file
   ``(op index, "value", ...)``). An inline ``patch: |`` in kustomization.yaml is found
   the same way and reported at its line inside kustomization.yaml, ``editable=False``:
   the scalar there is the whole patch text, so the edit is not "replace one scalar".
2. the resource file named by the origin annotation: the document of the same kind and
   name, the scalar at ``path`` (lists by merge key), if it equals ``value``.
3. for a generated ConfigMap/Secret and ``path == ("data", KEY)``: the ``KEY=value``
   literal of the generator (overlays with ``behavior: merge/replace`` first), or the
   ``KEY=value`` line of its ``envs:`` file. Line/column point at the value after ``KEY=``,
   ``literal`` is that value text, ``pointer_path`` is the literal's list item in
   kustomization.yaml, ``around`` the ``KEY=`` (and quote) text around the value in that
   scalar, so ``--fix`` rewrites the value part only. An ``envs:`` file line
   (``pointer_path == ()``) is ``editable=False``: it is not YAML.

Anything else (``images:``, ``replicas:``, replacements, remote bases, a value no file
holds as written) is None: no single source. Bounds: only the files the annotations name
(and the kustomization tree for ``inputs``) are read, each parsed once per build and
cached; there is no recursion over bases here — kustomize itself resolves them.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from oomguard.linter.render import Origin, Path
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

# libyaml when present: the transformations annotation of each object lists every transformer
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# strategic-merge keys of the Kubernetes list fields a memory setting lives under
MERGE_KEYS = ("name", "mountPath", "containerPort", "devicePath")
PATCH_TRANSFORMERS = {
    "PatchTransformer",
    "PatchStrategicMergeTransformer",
    "PatchJson6902Transformer",
}

# --------------------------------------------------------------------------- paths


@dataclass
class UnitPaths:
    """Conversions between kustomize's paths and paths shown to the user (relative like the
    unit path given: unit ``deploy/overlays/prod`` → ``deploy/base/deployment.yaml``)."""

    unit: str  # the overlay directory as given
    unit_real: str
    temp_real: str

    def from_annotation(self, relative: str) -> str:
        return os.path.normpath(os.path.join(self.temp_real, relative))

    def show(self, real: str) -> str:
        try:
            rel = os.path.relpath(real, self.unit_real)
        except ValueError:  # another drive: no relative form
            return real
        return os.path.normpath(os.path.join(self.unit, rel))


def kustomization_file(directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


# --------------------------------------------------------------------------- files


@dataclass
class _Parsed:
    text: str
    documents: list[Any] | None  # ruamel round-trip documents; None when unreadable


class FileCache:
    """Each file read and parsed once per build."""

    def __init__(self) -> None:
        self._cache: dict[str, _Parsed] = {}
        self._yaml = YAML(typ="rt")

    def get(self, real: str) -> _Parsed:
        if real not in self._cache:
            try:
                with open(real, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                self._cache[real] = _Parsed("", None)
                return self._cache[real]
            self._cache[real] = _Parsed(text, self.parse(text))
        return self._cache[real]

    def parse(self, text: str) -> list[Any] | None:
        try:
            # empty documents are left out, as the linter numbers documents
            return [doc for doc in self._yaml.load_all(text) if doc is not None]
        except Exception:  # any YAML error: this file gives no origins
            return None


# --------------------------------------------------------------------------- origins


@dataclass
class _Object:
    obj: dict  # the rendered object without the build-metadata annotations
    source: str
    resource: str | None = None  # real path of the resource file (origin annotation)
    generator: tuple[str, str] | None = None  # (real kustomization path, generator kind)
    configured_in: list[str] = field(default_factory=list)  # patching kustomizations, oldest first
    remote: bool = False  # from a remote base (git/https): no local file to point at


class Tracer:
    """Per-build origin lookups over the rendered objects and the files they name."""

    def __init__(self, paths: UnitPaths, files: FileCache, kustomizations: list[str]) -> None:
        self.paths = paths
        self.files = files
        self.kustomizations = kustomizations
        self.objects: list[_Object] = []
        self.inline: dict[tuple[str, str, int], list[Any] | None] = {}

    def add(self, data: dict) -> _Object:
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        origin = transformations = None
        if isinstance(annotations, dict):
            origin = _yaml_field(annotations.pop(ORIGIN_ANNOTATION, None))
            transformations = _yaml_field(annotations.pop(TRANSFORMATIONS_ANNOTATION, None))
            if not annotations:
                del metadata["annotations"]
        unit_kustomization = self.kustomizations[0] if self.kustomizations else self.paths.unit_real
        info = _Object(obj=data, source=self.paths.show(unit_kustomization))
        if isinstance(origin, dict):
            info.remote = bool(origin.get("repo"))
            if isinstance(origin.get("path"), str) and not origin.get("repo"):
                info.resource = self.paths.from_annotation(origin["path"])
                info.source = self.paths.show(info.resource)
            elif isinstance(origin.get("configuredIn"), str) and not origin.get("repo"):
                kfile = self.paths.from_annotation(origin["configuredIn"])
                by = (
                    origin.get("configuredBy")
                    if isinstance(origin.get("configuredBy"), dict)
                    else {}
                )
                info.generator = (kfile, str(by.get("kind", "")))
                info.source = self.paths.show(kfile)
        if isinstance(transformations, list):
            for item in transformations:
                if not isinstance(item, dict) or not isinstance(item.get("configuredIn"), str):
                    continue
                by = item.get("configuredBy") if isinstance(item.get("configuredBy"), dict) else {}
                if by.get("kind") not in PATCH_TRANSFORMERS:
                    continue
                kfile = self.paths.from_annotation(item["configuredIn"])
                if kfile in info.configured_in:
                    info.configured_in.remove(kfile)
                info.configured_in.append(kfile)
        self.objects.append(info)
        return info

    def origin(self, document: int, path: Path, value: Any) -> Origin | None:
        if not isinstance(document, int) or not 0 <= document < len(self.objects) or not path:
            return None
        info = self.objects[document]
        path = tuple(path)
        want = value if isinstance(value, str) else _text(value)
        for kfile in reversed(info.configured_in):  # the overlay closest to the unit first
            found = self._from_patches(kfile, info, path, want)
            if found is not None:
                return found
        if info.resource is not None:
            found = self._from_resource(info, path, want)
            if found is not None:
                return found
        if info.generator is not None:
            return self._from_generator(info, path, want)
        return None

    # ---- patches

    def _from_patches(self, kfile: str, info: _Object, path: Path, want: str) -> Origin | None:
        kustomization = self._kustomization(kfile)
        if kustomization is None:
            return None
        for key, index, item in _patch_entries(kustomization):
            target = item.get("target") if isinstance(item, dict) else None
            if isinstance(target, dict) and not self._selects(target, info):
                continue
            source = self._patch_source(kfile, kustomization, key, index, item)
            if source is None:
                continue
            docs, place = source
            if key == "patchesJson6902" or (len(docs) == 1 and isinstance(docs[0], list)):
                if not isinstance(target, dict) or not docs or not isinstance(docs[0], list):
                    continue  # JSON6902 ops apply only through a target
                found = _in_ops(docs[0], path, info.obj, want)
                if found is not None:
                    return place(found[0], found[1], found[2], 0)
                continue
            for number, doc in enumerate(docs):
                if not isinstance(doc, dict):
                    continue
                if not isinstance(target, dict) and not self._patch_names(doc, info):
                    continue
                found = _locate(doc, path, info.obj)
                if found is not None and _text(found[0][found[1]]) == want:
                    return place(found[0], found[1], found[2], number)
        return None

    def _patch_source(self, kfile: str, kustomization: Any, key: str, index: int, item: Any):
        """(patch documents, function making the Origin) of one patch entry, or None."""
        file_name = item.get("path") if isinstance(item, dict) else None
        if isinstance(item, str) and "\n" not in item:  # patchesStrategicMerge: a file name
            file_name = item
        if isinstance(file_name, str):
            real = os.path.normpath(os.path.join(os.path.dirname(kfile), file_name))
            parsed = self.files.get(real)
            if not parsed.documents:
                return None

            def in_file(container: Any, k: Any, pointer: Path, number: int) -> Origin:
                line, column = _position(container, k)
                return Origin(
                    file=self.paths.show(real),
                    line=line,
                    column=column,
                    literal=_text(container[k]),
                    pointer_path=pointer,
                    document=number,
                )

            return parsed.documents, in_file
        # an inline patch: a string in kustomization.yaml
        holder, holder_key = (item, "patch") if isinstance(item, dict) else (None, None)
        if holder is None:
            holder, holder_key = kustomization.get(key), index
        text = holder.get(holder_key) if isinstance(holder, dict) else holder[holder_key]
        if not isinstance(text, str):
            return None
        cache_key = (kfile, key, index)
        if cache_key not in self.inline:
            self.inline[cache_key] = self.files.parse(text)
        docs = self.inline[cache_key]
        if not docs:
            return None
        start_line, start_column = _position(holder, holder_key)
        kustomization_text = self.files.get(kfile).text.splitlines()
        block_indent = None
        if isinstance(text, LiteralScalarString):
            # a literal block: its lines are kustomization.yaml's lines from the next one on,
            # indented by the block's indentation
            for content in kustomization_text[start_line + 1 :]:
                if content.strip():
                    block_indent = len(content) - len(content.lstrip(" "))
                    break
        pointer_base: Path = (key, index, "patch") if isinstance(item, dict) else (key, index)

        def inline(container: Any, k: Any, pointer: Path, number: int) -> Origin:
            line, column = _position(container, k)
            if block_indent is not None:
                line, column = start_line + 1 + line, block_indent + column
            else:  # a quoted or folded string: only the patch itself can be pointed at
                line, column = start_line, start_column
            return Origin(
                file=self.paths.show(kfile),
                line=line,
                column=column,
                literal=_text(container[k]),
                pointer_path=pointer_base,
                document=0,
                editable=False,
            )

        return docs, inline

    def _selects(self, target: dict, info: _Object) -> bool:
        """Whether a patch ``target:`` selects this object (the name as a kustomize regex)."""
        obj = info.obj
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        if target.get("kind") and target["kind"] != obj.get("kind"):
            return False
        if target.get("group") is not None and str(target["group"]) != group:
            return False
        if target.get("version") and str(target["version"]) != version:
            return False
        if target.get("name") and not self._name_matches(str(target["name"]), info, regex=True):
            return False
        metadata = obj.get("metadata") or {}
        for selector, have in (
            (target.get("labelSelector"), metadata.get("labels")),
            (target.get("annotationSelector"), metadata.get("annotations")),
        ):
            if selector and not _selector_matches(str(selector), have or {}):
                return False
        return True

    def _patch_names(self, doc: dict, info: _Object) -> bool:
        """Whether a strategic-merge patch document (no target) is for this object."""
        if doc.get("kind") and doc["kind"] != info.obj.get("kind"):
            return False
        name = (
            (doc.get("metadata") or {}).get("name")
            if isinstance(doc.get("metadata"), dict)
            else None
        )
        return isinstance(name, str) and self._name_matches(name, info, regex=False)

    def _name_matches(self, name: str, info: _Object, regex: bool) -> bool:
        """The patch's name against the object's name at some layer: its original name, its
        rendered name, or one between (original inside it, it inside the rendered name —
        prefixes and suffixes of the layers below the patch)."""
        rendered = str((info.obj.get("metadata") or {}).get("name", ""))
        original = self._original_name(info) or rendered
        if regex:
            try:
                pattern = re.compile(name)
            except re.error:
                pattern = re.compile(re.escape(name))
            if pattern.fullmatch(original) or pattern.fullmatch(rendered):
                return True
        return name in (original, rendered) or (original in name and name in rendered)

    def _original_name(self, info: _Object) -> str | None:
        found = self._resource_document(info)
        if found is not None:
            name = (found[1].get("metadata") or {}).get("name")
            return str(name) if name is not None else None
        return None

    # ---- resource file

    def _resource_document(self, info: _Object) -> tuple[int, Any] | None:
        if info.resource is None:
            return None
        docs = self.files.get(info.resource).documents or []
        rendered = str((info.obj.get("metadata") or {}).get("name", ""))
        best = None
        for number, doc in enumerate(docs):
            if not isinstance(doc, dict) or doc.get("kind") != info.obj.get("kind"):
                continue
            metadata = doc.get("metadata")
            name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
            if name == rendered:
                return number, doc
            if name and name in rendered and (best is None or len(name) > best[2]):
                best = (number, doc, len(name))
        return (best[0], best[1]) if best else None

    def _from_resource(self, info: _Object, path: Path, want: str) -> Origin | None:
        found_doc = self._resource_document(info)
        if found_doc is None or info.resource is None:
            return None
        number, doc = found_doc
        found = _locate(doc, path, info.obj)
        if found is None or _text(found[0][found[1]]) != want:
            return None
        container, key, pointer = found
        line, column = _position(container, key)
        return Origin(
            file=self.paths.show(info.resource),
            line=line,
            column=column,
            literal=_text(container[key]),
            pointer_path=pointer,
            document=number,
        )

    # ---- generators

    def _from_generator(self, info: _Object, path: Path, want: str) -> Origin | None:
        assert info.generator is not None
        kfile, kind = info.generator
        field_name = {
            "ConfigMapGenerator": "configMapGenerator",
            "SecretGenerator": "secretGenerator",
        }
        generators = field_name.get(kind)
        if generators is None or len(path) != 2 or path[0] not in ("data", "stringData"):
            return None
        key = str(path[1])
        if kind == "SecretGenerator" and path[0] == "data":
            try:
                want = base64.b64decode(want, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
        rendered = str((info.obj.get("metadata") or {}).get("name", ""))
        # overlays merging into the generator (nearest first), then the one that created it
        for candidate in [k for k in self.kustomizations if k != kfile] + [kfile]:
            kustomization = self._kustomization(candidate)
            if kustomization is None:
                continue
            for number, generator in enumerate(kustomization.get(generators) or []):
                if not isinstance(generator, dict) or not generator.get("name"):
                    continue
                if str(generator["name"]) not in rendered:
                    continue
                if candidate != kfile and generator.get("behavior") not in ("merge", "replace"):
                    continue
                found = self._in_generator(candidate, generators, number, generator, key, want)
                if found is not None:
                    return found
        return None

    def _in_generator(
        self, kfile: str, generators: str, number: int, generator: Any, key: str, want: str
    ) -> Origin | None:
        literals = generator.get("literals")
        lines = self.files.get(kfile).text.splitlines()
        if isinstance(literals, list):
            for index, literal in enumerate(literals):
                if not isinstance(literal, str):
                    continue
                name, sep, written = literal.partition("=")
                if not sep or name.strip() != key:
                    continue
                offset, written = _unquote(written)
                if written != want:
                    continue
                line, column = _position(literals, index)
                source = lines[line] if line < len(lines) else ""
                quote = 1 if source[column : column + 1] in ("'", '"') else 0
                if source[column + quote :].startswith(literal):  # written as is: point at it
                    column += quote + len(name) + 1 + offset
                # the scalar is `KEY=value`: --fix rewrites the value part only (the scalar
                # must still read `KEY=value` when the fix is written; fix_rendered checks)
                head = literal[: len(literal) - len(literal.partition("=")[2]) + offset]
                return Origin(
                    file=self.paths.show(kfile),
                    line=line,
                    column=column,
                    literal=written,
                    pointer_path=(generators, number, "literals", index),
                    document=0,
                    around=(head, literal[len(head) + len(written) :]),
                )
        env_files = list(generator.get("envs") or [])
        if isinstance(generator.get("env"), str):
            env_files.append(generator["env"])
        for env_file in env_files:
            if not isinstance(env_file, str):
                continue
            real = os.path.normpath(os.path.join(os.path.dirname(kfile), env_file))
            for number_line, text in enumerate(self.files.get(real).text.splitlines()):
                stripped = text.lstrip()
                name, sep, written = stripped.partition("=")
                if stripped.startswith("#") or not sep or name.strip() != key:
                    continue
                offset, value = _unquote(written)
                if value != want:
                    continue
                return Origin(
                    file=self.paths.show(real),
                    line=number_line,
                    column=len(text) - len(stripped) + len(name) + 1 + offset,
                    literal=value,
                    pointer_path=(),
                    document=0,
                    editable=False,
                )
        return None

    def _kustomization(self, kfile: str) -> Any:
        docs = self.files.get(kfile).documents
        return docs[0] if docs and isinstance(docs[0], dict) else None


def _patch_entries(kustomization: Any) -> list[tuple[str, int, Any]]:
    """(field, index, entry) of a kustomization's patches, the last applied first."""
    entries: list[tuple[str, int, Any]] = []
    for key in ("patchesJson6902", "patches", "patchesStrategicMerge"):
        items = kustomization.get(key)
        if isinstance(items, list):
            entries += [(key, index, items[index]) for index in reversed(range(len(items)))]
    return entries


def _in_ops(ops: list, path: Path, rendered: Any, want: str) -> tuple[Any, Any, Path] | None:
    """The ``add``/``replace`` op (the last first) whose value writes ``want`` at ``path``."""
    for index in reversed(range(len(ops))):
        op = ops[index]
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace"):
            continue
        if "value" not in op or not isinstance(op.get("path"), str):
            continue
        rest = _after_pointer(op["path"], path, rendered)
        if rest is None:
            continue
        if not rest:
            found: tuple[Any, Any, Path] | None = (op, "value", ())
        else:
            found = _locate(op["value"], rest, None)
        if found is None:
            continue
        container, key, pointer = found
        if isinstance(container[key], (dict, list)) or _text(container[key]) != want:
            continue
        return container, key, (index, "value", *pointer)
    return None


def _after_pointer(pointer: str, path: Path, rendered: Any) -> Path | None:
    """The part of ``path`` below the JSON pointer ``pointer``, or None if it is not above."""
    if not pointer.startswith("/"):
        return None
    segments = [s.replace("~1", "/").replace("~0", "~") for s in pointer[1:].split("/")]
    if len(segments) > len(path):
        return None
    node = rendered
    for segment, step in zip(segments, path, strict=False):
        if isinstance(step, int):
            last = isinstance(node, list) and step == len(node) - 1
            if segment != str(step) and not (segment == "-" and last):
                return None
        elif segment != step:
            return None
        node = _step(node, step)
    return tuple(path[len(segments) :])


def _step(node: Any, step: Any) -> Any:
    if isinstance(step, int):
        return node[step] if isinstance(node, list) and 0 <= step < len(node) else None
    return node.get(step) if isinstance(node, dict) else None


def _locate(node: Any, path: Path, rendered: Any) -> tuple[Any, Any, Path] | None:
    """(container, key, pointer) of the scalar at ``path`` in ``node``. List items are found
    by the merge key of the rendered item (``rendered`` None: by position)."""
    pointer: list[Any] = []
    container: Any = None
    key: Any = None
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list):
                return None
            item = _step(rendered, step) if rendered is not None else None
            merge = next((k for k in MERGE_KEYS if isinstance(item, dict) and k in item), None)
            if merge is not None:
                index = next(
                    (
                        i
                        for i, c in enumerate(node)
                        if isinstance(c, dict) and c.get(merge) == item[merge]
                    ),
                    None,
                )
            else:
                index = step if 0 <= step < len(node) else None
            if index is None:
                return None
            container, key = node, index
            rendered = item
        else:
            if not isinstance(node, dict) or step not in node:
                return None
            container, key = node, step
            rendered = _step(rendered, step)
        pointer.append(key)
        node = container[key]
    if container is None or isinstance(node, (dict, list)):
        return None
    return container, key, tuple(pointer)


def _position(container: Any, key: Any) -> tuple[int, int]:
    if isinstance(key, int) and isinstance(container, list):
        line, column = container.lc.item(key)
    else:
        line, column = container.lc.value(key)
    return int(line), int(column)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _unquote(written: str) -> tuple[int, str]:
    """(characters skipped, value) of ``KEY=value`` text: kustomize drops one pair of quotes."""
    if len(written) >= 2 and written[0] == written[-1] and written[0] in ("'", '"'):
        return 1, written[1:-1]
    return 0, written


def _selector_matches(selector: str, have: dict) -> bool:
    """Equality-based selectors (``a=b,c!=d,e,!f``); a set-based one is taken as matching
    (the value check still decides)."""
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        if " in " in term or " notin " in term or "(" in term:
            return True
        if "!=" in term:
            k, v = (x.strip() for x in term.split("!=", 1))
            if str(have.get(k)) == v:
                return False
        elif "=" in term:
            k, v = (x.strip() for x in term.replace("==", "=").split("=", 1))
            if str(have.get(k)) != v:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in have:
                return False
        elif term not in have:
            return False
    return True


def _yaml_field(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None
