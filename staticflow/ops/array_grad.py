"""Gradients of the array ops (identity-like, reshapes, slicing, joining, gathering)."""

from __future__ import annotations

import numpy as np

from staticflow.ops import array_ops, builder, math_ops
from staticflow.ops.grad_util import reduce_to, reshape_target, shape_of
from staticflow.ops.registry import register_gradient

a_ = array_ops


def _passthrough(op, g):
    return [g] + [None] * (len(op.inputs) - 1)


for _t in ("Identity", "PlaceholderWithDefault"):
    register_gradient(_t)(_passthrough)


def _reshape_back(op, g):
    return [a_.reshape(g, reshape_target(op.inputs[0]))] + [None] * (len(op.inputs) - 1)


for _t in ("Reshape", "ExpandDims", "Squeeze"):
    register_gradient(_t)(_reshape_back)


@register_gradient("Transpose")
def _transpose_grad(op, g):
    return a_.transpose(g, a_.invert_permutation(op.inputs[1])), None


@register_gradient("BroadcastTo")
def _broadcast_to_grad(op, g):
    return reduce_to(g, op.inputs[0]), None


@register_gradient("Fill")
def _fill_grad(op, g):
    return None, math_ops.reduce_sum(g)


@register_gradient("Tile")
def _tile_grad(op, g):
    x, multiples = op.inputs
    # g viewed as [m0, d0, m1, d1, ...] summed over the m axes
    split = a_.reshape(a_.transpose(a_.stack([math_ops.cast(multiples, "int32"), shape_of(x)])), [-1])
    axes = a_.range_(0, a_.size(split), 2)
    return math_ops.reduce_sum(a_.reshape(g, split), axes), None


def _pad_grad(op, g):
    x, paddings = op.inputs[0], op.inputs[1]
    begin = a_.reshape(a_.slice_(paddings, [0, 0], a_.stack([a_.rank(x), 1])), [-1])
    return [a_.slice_(g, begin, shape_of(x))] + [None] * (len(op.inputs) - 1)


register_gradient("Pad")(_pad_grad)


@register_gradient("PadV2")
def _padv2_grad(op, g):
    gx = _pad_grad(op, g)[0]
    # every padded element is the constant value
    return gx, None, math_ops.reduce_sum(g) - math_ops.reduce_sum(gx)


@register_gradient("ConcatV2")
def _concat_grad(op, g):
    n = op.get_attr("N")
    values, axis = op.inputs[:n], op.inputs[n]
    ax = builder.constant_value(axis)
    r = values[0].shape.ndims
    if ax is not None and r is not None:
        ax = int(ax) % max(r, 1)
        sizes = [v.shape[ax].value if v.shape.ndims == r else None for v in values]
        if None not in sizes:  # the pieces' sizes are known: split at constants
            return a_.split(g, np.array(sizes, np.int32), axis=ax, num=n) + [None]
    rank = a_.rank(values[0])
    ax = math_ops.floormod(math_ops.cast(axis, "int32"), rank)
    sizes = a_.stack([a_.gather(a_.shape(v), ax) for v in values])
    parts = a_.split(g, sizes, axis=ax, num=n)
    return parts + [None]


def _split_back(op, grads, value, axis):
    filled = [gr if gr is not None else a_.zeros_like(t) for gr, t in zip(grads, op.outputs)]
    return a_.concat(filled, axis)


@register_gradient("Split")
def _split_grad(op, *grads):
    return None, _split_back(op, grads, op.inputs[1], op.inputs[0])


@register_gradient("SplitV")
def _splitv_grad(op, *grads):
    return _split_back(op, grads, op.inputs[0], op.inputs[2]), None, None


@register_gradient("Pack")
def _pack_grad(op, g):
    return a_.unstack(g, num=op.get_attr("N"), axis=op.get_attr("axis"))


@register_gradient("Unpack")
def _unpack_grad(op, *grads):
    filled = [gr if gr is not None else a_.zeros_like(t) for gr, t in zip(grads, op.outputs)]
    return a_.stack(filled, axis=op.get_attr("axis"))


@register_gradient("Slice")
def _slice_grad(op, g):
    x, begin, _ = op.inputs
    xs = shape_of(x)
    out_shape = a_.shape(op.outputs[0])
    before = math_ops.cast(begin, "int32")
    after = xs - before - out_shape
    paddings = a_.transpose(a_.stack([before, after]))
    return a_.pad(g, paddings), None, None


