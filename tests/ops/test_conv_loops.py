"""conv2d, max_pool and avg_pool against direct nested-loop references.

The references here share nothing with staticflow (not even its padding
arithmetic): TensorFlow's documented output sizes and SAME padding, then one
loop per output element and per filter tap. Configurations cover odd sizes:
non-square inputs and kernels, stride 2 and 3, SAME with odd kernels, batch
1, one channel, dilation 2, NCHW, explicit padding, a multi-chunk im2col.
Also the gradients' routing (max pool ties), and construction-time errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conv_graphs import conv_with_gradients

import staticflow as sf
from staticflow.ops import conv_ops

pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


def _pads(n, k, s, d, padding):
    """(out, pad_before) per TensorFlow's definitions."""
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return math.ceil((n - eff + 1) / s), 0
    out = math.ceil(n / s)
    return out, max((out - 1) * s + eff - n, 0) // 2


def loop_conv(x, w, sh, sw, padding, dh=1, dw=1, explicit=None):
    """x [N, H, W, C], w [KH, KW, C, O] -> [N, OH, OW, O], one output element at a time."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    if explicit is not None:
        (pt, pb), (pl, pr) = explicit
        oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
        ow = (wd + pl + pr - (kw - 1) * dw - 1) // sw + 1
    else:
        oh, pt = _pads(h, kh, sh, dh, padding)
        ow, pl = _pads(wd, kw, sw, dw, padding)
    y = np.zeros((n, oh, ow, o))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for f in range(o):
                    acc = 0.0
                    for p in range(kh):
                        for q in range(kw):
                            ih, iw = i * sh - pt + p * dh, j * sw - pl + q * dw
                            if 0 <= ih < h and 0 <= iw < wd:
                                for ch in range(c):
                                    acc += x[b, ih, iw, ch] * w[p, q, ch, f]
                    y[b, i, j, f] = acc
    return y


def loop_pool(x, kh, kw, sh, sw, padding, kind):
    n, h, wd, c = x.shape
    oh, pt = _pads(h, kh, sh, 1, padding)
    ow, pl = _pads(wd, kw, sw, 1, padding)
    y = np.zeros((n, oh, ow, c))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    vals = [
                        x[b, ih, iw, ch]
                        for ih in range(i * sh - pt, i * sh - pt + kh)
                        for iw in range(j * sw - pl, j * sw - pl + kw)
                        if 0 <= ih < h and 0 <= iw < wd
                    ]
                    y[b, i, j, ch] = max(vals) if kind == "max" else sum(vals) / len(vals)
    return y


def _run(t, feeds=None):
    with sf.Session() as sess:
        return sess.run(t, feeds)


CONV_CONFIGS = [
    # x shape, w shape, strides (h, w), padding, dilations (h, w)
    ((2, 7, 5, 3), (3, 2, 3, 4), (1, 1), "VALID", (1, 1)),
    ((1, 9, 6, 2), (3, 3, 2, 3), (2, 2), "SAME", (1, 1)),
    ((2, 8, 7, 1), (5, 3, 1, 2), (2, 1), "SAME", (1, 1)),
    ((1, 9, 8, 1), (3, 3, 1, 2), (1, 1), "SAME", (2, 2)),
    ((2, 10, 9, 2), (3, 2, 2, 3), (2, 3), "VALID", (2, 1)),
    ((1, 6, 6, 3), (1, 1, 3, 4), (1, 1), "SAME", (1, 1)),
    ((3, 4, 5, 2), (1, 1, 2, 3), (2, 2), "VALID", (1, 1)),
    ((1, 5, 4, 2), (4, 4, 2, 2), (3, 3), "SAME", (1, 1)),
]


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
@pytest.mark.parametrize("xs,ws,st,pad,dil", CONV_CONFIGS)
def test_conv2d_matches_loops(xs, ws, st, pad, dil, fmt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    want = loop_conv(x, w, st[0], st[1], pad, dil[0], dil[1])
    for dt in (np.float32, np.float64):
        g = sf.Graph()
        with g.as_default():
            xin = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2)
            y = sf.nn.conv2d(
                sf.constant(xin.astype(dt)),
                sf.constant(w.astype(dt)),
                strides=list(st),
                padding=pad,
                data_format=fmt,
                dilations=list(dil),
            )
            assert y.shape.as_list() == list(
                want.shape if fmt == "NHWC" else want.transpose(0, 3, 1, 2).shape
            )
            got = _run(y)
        if fmt == "NCHW":
            got = got.transpose(0, 2, 3, 1)
        tol = 1e-4 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


def test_conv2d_explicit_padding_matches_loops():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 5, 6, 2)), rng.standard_normal((2, 3, 2, 3))
    pads = ((1, 2), (0, 3))
    want = loop_conv(x, w, 2, 1, None, explicit=pads)
    y = sf.nn.conv2d(x, w, strides=[1, 2, 1, 1], padding=[[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
    np.testing.assert_allclose(_run(y), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "xs,ws",
    [
        ((5, 6, 5, 2), (3, 3, 2, 4)),  # little work: the chunks run one after another
        ((8, 12, 10, 3), (3, 3, 3, 8)),  # enough for the threads to take whole chunks each
    ],
)
def test_conv2d_in_chunks(xs, ws, monkeypatch):
    """A scratch smaller than the whole batch's im2col runs the batch in chunks (all three
    kernels), one after another or a chunk per thread, with the values of one whole batch."""
    monkeypatch.setattr(conv_ops, "DIRECT_MAX_TAPS", 0)
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    want = loop_conv(x, w, 1, 1, "SAME")
    results = []
    for cap in (200, 1 << 23):  # one image per chunk, then the whole batch at once
        monkeypatch.setattr(conv_ops, "COL_CAP", cap)
        with sf.Graph().as_default():
            xp, wc = sf.placeholder(sf.float64, [None, *xs[1:]]), sf.constant(w)
            y = sf.nn.conv2d(xp, wc, strides=1, padding="SAME")
            grads = sf.gradients(sf.reduce_sum(y * y), [xp, wc])
            with sf.Session() as sess:
                results.append(sess.run([y] + grads, {xp: x}))
    np.testing.assert_allclose(results[0][0], want, rtol=1e-12, atol=1e-12)
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def loop_conv_grads(x, w, dy, padding):
    """Gradients of sum(conv(x, w) * dy) (stride 1) w.r.t. x and w, one tap at a time."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    if isinstance(padding, str):
        oh, pt = _pads(h, kh, 1, 1, padding)
        ow, pl = _pads(wd, kw, 1, 1, padding)
    else:
        (pt, _), (pl, _) = padding
        oh, ow = dy.shape[1:3]
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for p in range(kh):
                    for q in range(kw):
                        ih, iw = i - pt + p, j - pl + q
                        if 0 <= ih < h and 0 <= iw < wd:
                            gx[b, ih, iw] += w[p, q] @ dy[b, i, j]
                            gw[p, q] += np.outer(x[b, ih, iw], dy[b, i, j])
    return gx, gw


