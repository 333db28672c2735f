"""The op registry: everything staticflow knows about an op, in one declaration.

An `OpDef` holds the op's TensorFlow name, its inputs, outputs and attrs, a
shape function, a NumPy reference (the test oracle and the constant folder),
how it lowers to kernels, its flags (elementwise, stateful, random, in-place
candidates) and its test cases. Passes, the planner, the exporters and the
generated tests read these records; nothing else keeps lists of op names.
The gradient slot is filled by `staticflow.autodiff`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from staticflow.framework import dtypes
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


@dataclass(frozen=True)
class Attr:
    """An attribute: kind is one of type, int, float, bool, string, shape,
    tensor, list(int), list(float), list(type), list(shape), list(string)."""

    name: str
    kind: str
    default: Any = REQUIRED
    allowed: tuple | None = None


@dataclass(frozen=True)
class Case:
    """One test case: input arrays, attrs, and whether to check gradients.

    label marks cases the generated tests treat specially: "feed" (a
    placeholder), "variable" (the op works on a variable), "partial_shape"
    (the static shape is deliberately less specific than the inputs').
    `scenario` is for ops whose values come from session state (queues,
    iterators, readers): a function that builds a graph using the op, runs it
    and checks the results against a plain-Python reference; the generated
    tests call it instead of comparing with `ref`.
    """

    inputs: tuple
    attrs: dict = field(default_factory=dict)
    grad: bool = True
    rtol: float | None = None
    label: str = ""
    scenario: Callable[[], None] | None = None


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
    inplace: tuple[tuple[int, int], ...] = ()
    error_prefix: Callable | None = None  # op -> text put before a kernel's error message
    shape_only: bool = False  # outputs depend on the inputs' shapes only (Shape, Size, Rank)
    foldable: bool = True  # False: never fold to a constant, though stateless (a fed default)
    # the NumPy reference is the kernel: the op runs in Python between kernel calls. Ops on
    # strings (which no C kernel handles) run this way too, whatever this flag says.
    host_kernel: bool = False
    strings_lowered: bool = False  # its lowering handles strings itself (with host calls)
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
    # --- what fusion may use (staticflow/passes/fusion.py) -----------------------------------
    # an elementwise op's scalar C expression per dtype (ops/scalar.py: ScalarOp)
    scalar: Any = None
    # a reduction a fused kernel can end with: "sum" or "mean" over constant axes (input 1)
    reduction: str | None = None
    # an op that only passes make (a fused group): not importable from a GraphDef, left out of
    # all_ops() and so of the generated op tests and the parity suite
    internal: bool = False

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(f"op {self.name} has no attr {name!r}")


_REGISTRY: dict[str, OpDef] = {}
# gradient functions, filled by staticflow.autodiff: op name -> fn or None
GRADIENTS: dict[str, Callable | None] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name} is registered twice")
    names = [a.name for a in opdef.attrs]
    if len(set(names)) != len(names):
        raise ValueError(f"op {opdef.name} declares an attr twice")
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


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"staticflow has no op {name!r}") from None


def lookup(name: str) -> OpDef | None:
    return _REGISTRY.get(name)


def all_ops(internal: bool = False) -> list[OpDef]:
    """Every op users can name, sorted; with `internal`, the ops only passes make too."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY) if internal or not _REGISTRY[k].internal]


def kernel_name(base: str, *dts: dtypes.DType, device: str = "cpu") -> str:
    """`sf_<device>_<base>_<dtype>...`, the ABI's kernel naming."""
    return "_".join([f"sf_{device}_{base}"] + [d.name for d in dts])


def kernels_for(bases: Sequence[str], dts: Sequence[dtypes.DType]) -> tuple[str, ...]:
    return tuple(kernel_name(b, d) for b in bases for d in dts)


def runs_on_host(d: OpDef, in_dtypes, out_dtypes) -> bool:
    """Whether an op runs through its NumPy reference rather than kernels: host-kernel
    ops, and every op that reads or writes strings."""
    if d.host_kernel:
        return True
    return not d.strings_lowered and any(t is dtypes.string for t in (*in_dtypes, *out_dtypes))


class ShapeContext:
    """What a shape function sees: input shapes, dtypes, attrs and known values."""

    def __init__(self, opdef: OpDef, name: str, shapes, in_dtypes, attrs, values, planning: bool = False):
        self.planning = planning  # True when shapes are the concrete ones of a run
        self.opdef = opdef
        self.name = name
        self.input_shapes = [as_shape(s) for s in shapes]
        self.input_dtypes = list(in_dtypes)
        self.attrs = attrs
        self._values = values

    def value(self, i: int):
        """Input i's value when known before running (a constant, a shape), else None."""
        return self._values(i)

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
