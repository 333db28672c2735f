"""sf.contrib.framework: arg_scope and the variable helpers of TF1's tf.contrib.framework.

`arg_scope([fn, ...], **kwargs)` gives default keyword arguments to every call of
the listed functions inside it; a function takes part only if it was decorated
with `add_arg_scope` (all of sf.contrib.layers is).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re

from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.ops import state_ops
from staticflow.ops import variable_scope as vs
from staticflow.train.training_util import create_global_step, get_global_step, get_or_create_global_step

__all__ = [
    "add_arg_scope",
    "add_model_variable",
    "arg_scope",
    "arg_scoped_arguments",
    "assert_global_step",
    "create_global_step",
    "current_arg_scope",
    "get_global_step",
    "get_local_variables",
    "get_model_variables",
    "get_or_create_global_step",
    "get_trainable_variables",
    "get_unique_variable",
    "get_variables",
    "get_variables_by_name",
    "get_variables_by_suffix",
    "get_variables_to_restore",
    "has_arg_scope",
    "local_variable",
    "model_variable",
    "variable",
]

_ARGSTACK: list[dict] = [{}]
_DECORATED_OPS: dict[str, list[str]] = {}


def _key_op(op) -> str:
    return getattr(op, "_key_op", str(op))


def _kwarg_names(func) -> list[str]:
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.default is not inspect.Parameter.empty]


def current_arg_scope() -> dict:
    """The innermost arg_scope: {function key: {kwarg: value}}."""
    return _ARGSTACK[-1]


@contextlib.contextmanager
def arg_scope(list_ops_or_scope, **kwargs):
    """Default kwargs for the listed add_arg_scope functions (or re-enter a scope dict)."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise ValueError(
                "When attempting to re-use a scope by suppling a dictionary, kwargs must be empty."
            )
        current = list_ops_or_scope.copy()
    else:
        if not isinstance(list_ops_or_scope, (list, tuple)):
            raise TypeError("list_ops_or_scope must either be a list/tuple or reused scope (i.e. dict)")
        current = current_arg_scope().copy()
        for op in list_ops_or_scope:
            key = _key_op(op)
            if not has_arg_scope(op):
                name = getattr(op, "__name__", repr(op))
                raise ValueError(
                    f"{getattr(op, '__module__', '')}.{name} is not decorated with @add_arg_scope"
                )
            merged = dict(current.get(key, {}))
            merged.update(kwargs)
            current[key] = merged
    _ARGSTACK.append(current)
    try:
        yield current
    finally:
        _ARGSTACK.pop()


def add_arg_scope(func):
    """Decorate `func` so arg_scope can supply its keyword arguments (explicit ones win)."""
    key = _key_op(func)

    @functools.wraps(func)
    def func_with_args(*args, **kwargs):
        scope = current_arg_scope()
        if key in scope:
            merged = dict(scope[key])
            merged.update(kwargs)
            kwargs = merged
        return func(*args, **kwargs)

    _DECORATED_OPS[key] = _kwarg_names(func)
    func_with_args._key_op = key
    return func_with_args


def has_arg_scope(func) -> bool:
    return _key_op(func) in _DECORATED_OPS


def arg_scoped_arguments(func) -> list[str]:
    """The keyword arguments arg_scope may set for `func`."""
    if not has_arg_scope(func):
        raise ValueError(f"{func} is not decorated with @add_arg_scope")
    return _DECORATED_OPS[_key_op(func)]


def assert_global_step(global_step_tensor) -> None:
    """Raise TypeError unless it is a scalar integer variable or tensor."""
    if not (isinstance(global_step_tensor, (state_ops.Variable, fops.Tensor))):
        raise TypeError(f"Existing 'global_step' must be a Variable or Tensor: {global_step_tensor}.")
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(f"Existing 'global_step' does not have integer type: {global_step_tensor.dtype.name}")
    if global_step_tensor.shape.ndims != 0 and global_step_tensor.shape.is_fully_defined():
        raise TypeError(f"Existing 'global_step' is not scalar: {global_step_tensor.shape}")


