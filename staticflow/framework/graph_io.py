"""Graph <-> GraphDef: serialization, import with input maps, and files.

Nodes and attrs use TensorFlow's op and attr names, so GraphDefs look like
TensorFlow's, and TensorFlow's GraphDefs import when staticflow has their ops.
Attrs staticflow does not declare are kept as raw AttrValues and written back.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from staticflow.framework import dtypes, graph_walk, tensor_util
from staticflow.framework import ops as fops
from staticflow.framework.hooks import hooks
from staticflow.framework.tensor_shape import as_shape

GRAPH_DEF_VERSION = 1


def _pb():
    from staticflow.framework import attr_value_pb2, graph_pb2, node_def_pb2

    return attr_value_pb2, graph_pb2, node_def_pb2


# ---------------------------------------------------------------------------
# attrs
# ---------------------------------------------------------------------------
def attr_to_proto(value, kind: str):
    attr_value_pb2, _, _ = _pb()
    a = attr_value_pb2.AttrValue()
    if kind == "type":
        a.type = dtypes.as_dtype(value).as_datatype_enum
    elif kind == "int":
        a.i = int(value)
    elif kind == "float":
        a.f = float(value)
    elif kind == "bool":
        a.b = bool(value)
    elif kind == "string":
        a.s = value if isinstance(value, bytes) else str(value).encode()
    elif kind == "shape":
        a.shape.CopyFrom(as_shape(value).as_proto())
    elif kind == "tensor":
        arr = np.asarray(value)
        a.tensor.CopyFrom(tensor_util.make_tensor_proto(arr, dtypes.as_dtype(arr.dtype)))
    elif kind == "list(int)":
        a.list.i.extend(int(v) for v in value)
        a.list.SetInParent()
    elif kind == "list(float)":
        a.list.f.extend(float(v) for v in value)
        a.list.SetInParent()
    elif kind == "list(type)":
        a.list.type.extend(dtypes.as_dtype(v).as_datatype_enum for v in value)
        a.list.SetInParent()
    elif kind == "list(shape)":
        for v in value:
            a.list.shape.add().CopyFrom(as_shape(v).as_proto())
        a.list.SetInParent()
    elif kind == "list(string)":
        a.list.s.extend(v if isinstance(v, bytes) else str(v).encode() for v in value)
        a.list.SetInParent()
    elif kind == "func":
        a.func.name = value.name
    else:
        raise ValueError(f"unknown attr kind {kind!r}")
    return a


def attr_from_proto(a, kind: str, where: str = ""):
    field = a.WhichOneof("value")
    expect = {
        "type": "type",
        "int": "i",
        "float": "f",
        "bool": "b",
        "string": "s",
        "shape": "shape",
        "tensor": "tensor",
        "func": "func",
    }.get(kind, "list")
    if field != expect and not (expect == "list" and field is None):
        raise ValueError(f"{where}: attr should be {kind}, the GraphDef holds {field}")
    if kind == "type":
        return dtypes.as_dtype(a.type)
    if kind == "int":
        return int(a.i)
    if kind == "float":
        return float(a.f)
    if kind == "bool":
        return bool(a.b)
    if kind == "string":
        try:
            return a.s.decode()
        except UnicodeDecodeError:
            return a.s
    if kind == "shape":
        return as_shape(a.shape)
    if kind == "tensor":
        try:  # a splat stays one value until a plan expands it (within the allocation limit)
            return tensor_util.make_ndarray(a.tensor, lazy=True)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    if kind == "list(int)":
        return [int(v) for v in a.list.i]
    if kind == "list(float)":
        return [float(v) for v in a.list.f]
    if kind == "list(type)":
        return [dtypes.as_dtype(v) for v in a.list.type]
    if kind == "list(shape)":
        return [as_shape(v) for v in a.list.shape]
    if kind == "list(string)":
        return [v.decode() for v in a.list.s]
    if kind == "func":
        from staticflow.framework import function_io

        try:
            return function_io.resolve(a.func.name)
        except KeyError as e:
            raise ValueError(f"{where}: {e.args[0]}") from None
    raise ValueError(f"unknown attr kind {kind!r}")


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------
def _input_name(t: fops.Tensor) -> str:
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def node_def_of(op: fops.Operation, add_shapes: bool = False):
    _, _, node_def_pb2 = _pb()
    n = node_def_pb2.NodeDef(name=op.name, op=op.type, device=op.device)
    n.input.extend(_input_name(t) for t in op.inputs)
    n.input.extend("^" + c.name for c in op.control_inputs)
    d = op.op_def
    for a in d.attrs:
        if a.name in op._attrs:
            n.attr[a.name].CopyFrom(attr_to_proto(op._attrs[a.name], a.kind))
    for k, v in op._extra_attrs.items():
        n.attr[k].CopyFrom(v)
    if add_shapes:
        n.attr["_output_shapes"].CopyFrom(attr_to_proto([t.shape for t in op.outputs], "list(shape)"))
    return n


def graph_to_graph_def(graph: fops.Graph, add_shapes: bool = False):
    _, graph_pb2, _ = _pb()
    gd = graph_pb2.GraphDef()
    gd.versions.producer = GRAPH_DEF_VERSION
    for op in graph.get_operations():
        gd.node.add().CopyFrom(node_def_of(op, add_shapes))
    from staticflow.framework import function_io

    function_io.add_library(gd, graph)
    return gd


# ---------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------
def _parse_input(s: str):
    if s.startswith("^"):
        return s[1:], None, True
    name, sep, idx = s.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx), False
    return s, 0, False


def _toposort_nodes(nodes):
    """NodeDefs with producers first (data and control inputs); of the nodes ready at once,
    the earliest in the GraphDef first, as TensorFlow's importer orders them."""
    by_name = {n.name: n for n in nodes}
    if len(by_name) != len(nodes):
        seen, dup = set(), None
        for n in nodes:
            if n.name in seen:
                dup = n.name
            seen.add(n.name)
        raise ValueError(f"GraphDef has two nodes named {dup!r}")
    pos = {n.name: i for i, n in enumerate(nodes)}
    try:
        names = graph_walk.toposort(
            list(by_name), lambda x: [_parse_input(s)[0] for s in by_name[x].input], key=pos.__getitem__
        )
    except ValueError as e:
        raise ValueError(f"GraphDef: {e}") from None
    return [by_name[x] for x in names]


