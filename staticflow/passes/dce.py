"""Dead-node elimination: drop what no fetch or target needs (after other passes left it)."""

from __future__ import annotations


def run(ir, ctx) -> int:
    live = ir.live()
    dead = [n for n in reversed(ir.topo_order()) if n not in live]  # users before producers
    for n in dead:
        ir.remove(n)
    if dead:
        ctx.notes.append(f"{len(dead)} nodes dropped")
    return len(dead)
