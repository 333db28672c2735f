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


def step_ops(step) -> tuple:
    """The user ops a plan step stands for: several for a fused group or merged nodes."""
    return step.node.origin if step.node is not None and step.node.origin else (step.op,)


def _group(step):
    node = step.node
    if node is not None and node.opdef is not None and node.opdef.internal:
        return node.attrs.get("group")
    return None


def tensor_locs(plan) -> dict:
    """Tensor -> Loc, read back from the plan's kernel calls (inputs and outputs)."""
    locs: dict = {}
    for step in plan.steps:
        group = _group(step)
        if group is not None:  # a fused kernel's outputs are some of its members' values
            by_output = {o: t for t, (_s, o) in group.tensors().items() if o is not None}
            for _call, _ins, outs in step.calls:
                for loc, v in outs:
                    if v.src[0] == "out" and v.src[1] in by_output:
                        locs.setdefault(by_output[v.src[1]], loc)
            continue
        op, node = step.op, step.node
        fused = len(step_ops(step)) > 1  # its outputs are user tensors, its inputs any member's
        for _call, ins, outs in step.calls:
            for loc, v in outs:
                if v.src[0] == "out":
                    t = node.user_tensor(v.src[1]) if node is not None else op.outputs[v.src[1]]
                    if t is not None:
                        locs.setdefault(t, loc)
            for loc, v in ins:
                if v.src[0] == "in" and not fused:
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
    step_of = {op: k for k, step in enumerate(plan.steps) for op in step_ops(step)}
    in_registers = {
        t for step in plan.steps if _group(step) is not None
        for t, (_s, o) in _group(step).tensors().items() if o is None
    }
    fetch_ops = set(fetch_ops)

    def out_lines(op) -> list[str]:
        lines = []
        for t in op.outputs:
            shape = shapes.get(t)
            if shape is None:
                continue
            port = f":{t.value_index} " if len(op.outputs) > 1 else ""
            if t in locs:
                where = _where(locs[t])
            else:
                where = "fed" if t in feeds else "in registers" if t in in_registers else "alias / unused"
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
        ops_ = step_ops(step)
        for op in ops_:
            for t in op.inputs:
                if t.op not in step_of:
                    add_source(t.op)
        scope = ""
        if len(ops_) > 1:  # one step, several user ops: drawn together in a frame that names them
            scope = f"step_{k + 1}"
            internal = step.node.opdef is not None and step.node.opdef.internal
            what = f"fused kernel {step.node.type}" if internal else "one step"
            kinds = ", ".join(dict.fromkeys(o.type for o in ops_))
            tr.cluster_labels[scope] = f"#{k + 1} {what}: {len(ops_)} ops ({kinds})"
        for i, op in enumerate(ops_):
            title = f"#{k + 1} {op.name}" if i == 0 else op.name
            n = Node(
                op.name,
                op.type,
                style.family(op.type),
                scope=scope,
                gradient=style.is_gradient(op.name),
                title=title,
                notes=out_lines(op) + [f"{len(step.calls)} kernel calls"] * (len(step.calls) > 1 and i == 0),
                tooltip=f"step {k + 1}: {op.name} ({op.type})"
                + (f", one of {len(ops_)} ops computed by one kernel" if len(ops_) > 1 else ""),
            )
            if op in fetch_ops:
                n.attrs["peripheries"] = "2"
                n.notes.append("→ fetched")
            tr.nodes[op.name] = n
    for step in plan.steps:
        for op in step_ops(step):
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
