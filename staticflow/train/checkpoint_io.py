"""staticflow's checkpoint files: writing them atomically and reading them back verified.

A checkpoint with prefix P is ``P.data-00000-of-00001`` (every tensor's raw
little-endian bytes, one after the other) and ``P.index`` (a CheckpointIndex
protobuf: per tensor its name, dtype, shape, offset, length and CRC-32, and a
CRC-32 of the whole index body); see proto/staticflow/protobuf/checkpoint.proto.
A directory's ``checkpoint`` file (a CheckpointState in text format) names its
latest checkpoint and the ones kept.

Every file is written to a temporary name, flushed, fsynced and renamed over
its final name; the index is renamed after its data file, so it is the commit
point, and the ``checkpoint`` file is replaced only after the checkpoint it
names is complete. A failure at any step (full disk, crash, or an exception
injected by a test through ``WRITE_HOOKS``) leaves the previous checkpoint as
it was. Reading checks the index's magic, version and checksum, every entry
against the data file's size, and every tensor's checksum before returning it:
a truncated, corrupted or foreign file raises DataLossError naming the file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import zlib
from collections.abc import Callable, Iterable

import numpy as np

from staticflow.framework import dtypes, errors
from staticflow.framework.tensor_shape import TensorShape

MAGIC = "staticflow-checkpoint"
FORMAT_VERSION = 1
DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"
STATE_FILENAME = "checkpoint"
_CHUNK = 1 << 24

# The steps of writing a checkpoint, in order. Each hook in WRITE_HOOKS is
# called as hook(step, path) at each of them (tests inject failures here).
SAVE_STEPS = (
    "data_write",  # after each tensor's bytes are written to the temporary data file
    "data_sync",  # after the temporary data file is flushed and fsynced
    "index_write",
    "index_sync",
    "data_rename",  # after the data file is renamed to its final name
    "index_rename",  # after the index is renamed: the checkpoint is complete
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
# atomic files
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


def stage_file(path: str, chunks: Iterable[bytes], kind: str) -> str:
    """Write chunks to a new temporary file beside `path`, flushed and fsynced; return its name.

    The temporary file is removed if anything fails. `kind` names the steps
    reported to WRITE_HOOKS ("<kind>_write" after each chunk, "<kind>_sync").
    """
    tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with open(tmp, "xb") as f:
            for c in chunks:
                f.write(c)
                _step(kind + "_write", path)
            f.flush()
            os.fsync(f.fileno())
        _step(kind + "_sync", path)
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def commit_file(tmp: str, path: str, kind: str) -> None:
    os.replace(tmp, path)
    _sync_dir(os.path.dirname(path))
    _step(kind + "_rename", path)


def atomic_write(path: str, data: bytes, kind: str) -> None:
    """Replace `path` by `data` all at once (temporary file, fsync, rename)."""
    tmp = stage_file(path, [data], kind)
    try:
        commit_file(tmp, path, kind)
    except BaseException:
        _remove(tmp)
        raise


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _pb():
    from staticflow.protobuf import checkpoint_pb2

    return checkpoint_pb2


def _le_bytes(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, order="C")
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _little()):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def _little() -> bool:
    import sys

    return sys.byteorder == "little"


def write_checkpoint(prefix: str, tensors: list[tuple[str, np.ndarray]]) -> None:
    """Write P.data-00000-of-00001 and P.index for (name, array) pairs, atomically."""
    pb = _pb()
    names = [n for n, _ in tensors]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"checkpoint {prefix}: tensor names must be unique, repeated: {dup}")
    data_path, index_path = prefix + DATA_SUFFIX, prefix + INDEX_SUFFIX
    index = pb.TensorIndex(data_file=os.path.basename(data_path), producer=_producer())
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
    body = index.SerializeToString()
    envelope = pb.CheckpointIndex(
        magic=MAGIC, format_version=FORMAT_VERSION, body=body, body_crc32=zlib.crc32(body)
    )

    def data_chunks():
        for arr in arrays:
            flat = arr.reshape(-1).view(np.uint8)
            for start in range(0, max(flat.size, 1), _CHUNK):
                yield flat[start : start + _CHUNK].tobytes()

    staged: list[str] = []
    try:
        staged.append(stage_file(data_path, data_chunks(), "data"))
        staged.append(stage_file(index_path, [envelope.SerializeToString()], "index"))
        commit_file(staged[0], data_path, "data")
        commit_file(staged[1], index_path, "index")
    finally:
        for tmp in staged:
            _remove(tmp)


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
    import staticflow

    return f"staticflow {staticflow.__version__}"


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
    return os.path.isfile(os.fspath(prefix) + INDEX_SUFFIX)


class CheckpointReader:
    """Reads one checkpoint; each tensor's bytes are verified when read."""

    def __init__(self, path: str):
        self.prefix = checkpoint_prefix(path)
        self.index_path = self.prefix + INDEX_SUFFIX
        self._entries: dict = {}
        self._read_index()

    def _read_index(self) -> None:
        from google.protobuf import message

        pb = _pb()
        path = self.index_path
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(
                None, None, f"Unsuccessful checkpoint read: no index file {path} (checkpoint {self.prefix})"
            ) from None
        except OSError as e:
            raise errors.DataLossError(None, None, f"{path}: cannot read checkpoint index: {e}") from None
        env = pb.CheckpointIndex()
        try:
            env.ParseFromString(raw)
        except message.DecodeError as e:
            raise _data_loss(
                path, f"not a staticflow checkpoint index, or truncated/corrupted ({e})"
            ) from None
        if env.magic != MAGIC:
            raise _data_loss(path, "not a staticflow checkpoint index (its magic string is missing or wrong)")
        if env.format_version != FORMAT_VERSION:
            raise _data_loss(
                path,
                f"checkpoint index format version {env.format_version}, this staticflow reads "
                f"version {FORMAT_VERSION} (file corrupted or from another version)",
            )
        if zlib.crc32(env.body) != env.body_crc32:
            raise _data_loss(path, "checkpoint index is corrupted (checksum mismatch)")
        index = pb.TensorIndex()
        try:
            index.ParseFromString(env.body)
        except message.DecodeError as e:
            raise _data_loss(path, f"checkpoint index body does not parse ({e})") from None
        self.data_path = os.path.join(os.path.dirname(self.prefix), index.data_file)
        if index.data_file != os.path.basename(self.prefix) + DATA_SUFFIX:
            raise _data_loss(
                path,
                f"index names data file {index.data_file!r}, expected "
                f"{os.path.basename(self.prefix) + DATA_SUFFIX!r} (renamed or foreign index)",
            )
        for e in index.tensors:
            where = f"tensor {e.name!r}"
            if e.name in self._entries:
                raise _data_loss(path, f"{where} appears twice in the checkpoint index")
            try:
                dt = dtypes.as_dtype(e.dtype)
                npdt = dt.np
            except (TypeError, ValueError, KeyError):
                npdt = None
            if npdt is None:
                raise _data_loss(path, f"{where} has an unsupported dtype (enum {e.dtype})")
            dims = [d.size for d in e.shape.dim]
            if e.shape.unknown_rank or any(d < 0 for d in dims):
                raise _data_loss(path, f"{where} has an invalid shape {dims}")
            nbytes = int(np.prod(dims, dtype=np.int64)) * (8 if dt is dtypes.string else npdt.itemsize)
            size_ok = e.length >= nbytes if dt is dtypes.string else e.length == nbytes
            if not size_ok or e.offset < 0 or e.offset + e.length > index.data_size:
                raise _data_loss(
                    path,
                    f"{where}: entry (offset {e.offset}, length {e.length}) does not fit its "
                    f"shape {dims} {dt.name} and the data size {index.data_size}",
                )
            self._entries[e.name] = (dt, dims, e.offset, e.length, e.crc32)
        self.data_size = index.data_size
        try:
            size = os.path.getsize(self.data_path)
        except FileNotFoundError:
            raise errors.NotFoundError(
                None, None, f"checkpoint data file {self.data_path} is missing (index {path})"
            ) from None
        if size != self.data_size:
            raise _data_loss(
                self.data_path,
                f"checkpoint data file is {size} bytes, its index {path} says "
                f"{self.data_size} ({'truncated' if size < self.data_size else 'wrong file or overwritten'})",
            )

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
        try:
            f = open(self.data_path, "rb")
        except OSError as e:
            raise errors.DataLossError(
                None, None, f"{self.data_path}: cannot read checkpoint data: {e}"
            ) from None
        with f:
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


