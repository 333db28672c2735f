"""Neural-network ops: softmax, log-softmax, bias add, and the activations' wrappers."""

from __future__ import annotations

import math

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import abi, builder, casegen, registry
from staticflow.ops import scalar as _scalar
from staticflow.ops.lowering import COPY_KERNELS, coalesce, narrow_tiling
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
AF = D.ALL_FLOATS  # 16-bit floats too: their kernels compute in float32 and round
_rand = casegen.rand


def _softmax_ref(log):
    def ref(ins, a):
        x = ins[0].astype(np.float64)
        m = np.max(x, axis=-1, keepdims=True) if x.size else x
        z = x - m
        lse = np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
        return (z - lse if log else np.exp(z - lse)).astype(ins[0].dtype)

    return ref


def _softmax_lower(base):
    def lower(ctx):
        shape = ctx.in_shapes[0]
        c = shape[-1]
        n = math.prod(shape[:-1])
        if n * c == 0:
            return
        ctx.call(ctx.kernel(base), [ctx.inp(0).reshape([n, c])], [ctx.out(0).reshape([n, c])])

    return lower


def _softmax_shape(c):
    s = c.shape(0)
    if s.ndims == 0:
        raise ValueError("logits must have rank >= 1")
    return [s]


for _name, _base, _log in (("Softmax", "softmax", False), ("LogSoftmax", "log_softmax", True)):
    op(
        name=_name,
        inputs=[Arg("logits", type_attr="T")],
        outputs=[Arg(_base, type_attr="T")],
        attrs=[Attr("T", "type", allowed=F)],
        shape_fn=_softmax_shape,
        ref=_softmax_ref(_log),
        lower=_softmax_lower(_base),
        kernels=registry.kernels_for([_base], F),
        xent_role=_base,
        cases=lambda rng: (
            [Case((_rand(rng, s, t),)) for t in F for s in [(5,), (3, 4), (2, 3, 4), (0, 3)]]
            + [Case((np.array([[1000.0, 0.0, -1000.0]], np.float32),), grad=False)]
        ),
        doc=f"{_name} over the last dimension (max-subtracted, no overflow).",
    )


def _bias_shape(c):
    v, b = c.shape(0), c.shape(1).with_rank(1)
    fmt = c.attrs["data_format"]
    if v.ndims is None:
        return [v]
    if v.ndims < 2:
        raise ValueError(f"value must have rank >= 2, got {v}")
    axis = v.ndims - 1 if fmt == "NHWC" else 1
    dims = list(v.as_tuple())
    ch, bd = dims[axis], b.as_tuple()[0]
    if ch is not None and bd is not None and ch != bd:
        raise ValueError(f"bias has size {bd}, the channel dimension of value ({fmt}) is {ch}")
    dims[axis] = ch if ch is not None else bd  # the bias gives the channel count
    return [TensorShape(dims)]


def _bias_view(ctx):
    shape = ctx.in_shapes[0]
    b = ctx.inp(1)
    if ctx.attrs["data_format"] == "NCHW":
        b = b.with_([shape[1]] + [1] * (len(shape) - 2), [1] + [0] * (len(shape) - 2))
    return b.broadcast_to(shape)


