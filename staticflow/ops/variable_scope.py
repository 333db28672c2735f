"""Variable scopes and get_variable (TF1's sharing mechanism).

A variable scope prefixes the names get_variable creates and says whether an
existing variable of that name may be reused. Each graph keeps its variables
by full name, so `get_variable("w")` inside `variable_scope("layer", reuse=True)`
returns the variable "layer/w" made earlier.

Default scope names (`variable_scope(None, default_name="dense")`) are counted
per enclosing variable scope, and the counts of a scope's sub-scopes are reset
when that scope is left, exactly as TF1 does: re-entering `variable_scope("net",
reuse=True)` and building the same layers again yields the same names
("net/dense", "net/dense_1", ...), so the second build reuses the first's
variables.
"""

from __future__ import annotations

import contextlib
import functools
import re

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
        custom_getter=None,
        caching_device=None,
        partitioner=None,
        use_resource=None,
        constraint=None,
    ):
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"custom_getter must be callable, got {custom_getter!r}")
        self.name = name
        self.reuse = reuse
        self.initializer = initializer
        self.regularizer = regularizer
        self.dtype = dtypes.as_dtype(dtype)
        self.original_name_scope = name_scope
        self.custom_getter = custom_getter
        self.caching_device = caching_device
        self.partitioner = partitioner
        self.use_resource = use_resource
        self.constraint = constraint

    def reuse_variables(self) -> None:
        """Reuse variables in this scope from now on."""
        self.reuse = True

    def set_initializer(self, initializer) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self.regularizer = regularizer

    def set_dtype(self, dtype) -> None:
        self.dtype = dtypes.as_dtype(dtype)

    def set_custom_getter(self, custom_getter) -> None:
        self.custom_getter = custom_getter

    def set_caching_device(self, caching_device) -> None:
        self.caching_device = caching_device

    def set_partitioner(self, partitioner) -> None:
        self.partitioner = partitioner

    def set_use_resource(self, use_resource) -> None:
        self.use_resource = use_resource

    def get_variable(
        self,
        name,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=True,
        collections=None,
        reuse=None,
        custom_getter=None,
        **kwargs,
    ):
        """get_variable in this scope (its reuse, defaults and custom getter)."""
        return _get_variable(
            self, name, shape, dtype, initializer, regularizer, trainable, collections, reuse, custom_getter
        )

    def __repr__(self) -> str:
        return f"<VariableScope '{self.name}' reuse={self.reuse}>"


_MISSING = object()
_NUMBERED = re.compile(r"^(.*)_([0-9]+)$")


class _Store:
    """Per-graph state: variables by full name, the scope stack, and how many
    times each variable scope name has been opened (TF1's scope counts).

    The counts behave as TF1's dict of counts, without its costs that grow with the
    number of scopes (a deep network opens thousands): re-entering a captured scope
    keeps an undo log of the counts it changes instead of a copy of all of them,
    leaving a scope resets its sub-scopes found through an index of children instead
    of a scan of every name, and default names resume their search for a free
    number where the last one ended.
    """

    def __init__(self):
        self.vars: dict[str, state_ops.Variable] = {}
        self.stack: list[VariableScope] = [VariableScope(False)]
        self.counts: dict[str, int] = {}
        self._children: dict[str, set[str]] = {}  # scope name -> names opened directly inside it
        self._undo: list[dict] = []  # per re-entered captured scope: count -> value before
        self._next_free: dict[str, int] = {}  # base -> no number below this is free for it

    def _set(self, key: str, value: int) -> None:
        if self._undo and key not in self._undo[-1]:
            self._undo[-1][key] = self.counts.get(key, _MISSING)
        self.counts[key] = value
        if not value:
            self._freed(key)

    def _freed(self, key: str) -> None:
        m = _NUMBERED.match(key)
        if m is not None:
            base, i = m.group(1), int(m.group(2))
            if self._next_free.get(base, 1) > i:
                self._next_free[base] = i

    def open(self, name: str) -> int:
        """Count one more opening of scope `name`; returns how many came before."""
        n = self.counts.get(name, 0)
        self._set(name, n + 1)
        child = name
        while child:  # index it under its parent (and the parents, the first time)
            parent = child.rpartition("/")[0]
            kids = self._children.setdefault(parent, set())
            if child in kids:
                break
            kids.add(child)
            child = parent
        return n

    def close_subscopes(self, name: str) -> None:
        """Reset the counts of every scope below `name` (TF's close_variable_subscopes)."""
        todo = list(self._children.get(name, ()))
        while todo:
            k = todo.pop()
            if self.counts.get(k, 0):
                self._set(k, 0)
            todo.extend(self._children.get(k, ()))

    def begin_captured(self) -> None:
        """Entering a captured scope: the counts are restored when it is left (TF1)."""
        self._undo.append({})

    def end_captured(self) -> None:
        for key, old in self._undo.pop().items():
            if old is _MISSING:
                del self.counts[key]
                self._freed(key)
            else:
                self.counts[key] = old
                if not old:
                    self._freed(key)

    def unique_default(self, parent: VariableScope, prefix: str) -> str:
        """`prefix`, or prefix_1, prefix_2, ... not yet opened in `parent`."""
        base = f"{parent.name}/{prefix}" if parent.name else prefix
        if self.counts.get(base, 0) == 0:
            return prefix
        i = self._next_free.get(base, 1)
        while self.counts.get(f"{base}_{i}", 0) > 0:
            i += 1
        self._next_free[base] = i
        return f"{prefix}_{i}"


