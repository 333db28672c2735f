"""Where staticflow and TensorFlow differ: the one list the parity suite reads.

INTENDED: behaviour that differs on purpose, or cases TensorFlow itself cannot
compute (its CPU kernels refuse them, or its result is wrong). The aspects named
are not compared there ("values" still compares shapes and dtypes).

KNOWN_BUGS: staticflow is wrong and must be fixed. Their tests are marked strict
xfail: they fail the run the moment the bug is fixed, so that the entry goes.

PROGRAMS: outputs of parity programs that differ on purpose.

An entry applies to the ops named, and optionally only to registry cases for
which `case` is true, only to some shape variants (see opcases.py), or only
where TensorFlow's error text matches `tf_error` (aspect by aspect: "values"
when a run failed so, "gradients" when the gradient failed so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from parity import compare
from staticflow.ops import registry


@dataclass(frozen=True)
class Flags:
    """The ops whose registry declaration sets any of these flags (random, stateful,
    host_kernel, source, resource, ...): a class of ops, named the way the registry knows it."""

    names: tuple[str, ...]

    def __call__(self, d: registry.OpDef) -> bool:
        return any(getattr(d, f) for f in self.names)


def flagged(*names: str) -> Flags:
    """The class of ops with any of these registry flags (checked to be OpDef fields)."""
    for n in names:
        if n not in registry.OpDef.__dataclass_fields__:
            raise ValueError(f"the registry has no op flag {n!r}")
    return Flags(names)


@dataclass(frozen=True)
class Difference:
    ops: tuple[str, ...] | Flags  # op names, or a class of ops by registry flags
    aspects: tuple[str, ...]
    reason: str
    case: Callable | None = None  # registry Case -> bool
    variants: tuple[str, ...] | None = None
    tf_error: str | None = None  # regular expression

    def covers_op(self, op: str) -> bool:
        if isinstance(self.ops, Flags):
            return self.ops(registry.get(op))
        return op in self.ops

    def applies(self, op: str, case, variant: str) -> bool:
        return (
            self.covers_op(op)
            and (self.case is None or self.case(case))
            and (self.variants is None or variant in self.variants)
        )


def _attr(name, value):
    return lambda c: c.attrs.get(name) == value


_CONV_OPS = (
    "Conv2D",
    "Conv2DBackpropFilter",
    "Conv2DBackpropInput",
    "DepthwiseConv2dNative",
    "DepthwiseConv2dNativeBackpropFilter",
    "DepthwiseConv2dNativeBackpropInput",
    "MaxPool",
    "MaxPoolGrad",
    "MaxPoolGradGrad",
    "AvgPool",
    "AvgPoolGrad",
)
_REDUCTIONS = ("Sum", "Mean", "Prod", "Max", "Min")


def _float_to_int_out_of_range(c) -> bool:
    """A Cast from a float type to an integer type with an input outside the integer's range."""
    x = np.asarray(c.inputs[0])
    dst = c.attrs["DstT"]
    if not (compare.is_float(x.dtype) and dst.is_integer):
        return False
    x = x.astype(np.float64)
    info = np.iinfo(dst.np)
    with np.errstate(invalid="ignore"):
        t = np.trunc(x)
        return bool(np.any(~np.isfinite(x)) or np.any(t < info.min) or np.any(t >= float(info.max) + 1))


def _half_float(x) -> bool:
    return np.asarray(x).dtype.name in ("float16", "bfloat16")


def _dilated(c) -> bool:
    return any(d != 1 for d in c.attrs.get("dilations", (1, 1, 1, 1)))


