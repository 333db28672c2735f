"""Loop-invariant code motion: what a while body computes the same at every iteration is
computed once, before the loop.

A value of a loop's body is invariant when it depends only on loop variables the body
passes through unchanged (the tensors the loop captures: weights, inputs, the iteration
limit) and on constants, through pure ops (no state, no randomness, no control inputs, no
functions of their own): `x @ W` with both captured, a transpose of a captured weight. The
pass computes the invariant values the rest of the body reads before the loop (their nodes
join the plan's IR, so the later passes fold, merge and fuse them with the plan's) and hands
them to the loop as more loop variables the body passes through. The body and cond are
derived functions (the user's Graph is never changed): the body reads the new loop
variables instead of computing them, and a captured loop variable that only invariant
values read is no longer a loop variable (the loop's output of it is its input). TensorFlow's
switch of this name is RewriterConfig.loop_optimization (its LoopInvariantNodeMotion).
"""

from __future__ import annotations

from staticflow.compiler.build import _shaped, build_ir, flat_args
from staticflow.compiler.ir import pure_op
from staticflow.framework import errors
from staticflow.framework.func_graph import FuncGraph, copy_body, unique_function_name
from staticflow.framework.graph_walk import prune_ops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import registry
from staticflow.passes.inline import splice
from staticflow.passes.rewrite import Rewriter


def _loop_functions(node):
    """(cond, body) of a loop node (one calling functions through `cond`/`body`), else None."""
    cond_fg, body_fg = node.attrs.get("cond"), node.attrs.get("body")
    if not getattr(cond_fg, "building_function", False) or not getattr(body_fg, "building_function", False):
        return None
    if len(body_fg.inputs) != len(node.inputs) or len(body_fg.outputs) != len(node.inputs):
        return None
    return cond_fg, body_fg


def _movable(op) -> bool:
    """Whether op computes the same from the same inputs and may run anywhere: pure, no
    control inputs, calling no function."""
    if op.type in ("Placeholder", "VariableV2") or op._control_inputs:
        return False
    if not pure_op(op.op_def):
        return False
    return not any(isinstance(v, FuncGraph) for v in op._attrs.values())


def invariant_values(body: FuncGraph) -> list:
    """The invariant tensors of loop body `body` that the rest of it reads (or returns):
    computed by pure ops from the arguments it passes through and constants, and depending
    on at least one such argument (a constant alone is the folding pass's)."""
    passed = {t for t, o in zip(body.inputs, body.outputs) if o is t}
    if not passed:
        return []
    args = {t.op for t in body.inputs}
    invariant = set(passed)
    depends = set(passed)  # invariant tensors that read a passed-through argument
    cone = set()
    for op in body.get_operations():  # creation order is a topological order
        if op in args or not _movable(op) or any(t not in invariant for t in op.inputs):
            continue
        invariant.update(op.outputs)
        if any(t in depends for t in op.inputs):
            depends.update(op.outputs)
            cone.add(op)
    # a value the rest of the body reads at a host input (a shape to reshape to, the shapes
    # BroadcastGradientArgs compares) is one the body's plan needs while planning: an
    # argument's value is known only while it runs, so such a value stays in the body (it
    # folds there, costing nothing per iteration), and so do the cone's values only it reads
    changed = True
    while changed:
        changed = False
        for op in body.get_operations():
            if op in cone and any(_read_at_host_input(t, c) for t in op.outputs for c in t.consumers()
                                  if c not in cone):
                cone.discard(op)
                changed = True
    returned = set(body.outputs)
    out = []
    for op in body.get_operations():
        if op not in cone:
            continue
        for t in op.outputs:
            if t in returned or any(c not in cone for c in t.consumers()):
                out.append(t)
    return out


def _read_at_host_input(t, consumer) -> bool:
    """Whether op `consumer` reads tensor t at an input whose value its planning needs."""
    d = registry.lookup(consumer.type)
    args = flat_args(d, consumer._attrs)
    return any(x is t and i < len(args) and args[i].host for i, x in enumerate(consumer.inputs))


