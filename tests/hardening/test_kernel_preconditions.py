"""Kernels check their inputs before touching memory: shapes that disagree, values that
must be scalars, layouts a kernel relies on. Called directly (as a fuzzer or a broken
lowering would), each returns the ABI's error status with a message naming the kernel
instead of reading or writing outside a tensor (these wrote past the output before; the
AddressSanitizer build of `make test` reports any that would)."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.backends import cpu


def _f32(*shape):
    return np.zeros(shape, np.float32)


def test_max_pool_grad_output_must_have_the_input_shape():
    x, grad = _f32(2, 4, 4, 3), _f32(2, 2, 2, 3)
    ok = _f32(2, 4, 4, 3)
    cpu.call_kernel("sf_cpu_max_pool_grad_float32", [x, grad], [ok], [2, 2, 2, 2, 0, 0])
    with pytest.raises(cpu.KernelError, match=r"max_pool_grad_float32: output must have the input's shape"):
        cpu.call_kernel("sf_cpu_max_pool_grad_float32", [x, grad], [_f32(1, 4, 4, 3)], [2, 2, 2, 2, 0, 0])


def test_max_pool_grad_grad_grad_must_have_the_input_shape():
    x, pooled = _f32(2, 4, 4, 3), _f32(2, 2, 2, 3)
    x64, pooled64 = x.astype(np.float64), pooled.astype(np.float64)
    name = "sf_cpu_max_pool_grad_grad_float64"
    cpu.call_kernel(name, [x64, np.zeros_like(x64)], [pooled64], [2, 2, 2, 2, 0, 0])
    with pytest.raises(cpu.KernelError, match=r"grad_grad_float64: grad must have the input's shape"):
        cpu.call_kernel(name, [x64, np.zeros((1, 1, 1, 3))], [pooled64], [2, 2, 2, 2, 0, 0])


@pytest.mark.parametrize("on_shape", [(0,), (2,)])
def test_one_hot_values_must_be_scalars(on_shape):
    idx = np.array([[0, 1]], np.int64)
    out = _f32(1, 3, 2)
    with pytest.raises(cpu.KernelError, match="one_hot: on_value and off_value must be scalars"):
        cpu.call_kernel("sf_cpu_one_hot_float32", [idx, np.zeros(on_shape, np.float32), _f32()], [out])


def test_unsorted_segment_sum_needs_contiguous_data_and_output():
    ids = np.array([0, 1, 0], np.int32)
    data = np.arange(24, dtype=np.float32).reshape(3, 8)
    out = _f32(2, 4)
    cpu.call_kernel("sf_cpu_unsorted_segment_sum_float32", [data[:, :4].copy(), ids], [out])
    np.testing.assert_array_equal(out, [data[0, :4] + data[2, :4], data[1, :4]])
    with pytest.raises(cpu.KernelError, match="unsorted_segment_sum: data and out must be contiguous"):
        cpu.call_kernel("sf_cpu_unsorted_segment_sum_float32", [data[:, ::2], ids], [out])
    wide = _f32(2, 8)
    with pytest.raises(cpu.KernelError, match="must be contiguous"):
        cpu.call_kernel("sf_cpu_unsorted_segment_sum_float32", [data[:, :4].copy(), ids], [wide[:, ::2]])


def test_sparse_softmax_cross_entropy_needs_a_class():
    with pytest.raises(cpu.KernelError, match=r"Must have at least one class, but got logits shape \[2,0\]"):
        cpu.call_kernel(
            "sf_cpu_sparse_softmax_xent_float32_int32",
            [_f32(2, 0), np.zeros(2, np.int32)],
            [_f32(2), _f32(2, 0)],
        )
