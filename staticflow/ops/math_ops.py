"""Math ops: elementwise arithmetic, comparisons, casts, matrix products, reductions."""

from __future__ import annotations

import math
import warnings

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, broadcast_shapes, unknown_shape
from staticflow.ops import abi, builder, casegen, registry, rewrites
from staticflow.ops import scalar as _scalar
from staticflow.ops.lowering import coalesce, contiguous_strides, narrow_tiling, product_work
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
I = D.INTS  # noqa: E741
FI = F + I
IDX_T = (D.int32, D.int64)
# TensorFlow's CPU kernel type sets beyond float32/float64/int32/int64
H = D.HALF_FLOATS  # float16, bfloat16: computed in float32 and rounded
AF = D.ALL_FLOATS
SIGNED = AF + D.SIGNED_INTS  # Neg, Abs, Sign, Pow
REAL = AF + D.ALL_INTS  # every numeric type
_rand = casegen.rand
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _in_float32(fn):
    """`fn` on 16-bit float arrays computed in float32, its float results rounded back
    (what TensorFlow's CPU kernels for float16 and bfloat16 do)."""

    def wrapped(*xs):
        half = [x.dtype for x in xs if x.dtype.name in _HALF_NP]
        if not half:
            return fn(*xs)
        y = np.asarray(fn(*[x.astype(np.float32) if x.dtype.name in _HALF_NP else x for x in xs]))
        return y.astype(half[0]) if y.dtype.kind == "f" else y

    return wrapped


# by name: bfloat16's NumPy type loads (ml_dtypes) only once a bfloat16 array exists
_HALF_NP = frozenset(t.name for t in H)


def _to_float32(ctx, view):
    """A float32 copy of a 16-bit float view, in scratch (its values exactly)."""
    f = ctx.scratch_buffer(view.shape, D.float32)
    if view.size:
        a, b = coalesce([view, f])
        ctx.call(registry.kernel_name("cast", view.dtype, D.float32), [a], [b])
    return f


def _from_float32(ctx, f, out):
    """Round float32 view `f` into 16-bit float view `out`."""
    if out.size:
        a, b = coalesce([f, out])
        ctx.call(registry.kernel_name("cast", D.float32, out.dtype), [a], [b])


def _half_kernels(*bases) -> tuple[str, ...]:
    """Kernels of an op that runs 16-bit floats on float32 kernels: the casts, the bases."""
    casts = tuple(registry.kernel_name("cast", a, b) for h in H for a, b in ((h, D.float32), (D.float32, h)))
    return casts + registry.kernels_for(bases, (D.float32,))


# ---------------------------------------------------------------------------
# unary elementwise
# ---------------------------------------------------------------------------
def _away_from_zero(rng, shape, t):
    x = casegen.rand(rng, shape, t, 0.3, 2.0)
    if t.is_unsigned:
        return x
    return np.where(rng.random(shape) < 0.5, -x, x).astype(t.np)


_UNARY = [
    # TF name, kernel, reference, dtypes, input generator
    ("Neg", "neg", np.negative, SIGNED, _rand),
    ("Reciprocal", "reciprocal", lambda x: np.reciprocal(x), AF, _away_from_zero),
    ("Exp", "exp", np.exp, AF, _rand),
    ("Expm1", "expm1", np.expm1, AF, _rand),
    ("Log", "log", np.log, AF, casegen.positive),
    ("Log1p", "log1p", np.log1p, AF, lambda rng, s, t: _rand(rng, s, t, -0.5, 2.0)),
    ("Sqrt", "sqrt", np.sqrt, AF, casegen.positive),
    ("Rsqrt", "rsqrt", lambda x: 1 / np.sqrt(x), AF, casegen.positive),
    ("Square", "square", np.square, REAL, _rand),
    ("Abs", "abs", np.abs, SIGNED, _away_from_zero),
    ("Sign", "sign", np.sign, SIGNED, _away_from_zero),
    ("Floor", "floor", np.floor, AF, _rand),
    ("Ceil", "ceil", np.ceil, AF, _rand),
    ("Round", "round", np.round, AF, lambda rng, s, t: (np.round(_rand(rng, s, t) * 4) / 4).astype(t.np)),
    ("Sin", "sin", np.sin, AF, _rand),
    ("Cos", "cos", np.cos, AF, _rand),
    ("Erf", "erf", _erf, AF, _rand),
    ("Relu", "relu", lambda x: np.maximum(x, 0), REAL, _away_from_zero),
    ("Sigmoid", "sigmoid", lambda x: 1 / (1 + np.exp(-x.astype(np.float64))), AF, _rand),
    ("Tanh", "tanh", np.tanh, AF, _rand),
    ("LogicalNot", "logical_not", np.logical_not, (D.bool_,), _rand),
]
_NONDIFF = {"Sign", "Floor", "Ceil", "Round", "LogicalNot"}
# what algebraic simplification may use (registry: involution, neutral operands)
_ALGEBRA = {
    "Neg": dict(involution=True),
    "LogicalNot": dict(involution=True),
    "AddV2": dict(neutral=((0, 0.0), (1, 0.0))),
    "Add": dict(neutral=((0, 0.0), (1, 0.0))),
    "Sub": dict(neutral=((1, 0.0),)),
    "Mul": dict(neutral=((0, 1.0), (1, 1.0))),
    "RealDiv": dict(neutral=((1, 1.0),)),
    "Div": dict(neutral=((1, 1.0),)),
    "LogicalAnd": dict(neutral=((0, True), (1, True))),
    "LogicalOr": dict(neutral=((0, False), (1, False))),
}
# what pattern fusion may use (registry: affine steps, activations, cross-entropy parts)
_FUSION = {
    "AddV2": dict(affine="add"),
    "Add": dict(affine="add"),
    "Sub": dict(affine="sub"),
    "Mul": dict(affine="mul"),
    "Relu": dict(activation="Relu"),
    "Sigmoid": dict(activation="Sigmoid"),
    "Tanh": dict(activation="Tanh"),
    "Log": dict(xent_role="log"),
    "Neg": dict(xent_role="neg"),
}


def _unary_lower(base):
    return lambda ctx: ctx.elementwise(base)


def _unary_ref(fn):
    fn = _in_float32(fn)
    return lambda ins, a: np.asarray(fn(ins[0])).astype(ins[0].dtype)


for _name, _base, _fn, _dts, _gen in _UNARY:
    op(
        name=_name,
        inputs=[Arg("x", type_attr="T")],
        outputs=[Arg("y", type_attr="T")],
        attrs=[Attr("T", "type", allowed=_dts)],
        shape_fn=lambda c: [c.shape(0)],
        ref=_unary_ref(_fn),
        lower=_unary_lower(_base),
        kernels=registry.kernels_for([_base], _dts),
        elementwise=True,
        inplace=((0, 0),),
        scalar=_scalar.ScalarOp(_base),
        differentiable=_name not in _NONDIFF,
        **_ALGEBRA.get(_name, {}),
        **_FUSION.get(_name, {}),
        cases=(
            lambda gen, dts, nd: (
                lambda rng: [
                    Case((gen(rng, s, t),), grad=t.is_floating and not nd)
                    for t in dts
                    for s in casegen.UNARY_SHAPES
                ]
            )
        )(_gen, _dts, _name in _NONDIFF),
        doc=f"Elementwise {_base}.",
    )


