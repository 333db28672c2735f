"""The op registry: everything staticflow knows about an op, in one declaration.

An `OpDef` holds the op's TensorFlow name, its inputs, outputs and attrs, a
shape function, a NumPy reference (the test oracle and the constant folder),
how it lowers to kernels, its flags (elementwise, stateful, random, in-place
candidates) and its test cases. Passes, the planner, the exporters and the
generated tests read these records; nothing else keeps lists of op names.
The gradient slot is filled by `staticflow.autodiff`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import hooks as framework_hooks
from staticflow.framework.tensor_shape import TensorShape, as_shape


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Arg:
    """An input or output. Its dtype is fixed (`dtype`) or named by a type attr.

    `number_attr` makes it a list of that many tensors of one type;
    `type_list_attr` a list of tensors whose dtypes that list(type) attr holds; `host`
    means its value is needed while planning (shapes, axes, sizes), so it
    must be computable from constants, shapes and feeds; `ref` means the op
    writes into it (a variable): "write" overwrites it, "update" reads then
    writes it.
    """

    name: str
    type_attr: str | None = None
    dtype: dtypes.DType | None = None
    number_attr: str | None = None
    type_list_attr: str | None = None
    host: bool = False
    ref: str | None = None
    differentiable: bool = True  # False: the op's gradient w.r.t. this input is None by definition

    @property
    def is_list(self) -> bool:
        return self.number_attr is not None or self.type_list_attr is not None

    def count(self, attrs: dict) -> int:
        """How many tensors this arg stands for, given the op's attrs."""
        if self.number_attr:
            return int(attrs[self.number_attr])
        if self.type_list_attr:
            return len(attrs[self.type_list_attr])
        return 1


ATTR_KINDS = (
    "type",
    "int",
    "float",
    "bool",
    "string",
    "shape",
    "tensor",
    "list(int)",
    "list(float)",
    "list(type)",
    "list(shape)",
    "list(string)",
    "func",  # a function (framework.func_graph.FuncGraph): a branch or loop body
)


@dataclass(frozen=True)
class Attr:
    """An attribute: kind is one of ATTR_KINDS.

    `allowed` lists the values a type or string attr (or each element of a list of
    them) may take; `min` is the least value of an int attr, or the least length of a
    list attr (TensorFlow's "int >= 1", "list(int) >= 4"); `max` the greatest value of
    an int attr. `check_attr` enforces all of them when an op is built or imported."""

    name: str
    kind: str
    default: Any = REQUIRED
    allowed: tuple | None = None
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Case:
    """One test case: input arrays, attrs, and whether to check gradients.

    label marks cases the generated tests treat specially: "feed" (a
    placeholder), "variable" (the op works on a variable), "partial_shape"
    (the static shape is deliberately less specific than the inputs').
    `scenario` is for ops whose values come from session state (queues,
    iterators, readers): a function that builds a graph using the op, runs it
    and checks the results against a plain-Python reference; the generated
    tests call it with the public API module (`staticflow`) instead of comparing
    with `ref`. It takes the API as an argument so the op layer never imports the
    package above it.
    """

    inputs: tuple
    attrs: dict = field(default_factory=dict)
    grad: bool = True
    rtol: float | None = None
    label: str = ""
    scenario: Callable[[ModuleType], None] | None = None


INPLACE_ANY = ((-1, -1),)  # OpDef.inplace: any input's buffer may become any output's


