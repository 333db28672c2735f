"""Activation, activation-gradient (elementwise.c) and softmax cross-entropy
(nn.c) kernels called directly, against float64 NumPy references.

Every activation / *_grad kernel and every *_xent_* kernel in the table is
exercised: the names are read from the kernel table and must be exactly the
ones these references cover.
"""

from __future__ import annotations

import zlib

import ml_dtypes
import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table

FLOATS = {"float32": np.float32, "float64": np.float64}
# the activations also take 16-bit floats (computed in float32, rounded)
HALVES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
EW_FLOATS = {**FLOATS, **HALVES}
# relative tolerance: about two units in the last place of each type
_RTOL = {np.float32: 1e-5, np.float64: 1e-12, np.float16: 2 * 2.0**-10, ml_dtypes.bfloat16: 2 * 2.0**-7}
SCALE = 1.0507009873554804934193349852946
ALPHA = 1.6732632423543772848170429916717
PARALLEL_MIN = 32768  # SF_PARALLEL_MIN


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# op -> (reference(x, alpha), domain of x)
UNARY = {
    "softplus": (lambda x, a: np.logaddexp(0.0, x), "any"),
    "elu": (lambda x, a: np.where(x > 0, x, np.expm1(x)), "any"),
    "selu": (lambda x, a: np.where(x > 0, SCALE * x, SCALE * ALPHA * np.expm1(x)), "any"),
    "leaky_relu": (lambda x, a: np.where(x > 0, x, a * x), "any"),
}
# op -> (reference(in0, in1, alpha), domain of in0, domain of in1); TensorFlow's *Grad
BINARY = {
    "relu_grad": (lambda g, f, a: g * (f > 0), "any", "zeros"),
    "sigmoid_grad": (lambda y, dy, a: dy * y * (1 - y), "unit", "any"),
    "tanh_grad": (lambda y, dy, a: dy * (1 - y * y), "sym", "any"),
    "softplus_grad": (lambda g, f, a: g * _sigmoid(f), "any", "wide"),
    "elu_grad": (lambda g, o, a: np.where(o < 0, g * (o + 1), g), "any", "zeros"),
    "selu_grad": (lambda g, o, a: np.where(o < 0, g * (o + SCALE * ALPHA), g * SCALE), "any", "zeros"),
    "leaky_relu_grad": (lambda g, f, a: np.where(f > 0, g, a * g), "any", "zeros"),
    "rsqrt_grad": (lambda y, dy, a: dy * -0.5 * y**3, "pos", "any"),
    "sqrt_grad": (lambda y, dy, a: dy * 0.5 / y, "pos", "any"),
    "reciprocal_grad": (lambda y, dy, a: -dy * y * y, "any", "any"),
}
ATTR_OPS = ("leaky_relu", "leaky_relu_grad")
XENT = ("softmax_xent", "sparse_softmax_xent")
IDX = {"int32": np.int32, "int64": np.int64}


def _op_dtype(name):
    op, dt = name[len("sf_cpu_") :].rsplit("_", 1)
    return op, dt


EW_NAMES = sorted(
    n for n in kernel_table() if n.startswith("sf_cpu_") and _op_dtype(n)[0] in {**UNARY, **BINARY}
)
XENT_NAMES = sorted(n for n in kernel_table() if "_xent_" in n)


def test_every_kernel_has_a_reference():
    assert EW_NAMES == sorted(f"sf_cpu_{op}_{dt}" for op in {**UNARY, **BINARY} for dt in EW_FLOATS)
    want = [f"sf_cpu_softmax_xent_{dt}" for dt in FLOATS]
    want += [f"sf_cpu_sparse_softmax_xent_{dt}_{ix}" for dt in FLOATS for ix in IDX]
    assert XENT_NAMES == sorted(want)


# ---------------------------------------------------------------------------
# elementwise activations and gradients
# ---------------------------------------------------------------------------


def _rand(rng, domain, shape, dtype):
    if domain == "any":
        x = rng.uniform(-4, 4, shape)
    elif domain == "wide":
        x = rng.uniform(-60, 60, shape)
    elif domain == "zeros":  # many exact zeros, both signs
        x = rng.integers(-2, 3, shape) * rng.uniform(0.5, 2, shape)
    elif domain == "unit":
        x = rng.uniform(0, 1, shape)
    elif domain == "sym":
        x = rng.uniform(-1, 1, shape)
    elif domain == "pos":
        x = rng.uniform(0.2, 4, shape)
    else:
        raise ValueError(domain)
    return np.asarray(x, dtype=dtype)


