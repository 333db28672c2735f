"""The two walks of a dataflow graph that every layer shares: prune and toposort.

Graphs come in several forms (the user's Operations, GraphDef nodes by name, the
compiler's IR nodes, a drawing's trace), but the walks are the same, so they are
written once, over any hashable node and a function giving its predecessors:

- `prune(roots, inputs)`: every node the roots depend on, roots included;
- `toposort(nodes, inputs, key)`: the nodes with producers first, ties broken by `key`
  (creation order, or position in a GraphDef, as TensorFlow's importer does), through
  `smallest_ready_first`, its order over integer ids, which the compiler's IR (ids and
  user lists of its own) walks too.

Both are loops over explicit stacks and heaps, never recursion, so a graph of any
depth works, and both cost time linear in the nodes and edges (the toposort times
log n for its tie-breaking heap). `prune_ops` and `toposort_ops` are the walks of
the user's graph for one run: fed tensors cut them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def prune(roots: Iterable[N], inputs: Callable[[N], Iterable[N]]) -> list[N]:
    """The nodes reachable from `roots` through `inputs` (the roots included), each once,
    in the order a depth-first walk finds them."""
    seen: dict[N, None] = {}
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen[n] = None
        stack.extend(inputs(n))
    return list(seen)


def toposort(
    nodes: Iterable[N],
    inputs: Callable[[N], Iterable[N]],
    key: Callable[[N], object],
    name: Callable[[N], str] = str,
) -> list[N]:
    """`nodes` ordered so that each comes after its `inputs` among them (inputs outside
    `nodes` are ignored); of the nodes ready at once, the one with the smallest `key`
    first (Kahn's algorithm with a heap). A cycle is a ValueError naming (by `name`) up to
    ten of the nodes on or behind it."""
    # ranked by (key, given position) once (a stable sort), so the heap holds plain ranks
    nodes = sorted(nodes, key=key)
    pos = {n: i for i, n in enumerate(nodes)}
    # the common case, a graph built producers first: every input ranks before its user,
    # and the ranking is the order (what the heap would pick, one node at a time)
    get = pos.get
    if all(get(d, -1) < i for i, n in enumerate(nodes) for d in inputs(n)):
        return nodes
    pending: dict[int, int] = {}
    users: list[list[int]] = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        deps = {pos[d] for d in inputs(n) if d in pos}
        if deps:
            pending[i] = len(deps)
        for d in deps:
            users[d].append(i)
    order = smallest_ready_first(range(len(nodes)), pending, users.__getitem__)
    if len(order) != len(nodes):
        stuck = sorted(name(nodes[i]) for i in pending)
        raise ValueError(f"the graph has a cycle through: {', '.join(stuck[:10])}")
    return [nodes[i] for i in order]


def smallest_ready_first(
    ids: Sequence[int], pending: dict[int, int], released_by: Callable[[int], Iterable[int]]
) -> list[int]:
    """Kahn's algorithm over integer ids, the smallest ready id first: `ids` increasing,
    `pending[i]` the releases id i still waits for (absent: ready), `released_by(i)` the ids
    that i's completion releases, once per release. Returns the order; what is left in
    `pending` is on or behind a cycle.

    Most graphs come nearly in id order, so the walk scans the ids in increasing order and
    emits each ready one it reaches; an id the scan passed while it waited goes, once
    released, on a heap that is served first (everything on it is smaller than the scan's
    next id): the same choice as one heap of every ready id, with heap work only for the
    ids out of order."""
    order: list[int] = []
    late: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    count, p = len(ids), 0
    while True:
        if late:
            i = pop(late)
        else:
            while p < count and ids[p] in pending:
                p += 1
            if p == count:
                return order
            i = ids[p]
            p += 1
        order.append(i)
        nxt = ids[p] if p < count else -1  # ids below it were passed by the scan
        for u in released_by(i):
            k = pending[u] - 1
            if k:
                pending[u] = k
            else:
                del pending[u]
                if nxt < 0 or u < nxt:
                    push(late, u)


# --- the user's graph, for one run -------------------------------------------------------------
def _op_inputs(fed: set, done=None):
    def inputs(op):
        deps = [t._op for t in op._inputs if t not in fed]
        if op._control_inputs:
            # a control input whose outputs are all fed has nothing left to run (TF: it is cut too)
            deps.extend(
                c for c in op._control_inputs if not (c._outputs and all(t in fed for t in c._outputs))
            )
        if done:
            deps = [d for d in deps if d not in done]
        return deps

    return inputs


def prune_ops(fetch_tensors, target_ops, fed: set, done=None) -> list:
    """The Operations needed to compute `fetch_tensors` and run `target_ops`; fed tensors
    cut the walk, and so do the ops in `done` (already run this run: the part of a run
    before a value whose shape is only known while running)."""
    roots = [t.op for t in fetch_tensors if t not in fed]
    roots += [o for o in target_ops if not done or o not in done]
    return prune(roots, _op_inputs(fed, done))


def toposort_ops(ops_: list, fed: set) -> list:
    """Operations in dependency order (producers first), ties broken by creation order;
    edges through fed tensors do not count."""

    def inputs(op):
        return [t._op for t in op._inputs if t not in fed] + op._control_inputs

    return toposort(ops_, inputs, key=lambda op: op._id, name=lambda op: op.name)
