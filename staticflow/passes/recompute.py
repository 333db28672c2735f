"""Recomputation (activation checkpointing): forward values the backward pass reads are
computed again just before it reads them, instead of being kept alive from the forward pass.

Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost": of the n forward nodes of
a training step, every ~sqrt(n)-th is a checkpoint, kept as usual; each segment between two
checkpoints is cloned, its clones read the checkpoints (and each other), the backward
readers of the segment read the clones, and the clones wait (control edges) for the backward
work that comes just before the segment's first backward reader. The forward values then
die as soon as the forward pass is done with them, and the arena holds about sqrt(n) of them
at a time instead of n. The clones run the same kernels on the same inputs as the nodes they
copy, so the values, and the gradients, are the same bits.

Which nodes are backward: a node whose provenance is only ops in a ``gradients`` name
scope (``gradients/``, ``gradients_1/``, ... at any depth: the scope `sf.gradients` and the
optimizers build every gradient op under, and the scope TensorFlow's memory optimizer
matches, its ``memory_optimizer_target_node_name_scope``), and everything that depends on
one (the variable updates). Never cloned: random and stateful ops, reads of session state
(a variable's value depends on when it is read) and what a fetch returns; those stay
checkpoints, so dropout's mask is the one the forward pass drew.

`RewriterConfig.memory_optimization` picks what is recomputed (TensorFlow's values):
RECOMPUTATION_HEURISTICS and HEURISTICS the sqrt(n) checkpoints above plus the nodes marked
for recomputation; MANUAL only the marked nodes; the default and NO_MEM_OPT nothing by
heuristics. A node is marked by the ``_recompute_hint`` attr on every user op it stands for
(`sf.recompute_grad` marks the inside of its block; TensorFlow's MANUAL mode reads the same
attr); the marks count in every mode but NO_MEM_OPT, as TensorFlow's recompute_grad works
without a config.
"""

from __future__ import annotations

import bisect
import math
import re

from staticflow.compiler.build import flat_args
from staticflow.compiler.ir import FEED, IRGraph, Node
from staticflow.ops.recompute import hint_of

# RewriterConfig.MemOptType (TensorFlow's numbers)
DEFAULT_MEM_OPT, NO_MEM_OPT, MANUAL, HEURISTICS = 0, 1, 2, 3
RECOMPUTATION_HEURISTICS = 5
_BY_HEURISTICS = (HEURISTICS, RECOMPUTATION_HEURISTICS)

_GRADIENT_SCOPE = re.compile(r"(?:^|/)gradients(?:_\d+)?/")