def _relative(path: str, directory: str) -> str:
    if os.path.dirname(os.path.abspath(path)) == os.path.abspath(directory):
        return os.path.basename(path)
    return path


def write_checkpoint_state(
    checkpoint_dir: str,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: list[str],
    timestamps: list[float] | None = None,
    last_preserved_timestamp: float | None = None,
    latest_filename: str | None = None,
) -> None:
    """Atomically replace the directory's `checkpoint` file (paths relative where possible)."""
    from google.protobuf import text_format

    state = _pb().CheckpointState(
        model_checkpoint_path=_relative(model_checkpoint_path, checkpoint_dir),
        all_model_checkpoint_paths=[_relative(p, checkpoint_dir) for p in all_model_checkpoint_paths],
        all_model_checkpoint_timestamps=list(timestamps or []),
        last_preserved_timestamp=last_preserved_timestamp or 0.0,
    )
    data = text_format.MessageToString(state).encode()
    atomic_write(_state_path(checkpoint_dir, latest_filename), data, "state")


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None):
    """The directory's CheckpointState (paths made absolute to the directory), or None if it has none."""
    from google.protobuf import text_format

    path = _state_path(os.fspath(checkpoint_dir), latest_filename)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    state = _pb().CheckpointState()
    try:
        text_format.Parse(raw.decode("utf-8"), state)
    except (UnicodeDecodeError, text_format.ParseError) as e:
        raise _data_loss(path, f"not a checkpoint state file in text format ({e})") from None
    if not state.model_checkpoint_path:
        raise _data_loss(path, "checkpoint state file names no model_checkpoint_path")

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    state.model_checkpoint_path = absolute(state.model_checkpoint_path)
    paths = [absolute(p) for p in state.all_model_checkpoint_paths]
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
    for suffix in (INDEX_SUFFIX, DATA_SUFFIX, "." + meta_graph_suffix):
        _remove(prefix + suffix)


def now() -> float:
    return time.time()
