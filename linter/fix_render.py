"""New values for ``--fix``, written the way the file writes its own: block or flow, the
document's indentation, plain where YAML 1.1 and 1.2 readers both read the same string,
quoted otherwise; and composed nodes read back as plain data the way the linter reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml


def _is_mapping(node: Any) -> bool:
    return node.__class__.__name__ == "MappingNode"


def _is_sequence(node: Any) -> bool:
    return node.__class__.__name__ == "SequenceNode"


def _is_scalar(node: Any) -> bool:
    return node.__class__.__name__ == "ScalarNode"


def _scalar_text(node: Any) -> str:
    """A scalar's value; ruamel marks the line folds of ``>`` scalars with BEL characters."""
    return node.value.replace("\a", "") if node.style == ">" else node.value


# --------------------------------------------------------------------------- rendering


@dataclass
class _Layout:
    """Indentation found in the document: mapping step, list dash offset, dash-to-text gap."""

    step: int = 2
    offset: int = 2
    gap: int = 2

    @classmethod
    def of(cls, root: Any) -> _Layout:
        found: dict[str, int] = {}
        stack = [root]
        while stack and len(found) < 3:
            node = stack.pop()
            if _is_mapping(node) and not node.flow_style:
                for key, value in node.value:
                    if (
                        _is_mapping(value)
                        and not value.flow_style
                        and "step" not in found
                        and value.start_mark.line > key.start_mark.line
                    ):
                        found["step"] = value.start_mark.column - key.start_mark.column
                    if _is_sequence(value) and not value.flow_style and value.value:
                        found.setdefault("offset", value.start_mark.column - key.start_mark.column)
                        found.setdefault(
                            "gap", value.value[0].start_mark.column - value.start_mark.column
                        )
                    stack.append(value)
            elif _is_sequence(node) and not node.flow_style:
                stack.extend(node.value)
        # a zero step or gap would be nonsense (e.g. from odd flow layouts): keep the default
        return cls(**{k: v for k, v in found.items() if v > 0 or k == "offset"})

    def block(self, value: Any, column: int) -> list[str]:
        """Lines of ``value`` in block style, its first line starting at ``column``."""
        pad = " " * column
        if isinstance(value, dict):
            lines = []
            for key, item in value.items():
                head = f"{pad}{render_scalar(str(key), False)}:"
                if isinstance(item, dict) and item:
                    lines += [head, *self.block(item, column + self.step)]
                elif isinstance(item, list) and item:
                    lines += [head, *self.block(item, column + self.offset)]
                else:
                    lines.append(f"{head} {render_flow(item, False)}")
            return lines
        if isinstance(value, list):
            lines = []
            for item in value:
                dash = pad + "-" + " " * (self.gap - 1)
                if isinstance(item, dict | list) and item:
                    inner = self.block(item, column + self.gap)
                    lines += [dash + inner[0][column + self.gap :], *inner[1:]]
                else:
                    lines.append(dash + render_flow(item, False))
            return lines
        return [pad + render_flow(value, False)]


_PLAIN_FIRST_FORBIDDEN = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}")


def plain_ok(text: str, flow: bool) -> bool:
    """Whether ``text`` can be written unquoted and still read back as this string, both by
    YAML 1.1 readers (Kubernetes, PyYAML) and YAML 1.2 ones (ruamel.yaml)."""
    if not text or text != text.strip() or not text.isprintable():
        return False
    first = text[0]
    if first in _PLAIN_FIRST_FORBIDDEN and not (
        first in "-?:" and len(text) > 1 and text[1] not in " " and text[1] not in _FLOW_INDICATORS
    ):
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    if flow and any(c in _FLOW_INDICATORS for c in text):
        return False
    return _resolves_to_str(text)


def _resolves_to_str(text: str) -> bool:
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar
    from ruamel.yaml.resolver import VersionedResolver

    str_tag = "tag:yaml.org,2002:str"
    yaml11 = yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))
    yaml12 = VersionedResolver().resolve(RuamelScalar, text, (True, False))
    return yaml11 == str_tag and str(getattr(yaml12, "value", yaml12)) == str_tag


def render_scalar(value: Any, flow: bool, json_style: bool = False) -> str:
    if isinstance(value, str):
        if not json_style and plain_ok(value, flow):
            return value
        return '"' + _double_body(value) + '"'
    return json.dumps(value)


def render_flow(value: Any, json_style: bool) -> str:
    if isinstance(value, dict):
        entries = (
            f"{render_scalar(str(k), True, json_style)}: {render_flow(v, json_style)}"
            for k, v in value.items()
        )
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render_flow(v, json_style) for v in value) + "]"
    return render_scalar(value, True, json_style)


def _double_body(text: str) -> str:
    """A YAML double-quoted scalar's body: JSON escapes are valid YAML escapes."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _plain(node: Any) -> Any:
    """Plain data of a composed node, resolved as the linter resolves it (YAML 1.1)."""
    if _is_mapping(node):
        return {_plain(k): _plain(v) for k, v in node.value}
    if _is_sequence(node):
        return [_plain(item) for item in node.value]
    if node.style:
        return _scalar_text(node)
    tag = yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, node.value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return yaml.safe_load(node.value)
    except yaml.YAMLError:
        return node.value
