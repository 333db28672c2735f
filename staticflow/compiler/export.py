"""An IR as a GraphDef, for dumps and drawings of what the passes made.

Feeds become Placeholders with their concrete shapes; every node records the
user ops it stands for in a ``_origin`` attr and its concrete output shapes in
``_output_shapes``, so the dump of a fused or merged node still says where it
came from.
"""

from __future__ import annotations

from staticflow.compiler.ir import FEED, IRGraph, Value
from staticflow.framework import graph_io


def _input_name(v: Value) -> str:
    return v.node.name if v.index == 0 else f"{v.node.name}:{v.index}"


def to_graph_def(ir: IRGraph):
    """A GraphDef with one NodeDef per IR node, in execution order."""
    attr_value_pb2, graph_pb2, node_def_pb2 = graph_io._pb()
    gd = graph_pb2.GraphDef()
    gd.versions.producer = graph_io.GRAPH_DEF_VERSION
    for n in ir.topo_order():
        nd = node_def_pb2.NodeDef(
            name=n.name, op="Placeholder" if n.type == FEED else n.type, device=n.device
        )
        nd.input.extend(_input_name(v) for v in n.inputs)
        nd.input.extend("^" + c.name for c in n.control)
        if n.type == FEED:
            nd.attr["dtype"].CopyFrom(graph_io.attr_to_proto(n.dtypes[0], "type"))
            nd.attr["shape"].CopyFrom(graph_io.attr_to_proto(list(n.shapes[0]), "shape"))
        elif n.opdef is not None:
            for a in n.opdef.attrs:
                if a.name in n.attrs:
                    try:
                        nd.attr[a.name].CopyFrom(graph_io.attr_to_proto(n.attrs[a.name], a.kind))
                    except (TypeError, ValueError):
                        nd.attr[a.name].CopyFrom(attr_value_pb2.AttrValue(s=repr(n.attrs[a.name]).encode()))
        else:  # an IR-only op (a fused group): its attrs as text
            for k in sorted(n.attrs):
                nd.attr[k].CopyFrom(attr_value_pb2.AttrValue(s=str(n.attrs[k]).encode()))
        nd.attr["_origin"].CopyFrom(graph_io.attr_to_proto([o.name for o in n.origin], "list(string)"))
        nd.attr["_output_shapes"].CopyFrom(graph_io.attr_to_proto([list(s) for s in n.shapes], "list(shape)"))
        gd.node.append(nd)
    return gd
