"""Graph, Operation and Tensor: the symbolic program a user builds.

A Graph owns Operations in creation order; each Operation has input Tensors,
control inputs, attrs and output Tensors, and remembers the user's source
line so errors can point at it. Creating an op checks its inputs against the
op registry and infers output dtypes and shapes right away.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.hooks import hooks as _hooks
from staticflow.framework.tensor_shape import TensorShape, as_shape

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


_IS_USER_FILE: dict[str, bool] = {}


def _is_user_file(filename: str) -> bool:
    """Whether code in `filename` is the user's (outside the staticflow package), remembered
    per file: every op creation asks for each frame of its call stack."""
    known = _IS_USER_FILE.get(filename)
    if known is None:
        fn = os.path.abspath(filename)
        known = not fn.startswith(_PKG_DIR + os.sep) or os.sep + "tests" + os.sep in fn[len(_PKG_DIR) :]
        _IS_USER_FILE[filename] = known
    return known


def user_frame() -> tuple[str, int, str]:
    """(file, line, function) of the innermost caller outside staticflow."""
    f = sys._getframe(1)
    while f is not None:
        if _is_user_file(f.f_code.co_filename):
            return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return ("<unknown>", 0, "")


def format_location(loc) -> str:
    if not loc or loc[0] == "<unknown>":
        return "<unknown location>"
    return f"{loc[0]}:{loc[1]}"


class GraphKeys:
    """Standard collection names (TF1's tf.GraphKeys)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    METRIC_VARIABLES = "metric_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    UPDATE_OPS = "update_ops"
    TRAIN_OP = "train_op"
    GLOBAL_STEP = "global_step"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    SAVERS = "savers"
    ACTIVATIONS = "activations"
    WEIGHTS = "weights"
    BIASES = "biases"
    VARIABLES = GLOBAL_VARIABLES


class Tensor:
    """A symbolic value: output `value_index` of operation `op`."""

    # NumPy should defer to our operators (ndarray + Tensor -> Tensor.__radd__)
    __array_priority__ = 100

    def __init__(self, op: Operation, value_index: int, dtype: dtypes.DType, shape=None):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._shape = as_shape(shape) if shape is not None else TensorShape(None)
        self._const_value: Any = _UNSET
        self._partial_value: Any = _UNSET  # memo of staticflow.ops.const_eval

    @property
    def op(self) -> Operation:
        return self._op

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def graph(self) -> Graph:
        return self._op.graph

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._value_index}"

    @property
    def device(self) -> str:
        return self._op.device

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape) -> None:
        """Merge more shape information into this tensor (TF1 semantics)."""
        try:
            merged = self._shape.merge_with(as_shape(shape))
        except ValueError:
            raise ValueError(
                f"Tensor {self.name} has shape {self._shape}, which is incompatible with {as_shape(shape)}"
            ) from None
        if merged != self._shape:
            self._shape = merged
            # values derived from shapes (sf.shape, partially known shape vectors) may now be known
            self.graph._shape_epoch += 1

    def consumers(self) -> list[Operation]:
        return [op for op in self.graph._consumers.get(self, [])]

    def eval(self, feed_dict=None, session=None):
        """Run this tensor in `session` (default: the default session)."""
        return _run_with_default(self, feed_dict, session)

    def __repr__(self) -> str:
        return f"<sf.Tensor '{self.name}' shape={self._shape} dtype={self._dtype.name}>"

    # TF1: Tensor equality is identity, so tensors work as dict keys. The hash is object's
    # own (by identity, computed in C): planning looks tensors up in dicts a million times.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError(
            "Using a sf.Tensor as a Python bool is not allowed: its value is only known when a "
            "Session runs it. Use sf.cond / sf.where, or run the tensor."
        )

    def __iter__(self):
        n = self._shape[0].value if self._shape.ndims else None
        if n is None:
            raise TypeError("Tensor objects are only iterable when the first dimension is known.")
        for i in range(n):
            yield self[i]

    def __len__(self):
        raise TypeError(f"len is not well defined for symbolic Tensors ({self.name}); use sf.shape")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"Cannot convert the symbolic tensor {self.name} to a NumPy array; run it in a Session."
        )

    # operators are attached by staticflow.ops.math_ops (no import cycle here)


class _Unset:
    pass


_UNSET = _Unset()


