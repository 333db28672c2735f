"""Variable scopes and get_variable (TF1's sharing mechanism).

A variable scope prefixes the names get_variable creates and says whether an
existing variable of that name may be reused. Each graph keeps its variables
by full name, so `get_variable("w")` inside `variable_scope("layer", reuse=True)`
returns the variable "layer/w" made earlier.
"""

from __future__ import annotations

import contextlib

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import as_shape
from staticflow.ops import init_ops, state_ops


class _ReuseMode:
    def __repr__(self) -> str:
        return "AUTO_REUSE"


AUTO_REUSE = _ReuseMode()


class VariableScope:
    """A scope's name and the defaults it gives get_variable."""

    def __init__(
        self,
        reuse,
        name: str = "",
        initializer=None,
        regularizer=None,
        dtype=dtypes.float32,
        name_scope: str = "",
    ):
        self.name = name
        self.reuse = reuse
        self.initializer = initializer
        self.regularizer = regularizer
        self.dtype = dtypes.as_dtype(dtype)
        self.original_name_scope = name_scope

    def reuse_variables(self) -> None:
        """Reuse variables in this scope from now on."""
        self.reuse = True

    def set_initializer(self, initializer) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self.regularizer = regularizer

    def get_variable(
        self,
        name,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=True,
        collections=None,
        **kwargs,
    ):
        return _get_variable(self, name, shape, dtype, initializer, regularizer, trainable, collections)

    def __repr__(self) -> str:
        return f"<VariableScope '{self.name}' reuse={self.reuse}>"


class _Store:
    """Per-graph state: variables by full name, the scope stack, default-name counters."""

    def __init__(self):
        self.vars: dict[str, state_ops.Variable] = {}
        self.stack: list[VariableScope] = [VariableScope(False)]
        self.counts: dict[str, int] = {}


def _store(g: fops.Graph | None = None) -> _Store:
    g = g or fops.get_default_graph()
    st = getattr(g, "_variable_store", None)
    if st is None:
        st = g._variable_store = _Store()
    return st


def get_variable_scope() -> VariableScope:
    return _store().stack[-1]


@contextlib.contextmanager
def variable_scope(
    name_or_scope,
    default_name=None,
    values=None,
    initializer=None,
    regularizer=None,
    caching_device=None,
    partitioner=None,
    custom_getter=None,
    reuse=None,
    dtype=None,
    use_resource=None,
    constraint=None,
    auxiliary_name_scope=True,
):
    """Open a variable scope (and a name scope of the same name)."""
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if reuse is False:
        reuse = None  # TF: reuse=False means "inherit"
    g = fops.get_default_graph()
    st = _store(g)
    parent = st.stack[-1]
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
        ns = name_or_scope.original_name_scope
        base = name_or_scope
    else:
        if name_or_scope is None:
            prefix = parent.name + "/" if parent.name else ""
            key = prefix + default_name
            n = st.counts.get(key, 0)
            st.counts[key] = n + 1
            local = default_name if n == 0 else f"{default_name}_{n}"
        else:
            local = name_or_scope
        full = (parent.name + "/" + local) if parent.name else local
        ns = None
        base = parent
    if reuse is not None:
        new_reuse = reuse
    elif parent.reuse is True:
        new_reuse = True  # reuse is inherited by nested scopes
    elif isinstance(name_or_scope, VariableScope):
        new_reuse = name_or_scope.reuse
    else:
        new_reuse = parent.reuse
    scope = VariableScope(
        new_reuse,
        full,
        initializer if initializer is not None else base.initializer,
        regularizer if regularizer is not None else base.regularizer,
        dtype if dtype is not None else base.dtype,
    )
    st.stack.append(scope)
    try:
        if not auxiliary_name_scope:
            scope.original_name_scope = ns or ""
            yield scope
        elif ns is not None:
            with g.name_scope(ns or None) as s:
                scope.original_name_scope = s
                yield scope
        else:
            local_name = full.rsplit("/", 1)[-1]
            with g.name_scope(local_name) as s:
                scope.original_name_scope = s
                yield scope
    finally:
        st.stack.pop()


