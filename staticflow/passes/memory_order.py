"""Memory-aware ordering: among the valid orders of an IR, one with a lower peak of live bytes.

The plan runs its steps in the IR's order (`IRGraph.topo_order`), and the arena's size
follows the peak of the bytes alive at once in that order. Plain topological order runs
the nodes in creation order, so a training graph computes every weight gradient before it
applies any, and all of them are alive at once. This pass walks the graph greedily: among
the nodes whose predecessors have run, it takes the one that frees the most bytes net of
what it allocates (the last reader of a tensor frees it; a fetched tensor is never freed)
when one frees more than it allocates; then one that allocates nothing (a constant may be
all that keeps a freeing node waiting); otherwise the earliest of the plain order. The
result is kept only where its estimated peak is lower than the plain order's, so the pass
never makes a plan worse by its own measure, and an order that gains nothing stays the
plain one.

Order changes nothing that a run computes: every kernel reads the same inputs. What the
data and control edges leave free but a run could observe is kept as it was: accesses to
a variable (through its reads and their views too) keep their order relative to each write
of it (a read before an update still reads the old value, and needs no copy of it), and
the other ops with effects (random streams, queues, readers, host callbacks) keep their
relative order.

The size model is the IR's: every output of a node that runs a kernel takes its bytes
(`reshape_like` and `identity_of` outputs share their input's); feeds, variables and
constants take none of the arena's.
"""

from __future__ import annotations

import heapq

from staticflow.compiler.build import flat_args
from staticflow.compiler.ir import FEED, IRGraph, Node, Value
from staticflow.framework import sizes


def run(ir: IRGraph, ctx) -> int:
    """Reorder `ir` for a lower peak; how many nodes moved (0: the plain order is kept)."""
    plain = ir.topo_order()
    if len(plain) < 3:
        return 0
    model = _Model(ir, plain)
    chosen = model.greedy_order()
    before, after = model.peak(plain), model.peak(chosen)
    if after >= before:
        return 0
    ir.set_order(chosen)
    moved = sum(a is not b for a, b in zip(plain, chosen))
    ctx.notes.append(f"estimated peak {before} -> {after} bytes ({moved} nodes moved)")
    return moved


def peak_bytes(ir: IRGraph, order: list[Node] | None = None) -> int:
    """The estimated peak of live bytes when `ir` runs in `order` (default: its topo_order)."""
    plain = ir.topo_order()
    return _Model(ir, plain).peak(order if order is not None else plain)


def _alias_input(n: Node) -> int | None:
    """The input whose buffer output 0 shares (a reshape, an identity), else None."""
    d = n.opdef
    if d is None or not n.inputs:
        return None
    if d.identity_of is not None:
        return d.identity_of
    if d.reshape_like:
        return 0
    return None


def _allocates(n: Node) -> bool:
    """Whether the node's outputs take arena bytes (feeds, variables, constants do not)."""
    d = n.opdef
    return n.type != FEED and n.type != "VariableV2" and d is not None and not d.static


