"""Dead-node elimination: drop what no fetch or target needs (after other passes left it)."""

from __future__ import annotations


def run(ir, ctx) -> int:
    live: set[int] = set()
    stack = [f.node for f in ir.fetches] + list(ir.targets)
    while stack:
        n = stack.pop()
        if n.id in live:
            continue
        live.add(n.id)
        stack.extend(v.node for v in n.inputs)
        stack.extend(n.control)
    dead = [n for n in reversed(ir.topo_order()) if n.id not in live]  # users before producers
    for n in dead:
        ir.remove(n)
    if dead:
        ctx.notes.append(f"{len(dead)} nodes dropped")
    return len(dead)