class Operation:
    """A node of the graph."""

    def __init__(self, graph, name, op_type, inputs, attrs, output_types, control_inputs, device, loc):
        self._graph = graph
        self._name = name
        self._type = op_type
        self._inputs = tuple(inputs)
        self._attrs = dict(attrs)
        self._control_inputs = list(control_inputs)
        self._device = device or ""
        self._loc = loc
        self._id = graph._next_id()
        self._extra_attrs: dict = {}
        self._outputs = tuple(Tensor(self, i, dt) for i, dt in enumerate(output_types))

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        return self._outputs

    @property
    def control_inputs(self) -> list[Operation]:
        return list(self._control_inputs)

    @property
    def device(self) -> str:
        return self._device

    @property
    def attrs(self) -> dict:
        return dict(self._attrs)

    @property
    def location(self) -> tuple[str, int, str]:
        """(file, line, function) of the user code that created this op."""
        return self._loc

    @property
    def op_def(self):
        """The op's registry record (None for a type the registry lacks)."""
        return _hooks.op_def(self._type)

    def get_attr(self, name: str):
        try:
            return self._attrs[name]
        except KeyError:
            raise ValueError(f"Operation {self._name} ({self._type}) has no attr named {name!r}") from None

    def _set_attr(self, name: str, value) -> None:
        self._attrs[name] = value

    def values(self) -> tuple[Tensor, ...]:
        return self._outputs

    @property
    def node_def(self):
        from staticflow.framework import graph_io

        return graph_io.node_def_of(self)

    def _add_control_input(self, op: Operation) -> None:
        if op not in self._control_inputs:
            self._control_inputs.append(op)

    def run(self, feed_dict=None, session=None) -> None:
        """Run this operation in `session` (default: the default session)."""
        _run_with_default(self, feed_dict, session)

    def describe(self) -> str:
        """Name, type and the user's source line, for error messages."""
        return f"{self._name} ({self._type}) defined at {format_location(self._loc)}"

    def __repr__(self) -> str:
        return f"<sf.Operation '{self._name}' type={self._type}>"


