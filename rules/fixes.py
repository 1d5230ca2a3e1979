"""Fixes as data: the JSON-Patch operations rules attach to their problems.

Rules write *intents* in RFC 6902 shape with tuple paths relative to the object: ``replace``
of an existing value, ``add`` of a value whose parents may not exist yet, ``remove``.
:func:`materialize` turns the intents of several problems into one strict RFC 6902 patch
against the real object (parents created, duplicates dropped, removals last and from the
end of each list), with RFC 6901-escaped pointers. The mutating webhook returns that patch;
``oomguard lint --fix`` applies the same operations to the round-trip YAML document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from oomguard.rules.model import PatchOp, Path, pointer
from oomguard.rules.runtimes.argv import Token, rewrite_occurrence
from oomguard.rules.text import ratio_terms

if TYPE_CHECKING:
    from oomguard.rules.workload import Container, Workload

MIB = 1024**2
# A fix can reveal another (``512m`` → ``512Mi``, or a limit added, and only then is the heap
# checked against the limit): ``lint --fix`` and the mutating webhook check the fixed object
# again, this many rounds at most.
FIX_ROUNDS = 3


def target_bytes(limit: Fraction, ratio: Fraction) -> int:
    """``ratio`` × ``limit`` rounded down to a whole MiB (never below 1 MiB)."""
    # int(limit * ratio) on the integer terms (Fraction's operators are pure Python)
    limit_num, limit_den = ratio_terms(limit)
    ratio_num, ratio_den = ratio_terms(ratio)
    num, den = limit_num * ratio_num, limit_den * ratio_den
    product = num // den if num >= 0 else -(-num // den)  # int() truncates toward zero
    return max(1, product // MIB) * MIB


def value_at(obj: Any, path: Path) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def set_value(path: Path, value: Any) -> PatchOp:
    """Set ``path`` to ``value``, creating missing parents."""
    return {"op": "add", "path": path, "value": value}


def rewrite_token(workload: Workload, token: Token, new_text: str) -> tuple[PatchOp, ...]:
    """Replace one flag where it is written; () when it is not written in the object."""
    return rewrite_tokens(workload, [(token, new_text)])


def rewrite_tokens(workload: Workload, rewrites: list[tuple[Token, str]]) -> tuple[PatchOp, ...]:
    """Several flags rewritten at once; flags written in the same string (``"-Xms2g -Xmx2g"``)
    become one replace of that string, so no operation undoes another."""
    texts: dict[Path, str] = {}
    changed: dict[Path, None] = {}  # ordered set
    unique = {(t.path, t.text, t.occurrence): (t, new) for t, new in rewrites}.values()
    # the last occurrence of a word first: rewriting it leaves the earlier ones' numbers alone
    for token, new_text in sorted(unique, key=lambda rewrite: -rewrite[0].occurrence):
        if token.path is None:
            continue
        if token.path not in texts:
            try:
                current = value_at(workload.obj, token.path)
            except (KeyError, IndexError, TypeError):
                continue
            if not isinstance(current, str):
                continue
            texts[token.path] = current
        rewritten = rewrite_occurrence(texts[token.path], token.text, new_text, token.occurrence)
        if rewritten is not None:
            texts[token.path] = rewritten
            changed[token.path] = None
    return tuple({"op": "replace", "path": path, "value": texts[path]} for path in changed)


def remove_token(workload: Workload, token: Token) -> tuple[PatchOp, ...]:
    """Remove one flag: the whole argv element when it is alone, else the word in its string."""
    if token.path is None:
        return ()
    try:
        current = value_at(workload.obj, token.path)
    except (KeyError, IndexError, TypeError):
        return ()
    if current == token.text and token.path[-2] in ("command", "args"):
        return ({"op": "remove", "path": token.path},)
    if not isinstance(current, str):
        return ()
    rewritten = rewrite_occurrence(current, token.text, "", token.occurrence)
    if rewritten is None:
        return ()
    return ({"op": "replace", "path": token.path, "value": rewritten},)


def set_env(container: Container, name: str, value: str) -> tuple[PatchOp, ...]:
    """Give env var ``name`` the literal ``value``: rewrite its entry, or append one."""
    existing = container.env.get(name)
    if existing is not None and existing.path is not None:
        if existing.literal:
            return ({"op": "replace", "path": (*existing.path, "value"), "value": value},)
        return ({"op": "replace", "path": existing.path, "value": {"name": name, "value": value}},)
    return (
        {
            "op": "add",
            "path": (*container.path, "env", "-"),
            "value": {"name": name, "value": value},
        },
    )


def replaces_reference(ops: Iterable[PatchOp]) -> bool:
    """Whether a fix writes a literal over an env entry's ``valueFrom`` (a resourceFieldRef,
    ConfigMap or Secret reference): the value then no longer follows its source, which the
    finding must say (issue 11)."""
    return any(
        op["op"] == "replace"
        and len(op["path"]) >= 2
        and op["path"][-2] == "env"
        and isinstance(op.get("value"), dict)
        for op in ops
    )


def materialize(obj: Any, intents: Iterable[PatchOp]) -> list[dict[str, Any]]:
    """One strict RFC 6902 patch for ``obj`` from fix intents (see module doc)."""
    return apply_intents(copy.deepcopy(obj), intents)


def apply_intents(work: Any, intents: Iterable[PatchOp]) -> list[dict[str, Any]]:
    """Apply fix intents to ``work`` in place; the strict RFC 6902 patch that does the same."""
    intents = list(intents)
    patch: list[dict[str, Any]] = []
    seen: set[str] = set()
    ordered = [op for op in intents if op["op"] != "remove"]
    removals = sorted(
        (op for op in intents if op["op"] == "remove"),
        key=lambda op: tuple(-p if isinstance(p, int) else 0 for p in op["path"]),
    )
    for op in [*ordered, *removals]:
        key = repr((op["op"], op["path"], op.get("value")))
        if key in seen:
            continue
        seen.add(key)
        patch.extend(_strict(work, op))
    return patch


def _strict(work: Any, op: PatchOp) -> list[dict[str, Any]]:
    path: Path = tuple(op["path"])
    parent_path, last = path[:-1], path[-1]
    try:
        parent = value_at(work, parent_path)
    except (KeyError, IndexError, TypeError):
        parent = None
    if op["op"] == "remove":
        if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            del parent[last]
            return [{"op": "remove", "path": pointer(path)}]
        return []
    value = copy.deepcopy(op["value"])
    if parent is None:
        # create the first missing parent with the rest of the path nested inside it
        for depth in range(len(parent_path)):
            try:
                value_at(work, path[: depth + 1])
            except (KeyError, IndexError, TypeError):
                nested: Any = value
                for part in reversed(path[depth + 1 :]):
                    nested = [nested] if part == "-" else {part: nested}  # "-": a new list
                container = value_at(work, path[:depth])
                if not isinstance(container, dict):
                    return []
                container[path[depth]] = nested
                return [
                    {
                        "op": "add",
                        "path": pointer(path[: depth + 1]),
                        "value": copy.deepcopy(nested),
                    }
                ]
        return []
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
            return [{"op": "add", "path": pointer(path), "value": value}]
        if isinstance(last, int) and last < len(parent):
            if parent[last] == value:
                return []
            parent[last] = value
            return [{"op": "replace", "path": pointer(path), "value": value}]
        return []
    if not isinstance(parent, dict):
        return []
    if last in parent:
        if parent[last] == value:
            return []
        parent[last] = value
        return [{"op": "replace", "path": pointer(path), "value": value}]
    parent[last] = value
    return [{"op": "add", "path": pointer(path), "value": value}]


def apply_patch(data: Any, patch: list[dict]) -> Any:
    """A strict RFC 6902 patch (add/replace/remove) applied to a deep copy of plain data (what
    the webhook's patch does to the object; ``lint --fix`` checks its text edits against it)."""
    import json  # here, not at the top: only --fix and /mutate apply patches

    result = json.loads(json.dumps(data))
    for op in patch:
        parts = parse_pointer(op["path"])
        parent = result
        for part in parts[:-1]:
            parent = parent[int(part) if isinstance(parent, list) else part]
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op["op"] == "remove":
                del parent[index]
            elif op["op"] == "replace":
                parent[index] = op["value"]
            else:
                parent.insert(index, op["value"])
        elif op["op"] == "remove":
            del parent[last]
        else:
            parent[last] = op["value"]
    return result


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901 pointer → reference tokens (``~1`` → ``/``, then ``~0`` → ``~``)."""
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]
