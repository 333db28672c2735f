"""Elementwise fusion: groups of elementwise ops of one shape become one generated kernel.

A node can join a group when its op record has a scalar expression for its dtypes
(`OpDef.scalar`), it is pure, has no control edges, is not a target, and its output is
not empty. A group holds nodes of one device (placement runs first) and one output shape
(the group's shape), and that device's backend generates its kernel (C on the CPU, CUDA
through NVRTC on a GPU): their inputs from outside may broadcast to it, but a value of another shape is
computed by its own group, so nothing is computed twice. Groups grow in execution
order: a node joins the groups of the producers it reads (merging them) unless that
would make a cycle, that is unless some value the merged group reads from outside
depends on a member (a matmul between two elementwise chains keeps them apart). A
sum or mean over constant axes of a member's value ends its group when every view can
be walked as [kept, reduced] rows (see ops/fused_elementwise.py).

A member's value that is fetched or read outside the group is an output of the fused
node (a group may have several); the rest live only in registers. A group of one op
stays as it is. The fused node stands for all its members' user ops (provenance), so
errors, traces and plan drawings still name them.

Nothing is fused where no C compiler is found: the unfused kernels run, after one
warning (backends/jit.py).
"""

from __future__ import annotations

import math

import numpy as np

from staticflow.compiler.ir import IRGraph, Node, merged_origin
from staticflow.framework import backend, dtypes

# the most ops one generated kernel computes: bounds its compile time (a long chain becomes
# several kernels, most of them the same source, compiled once) and each merge's cost
MAX_MEMBERS = 128
# the most nodes one merge's cycle check walks before it gives up the merge
MAX_WALK = 256


class _Group:
    __slots__ = ("members", "ids", "ext", "first", "shape", "reduce")

    def __init__(self, node: Node, pos: int):
        self.members = [node]
        self.ids = {node.id}
        self.ext = {v.node.id: v.node for v in node.inputs}
        self.first = pos
        self.shape = node.shapes[0]
        self.reduce: Node | None = None


def _aligned(node: Node) -> list[tuple] | None:
    """The node's input shapes lined up with its output, or None when it cannot be fused."""
    d = node.opdef
    if d is None or d.scalar is None or d.internal:
        return None
    if node.control or node.control_users or not node.pure or len(node.shapes) != 1:
        return None
    shape = node.shapes[0]
    if 0 in shape:
        return None
    if d.scalar.expression([v.dtype for v in node.inputs], node.dtypes[0]) is None:
        return None
    aligned = d.scalar.aligned_shapes(node.attrs, [v.shape for v in node.inputs], shape)
    for a, v in zip(aligned, node.inputs):
        if len(a) > len(shape) or math.prod(a) != math.prod(v.shape):
            return None
        if any(n not in (1, s) for n, s in zip(a, shape[len(shape) - len(a):])):
            return None
    return aligned


def _cycle(preds: dict, pos: dict, ids: set, ext: dict, first: int) -> bool:
    """Whether some value read from outside the node set `ids` depends on a member (merging
    them into one node would then make a cycle). Nodes before `first` cannot. A walk longer
    than MAX_WALK nodes counts as a cycle: not merging is always safe, and it keeps each
    check's cost bounded (an unrolled RNN's gradient would otherwise walk back step by step).
    `preds`: each node id's producers' and control predecessors' ids."""
    seen: set[int] = set()
    stack = [i for i in ext if pos[i] > first]
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        if len(seen) > MAX_WALK:
            return True
        for pid in preds[nid]:
            if pid in ids:
                return True
            if pid not in seen and pos[pid] > first:
                stack.append(pid)
    return False


def _merged_ext(a: _Group, b: _Group) -> dict:
    """What a and b together read from outside both (cost: the two ext sets, not the members)."""
    ext = {i: n for i, n in a.ext.items() if i not in b.ids}
    ext.update((i, n) for i, n in b.ext.items() if i not in a.ids)
    return ext


def _merge(groups: dict, a: _Group, b: _Group, ext: dict) -> _Group:
    if len(a.members) < len(b.members):
        a, b = b, a
    a.members.extend(b.members)
    a.ids |= b.ids
    a.ext = ext
    a.first = min(a.first, b.first)
    for m in b.members:
        groups[m.id] = a
    return a


