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


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """Arrays as `.npz` bytes. String tensors come as object arrays of bytes,
    which only pickling keeps exactly; both ends are this test suite's own."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=True) as z:
        return {k: z[k] for k in z.files}
