"""FuncGraph <-> FunctionDef, and a GraphDef's function library.

Export writes every function an op names in a func attr (a cond's branches, a loop's
body), and the functions those name, into `GraphDef.library` as TensorFlow writes
them: arguments by name, node inputs `node:output_arg:index`, `ret` and
`control_ret`, and each argument's static shape in `arg_attr` `_output_shapes`.
Import makes a FuncGraph of each FunctionDef a node names, once per import
(`library` holds the FunctionDefs while `resolve` is asked for them by name).
"""

from __future__ import annotations

import contextlib
import re
import threading

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.func_graph import FuncGraph, functions_of
from staticflow.framework.hooks import hooks
from staticflow.framework.tensor_shape import TensorShape, as_shape

_local = threading.local()


def _arg_name(name: str, taken: set) -> str:
    """A FunctionDef argument name (TensorFlow's: lower case, [a-z0-9_]) not yet taken."""
    base = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_") or "arg"
    if not base[0].isalpha():
        base = "arg_" + base
    out, i = base, 0
    while out in taken:
        i += 1
        out = f"{base}_{i}"
    taken.add(out)
    return out


def _output_refs(op: fops.Operation) -> list[str]:
    """`node:output_arg:index` for each output of op, as a FunctionDef names it."""
    refs = []
    for arg in op.op_def.outputs:
        for k in range(arg.count(op._attrs)):
            refs.append(f"{op.name}:{arg.name}:{k}")
    return refs


def to_function_def(fg: FuncGraph):
    """The FunctionDef of function graph `fg`."""
    from staticflow.framework import function_pb2, graph_io

    fd = function_pb2.FunctionDef()
    fd.signature.name = fg.name
    taken: set = set()
    ref: dict[fops.Tensor, str] = {}
    for i, t in enumerate(fg.inputs):
        a = fd.signature.input_arg.add()
        a.name = _arg_name(t.op.name, taken)
        a.type = t.dtype.as_datatype_enum
        ref[t] = a.name
        fd.arg_attr[i].attr["_output_shapes"].CopyFrom(graph_io.attr_to_proto([t.shape], "list(shape)"))
    args = {t.op for t in fg.inputs}
    for op in fg.get_operations():
        if op in args:
            continue
        n = graph_io.node_def_of(op)
        del n.input[:]
        n.input.extend(ref.get(t) or _output_refs(t.op)[t.value_index] for t in op.inputs)
        n.input.extend("^" + c.name for c in op.control_inputs)
        fd.node_def.add().CopyFrom(n)
    out_taken: set = set()
    for j, t in enumerate(fg.outputs):
        a = fd.signature.output_arg.add()
        a.name = _arg_name(f"output_{j}", out_taken)
        a.type = t.dtype.as_datatype_enum
        fd.ret[a.name] = ref.get(t) or _output_refs(t.op)[t.value_index]
    for op in fg.control_outputs:
        fd.signature.control_output.append(op.name)
        fd.control_ret[op.name] = op.name
    return fd


def add_library(gd, graph: fops.Graph) -> None:
    """Add the FunctionDefs of every function `graph` calls to `gd.library`."""
    have = {f.signature.name for f in gd.library.function}
    for fg in functions_of(graph):
        if fg.name not in have:
            gd.library.function.add().CopyFrom(to_function_def(fg))
            have.add(fg.name)


class _Library:
    def __init__(self, library, graph):
        self.defs = {f.signature.name: f for f in library.function} if library is not None else {}
        self.graph = graph
        self.made: dict[str, FuncGraph] = {}


@contextlib.contextmanager
def library(lib, graph: fops.Graph):
    """While importing into `graph`: resolve function names against FunctionDef library `lib`
    (None: only the functions of an enclosing import)."""
    stack = _stack()
    stack.append(_Library(lib, graph))
    try:
        yield
    finally:
        stack.pop()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def resolve(name: str) -> FuncGraph:
    """The FuncGraph of function `name` of the library being imported (KeyError if none)."""
    for lib in reversed(_stack()):
        if name in lib.made:
            return lib.made[name]
        if name in lib.defs:
            fg = from_function_def(lib.defs[name], lib.graph)
            lib.made[name] = fg
            return fg
    raise KeyError(f"function {name!r} is not in the GraphDef's library")