def _spec(name):
    op, dt = _op_dtype(name)
    if op in UNARY:
        ref, dom = UNARY[op]
        return ref, (dom,), EW_FLOATS[dt]
    ref, d0, d1 = BINARY[op]
    return ref, (d0, d1), EW_FLOATS[dt]


def _reference(name, ins, alpha):
    ref, _, _ = _spec(name)
    with np.errstate(all="ignore"):
        return ref(*[np.asarray(a, np.float64) for a in ins], alpha)


def _check(name, got, want):
    rtol = _RTOL[got.dtype.type]
    atol = 1e-13 if got.dtype == np.float64 else 1e-6
    got = got.astype(np.float64)
    np.testing.assert_allclose(got, want, equal_nan=True, err_msg=name, rtol=rtol, atol=atol)


LARGE = (300, 257)
assert LARGE[0] * LARGE[1] > PARALLEL_MIN


def _layouts(doms, dtype, rng):
    """(name, inputs, output) for each layout."""
    k = len(doms)
    out = []
    out.append(("contiguous", [_rand(rng, d, (3, 5, 7), dtype) for d in doms], np.empty((3, 5, 7), dtype)))
    shapes = [(4, 1, 6), (1, 5, 6)]
    ins = [np.broadcast_to(_rand(rng, d, shapes[i % 2], dtype), (4, 5, 6)) for i, d in enumerate(doms)]
    out.append(("broadcast", ins, np.empty((4, 5, 6), dtype)))
    for j in range(k):  # one operand a broadcast 0-d scalar
        ins = [
            np.broadcast_to(_rand(rng, d, (), dtype), (5, 40)) if i == j else _rand(rng, d, (5, 40), dtype)
            for i, d in enumerate(doms)
        ]
        out.append((f"scalar{j}", ins, np.empty((5, 40), dtype)))
    ins = [_rand(rng, d, (6, 10), dtype)[::-1, ::-2] for d in doms]
    out.append(("negative", ins, np.empty((6, 5), dtype)))
    ins = [
        _rand(rng, d, (9, 4), dtype).T if i == 0 else _rand(rng, d, (4, 9), dtype) for i, d in enumerate(doms)
    ]
    out.append(("mixed_transposed", ins, np.empty((9, 4), dtype).T))
    out.append(("0d", [_rand(rng, d, (), dtype) for d in doms], np.empty((), dtype)))
    out.append(("empty", [_rand(rng, d, (0, 3), dtype) for d in doms], np.empty((0, 3), dtype)))
    out.append(("large", [_rand(rng, d, LARGE, dtype) for d in doms], np.empty(LARGE, dtype)))
    ins = [
        np.broadcast_to(_rand(rng, d, (1, 1000), dtype), (70, 1000))
        if i == 1
        else _rand(rng, d, (70, 1000), dtype)
        for i, d in enumerate(doms)
    ]
    out.append(("large_broadcast_row", ins, np.empty((70, 1000), dtype)))
    return out


