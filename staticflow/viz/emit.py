"""Emitting: a Trace to a graphviz Digraph (DOT), with nested scope clusters
and collapsed scopes. Knows nothing of staticflow's graphs.
"""

from __future__ import annotations

import re

import graphviz

from staticflow.viz import style
from staticflow.viz.trace import Edge, Trace, parent_scope

# above this many nodes, scopes are collapsed (deepest first) until the drawing fits
MAX_NODES = 200
# above this many drawn nodes, edges lose their labels and splines (dot's cost grows fast)
MAX_LABELLED = 400
# name scopes nested deeper than this are drawn inside their ancestor at this depth
MAX_CLUSTER_DEPTH = 32


class Drawing(graphviz.Digraph):
    """A graphviz Digraph that Jupyter shows inline (`_repr_svg_`)."""

    def _repr_svg_(self) -> str:
        return self.pipe(format="svg").decode()


# the characters of TensorFlow's op names (and '/'): such scopes name their cluster directly
_PLAIN_SCOPE = re.compile(r"[A-Za-z0-9_./>-]+")
# attributes whose values are text drawn or shown as is: escaped (see _text)
_TEXT_ATTRS = ("label", "tooltip", "xlabel", "headlabel", "taillabel")


def _text(s: str) -> str:
    """`s` as DOT text shown literally, whatever the graph's names hold.

    Backslashes are doubled (a trailing one would otherwise escape the closing quote, and
    \\N, \\G, \\l would be expanded by dot), "<...>" is not taken for an HTML label, and
    characters DOT cannot carry (NUL, other control characters but newline) are shown as
    \\xNN escapes in the text.
    """
    s = "".join(c if c == "\n" or c >= " " or c == "\t" else f"\\x{ord(c):02x}" for c in str(s))
    return graphviz.escape(s)


def _texts(attrs: dict) -> dict:
    return {k: (_text(v) if k in _TEXT_ATTRS and isinstance(v, str) else v) for k, v in attrs.items()}


def _depth(scope: str) -> int:
    return scope.count("/") + 1 if scope else 0


def _ancestor(scope: str, depth: int) -> str:
    return "/".join(scope.split("/")[:depth])


def choose_collapsed(trace: Trace, collapse, max_nodes: int = MAX_NODES) -> set[str]:
    """The scopes drawn as one node each.

    collapse: False (none), True (every top-level scope), a list of scope
    names, or None (automatic: the deepest scope level at which the drawing
    has at most `max_nodes` nodes; the top level if none is small enough).
    A scope holding one op is never collapsed.
    """
    counts: dict[str, int] = {}
    for n in trace.nodes.values():
        parts = n.scope.split("/") if n.scope else []
        for k in range(1, len(parts) + 1):
            s = "/".join(parts[:k])
            counts[s] = counts.get(s, 0) + 1
    if collapse is False:
        return set()
    if collapse is True:
        return {s for s, c in counts.items() if _depth(s) == 1 and c > 1}
    if collapse is not None:
        wanted = {s.strip("/") for s in ([collapse] if isinstance(collapse, str) else collapse)}
        unknown = sorted(wanted - set(counts))
        if unknown:
            known = ", ".join(sorted(s for s in counts if _depth(s) == 1)[:20])
            raise ValueError(f"draw: no name scope {', '.join(unknown)} (top-level scopes: {known})")
        return wanted
    if len(trace.nodes) <= max_nodes:
        return set()
    deepest = max((_depth(n.scope) for n in trace.nodes.values()), default=0)
    for d in range(deepest, 0, -1):
        groups = {s for s, c in counts.items() if _depth(s) == d and c > 1}
        drawn = len(groups) + sum(
            1 for n in trace.nodes.values() if not (_depth(n.scope) >= d and _ancestor(n.scope, d) in groups)
        )
        if drawn <= max_nodes or d == 1:
            return groups
    return set()


def _representative(scope: str, collapsed: set[str]) -> str | None:
    """The outermost collapsed scope holding `scope`, if any."""
    parts = scope.split("/") if scope else []
    for k in range(1, len(parts) + 1):
        s = "/".join(parts[:k])
        if s in collapsed:
            return s
    return None


class _Cluster:
    def __init__(self, path: str):
        self.path = path
        self.children: dict[str, _Cluster] = {}
        self.lines: list[tuple[str, dict]] = []  # (node id, attrs)

    def child(self, path: str) -> _Cluster:
        c = self
        parts = path.split("/")[:MAX_CLUSTER_DEPTH] if path else []
        for k in range(1, len(parts) + 1):
            p = "/".join(parts[:k])
            c = c.children.setdefault(p, _Cluster(p))
        return c