@dataclass(frozen=True)
class OpDef:
    name: str
    inputs: tuple[Arg, ...]
    outputs: tuple[Arg, ...]
    attrs: tuple[Attr, ...] = ()
    shape_fn: Callable | None = None
    ref: Callable | None = None
    lower: Callable | None = None
    kernels: tuple[str, ...] = ()
    cases: Callable[[np.random.Generator], list[Case]] | None = None
    doc: str = ""
    elementwise: bool = False
    stateful: bool = False
    random: bool = False
    static: bool = False
    differentiable: bool = True
    # why gradients cannot pass through the op yet (a not differentiable op whose gradient is
    # missing, not None by definition): differentiating through it raises this
    gradient_error: str | None = None
    # (input, output) pairs whose buffers the op's kernels may share: each element of the
    # output is computed from that input's element at the same index, read before it is written
    # (elementwise kernels). INPLACE_ANY: every input with every output (a generated fused
    # kernel loads all its operands at an index before it stores any output there). The
    # planner writes an output over its input where that input dies at the step
    # (runtime/plan.py: _write_in_place)
    inplace: tuple[tuple[int, int], ...] = ()
    error_prefix: Callable | None = None  # op -> text put before a kernel's error message
    shape_only: bool = False  # outputs depend on the inputs' shapes only (Shape, Size, Rank)
    foldable: bool = True  # False: never fold to a constant, though stateless (a fed default)
    # elements of an integer scalar/vector output known before running though its value is not
    # (TF's constant_value_as_shape): fn(op) -> list of int-or-None, or None when even the
    # length is unknown; a generator fn may yield ("value", i) / ("partial", i) to receive
    # input i's constant value / partial value (see staticflow.ops.const_eval)
    partial_value: Callable | None = None
    # the NumPy reference is the kernel: the op runs in Python between kernel calls. Ops on
    # strings (which no C kernel handles) run this way too, whatever this flag says.
    host_kernel: bool = False
    strings_lowered: bool = False  # its lowering handles strings and variants itself (host calls)
    # a handle op: its output is a scalar string naming a per-session resource (a queue, an
    # iterator, a reader) that `resource(op)` creates on first use (runtime/resources.py)
    resource: Callable | None = None
    # a source op: its outputs come from session state, not from its inputs (a dequeue, an
    # iterator's next element, a reader's next record). Session.run calls
    # `source(op, resources, input_values) -> [arrays]` before planning and feeds the arrays to
    # the plan; its inputs must be computable before the run (handles, constants, feeds)
    source: Callable | None = None
    # --- what algebraic simplification may use (staticflow/passes/arithmetic.py) -------------
    # the output is input `identity_of` unchanged (Identity, StopGradient, a default not fed)
    identity_of: int | None = None
    # (input index, value): when that input is a constant equal to `value` everywhere, the
    # output is the other input (x * 1, x + 0, x - 0, x / 1), if shapes and dtypes agree
    neutral: tuple[tuple[int, float], ...] = ()
    involution: bool = False  # op(op(x)) == x exactly (negation, logical not)
    reshape_like: bool = False  # the output is the input's elements in order, in another shape
    # an op's own rewrite rule: simplify(node, rewriter) -> the value that replaces output 0,
    # or None (transposes of transposes, casts there and back, chains of reshapes)
    simplify: Callable | None = None
    # --- what pattern fusion may use (staticflow/passes/remap.py) ------------------------------
    # a product whose output a fused kernel can finish with a bias and an activation while it is
    # in cache: "matmul" (inputs a, b) or "conv2d" (inputs image, filter)
    contraction: str | None = None
    # elementwise x <op> y that a per-channel vector operand makes one step of an affine epilogue
    # y = product * scale + shift: "add", "sub" or "mul"
    affine: str | None = None
    # a unary activation the fused kernels apply in their epilogue: TensorFlow's fused_ops name
    # ("Relu", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh")
    activation: str | None = None
    # the gradient op of that activation: (gradients, features or outputs) -> backprops
    activation_grad: str | None = None
    # an optimizer update of input 0 (a variable) by the gradient input 2 and scalar input 1:
    # "gradient_descent" (var -= alpha * grad)
    gradient_update: str | None = None
    pooling: str | None = None  # a window reduction over an image's height and width: "max"
    reduction: str | None = None  # reduces input 0 over the axes input 1 names: "sum", "mean", ...
    # the part the op can play in a cross-entropy written out by hand: "softmax" or "log_softmax"
    # (over the last axis), "log" (elementwise logarithm), "neg" (negation)
    xent_role: str | None = None
    # --- what fusion may use (staticflow/passes/fusion.py) -----------------------------------
    # an elementwise op's scalar C expression per dtype (ops/scalar.py: ScalarOp)
    scalar: Any = None
    # an op only the compiler makes (a fused group): never read from a user's GraphDef and not
    # compared with TensorFlow; the generated tests check it against its NumPy reference where it
    # declares cases (the fused elementwise group has none of its own: the fusion tests compare
    # its plans with the unfused ones)
    internal: bool = False
    # an internal op whose attrs are plan-time objects (a fused group's members), so no case can
    # build it from a graph: the test module (relative to the repository) that checks its kernels
    # against its reference and the unfused ops instead; the generated tests then skip it
    tested_by: str | None = None
    # a copy between host and device memory that copy insertion adds (ops/transfer.py):
    # "upload" (reads host memory, writes its device's) or "download" (the reverse)
    transfer: str | None = None

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(f"op {self.name} has no attr {name!r}")

    def inplace_pairs(self, n_in: int, n_out: int) -> list[tuple[int, int]]:
        """The (input, output) pairs of a node with n_in inputs and n_out outputs whose
        buffers may be shared, in the order the planner tries them."""
        if self.inplace == INPLACE_ANY:
            return [(i, j) for j in range(n_out) for i in range(n_in)]
        return [(i, j) for i, j in self.inplace if i < n_in and j < n_out]