@pytest.mark.parametrize("name", EW_NAMES)
def test_activation_matches_numpy(name):
    _, doms, dtype = _spec(name)
    op, _ = _op_dtype(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    alphas = (0.2, 0.0, 1.5) if op in ATTR_OPS else (0.0,)
    for alpha in alphas:
        for layout, ins, out in _layouts(doms, dtype, rng):
            call_kernel(name, ins, [out], fattr=[alpha])
            _check(f"{name}/{layout}/alpha={alpha}", out, _reference(name, ins, alpha))


@pytest.mark.parametrize("name", EW_NAMES)
def test_activation_in_place(name):
    _, doms, dtype = _spec(name)
    rng = np.random.default_rng(1)
    ins = [_rand(rng, d, (50,), dtype) for d in doms]
    want = _reference(name, ins, 0.3)
    call_kernel(name, ins, [ins[-1]], fattr=[0.3])  # out is the last input
    _check(name, ins[-1], want)


@pytest.mark.parametrize("dt", list(FLOATS))
def test_activation_special_values(dt):
    t = FLOATS[dt]
    x = np.array([-np.inf, -1e4, -100, -1e-30, -0.0, 0.0, 1e-30, 100, 1e4, np.inf, np.nan], t)

    def run(op, *ins, alpha=0.0):
        out = np.empty(ins[0].shape, t)
        call_kernel(f"sf_cpu_{op}_{dt}", list(ins), [out], fattr=[alpha])
        return out

    with np.errstate(all="ignore"):
        sp = run("softplus", x)
        assert np.isfinite(sp[1:-2]).all()  # no overflow for large |x|
        assert sp[0] == 0 and sp[-2] == np.inf and np.isnan(sp[-1])
        np.testing.assert_allclose(
            sp[1:-2], np.logaddexp(0, x[1:-2].astype(np.float64)), rtol=1e-6, atol=1e-38
        )
        assert run("elu", x)[0] == -1 and np.isnan(run("elu", x)[-1])
        np.testing.assert_allclose(run("selu", x)[0], -SCALE * ALPHA, rtol=1e-6)
        assert run("leaky_relu", x, alpha=0.1)[1] == t(-1e4) * t(0.1)
        g = np.ones_like(x)
        # softplus_grad: stable sigmoid, no NaN for huge features
        spg = run("softplus_grad", g, x)
        np.testing.assert_allclose(spg[:-1], _sigmoid(x[:-1].astype(np.float64)), rtol=1e-6, atol=1e-38)
        assert spg[0] == 0 and spg[-2] == 1 and np.isnan(spg[-1]) and np.isfinite(spg[:-1]).all()
        # TensorFlow's choices at 0 and for NaN
        z = np.array([0.0, -0.0, np.nan], t)
        one = np.ones(3, t)
        np.testing.assert_array_equal(run("relu_grad", one, z), [0, 0, 0])
        np.testing.assert_array_equal(run("elu_grad", one, z), [1, 1, 1])
        np.testing.assert_allclose(run("selu_grad", one, z), [SCALE] * 3, rtol=1e-7)
        np.testing.assert_array_equal(run("leaky_relu_grad", one, z, alpha=0.5), [0.5, 0.5, 0.5])


def test_activation_rejects_bad_calls():
    with pytest.raises(KernelError, match="does not broadcast"):
        call_kernel(
            "sf_cpu_relu_grad_float32",
            [np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)],
            [np.zeros((2, 3), np.float32)],
        )
    with pytest.raises(KernelError, match="dtype"):
        call_kernel("sf_cpu_softplus_float32", [np.zeros(3, np.float64)], [np.zeros(3, np.float32)])
    with pytest.raises(KernelError, match="expected 2 input"):
        call_kernel("sf_cpu_tanh_grad_float64", [np.zeros(3)], [np.zeros(3)])


# ---------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------


def _xent_ref(logits, labels):
    x = np.asarray(logits, np.float64)
    lab = np.asarray(labels, np.float64)
    m = x.max(axis=1, keepdims=True) if x.shape[1] else np.zeros((x.shape[0], 1))
    lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return (lab * (lse - x)).sum(axis=1), np.exp(x - lse) - lab


def _xent_tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def _run_xent(name, logits, labels, loss=None, bp=None):
    dtype = logits.dtype
    n, c = logits.shape
    loss = np.full(n, 7, dtype) if loss is None else loss
    bp = np.full((n, c), 7, dtype) if bp is None else bp
    call_kernel(name, [logits, labels], [loss, bp])
    return loss, bp


def _parse_xent(name):
    body = name[len("sf_cpu_") :]
    if body.startswith("sparse_"):
        _, dt, ix = body.rsplit("_", 2)
        return True, FLOATS[dt], IDX[ix]
    return False, FLOATS[body.rsplit("_", 1)[1]], None


def _labels(rng, sparse, idx, n, c, dtype):
    if sparse:
        return rng.integers(0, c, n).astype(idx)
    p = rng.uniform(0, 1, (n, c)) ** 3
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def _dense_labels(labels, sparse, c):
    if not sparse:
        return labels
    out = np.zeros((labels.shape[0], c))
    out[np.arange(labels.shape[0]), labels] = 1
    return out


