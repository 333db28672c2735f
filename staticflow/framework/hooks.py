"""What the framework needs from the layers above it, registered by them when they load.

The framework (graphs, tensors, GraphDefs) is the bottom layer: it imports nothing
above it. A few of its services still need an upper layer's code: turning a
Python value into a constant op, reading an op's registry record, importing a
GraphDef node through the op builder, drawing a graph. The upper layer installs
those here at import (`staticflow.ops` and `staticflow.viz` do), as TensorFlow's
ops register their tensor conversion functions with its framework. Using a hook
that nothing installed is an error that names the module to import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _missing(name: str, module: str) -> Callable:
    def fail(*args, **kwargs):
        raise RuntimeError(f"{name} needs {module}, which is not imported (import staticflow first)")

    return fail


@dataclass
class Hooks:
    # (value, dtype=None, name=..., _strict=False) -> Tensor: a Const op (ops.array_ops.constant)
    constant: Callable = _missing("converting a value to a tensor", "staticflow.ops.array_ops")
    # (values, dtype, name) -> Tensor: a list holding tensors, stacked (ops.array_ops.autopack)
    autopack: Callable = _missing("packing a list of tensors", "staticflow.ops.array_ops")
    # op type -> its registry record, or None (ops.registry.lookup)
    op_def: Callable = _missing("an op's definition", "staticflow.ops.registry")
    # (Attr, value, what) -> the value checked against its declaration (ops.registry.check_attr)
    check_attr: Callable = _missing("checking an attr", "staticflow.ops.registry")
    # (op_type, inputs, attrs, name=..., ...) -> Operation: the op builder (ops.builder.apply_op)
    apply_op: Callable = _missing("building an op", "staticflow.ops.builder")
    # graph or GraphDef -> graphviz drawing (viz.draw)
    draw: Callable = _missing("drawing a graph", "staticflow.viz")


hooks = Hooks()


def install(**services: Callable) -> None:
    """Install upper-layer services by name (the fields of `Hooks`)."""
    for name, fn in services.items():
        if not hasattr(hooks, name):
            raise AttributeError(f"the framework has no hook named {name!r}")
        setattr(hooks, name, fn)