def _bias_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    x, b, y = coalesce([ctx.inp(0), _bias_view(ctx), out])
    if x.ndim == 2 and b.strides == (0, 1) and x.is_contiguous() and y.is_contiguous():
        # narrow channels (NHWC): k rows as one, the bias tiled k times in scratch
        rows, width = x.shape
        k = narrow_tiling(rows, width)
        if k is not None:
            tiled = ctx.scratch_buffer((k * width,), b.dtype)
            ctx.copy(b.with_((k, width), (0, 1)), tiled.reshape((k, width)))
            shape = (rows // k, k * width)
            x, y, b = x.reshape(shape), y.reshape(shape), tiled.with_(shape, (0, 1))
    ctx.call(ctx.kernel("add"), [x, b], [y])


def _bias_ref(ins, a):
    x, b = ins
    if a["data_format"] == "NCHW":
        b = b.reshape((-1,) + (1,) * (x.ndim - 2))
    return x + b


_BIAS_T = D.ALL_NUMERIC
op(
    name="BiasAdd",
    inputs=[Arg("value", type_attr="T"), Arg("bias", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=_BIAS_T),
        Attr("data_format", "string", "NHWC", allowed=("NHWC", "NCHW")),
    ],
    shape_fn=_bias_shape,
    ref=_bias_ref,
    lower=_bias_lower,
    kernels=registry.kernels_for(["add"], _BIAS_T) + COPY_KERNELS,
    elementwise=True,
    inplace=((0, 0),),  # one add kernel over the value and the broadcast bias
    affine="add",
    scalar=_scalar.ScalarOp("add", align=_scalar.bias_align),
    cases=lambda rng: (
        [Case((_rand(rng, (3, 4), t), _rand(rng, (4,), t)), grad=t.is_floating) for t in _BIAS_T]
        + [
            Case((_rand(rng, (2, 3, 4, 5)), _rand(rng, (3,))), {"data_format": "NCHW"}),
            Case((_rand(rng, (2, 2, 2, 3)), _rand(rng, (3,)))),
        ]
    ),
    doc="Adds a bias vector along the channel dimension.",
)


# ---------------------------------------------------------------------------
# activations beyond relu, and the gradient ops of the relu family
# ---------------------------------------------------------------------------
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def _sp(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _away(rng, shape, t):
    x = _rand(rng, shape, t, 0.2, 2.0)
    return np.where(rng.random(shape) < 0.5, -x, x).astype(t.np)


_ACTIVATIONS = [
    # name, kernel, reference (float64), alpha attr default
    ("Softplus", "softplus", _sp, None),
    ("Elu", "elu", lambda x, a: np.where(x > 0, x, np.expm1(x)), None),
    ("Selu", "selu", lambda x, a: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x)), None),
    ("LeakyRelu", "leaky_relu", lambda x, a: np.where(x > 0, x, a["alpha"] * x), 0.2),
]

for _name, _base, _fn, _alpha in _ACTIVATIONS:
    op(
        name=_name,
        inputs=[Arg("features", type_attr="T")],
        outputs=[Arg("activations", type_attr="T")],
        attrs=[Attr("T", "type", allowed=AF)]
        + ([Attr("alpha", "float", _alpha)] if _alpha is not None else []),
        shape_fn=lambda c: [c.shape(0)],
        ref=(
            lambda fn: (
                lambda ins, a: np.asarray(
                    fn(ins[0].astype(np.float64), a) if fn is not _sp else _sp(ins[0].astype(np.float64))
                ).astype(ins[0].dtype)
            )
        )(_fn),
        lower=(
            lambda base, alpha: (
                (lambda ctx: ctx.elementwise(base, fattr=abi.pack({abi.SF_FATTR_ALPHA: ctx.attrs["alpha"]})))
                if alpha is not None
                else (lambda ctx: ctx.elementwise(base))
            )
        )(_base, _alpha),
        kernels=registry.kernels_for([_base], AF),
        elementwise=True,
        inplace=((0, 0),),
        activation=_name,
        scalar=_scalar.ScalarOp(_base, ("alpha",) if _alpha is not None else ()),
        cases=(
            lambda alpha: (
                lambda rng: (
                    [Case((_away(rng, s, t),)) for t in AF for s in [(), (7,), (3, 4), (0,)]]
                    + ([Case((_away(rng, (5,), D.float64),), {"alpha": 0.01})] if alpha is not None else [])
                )
            )
        )(_alpha),
        doc=f"Elementwise {_base}.",
    )

