"""Shared pieces of the ops that work on session resources (queues, iterators, readers).

A resource is named by a handle: the scalar string output of a handle op
(FIFOQueueV2, IteratorV2, TextLineReaderV2, ...), whose `OpDef.resource`
creates the Python object on first use in a session (runtime/resources.py).
Ops that change a resource (enqueue, close, an iterator's initializer) lower
to one host call that finds it through `LowerContext.resources`; ops whose
value comes from one (dequeue, get_next, read) are sources (`OpDef.source`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops.registry import Arg, Attr, Case, op

HANDLE = Arg("handle", dtype=dtypes.string)


def where(op_: fops.Operation) -> str:
    """The op and the user's source line, appended to a run-time error message."""
    return f"\n\t [[node {op_.name} ({op_.type}) defined at {fops.format_location(op_.location)}]]"


def fail(cls, op_: fops.Operation, message: str):
    """An OpError of class `cls` about op_, naming it and where it was defined."""
    return cls(None, op_, message + where(op_))


def session_state_ref(ins, a):
    raise ValueError("this op's value comes from session state (a queue, an iterator or a reader)")


def scalar_shape(c):
    return [TensorShape([])]


def declare_handle(name: str, attrs, factory: Callable, doc: str, scenario: Callable) -> None:
    """Register a handle op: its output names a resource that `factory(op, store)` creates."""
    op(
        name=name,
        inputs=[],
        outputs=[HANDLE],
        attrs=list(attrs) + [Attr("container", "string", ""), Attr("shared_name", "string", "")],
        shape_fn=scalar_shape,
        ref=session_state_ref,
        static=True,
        foldable=False,
        resource=factory,
        differentiable=False,
        cases=lambda rng: [Case((), grad=False, scenario=scenario)],
        doc=doc,
    )


def host_lowering(fn: Callable, n_outputs: int | None = None) -> Callable:
    """A lowering to one host call of `fn(op, resources, in_arrays, out_arrays)`, where
    resources is the session's ResourceStore."""

    def lower(ctx):
        store = ctx.resources
        if store is None:
            raise ValueError(f"{ctx.opdef.name} uses session resources; it runs only in a Session")

        def run(op_, ins, outs):
            fn(op_, store, ins, outs)

        n = len(ctx.out_shapes) if n_outputs is None else n_outputs
        ctx.host(run, [ctx.inp(i) for i in range(len(ctx.in_shapes))], [ctx.out(j) for j in range(n)])

    return lower


def empty(shape, dt: dtypes.DType) -> np.ndarray:
    """A zero-filled array of dtype dt (b'' for strings)."""
    if dt is dtypes.string:
        return np.full(tuple(shape), b"", dtype=object)
    return np.zeros(tuple(shape), dtype=dt.np)


def fmt_shape(shape) -> str:
    """A shape as TensorFlow's run-time messages print it: [2,3], -1 for unknown dims."""
    if isinstance(shape, TensorShape):
        if shape.ndims is None:
            return "<unknown>"
        shape = [-1 if d is None else d for d in shape.as_list()]
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def copy_value(x: np.ndarray) -> np.ndarray:
    """A copy that owns its memory (inputs of host calls are views into a plan's arena)."""
    return np.array(x, dtype=x.dtype, copy=True)

