"""Files someone named: only a regular file is read, and a write never follows a planted link.

A FIFO would hang a read, a device could be read forever, and a terminal would become the
controlling one; every path a user or a CI event names is read through here. Writes go to
a fresh temporary file (created exclusively, so a symlink planted under a predictable name
is never followed) that then replaces the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_NOT_FILES = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


class NotRegularFileError(OSError):
    """A path that names a FIFO, socket, device or folder where a file was expected."""

    def __init__(self, mode: int) -> None:
        self.kind = next((kind for test, kind in _NOT_FILES if test(mode)), "not a regular file")
        super().__init__(0, f"{self.kind}, not a file")


def open_regular(path: str | Path, *, buffered: bool = True) -> BinaryIO:
    """``path`` open for reading if it is a regular file, else ``NotRegularFileError``.

    The open cannot block (a FIFO without a writer would hang it, a terminal would become
    ours) and the type is checked on the open file, so a path swapped after a check is
    still refused.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=-1 if buffered else 0)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``; ``NotRegularFileError`` (an ``OSError``) unless it is a file,
    or ``FileTooLargeError`` (an ``OSError`` too) when it holds more than ``limit`` bytes."""
    with open_regular(path) as stream:
        data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise FileTooLargeError(limit)
    return data


class FileTooLargeError(OSError):
    """A file larger than any that its reader would accept."""

    def __init__(self, limit: int) -> None:
        super().__init__(0, f"larger than {limit:,} bytes")


def write_atomic(target: Path, text: str | Iterable[str], mode: int = 0o666) -> None:
    """Write ``text`` (or its pieces, one by one) to ``target`` atomically: a reader sees
    the old file or the new one.

    ``mode`` goes through the umask as for a plain ``open`` (plan files pass 0600).
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            if isinstance(text, str):
                stream.write(text)
            else:
                stream.writelines(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
