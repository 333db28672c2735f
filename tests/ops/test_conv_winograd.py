"""The Winograd F(2x2, 5x5) conv kernels (conv.c) against a NumPy reference.

The reference (test_conv_igemm.np_conv_and_grads) sums one strided window per
filter tap; the kernels transform 6x6 tiles, multiply per transform position and
transform back, so they agree to rounding, not bits. Configurations cover what
the kernels cut into tiles: odd output sizes (a last, partial tile row and
column), VALID and explicit padding (tiles that start outside the image), output
depths of one to five vectors, batch 1 (the tiles of one image over the
threads), more images than the filter gradient's partial sums, the fused bias,
relu and max-pool epilogue, and non-finite inputs, which the kernels hand to the
implicit-GEMM kernels so that NaN and Inf land where the im2col reference puts
them.
"""

from __future__ import annotations

import numpy as np
import pytest
from conv_graphs import conv_with_gradients
from test_conv_igemm import check_fused_epilogue, np_conv_and_grads

from staticflow.backends.cpu import KernelError, call_kernel, simd_bytes
from staticflow.ops import conv_ops

pytestmark = pytest.mark.usefixtures("sf_graph")

LANES32 = simd_bytes() // 4
KERNELS = ("conv2d_winograd", "conv2d_backprop_input_winograd", "conv2d_backprop_filter_winograd")

CONFIGS = [
    # x shape, filter depth out, padding
    ((2, 14, 14, 16), 32, "SAME"),  # the wider LeNet's second conv, smaller
    ((3, 9, 11, 32), 16, "VALID"),  # odd output 5x7: partial tiles
    ((1, 7, 13, 16), 80, ((1, 3), (0, 4))),  # batch 1, explicit padding, 5 vectors out
    ((11, 6, 6, 16), 16, "SAME"),  # more images than partial sums of the filter gradient
    ((2, 5, 5, 16), 16, ((4, 4), (4, 4))),  # the largest padding the input gradient takes
]


@pytest.mark.parametrize("xs,o,pad", CONFIGS)
def test_conv_and_gradients_match_numpy(xs, o, pad):
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal(xs), rng.standard_normal((5, 5, xs[3], o))
    want, dy, want_gx, want_gw = np_conv_and_grads(x, w, rng.standard_normal, (1, 1), (1, 1), pad)
    for dt in (np.float32, np.float64):
        used, got = conv_with_gradients(x, w, dy, dt, (1, 1), pad)
        name = np.dtype(dt).name
        for kernel in KERNELS:
            assert f"sf_cpu_{kernel}_{name}" in used, (kernel, sorted(used))
        tol = 2e-4 if dt == np.float32 else 1e-11
        for a, b in zip(got, (want, want_gx, want_gw)):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 10)


def test_other_convs_keep_their_kernels():
    """3x3 filters, strides 2 and depths that do not fill vectors are not Winograd's."""
    rng = np.random.default_rng(12)
    for xs, ws, st in (((2, 8, 8, 16), (3, 3, 16, 16), (1, 1)), ((2, 9, 9, 16), (5, 5, 16, 16), (2, 2)),
                       ((2, 8, 8, 3), (5, 5, 3, 16), (1, 1))):
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        _, dy, _, _ = np_conv_and_grads(x, w, rng.standard_normal, st, (1, 1), "SAME")
        used, _ = conv_with_gradients(x, w, dy, np.float32, st, "SAME")
        assert not any("winograd" in k for k in used), sorted(used)


def _numpy_nonfinite(a):
    return np.isnan(a), np.isposinf(a), np.isneginf(a)


@pytest.mark.parametrize("where", ["image", "filter", "dy"])
def test_non_finite_values_land_where_the_implicit_gemm_puts_them(where, monkeypatch):
    """One Inf: the transforms would spread NaN over its whole tile; the kernels rerun
    that image (or the filter gradient) on the implicit-GEMM kernels instead, so the
    results equal theirs, NaN and Inf in the same places and the finite values close."""
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((3, 10, 9, 16)), rng.standard_normal((5, 5, 16, 16))
    dy = rng.standard_normal((3, 10, 9, 16))
    {"image": x, "filter": w, "dy": dy}[where][(1, 4, 3, 5)] = np.inf
    used, got = conv_with_gradients(x, w, dy, np.float32, (1, 1), "SAME")
    assert "sf_cpu_conv2d_winograd_float32" in used
    monkeypatch.setattr(conv_ops, "WINOGRAD", False)
    used_ig, want = conv_with_gradients(x, w, dy, np.float32, (1, 1), "SAME")
    assert "sf_cpu_conv2d_igemm_float32" in used_ig and not any("winograd" in k for k in used_ig)
    # the Inf reaches the two results that read it (y and dw from the image, y and dx
    # from the filter, dx and dw from dy)
    assert sum(not np.isfinite(b).all() for b in want) == 2
    for a, b in zip(got, want):
        for ma, mb in zip(_numpy_nonfinite(a), _numpy_nonfinite(b)):
            np.testing.assert_array_equal(ma, mb)
        fin = np.isfinite(b)
        np.testing.assert_allclose(a[fin], b[fin], rtol=2e-4, atol=2e-3)