_REGISTRY: dict[str, OpDef] = {}
# gradient functions: op name -> fn or None (register_gradient fills it; autodiff reads it)
GRADIENTS: dict[str, Callable | None] = {}


def register_gradient(op_type: str):
    """Decorator: fn(op, *output_grads) -> input grads, the gradient of `op_type`. It lives
    with the op records, so the ops' gradient modules need nothing above this layer."""

    def deco(fn):
        get(op_type)  # the op must exist
        if op_type in GRADIENTS:
            raise ValueError(f"gradient of {op_type} registered twice")
        GRADIENTS[op_type] = fn
        return fn

    return deco


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name} is registered twice")
    names = [a.name for a in opdef.attrs]
    if len(set(names)) != len(names):
        raise ValueError(f"op {opdef.name} declares an attr twice")
    for a in opdef.attrs:
        if a.kind not in ATTR_KINDS:
            raise ValueError(f"op {opdef.name}: attr {a.name} has unknown kind {a.kind!r}")
    for arg in opdef.inputs + opdef.outputs:
        for ref in (arg.type_attr, arg.number_attr, arg.type_list_attr):
            if ref is not None and ref not in names:
                raise ValueError(f"op {opdef.name}: arg {arg.name} names undeclared attr {ref!r}")
    _REGISTRY[opdef.name] = opdef
    return opdef


def op(**kwargs) -> OpDef:
    """Declare and register an op (keyword arguments of OpDef)."""
    kwargs["inputs"] = tuple(kwargs.get("inputs", ()))
    kwargs["outputs"] = tuple(kwargs.get("outputs", ()))
    kwargs["attrs"] = tuple(kwargs.get("attrs", ()))
    kwargs["kernels"] = tuple(kwargs.get("kernels", ()))
    return register(OpDef(**kwargs))


def _int_value(v, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and float(v).is_integer():
            return int(v)
        raise TypeError(f"{what} must be an int, got {v!r} ({type(v).__name__})")
    return int(v)


def _str_value(v, what: str):
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, np.bytes_)):
        try:
            return bytes(v).decode()
        except UnicodeDecodeError:
            return bytes(v)
    raise TypeError(f"{what} must be a string, got {v!r} ({type(v).__name__})")


