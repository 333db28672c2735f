"""Values known while the graph is built: constant folding and partially known shape vectors.

`constant_value(t)` folds a tensor whose value does not depend on any feed or
variable (constants, shapes that are fully known, arithmetic on them) by
running the ops' NumPy references. `constant_value_as_shape(t)` is
TensorFlow's function of that name: a shape vector such as
``sf.stack([batch, 7])`` or ``sf.shape(x)[1:]`` read as a partially known
shape, ``(?, 7)``, so that shape functions keep what is known.

Both walk the graph iteratively (a stack of generator frames, one per value
being computed), so a chain of any depth folds without recursion, and both
remember their results on the tensors: a known result for good, an unknown
one until `set_shape` refines some shape of the graph.

The partial value of an integer scalar or vector is the list of its elements,
each an int or None when unknown (None as a whole when even its length is
unknown). Ops say how to compute it in their registry declaration
(`OpDef.partial_value`).
"""

from __future__ import annotations

import inspect

import numpy as np

from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import registry

CONST_FOLD_LIMIT = 4096  # elements: bigger intermediate values are not folded at construction

VALUE = "value"
PARTIAL = "partial"
_MISS = object()


def constant_value(t: fops.Tensor):
    """The value of `t` if it is known without running (constants, known shapes), else None."""
    return _evaluate(VALUE, t)


def partial_value(t: fops.Tensor) -> list | None:
    """The elements of an integer scalar or vector `t` (a scalar gives one), each an int or
    None when unknown; None when the length is unknown or t is not such a tensor."""
    return _evaluate(PARTIAL, t)


def constant_value_as_shape(t: fops.Tensor) -> TensorShape:
    """`t`, a shape vector, as a partially known TensorShape (TF's constant_value_as_shape).

    Known elements become dimensions; unknown and negative ones (the -1 of reshape) become
    None. A scalar -1, or a vector of unknown length, is a shape of unknown rank.
    """
    if t.shape.ndims == 0:
        return TensorShape(None)
    p = partial_value(t)
    if p is None:
        n = t.shape[0].value if t.shape.ndims == 1 else None
        return TensorShape(None) if n is None else TensorShape([None] * n)
    return TensorShape([d if d is not None and d >= 0 else None for d in p])


# ---------------------------------------------------------------------------
# the iterative evaluator
# ---------------------------------------------------------------------------
def _memo(kind: str, t: fops.Tensor):
    entry = t._const_value if kind == VALUE else t._partial_value
    if entry is fops._UNSET:
        return _MISS
    epoch, v = entry
    if epoch < 0 or epoch == t.graph._shape_epoch:
        return v
    return _MISS


def _remember(kind: str, t: fops.Tensor, v, final: bool) -> None:
    entry = (-1 if final else t.graph._shape_epoch, v)
    if kind == VALUE:
        t._const_value = entry
    else:
        t._partial_value = entry


def _evaluate(kind: str, t: fops.Tensor):
    v = _memo(kind, t)
    if v is not _MISS:
        return v
    # each frame: (kind, tensor, generator computing it); a generator yields (kind, tensor)
    # requests and receives their values, so the rules read like recursion without using any
    frames = [(kind, t, _RULES[kind](t))]
    send = None
    while frames:
        k, x, gen = frames[-1]
        try:
            want_kind, want = gen.send(send)
        except StopIteration as stop:
            v, final = stop.value
            _remember(k, x, v, final)
            frames.pop()
            send = v
            continue
        send = _memo(want_kind, want)
        if send is _MISS:
            frames.append((want_kind, want, _RULES[want_kind](want)))
            send = None
    return _memo(kind, t)


def _foldable(d: registry.OpDef | None) -> bool:
    return d is not None and d.foldable and not d.stateful and not d.random


def _value_rule(t: fops.Tensor):
    """Generator: (value or None, final) of t."""
    op = t.op
    d = registry.lookup(op.type)
    if not _foldable(d):
        return None, True
    if op.type == "Const":
        return op.get_attr("value"), True
    if d.shape_only:
        return _shape_only_value(d, op, t)
    if op.inputs and not all(_small(x.shape) for x in op.outputs):
        return None, True  # a large (or unknown) result is computed when the graph runs, not here
    vals = []
    for x in op.inputs:
        v = yield VALUE, x
        if v is None or np.size(v) > CONST_FOLD_LIMIT:
            break
        vals.append(v)
    else:
        if not op.inputs:
            return None, True
        from staticflow.ops import builder

        try:
            return builder.run_reference(d, vals, op._attrs)[t.value_index], True
        except Exception:  # an op that fails on these values fails again when it runs
            return None, True
    # some input is unknown: an integer scalar or vector may still be known element by element
    # (an element of a partially known shape, sf.shape(x)[1] with x's dimension 1 known)
    if d.partial_value is not None and _is_int_vector_or_scalar(t):
        p = yield PARTIAL, t
        if p is not None and all(e is not None for e in p):
            return np.array(p, dtype=t.dtype.np).reshape(() if t.shape.ndims == 0 else (len(p),)), True
    return None, False


def _shape_only_value(d: registry.OpDef, op: fops.Operation, t: fops.Tensor):
    """Shape, Size, Rank: known when the input's shape decides the value. Unknown dimensions
    are probed with sizes 1 and 2: the same result both times means they do not matter
    (a rank; a size with a zero dimension)."""
    dims = [x.shape.as_tuple() for x in op.inputs]
    if any(s is None for s in dims):
        return None, False
    from staticflow.ops import builder

    def run(fill):
        arrays = [
            np.broadcast_to(np.zeros((), x.dtype.np), [fill if n is None else n for n in s])
            for x, s in zip(op.inputs, dims)
        ]
        return builder.run_reference(d, arrays, op._attrs)[t.value_index]

    if all(n is not None for s in dims for n in s):
        return run(0), True
    a, b = run(1), run(2)
    if a.shape == b.shape and np.array_equal(a, b):
        return a, True
    return None, False


def _small(shape: TensorShape) -> bool:
    n = shape.num_elements()
    return n is not None and n <= CONST_FOLD_LIMIT


def _is_int_vector_or_scalar(t: fops.Tensor) -> bool:
    return t.dtype.is_integer and t.shape.ndims in (0, 1)


def _partial_rule(t: fops.Tensor):
    """Generator: (partial value or None, final) of t, an integer scalar or vector."""
    if not t.dtype.is_integer or t.shape.ndims not in (None, 0, 1):
        return None, True
    n = 1 if t.shape.ndims == 0 else (t.shape[0].value if t.shape.ndims == 1 else None)
    if n == 0:
        return [], True
    d = registry.lookup(t.op.type)
    p = None
    if d is not None and d.partial_value is not None:
        res = d.partial_value(t.op)
        if inspect.isgenerator(res):
            send = None
            while True:
                try:
                    kind, i = res.send(send)
                except StopIteration as stop:
                    p = stop.value
                    break
                send = yield kind, t.op.inputs[i]
        else:
            p = res
        if p is not None:
            p = [None if e is None else int(e) for e in p]
            if n is not None and len(p) != n:  # a declaration at odds with the static shape
                p = None
    else:
        v = yield VALUE, t
        if v is not None:
            p = [int(e) for e in np.asarray(v).reshape(-1)]
    if p is None and n is not None:
        p = [None] * n
    final = p is not None and all(e is not None for e in p)
    return p, final


_RULES = {VALUE: _value_rule, PARTIAL: _partial_rule}
