"""Opening model and checkpoint files without hanging on a FIFO or a device.

``open(path)`` on a FIFO blocks until a writer appears, and reading a character
device such as /dev/zero never ends. Every file that staticflow reads as a
model or checkpoint goes through `open_regular`: it opens without blocking,
checks with fstat (on the opened file, so no other file can be swapped in
between the check and the read) that it is a regular file, and refuses
anything else at once with a FailedPreconditionError naming the path and what
it is.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from staticflow.framework import errors

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words ("a FIFO (named pipe)", "a regular file", ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def not_regular_error(path: str, mode: int, what: str) -> errors.FailedPreconditionError:
    return errors.FailedPreconditionError(
        None, None, f"{path}: {what} must be a regular file, but this is {kind_of(mode)}"
    )


def check_regular(path: str, what: str = "the file") -> None:
    """Raise FailedPreconditionError if `path` exists and is not a regular file (symlinks followed)."""
    try:
        st = os.stat(path)
    except OSError:
        return  # missing or unreadable: the caller's open reports it
    if not stat.S_ISREG(st.st_mode):
        raise not_regular_error(path, st.st_mode, what)


def open_regular(path: str, what: str = "the file") -> BinaryIO:
    """Open `path` for binary reading if it is a regular file.

    OSError (FileNotFoundError, PermissionError, ...) as from open(); a FIFO,
    device, socket or directory raises FailedPreconditionError without blocking.
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular_error(path, st.st_mode, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, what: str = "the file") -> bytes:
    """The whole content of a regular file (see open_regular for the errors)."""
    with open_regular(path, what) as f:
        return f.read()
