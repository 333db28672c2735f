"""Source ops in a run: values that come from session state, computed before planning.

A dequeue, an iterator's next element or a reader's next record is not a
function of its inputs: it changes the session's state and may block until
data arrives. `Session.run` evaluates the sources the run needs first, in
dependency order, each once per run (so fetching several outputs of one
`get_next` advances it once), and feeds their outputs to the plan like any
fed value. Plans are then keyed by the concrete shapes (a last, smaller batch
gets its own plan), and a blocked dequeue blocks before the run holds any
lock. A source's inputs (handles, sizes) must be computable before the run:
from constants, handle ops and feeds.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes, errors
from staticflow.framework import ops as fops
from staticflow.framework.graph_walk import prune_ops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, registry


def where(op: fops.Operation) -> str:
    return f"\n\t [[node {op.name} ({op.type}) defined at {fops.format_location(op.location)}]]"


def needed(tensors, targets, feeds) -> list[fops.Operation]:
    """The source ops a run of (tensors, targets) given feeds evaluates, in creation order
    (an op's inputs are always older than it, so this is a dependency order)."""
    out = []
    for op in prune_ops(tensors, targets, set(feeds)):
        d = registry.lookup(op.type)
        if d is not None and d.source is not None and not all(t in feeds for t in op.outputs):
            out.append(op)
    out.sort(key=lambda op: op._id)
    return out


def evaluate(session, sources: list, feeds: dict) -> dict:
    """`feeds` plus the outputs of `sources`, each evaluated once, in order. A source's
    control inputs run first (in a run of their own), as they would before it in TensorFlow."""
    user_feeds = feeds
    feeds = dict(feeds)
    for op in sources:
        if op.control_inputs:
            session._run_internal([], op.control_inputs, user_feeds)
        d = registry.get(op.type)
        values = [host_value(t, feeds, op) for t in op.inputs]
        try:
            outs = d.source(op, session._resources, values)
        except errors.OpError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as e:
            raise errors.InvalidArgumentError(
                None, op, f"{op.type} op '{op.name}': {e}" + where(op)
            ) from None
        if len(outs) != len(op.outputs):
            raise errors.InternalError(
                None,
                op,
                f"source {op.type} gave {len(outs)} values for {len(op.outputs)} outputs" + where(op),
            )
        for t, v in zip(op.outputs, outs):
            feeds[t] = _checked(t, v, op)
    return feeds


def _checked(t: fops.Tensor, v, op) -> np.ndarray:
    """A source's value as its tensor's dtype, checked against the static shape."""
    if t.dtype is dtypes.string:
        arr = np.asarray(v, dtype=object)
    else:
        arr = np.asarray(v, dtype=t.dtype.np, order="C")
    if not t.shape.is_compatible_with(arr.shape):
        raise errors.InvalidArgumentError(
            None,
            op,
            f"{op.type} op '{op.name}' produced a value of shape {TensorShape(arr.shape)} for {t.name}, "
            f"which has static shape {t.shape}" + where(op),
        )
    return arr


def host_value(t: fops.Tensor, feeds: dict, user: fops.Operation) -> np.ndarray:
    """The value of `t` before the run: fed, a handle, a constant, or computed from those by
    NumPy references (an explicit stack: no recursion over the graph's depth)."""
    memo: dict = {}
    stack = [t]
    while stack:
        x = stack[-1]
        if x in memo:
            stack.pop()
            continue
        if x in feeds:
            memo[x] = feeds[x]
            stack.pop()
            continue
        op = x.op
        d = registry.lookup(op.type)
        if d is not None and d.resource is not None:
            memo[x] = np.array(op.name.encode(), dtype=object)
            stack.pop()
            continue
        if op.type == "Const":
            memo[x] = np.asarray(op.get_attr("value"))
            stack.pop()
            continue
        if op.type == "Placeholder":
            raise errors.InvalidArgumentError(
                None,
                op,
                f"You must feed a value for placeholder tensor '{op.name}' with dtype "
                f"{op.get_attr('dtype').name} and shape {op.get_attr('shape')} (input of {user.type} op "
                f"'{user.name}')" + where(op),
            )
        if d is None or d.stateful or d.random or d.source is not None or d.shape_only:
            raise errors.InvalidArgumentError(
                None,
                user,
                f"input {x.name} of {user.type} op '{user.name}' must be known before the run (from "
                f"constants, handles and fed values), but it comes from {op.type} op '{op.name}'"
                + where(user),
            )
        missing = [i for i in op.inputs if i not in memo]
        if missing:
            stack.extend(missing)
            continue
        vals = [memo[i] for i in op.inputs]
        memo[x] = builder.run_reference(d, vals, op._attrs)[x.value_index]
        stack.pop()
    return memo[t]
