"""String ops: joining, formatting, parsing, slicing and matching byte strings.

A string tensor holds `bytes` elements (see framework/strings.py). No C kernel
handles strings: these ops are host kernels, whose NumPy reference runs in
Python between the kernel calls of a plan (registry `host_kernel`). Their
behaviour is TensorFlow's, including its error cases; regular expressions use
Python's `re` syntax, which agrees with TensorFlow's RE2 on the common subset
(classes, groups, repetition, anchors, `\\1` in rewrites).
"""

from __future__ import annotations

import base64
import re

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, broadcast_shapes
from staticflow.ops import builder, casegen
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
S = D.string
_rand = casegen.rand
_UNITS = ("BYTE", "UTF8_CHAR")


def _map(fn, x: np.ndarray, dtype=object) -> np.ndarray:
    """fn over every element of x, into a new array of `dtype` and x's shape."""
    out = np.empty(x.shape, dtype=dtype)
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = fn(flat_in[i])
    return out


def _same_shape(c):
    return [c.shape(0)]


def _words(rng, shape):
    return _rand(rng, shape, S)


# ---------------------------------------------------------------------------
# StringJoin
# ---------------------------------------------------------------------------
def _join_shape(c):
    out = TensorShape([])
    for s in c.input_shapes:
        if s.ndims == 0:
            continue
        if out.ndims == 0:
            out = s
            continue
        try:
            out = out.merge_with(s)
        except ValueError:
            raise ValueError(f"inputs must be scalars or have one shape, got {out} and {s}") from None
    if any(s.ndims is None for s in c.input_shapes) and out.ndims == 0:
        return [TensorShape(None)]
    return [out]


def _join_ref(ins, a):
    shapes = {x.shape for x in ins if x.ndim}
    if len(shapes) > 1:
        raise ValueError(f"inputs must be scalars or have one shape, got shapes {sorted(shapes)}")
    shape = shapes.pop() if shapes else ()
    sep = a["separator"].encode() if isinstance(a["separator"], str) else a["separator"]
    parts = [np.broadcast_to(x, shape).reshape(-1) for x in ins]
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=object)
    for i in range(out.size):
        out[i] = sep.join(p[i] for p in parts)
    return out.reshape(shape)


op(
    name="StringJoin",
    inputs=[Arg("inputs", dtype=S, number_attr="N")],
    outputs=[Arg("output", dtype=S)],
    attrs=[Attr("N", "int"), Attr("separator", "string", "")],
    shape_fn=_join_shape,
    ref=_join_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case(([_words(rng, (2, 3)), _words(rng, ()), _words(rng, (2, 3))],), {"separator": "/"}, grad=False),
        Case(([_words(rng, ()), _words(rng, ())],), grad=False),
        Case(([_words(rng, (0,))],), grad=False),
    ],
    doc="The inputs joined element by element with `separator` (scalars broadcast).",
)


# ---------------------------------------------------------------------------
# AsString
# ---------------------------------------------------------------------------
_AS_STRING_T = (D.float32, D.float64, D.int32, D.int64, D.uint8, D.bool_)


def _as_string_format(a, dtype) -> str:
    """TensorFlow's printf format for AsString's attrs (its op builds the same one)."""
    fill, width, precision = a["fill"], a["width"], a["precision"]
    if a["scientific"] and a["shortest"]:
        raise ValueError("Cannot select both scientific and shortest notation")
    if len(fill) > 1:
        raise ValueError(f"Fill string must be one or fewer characters, got {fill!r}")
    if fill and fill not in " +-0#":
        raise ValueError(f'Fill argument not supported: "{fill}"')
    is_float = dtype.kind == "f"
    if precision > -1 and not is_float:
        raise ValueError(f"Cannot select precision for a non-float type ({dtype})")
    if (a["scientific"] or a["shortest"]) and not is_float:
        raise ValueError(f"Cannot select scientific or shortest notation for a non-float type ({dtype})")
    fmt = "%" + fill + (str(width) if width > -1 else "") + (f".{precision}" if precision > -1 else "")
    if is_float:
        return fmt + ("g" if a["shortest"] else "e" if a["scientific"] else "f")
    return fmt + ("s" if dtype.kind == "b" else "d")


