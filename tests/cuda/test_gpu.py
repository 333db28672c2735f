"""The CUDA kernels on a GPU against the C kernels: every kernel of every family, on
the same strided and broadcast cases as the CPU build of their bodies, and the
error paths. Skipped, with the reason, where no GPU can run them."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.backends import cpu, cuda

from .cases import check_matmul_layouts, check_numerics_errors
from .test_bodies import FAMILIES, fused_and_sampler_errors, run_family

pytestmark = pytest.mark.skipif(cuda.skip_reason() is not None, reason=f"no GPU: {cuda.skip_reason()}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_gpu_kernels_match_the_c_kernels(family):
    run_family(family, cuda.kernel_table(), cuda.call_kernel)


def test_gpu_matmul_packs_what_cublas_cannot_read():
    check_matmul_layouts(cuda.call_kernel)


def test_gpu_errors_are_statuses_with_the_c_messages():
    with pytest.raises(cuda.KernelError, match="integer division by zero"):
        z = np.array([1, 0, 2], np.int32)
        cuda.call_kernel("sf_cuda_floordiv_int32", [z, z], [np.zeros(3, np.int32)])
    with pytest.raises(cuda.KernelError, match=r"Received a label value of 7 which is outside"):
        cuda.call_kernel("sf_cuda_sparse_softmax_xent_float32_int64",
                         [np.zeros((2, 5), np.float32), np.array([1, 7])],
                         [np.zeros(2, np.float32), np.zeros((2, 5), np.float32)])
    with pytest.raises(cuda.KernelError, match=r"indices\[5\] = 9 is not in \[0, 4\)"):
        params, ix = np.zeros((1, 4, 2), np.float32), np.array([0, 1, 2, 3, 1, 9])
        cuda.call_kernel("sf_cuda_gather_float32", [params, ix], [np.zeros((1, 6, 2), np.float32)])
    # after the errors, the device still runs kernels
    x = np.arange(5, dtype=np.float32)
    out = np.zeros(5, np.float32)
    cuda.call_kernel("sf_cuda_add_float32", [x, x], [out])
    np.testing.assert_array_equal(out, 2 * x)


def test_gpu_data_errors_are_the_c_kernels_messages():
    def both(name, ins, outs):
        msgs = []
        for call, prefix, err in ((cuda.call_kernel, "sf_cuda_", cuda.KernelError),
                                  (cpu.call_kernel, "sf_cpu_", cpu.KernelError)):
            with pytest.raises(err) as e:
                call(prefix + name, [a.copy() for a in ins], [o.copy() for o in outs])
            msgs.append(str(e.value))
        return msgs

    check_numerics_errors(both)
    got, want = both("unsorted_segment_sum_int8", [np.ones((4, 2), np.int8), np.array([0, 5, 1, 9])],
                     [np.zeros((3, 2), np.int8)])
    assert got == want == "segment_ids[1] = 5 is out of range [0, 3)"


def test_gpu_large_reduction_and_elementwise():
    """Sizes past one grid of blocks (grid-stride loops) and long rows."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5_000_000)).astype(np.float32)
    out, ref = np.zeros(3, np.float32), np.zeros(3, np.float32)
    cuda.call_kernel("sf_cuda_reduce_sum_float32", [x], [out], iattr=(1,))
    cpu.call_kernel("sf_cpu_reduce_sum_float32", [x], [ref], iattr=(1,))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-3)
    y = np.zeros_like(x)
    cuda.call_kernel("sf_cuda_mul_float32", [x, x], [y])
    np.testing.assert_array_equal(y, x * x)


def test_gpu_fused_and_sampler_errors_are_the_c_kernels_messages():
    def both(name, ins, outs, iattr):
        msgs = []
        for call, prefix, err in ((cuda.call_kernel, "sf_cuda_", cuda.KernelError),
                                  (cpu.call_kernel, "sf_cpu_", cpu.KernelError)):
            with pytest.raises(err) as e:
                call(prefix + name, [a.copy() for a in ins], [o.copy() for o in outs], iattr)
            msgs.append(str(e.value))
        return msgs

    fused_and_sampler_errors(both)
    # a bad true class moves no state, and the device still runs the sampler afterwards
    state = np.array([1, 2, 3], np.int64)
    outs = [np.zeros(4, np.int64), np.zeros(2, np.float32), np.zeros(4, np.float32), np.zeros(8, np.int64)]
    name = "log_uniform_candidate_sampler_int64"
    with pytest.raises(cuda.KernelError, match="true_candidate"):
        cuda.call_kernel("sf_cuda_" + name, [state, np.array([0, 50])], outs, (50, 1))
    np.testing.assert_array_equal(state, [1, 2, 3])
    ref_state, ref = state.copy(), [o.copy() for o in outs]
    cuda.call_kernel("sf_cuda_" + name, [state, np.array([0, 49])], outs, (50, 1))
    cpu.call_kernel("sf_cpu_" + name, [ref_state, np.array([0, 49])], ref, (50, 1))
    np.testing.assert_array_equal(outs[0], ref[0])
    np.testing.assert_array_equal(state, ref_state)


def test_gpu_bias_gradient_over_many_row_chunks():
    """More 256-row chunks than a grid has blocks in y (65535: the blocks' chunk loop) and a
    wide matrix."""
    rng = np.random.default_rng(4)
    for r, c in ((65535 * 256 + 77, 2), (3000, 1000)):
        g = rng.standard_normal((r, c)).astype(np.float32)
        f = rng.standard_normal((r, c)).astype(np.float32)
        got = [np.zeros((r, c), np.float32), np.zeros(c, np.float32)]
        cuda.call_kernel("sf_cuda_bias_activation_grad_float32", [g, f, np.zeros(2 * (c + 256))], got, (1,))
        bp = g * (f > 0)
        np.testing.assert_array_equal(got[0], bp)
        np.testing.assert_allclose(got[1], bp.astype(np.float64).sum(0), rtol=1e-5, atol=1e-3)
