"""Algebraic simplification: nodes that compute one of their inputs, or a shorter chain.

The rules come from the op records, not from op names:
- `identity_of`: the node passes an input through (Identity, StopGradient, an unfed
  default); readers read that input. A node that reads session state is kept: a read
  of a variable is a snapshot of it at that point of the run.
- `neutral`: a binary op with a constant operand that leaves the other unchanged
  (x * 1, x + 0, x - 0, x / 1), where the shapes and dtypes agree.
- `involution`: op(op(x)) is x (double negation, double logical not).
- `simplify`: an op's own rule, such as transpose of transpose, a cast there and
  back, or a chain of reshapes.
A node with control inputs is kept: its ordering must stay.
"""

from __future__ import annotations

import numpy as np

from staticflow.passes.rewrite import Rewriter


def _passes_through(node, k: int) -> bool:
    v = node.inputs[k]
    if v.shape != node.shapes[0] or v.dtype != node.dtypes[0]:
        return False
    return v.node.opdef is None or v.node.pure  # a feed, or a value that cannot change during the run


def _neutral_operand(rw: Rewriter, node):
    """The operand that a neutral constant leaves unchanged, or None."""
    for k, value in node.opdef.neutral:
        c = rw.known(node.inputs[k])
        if c is None or c.size == 0 or not np.all(c == value):
            continue
        other = 1 - k
        if _passes_through(node, other):
            return node.inputs[other]
    return None


def _rewrite(rw: Rewriter, node):
    d = node.opdef
    if d.identity_of is not None and _passes_through(node, d.identity_of):
        return node.inputs[d.identity_of]
    if d.neutral:
        v = _neutral_operand(rw, node)
        if v is not None:
            return v
    if d.involution:
        inner = node.inputs[0].node
        if inner.type == node.type and not inner.control and _passes_through(inner, 0):
            return inner.inputs[0]
    if d.simplify is not None:
        return d.simplify(node, rw)
    return None


def simplified(rw: Rewriter, node):
    """The value that computes what `node` does more cheaply, or None (the node is not
    replaced: see simplify_node)."""
    if node.opdef is None or node.control or not node.pure or len(node.shapes) != 1:
        return None
    v = _rewrite(rw, node)
    if v is None or v == node.output(0):
        return None
    return v


def simplify_node(rw: Rewriter, node):
    """Replace `node` by the value it computes more cheaply; that value, or None."""
    v = simplified(rw, node)
    if v is not None:
        rw.replace(node, [v])
    return v


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    nodes = ir.nodes
    for node in ir.topo_order():
        if nodes.get(node.id) is node:  # (not removed by an earlier rewrite)
            simplify_node(rw, node)
    if rw.changed:
        ctx.notes.append(f"{rw.changed} nodes simplified")
    return rw.changed
