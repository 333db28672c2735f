"""String tensors' values: NumPy object arrays of `bytes`, as TensorFlow uses.

A `tf.string` element is a byte string. Python `str` values are encoded as
UTF-8 on the way in (feeds, constants); fetched values are `bytes`.
"""

from __future__ import annotations

import numpy as np


def as_bytes(value, what: str = "value") -> bytes:
    """One string element as bytes: bytes as they are, str (and NumPy's) as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must hold strings or bytes, got an element of type {type(value).__name__}")


def bytes_array(value, what: str = "value") -> np.ndarray:
    """`value` (a string, bytes, a nested list of them, or a NumPy array of kind U, S or O)
    as an object array of bytes."""
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "USO":
        raise TypeError(f"{what} must hold strings or bytes, got an array of {arr.dtype}")
    out = np.empty(arr.shape, dtype=object)
    flat_in, flat_out = arr.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = as_bytes(flat_in[i], what)
    return out