def import_graph_def(
    graph_def, input_map=None, return_elements=None, name=None, op_dict=None, producer_op_list=None
):
    """Add the nodes of `graph_def` to the default graph (TF1 semantics).

    `name` prefixes every imported name (default "import"; "" for none);
    `input_map` maps tensor names of graph_def to existing tensors;
    `return_elements` names the ops/tensors to return.
    """
    g = fops.get_default_graph()
    loc = fops.user_frame()
    if name is None:
        name = "import"
    prefix = ""
    if name:
        with g.name_scope(name) as scope:
            prefix = scope
    input_map = {(k if ":" in k or k.startswith("^") else k + ":0"): v for k, v in (input_map or {}).items()}
    for k, v in input_map.items():
        if not isinstance(v, fops.Tensor):
            raise TypeError(f"input_map value for {k!r} must be a Tensor, got {type(v).__name__}")
    used_keys = set()
    created: dict[str, fops.Operation] = {}
    from staticflow.framework import function_io, functionalize

    if functionalize.has_v1_control_flow(graph_def):  # TF1's Switch/Merge, Enter/Exit frames
        graph_def = functionalize.functionalize(graph_def)
    nodes = list(graph_def.node)

    with function_io.library(graph_def.library if graph_def.HasField("library") else None, g):
        _import_nodes(g, nodes, input_map, used_keys, created, prefix, loc)
    unused = set(input_map) - used_keys
    if unused:
        raise ValueError(
            f"Attempted to map inputs that were not found in graph_def: [{', '.join(sorted(unused))}]"
        )
    if return_elements is None:
        return None
    out = []
    for r in return_elements:
        src, idx, _ = _parse_input(r)
        if src not in created:
            raise ValueError(f"Requested return_element {r!r} not found in graph_def.")
        out.append(created[src].outputs[idx] if ":" in r else created[src])
    return out