class Graph:
    """A dataflow graph: operations, name scopes, control dependencies, collections."""

    def __init__(self):
        self._ops: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_stack: list[list[Operation] | None] = []
        self._device_stack: list[str] = []
        self._collections: dict[str, list] = {}
        self._consumers: dict[Tensor, list[Operation]] = {}
        self._id_counter = 0
        self._finalized = False
        self._version = 0
        self._shape_epoch = 0  # grows when set_shape refines a shape (const_eval's memo checks it)
        self._seed = None
        self._lock = threading.RLock()
        # op type -> name of a registered gradient (gradient_override_map)
        self._gradient_override_map: dict[str, str] = {}

    # --- construction -------------------------------------------------------
    def _next_id(self) -> int:
        self._id_counter += 1
        return self._id_counter

    @property
    def version(self) -> int:
        """Grows by one with every op added."""
        return self._version

    @property
    def finalized(self) -> bool:
        return self._finalized

    def finalize(self) -> None:
        self._finalized = True

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, value):
        self._seed = value

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """Scope-qualified `name`, suffixed _1, _2, ... when already taken."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = name
            while True:
                name = f"{base}_{i}"
                if name.lower() not in self._names_in_use:
                    break
                i += 1
            if mark_as_used:
                self._names_in_use[name.lower()] = 1
        return name

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name):
        """Push a name scope; yields the scope string ending in '/'."""
        old = self._name_stack
        if name is None or name == "":
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
            if new and not _VALID_SCOPE.match(new):
                raise ValueError(f"{name!r} is not a valid scope name")
        else:
            if not _VALID_SCOPE.match(name):
                raise ValueError(f"{name!r} is not a valid scope name")
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            self._name_stack = old

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        """Ops created inside run after `control_inputs` (None clears them)."""
        if control_inputs is None:
            self._control_stack.append(None)
        else:
            ops = []
            for c in control_inputs:
                if hasattr(c, "_as_graph_element"):
                    c = c._as_graph_element()
                if isinstance(c, Tensor):
                    c = c.op
                if not isinstance(c, Operation):
                    raise TypeError(f"control input must be an Operation or Tensor, got {c!r}")
                if c.graph is not self:
                    raise ValueError(f"control input {c.name} is from another graph")
                ops.append(c)
            self._control_stack.append(ops)
        try:
            yield
        finally:
            self._control_stack.pop()

    def _current_control_inputs(self) -> list[Operation]:
        out: list[Operation] = []
        for entry in reversed(self._control_stack):
            if entry is None:
                break
            for op in entry:
                if op not in out:
                    out.append(op)
        return out

    @contextlib.contextmanager
    def device(self, name: str):
        self._device_stack.append(name or "")
        try:
            yield
        finally:
            self._device_stack.pop()

    def _current_device(self) -> str:
        return self._device_stack[-1] if self._device_stack else ""

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]):
        """Ops of the mapped types created inside use the gradient registered
        (sf.RegisterGradient) under the mapped name, as in TF1."""
        if not isinstance(op_type_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in op_type_map.items()
        ):
            raise TypeError("op_type_map must be a dictionary mapping strings to strings")
        saved = dict(self._gradient_override_map)
        self._gradient_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._gradient_override_map = saved

    def _add_op(self, op: Operation) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        self._ops[op.name] = op
        for t in op.inputs:
            self._consumers.setdefault(t, []).append(op)
        self._version += 1

    # --- lookup ---------------------------------------------------------------
    def get_operations(self) -> list[Operation]:
        return list(self._ops.values())

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings, got {type(name).__name__}")
        if ":" in name:
            raise ValueError(f"Name {name!r} looks like a tensor name, not an operation name")
        try:
            return self._ops[name]
        except KeyError:
            raise KeyError(f"The name {name!r} refers to an Operation not in the graph.") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings, got {type(name).__name__}")
        op_name, sep, idx = name.rpartition(":")
        if not sep or not idx.isdigit():
            raise ValueError(
                f"The name {name!r} looks like an operation name, not a tensor name "
                f"(tensor names look like '{name}:0')"
            )
        op = self._ops.get(op_name)
        if op is None:
            raise KeyError(
                f"The name {name!r} refers to a Tensor which does not exist: "
                f"the operation {op_name!r} is not in the graph."
            )
        i = int(idx)
        if i >= len(op.outputs):
            raise KeyError(
                f"The name {name!r} refers to a Tensor which does not exist: "
                f"{op_name!r} has {len(op.outputs)} outputs."
            )
        return op.outputs[i]

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        """Resolve a Tensor, Operation or name to an element of this graph."""
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                return self.get_tensor_by_name(obj)
            if allow_operation:
                return self.get_operation_by_name(obj)
            raise ValueError(f"{obj!r} names an operation; a tensor is needed here")
        if isinstance(obj, (Tensor, Operation)):
            if obj.graph is not self:
                raise ValueError(f"{obj!r} is not an element of this graph.")
            if isinstance(obj, Tensor) and not allow_tensor:
                raise ValueError(f"{obj!r} is a tensor; an operation is needed here")
            if isinstance(obj, Operation) and not allow_operation:
                raise ValueError(f"{obj!r} is an operation; a tensor is needed here")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation.")

    # --- collections ------------------------------------------------------------
    def add_to_collection(self, name: str, value) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value) -> None:
        if isinstance(names, str):
            names = [names]
        for n in set(names):
            self.add_to_collection(n, value)

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = list(self._collections.get(name, []))
        if scope is None:
            return items
        pat = re.compile(scope)
        return [x for x in items if hasattr(x, "name") and pat.match(x.name)]

    def get_all_collection_keys(self) -> list[str]:
        return [k for k in self._collections if k]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    # --- default graph -----------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self):
        _graph_stack().append(self)
        try:
            yield self
        finally:
            _graph_stack().pop()

    def as_graph_def(self, add_shapes: bool = False):
        from staticflow.framework import graph_io

        return graph_io.graph_to_graph_def(self, add_shapes=add_shapes)

    def _repr_svg_(self) -> str:
        """The graph drawn as SVG, so that Jupyter shows it inline (needs graphviz's `dot`)."""
        return _hooks.draw(self).pipe(format="svg").decode()

    @property
    def building_function(self) -> bool:
        return False

    def is_fetchable(self, obj) -> bool:
        return True


_local = threading.local()
_global_default_graph: Graph | None = None


def _graph_stack() -> list[Graph]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def get_default_graph() -> Graph:
    stack = _graph_stack()
    if stack:
        return stack[-1]
    global _global_default_graph
    if _global_default_graph is None:
        _global_default_graph = Graph()
    return _global_default_graph


def _session_stack() -> list:
    """This thread's stack of default sessions (Session.as_default pushes onto it)."""
    if not hasattr(_local, "sessions"):
        _local.sessions = []
    return _local.sessions


def get_default_session():
    """The innermost session of this thread's `with sess.as_default()` blocks, or None.

    The stack lives here, with the default graph's, so that `Tensor.eval` and
    `Operation.run` find a session without knowing the runtime (as in TensorFlow)."""
    stack = _session_stack()
    return stack[-1] if stack else None


def _default_session_or(session):
    sess = session or get_default_session()
    if sess is None:
        raise ValueError(
            "Cannot evaluate tensor using `eval()`: No default session is registered. Use "
            "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
        )
    return sess


def _run_with_default(fetch, feed_dict, session):
    sess = _default_session_or(session)
    g = fetch.graph
    if sess.graph is not g:
        raise ValueError(
            "Cannot use the given session to evaluate tensor: the tensor's graph is different "
            "from the session's graph."
        )
    return sess.run(fetch, feed_dict)


def reset_default_graph() -> None:
    """Clear the global default graph (not allowed inside a `with g.as_default()`)."""
    if _graph_stack():
        raise AssertionError("Do not use reset_default_graph() inside a graph context.")
    global _global_default_graph
    _global_default_graph = Graph()


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    """TF1's name_scope(name, default_name=None, values=None)."""
    g = _graph_from(values)
    if name is None and default_name is not None:
        name = default_name
    with g.name_scope(name) as scope:
        yield scope


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def device(name: str):
    return get_default_graph().device(name)


def _graph_from(values) -> Graph:
    if values:
        for v in values:
            if isinstance(v, (Tensor, Operation)):
                return v.graph
            if hasattr(v, "graph") and isinstance(v.graph, Graph):
                return v.graph
    return get_default_graph()


def add_to_collection(name, value) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(name, scope=None) -> list:
    return get_default_graph().get_collection(name, scope)


def get_collection_ref(name) -> list:
    return get_default_graph().get_collection_ref(name)


# ---------------------------------------------------------------------------
# tensor conversion
# ---------------------------------------------------------------------------
_conversion_functions: list = []


def register_tensor_conversion_function(cls, fn) -> None:
    """fn(value, dtype, name) -> Tensor for instances of cls (Variables use it)."""
    _conversion_functions.append((cls, fn))


def _is_tensor_like(x) -> bool:
    """A Tensor, or an object with a registered conversion (a Variable)."""
    return isinstance(x, Tensor) or any(isinstance(x, cls) for cls, _ in _conversion_functions)


def contains_tensor(value) -> bool:
    """Whether a (nested) list or tuple holds a tensor-like element somewhere."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif _is_tensor_like(v):
            return True
    return False


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None) -> Tensor:
    """A Tensor for `value`: Tensors pass through, Python/NumPy values become constants.

    A (nested) list or tuple that holds tensors is packed into one tensor through `stack`
    (TF's auto-packing): its dtype is that of the first tensor found, unless `dtype` (or
    `preferred_dtype`) asks for another, to which tensors of another dtype are cast; the
    other elements become constants of that dtype.
    """
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    if isinstance(value, (list, tuple)) and contains_tensor(value):
        if dtype is None and preferred_dtype is not None:
            try:
                return _hooks.autopack(value, dtypes.as_dtype(preferred_dtype), name)
            except (TypeError, ValueError):
                pass
        return _hooks.autopack(value, dtype, name)
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != dtype:
            raise ValueError(
                f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                f"{value.dtype.name}: {value!r}"
            )
        return value
    for cls, fn in _conversion_functions:
        if isinstance(value, cls):
            return fn(value, dtype, name)
    if isinstance(value, Operation):
        raise TypeError(f"Can't convert Operation '{value.name}' to Tensor (it has no value)")
    if dtype is None and preferred_dtype is not None:
        try:
            return _hooks.constant(
                value, dtype=dtypes.as_dtype(preferred_dtype), name=name or "Const", _strict=True
            )
        except (TypeError, ValueError):
            pass
    return _hooks.constant(value, dtype=dtype, name=name or "Const")


def convert_n_to_tensor(values: Iterable, dtype=None) -> list[Tensor]:
    return [convert_to_tensor(v, dtype=dtype) for v in values]


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def np_value_dtype(value) -> dtypes.DType:
    """The dtype TF1 gives a Python/NumPy value: floats -> float32, ints -> int32."""
    arr = np.asarray(value)
    if arr.dtype == np.float64 and not isinstance(value, np.ndarray) and not isinstance(value, np.floating):
        return dtypes.float32
    if arr.dtype == np.int64 and not isinstance(value, np.ndarray) and not isinstance(value, np.integer):
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return dtypes.int64
        return dtypes.int32
    return dtypes.as_dtype(arr.dtype)