@pytest.mark.parametrize("name", XENT_NAMES)
def test_xent_matches_numpy(name):
    sparse, dtype, idx = _parse_xent(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for n, c in ((4, 10), (1, 1), (3, 7), (5, 100), (2, 1000), (0, 5), (300, 300)):  # last one: OpenMP rows
        logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
        labels = _labels(rng, sparse, idx, n, c, dtype)
        loss, bp = _run_xent(name, logits, labels)
        want_loss, want_bp = _xent_ref(logits, _dense_labels(labels, sparse, c))
        np.testing.assert_allclose(loss, want_loss, **_xent_tol(dtype))
        np.testing.assert_allclose(bp, want_bp, **_xent_tol(dtype))
        if n:  # backprop rows sum to 0 (softmax and labels both sum to 1)
            np.testing.assert_allclose(bp.sum(axis=1), 0, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", XENT_NAMES)
def test_xent_strided_views(name):
    sparse, dtype, idx = _parse_xent(name)
    rng = np.random.default_rng(3)
    n, c = 6, 9
    logits = (rng.standard_normal((c, n)) * 2).astype(dtype).T  # column-major
    if sparse:
        labels = rng.integers(0, c, 2 * n).astype(idx)[::-2]
    else:
        labels = np.broadcast_to(_labels(rng, False, None, 1, c, dtype), (n, c))  # stride-0 rows
    loss_base = np.zeros(2 * n, dtype)
    bp_base = np.zeros((c, n), dtype)
    loss, bp = _run_xent(name, logits, labels, loss_base[::2], bp_base.T)
    want_loss, want_bp = _xent_ref(logits, _dense_labels(labels, sparse, c))
    np.testing.assert_allclose(loss, want_loss, **_xent_tol(dtype))
    np.testing.assert_allclose(bp, want_bp, **_xent_tol(dtype))
    assert (loss_base[1::2] == 0).all()  # nothing written outside the views


@pytest.mark.parametrize("name", XENT_NAMES)
def test_xent_large_logits_are_stable(name):
    sparse, dtype, idx = _parse_xent(name)
    logits = np.array([[1e4, 0, -1e4, 1e4 - 1], [-1e4, -1e4, -1e4, -1e4], [5e3, -5e3, 0, 1]], dtype)
    labels = (
        np.array([3, 0, 1], idx)
        if sparse
        else np.array([[0, 0, 0, 1], [0.25, 0.25, 0.25, 0.25], [0, 1, 0, 0]], dtype)
    )
    loss, bp = _run_xent(name, logits, labels)
    assert np.isfinite(loss).all() and np.isfinite(bp).all()
    want_loss, want_bp = _xent_ref(logits, _dense_labels(labels, sparse, 4))
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(bp, want_bp, rtol=1e-6, atol=1e-6)
    assert loss[2] == pytest.approx(1e4, rel=1e-6)  # 5e3 - (-5e3)


@pytest.mark.parametrize("name", [n for n in XENT_NAMES if "sparse" in n])
def test_sparse_xent_label_out_of_range(name):
    _, dtype, idx = _parse_xent(name)
    logits = np.zeros((3, 5), dtype)
    for bad in (7, 5, -1):
        loss, bp = np.full(3, 9, dtype), np.full((3, 5), 9, dtype)
        with pytest.raises(KernelError) as e:
            call_kernel(name, [logits, np.array([0, bad, 1], idx)], [loss, bp])
        assert e.value.code == 3
        assert str(e.value) == f"Received a label value of {bad} which is outside the valid range of [0, 5)."
        assert (loss == 9).all() and (bp == 9).all()  # checked before anything is written
    with pytest.raises(KernelError, match=r"Must have at least one class, but got logits shape \[1,0\]"):
        call_kernel(
            name, [np.zeros((1, 0), dtype), np.array([0], idx)], [np.zeros(1, dtype), np.zeros((1, 0), dtype)]
        )


def test_xent_rejects_bad_shapes():
    f = np.float32
    with pytest.raises(KernelError, match="labels must have the logits' shape"):
        call_kernel(
            "sf_cpu_softmax_xent_float32",
            [np.zeros((2, 3), f), np.zeros((2, 4), f)],
            [np.zeros(2, f), np.zeros((2, 3), f)],
        )
    with pytest.raises(KernelError, match="labels must be int64"):
        call_kernel(
            "sf_cpu_sparse_softmax_xent_float32_int64",
            [np.zeros((2, 3), f), np.zeros(2, np.int32)],
            [np.zeros(2, f), np.zeros((2, 3), f)],
        )
    with pytest.raises(KernelError, match="loss must be"):
        call_kernel(
            "sf_cpu_softmax_xent_float32",
            [np.zeros((2, 3), f), np.zeros((2, 3), f)],
            [np.zeros(3, f), np.zeros((2, 3), f)],
        )
    with pytest.raises(KernelError, match="2 outputs"):
        call_kernel("sf_cpu_softmax_xent_float64", [np.zeros((2, 3)), np.zeros((2, 3))], [np.zeros(2)])
