"""The scalar C expressions of the elementwise ops: one table for two kinds of kernel.

Each entry is (kernel base name, C expression template[, output]) in a named list;
the lists are grouped by the dtype class they apply to. The same table

- becomes the X-macro lists that ``kernels/cpu/elementwise.c`` instantiates its
  hand-tuned kernels from (`c_header`, written at build time by
  ``staticflow/backends/_build_cpu.py`` into the build's include directory), and
- gives the op registry the expression of each (op, dtype) that fused kernels
  generated at plan time are made of (`expression`, through
  ``staticflow/ops/scalar.py``).

Expressions read their operands as ``x`` (and ``y``); the ops with an attribute
read ``alpha``; integer ops that can fail call a helper with ``&bad``. Templates
name the dtype's pieces in braces: ``{T}`` the C compute type, ``{S}`` the libm
suffix (``f`` for float), ``{DT}`` the dtype's name (helpers are per dtype:
``sign_float32``), ``{UT}`` the unsigned type integer arithmetic wraps through.
The helpers live in ``kernels/cpu/sf_scalar.h``.

This module imports only the standard library, so the C build can load it by path.
"""

from __future__ import annotations

import functools

# dtype classes: dtype name -> (class, C compute type, libm suffix or unsigned type)
DTYPES = {
    "float32": ("float", "float", "f"),
    "float64": ("float", "double", ""),
    "float16": ("half", "float", "f"),  # stored as uint16_t, computed in float32
    "bfloat16": ("half", "float", "f"),
    "int32": ("int", "int32_t", "uint32_t"),
    "int64": ("int", "int64_t", "uint64_t"),
    "int8": ("small_int", "int8_t", "uint32_t"),
    "int16": ("small_int", "int16_t", "uint32_t"),
    "uint8": ("uint", "uint8_t", "uint32_t"),
    "uint16": ("uint", "uint16_t", "uint32_t"),
    "uint32": ("uint", "uint32_t", "uint32_t"),
    "uint64": ("uint", "uint64_t", "uint64_t"),
    "bool": ("bool", "uint8_t", "uint8_t"),
}

# the integer binary ops of int32 and int64; the narrower and unsigned types have fewer
_BINARY_INT = [
    ("add", "({T})(({UT})x + ({UT})y)"),
    ("sub", "({T})(({UT})x - ({UT})y)"),
    ("mul", "({T})(({UT})x * ({UT})y)"),
    ("floordiv", "floordiv_{DT}(x, y, &bad)"),
    ("mod", "mod_{DT}(x, y, &bad)"),
    ("pow", "pow_{DT}(x, y, &bad)"),
    ("maximum", "x > y ? x : y"),
    ("minimum", "x < y ? x : y"),
    ("squared_difference", "({T})((({UT})x - ({UT})y) * (({UT})x - ({UT})y))"),
]


def _without(entries: list[tuple], *ops: str) -> list[tuple]:
    return [e for e in entries if e[0] not in ops]


