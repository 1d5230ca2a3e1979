"""How ``--fix`` reads and writes files: regular files only, atomically, keeping what the
file carries besides its bytes (mode, owner, extended attributes), never splitting hard
links, never over a read-only file, and cleaning up after killed runs."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time


class NotRegularFile(OSError):
    """A FIFO, socket or device: reading it again could block for ever; never fixed."""


def read_regular(path: str) -> bytes:
    """The bytes of ``path`` when it is a regular file (symlinks followed). Opened without
    blocking, so a FIFO given where a file was expected is refused, not waited on."""
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise NotRegularFile("only regular files are fixed (this is a FIFO, socket or device)")
        return stream.read()


TEMP_SUFFIX = ".oomguard-tmp"
STALE_SECONDS = 10 * 60  # a temp file this old is not another run's work in progress


def write_atomic(path: str, data: bytes) -> list[str]:
    """Replace the file's content atomically, keeping its mode, owner (when permitted) and
    extended attributes; a symlink is written through. Returns the stale temporary files of
    interrupted earlier runs that were removed beside it.

    Raises ``PermissionError`` for a read-only file rather than replacing it anyway (a rename
    would succeed in a writable directory and silently drop the protection): read-only means
    no write bit for the owner, even for root, who may write anything.
    Raises ``OSError`` for a file with several hard links (a rename would split them).
    """
    target = os.path.realpath(path)
    info = os.stat(target)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile("only regular files are fixed (this is a FIFO, socket or device)")
    mode = stat.S_IMODE(info.st_mode)
    if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise PermissionError(13, "the file is read-only", path)
    if info.st_nlink > 1:
        raise OSError(
            f"it has {info.st_nlink} hard links: replacing it would split them and writing "
            f"in place would change every link (copy it to break the links, then fix)"
        )
    directory = os.path.dirname(target) or "."
    removed = remove_stale_temps(directory, os.path.basename(target))
    handle, temp = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=TEMP_SUFFIX, dir=directory
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _copy_metadata(target, temp, info)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)
    return removed


def remove_stale_temps(directory: str, name: str) -> list[str]:
    """Remove ``.NAME.XXXXXXXX.oomguard-tmp`` files (``tempfile.mkstemp``'s 8 random
    characters) that an interrupted run (SIGKILL, power loss) left beside ``name`` more than
    :data:`STALE_SECONDS` ago; younger ones may belong to a run still going."""
    pattern = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:
            continue
    return removed


def _copy_metadata(source: str, temp: str, info: os.stat_result) -> None:
    """Owner and extended attributes (SELinux labels, ACLs, user.*) of ``source`` onto the
    replacement. An attribute that cannot be copied stops the write (OSError) rather than
    being dropped; an owner that cannot be kept (not root) is documented behaviour."""
    with contextlib.suppress(PermissionError):
        if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
            os.chown(temp, info.st_uid, info.st_gid)
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for attribute in names:
        try:
            os.setxattr(temp, attribute, os.getxattr(source, attribute))
        except OSError as exc:
            raise OSError(
                f"cannot keep its extended attribute {attribute} ({exc.strerror})"
            ) from None


def _fsync_directory(directory: str) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # not every file system lets a directory be synced
    finally:
        os.close(handle)


def _write_problem(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied ({exc.strerror or 'read-only'})"
    return exc.strerror or str(exc)
