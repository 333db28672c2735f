"""What passes share to rewrite an IR: making constants and nodes with inferred shapes,
reading known values, and replacing a node by values that compute the same thing."""

from __future__ import annotations

import numpy as np

from staticflow.compiler.ir import IRGraph, Node, Value
from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import registry


class Rewriter:
    """Edits of one IR for one pass; counts the nodes it replaced."""

    def __init__(self, ir: IRGraph, ctx):
        self.ir = ir
        self.ctx = ctx
        self.changed = 0
        self.added = 0  # nodes made by `add` (a rule's new op, which the walk that made it skips)

    def known(self, v: Value):
        """The value of `v` when it is a constant, else None."""
        return v.node.attrs["value"] if v.node.type == "Const" else None

    def const(self, value, dtype: dtypes.DType, origin=(), name: str = "Const", control=()) -> Value:
        arr = np.asarray(value, dtype=dtype.np)
        n = self.ir.add(
            "Const", (), {"value": arr, "dtype": dtype}, [arr.shape], [dtype], origin, name, control
        )
        self.ctx.evaluator.known[n.output(0)] = arr
        return n.output(0)

    def add(self, op_type: str, inputs, attrs: dict, origin=(), name: str | None = None) -> Node:
        """A node of a registered op, its attrs completed with defaults and its output shapes
        inferred from its inputs' concrete shapes (host inputs must be constants)."""
        d = registry.get(op_type)
        attrs = dict(attrs)
        for a in d.attrs:
            if a.name not in attrs and a.default is not registry.REQUIRED:
                attrs[a.name] = a.default
        inputs = list(inputs)

        def value(i):
            return self.known(inputs[i])

        sctx = registry.ShapeContext(
            d,
            name or op_type,
            [v.shape for v in inputs],
            [v.dtype for v in inputs],
            attrs,
            value,
            planning=True,
        )
        shapes = [tuple(TensorShape(s).as_list()) for s in d.shape_fn(sctx)]
        from staticflow.ops import builder

        out_dtypes = builder.output_dtypes(d, attrs)
        self.added += 1
        return self.ir.add(op_type, inputs, attrs, shapes, out_dtypes, origin, name or op_type)

    def replace(self, node: Node, values: list[Value]) -> None:
        """Readers of node's outputs read `values`; its control users wait for the nodes
        that compute them; the node goes (its own control inputs move to those nodes, so
        that what it waited for still runs first)."""
        ir = self.ir
        for j, v in enumerate(values):
            ir.replace_uses(node.output(j), v)
        if node.control:
            targets = {v.node.id: v.node for v in values}
            for t in targets.values():
                for c in node.control:
                    if c is not t:
                        ir.add_control(t, c)
        if values and (node.control_users or node in ir.targets):
            ir.move_control(node, values[0].node)
        if not node.has_users() and node not in ir.targets and not ir.is_fetched(node):
            ir.remove(node)
        self.changed += 1
