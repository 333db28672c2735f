"""Helpers shared by the gradient functions."""

from __future__ import annotations

import numpy as np

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, builder, math_ops


def static_shape(t: fops.Tensor):
    """t's shape as a list of ints when fully known at construction, else None."""
    return t.shape.as_list() if t.shape.is_fully_defined() else None


def shape_of(t: fops.Tensor):
    """t's shape: a constant when known now, else a Shape op (still known while planning)."""
    s = static_shape(t)
    return np.array(s, np.int32) if s is not None else array_ops.shape(t)


def broadcast_grads(x: fops.Tensor, y: fops.Tensor, gx, gy):
    """Sum the gradients of a broadcasting binary op back to the shapes of x and y."""
    sx, sy = static_shape(x), static_shape(y)
    if sx is not None and sy is not None:
        rx, ry = array_ops.broadcast_gradient_args(sx, sy)
        return (_reduce_static(gx, rx, sx), _reduce_static(gy, ry, sy))
    bga = builder.apply_op("BroadcastGradientArgs", [shape_of(x), shape_of(y)], None)
    rx, ry = bga.outputs
    out = []
    for g, r, t in ((gx, rx, x), (gy, ry, y)):
        out.append(None if g is None else array_ops.reshape(math_ops.reduce_sum(g, r), shape_of(t)))
    return tuple(out)


def _reduce_static(g, axes, shape):
    if g is None:
        return None
    if len(axes):
        g = math_ops.reduce_sum(g, [int(a) for a in axes])
    if static_shape(g) != list(shape):
        g = array_ops.reshape(g, np.array(shape, np.int32))
    return g


def reduce_to(g: fops.Tensor, x: fops.Tensor):
    """Sum g (broadcast from x) back to x's shape."""
    return broadcast_grads(x, g, g, None)[0]


def reduced_shape(x: fops.Tensor, axes):
    """x's shape with the reduced axes set to 1: the shape of a keepdims reduction.

    A constant when x's shape and the axes are known now; otherwise ops whose
    values are computed while planning (they depend only on shapes and axes).
    """
    shape = shape_of(x)
    ax = _const(axes)
    if isinstance(shape, np.ndarray) and ax is not None:
        rank = max(len(shape), 1)
        red = {int(a) % rank for a in np.asarray(ax).reshape(-1)}
        return np.array([1 if i in red else d for i, d in enumerate(shape)], np.int32)
    r = x.shape.ndims
    if r == 0:
        return np.zeros(0, np.int32)
    if r is not None and ax is not None:  # known rank: one entry per dim, 1 where reduced
        red = {int(a) % max(r, 1) for a in np.asarray(ax).reshape(-1)}
        dims = x.shape.as_list()
        if all(i in red or d is not None for i, d in enumerate(dims)):
            return np.array([1 if i in red else d for i, d in enumerate(dims)], np.int32)
        return array_ops.stack(
            [
                np.int32(1) if i in red else (np.int32(d) if d is not None else shape[i])
                for i, d in enumerate(dims)
            ]
        )
    rank = array_ops.size(shape)
    ax_t = math_ops.floormod(math_ops.cast(axes, "int32"), rank)
    hits = math_ops.reduce_sum(array_ops.one_hot(array_ops.reshape(ax_t, [-1]), rank, dtype="int32"), axis=0)
    hot = math_ops.minimum(hits, 1)
    return shape * (1 - hot) + hot


def _const(t):
    if isinstance(t, fops.Tensor):
        return builder.constant_value(t)
    return np.asarray(t)