def run(ir: IRGraph, ctx) -> int:
    """Clone the recomputed forward segments for their backward readers; how many clones."""
    mode = getattr(ctx.options, "memory_optimization", DEFAULT_MEM_OPT)
    if mode == NO_MEM_OPT:
        return 0
    heuristics = mode in _BY_HEURISTICS
    hinted = {n.id: _hint(n) for n in ir.nodes.values()}
    if not heuristics and not any(h is not None for h in hinted.values()):
        return 0
    order = ir.topo_order()
    pos = {n.id: k for k, n in enumerate(order)}
    backward = _backward(order)
    if not backward:
        return 0
    # the forward chain: the nodes that may be recomputed, in execution order
    chain = [n for n in order if n.id not in backward and _recomputable(ir, n)]
    segment: dict[int, object] = {}  # node id -> its segment's key (absent: kept)
    if heuristics and chain:
        k = max(2, math.isqrt(len(chain) - 1) + 1)  # ceil(sqrt(n)): segments of ~sqrt(n) nodes
        for i, n in enumerate(chain):
            if i % k != k - 1:  # the last node of each segment is its checkpoint
                segment[n.id] = ("segment", i // k)
    for n in chain:
        if hinted[n.id] is not None:
            segment[n.id] = ("hint", hinted[n.id])
    if not segment:
        return 0

    # the backward readers of each segment's nodes, and where the segment's clones may start
    readers: dict[object, list] = {}  # segment -> [(node, its backward readers)]
    for n in chain:
        key = segment.get(n.id)
        if key is None:
            continue
        users = [(u, i) for edges in n.users for u, i in edges if u.id in backward]
        if users:
            readers.setdefault(key, []).append((n, users))
    backward_order = [n for n in order if n.id in backward and not n.flag("static")]
    backward_pos = [pos[n.id] for n in backward_order]
    clones = 0
    for key, group in readers.items():
        first = min(pos[u.id] for _n, users in group for u, _i in users)
        # the backward work just before the first reader: the clones wait for it, so that
        # they run when the backward pass reaches the segment, not with the forward pass
        at = bisect.bisect_left(backward_pos, first)
        wait = [backward_order[at - 1]] if at else []
        made: dict[int, Node] = {}
        for n, users in group:
            c = _clone(ir, n, segment, key, made, wait)
            for u, i in users:
                ir.set_input(u, i, c.output(u.inputs[i].index))
        clones += len(made)
        if made:
            ctx.notes.append(f"{len(made)} nodes recomputed for {len(group)} read by the backward pass")
    return clones


def _clone(ir: IRGraph, n: Node, segment: dict, key, made: dict, wait: list) -> Node:
    """The clone of `n` in this segment, made with the clones of its inputs of the segment."""
    got = made.get(n.id)
    if got is not None:
        return got
    host = [a.host for a in flat_args(n.opdef, n.attrs)]
    inputs = []
    for i, v in enumerate(n.inputs):
        p = v.node
        if segment.get(p.id) == key and not host[i]:
            v = _clone(ir, p, segment, key, made, wait).output(v.index)
        inputs.append(v)
    c = ir.add(
        n.type,
        inputs,
        dict(n.attrs),
        n.shapes,
        n.dtypes,
        n.origin,
        name=n.name + "/recompute",
        control=list(n.control) + wait,
        device=n.device,
    )
    c.stands_for = list(n.stands_for) if n.stands_for is not None else None
    made[n.id] = c
    return c


def _hint(n: Node):
    """The recompute mark shared by every user op `n` stands for, or None."""
    if not n.origin:
        return None
    first = None
    for o in n.origin:
        mark = hint_of(o)
        if mark is None:
            return None
        first = mark if first is None else first
    return first


def _backward(order: list[Node]) -> set[int]:
    """Ids of the backward nodes: those that stand only for gradient ops, and what depends on
    them (the variable updates). A node standing for a forward op too is not one by itself
    (common-subgraph elimination merges a forward constant or product with its duplicate in
    the gradient), and constants pass nothing on."""
    out: set[int] = set()
    for n in order:  # (producers first: a node after its inputs and control predecessors)
        if n.flag("static"):
            continue
        if (
            (n.origin and all(_GRADIENT_SCOPE.search(o.name) for o in n.origin))
            or any(v.node.id in out for v in n.inputs)
            or any(c.id in out for c in n.control)
        ):
            out.add(n.id)
    return out


def _recomputable(ir: IRGraph, n: Node) -> bool:
    """Computing `n` again later gives the same value: a pure op of the run (not a constant,
    not a plan-time shape), whose inputs do not read session state, and not fetched."""
    d = n.opdef
    if d is None or n.type == FEED or not n.pure or d.static or d.shape_only:
        return False
    if any(_state(v.node) for v in n.inputs):
        return False  # reads a variable's storage: its value depends on when it runs
    return not ir.is_fetched(n) and n not in ir.targets


def _state(p: Node) -> bool:
    """Whether `p`'s outputs are session state (a variable, what an assignment returns) rather
    than values of the run: a random op's draw is a value, kept once drawn."""
    d = p.opdef
    if d is None or p.pure:
        return False
    return not (d.random and not any(a.ref for a in d.inputs) and d.resource is None)
