"""Tracing a Plan: the ops a `Session.run` executes, in execution order, with
each output's concrete shape, size and place in memory.

Annotators are functions ``fn(plan, trace)`` run after the trace is built and
before it is emitted: they add label lines (`Node.notes`), DOT attributes
(`Node.attrs`) or a group (`Node.scope`, drawn as a cluster) to the nodes.
Passes that rewrite plans (fused groups, buffer reuse) register one in
`PLAN_ANNOTATORS` to show their work in the same picture.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from staticflow.framework import ops as fops
from staticflow.viz import style
from staticflow.viz.trace import Edge, Node, Trace, tensor_label

# fn(plan, trace) -> None, run by every draw_plan before the caller's own
PLAN_ANNOTATORS: list[Callable] = []


def _nbytes(shape, dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * dtype.np.itemsize


def _fmt_bytes(n: int) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def _fused(step) -> bool:
    """Whether the step is one kernel for several user ops (a fused group)."""
    node = step.node
    return node is not None and len(node.origin) > 1 and node.type != step.op.type


def tensor_locs(plan) -> dict:
    """Tensor -> Loc, read back from the plan's kernel calls (inputs and outputs)."""
    locs: dict = {}
    for step in plan.steps:
        op, node = step.op, step.node
        for _call, ins, outs in step.calls:
            for loc, v in outs:
                if v.src[0] == "out":
                    t = node.user_tensor(v.src[1]) if node is not None else op.outputs[v.src[1]]
                    if t is not None:
                        locs.setdefault(t, loc)
            for loc, v in ins:
                if v.src[0] == "in" and not _fused(step):
                    locs.setdefault(op.inputs[v.src[1]], loc)
    return locs


def _where(loc) -> str:
    b = loc.buf
    if b.kind == "arena":
        return f"arena @ {b.offset + loc.byte_offset}"
    return {"var": "variable storage", "const": "constant", "state": "op state"}.get(b.kind, b.kind)


def trace_plan(plan, fetch_ops=(), annotators=()) -> Trace:
    """Nodes in execution order (titled "#k name"), sources (feeds, variables,
    constants) unnumbered; edges carry the concrete dtype and shape."""
    tr = Trace()
    shapes = plan.shapes
    locs = tensor_locs(plan)
    feeds = {slot.tensor for slot in plan.feeds}
    step_of = {step.op: k for k, step in enumerate(plan.steps)}
    # a fused group's other ops: drawn beside its step, in one cluster naming the kernel
    members = {o: k for k, step in enumerate(plan.steps) if _fused(step) for o in step.node.origin[1:]}
    step_of.update({o: k for o, k in members.items() if o not in step_of})
    fetch_ops = set(fetch_ops)

    def out_lines(op) -> list[str]:
        lines = []
        for t in op.outputs:
            shape = shapes.get(t)
            if shape is None:
                continue
            port = f":{t.value_index} " if len(op.outputs) > 1 else ""
            where = _where(locs[t]) if t in locs else ("fed" if t in feeds else "alias / unused")
            lines.append(f"{port}{list(shape)} {_fmt_bytes(_nbytes(shape, t.dtype))} · {where}")
        return lines

    def add_source(op) -> None:
        if op.name in tr.nodes:
            return
        fam = style.family(op.type)
        if any(t in feeds for t in op.outputs):
            note, fam = "fed", "placeholder"
        elif op.type == "VariableV2":
            note = "variable storage"
        else:
            note = "constant (planned)"
        tr.nodes[op.name] = Node(
            op.name,
            op.type,
            fam,
            gradient=style.is_gradient(op.name),
            title=op.name,
            notes=[note] + [ln.split(" · ")[0] for ln in out_lines(op)][:1],
            tooltip=f"{op.name} ({op.type})",
        )

    for k, step in enumerate(plan.steps):
        op = step.op
        for t in op.inputs:
            if t.op not in step_of:
                add_source(t.op)
        n = Node(
            op.name,
            op.type,
            style.family(op.type),
            gradient=style.is_gradient(op.name),
            title=f"#{k + 1} {op.name}",
            notes=out_lines(op) + [f"{len(step.calls)} kernel calls"] * (len(step.calls) > 1),
            tooltip=f"step {k + 1}: {op.name} ({op.type})",
        )
        if op in fetch_ops:
            n.attrs["peripheries"] = "2"
            n.notes.append("→ fetched")
        tr.nodes[op.name] = n
        if _fused(step):
            scope = f"{step.node.type}_{k + 1}"
            n.scope = scope
            n.notes.append(f"{step.node.type}: {len(step.node.origin)} ops, one kernel")
            for o in step.node.origin[1:]:
                for t in o.inputs:
                    if t.op not in step_of:
                        add_source(t.op)
                tr.nodes[o.name] = Node(
                    o.name,
                    o.type,
                    style.family(o.type),
                    gradient=style.is_gradient(o.name),
                    title=o.name,
                    notes=[f"fused into #{k + 1}"] + out_lines(o),
                    tooltip=f"{o.name} ({o.type}), computed by step {k + 1} ({step.node.type})",
                    scope=scope,
                )
                if o in fetch_ops:
                    tr.nodes[o.name].attrs["peripheries"] = "2"
    drawn = [step.op for step in plan.steps] + [o for o in members if o not in {s.op for s in plan.steps}]
    for op in drawn:
        for t in op.inputs:
            shape = shapes.get(t)
            label = tensor_label(t.dtype.name, list(shape) if shape is not None else None, t.value_index)
            tr.edges.append(Edge(t.op.name, op.name, label))
        for c in op.control_inputs:
            if c in step_of:
                tr.edges.append(Edge(c.name, op.name, control=True))
    for op in fetch_ops:
        if op.name in tr.nodes and op not in step_of:
            tr.nodes[op.name].attrs["peripheries"] = "2"
    s = plan.stats
    tr.label = (
        f"plan: {s.steps} steps, {s.kernel_calls} kernel calls; arena {_fmt_bytes(s.arena_bytes)} "
        f"for {_fmt_bytes(s.intermediate_bytes)} of intermediates (peak live {_fmt_bytes(s.peak_bytes)})"
    )
    for fn in list(PLAN_ANNOTATORS) + list(annotators):
        fn(plan, tr)
    return tr


def fetch_ops_of(graph: fops.Graph, fetches) -> list[fops.Operation]:
    """The ops behind a fetch structure (tensors, ops, names; nested lists/tuples/dicts)."""
    out = []
    stack = [fetches]  # a loop, not recursion: fetch structures may nest thousands deep
    while stack:
        f = stack.pop()
        if isinstance(f, dict):
            stack.extend(reversed(list(f.values())))
        elif isinstance(f, list | tuple):
            stack.extend(reversed(f))
        else:
            el = graph.as_graph_element(f) if isinstance(f, str) else f
            out.append(el.op if isinstance(el, fops.Tensor) else el)
    return out
