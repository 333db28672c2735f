"""The float32 product kernels (gemm.c's own GEMM on AVX-512 builds, BLAS elsewhere) against
NumPy's float64 product: random and edge sizes (1, odd, not multiples of the 8 x 48
micro-tile, K over several K-blocks), transposes, strided and column-major operands, the
fused epilogues and the fused SGD update; and the same bits for 1 to 4 threads.

Each case runs at the default thresholds and with them lowered (`set_parallel_min(0)`), so
that small products take the own, threaded path too."""

import numpy as np
import pytest

from staticflow.backends.cpu import call_kernel, set_num_threads, set_parallel_min
from staticflow.ops import abi, fused_ops

SHAPES = [  # M, K, N
    (1, 1, 1),
    (1, 700, 33),
    (5, 3, 7),
    (13, 17, 31),
    (12, 256, 32),
    (25, 385, 65),
    (128, 784, 512),
    (131, 97, 45),
    (300, 19, 2),
    (37, 1025, 70),
    (784, 128, 100),
]


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture(params=["default", "lowered"])
def thresholds(request):
    if request.param == "lowered":
        set_parallel_min(0)
    try:
        yield request.param
    finally:
        set_parallel_min(-1)


def _matmul(a, b, ta, tb, out=None):
    M = a.shape[1] if ta else a.shape[0]
    N = b.shape[0] if tb else b.shape[1]
    if out is None:
        out = np.full((M, N), np.nan, np.float32)
    call_kernel("sf_cpu_matmul_float32", [a, b], [out], [int(ta), int(tb)])
    return out


def _close(out, want):
    # float32 sums of K products: error grows like sqrt(K) * eps * |a||b|
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=2e-5 * scale)


@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_product_matches_numpy(thresholds, M, K, N, ta, tb):
    a = _rand((K, M) if ta else (M, K), 1)
    b = _rand((N, K) if tb else (K, N), 2)
    opa = a.T if ta else a
    opb = b.T if tb else b
    _close(_matmul(a, b, ta, tb), opa.astype(np.float64) @ opb.astype(np.float64))


@pytest.mark.parametrize("M,K,N", [(45, 300, 70), (128, 520, 96)])
def test_strided_and_column_major_operands(thresholds, M, K, N):
    """Views with padded rows (leading dims past the width), a column-major a (a transposed
    view), and a column-major out: the product of what the views show."""
    big_a = _rand((M, K + 9), 3)
    big_b = _rand((K, N + 5), 4)
    a, b = big_a[:, :K], big_b[:, :N]
    want = a.astype(np.float64) @ b.astype(np.float64)
    _close(_matmul(a, b, 0, 0), want)
    at = np.asfortranarray(a)  # column-major storage of the same matrix
    _close(_matmul(at, b, 0, 0), want)
    out = np.full((N, M), np.nan, np.float32).T  # column-major out
    _matmul(a, b, 0, 0, out)
    _close(out, want)


@pytest.mark.parametrize("M,K,N", [(128, 784, 512), (131, 97, 45), (600, 64, 600), (37, 1025, 70)])
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1)])
def test_same_bits_for_any_thread_count(thresholds, M, K, N, ta, tb):
    a = _rand((K, M) if ta else (M, K), 5)
    b = _rand((N, K) if tb else (K, N), 6)
    outs = []
    for threads in (1, 2, 3, 4):
        set_num_threads(threads)
        try:
            outs.append(_matmul(a, b, ta, tb))
        finally:
            set_num_threads(0)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("act", [None, *fused_ops.ACTIVATIONS])
@pytest.mark.parametrize("M,K,N,tb", [(128, 784, 512, 0), (45, 300, 70, 1), (7, 33, 5, 0)])
def test_fused_epilogues(thresholds, act, M, K, N, tb):
    """bias + activation on each block: NumPy's values, and for relu (and no activation)
    bit for bit the plain product with the bias added and the activation applied after it,
    which is what the unfused plan computes."""
    a, bias = _rand((M, K), 7), _rand((N,), 8)
    b = _rand((N, K) if tb else (K, N), 9)
    out = np.full((M, N), np.nan, np.float32)
    code = fused_ops.ACTIVATIONS[act] if act else abi.SF_ACT_NONE
    call_kernel("sf_cpu_fused_matmul_float32", [a, b, bias], [out], [0, tb, code, 1], [0.2])
    prod = a.astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    want = fused_ops.activate(prod + bias, act, 0.2)
    scale = max(1.0, float(np.abs(prod).max()))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=2e-5 * scale)
    if act in (None, "Relu"):
        plain = _matmul(a, b, 0, tb)
        np.testing.assert_array_equal(out, fused_ops.activate(plain + bias, act, 0.2).astype(np.float32))


@pytest.mark.parametrize("M,N,K", [(784, 512, 128), (20, 30, 11), (100, 37, 300)])
def test_fused_sgd_update(thresholds, M, N, K):
    """var -= lr * a^T b, accumulated into var: NumPy's values, the same bits for 1 to 4
    threads."""
    var0, a, b = _rand((M, N), 10), _rand((K, M), 11), _rand((K, N), 12)
    lr = np.array(0.05, np.float32)
    want = var0.astype(np.float64) - 0.05 * (a.T.astype(np.float64) @ b.astype(np.float64))
    results = []
    for threads in (1, 2, 3, 4):
        var = var0.copy()
        set_num_threads(threads)
        try:
            call_kernel("sf_cpu_gemm_apply_gradient_descent_float32", [var, lr, a, b], [], [1, 0])
        finally:
            set_num_threads(0)
        results.append(var)
    np.testing.assert_allclose(results[0], want, rtol=1e-5, atol=1e-4)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