def _as_string_ref(ins, a):
    x = ins[0]
    fmt = _as_string_format(a, x.dtype)
    if x.dtype.kind == "b":
        return _map(lambda v: (fmt % ("true" if v else "false")).encode(), x)
    if x.dtype.kind == "f":
        # C's printf pads nan and inf with spaces even under the 0 flag; Python's % with zeros
        finite_fmt, other_fmt = fmt, fmt.replace("%0", "%", 1) if "0" in a["fill"] else fmt
        return _map(lambda v: ((finite_fmt if np.isfinite(v) else other_fmt) % float(v)).encode(), x)
    return _map(lambda v: (fmt % int(v)).encode(), x)


def _as_string_shape(c):
    dt = c.input_dtypes[0].np
    _as_string_format(c.attrs, dt)  # bad attrs are an error when the op is made, as in TF
    return [c.shape(0)]


op(
    name="AsString",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", dtype=S)],
    attrs=[
        Attr("T", "type", allowed=_AS_STRING_T),
        Attr("precision", "int", -1),
        Attr("scientific", "bool", False),
        Attr("shortest", "bool", False),
        Attr("width", "int", -1),
        Attr("fill", "string", ""),
    ],
    shape_fn=_as_string_shape,
    ref=_as_string_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        *[Case((_rand(rng, (2, 3), t),), grad=False) for t in _AS_STRING_T],
        Case((_rand(rng, (4,), D.float64) * 1e6,), {"precision": 3, "width": 14, "fill": "0"}, grad=False),
        Case((_rand(rng, (4,)),), {"scientific": True, "fill": "+"}, grad=False),
        Case((np.array([1.5e10, np.nan, -np.inf, 0.1], np.float32),), {"shortest": True}, grad=False),
        Case((_rand(rng, (3,), D.int64),), {"width": 5, "fill": "-"}, grad=False),
    ],
    doc="Each element formatted as a string (printf-style attrs, as TensorFlow's).",
)


# ---------------------------------------------------------------------------
# StringToNumber
# ---------------------------------------------------------------------------
_HEX = re.compile(rb"^\s*([+-]?)0[xX]([0-9a-fA-F]+)\s*$")
_INT = re.compile(rb"^\s*[+-]?[0-9]+\s*$")


def _to_float(b: bytes) -> float:
    m = _HEX.match(b)
    if m:
        return float(int(m.group(2), 16)) * (-1.0 if m.group(1) == b"-" else 1.0)
    try:
        return float(b.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"StringToNumberOp could not correctly convert string: {b!r}") from None


def _to_number_ref(ins, a):
    out_t = D.as_dtype(a["out_type"])
    x = ins[0]
    if out_t.is_floating:
        with np.errstate(over="ignore"):
            return _map(_to_float, x, np.float64).astype(out_t.np)
    lo, hi = np.iinfo(out_t.np).min, np.iinfo(out_t.np).max

    def to_int(b: bytes) -> int:
        if not _INT.match(b):
            raise ValueError(f"StringToNumberOp could not correctly convert string: {b!r}")
        v = int(b)
        if not lo <= v <= hi:
            raise ValueError(f"StringToNumberOp: {b!r} is out of range for {out_t.name}")
        return v

    return _map(to_int, x, out_t.np)


_NUMBER_T = (D.float32, D.float64, D.int32, D.int64)


def _number_strings(rng, shape, t):
    vals = _rand(rng, shape, t) * (7 if t.is_floating else 1)
    return _map(lambda v: repr(v.item()).encode(), np.asarray(vals))