# TensorFlow's expressions, computed in the inputs' dtype as the kernels do (so NaN, Inf,
# signed zeros and overflow come out the same): ReluGrad multiplies by (features > 0), so a
# NaN gradient stays NaN; EluGrad and SeluGrad test outputs < 0 (at 0 the positive branch)
_GRAD_OPS = [
    ("ReluGrad", "relu_grad", ("gradients", "features", "backprops"), lambda g, f, a: g * (f > 0)),
    (
        "SoftplusGrad",
        "softplus_grad",
        ("gradients", "features", "backprops"),
        lambda g, f, a: g * _sigmoid(f),
    ),
    (
        "EluGrad",
        "elu_grad",
        ("gradients", "outputs", "backprops"),
        lambda g, o, a: np.where(o < 0, g * (o + 1), g),
    ),
    (
        "SeluGrad",
        "selu_grad",
        ("gradients", "outputs", "backprops"),
        lambda g, o, a: np.where(
            o < 0, g * (o + g.dtype.type(_SELU_SCALE * _SELU_ALPHA)), g * g.dtype.type(_SELU_SCALE)
        ),
    ),
    (
        "LeakyReluGrad",
        "leaky_relu_grad",
        ("gradients", "features", "backprops"),
        lambda g, f, a: np.where(f > 0, g, g * g.dtype.type(a["alpha"])),
    ),
]


def _native_grad_ref(fn):
    """A gradient op's reference in the kernel's arithmetic: its inputs' dtype, float32 for
    the 16-bit floats (as their kernels compute), rounded to the output dtype."""

    def ref(ins, a):
        dt = ins[0].dtype
        work = dt if dt in (np.float32, np.float64) else np.float32
        g, y = ins[0].astype(work), ins[1].astype(work)
        with np.errstate(all="ignore"):
            return np.asarray(fn(g, y, a)).astype(work).astype(dt)

    return ref


def _grad_cases(rng):
    return [Case((_rand(rng, s, t), _away(rng, s, t))) for t in AF for s in [(), (7,), (3, 4), (0, 2)]]


for _name, _base, _args, _fn in _GRAD_OPS:
    _alpha = _name == "LeakyReluGrad"
    op(
        name=_name,
        inputs=[Arg(_args[0], type_attr="T"), Arg(_args[1], type_attr="T")],
        outputs=[Arg(_args[2], type_attr="T")],
        attrs=[Attr("T", "type", allowed=AF)] + ([Attr("alpha", "float", 0.2)] if _alpha else []),
        shape_fn=lambda c: [c.shape(0).merge_with(c.shape(1))],
        ref=_native_grad_ref(_fn),
        lower=(
            lambda base, alpha: (
                (lambda ctx: ctx.elementwise(base, fattr=abi.pack({abi.SF_FATTR_ALPHA: ctx.attrs["alpha"]})))
                if alpha
                else (lambda ctx: ctx.elementwise(base))
            )
        )(_base, _alpha),
        kernels=registry.kernels_for([_base], AF),
        elementwise=True,
        inplace=((0, 0), (1, 0)),
        activation_grad=_name[: -len("Grad")],
        scalar=_scalar.ScalarOp(_base, ("alpha",) if _alpha else ()),
        cases=_grad_cases,
        doc=f"TensorFlow's {_name}: the gradient of {_name[:-4]}.",
    )


# ---------------------------------------------------------------------------
# softmax cross-entropy (loss and its gradient in one pass)
# ---------------------------------------------------------------------------
def _xent_ref(ins, a):
    x, labels = ins[0].astype(np.float64), ins[1].astype(np.float64)
    m = x.max(axis=-1, keepdims=True) if x.size else x
    lse = np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)) + m
    loss = np.sum(labels * (lse - x), axis=-1)
    back = np.exp(x - lse) - labels
    return [loss.astype(ins[0].dtype), back.astype(ins[0].dtype)]


def _xent_shape(c):
    f, lab = c.shape(0).with_rank(2), c.shape(1).with_rank(2)
    s = f.merge_with(lab)
    return [s[:1], s]


def _xent_lower(ctx):
    n, k = ctx.in_shapes[0]
    if n * k == 0:
        if n and ctx.out(0).size:
            ctx.copy(ctx.const(0, ctx.out_dtypes[0]).broadcast_to((n,)), ctx.out(0))
        return
    ctx.call(ctx.kernel("softmax_xent"), [ctx.inp(0), ctx.inp(1)], [ctx.out(0), ctx.out(1)])


