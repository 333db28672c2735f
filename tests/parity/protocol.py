"""The framed protocol between the test process and the TensorFlow worker.

One message is an 8-byte little-endian length, a JSON header of that many
bytes, then the binary blobs whose sizes the header lists under "blobs"
(serialized GraphDefs, `.npz` archives of arrays). Both sides import this
module: it needs only the standard library and NumPy.
"""

from __future__ import annotations

import io
import json
import struct
from typing import BinaryIO

import numpy as np

_LEN = struct.Struct("<Q")


class ProtocolError(EOFError):
    """The other side closed the pipe or sent a malformed message."""


def write_message(f: BinaryIO, header: dict, blobs: list[bytes] = ()) -> None:
    """Send one message: `header` (JSON-serializable) and its binary blobs."""
    blobs = list(blobs)
    raw = json.dumps(dict(header, blobs=[len(b) for b in blobs])).encode()
    f.write(_LEN.pack(len(raw)))
    f.write(raw)
    for b in blobs:
        f.write(b)
    f.flush()


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = f.read(left)
        if not chunk:
            raise ProtocolError(f"pipe closed after {n - left} of {n} bytes")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_message(f: BinaryIO) -> tuple[dict, list[bytes]]:
    """Receive one message; raises ProtocolError when the pipe is closed."""
    (n,) = _LEN.unpack(_read_exactly(f, _LEN.size))
    header = json.loads(_read_exactly(f, n))
    blobs = [_read_exactly(f, k) for k in header.pop("blobs", [])]
    return header, blobs


# Arrays of a NumPy extension dtype (ml_dtypes' bfloat16, as both TensorFlow and staticflow
# use it) travel as unsigned integers of the same width, under "<key>@<dtype name>": `.npz`
# would store them as opaque void (|V2), which neither side can compute with.
_EXTENSION_SEP = "@"
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _extension_dtype(name: str) -> np.dtype:
    import ml_dtypes  # both environments have it (TensorFlow and staticflow depend on it)

    return np.dtype(getattr(ml_dtypes, name))


def as_array(v) -> np.ndarray:
    """`v` as an array. Strings (a fetched scalar string is `bytes`) become object arrays:
    NumPy's fixed-width byte strings drop trailing NUL bytes, which serialized protocol
    buffers and other binary strings end with."""
    if isinstance(v, np.ndarray):
        return v
    a = np.asarray(v)
    if a.dtype.kind in "SU":
        a = np.array(v, dtype=object)
    return a


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Arrays as `.npz` bytes. String tensors come as object arrays of bytes,
    which only pickling keeps exactly; both ends are this test suite's own."""
    out = {}
    for k, v in arrays.items():
        if _EXTENSION_SEP in k:
            raise ValueError(f"array name {k!r} contains {_EXTENSION_SEP!r}")
        v = as_array(v)
        if v.dtype.kind == "V" and v.dtype.names is None and not type(v.dtype).__module__.startswith("numpy"):
            out[f"{k}{_EXTENSION_SEP}{v.dtype.name}"] = v.view(_UINT[v.dtype.itemsize])
        else:
            out[k] = v
    buf = io.BytesIO()
    np.savez(buf, **out)
    return buf.getvalue()


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    out = {}
    with np.load(io.BytesIO(data), allow_pickle=True) as z:
        for k in z.files:
            name, sep, dtype = k.partition(_EXTENSION_SEP)
            out[name] = z[k].view(_extension_dtype(dtype)) if sep else z[k]
    return out
