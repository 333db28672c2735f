"""Loop optimization: a plan that runs a loop and its gradient's replay runs the replay alone.

The gradient of a While (ops/control_flow_v2.py) is a replay of the forward loop, which
pushes at each iteration what the backward loop reads, then the backward loop. A training
step fetches the loss and the gradients, so its plan holds the forward While and the replay,
on the same loop variables. When both are stateless, the forward node's readers read the
replay's outputs (its loop variables follow the replay's own counter and limit) and the
forward node goes: the loop runs once, as TensorFlow's forward op, which keeps its
gradient's intermediates itself. The user's graph is not changed, only the plan's IR.

The replay names its forward loop by an attribute of its body function (`replay_of`:
the forward body, the forward cond, the number of loop variables), set where the
gradient builds it; a replay read back from a GraphDef has none and is left alone.
"""

from __future__ import annotations

from staticflow.passes.rewrite import Rewriter


def _depends_on(node, target, limit: int = 100000) -> bool:
    """Whether `node` reads (through inputs or control edges) `target`'s results."""
    seen, todo = set(), [node]
    while todo and len(seen) < limit:
        n = todo.pop()
        if n is target:
            return True
        if n.id in seen:
            continue
        seen.add(n.id)
        todo.extend(v.node for v in n.inputs)
        todo.extend(n.control)
    return len(seen) >= limit


def run(ir, ctx) -> int:
    loops = [n for n in ir.topo_order() if n.type == "StatelessWhile"]
    replays = [n for n in loops if getattr(n.attrs.get("body"), "replay_of", None) is not None]
    if not replays:
        return 0
    by_call: dict = {}
    for n in loops:
        by_call.setdefault((id(n.attrs.get("body")), id(n.attrs.get("cond")), tuple(n.inputs)), []).append(n)
    rw = Rewriter(ir, ctx)
    changed = 0
    for r in replays:
        body, cond, k = r.attrs["body"].replay_of
        for w in by_call.get((id(body), id(cond), tuple(r.inputs[2 : 2 + k])), []):
            if w.id not in ir.nodes or w is r:
                continue
            if [tuple(s) for s in w.shapes] != [tuple(s) for s in r.shapes[2 : 2 + k]] or _depends_on(r, w):
                continue
            rw.replace(w, [r.output(2 + j) for j in range(k)])
            changed += 1
            ctx.notes.append(f"{w.name}: its outputs taken from {r.name}")
    return changed
