"""Helpers shared by the gradient functions.

Gradients of broadcasting ops sum over the axes an operand was broadcast along. When those
axes follow from what is known while the gradient graph is built, the sums are made with
constant axes and no shape plumbing (Shape, BroadcastGradientArgs, Reshape) at all, so that
planning never has to fold it away. Known means: both dimensions known, or both dimensions
provably the same runtime value although unknown (`dim_tokens`), as the batch dimension of
every tensor of a model fed a batch of unknown size.
"""

from __future__ import annotations

import weakref

import numpy as np

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, builder, const_eval, math_ops, registry


def static_shape(t: fops.Tensor):
    """t's shape as a list of ints when fully known at construction, else None."""
    return t.shape.as_list() if t.shape.is_fully_defined() else None


def shape_of(t: fops.Tensor):
    """t's shape: a constant when known now, else a Shape op (still known while planning)."""
    s = static_shape(t)
    return np.array(s, np.int32) if s is not None else array_ops.shape(t)


def reshape_target(t: fops.Tensor):
    """A shape to reshape a tensor of t's size into t's shape: a constant when t's shape is
    known, or when one dimension alone is unknown (it becomes reshape's -1); else a Shape op."""
    dims = t.shape.as_list() if t.shape.ndims is not None else None
    if dims is not None and sum(d is None for d in dims) <= 1 and all(d is None or d > 0 for d in dims):
        return np.array([-1 if d is None else d for d in dims], np.int32)
    return array_ops.shape(t)


def broadcast_grads(x: fops.Tensor, y: fops.Tensor, gx, gy):
    """Sum the gradients of a broadcasting binary op back to the shapes of x and y."""
    sx, sy = static_shape(x), static_shape(y)
    if sx is not None and sy is not None:
        rx, ry = array_ops.broadcast_gradient_args(sx, sy)
        return (_reduce_static(gx, rx, sx), _reduce_static(gy, ry, sy))
    axes = _known_reductions(dim_tokens(x), dim_tokens(y))
    if axes is not None:
        return (_reduce_known(gx, axes[0], x), _reduce_known(gy, axes[1], y))
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
    ax = _const(axes)
    if ax is not None and static_shape(x) is not None:
        shape = np.array(static_shape(x), np.int32)
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
        shape = array_ops.shape(x)
        return array_ops.stack(
            [
                np.int32(1) if i in red else (np.int32(d) if d is not None else shape[i])
                for i, d in enumerate(dims)
            ]
        )
    shape = shape_of(x)
    rank = array_ops.size(shape)
    ax_t = math_ops.floormod(math_ops.cast(axes, "int32"), rank)
    hits = math_ops.reduce_sum(array_ops.one_hot(array_ops.reshape(ax_t, [-1]), rank, dtype="int32"), axis=0)
    hot = math_ops.minimum(hits, 1)
    return shape * (1 - hot) + hot


def _const(t):
    if isinstance(t, fops.Tensor):
        return builder.constant_value(t)
    return np.asarray(t)


# ---------------------------------------------------------------------------
# dimensions known to be equal though unknown
# ---------------------------------------------------------------------------
_PAD = object()  # a leading axis an operand of lower rank lacks
_memos: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _memo(graph) -> dict:
    """Tokens already worked out for `graph`'s tensors (by id: tensors live as long as it),
    forgotten when set_shape refines a shape."""
    entry = _memos.get(graph)
    if entry is None or entry[0] != graph._shape_epoch:
        entry = (graph._shape_epoch, {})
        _memos[graph] = entry
    return entry[1]


def dim_tokens(t: fops.Tensor) -> tuple | None:
    """One token per dimension of t (None when its rank is unknown): the dimension's size
    when known, else a tuple naming a runtime value. Equal tokens are equal sizes: two
    dimensions traced back to the same dimension of the same tensor through ops that keep
    it (elementwise ops, matmul, concat, split, pack, unpack, fill from a shape)."""
    memo = _memo(t.graph)
    got = memo.get(id(t))
    if got is not None:
        return got[1]
    stack = [t]
    while stack:  # iterative: unrolled models chain thousands of ops
        cur = stack[-1]
        if id(cur) in memo:
            stack.pop()
            continue
        missing = [u for u in _dim_inputs(cur) if id(u) not in memo]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        memo[id(cur)] = (cur, _tokens_of(cur, memo))
    return memo[id(t)][1]


def _dim_inputs(t: fops.Tensor) -> list:
    """The inputs whose tokens t's tokens are made of."""
    op = t.op
    d = registry.lookup(op.type)
    if d is None or t.shape.ndims is None or t.shape.is_fully_defined():
        return []
    if d.elementwise or d.contraction == "matmul" or op.type in _SAME_DIMS:
        return [u for u in op.inputs if u.dtype is not None]
    return []


def _own(t: fops.Tensor) -> list:
    return [d if d is not None else ("dim", id(t), i) for i, d in enumerate(t.shape.as_list())]