def emit(
    trace: Trace,
    collapse=None,
    max_nodes: int = MAX_NODES,
    rankdir: str = "TB",
    order: list[str] | None = None,
) -> Drawing:
    """DOT for a trace. `order` (node names) chains those nodes with invisible
    edges, so that they are laid out in that sequence (plans: execution order)."""
    collapsed = choose_collapsed(trace, collapse, max_nodes)
    cids = {s: f"scope{i}" for i, s in enumerate(sorted(collapsed))}
    ids: dict[str, str] = {}  # node name -> DOT id
    root = _Cluster("")
    members: dict[str, list] = {}
    for i, n in enumerate(trace.nodes.values()):
        rep = _representative(n.scope, collapsed)
        if rep is not None:
            ids[n.name] = cids[rep]
            members.setdefault(rep, []).append(n)
            continue
        ids[n.name] = f"n{i}"
        title = n.title or n.name.rpartition("/")[2]
        lines = [title] + ([n.type] if n.type and n.type != title else []) + list(n.notes)
        attrs = style.node_attrs(n.family, n.gradient)
        attrs.update(n.attrs)
        attrs["label"] = "\n".join(lines)
        if n.tooltip:
            attrs["tooltip"] = n.tooltip
        root.child(n.scope).lines.append((ids[n.name], attrs))
    for s, ms in members.items():
        grad = any(m.gradient for m in ms)
        attrs = {"style": "filled", **style.COLLAPSED}
        if grad:
            attrs.update(style.GRADIENT_NODE)
            attrs["fillcolor"] = style.GRADIENT_FILL
        attrs["label"] = f"{s.rpartition('/')[2]}/\n{len(ms)} ops"
        attrs["tooltip"] = f"name scope {s} ({len(ms)} ops, collapsed)"
        root.child(parent_scope(s)).lines.append((cids[s], attrs))

    big = len(set(ids.values())) > MAX_LABELLED
    g = Drawing("staticflow", engine="dot")
    g.attr(rankdir=rankdir, fontname=style.FONT, fontsize="11", nodesep="0.25", ranksep="0.35")
    if big:
        # straight edges and a coarser bitmap keep a 1,000-node drawing to seconds
        # (fewer layout iterations; a bitmap at most 4,800 pixels a side)
        g.attr(splines="line", outputorder="edgesfirst", nslimit="1", nslimit1="1", remincross="false")
        g.attr(mclimit="0.5", dpi="40", size="120,120")
    if trace.label:
        g.attr(label=_text(trace.label), labelloc="b", labeljust="l")
    g.attr("node", fontname=style.FONT, fontsize="10", height="0.3", margin="0.08,0.03")
    g.attr("edge", fontname=style.FONT, fontsize="8", color="#616161", fontcolor="#424242", arrowsize="0.6")

    grad_scopes = {n.scope.split("/", 1)[0] for n in trace.nodes.values() if n.gradient and n.scope}

    numbered = iter(range(1 << 62))

    def fill(graph, cluster: _Cluster) -> None:
        for nid, attrs in cluster.lines:
            graph.node(nid, **_texts(attrs))
        for path, child in cluster.children.items():
            # "cluster_<scope>" for TensorFlow's name characters; a numbered id (with a '#', which
            # those never hold) for anything else: a backslash cannot end a quoted DOT id
            cid = f"cluster_{path}" if _PLAIN_SCOPE.fullmatch(path) else f"cluster_#{next(numbered)}"
            with graph.subgraph(name=cid) as sub:
                attrs = dict(style.GRADIENT_CLUSTER if path in grad_scopes else style.CLUSTER)
                label = trace.cluster_labels.get(path, path.rpartition("/")[2])
                if path in trace.cluster_labels:
                    attrs.update(style.FUSED_CLUSTER)
                sub.attr(**_texts(dict(label=label, tooltip=label, **attrs)))
                fill(sub, child)

    fill(g, root)
    for e in _merge_edges(trace.edges, ids, trace):
        g.edge(e[0], e[1], **_texts(e[2]))
    if order:
        drawn = [ids[n] for n in order if n in ids]
        for a, b in zip(drawn, drawn[1:]):
            if a != b:
                g.edge(a, b, style="invis", weight="4")
    return g


def _merge_edges(edges: list[Edge], ids: dict[str, str], trace: Trace):
    """Edges between drawn nodes: self-loops inside collapsed scopes dropped,
    parallel edges between the same drawn nodes merged (labelled with a count)."""
    merged: dict[tuple, list[Edge]] = {}
    for e in edges:
        a, b = ids[e.src], ids[e.dst]
        if a == b:
            continue
        merged.setdefault((a, b, e.control), []).append(e)
    big = len(set(ids.values())) > MAX_LABELLED
    for (a, b, control), es in merged.items():
        attrs: dict[str, str] = {}
        if control:
            attrs.update(style.CONTROL_EDGE)
        else:
            labels = sorted({e.label for e in es if e.label})
            if labels and not big:
                attrs["label"] = labels[0] if len(es) == 1 else f"{labels[0]} ×{len(es)}"
            src, dst = trace.nodes[es[0].src], trace.nodes[es[0].dst]
            if src.gradient or dst.gradient:
                attrs.update(style.GRADIENT_EDGE)
                if not src.gradient:
                    attrs["color"] = "#fdae6b"  # a forward value read by the gradient graph
        for e in es:
            attrs.update(e.attrs)
        yield a, b, attrs
