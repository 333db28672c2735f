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


def tensor_locs(plan) -> dict:
    """Tensor -> Loc, read back from the plan's kernel calls (inputs and outputs)."""
    locs: dict = {}
    for step in plan.steps:
        op = step.op
        for _call, ins, outs in step.calls:
            for loc, v in outs:
                if v.src[0] == "out":
                    locs.setdefault(op.outputs[v.src[1]], loc)
            for loc, v in ins:
                if v.src[0] == "in":
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
    for step in plan.steps:
        op = step.op
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

    def walk(f):
        if isinstance(f, dict):
            for v in f.values():
                walk(v)
        elif isinstance(f, list | tuple):
            for v in f:
                walk(v)
        else:
            el = graph.as_graph_element(f) if isinstance(f, str) else f
            out.append(el.op if isinstance(el, fops.Tensor) else el)

    walk(fetches)
    return out