# list name -> (arity, macro parameters, [(op, template) or (op, template, "bool")])
LISTS: dict[str, tuple[int, str, list[tuple]]] = {
    "UNARY_FLOAT_OPS": (1, "X, DT, T, S", [
        ("neg", "-x"),
        ("reciprocal", "({T})1 / x"),
        ("exp", "exp_{DT}(x)"),
        ("expm1", "expm1{S}(x)"),
        ("log", "log{S}(x)"),
        ("log1p", "log1p{S}(x)"),
        ("sqrt", "sqrt{S}(x)"),
        ("rsqrt", "({T})1 / sqrt{S}(x)"),
        ("square", "x * x"),
        ("abs", "fabs{S}(x)"),
        ("sign", "sign_{DT}(x)"),
        ("floor", "floor{S}(x)"),
        ("ceil", "ceil{S}(x)"),
        ("round", "nearbyint{S}(x)"),  # half to even
        ("sin", "sin{S}(x)"),
        ("cos", "cos{S}(x)"),
        ("erf", "erf{S}(x)"),
        ("relu", "x < 0 ? ({T})0 : x"),  # NaN stays NaN
        ("sigmoid", "sigmoid_{DT}(x)"),
        ("tanh", "tanh_{DT}(x)"),
        ("softplus", "softplus_{DT}(x)"),
        ("elu", "elu_{DT}(x)"),
        ("selu", "selu_{DT}(x)"),
    ]),
    # alpha = the op's attribute (fattr[SF_FATTR_ALPHA] of the hand-written kernels)
    "UNARY_ATTR_FLOAT_OPS": (1, "X, DT, T, S", [
        ("leaky_relu", "x > 0 ? x : alpha * x"),
    ]),
    "UNARY_INT_OPS": (1, "X, DT, T, UT", [
        ("neg", "({T})(({UT})0 - ({UT})x)"),
        ("square", "({T})(({UT})x * ({UT})x)"),
        ("abs", "x < 0 ? ({T})(({UT})0 - ({UT})x) : x"),
        ("sign", "({T})((x > 0) - (x < 0))"),
        ("relu", "x < 0 ? ({T})0 : x"),
    ]),
    # unsigned: TensorFlow has no Neg, Abs or Sign for them
    "UNARY_UINT_OPS": (1, "X, DT, T, UT", [
        ("square", "({T})(({UT})x * ({UT})x)"),
        ("relu", "x"),
    ]),
    "UNARY_BOOL_OPS": (1, "X", [
        ("logical_not", "(uint8_t)(x == 0)"),
    ]),
    "BINARY_FLOAT_OPS": (2, "X, DT, T, S", [
        ("add", "x + y"),
        ("sub", "x - y"),
        ("mul", "x * y"),
        ("div", "x / y"),
        ("floordiv", "floor{S}(x / y)"),
        ("mod", "mod_{DT}(x, y)"),
        ("pow", "pow{S}(x, y)"),
        ("maximum", "max_{DT}(x, y)"),
        ("minimum", "min_{DT}(x, y)"),
        ("squared_difference", "(x - y) * (x - y)"),
    ]),
    # TensorFlow's *Grad ops with its expressions, in its order: x is in[0], y is in[1]
    #   relu_grad(gradients, features), softplus_grad(gradients, features),
    #   elu_grad(gradients, outputs), selu_grad(gradients, outputs),
    #   sigmoid_grad, tanh_grad, rsqrt_grad, sqrt_grad, reciprocal_grad (y, dy)
    # relu_grad multiplies (a NaN gradient stays NaN where the feature is <= 0); the sqrt,
    # rsqrt and reciprocal gradients are 0 where dy is 0, whatever y is
    "BINARY_GRAD_FLOAT_OPS": (2, "X, DT, T, S", [
        ("relu_grad", "x * ({T})(y > 0)"),
        ("sigmoid_grad", "y * (x * (({T})1 - x))"),
        ("tanh_grad", "y * (({T})1 - x * x)"),
        ("softplus_grad", "x * sigmoid_{DT}(y)"),
        ("elu_grad", "y < 0 ? x * (y + ({T})1) : x"),
        ("selu_grad", "y < 0 ? x * (y + ({T})SELU_SCALE_ALPHA) : x * ({T})SELU_SCALE"),
        ("rsqrt_grad", "y == 0 ? ({T})0 : ({T})-0.5 * (y * x) * (x * x)"),
        ("sqrt_grad", "y == 0 ? ({T})0 : ({T})0.5 * y / x"),
        ("reciprocal_grad", "y == 0 ? ({T})0 : -x * x * y"),
    ]),
    # leaky_relu_grad(gradients, features), alpha = the op's attribute
    "BINARY_ATTR_FLOAT_OPS": (2, "X, DT, T, S", [
        ("leaky_relu_grad", "y > 0 ? x : x * alpha"),
    ]),
    "BINARY_INT_OPS": (2, "X, DT, T, UT", _BINARY_INT),
    # int8 and int16: the int32/int64 ops but squared_difference (as TensorFlow)
    "BINARY_SMALL_INT_OPS": (2, "X, DT, T, UT", _without(_BINARY_INT, "squared_difference")),
    # unsigned: no pow and no squared_difference (as TensorFlow)
    "BINARY_UINT_OPS": (2, "X, DT, T, UT", _without(_BINARY_INT, "pow", "squared_difference")),
    "COMPARE_OPS": (2, "X, DT, T", [
        ("less", "x < y", "bool"),
        ("less_equal", "x <= y", "bool"),
        ("greater", "x > y", "bool"),
        ("greater_equal", "x >= y", "bool"),
        ("equal", "x == y", "bool"),
        ("not_equal", "x != y", "bool"),
    ]),
    "BINARY_BOOL_OPS": (2, "X", [
        ("equal", "(x != 0) == (y != 0)", "bool"),
        ("not_equal", "(x != 0) != (y != 0)", "bool"),
        ("logical_and", "(x != 0) & (y != 0)", "bool"),
        ("logical_or", "(x != 0) | (y != 0)", "bool"),
    ]),
}