op(
    name="StringToNumber",
    inputs=[Arg("string_tensor", dtype=S)],
    outputs=[Arg("output", type_attr="out_type")],
    attrs=[Attr("out_type", "type", D.float32, allowed=_NUMBER_T)],
    shape_fn=_same_shape,
    ref=_to_number_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        *[Case((_number_strings(rng, (2, 3), t),), {"out_type": t}, grad=False) for t in _NUMBER_T],
        Case((np.array([b" 1.5", b"2 ", b"1e3", b"0x10", b"inf", b"-0"], object),), grad=False),
        Case((np.array([b"12", b"-3", b"+4"], object),), {"out_type": D.int32}, grad=False),
    ],
    doc="Each string parsed as a number of out_type; a string that is not one is an error.",
)


# ---------------------------------------------------------------------------
# StringLength, Substr
# ---------------------------------------------------------------------------
def _utf8(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{b!r} is not valid UTF-8") from None


def _length_ref(ins, a):
    if a["unit"] == "UTF8_CHAR":
        return _map(lambda b: len(_utf8(b)), ins[0], np.int32)
    return _map(len, ins[0], np.int32)


op(
    name="StringLength",
    inputs=[Arg("input", dtype=S)],
    outputs=[Arg("output", dtype=D.int32)],
    attrs=[Attr("unit", "string", "BYTE", allowed=_UNITS)],
    shape_fn=_same_shape,
    ref=_length_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((_words(rng, (3, 2)),), grad=False),
        Case((_words(rng, (4,)),), {"unit": "UTF8_CHAR"}, grad=False),
    ],
    doc="The length of each string in bytes, or in UTF-8 characters.",
)


def _substr_shape(c):
    s = c.shape(0)
    for i in (1, 2):
        s = broadcast_shapes(s, c.shape(i))
    return [s]


def _substr_ref(ins, a):
    x, pos, length = np.broadcast_arrays(*ins)
    utf8 = a["unit"] == "UTF8_CHAR"
    out = np.empty(x.shape, dtype=object)
    fx, fp, fl, fo = x.reshape(-1), pos.reshape(-1), length.reshape(-1), out.reshape(-1)
    for i in range(fx.size):
        s = _utf8(fx[i]) if utf8 else fx[i]
        p, n = int(fp[i]), int(fl[i])
        if not -len(s) <= p <= len(s):
            raise ValueError(f"pos {p} out of range for string {fx[i]!r} at index {i}")
        if n < 0:
            raise ValueError(f"len {n} must be non-negative (index {i})")
        p = p + len(s) if p < 0 else p
        piece = s[p : p + n]
        fo[i] = piece.encode() if utf8 else piece
    return out


op(
    name="Substr",
    inputs=[Arg("input", dtype=S), Arg("pos", type_attr="T"), Arg("len", type_attr="T")],
    outputs=[Arg("output", dtype=S)],
    attrs=[Attr("T", "type", allowed=(D.int32, D.int64)), Attr("unit", "string", "BYTE", allowed=_UNITS)],
    shape_fn=_substr_shape,
    ref=_substr_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array([b"hello", b"wo"], object), np.int32(1), np.int32(3)), grad=False),
        Case((np.array([b"hello", b"wo"], object), np.int32(-2), np.int32(3)), grad=False),
        Case((np.array([b"hello", b"wo"], object), np.array([0, 1]), np.array([2, 1])), grad=False),
        Case(
            (np.array([b"h\xc3\xa9llo"], object), np.int32(1), np.int32(2)), {"unit": "UTF8_CHAR"}, grad=False
        ),
    ],
    doc="Substrings starting at pos (negative counts from the end), at most len long.",
)


# ---------------------------------------------------------------------------
# elementwise string maps: strip, case, base64
# ---------------------------------------------------------------------------
def _b64encode(b: bytes, pad: bool) -> bytes:
    out = base64.urlsafe_b64encode(b)
    return out if pad else out.rstrip(b"=")


