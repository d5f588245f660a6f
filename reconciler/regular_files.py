"""Reading a file someone named: only a regular file is opened, and the open cannot block.

A FIFO would hang a read, a device could be read forever, and a terminal would become the
controlling one; every path a user or a CI event names is read through here.
"""

from __future__ import annotations

import os
import stat
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


def open_regular(path: str | Path) -> BinaryIO:
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
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path) -> bytes:
    """The bytes of ``path``; ``NotRegularFileError`` (an ``OSError``) unless it is a file."""
    with open_regular(path) as stream:
        return stream.read()