def _prob_rows(rng, shape, t):
    p = rng.random(shape) + 0.01
    return (p / p.sum(axis=-1, keepdims=True)).astype(t.np)


op(
    name="SoftmaxCrossEntropyWithLogits",
    inputs=[Arg("features", type_attr="T"), Arg("labels", type_attr="T")],
    outputs=[Arg("loss", type_attr="T"), Arg("backprop", type_attr="T")],
    attrs=[Attr("T", "type", allowed=F)],
    shape_fn=_xent_shape,
    ref=_xent_ref,
    lower=_xent_lower,
    kernels=registry.kernels_for(["softmax_xent"], F) + COPY_KERNELS,
    cases=lambda rng: (
        [Case((_rand(rng, (4, 5), t), _prob_rows(rng, (4, 5), t))) for t in F]
        + [
            Case(
                (np.array([[1e4, 0.0, -1e4]], np.float32), np.array([[0.0, 1.0, 0.0]], np.float32)),
                grad=False,
            )
        ]
    ),
    doc="Softmax cross-entropy per row and its gradient w.r.t. the logits (softmax - labels).",
)


def _no_classes(shape) -> str:
    return f"Must have at least one class, but got logits shape [{shape[0]},{shape[1]}]"


def _sparse_xent_ref(ins, a):
    x, lab = ins[0].astype(np.float64), ins[1]
    n, k = x.shape
    if k == 0:
        raise ValueError(_no_classes(x.shape))
    if np.any((lab < 0) | (lab >= k)):
        bad = lab[(lab < 0) | (lab >= k)][0]
        raise ValueError(f"Received a label value of {bad} which is outside the valid range of [0, {k}).")
    onehot = np.zeros_like(x)
    onehot[np.arange(n), lab] = 1
    loss, back = _xent_ref([x, onehot], a)
    return [loss.astype(ins[0].dtype), back.astype(ins[0].dtype)]


def _sparse_xent_shape(c):
    f = c.shape(0).with_rank(2)
    lab = c.shape(1).with_rank(1)
    n = f[:1].merge_with(lab)
    return [n, n.concatenate(f[1:])]


def _sparse_xent_lower(ctx):
    n, k = ctx.in_shapes[0]
    if k == 0:  # no class a label could name (TensorFlow's error, also for an empty batch)
        raise ValueError(_no_classes((n, k)))
    if n == 0:
        return
    ctx.call(
        ctx.kernel("sparse_softmax_xent", ctx.in_dtypes[0], ctx.in_dtypes[1]),
        [ctx.inp(0), ctx.inp(1)],
        [ctx.out(0), ctx.out(1)],
    )


op(
    name="SparseSoftmaxCrossEntropyWithLogits",
    inputs=[Arg("features", type_attr="T"), Arg("labels", type_attr="Tlabels")],
    outputs=[Arg("loss", type_attr="T"), Arg("backprop", type_attr="T")],
    attrs=[Attr("T", "type", allowed=F), Attr("Tlabels", "type", D.int64, allowed=(D.int32, D.int64))],
    shape_fn=_sparse_xent_shape,
    ref=_sparse_xent_ref,
    lower=_sparse_xent_lower,
    kernels=tuple(registry.kernel_name("sparse_softmax_xent", t, i) for t in F for i in (D.int32, D.int64)),
    cases=lambda rng: (
        [Case((_rand(rng, (4, 5), t), np.array([0, 4, 2, 2], i))) for t in F for i in (np.int32, np.int64)]
        + [Case((np.array([[1e4, 0.0, -1e4]], np.float32), np.array([2], np.int64)), grad=False)]
    ),
    doc="Softmax cross-entropy against integer class labels, and its gradient w.r.t. the logits.",
)


# ---------------------------------------------------------------------------
# wrappers (sf.nn)
# ---------------------------------------------------------------------------
def relu(features, name=None):
    return builder.apply_op("Relu", [features], None, name).outputs[0]


def sigmoid(x, name=None):
    return builder.apply_op("Sigmoid", [x], None, name).outputs[0]


def tanh(x, name=None):
    return builder.apply_op("Tanh", [x], None, name).outputs[0]


