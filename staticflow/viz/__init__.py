"""Graph drawing with graphviz: forward and gradient graphs, and execution plans.

``sf.viz.draw(graph)`` draws a Graph or GraphDef: name scopes as nested
clusters (collapsed to one node each when the graph is large), node colours
and shapes by op family, edges labelled with dtype and shape, control
dependencies dashed, the gradient graph in its own orange cluster.
``sf.viz.draw_plan(sess, fetches, feed_dict)`` draws what a `run` executes,
step by step, with each output's shape, size and arena offset.

Drawing is trace-then-emit (`trace` builds plain nodes and edges, `emit`
writes DOT); both return a graphviz Digraph that Jupyter shows inline.
Rendering needs graphviz's `dot` program; the DOT source
(``drawing.source``) does not.
"""

from __future__ import annotations

import os

from staticflow.framework import hooks as framework_hooks
from staticflow.viz.emit import MAX_NODES, Drawing, choose_collapsed, emit
from staticflow.viz.plan import PLAN_ANNOTATORS, fetch_ops_of, step_ops, trace_plan
from staticflow.viz.trace import Edge, Node, Trace, trace

FORMATS = ("png", "svg", "pdf")


def _format_for(path, format) -> str:
    if format is None:
        ext = os.path.splitext(str(path or ""))[1].lstrip(".").lower()
        format = ext if ext in FORMATS else "png"
    if format not in FORMATS:
        raise ValueError(f"draw: format must be one of {', '.join(FORMATS)}, got {format!r}")
    return format


def render(drawing: Drawing, path, format=None) -> str:
    """Render `drawing` to the file `path` (format png/svg/pdf; default from the path's
    extension, else png). Returns the path."""
    import graphviz

    fmt = _format_for(path, format)
    try:
        data = drawing.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "drawing needs graphviz's `dot` program, which is not installed: install the graphviz "
            "system package (e.g. `apt-get install graphviz`); drawing.source has the DOT text"
        ) from None
    except graphviz.CalledProcessError as e:  # dot refused the DOT text or ran out of resources
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"graphviz's `dot` failed: {err[0] if err else e}") from None
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def draw(
    graph_or_graphdef,
    path=None,
    fetches=None,
    gradients: bool = True,
    collapse_scopes=None,
    format=None,
    max_nodes: int = MAX_NODES,
) -> Drawing:
    """Draw a graph (an sf.Graph or a GraphDef); render it to `path` when given.

    fetches: tensors, ops or names; draw only what they need.
    gradients: False draws the forward part alone (no op under "gradients/",
        nor anything computed from one, such as optimizer updates).
    collapse_scopes: True (every top-level scope as one node), False, a list of
        scope names, or None: automatic above `max_nodes` nodes.
    format: png, svg or pdf; default from the path's extension, else png.
    """
    d = emit(trace(graph_or_graphdef, fetches, gradients), collapse_scopes, max_nodes)
    if path is not None:
        render(d, path, format)
    return d


def draw_plan(sess, fetches, feed_dict=None, path=None, format=None, annotators=()) -> Drawing:
    """Draw the plan `sess.run(fetches, feed_dict)` executes: its steps in execution
    order (numbered), each output's shape, bytes and arena offset.

    annotators: functions fn(plan, trace) that add notes/attrs/groups to the trace's
    nodes before it is drawn (after those in PLAN_ANNOTATORS).
    """
    plan = sess.plan(fetches, feed_dict)
    tr = trace_plan(plan, fetch_ops_of(sess.graph, fetches), annotators)
    order = [op.name for s in plan.steps for op in step_ops(s)]
    d = emit(tr, collapse=False, order=order)
    if path is not None:
        render(d, path, format)
    return d


__all__ = [
    "PLAN_ANNOTATORS",
    "Drawing",
    "Edge",
    "Node",
    "Trace",
    "choose_collapsed",
    "draw",
    "draw_plan",
    "emit",
    "render",
    "trace",
    "trace_plan",
]


# Graph._repr_svg_ (Jupyter) draws through the framework's hook
framework_hooks.install(draw=draw)