def _groups(ir: IRGraph, order: list[Node]) -> tuple[list[_Group], dict]:
    pos = {n.id: k for k, n in enumerate(order)}
    preds = {n.id: [v.node.id for v in n.inputs] + [c.id for c in n.control] for n in order}
    targets = {t.id for t in ir.targets}
    groups: dict[int, _Group] = {}
    aligned: dict[int, list] = {}
    for n in order:
        if n.id in targets:
            continue
        al = _aligned(n)
        if al is None:
            continue
        aligned[n.id] = al
        g = _Group(n, pos[n.id])
        cands = []
        for v in n.inputs:
            c = groups.get(v.node.id)
            if (c is not None and c.shape == g.shape and c.reduce is None and c not in cands
                    and c.members[0].device == n.device):
                cands.append(c)
        groups[n.id] = g
        for c in sorted(cands, key=lambda c: -len(c.members)):
            if len(g.members) + len(c.members) > MAX_MEMBERS:
                continue
            ext = _merged_ext(g, c)
            if not _cycle(preds, pos, g.ids | c.ids, ext, min(g.first, c.first)):
                g = _merge(groups, g, c, ext)
    unique = {id(g): g for g in groups.values()}
    out = sorted(unique.values(), key=lambda g: g.first)
    for g in out:
        g.members.sort(key=lambda m: pos[m.id])
    _attach_reductions(ir, order, pos, preds, groups)
    out = [g for g in out if len(g.members) + (g.reduce is not None) >= 2]
    return _without_cycles(order, out), aligned


def _without_cycles(order: list[Node], groups: list[_Group]) -> list[_Group]:
    """The groups, less those that close a cycle once every group is one node. Each merge
    was checked against the graph as it was, but two groups can still depend on each other
    through nodes outside both (a gradient reads a chain and feeds another); one linear
    pass over the contracted graph finds them, and the smallest group of a cycle stays
    unfused until none is left."""
    while True:
        key: dict[int, int] = {}  # node id -> its group's index
        for k, g in enumerate(groups):
            for m in g.members + ([g.reduce] if g.reduce is not None else []):
                key[m.id] = k
        n_groups = len(groups)
        producers: dict[int, set] = {}  # unit (a group's index, or n_groups + a node's id)
        for n in order:
            u = key.get(n.id, n_groups + n.id)
            ps = producers.setdefault(u, set())
            for p in [v.node for v in n.inputs] + list(n.control):
                q = key.get(p.id, n_groups + p.id)
                if q != u:
                    ps.add(q)
        users: dict[int, list] = {u: [] for u in producers}
        for u, ps in producers.items():
            for q in ps:
                users[q].append(u)
        pending = {u: len(ps) for u, ps in producers.items()}
        ready = [u for u, k in pending.items() if k == 0]
        while ready:
            u = ready.pop()
            for w in users[u]:
                pending[w] -= 1
                if pending[w] == 0:
                    ready.append(w)
        stuck = [k for k in range(n_groups) if pending.get(k, 0) > 0]
        if not stuck:
            return groups
        drop = min(stuck, key=lambda k: (len(groups[k].members), groups[k].first))
        groups = groups[:drop] + groups[drop + 1:]


def _attach_reductions(ir: IRGraph, order: list[Node], pos: dict, preds: dict, groups: dict) -> None:
    """A sum or mean of a member's value (float32/float64, constant axes) ends the member's
    group, one reduction per group, unless a value the group reads from outside depends on
    the reduction's result (the gradient of a sum broadcast back into the group's chain)."""
    targets = {t.id for t in ir.targets}
    for r in order:
        d = r.opdef
        if d is None or d.reduction not in ("sum", "mean") or r.control or r.control_users or r.id in targets:
            continue
        if r.dtypes[0] not in (dtypes.float32, dtypes.float64) or len(r.inputs) != 2:
            continue
        g = groups.get(r.inputs[0].node.id)
        axes = r.inputs[1].node
        if g is None or g.reduce is not None or axes.type != "Const" or r.inputs[0].shape != g.shape:
            continue
        if r.device != g.members[0].device:
            continue
        ext = {i: n for i, n in g.ext.items() if i != r.id}
        if _cycle(preds, pos, g.ids | {r.id}, ext, g.first):
            continue
        g.reduce = r


