"""Neural-network ops: softmax, log-softmax, bias add, and the activations' wrappers."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import builder, casegen, registry
from staticflow.ops.lowering import coalesce
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
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
        n = int(np.prod(shape[:-1], dtype=np.int64))
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
        cases=lambda rng: (
            [Case((_rand(rng, s, t),)) for t in F for s in [(5,), (3, 4), (2, 3, 4), (0, 3)]]
            + [Case((np.array([[1000.0, 0.0, -1000.0]], np.float32),), grad=False)]
        ),
        doc=f"{_name} over the last dimension (max-subtracted, no overflow).",
    )


def _bias_shape(c):
    v, b = c.shape(0), c.shape(1).with_rank(1)
    fmt = c.attrs["data_format"]
    if v.ndims is not None:
        if v.ndims < 2:
            raise ValueError(f"value must have rank >= 2, got {v}")
        ch = v.as_tuple()[-1 if fmt == "NHWC" else 1]
        bd = b.as_tuple()[0]
        if ch is not None and bd is not None and ch != bd:
            raise ValueError(f"bias has size {bd}, the channel dimension of value ({fmt}) is {ch}")
    return [v]


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
    views = coalesce([ctx.inp(0), _bias_view(ctx), out])
    ctx.call(ctx.kernel("add"), views[:2], views[2:])


def _bias_ref(ins, a):
    x, b = ins
    if a["data_format"] == "NCHW":
        b = b.reshape((-1,) + (1,) * (x.ndim - 2))
    return x + b


_BIAS_T = F + D.INTS
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
    kernels=registry.kernels_for(["add"], _BIAS_T),
    elementwise=True,
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