# ---------------------------------------------------------------------------
# binary elementwise (NumPy broadcasting)
# ---------------------------------------------------------------------------
def _nonzero(rng, shape, t):
    if t.is_floating:
        return _away_from_zero(rng, shape, t)
    sign = 1 if t.is_unsigned else rng.choice([-1, 1], size=shape)
    return (rng.integers(1, 5, size=shape) * sign).astype(t.np)


def _small_exp(rng, shape, t):
    return _rand(rng, shape, t, -2.0, 2.0) if t.is_floating else rng.integers(0, 4, size=shape).astype(t.np)


def _pos_or_int(rng, shape, t):
    return casegen.positive(rng, shape, t) if t.is_floating else _rand(rng, shape, t)


def _int_pow(x, y):
    if np.any(np.broadcast_arrays(x, y)[1] < 0):  # only exponents an element meets
        raise ValueError("Integers to negative integer powers are not allowed")
    return np.power(x, y)


def _pow(x, y):
    return np.power(x, y) if x.dtype.kind == "f" else _int_pow(x, y)


def _zero_divisor(x, y) -> bool:
    """An integer division by zero among the elements computed (none when the result is empty)."""
    return x.dtype.kind in "iu" and np.any(np.broadcast_arrays(x, y)[1] == 0)


def _floordiv(x, y):
    if _zero_divisor(x, y):
        raise ZeroDivisionError("Integer division by zero")
    with np.errstate(divide="ignore"):
        return np.floor(x / y) if x.dtype.kind == "f" else np.floor_divide(x, y)  # TF: floor(x / y)


def _floormod(x, y):
    if _zero_divisor(x, y):
        raise ZeroDivisionError("Integer division by zero")
    with np.errstate(divide="ignore"):
        return np.mod(x, y)


_CMP = REAL
_BINARY = [
    # TF name, kernel, reference, dtypes, (x generator, y generator), output dtype (None: same)
    ("AddV2", "add", np.add, REAL, (_rand, _rand), None),
    ("Add", "add", np.add, SIGNED + (D.uint8,), (_rand, _rand), None),
    ("Sub", "sub", np.subtract, REAL, (_rand, _rand), None),
    ("Mul", "mul", np.multiply, REAL, (_rand, _rand), None),
    ("RealDiv", "div", np.true_divide, AF, (_rand, _nonzero), None),
    ("Div", "div", np.true_divide, AF, (_rand, _nonzero), None),
    ("FloorDiv", "floordiv", _floordiv, REAL, (_rand, _nonzero), None),
    ("FloorMod", "mod", _floormod, REAL, (_rand, _nonzero), None),
    ("Pow", "pow", _pow, SIGNED, (_pos_or_int, _small_exp), None),
    ("Maximum", "maximum", np.maximum, REAL, (_rand, _rand), None),
    ("Minimum", "minimum", np.minimum, REAL, (_rand, _rand), None),
    ("SquaredDifference", "squared_difference", lambda x, y: np.square(x - y), AF + I, (_rand, _rand), None),
    ("Less", "less", np.less, _CMP, (_rand, _rand), D.bool_),
    ("LessEqual", "less_equal", np.less_equal, _CMP, (_rand, _rand), D.bool_),
    ("Greater", "greater", np.greater, _CMP, (_rand, _rand), D.bool_),
    ("GreaterEqual", "greater_equal", np.greater_equal, _CMP, (_rand, _rand), D.bool_),
    ("Equal", "equal", np.equal, _CMP + (D.bool_,), (_rand, _rand), D.bool_),
    ("NotEqual", "not_equal", np.not_equal, _CMP + (D.bool_,), (_rand, _rand), D.bool_),
    ("LogicalAnd", "logical_and", np.logical_and, (D.bool_,), (_rand, _rand), D.bool_),
    ("LogicalOr", "logical_or", np.logical_or, (D.bool_,), (_rand, _rand), D.bool_),
]
_BINARY_NONDIFF = {
    "FloorDiv",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "Equal",
    "NotEqual",
    "LogicalAnd",
    "LogicalOr",
}


def _binary_shape(c):
    return [broadcast_shapes(c.shape(0), c.shape(1))]


def _binary_ref(fn):
    fn = _in_float32(fn)

    def ref(ins, a):
        with np.errstate(all="ignore"):
            return fn(ins[0], ins[1])

    return ref


def _binary_cases(gens, dts, nd):
    gx, gy = gens

    def cases(rng):
        out = []
        for t in dts:
            for sx, sy in casegen.BINARY_SHAPES:
                x, y = gx(rng, sx, t), gy(rng, sy, t)
                out.append(Case((x, y), grad=t.is_floating and not nd))
        return out

    return cases


for _name, _base, _fn, _dts, _gens, _odt in _BINARY:
    _allowed = _dts + (D.string,) if _name in ("Equal", "NotEqual") else _dts  # strings: on the host
    _attrs = [Attr("T", "type", allowed=_allowed)]
    if _name in ("Equal", "NotEqual"):
        _attrs.append(Attr("incompatible_shape_error", "bool", True))
    op(
        name=_name,
        inputs=[Arg("x", type_attr="T"), Arg("y", type_attr="T")],
        outputs=[Arg("z", dtype=_odt) if _odt else Arg("z", type_attr="T")],
        attrs=_attrs,
        shape_fn=_binary_shape,
        ref=_binary_ref(_fn),
        lower=_unary_lower(_base),
        kernels=registry.kernels_for([_base], _dts),
        elementwise=True,
        inplace=((0, 0), (1, 0)),  # an output of its input's dtype and shape (broadcasting: the full one)
        scalar=_scalar.ScalarOp(_base),
        differentiable=_name not in _BINARY_NONDIFF,
        **_ALGEBRA.get(_name, {}),
        **_FUSION.get(_name, {}),
        cases=_binary_cases(_gens, _allowed, _name in _BINARY_NONDIFF),
        doc=f"Elementwise {_base} with NumPy broadcasting.",
    )


# ---------------------------------------------------------------------------
# the elementwise ops gradients are made of (TensorFlow's *Grad ops)
# ---------------------------------------------------------------------------
def _same_shape(c):
    try:
        return [c.shape(0).merge_with(c.shape(1))]
    except ValueError:
        raise ValueError(f"inputs must have one shape, got {c.shape(0)} and {c.shape(1)}") from None


def _grad_op_cases(gen_first):
    def cases(rng):
        shapes = [(), (7,), (3, 4), (0, 2)]
        return [Case((gen_first(rng, s, t), _rand(rng, s, t))) for t in AF for s in shapes]

    return cases


def _unit_interval(rng, shape, t):
    return _rand(rng, shape, t, 0.05, 0.95)


def _native_ref(fn):
    """An elementwise gradient op's reference in its inputs' dtype, with the kernel's order
    of operations, so that NaN, Inf and overflow come out as the kernel's (TensorFlow's)."""

    def ref(ins, a):
        dt = ins[0].dtype
        work = dt if dt in (np.float32, np.float64) else np.float32  # 16-bit floats: as their kernels
        y, dy = ins[0].astype(work), ins[1].astype(work)
        with np.errstate(all="ignore"):
            return np.asarray(fn(y, dy, a)).astype(work).astype(dt)

    return ref


