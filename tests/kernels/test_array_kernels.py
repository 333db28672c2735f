"""array.c kernels (copy, gather, one_hot) called directly against NumPy."""

import ml_dtypes
import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table

DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
    "uint8": np.uint8,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "int8": np.int8,
    "int16": np.int16,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}
FAMILY = ("copy", "gather", "one_hot")
BIG = 1 << 17  # above SF_PARALLEL_MIN (32768) elements: the OpenMP paths


def _names(op):
    prefix = f"sf_cpu_{op}_"
    return sorted(n for n in kernel_table() if n.startswith(prefix) and n[len(prefix) :] in DTYPES)


def _rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 100, shape).astype(dtype)


def test_family_names_all_covered():
    """Every array kernel in the table is one of (op, dtype) tested here."""
    for name in kernel_table():
        for op in FAMILY:
            if name.startswith(f"sf_cpu_{op}_"):
                assert name[len(f"sf_cpu_{op}_") :] in DTYPES, name
    for op in FAMILY:
        assert _names(op) == sorted(f"sf_cpu_{op}_{d}" for d in DTYPES)


# ---- copy --------------------------------------------------------------------


def _views(dtype):
    """(input view, description) covering the copy kernel's layouts."""
    a = _rand((6, 7, 8), dtype)
    big = _rand((300, 500), dtype, 1)
    yield a, "contiguous"
    yield a.transpose(2, 0, 1), "transposed 3d"
    yield a[:, ::2, 1::3], "strided slice"
    yield a[::-1, :, ::-1], "negative strides"
    yield np.broadcast_to(a[:, :1, :], (6, 7, 8)), "zero stride (broadcast)"
    yield np.broadcast_to(a[0, 0, 0], (5, 9)), "fill from 0-stride scalar"
    yield np.broadcast_to(a[0, 0, :], (9, 8)), "tile rows"
    yield a[0, 0, 0], "0-d"
    yield a[:, :0, :], "empty"
    yield big, "big contiguous"
    yield big.T, "big transpose"
    yield big[::-1, ::2], "big strided"
    yield np.broadcast_to(big[:1], (300, 500)), "big broadcast rows"
    yield np.broadcast_to(big[0, :1], (300, 500)), "big fill"
    yield _rand((64, 3, 1000), dtype, 2).transpose(2, 1, 0), "big 3d transpose"
    yield _rand((1 << 19,), dtype, 3), "big memcpy (parallel)"


