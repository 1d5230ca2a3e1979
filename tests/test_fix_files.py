"""What ``--fix`` refuses to write and what it keeps (issues 11 §3 and 12): read-only files
even as root, FIFOs (never re-opened, never waited on), hard links (not split), extended
attributes (kept), stale temporary files of killed runs (cleaned up)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES
from oomguard.linter import fix_files
from oomguard.linter.fix import apply_fixes
from oomguard.linter.run import lint_paths
from oomguard.rules.config import DEFAULT_CONFIG

NODE = EXAMPLES / "bad" / "node.yaml"
FIXED_FLAG = "--max-old-space-size=768"


def fix_path(path: Path, diff: bool = False):
    result = lint_paths([str(path)], DEFAULT_CONFIG)
    return apply_fixes(result, DEFAULT_CONFIG, [str(path)], write=True, diff=diff)


def test_chmod_444_is_not_rewritten_even_by_root(tmp_path):
    # the suite runs as root in CI containers, where a write or rename always succeeds: the
    # owner's write bit is what says "read-only" (no os.access stand-in here)
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    os.chmod(target, 0o444)
    inode = os.stat(target).st_ino
    result = fix_path(target)
    assert f"{target}: not fixed: permission denied (the file is read-only)" in result.notices
    assert target.read_bytes() == NODE.read_bytes()
    assert os.stat(target).st_ino == inode  # not replaced either
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o444
    assert not [n for n in result.notices if n.startswith("fixed ")]


def test_owner_writable_file_is_still_fixed(tmp_path):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    os.chmod(target, 0o644)
    fix_path(target)
    assert FIXED_FLAG in target.read_text()


@pytest.mark.parametrize("flag", ["--diff", "--fix"])
def test_a_fifo_is_read_once_and_not_fixed(flag, tmp_path):
    fifo = tmp_path / "pods.yaml"
    os.mkfifo(fifo)
    text = NODE.read_bytes()

    def feed() -> None:  # one writer, as `<(helm template …)` gives
        with open(fifo, "wb") as stream:
            stream.write(text)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.run(
        [sys.executable, "-m", "oomguard", "lint", flag, str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,  # not a timing assertion: the old code never returned at all
        env={**os.environ, "NO_COLOR": "1"},
    )
    writer.join(timeout=5)
    assert "Traceback" not in proc.stderr
    assert f"{fifo}: not fixed: only regular files are fixed" in proc.stderr
    assert "node-heap-exceeds-limit" in proc.stdout  # the findings are still reported
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert proc.returncode == 1


def test_hard_links_are_not_split(tmp_path):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    other = tmp_path / "also.yaml.bak"
    os.link(target, other)
    result = fix_path(target)
    assert any(n.startswith(f"{target}: not fixed: it has 2 hard links") for n in result.notices)
    assert os.stat(target).st_ino == os.stat(other).st_ino
    assert target.read_bytes() == NODE.read_bytes() == other.read_bytes()


def test_extended_attributes_are_kept(tmp_path):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    try:
        os.setxattr(target, "user.origin", b"generated-by-ci")
    except OSError as exc:
        pytest.skip(f"this file system has no user extended attributes ({exc.strerror})")
    fix_path(target)
    assert FIXED_FLAG in target.read_text()
    assert os.getxattr(target, "user.origin") == b"generated-by-ci"


def test_stale_temporary_files_of_killed_runs_are_removed(tmp_path):
    target = tmp_path / "node.yaml"
    shutil.copyfile(NODE, target)
    stale = tmp_path / ".node.yaml.k3x_9a2b.oomguard-tmp"
    fresh = tmp_path / ".node.yaml.zz0011aa.oomguard-tmp"  # another run may be writing it
    not_ours = tmp_path / ".node.yaml.k3x_9a2b.oomguard-tmp.keep"
    other_file = tmp_path / ".other.yaml.k3x_9a2b.oomguard-tmp"
    long_ago = time.time() - fix_files.STALE_SECONDS - 60
    for path in (stale, fresh, not_ours, other_file):
        path.write_text("half")
        if path is not fresh:
            os.utime(path, (long_ago, long_ago))
    result = fix_path(target)
    assert FIXED_FLAG in target.read_text()
    assert not stale.exists()
    assert fresh.exists() and not_ours.exists() and other_file.exists()
    assert f"{stale}: removed (a temporary file left by an interrupted --fix)" in result.notices
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([target.name, fresh.name, not_ours.name, other_file.name])