def _check_scalar(a: Attr, v, what: str):
    """One value of `a`'s element kind, converted and checked against allowed/min/max."""
    kind = a.kind[5:-1] if a.kind.startswith("list(") else a.kind
    if kind == "type":
        try:
            v = dtypes.as_dtype(v)
        except (TypeError, ValueError, KeyError) as e:
            raise TypeError(f"{what} must be a dtype: {e}") from None
    elif kind == "int":
        v = _int_value(v, what)
        if not a.kind.startswith("list("):
            if a.min is not None and v < a.min:
                raise ValueError(f"{what} = {v} is less than the minimum {a.min}")
            if a.max is not None and v > a.max:
                raise ValueError(f"{what} = {v} is more than the maximum {a.max}")
        if not -(1 << 63) <= v < (1 << 63):
            raise ValueError(f"{what} = {v} does not fit in 64 bits")
    elif kind == "float":
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{what} must be a float, got {v!r} ({type(v).__name__})")
        # AttrValue holds a 32-bit float (as in TensorFlow): round now so a saved graph runs the same
        with np.errstate(over="ignore"):
            v = float(np.float32(v))
    elif kind == "bool":
        if isinstance(v, (bool, np.bool_)):
            v = bool(v)
        elif isinstance(v, numbers.Integral) and int(v) in (0, 1):
            v = bool(v)
        else:
            raise TypeError(f"{what} must be a bool, got {v!r} ({type(v).__name__})")
    elif kind == "string":
        v = _str_value(v, what)
    elif kind == "shape":
        try:
            v = as_shape(v)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what} must be a shape: {e}") from None
    elif kind == "tensor":
        if v is None:
            raise TypeError(f"{what} must be a tensor value, got None")
    elif kind == "func":
        from staticflow.framework.func_graph import FuncGraph

        if not isinstance(v, FuncGraph):
            raise TypeError(f"{what} must be a function (a FuncGraph), got {v!r} ({type(v).__name__})")
    if a.allowed is not None and kind in ("type", "string") and v not in a.allowed:
        shown = ", ".join(x.name if isinstance(x, dtypes.DType) else str(x) for x in a.allowed)
        got = v.name if isinstance(v, dtypes.DType) else repr(v)
        err = TypeError if kind == "type" else ValueError  # TensorFlow's classes for these
        raise err(f"{what} = {got} is not one of the allowed values ({shown})")
    return v


def check_attr(a: Attr, value, what: str = ""):
    """`value` converted to attr `a`'s kind (dtypes, shapes, 32-bit floats, str) and checked
    against its declared range and allowed values.

    TypeError when the value is not of the kind, ValueError when it is out of range or
    not allowed; `what` (e.g. "Conv2D op 'c'") starts the message, which names the attr
    and the value."""
    label = f"{what}: attr {a.name!r}" if what else f"attr {a.name!r}"
    if a.kind.startswith("list("):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise TypeError(f"{label} must be a {a.kind}, got {value!r}")
        items = [_check_scalar(a, v, f"{label}[{i}]") for i, v in enumerate(value)]
        if a.min is not None and len(items) < a.min:
            raise ValueError(f"{label} has {len(items)} values, fewer than the minimum {a.min}")
        return items
    return _check_scalar(a, value, label)


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"staticflow has no op {name!r}") from None


def lookup(name: str) -> OpDef | None:
    return _REGISTRY.get(name)


def all_ops() -> list[OpDef]:
    """Every registered op, sorted by name (the compiler's internal ops too: see `internal`)."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def kernel_name(base: str, *dts: dtypes.DType, device: str = "cpu") -> str:
    """`sf_<device>_<base>_<dtype>...`, the ABI's kernel naming."""
    return "_".join([f"sf_{device}_{base}"] + [d.name for d in dts])


def kernels_for(bases: Sequence[str], dts: Sequence[dtypes.DType]) -> tuple[str, ...]:
    return tuple(kernel_name(b, d) for b in bases for d in dts)


def runs_on_host(d: OpDef, in_dtypes, out_dtypes) -> bool:
    """Whether an op runs through its NumPy reference rather than kernels: host-kernel
    ops, and every op that reads or writes strings or variants (Python objects)."""
    if d.host_kernel:
        return True
    return not d.strings_lowered and any(dtypes.holds_objects(t) for t in (*in_dtypes, *out_dtypes))