def run(ir: IRGraph, ctx) -> int:
    from staticflow.ops import fused_elementwise as fused_ops

    order = ir.topo_order()
    groups, aligned = _groups(ir, order)
    fused = 0
    usable: dict[str, bool] = {}  # device -> whether its backend generates kernels (a compiler)
    for g in groups:
        device = g.members[0].device
        if device not in usable:
            usable[device] = backend.for_device(device).can_generate()
            if not usable[device]:
                ctx.notes.append(f"no kernel generator for device {device or 'default'}: nothing fused there")
        if not usable[device]:
            continue
        if _fuse(ir, g, aligned, fused_ops):
            fused += 1
            n = len(g.members) + (g.reduce is not None)
            ctx.notes.append(f"{n} ops -> 1 kernel ({g.members[0].name})")
    return fused


def _fuse(ir: IRGraph, g: _Group, aligned: dict, fused_ops) -> bool:
    index = {m.id: j for j, m in enumerate(g.members)}
    inputs: list = []
    at: dict = {}  # an outside value -> its position in inputs
    members = []
    for m in g.members:
        args = []
        for v in m.inputs:
            if v.node.id in index:
                args.append(("m", index[v.node.id]))
            else:
                k = at.get(v)
                if k is None:
                    k = at[v] = len(inputs)
                    inputs.append(v)
                args.append(("in", k))
        members.append(
            fused_ops.Member(
                m.type,
                m.attrs,
                tuple(args),
                tuple(v.shape for v in m.inputs),
                tuple(aligned[m.id]),
                tuple(v.dtype for v in m.inputs),
                m.dtypes[0],
                m.origin,
            )
        )
    fetched = {f.node.id for f in ir.fetches}
    red = g.reduce
    outputs = []
    for j, m in enumerate(g.members):
        outside = [u for u, _i in m.users[0] if u.id not in index and u is not red]
        if outside or m.id in fetched:
            outputs.append(j)
    reduce = None
    if red is not None:
        reduce = fused_ops.Reduce(
            red.opdef.reduction,
            red.type,
            red.attrs,
            tuple(_axes(red)),
            index[red.inputs[0].node.id],
            red.shapes[0],
            np.asarray(red.inputs[1].node.attrs["value"]),
            red.origin,
        )
    group = fused_ops.Group(g.shape, members, outputs, reduce)
    if reduce is not None and not fused_ops.reduction_fits(
        group, [v.shape for v in inputs], [v.dtype for v in inputs]
    ):
        group.reduce, red = None, None
        outputs = [
            j for j, m in enumerate(g.members)
            if any(u.id not in index for u, _i in m.users[0]) or m.id in fetched
        ]
        group.outputs = outputs
        if len(members) < 2:
            return False
    shapes = [g.shape] * len(outputs) + ([red.shapes[0]] if red is not None else [])
    out_dtypes = [g.members[j].dtypes[0] for j in outputs] + ([red.dtypes[0]] if red is not None else [])
    origin = merged_origin(g.members + ([red] if red is not None else []))
    node = ir.add(
        fused_ops.FUSED,
        inputs,
        {"Tin": [v.dtype for v in inputs], "Tout": out_dtypes, "group": group},
        shapes,
        out_dtypes,
        origin,
        name=f"fused/{g.members[0].name}",
        device=g.members[0].device,
    )
    # readers outside the group (and fetches) read the fused node's outputs
    olds = [g.members[j].output(0) for j in outputs] + ([red.output(0)] if red is not None else [])
    for k, old in enumerate(olds):
        new = node.output(k)
        for user, i in list(old.node.users[old.index]):
            if user.id not in index and user is not red:
                ir.set_input(user, i, new)
        ir.replace_fetches(old, new)
    for m in ([red] if red is not None else []) + list(reversed(g.members)):
        ir.remove(m)
    return True


def _axes(r: Node) -> list[int]:
    rank = len(r.inputs[0].shape)
    axes = [int(a) for a in np.asarray(r.inputs[1].node.attrs["value"]).reshape(-1)]
    return sorted({a + rank if a < 0 else a for a in axes})
