"""staticflow's checkpoint files: writing them crash-safely and reading them back verified.

A checkpoint with prefix P is a data file ``P.data-<16 hex digits>`` (every
tensor's raw little-endian bytes, one after the other) and ``P.index`` (a
CheckpointIndex protobuf: per tensor its name, dtype, shape, offset, length
and CRC-32, the data file's name, and a CRC-32 of the whole index body); see
proto/staticflow/protobuf/checkpoint.proto. A directory's ``checkpoint`` file
(a CheckpointState in text format, as TensorFlow writes it) names its latest
checkpoint and the ones kept.

Commit protocol. Each save writes its data to a file of its own, whose name
no other save uses, and then renames a new index over ``P.index``: that
rename is the one commit point. Before it, readers see the previous index and
the previous data file, both untouched; after it, the new ones. Data files
that no index references any more are deleted after the commit. So saving
again to a fixed prefix never leaves a moment when the only checkpoint is
unloadable, whatever instant a crash (kill -9, power loss once the fsyncs
have returned) or a full disk strikes.

Concurrent saves to one prefix, from threads or processes, need no lock: the
last index renamed wins and names its own complete data file. A save holds an
exclusive flock on each file it is still writing (data file, temporary
files); cleanup deletes only files no save holds (it takes a shared flock),
and only data files that the index does not reference (checked while holding
that lock, so after any commit of the file's writer). Each save
first removes what crashed saves left in its directory: temporary files
(``*.tmp-<pid>-<hex>``) and data files that no index references.

Readers open the data file that the index names right away and keep it open,
so a later save deleting it cannot pull it away; if it was deleted between
reading the index and opening it, a newer index was committed, and the reader
starts over with that one.

Reading checks the index's magic, version and checksum, every entry against
the data file's size, and every tensor's checksum before returning it: a
truncated, corrupted or foreign file raises DataLossError naming the file.
Files that are not regular files (a FIFO, a device) are refused at once.
Paths in the ``checkpoint`` file are confined to its directory: staticflow
writes names relative to it, and refuses ``..`` and absolute paths that lead
elsewhere (TensorFlow 1.x's Saver writes absolute paths by default; those that
name a file in the directory itself are read).

Format versions: 2 (written now) names its data file uniquely; 1 (written by
earlier staticflow) used ``P.data-00000-of-00001`` and is still read. Neither
is TensorFlow's table-based checkpoint format; the ``checkpoint`` file is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterable

import numpy as np

from staticflow.framework import dtypes, errors, versions
from staticflow.framework.regular_file import open_regular, read_regular
from staticflow.framework.tensor_shape import TensorShape

try:
    import fcntl
except ImportError:  # no flock: nothing that might be in use is ever cleaned up
    fcntl = None
# flock's errors on file systems that do not support it
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}

MAGIC = "staticflow-checkpoint"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
INDEX_SUFFIX = ".index"
DATA_INFIX = ".data-"
# The data file of a version-1 checkpoint (and TensorFlow's single shard).
LEGACY_DATA_SUFFIX = ".data-00000-of-00001"
STATE_FILENAME = "checkpoint"
_CHUNK = 1 << 24
_TOKEN_HEX = 16
# How often a reader starts over when the data file its index named was
# deleted by a newer save before it could open it.
_OPEN_ATTEMPTS = 100

_DATA_RE = re.compile(r"^(?P<base>.+)\.data-(?P<token>[0-9a-f]{16})$")  # _TOKEN_HEX digits
_LEGACY_RE = re.compile(r"^(?P<base>.+)\.data-00000-of-00001$")
_TMP_RE = re.compile(r"^.+\.tmp-\d+-[0-9a-f]{8}$")

# The steps of writing a checkpoint, in order. Each hook in WRITE_HOOKS is
# called as hook(step, path) at each of them (tests inject failures here).
SAVE_STEPS = (
    "data_write",  # after each chunk of tensor bytes is written to the new data file
    "data_sync",  # after the data file is flushed and fsynced
    "index_write",
    "index_sync",
    "index_rename",  # after the index is renamed over P.index: the checkpoint is committed
    "cleanup",  # before data files the new index superseded are deleted
    "meta_write",
    "meta_sync",
    "meta_rename",
    "state_write",
    "state_sync",
    "state_rename",  # after the `checkpoint` file names the new checkpoint
    "delete_old",  # before each checkpoint beyond max_to_keep is deleted
)
WRITE_HOOKS: list[Callable[[str, str], None]] = []


def _step(step: str, path: str) -> None:
    for hook in list(WRITE_HOOKS):
        hook(step, path)


def _data_loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"{path}: {what}")


# ---------------------------------------------------------------------------
# files held while they are written, and cleanup of what nobody holds
# ---------------------------------------------------------------------------
def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _sync_dir(path: str) -> None:
    """fsync a directory so that renames in it are durable (best effort: not every OS allows it)."""
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_held(make_name: Callable[[], str]) -> tuple[int, str]:
    """Create a new file under a fresh name and hold an exclusive flock on it; (fd, name).

    A cleanup may delete a file between its creation and the flock (it looks
    abandoned then); the link count tells, and another name is tried.
    """
    for _ in range(100):
        name = make_name()
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        if fcntl is None:
            return fd, name
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            if e.errno in _NO_FLOCK:  # a file system without flock: cleanups cannot lock either,
                return fd, name  # so they delete nothing (see _remove_if_unused)
            os.close(fd)
            _remove(name)
            raise
        except BaseException:
            os.close(fd)
            _remove(name)
            raise
        if os.fstat(fd).st_nlink > 0:
            return fd, name
        os.close(fd)
    raise OSError(f"cannot create a file beside {make_name()!r}: each new name was removed at once")


def _write_all(fd: int, chunks: Iterable[bytes], kind: str, path: str) -> None:
    with os.fdopen(fd, "wb", closefd=False) as f:
        for c in chunks:
            f.write(c)
            _step(kind + "_write", path)
        f.flush()
        os.fsync(fd)


def _remove_if_unused(path: str, needed: Callable[[], bool]) -> bool:
    """Delete `path` if no live save holds it and `needed()` (asked under a shared lock) is false.

    A save that created the file but has not locked it yet waits for the shared lock, then
    finds the file unlinked (_create_held) and takes another name.

    Without flock nothing is deleted: a file in use cannot be told from an
    abandoned one.
    """
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        try:
            # shared: a save holds its files exclusively, so this fails only while one writes
            # it; cleanups running at once do not stop each other (a cleanup that read the
            # index before the latest commit keeps a file that a later one then removes)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False  # a save is still writing it
        try:
            now = os.lstat(path)
        except OSError:
            return False
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev) or needed():
            return False
        _remove(path)
        return True
    finally:
        os.close(fd)


class _Staged:
    """A temporary file beside `path`, written, fsynced and held until it is renamed over `path`."""

    def __init__(self, path: str, chunks: Iterable[bytes], kind: str):
        self.path, self.kind = path, kind
        self.fd, self.tmp = _create_held(lambda: f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            _write_all(self.fd, chunks, kind, path)
            _step(kind + "_sync", path)
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        """Rename over the final name (the commit), sync the directory, release the file."""
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self.tmp = None
        os.close(self.fd)
        self.fd = None
        _sync_dir(os.path.dirname(self.path))

    def discard(self) -> None:
        if self.tmp is not None:
            _remove(self.tmp)
            self.tmp = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def stage_file(path: str, chunks: Iterable[bytes], kind: str) -> _Staged:
    """Write chunks to a new temporary file beside `path` (flushed, fsynced, held); see _Staged."""
    return _Staged(path, chunks, kind)


def atomic_write(path: str, data: bytes, kind: str) -> None:
    """Replace `path` by `data` all at once (temporary file, fsync, rename)."""
    staged = _Staged(path, [data], kind)
    staged.commit()
    _step(kind + "_rename", path)


def _referenced_data(prefix: str) -> str | None:
    """The data file name that P.index references; "" if there is no index; None if unreadable."""
    try:
        raw = read_regular(prefix + INDEX_SUFFIX, "checkpoint index")
    except FileNotFoundError:
        return ""
    except (OSError, errors.OpError):
        return None
    try:
        return _parse_index(prefix + INDEX_SUFFIX, raw).data_file
    except errors.OpError:
        return None


def _data_files(names: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
    """{base name: [(data file name, written by format 2)]} of the names that look like data files."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for n in names:
        m = _DATA_RE.match(n) or _LEGACY_RE.match(n)
        if m is not None:
            out.setdefault(m.group("base"), []).append((n, m.re is _DATA_RE))
    return out