def _tokens_of(t: fops.Tensor, memo: dict) -> tuple | None:
    if t.shape.ndims is None:
        return None
    out = _own(t)
    if t.shape.is_fully_defined():
        return tuple(out)
    op = t.op
    d = registry.lookup(op.type)
    if d is None:
        return tuple(out)
    ins = [memo[id(u)][1] if id(u) in memo else None for u in op.inputs]
    rule = _SAME_DIMS.get(op.type)
    if d.elementwise:
        cands = _elementwise(op, ins, len(out))
    elif d.contraction == "matmul":
        cands = _matmul(op, ins)
    elif rule is not None:
        cands = rule(op, t, ins)
    else:
        cands = None
    if cands is not None and len(cands) == len(out):
        out = [o if isinstance(o, int) or c is None else c for o, c in zip(out, cands)]
    return tuple(out)


def _elementwise(op, ins, rank):
    """Broadcasting: each output dimension is the one runtime value its operands share."""
    cols = [set() for _ in range(rank)]
    for u, tok in zip(op.inputs, ins):
        if tok is None:
            return None
        if len(tok) != rank:
            if u.shape.is_fully_defined():
                continue  # known sizes: 1s that broadcast, or sizes the output knows too
            return None
        for i, k in enumerate(tok):
            if k != 1:
                cols[i].add(k)
    return [next(iter(c)) if len(c) == 1 else None for c in cols]


def _matmul(op, ins):
    a, b = ins
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    return [a[1 if op.get_attr("transpose_a") else 0], b[0 if op.get_attr("transpose_b") else 1]]


def _axis(op, i, rank):
    v = const_eval.constant_value(op.inputs[i])
    if v is None or np.ndim(v) != 0 or rank is None:
        return None
    return int(v) % max(rank, 1)


def _concat(op, t, ins):
    n = op.get_attr("N")
    ax = _axis(op, n, t.shape.ndims)
    if ax is None or ins[0] is None:
        return None
    return [None if i == ax else k for i, k in enumerate(ins[0])]


def _split_like(value_index, axis_index):
    def rule(op, t, ins):
        ax = _axis(op, axis_index, t.shape.ndims)
        tok = ins[value_index]
        if ax is None or tok is None:
            return None
        return [None if i == ax else k for i, k in enumerate(tok)]

    return rule


def _unpack(op, t, ins):
    tok = ins[0]
    if tok is None:
        return None
    ax = op.get_attr("axis") % len(tok)
    return [k for i, k in enumerate(tok) if i != ax]


def _pack(op, t, ins):
    tok = ins[0]
    if tok is None:
        return None
    ax = op.get_attr("axis") % (len(tok) + 1)
    return list(tok[:ax]) + [None] + list(tok[ax:])


def _fill(op, t, ins):
    return value_tokens(op.inputs[0])


_SAME_DIMS = {
    "ConcatV2": _concat,
    "Split": _split_like(1, 0),
    "SplitV": _split_like(0, 2),
    "Unpack": _unpack,
    "Pack": _pack,
    "Fill": _fill,
}


def value_tokens(t: fops.Tensor) -> list | None:
    """The elements of an integer scalar or vector as tokens: ints where known, the token of
    a dimension where the element is one (``shape(x)[0]``), None where neither."""
    v = const_eval.constant_value(t)
    if v is not None:
        return [int(e) for e in np.asarray(v).reshape(-1)]
    op = t.op
    if op.type == "Shape":
        tok = dim_tokens(op.inputs[0])
        return None if tok is None else list(tok)
    d = registry.lookup(op.type)
    if d is None or d.partial_value is None or len(op.outputs) != 1:
        return None
    res = d.partial_value(op)
    if not hasattr(res, "send"):
        return res
    try:  # the op's own partial-value rule, fed tokens for the elements of its inputs
        req = next(res)
        while True:
            kind, i = req
            u = op.inputs[i]
            req = res.send(value_tokens(u) if kind == "partial" else const_eval.constant_value(u))
    except StopIteration as stop:
        return stop.value


def _known_reductions(tx, ty):
    """The axes of the broadcast result to sum for x and for y, when they follow from the
    tokens; None when some axis may or may not be broadcast depending on the run."""
    if tx is None or ty is None:
        return None
    n = max(len(tx), len(ty))
    px = (_PAD,) * (n - len(tx)) + tuple(tx)
    py = (_PAD,) * (n - len(ty)) + tuple(ty)
    rx, ry = [], []
    for i, (a, b) in enumerate(zip(px, py)):
        if a is _PAD:
            rx.append(i)
        elif b is _PAD:
            ry.append(i)
        elif a == b:
            continue
        elif a == 1:
            rx.append(i)
        elif b == 1:
            ry.append(i)
        else:
            return None
    return rx, ry


def _reduce_known(g, axes, t):
    """g summed over `axes` (of the broadcast result) back to t's shape."""
    if g is None:
        return None
    rank = t.shape.ndims
    lead = len(axes) and axes[0] < (g.shape.ndims or 0) - rank
    inner = [a for a in axes if a >= (g.shape.ndims or 0) - rank]
    if not axes:
        return g
    if not lead:
        return math_ops.reduce_sum(g, inner, keepdims=True)
    g = math_ops.reduce_sum(g, list(axes))
    return array_ops.reshape(g, reshape_target(t)) if inner else g