class _Model:
    """Bytes per tensor, readers per tensor and the order constraints of one IR. Tensors are
    numbered (a node's outputs get consecutive numbers; a view's output is its input's
    number, its root), so the walks below hash no IR objects."""

    def __init__(self, ir: IRGraph, plain: list[Node]):
        self.plain = plain
        self.pos = {n.id: k for k, n in enumerate(plain)}
        outs: dict[int, list[int]] = {}  # node id -> the tensor number of each output
        size: list[int] = []
        own: dict[int, list[int]] = {}  # node id -> the numbers its own outputs start
        for n in plain:
            a = _alias_input(n)
            alloc = _allocates(n)
            ids, mine = [], []
            for j, shape in enumerate(n.shapes):
                if a is not None and j == 0 and a < len(n.inputs):
                    src = n.inputs[a]
                    ids.append(outs[src.node.id][src.index])
                    continue
                ids.append(len(size))
                mine.append(len(size))
                size.append(sizes.num_elements(shape) * n.dtypes[j].np.itemsize if alloc else 0)
            outs[n.id], own[n.id] = ids, mine
        self.size, self.own = size, own
        self.pinned = {outs[v.node.id][v.index] for v in ir.fetches}
        # the tensors each node reads; views read through, so they count as reading none
        self.reads: dict[int, list[int]] = {}
        readers = [0] * len(size)
        for n in plain:
            if _alias_input(n) is not None:
                self.reads[n.id] = []
                continue
            rs = list(dict.fromkeys(outs[v.node.id][v.index] for v in n.inputs))
            self.reads[n.id] = rs
            for r in rs:
                readers[r] += 1
        self.readers = readers
        # bytes of a node's outputs that something reads or a fetch keeps (the rest die at once)
        self.born = {n.id: sum(size[t] for t in own[n.id] if readers[t] or t in self.pinned) for n in plain}
        self.preds: dict[int, set[int]] = {n.id: {p.id for p in _preds(n)} for n in plain}
        for before, after in _effect_order(plain):
            self.preds[after.id].add(before.id)

    def peak(self, order: list[Node]) -> int:
        size, readers, pinned, own, reads = self.size, self.readers, self.pinned, self.own, self.reads
        left = list(readers)
        live = peak = 0
        for n in order:
            mine = own[n.id]
            live += sum(size[t] for t in mine)
            peak = max(peak, live)
            for t in mine:  # read by nothing: gone after the step
                if not readers[t] and t not in pinned:
                    live -= size[t]
            for r in reads[n.id]:
                left[r] -= 1
                if not left[r] and r not in pinned:
                    live -= size[r]
        return peak

    def greedy_order(self) -> list[Node]:
        plain, pos, reads, pinned, size, born = (
            self.plain,
            self.pos,
            self.reads,
            self.pinned,
            self.size,
            self.born,
        )
        by_id = {n.id: n for n in plain}
        succs: dict[int, list[int]] = {n.id: [] for n in plain}
        pending = {}
        for nid, ps in self.preds.items():
            pending[nid] = len(ps)
            for p in ps:
                succs[p].append(nid)
        left = list(self.readers)
        # the readers of each tensor that have not run: when one is left, it frees the tensor
        waiting: list[set[int]] = [set() for _ in size]
        for n in plain:
            for r in reads[n.id]:
                waiting[r].add(n.id)
        # bytes a node frees when it runs now: the tensors it is the last reader of
        gain = {n.id: sum(size[r] for r in reads[n.id] if left[r] == 1 and r not in pinned) for n in plain}
        ready = set()
        heap: list = []

        def key(nid: int) -> int:
            # a node that frees more than it allocates goes first, the most first, then one
            # that allocates nothing (a constant, a view: it may make a freeing node ready);
            # the rest keep the plain order (moving only what gains keeps the plan close to it)
            net = gain[nid] - born[nid]
            if net > 0:
                return -net - 1
            return -1 if not born[nid] else 0

        def push(nid: int) -> None:
            heapq.heappush(heap, (key(nid), pos[nid], nid))

        for n in plain:
            if not pending[n.id]:
                ready.add(n.id)
                push(n.id)
        out: list[Node] = []
        while heap:
            k, _p, nid = heapq.heappop(heap)
            if nid not in ready or k != key(nid):  # taken, or its gain grew since
                continue
            ready.discard(nid)
            out.append(by_id[nid])
            for r in reads[nid]:
                left[r] -= 1
                waiting[r].discard(nid)
                if left[r] == 1 and r not in pinned:  # its last reader now frees it
                    (last,) = waiting[r]
                    gain[last] += size[r]
                    if last in ready:
                        push(last)
            for s in succs[nid]:
                pending[s] -= 1
                if not pending[s]:
                    ready.add(s)
                    push(s)
        if len(out) != len(plain):  # cannot happen for an acyclic IR; keep the plain order
            return list(plain)
        return out


def _preds(n: Node) -> list[Node]:
    return [v.node for v in n.inputs] + list(n.control)


def _effect_order(plain: list[Node]):
    """(earlier, later) pairs of the plain order that any order must keep: per variable, each
    write against every other access of it; and the chain of the other ops with effects."""
    last_write: dict[int, Node] = {}
    reads_since: dict[int, list[Node]] = {}
    last_effect: Node | None = None
    var_of: dict[Value, int] = {}  # a variable, or a view of one (its read, a reshape): its id
    for n in plain:
        d = n.opdef
        if n.type == "VariableV2":
            var_of[n.output(0)] = n.id
            continue
        if d is None or n.type == FEED:
            continue
        a = _alias_input(n)
        if a is not None and a < len(n.inputs) and n.inputs[a] in var_of:
            # a view of the variable: its readers read the variable (the plan copies it only
            # where a write comes between the read and their use)
            var_of[n.output(0)] = var_of[n.inputs[a]]
            continue
        touched_var = False
        args = flat_args(d, n.attrs)
        for i, v in enumerate(n.inputs):
            var = var_of.get(v)
            if var is None:
                continue
            touched_var = True
            writes = i < len(args) and bool(args[i].ref) and v.node.type == "VariableV2"
            w = last_write.get(var)
            if w is not None and w is not n:
                yield w, n
            if writes:
                for r in reads_since.get(var, ()):
                    if r is not n:
                        yield r, n
                last_write[var] = n
                reads_since[var] = []
            else:
                reads_since.setdefault(var, []).append(n)
        effect = d.stateful or d.random or d.source is not None or d.resource is not None
        if effect and not touched_var:
            if last_effect is not None:
                yield last_effect, n
            last_effect = n