def _remove_superseded(directory: str, base: str, files: list[tuple[str, bool]], orphans_too: bool) -> int:
    """Delete the data files of checkpoint `base` that its index does not reference; how many.

    Version-1 data files (fixed name) are deleted only when a readable index
    references another file, and, unless `orphans_too`, format-2 files only
    then too.
    """
    prefix = os.path.join(directory, base)
    removed = 0
    for name, unique in files:
        def needed(name=name, unique=unique) -> bool:
            ref = _referenced_data(prefix)
            if ref is None or ref == name:
                return True  # unreadable index: keep everything; or referenced
            return ref == "" and not (unique and orphans_too)

        removed += _remove_if_unused(os.path.join(directory, name), needed)
    return removed


def clean_directory(directory: str) -> int:
    """Delete what crashed saves left in `directory`; return how many files.

    Temporary files that no live save holds, and data files that no index
    references (a data file of a checkpoint is only looked at when its
    prefix has several, or none has an index: saves stay cheap in
    directories of many checkpoints).
    """
    directory = directory or "."
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    removed = 0
    for n in names:
        if _TMP_RE.match(n):
            removed += _remove_if_unused(os.path.join(directory, n), lambda: False)
    present = set(names)
    for base, files in _data_files(names).items():
        has_index = base + INDEX_SUFFIX in present
        if has_index and len(files) < 2:
            continue
        removed += _remove_superseded(directory, base, files, orphans_too=True)
    return removed


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _pb():
    from staticflow.protobuf import checkpoint_pb2

    return checkpoint_pb2


