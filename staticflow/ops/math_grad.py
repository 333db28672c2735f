"""Gradients of the math ops (elementwise, matmul, reductions, casts)."""

from __future__ import annotations

import math

import numpy as np

from staticflow.ops import array_ops, builder, math_ops
from staticflow.ops.grad_util import broadcast_grads, reduce_to, reduced_shape, shape_of, static_shape
from staticflow.ops.registry import register_gradient

m = math_ops
a_ = array_ops


def _unary(op_type):
    def deco(fn):
        register_gradient(op_type)(lambda op, g: fn(op.inputs[0], op.outputs[0], g))
        return fn

    return deco


def _grad_op(op_type, *inputs):
    return builder.apply_op(op_type, list(inputs), None).outputs[0]


# --- unary --------------------------------------------------------------------------------------
_unary("Neg")(lambda x, y, g: -g)
_unary("Exp")(lambda x, y, g: g * y)
_unary("Expm1")(lambda x, y, g: g * (y + 1))
_unary("Log")(lambda x, y, g: g * m.reciprocal(x))
_unary("Log1p")(lambda x, y, g: g * m.reciprocal(1 + x))
_unary("Square")(lambda x, y, g: g * (2 * x))
_unary("Abs")(lambda x, y, g: g * m.sign(x))
_unary("Sin")(lambda x, y, g: g * m.cos(x))
_unary("Cos")(lambda x, y, g: -g * m.sin(x))
_unary("Erf")(lambda x, y, g: g * (2 / math.sqrt(math.pi)) * m.exp(-m.square(x)))
_unary("Sigmoid")(lambda x, y, g: _grad_op("SigmoidGrad", y, g))
_unary("Tanh")(lambda x, y, g: _grad_op("TanhGrad", y, g))
_unary("Sqrt")(lambda x, y, g: _grad_op("SqrtGrad", y, g))
_unary("Rsqrt")(lambda x, y, g: _grad_op("RsqrtGrad", y, g))
_unary("Reciprocal")(lambda x, y, g: _grad_op("ReciprocalGrad", y, g))
_unary("Relu")(lambda x, y, g: _grad_op("ReluGrad", g, y))


# second derivatives of the gradient ops (TensorFlow's *GradGrad)
@register_gradient("SigmoidGrad")
def _sigmoid_grad_grad(op, g):
    y, dy = op.inputs
    gb = g * dy
    return gb - 2.0 * gb * y, _grad_op("SigmoidGrad", y, g)


@register_gradient("TanhGrad")
def _tanh_grad_grad(op, g):
    y, dy = op.inputs
    return g * -2.0 * dy * y, _grad_op("TanhGrad", y, g)


@register_gradient("SqrtGrad")
def _sqrt_grad_grad(op, g):
    y = op.inputs[0]
    ga = g / y
    return -ga * op.outputs[0], 0.5 * ga


@register_gradient("RsqrtGrad")
def _rsqrt_grad_grad(op, g):
    y, dy = op.inputs
    return -1.5 * g * dy * m.square(y), _grad_op("RsqrtGrad", y, g)


@register_gradient("ReciprocalGrad")
def _reciprocal_grad_grad(op, g):
    y, dy = op.inputs
    return g * -2.0 * dy * y, _grad_op("ReciprocalGrad", y, g)


@register_gradient("Cast")
def _cast_grad(op, g):
    src = op.inputs[0].dtype
    if src.is_floating and op.outputs[0].dtype.is_floating:
        return m.cast(g, src)
    return None


# --- binary (broadcasting) ------------------------------------------------------------------------
def _binary(op_type):
    def deco(fn):
        def grad(op, g):
            x, y = op.inputs
            gx, gy = fn(x, y, op.outputs[0], g)
            return broadcast_grads(x, y, gx, gy)

        register_gradient(op_type)(grad)
        return fn

    return deco


for _t in ("Add", "AddV2"):
    _binary(_t)(lambda x, y, z, g: (g, g))
_binary("Sub")(lambda x, y, z, g: (g, -g))
_binary("Mul")(lambda x, y, z, g: (g * y, x * g))
for _t in ("RealDiv", "Div"):
    _binary(_t)(lambda x, y, z, g: (g / y, -g * x / m.square(y)))
_binary("SquaredDifference")(lambda x, y, z, g: (lambda d: (d, -d))(g * (2.0 * (x - y))))
_binary("FloorMod")(lambda x, y, z, g: (g, -g * m.floordiv(x, y)))


@_binary("Pow")
def _pow_grad(x, y, z, g):
    gx = g * y * m.pow(x, y - 1)
    safe = m.where_v2(x > 0, x, array_ops.ones_like(x))
    log_x = m.where_v2(x > 0, m.log(safe), array_ops.zeros_like(x))
    return gx, g * z * log_x


