"""sf.gfile: TF1's file API (tf.gfile) on the local file system.

`GFile` opens lazily, as TensorFlow's does: a missing file is reported on the
first read, not when the object is made. Failures raise staticflow's
``errors`` classes with TensorFlow's codes (NotFoundError, AlreadyExistsError,
FailedPreconditionError, PermissionDeniedError, InvalidArgumentError).
`sf.io.gfile` holds the same functions under TF2's lower-case names.
"""

from __future__ import annotations

import errno
import glob as _glob
import os
import shutil
from collections.abc import Iterator

from staticflow.framework import errors

_MODES = ("r", "w", "a", "r+", "w+", "a+")


def _error(e: OSError, path: str) -> errors.OpError:
    """The TF error for an OSError on `path`, with TensorFlow's message shape."""
    msg = f"{path}; {os.strerror(e.errno) if e.errno else e}"
    if e.errno == errno.ENOENT:
        return errors.NotFoundError(None, None, msg)
    if e.errno == errno.EEXIST:
        return errors.AlreadyExistsError(None, None, msg)
    if e.errno in (errno.EACCES, errno.EPERM):
        return errors.PermissionDeniedError(None, None, msg)
    if e.errno in (errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY):
        return errors.FailedPreconditionError(None, None, msg)
    if e.errno == errno.EINVAL:
        return errors.InvalidArgumentError(None, None, msg)
    return errors.UnknownError(None, None, msg)


def _path(p) -> str:
    p = os.fspath(p)
    return p.decode() if isinstance(p, bytes) else p


class GFile:
    """A file: `read`/`readline`/`readlines`/iteration, `write`, `seek`/`tell`, `size`.

    mode is one of r, w, a, r+, w+, a+, each optionally with b. Text mode reads and
    writes str (UTF-8), binary mode bytes; `write` takes either in both. `read(n)`
    reads n bytes, as TensorFlow's does.
    """

    def __init__(self, name, mode: str = "r"):
        self.__name = _path(name)
        self.__mode = mode
        base = mode.replace("b", "")
        if base not in _MODES:
            raise errors.InvalidArgumentError(
                None, None, "mode is not 'r' or 'w' or 'a' or 'r+' or 'w+' or 'a+'"
            )
        self._binary = "b" in mode
        self._readable = base.startswith("r") or "+" in base
        self._writable = not base == "r"
        self._base = base
        self._f = None  # opened on first use, as TensorFlow's

    @property
    def name(self) -> str:
        return self.__name

    @property
    def mode(self) -> str:
        return self.__mode

    def _open(self):
        if self._f is None:
            try:
                plus = "+" if "+" in self._base else ""
                self._f = open(self.__name, self._base.replace("+", "") + plus + "b")
            except OSError as e:
                raise _error(e, self.__name) from None
        return self._f

    def _for_reading(self):
        if not self._readable:
            raise errors.PermissionDeniedError(None, None, "File isn't open for reading")
        return self._open()

    def _for_writing(self):
        if not self._writable:
            raise errors.PermissionDeniedError(None, None, "File isn't open for writing")
        return self._open()

    def _out(self, data: bytes):
        return data if self._binary else data.decode("utf-8")

    def size(self) -> int:
        """The file's size in bytes."""
        if self._f is not None:
            self._f.flush()
        try:
            return os.stat(self.__name).st_size
        except OSError as e:
            raise _error(e, self.__name) from None

    def read(self, n: int = -1):
        """n bytes (all that is left when n is -1), as str in text mode."""
        f = self._for_reading()
        return self._out(f.read() if n is None or n < 0 else f.read(n))

    def readline(self):
        """The next line with its newline ('' or b'' at the end)."""
        return self._out(self._for_reading().readline())

    def readlines(self) -> list:
        """All remaining lines."""
        return [self._out(line) for line in self._for_reading().readlines()]

    def write(self, file_content) -> None:
        """Append str (encoded as UTF-8) or bytes."""
        data = file_content.encode("utf-8") if isinstance(file_content, str) else bytes(file_content)
        self._for_writing().write(data)

    def seek(self, offset: int | None = None, whence: int = 0, position: int | None = None) -> None:
        """Move to `offset` (from the start, whence 0; the current position, 1; the end, 2).
        `position` is the deprecated name of `offset`."""
        if position is not None:
            if offset is not None:
                raise TypeError("seek takes offset or position, not both")
            offset = position
        self._open().seek(0 if offset is None else offset, whence)

    def tell(self) -> int:
        return self._open().tell()

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        f = getattr(self, "_f", None)
        if f is not None:
            f.close()


Open = GFile


class FastGFile(GFile):
    """TF1's deprecated FastGFile: a GFile."""


def Exists(filename) -> bool:  # noqa: N802 - TF's names
    """True when the path exists (a file or a directory)."""
    p = _path(filename)
    return bool(p) and os.path.exists(p)


