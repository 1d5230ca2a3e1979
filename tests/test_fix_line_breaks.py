"""``--fix`` never edits the wrong document, whatever line breaks the file uses (issue 12).

libyaml (the linter, Kubernetes) ends a line at LF, CRLF, a lone CR, NEL (U+0085), LS (U+2028)
and PS (U+2029) — ``yaml_parser_scan`` / the ``IS_BREAK`` macro in libyaml's ``yaml_private.h``.
ruamel.yaml (the splicer's positions) is a YAML 1.2 reader: it ends lines at LF, CRLF and CR
only. A ``---`` after any of those breaks starts a new document for libyaml; a splitter that
knew only LF numbered the documents differently and the fix for document N landed on N+1.
"""

from __future__ import annotations

import pytest
from oomguard.linter import fix_splice, loader
from oomguard.linter.fix import FixError, apply_fixes, patch_text
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG


def pod(name: str, opts: str, limit: str, br: str) -> str:
    lines = [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        f"  name: {name}",
        "spec:",
        "  containers:",
        "  - name: app",
        "    image: eclipse-temurin:21",
        "    env:",
        "    - name: JAVA_OPTS",
        f'      value: "{opts}"',
        "    resources:",
        "      limits:",
        f"        memory: {limit}",
        "      requests:",
        f"        memory: {limit}",
    ]
    return br.join(lines) + br


# (name, line break inside the documents, line break before the odd separator)
VARIANTS = [
    ("LF", "\n", "\n"),
    ("CRLF", "\r\n", "\r\n"),
    ("CR", "\r", "\r"),
    ("NEL", "\n", "\x85"),
    ("LS", "\n", "\u2028"),
    ("PS", "\n", "\u2029"),
    ("CR-in-LF-file", "\n", "\r"),
    ("CR-in-CRLF-file", "\r\n", "\r"),
    ("NEL-in-CR-file", "\r", "\x85"),
]
REFUSED = {"NEL", "LS", "PS", "NEL-in-CR-file"}  # YAML 1.1 and 1.2 readers disagree: not fixed


def build(body: str, odd: str) -> tuple[str, str, str, str]:
    """first (clean) ⟨odd break⟩ --- second (fixable) --- third (clean, similar text)."""
    first = pod("first", "-Dkeep=me -Xmx512m", "1Gi", body)
    second = pod("second", "-Dkeep=me -Xmx4g", "2Gi", body)
    third = pod("third", "-Dkeep=me -Xms4g", "8Gi", body)
    text = first.removesuffix(body) + odd + "---" + body + second + "---" + body + third
    return text, first, second, third


@pytest.mark.parametrize("name,body,odd", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_fix_lands_on_its_own_document_or_file_is_refused(name, body, odd, tmp_path):
    text, first, second, third = build(body, odd)
    path = tmp_path / "pods.yaml"
    path.write_bytes(text.encode())
    before = lint_paths([str(path)], DEFAULT_CONFIG)
    heap = [f for f in before.findings if f.rule == "jvm-heap-exceeds-limit"]
    assert [(f.name, f.document) for f in heap] == [("second", 1)]

    after = apply_fixes(before, DEFAULT_CONFIG, [str(path)], write=True, diff=False)
    written = path.read_bytes().decode()

    if name in REFUSED:
        assert written == text  # untouched, byte for byte
        assert any(f"{path}: not fixed: it holds NEL, LS or PS" in n for n in after.notices)
        assert [f.name for f in after.findings if f.rule == "jvm-heap-exceeds-limit"] == ["second"]
        return
    fixed_second = second.replace("-Dkeep=me -Xmx4g", "-Dkeep=me -Xmx1536m")
    assert written == text.replace(second, fixed_second)
    assert written.endswith("---" + body + third)  # the third pod byte-identical
    assert written.startswith(first.removesuffix(body) + odd + "---")
    assert not [f for f in after.findings if f.rule == "jvm-heap-exceeds-limit"]
    assert any(n == "fixed 1 finding in 1 file" for n in after.notices)


def _split_on_lf_only(text: str) -> list[tuple[int, str]]:
    """The splitter before the fix (knew only LF), to check the defence in depth: a stand-in
    for any future disagreement between the document splitter and the parsers."""
    import re

    marker = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)
    chunks, start = [], 0
    for match in marker.finditer(text):
        if match.start() > start or chunks:
            chunks.append((0, text[start : match.start()]))
        start = match.start()
    chunks.append((0, text[start:]))
    return [(line, chunk) for line, chunk in chunks if chunk.strip()]


def test_two_numberings_that_disagree_refuse_the_write(monkeypatch):
    text, _, second, _ = build("\n", "\r")
    monkeypatch.setattr(loader, "split_documents", _split_on_lf_only)
    monkeypatch.setattr(fix_splice, "split_documents", _split_on_lf_only)
    documents = fix_splice.load_like_linter(text, "pods.yaml")
    # the old splitter gives two documents the index 1
    assert sorted(d.index for d in documents) == [0, 1, 1]
    patch = [{"op": "replace", "path": "/spec/containers/0/env/0/value", "value": "-Xmx1536m"}]
    with pytest.raises(FixError, match="numbered reliably"):
        patch_text(text, {1: patch}, "pods.yaml")


def test_verification_refuses_duplicate_document_indices(monkeypatch):
    text = pod("a", "-Xmx4g", "2Gi", "\n") + "---\n" + pod("b", "-Xmx4g", "2Gi", "\n")
    real = fix_splice.load_like_linter

    def same_index(source: str, path: str):  # a stand-in for a loader that numbers twice
        documents = real(source, path)
        for document in documents:
            document.index = 0
        return documents

    monkeypatch.setattr(fix_splice, "load_like_linter", same_index)
    with pytest.raises(FixError, match="numbered reliably"):
        fix_splice._verify(text, text, {}, "pods.yaml")
