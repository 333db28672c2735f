"""The CUDA kernels' logic, compiled for the CPU: every emulated kernel against its C
kernel on strided, broadcast and edge-case views, the reductions' tree order
against an independent Python rendering of it, and the error paths. Needs a C
compiler, not nvcc or a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow  # noqa: F401  (registers the ops)
from staticflow.backends import cpu
from staticflow.ops import registry

from .cases import cases, check_matmul_layouts, check_numerics_errors, run_and_compare

_FUSED = ("sf_cuda_fused_", "sf_cuda_gemm_apply_", "sf_cuda_bias_activation_grad_")
FAMILIES = {
    "elementwise": lambda n: not n.startswith(("sf_cuda_cast_", "sf_cuda_copy_", "sf_cuda_select_",
                                               "sf_cuda_addn_",
                                               "sf_cuda_reduce_", "sf_cuda_apply_", "sf_cuda_random_",
                                               "sf_cuda_truncated_", "sf_cuda_gather_", "sf_cuda_one_hot_",
                                               "sf_cuda_matmul_", "sf_cuda_argmax_", "sf_cuda_argmin_",
                                               "sf_cuda_check_numerics_", "sf_cuda_max_pool",
                                               "sf_cuda_avg_pool", "sf_cuda_top_k_", "sf_cuda_in_top_k_",
                                               "sf_cuda_unsorted_segment_sum_", "sf_cuda_fused_",
                                               "sf_cuda_gemm_apply_", "sf_cuda_bias_activation_grad_"))
    and "softmax" not in n and "conv2d" not in n and "candidate_sampler" not in n,
    "cast": lambda n: n.startswith("sf_cuda_cast_"),
    "copy_select_addn": lambda n: n.startswith(("sf_cuda_copy_", "sf_cuda_select_", "sf_cuda_addn_")),
    "reduce": lambda n: n.startswith("sf_cuda_reduce_"),
    "nn": lambda n: "softmax" in n,
    "training": lambda n: n.startswith("sf_cuda_apply_"),
    "random": lambda n: n.startswith(("sf_cuda_random_", "sf_cuda_truncated_")),
    "array": lambda n: n.startswith(("sf_cuda_gather_", "sf_cuda_one_hot_")),
    "linalg": lambda n: n.startswith("sf_cuda_matmul_") or ("conv2d" in n and not n.startswith(_FUSED)),
    "fused": lambda n: n.startswith(_FUSED),
    "sampler": lambda n: "candidate_sampler" in n,
    "pool": lambda n: n.startswith(("sf_cuda_max_pool", "sf_cuda_avg_pool")),
    "topk": lambda n: n.startswith(("sf_cuda_top_k_", "sf_cuda_in_top_k_")),
    "segment": lambda n: n.startswith("sf_cuda_unsorted_segment_sum_"),
    "arg_debug": lambda n: n.startswith(("sf_cuda_argmax_", "sf_cuda_argmin_", "sf_cuda_check_numerics_")),
}


def run_family(family: str, names, call) -> int:
    """Every kernel of the family through `call`, against its C kernel; returns the count."""
    picked = sorted(n for n in names if FAMILIES[family](n))
    assert picked, f"no {family} kernels"
    failures = []
    for name in picked:
        for case in cases(name):
            try:
                run_and_compare(name, case, call, cpu.call_kernel)
            except (AssertionError, cpu.KernelError) as e:
                failures.append(f"{name} {case.label}: {str(e)[:600]}")
    assert not failures, f"{len(failures)} of the {family} calls differ:\n" + "\n".join(failures[:10])
    return len(picked)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bodies_match_the_c_kernels(emu, family):
    run_family(family, emu.table, emu.call)


def test_every_emulated_kernel_is_a_declared_c_kernel(emu):
    declared = {k for d in registry.all_ops() for k in d.kernels}
    missing = sorted(n for n in emu.table if "sf_cpu_" + n[len("sf_cuda_"):] not in declared)
    assert not missing, f"CUDA kernels whose C kernel no op declares: {missing}"
    families = {f: sum(1 for n in emu.table if pred(n)) for f, pred in FAMILIES.items()}
    assert sum(families.values()) == len(emu.table), "a kernel in no family, or in two"


def test_matmul_packs_what_cublas_cannot_read(emu):
    check_matmul_layouts(emu.call)


# ---- the reductions' order ------------------------------------------------------


def tree(v: list[float]) -> float:
    """The block tree of sf_cuda_bodies.h, written out: warps combine lanes l and l + off
    (a lane past the warp's end reads itself) for off = 16 ... 1; warp 0 then does the same
    over the warps' lane-0 values, padded with zeros."""
    def warp(x):
        x = list(x)
        for off in (16, 8, 4, 2, 1):
            old = list(x)
            x = [old[lane] + (old[lane + off] if lane + off < 32 else old[lane]) for lane in range(32)]
        return x[0]

    firsts = [warp(v[w * 32:(w + 1) * 32]) for w in range(len(v) // 32)]
    return warp(firsts + [0.0] * (32 - len(firsts)))


def test_block_tree_is_the_documented_order(emu):
    rng = np.random.default_rng(0)
    # magnitudes 1e16 and 1: each order of additions rounds differently
    v = (rng.choice([1e16, -1e16, 1.0, 3.0], size=256) * rng.integers(1, 5, size=256)).astype(np.float64)
    got = emu.lib.sf_emu_tree_sum_float32(emu.ffi.cast("const double *", v.ctypes.data))
    assert got == tree(v.tolist())
    assert tree(v.tolist()) != sum(v.tolist()), "the input must tell orders apart"


def test_row_reduction_is_thread_partials_then_the_tree(emu):
    """A float64 row sum: thread t sums elements t, t + 256, ... in order, then the tree."""
    rng = np.random.default_rng(1)
    x = rng.choice([1e15, -1e15, 0.1, 7.0], size=(2, 256 * 5 + 17)) * rng.random((2, 256 * 5 + 17))
    out = np.zeros(2)
    emu.call("sf_cuda_reduce_sum_float64", [x], [out], iattr=(1,))
    for r in range(2):
        partials = []
        for t in range(256):
            s = 0.0
            for v in x[r, t::256].tolist():
                s += v
            partials.append(s)
        assert out[r] == tree(partials)


def reduce_mode(emu, a: np.ndarray, k: int) -> int:
    ins = emu.ffi.new("sf_tensor *")
    outs = emu.ffi.new("sf_tensor *")
    emu.record(ins, a)
    emu.record(outs, np.zeros(a.shape[: a.ndim - k], a.dtype))
    return emu.lib.sf_emu_reduce_mode(ins, outs, k)


def test_reduction_picks_row_or_column_mode(emu):
    a = np.zeros((700, 40), np.float32)
    assert reduce_mode(emu, a, 1) == 0  # long contiguous rows: a block per row
    assert reduce_mode(emu, a.T, 1) == 1  # column sums: a thread per output, coalesced
    assert reduce_mode(emu, np.zeros((4000, 5), np.float32), 1) == 1  # short rows


def test_max_propagates_nan_and_ints_wrap(emu):
    a = np.arange(600, dtype=np.float32).reshape(2, 300)
    a[0, 200] = np.nan
    out = np.zeros(2, np.float32)
    emu.call("sf_cuda_reduce_max_float32", [a], [out], iattr=(1,))
    assert np.isnan(out[0]) and out[1] == 599
    b = np.full((1, 1000), 100, np.int8)
    o8 = np.zeros(1, np.int8)
    emu.call("sf_cuda_reduce_sum_int8", [b], [o8], iattr=(1,))
    assert o8[0] == np.int8(100_000 % 256 - 256)  # 100000 wraps to -96
    om = np.zeros(1, np.int8)
    emu.call("sf_cuda_reduce_mean_int8", [b], [om], iattr=(1,))
    assert om[0] == 100  # means accumulate in 64 bits


# ---- indexing of views --------------------------------------------------------


def test_broadcast_strided_binary_against_numpy(emu):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((5, 8, 6)).astype(np.float32)
    x = base[::-2, 1::2, ::3]  # (3, 4, 2), negative and step strides
    y = rng.standard_normal((4, 1)).astype(np.float32)
    buf = np.full((3, 4, 4), 9.0, np.float32)
    out = buf[:, :, ::2]
    emu.call("sf_cuda_sub_float32", [x, y], [out])
    np.testing.assert_array_equal(out, x - y)
    np.testing.assert_array_equal(buf[:, :, 1::2], 9.0)


def test_fill_transpose_and_concat_piece_through_copy(emu):
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    out = np.zeros((4, 3, 2), np.int64)
    emu.call("sf_cuda_copy_int64", [x.transpose(2, 1, 0)], [out])
    np.testing.assert_array_equal(out, x.transpose(2, 1, 0))
    # a transpose takes the tiled path (both sides coalesced); partial tiles at the edges
    before = emu.lib.sf_emu_tiled_copies
    a = np.arange(70 * 45, dtype=np.float32).reshape(70, 45)
    t = np.zeros((45, 70), np.float32)
    emu.call("sf_cuda_copy_float32", [a.T], [t])
    np.testing.assert_array_equal(t, a.T)
    assert emu.lib.sf_emu_tiled_copies == before + 1
    cat = np.zeros((2, 7), np.int64)
    emu.call("sf_cuda_copy_int64", [np.broadcast_to(np.int64(5), (2, 3))], [cat[:, 4:]])
    np.testing.assert_array_equal(cat, [[0, 0, 0, 0, 5, 5, 5]] * 2)


# ---- errors ---------------------------------------------------------------------


def test_errors_match_the_c_kernels(emu):
    def both(name, ins, outs):
        msgs = []
        for call, prefix in ((emu.call, "sf_cuda_"), (cpu.call_kernel, "sf_cpu_")):
            with pytest.raises(cpu.KernelError) as e:
                call(prefix + name, [a.copy() for a in ins], [o.copy() for o in outs])
            msgs.append(str(e.value))
        return msgs

    z = np.array([1, 0, 2], np.int32)
    got, want = both("floordiv_int32", [z, z], [np.zeros(3, np.int32)])
    assert got.endswith("integer division by zero") and want.endswith("integer division by zero")
    logits = np.zeros((2, 5), np.float32)
    got, want = both("sparse_softmax_xent_float32_int64", [logits, np.array([1, 7])],
                     [np.zeros(2, np.float32), np.zeros((2, 5), np.float32)])
    assert got == want == "Received a label value of 7 which is outside the valid range of [0, 5)."
    got, want = both("gather_float32", [np.zeros((1, 4, 2), np.float32), np.array([0, 1, 2, 3, 1, 9])],
                     [np.zeros((1, 6, 2), np.float32)])
    assert got == want == "indices[5] = 9 is not in [0, 4)"
    check_numerics_errors(both)
    got, want = both("unsorted_segment_sum_float32", [np.ones((4, 2), np.float32), np.array([0, 5, 1, 9])],
                     [np.zeros((3, 2), np.float32)])
    assert got == want == "segment_ids[1] = 5 is out of range [0, 3)"
    with pytest.raises(cpu.KernelError, match=r"input 1 of shape \[3\] does not broadcast to \[2, 4\]"):
        emu.call("sf_cuda_add_float32", [np.zeros(4, np.float32), np.zeros(3, np.float32)],
                 [np.zeros((2, 4), np.float32)])


def test_random_streams_equal_the_cpu_bits_and_advance_the_state(emu):
    for name in ("random_uniform_float32", "random_uniform_float64", "random_uniform_int_int64"):
        s1 = np.array([42, 7, 10], np.int64)
        s2 = s1.copy()
        extra = [np.array(-3, np.int64), np.array(2**40, np.int64)] if "int" in name else []
        a, b = np.zeros(1003, name.rsplit("_", 1)[1]), np.zeros(1003, name.rsplit("_", 1)[1])
        emu.call("sf_cuda_" + name, [s1, *extra], [a])
        cpu.call_kernel("sf_cpu_" + name, [s2, *extra], [b])
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(s1, s2)
        assert s1[2] > 10


# ---- the fused kernels and the samplers -------------------------------------------------


def fused_and_sampler_errors(both) -> None:
    """Bad inputs of the fused kernels and the samplers: `both(name, ins, outs, iattr)` runs
    the CUDA kernel and the C kernel and returns their messages, which must be equal."""
    f32 = np.float32
    got, want = both("fused_matmul_float32", [np.zeros((2, 3), f32), np.zeros((3, 4), f32)],
                     [np.zeros((2, 4), f32)], (0, 0, 9, 0))
    assert got == want == "fused_matmul_float32: unknown activation code 9"
    got, want = both("fused_matmul_float32", [np.zeros((2, 3), f32), np.zeros((3, 4), f32), np.zeros(3, f32)],
                     [np.zeros((2, 4), f32)], (0, 0, 1, 1))
    assert got == want == "fused_matmul_float32: the bias must be 4 contiguous float32 values"
    got, want = both("gemm_apply_gradient_descent_float64",
                     [np.zeros((2, 4)), np.array(0.1), np.zeros((2, 3)), np.zeros((4, 4))], [], (0, 0))
    assert got == want and "does not give [2, 4]" in got
    got, want = both("bias_activation_grad_float32",
                     [np.zeros((3, 2), f32), np.zeros((3, 2), f32), np.zeros(600)],
                     [np.zeros((3, 2), f32), np.zeros(2, f32)], (6,))
    assert got == want == "bias_activation_grad_float32: no fused gradient for activation code 6"
    x, w = np.zeros((1, 4, 4, 2), f32), np.zeros((3, 3, 2, 3), f32)
    got, want = both("fused_conv2d_float32", [x, w, np.zeros(4000, f32), np.zeros(2, f32)],
                     [np.zeros((1, 2, 2, 3), f32)], (1, 1, 1, 1, 0, 0, 0, 1, 1))
    assert got == want == "fused_conv2d_float32: the bias (last input) must be 3 values"
    for kind in ("uniform", "log_uniform"):
        got, want = both(f"{kind}_candidate_sampler_int64", [np.array([1, 2, 3]), np.array([0, 4, 9, -1])],
                         [np.zeros(3, np.int64), np.zeros(4, f32), np.zeros(3, f32), np.zeros(8, np.int64)],
                         (9, 1))
        assert got == want == "`true_candidate` out of range [0, 9), received 9"


def test_fused_and_sampler_errors_match_the_c_kernels(emu):
    def both(name, ins, outs, iattr):
        msgs = []
        for call, prefix in ((emu.call, "sf_cuda_"), (cpu.call_kernel, "sf_cpu_")):
            with pytest.raises(cpu.KernelError) as e:
                call(prefix + name, [a.copy() for a in ins], [o.copy() for o in outs], iattr)
            msgs.append(str(e.value))
        return msgs

    fused_and_sampler_errors(both)


def test_sampler_on_a_bad_true_class_leaves_the_state(emu):
    state = np.array([1, 2, 3], np.int64)
    outs = [np.zeros(2, np.int64), np.zeros(2, np.float32), np.zeros(2, np.float32), np.zeros(4, np.int64)]
    with pytest.raises(cpu.KernelError, match="true_candidate"):
        emu.call("sf_cuda_uniform_candidate_sampler_int64", [state, np.array([0, 5])], outs, iattr=(5, 0))
    np.testing.assert_array_equal(state, [1, 2, 3])


def test_bias_gradient_is_block_partials_in_the_documented_order(emu):
    """Column j of a [R, C] gradient: per 256-row chunk, thread group t (0..7) sums rows t,
    t + 8, ... of the chunk in float64; the 8 sums meet in the shuffle tree
    ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)); the chunks add in order."""
    rng = np.random.default_rng(3)
    R, C = 700, 3
    # magnitudes from 1e-8 to 1e8: each order of additions rounds differently
    g = rng.standard_normal((R, C)) * 10.0 ** rng.uniform(-8, 8, (R, C))
    f = np.ones((R, C))  # relu passes every gradient
    bp, db = np.zeros((R, C)), np.zeros(C)
    emu.call("sf_cuda_bias_activation_grad_float64", [g, f, np.zeros(600)], [bp, db], iattr=(1,))
    np.testing.assert_array_equal(bp, g)
    differs = False
    for j in range(C):
        total = 0.0
        for r0 in range(0, R, 256):
            p = []
            for t in range(8):
                s = 0.0
                for v in g[r0 + t:min(r0 + 256, R):8, j].tolist():
                    s += v
                p.append(s)
            total += ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]))
        assert db[j] == total
        plain = 0.0
        for v in g[:, j].tolist():
            plain += v
        differs = differs or plain != total
    assert differs, "the input must tell orders apart"


def test_every_16_bit_float_kernel_of_the_c_library_has_its_cuda_kernel(emu):
    """float16 and bfloat16: the C library's kernels (elementwise, cast, addn, select, copy,
    gather, one_hot) all have CUDA versions, so placement puts half-typed nodes on the GPU."""
    half = {n for n in cpu.kernel_table() if n.endswith(("float16", "bfloat16")) or "float16_" in n}
    assert len(half) > 150, "the C library's 16-bit float kernels"
    missing = sorted(n for n in half if "sf_cuda_" + n[len("sf_cpu_"):] not in emu.table)
    assert not missing, f"16-bit float C kernels without a CUDA kernel: {missing}"
