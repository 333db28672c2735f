"""Top-k ops (TF's TopKV2 and InTopKV2) and their wrappers sf.nn.top_k, sf.nn.in_top_k.

top_k keeps TensorFlow's order: the k largest of each row along the last axis, best
first, equal values in index order. NaN ranks above every number (TensorFlow's order
around NaN depends on its algorithm; staticflow picks one). in_top_k follows TensorFlow:
ties with the target count in its favour, and a row with a non-finite prediction, or a
target outside the classes, is never in the top k.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import array_ops, builder, casegen, math_ops, registry
from staticflow.ops.registry import Arg, Attr, Case, op, register_gradient

D = dtypes
TOPK_T = (D.float32, D.float64, D.int32, D.int64)
IDX_T = (D.int32, D.int64)
_rand = casegen.rand
TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def _rank_order(rows: np.ndarray) -> np.ndarray:
    """Per row, the indices from best to worst (descending, ties by index, NaN first)."""
    if rows.dtype.kind == "f":
        key = np.where(np.isnan(rows), -np.inf, -rows.astype(np.float64))
        # NaN first, then -inf keys (the +inf values) after NaN: order by (not NaN, key)
        return np.lexsort((np.arange(rows.shape[-1])[None, :].repeat(rows.shape[0], 0), key, ~np.isnan(rows)))
    return np.argsort(~rows, axis=-1, kind="stable")


def _top_k_ref(ins, a):
    x, k = np.asarray(ins[0]), int(ins[1])
    if x.ndim < 1:
        raise ValueError("input must be at least 1-D")
    n = x.shape[-1]
    if k < 0:
        raise ValueError(f"Need k >= 0, got {k}")
    if k > n:
        raise ValueError(f"input must have last dimension >= k = {k} but is {n}")
    rows = x.reshape(math.prod(x.shape[:-1]), n)  # (-1 cannot be inferred when n is 0)
    order = _rank_order(rows)[:, :k] if rows.shape[0] else np.zeros((0, k), np.int64)
    vals = np.take_along_axis(rows, order, axis=-1) if rows.shape[0] else np.zeros((0, k), x.dtype)
    shape = x.shape[:-1] + (k,)
    return [vals.reshape(shape), order.astype(np.int32).reshape(shape)]


def _top_k_shape(c):
    s, k = c.shape(0), array_ops.scalar_input(c, 1, "k")
    if k is not None and k < 0:
        raise ValueError(f"Need k >= 0, got {k}")
    if s.ndims is None:
        return [TensorShape(None)] * 2
    if s.ndims < 1:
        raise ValueError("input must be at least 1-D")
    n = s.as_tuple()[-1]
    if k is not None and n is not None and n < k:
        raise ValueError(f"input must have last dimension >= k = {k} but is {n}")
    out = TensorShape(list(s.as_tuple()[:-1]) + [k])
    return [out, out]


def _top_k_lower(ctx):
    shape = ctx.in_shapes[0]
    n = shape[-1]
    k = int(ctx.values[1])
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    if rows * k == 0:
        return
    ctx.call(
        ctx.kernel("top_k"),
        [ctx.inp(0).reshape([rows, n])],
        [ctx.out(0).reshape([rows, k]), ctx.out(1).reshape([rows, k])],
    )


def _top_k_cases(rng):
    cases = [
        Case((_rand(rng, s, t), np.int32(k)), grad=t.is_floating)
        for t in TOPK_T
        for s, k in [((7,), 3), ((3, 5), 2), ((2, 3, 4), 4), ((4, 6), 0), ((0, 3), 2)]
    ]
    ties = np.array([[1, 3, 3, 2, 3], [5, 5, 5, 5, 5]], np.float32)
    nan = np.array([[3.0, np.nan, 1.0, np.inf, -np.inf]], np.float32)
    cases += [
        Case((ties, np.int32(3)), grad=False),
        Case((nan, np.int32(4)), grad=False),
        Case((np.array([[np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]]), np.int32(3)), grad=False),
    ]
    return cases


op(
    name="TopKV2",
    inputs=[Arg("input", type_attr="T"), Arg("k", type_attr="Tk", host=True)],
    outputs=[Arg("values", type_attr="T"), Arg("indices", type_attr="index_type")],
    attrs=[
        Attr("sorted", "bool", True),
        Attr("T", "type", allowed=TOPK_T),
        Attr("Tk", "type", D.int32, allowed=IDX_T),
        Attr("index_type", "type", D.int32, allowed=(D.int32,)),
    ],
    shape_fn=_top_k_shape,
    ref=_top_k_ref,
    lower=_top_k_lower,
    kernels=registry.kernels_for(["top_k"], TOPK_T),
    cases=_top_k_cases,
    doc="The k largest entries of the last axis and their indices, best first.",
)


@register_gradient("TopKV2")
def _top_k_grad(op, grad_values, grad_indices):
    """Each value's gradient goes back to the entry it came from."""
    x, idx = op.inputs[0], op.outputs[1]
    in_shape = array_ops.shape(x)
    n = in_shape[-1]
    k = array_ops.shape(idx)[-1]
    rows = math_ops.reduce_prod(in_shape[:-1])
    idx2 = array_ops.reshape(idx, array_ops.stack([rows, k]))
    offsets = array_ops.expand_dims(array_ops.range_(0, rows) * n, -1)
    flat = array_ops.reshape(idx2 + offsets, [-1])
    g = array_ops.unsorted_segment_sum(array_ops.reshape(grad_values, [-1]), flat, array_ops.size(x))
    return array_ops.reshape(g, in_shape), None


