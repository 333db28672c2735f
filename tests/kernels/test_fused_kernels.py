"""fused.c and the fused conv kernels called directly: values against NumPy, activation codes
against the header's enum, and errors as status codes with messages."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.backends import cpu
from staticflow.backends.cpu import KernelError, call_kernel, kernel_table
from staticflow.ops import fused_ops


def _rand(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)


def test_activation_codes_are_the_headers():
    for name, code in fused_ops.ACTIVATIONS.items():
        c_name = {"LeakyRelu": "LEAKY_RELU"}.get(name, name.upper())
        assert getattr(cpu.lib, f"SF_ACT_{c_name}") == code


def test_every_fused_kernel_is_declared_by_a_fused_op():
    declared = {
        k
        for name in (
            "_FusedMatMul",
            "_FusedConv2D",
            "_FusedBiasActivationGrad",
            "_MatMulApplyGradientDescent",
        )
        for k in fused_ops.registry.get(name).kernels
    }
    fused = {
        n for n in kernel_table() if n.startswith(("sf_cpu_fused_", "sf_cpu_bias_activation", "sf_cpu_gemm_"))
    }
    assert fused <= declared


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", sorted(fused_ops.ACTIVATIONS))
def test_fused_matmul_applies_bias_and_activation(dtype, act):
    a, b, bias = _rand((37, 19), 1, dtype), _rand((19, 23), 2, dtype), _rand((23,), 3, dtype)
    out = np.full((37, 23), np.nan, dtype)
    name = "float32" if dtype == np.float32 else "float64"
    call_kernel(
        f"sf_cpu_fused_matmul_{name}", [a, b, bias], [out], [0, 0, fused_ops.ACTIVATIONS[act], 1], [0.3]
    )
    want = fused_ops.activate(a.astype(np.float64) @ b + bias, act, 0.3)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_fused_matmul_errors_name_what_is_wrong():
    a, b = _rand((3, 4), 1), _rand((5, 2), 2)
    with pytest.raises(KernelError, match=r"a \[3, 4\] times b \[5, 2\] does not give \[3, 2\]"):
        call_kernel("sf_cpu_fused_matmul_float32", [a, b], [np.zeros((3, 2), np.float32)], [0, 0, 1, 0])
    b = _rand((4, 2), 2)
    with pytest.raises(KernelError, match="unknown activation code 42"):
        call_kernel("sf_cpu_fused_matmul_float32", [a, b], [np.zeros((3, 2), np.float32)], [0, 0, 42, 0])
    with pytest.raises(KernelError, match="the bias must be 2 contiguous float32 values"):
        call_kernel(
            "sf_cpu_fused_matmul_float32",
            [a, b, _rand((3,), 3)],
            [np.zeros((3, 2), np.float32)],
            [0, 0, 1, 1],
        )


@pytest.mark.parametrize("threads", [1, 2])
def test_bias_activation_grad_sums_the_backprops(threads):
    g, f = _rand((5000, 7), 4), _rand((5000, 7), 5)
    back, db = np.zeros_like(g), np.zeros(7, np.float32)
    scratch = np.zeros(8 * (7 + 7 * (256 // 7)), np.float64)
    old = cpu.get_num_threads()
    cpu.set_num_threads(threads)
    try:
        call_kernel(
            "sf_cpu_bias_activation_grad_float32",
            [g, f, scratch],
            [back, db],
            [fused_ops.ACTIVATIONS["Relu"]],
        )
    finally:
        cpu.set_num_threads(old)
    want = np.where(f > 0, g, 0)
    np.testing.assert_array_equal(back, want)
    # float32 rounding of blocks of rows, far below the float32 rounding of the sum itself
    scale = np.abs(want).astype(np.float64).sum(0)
    np.testing.assert_allclose(db, want.astype(np.float64).sum(0), rtol=0, atol=float(scale.max()) * 1e-6)


def test_bias_activation_grad_refuses_an_activation_it_has_no_gradient_for():
    g = _rand((4, 3), 1)
    with pytest.raises(KernelError, match="no fused gradient for activation code 6"):
        call_kernel(
            "sf_cpu_bias_activation_grad_float32",
            [g, g, np.zeros(4096, np.float64)],
            [np.zeros_like(g), np.zeros(3, np.float32)],
            [6],
        )


def test_gemm_apply_gradient_descent_updates_in_place():
    var, a, b = _rand((20, 30), 1), _rand((11, 20), 2), _rand((11, 30), 3)
    want = var.astype(np.float64) - 0.05 * (a.T.astype(np.float64) @ b)
    call_kernel(
        "sf_cpu_gemm_apply_gradient_descent_float32", [var, np.array(0.05, np.float32), a, b], [], [1, 0]
    )
    np.testing.assert_allclose(var, want, rtol=1e-5, atol=1e-5)


def test_fused_conv_pools_what_it_computed():
    x, f, bias = _rand((3, 8, 8, 2), 1), _rand((3, 3, 2, 4), 2), _rand((4,), 3)
    y = np.zeros((3, 8, 8, 4), np.float32)
    pooled = np.zeros((3, 4, 4, 4), np.float32)
    scratch = np.zeros(3 * 64 * 9 * 2, np.float32)
    iattr = [1, 1, 1, 1, 1, 1, 0, fused_ops.ACTIVATIONS["Relu"], 1, 2, 2, 2, 2, 0, 0]
    call_kernel("sf_cpu_fused_conv2d_float32", [x, f, scratch, bias], [y, pooled], iattr)
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = sum(
        np.einsum("nhwc,co->nhwo", xp[:, i : i + 8, j : j + 8], f[i, j]) for i in range(3) for j in range(3)
    )
    want = np.maximum(conv + bias, 0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(pooled, y.reshape(3, 4, 2, 4, 2, 4).max(axis=(2, 4)))
    with pytest.raises(KernelError, match="the bias \\(last input\\) must be 4 values"):
        call_kernel("sf_cpu_fused_conv2d_float32", [x, f, scratch, bias[:3]], [y], iattr[:9])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("act", ["Relu", "Sigmoid"])
def test_one_row_fused_matmul_gives_the_unfused_values(dtype, tb, act):
    """A batch-1 dense layer: the fused kernel's values against NumPy, and bit for bit the
    plain matmul's output with the bias added and the activation applied after it (the
    unfused plan's three kernels), since both run the same matrix-vector product."""
    K, N = 784, 250
    a, bias = _rand((1, K), 1, dtype), _rand((N,), 3, dtype)
    b = _rand((N, K) if tb else (K, N), 2, dtype)
    name = "float32" if dtype == np.float32 else "float64"
    out = np.full((1, N), np.nan, dtype)
    call_kernel(
        f"sf_cpu_fused_matmul_{name}", [a, b, bias], [out], [0, tb, fused_ops.ACTIVATIONS[act], 1], [0.3]
    )
    want = fused_ops.activate(a.astype(np.float64) @ (b.T if tb else b) + bias, act, 0.3)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    if act == "Relu":  # NumPy's float sigmoid rounds differently from the kernel's
        plain = np.full((1, N), np.nan, dtype)
        call_kernel(f"sf_cpu_matmul_{name}", [a, b], [plain], [0, tb])
        np.testing.assert_array_equal(out, np.maximum(plain + bias, 0))