def _little() -> bool:
    import sys

    return sys.byteorder == "little"


def _le_bytes(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, order="C")
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _little()):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def write_checkpoint(prefix: str, tensors: list[tuple[str, np.ndarray]]) -> None:
    """Write a checkpoint of (name, array) pairs at `prefix`; the rename of P.index commits it."""
    pb = _pb()
    prefix = os.fspath(prefix)
    names = [n for n, _ in tensors]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"checkpoint {prefix}: tensor names must be unique, repeated: {dup}")
    directory, base = os.path.split(prefix)
    if not base:
        raise ValueError(f"checkpoint prefix {prefix!r} names a directory, not a file prefix")
    index_path = prefix + INDEX_SUFFIX
    clean_directory(directory)

    index = pb.TensorIndex(producer=_producer())
    arrays = []
    offset = 0
    for name, value in tensors:
        value = np.asarray(value)
        dt = dtypes.as_dtype(value.dtype.newbyteorder("="))
        arr = _encode_strings(value) if dt is dtypes.string else _le_bytes(value)
        e = index.tensors.add(name=name, dtype=dt.as_datatype_enum, offset=offset, length=arr.nbytes)
        e.shape.CopyFrom(TensorShape(list(value.shape)).as_proto())
        e.crc32 = _crc(arr)
        offset += arr.nbytes
        arrays.append(arr)
    index.data_size = offset

    def data_chunks():
        for arr in arrays:
            flat = arr.reshape(-1).view(np.uint8)
            for start in range(0, max(flat.size, 1), _CHUNK):
                yield flat[start : start + _CHUNK].tobytes()

    previous = _referenced_data(prefix)  # the data file the index names now, if any
    fd, data_path = _create_held(lambda: f"{prefix}{DATA_INFIX}{os.urandom(_TOKEN_HEX // 2).hex()}")
    committed = False
    try:
        _write_all(fd, data_chunks(), "data", data_path)
        _step("data_sync", data_path)
        _sync_dir(directory)
        index.data_file = os.path.basename(data_path)
        body = index.SerializeToString()
        envelope = pb.CheckpointIndex(
            magic=MAGIC, format_version=FORMAT_VERSION, body=body, body_crc32=zlib.crc32(body)
        )
        staged = _Staged(index_path, [envelope.SerializeToString()], "index")
        staged.commit()
        committed = True
        _step("index_rename", index_path)
    finally:
        if not committed:
            _remove(data_path)
        os.close(fd)  # after the commit: from now on a cleanup sees the index reference it
    _step("cleanup", prefix)
    if previous and previous != index.data_file and _referenced_data(prefix) != previous:
        # complete since an index named it, and superseded now: deleting it needs no lock (a
        # reader that opened it keeps it), which bounds the files even where flock is missing
        _remove(os.path.join(directory, previous))
    _remove_superseded(directory or ".", base, _data_files(os.listdir(directory or ".")).get(base, []), False)