DIRECT_CONFIGS = [
    # x shape, w shape, padding; stride 1 (the direct kernels' case)
    ((2, 7, 5, 1), (3, 2, 1, 6), "SAME"),  # LeNet-like: one channel in, six out, odd sizes
    ((1, 9, 6, 2), (5, 5, 2, 3), "SAME"),  # batch 1: fewer images than threads
    ((3, 6, 7, 3), (3, 3, 3, 5), "VALID"),  # depth 5: a chunk of 5 vectors
    ((2, 5, 4, 2), (1, 3, 2, 16), ((2, 1), (0, 3))),  # explicit padding, depth 16
    ((64, 6, 6, 1), (3, 3, 1, 7), "SAME"),  # enough work for every thread, one image each
    ((1, 24, 22, 2), (5, 5, 2, 6), "SAME"),  # one large image: the filter gradient splits its taps
]


@pytest.mark.parametrize("path", ["direct", "im2col"])
@pytest.mark.parametrize("xs,ws,pad", DIRECT_CONFIGS)
def test_stride1_conv_and_gradients_on_both_paths(xs, ws, pad, path, monkeypatch):
    """Narrow stride-1 convs run on the direct kernels (the input gradient as the forward
    kernel on the flipped filter), or, with the threshold at 0, through im2col: both give
    the loops' values and gradients."""
    limit = 10**9 if path == "direct" else 0
    monkeypatch.setattr(conv_ops, "IGEMM", False)  # (depth 16 would run implicit-GEMM)
    monkeypatch.setattr(conv_ops, "DIRECT_MAX_TAPS", limit)
    monkeypatch.setattr(conv_ops, "DIRECT_MAX_PAIRS", {"forward": limit, "filter": limit})
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    want = loop_conv(x, w, 1, 1, pad if isinstance(pad, str) else None,
                     explicit=None if isinstance(pad, str) else pad)
    dy = rng.standard_normal(want.shape)
    want_gx, want_gw = loop_conv_grads(x, w, dy, pad)
    for dt in (np.float32, np.float64):
        used, got = conv_with_gradients(x, w, dy, dt, (1, 1), pad)
        name = np.dtype(dt).name
        for kernel in (f"sf_cpu_conv2d_direct_{name}", f"sf_cpu_conv2d_backprop_filter_direct_{name}"):
            assert (kernel in used) == (path == "direct"), (kernel, sorted(used))
        tol = 2e-4 if dt == np.float32 else 1e-11
        for a, b in zip(got, (want, want_gx, want_gw)):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 10)


