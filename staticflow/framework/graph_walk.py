"""The two walks of a dataflow graph that every layer shares: prune and toposort.

Graphs come in several forms (the user's Operations, GraphDef nodes by name, the
compiler's IR nodes, a drawing's trace), but the walks are the same, so they are
written once, over any hashable node and a function giving its predecessors:

- `prune(roots, inputs)`: every node the roots depend on, roots included;
- `toposort(nodes, inputs, key)`: the nodes with producers first, ties broken by `key`
  (creation order, or position in a GraphDef, as TensorFlow's importer does).

Both are loops over explicit stacks and heaps, never recursion, so a graph of any
depth works, and both cost time linear in the nodes and edges (the toposort times
log n for its tie-breaking heap). `prune_ops` and `toposort_ops` are the walks of
the user's graph for one run: fed tensors cut them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable
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
    pending = [0] * len(nodes)
    users: list[list[int]] = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        deps = {pos[d] for d in inputs(n) if d in pos}
        pending[i] = len(deps)
        for d in deps:
            users[d].append(i)
    ready = [i for i in range(len(nodes)) if pending[i] == 0]  # increasing: a heap already
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = sorted(name(nodes[i]) for i in range(len(nodes)) if pending[i] > 0)
        raise ValueError(f"the graph has a cycle through: {', '.join(stuck[:10])}")
    return order


# --- the user's graph, for one run -------------------------------------------------------------
def _op_inputs(fed: set):
    def inputs(op):
        deps = [t._op for t in op._inputs if t not in fed]
        if op._control_inputs:
            # a control input whose outputs are all fed has nothing left to run (TF: it is cut too)
            deps.extend(
                c for c in op._control_inputs if not (c._outputs and all(t in fed for t in c._outputs))
            )
        return deps

    return inputs


def prune_ops(fetch_tensors, target_ops, fed: set) -> list:
    """The Operations needed to compute `fetch_tensors` and run `target_ops`; fed tensors
    cut the walk."""
    roots = [t.op for t in fetch_tensors if t not in fed] + list(target_ops)
    return prune(roots, _op_inputs(fed))


def toposort_ops(ops_: list, fed: set) -> list:
    """Operations in dependency order (producers first), ties broken by creation order;
    edges through fed tensors do not count."""

    def inputs(op):
        return [t._op for t in op._inputs if t not in fed] + op._control_inputs

    return toposort(ops_, inputs, key=lambda op: op._id, name=lambda op: op.name)