def _in_top_k_ref(ins, a):
    p, t, k = np.asarray(ins[0]), np.asarray(ins[1]), int(ins[2])
    out = np.zeros(p.shape[0], bool)
    for r in range(p.shape[0]):
        target = int(t[r])
        row = p[r]
        if not 0 <= target < p.shape[1] or not np.all(np.isfinite(row)):
            continue
        out[r] = int(np.sum(row > row[target])) < k
    return out


def _in_top_k_shape(c):
    p = c.shape(0).with_rank(2)
    t = c.shape(1).with_rank(1)
    c.shape(2).with_rank(0)
    return [p[:1].merge_with(t)]


def _in_top_k_lower(ctx):
    b = ctx.in_shapes[0][0]
    if b == 0:
        return
    ctx.call(
        ctx.kernel("in_top_k", D.float32, ctx.in_dtypes[1]),
        [ctx.inp(0), ctx.inp(1), ctx.inp(2)],
        [ctx.out(0)],
    )


def _in_top_k_cases(rng):
    nan, inf = np.nan, np.inf
    p = np.array(
        [
            [0.1, 0.3, 0.3, 0.2],
            [0.1, nan, 0.5, 0.2],
            [0.1, 0.2, inf, 0.3],
            [0.4, 0.3, 0.2, 0.1],
            [-inf, 0.1, 0.2, 0.3],
            [0.1, 0.2, 0.3, 0.4],
        ],
        np.float32,
    )
    cases = []
    for it in (np.int32, np.int64):
        t = np.array([2, 2, 3, 0, 1, 7], it)
        cases += [Case((p, t, it(k)), grad=False) for k in (-1, 0, 1, 2, 4)]
        x = _rand(rng, (6, 9))
        cases.append(Case((x, rng.integers(0, 9, 6).astype(it), it(3)), grad=False))
    cases.append(Case((np.zeros((0, 3), np.float32), np.zeros(0, np.int32), np.int32(1)), grad=False))
    return cases


op(
    name="InTopKV2",
    inputs=[Arg("predictions", dtype=D.float32), Arg("targets", type_attr="T"), Arg("k", type_attr="T")],
    outputs=[Arg("precision", dtype=D.bool_)],
    attrs=[Attr("T", "type", D.int32, allowed=IDX_T)],
    shape_fn=_in_top_k_shape,
    ref=_in_top_k_ref,
    lower=_in_top_k_lower,
    kernels=tuple(registry.kernel_name("in_top_k", D.float32, i) for i in IDX_T),
    differentiable=False,
    cases=_in_top_k_cases,
    doc="Whether each row's target is among the row's k largest predictions.",
)


# ---------------------------------------------------------------------------
# wrappers
# ---------------------------------------------------------------------------
def top_k(input, k=1, sorted=True, name=None):  # noqa: A002 - TF's names
    """(values, indices): the k largest entries of input's last axis, best first.

    Equal entries come in index order; indices are int32. ``sorted=False`` gives the
    same (sorted) result, an order TensorFlow also allows.
    """
    outs = builder.apply_op("TopKV2", [input, k], {"sorted": bool(sorted)}, name).outputs
    return TopKV2(outs[0], outs[1])


def in_top_k(predictions, targets, k, name=None):
    """Bool [batch]: whether targets[i] is among the top k of predictions[i] (ties count as in).

    predictions is float32 [batch, classes], targets int32 or int64 [batch].
    """
    with fops.name_scope(name, "in_top_k"):
        targets = fops.convert_to_tensor(targets)
        if targets.dtype not in IDX_T:
            raise TypeError(f"in_top_k: targets must be int32 or int64, got {targets.dtype.name}")
        k = fops.convert_to_tensor(k, dtype=targets.dtype)
        return builder.apply_op("InTopKV2", [predictions, targets, k], None, None).outputs[0]


def arg_max(input, dimension, output_type=D.int64, name=None):  # noqa: A002 - TF's names
    """TF1's old name of argmax (dimension is required)."""
    return math_ops.argmax(input, axis=dimension, name=name, output_type=output_type)


def arg_min(input, dimension, output_type=D.int64, name=None):  # noqa: A002 - TF's names
    """TF1's old name of argmin (dimension is required)."""
    return math_ops.argmin(input, axis=dimension, name=name, output_type=output_type)
