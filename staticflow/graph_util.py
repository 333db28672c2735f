"""sf.graph_util: freezing a trained graph (TF1's tf.graph_util).

``convert_variables_to_constants`` keeps the part of a GraphDef the outputs
need (``extract_sub_graph``) and replaces each variable in it by a Const
holding the session's current value, so the frozen GraphDef runs with
nothing else: no checkpoint, no initializer, no optimizer.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import errors, graph_walk

_WRITES = ("Assign", "AssignAdd", "AssignSub")


def _node_name(s: str) -> str:
    if s.startswith("^"):
        s = s[1:]
    name, sep, idx = s.rpartition(":")
    return name if sep and idx.isdigit() else s


def extract_sub_graph(graph_def, dest_nodes):
    """The GraphDef of the nodes `dest_nodes` depend on (data and control inputs), in their order."""
    from staticflow.framework import graph_pb2

    if isinstance(dest_nodes, str):
        raise TypeError("dest_nodes must be a list of node names, not a string.")
    by_name = {n.name: n for n in graph_def.node}
    wanted = [_node_name(d) for d in dest_nodes]
    for d in wanted:
        if d not in by_name:
            raise ValueError(f"{d} is not in graph")

    def inputs(name: str) -> list[str]:
        node = by_name.get(name)
        if node is None:
            raise ValueError(f"node {name!r} is an input of the graph but not a node of it")
        return [_node_name(i) for i in node.input]

    keep = set(graph_walk.prune(wanted, inputs))
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for n in graph_def.node:
        if n.name in keep:
            out.node.add().CopyFrom(n)
    return out


def _variable_value(sess, name: str) -> np.ndarray:
    g = sess.graph
    try:
        op = g.get_operation_by_name(name)
    except KeyError:
        raise ValueError(f"variable {name} of the GraphDef is not in the session's graph") from None
    if op.type != "VariableV2":
        raise ValueError(f"{name} is a {op.type} node in the session's graph, not a variable")
    store = sess._variables
    if not store.is_initialized(name):
        raise errors.FailedPreconditionError(None, op, f"Attempting to use uninitialized value {name}")
    with sess._lock:
        return store.read(op)


def convert_variables_to_constants(
    sess, input_graph_def, output_node_names, variable_names_whitelist=None, variable_names_blacklist=None
):
    """A frozen copy of input_graph_def: what output_node_names need, with variables as constants."""
    from staticflow.framework import graph_io

    sub = extract_sub_graph(input_graph_def, output_node_names)
    white = None if variable_names_whitelist is None else {_node_name(v) for v in variable_names_whitelist}
    black = {_node_name(v) for v in (variable_names_blacklist or [])}
    converted = set()
    for node in sub.node:
        if node.op != "VariableV2":
            continue
        if (white is not None and node.name not in white) or node.name in black:
            continue
        value = _variable_value(sess, node.name)
        name, device = node.name, node.device
        node.Clear()
        node.name, node.op, node.device = name, "Const", device
        node.attr["dtype"].CopyFrom(graph_io.attr_to_proto(value.dtype, "type"))
        node.attr["value"].CopyFrom(graph_io.attr_to_proto(value, "tensor"))
        converted.add(name)
    for node in sub.node:
        if node.op in _WRITES and _node_name(node.input[0]) in converted:
            raise ValueError(
                f"cannot freeze: {node.op} node {node.name} writes variable {_node_name(node.input[0])}, "
                f"and the outputs {list(output_node_names)} depend on it"
            )
    return sub