def _b64decode(b: bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(b + b"=" * (-len(b) % 4))
    except ValueError:
        raise ValueError(f"Invalid character found in base64: {b!r}") from None


_MAPS = [
    ("StringStrip", lambda a: lambda b: b.strip(b" \t\n\v\f\r"), [], "Whitespace stripped from both ends."),
    (
        "StringUpper",
        lambda a: lambda b: b.upper(),
        [Attr("encoding", "string", "", allowed=("", "utf-8"))],
        "ASCII letters upper-cased (other bytes as they are).",
    ),
    (
        "StringLower",
        lambda a: lambda b: b.lower(),
        [Attr("encoding", "string", "", allowed=("", "utf-8"))],
        "ASCII letters lower-cased (other bytes as they are).",
    ),
    (
        "EncodeBase64",
        lambda a: lambda b: _b64encode(b, a["pad"]),
        [Attr("pad", "bool", False)],
        "Web-safe base64 (- and _), padded with = only if pad.",
    ),
    ("DecodeBase64", lambda a: _b64decode, [], "The bytes of web-safe base64 strings."),
]

for _name, _fn, _attrs, _doc in _MAPS:
    op(
        name=_name,
        inputs=[Arg("input", dtype=S)],
        outputs=[Arg("output", dtype=S)],
        attrs=_attrs,
        shape_fn=_same_shape,
        ref=(lambda fn: lambda ins, a: _map(fn(a), ins[0]))(_fn),
        host_kernel=True,
        differentiable=False,
        cases=(
            lambda name: lambda rng: [
                Case((np.array([b" a b\t\n", b"", b"Ab\xc3\xa9?"], object),), grad=False),
                Case((_words(rng, (2, 3)),), grad=False),
            ]
            if name != "DecodeBase64"
            else [Case((np.array([b"aGVsbG8_Pg", b"", b"YQ=="], object),), grad=False)]
        )(_name),
        doc=_doc,
    )


# ---------------------------------------------------------------------------
# regular expressions
# ---------------------------------------------------------------------------
def _compile(pattern) -> re.Pattern:
    if isinstance(pattern, np.ndarray):
        pattern = pattern.item()
    if isinstance(pattern, str):
        pattern = pattern.encode()
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"Invalid pattern: {pattern!r}, error: {e}") from None


def _rewrite(rewrite) -> bytes:
    if isinstance(rewrite, np.ndarray):
        rewrite = rewrite.item()
    return rewrite.encode() if isinstance(rewrite, str) else rewrite


def _replace_ref(pattern, rewrite, replace_global, x):
    rx, rw = _compile(pattern), _rewrite(rewrite)

    def sub(b: bytes) -> bytes:
        try:  # a rewrite naming a group the pattern lacks (Python checks it at every call)
            return rx.sub(rw, b, count=0 if replace_global else 1)
        except (re.error, IndexError) as e:
            raise ValueError(f"Invalid rewrite {rw!r} for pattern {rx.pattern!r}: {e}") from None

    return _map(sub, x)


_REGEX_CASES = [
    (np.array([b"aab", b"b", b""], object), b"a+", b"X"),
    (np.array([b"abc", b"xbx"], object), b"(b)", rb"<\1>"),
]

op(
    name="RegexReplace",
    inputs=[Arg("input", dtype=S), Arg("pattern", dtype=S), Arg("rewrite", dtype=S)],
    outputs=[Arg("output", dtype=S)],
    attrs=[Attr("replace_global", "bool", True)],
    shape_fn=_same_shape,
    ref=lambda ins, a: _replace_ref(ins[1], ins[2], a["replace_global"], ins[0]),
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((x, np.array(p, object), np.array(r, object)), {"replace_global": g}, grad=False)
        for x, p, r in _REGEX_CASES
        for g in (True, False)
    ],
    doc="Matches of the pattern replaced by the rewrite (\\1 names a group).",
)