def _last_axis_op(op_type, logits, axis, name):
    from staticflow.ops import array_ops

    logits = logits if isinstance(logits, fops.Tensor) else fops.convert_to_tensor(logits)
    r = logits.shape.ndims
    if axis is None or axis == -1 or (r is not None and axis == r - 1):
        return builder.apply_op(op_type, [logits], None, name).outputs[0]
    if r is None:
        raise ValueError(f"{op_type} over axis {axis} needs a tensor of known rank")
    if r == 0:
        raise ValueError(f"{op_type}: logits must have rank >= 1")
    axis = axis % r
    perm = list(range(r))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    y = builder.apply_op(op_type, [array_ops.transpose(logits, perm)], None, None).outputs[0]
    return array_ops.transpose(y, perm, name=name or "transpose")


def softmax(logits, axis=None, name=None, dim=None):
    """Softmax over `axis` (default: the last)."""
    return _last_axis_op("Softmax", logits, dim if axis is None else axis, name)


def log_softmax(logits, axis=None, name=None, dim=None):
    return _last_axis_op("LogSoftmax", logits, dim if axis is None else axis, name)


def bias_add(value, bias, data_format=None, name=None):
    return builder.apply_op("BiasAdd", [value, bias], {"data_format": data_format or "NHWC"}, name).outputs[0]


def relu6(features, name=None):
    from staticflow.ops import math_ops

    return math_ops.minimum(relu(features), 6.0, name=name)


def softplus(features, name=None):
    return builder.apply_op("Softplus", [features], None, name).outputs[0]


def elu(features, name=None):
    return builder.apply_op("Elu", [features], None, name).outputs[0]


def selu(features, name=None):
    return builder.apply_op("Selu", [features], None, name).outputs[0]


def leaky_relu(features, alpha=0.2, name=None):
    return builder.apply_op("LeakyRelu", [features], {"alpha": float(alpha)}, name).outputs[0]


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    from staticflow.ops import math_ops

    with fops.name_scope(name, "L2Loss", [t]):
        return math_ops.reduce_sum(math_ops.square(t)) * 0.5


def _rows(t):
    """t as a matrix [-1, classes] (its last dimension), for any rank, known or not."""
    from staticflow.ops import array_ops

    r, last = t.shape.ndims, t.shape[-1].value if t.shape.ndims else None
    if r == 2:
        return t
    if last is None:
        shape = array_ops.shape(t)
        last = shape[array_ops.rank(t) - 1] if r is None else shape[-1]
    return array_ops.reshape(t, [-1, last])


def _outer_shape(t):
    """The shape of t without its last dimension, as a vector (t of any rank)."""
    from staticflow.ops import array_ops, math_ops

    if t.shape.ndims is not None:
        return array_ops.shape(t)[:-1]
    size = array_ops.expand_dims(math_ops.subtract(array_ops.rank(t), 1), 0)
    return array_ops.slice_(array_ops.shape(t), [0], size)


def _move_axis_to_end(t, axis):
    """Transpose t so that `axis` comes last (also for an unknown rank, as TF)."""
    from staticflow.ops import array_ops, math_ops

    r = t.shape.ndims
    if r is not None:
        axis %= r
        if axis == r - 1:
            return t
        return array_ops.transpose(t, [i for i in range(r) if i != axis] + [axis])
    rank = array_ops.rank(t)
    a = math_ops.floormod(axis, rank)
    perm = array_ops.concat(
        [array_ops.range_(0, a), array_ops.range_(a + 1, rank), array_ops.expand_dims(a, 0)], 0
    )
    return array_ops.transpose(t, perm)