class ShapeContext:
    """What a shape function sees: input shapes, dtypes, attrs and known values."""

    def __init__(
        self,
        opdef: OpDef,
        name: str,
        shapes,
        in_dtypes,
        attrs,
        values,
        planning: bool = False,
        partials=None,
        functions=None,
    ):
        self.planning = planning  # True when shapes are the concrete ones of a run
        # while planning: fn(func_graph, concrete input shapes) -> its concrete output shapes
        # (the compiler's, for the ops that call functions: If, While); else None
        self.functions = functions
        self.opdef = opdef
        self.name = name
        self.input_shapes = [as_shape(s) for s in shapes]
        self.input_dtypes = list(in_dtypes)
        self.attrs = attrs
        self._values = values
        self._partials = partials
        # while planning: what is known of each variant input (a list_ops.ListSpec: its
        # elements' shapes, its length) or None; a shape function records its variant
        # outputs' in `output_specs` (output index -> spec)
        self.input_specs: list = []
        self.output_specs: dict = {}
        # while planning: set by the shape function of an op that calls functions (If, While)
        # when its outputs' shapes are only known while it runs (a loop variable that grows, a
        # cond whose branches give different shapes); the shapes it returns are then the
        # graph's (partly unknown), and the plan ends before the op (compiler.build_ir)
        self.dynamic = False

    def spec(self, i: int):
        """What is known while planning of variant input i (list_ops.ListSpec), or None."""
        return self.input_specs[i] if i < len(self.input_specs) else None

    def value(self, i: int):
        """Input i's value when known before running (a constant, a shape), else None."""
        return self._values(i)

    def partial_value(self, i: int) -> list | None:
        """The elements of input i, an integer scalar or vector, each an int (negative ones
        too, such as reshape's -1) or None when unknown; None when its length is unknown."""
        if self._partials is not None:
            return self._partials(i)
        v = self.value(i)
        if v is not None:
            return [int(e) for e in np.asarray(v).reshape(-1)]
        s = self.shape(i)
        n = 1 if s.ndims == 0 else s[0].value if s.ndims == 1 else None
        return None if n is None else [None] * n

    def shape_value(self, i: int) -> TensorShape:
        """Input i, a shape vector, as a partially known shape (TF's constant_value_as_shape):
        its known elements as dimensions, unknown (or negative) ones as None; unknown rank when
        even its length is unknown, or when it is a scalar (TF: only -1 is allowed there)."""
        if self.shape(i).ndims == 0:
            return TensorShape(None)
        p = self.partial_value(i)
        if p is None:
            return TensorShape(None)
        return TensorShape([d if d is not None and d >= 0 else None for d in p])

    def shape(self, i: int) -> TensorShape:
        return self.input_shapes[i]


def validate(available_kernels: set[str] | None = None) -> list[str]:
    """Problems with the registry: missing pieces, kernels the library lacks."""
    problems = []
    for d in all_ops():
        if d.shape_fn is None:
            problems.append(f"{d.name}: no shape function")
        if d.ref is None:
            problems.append(f"{d.name}: no NumPy reference")
        if d.lower is None and not d.static and not d.host_kernel and d.source is None:
            problems.append(f"{d.name}: neither a lowering nor static")
        if d.cases is None:
            problems.append(f"{d.name}: no test cases")
        if d.differentiable and GRADIENTS.get(d.name) is None:
            problems.append(f"{d.name}: differentiable but no gradient is registered")
        if available_kernels is not None:
            for k in d.kernels:
                if k not in available_kernels:
                    problems.append(f"{d.name}: kernel {k} is missing from the library")
    return problems


# the framework reads op records (Operation.op_def, GraphDef import) through its hooks
framework_hooks.install(op_def=lookup, check_attr=check_attr)