op(
    name="StaticRegexReplace",
    inputs=[Arg("input", dtype=S)],
    outputs=[Arg("output", dtype=S)],
    attrs=[Attr("pattern", "string"), Attr("rewrite", "string"), Attr("replace_global", "bool", True)],
    shape_fn=_same_shape,
    ref=lambda ins, a: _replace_ref(a["pattern"], a["rewrite"], a["replace_global"], ins[0]),
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((x,), {"pattern": p.decode(), "rewrite": r.decode()}, grad=False) for x, p, r in _REGEX_CASES
    ],
    doc="RegexReplace with the pattern and rewrite as attrs.",
)


def _full_match_ref(ins, a):
    rx = _compile(ins[1])
    return _map(lambda b: rx.fullmatch(b) is not None, ins[0], np.bool_)


op(
    name="RegexFullMatch",
    inputs=[Arg("input", dtype=S), Arg("pattern", dtype=S)],
    outputs=[Arg("output", dtype=D.bool_)],
    shape_fn=_same_shape,
    ref=_full_match_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array([b"abc", b"ab", b"axc"], object), np.array(b"a.c", object)), grad=False),
    ],
    doc="Whether each string matches the whole pattern.",
)


# ---------------------------------------------------------------------------
# ReduceJoin
# ---------------------------------------------------------------------------
def _reduce_join_axes(v, rank: int) -> list[int]:
    axes = [int(x) for x in np.asarray(v).reshape(-1)]
    out = []
    for x in axes:
        if not -rank <= x < rank:
            raise ValueError(f"Invalid reduction dimension {x} for input with {rank} dimensions")
        x = x + rank if x < 0 else x
        if x in out:
            raise ValueError(f"Duplicate reduction dimension {x}")
        out.append(x)
    return out


def _reduce_join_shape(c):
    s, v = c.shape(0), c.value(1)
    if s.ndims is None or v is None:
        if c.attrs["keep_dims"] and s.ndims is not None:
            return [TensorShape([None] * s.ndims)]
        return [TensorShape(None)]
    axes = _reduce_join_axes(v, s.ndims)
    dims = s.as_tuple()
    if c.attrs["keep_dims"]:
        return [TensorShape([1 if i in axes else d for i, d in enumerate(dims)])]
    return [TensorShape([d for i, d in enumerate(dims) if i not in axes])]


def _reduce_join_ref(ins, a):
    x = ins[0]
    sep = a["separator"].encode() if isinstance(a["separator"], str) else a["separator"]
    axes = _reduce_join_axes(ins[1], x.ndim)
    cur = x
    for ax in axes:  # in the given order: the order decides how the pieces interleave
        moved = np.moveaxis(cur, ax, -1)
        joined = np.empty(moved.shape[:-1], dtype=object)
        flat_m = moved.reshape(joined.size, moved.shape[-1])
        flat_j = joined.reshape(-1)
        for i in range(flat_j.size):
            flat_j[i] = sep.join(flat_m[i])
        cur = np.expand_dims(joined, ax)
    if a["keep_dims"]:
        return cur
    return cur.reshape([d for i, d in enumerate(cur.shape) if i not in axes])


op(
    name="ReduceJoin",
    inputs=[Arg("inputs", dtype=S), Arg("reduction_indices", dtype=D.int32, host=True)],
    outputs=[Arg("output", dtype=S)],
    attrs=[Attr("keep_dims", "bool", False), Attr("separator", "string", "")],
    shape_fn=_reduce_join_shape,
    ref=_reduce_join_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((_words(rng, (2, 3)), np.array(ax, np.int32)), {"separator": sep, "keep_dims": k}, grad=False)
        for ax, sep, k in [([1, 0], ".", False), ([0, 1], ",", False), ([-1], "", True), ([], "", False)]
    ]
    + [Case((_words(rng, (2, 0)), np.array([1], np.int32)), grad=False)],
    doc="Strings joined along the given axes, in the given order.",
)


# ---------------------------------------------------------------------------
# the Python API (tf.strings and TF1's top-level names)
# ---------------------------------------------------------------------------
def _out(op_type, inputs, attrs=None, name=None) -> fops.Tensor:
    return builder.apply_op(op_type, inputs, attrs, name).outputs[0]


