"""The kernel ABI's constants, by the names kernels/include/staticflow.h gives them.

Kernel attributes are positions in a call's iattr/fattr arrays; the header names each
family's positions (SF_CONV_STRIDE_H, SF_MATMUL_TRANSPOSE_A, ...) and the C kernels read
them by name. Lowering writes them through `pack`, by the same names, so a call's
attributes never depend on positions spelled out in prose. tests/kernels/test_abi_names.py
checks every name and value here against the header and the built library, so the two
cannot drift.
"""

from __future__ import annotations

SF_MAX_DIMS = 8
SF_MAX_ATTRS = 16

# activations of the fused epilogues
SF_ACT_NONE = 0
SF_ACT_RELU = 1
SF_ACT_RELU6 = 2
SF_ACT_ELU = 3
SF_ACT_SELU = 4
SF_ACT_LEAKY_RELU = 5
SF_ACT_SIGMOID = 6
SF_ACT_TANH = 7

# matmul, gemm_apply, fused_matmul
SF_MATMUL_TRANSPOSE_A = 0
SF_MATMUL_TRANSPOSE_B = 1
SF_FUSED_MATMUL_ACTIVATION = 2
SF_FUSED_MATMUL_HAS_BIAS = 3
# bias_activation_grad
SF_BIAS_ACT_GRAD_ACTIVATION = 0
# fattr of an activation's parameter
SF_FATTR_ALPHA = 0
# reduce
SF_REDUCE_NDIMS = 0
# apply_momentum / apply_adam, apply_adagrad
SF_APPLY_USE_NESTEROV = 0
SF_APPLY_UPDATE_SLOTS = 0
# candidate samplers
SF_SAMPLER_RANGE_MAX = 0
SF_SAMPLER_UNIQUE = 1
# convolutions and the fused convs
SF_CONV_STRIDE_H = 0
SF_CONV_STRIDE_W = 1
SF_CONV_DILATION_H = 2
SF_CONV_DILATION_W = 3
SF_CONV_PAD_TOP = 4
SF_CONV_PAD_LEFT = 5
SF_CONV_CHUNK = 6
SF_CONV_ACTIVATION = 7
SF_CONV_HAS_BIAS = 8
SF_CONV_POOL_KSIZE_H = 9
SF_CONV_POOL_KSIZE_W = 10
SF_CONV_POOL_STRIDE_H = 11
SF_CONV_POOL_STRIDE_W = 12
SF_CONV_POOL_PAD_TOP = 13
SF_CONV_POOL_PAD_LEFT = 14
# pools
SF_POOL_KSIZE_H = 0
SF_POOL_KSIZE_W = 1
SF_POOL_STRIDE_H = 2
SF_POOL_STRIDE_W = 3
SF_POOL_PAD_TOP = 4
SF_POOL_PAD_LEFT = 5


def pack(values: dict[int, int | float]) -> tuple:
    """The attribute array a kernel call passes: `values` by position (names above), the
    positions between them 0."""
    if not values:
        return ()
    top = max(values)
    if min(values) < 0 or top >= SF_MAX_ATTRS:
        raise ValueError(f"kernel attribute positions must lie in [0, {SF_MAX_ATTRS}), got {sorted(values)}")
    out = [0] * (top + 1)
    for k, v in values.items():
        out[k] = v
    return tuple(out)
