"""Variables: the VariableV2 op (persistent storage) and Assign/AssignAdd/AssignSub,
plus the TF1 `Variable` class and its initializer ops."""

from __future__ import annotations

import threading

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import builder, casegen, registry
from staticflow.ops.lowering import COPY_DTYPES, COPY_KERNELS, coalesce
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
_rand = casegen.rand
VAR_T = COPY_DTYPES + (D.string,)  # string variables are read and assigned on the host


def _variable_ref(ins, a):
    raise ValueError("a variable's value lives in a session")


def _variable_lower(ctx):
    raise RuntimeError("VariableV2 is bound to session storage by the planner")


op(
    name="VariableV2",
    inputs=[],
    outputs=[Arg("ref", type_attr="dtype")],
    attrs=[
        Attr("shape", "shape"),
        Attr("dtype", "type", allowed=VAR_T),
        Attr("container", "string", ""),
        Attr("shared_name", "string", ""),
    ],
    shape_fn=lambda c: [c.attrs["shape"]],
    ref=_variable_ref,
    lower=_variable_lower,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [
        Case((), {"shape": TensorShape([2, 3]), "dtype": t}, grad=False, label="variable") for t in VAR_T
    ],
    doc="A mutable tensor that persists across runs in a session.",
)


def _assign_shape(c):
    ref, val = c.shape(0), c.shape(1)
    if c.attrs.get("validate_shape", True) and not ref.is_compatible_with(val):
        raise ValueError(
            f"Shapes must be equal rank, but are {ref} and {val}"
            if ref.ndims != val.ndims
            else f"Dimensions do not match: {ref} and {val}"
        )
    return [ref if ref.is_fully_defined() else val]


def _check_same(ctx):
    if tuple(ctx.in_shapes[0]) != tuple(ctx.in_shapes[1]):
        raise ValueError(
            f"{ctx.opdef.name}: value of shape {tuple(ctx.in_shapes[1])} does not match the "
            f"variable's shape {tuple(ctx.in_shapes[0])}"
        )


def _assign_ref(ins, a):
    ins[0][...] = ins[1]  # references update the variable in place, as the kernels do
    return ins[0]


def _update_ref(fn):
    def ref(ins, a):
        ins[0][...] = fn(ins[0], ins[1])
        return ins[0]

    return ref


def _assign_lower(ctx):
    _check_same(ctx)
    ctx.copy(ctx.inp(1), ctx.inp(0))
    ctx.alias(0, 0)


def _update_lower(base):
    def lower(ctx):
        _check_same(ctx)
        ctx.alias(0, 0)
        if ctx.inp(0).size == 0:
            return
        views = coalesce([ctx.inp(0), ctx.inp(1), ctx.inp(0)])
        ctx.call(ctx.kernel(base), views[:2], views[2:])

    return lower


_UPD_T = D.ALL_NUMERIC
op(
    name="Assign",
    inputs=[Arg("ref", type_attr="T", ref="write"), Arg("value", type_attr="T")],
    outputs=[Arg("output_ref", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=VAR_T),
        Attr("validate_shape", "bool", True),
        Attr("use_locking", "bool", True),
    ],
    shape_fn=_assign_shape,
    ref=_assign_ref,
    lower=_assign_lower,
    kernels=COPY_KERNELS,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [
        Case((_rand(rng, (2, 3), t), _rand(rng, (2, 3), t)), grad=False, label="variable") for t in VAR_T
    ],
    doc="Writes value into the variable; outputs the variable.",
)

for _name, _base, _fn in (("AssignAdd", "add", np.add), ("AssignSub", "sub", np.subtract)):
    op(
        name=_name,
        inputs=[Arg("ref", type_attr="T", ref="update"), Arg("value", type_attr="T")],
        outputs=[Arg("output_ref", type_attr="T")],
        attrs=[Attr("T", "type", allowed=_UPD_T), Attr("use_locking", "bool", False)],
        shape_fn=_assign_shape,
        ref=_update_ref(_fn),
        lower=_update_lower(_base),
        kernels=registry.kernels_for([_base], _UPD_T),
        stateful=True,
        differentiable=False,
        cases=lambda rng: [
            Case((_rand(rng, (2, 3), t), _rand(rng, (2, 3), t)), grad=False, label="variable") for t in _UPD_T
        ],
        doc=f"Updates the variable in place ({_base}); outputs the variable.",
    )


