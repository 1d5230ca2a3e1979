"""How ``--fix`` writes: atomically, keeping the mode, through symlinks, never over a file
that does not parse, and with a clear message (no traceback) when it cannot write."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES
from oomguard.linter import fix
from oomguard.linter.fix import apply_fixes
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG

NODE = EXAMPLES / "bad" / "node.yaml"


def fix_path(path: Path):
    result = lint_paths([str(path)], DEFAULT_CONFIG)
    return apply_fixes(result, DEFAULT_CONFIG, [str(path)], write=True, diff=False)


def test_a_failure_between_write_and_rename_leaves_the_original(tmp_path, monkeypatch):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    original = target.read_bytes()

    def failing_replace(src, dst):
        assert Path(src).read_bytes() != original  # the new content was fully written first
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fix.os, "replace", failing_replace)
    result = fix_path(target)
    assert target.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.yaml"]  # no temp file left
    assert f"{target}: not fixed: No space left on device" in result.notices
    rules = {f.rule for f in result.findings}
    assert rules == {"node-heap-exceeds-limit", "node-heap-headroom-low"}


def test_an_interrupt_during_the_write_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    original = target.read_bytes()
    monkeypatch.setattr(fix.os, "fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        fix.write_atomic(str(target), b"new")
    assert target.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.yaml"]


def test_mode_is_kept(tmp_path):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    os.chmod(target, 0o640)
    fix_path(target)
    assert "--max-old-space-size=768" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_symlinks_are_written_through(tmp_path):
    real = tmp_path / "real" / "node.yaml"
    real.parent.mkdir()
    shutil.copyfile(NODE, real)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    fix_path(link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert "--max-old-space-size=768" in real.read_text()
    assert sorted(p.name for p in real.parent.iterdir()) == ["node.yaml"]


def test_read_only_file_is_reported_not_replaced(tmp_path, monkeypatch):
    # tests may run as root, who may write anything: make os.access answer as for a user
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    os.chmod(target, 0o444)
    real_access = os.access
    monkeypatch.setattr(
        fix.os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )
    result = fix_path(target)
    assert f"{target}: not fixed: permission denied (the file is read-only)" in result.notices
    assert target.read_bytes() == NODE.read_bytes()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o444


def test_a_file_that_does_not_parse_is_never_written(tmp_path):
    target = tmp_path / "broken.yaml"
    text = NODE.read_text() + "---\nkind: Pod\nspec: [unclosed\n"
    target.write_text(text)
    result = fix_path(target)
    assert target.read_text() == text
    assert "manifest-invalid" in {f.rule for f in result.findings}
    assert "node-heap-exceeds-limit" in {f.rule for f in result.findings}


def test_utf8_bom_is_kept(tmp_path):
    target = tmp_path / "node.yaml"
    target.write_bytes(b"\xef\xbb\xbf" + NODE.read_bytes())
    fix_path(target)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"--max-old-space-size=768" in data
