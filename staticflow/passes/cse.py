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
MAX_CONST = 4096  # elements of the largest constant merged (comparing larger ones costs more)


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
    return key_of(node.type, node.device, node.inputs, node.control, node.attrs)


def key_of(op_type: str, device: str, inputs, control, attrs: dict) -> tuple:
    """What two nodes that compute the same value share: op, device, inputs, control inputs
    and attrs (a node need not exist yet: a constant about to be made)."""
    return (
        op_type,
        device,
        tuple((v.node.id, v.index) for v in inputs),
        tuple(sorted(c.id for c in control)),
        tuple(sorted((k, _canon(x)) for k, x in attrs.items())),
    )


class Merger:
    """The nodes seen so far by their computation: a node met after one that computes the same
    value is replaced by it. Nodes must come producers first."""

    def __init__(self, rw: Rewriter):
        self.rw = rw
        self.seen: dict = {}

    def merge(self, node):
        """Replace `node` by an earlier node that computes the same; its outputs, or None (the
        node is kept, and is what later duplicates merge into)."""
        keep = self.find(node)
        if keep is None:
            return None
        outs = keep.outputs
        self.rw.replace(node, outs)
        return outs

    def find(self, node):
        """The earlier node that computes what `node` does, now standing for its user ops too;
        None when there is none (`node` is then the one later duplicates find)."""
        if not node.pure or node.type == "Const" and node.attrs["value"].size > MAX_CONST:
            return None
        if any(not v.node.pure for v in node.inputs if v.node.opdef is not None):
            return None  # reads session state (a variable): its value depends on when it runs
        key = _key(node)
        keep = self.earlier(key, node.origin)
        if keep is None:
            self.seen[key] = node
        return keep

    def earlier(self, key: tuple, origin: tuple):
        """The kept node of computation `key`, now also standing for the user ops `origin`;
        None when there is none."""
        keep = self.seen.get(key)
        if keep is None or self.rw.ir.nodes.get(keep.id) is not keep:
            return None
        if len(keep.origin) < MAX_ORIGIN:  # (errors name a few; a constant may stand for thousands)
            keep.origin = keep.origin + tuple(o for o in origin if o not in keep.origin)
        return keep


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    merger = Merger(rw)
    for node in ir.topo_order():
        merger.merge(node)
    if rw.changed:
        ctx.notes.append(f"{rw.changed} duplicates merged")
    return rw.changed
