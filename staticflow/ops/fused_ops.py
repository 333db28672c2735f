"""The ops pattern fusion makes (staticflow/passes/remap.py): one kernel for a group of ops.

They are internal (`OpDef.internal`): the compiler builds them in a plan's IR
from the ops a user wrote, and each fused node keeps those ops as its origin, so
errors and traces name them. `_FusedMatMul` and `_FusedConv2D` have
TensorFlow's names and signatures (its remapper's ops): the product, then
`fused_ops` applied in its epilogue ("BiasAdd" with `args[0]`, then at most one
activation). The others have no TensorFlow counterpart:

- `_FusedConv2DMaxPool`: `_FusedConv2D` whose output images are also max
  pooled while they are in cache; outputs the activation and the pooled image.
- `_FusedBiasActivationGrad`: an activation's gradient op and the bias gradient
  (the column sums) that reads it, in one pass: TensorFlow's ReluGrad +
  BiasAddGrad pair.
- `_MatMulApplyGradientDescent`: a weight gradient's product accumulated into
  the variable by the update that reads it (one GEMM with beta = 1).

Each is declared like any op, NumPy reference and test cases included, so the
generated tests check its kernels on odd shapes.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import abi, casegen, conv_ops, registry
from staticflow.ops.conv_ops import Geometry
from staticflow.ops.lowering import product_work
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
_rand = casegen.rand

# TensorFlow's fused_ops activation names -> SF_ACT_* codes of kernels/include/staticflow.h
ACTIVATIONS = {
    "Relu": abi.SF_ACT_RELU,
    "Relu6": abi.SF_ACT_RELU6,
    "Elu": abi.SF_ACT_ELU,
    "Selu": abi.SF_ACT_SELU,
    "LeakyRelu": abi.SF_ACT_LEAKY_RELU,
    "Sigmoid": abi.SF_ACT_SIGMOID,
    "Tanh": abi.SF_ACT_TANH,
}
# the activations whose gradient ops the bias gradient kernel computes (relu_grad & co.)
GRAD_ACTIVATIONS = ("Relu", "LeakyRelu", "Elu", "Selu")
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def activate(y: np.ndarray, name: str | None, alpha: float) -> np.ndarray:
    """The activation `name` (fused_ops spelling) of float64 values, as the unfused ops."""
    if name is None:
        return y
    if name == "Relu":
        return np.maximum(y, 0)
    if name == "Relu6":
        return np.minimum(np.maximum(y, 0), 6)
    if name == "Elu":
        return np.where(y > 0, y, np.expm1(np.minimum(y, 0)))
    if name == "Selu":
        return _SELU_SCALE * np.where(y > 0, y, _SELU_ALPHA * np.expm1(np.minimum(y, 0)))
    if name == "LeakyRelu":
        return np.where(y > 0, y, alpha * y)
    if name == "Sigmoid":
        return 0.5 * (1 + np.tanh(0.5 * y))
    if name == "Tanh":
        return np.tanh(y)
    raise ValueError(f"unknown activation {name!r}")


def epilogue(fused_ops) -> tuple[bool, str | None]:
    """(has a bias, the activation or None) of a fused_ops list; ValueError when unsupported."""
    ops_ = list(fused_ops)
    bias = bool(ops_) and ops_[0] == "BiasAdd"
    rest = ops_[1:] if bias else ops_
    if len(rest) > 1 or (rest and rest[0] not in ACTIVATIONS):
        raise ValueError(f"unsupported fused_ops {ops_}: BiasAdd, then at most one of {sorted(ACTIVATIONS)}")
    return bias, rest[0] if rest else None


def _check_args(c, bias: bool, channels):
    n = int(c.attrs.get("num_args", 0))
    if n != int(bias):
        raise ValueError(f"fused_ops {list(c.attrs['fused_ops'])} take {int(bias)} args, got num_args={n}")
    if bias:
        b = c.shape(2).with_rank(1)
        if b[0] is not None and channels is not None and b[0] != channels:
            raise ValueError(f"the bias has {b[0]} values for {channels} channels")


# ---------------------------------------------------------------------------
# _FusedMatMul
# ---------------------------------------------------------------------------
def _fmm_shape(c):
    bias, _ = epilogue(c.attrs["fused_ops"])
    a, b = c.shape(0).with_rank(2), c.shape(1).with_rank(2)
    ta, tb = c.attrs["transpose_a"], c.attrs["transpose_b"]
    m, ka = (a[1], a[0]) if ta else (a[0], a[1])
    kb, n = (b[1], b[0]) if tb else (b[0], b[1])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"Dimensions must be equal, but are {ka} and {kb} (inner dimensions of the product)")
    _check_args(c, bias, n)
    return [TensorShape([m, n])]


def _fmm_ref(ins, a):
    x, w = (v.astype(np.float64) for v in ins[:2])
    x = x.T if a["transpose_a"] else x
    w = w.T if a["transpose_b"] else w
    bias, act = epilogue(a["fused_ops"])
    y = x @ w
    if bias:
        y = y + ins[2].astype(np.float64)
    return activate(y, act, a["leakyrelu_alpha"]).astype(ins[0].dtype)


def _fmm_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    bias, act = epilogue(ctx.attrs["fused_ops"])
    ins = [ctx.inp(0), ctx.inp(1)] + ([ctx.inp(2)] if bias else [])
    ctx.call(
        ctx.kernel("fused_matmul", out.dtype),
        ins,
        [out],
        work=product_work(out, ins[0], ctx.attrs["transpose_a"]),
        iattr=abi.pack({
            abi.SF_MATMUL_TRANSPOSE_A: int(ctx.attrs["transpose_a"]),
            abi.SF_MATMUL_TRANSPOSE_B: int(ctx.attrs["transpose_b"]),
            abi.SF_FUSED_MATMUL_ACTIVATION: ACTIVATIONS.get(act, abi.SF_ACT_NONE),
            abi.SF_FUSED_MATMUL_HAS_BIAS: int(bias),
        }),
        fattr=abi.pack({abi.SF_FATTR_ALPHA: float(ctx.attrs["leakyrelu_alpha"])}),
    )


def _fused_attrs():
    return [
        Attr("num_args", "int", 0),
        Attr("fused_ops", "list(string)", []),
        Attr("epsilon", "float", 0.0001),
        Attr("leakyrelu_alpha", "float", 0.2),
    ]


def _fmm_cases(rng):
    out = []
    # odd sizes: not multiples of a vector, of a BLAS micro-tile, or of the threads' blocks
    for t in F:
        for ta in (False, True):
            for tb in (False, True):
                m, k, n = 7, 5, 3
                a = _rand(rng, (k, m) if ta else (m, k), t)
                b = _rand(rng, (n, k) if tb else (k, n), t)
                attrs = {
                    "transpose_a": ta,
                    "transpose_b": tb,
                    "fused_ops": ["BiasAdd", "Relu"],
                    "num_args": 1,
                }
                out.append(Case((a, b, [_rand(rng, (n,), t)]), attrs, grad=False))
    for act in sorted(ACTIVATIONS):
        attrs = {"fused_ops": ["BiasAdd", act], "num_args": 1, "leakyrelu_alpha": 0.3}
        out.append(Case((_rand(rng, (5, 4)), _rand(rng, (4, 6)), [_rand(rng, (6,))]), attrs, grad=False))
    big = {"fused_ops": ["BiasAdd", "Relu"], "num_args": 1}
    # large enough to split over threads: rows (M >= N), then columns (N > M)
    out.append(
        Case((_rand(rng, (131, 67)), _rand(rng, (67, 97)), [_rand(rng, (97,))]), big, grad=False, rtol=1e-4)
    )
    out.append(
        Case((_rand(rng, (33, 70)), _rand(rng, (70, 301)), [_rand(rng, (301,))]), big, grad=False, rtol=1e-4)
    )
    out.append(Case((_rand(rng, (4, 3)), _rand(rng, (3, 5)), []), {"fused_ops": ["Tanh"]}, grad=False))
    out.append(Case((_rand(rng, (4, 0)), _rand(rng, (0, 5)), [_rand(rng, (5,))]), big, grad=False))  # K = 0
    out.append(Case((_rand(rng, (0, 3)), _rand(rng, (3, 5)), [_rand(rng, (5,))]), big, grad=False))
    return out


op(
    name="_FusedMatMul",
    inputs=[
        Arg("a", type_attr="T"),
        Arg("b", type_attr="T"),
        Arg("args", type_attr="T", number_attr="num_args"),
    ],
    outputs=[Arg("product", type_attr="T")],
    attrs=[
        Attr("transpose_a", "bool", False),
        Attr("transpose_b", "bool", False),
        Attr("T", "type", allowed=F),
        *_fused_attrs(),
    ],
    shape_fn=_fmm_shape,
    ref=_fmm_ref,
    lower=_fmm_lower,
    kernels=registry.kernels_for(["fused_matmul"], F),
    differentiable=False,
    internal=True,
    cases=_fmm_cases,
    doc="MatMul, then BiasAdd and an activation applied to each block of the product in cache.",
)


# ---------------------------------------------------------------------------
# _FusedConv2D, _FusedConv2DMaxPool (NHWC)
# ---------------------------------------------------------------------------
def _pool_geometry(attrs, hw) -> Geometry:
    pool = {"ksize": attrs["pool_ksize"], "strides": attrs["pool_strides"], "padding": attrs["pool_padding"]}
    return Geometry(pool, hw, None, pool=True)


def _fconv_shape(pooled: bool):
    def shape_fn(c):
        y = conv_ops._conv_shape(False)(c)[0]
        bias, _ = epilogue(c.attrs["fused_ops"])
        _check_args(c, bias, y.as_tuple()[3])
        if not pooled:
            return [y]
        n, h, w, ch = y.as_tuple()
        g = _pool_geometry(c.attrs, (h, w))
        return [y, TensorShape([n, g.oh, g.ow, ch])]

    return shape_fn


def _fconv_ref(pooled: bool):
    def ref(ins, a):
        x, w = (v.astype(np.float64) for v in ins[:2])
        y = conv_ops._conv_ref_nhwc(x, w, a)
        bias, act = epilogue(a["fused_ops"])
        if bias:
            y = y + ins[2].astype(np.float64)
        y = activate(y, act, a["leakyrelu_alpha"]).astype(ins[0].dtype)
        if not pooled:
            return y
        pool = {"ksize": a["pool_ksize"], "strides": a["pool_strides"], "padding": a["pool_padding"]}
        return [y, conv_ops._pool_ref("max")([y], pool)]

    return ref


def _fconv_lower(pooled: bool):
    def lower(ctx):
        if any(int(np.prod(s)) == 0 for s in ctx.out_shapes):
            return
        bias, act = epilogue(ctx.attrs["fused_ops"])
        n, h, w, c = ctx.in_shapes[0]
        kh, kw, _, o = ctx.in_shapes[1]
        dt = ctx.out_dtypes[0]
        g = Geometry(ctx.attrs, (h, w), (kh, kw))
        work = conv_ops.conv_work(g, n, c, o)
        x, y = ctx.inp(0), ctx.out(0)
        after = {abi.SF_CONV_ACTIVATION: ACTIVATIONS.get(act, abi.SF_ACT_NONE)}
        after[abi.SF_CONV_HAS_BIAS] = int(bias)
        if pooled:
            pg = _pool_geometry(ctx.attrs, (g.oh, g.ow))
            after.update({
                abi.SF_CONV_POOL_KSIZE_H: pg.kh,
                abi.SF_CONV_POOL_KSIZE_W: pg.kw,
                abi.SF_CONV_POOL_STRIDE_H: pg.sh,
                abi.SF_CONV_POOL_STRIDE_W: pg.sw,
                abi.SF_CONV_POOL_PAD_TOP: pg.pt,
                abi.SF_CONV_POOL_PAD_LEFT: pg.pl,
            })
        outs = [y, ctx.out(1)] if pooled else [y]
        tail = [ctx.inp(2)] if bias else []
        fattr = abi.pack({abi.SF_FATTR_ALPHA: float(ctx.attrs["leakyrelu_alpha"])})
        # the direct and implicit-GEMM variants are the C library's own (a GPU runs
        # fused_conv2d: cuDNN and the epilogue kernel)
        has = ctx.backend.has_kernel
        ch = conv_ops._direct_chunk(ctx.backend, g, c, o, dt.size)
        if ch is not None and has(ctx.kernel("fused_conv2d_direct", dt)):
            wt, xe, _, _ = conv_ops._direct_sizes(g, c, o, ch, conv_ops._lanes(ctx.backend, dt.size))
            slots = max(1, min(n, conv_ops._threads(ctx.backend)))
            scratch = ctx.scratch_buffer((wt + slots * xe,), dt)
            ctx.call(
                ctx.kernel("fused_conv2d_direct", dt),
                [x, ctx.inp(1), scratch] + tail,
                outs,
                g.conv_iattr(ch, after),
                fattr,
                work=work,
            )
            return
        for variant, sizer in (
            ("fused_conv2d_winograd", conv_ops.winograd_scratch_size),
            ("fused_conv2d_igemm", conv_ops.igemm_scratch_size),
        ):
            size = sizer(ctx.backend, g, (n, h, w, c), o, dt.size, "forward")
            if size is not None and has(ctx.kernel(variant, dt)):
                scratch = ctx.scratch_buffer((size,), dt)
                ins = [x, ctx.inp(1), scratch] + tail
                ctx.call(ctx.kernel(variant, dt), ins, outs, g.conv_iattr(0, after), fattr, work=work)
                return
        col, chunk = conv_ops._col_scratch(ctx, g, (n, h, w, c), o, dt, "conv2d")
        ins = [x, ctx.inp(1)] + ([col] if col is not None else []) + tail
        ctx.call(ctx.kernel("fused_conv2d", dt), ins, outs, g.conv_iattr(chunk, after), fattr, work=work)

    return lower


def _fconv_cases(pooled: bool):
    def cases(rng):
        out = []
        configs = [
            # image, filter, conv attrs: im2col (strided, padded), pointwise, direct (narrow)
            ((2, 7, 6, 3), (3, 2, 3, 5), {"strides": [1, 2, 1, 1], "padding": "SAME"}),
            ((3, 5, 5, 4), (1, 1, 4, 6), {"strides": [1, 1, 1, 1], "padding": "VALID"}),
            ((2, 6, 7, 1), (3, 3, 1, 4), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
            (
                (1, 9, 9, 2),
                (3, 3, 2, 3),
                {"strides": [1, 1, 1, 1], "padding": "VALID", "dilations": [1, 2, 2, 1]},
            ),
        ]
        acts = ["Relu", "Elu", "LeakyRelu", "Sigmoid"]
        for i, (xs, ws, attrs) in enumerate(configs):
            for t in F:
                a = dict(attrs, fused_ops=["BiasAdd", acts[i]], num_args=1, leakyrelu_alpha=0.1)
                if pooled:
                    a.update(
                        pool_ksize=[1, 2, 2, 1],
                        pool_strides=[1, 2, 2, 1],
                        pool_padding="SAME" if i % 2 else "VALID",
                    )
                ins = (_rand(rng, xs, t), _rand(rng, ws, t), [_rand(rng, (ws[3],), t)])
                out.append(Case(ins, a, grad=False))
        # many images: chunks over threads, every epilogue and pool per chunk
        a = {"strides": [1, 1, 1, 1], "padding": "SAME", "fused_ops": ["BiasAdd", "Relu"], "num_args": 1}
        if pooled:
            a.update(pool_ksize=[1, 3, 3, 1], pool_strides=[1, 2, 2, 1], pool_padding="SAME")
        out.append(
            Case(
                (_rand(rng, (9, 12, 10, 6)), _rand(rng, (3, 3, 6, 16)), [_rand(rng, (16,))]),
                a,
                grad=False,
                rtol=1e-4,
            )
        )
        out.append(
            Case(
                (_rand(rng, (8, 12, 12, 1)), _rand(rng, (5, 5, 1, 8)), [_rand(rng, (8,))]),
                a,
                grad=False,
                rtol=1e-4,
            )
        )
        if not pooled:
            a = {"strides": [1, 1, 1, 1], "padding": "SAME", "fused_ops": ["Relu"], "num_args": 0}
            out.append(Case((_rand(rng, (2, 4, 4, 2)), _rand(rng, (2, 2, 2, 3)), []), a, grad=False))
        return out

    return cases


_CONV_FUSED_KT = registry.kernels_for(
    ["fused_conv2d", "fused_conv2d_direct", "fused_conv2d_igemm", "fused_conv2d_winograd"], F
)
for _name, _pooled in (("_FusedConv2D", False), ("_FusedConv2DMaxPool", True)):
    _attrs = [
        Attr("T", "type", allowed=F),
        Attr("strides", "list(int)"),
        Attr("padding", "string", allowed=("SAME", "VALID", "EXPLICIT")),
        Attr("explicit_paddings", "list(int)", []),
        Attr("data_format", "string", "NHWC", allowed=("NHWC",)),
        Attr("dilations", "list(int)", [1, 1, 1, 1]),
        Attr("use_cudnn_on_gpu", "bool", True),
        *_fused_attrs(),
    ]
    if _pooled:
        _attrs += [
            Attr("pool_ksize", "list(int)"),
            Attr("pool_strides", "list(int)"),
            Attr("pool_padding", "string", allowed=("SAME", "VALID")),
        ]
    op(
        name=_name,
        inputs=[
            Arg("input", type_attr="T"),
            Arg("filter", type_attr="T"),
            Arg("args", type_attr="T", number_attr="num_args"),
        ],
        outputs=[Arg("output", type_attr="T")] + ([Arg("pooled", type_attr="T")] if _pooled else []),
        attrs=_attrs,
        shape_fn=_fconv_shape(_pooled),
        ref=_fconv_ref(_pooled),
        lower=_fconv_lower(_pooled),
        kernels=_CONV_FUSED_KT,
        differentiable=False,
        internal=True,
        cases=_fconv_cases(_pooled),
        doc="Conv2D (NHWC), then BiasAdd and an activation per chunk of images in cache"
        + (", then a max pool of those images." if _pooled else "."),
    )


# ---------------------------------------------------------------------------
# _FusedBiasActivationGrad: an activation's gradient op and the bias gradient that reads it
# ---------------------------------------------------------------------------
def _grad_expr(act: str, g, f, alpha):
    if act == "Relu":
        return g * (f > 0)  # as ReluGrad: a NaN or Inf gradient where f <= 0 stays NaN
    if act == "LeakyRelu":
        return np.where(f > 0, g, alpha * g)
    if act == "Elu":
        return np.where(f < 0, g * (f + 1), g)
    if act == "Selu":
        return np.where(f < 0, g * (f + _SELU_SCALE * _SELU_ALPHA), g * _SELU_SCALE)
    raise ValueError(f"no fused gradient for activation {act!r}")


def _bag_shape(c):
    s = c.shape(0).merge_with(c.shape(1))
    if s.ndims is not None and s.ndims < 1:
        raise ValueError(f"gradients must have rank >= 1, got {s}")
    return [s, TensorShape([s.as_tuple()[-1] if s.ndims is not None else None])]


def _bag_ref(ins, a):
    g, f = (v.astype(np.float64) for v in ins)
    back = _grad_expr(a["activation"], g, f, a["alpha"])
    return [back.astype(ins[0].dtype), back.reshape(-1, back.shape[-1]).sum(axis=0).astype(ins[0].dtype)]


def _bag_lower(ctx):
    shape = ctx.in_shapes[0]
    c = shape[-1]
    r = int(np.prod(shape[:-1], dtype=np.int64))
    if c == 0:
        return
    db = ctx.out(1)
    if r == 0:
        ctx.copy(ctx.const(0, db.dtype).broadcast_to(db.shape), db)
        return
    threads = conv_ops._threads(ctx.backend)
    width = c * max(1, 256 // c)  # rows of narrow channels go k at a time (fused.c)
    scratch = ctx.scratch_buffer((threads * (c + width),), D.float64)
    views = [ctx.inp(0).reshape((r, c)), ctx.inp(1).reshape((r, c))]
    ctx.call(
        ctx.kernel("bias_activation_grad", ctx.out_dtypes[0]),
        views + [scratch],
        [ctx.out(0).reshape((r, c)), db],
        iattr=abi.pack({abi.SF_BIAS_ACT_GRAD_ACTIVATION: ACTIVATIONS[ctx.attrs["activation"]]}),
        fattr=abi.pack({abi.SF_FATTR_ALPHA: float(ctx.attrs["alpha"])}),
    )


def _bag_cases(rng):
    def away(shape, t):
        x = _rand(rng, shape, t, 0.1, 2.0)
        return np.where(rng.random(shape) < 0.5, -x, x).astype(t.np)

    out = []
    for act in GRAD_ACTIVATIONS:
        for t in F:
            for s in [(7,), (5, 3), (2, 3, 4, 5)]:
                out.append(
                    Case((_rand(rng, s, t), away(s, t)), {"activation": act, "alpha": 0.3}, grad=False)
                )
    # long columns, split over threads
    out.append(
        Case(
            (_rand(rng, (3000, 19)), away((3000, 19), D.float32)),
            {"activation": "Relu"},
            grad=False,
            rtol=1e-4,
        )
    )
    out.append(Case((_rand(rng, (0, 4)), away((0, 4), D.float32)), {"activation": "Relu"}, grad=False))
    return out


op(
    name="_FusedBiasActivationGrad",
    inputs=[Arg("gradients", type_attr="T"), Arg("features", type_attr="T")],
    outputs=[Arg("backprops", type_attr="T"), Arg("bias_backprop", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=F),
        Attr("activation", "string", allowed=GRAD_ACTIVATIONS),
        Attr("alpha", "float", 0.2),
    ],
    shape_fn=_bag_shape,
    ref=_bag_ref,
    lower=_bag_lower,
    kernels=registry.kernels_for(["bias_activation_grad"], F) + registry.kernels_for(["copy"], F),
    # the backprops over the gradients or the features: fused.c reads both at an element
    # before it writes the backprop there
    inplace=((0, 0), (1, 0)),
    differentiable=False,
    internal=True,
    cases=_bag_cases,
    doc="An activation's gradient op (ReluGrad, ...) and the sum of its rows (BiasAddGrad) in one pass.",
)


# ---------------------------------------------------------------------------
# _MatMulApplyGradientDescent: var -= alpha * op(a) op(b), one GEMM into the variable
# ---------------------------------------------------------------------------
def _mad_shape(c):
    v = c.shape(0).with_rank(2)
    if c.shape(1).ndims not in (None, 0):
        raise ValueError(f"alpha must be a scalar, got shape {c.shape(1)}")
    a, b = c.shape(2).with_rank(2), c.shape(3).with_rank(2)
    ta, tb = c.attrs["transpose_a"], c.attrs["transpose_b"]
    m, ka = (a[1], a[0]) if ta else (a[0], a[1])
    kb, n = (b[1], b[0]) if tb else (b[0], b[1])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"Dimensions must be equal, but are {ka} and {kb} (inner dimensions of the product)")
    return [v.merge_with(TensorShape([m, n]))]


def _mad_ref(ins, a):
    var, alpha = ins[0], ins[1]
    x, w = (v.astype(np.float64) for v in ins[2:])
    x = x.T if a["transpose_a"] else x
    w = w.T if a["transpose_b"] else w
    var[...] = var.astype(np.float64) - float(alpha) * (x @ w)
    return var


def _mad_lower(ctx):
    ctx.alias(0, 0)
    if ctx.inp(0).size == 0:
        return
    ins = [ctx.inp(i) for i in range(4)]  # var, lr, a, b
    ctx.call(
        ctx.kernel("gemm_apply_gradient_descent", ctx.in_dtypes[0]),
        ins,
        [],
        work=product_work(ins[0], ins[2], ctx.attrs["transpose_a"]),
        iattr=abi.pack({
            abi.SF_MATMUL_TRANSPOSE_A: int(ctx.attrs["transpose_a"]),
            abi.SF_MATMUL_TRANSPOSE_B: int(ctx.attrs["transpose_b"]),
        }),
    )


def _mad_cases(rng):
    out = []
    for t in F:
        for ta in (False, True):
            for tb in (False, True):
                a = _rand(rng, (5, 7) if ta else (7, 5), t)
                b = _rand(rng, (3, 5) if tb else (5, 3), t)
                ins = (_rand(rng, (7, 3), t), np.array(0.1, t.np), a, b)
                out.append(Case(ins, {"transpose_a": ta, "transpose_b": tb}, grad=False, label="variable"))
    ins = (_rand(rng, (70, 150)), np.array(0.01, np.float32), _rand(rng, (33, 70)), _rand(rng, (33, 150)))
    out.append(Case(ins, {"transpose_a": True}, grad=False, label="variable", rtol=1e-4))
    return out


op(
    name="_MatMulApplyGradientDescent",
    inputs=[
        Arg("var", type_attr="T", ref="update"),
        Arg("alpha", type_attr="T"),
        Arg("a", type_attr="T"),
        Arg("b", type_attr="T"),
    ],
    outputs=[Arg("out", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=F),
        Attr("transpose_a", "bool", False),
        Attr("transpose_b", "bool", False),
        Attr("use_locking", "bool", False),
    ],
    shape_fn=_mad_shape,
    ref=_mad_ref,
    lower=_mad_lower,
    kernels=registry.kernels_for(["gemm_apply_gradient_descent"], F),
    stateful=True,
    differentiable=False,
    internal=True,
    cases=_mad_cases,
    doc="ApplyGradientDescent of a MatMul's product: var -= alpha * a @ b as one GEMM into var.",
)
