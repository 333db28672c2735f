"""Function graphs: the graphs a cond's branches and a while loop's body are built in.

A `FuncGraph` is a Graph of its own (TensorFlow's control flow v2 form): ops created
while it is the default graph belong to it, its arguments are Placeholders
(`inputs`), and it returns `outputs`. A tensor of an enclosing graph used inside is
*captured*: the function gets one more argument standing for it, and the op that
calls the function (If, While) passes the outer tensor as one more input
(`captures` pairs them, in order). A variable written inside (an Assign) is
declared again inside under its own name, so that it is the same session storage;
a variable read inside is its read snapshot, captured as a value.

Functions serialize to TensorFlow's FunctionDef (`to_function_def`,
`from_function_def`) in a GraphDef's library: inputs named by argument,
`node:output_arg:index` references, `ret` and `control_ret` maps, and each
argument's shape in `arg_attr` `_output_shapes`, as TensorFlow writes them, so
TensorFlow's functional If/While GraphDefs import.
"""

from __future__ import annotations

import itertools
import re

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.hooks import hooks
from staticflow.framework.tensor_shape import TensorShape

_UIDS = itertools.count(1)


def unique_function_name(base: str) -> str:
    """A function name unique in this process (`cond_true_4`, as TensorFlow's)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_") or "fn"
    return f"{base}_{next(_UIDS)}"


class FuncGraph(fops.Graph):
    """The graph of one function: arguments, outputs, and the outer tensors it captures."""

    def __init__(self, name: str, outer_graph: fops.Graph | None = None):
        super().__init__()
        self.name = name
        self.outer_graph = outer_graph
        self.inputs: list[fops.Tensor] = []
        self.outputs: list[fops.Tensor] = []
        self.control_outputs: list[fops.Operation] = []
        self.captures: list[tuple[fops.Tensor, fops.Tensor]] = []  # (outer, inner placeholder)
        self._captured: dict[fops.Tensor, fops.Tensor] = {}
        self.structured_outputs = None
        if outer_graph is not None:
            self._seed = outer_graph.seed
            self._gradient_override_map = dict(outer_graph._gradient_override_map)

    @property
    def building_function(self) -> bool:
        return True

    def add_input(self, dtype, shape=None, name: str = "arg") -> fops.Tensor:
        """One more argument: a Placeholder of this dtype and (static) shape."""
        shape = TensorShape(None) if shape is None else shape
        with self.as_default(), self.control_dependencies(None):
            op = hooks.apply_op(
                "Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": shape}, name=name
            )
        t = op.outputs[0]
        self.inputs.append(t)
        return t

    def is_ancestor(self, g: fops.Graph) -> bool:
        """Whether `g` encloses this function (an outer graph, at any depth)."""
        outer = self.outer_graph
        while outer is not None:
            if outer is g:
                return True
            outer = getattr(outer, "outer_graph", None)
        return False

    def capture(self, t: fops.Tensor) -> fops.Tensor:
        """The tensor standing for outer tensor `t` inside this function (made on first use)."""
        if t.graph is self:
            return t
        got = self._captured.get(t)
        if got is not None:
            return got
        if not self.is_ancestor(t.graph):
            raise ValueError(
                f"Tensor {t.name} is from a graph that neither is nor encloses the function "
                f"{self.name} being built"
            )
        outer = t
        if t.graph is not self.outer_graph:  # through the enclosing function first
            outer = self.outer_graph.capture(t)
        if outer.op.type == "VariableV2":  # a variable written here: the same storage, by name
            inner = self._declare_variable(outer.op)
        else:
            name = re.sub(r"[^A-Za-z0-9_.]", "_", outer.op.name)
            inner = self.add_input(outer.dtype, outer.shape, name=name)
            self.captures.append((outer, inner))
        self._captured[t] = inner
        return inner

    def _declare_variable(self, var: fops.Operation) -> fops.Tensor:
        if var.name in self._ops:
            op = self._ops[var.name]
            if op.type != "VariableV2":
                raise ValueError(
                    f"function {self.name} writes variable {var.name}, but an op of that name "
                    f"({op.type}) exists in it already"
                )
            return op.outputs[0]
        with self.as_default(), self.control_dependencies(None):
            op = hooks.apply_op(
                "VariableV2", [], var.attrs, name=var.name, exact_name=True, device=var.device
            )
        return op.outputs[0]

    def variables(self) -> list[fops.Operation]:
        """The variables the function declares (those it writes)."""
        return [op for op in self.get_operations() if op.type == "VariableV2"]


def copy_body(
    fg: FuncGraph, inputs: list, name_prefix: str = "", replace: dict | None = None
) -> tuple[list, list]:
    """Build `fg`'s ops again in the default graph with `inputs` for its arguments;
    returns (its outputs there, its control outputs there). The ops keep their names
    (uniquified there, under `name_prefix`) and attrs. `replace` maps more of fg's tensors
    to tensors standing for them: then only the ops the outputs and control outputs still
    need are built (an argument only replaced tensors read may be None in `inputs`)."""
    mapped, done = copy_ops(fg, inputs, name_prefix, replace)
    return [mapped[t] for t in fg.outputs], [done[o] for o in fg.control_outputs if o in done]


def copy_ops(
    fg: FuncGraph, inputs: list, name_prefix: str = "", replace: dict | None = None
) -> tuple[dict, dict]:
    """`copy_body`'s work: returns ({fg tensor: its copy}, {fg op: its copy}) for every op
    built, so that a caller can use the copy of any intermediate (a loop's gradient
    accumulates some)."""
    g = fops.get_default_graph()
    if len(inputs) != len(fg.inputs):
        raise ValueError(f"function {fg.name} takes {len(fg.inputs)} arguments, got {len(inputs)}")
    mapped: dict[fops.Tensor, fops.Tensor] = dict(zip(fg.inputs, inputs))
    done: dict[fops.Operation, fops.Operation] = {}
    args = {t.op for t in fg.inputs}
    needed = None
    if replace:
        from staticflow.framework.graph_walk import prune_ops

        mapped.update(replace)
        needed = set(prune_ops(fg.outputs, fg.control_outputs, set(mapped)))
    for op in fg.get_operations():  # creation order is a topological order
        if op in args or (needed is not None and op not in needed):
            continue
        if op.type == "VariableV2":  # the same storage, found by name where the copy is made
            done[op] = _variable_in(g, op.name).op
            mapped[op.outputs[0]] = done[op].outputs[0]
            continue
        new = copy_op(
            op, [mapped[t] for t in op.inputs], [done[c] for c in op.control_inputs if c in done], name_prefix
        )
        done[op] = new
        for a, b in zip(op.outputs, new.outputs):
            mapped[a] = b
    return mapped, done


def copy_op(op: fops.Operation, inputs: list, controls: list, name_prefix: str = "") -> fops.Operation:
    """`op` built again in the default graph on `inputs` (flat, in its order), after the
    ops `controls`: same type, attrs and name (uniquified, under `name_prefix`)."""
    g = fops.get_default_graph()
    grouped, pos = [], 0
    for a in op.op_def.inputs:
        if a.is_list:
            k = a.count(op._attrs)
            grouped.append(inputs[pos : pos + k])
            pos += k
        else:
            grouped.append(inputs[pos])
            pos += 1
    with g.control_dependencies(controls):
        return hooks.apply_op(
            op.type,
            grouped,
            op.attrs,
            name=name_prefix + op.name,
            extra_attrs=op._extra_attrs,
            device=op.device or None,
        )


def _variable_in(g: fops.Graph, name: str) -> fops.Tensor:
    """The tensor of variable `name` as graph `g` sees it: its own VariableV2 op, or one of
    an enclosing graph's, captured."""
    outer = g
    while outer is not None:
        op = outer._ops.get(name)
        if op is not None and op.type == "VariableV2":
            return g.capture(op.outputs[0]) if outer is not g else op.outputs[0]
        outer = getattr(outer, "outer_graph", None)
    raise ValueError(f"variable {name} is not in the graph a function's body is copied into")


def functions_of(graph: fops.Graph) -> list[FuncGraph]:
    """The functions graph's ops name in their func attrs, and theirs, each once (callees
    first)."""
    out: list[FuncGraph] = []
    seen: set[int] = set()

    def visit(g):
        for op in g.get_operations():
            for v in op._attrs.values():
                if isinstance(v, FuncGraph) and id(v) not in seen:
                    seen.add(id(v))
                    visit(v)
                    out.append(v)

    visit(graph)
    return out