def _import_nodes(g, nodes, input_map, used_keys, created, prefix, loc) -> None:
    """Build the NodeDefs `nodes` in graph g (import_graph_def's work)."""
    for n in nodes:
        d = hooks.op_def(n.op)
        if d is None:
            raise ValueError(
                f"NodeDef '{n.name}' uses op '{n.op}', which staticflow does not have "
                f"(while importing a GraphDef)"
            )
        if d.internal:
            raise ValueError(
                f"NodeDef '{n.name}' uses op '{n.op}', which only staticflow's graph compiler makes "
                f"(a fused group); import the graph of the ops it stands for instead"
            )

    def tensor_for(src: str, idx: int) -> fops.Tensor:
        key = f"{src}:{idx}"
        if key in input_map:
            used_keys.add(key)
            return input_map[key]
        op = created.get(src)
        if op is None:
            raise ValueError(f"GraphDef refers to input {src!r}, which is not a node of it")
        if idx >= len(op.outputs):
            raise ValueError(
                f"GraphDef refers to output {idx} of {src!r}, which has {len(op.outputs)} outputs"
            )
        return op.outputs[idx]

    with g.as_default():
        for n in _toposort_nodes(nodes):
            d = hooks.op_def(n.op)
            where = f"node '{n.name}' ({n.op})"
            declared = {a.name: a for a in d.attrs}
            attrs, extra = {}, {}
            for k, v in n.attr.items():
                if k in declared:
                    # the declared kind, range and allowed values, before anything uses the value
                    try:
                        value = attr_from_proto(v, declared[k].kind, where)
                        attrs[k] = hooks.check_attr(declared[k], value)
                    except (TypeError, ValueError) as e:
                        msg = str(e)
                        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None
                elif not k.startswith("_") or k in ("_gradient_op_type", "_recompute_hint"):
                    # (gradient_override_map's mark, and recomputation's: recompute_grad, MANUAL)
                    extra[k] = v
            data, controls = [], []
            for s in n.input:
                src, idx, is_ctrl = _parse_input(s)
                if is_ctrl:
                    if "^" + src in input_map:
                        continue
                    if src not in created:
                        raise ValueError(f"{where}: control input {src!r} is not a node of the GraphDef")
                    controls.append(created[src])
                else:
                    data.append(tensor_for(src, idx))
            grouped, pos = [], 0
            for a in d.inputs:
                if a.is_list:
                    count_attr = a.number_attr or a.type_list_attr
                    if attrs.get(count_attr) is None:
                        raise ValueError(f"{where}: missing attr {count_attr}")
                    k = a.count(attrs)
                    if k < 0 or pos + k > len(data):
                        raise ValueError(
                            f"{where}: attr {count_attr} = {k} does not match its {len(data)} inputs"
                        )
                    grouped.append(data[pos : pos + k])
                    pos += k
                else:
                    if pos >= len(data):
                        raise ValueError(f"{where}: expected {len(d.inputs)} inputs, got {len(data)}")
                    grouped.append(data[pos])
                    pos += 1
            if pos != len(data):
                raise ValueError(f"{where}: expected {pos} inputs, got {len(data)}")
            with g.control_dependencies(controls):
                op = hooks.apply_op(
                    n.op,
                    grouped,
                    attrs,
                    name=prefix + n.name,
                    loc=loc,
                    exact_name=True,
                    extra_attrs=extra,
                    device=n.device,
                )
            created[n.name] = op


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def write_graph(graph_or_graph_def, logdir: str, name: str, as_text: bool = True) -> str:
    """Write a graph as a GraphDef file (text or binary); returns its path. Atomic."""
    from google.protobuf import text_format

    gd = (
        graph_or_graph_def.as_graph_def()
        if isinstance(graph_or_graph_def, fops.Graph)
        else graph_or_graph_def
    )
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, name)
    data = text_format.MessageToString(gd).encode() if as_text else gd.SerializeToString()
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"  # concurrent writers do not collide
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return path


def read_graph(path: str):
    """Read a GraphDef file written in binary or text format.

    A FIFO, device or other non-regular file is refused at once (FailedPreconditionError).
    """
    from google.protobuf import message, text_format

    from staticflow.framework.regular_file import read_regular

    _, graph_pb2, _ = _pb()
    try:
        data = read_regular(path, "a GraphDef file")
    except OSError as e:
        raise OSError(f"cannot read GraphDef file {path}: {e.strerror}") from None
    gd = graph_pb2.GraphDef()
    binary_error = None
    try:
        gd.ParseFromString(data)
        if _looks_valid(gd):
            return gd
    except message.DecodeError as e:
        binary_error = str(e)
    try:
        gd = graph_pb2.GraphDef()
        text_format.Parse(data.decode("utf-8"), gd)
        return gd
    except (UnicodeDecodeError, text_format.ParseError) as e:
        raise ValueError(
            f"{path} is not a GraphDef in binary or text format "
            f"({binary_error or 'binary parse gave no nodes'}; text: {e})"
        ) from None


def _looks_valid(gd) -> bool:
    return all(n.name and n.op for n in gd.node) and (len(gd.node) > 0 or gd.ByteSize() == 0)
