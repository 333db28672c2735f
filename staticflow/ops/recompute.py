"""`recompute_grad`: a block whose inside is not kept for the backward pass but computed again.

The ops a call of the block builds are marked with the ``_recompute_hint`` attr (TensorFlow's
mark for recomputation, MANUAL memory optimization), each call with its own number; the
recomputation pass (passes/recompute.py) clones the marked nodes that gradient ops read and
has the gradient ops read the clones, which run when the backward pass reaches the block.
The block's outputs and inputs stay: they are the checkpoints the clones start from. The
gradients are the ordinary ones of the block, so those of variables used or made inside it
are too.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

from staticflow.framework import attr_value_pb2
from staticflow.framework import ops as fops

HINT_ATTR = "_recompute_hint"
_calls = itertools.count(1)


def recompute_grad(fn: Callable) -> Callable:
    """`fn` (tensors in, tensors out) whose intermediate values are recomputed in the backward
    pass instead of kept (TF's ``tf.recompute_grad``); use it as a decorator."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        g = fops.get_default_graph()
        start = g._id_counter  # the ops the call makes have larger ids
        out = fn(*args, **kwargs)
        kept = {t.op._id for t in _tensors(out)}
        mark = attr_value_pb2.AttrValue(i=next(_calls))
        for op in g.get_operations():
            if op._id > start and op._id not in kept and HINT_ATTR not in op._extra_attrs:
                op._extra_attrs[HINT_ATTR] = mark
        return out

    return wrapped


def hint_of(op):
    """The recompute mark of `op`: its ``_recompute_hint`` attr (made by recompute_grad, read
    from a GraphDef, or set with ``op._set_attr``) as an int or text, or None."""
    a = op._extra_attrs.get(HINT_ATTR)
    if a is None:
        a = op._attrs.get(HINT_ATTR)
        if a is None:
            return None
    if isinstance(a, attr_value_pb2.AttrValue):
        kind = a.WhichOneof("value")
        return getattr(a, kind) if kind in ("i", "b", "s") else str(a)
    return a


def _tensors(x) -> list:
    if isinstance(x, fops.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for y in x for t in _tensors(y)]
    if isinstance(x, dict):
        return [t for y in x.values() for t in _tensors(y)]
    return []
