"""linalg.c kernels (matmul) called directly against NumPy."""

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table, set_num_threads

DTYPES = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}

NAMES = sorted(n for n in kernel_table() if n.startswith("sf_cpu_matmul_"))


def _rand(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-20, 20, shape).astype(dtype)


def _check(out, ref, dtype):
    if np.dtype(dtype).kind == "f":
        scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
        np.testing.assert_allclose(out, ref, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale)
    else:
        np.testing.assert_array_equal(out, ref)


def _run(name, a, b, ta=False, tb=False, out=None, workspace=None):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    opa = np.swapaxes(a, -1, -2) if ta else a
    opb = np.swapaxes(b, -1, -2) if tb else b
    ref = np.matmul(opa.astype(np.float64) if dtype in (np.float32,) else opa, opb)
    if np.dtype(dtype).kind == "i":
        ref = np.matmul(opa, opb)  # same wrapping integer arithmetic
    if out is None:
        out = np.full(ref.shape, 99, dtype)
    call_kernel(name, [a, b], [out], [int(ta), int(tb)])
    _check(out, ref.astype(dtype), dtype)
    return out


def test_names():
    assert NAMES == sorted(f"sf_cpu_matmul_{d}" for d in DTYPES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_transpose_flags(name, ta, tb):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    M, K, N = 5, 7, 3
    a = _rand((K, M) if ta else (M, K), dtype, 1)
    b = _rand((N, K) if tb else (K, N), dtype, 2)
    _run(name, a, b, ta, tb)


@pytest.mark.parametrize("name", NAMES)
def test_matmul_column_major_and_strided_operands(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    M, K, N = 6, 9, 4
    a = _rand((M, K), dtype, 3)
    b = _rand((K, N), dtype, 4)
    a_cm = np.asfortranarray(a)  # column-major operands
    b_cm = np.asfortranarray(b)
    _run(name, a_cm, b_cm)
    _run(name, a_cm, b, ta=False, tb=False)
    # transposed views of column-major data with the flags set
    _run(name, np.asfortranarray(a.T), b_cm.T.copy(order="F"), ta=True, tb=True)
    # a padded leading dimension (row-major, ld > cols)
    pad = np.zeros((M, K + 5), dtype)
    pad[:, :K] = a
    _run(name, pad[:, :K], b)
    # column-major output
    out = np.zeros((N, M), dtype).T
    _run(name, a, b, out=out)
    # a vector-shaped operand with a non-unit stride
    _run(name, _rand((1, 2 * K), dtype, 5)[:, ::2], b)


@pytest.mark.parametrize("name", NAMES)
def test_matmul_batch_broadcast(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((4, 3, 5, 6), dtype, 6)
    b = _rand((4, 3, 6, 2), dtype, 7)
    _run(name, a, b)
    # b broadcast over the batch dims by stride 0
    b0 = np.broadcast_to(_rand((1, 1, 6, 2), dtype, 8), (4, 3, 6, 2))
    _run(name, a, b0)
    # a broadcast over one batch dim by size 1
    a1 = _rand((4, 1, 5, 6), dtype, 9)
    out = np.zeros((4, 3, 5, 2), dtype)
    call_kernel(name, [a1, b], [out], [0, 0])
    _check(out, np.matmul(a1, b), dtype)
    # transposed batch
    _run(name, a.transpose(1, 0, 3, 2), b.transpose(1, 0, 2, 3), ta=True)


@pytest.mark.parametrize("name", NAMES)
def test_matmul_empty(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    for M, K, N in ((0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)):
        a = _rand((M, K), dtype, 1)
        b = _rand((K, N), dtype, 2)
        out = _run(name, a, b)
        if K == 0:
            assert not out.any()
    out = np.zeros((0, 2, 2), dtype)
    call_kernel(name, [np.zeros((0, 2, 3), dtype), np.zeros((0, 3, 2), dtype)], [out], [0, 0])


@pytest.mark.parametrize("name", NAMES)
def test_matmul_large(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((130, 257), dtype, 11)
    b = _rand((257, 190), dtype, 12)
    _run(name, a, b)
    _run(name, a.T.copy(), b, ta=True)


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("m,k,n", [(301, 97, 45), (21, 133, 517), (600, 64, 600)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_split_over_threads(name, threads, m, k, n, ta, tb):
    """Large products are cut into blocks of rows (taller than wide) or of columns (wider),
    one per thread, on multiples of 8 with the remainder in the last: every cut, with
    either operand transposed, gives NumPy's product."""
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((k, m) if ta else (m, k), dtype, 21)
    b = _rand((n, k) if tb else (k, n), dtype, 22)
    set_num_threads(threads)
    try:
        _run(name, a, b, ta, tb)
    finally:
        set_num_threads(0)


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
def test_matmul_unblasable_layout_needs_workspace(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((4, 10), dtype, 1)[:, ::-2]  # negative column stride
    b = _rand((5, 3), dtype, 2)
    out = np.zeros((4, 3), dtype)
    with pytest.raises(KernelError) as e:
        call_kernel(name, [a, b], [out], [0, 0])
    assert "workspace" in str(e.value) and "a's matrix strides" in str(e.value)
    assert e.value.code == 3


@pytest.mark.parametrize("name", ["sf_cpu_matmul_int32", "sf_cpu_matmul_int64"])
def test_int_matmul_any_layout(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((4, 10), dtype, 1)[:, ::-2]
    b = np.broadcast_to(_rand((1, 3), dtype, 2), (5, 3))
    _run(name, a, b)
    _run(name, a, _rand((3, 10), dtype, 3)[:, ::2], tb=True)


def test_int32_matmul_wraps():
    a = np.full((1, 2), 2**30, np.int32)
    b = np.full((2, 1), 4, np.int32)
    out = np.zeros((1, 1), np.int32)
    call_kernel("sf_cpu_matmul_int32", [a, b], [out], [0, 0])
    assert out[0, 0] == np.matmul(a, b)[0, 0]


def test_matmul_shape_mismatch():
    with pytest.raises(KernelError) as e:
        call_kernel(
            "sf_cpu_matmul_float32",
            [np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)],
            [np.zeros((2, 5), np.float32)],
            [0, 0],
        )
    assert "does not give" in str(e.value)
    with pytest.raises(KernelError):
        call_kernel(
            "sf_cpu_matmul_float32",
            [np.zeros((2, 3), np.float64), np.zeros((3, 5), np.float32)],
            [np.zeros((2, 5), np.float32)],
            [0, 0],
        )


def _call_with_workspace(name, a, b, out, ta, tb, ws_bytes):
    """call_kernel has no workspace argument: build the sf_call by hand."""
    from staticflow.backends import cpu

    ffi = cpu.ffi
    ins = ffi.new("sf_tensor[]", 2)
    outs = ffi.new("sf_tensor[]", 1)
    cpu.array_record(ins[0], a)
    cpu.array_record(ins[1], b)
    cpu.array_record(outs[0], out)
    call = ffi.new("sf_call *")
    call.n_in, call.n_out = 2, 1
    setattr(call, "in", ins)
    call.out = outs
    call.iattr[0], call.iattr[1] = int(ta), int(tb)
    ws = np.zeros(max((ws_bytes + 7) // 8, 1), np.float64)  # 8-byte aligned, >= ws_bytes
    call.workspace = ffi.cast("void *", ws.ctypes.data)
    call.workspace_size = ws_bytes
    status = cpu.kernel(name)(call)
    return status, ffi.string(call.msg).decode()


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
def test_matmul_packs_into_workspace(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    item = np.dtype(dtype).itemsize
    M, K, N = 4, 5, 3
    a = _rand((2, M, 2 * K), dtype, 1)[:, :, ::-2]  # not BLAS-able
    b = np.broadcast_to(_rand((2, K, 1), dtype, 2), (2, K, N))  # stride-0 columns
    out_base = np.zeros((2, M, 2 * N), dtype)
    out = out_base[:, :, ::2]  # not BLAS-able either
    need = (M * K + K * N + M * N) * item
    status, msg = _call_with_workspace(name, a, b, out, False, False, need - item)
    assert status == 3 and "workspace" in msg
    status, msg = _call_with_workspace(name, a, b, out, False, False, need)
    assert status == 0, msg
    _check(out, np.matmul(a, b), dtype)
    assert not out_base[:, :, 1::2].any()


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
@pytest.mark.parametrize("K,N", [(1, 1), (33, 10), (784, 512), (300, 700), (64, 130), (7, 2100)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_one_row_products(name, K, N, ta, tb):
    """M = 1 (a batch-1 dense layer) takes the matrix-vector path: every column block, the
    tail of a block and both layouts of b, against NumPy."""
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a = _rand((K, 1) if ta else (1, K), dtype, 11)
    b = _rand((N, K) if tb else (K, N), dtype, 12)
    _run(name, a, b, ta, tb)


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
def test_one_row_product_with_strided_row_and_padded_b(name):
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    K, N = 200, 300
    b = np.zeros((K, N + 7), dtype)
    b[:, :N] = _rand((K, N), dtype, 13)
    _run(name, _rand((1, 3 * K), dtype, 14)[:, ::3], b[:, :N])
    bt = np.zeros((N, K + 5), dtype)
    bt[:, :K] = _rand((N, K), dtype, 15)
    _run(name, _rand((1, K), dtype, 16), bt[:, :K], tb=True)


@pytest.mark.parametrize("name", ["sf_cpu_matmul_float32", "sf_cpu_matmul_float64"])
def test_one_row_product_is_the_same_on_any_thread_count(name):
    """Each output of a one-row product is one thread's sum in k order: 1, 2 and 3 threads
    give the same bits."""
    dtype = DTYPES[name.rsplit("_", 1)[1]]
    a, b = _rand((1, 784), dtype, 17), _rand((784, 520), dtype, 18)
    outs = []
    try:
        for n in (1, 2, 3):
            set_num_threads(n)
            outs.append(_run(name, a, b))
    finally:
        set_num_threads(0)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