def declare_grad_op(name, base, fn, first_gen, arg_names, attrs=(), fattr=None, doc=""):
    """A binary elementwise op of the float types with TF's gradient-op signature."""
    attr_list = [Attr("T", "type", allowed=AF), *attrs]
    if fattr:

        def lower(ctx):
            ctx.elementwise(base, fattr=abi.pack({abi.SF_FATTR_ALPHA: ctx.attrs[fattr]}))

    else:
        lower = _unary_lower(base)
    op(
        name=name,
        inputs=[Arg(arg_names[0], type_attr="T"), Arg(arg_names[1], type_attr="T")],
        outputs=[Arg(arg_names[2], type_attr="T")],
        attrs=attr_list,
        shape_fn=_same_shape,
        ref=_native_ref(fn),
        lower=lower,
        kernels=registry.kernels_for([base], AF),
        elementwise=True,
        inplace=((0, 0), (1, 0)),
        scalar=_scalar.ScalarOp(base, (fattr,) if fattr else ()),
        cases=_grad_op_cases(first_gen),
        doc=doc,
    )


declare_grad_op(
    "SigmoidGrad",
    "sigmoid_grad",
    lambda y, dy, a: dy * (y * (1 - y)),
    _unit_interval,
    ("y", "dy", "z"),
    doc="dy * y * (1 - y), the gradient of Sigmoid from its output y.",
)
declare_grad_op(
    "TanhGrad",
    "tanh_grad",
    lambda y, dy, a: dy * (1 - y * y),
    _unit_interval,
    ("y", "dy", "z"),
    doc="dy * (1 - y^2), the gradient of Tanh from its output y.",
)
declare_grad_op(
    "SqrtGrad",
    "sqrt_grad",
    lambda y, dy, a: np.where(dy == 0, 0, y.dtype.type(0.5) * dy / y),
    casegen.positive,
    ("y", "dy", "z"),
    doc="dy / (2 y), the gradient of Sqrt from its output y (0 where dy is 0, as TensorFlow).",
)
declare_grad_op(
    "RsqrtGrad",
    "rsqrt_grad",
    lambda y, dy, a: np.where(dy == 0, 0, y.dtype.type(-0.5) * (dy * y) * (y * y)),
    casegen.positive,
    ("y", "dy", "z"),
    doc="-dy y^3 / 2, the gradient of Rsqrt from its output y (0 where dy is 0, as TensorFlow).",
)
declare_grad_op(
    "ReciprocalGrad",
    "reciprocal_grad",
    lambda y, dy, a: np.where(dy == 0, 0, -y * y * dy),
    _away_from_zero,
    ("y", "dy", "z"),
    doc="-dy y^2, the gradient of Reciprocal from its output y (0 where dy is 0, as TensorFlow).",
)


# ---------------------------------------------------------------------------
# Cast, Select, AddN
# ---------------------------------------------------------------------------
_CAST_T = D.FIXED_SIZE


def _cast_lower(ctx):
    src, dst = ctx.in_dtypes[0], ctx.out_dtypes[0]
    out = ctx.out(0)
    if out.size:
        ctx.call(registry.kernel_name("cast", src, dst), [ctx.inp(0)], [out])


def _cast_ref(ins, a):
    """The kernel's conversions: float to int truncates toward zero and saturates, NaN -> 0
    (the bounds MAX + 1 and MIN - 1 computed in the float type, as the kernel does)."""
    x = ins[0]
    dst = a["DstT"]
    src = D.as_dtype(x.dtype)
    if dst is D.bool_:
        return x != 0
    if src in H:  # 16-bit floats convert through float32 (exactly)
        x, src = x.astype(np.float32), D.float32
    if src.is_floating and dst.is_integer:
        # truncate toward zero, saturating, NaN -> 0 (floats above 2^53 are integers already)
        info = np.iinfo(dst.np)
        with np.errstate(invalid="ignore"):
            y = np.trunc(np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=np.inf, neginf=-np.inf))
            big = y >= float(info.max)
            y = np.clip(y, float(info.min), float(info.max))
            # float(max) rounds up past max for the 64-bit types
            return np.where(big, info.max, y.astype(dst.np)).astype(dst.np)
    if dst in H and src is not D.float32:
        # float64 and integers round to float32 first, as TensorFlow's Eigen types do
        x = x.astype(np.float32)
    with np.errstate(over="ignore"):  # overflow to Inf is the conversion's result
        return x.astype(dst.np)


def _pv_cast(op):
    """An integer vector cast to another integer type keeps its known elements."""
    if not op.inputs[0].dtype.is_integer:
        return None
    p = yield "partial", 0
    return p


op(
    name="Cast",
    inputs=[Arg("x", type_attr="SrcT")],
    outputs=[Arg("y", type_attr="DstT")],
    attrs=[
        Attr("SrcT", "type", allowed=_CAST_T),
        Attr("DstT", "type", allowed=_CAST_T),
        Attr("Truncate", "bool", False),
    ],
    shape_fn=lambda c: [c.shape(0)],
    partial_value=_pv_cast,
    ref=_cast_ref,
    lower=_cast_lower,
    elementwise=True,
    simplify=rewrites.cast_chain,
    kernels=tuple(registry.kernel_name("cast", s, d) for s in _CAST_T for d in _CAST_T),
    cases=lambda rng: [
        Case(
            ((_rand(rng, sh, s) * (3 if s.is_floating else 1)).astype(s.np),),
            {"DstT": d},
            grad=s in F and d in F,
        )
        for s in _CAST_T
        for d in _CAST_T
        for sh in [(), (2, 3)]
    ]
    + [
        # out of range, NaN and Inf: saturate (NaN -> 0); float64 -> 16 bits rounds twice,
        # through float32, as TensorFlow does
        Case((np.array([300.7, -5.5, 1e10, -1e10, np.nan, np.inf, -np.inf, 65519.9, 70000], s.np),),
             {"DstT": d}, grad=False)
        for s in (D.float32, D.float64)
        for d in D.ALL_INTS + H
    ]
    + [Case((np.array([1 + 2**-11 + 2**-40, 1 + 2**-8 + 2**-40, 2.0**70]),), {"DstT": d}, grad=False)
       for d in H + D.ALL_INTS]
    + [Case((np.array([300, -1, 70000, -40000, 2**31 - 1], np.int32),), {"DstT": d}, grad=False)
       for d in D.ALL_INTS + H],
    doc="Converts to DstT (floats to ints truncate toward zero).",
)


def _select_shape(c):
    cs, ts, es = c.input_shapes
    s = ts.merge_with(es)
    if cs.ndims is not None and s.ndims is not None and cs.ndims != s.ndims:
        vector = cs.ndims == 1 and s.ndims >= 1 and cs.is_compatible_with(TensorShape([s.as_tuple()[0]]))
        if cs.ndims != 0 and not vector:
            raise ValueError(
                f"condition of shape {cs} must be a scalar, match the shape of x {s} "
                "or be a vector of its first dimension"
            )
    elif cs.ndims is not None and s.ndims is not None:
        s = s.merge_with(cs)
    return [s]