def _default_initializer(dt: dtypes.DType):
    if dt.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dt.is_integer or dt is dtypes.bool_:
        return init_ops.zeros_initializer(dt)
    raise ValueError(f"An initializer for variable of type {dt.name} is required")


def _get_variable(scope: VariableScope, name, shape, dtype, initializer, regularizer, trainable, collections):
    g = fops.get_default_graph()
    st = _store(g)
    full = f"{scope.name}/{name}" if scope.name else name
    reuse = scope.reuse
    if full in st.vars:
        if reuse is None or reuse is False:
            raise ValueError(
                f"Variable {full} already exists, disallowed. Did you mean to set reuse=True or "
                f"reuse=sf.AUTO_REUSE in VarScope? Originally defined at "
                f"{fops.format_location(st.vars[full].op.location)}"
            )
        v = st.vars[full]
        if shape is not None and not as_shape(shape).is_compatible_with(v.shape):
            raise ValueError(
                f"Trying to share variable {full}, but specified shape {as_shape(shape)} and found "
                f"shape {v.shape}."
            )
        if dtype is not None and dtypes.as_dtype(dtype) != v.dtype:
            raise ValueError(
                f"Trying to share variable {full}, but specified dtype {dtypes.as_dtype(dtype).name} "
                f"and found dtype {v.dtype.name}."
            )
        return v
    if reuse is True:
        raise ValueError(
            f"Variable {full} does not exist, or was not created with sf.get_variable(). Did you "
            f"mean to set reuse=sf.AUTO_REUSE in VarScope?"
        )
    dt = dtypes.as_dtype(dtype) if dtype is not None else scope.dtype
    if dtype is None and isinstance(initializer, (fops.Tensor, np.ndarray, np.generic)):
        dt = dtypes.as_dtype(initializer.dtype)  # TF: a tensor or array initializer gives the type
    init = initializer if initializer is not None else scope.initializer
    if init is None:
        init = _default_initializer(dt)
    with fops.name_scope(None):
        if isinstance(init, fops.Tensor):
            value = init
            if shape is not None and not as_shape(shape).is_compatible_with(init.shape):
                raise ValueError(
                    f"initializer of shape {init.shape} does not match the shape {as_shape(shape)}"
                )
        elif callable(init):
            if shape is None:
                raise ValueError(
                    f"Shape of a new variable ({full}) must be fully defined, but instead was None."
                )
            s = as_shape(shape)
            if not s.is_fully_defined():
                raise ValueError(
                    f"Shape of a new variable ({full}) must be fully defined, but instead was {s}."
                )
            with fops.name_scope(full + "/Initializer"):
                value = init(s.as_list(), dtype=dt) if not isinstance(init, type) else init()(s.as_list(), dt)
        else:
            arr = np.asarray(init)
            value = (
                arr.astype(dt.np)
                if shape is None
                else np.broadcast_to(arr, as_shape(shape).as_list()).astype(dt.np)
            )
        v = state_ops.Variable(value, trainable=trainable, collections=collections, name=full, dtype=dt)
    st.vars[full] = v
    reg = regularizer if regularizer is not None else scope.regularizer
    if reg is not None:
        with fops.name_scope(full + "/Regularizer/"):
            loss = reg(v)
        if loss is not None:
            g.add_to_collection(fops.GraphKeys.REGULARIZATION_LOSSES, loss)
    return v


def get_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    custom_getter=None,
    constraint=None,
    **kwargs,
) -> state_ops.Variable:
    """Get an existing variable of this scope, or create a new one (TF1 semantics)."""
    if trainable is None:
        trainable = True
    return _get_variable(
        get_variable_scope(), name, shape, dtype, initializer, regularizer, trainable, collections
    )


def global_variables_by_name(graph=None) -> dict:
    """The variables get_variable created, by full name."""
    return dict(_store(graph).vars)
