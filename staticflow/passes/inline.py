"""Function inlining: a cond on a constant predicate becomes its taken branch.

An If node (any node calling functions through `then_branch`/`else_branch` func attrs)
whose predicate is a constant in the plan's IR (a literal, or a value the early rewrites
folded while building, such as a test of a fed tensor's shape) is replaced by the IR of
the branch the predicate picks, built for the node's concrete input shapes, its arguments
wired to the node's inputs. The other branch is never planned, and the passes after this
one (folding, CSE, fusion) see the branch's nodes among the plan's. A branch with effects
(writes, stateful ops) stays a call.
"""

from __future__ import annotations

import numpy as np

from staticflow.compiler.build import _shaped, build_ir
from staticflow.compiler.ir import FEED
from staticflow.framework import errors
from staticflow.passes.rewrite import Rewriter


def _taken_branch(node):
    """The function a cond node runs, when its predicate is a constant; else None."""
    then_fg, else_fg = node.attrs.get("then_branch"), node.attrs.get("else_branch")
    if not getattr(then_fg, "building_function", False) or not getattr(else_fg, "building_function", False):
        return None
    pred = node.inputs[0].node
    if pred.type != "Const":
        return None
    value = np.asarray(pred.attrs["value"])
    if value.size != 1:
        return None
    fg = then_fg if bool(value.reshape(-1)[0]) else else_fg
    if fg.control_outputs or fg.variables():
        return None
    return fg


def inline(ir, rw: Rewriter, node, fg) -> bool:
    """Replace `node` (its arguments `node.inputs[1:]`) by the IR of function `fg`."""
    args = node.inputs[1:]
    feeds = {t: _shaped(v.node.shapes[v.index], t.dtype) for t, v in zip(fg.inputs, args)}
    try:
        sub, _ = build_ir(fg, list(fg.outputs), [], feeds)
    except errors.OpError:
        return False
    if sub.value_feeds:  # it needed an argument's value while planning: keep the call
        return False
    arg_of = dict(zip(fg.inputs, args))
    fetched = splice(ir, sub, arg_of, node)
    rw.replace(node, fetched)
    return True


def splice(ir, sub, arg_of: dict, node, ev=None, sub_ev=None) -> list:
    """Copy the nodes of IR `sub` into `ir`, named under `node` and after its control inputs,
    its FEED nodes standing for the values `arg_of` maps their tensors to; returns the values
    of `sub`'s fetches in `ir`. With evaluators (`ev` of ir, `sub_ev` of sub), what is known
    of the copied lists (their specs) is known of the copies."""
    mapped: dict = {}
    nodes: dict = {}
    for s in sub.topo_order():
        if s.type == FEED:
            mapped[s.output(0)] = arg_of[s.tensor]
            continue
        new = ir.add(
            s.type,
            [mapped[v] for v in s.inputs],
            s.attrs,
            s.shapes,
            s.dtypes,
            origin=s.origin,
            name=f"{node.name}/{s.name}",
            control=[nodes[c.id] for c in s.control if c.id in nodes] + list(node.control),
            device=s.device or node.device,
        )
        nodes[s.id] = new
        for j in range(len(s.outputs)):
            mapped[s.output(j)] = new.output(j)
            if ev is not None and sub_ev is not None and s.output(j) in sub_ev.specs:
                ev.specs[new.output(j)] = sub_ev.specs[s.output(j)]
    return [mapped[v] for v in sub.fetches]


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    n = 0
    for node in list(ir.topo_order()):
        if node.id not in ir.nodes:
            continue
        fg = _taken_branch(node)
        if fg is not None and inline(ir, rw, node, fg):
            n += 1
            ctx.notes.append(f"{node.name}: inlined {fg.name}")
    return n