@register_gradient("StridedSlice")
def _strided_slice_grad(op, g):
    x, begin, end, strides = op.inputs
    attrs = {
        k: op.get_attr(k)
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    }
    shape = shape_of(x)
    if isinstance(shape, np.ndarray):
        shape = shape.astype(begin.dtype.np)
    else:
        shape = math_ops.cast(shape, begin.dtype)
    dx = builder.apply_op("StridedSliceGrad", [shape, begin, end, strides, g], attrs).outputs[0]
    return dx, None, None, None


@register_gradient("StridedSliceGrad")
def _strided_slice_grad_grad(op, g):
    _, begin, end, strides, _ = op.inputs
    attrs = {
        k: op.get_attr(k)
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    }
    return None, None, None, None, a_.strided_slice(g, begin, end, strides, **attrs)


@register_gradient("GatherV2")
def _gather_grad(op, g):
    params, indices, axis = op.inputs
    ax_v = builder.constant_value(axis)
    flat_idx = a_.reshape(indices, [-1])
    if ax_v is None or params.shape.ndims is None or indices.shape.ndims is None:
        return _gather_grad_dynamic(params, flat_idx, axis, g), None, None
    ax = int(ax_v) % params.shape.ndims
    if ax == 0:
        values = a_.reshape(g, a_.concat([a_.size(indices)[None], a_.shape(params)[1:]], 0))
        return a_.unsorted_segment_sum(values, flat_idx, a_.shape(params)[0]), None, None
    # move the gathered axis to the front, scatter, move it back
    r = params.shape.ndims
    perm = [ax] + [i for i in range(r) if i != ax]
    idx_rank = indices.shape.ndims
    g_r = r - 1 + idx_rank
    g_perm = list(range(ax, ax + idx_rank)) + list(range(ax)) + list(range(ax + idx_rank, g_r))
    gt = a_.transpose(g, g_perm)
    pt_shape = a_.gather(a_.shape(params), perm)
    values = a_.reshape(gt, a_.concat([a_.size(indices)[None], pt_shape[1:]], 0))
    summed = a_.unsorted_segment_sum(values, flat_idx, pt_shape[0])
    inv = [perm.index(i) for i in range(r)]
    return a_.transpose(summed, inv), None, None


def _gather_grad_dynamic(params, flat_idx, axis, g):
    """Gather's gradient when ranks or the axis are known only while planning (as TensorFlow's):
    g viewed as [outer, n_indices, inner], the gathered axis moved to the front, scattered
    by segment sum, and moved back."""
    p_shape = a_.shape(params)
    p_rank = a_.rank(params)
    axis = math_ops.floormod(axis, p_rank)
    outer = a_.slice_(p_shape, [0], a_.expand_dims(axis, 0))
    inner = a_.slice_(p_shape, a_.expand_dims(axis + 1, 0), [-1])
    values = a_.reshape(g, a_.concat([outer, [-1], inner], 0))
    outer_axes = a_.range_(0, axis)
    inner_axes = a_.range_(axis + 1, p_rank)
    to_front = a_.concat([a_.expand_dims(axis, 0), outer_axes, inner_axes], 0)
    summed = a_.unsorted_segment_sum(a_.transpose(values, to_front), flat_idx, a_.gather(p_shape, axis))
    back = a_.concat([outer_axes + 1, [0], inner_axes], 0)
    return a_.transpose(summed, back)


@register_gradient("UnsortedSegmentSum")
def _segment_sum_grad(op, g):
    data, ids, _ = op.inputs
    safe = math_ops.maximum(ids, 0)
    picked = a_.gather(g, safe)
    mask = math_ops.greater_equal(ids, 0)
    if data.shape.ndims is not None and ids.shape.ndims is not None:
        ones = np.ones(data.shape.ndims - ids.shape.ndims, np.int32)
    else:  # known while planning
        ones = a_.fill(a_.expand_dims(a_.rank(data) - a_.rank(ids), 0), 1)
    mask = a_.reshape(mask, a_.concat([a_.shape(ids), ones], 0))
    return math_ops.where_v2(mask, picked, a_.zeros_like(picked)), None, None
