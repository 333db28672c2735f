"""Common-subexpression elimination: nodes that compute the same value become one.

Two nodes are the same computation when they run the same op with the same
attrs on the same inputs after the same control inputs, on the same device,
and the op is pure. A node that reads session state (a variable) is left
alone: its value depends on when it runs. The kept node stands for the user
ops of both, so errors and traces still name them.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape
from staticflow.passes.rewrite import Rewriter

MAX_ORIGIN = 8  # user ops a merged node keeps as its provenance


def _canon(v):
    """A hashable stand-in for an attr value."""
    if isinstance(v, np.ndarray):
        return ("nd", v.dtype.str, v.shape, v.tobytes() if v.dtype != object else tuple(v.reshape(-1)))
    if isinstance(v, TensorShape):
        return ("shape", None if v.ndims is None else tuple(v.as_list()))
    if isinstance(v, dtypes.DType):
        return ("dtype", v.name)
    if isinstance(v, (list, tuple)):
        return tuple(_canon(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _canon(x)) for k, x in v.items()))
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return v


def _key(node):
    return (
        node.type,
        node.device,
        tuple((v.node.id, v.index) for v in node.inputs),
        tuple(sorted(c.id for c in node.control)),
        tuple(sorted((k, _canon(x)) for k, x in node.attrs.items())),
    )


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    seen: dict = {}
    for node in ir.topo_order():
        if not node.pure or node.opdef.static and node.type == "Const" and node.attrs["value"].size > 4096:
            continue
        if any(not v.node.pure for v in node.inputs if v.node.opdef is not None):
            continue  # reads session state (a variable): its value depends on when it runs
        key = _key(node)
        keep = seen.get(key)
        if keep is None:
            seen[key] = node
            continue
        if len(keep.origin) < MAX_ORIGIN:  # (errors name a few; a constant may stand for thousands)
            keep.origin = keep.origin + tuple(o for o in node.origin if o not in keep.origin)
        rw.replace(node, keep.outputs)
    if rw.changed:
        ctx.notes.append(f"{rw.changed} duplicates merged")
    return rw.changed