def _home_graph(g: fops.Graph) -> fops.Graph:
    """The graph that holds `g`'s variables: `g` itself, or for a function being built (a
    loop's body, a cond's branch) the outermost graph enclosing it."""
    while getattr(g, "outer_graph", None) is not None:
        g = g.outer_graph
    return g


def _store(g: fops.Graph | None = None) -> _Store:
    # A function shares the store (variables and variable scopes) of the graph it is built in,
    # as TensorFlow's function graphs share its collections: a cell called in a loop's body
    # finds and makes its variables under the scopes entered outside.
    g = _home_graph(g or fops.get_default_graph())
    st = getattr(g, "_variable_store", None)
    if st is None:
        st = g._variable_store = _Store()
    return st


def get_variable_scope() -> VariableScope:
    return _store().stack[-1]


def _wrap_custom_getter(custom_getter, old_getter):
    """Nest getters: the inner scope's getter receives the outer one as its `getter`."""
    if custom_getter is None:
        return old_getter
    if old_getter is None:
        return custom_getter

    def wrapped(getter, *args, **kwargs):
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)

    return wrapped


@contextlib.contextmanager
def _nothing():
    yield None


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
    """Open a variable scope and, unless auxiliary_name_scope=False, a name scope.

    `name_or_scope` is a string (a sub-scope of the current one), a
    VariableScope captured earlier (re-entered under its own name), or None
    with `default_name` (made unique among the current scope's sub-scopes).
    """
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if name_or_scope is not None and not isinstance(name_or_scope, (VariableScope, str)):
        raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
    if reuse is False:
        reuse = None  # TF: reuse=False means "inherit"
    if custom_getter is not None and not callable(custom_getter):
        raise ValueError(f"The custom_getter must be callable, got {custom_getter!r}")
    g = fops._graph_from(values)
    st = _store(g)
    parent = st.stack[-1]
    if not auxiliary_name_scope:
        # re-enter the current name scope (a name ending in "/" is taken as is)
        cur = g.get_name_scope()
        ns_cm = g.name_scope(cur + "/" if cur else "")
    elif name_or_scope is None:
        if reuse:
            raise ValueError("reuse=True cannot be used without a name_or_scope")
        ns_cm = g.name_scope(default_name)
    else:
        local = name_or_scope if isinstance(name_or_scope, str) else name_or_scope.name.split("/")[-1]
        ns_cm = g.name_scope(local) if local else _nothing()
    with ns_cm as current_ns:
        if isinstance(name_or_scope, VariableScope):
            base = name_or_scope
            scope = VariableScope(
                reuse if reuse else base.reuse,
                base.name,
                base.initializer,
                base.regularizer,
                base.dtype,
                base.original_name_scope,
                base.custom_getter,
                base.caching_device,
                base.partitioner,
                base.use_resource,
                constraint,
            )
        else:
            if name_or_scope is None:
                local = st.unique_default(parent, default_name)
            else:
                local = name_or_scope
            base = parent
            scope = VariableScope(
                reuse or parent.reuse,
                f"{parent.name}/{local}" if parent.name else local,
                parent.initializer,
                parent.regularizer,
                parent.dtype,
                current_ns if current_ns is not None else local,
                parent.custom_getter,
                parent.caching_device,
                parent.partitioner,
                parent.use_resource,
                parent.constraint,
            )
            if constraint is not None:
                scope.constraint = constraint
        if initializer is not None:
            scope.initializer = initializer
        if regularizer is not None:
            scope.regularizer = regularizer
        if dtype is not None:
            scope.dtype = dtypes.as_dtype(dtype)
        if caching_device is not None:
            scope.caching_device = caching_device
        if partitioner is not None:
            scope.partitioner = partitioner
        if use_resource is not None:
            scope.use_resource = use_resource
        scope.custom_getter = _wrap_custom_getter(custom_getter, base.custom_getter)
        st.open(scope.name)
        captured = isinstance(name_or_scope, VariableScope)
        if captured:
            st.begin_captured()
        st.stack.append(scope)
        try:
            yield scope
        finally:
            st.stack.pop()
            if captured:
                st.end_captured()
            else:
                st.close_subscopes(scope.name)