POOL_CONFIGS = [
    ((2, 7, 5, 3), (3, 2), (1, 1), "VALID"),
    ((1, 9, 6, 2), (3, 3), (2, 2), "SAME"),
    ((2, 8, 7, 1), (2, 2), (2, 2), "SAME"),
    ((1, 7, 9, 2), (3, 2), (2, 3), "VALID"),
    ((1, 5, 5, 1), (2, 2), (3, 3), "SAME"),
    ((2, 6, 5, 2), (5, 5), (1, 1), "SAME"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
@pytest.mark.parametrize("xs,k,st,pad", POOL_CONFIGS)
def test_pool_matches_loops(xs, k, st, pad, fmt, kind):
    x = np.random.default_rng(3).standard_normal(xs)
    want = loop_pool(x, k[0], k[1], st[0], st[1], pad, kind)
    fn = sf.nn.max_pool if kind == "max" else sf.nn.avg_pool
    for dt in (np.float32, np.float64):
        xin = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2)
        ks = [1, k[0], k[1], 1] if fmt == "NHWC" else [1, 1, k[0], k[1]]
        ss = [1, st[0], st[1], 1] if fmt == "NHWC" else [1, 1, st[0], st[1]]
        got = _run(fn(sf.constant(xin.astype(dt)), ks, ss, pad, data_format=fmt))
        if fmt == "NCHW":
            got = got.transpose(0, 2, 3, 1)
        tol = 1e-5 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_max_pool_gradient_goes_to_first_max():
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 5.0  # a tie: row-major order picks (0, 1)
    xp = sf.constant(x)
    y = sf.nn.max_pool(xp, 2, 2, "SAME")
    gx = _run(sf.gradients(y, [xp])[0])
    want = np.zeros_like(x)
    want[0, 0, 1, 0] = 1.0  # window (0, 0); the other windows' maxima are their first zeros
    want[0, 0, 2, 0] = 1.0
    want[0, 2, 0, 0] = 1.0
    want[0, 2, 2, 0] = 1.0
    np.testing.assert_array_equal(gx, want)


def loop_max_pool_grad(x, gy, kh, kw, sh, sw, padding):
    """Each window's gradient added at its first (row-major) maximum, one channel at a time."""
    n, h, wd, c = x.shape
    oh, pt = _pads(h, kh, sh, 1, padding)
    ow, pl = _pads(wd, kw, sw, 1, padding)
    gx = np.zeros(x.shape)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    best = None
                    for ih in range(i * sh - pt, i * sh - pt + kh):
                        for iw in range(j * sw - pl, j * sw - pl + kw):
                            if 0 <= ih < h and 0 <= iw < wd and (best is None or x[b, ih, iw, ch] > best[0]):
                                best = (x[b, ih, iw, ch], ih, iw)
                    if best is not None:
                        gx[b, best[1], best[2], ch] += gy[b, i, j, ch]
    return gx


@pytest.mark.parametrize(
    "xs,k,st,pad",
    [
        ((2, 8, 6, 35), (2, 2), (2, 2), "VALID"),  # windows tile the image; 35 = vectors + a tail
        ((1, 7, 9, 16), (2, 2), (2, 2), "SAME"),  # clipped windows at the bottom and right
        ((2, 7, 8, 3), (2, 2), (2, 2), "VALID"),  # a row left out; depth below one vector
        ((1, 9, 9, 20), (2, 3), (3, 3), "SAME"),  # gaps between the windows
        ((1, 8, 8, 16), (3, 3), (2, 2), "SAME"),  # overlapping windows (the general loop)
    ],
)
def test_max_pool_gradient_matches_loops(xs, k, st, pad):
    """Small integer values make many ties: the first maximum of each window gets it."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, xs).astype(np.float64)
    for dt in (np.float32, np.float64):
        xp = sf.constant(x.astype(dt))
        y = sf.nn.max_pool(xp, [1, *k, 1], [1, *st, 1], pad)
        gy = rng.standard_normal(y.shape.as_list())
        gx = _run(sf.gradients(y, [xp], grad_ys=[sf.constant(gy.astype(dt))])[0])
        want = loop_max_pool_grad(x, gy.astype(dt), k[0], k[1], st[0], st[1], pad)
        tol = 1e-6 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(gx, want, rtol=tol, atol=tol)


def test_conv2d_transpose_is_the_input_gradient():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 3, 3, 4))
    xp = sf.constant(x)
    y = sf.nn.conv2d(xp, w, strides=[1, 2, 2, 1], padding="SAME")
    dy = rng.standard_normal((2, 4, 3, 4))
    gx = sf.gradients(y, [xp], grad_ys=[sf.constant(dy)])[0]
    t = sf.nn.conv2d_transpose(sf.constant(dy), w, [2, 7, 6, 3], [1, 2, 2, 1], "SAME")
    a, b = _run([gx, t])
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # and the adjoint identity <conv(x), dy> = <x, conv^T(dy)>
    np.testing.assert_allclose(np.sum(_run(y) * dy), np.sum(x * b), rtol=1e-10)


def test_depthwise_matches_per_channel_conv():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 2))
    y = _run(sf.nn.depthwise_conv2d(x, w, [1, 2, 1, 1], "SAME", rate=None))
    for c in range(3):
        want = loop_conv(x[..., c : c + 1], w[:, :, c : c + 1, :], 2, 1, "SAME")
        np.testing.assert_allclose(y[..., 2 * c : 2 * c + 2], want, rtol=1e-12, atol=1e-12)
    y2 = _run(sf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME", rate=[2, 2]))
    for c in range(3):
        want = loop_conv(x[..., c : c + 1], w[:, :, c : c + 1, :], 1, 1, "SAME", 2, 2)
        np.testing.assert_allclose(y2[..., 2 * c : 2 * c + 2], want, rtol=1e-12, atol=1e-12)


def test_unknown_dims_give_partial_shapes():
    x = sf.placeholder(sf.float32, [None, 28, None, 3])
    w = sf.zeros([5, 5, 3, 8])
    assert sf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME").shape.as_list() == [None, 14, None, 8]
    assert sf.nn.max_pool(x, 2, 2, "VALID").shape.as_list() == [None, 14, None, 3]
    u = sf.placeholder(sf.float32)
    assert sf.nn.conv2d(u, w, [1, 1, 1, 1], "VALID").shape.as_list() == [None, None, None, 8]


@pytest.mark.parametrize(
    "make,match",
    [
        (
            lambda: sf.nn.conv2d(sf.zeros([1, 5, 5, 3]), sf.zeros([3, 3, 4, 2]), 1, "SAME"),
            "input depth 3 does not match filter in_channels 4",
        ),
        (lambda: sf.nn.conv2d(sf.zeros([1, 5, 5]), sf.zeros([3, 3, 5, 2]), 1, "SAME"), "input must be 4-D"),
        (lambda: sf.nn.conv2d(sf.zeros([1, 5, 5, 3]), sf.zeros([3, 3, 3]), 1, "SAME"), "filter must be 4-D"),
        (
            lambda: sf.nn.conv2d(sf.zeros([1, 2, 2, 3]), sf.zeros([3, 3, 3, 2]), 1, "VALID"),
            "larger than the padded input",
        ),
        (
            lambda: sf.nn.conv2d(sf.zeros([1, 5, 5, 3]), sf.zeros([3, 3, 3, 2]), [2, 1, 1, 1], "SAME"),
            "batch and depth entries must be 1",
        ),
        (lambda: sf.nn.conv2d(sf.zeros([1, 5, 5, 3]), sf.zeros([3, 3, 3, 2]), 1, "FULL"), "padding"),
        (lambda: sf.nn.max_pool(sf.zeros([1, 2, 2, 3]), 3, 1, "VALID"), "larger than the input"),
        (
            lambda: sf.nn.max_pool(sf.zeros([1, 5, 5, 3]), [1, 2, 2, 2], 1, "VALID"),
            "batch and depth entries must be 1",
        ),
        (
            lambda: sf.nn.conv2d_backprop_input(
                [1, 5, 5, 3], sf.zeros([3, 3, 3, 2]), sf.zeros([1, 4, 5, 2]), [1, 1, 1, 1], "SAME"
            ),
            "out_backprop height 4 does not match",
        ),
    ],
)
def test_errors(make, match):
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match=match):
            make()


def test_bad_feed_shape_is_reported_at_run_time():
    x = sf.placeholder(sf.float32, [None, None, None, 3])
    y = sf.nn.conv2d(x, sf.zeros([3, 3, 3, 2]), 1, "VALID")
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError):
        sess.run(y, {x: np.zeros((1, 2, 2, 3), np.float32)})
