"""Pruning and ordering: which ops a run needs, in which order."""

from __future__ import annotations

from staticflow.framework import ops as fops


def prune(fetch_tensors, target_ops, fed: set) -> list[fops.Operation]:
    """Ops needed to compute `fetch_tensors` and run `target_ops`; fed tensors cut the walk."""
    needed: dict[int, fops.Operation] = {}
    stack = [t.op for t in fetch_tensors if t not in fed] + list(target_ops)
    while stack:
        op = stack.pop()
        if op._id in needed:
            continue
        needed[op._id] = op
        for t in op.inputs:
            if t not in fed:
                stack.append(t.op)
        # a control input whose outputs are all fed has nothing left to run (TF: it is cut too)
        stack.extend(c for c in op.control_inputs if not (c.outputs and all(t in fed for t in c.outputs)))
    return list(needed.values())


def toposort(ops_: list[fops.Operation], fed: set) -> list[fops.Operation]:
    """Dependency order (producers first), ties broken by creation order."""
    import heapq

    present = {op._id: op for op in ops_}
    pending: dict[int, int] = {}
    users: dict[int, list[int]] = {}
    for op in ops_:
        deps = {t.op._id for t in op.inputs if t not in fed and t.op._id in present}
        deps |= {c._id for c in op.control_inputs if c._id in present}
        pending[op._id] = len(deps)
        for d in deps:
            users.setdefault(d, []).append(op._id)
    ready = [i for i, n in pending.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(present[i])
        for u in users.get(i, ()):
            pending[u] -= 1
            if pending[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(ops_):
        stuck = sorted(op.name for op in ops_ if pending[op._id] > 0)
        raise ValueError(f"the graph has a cycle through: {', '.join(stuck[:10])}")
    return order