@pytest.mark.parametrize("n", [1, 5])
def test_fused_bias_relu_pool_epilogue(n):
    """conv + bias + relu + 2x2 max pool fuse into the Winograd kernel, with NumPy's values."""
    check_fused_epilogue(n, 5, "fused_conv2d_winograd", seed=14)


def test_results_do_not_depend_on_the_thread_count():
    """Blocks of tiles and the filter gradient's partial sums are cut by size, not by
    threads: one thread and two give the same bits."""
    from staticflow.backends import cpu

    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((9, 12, 12, 16)), rng.standard_normal((5, 5, 16, 32))
    _, dy, _, _ = np_conv_and_grads(x, w, rng.standard_normal, (1, 1), (1, 1), "SAME")
    before = cpu.get_num_threads()
    try:
        cpu.set_num_threads(1)
        _, one = conv_with_gradients(x, w, dy, np.float32, (1, 1), "SAME")
        cpu.set_num_threads(2)
        _, two = conv_with_gradients(x, w, dy, np.float32, (1, 1), "SAME")
    finally:
        cpu.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _args(c=LANES32, o=LANES32, k=5, scratch=1 << 16):
    x = np.ones((2, 6, 6, c), np.float32)
    w = np.ones((k, k, c, o), np.float32)
    y = np.full((2, 6, 6, o), 7.0, np.float32)
    return [x, w, np.zeros(scratch, np.float32)], [y], (1, 1, 1, 1, (k - 1) // 2, (k - 1) // 2, 0)


def test_winograd_conv_runs_with_good_arguments():
    ins, outs, ia = _args()
    call_kernel("sf_cpu_conv2d_winograd_float32", ins, outs, ia)
    # the centre sees all 25 taps of C ones; a corner 9 (to rounding: the transforms
    # divide by 6 and 24)
    np.testing.assert_allclose(outs[0][0, 3, 3, 0], 25.0 * LANES32, rtol=1e-6)
    np.testing.assert_allclose(outs[0][1, 0, 0, 1], 9.0 * LANES32, rtol=1e-6)


@pytest.mark.parametrize(
    "kernel,change,message",
    [
        ("conv2d_winograd", dict(o=LANES32 + 1), "not a multiple of the"),
        ("conv2d_winograd", dict(c=3), "not a multiple of the"),
        ("conv2d_winograd", dict(k=3), "needs a 5x5 filter"),
        ("conv2d_winograd", dict(scratch=10), "the scratch must hold"),
        ("fused_conv2d_winograd", dict(scratch=10), "the scratch must hold"),
    ],
)
def test_winograd_conv_refuses_bad_arguments(kernel, change, message):
    ins, outs, ia = _args(**change)
    with pytest.raises(KernelError, match=message):
        call_kernel(f"sf_cpu_{kernel}_float32", ins, outs, ia)
    assert np.all(outs[0] == 7.0)


def test_winograd_gradients_refuse_bad_arguments():
    (x, w, big), (y,), ia = _args()
    dx, dw = np.full(x.shape, 7.0, np.float32), np.full(w.shape, 7.0, np.float32)
    small = np.zeros(10, np.float32)
    dx_kernel = "sf_cpu_conv2d_backprop_input_winograd_float32"
    with pytest.raises(KernelError, match="the scratch must hold"):
        call_kernel(dx_kernel, [w, y, small], [dx], ia)
    with pytest.raises(KernelError, match="needs a 5x5 filter, strides 1"):
        call_kernel(dx_kernel, [w, np.ascontiguousarray(y[:, :3, :3]), big], [dx], (2, 2) + ia[2:])
    with pytest.raises(KernelError, match="padding of at most 4"):
        dy8 = np.zeros((2, 8, 8, LANES32), np.float32)
        call_kernel(dx_kernel, [w, dy8, big], [dx], (1, 1, 1, 1, 5, 5, 0))
    assert np.all(dx == 7.0)
    with pytest.raises(KernelError, match="the scratch must hold"):
        call_kernel("sf_cpu_conv2d_backprop_filter_winograd_float32", [x, y, small], [dw], ia)
    assert np.all(dw == 7.0)