# the lists each dtype class has kernels for (elementwise.c instantiates the same)
CLASS_LISTS = {
    "float": ("UNARY_FLOAT_OPS", "UNARY_ATTR_FLOAT_OPS", "BINARY_FLOAT_OPS", "COMPARE_OPS",
              "BINARY_GRAD_FLOAT_OPS", "BINARY_ATTR_FLOAT_OPS"),
    "half": ("UNARY_FLOAT_OPS", "UNARY_ATTR_FLOAT_OPS", "BINARY_FLOAT_OPS", "COMPARE_OPS",
             "BINARY_GRAD_FLOAT_OPS", "BINARY_ATTR_FLOAT_OPS"),
    "int": ("UNARY_INT_OPS", "BINARY_INT_OPS", "COMPARE_OPS"),
    "small_int": ("UNARY_INT_OPS", "BINARY_SMALL_INT_OPS", "COMPARE_OPS"),
    "uint": ("UNARY_UINT_OPS", "BINARY_UINT_OPS", "COMPARE_OPS"),
    "bool": ("UNARY_BOOL_OPS", "BINARY_BOOL_OPS"),
}


def _entries(list_name: str):
    arity, _params, entries = LISTS[list_name]
    for e in entries:
        yield e[0], e[1], (e[2] if len(e) > 2 else None), arity


@functools.cache
def lookup(base: str, dtype: str, arity: int) -> tuple[str, str] | None:
    """(C expression, output dtype name) of kernel `base` for inputs of `dtype`, with the
    dtype's pieces filled in; None when the table has no such kernel."""
    if dtype not in DTYPES:
        return None
    cls, ctype, extra = DTYPES[dtype]
    for list_name in CLASS_LISTS[cls]:
        for op, template, out, n in _entries(list_name):
            if op == base and n == arity:
                suffix = extra if cls in ("float", "half") else ""
                unsigned = extra if cls not in ("float", "half") else ""
                expr = template.format(T=ctype, S=suffix, DT=dtype, UT=unsigned)
                return expr, (out or dtype)
    return None


def kernel_names() -> list[str]:
    """sf_cpu_<op>_<dtype> of every kernel the table describes (elementwise.c must have each)."""
    out = []
    for dtype, (cls, _c, _x) in DTYPES.items():
        for list_name in CLASS_LISTS[cls]:
            for op, _t, _o, _n in _entries(list_name):
                out.append(f"sf_cpu_{op}_{dtype}")
    return sorted(set(out))


def c_header() -> str:
    """The X-macro lists of elementwise.c: X(op, DT, T, EXPR) for unary lists and
    X(op, DT, TI, ODT, TO, EXPR) for binary ones."""
    lines = [
        "/* Generated from staticflow/ops/scalar_table.py by the build: do not edit. */",
        "#ifndef SF_SCALAR_TABLE_H",
        "#define SF_SCALAR_TABLE_H",
    ]
    for name, (arity, params, entries) in LISTS.items():
        lines.append(f"#define {name}({params}) \\")
        for e in entries:
            op, template = e[0], e[1]
            out = e[2] if len(e) > 2 else None
            expr = template.replace("{T}", "T").replace("{UT}", "UT").replace("{S}", "##S")
            expr = expr.replace("{DT}", "##DT")
            if params == "X":  # bool lists name their types
                if arity == 1:
                    lines.append(f"    X({op}, bool, uint8_t, {expr}) \\")
                else:
                    lines.append(f"    X({op}, bool, uint8_t, bool, uint8_t, {expr}) \\")
            elif arity == 1:
                lines.append(f"    X({op}, DT, T, {expr}) \\")
            elif out == "bool":
                lines.append(f"    X({op}, DT, T, bool, uint8_t, {expr}) \\")
            else:
                lines.append(f"    X({op}, DT, T, DT, T, {expr}) \\")
        lines.append("")
    lines.append("#endif")
    return "\n".join(lines) + "\n"