def _select_lower(ctx):
    _select_views(ctx, row_condition=True)


def _selectv2_lower(ctx):
    _select_views(ctx, row_condition=False)


def _select_views(ctx, row_condition: bool):
    """Select's condition may be a vector over the first dimension (TF1's where); SelectV2's
    broadcasts as NumPy does, like its other inputs."""
    out = ctx.out(0)
    if out.size == 0:
        return
    cond = ctx.inp(0)
    if row_condition and cond.ndim == 1 and out.ndim > 1:
        cond = cond.with_([cond.shape[0]] + [1] * (out.ndim - 1), [1] + [0] * (out.ndim - 1))
    views = coalesce(
        [
            cond.broadcast_to(out.shape),
            ctx.inp(1).broadcast_to(out.shape),
            ctx.inp(2).broadcast_to(out.shape),
            out,
        ]
    )
    ctx.call(ctx.kernel("select", ctx.in_dtypes[1]), views[:3], views[3:])


def _select_ref(ins, a):
    c, t, e = ins
    if c.ndim == 1 and t.ndim > 1:
        c = c.reshape((-1,) + (1,) * (t.ndim - 1))
    return np.where(c, t, e)


_SELECT_T = _CAST_T + (D.string,)  # strings run on the host


def _select_cases(rng):
    out = []
    for t in _SELECT_T:
        out.append(
            Case(
                (_rand(rng, (2, 3), D.bool_), _rand(rng, (2, 3), t), _rand(rng, (2, 3), t)),
                grad=t.is_floating,
            )
        )
    out.append(Case((_rand(rng, (4,), D.bool_), _rand(rng, (4, 2)), _rand(rng, (4, 2)))))
    out.append(Case((np.array(False), _rand(rng, (3, 2)), _rand(rng, (3, 2)))))  # a scalar condition
    return out


op(
    name="Select",
    inputs=[Arg("condition", dtype=D.bool_), Arg("t", type_attr="T"), Arg("e", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=_SELECT_T)],
    shape_fn=_select_shape,
    ref=_select_ref,
    lower=_select_lower,
    elementwise=True,
    scalar=_scalar.ScalarOp(align=_scalar.select_align, build=_scalar.select_expr),
    kernels=registry.kernels_for(["select"], _CAST_T),
    cases=_select_cases,
    doc="Picks from t where condition holds, else from e (TF1 where).",
)


def _selectv2_shape(c):
    return [broadcast_shapes(broadcast_shapes(c.shape(0), c.shape(1)), c.shape(2))]


op(
    name="SelectV2",
    inputs=[Arg("condition", dtype=D.bool_), Arg("t", type_attr="T"), Arg("e", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=_SELECT_T)],
    shape_fn=_selectv2_shape,
    ref=lambda ins, a: np.where(*ins),
    lower=_selectv2_lower,
    elementwise=True,
    scalar=_scalar.ScalarOp(build=_scalar.select_expr),
    kernels=registry.kernels_for(["select"], _CAST_T),
    cases=lambda rng: [
        Case((_rand(rng, (3, 1), D.bool_), _rand(rng, (1, 4)), _rand(rng, ()))),
        Case((_rand(rng, (), D.bool_), _rand(rng, (2,), D.int64), _rand(rng, (2,), D.int64)), grad=False),
        Case((_rand(rng, (2, 1), D.bool_), _rand(rng, (3,), D.string), _rand(rng, (), D.string)), grad=False),
        Case((_rand(rng, (5,), D.bool_), _rand(rng, ()), _rand(rng, (4, 5)))),
    ],
    doc="Picks from t where condition holds, else from e, all broadcast.",
)


def _addn_shape(c):
    s = TensorShape(None)
    for x in c.input_shapes:
        try:
            s = s.merge_with(x)
        except ValueError:
            raise ValueError(
                f"AddN inputs must all have one shape, got {[str(x) for x in c.input_shapes]}"
            ) from None
    return [s]


def _addn_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    if len(ctx.in_shapes) == 1:
        ctx.alias(0, 0)
        return
    views = coalesce([ctx.inp(i) for i in range(len(ctx.in_shapes))] + [out])
    ctx.call(ctx.kernel("addn"), views[:-1], views[-1:])


def _addn_ref(ins):
    if ins[0].dtype == object:  # variants: TensorLists, added slot by slot (list_ops.TensorList)
        acc = ins[0][()]
        for x in ins[1:]:
            acc = acc + x[()]
        return acc
    if ins[0].dtype.name in _HALF_NP:  # each addition rounds, in input order (TensorFlow's)
        acc = ins[0]
        for x in ins[1:]:
            acc = (acc.astype(np.float32) + x.astype(np.float32)).astype(acc.dtype)
        return acc
    return np.sum(np.stack(ins), axis=0).astype(ins[0].dtype)


op(
    name="AddN",
    inputs=[Arg("inputs", type_attr="T", number_attr="N")],
    outputs=[Arg("sum", type_attr="T")],
    # (variant: gradients arriving at one TensorList through several readers, added slot by slot
    # on the host: ops/list_ops.py)
    attrs=[Attr("N", "int", min=1), Attr("T", "type", allowed=REAL + (D.variant,))],
    shape_fn=_addn_shape,
    ref=lambda ins, a: _addn_ref(ins),
    lower=_addn_lower,
    kernels=registry.kernels_for(["addn"], REAL),
    elementwise=True,
    scalar=_scalar.ScalarOp(build=_scalar.addn_expr),
    cases=lambda rng: [
        Case(([_rand(rng, (3, 4), t) for _ in range(n)],), grad=t.is_floating)
        for t in REAL
        for n in (1, 2, 4)
    ],
    doc="Sum of N tensors of one shape.",
)


# ---------------------------------------------------------------------------
# MatMul, BatchMatMul
# ---------------------------------------------------------------------------
def _mm_dims(sa, sb, ta, tb):
    m, ka = (sa[1], sa[0]) if ta else (sa[0], sa[1])
    kb, n = (sb[1], sb[0]) if tb else (sb[0], sb[1])
    return m, ka, kb, n


def _matmul_shape(c):
    a, b = c.shape(0).with_rank(2), c.shape(1).with_rank(2)
    m, ka, kb, n = _mm_dims(a.as_tuple(), b.as_tuple(), c.attrs["transpose_a"], c.attrs["transpose_b"])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(
            f"Dimensions must be equal, but are {ka} and {kb} (inner dimensions of the product, "
            f"transpose_a={c.attrs['transpose_a']}, transpose_b={c.attrs['transpose_b']})"
        )
    return [TensorShape([m, n])]


def _matmul_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    a, b, o = ctx.inp(0), ctx.inp(1), out
    half = out.dtype in H
    if half:  # float32 products of the exact inputs, rounded once (TensorFlow's CPU kernels)
        a, b, o = _to_float32(ctx, a), _to_float32(ctx, b), ctx.scratch_buffer(out.shape, D.float32)
    ctx.call(
        ctx.kernel("matmul", o.dtype),
        [a, b],
        [o],
        iattr=abi.pack({
            abi.SF_MATMUL_TRANSPOSE_A: int(ctx.attrs["transpose_a"]),
            abi.SF_MATMUL_TRANSPOSE_B: int(ctx.attrs["transpose_b"]),
        }),
        work=product_work(o, a, ctx.attrs["transpose_a"]),
    )
    if half:
        _from_float32(ctx, o, out)


