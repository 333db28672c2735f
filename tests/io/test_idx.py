"""sf.io.read_idx and sf.io.load_mnist on small IDX files written here."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import staticflow as sf
from staticflow.io.idx import MNIST_FILES


def idx_bytes(arr: np.ndarray, code: int) -> bytes:
    """An IDX file's bytes: magic, big-endian dims, big-endian data."""
    big = arr.astype(arr.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + big.tobytes()


def write(path, data: bytes) -> str:
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_uint8_images_and_labels(tmp_path, suffix):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    labels = np.array([7, 0, 255], np.uint8)
    pi = write(tmp_path / f"img{suffix}", idx_bytes(images, 0x08))
    pl = write(tmp_path / f"lab{suffix}", idx_bytes(labels, 0x08))
    got = sf.io.read_idx(pi)
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(sf.io.read_idx(pl), labels)


WIDER = [(0x0D, np.float32), (0x0E, np.float64), (0x0C, np.int32), (0x0B, np.int16), (0x09, np.int8)]


@pytest.mark.parametrize("code,dtype", WIDER)
def test_wider_dtypes_are_big_endian(tmp_path, code, dtype):
    arr = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        arr = arr * dtype(0.37)
    got = sf.io.read_idx(write(tmp_path / "a.idx", idx_bytes(arr, code)))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_float32_gzip(tmp_path):
    arr = np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 6)
    got = sf.io.read_idx(write(tmp_path / "f.idx.gz", idx_bytes(arr, 0x0D)))
    np.testing.assert_array_equal(got, arr)


def test_zero_dimensional_and_empty(tmp_path):
    scalar = sf.io.read_idx(write(tmp_path / "s", bytes([0, 0, 0x08, 0, 42])))
    assert scalar.shape == () and scalar == 42
    empty = sf.io.read_idx(write(tmp_path / "e", idx_bytes(np.zeros((0, 28), np.uint8), 0x08)))
    assert empty.shape == (0, 28)


def test_bad_magic_names_file(tmp_path):
    p = write(tmp_path / "bad.idx", b"\x1f\x8b\x08\x00" + b"\0" * 12)
    with pytest.raises(ValueError, match=r"bad\.idx.*bad IDX magic"):
        sf.io.read_idx(p)


def test_unknown_dtype_code_names_file(tmp_path):
    p = write(tmp_path / "odd.idx", bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 1) + b"\0")
    with pytest.raises(ValueError, match=r"odd\.idx.*unknown IDX dtype code 0x0A"):
        sf.io.read_idx(p)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_data_names_file(tmp_path, suffix):
    full = idx_bytes(np.zeros((4, 5), np.float32), 0x0D)
    p = write(tmp_path / f"short.idx{suffix}", full[:-3])
    with pytest.raises(ValueError, match=r"short\.idx.*truncated IDX data.*80 bytes.*77"):
        sf.io.read_idx(p)


def test_truncated_header_and_magic(tmp_path):
    with pytest.raises(ValueError, match=r"h\.idx.*truncated IDX header"):
        sf.io.read_idx(write(tmp_path / "h.idx", bytes([0, 0, 0x08, 3]) + b"\0\0\0\1"))
    with pytest.raises(ValueError, match=r"m\.idx.*truncated IDX file"):
        sf.io.read_idx(write(tmp_path / "m.idx", b"\0\0"))


def test_trailing_data_is_an_error(tmp_path):
    p = write(tmp_path / "long.idx", idx_bytes(np.zeros(3, np.uint8), 0x08) + b"\0")
    with pytest.raises(ValueError, match=r"long\.idx.*trailing"):
        sf.io.read_idx(p)


def test_not_gzip_names_file(tmp_path):
    p = write(tmp_path / "plain.idx", idx_bytes(np.zeros(3, np.uint8), 0x08))
    (tmp_path / "fake.gz").write_bytes((tmp_path / "plain.idx").read_bytes())
    assert sf.io.read_idx(p).shape == (3,)
    with pytest.raises(ValueError, match=r"fake\.gz.*gzip"):
        sf.io.read_idx(str(tmp_path / "fake.gz"))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.idx"):
        sf.io.read_idx(tmp_path / "nope.idx")


def write_mnist(directory, n_train=5, n_test=3, gz=(True, False, True, False), skip=None):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["x_train"][0, 0, 0] = 255
    for (key, stem), use_gz in zip(MNIST_FILES.items(), gz):
        if key != skip:
            write(directory / (stem + (".gz" if use_gz else "")), idx_bytes(arrays[key], 0x08))
    return arrays


def test_load_mnist(tmp_path):
    arrays = write_mnist(tmp_path)
    (x_train, y_train), (x_test, y_test) = sf.io.load_mnist(tmp_path)
    assert x_train.dtype == np.float32 and x_train.shape == (5, 784)
    assert x_test.dtype == np.float32 and x_test.shape == (3, 784)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    np.testing.assert_allclose(x_train, arrays["x_train"].reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_load_mnist_missing_file_named(tmp_path):
    write_mnist(tmp_path, skip="y_test")
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte"):
        sf.io.load_mnist(tmp_path)


def test_load_mnist_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"3 images.*4 labels"):
        sf.io.load_mnist(tmp_path)
