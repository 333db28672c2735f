"""Constant folding: a node whose inputs are all constants becomes a constant.

One walk in execution order, so folded values feed the nodes after them and the
pass is linear in the graph's size. A node folds when its op is stateless,
deterministic and foldable (registry), its inputs are constants (or it depends
only on its inputs' shapes), and its outputs fit in `max_folded_bytes`. The new
constant keeps the node's control inputs, so what it waited for still runs.
"""

from __future__ import annotations

import math

from staticflow.compiler.ir import FEED
from staticflow.framework import errors
from staticflow.passes.rewrite import Rewriter


def _foldable(node) -> bool:
    d = node.opdef
    if d is None or node.type == "Const" or not d.foldable or not node.pure or node.type == FEED:
        return False
    if d.resource is not None or node.type == "VariableV2":
        return False
    return d.shape_only or all(v.node.type == "Const" for v in node.inputs)


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    ev = ctx.evaluator
    for node in ir.topo_order():
        if not _foldable(node):
            continue
        nbytes = sum(math.prod(s) * dt.np.itemsize for s, dt in zip(node.shapes, node.dtypes))
        if nbytes > ctx.options.max_folded_bytes:
            continue
        try:
            values = [ev.value(v, "constant folding") for v in node.outputs]
        except (errors.OpError, ValueError, ArithmeticError, TypeError, IndexError):
            continue  # an op that fails on these values fails again, with its own error, when run
        consts = [
            rw.const(val, dt, node.origin, f"ConstantFolding/{node.name}", node.control)
            for val, dt in zip(values, node.dtypes)
        ]
        rw.replace(node, consts)
    if rw.changed:
        ctx.notes.append(f"{rw.changed} nodes folded")
    return rw.changed