INTENDED: list[Difference] = [
    Difference(
        flagged("random"),
        ("values",),
        "random streams differ: TensorFlow's Philox counters and staticflow's generator draw different "
        "numbers from the same seeds (the distributions are tested in tests/kernels/test_random_kernels.py, "
        "the samplers' and shuffles' against NumPy replays of staticflow's stream in tests/ops and tests/nn)",
    ),
    Difference(
        _CONV_OPS,
        ("values", "gradients"),
        "TensorFlow's CPU kernels do not implement these configurations (NCHW in float64 or outside "
        "oneDNN, dilations in some kernels, unequal depthwise strides); staticflow's do, and the "
        "registry tests check them against NumPy loops and numerical gradients",
        tf_error="only supports NHWC|supports the NHWC tensor format|do(es)? not (yet )?support dilation"
        "|equal length strides in the row and column",
    ),
    Difference(
        ("DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput"),
        ("values", "gradients"),
        "TensorFlow's depthwise backprop kernels ignore dilations on the CPU: wrong values (or a shape "
        "error for NCHW); staticflow's match NumPy loops (tests/ops/test_registry_ops.py)",
        case=_dilated,
    ),
    Difference(
        ("DepthwiseConv2dNative",),
        ("gradients",),
        "TensorFlow differentiates a dilated depthwise convolution with its backprop kernels, which ignore "
        "dilations; staticflow's gradient matches numerical differentiation "
        "(tests/ops/test_registry_gradients.py)",
        case=_dilated,
    ),
    Difference(
        _CONV_OPS,
        ("shapes", "values", "gradients"),
        "on an empty batch TensorFlow's oneDNN convolutions return a tensor with the input's channels "
        "instead of the output's, contradicting its own static shape",
        case=lambda c: any(np.size(x) == 0 for x in c.inputs if not isinstance(x, list)),
    ),
    Difference(
        ("SoftmaxCrossEntropyWithLogits",),
        ("gradients",),
        "TensorFlow's gradient with respect to labels ignores the path through the op's second output "
        "(backprop = softmax(logits) - labels); staticflow differentiates both outputs",
    ),
    Difference(
        _REDUCTIONS,
        ("gradients",),
        "TensorFlow cannot build the gradient of a reduction over int64 axes when the input's shape is "
        "not fully known (DynamicStitch receives int64 and int32 indices)",
        tf_error="DynamicStitch",
    ),
    Difference(
        ("PadV2",),
        ("gradients",),
        "TensorFlow returns no gradient for constant_values; staticflow returns the true one (the sum of "
        "the cotangent over the padded positions)",
    ),
    Difference(
        ("Cast",),
        ("values",),
        "float to integer casts of values outside the integer type's range (negative values to "
        "unsigned types, too large values, infinities, NaN): undefined behaviour in TensorFlow's C++ "
        "(x86 wraps or gives the type's minimum); staticflow saturates to the type's range (and NaN to 0)",
        case=_float_to_int_out_of_range,
    ),
    Difference(
        ("Sum",),
        ("values",),
        "16-bit float sums: staticflow accumulates float16 and bfloat16 in float32 and rounds once; "
        "TensorFlow's CPU kernel accumulates in the 16-bit type, so its sums carry more rounding error",
        case=lambda c: _half_float(c.inputs[0]),
    ),
    Difference(
        ("Div",),
        ("gradients",),
        "the gradient of a float16 division with respect to a broadcast divisor sums many 16-bit products "
        "that cancel (an ill-conditioned sum): both engines' results are within that sum's rounding noise "
        "of the exact value, but not of each other",
        case=lambda c: _half_float(c.inputs[0]) and np.shape(c.inputs[0]) != np.shape(c.inputs[1]),
    ),
    Difference(
        ("TopKV2",),
        ("values", "gradients"),
        "rows holding NaN: TensorFlow's order around NaN depends on its sorting algorithm (NaN compares "
        "false); staticflow ranks NaN above every number, as documented in staticflow/ops/topk_ops.py",
        case=lambda c: bool(np.isnan(np.asarray(c.inputs[0], np.float64)).any()),
    ),
    Difference(
        ("Tile",),
        ("values", "gradients"),
        "TensorFlow's CPU Tile kernel is not built for uint16; staticflow's is",
        tf_error="TileOp : The input data type is not supported",
    ),
]

KNOWN_BUGS: list[Difference] = []

# program file stem -> {output name: reason}: outputs that differ on purpose
PROGRAMS: dict[str, dict[str, str]] = {}

# program file stem -> the staticflow bug that makes it fail (strict xfail until fixed)
PROGRAM_BUGS: dict[str, str] = {}


def excused(op: str, case, variant: str, tf_errors: dict[str, list[str]]) -> tuple[frozenset, frozenset]:
    """(aspects not compared on purpose, aspects failing by a known bug) for one comparison.

    tf_errors: TensorFlow's error texts by aspect ("values": failed runs, "gradients": the
    gradient's, which also counts the runs').
    """
    intended, bugs = set(), set()
    for entries, into in ((INTENDED, intended), (KNOWN_BUGS, bugs)):
        for d in entries:
            if not d.applies(op, case, variant):
                continue
            for aspect in d.aspects:
                if d.tf_error is None or any(re.search(d.tf_error, t) for t in tf_errors.get(aspect, [])):
                    into.add(aspect)
    return frozenset(intended), frozenset(bugs)


def known_bug(op: str, case, variant: str) -> Difference | None:
    """The known-bug entry for a comparison, if any (it marks the test strict xfail)."""
    for d in KNOWN_BUGS:
        if d.applies(op, case, variant):
            return d
    return None


def count() -> tuple[int, int]:
    """(intended differences, known bugs) listed, program entries included."""
    return len(INTENDED) + sum(len(v) for v in PROGRAMS.values()), len(KNOWN_BUGS) + len(PROGRAM_BUGS)