@pytest.mark.parametrize("name", _names("copy"))
def test_copy(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    for view, what in _views(dtype):
        out = np.zeros(view.shape, dtype)
        call_kernel(name, [view], [out])
        np.testing.assert_array_equal(out, view, err_msg=what)


@pytest.mark.parametrize("name", ["sf_cpu_copy_float32", "sf_cpu_copy_int64", "sf_cpu_copy_uint8"])
def test_copy_into_strided_output(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    src = _rand((40, 50), dtype)
    for make in (
        lambda: np.zeros((50, 40), dtype).T,  # transposed output
        lambda: np.zeros((80, 100), dtype)[::2, ::2],  # strided output
        lambda: np.zeros((40, 50), dtype)[::-1],  # reversed rows
        lambda: np.zeros((400, 500), dtype).T[:50, :40].T,  # big-ld transpose
    ):
        out = make()
        call_kernel(name, [src], [out])
        np.testing.assert_array_equal(out, src)
    # big output transpose: in contiguous along last, out along first
    src = _rand((400, 300), dtype)
    out = np.zeros((300, 400), dtype).T
    call_kernel(name, [src], [out])
    np.testing.assert_array_equal(out, src)


def test_copy_nan_payload_and_concat_piece():
    src = np.array([np.nan, -0.0, np.inf, 1.5], np.float32)
    out = np.zeros(4, np.float32)
    call_kernel("sf_cpu_copy_float32", [src], [out])
    assert out.tobytes() == src.tobytes()
    # a concat piece: write into a slice of a bigger output
    whole = np.zeros((4, 10), np.float64)
    piece = _rand((4, 3), np.float64)
    call_kernel("sf_cpu_copy_float64", [piece], [whole[:, 5:8]])
    np.testing.assert_array_equal(whole[:, 5:8], piece)
    assert not whole[:, :5].any() and not whole[:, 8:].any()


def test_copy_rejects_mismatch():
    with pytest.raises(KernelError) as e:
        call_kernel("sf_cpu_copy_float32", [np.zeros(3, np.float64)], [np.zeros(3, np.float32)])
    assert "float64" in str(e.value)
    with pytest.raises(KernelError):
        call_kernel("sf_cpu_copy_float32", [np.zeros(3, np.float32)], [np.zeros(4, np.float32)])
    with pytest.raises(KernelError):
        call_kernel("sf_cpu_copy_float32", [], [np.zeros(4, np.float32)])


# ---- gather ------------------------------------------------------------------


def _gather_ref(params, idx):
    return np.take(params, idx, axis=1)


@pytest.mark.parametrize("name", _names("gather"))
@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_gather(name, idt):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    cases = [
        (_rand((3, 5, 4), dtype), np.array([4, 0, 0, 2], idt)),
        (_rand((1, 7, 1), dtype), np.array([6, 1], idt)),
        (_rand((2, 5, 3), dtype), np.zeros(0, idt)),  # no indices
        (_rand((0, 5, 3), dtype), np.array([1], idt)),  # empty outer
        (_rand((4, 1000, 40), dtype), np.arange(999, -1, -3).astype(idt)),  # parallel
        (_rand((2, 6, 5), dtype), np.array([5, 1, 3, 3, 0, 2, 4], idt)[::-2]),  # strided idx
    ]
    for params, idx in cases:
        out = np.zeros((params.shape[0], idx.shape[0], params.shape[2]), dtype)
        call_kernel(name, [params, idx], [out])
        np.testing.assert_array_equal(out, _gather_ref(params, idx))


def test_gather_strided_params_and_output():
    params = _rand((4, 6, 10), np.float32)[:, :, ::2]
    idx = np.array([5, 0, 3], np.int64)
    out = np.zeros((4, 3, 10), np.float32)[:, :, ::2]
    call_kernel("sf_cpu_gather_float32", [params, idx], [out])
    np.testing.assert_array_equal(out, _gather_ref(params, idx))


@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_gather_out_of_range(idt):
    params = _rand((2, 4, 3), np.float32)
    for bad, pos in ((9, 5), (-1, 0), (4, 2)):
        idx = np.array([0, 1, 2, 3, 0, 1], idt)
        idx[pos] = bad
        out = np.zeros((2, 6, 3), np.float32)
        with pytest.raises(KernelError) as e:
            call_kernel("sf_cpu_gather_float32", [params, idx], [out])
        assert str(e.value) == f"indices[{pos}] = {bad} is not in [0, 4)"
        assert e.value.code == 3
        assert not out.any()  # nothing written


def test_gather_rejects_float_indices():
    with pytest.raises(KernelError):
        call_kernel(
            "sf_cpu_gather_float32",
            [np.zeros((1, 2, 1), np.float32), np.zeros(2, np.float32)],
            [np.zeros((1, 2, 1), np.float32)],
        )


# ---- one_hot -----------------------------------------------------------------


def _one_hot_ref(idx, depth, on, off, dtype):
    outer, inner = idx.shape
    out = np.full((outer, depth, inner), off, dtype)
    for a in range(outer):
        for j in range(inner):
            if 0 <= idx[a, j] < depth:
                out[a, idx[a, j], j] = on
    return out


@pytest.mark.parametrize("name", _names("one_hot"))
@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_one_hot(name, idt):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    on = np.array(1 if dtype == np.bool_ else 7, dtype)
    off = np.array(0 if dtype == np.bool_ else 2, dtype)
    rng = np.random.default_rng(5)
    cases = [
        (rng.integers(-2, 6, (3, 1)).astype(idt), 5),
        (rng.integers(-2, 6, (2, 4)).astype(idt), 4),
        (rng.integers(0, 3, (0, 4)).astype(idt), 3),
        (rng.integers(0, 3, (2, 3)).astype(idt), 0),
        (rng.integers(-1, 101, (600, 1)).astype(idt), 100),  # parallel
        (rng.integers(-1, 10, (20, 8)).astype(idt).T, 10),  # strided indices
    ]
    for idx, depth in cases:
        out = np.zeros((idx.shape[0], depth, idx.shape[1]), dtype)
        call_kernel(name, [idx, on, off], [out])
        np.testing.assert_array_equal(out, _one_hot_ref(idx, depth, on, off, dtype))


def test_one_hot_float_values_and_strided_out():
    idx = np.array([[0, 2, 5]], np.int64)
    out = np.zeros((1, 5, 6), np.float64)[:, :, ::2]
    call_kernel("sf_cpu_one_hot_float64", [idx, np.array(0.5), np.array(-1.0)], [out])
    np.testing.assert_array_equal(out, _one_hot_ref(idx, 5, 0.5, -1.0, np.float64))
