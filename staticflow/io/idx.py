"""IDX files (the format MNIST is distributed in) and the MNIST loader.

An IDX file is a 4-byte magic number -- two zero bytes, a dtype code and the
number of dimensions -- then one big-endian uint32 per dimension, then the
data in row-major order, big-endian. Files ending in ``.gz`` are read through
gzip. Every error names the file and says what is wrong with it, so that a
corrupt or mistaken download is diagnosed without a hex editor.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["IDX_DTYPES", "load_mnist", "read_idx"]

#: IDX dtype code -> NumPy dtype (big-endian where the width is above one byte).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The four files of the MNIST distribution, without their optional ".gz".
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _read_bytes(path: str | os.PathLike) -> bytes:
    """The file's contents, gunzipped when its name ends in .gz."""
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file {path} does not exist") from None
    except (gzip.BadGzipFile, EOFError) as e:
        raise ValueError(f"{path} is not a valid gzip file: {e}") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or .gz) into a NumPy array in native byte order.

    Raises ValueError naming the file for a bad magic number, an unknown dtype
    code, or data shorter or longer than its header says.
    """
    name = os.fspath(path)
    data = _read_bytes(name)
    if len(data) < 4:
        raise ValueError(f"{name}: truncated IDX file ({len(data)} bytes, the magic number alone is 4)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{data[:4].hex()} (it must start with two zero bytes); "
            "is this an IDX file, or a compressed file without the .gz suffix?"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, the file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        raise ValueError(
            f"{name}: truncated IDX data: shape {list(shape)} of {dtype.name} needs {expected} bytes, "
            f"the file has {got}"
        )
    if got > expected:
        raise ValueError(
            f"{name}: IDX data too long: shape {list(shape)} of {dtype.name} needs {expected} bytes, "
            f"the file has {got} (trailing data)"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _find(directory: str, stem: str) -> str:
    for candidate in (stem, stem + ".gz"):
        p = os.path.join(directory, candidate)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"MNIST file {stem} (or {stem}.gz) not found in {directory}")


def load_mnist(
    directory: str | os.PathLike,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST from its four standard IDX files (plain or .gz) in `directory`.

    Returns ``((x_train, y_train), (x_test, y_test))``: x float32 in [0, 1] of
    shape [N, rows * cols], y int64. Mismatched image and label counts are an error.
    """
    directory = os.fspath(directory)
    arrays = {}
    for key, stem in MNIST_FILES.items():
        path = _find(directory, stem)
        a = read_idx(path)
        if key.startswith("x"):
            if a.ndim != 3:
                raise ValueError(f"{path}: MNIST images must be 3-D [N, rows, cols], not {list(a.shape)}")
            if a.dtype != np.uint8:
                raise ValueError(f"{path}: MNIST images must be uint8, got {a.dtype.name}")
            a = a.reshape(a.shape[0], -1).astype(np.float32) / np.float32(255.0)
        else:
            if a.ndim != 1:
                raise ValueError(f"{path}: MNIST labels must be 1-D [N], got shape {list(a.shape)}")
            a = a.astype(np.int64)
        arrays[key] = (a, path)
    for split in ("train", "test"):
        (x, xp), (y, yp) = arrays["x_" + split], arrays["y_" + split]
        if len(x) != len(y):
            raise ValueError(f"{xp} holds {len(x)} images but {yp} holds {len(y)} labels")
    return (
        (arrays["x_train"][0], arrays["y_train"][0]),
        (arrays["x_test"][0], arrays["y_test"][0]),
    )
