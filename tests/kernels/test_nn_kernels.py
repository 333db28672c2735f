"""nn.c kernels (softmax, log_softmax) called directly against NumPy."""

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table

DTYPES = {"float32": np.float32, "float64": np.float64}
OPS = ("softmax", "log_softmax")
NAMES = sorted(
    n
    for n in kernel_table()
    if (n.startswith("sf_cpu_softmax_") or n.startswith("sf_cpu_log_softmax_")) and "_xent_" not in n
)  # the cross-entropy kernels are tested in test_nn_grad_kernels.py


def _parse(name):
    op, dt = name[len("sf_cpu_") :].rsplit("_", 1)
    return op, DTYPES[dt]


def _reference(op, x):
    x = x.astype(np.float64)
    if x.size == 0:
        return x
    m = np.max(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - m)
        s = np.sum(e, axis=-1, keepdims=True)
        return e / s if op == "softmax" else (x - m) - np.log(s)


def _check(name, x, out=None):
    op, dtype = _parse(name)
    if out is None:
        out = np.full(x.shape, 5, dtype)
    call_kernel(name, [x], [out])
    ref = _reference(op, x)
    tol = dict(rtol=2e-6, atol=2e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(out, ref, equal_nan=True, **tol)
    return out


def test_names():
    assert NAMES == sorted(f"sf_cpu_{op}_{d}" for op in OPS for d in DTYPES)


@pytest.mark.parametrize("name", NAMES)
def test_softmax(name):
    op, dtype = _parse(name)
    rng = np.random.default_rng(0)
    for shape in ((4, 10), (3, 1), (1, 37), (5, 100), (2, 3, 17), (0, 5), (3, 0)):
        _check(name, (rng.standard_normal(shape) * 5).astype(dtype))
    # large logits are stable
    out = _check(name, np.array([[1000, 1001, 1002], [-1000, -1000, -1000]], dtype))
    assert np.isfinite(out).all()
    # very negative differences underflow cleanly
    _check(name, np.array([[0, -50, -80, -100, -200, -1000] * 4], dtype))
    # sum to one
    if op == "softmax":
        x = rng.standard_normal((6, 999)).astype(dtype)
        np.testing.assert_allclose(_check(name, x).sum(-1), 1, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_softmax_parallel_and_strided(name):
    op, dtype = _parse(name)
    rng = np.random.default_rng(1)
    _check(name, rng.standard_normal((512, 1000)).astype(dtype))  # OpenMP rows
    x = rng.standard_normal((40, 60)).astype(dtype)
    _check(name, x[::-2, ::3])  # strided rows and inner stride
    _check(name, x.T)  # column-major input
    out = np.zeros((60, 40), dtype).T
    _check(name, x, out)  # strided output


@pytest.mark.parametrize("name", NAMES)
def test_softmax_nan_and_inf(name):
    op, dtype = _parse(name)
    x = np.array([[0, np.nan, 1, 2], [1, 2, 3, 4], [-np.inf, 0, 1, -np.inf]], dtype)
    out = _check(name, x)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_softmax_rejects_mismatch():
    with pytest.raises(KernelError):
        call_kernel("sf_cpu_softmax_float32", [np.zeros((2, 3), np.float64)], [np.zeros((2, 3), np.float32)])
    with pytest.raises(KernelError):
        call_kernel("sf_cpu_softmax_float32", [np.zeros((2, 3), np.float32)], [np.zeros((2, 4), np.float32)])