def _parse_ref(s: str):
    """(node, output arg or None, index, is_control) of a FunctionDef input string."""
    if s.startswith("^"):
        return s[1:], None, 0, True
    parts = s.split(":")
    if len(parts) == 3 and parts[2].isdigit():
        return parts[0], parts[1], int(parts[2]), False
    if len(parts) == 2 and parts[1].isdigit():
        return parts[0], None, int(parts[1]), False
    return s, None, 0, False


def from_function_def(fd, outer: fops.Graph | None = None) -> FuncGraph:
    """A FuncGraph built from FunctionDef `fd` (its nested functions resolved by name)."""
    from staticflow.framework import graph_io, graph_pb2

    sig = fd.signature
    where = f"function '{sig.name}'"
    fg = FuncGraph(sig.name, outer)
    args: dict[str, fops.Tensor] = {}
    for i, a in enumerate(sig.input_arg):
        if a.type == 0:
            raise ValueError(f"{where}: argument {a.name} has no fixed type ({a.type_attr or 'polymorphic'})")
        shape = TensorShape(None)
        if i in fd.arg_attr and "_output_shapes" in fd.arg_attr[i].attr:
            shapes = fd.arg_attr[i].attr["_output_shapes"].list.shape
            if len(shapes) == 1:
                shape = as_shape(shapes[0])
        args[a.name] = fg.add_input(dtypes.as_dtype(a.type), shape, name=a.name)
    # the nodes as a GraphDef whose inputs name flat output indices; the arguments as input_map
    by_name = {n.name: n for n in fd.node_def}
    gd = graph_pb2.GraphDef()
    for n in fd.node_def:
        m = gd.node.add()
        m.CopyFrom(n)
        del m.input[:]
        for s in n.input:
            m.input.append(_flat_ref(s, by_name, args, where))
    input_map = {f"{name}:0": t for name, t in args.items()}
    used = {s.split(":")[0] for n in gd.node for s in n.input}
    input_map = {k: v for k, v in input_map.items() if k.split(":")[0] in used}
    with fg.as_default():
        graph_io.import_graph_def(gd, input_map=input_map, name="")
    for a in sig.output_arg:
        if a.name not in fd.ret:
            raise ValueError(f"{where}: output {a.name} has no ret entry")
        fg.outputs.append(_tensor_of(fg, _flat_ref(fd.ret[a.name], by_name, args, where), args))
    for name in fd.control_ret.values():
        fg.control_outputs.append(fg.get_operation_by_name(name))
    return fg


def _flat_ref(s: str, by_name: dict, args: dict, where: str) -> str:
    """A FunctionDef input string as a GraphDef's: `node:k` with k the flat output index."""
    node, arg, idx, ctrl = _parse_ref(s)
    if ctrl:
        return s
    if node in args and arg is None:
        return f"{node}:0"
    n = by_name.get(node)
    if n is None:
        raise ValueError(f"{where}: input {s!r} names no node or argument")
    if arg is None:
        return f"{node}:{idx}"
    d = hooks.op_def(n.op)
    if d is None:
        raise ValueError(f"{where}: node '{node}' uses op '{n.op}', which staticflow does not have")
    attrs = {}
    for a in d.attrs:
        if a.name in n.attr and a.kind in ("int", "list(type)"):
            v = n.attr[a.name]
            attrs[a.name] = int(v.i) if a.kind == "int" else list(v.list.type)
    flat = 0
    for o in d.outputs:
        if o.name == arg:
            return f"{node}:{flat + idx}"
        try:
            flat += o.count(attrs)
        except KeyError:
            raise ValueError(f"{where}: cannot count the outputs of node '{node}' ({n.op})") from None
    raise ValueError(f"{where}: node '{node}' ({n.op}) has no output named {arg!r}")


def _tensor_of(fg: FuncGraph, s: str, args: dict) -> fops.Tensor:
    name, _, idx = s.rpartition(":")
    return fg.get_tensor_by_name(f"{name}:{idx}")
