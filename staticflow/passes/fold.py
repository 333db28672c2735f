"""Constant folding: a node whose inputs are all constants becomes a constant.

One walk in execution order, so folded values feed the nodes after them and the
pass is linear in the graph's size. A node folds when its op is stateless,
deterministic and foldable (registry), its inputs are constants (or it depends
only on its inputs' shapes), and its outputs fit in `max_folded_bytes`. The new
constant keeps the node's control inputs, so what it waited for still runs.
"""

from __future__ import annotations

import math

from staticflow.compiler.ir import FEED, pure_op
from staticflow.framework import errors
from staticflow.passes.rewrite import Rewriter


def foldable(d, op_type: str, inputs) -> bool:
    """Whether a node of op record `d` reading `inputs` folds: a stateless, deterministic,
    foldable op of constants, or of shapes only."""
    if d is None or op_type == "Const" or not d.foldable or not pure_op(d) or op_type == FEED:
        return False
    if d.resource is not None or op_type == "VariableV2":
        return False
    return d.shape_only or all(v.node.type == "Const" for v in inputs)


def _foldable(node) -> bool:
    return foldable(node.opdef, node.type, node.inputs)


def nbytes(shapes, out_dtypes) -> int:
    """The bytes of outputs of these shapes and dtypes (what a fold would keep)."""
    return sum(math.prod(s) * dt.np.itemsize for s, dt in zip(shapes, out_dtypes))


def fold_node(rw: Rewriter, node, const=None) -> list | None:
    """Replace `node` by constants of its values when it folds; the constants' values, or None
    (not foldable, too large, or its computation fails: it then fails again, with its own
    error, when run). `const` makes each constant (default: `rw.const`)."""
    if not _foldable(node) or not node.shapes:
        return None
    if nbytes(node.shapes, node.dtypes) > rw.ctx.options.max_folded_bytes:
        return None
    ev = rw.ctx.evaluator
    try:
        values = [ev.value(v, "constant folding") for v in node.outputs]
    except (errors.OpError, ValueError, ArithmeticError, TypeError, IndexError):
        return None
    const = const or rw.const
    consts = [
        const(val, dt, node.origin, f"ConstantFolding/{node.name}", node.control)
        for val, dt in zip(values, node.dtypes)
    ]
    rw.replace(node, consts)
    return consts


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    for node in ir.topo_order():
        fold_node(rw, node)
    if rw.changed:
        ctx.notes.append(f"{rw.changed} nodes folded")
    return rw.changed
