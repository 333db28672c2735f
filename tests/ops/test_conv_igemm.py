"""The implicit-GEMM conv kernels (conv.c) against a NumPy reference, next to im2col.

The reference pads the image itself and sums one strided window per filter tap
(tensordot over the channels); the gradients scatter and sum the same windows.
Configurations cover what the kernels cut into tiles: odd image sizes, a width
longer than one pixel tile, output depths of one to five vectors (a last,
partial block of vectors), input depths that are and are not a multiple of the
vector width (the input gradient falls back to im2col), strides, dilations,
SAME/VALID/explicit padding, batch 1 (the rows of one image over the threads)
and many small images (an image per thread), plus the fused bias, relu and max
pool epilogue.
"""

from __future__ import annotations

import numpy as np
import pytest
from conv_graphs import conv_bias_relu_pool, conv_with_gradients

from staticflow.backends.cpu import simd_bytes
from staticflow.ops import conv_ops

pytestmark = pytest.mark.usefixtures("sf_graph")

LANES32 = simd_bytes() // 4  # float32 lanes; every depth below that should fill vectors is 16k


def _pads(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return -(-(n - eff + 1) // s), 0
    out = -(-n // s)
    return out, max((out - 1) * s + eff - n, 0) // 2


def _windows(x, kh, kw, st, dil, pad):
    """(padded x, out size, pad top/left, a function giving tap (p, q)'s slice)."""
    n, h, w, _ = x.shape
    if isinstance(pad, str):
        (oh, pt), (ow, pl) = _pads(h, kh, st[0], dil[0], pad), _pads(w, kw, st[1], dil[1], pad)
    else:
        (pt, pb), (pl, pr) = pad
        oh = (h + pt + pb - (kh - 1) * dil[0] - 1) // st[0] + 1
        ow = (w + pl + pr - (kw - 1) * dil[1] - 1) // st[1] + 1
    hp = max(pt + h, (oh - 1) * st[0] + (kh - 1) * dil[0] + 1)
    wp = max(pl + w, (ow - 1) * st[1] + (kw - 1) * dil[1] + 1)
    xp = np.zeros((n, hp, wp, x.shape[3]))
    xp[:, pt : pt + h, pl : pl + w] = x

    def tap(p, q):
        r, c = p * dil[0], q * dil[1]
        rows = slice(r, r + (oh - 1) * st[0] + 1, st[0])
        return slice(None), rows, slice(c, c + (ow - 1) * st[1] + 1, st[1])

    return xp, (oh, ow), (pt, pl), tap


def np_conv_and_grads(x, w, dy_fn, st, dil, pad):
    """conv(x, w), and the gradients of sum(conv * dy) w.r.t. x and w (dy = dy_fn(shape))."""
    kh, kw = w.shape[:2]
    xp, (oh, ow), (pt, pl), tap = _windows(x, kh, kw, st, dil, pad)
    y = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for p in range(kh):
        for q in range(kw):
            y += np.tensordot(xp[tap(p, q)], w[p, q], axes=(3, 0))
    dy = dy_fn(y.shape)
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for p in range(kh):
        for q in range(kw):
            gxp[tap(p, q)] += np.tensordot(dy, w[p, q], axes=(3, 1))
            gw[p, q] = np.tensordot(xp[tap(p, q)], dy, axes=([0, 1, 2], [0, 1, 2]))
    return y, dy, gxp[:, pt : pt + x.shape[1], pl : pl + x.shape[2]], gw


CONFIGS = [
    # x shape, w shape, strides, dilations, padding
    ((2, 7, 5, 16), (3, 2, 16, 32), (1, 1), (1, 1), "SAME"),  # odd sizes, two vectors out
    ((1, 9, 6, 3), (5, 5, 3, 16), (1, 1), (1, 1), "VALID"),  # batch 1; depth 3 in (dx via im2col)
    ((3, 6, 7, 32), (3, 3, 32, 80), (1, 1), (1, 1), "SAME"),  # 5 vectors out: 4 + 1 (float32)
    ((2, 5, 4, 16), (1, 3, 16, 16), (1, 1), (1, 1), ((2, 1), (0, 3))),  # explicit padding
    ((2, 9, 8, 16), (3, 3, 16, 16), (2, 1), (1, 1), "SAME"),  # stride 2 (dx via im2col)
    ((1, 10, 9, 16), (3, 2, 16, 48), (1, 1), (2, 1), "SAME"),  # dilation 2, 3 vectors out
    ((17, 6, 6, 16), (3, 3, 16, 16), (1, 1), (1, 1), "SAME"),  # many images: one per thread
    ((1, 3, 31, 48), (1, 5, 48, 64), (1, 1), (1, 1), "SAME"),  # a row of 31: several pixel tiles
]


@pytest.mark.parametrize("path", ["igemm", "im2col"])
@pytest.mark.parametrize("xs,ws,st,dil,pad", CONFIGS)
def test_conv_and_gradients_match_numpy(xs, ws, st, dil, pad, path, monkeypatch):
    monkeypatch.setattr(conv_ops, "IGEMM", path == "igemm")
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    want, dy, want_gx, want_gw = np_conv_and_grads(x, w, rng.standard_normal, st, dil, pad)
    for dt in (np.float32, np.float64):
        used, got = conv_with_gradients(x, w, dy, dt, st, pad, dil)
        name = np.dtype(dt).name
        lanes = LANES32 * 4 // np.dtype(dt).itemsize
        wide_out = ws[3] % lanes == 0
        wide_dx = xs[3] % lanes == 0 and st == (1, 1) and isinstance(pad, str)
        for kernel, expect in (
            (f"sf_cpu_conv2d_igemm_{name}", wide_out),
            (f"sf_cpu_conv2d_backprop_filter_igemm_{name}", wide_out),
            (f"sf_cpu_conv2d_backprop_input_igemm_{name}", wide_dx),
        ):
            assert (kernel in used) == (expect and path == "igemm"), (kernel, sorted(used))
        tol = 2e-4 if dt == np.float32 else 1e-11
        for a, b in zip(got, (want, want_gx, want_gw)):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 10)


def check_fused_epilogue(n: int, k: int, kernel: str, seed: int) -> None:
    """conv (k x k, 16 -> 32 channels, SAME) + bias + relu + 2x2 max pool of n 9x7 images
    runs as the fused kernel `kernel` (float32), with NumPy's values."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, 9, 7, 16)), rng.standard_normal((k, k, 16, 32)), rng.standard_normal(32)
    y, _, _, _ = np_conv_and_grads(x, w, np.zeros, (1, 1), (1, 1), "SAME")
    r = np.maximum(y + b, 0.0)[:, :8, :6]
    want = r.reshape(n, 4, 2, 3, 2, 32).max(axis=(2, 4))
    used, got = conv_bias_relu_pool(x, w, b)
    assert f"sf_cpu_{kernel}_float32" in used, sorted(used)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)


@pytest.mark.parametrize("n", [1, 5])
def test_fused_bias_relu_pool_epilogue(n):
    """conv + bias + relu + 2x2 max pool fuse into one implicit-GEMM kernel per image (or,
    for one image, after its rows), with NumPy's values."""
    check_fused_epilogue(n, 3, "fused_conv2d_igemm", seed=8)