# ---------------------------------------------------------------------------
# the Variable class (TF1 reference variables)
# ---------------------------------------------------------------------------
class Variable:
    """A TF1 variable: a VariableV2 op, an initializer (Assign) and a read (Identity)."""

    def __init__(
        self,
        initial_value=None,
        trainable=True,
        collections=None,
        validate_shape=True,
        caching_device=None,
        name=None,
        variable_def=None,
        dtype=None,
        expected_shape=None,
        import_scope=None,
        constraint=None,
        shape=None,
    ):
        if variable_def is not None:
            self._init_from_def(variable_def, import_scope)
            return
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        with fops.name_scope(
            name, "Variable", [initial_value] if isinstance(initial_value, fops.Tensor) else None
        ) as scope:
            vname = scope[:-1]
            if callable(initial_value):
                with fops.name_scope("Initializer"):
                    initial_value = initial_value()
            init = fops.convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            vshape = as_shape(shape) if shape is not None else init.shape
            if validate_shape and not vshape.is_fully_defined():
                raise ValueError(
                    f"initial_value must have a shape specified: {init} (variable {vname}); pass "
                    "validate_shape=False or a fully defined shape"
                )
            g = init.graph
            # the VariableV2 op takes the scope's own name (TF: 'w', not 'w/VariableV2')
            self._variable = _make_named_op(
                g, vname, "VariableV2", [], {"shape": vshape, "dtype": init.dtype}
            )
            with g.name_scope(vname + "/"):
                self._initializer_op = builder.apply_op(
                    "Assign",
                    [self._variable.outputs[0], init],
                    {"validate_shape": validate_shape},
                    name="Assign",
                )
                with g.control_dependencies(None):
                    self._snapshot = builder.apply_op(
                        "Identity", [self._variable.outputs[0]], None, name="read"
                    ).outputs[0]
        self._initial_value = init
        self._trainable = trainable
        self._constraint = constraint
        if collections is None:
            collections = [fops.GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and fops.GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(fops.GraphKeys.TRAINABLE_VARIABLES)
        self.graph.add_to_collections(collections, self)

    def _init_from_def(self, variable_def, import_scope=None):
        g = fops.get_default_graph()

        def full(n):
            return f"{import_scope}/{n}" if import_scope else n

        self._variable = g.get_tensor_by_name(full(variable_def["variable_name"])).op
        self._initializer_op = g.get_operation_by_name(full(variable_def["initializer_name"]))
        self._snapshot = g.get_tensor_by_name(full(variable_def["snapshot_name"]))
        iv = variable_def.get("initial_value_name")
        self._initial_value = g.get_tensor_by_name(full(iv)) if iv else None
        self._trainable = variable_def.get("trainable", True)
        self._constraint = None

    # --- identity -----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.outputs[0].name

    @property
    def op(self) -> fops.Operation:
        return self._variable

    @property
    def graph(self) -> fops.Graph:
        return self._variable.graph

    @property
    def dtype(self):
        return self._variable.outputs[0].dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.outputs[0].shape

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def initializer(self) -> fops.Operation:
        return self._initializer_op

    @property
    def initial_value(self) -> fops.Tensor:
        return self._initial_value

    @property
    def constraint(self):
        return self._constraint

    def to_proto_dict(self) -> dict:
        """Names that rebuild this Variable in an imported graph (TF's VariableDef)."""
        return {
            "variable_name": self.name,
            "initializer_name": self._initializer_op.name,
            "snapshot_name": self._snapshot.name,
            "trainable": self._trainable,
            "initial_value_name": self._initial_value.name if self._initial_value is not None else "",
        }

    # --- values -------------------------------------------------------------------
    def value(self) -> fops.Tensor:
        """The variable's value (its read snapshot)."""
        return self._snapshot

    def read_value(self) -> fops.Tensor:
        """A fresh read of the variable (an Identity op)."""
        return builder.apply_op("Identity", [self._variable.outputs[0]], None, name="read").outputs[0]

    def _ref(self) -> fops.Tensor:
        return self._variable.outputs[0]

    def _as_graph_element(self):
        return self._variable.outputs[0]

    def eval(self, session=None):
        return self._snapshot.eval(session=session)

    def load(self, value, session=None) -> None:
        sess = fops._default_session_or(session)
        sess.run(self._initializer_op, {self._initializer_op.inputs[1]: value})

    def assign(self, value, use_locking=None, name=None, read_value=True):
        op_ = builder.apply_op("Assign", [self._ref(), value], {}, name=name)
        return op_.outputs[0] if read_value else op_

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        op_ = builder.apply_op("AssignAdd", [self._ref(), delta], None, name=name)
        return op_.outputs[0] if read_value else op_

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        op_ = builder.apply_op("AssignSub", [self._ref(), delta], None, name=name)
        return op_.outputs[0] if read_value else op_

    def count_up_to(self, limit):
        """Increments the variable until it reaches limit (see count_up_to)."""
        return count_up_to(self, limit)

    def __repr__(self) -> str:
        return f"<sf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    # a Variable behaves as its value in expressions
    def __getattr__(self, item):
        if item.startswith("__") or item.startswith("_"):
            raise AttributeError(item)
        return getattr(self._snapshot, item)


def _make_named_op(g: fops.Graph, full_name: str, op_type: str, inputs, attrs) -> fops.Operation:
    """Create an op whose name is exactly `full_name` (already made unique as a scope)."""
    old = g._name_stack
    parent, _, base = full_name.rpartition("/")
    g._name_stack = parent
    try:
        g._names_in_use.pop(full_name.lower(), None)
        return builder.apply_op(op_type, inputs, attrs, name=base, loc=fops.user_frame())
    finally:
        g._name_stack = old


def _var_to_tensor(v: Variable, dtype=None, name=None):
    """The variable's value. Under control dependencies it is a fresh read made there, so
    that it sees the writes those dependencies run (TF1 reads a variable when its consumer
    runs; the shared `read` snapshot stands where the variable was made)."""
    g = v._variable.graph
    t = v.read_value() if g is fops.get_default_graph() and g._current_control_inputs() else v.value()
    if dtype is not None and dtypes.as_dtype(dtype) != t.dtype:
        raise ValueError(
            f"Incompatible type conversion requested to type {dtypes.as_dtype(dtype).name} for "
            f"variable of type {t.dtype.name}"
        )
    return t


fops.register_tensor_conversion_function(Variable, _var_to_tensor)


def _install_variable_operators() -> None:
    """Variables take part in arithmetic as their value (x + w, w @ x, w[0], ...)."""
    names = [
        "__add__",
        "__radd__",
        "__sub__",
        "__rsub__",
        "__mul__",
        "__rmul__",
        "__truediv__",
        "__rtruediv__",
        "__floordiv__",
        "__rfloordiv__",
        "__mod__",
        "__rmod__",
        "__pow__",
        "__rpow__",
        "__matmul__",
        "__rmatmul__",
        "__neg__",
        "__abs__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__getitem__",
        "__and__",
        "__or__",
        "__invert__",
    ]

    def forward(method: str):
        return lambda self, *a: getattr(self.value(), method)(*a)

    for n in names:
        setattr(Variable, n, forward(n))


_install_variable_operators()


def global_variables(scope=None) -> list[Variable]:
    return fops.get_collection(fops.GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope=None) -> list[Variable]:
    return fops.get_collection(fops.GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None) -> list[Variable]:
    return fops.get_collection(fops.GraphKeys.LOCAL_VARIABLES, scope)


def moving_average_variables(scope=None) -> list[Variable]:
    """Variables that have moving averages (ExponentialMovingAverage.apply adds them)."""
    return fops.get_collection(fops.GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list, name: str = "init") -> fops.Operation:
    """One op that runs the initializers of var_list."""
    from staticflow.ops import control_flow_ops

    return control_flow_ops.group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> fops.Operation:
    return variables_initializer(global_variables())


def local_variables_initializer() -> fops.Operation:
    return variables_initializer(local_variables(), name="init_1")


def initialize_all_variables() -> fops.Operation:
    """Deprecated TF1 alias of global_variables_initializer."""
    return global_variables_initializer()


def initialize_local_variables() -> fops.Operation:
    """Deprecated TF1 alias of local_variables_initializer."""
    return local_variables_initializer()


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    r = ref._ref() if isinstance(ref, Variable) else ref
    attrs = {} if validate_shape is None else {"validate_shape": validate_shape}
    return builder.apply_op("Assign", [r, value], attrs, name=name).outputs[0]


def assign_add(ref, value, use_locking=None, name=None):
    r = ref._ref() if isinstance(ref, Variable) else ref
    return builder.apply_op("AssignAdd", [r, value], None, name=name).outputs[0]


def assign_sub(ref, value, use_locking=None, name=None):
    r = ref._ref() if isinstance(ref, Variable) else ref
    return builder.apply_op("AssignSub", [r, value], None, name=name).outputs[0]


# ---------------------------------------------------------------------------
# CountUpTo: the epoch counter of TF1's input producers
# ---------------------------------------------------------------------------
_COUNT_T = (D.int32, D.int64)
_count_lock = threading.Lock()  # runs on several threads may count on one variable


def _count_up_to_ref(ins, a):
    v = ins[0]
    if int(v) >= a["limit"]:
        raise ValueError(f"Reached limit of {a['limit']}")
    old = v.copy()
    v[...] = v + 1
    return old


def _count_up_to_lower(ctx):
    limit = ctx.attrs["limit"]

    def run(op_, ins, outs):
        v = ins[0]
        with _count_lock:
            if int(v) >= limit:
                from staticflow.framework import errors

                raise errors.OutOfRangeError(
                    None,
                    op_,
                    f"Reached limit of {limit}\n\t [[node {op_.name} ({op_.type}) defined at "
                    f"{fops.format_location(op_.location)}]]",
                )
            outs[0][...] = v
            v[...] = v + 1

    ctx.host(run, [ctx.inp(0)], [ctx.out(0)], writes=(0,))


op(
    name="CountUpTo",
    inputs=[Arg("ref", type_attr="T", ref="update")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("limit", "int"), Attr("T", "type", allowed=_COUNT_T)],
    shape_fn=lambda c: [c.shape(0).merge_with(TensorShape([]))],
    ref=_count_up_to_ref,
    lower=_count_up_to_lower,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(3, t.np),), {"limit": 5}, grad=False, label="variable") for t in _COUNT_T
    ],
    doc="Increments a scalar variable, giving its value before; OutOfRangeError once it reaches limit.",
)


def count_up_to(ref, limit, name=None) -> fops.Tensor:
    """The variable's value, incremented after; OutOfRangeError once it has reached `limit`."""
    r = ref._ref() if isinstance(ref, Variable) else ref
    return builder.apply_op("CountUpTo", [r], {"limit": int(limit)}, name=name).outputs[0]