def _derive(fg: FuncGraph, keep: list[int], extra: list, replace: dict | None, suffix: str) -> FuncGraph:
    """A copy of function fg taking its arguments `keep` then one argument per tensor of
    `extra` (which stand for them where `replace` maps them); it returns the outputs `keep`
    then those arguments (a body) when `replace` is given, else fg's outputs (a cond)."""
    new = FuncGraph(unique_function_name(f"{fg.name}_{suffix}"), fg.outer_graph)
    with new.as_default():
        kept = {j: new.add_input(fg.inputs[j].dtype, fg.inputs[j].shape, fg.inputs[j].op.name) for j in keep}
        more = [new.add_input(t.dtype, t.shape, f"invariant_{k}") for k, t in enumerate(extra)]
        args = [kept.get(j) for j in range(len(fg.inputs))]
        outs, control = copy_body(fg, args, replace=dict(zip(extra, more)) if replace is not None else None)
    new.outputs = [outs[j] for j in keep] + more if replace is not None else outs
    new.control_outputs = control
    return new


def _reads(fg: FuncGraph, j: int, needed) -> bool:
    """Whether function fg reads its argument j (with only the ops `needed`, when given)."""
    t = fg.inputs[j]
    if any(o is t for k, o in enumerate(fg.outputs) if k != j or len(fg.outputs) != len(fg.inputs)):
        return True
    return any(needed is None or c in needed for c in t.consumers())


def hoist(ir, rw: Rewriter, ctx, node, cond_fg: FuncGraph, body_fg: FuncGraph) -> str | None:
    """Move the invariant values of loop `node`'s body before it; what it did, or None."""
    if body_fg.variables() or cond_fg.variables():
        return None
    found = invariant_values(body_fg)
    if not found:
        return None
    ev = ctx.evaluator
    ins = list(node.inputs)
    feeds = {t: _shaped(v.shape, t.dtype) for t, v in zip(body_fg.inputs, ins)}
    specs = {t: ev.specs[v] for t, v in zip(body_fg.inputs, ins) if v in ev.specs}
    try:
        sub, sub_ev = build_ir(body_fg, found, [], feeds, feed_specs=specs or None)
    except errors.OpError:
        return None
    if sub.value_feeds:  # planning it needed an argument's value: leave the loop as it is
        return None
    n = len(ins)
    passed = [j for j in range(n) if body_fg.outputs[j] is body_fg.inputs[j]]
    needed = set(prune_ops(body_fg.outputs, body_fg.control_outputs, set(body_fg.inputs) | set(found)))
    dropped = [j for j in passed if not _reads(body_fg, j, needed) and not _reads(cond_fg, j, None)]
    keep = [j for j in range(n) if j not in dropped]
    hoisted = splice(ir, sub, dict(zip(body_fg.inputs, ins)), node, ev, sub_ev)
    body = _derive(body_fg, keep, found, {}, "invariant")
    cond = _derive(cond_fg, keep, found, None, "invariant")
    shapes = [node.shapes[j] for j in keep] + [v.shape for v in hoisted]
    dts = [node.dtypes[j] for j in keep] + [v.dtype for v in hoisted]
    attrs = dict(node.attrs)
    attrs.update(T=dts, body=body, cond=cond, output_shapes=[TensorShape(list(s)) for s in shapes])
    new = ir.add(
        node.type,
        [ins[j] for j in keep] + hoisted,
        attrs,
        shapes,
        dts,
        origin=node.origin,
        name=node.name,
        control=list(node.control),
        device=node.device,
    )
    for k, j in enumerate(keep):
        if node.output(j) in ev.specs:
            ev.specs[new.output(k)] = ev.specs[node.output(j)]
    for k, v in enumerate(hoisted):
        if v in ev.specs:
            ev.specs[new.output(len(keep) + k)] = ev.specs[v]
    if node.control_users or node in ir.targets:
        ir.move_control(node, new)
    where = {j: k for k, j in enumerate(keep)}
    rw.replace(node, [new.output(where[j]) if j in where else ins[j] for j in range(n)])
    names = ", ".join(t.op.name for t in found[:3]) + (" ..." if len(found) > 3 else "")
    return (
        f"{node.name}: {len(found)} invariant values ({names}) computed before the loop, "
        f"{len(dropped)} loop variables no longer carried"
    )


def run(ir, ctx) -> int:
    rw = Rewriter(ir, ctx)
    count = 0
    for node in list(ir.topo_order()):
        if node.id not in ir.nodes:
            continue
        fns = _loop_functions(node)
        if fns is None:
            continue
        what = hoist(ir, rw, ctx, node, *fns)
        if what:
            count += 1
            ctx.notes.append(what)
    return count