def _default_initializer(dt: dtypes.DType):
    if dt.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dt.is_integer or dt is dtypes.bool_:
        return init_ops.zeros_initializer(dt)
    raise ValueError(f"An initializer for variable of type {dt.name} is required")


def _get_variable(
    scope: VariableScope,
    name,
    shape,
    dtype,
    initializer,
    regularizer,
    trainable,
    collections,
    reuse=None,
    custom_getter=None,
):
    """Resolve the scope's defaults, then call the custom getter chain (if any) or the store."""
    full = f"{scope.name}/{name}" if scope.name else name
    if reuse is None:
        reuse = scope.reuse
    if initializer is None:
        initializer = scope.initializer
    if regularizer is None:
        regularizer = scope.regularizer
    if dtype is None and isinstance(initializer, (fops.Tensor, np.ndarray, np.generic)):
        dtype = dtypes.as_dtype(initializer.dtype)  # TF: a tensor or array initializer gives the type
    if dtype is None:
        dtype = scope.dtype
    getter = _wrap_custom_getter(custom_getter, scope.custom_getter)
    if getter is None:
        return _true_getter(full, shape, dtype, initializer, regularizer, reuse, trainable, collections)
    return getter(
        getter=_true_getter,
        name=full,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        reuse=reuse,
        trainable=trainable,
        collections=collections,
        caching_device=scope.caching_device,
        partitioner=scope.partitioner,
        validate_shape=True,
        use_resource=scope.use_resource,
        constraint=scope.constraint,
    )


def _true_getter(
    name,
    shape=None,
    dtype=dtypes.float32,
    initializer=None,
    regularizer=None,
    reuse=None,
    trainable=None,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    constraint=None,
    **kwargs,
):
    """The store's get-or-create by full name. reuse: False refuses an existing
    variable, True a missing one; None and AUTO_REUSE allow both (as in TF1).

    Called while a function is built (a cell in dynamic_rnn's loop body), it makes the
    variable and its initializer in the outermost graph, as TensorFlow lifts them out of
    the function (init_scope): the function reads it as a captured value."""
    g = fops.get_default_graph()
    home = _home_graph(g)
    if home is not g:
        with home.as_default(), home.control_dependencies(None):
            return _true_getter(
                name,
                shape,
                dtype,
                initializer,
                regularizer,
                reuse,
                trainable,
                collections,
                caching_device,
                partitioner,
                validate_shape,
                use_resource,
                constraint,
                **kwargs,
            )
    st = _store(g)
    full = name
    if trainable is None:
        trainable = True
    if full in st.vars:
        if reuse is False:
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
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.float32
    init = initializer
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
    if regularizer is not None:
        with fops.name_scope(full + "/Regularizer/"):
            loss = regularizer(v)
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
        get_variable_scope(),
        name,
        shape,
        dtype,
        initializer,
        regularizer,
        trainable,
        collections,
        custom_getter=custom_getter,
    )


def global_variables_by_name(graph=None) -> dict:
    """The variables get_variable created, by full name."""
    return dict(_store(graph).vars)