def _mm_ref(a, b, ta, tb):
    a = np.swapaxes(a, -1, -2) if ta else a
    b = np.swapaxes(b, -1, -2) if tb else b
    if a.dtype.kind in "iu":
        return np.matmul(a, b)
    if a.dtype.name in _HALF_NP:  # float32 products, rounded once
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)


_MM_T = AF + I


def _mm_cases(rng):
    out = []
    for t in _MM_T:
        for ta in (False, True):
            for tb in (False, True):
                sa = (4, 3) if ta else (3, 4)
                sb = (5, 4) if tb else (4, 5)
                out.append(
                    Case(
                        (_rand(rng, sa, t), _rand(rng, sb, t)),
                        {"transpose_a": ta, "transpose_b": tb},
                        grad=t.is_floating,
                    )
                )
    out.append(Case((_rand(rng, (0, 3)), _rand(rng, (3, 2)))))
    out.append(Case((_rand(rng, (2, 0)), _rand(rng, (0, 2)))))
    out.append(Case((_rand(rng, (65, 130)), _rand(rng, (130, 33))), rtol=1e-4))
    return out


op(
    name="MatMul",
    inputs=[Arg("a", type_attr="T"), Arg("b", type_attr="T")],
    outputs=[Arg("product", type_attr="T")],
    attrs=[
        Attr("transpose_a", "bool", False),
        Attr("transpose_b", "bool", False),
        Attr("T", "type", allowed=_MM_T),
    ],
    shape_fn=_matmul_shape,
    ref=lambda ins, a: _mm_ref(ins[0], ins[1], a["transpose_a"], a["transpose_b"]),
    lower=_matmul_lower,
    kernels=registry.kernels_for(["matmul"], FI) + _half_kernels("matmul"),
    cases=_mm_cases,
    contraction="matmul",
    doc="Matrix product of two matrices (BLAS on the CPU).",
)


def _bmm_shape(c, broadcast):
    a, b = c.shape(0), c.shape(1)
    if a.ndims is None or b.ndims is None:
        return [TensorShape(None)]
    if a.ndims < 2 or b.ndims < 2:
        raise ValueError(f"batch matmul needs inputs of rank >= 2, got {a} and {b}")
    m, ka, kb, n = _mm_dims(a.as_tuple()[-2:], b.as_tuple()[-2:], c.attrs["adj_x"], c.attrs["adj_y"])
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"Dimensions must be equal, but are {ka} and {kb} (inner dimensions of the product)")
    if broadcast:
        batch = broadcast_shapes(a[:-2], b[:-2])
    else:
        if a.ndims != b.ndims:
            raise ValueError(f"BatchMatMul inputs must have one rank, got {a} and {b}")
        batch = a[:-2].merge_with(b[:-2])
    return [batch.concatenate([m, n])]


def _bmm_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    half = out.dtype in H
    ins = [ctx.inp(0), ctx.inp(1)]
    o = out
    if half:  # float32 products of the exact inputs, rounded once
        ins = [_to_float32(ctx, v) for v in ins]
        o = ctx.scratch_buffer(out.shape, D.float32)
    batch = out.shape[:-2]
    views = []
    for v in ins:
        mat = v.shape[-2:]
        bv = v.with_(v.shape[:-2], v.strides[:-2]).broadcast_to(batch)
        views.append(v.with_(bv.shape + mat, bv.strides + v.strides[-2:]))
    adj = abi.pack({
        abi.SF_MATMUL_TRANSPOSE_A: int(ctx.attrs["adj_x"]),
        abi.SF_MATMUL_TRANSPOSE_B: int(ctx.attrs["adj_y"]),
    })
    work = product_work(o, views[0], ctx.attrs["adj_x"])
    ctx.call(ctx.kernel("matmul", o.dtype), views, [o], iattr=adj, work=work)
    if half:
        _from_float32(ctx, o, out)


def _bmm_cases(rng):
    out = [Case((_rand(rng, (2, 3, 4), t), _rand(rng, (2, 4, 5), t)), grad=t.is_floating) for t in _MM_T]
    out.append(Case((_rand(rng, (2, 4, 3)), _rand(rng, (2, 5, 4))), {"adj_x": True, "adj_y": True}))
    return out


def _bmm_bcast_cases(rng):
    return _bmm_cases(rng) + [
        Case((_rand(rng, (3, 1, 2, 4)), _rand(rng, (2, 4, 5)))),
        Case((_rand(rng, (2, 3)), _rand(rng, (4, 3, 2)))),
    ]


for _name, _bc in (("BatchMatMul", False), ("BatchMatMulV2", True)):
    op(
        name=_name,
        inputs=[Arg("x", type_attr="T"), Arg("y", type_attr="T")],
        outputs=[Arg("output", type_attr="T")],
        attrs=[Attr("T", "type", allowed=_MM_T), Attr("adj_x", "bool", False), Attr("adj_y", "bool", False)],
        shape_fn=(lambda bc: lambda c: _bmm_shape(c, bc))(_bc),
        ref=lambda ins, a: _mm_ref(ins[0], ins[1], a["adj_x"], a["adj_y"]),
        lower=_bmm_lower,
        kernels=registry.kernels_for(["matmul"], FI) + _half_kernels("matmul"),
        cases=_bmm_bcast_cases if _bc else _bmm_cases,
        doc="Batched matrix product" + (" with broadcast batch dimensions." if _bc else "."),
    )


# ---------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------
def _norm_axes(v, rank) -> list[int]:
    axes = [int(a) for a in np.asarray(v).reshape(-1)]
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension {a} for input with {rank} dimensions")
        out.append(a + rank if a < 0 else a)
    return sorted(set(out))


def _reduce_shape(c):
    s, v = c.shape(0), c.value(1)
    keep = c.attrs["keep_dims"]
    if s.ndims is None:
        return [TensorShape(None)]
    if v is None:
        if keep:
            return [unknown_shape(s.ndims)]
        # a scalar axis removes exactly one dimension, whichever it is
        return [unknown_shape(s.ndims - 1) if c.shape(1).ndims == 0 and s.ndims > 0 else TensorShape(None)]
    axes = _norm_axes(v, s.ndims)
    dims = s.as_tuple()
    if keep:
        return [TensorShape([1 if i in axes else d for i, d in enumerate(dims)])]
    return [TensorShape([d for i, d in enumerate(dims) if i not in axes])]


def _merge_group(shape, strides):
    """Merge adjacent dims of one group that are contiguous with each other."""
    out_s, out_t = [], []
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if out_s and out_t[-1] == s * n:
            out_s[-1] *= n
            out_t[-1] = s
        else:
            out_s.append(n)
            out_t.append(s)
    return out_s, out_t


def reduce_view(x, axes):
    """x's view with kept dims first and reduced dims last, each group merged."""
    kept = [i for i in range(x.ndim) if i not in axes]
    ks, kt = _merge_group([x.shape[i] for i in kept], [x.strides[i] for i in kept])
    rs, rt = _merge_group([x.shape[i] for i in axes], [x.strides[i] for i in axes])
    return x.with_(ks + rs, kt + rt), len(rs)


