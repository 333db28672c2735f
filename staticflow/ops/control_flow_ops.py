"""Grouping and ordering: group, tuple, with_dependencies."""

from __future__ import annotations

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, builder


def _as_op(x) -> fops.Operation:
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    if isinstance(x, fops.Tensor):
        return x.op
    if isinstance(x, fops.Operation):
        return x
    if hasattr(x, "op") and isinstance(x.op, fops.Operation):
        return x.op
    raise TypeError(f"expected an Operation or Tensor, got {x!r}")


def group(*inputs, name: str | None = None) -> fops.Operation:
    """A NoOp that runs after all `inputs` (ops or tensors, nested lists allowed)."""
    flat = []

    def walk(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
        elif x is not None:
            flat.append(_as_op(x))

    walk(inputs)
    g = flat[0].graph if flat else fops.get_default_graph()
    with g.as_default(), g.control_dependencies(flat):
        return builder.apply_op("NoOp", [], None, name or "group_deps")


def tuple_(tensors, name: str | None = None, control_inputs=None) -> list:
    """Tensors that are only available after all of `tensors` (and control_inputs) are computed."""
    tensors = list(tensors)
    with fops.name_scope(name, "tuple", [t for t in tensors if t is not None]):
        gate = group([t for t in tensors if t is not None] + list(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with fops.control_dependencies([gate]):
                out.append(array_ops.identity(t))
        return out


def with_dependencies(dependencies, output_tensor, name: str | None = None):
    with fops.control_dependencies(dependencies):
        return array_ops.identity(output_tensor, name=name)