def _minmax(compare):
    def fn(x, y, z, g):
        mask = compare(x, y)
        zeros = array_ops.zeros_like(g)
        return m.where_v2(mask, g, zeros), m.where_v2(mask, zeros, g)

    return fn


_binary("Maximum")(_minmax(m.greater_equal))
_binary("Minimum")(_minmax(m.less_equal))


@register_gradient("Select")
def _select_grad(op, g):
    c = op.inputs[0]
    zeros = array_ops.zeros_like(g)
    if c.shape.ndims == 1 and (g.shape.ndims or 0) > 1:
        return None, m.where(c, g, zeros), m.where(c, zeros, g)
    return None, m.where(c, g, zeros), m.where(c, zeros, g)


@register_gradient("SelectV2")
def _selectv2_grad(op, g):
    c, t, e = op.inputs
    zeros = array_ops.zeros_like(g)
    return None, reduce_to(m.where_v2(c, g, zeros), t), reduce_to(m.where_v2(c, zeros, g), e)


@register_gradient("AddN")
def _addn_grad(op, g):
    return [g] * len(op.inputs)


# --- matrix products ---------------------------------------------------------------------------------
@register_gradient("MatMul")
def _matmul_grad(op, g):
    a, b = op.inputs
    ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    mm = m.matmul
    if not ta and not tb:
        return mm(g, b, transpose_b=True), mm(a, g, transpose_a=True)
    if not ta and tb:
        return mm(g, b), mm(g, a, transpose_a=True)
    if ta and not tb:
        return mm(b, g, transpose_b=True), mm(a, g)
    return mm(b, g, transpose_a=True, transpose_b=True), mm(g, a, transpose_a=True, transpose_b=True)


def _batch_matmul_grad(op, g):
    x, y = op.inputs
    ax, ay = op.get_attr("adj_x"), op.get_attr("adj_y")

    def bmm(p, q, tp=False, tq=False):
        return builder.apply_op("BatchMatMulV2", [p, q], {"adj_x": tp, "adj_y": tq}).outputs[0]

    if not ax and not ay:
        gx, gy = bmm(g, y, False, True), bmm(x, g, True, False)
    elif not ax and ay:
        gx, gy = bmm(g, y), bmm(g, x, True, False)
    elif ax and not ay:
        gx, gy = bmm(y, g, False, True), bmm(x, g)
    else:
        gx, gy = bmm(y, g, True, True), bmm(g, x, True, True)
    return reduce_to(gx, x), reduce_to(gy, y)


register_gradient("BatchMatMul")(_batch_matmul_grad)
register_gradient("BatchMatMulV2")(_batch_matmul_grad)


# --- reductions ---------------------------------------------------------------------------------------
def _broadcast_back(op, g):
    """The reduction's output gradient broadcast to the input's shape."""
    x, axes = op.inputs
    keep = reduced_shape(x, axes)
    return array_ops.broadcast_to(array_ops.reshape(g, keep), shape_of(x))


@register_gradient("Sum")
def _sum_grad(op, g):
    return _broadcast_back(op, g), None


def _count(op):
    """Number of input elements per output element, as a float of the input's dtype."""
    x, y = op.inputs[0], op.outputs[0]
    sx, sy = static_shape(x), static_shape(y)
    if sx is not None and sy is not None:
        return float(max(int(np.prod(sx)), 1) // max(int(np.prod(sy)), 1))
    n = m.maximum(array_ops.size(x), 1) // m.maximum(array_ops.size(y), 1)
    return m.cast(n, x.dtype)


@register_gradient("Mean")
def _mean_grad(op, g):
    return _broadcast_back(op, g) / _count(op), None


def _minmax_reduce_grad(op, g):
    x, axes = op.inputs
    keep = reduced_shape(x, axes)
    y = array_ops.reshape(op.outputs[0], keep)
    hits = m.cast(m.equal(y, x), g.dtype)
    n = array_ops.reshape(m.reduce_sum(hits, axes), keep)
    return hits / n * array_ops.reshape(g, keep), None


register_gradient("Max")(_minmax_reduce_grad)
register_gradient("Min")(_minmax_reduce_grad)


@register_gradient("Prod")
def _prod_grad(op, g):
    """d prod / d x_i = product of the other elements, exact with zeros present."""
    x, axes = op.inputs
    keep = reduced_shape(x, axes)
    is_zero = m.equal(x, 0)
    nz = m.where_v2(is_zero, array_ops.ones_like(x), x)
    prod_nz = array_ops.reshape(m.reduce_prod(nz, axes), keep)
    zeros = array_ops.reshape(m.reduce_sum(m.cast(is_zero, x.dtype), axes), keep)
    others = m.where_v2(
        is_zero,
        m.where_v2(m.equal(zeros, 1), prod_nz * array_ops.ones_like(x), array_ops.zeros_like(x)),
        m.where_v2(m.equal(zeros, 0), prod_nz / nz, array_ops.zeros_like(x)),
    )
    return others * array_ops.reshape(g, keep), None