def softmax_cross_entropy_with_logits_v2(
    _sentinel=None, labels=None, logits=None, axis=None, name=None, dim=None
):
    """Per-example cross-entropy of softmax(logits) against label distributions (gradients reach labels).

    Logits and labels of any rank, known or not (as TF): the class axis is flattened away and
    the loss has the logits' shape without it.
    """
    from staticflow.ops import array_ops

    if _sentinel is not None:
        raise ValueError(
            "Only call softmax_cross_entropy_with_logits with named arguments (labels=..., logits=...)"
        )
    axis = -1 if dim is None and axis is None else (dim if axis is None else axis)
    with fops.name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]):
        logits = fops.convert_to_tensor(logits)
        labels = fops.convert_to_tensor(labels, dtype=logits.dtype)
        if logits.shape.ndims == 0:
            raise ValueError("logits must have rank >= 1")
        # logits and labels have one shape: what either tells of it, less the class axis
        try:
            static = _drop_axis(logits.shape.merge_with(labels.shape), axis)
        except ValueError:
            raise ValueError(
                f"logits and labels must have the same shape, got {logits.shape} and {labels.shape}"
            ) from None
        if axis not in (-1, (logits.shape.ndims or 0) - 1):
            logits, labels = _move_axis_to_end(logits, axis), _move_axis_to_end(labels, axis)
        rows = [_rows(logits), _rows(labels)]
        loss = builder.apply_op("SoftmaxCrossEntropyWithLogits", rows, None).outputs[0]
        if logits.shape.ndims != 2:
            loss = array_ops.reshape(loss, _outer_shape(logits))
        loss.set_shape(static)
        return loss


def _drop_axis(shape, axis):
    if shape.ndims is None:
        return shape
    dims = list(shape.as_tuple())
    del dims[axis % len(dims)]
    return TensorShape(dims)


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """TF1's version: like _v2, but no gradient flows into the labels."""
    from staticflow.ops import array_ops

    if _sentinel is not None:
        raise ValueError(
            "Only call softmax_cross_entropy_with_logits with named arguments (labels=..., logits=...)"
        )
    labels = array_ops.stop_gradient(fops.convert_to_tensor(labels))
    return softmax_cross_entropy_with_logits_v2(
        labels=labels, logits=logits, axis=dim if axis is None else axis, name=name
    )


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Per-example cross-entropy of softmax(logits) against integer class labels.

    Logits of any rank, known or not (as TF); the loss has the labels' shape.
    """
    from staticflow.ops import array_ops

    if _sentinel is not None:
        raise ValueError("Only call sparse_softmax_cross_entropy_with_logits with named arguments")
    with fops.name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [logits, labels]):
        logits = fops.convert_to_tensor(logits)
        labels = fops.convert_to_tensor(labels)
        if not labels.dtype.is_integer:
            raise TypeError(f"labels must be int32 or int64, got {labels.dtype.name}")
        lr, rr = labels.shape.ndims, logits.shape.ndims
        if rr == 0:
            raise ValueError("logits must have rank >= 1")
        if lr is not None and rr is not None and lr != rr - 1:
            raise ValueError(
                f"Rank mismatch: Rank of labels (received {lr}) should equal rank of logits minus 1 "
                f"(received {rr})."
            )
        static = labels.shape
        if rr is not None:
            static = static.merge_with(logits.shape[:-1])
        if rr == 2 and lr in (None, 1):
            return builder.apply_op("SparseSoftmaxCrossEntropyWithLogits", [logits, labels], None).outputs[0]
        flat_labels = array_ops.reshape(labels, [-1])
        loss = builder.apply_op(
            "SparseSoftmaxCrossEntropyWithLogits", [_rows(logits), flat_labels], None
        ).outputs[0]
        loss = array_ops.reshape(loss, array_ops.shape(labels))
        loss.set_shape(static)
        return loss


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Elementwise logistic loss, stable for large |logits|: max(x, 0) - x z + log(1 + exp(-|x|))."""
    from staticflow.ops import math_ops

    if _sentinel is not None:
        raise ValueError("Only call sigmoid_cross_entropy_with_logits with named arguments")
    with fops.name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = fops.convert_to_tensor(logits)
        labels = fops.convert_to_tensor(labels, dtype=logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"logits and labels must have the same shape ({logits.shape} vs {labels.shape})")
        return math_ops.add(
            relu(logits) - logits * labels, math_ops.log1p(math_ops.exp(-math_ops.abs(logits))), name=scope
        )