def IsDirectory(dirname) -> bool:  # noqa: N802
    return os.path.isdir(_path(dirname))


def MakeDirs(dirname) -> None:  # noqa: N802
    """Create a directory and its missing parents; an existing directory is fine."""
    p = _path(dirname)
    try:
        os.makedirs(p, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file is in the way
        msg = f"{_existing_file_on(p)} is not a directory"
        raise errors.FailedPreconditionError(None, None, msg) from None
    except OSError as e:
        raise _error(e, p) from None


def _existing_file_on(p: str) -> str:
    """The first path on the way to p that is a file (what blocks makedirs)."""
    parts = os.path.abspath(p).split(os.sep)
    for i in range(2, len(parts) + 1):
        q = os.sep.join(parts[:i])
        if os.path.isfile(q):
            return q
    return p


def MkDir(dirname) -> None:  # noqa: N802
    """Create one directory; its parent must exist (an existing path is fine, as in TF)."""
    p = _path(dirname)
    if os.path.exists(p):
        return
    try:
        os.mkdir(p)
    except OSError as e:
        raise _error(e, p) from None


Mkdir = MkDir


def ListDirectory(dirname) -> list[str]:  # noqa: N802
    """Names of the directory's entries (not '.' or '..'), sorted."""
    p = _path(dirname)
    if not os.path.isdir(p):
        raise errors.NotFoundError(None, None, f"Could not find directory {p}")
    try:
        return sorted(os.listdir(p))
    except OSError as e:
        raise _error(e, p) from None


def Glob(filename) -> list[str]:  # noqa: N802
    """Paths matching a pattern (* ? [..]), or any of a list of patterns; sorted."""
    patterns = [filename] if isinstance(filename, (str, bytes, os.PathLike)) else list(filename)
    out: list[str] = []
    for pat in patterns:
        out.extend(sorted(_glob.glob(_path(pat))))
    return out


def Remove(filename) -> None:  # noqa: N802
    """Delete a file (FailedPreconditionError for a directory)."""
    p = _path(filename)
    if os.path.isdir(p):
        raise errors.FailedPreconditionError(None, None, f"{p}; Is a directory")
    try:
        os.remove(p)
    except OSError as e:
        raise _error(e, p) from None


def Rename(oldname, newname, overwrite: bool = False) -> None:  # noqa: N802
    """Rename a file or directory; an existing target is an error unless overwrite."""
    old, new = _path(oldname), _path(newname)
    if not overwrite and os.path.exists(new):
        raise errors.AlreadyExistsError(None, None, "file already exists")
    try:
        if os.path.isdir(new) and not os.path.isdir(old):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        os.replace(old, new) if overwrite else os.rename(old, new)
    except OSError as e:
        raise _error(e, old) from None


def Copy(oldpath, newpath, overwrite: bool = False) -> None:  # noqa: N802
    """Copy a file; an existing target is an error unless overwrite."""
    old, new = _path(oldpath), _path(newpath)
    if not overwrite and os.path.exists(new):
        raise errors.AlreadyExistsError(None, None, "file already exists")
    if os.path.isdir(old):
        raise errors.InvalidArgumentError(None, None, f"{new}; Invalid argument")
    try:
        shutil.copyfile(old, new)
    except OSError as e:
        raise _error(e, old if not os.path.exists(old) else new) from None


def DeleteRecursively(dirname) -> None:  # noqa: N802
    """Delete a directory and everything in it (or a file)."""
    p = _path(dirname)
    if not os.path.lexists(p):
        raise errors.NotFoundError(None, None, f"{p} not found")
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    except OSError as e:
        raise _error(e, p) from None


class FileStatistics:
    """A path's length in bytes, modification time (ns) and whether it is a directory."""

    def __init__(self, length: int, mtime_nsec: int, is_directory: bool):
        self.length = length
        self.mtime_nsec = mtime_nsec
        self.is_directory = is_directory

    def __repr__(self) -> str:
        return (
            f"FileStatistics(length={self.length}, mtime_nsec={self.mtime_nsec}, "
            f"is_directory={self.is_directory})"
        )


def Stat(filename) -> FileStatistics:  # noqa: N802
    p = _path(filename)
    try:
        st = os.stat(p)
    except OSError as e:
        raise _error(e, p) from None
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(p))


def Walk(top, in_order: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:  # noqa: N802
    """(dirname, subdirectory names, file names) for top and every directory below it,
    parents first when in_order, else children first; nothing when top is no directory."""
    top = _path(top)
    if not os.path.isdir(top):
        return
    names = ListDirectory(top)
    subdirs = [n for n in names if os.path.isdir(os.path.join(top, n))]
    files = [n for n in names if n not in subdirs]
    if in_order:
        yield top, subdirs, files
    for d in subdirs:
        yield from Walk(os.path.join(top, d), in_order)
    if not in_order:
        yield top, subdirs, files