@add_arg_scope
def variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    device=None,
    partitioner=None,
    custom_getter=None,
    use_resource=None,
    **kwargs,
):
    """get_variable with explicit collections (default: global variables) and a device."""
    collections = list(collections if collections is not None else [GraphKeys.GLOBAL_VARIABLES])
    collections = list(dict.fromkeys(collections))
    getter = vs.get_variable
    if custom_getter is not None:
        getter = functools.partial(custom_getter, reuse=vs.get_variable_scope().reuse)
    with fops.device(device or ""):
        return getter(
            name,
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            regularizer=regularizer,
            trainable=trainable,
            collections=collections,
        )


@add_arg_scope
def model_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    device=None,
    partitioner=None,
    custom_getter=None,
    use_resource=None,
    **kwargs,
):
    """A variable also put in the MODEL_VARIABLES collection."""
    collections = list(collections or []) + [GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES]
    return variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=trainable,
        collections=collections,
        device=device,
        custom_getter=custom_getter,
    )


@add_arg_scope
def local_variable(initial_value, validate_shape=True, name=None, use_resource=None):
    """A non-trainable variable in the LOCAL_VARIABLES collection."""
    return state_ops.Variable(
        initial_value,
        trainable=False,
        collections=[GraphKeys.LOCAL_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def add_model_variable(var) -> None:
    if var not in fops.get_collection(GraphKeys.MODEL_VARIABLES):
        fops.add_to_collection(GraphKeys.MODEL_VARIABLES, var)


def _scope_name(scope) -> str | None:
    return scope.name if isinstance(scope, vs.VariableScope) else scope


def get_variables(scope=None, suffix=None, collection=GraphKeys.GLOBAL_VARIABLES) -> list:
    """Variables of `collection` whose name starts with `scope` (and ends with `suffix`)."""
    variables = fops.get_collection(collection, _scope_name(scope))
    if suffix is not None:
        variables = [v for v in variables if v.op.name.endswith(suffix)]
    return variables


def get_model_variables(scope=None, suffix=None) -> list:
    return get_variables(scope, suffix, GraphKeys.MODEL_VARIABLES)


def get_local_variables(scope=None, suffix=None) -> list:
    return get_variables(scope, suffix, GraphKeys.LOCAL_VARIABLES)


def get_trainable_variables(scope=None, suffix=None) -> list:
    return get_variables(scope, suffix, GraphKeys.TRAINABLE_VARIABLES)


def get_variables_to_restore(include=None, exclude=None) -> list:
    """Global variables under the `include` scopes and not under the `exclude` ones."""
    if include is None:
        candidates = get_variables()
    else:
        if not isinstance(include, (list, tuple)):
            raise TypeError("include is provided but is not a list or a tuple.")
        candidates = [v for scope in include for v in get_variables(scope)]
    excluded = []
    if exclude is not None:
        if not isinstance(exclude, (list, tuple)):
            raise TypeError("exclude is provided but is not a list or a tuple.")
        excluded = [v for scope in exclude for v in get_variables(scope)]
    return [v for v in candidates if all(v is not e for e in excluded)]


def get_variables_by_suffix(suffix, scope=None) -> list:
    return get_variables(scope=scope, suffix=suffix)


def get_variables_by_name(given_name, scope=None) -> list:
    """Variables whose last name component (after any scopes) is `given_name`."""
    return get_variables(scope=scope, suffix="/" + given_name) + [
        v for v in get_variables(scope=scope) if v.op.name == given_name
    ]


def get_unique_variable(var_op_name):
    """The one global variable named `var_op_name` (error if none or several)."""
    candidates = [v for v in get_variables(scope=var_op_name) if v.op.name == var_op_name]
    if not candidates:
        raise ValueError(f"Couldn't find variable {var_op_name}")
    if len(candidates) > 1:
        raise ValueError(f"Variable {var_op_name} does not uniquely identify a variable")
    return candidates[0]


def filter_variables(var_list, include_patterns=None, exclude_patterns=None, reg_search=True) -> list:
    """Variables whose names match an include pattern and no exclude pattern (regex search)."""

    def match(name, patterns):
        if reg_search:
            return any(re.search(p, name) for p in patterns)
        return any(re.match(p, name) for p in patterns)

    out = list(var_list)
    if include_patterns is not None:
        out = [v for v in out if match(v.op.name, include_patterns)]
    if exclude_patterns is not None:
        out = [v for v in out if not match(v.op.name, exclude_patterns)]
    return out
