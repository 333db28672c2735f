"""Tracing: a graph (or GraphDef) to a plain list of nodes and edges.

Drawing is trace-then-emit: this module knows the graph and nothing of DOT;
`emit` knows DOT and nothing of graphs. A trace can be annotated (extra label
lines, DOT attributes, a group) before it is emitted, which is how plan
drawings carry buffer offsets and how later passes can mark fused groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from staticflow.framework import dtypes, graph_walk
from staticflow.framework import ops as fops
from staticflow.viz import style


@dataclass
class Node:
    """One drawn op. `scope` places it in nested clusters ("a/b" is inside "a")."""

    name: str
    type: str
    family: str
    scope: str = ""
    gradient: bool = False
    title: str = ""  # first label line (default: the last component of the name)
    notes: list[str] = field(default_factory=list)  # further label lines
    attrs: dict[str, str] = field(default_factory=dict)  # DOT attributes over the family's
    tooltip: str = ""


@dataclass
class Edge:
    src: str  # node names
    dst: str
    label: str = ""
    control: bool = False
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Trace:
    nodes: dict[str, Node] = field(default_factory=dict)  # by name, in drawing order
    edges: list[Edge] = field(default_factory=list)
    label: str = ""  # a caption for the whole drawing
    cluster_labels: dict[str, str] = field(default_factory=dict)  # scope -> its cluster's label


def parent_scope(name: str) -> str:
    return name.rpartition("/")[0]


def tensor_label(dtype_name: str, shape, index: int = 0) -> str:
    """'float32 [?,16]'; shape is a list of ints/None, or None for an unknown rank."""
    if shape is None:
        dims = "[…]"
    else:
        dims = "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
    port = f":{index} " if index else ""
    return f"{port}{dtype_name} {dims}"


def _scopes_of(names) -> set[str]:
    scopes = set()
    for n in names:
        parts = n.split("/")
        for k in range(1, len(parts)):
            scopes.add("/".join(parts[:k]))
    return scopes


def assign_scopes(nodes: dict[str, Node]) -> None:
    """Each node's cluster: its name scope, or its own name when other ops are
    named under it (a variable and its Assign/read sit together, as in TensorBoard)."""
    scopes = _scopes_of(nodes)
    for n in nodes.values():
        n.scope = n.name if n.name in scopes else parent_scope(n.name)


def _downstream(start: set[str], consumers: dict[str, list[str]]) -> set[str]:
    return set(graph_walk.prune(start, lambda n: consumers.get(n, ())))


def _upstream(start: set[str], producers: dict[str, list[str]]) -> set[str]:
    return set(graph_walk.prune(start, lambda n: producers.get(n, ())))


def _filter(trace: Trace, keep: set[str]) -> None:
    trace.nodes = {k: v for k, v in trace.nodes.items() if k in keep}
    trace.edges = [e for e in trace.edges if e.src in keep and e.dst in keep]


def _restrict(trace: Trace, fetch_names, gradients: bool) -> Trace:
    if fetch_names is not None:
        producers: dict[str, list[str]] = {}
        for e in trace.edges:
            producers.setdefault(e.dst, []).append(e.src)
        missing = [f for f in fetch_names if f not in trace.nodes]
        if missing:
            raise ValueError(f"draw: fetches name ops that are not in the graph: {', '.join(missing)}")
        _filter(trace, _upstream(set(fetch_names), producers))
    if not gradients:
        # the forward part: no gradient op, and nothing computed from one (optimizer updates)
        consumers: dict[str, list[str]] = {}
        for e in trace.edges:
            consumers.setdefault(e.src, []).append(e.dst)
        grads = {n for n, node in trace.nodes.items() if node.gradient}
        dropped = _downstream(grads, consumers)
        # and constants that only fed the dropped part (an optimizer's learning rates)
        changed = True
        while changed:
            changed = False
            for n, cs in consumers.items():
                if n not in dropped and trace.nodes[n].family == "constant" and all(c in dropped for c in cs):
                    dropped.add(n)
                    changed = True
        _filter(trace, set(trace.nodes) - dropped)
    return trace


def _fetch_names(fetches) -> list[str] | None:
    if fetches is None:
        return None
    if not isinstance(fetches, list | tuple | set):
        fetches = [fetches]
    names = []
    for f in fetches:
        if isinstance(f, fops.Tensor | fops.Operation):
            names.append(f.op.name if isinstance(f, fops.Tensor) else f.name)
        elif isinstance(f, str):
            names.append(f.lstrip("^").split(":")[0])
        else:
            raise TypeError(f"draw: cannot interpret fetch {f!r} (Tensors, Operations or names)")
    return names


def _shape_list(shape) -> list | None:
    if shape.ndims is None:
        return None
    return [d for d in shape.as_list()]


def trace_graph(graph: fops.Graph, fetches=None, gradients: bool = True) -> Trace:
    """Nodes and edges of an sf.Graph (edges carry dtype and static shape)."""
    tr = Trace()
    for op in graph.get_operations():
        grad = style.is_gradient(op.name)
        tip = f"{op.name} ({op.type})"
        if op.device:
            tip += f"\ndevice: {op.device}"
        tr.nodes[op.name] = Node(op.name, op.type, style.family(op.type), gradient=grad, tooltip=tip)
    for op in graph.get_operations():
        for t in op.inputs:
            tr.edges.append(
                Edge(t.op.name, op.name, tensor_label(t.dtype.name, _shape_list(t.shape), t.value_index))
            )
        for c in op.control_inputs:
            tr.edges.append(Edge(c.name, op.name, control=True))
    _add_functions(tr, graph)
    assign_scopes(tr.nodes)
    return _restrict(tr, _fetch_names(fetches), gradients)


def _function_attrs(op) -> list:
    """(attr name, FuncGraph) of an op that calls functions (a cond's branches, a loop's body)."""
    return [(k, v) for k, v in sorted(op._attrs.items()) if getattr(v, "building_function", False)]


def _add_functions(tr: Trace, graph, depth: int = 0) -> None:
    """Each function an op calls drawn inside a cluster within the op's own (named
    `<op>/<attr>`, labelled with the attr and the function's name), its ops and edges with it,
    nested functions likewise."""
    if depth > 32:
        return
    for op in graph.get_operations():
        for attr, fg in _function_attrs(op):
            base = f"{op.name}/{attr}"
            tr.cluster_labels[base] = f"{attr}: {fg.name}"
            sub = trace_graph(fg)
            if depth < 32:
                _add_functions(sub, fg, depth + 1)
            for n in sub.nodes.values():
                n.name = f"{base}/{n.name}"
                tr.nodes[n.name] = n
            for e in sub.edges:
                tr.edges.append(Edge(f"{base}/{e.src}", f"{base}/{e.dst}", e.label, e.control, e.attrs))
            for k, v in sub.cluster_labels.items():
                tr.cluster_labels[f"{base}/{k}"] = v


def _attr_dtype(node, idx: int) -> str:
    for key in ("T", "dtype", "DstT", "out_type"):
        if key in node.attr and node.attr[key].WhichOneof("value") == "type":
            try:
                return dtypes.as_dtype(node.attr[key].type).name
            except (TypeError, ValueError, KeyError):
                return "?"
    return "?"


def _attr_shape(node, idx: int):
    if "_output_shapes" in node.attr:
        shapes = node.attr["_output_shapes"].list.shape
        if idx < len(shapes):
            s = shapes[idx]
            if s.unknown_rank:
                return None
            return [None if d.size < 0 else d.size for d in s.dim]
    return None


def _parse_input(inp: str) -> tuple[str, int]:
    """(node name, output index) of a GraphDef input; anything after the last ':' that is not
    a number belongs to the name (a malformed input is drawn, not an error)."""
    src, sep, idx = inp.rpartition(":")
    if sep and idx.isdigit() and src:
        return src, int(idx)
    return inp, 0


def trace_graph_def(graph_def, fetches=None, gradients: bool = True) -> Trace:
    """Nodes and edges of a GraphDef, read directly (ops staticflow lacks are drawn too).

    dtypes come from the T/dtype attrs, shapes from `_output_shapes` when the
    GraphDef was written with add_shapes=True.
    """
    tr = Trace()
    by_name = {}
    for nd in graph_def.node:
        by_name[nd.name] = nd
        tip = f"{nd.name} ({nd.op})" + (f"\ndevice: {nd.device}" if nd.device else "")
        tr.nodes[nd.name] = Node(
            nd.name, nd.op, style.family(nd.op), gradient=style.is_gradient(nd.name), tooltip=tip
        )
    for nd in graph_def.node:
        for inp in nd.input:
            if inp.startswith("^"):
                tr.edges.append(Edge(inp[1:], nd.name, control=True))
                continue
            src, k = _parse_input(inp)
            prod = by_name.get(src)
            label = tensor_label(_attr_dtype(prod, k), _attr_shape(prod, k), k) if prod is not None else ""
            tr.edges.append(Edge(src, nd.name, label))
    _add_library_functions(tr, graph_def)
    # an input naming a node that is not there (a partial GraphDef) is drawn as a bare node
    for e in tr.edges:
        if e.src not in tr.nodes:
            tr.nodes[e.src] = Node(e.src, "?", "other", gradient=style.is_gradient(e.src))
    assign_scopes(tr.nodes)
    return _restrict(tr, _fetch_names(fetches), gradients)


def _add_library_functions(tr: Trace, graph_def) -> None:
    """The library's functions that nodes name (func attrs) drawn in clusters, as
    `_add_functions` draws a graph's."""
    has = graph_def.HasField("library")
    library = {f.signature.name: f for f in graph_def.library.function} if has else {}
    if not library:
        return

    def add(nodes, prefix: str, depth: int) -> None:
        for nd in nodes:
            for attr in sorted(nd.attr):
                v = nd.attr[attr]
                if v.WhichOneof("value") != "func" or v.func.name not in library or depth > 32:
                    continue
                fd = library[v.func.name]
                base = f"{prefix}{nd.name}/{attr}"
                tr.cluster_labels[base] = f"{attr}: {fd.signature.name}"
                for a in fd.signature.input_arg:
                    arg = f"{base}/{a.name}"
                    tr.nodes[arg] = Node(arg, "Placeholder", style.family("Placeholder"))
                for m in fd.node_def:
                    name = f"{base}/{m.name}"
                    tr.nodes[name] = Node(name, m.op, style.family(m.op), tooltip=f"{m.name} ({m.op})")
                    for inp in m.input:
                        src = inp.lstrip("^").split(":")[0]
                        tr.edges.append(Edge(f"{base}/{src}", name, control=inp.startswith("^")))
                add(fd.node_def, base + "/", depth + 1)

    add(graph_def.node, "", 0)


def trace(graph_or_graph_def, fetches=None, gradients: bool = True) -> Trace:
    if isinstance(graph_or_graph_def, fops.Graph):
        return trace_graph(graph_or_graph_def, fetches, gradients)
    if hasattr(graph_or_graph_def, "node"):
        return trace_graph_def(graph_or_graph_def, fetches, gradients)
    raise TypeError(f"draw: expected an sf.Graph or a GraphDef, got {type(graph_or_graph_def).__name__}")