def _encode_strings(arr: np.ndarray) -> np.ndarray:
    """A string tensor's bytes in the data file: every element's length (little-endian
    uint64), then the elements one after the other."""
    from staticflow.framework import strings

    items = [strings.as_bytes(v, "a string tensor") for v in arr.reshape(-1)]
    lengths = np.array([len(b) for b in items], dtype="<u8")
    return np.frombuffer(lengths.tobytes() + b"".join(items), dtype=np.uint8)


def _decode_strings(buf, dims, name: str, path: str) -> np.ndarray:
    n = int(np.prod(dims, dtype=np.int64))
    if len(buf) < 8 * n:
        raise _data_loss(path, f"string tensor {name!r} is shorter than its {n} lengths")
    lengths = np.frombuffer(buf, dtype="<u8", count=n)
    if int(lengths.sum(dtype=np.uint64)) != len(buf) - 8 * n:
        raise _data_loss(path, f"string tensor {name!r}: its lengths do not add up to its size")
    out = np.empty(n, dtype=object)
    pos = 8 * n
    for i, k in enumerate(lengths.tolist()):
        out[i] = bytes(buf[pos : pos + k])
        pos += k
    return out.reshape(dims)


def _crc(arr: np.ndarray) -> int:
    flat = arr.reshape(-1).view(np.uint8)
    crc = 0
    for start in range(0, flat.size, _CHUNK):
        crc = zlib.crc32(flat[start : start + _CHUNK], crc)
    return crc


def _producer() -> str:
    return f"staticflow {versions.__version__}"


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def checkpoint_prefix(path: str) -> str:
    """The prefix a path names: a prefix, its .index file, or a directory (its latest checkpoint)."""
    if path is None:
        raise ValueError("Can't load save_path when it is None.")
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise errors.NotFoundError(None, None, f"no checkpoint found in directory {path}")
        return latest
    if path.endswith(INDEX_SUFFIX) and not os.path.exists(path + INDEX_SUFFIX):
        return path[: -len(INDEX_SUFFIX)]
    return path


def checkpoint_exists(prefix: str) -> bool:
    """Whether P.index exists (whatever it is: reading it refuses anything but a regular file)."""
    return os.path.exists(os.fspath(prefix) + INDEX_SUFFIX)


