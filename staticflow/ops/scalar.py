"""What an elementwise op's registry record says about computing one element.

`ScalarOp` is the registry's ``scalar`` field: the op's C expression for each dtype
(read from the one table in `staticflow.ops.scalar_table`, which also generates the
hand-written kernels' op lists), the attributes the expression reads, and how its
inputs line up with its output when that is not NumPy broadcasting (BiasAdd's
channel, Select's row condition). The elementwise fusion pass and the fused-kernel
generator read nothing else about an op.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from staticflow.framework import dtypes
from staticflow.ops import scalar_table

# C type a value of each dtype is computed in (16-bit floats in float32)
COMPUTE_TYPE = {name: ctype for name, (_cls, ctype, _x) in scalar_table.DTYPES.items()}
# C type each dtype is stored as
STORAGE_TYPE = {
    **{name: ctype for name, (cls, ctype, _x) in scalar_table.DTYPES.items() if cls != "half"},
    "float16": "uint16_t",
    "bfloat16": "uint16_t",
}


@dataclass(frozen=True)
class Expr:
    """One element of an op: `text` in C over the operand variables `operands` (declared in
    their dtypes' compute types), its result of dtype `out`; `fattrs` are the op's float
    attributes the text reads by name (alpha)."""

    text: str
    operands: tuple[str, ...]
    out: str
    fattrs: tuple[str, ...] = ()

    @property
    def can_fail(self) -> bool:
        """Integer division, modulo and power report errors through `bad`."""
        return "&bad" in self.text


@dataclass(frozen=True)
class ScalarOp:
    """How an elementwise op computes one element.

    base: its kernel's base name in the scalar table (``add`` for AddV2, Add, BiasAdd).
    fattrs: attrs the expression reads, as float constants of the same name.
    align: (attrs, input shapes, output shape) -> input shapes that broadcast NumPy-style
        to the output; None means they already do.
    build: (input dtype names, output dtype name) -> Expr for ops whose expression is
        not one table entry (Select, AddN); None reads the table.
    """

    base: str = ""
    fattrs: tuple[str, ...] = ()
    align: Callable | None = None
    build: Callable | None = None

    def expression(self, in_dtypes, out_dtype) -> Expr | None:
        """The op's Expr for these dtypes, or None where no kernel computes them."""
        ins = tuple(dtypes.as_dtype(t).name for t in in_dtypes)
        return self._expression(ins, dtypes.as_dtype(out_dtype).name)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  (ScalarOps are module-level records)
    def _expression(self, ins: tuple, out: str) -> Expr | None:
        if any(t not in scalar_table.DTYPES for t in (*ins, out)):
            return None
        if self.build is not None:
            e = self.build(ins, out)
        else:
            if len(set(ins)) != 1 or len(ins) not in (1, 2):
                return None
            found = scalar_table.lookup(self.base, ins[0], len(ins))
            if found is None:
                return None
            e = Expr(found[0], ("x", "y")[: len(ins)], found[1], self.fattrs)
        return e if e is not None and e.out == out else None

    def aligned_shapes(self, attrs: dict, in_shapes, out_shape) -> list[tuple]:
        """Input shapes lined up with the output (NumPy broadcasting from the right)."""
        if self.align is None:
            return [tuple(s) for s in in_shapes]
        return [tuple(s) for s in self.align(attrs, in_shapes, out_shape)]


def select_expr(ins, out) -> Expr | None:
    if ins[0] != "bool" or ins[1] != ins[2] or ins[1] != out:
        return None
    return Expr("c ? x : y", ("c", "x", "y"), out)


def addn_expr(ins, out) -> Expr | None:
    """The sum of N inputs, left to right. 16-bit floats (which round after each addition)
    and bool have no expression here."""
    if len(set(ins)) != 1 or ins[0] != out:
        return None
    cls, ctype, extra = scalar_table.DTYPES[out]
    names = tuple(f"x{i}" for i in range(len(ins)))
    if cls == "float":
        return Expr(" + ".join(names), names, out)
    if cls in ("int", "small_int", "uint"):
        return Expr(f"({ctype})(" + " + ".join(f"({extra}){n}" for n in names) + ")", names, out)
    return None


def select_align(attrs, in_shapes, out_shape):
    """TF1's Select: a vector condition picks whole rows of the first dimension."""
    c, t, e = (tuple(s) for s in in_shapes)
    if len(c) == 1 and len(out_shape) > 1:
        c = c + (1,) * (len(out_shape) - 1)
    return [c, t, e]


def bias_align(attrs, in_shapes, out_shape):
    """BiasAdd: the bias runs along the channel dimension (last, or 1 for NCHW)."""
    x, b = (tuple(s) for s in in_shapes)
    if attrs.get("data_format", "NHWC") == "NCHW" and len(x) > 2:
        b = b + (1,) * (len(x) - 2)
    return [x, b]