def join(inputs, separator: str = "", name=None) -> fops.Tensor:
    """TF1's tf.strings.join / tf.string_join."""
    return _out("StringJoin", [list(inputs)], {"separator": separator}, name)


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):  # noqa: A002
    """TF1's tf.as_string / tf.strings.as_string."""
    attrs = dict(precision=precision, scientific=scientific, shortest=shortest, width=width, fill=fill)
    return _out("AsString", [input], attrs, name)


def to_number(string_tensor, out_type=D.float32, name=None) -> fops.Tensor:
    """TF1's tf.string_to_number / tf.strings.to_number."""
    return _out("StringToNumber", [string_tensor], {"out_type": D.as_dtype(out_type)}, name)


def length(input, name=None, unit: str = "BYTE") -> fops.Tensor:  # noqa: A002
    """TF1's tf.strings.length."""
    return _out("StringLength", [input], {"unit": unit}, name)


def substr(input, pos, len, name=None, unit: str = "BYTE") -> fops.Tensor:  # noqa: A002
    """TF1's tf.substr / tf.strings.substr."""
    pos = fops.convert_to_tensor(pos, dtype=D.int32) if not isinstance(pos, fops.Tensor) else pos
    len = fops.convert_to_tensor(len, dtype=pos.dtype) if not isinstance(len, fops.Tensor) else len  # noqa: A001
    return _out("Substr", [input, pos, len], {"unit": unit}, name)


def strip(input, name=None) -> fops.Tensor:  # noqa: A002
    """TF1's tf.string_strip / tf.strings.strip."""
    return _out("StringStrip", [input], None, name)


def upper(input, encoding: str = "", name=None) -> fops.Tensor:  # noqa: A002
    return _out("StringUpper", [input], {"encoding": encoding}, name)


def lower(input, encoding: str = "", name=None) -> fops.Tensor:  # noqa: A002
    return _out("StringLower", [input], {"encoding": encoding}, name)


def regex_replace(input, pattern, rewrite, replace_global: bool = True, name=None):  # noqa: A002
    """TF1's tf.regex_replace: the pattern and rewrite become attrs when they are Python strings."""
    if isinstance(pattern, (str, bytes)) and isinstance(rewrite, (str, bytes)):
        attrs = {
            "pattern": pattern.decode() if isinstance(pattern, bytes) else pattern,
            "rewrite": rewrite.decode() if isinstance(rewrite, bytes) else rewrite,
            "replace_global": replace_global,
        }
        return _out("StaticRegexReplace", [input], attrs, name)
    return _out("RegexReplace", [input, pattern, rewrite], {"replace_global": replace_global}, name)


def regex_full_match(input, pattern, name=None) -> fops.Tensor:  # noqa: A002
    return _out("RegexFullMatch", [input, pattern], None, name)


def encode_base64(input, pad: bool = False, name=None) -> fops.Tensor:  # noqa: A002
    return _out("EncodeBase64", [input], {"pad": pad}, name)


def decode_base64(input, name=None) -> fops.Tensor:  # noqa: A002
    return _out("DecodeBase64", [input], None, name)


def reduce_join(
    inputs, axis=None, keep_dims=None, separator: str = "", name=None, reduction_indices=None, keepdims=None
) -> fops.Tensor:
    """TF1's tf.reduce_join: axis None joins every axis, last first (so in row-major order)."""
    if axis is None:
        axis = reduction_indices
    keep = bool(keepdims if keepdims is not None else keep_dims)
    inputs = fops.convert_to_tensor(inputs, dtype=S)
    if axis is None:
        if inputs.shape.ndims is None:
            raise ValueError("reduce_join with axis=None needs an input of known rank")
        axis = list(range(inputs.shape.ndims - 1, -1, -1))
    axis = np.asarray(axis, np.int32).reshape(-1) if not isinstance(axis, fops.Tensor) else axis
    return _out("ReduceJoin", [inputs, axis], {"keep_dims": keep, "separator": separator}, name)