def _parse_index(path: str, raw: bytes):
    """The TensorIndex inside an index file's bytes, its envelope checked (DataLossError)."""
    from google.protobuf import message

    pb = _pb()
    env = pb.CheckpointIndex()
    try:
        env.ParseFromString(raw)
    except message.DecodeError as e:
        raise _data_loss(path, f"not a staticflow checkpoint index, or truncated/corrupted ({e})") from None
    if env.magic != MAGIC:
        raise _data_loss(path, "not a staticflow checkpoint index (its magic string is missing or wrong)")
    if env.format_version not in READ_VERSIONS:
        raise _data_loss(
            path,
            f"checkpoint index format version {env.format_version}, this staticflow reads versions "
            f"{', '.join(map(str, READ_VERSIONS))} (file corrupted or from another version)",
        )
    if zlib.crc32(env.body) != env.body_crc32:
        raise _data_loss(path, "checkpoint index is corrupted (checksum mismatch)")
    index = pb.TensorIndex()
    try:
        index.ParseFromString(env.body)
    except message.DecodeError as e:
        raise _data_loss(path, f"checkpoint index body does not parse ({e})") from None
    base = os.path.basename(path[: -len(INDEX_SUFFIX)])
    if env.format_version == 1:
        ok = index.data_file == base + LEGACY_DATA_SUFFIX
        expected = repr(base + LEGACY_DATA_SUFFIX)
    else:
        m = _DATA_RE.match(index.data_file)
        ok = m is not None and m.group("base") == base
        expected = f"{base + DATA_INFIX}<{_TOKEN_HEX} hex digits>"
    if not ok:
        raise _data_loss(
            path,
            f"index names data file {index.data_file!r}, expected {expected} "
            f"(a renamed or foreign index: the index and data files of a checkpoint are renamed together "
            f"only by saving again)",
        )
    return index