def _reduce_lower(base):
    def lower(ctx):
        x = ctx.inp(0)
        axes = _norm_axes(ctx.values[1], x.ndim)
        out = final = ctx.out(0)
        if out.size == 0:
            return
        if x.dtype in H:  # reduced in float32 (sums accumulate in float64), rounded once
            x, out = _to_float32(ctx, x), ctx.scratch_buffer(out.shape, D.float32)
        v, nred = reduce_view(x, axes)
        if base in ("sum", "max", "min") and v.ndim == 2 and nred == 1 and v.strides == (1, v.shape[0]):
            # column sums of a narrow [rows, width] array: first over k-row blocks into
            # [k * width] (long contiguous rows), then the k partials of each column
            width, rows = v.shape
            k = narrow_tiling(rows, width)
            if k is not None:
                part = ctx.scratch_buffer((k * width,), x.dtype)
                ctx.call(ctx.kernel(f"reduce_{base}", x.dtype),
                         [v.with_((k * width, rows // k), (1, k * width))], [part],
                         iattr=abi.pack({abi.SF_REDUCE_NDIMS: 1}))
                v = part.with_((width, k), (1, width))
        kept = math.prod(v.shape[: v.ndim - nred])
        o = out.reshape([kept] if v.ndim - nred else [])
        if v.ndim - nred > 1:
            o = out.with_(v.shape[: v.ndim - nred], contiguous_strides(v.shape[: v.ndim - nred]))
        ctx.call(ctx.kernel(f"reduce_{base}", x.dtype), [v], [o], iattr=abi.pack({abi.SF_REDUCE_NDIMS: nred}))
        if final is not out:
            _from_float32(ctx, out, final)

    return lower


def _reduce_ref(fn):
    def ref(ins, a):
        x = ins[0]
        if x.dtype.name in _HALF_NP:  # reduced in float32, rounded once
            return ref([x.astype(np.float32), ins[1]], a).astype(x.dtype)
        axes = tuple(_norm_axes(ins[1], x.ndim))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing is NaN, as in TF
            if fn is np.mean and x.dtype.kind in "iu":
                n = math.prod(x.shape[i] for i in axes)
                wide = np.uint64 if x.dtype.kind == "u" else np.int64  # summed in 64 bits (TF)
                s = np.sum(x.astype(wide), axis=axes, keepdims=a["keep_dims"])
                y = s // n if n else np.zeros_like(s)
                y = np.where((s % n != 0) & (s < 0), y + 1, y) if n else y  # truncate toward zero
            elif fn in (np.max, np.min) and x.size == 0:
                init = (
                    (-np.inf if fn is np.max else np.inf)
                    if x.dtype.kind == "f"
                    else (np.iinfo(x.dtype).min if fn is np.max else np.iinfo(x.dtype).max)
                )
                y = fn(x, axis=axes, keepdims=a["keep_dims"], initial=init)
            else:
                y = fn(
                    x.astype(np.float64) if x.dtype == np.float32 else x, axis=axes, keepdims=a["keep_dims"]
                )
        return np.asarray(y).astype(x.dtype)

    return ref


def _reduce_cases(dts, gen=_rand):
    def cases(rng):
        out = []
        for t in dts:
            for shape, axes in [
                ((3, 4), [1]),
                ((3, 4), [0]),
                ((2, 3, 4), [0, 2]),
                ((2, 3, 4), [-1]),
                ((5,), [0]),
                ((2, 3), []),
                ((0, 3), [0]),
            ]:
                for keep in (False, True):
                    out.append(
                        Case(
                            (gen(rng, shape, t), np.array(axes, np.int32)),
                            {"keep_dims": keep},
                            grad=t.is_floating,
                        )
                    )
        out.append(
            Case(
                (gen(rng, (3, 200, 70), dts[0]), np.array([1], np.int64)),
                {"keep_dims": False},
                grad=False,
                rtol=1e-4,
            )
        )
        return out

    return cases


def _prod_gen(rng, shape, t):
    if t.is_floating:
        return _rand(rng, shape, t, 0.5, 1.5)
    return rng.integers(0 if t.is_unsigned else -2, 3, size=shape).astype(t.np)


_REDUCTIONS = [
    ("Sum", "sum", np.sum, REAL, _rand),
    ("Mean", "mean", np.mean, REAL, _rand),
    ("Max", "max", np.max, REAL, _rand),
    ("Min", "min", np.min, REAL, _rand),
    ("Prod", "prod", np.prod, REAL, _prod_gen),
    ("All", "all", np.all, (D.bool_,), _rand),
    ("Any", "any", np.any, (D.bool_,), _rand),
]

for _name, _base, _fn, _dts, _gen in _REDUCTIONS:
    op(
        name=_name,
        inputs=[Arg("input", type_attr="T"), Arg("reduction_indices", type_attr="Tidx", host=True)],
        outputs=[Arg("output", type_attr="T")],
        attrs=[
            Attr("keep_dims", "bool", False),
            Attr("T", "type", allowed=_dts),
            Attr("Tidx", "type", D.int32, allowed=IDX_T),
        ],
        shape_fn=_reduce_shape,
        ref=_reduce_ref(_fn),
        lower=_reduce_lower(_base),
        kernels=registry.kernels_for([f"reduce_{_base}"], [t for t in _dts if t not in H])
        + (_half_kernels(f"reduce_{_base}") if H[0] in _dts else ()),
        differentiable=_dts != (D.bool_,),
        cases=_reduce_cases(_dts, _gen),
        reduction=_base,
        simplify=rewrites.reduce_nothing,
        doc=f"Reduces with {_base} over the given axes.",
    )


def _arg_shape(c):
    s, v = c.shape(0), c.value(1)
    if s.ndims is None:
        return [TensorShape(None)]
    if v is None:
        return [unknown_shape(s.ndims - 1)]
    axis = _norm_axes(v, s.ndims)
    dims = s.as_tuple()
    return [TensorShape([d for i, d in enumerate(dims) if i not in axis])]


def _arg_lower(base):
    def lower(ctx):
        x = ctx.inp(0)
        axis = _norm_axes(ctx.values[1], x.ndim)[0]
        if ctx.in_shapes[0][axis] == 0:
            raise ValueError(f"{ctx.opdef.name} of an empty dimension {axis}")
        out = ctx.out(0)
        if out.size == 0:
            return
        perm = [i for i in range(x.ndim) if i != axis] + [axis]
        if x.dtype in H:  # exact in float32
            x = _to_float32(ctx, x)
        ctx.call(ctx.kernel(base, x.dtype), [x.transpose(perm)], [out])

    return lower


def _arg_ref(fn):
    """TensorFlow's argmax/argmin: NaN is ignored, ties go to the first index, and a row
    with no value above the lowest finite one (below the highest, for argmin) gives 0."""

    def ref(ins, a):
        x = ins[0]
        if x.dtype.name in _HALF_NP:
            x = x.astype(np.float32)
        axis = _norm_axes(ins[1], x.ndim)[0]
        if x.shape[axis] == 0:
            raise ValueError("Reduction axis is empty")
        big = fn is np.argmax
        if x.dtype.kind == "f":
            info = np.finfo(x.dtype)
            x = np.where(np.isnan(x), -np.inf if big else np.inf, x)
        else:
            info = np.iinfo(x.dtype)
        start = info.min if big else info.max
        best = (np.max if big else np.min)(x, axis=axis)
        beats = best > start if big else best < start
        return np.where(beats, fn(x, axis=axis), 0).astype(a["output_type"].np)

    return ref


for _name, _base, _fn in (("ArgMax", "argmax", np.argmax), ("ArgMin", "argmin", np.argmin)):
    op(
        name=_name,
        inputs=[Arg("input", type_attr="T"), Arg("dimension", type_attr="Tidx", host=True)],
        outputs=[Arg("output", type_attr="output_type")],
        attrs=[
            Attr("T", "type", allowed=REAL),
            Attr("Tidx", "type", D.int32, allowed=IDX_T),
            Attr("output_type", "type", D.int64, allowed=IDX_T),
        ],
        shape_fn=_arg_shape,
        ref=_arg_ref(_fn),
        lower=_arg_lower(_base),
        kernels=registry.kernels_for([_base], [t for t in REAL if t not in H]) + _half_kernels(_base),
        differentiable=False,
        cases=(
            lambda: (
                lambda rng: [
                    Case((_rand(rng, s, t), np.int32(ax)), {"output_type": ot}, grad=False)
                    for t in REAL
                    for ot in IDX_T
                    for s, ax in [((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((7,), 0)]
                ]
            )
        )(),
        doc=f"Index of the {_base[3:]} along an axis.",
    )


# ---------------------------------------------------------------------------
# Python wrappers
# ---------------------------------------------------------------------------
def _bin(op_type, x, y, name=None):
    """Binary op with TF1's conversion: a Python value takes the tensor's dtype."""
    if not isinstance(x, fops.Tensor) and isinstance(y, fops.Tensor):
        x = fops.convert_to_tensor(x, dtype=y.dtype) if _convertible(x, y.dtype) else x
    elif isinstance(x, fops.Tensor) and not isinstance(y, fops.Tensor):
        y = fops.convert_to_tensor(y, dtype=x.dtype) if _convertible(y, x.dtype) else y
    return builder.apply_op(op_type, [x, y], None, name).outputs[0]


def _convertible(value, dt) -> bool:
    if hasattr(value, "_as_graph_element") or isinstance(value, fops.Operation):
        return False
    if isinstance(value, (list, tuple)) and fops.contains_tensor(value):
        return True  # packed by convert_to_tensor, its tensors cast to dt
    for cls, _ in fops._conversion_functions:
        if isinstance(value, cls):
            return False
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not dt.is_floating:
        raise TypeError(f"Cannot convert {value!r} to a tensor of dtype {dt.name}")
    if arr.dtype.kind == "b" and dt is not D.bool_:
        raise TypeError(f"Cannot convert {value!r} to a tensor of dtype {dt.name}")
    return True


def _un(op_type, x, name=None):
    return builder.apply_op(op_type, [x], None, name).outputs[0]


def divide(x, y, name=None):
    """x / y (TF2 name of truediv)."""
    return truediv(x, y, name)


def _unary_wrapper(op_type: str, fn_name: str):
    def fn(x, name=None):
        return _un(op_type, x, name)

    fn.__name__ = fn.__qualname__ = fn_name
    fn.__doc__ = f"Elementwise {op_type} of x."
    return fn


def _binary_wrapper(op_type: str, fn_name: str, default_name: str | None = None):
    def fn(x, y, name=None):
        return _bin(op_type, x, y, name or default_name)

    fn.__name__ = fn.__qualname__ = fn_name
    fn.__doc__ = (
        f"Elementwise {op_type} of x and y, with NumPy broadcasting (Python values take the tensor's dtype)."
    )
    return fn


add = _binary_wrapper("AddV2", "add", "Add")  # TF1's tf.add: an AddV2 op named "Add"
subtract = _binary_wrapper("Sub", "subtract")
multiply = _binary_wrapper("Mul", "multiply")
realdiv = _binary_wrapper("RealDiv", "realdiv")
floordiv = _binary_wrapper("FloorDiv", "floordiv", "floordiv")
floormod = _binary_wrapper("FloorMod", "floormod")
pow = _binary_wrapper("Pow", "pow")
maximum = _binary_wrapper("Maximum", "maximum")
minimum = _binary_wrapper("Minimum", "minimum")
squared_difference = _binary_wrapper("SquaredDifference", "squared_difference")
less = _binary_wrapper("Less", "less")
less_equal = _binary_wrapper("LessEqual", "less_equal")
greater = _binary_wrapper("Greater", "greater")
greater_equal = _binary_wrapper("GreaterEqual", "greater_equal")
equal = _binary_wrapper("Equal", "equal")
not_equal = _binary_wrapper("NotEqual", "not_equal")
logical_and = _binary_wrapper("LogicalAnd", "logical_and")
logical_or = _binary_wrapper("LogicalOr", "logical_or")
logical_not = _unary_wrapper("LogicalNot", "logical_not")
negative = _unary_wrapper("Neg", "negative")
reciprocal = _unary_wrapper("Reciprocal", "reciprocal")
exp = _unary_wrapper("Exp", "exp")
expm1 = _unary_wrapper("Expm1", "expm1")
log = _unary_wrapper("Log", "log")
log1p = _unary_wrapper("Log1p", "log1p")
sqrt = _unary_wrapper("Sqrt", "sqrt")
rsqrt = _unary_wrapper("Rsqrt", "rsqrt")
square = _unary_wrapper("Square", "square")
abs = _unary_wrapper("Abs", "abs")
sign = _unary_wrapper("Sign", "sign")
floor = _unary_wrapper("Floor", "floor")
ceil = _unary_wrapper("Ceil", "ceil")
round = _unary_wrapper("Round", "round")
sin = _unary_wrapper("Sin", "sin")
cos = _unary_wrapper("Cos", "cos")
erf = _unary_wrapper("Erf", "erf")
sigmoid = _unary_wrapper("Sigmoid", "sigmoid")
tanh = _unary_wrapper("Tanh", "tanh")


def truediv(x, y, name=None):
    """x / y; integer tensors are first cast to float64 (TF's truediv)."""
    if not isinstance(x, fops.Tensor) and not isinstance(y, fops.Tensor):
        x = fops.convert_to_tensor(x)
    tx = x if isinstance(x, fops.Tensor) else None
    ty = y if isinstance(y, fops.Tensor) else None
    dt = (tx if tx is not None else ty).dtype
    if dt.is_integer:
        x = cast(x, D.float64) if tx is not None else np.float64(x)
        y = cast(y, D.float64) if ty is not None else np.float64(y)
    return _bin("RealDiv", x, y, name or "truediv")


def div(x, y, name=None):
    """TF1 div: floor division for integers, true division for floats."""
    t = x if isinstance(x, fops.Tensor) else fops.convert_to_tensor(x)
    return _bin("FloorDiv" if t.dtype.is_integer else "RealDiv", t, y, name)


def logical_xor(x, y, name="LogicalXor"):
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


def cast(x, dtype, name=None):
    """Converts x to dtype (a no-op when it already has it)."""
    dt = D.as_dtype(dtype)
    x = fops.convert_to_tensor(x) if not isinstance(x, fops.Tensor) else x
    if x.dtype == dt:
        return x
    return builder.apply_op("Cast", [x], {"DstT": dt}, name).outputs[0]


def to_float(x, name="ToFloat"):
    return cast(x, D.float32, name)


def to_int32(x, name="ToInt32"):
    return cast(x, D.int32, name)


def to_int64(x, name="ToInt64"):
    return cast(x, D.int64, name)


def add_n(inputs, name=None):
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one input")
    return builder.apply_op("AddN", [inputs], None, name).outputs[0]


def where(condition, x=None, y=None, name=None):
    """TF1 where(condition, x, y): elementwise choice (condition may be a row vector)."""
    if x is None or y is None:
        raise ValueError(
            "where(condition) without x and y (coordinates of true elements) is not supported: "
            "its output shape depends on the data"
        )
    x, y = _same_dtype(x, y)
    return builder.apply_op("Select", [condition, x, y], None, name).outputs[0]


def where_v2(condition, x=None, y=None, name=None):
    if x is None or y is None:
        raise ValueError("where_v2 needs x and y")
    x, y = _same_dtype(x, y)
    return builder.apply_op("SelectV2", [condition, x, y], None, name).outputs[0]


def _same_dtype(x, y):
    if isinstance(x, fops.Tensor) and not isinstance(y, fops.Tensor):
        y = fops.convert_to_tensor(y, dtype=x.dtype)
    elif isinstance(y, fops.Tensor) and not isinstance(x, fops.Tensor):
        x = fops.convert_to_tensor(x, dtype=y.dtype)
    return x, y


def matmul(
    a,
    b,
    transpose_a=False,
    transpose_b=False,
    adjoint_a=False,
    adjoint_b=False,
    a_is_sparse=False,
    b_is_sparse=False,
    name=None,
):
    """Matrix product; inputs of rank > 2 are batches (broadcast batch dims)."""
    ta, tb = transpose_a or adjoint_a, transpose_b or adjoint_b
    a = a if isinstance(a, fops.Tensor) else fops.convert_to_tensor(a)
    b = b if isinstance(b, fops.Tensor) else fops.convert_to_tensor(b, dtype=a.dtype)
    if (
        (a.shape.ndims or 2) == 2
        and (b.shape.ndims or 2) == 2
        and a.shape.ndims is not None
        and b.shape.ndims is not None
    ):
        return builder.apply_op("MatMul", [a, b], {"transpose_a": ta, "transpose_b": tb}, name).outputs[0]
    return builder.apply_op("BatchMatMulV2", [a, b], {"adj_x": ta, "adj_y": tb}, name).outputs[0]


def _reduce(op_type, input_tensor, axis, keepdims, name, reduction_indices, keep_dims, default_name):
    if axis is None:
        axis = reduction_indices
    if keepdims is None:
        keepdims = bool(keep_dims) if keep_dims is not None else False
    x = input_tensor if isinstance(input_tensor, fops.Tensor) else fops.convert_to_tensor(input_tensor)
    reduce_all = axis is None
    if axis is None:
        if x.shape.ndims is not None:
            axis = np.arange(x.shape.ndims, dtype=np.int32)
        else:
            from staticflow.ops import array_ops

            axis = array_ops.range_(0, array_ops.rank(x))
    elif isinstance(axis, (list, tuple)) and not axis:
        axis = np.zeros((0,), np.int32)  # no axes (an empty list would convert to float32)
    out = builder.apply_op(op_type, [x, axis], {"keep_dims": bool(keepdims)}, name or default_name).outputs[0]
    if reduce_all and not keepdims:
        out.set_shape([])  # all axes, whatever the rank: a scalar (TF's _may_reduce_to_scalar)
    return out


def _reducer(op_type, default_name):
    def fn(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
        return _reduce(
            op_type, input_tensor, axis, keepdims, name, reduction_indices, keep_dims, default_name
        )

    fn.__name__ = default_name
    fn.__doc__ = f"Reduces with {op_type} over `axis` (all axes when None); TF1 aliases accepted."
    return fn


reduce_sum = _reducer("Sum", "Sum")
reduce_mean = _reducer("Mean", "Mean")
reduce_max = _reducer("Max", "Max")
reduce_min = _reducer("Min", "Min")
reduce_prod = _reducer("Prod", "Prod")
reduce_all = _reducer("All", "All")
reduce_any = _reducer("Any", "Any")


def argmax(input, axis=None, name=None, dimension=None, output_type=D.int64):
    axis = dimension if axis is None else axis
    return builder.apply_op(
        "ArgMax", [input, 0 if axis is None else axis], {"output_type": D.as_dtype(output_type)}, name
    ).outputs[0]


def argmin(input, axis=None, name=None, dimension=None, output_type=D.int64):
    axis = dimension if axis is None else axis
    return builder.apply_op(
        "ArgMin", [input, 0 if axis is None else axis], {"output_type": D.as_dtype(output_type)}, name
    ).outputs[0]


# ---------------------------------------------------------------------------
# operators on Tensor
# ---------------------------------------------------------------------------
def _rev(fn, name=None):
    return lambda self, other: fn(other, self, name=name)


def _op(fn, name):
    """An operator: fn under the name TF1's operator gives its op ("add" for +)."""
    return lambda self, other: fn(self, other, name=name)


def _install_operators() -> None:
    from staticflow.ops import array_ops

    T = fops.Tensor
    T.__add__ = _op(add, "add")
    T.__radd__ = _rev(add, "add")
    T.__sub__ = _op(subtract, "sub")
    T.__rsub__ = _rev(subtract, "sub")
    T.__mul__ = _op(multiply, "mul")
    T.__rmul__ = _rev(multiply, "mul")
    T.__truediv__ = _op(truediv, "truediv")
    T.__rtruediv__ = _rev(truediv, "truediv")
    T.__floordiv__ = _op(floordiv, "floordiv")
    T.__rfloordiv__ = _rev(floordiv, "floordiv")
    T.__mod__ = _op(floormod, "mod")
    T.__rmod__ = _rev(floormod, "mod")
    T.__pow__ = _op(pow, "pow")
    T.__rpow__ = _rev(pow, "pow")
    T.__matmul__ = _op(matmul, "matmul")
    T.__rmatmul__ = _rev(matmul, "matmul")
    T.__neg__ = lambda s: negative(s)
    T.__abs__ = lambda s: abs(s)
    T.__lt__ = lambda s, o: less(s, o)
    T.__le__ = lambda s, o: less_equal(s, o)
    T.__gt__ = lambda s, o: greater(s, o)
    T.__ge__ = lambda s, o: greater_equal(s, o)
    T.__and__ = lambda s, o: logical_and(s, o)
    T.__rand__ = _rev(logical_and)
    T.__or__ = lambda s, o: logical_or(s, o)
    T.__ror__ = _rev(logical_or)
    T.__xor__ = lambda s, o: logical_xor(s, o)
    T.__invert__ = lambda s: logical_not(s)
    T.__getitem__ = array_ops.getitem


_install_operators()