class CheckpointReader:
    """Reads one checkpoint; each tensor's bytes are verified when read.

    The data file is opened at once and kept open until close() (or the
    reader's end), so saves that replace the checkpoint meanwhile do not
    affect what this reader returns.
    """

    def __init__(self, path: str):
        self._data = None
        self._lock = threading.Lock()
        self.prefix = checkpoint_prefix(path)
        self.index_path = self.prefix + INDEX_SUFFIX
        self._entries: dict = {}
        for attempt in range(_OPEN_ATTEMPTS):
            raw = self._read_index_bytes()
            index = _parse_index(self.index_path, raw)
            self.data_path = os.path.join(os.path.dirname(self.prefix), index.data_file)
            try:
                self._data = open_regular(self.data_path, "checkpoint data file")
            except FileNotFoundError:
                if attempt + 1 < _OPEN_ATTEMPTS and self._index_changed(raw):
                    continue  # a newer save replaced the checkpoint: read its index
                raise errors.NotFoundError(
                    None, None, f"checkpoint data file {self.data_path} is missing (index {self.index_path})"
                ) from None
            except OSError as e:
                raise errors.DataLossError(
                    None, None, f"{self.data_path}: cannot read checkpoint data: {e}"
                ) from None
            break
        try:
            self._check_entries(index)
        except BaseException:
            self.close()
            raise

    def _read_index_bytes(self) -> bytes:
        path = self.index_path
        try:
            return read_regular(path, "checkpoint index")
        except FileNotFoundError:
            raise errors.NotFoundError(
                None, None, f"Unsuccessful checkpoint read: no index file {path} (checkpoint {self.prefix})"
            ) from None
        except OSError as e:
            raise errors.DataLossError(None, None, f"{path}: cannot read checkpoint index: {e}") from None

    def _index_changed(self, raw: bytes) -> bool:
        try:
            return read_regular(self.index_path, "checkpoint index") != raw
        except (OSError, errors.OpError):
            return True

    def _check_entries(self, index) -> None:
        path = self.index_path
        for e in index.tensors:
            where = f"tensor {e.name!r}"
            if e.name in self._entries:
                raise _data_loss(path, f"{where} appears twice in the checkpoint index")
            try:
                dt = dtypes.as_dtype(e.dtype)
                npdt = dt.np
            except (TypeError, ValueError, KeyError):
                npdt = None
            if npdt is None or (npdt.hasobject and dt is not dtypes.string):
                raise _data_loss(path, f"{where} has an unsupported dtype (enum {e.dtype})")
            dims = [d.size for d in e.shape.dim]
            if e.shape.unknown_rank or any(d < 0 for d in dims):
                raise _data_loss(path, f"{where} has an invalid shape {dims}")
            nbytes = 8 if dt is dtypes.string else npdt.itemsize  # strings: a length per element
            for d in dims:  # Python ints: no overflow, whatever the index claims
                nbytes *= d
            size_ok = e.length >= nbytes if dt is dtypes.string else e.length == nbytes
            if not size_ok or e.offset < 0 or e.offset + e.length > index.data_size:
                raise _data_loss(
                    path,
                    f"{where}: entry (offset {e.offset}, length {e.length}) does not fit its "
                    f"shape {dims} {dt.name} and the data size {index.data_size}",
                )
            self._entries[e.name] = (dt, dims, e.offset, e.length, e.crc32)
        self.data_size = index.data_size
        size = os.fstat(self._data.fileno()).st_size
        if size != self.data_size:
            raise _data_loss(
                self.data_path,
                f"checkpoint data file is {size} bytes, its index {path} says "
                f"{self.data_size} ({'truncated' if size < self.data_size else 'wrong file or overwritten'})",
            )

    # --- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release the data file (the reader cannot read tensors afterwards)."""
        f, self._data = self._data, None
        if f is not None:
            f.close()

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # --- queries ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._entries)

    def has_tensor(self, name: str) -> bool:
        return name in self._entries

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def dtype(self, name: str) -> dtypes.DType:
        return self._entry(name)[0]

    def shape(self, name: str) -> list[int]:
        return list(self._entry(name)[1])

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {n: list(e[1]) for n, e in self._entries.items()}

    def get_variable_to_dtype_map(self) -> dict[str, dtypes.DType]:
        return {n: e[0] for n, e in self._entries.items()}

    def _entry(self, name: str):
        try:
            return self._entries[name]
        except KeyError:
            raise errors.NotFoundError(
                None, None, f"Key {name} not found in checkpoint {self.prefix}"
            ) from None

    def get_tensor(self, name: str) -> np.ndarray:
        """The tensor's value, its checksum verified."""
        return self.get_tensors([name])[name]

    def get_tensors(self, names: list[str]) -> dict[str, np.ndarray]:
        entries = [(n, self._entry(n)) for n in names]
        out = {}
        with self._lock:
            f = self._data
            if f is None:
                raise ValueError(f"CheckpointReader of {self.prefix} is closed")
            for name, (dt, dims, offset, length, crc) in entries:
                f.seek(offset)
                buf = bytearray(length)
                got = f.readinto(buf)
                if got != length:
                    raise _data_loss(
                        self.data_path, f"tensor {name!r} is truncated ({got} of {length} bytes)"
                    )
                if zlib.crc32(buf) != crc:
                    raise _data_loss(
                        self.data_path,
                        f"tensor {name!r} is corrupted (checksum mismatch; index {self.index_path})",
                    )
                if dt is dtypes.string:
                    out[name] = _decode_strings(buf, dims, name, self.data_path)
                    continue
                arr = np.frombuffer(buf, dtype=dt.np.newbyteorder("<")).reshape(dims)
                out[name] = arr if _little() else arr.astype(dt.np)
        return out


# ---------------------------------------------------------------------------
# the `checkpoint` state file
# ---------------------------------------------------------------------------
def _state_path(checkpoint_dir: str, latest_filename: str | None) -> str:
    return os.path.join(checkpoint_dir, latest_filename or STATE_FILENAME)


def confined(path: str, directory: str) -> str | None:
    """`path` relative to `directory` if it lies inside it (lexically), else None.

    A relative `path` is taken relative to `directory`.
    """
    d = os.path.abspath(directory)
    p = os.path.normpath(path if os.path.isabs(path) else os.path.join(d, path))
    rel = os.path.relpath(p, d)
    if rel in (os.curdir, os.pardir) or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel


def write_checkpoint_state(
    checkpoint_dir: str,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: list[str],
    timestamps: list[float] | None = None,
    last_preserved_timestamp: float | None = None,
    latest_filename: str | None = None,
) -> None:
    """Atomically replace the directory's `checkpoint` file, with paths relative to the directory.

    Relative paths are taken relative to the directory; a path outside it is a ValueError.
    """
    from google.protobuf import text_format

    checkpoint_dir = os.fspath(checkpoint_dir)

    def rel(p: str) -> str:
        r = confined(os.fspath(p), checkpoint_dir)
        if r is None:
            raise ValueError(
                f"checkpoint path {p!r} is outside the checkpoint directory {checkpoint_dir}: the "
                f"`checkpoint` file only names checkpoints in its own directory"
            )
        return r

    state = _pb().CheckpointState(
        model_checkpoint_path=rel(model_checkpoint_path),
        all_model_checkpoint_paths=[rel(p) for p in all_model_checkpoint_paths],
        all_model_checkpoint_timestamps=list(timestamps or []),
        last_preserved_timestamp=last_preserved_timestamp or 0.0,
    )
    data = text_format.MessageToString(state).encode()
    atomic_write(_state_path(checkpoint_dir, latest_filename), data, "state")


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None):
    """The directory's CheckpointState (paths joined to the directory), or None if it has none.

    A path that leads outside the directory raises InvalidArgumentError.
    """
    from google.protobuf import text_format

    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _state_path(checkpoint_dir, latest_filename)
    try:
        raw = read_regular(path, "checkpoint state file")
    except (FileNotFoundError, NotADirectoryError):  # no such directory: no state, as in TensorFlow
        return None
    except PermissionError as e:
        raise errors.FailedPreconditionError(None, None, f"{path}: cannot read: {e.strerror}") from None
    state = _pb().CheckpointState()
    try:
        text_format.Parse(raw.decode("utf-8"), state)
    except (UnicodeDecodeError, text_format.ParseError) as e:
        raise _data_loss(path, f"not a checkpoint state file in text format ({e})") from None
    if not state.model_checkpoint_path:
        raise _data_loss(path, "checkpoint state file names no model_checkpoint_path")

    def inside(p: str) -> str:
        r = confined(p, checkpoint_dir) if p else None
        if r is None:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"{path}: names the checkpoint {p!r}, which is outside the directory {checkpoint_dir}; "
                f"staticflow only follows checkpoint paths inside the directory of their `checkpoint` file",
            )
        return os.path.join(checkpoint_dir, r)

    state.model_checkpoint_path = inside(state.model_checkpoint_path)
    paths = [inside(p) for p in state.all_model_checkpoint_paths]
    del state.all_model_checkpoint_paths[:]
    state.all_model_checkpoint_paths.extend(paths)
    return state


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The prefix of the directory's latest complete checkpoint, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    prefix = state.model_checkpoint_path
    return prefix if checkpoint_exists(prefix) else None


def delete_checkpoint(prefix: str, meta_graph_suffix: str = "meta") -> None:
    """Delete a checkpoint: its index first (so it is gone at once), then its data files and meta graph."""
    prefix = os.fspath(prefix)
    named = _referenced_data(prefix)
    _remove(prefix + INDEX_SUFFIX)
    directory, base = os.path.split(prefix)
    if named:  # complete, and no index names it any more: no lock needed
        _remove(os.path.join(directory, named))
    try:
        names = os.listdir(directory or ".")
    except OSError:
        names = []
    for name, unique in _data_files(names).get(base, []):
        path = os.path.join(directory, name)
        if unique:
            _remove_if_unused(path, lambda name=name: _referenced_data(prefix) == name)
        else:
            _remove(path)
    _remove(prefix + "." + meta_graph_suffix)


def now() -> float:
    return time.time()
