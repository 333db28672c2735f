"""Array ops: constants, placeholders, shapes, reshapes, slicing, joining, gathering."""

from __future__ import annotations

import builtins
import math

import numpy as np

from staticflow.framework import dtypes, sizes, strings
from staticflow.framework import hooks as framework_hooks
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from staticflow.ops import builder, casegen, registry, rewrites
from staticflow.ops.lowering import COPY_DTYPES, COPY_KERNELS, coalesce
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
ALL_T = COPY_DTYPES
STR_T = ALL_T + (D.string,)  # ops that move strings too (strings run on the host, see registry)
IDX_T = (D.int32, D.int64)
_rand = casegen.rand


def _dims(shape: TensorShape):
    return shape.as_tuple()


def _alias0(ctx):
    ctx.alias(0, 0)


def _int_list(v) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


def shape_value(v, what: str = "shape") -> list[int]:
    """A shape given as a tensor's value (Fill's dims, a random op's shape, ...): a vector
    of non-negative sizes whose element count fits in int64."""
    arr = np.asarray(v)
    if arr.ndim > 1:
        raise ValueError(f"{what} must be a vector, got a tensor of shape {list(arr.shape)}")
    dims = _int_list(arr)
    for d in dims:
        if d < 0:
            raise ValueError(f"{what} {dims} must be non-negative")
    sizes.num_elements(dims, f"{what}")
    return dims


# The most outputs one op may have (Split's num_split, Unpack's num): each is a Python
# object made before any shape is checked, so a count from a file must not exhaust memory.
MAX_OUTPUTS = 1 << 20


def scalar_input(c, i: int, what: str) -> int | None:
    """The value of input i, an integer scalar (an axis, a count), or None when it is not
    known yet. ValueError when it is not a scalar (TensorFlow's "must be rank 0"), whether
    its static shape or its value says so."""
    s = c.shape(i)
    if s.ndims not in (None, 0):
        raise ValueError(f"{what} must be a scalar, got shape {s}")
    v = c.value(i)
    if v is None:
        return None
    v = np.asarray(v)
    if v.ndim != 0:
        raise ValueError(f"{what} must be a scalar, got shape {TensorShape(v.shape)}")
    return int(v)


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis + rank if axis < 0 else axis


# ---------------------------------------------------------------------------
# partially known values of integer vectors (OpDef.partial_value, read by const_eval)
# ---------------------------------------------------------------------------
def _pv_same(op):
    """The elements of input 0, unchanged (identities, casts, reshapes of vectors)."""
    p = yield "partial", 0
    return p


def _pv_shape(op):
    dims = op.inputs[0].shape.as_tuple()
    return None if dims is None else list(dims)


def _pv_pack(op):
    if op.outputs[0].shape.ndims != 1:
        return None
    out = []
    for i in range(len(op.inputs)):
        p = yield "partial", i
        out.append(p[0] if p is not None and len(p) == 1 else None)
    return out


def _pv_concat(op):
    out = []
    for i in range(op.get_attr("N")):
        p = yield "partial", i
        if p is None:
            return None
        out.extend(p)
    return out


def _pv_slice(op):
    b = yield "value", 1
    z = yield "value", 2
    p = yield "partial", 0
    if b is None or z is None or p is None:
        return None
    try:
        begin, size = _slice_params((len(p),), b, z)
    except ValueError:
        return None
    return p[begin[0] : begin[0] + size[0]]


def _pv_strided_slice(op):
    b = yield "value", 1
    e = yield "value", 2
    st = yield "value", 3
    p = yield "partial", 0
    if b is None or e is None or st is None or p is None or op.get_attr("new_axis_mask"):
        return None
    try:
        plan, _ = strided_slice_spec((len(p),), b, e, st, op._attrs)
    except ValueError:
        return None
    if len(plan) != 1:
        return None
    _, _, begin, step, size, shrink = plan[0]
    return [p[begin]] if shrink else [p[begin + step * k] for k in range(size)]


# ---------------------------------------------------------------------------
# Const, Placeholder, Identity
# ---------------------------------------------------------------------------
def _const_shape(c):
    value, dt = c.attrs["value"], c.attrs["dtype"]
    have = dtypes.as_dtype(np.asarray(value).dtype)
    if have != dt:
        raise ValueError(f"its value has dtype {have.name}, but its dtype attr is {dt.name}")
    return [TensorShape(np.shape(value))]


op(
    name="Const",
    inputs=[],
    outputs=[Arg("output", type_attr="dtype")],
    attrs=[Attr("value", "tensor"), Attr("dtype", "type")],
    shape_fn=_const_shape,
    ref=lambda ins, a: np.asarray(a["value"]),
    static=True,
    differentiable=False,
    cases=lambda rng: [
        Case((), {"value": _rand(rng, s, t), "dtype": t}, grad=False)
        for t in STR_T
        for s in [(), (3,), (2, 0)]
    ],
    doc="A constant tensor; its value is the `value` attr.",
)


def _placeholder_ref(ins, a):
    raise ValueError("a placeholder has no value unless it is fed")


def _placeholder_lower(ctx):
    raise RuntimeError(f"placeholder {ctx.name} was not fed")  # the planner reports this earlier


op(
    name="Placeholder",
    inputs=[],
    outputs=[Arg("output", type_attr="dtype")],
    attrs=[Attr("dtype", "type"), Attr("shape", "shape", TensorShape(None))],
    shape_fn=lambda c: [c.attrs["shape"]],
    ref=_placeholder_ref,
    lower=_placeholder_lower,
    differentiable=False,
    cases=lambda rng: [
        Case((), {"dtype": t, "shape": TensorShape([None, 3])}, grad=False, label="feed") for t in ALL_T
    ],
    doc="A value supplied through feed_dict at run time.",
)

def _default_shape(c):
    """The placeholder's shape; its default value must have a compatible one (TensorFlow's
    check), or a run that is not fed would produce a tensor of another shape."""
    declared, default = c.attrs["shape"], c.shape(0)
    if not default.is_compatible_with(declared):
        raise ValueError(
            f"the default value of shape {default} is not compatible with the placeholder's shape {declared}"
        )
    return default if c.planning else declared


op(
    name="PlaceholderWithDefault",
    foldable=False,
    inputs=[Arg("input", type_attr="dtype")],
    outputs=[Arg("output", type_attr="dtype")],
    attrs=[Attr("dtype", "type"), Attr("shape", "shape")],
    shape_fn=lambda c: [_default_shape(c)],
    ref=lambda ins, a: ins[0],
    lower=_alias0,
    cases=lambda rng: [Case((_rand(rng, (2, 3)),), {"shape": TensorShape([None, 3])}, label="partial_shape")],
    doc="Its input, unless fed.",
    identity_of=0,
)

op(
    name="Identity",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type")],
    shape_fn=lambda c: [c.shape(0)],
    partial_value=_pv_same,
    ref=lambda ins, a: ins[0],
    lower=_alias0,
    kernels=COPY_KERNELS,
    cases=lambda rng: [Case((_rand(rng, s, t),), grad=t.is_floating) for t in STR_T for s in [(), (3, 2)]],
    doc="Its input.",
    identity_of=0,
)

op(
    name="StopGradient",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type")],
    shape_fn=lambda c: [c.shape(0)],
    partial_value=_pv_same,
    ref=lambda ins, a: ins[0],
    lower=_alias0,
    differentiable=False,
    cases=lambda rng: [Case((_rand(rng, (3, 2)),), grad=False)],
    doc="Its input; gradients do not flow through it.",
    identity_of=0,
)

op(
    name="NoOp",
    inputs=[],
    outputs=[],
    shape_fn=lambda c: [],
    ref=lambda ins, a: [],
    lower=lambda ctx: None,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False)],
    doc="Does nothing; groups control dependencies.",
)


# ---------------------------------------------------------------------------
# Shape, Size, Rank, Range: computed while planning, no kernel
# ---------------------------------------------------------------------------
def _shape_out(c, rank_of_out):
    return [TensorShape(rank_of_out)]


def _index_values(values, dt: dtypes.DType, what: str) -> np.ndarray:
    """Shape or size values as an array of the op's out_type; ValueError (TensorFlow's
    message) when one does not fit a 32-bit out_type, instead of NumPy's OverflowError."""
    info = np.iinfo(dt.np)
    for i, v in enumerate(values):
        if not info.min <= v <= info.max:
            if what == "Shape":
                raise ValueError(f"Shape output type is 32-bit but dim {i} is {v}")
            raise ValueError(
                f"Number of elements ({v}) was larger than representable by {dt.name} output type"
            )
    return np.array(values, dtype=dt.np)


op(
    name="Shape",
    shape_only=True,
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="out_type")],
    attrs=[Attr("T", "type"), Attr("out_type", "type", D.int32, allowed=IDX_T)],
    shape_fn=lambda c: [TensorShape([c.shape(0).ndims])],
    partial_value=_pv_shape,
    ref=lambda ins, a: _index_values(np.shape(ins[0]), a["out_type"], "Shape"),
    static=True,
    differentiable=False,
    cases=lambda rng: [
        Case((_rand(rng, s),), {"out_type": t}, grad=False) for s in [(), (2, 3), (0, 4)] for t in IDX_T
    ],
    doc="The shape of its input, as a vector.",
)

op(
    name="Size",
    shape_only=True,
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="out_type")],
    attrs=[Attr("T", "type"), Attr("out_type", "type", D.int32, allowed=IDX_T)],
    shape_fn=lambda c: [TensorShape([])],
    ref=lambda ins, a: _index_values([np.size(ins[0])], a["out_type"], "Size")[0],
    static=True,
    differentiable=False,
    cases=lambda rng: [Case((_rand(rng, s),), grad=False) for s in [(), (2, 3), (0, 4)]],
    doc="The number of elements of its input.",
)

op(
    name="Rank",
    shape_only=True,
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", dtype=D.int32)],
    attrs=[Attr("T", "type")],
    shape_fn=lambda c: [TensorShape([])],
    ref=lambda ins, a: np.array(np.ndim(ins[0]), dtype=np.int32),
    static=True,
    differentiable=False,
    cases=lambda rng: [Case((_rand(rng, s),), grad=False) for s in [(), (2, 3)]],
    doc="The number of dimensions of its input.",
)


def _range_shape(c):
    for i in range(3):
        if c.shape(i).ndims not in (None, 0):
            raise ValueError(f"{('start', 'limit', 'delta')[i]} must be a scalar, got shape {c.shape(i)}")
    vals = [c.value(i) for i in range(3)]
    if any(v is None for v in vals):
        return [TensorShape([None])]
    return [TensorShape([_range_size(vals)])]


def _range_size(ins) -> int:
    """TensorFlow's Range size rules, computed without making the range."""
    start, limit, delta = (np.asarray(x).item() for x in ins)
    if delta == 0:
        raise ValueError("Requires delta != 0")
    if delta > 0 and start > limit:
        raise ValueError(f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise ValueError(f"Requires start >= limit when delta < 0: {start}/{limit}")
    if all(isinstance(v, int) for v in (start, limit, delta)):
        return (abs(limit - start) + abs(delta) - 1) // abs(delta)
    q = abs((limit - start) / delta)
    if not math.isfinite(q) or q > sizes.INT64_MAX:
        raise ValueError(f"Requires ((limit - start) / delta) <= {sizes.INT64_MAX}")
    return math.ceil(q)


def _range_ref(ins, a):
    n = _range_size(ins)  # checked (and sized) before NumPy allocates it
    start, limit, delta = (np.asarray(x).item() for x in ins)
    return np.arange(start, limit, delta)[:n].astype(a["Tidx"].np)


op(
    name="Range",
    inputs=[
        Arg("start", type_attr="Tidx", host=True),
        Arg("limit", type_attr="Tidx", host=True),
        Arg("delta", type_attr="Tidx", host=True),
    ],
    outputs=[Arg("output", type_attr="Tidx")],
    attrs=[Attr("Tidx", "type", D.int32, allowed=(D.float32, D.float64, D.int32, D.int64))],
    shape_fn=_range_shape,
    ref=_range_ref,
    static=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.int32(1), np.int32(10), np.int32(3)), grad=False),
        Case((np.float32(0.5), np.float32(-2), np.float32(-0.75)), grad=False),
    ],
    doc="Numbers from start up to (not including) limit by delta.",
)


# ---------------------------------------------------------------------------
# Reshape, ExpandDims, Squeeze, Transpose, BroadcastTo
# ---------------------------------------------------------------------------
def _reshape_target(in_shape: TensorShape, target) -> TensorShape:
    target = _int_list(target)
    if sum(1 for d in target if d == -1) > 1:
        raise ValueError(f"can only infer one dimension of the new shape {target}")
    for d in target:
        if d < -1:
            raise ValueError(f"new shape {target} has a negative size other than -1")
    known = sizes.num_elements([d for d in target if d != -1], f"Shape {target}")
    n = in_shape.num_elements()
    if -1 in target:
        if n is None:
            return TensorShape([None if d == -1 else d for d in target])
        if known == 0 or n % known:
            raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {target}")
        return TensorShape([n // known if d == -1 else d for d in target])
    if n is not None and n != known:
        raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {target} ({known} elements)")
    return TensorShape(target)


def _reshape_shape(c):
    v = c.value(1)
    if v is not None:
        return [_reshape_target(c.shape(0), v)]
    # a partially known target (sf.stack([batch, 20])): its unknown elements and -1 are unknown
    # dimensions; with the input's size known, a single unknown one follows from the others
    out = c.shape_value(1)
    n = c.shape(0).num_elements()
    if out.ndims is None or n is None:
        return [out]
    dims = list(out.as_tuple())
    unknown = [i for i, d in enumerate(dims) if d is None]
    known = int(np.prod([d for d in dims if d is not None], dtype=np.int64))
    if not unknown and known != n:
        raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {out} ({known} elements)")
    if len(unknown) == 1 and known:
        if n % known:
            raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {out}")
        dims[unknown[0]] = n // known
    return [TensorShape(dims)]


op(
    name="Reshape",
    inputs=[Arg("tensor", type_attr="T"), Arg("shape", type_attr="Tshape", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type"), Attr("Tshape", "type", D.int32, allowed=IDX_T)],
    shape_fn=_reshape_shape,
    partial_value=_pv_same,
    ref=lambda ins, a: np.reshape(ins[0], _int_list(ins[1])),
    lower=_alias0,
    cases=lambda rng: [
        Case((_rand(rng, (2, 3, 4)), np.array([4, -1], np.int32))),
        Case((_rand(rng, (6,)), np.array([3, 2], np.int64))),
        Case((_rand(rng, ()), np.array([1, 1], np.int32))),
        Case((_rand(rng, (0, 3)), np.array([3, 0], np.int32))),
    ],
    doc="Same elements in a new shape (-1 infers one dimension).",
    reshape_like=True,
    simplify=rewrites.reshape_chain,
)


def _expand_shape(c):
    v = c.value(1)
    s = c.shape(0)
    if v is None or s.ndims is None:
        return [unknown_shape(None if s.ndims is None else s.ndims + 1)]
    axis = int(np.asarray(v).reshape(-1)[0])
    r = s.ndims
    if not -r - 1 <= axis <= r:
        raise ValueError(f"dim {axis} is out of range for ExpandDims of a rank-{r} tensor")
    if axis < 0:
        axis += r + 1
    dims = list(s.as_tuple())
    dims.insert(axis, 1)
    return [TensorShape(dims)]


op(
    name="ExpandDims",
    inputs=[Arg("input", type_attr="T"), Arg("dim", type_attr="Tdim", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type"), Attr("Tdim", "type", D.int32, allowed=IDX_T)],
    shape_fn=_expand_shape,
    partial_value=_pv_same,
    ref=lambda ins, a: np.expand_dims(ins[0], int(np.asarray(ins[1]).reshape(-1)[0])),
    lower=_alias0,
    cases=lambda rng: [Case((_rand(rng, (2, 3)), np.int32(a))) for a in (0, 1, 2, -1, -3)],
    doc="Inserts a dimension of size 1 at `dim`.",
    reshape_like=True,
    simplify=rewrites.reshape_chain,
)


def _squeeze_dims(shape: TensorShape, axes) -> list[int] | None:
    if shape.ndims is None:
        return None
    r = shape.ndims
    dims = shape.as_tuple()
    if axes:
        axes = sorted({_axis(a, r, "squeeze dim") for a in axes})
        for a in axes:
            if dims[a] is not None and dims[a] != 1:
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {dims[a]}")
        return [d for i, d in enumerate(dims) if i not in axes]
    if any(d is None for d in dims):
        return None
    return [d for d in dims if d != 1]


def _squeeze_shape(c):
    dims = _squeeze_dims(c.shape(0), c.attrs["squeeze_dims"])
    return [TensorShape(dims)]


op(
    name="Squeeze",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type"), Attr("squeeze_dims", "list(int)", [], min=0)],
    shape_fn=_squeeze_shape,
    partial_value=_pv_same,
    ref=lambda ins, a: np.squeeze(ins[0], axis=tuple(a["squeeze_dims"]) or None),
    lower=_alias0,
    cases=lambda rng: [
        Case((_rand(rng, (1, 3, 1)),)),
        Case((_rand(rng, (1, 3, 1)),), {"squeeze_dims": [-1]}),
        Case((_rand(rng, (1,)),)),
    ],
    doc="Removes dimensions of size 1 (all, or those in squeeze_dims).",
    reshape_like=True,
    simplify=rewrites.reshape_chain,
)


def _transpose_shape(c):
    s = c.shape(0)
    v = c.value(1)
    if v is None:
        return [unknown_shape(s.ndims)]
    perm = _int_list(v)
    if s.ndims is not None:
        if sorted(perm) != list(range(s.ndims)):
            raise ValueError(f"perm {perm} is not a permutation of the {s.ndims} dimensions")
        return [TensorShape([s.as_tuple()[p] for p in perm])]
    return [unknown_shape(len(perm))]


def _transpose_lower(ctx):
    ctx.copy(ctx.inp(0).transpose(_int_list(ctx.values[1])), ctx.out(0))


op(
    name="Transpose",
    inputs=[Arg("x", type_attr="T"), Arg("perm", type_attr="Tperm", host=True)],
    outputs=[Arg("y", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("Tperm", "type", D.int32, allowed=IDX_T)],
    shape_fn=_transpose_shape,
    ref=lambda ins, a: np.transpose(ins[0], _int_list(ins[1])),
    lower=_transpose_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [
            Case((_rand(rng, (2, 3, 4), t), np.array(p, np.int32)), grad=t.is_floating)
            for t in STR_T
            for p in [(2, 0, 1), (0, 2, 1)]
        ]
        + [Case((_rand(rng, (40, 70)), np.array([1, 0], np.int32)))]
    ),
    doc="Permutes dimensions.",
    simplify=rewrites.transpose_chain,
)


def _broadcast_to_shape(c):
    v = c.value(1)
    if v is None:
        return [c.shape_value(1)]
    from staticflow.framework.tensor_shape import broadcast_shapes

    tgt = TensorShape(shape_value(v))
    b = broadcast_shapes(c.shape(0), tgt)
    if b.ndims is not None and b.as_tuple() != tgt.as_tuple() and b.is_fully_defined():
        raise ValueError(f"cannot broadcast {c.shape(0)} to {tgt}")
    return [tgt]


def _broadcast_to_lower(ctx):
    ctx.copy(ctx.inp(0).broadcast_to(ctx.out_shapes[0]), ctx.out(0))


op(
    name="BroadcastTo",
    inputs=[Arg("input", type_attr="T"), Arg("shape", type_attr="Tidx", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("Tidx", "type", D.int32, allowed=IDX_T)],
    shape_fn=_broadcast_to_shape,
    ref=lambda ins, a: np.broadcast_to(ins[0], _int_list(ins[1])).copy(),
    lower=_broadcast_to_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        Case((_rand(rng, (3, 1)), np.array([2, 3, 4], np.int32))),
        Case((_rand(rng, ()), np.array([5], np.int32))),
    ],
    doc="Broadcasts its input to `shape` (NumPy rules).",
)


# ---------------------------------------------------------------------------
# Fill, ZerosLike, OnesLike, Tile, Pad
# ---------------------------------------------------------------------------
def _fill_shape(c):
    if c.shape(1).ndims not in (None, 0):
        raise ValueError("value must be a scalar")
    if c.shape(0).ndims not in (None, 1):
        raise ValueError(f"dims must be a vector, got shape {c.shape(0)}")
    v = c.value(0)
    if v is None:
        return [c.shape_value(0)]
    dims = shape_value(v, "dims")
    return [TensorShape(dims)]


def _fill_lower(ctx):
    ctx.copy(ctx.inp(1).broadcast_to(ctx.out_shapes[0]), ctx.out(0))


op(
    name="Fill",
    inputs=[Arg("dims", type_attr="index_type", host=True), Arg("value", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("index_type", "type", D.int32, allowed=IDX_T)],
    shape_fn=_fill_shape,
    ref=lambda ins, a: np.full(_int_list(ins[0]), ins[1]),
    lower=_fill_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        Case((np.array(s, np.int32), _rand(rng, (), t)), grad=t.is_floating)
        for t in STR_T
        for s in [(2, 3), (0,), ()]
    ],
    doc="A tensor of shape `dims` filled with `value`.",
)


def _like_lower(value):
    def lower(ctx):
        dt = ctx.out_dtypes[0]
        ctx.copy(ctx.const(value, dt).broadcast_to(ctx.out_shapes[0]), ctx.out(0))

    return lower


op(
    name="ZerosLike",
    inputs=[Arg("x", type_attr="T")],
    outputs=[Arg("y", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T)],
    shape_fn=lambda c: [c.shape(0)],
    ref=lambda ins, a: (
        np.full(ins[0].shape, b"", object) if ins[0].dtype == object else np.zeros_like(ins[0])
    ),
    lower=_like_lower(0),
    kernels=COPY_KERNELS,
    differentiable=False,
    cases=lambda rng: [Case((_rand(rng, s, t),), grad=False) for t in STR_T for s in [(), (2, 3), (0,)]],
    doc="Zeros with the shape and dtype of x.",
)

op(
    name="OnesLike",
    inputs=[Arg("x", type_attr="T")],
    outputs=[Arg("y", type_attr="T")],
    attrs=[Attr("T", "type", allowed=ALL_T)],
    shape_fn=lambda c: [c.shape(0)],
    ref=lambda ins, a: np.ones_like(ins[0]),
    lower=_like_lower(1),
    kernels=COPY_KERNELS,
    differentiable=False,
    cases=lambda rng: [Case((_rand(rng, s, t),), grad=False) for t in ALL_T for s in [(), (2, 3), (0,)]],
    doc="Ones with the shape and dtype of x.",
)


def _rank_from_length(c, i, rank):
    """The output rank of an op whose host input i has one entry per dimension (Tile's
    multiples, Pad's paddings, Slice's sizes): the input's rank, else input i's length."""
    if rank is None and c.shape(i).ndims is not None and c.shape(i).ndims >= 1:
        return c.shape(i).as_tuple()[0]
    return rank


def _tile_shape(c):
    s, v = c.shape(0), c.value(1)
    if v is not None:
        m = _int_list(v)
        if any(x < 0 for x in m):
            raise ValueError(f"multiples {m} must be non-negative")
    # multiples known element by element (sf.stack([batch, 2])): each known one scales its dim
    m = c.shape_value(1)
    if s.ndims is None and m.ndims is None:
        return [TensorShape(None)]
    if s.ndims is None:
        s = unknown_shape(m.ndims)
    if m.ndims is None:
        m = unknown_shape(s.ndims)
    if m.ndims != s.ndims:
        raise ValueError(f"multiples {m} must have one entry per dimension of the input ({s.ndims})")
    # a zero multiple empties its dimension, whatever the input's size
    dims = [
        0 if k == 0 else None if d is None or k is None else d * k for d, k in zip(s.as_tuple(), m.as_tuple())
    ]
    return [TensorShape(dims)]


def _tile_lower(ctx):
    x = ctx.inp(0)
    m = _int_list(ctx.values[1])
    # out viewed as [m0, d0, m1, d1, ...]; the input broadcasts along the m axes
    shape, src_strides, dst_shape = [], [], []
    for d, k, s in zip(x.shape, m, x.strides):
        shape += [k, d]
        src_strides += [0, s]
        dst_shape += [k, d]
    src = x.with_(shape, src_strides)
    dst = ctx.out(0).reshape(dst_shape) if ctx.out(0).size else None
    if dst is not None:
        ctx.copy(src, dst)


op(
    name="Tile",
    inputs=[Arg("input", type_attr="T"), Arg("multiples", type_attr="Tmultiples", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("Tmultiples", "type", D.int32, allowed=IDX_T)],
    shape_fn=_tile_shape,
    ref=lambda ins, a: np.tile(ins[0], _int_list(ins[1])),
    lower=_tile_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [Case((_rand(rng, (2, 3), t), np.array([2, 3], np.int32)), grad=t.is_floating) for t in STR_T]
        + [Case((_rand(rng, (3,)), np.array([0], np.int32)))]
    ),
    doc="Repeats its input `multiples[i]` times along dimension i.",
)


def _pad_shape(c):
    s, v, ps = c.shape(0), c.value(1), c.shape(1)
    if ps.ndims is not None and (ps.ndims != 2 or ps[1].value not in (None, 2)):
        raise ValueError(f"paddings must be a matrix with 2 columns, got shape {ps}")
    n = ps[0].value if ps.ndims == 2 else None
    if s.ndims is None and n is not None:
        s = unknown_shape(n)  # one row of paddings per dimension
    if s.ndims is not None and n is not None and s.ndims != n:
        raise ValueError(f"paddings must be a [{s.ndims}, 2] matrix, got shape {ps}")
    if v is None or s.ndims is None:
        return [unknown_shape(_rank_from_length(c, 1, s.ndims))]
    p = np.asarray(v).reshape(-1, 2)
    if p.shape[0] != s.ndims:
        raise ValueError(f"paddings must be a [{s.ndims}, 2] matrix, got shape {np.asarray(v).shape}")
    if (p < 0).any():
        raise ValueError("paddings must be non-negative")
    return [TensorShape([None if d is None else d + int(a) + int(b) for d, (a, b) in zip(s.as_tuple(), p)])]


def _pad_lower(ctx):
    out = ctx.out(0)
    fill = ctx.inp(2) if len(ctx.in_shapes) > 2 else ctx.const(0, ctx.out_dtypes[0])
    ctx.copy(fill.broadcast_to(out.shape), out)
    p = np.asarray(ctx.values[1]).reshape(-1, 2)
    interior = out.slice([int(a) for a in p[:, 0]], ctx.in_shapes[0])
    ctx.copy(ctx.inp(0), interior)


def _pad_ref(ins, a):
    cv = ins[2] if len(ins) > 2 else 0
    if ins[0].ndim == 0:
        return ins[0].copy()
    return np.pad(ins[0], np.asarray(ins[1]).reshape(-1, 2), constant_values=cv)


op(
    name="Pad",
    inputs=[Arg("input", type_attr="T"), Arg("paddings", type_attr="Tpaddings", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=ALL_T), Attr("Tpaddings", "type", D.int32, allowed=IDX_T)],
    shape_fn=_pad_shape,
    ref=_pad_ref,
    lower=_pad_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [
            Case((_rand(rng, (2, 3), t), np.array([[1, 0], [2, 1]], np.int32)), grad=t.is_floating)
            for t in ALL_T
        ]
        + [Case((_rand(rng, ()), np.zeros((0, 2), np.int32)))]
    ),
    doc="Pads with zeros: paddings[i] = [before, after] for dimension i.",
)

op(
    name="PadV2",
    inputs=[
        Arg("input", type_attr="T"),
        Arg("paddings", type_attr="Tpaddings", host=True),
        Arg("constant_values", type_attr="T"),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=ALL_T), Attr("Tpaddings", "type", D.int32, allowed=IDX_T)],
    shape_fn=_pad_shape,
    ref=_pad_ref,
    lower=_pad_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [Case((_rand(rng, (2, 3)), np.array([[0, 2], [1, 1]], np.int32), np.float32(3.5)))],
    doc="Pads with constant_values.",
)


# ---------------------------------------------------------------------------
# Concat, Split, Pack, Unpack
# ---------------------------------------------------------------------------
def _concat_shape(c):
    n = c.attrs["N"]
    shapes = c.input_shapes[:n]
    v = scalar_input(c, n, "ConcatV2's axis")
    ranks = {s.ndims for s in shapes if s.ndims is not None}
    if len(ranks) > 1:
        raise ValueError(f"ConcatV2 inputs must all have one rank, got ranks {sorted(ranks)}")
    if not ranks:
        return [TensorShape(None)]
    r = ranks.pop()
    if v is None:
        return [unknown_shape(r)]
    axis = _axis(v, r)
    out = [None] * r
    total = 0
    for s in shapes:
        if s.ndims is None:
            total = None
            continue
        for i, d in enumerate(s.as_tuple()):
            if i == axis:
                continue
            if out[i] is not None and d is not None and out[i] != d:
                raise ValueError(
                    f"Dimension {i} in both shapes must be equal, but are {out[i]} and {d} "
                    f"(concatenating along axis {axis})"
                )
            out[i] = out[i] if out[i] is not None else d
        d = s.as_tuple()[axis]
        total = None if (total is None or d is None) else total + d
    out[axis] = total
    return [TensorShape(out)]


def _concat_lower(ctx):
    n = ctx.attrs["N"]
    r = len(ctx.out_shapes[0])
    axis = _axis(int(np.asarray(ctx.values[n])), r)
    out = ctx.out(0)
    pos = 0
    for i in range(n):
        shape = ctx.in_shapes[i]
        begin = [0] * r
        begin[axis] = pos
        ctx.copy(ctx.inp(i), out.slice(begin, shape))
        pos += shape[axis]


op(
    name="ConcatV2",
    inputs=[Arg("values", type_attr="T", number_attr="N"), Arg("axis", type_attr="Tidx", host=True)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[
        Attr("N", "int", min=2),
        Attr("T", "type", allowed=STR_T),
        Attr("Tidx", "type", D.int32, allowed=IDX_T),
    ],
    shape_fn=_concat_shape,
    partial_value=_pv_concat,
    ref=lambda ins, a: np.concatenate(ins[:-1], axis=int(np.asarray(ins[-1]))),
    lower=_concat_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [
            Case(([_rand(rng, (2, 3), t), _rand(rng, (2, 1), t)], np.int32(1)), grad=t.is_floating)
            for t in STR_T
        ]
        + [Case(([_rand(rng, (2, 3)), _rand(rng, (0, 3)), _rand(rng, (1, 3))], np.int32(-2)))]
    ),
    doc="Joins tensors along `axis`.",
)


def _split_sizes(dim, num_split, sizes):
    if sizes is None:
        if dim is not None and dim % num_split:
            raise ValueError(
                f"Number of ways to split should evenly divide the split dimension, "
                f"but got split_dim size {dim} and num_split {num_split}"
            )
        return [None if dim is None else dim // num_split] * num_split
    sizes = _int_list(sizes)
    if len(sizes) != num_split:
        raise ValueError(f"size_splits has {len(sizes)} entries, num_split is {num_split}")
    if sizes.count(-1) > 1:
        raise ValueError("size_splits can infer at most one size (-1)")
    if -1 in sizes:
        if dim is None:
            return [None if s == -1 else s for s in sizes]
        rest = dim - sum(s for s in sizes if s != -1)
        if rest < 0:
            raise ValueError(f"size_splits {sizes} exceed the split dimension {dim}")
        sizes = [rest if s == -1 else s for s in sizes]
    elif dim is not None and sum(sizes) != dim:
        raise ValueError(f"size_splits {sizes} must sum to the split dimension {dim}")
    return sizes


def _split_shapes(c, value_i, axis_i, sizes_i):
    s = c.shape(value_i)
    n = c.attrs["num_split"]
    av = scalar_input(c, axis_i, "split_dim")
    sizes = c.value(sizes_i) if sizes_i is not None else None
    if s.ndims is None or av is None or (sizes_i is not None and sizes is None):
        return [unknown_shape(s.ndims)] * n
    axis = _axis(av, s.ndims)
    out = []
    for k in _split_sizes(s.as_tuple()[axis], n, sizes):
        dims = list(s.as_tuple())
        dims[axis] = k
        out.append(TensorShape(dims))
    return out


def _split_lower(value_i, axis_i):
    def lower(ctx):
        x = ctx.inp(value_i)
        axis = _axis(int(np.asarray(ctx.values[axis_i])), x.ndim)
        pos = 0
        for j, shape in enumerate(ctx.out_shapes):
            begin = [0] * x.ndim
            begin[axis] = pos
            ctx.copy(x.slice(begin, shape), ctx.out(j))
            pos += shape[axis]

    return lower


def _split_ref(ins, a):
    axis = int(np.asarray(ins[0]))
    return np.split(ins[1], a["num_split"], axis=axis)


def _splitv_ref(ins, a):
    x, axis = ins[0], int(np.asarray(ins[2]))
    sizes = _split_sizes(x.shape[axis], a["num_split"], ins[1])
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


op(
    name="Split",
    inputs=[Arg("split_dim", dtype=D.int32, host=True), Arg("value", type_attr="T")],
    outputs=[Arg("output", type_attr="T", number_attr="num_split")],
    attrs=[Attr("num_split", "int", min=1, max=MAX_OUTPUTS), Attr("T", "type", allowed=STR_T)],
    shape_fn=lambda c: _split_shapes(c, 1, 0, None),
    ref=_split_ref,
    lower=_split_lower(1, 0),
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [Case((np.int32(1), _rand(rng, (2, 6), t)), {"num_split": 3}, grad=t.is_floating) for t in STR_T]
        + [Case((np.int32(0), _rand(rng, (4,))), {"num_split": 2})]
    ),
    doc="Splits `value` into num_split equal pieces along split_dim.",
)

op(
    name="SplitV",
    inputs=[
        Arg("value", type_attr="T"),
        Arg("size_splits", type_attr="Tlen", host=True),
        Arg("split_dim", dtype=D.int32, host=True),
    ],
    outputs=[Arg("output", type_attr="T", number_attr="num_split")],
    attrs=[
        Attr("num_split", "int", min=1, max=MAX_OUTPUTS),
        Attr("T", "type", allowed=STR_T),
        Attr("Tlen", "type", D.int64, allowed=IDX_T),
    ],
    shape_fn=lambda c: _split_shapes(c, 0, 2, 1),
    ref=_splitv_ref,
    lower=_split_lower(0, 2),
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        Case((_rand(rng, (2, 6)), np.array([1, -1, 2], np.int64), np.int32(1)), {"num_split": 3})
    ],
    doc="Splits `value` into pieces of size_splits along split_dim.",
)


def _pack_shape(c):
    n = c.attrs["N"]
    s = TensorShape(None)
    for x in c.input_shapes[:n]:
        s = s.merge_with(x)
    if s.ndims is None:
        return [TensorShape(None)]
    axis = c.attrs["axis"]
    r = s.ndims + 1
    axis = _axis(axis, r)
    dims = list(s.as_tuple())
    dims.insert(axis, n)
    return [TensorShape(dims)]


def _pack_lower(ctx):
    n = ctx.attrs["N"]
    out = ctx.out(0)
    axis = _axis(ctx.attrs["axis"], out.ndim)
    for i in range(n):
        begin = [0] * out.ndim
        begin[axis] = i
        size = list(out.shape)
        size[axis] = 1
        ctx.copy(ctx.inp(i).insert_axis(axis), out.slice(begin, size))


op(
    name="Pack",
    inputs=[Arg("values", type_attr="T", number_attr="N")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("N", "int", min=1), Attr("T", "type", allowed=STR_T), Attr("axis", "int", 0)],
    shape_fn=_pack_shape,
    partial_value=_pv_pack,
    ref=lambda ins, a: np.stack(ins, axis=a["axis"]),
    lower=_pack_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [
            Case(([_rand(rng, (2, 3), t) for _ in range(3)],), {"axis": ax}, grad=t.is_floating)
            for t in STR_T
            for ax in (0, -1)
        ]
        + [Case(([_rand(rng, ()), _rand(rng, ())],))]
    ),
    doc="Stacks N tensors of one shape along a new axis.",
)


def _unpack_shape(c):
    s = c.shape(0)
    n = c.attrs["num"]
    if s.ndims is None:
        return [TensorShape(None)] * n
    axis = _axis(c.attrs["axis"], s.ndims)
    d = s.as_tuple()[axis]
    if d is not None and d != n:
        raise ValueError(f"Dimension {axis} has size {d}, but num={n}")
    dims = list(s.as_tuple())
    del dims[axis]
    return [TensorShape(dims)] * n


def _unpack_lower(ctx):
    x = ctx.inp(0)
    axis = _axis(ctx.attrs["axis"], x.ndim)
    for j in range(ctx.attrs["num"]):
        begin = [0] * x.ndim
        begin[axis] = j
        size = list(x.shape)
        size[axis] = 1
        v = x.slice(begin, size)
        shape = [n for i, n in enumerate(v.shape) if i != axis]
        strides = [s for i, s in enumerate(v.strides) if i != axis]
        ctx.copy(v.with_(shape, strides), ctx.out(j))


op(
    name="Unpack",
    inputs=[Arg("value", type_attr="T")],
    outputs=[Arg("output", type_attr="T", number_attr="num")],
    attrs=[
        Attr("num", "int", min=0, max=MAX_OUTPUTS),
        Attr("T", "type", allowed=STR_T),
        Attr("axis", "int", 0),
    ],
    shape_fn=_unpack_shape,
    ref=lambda ins, a: [np.take(ins[0], j, axis=a["axis"]) for j in range(a["num"])],
    lower=_unpack_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        Case((_rand(rng, (3, 2), t),), {"num": 2, "axis": 1}, grad=t.is_floating) for t in STR_T
    ],
    doc="Unstacks a tensor into `num` tensors along `axis`.",
)


# ---------------------------------------------------------------------------
# Slice and StridedSlice
# ---------------------------------------------------------------------------
def _slice_params(dims, begin, size):
    begin, size = _int_list(begin), _int_list(size)
    if len(begin) != len(dims) or len(size) != len(dims):
        raise ValueError(f"begin {begin} and size {size} must have one entry per dimension ({len(dims)})")
    out = []
    for i, (d, b, s) in enumerate(zip(dims, begin, size)):
        if s == -1:
            s = None if d is None else d - b
        if b < 0 or (s is not None and s < 0) or (d is not None and s is not None and b + s > d):
            raise ValueError(f"slice of dimension {i}: begin {b} and size {size[i]} do not fit in {d}")
        out.append(s)
    return begin, out


def _slice_shape(c):
    s = c.shape(0)
    b, z = c.value(1), c.value(2)
    if s.ndims is not None and b is not None and z is not None:
        return [TensorShape(_slice_params(s.as_tuple(), b, z)[1])]
    # begin or size known element by element: a known size is the dimension; size -1 (to
    # the end) needs the begin and the input's dimension
    sizes, begins = c.partial_value(2), c.partial_value(1)
    ranks = {len(x) for x in (s.as_tuple(), sizes, begins) if x is not None}
    if len(ranks) > 1:
        raise ValueError(f"begin and size must have one entry per dimension of the input ({s})")
    if not ranks:
        return [TensorShape(None)]
    r = ranks.pop()
    dims, begins, sizes = (tuple(x) if x is not None else (None,) * r for x in (s.as_tuple(), begins, sizes))
    out = []
    for d, bb, zz in zip(dims, begins, sizes):
        if zz is not None and zz >= 0:
            out.append(zz)
        elif zz == -1 and d is not None and bb is not None:
            out.append(d - bb)
        else:
            out.append(None)
    return [TensorShape(out)]


def _slice_ref(ins, a):
    begin, size = _slice_params(ins[0].shape, ins[1], ins[2])
    return ins[0][tuple(slice(b, b + s) for b, s in zip(begin, size))]


def _slice_lower(ctx):
    begin, size = _slice_params(ctx.in_shapes[0], ctx.values[1], ctx.values[2])
    ctx.copy(ctx.inp(0).slice(begin, size), ctx.out(0))


op(
    name="Slice",
    inputs=[
        Arg("input", type_attr="T"),
        Arg("begin", type_attr="Index", host=True),
        Arg("size", type_attr="Index", host=True),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("Index", "type", D.int32, allowed=IDX_T)],
    shape_fn=_slice_shape,
    partial_value=_pv_slice,
    ref=_slice_ref,
    lower=_slice_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: (
        [
            Case(
                (_rand(rng, (4, 5), t), np.array([1, 2], np.int32), np.array([2, -1], np.int32)),
                grad=t.is_floating,
            )
            for t in STR_T
        ]
        + [Case((_rand(rng, (3,)), np.array([1], np.int64), np.array([0], np.int64)))]
    ),
    doc="A contiguous block: `size` elements from `begin` (-1: to the end).",
)


def strided_slice_spec(dims, begin, end, strides, attrs):
    """Resolve StridedSlice into per-input-dim (begin, step, size, keep) plus new axes.

    dims may contain None (unknown); returns (plan, out_dims) where plan lists
    ("dim", input_dim, begin, step, size_or_None, shrink) and ("new",) entries in
    output order before shrinking.
    """
    begin, end, strides = _int_list(begin), _int_list(end), _int_list(strides)
    n = len(begin)
    if not (len(end) == n == len(strides)):
        raise ValueError("begin, end and strides must have the same length")
    bm, em, el, na, sh = (
        attrs.get(k, 0)
        for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    )
    if bin(el).count("1") > 1:
        raise ValueError("only one ellipsis is allowed")
    rank = len(dims)
    # number of input dims consumed by non-ellipsis, non-new-axis entries
    used = sum(1 for i in range(n) if not (el >> i) & 1 and not (na >> i) & 1)
    plan, out_dims, d = [], [], 0
    for i in range(n):
        if (el >> i) & 1:
            for _ in range(rank - used):
                if d >= rank:
                    break
                plan.append(("dim", d, 0, 1, dims[d], False))
                out_dims.append(dims[d])
                d += 1
            continue
        if (na >> i) & 1:
            plan.append(("new",))
            out_dims.append(1)
            continue
        if d >= rank:
            raise ValueError(f"index {i} of the slice is out of bounds for a tensor of rank {rank}")
        size_d = dims[d]
        st = strides[i]
        if st == 0:
            raise ValueError("strides must be non-zero")
        if (sh >> i) & 1:
            b = begin[i]
            if size_d is not None:
                if not -size_d <= b < size_d:
                    raise ValueError(f"slice index {b} of dimension {d} out of bounds (size {size_d})")
                b = b + size_d if b < 0 else b
            plan.append(("dim", d, b, 1, 1, True))
            d += 1
            continue
        if size_d is None:
            plan.append(("dim", d, None, st, None, False))
            out_dims.append(None)
            d += 1
            continue
        b = None if (bm >> i) & 1 else begin[i]
        e = None if (em >> i) & 1 else end[i]
        start, stop, step = slice(b, e, st).indices(size_d)
        count = max(0, len(range(start, stop, step)))
        plan.append(("dim", d, start, step, count, False))
        out_dims.append(count)
        d += 1
    while d < rank:  # trailing dims are taken whole
        plan.append(("dim", d, 0, 1, dims[d], False))
        out_dims.append(dims[d])
        d += 1
    return plan, out_dims


_SS_ATTRS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
# StridedSlice's masks are bit sets over the slice's entries, as TensorFlow's int32 masks;
# a negative mask (every bit set, -1 included) is refused, which TensorFlow accepts
_MASK_MAX = (1 << 31) - 1


def _ss_shape(c):
    s = c.shape(0)
    vals = [c.value(i) for i in (1, 2, 3)]
    if s.ndims is None or any(v is None for v in vals):
        return [TensorShape(None)]
    _, out = strided_slice_spec(s.as_tuple(), *vals, c.attrs)
    return [TensorShape(out)]


def _ss_view(x, plan):
    shape, strides, off = [], [], x.offset
    for p in plan:
        if p[0] == "new":
            shape.append(1)
            strides.append(0)
            continue
        _, d, b, step, size, shrink = p
        off += b * x.strides[d]
        if not shrink:
            shape.append(size)
            strides.append(x.strides[d] * step)
    return x.with_(shape, strides, off)


def _ss_lower(ctx):
    plan, _ = strided_slice_spec(ctx.in_shapes[0], *ctx.values[1:4], ctx.attrs)
    ctx.copy(_ss_view(ctx.inp(0), plan), ctx.out(0))


def _ss_ref(ins, a):
    x = ins[0]
    plan, _ = strided_slice_spec(x.shape, ins[1], ins[2], ins[3], a)
    idx = []
    for p in plan:
        if p[0] == "new":
            idx.append(np.newaxis)
        else:
            _, d, b, step, size, shrink = p
            idx.append(
                b
                if shrink
                else slice(b, b + step * size if b + step * size >= 0 else None, step)
                if size
                else slice(0, 0)
            )
    return x[tuple(idx)]


def _ss_case(x, b, e, s, **masks):
    arrs = [np.array(v, np.int32) for v in (b, e, s)]
    return Case((x, *arrs), {k: masks.get(k, 0) for k in _SS_ATTRS}, grad=x.dtype.kind == "f")


op(
    name="StridedSlice",
    inputs=[
        Arg("input", type_attr="T"),
        Arg("begin", type_attr="Index", host=True),
        Arg("end", type_attr="Index", host=True),
        Arg("strides", type_attr="Index", host=True),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=STR_T), Attr("Index", "type", D.int32, allowed=IDX_T)]
    + [Attr(k, "int", 0, min=0, max=_MASK_MAX) for k in _SS_ATTRS],
    shape_fn=_ss_shape,
    partial_value=_pv_strided_slice,
    ref=_ss_ref,
    lower=_ss_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        _ss_case(_rand(rng, (5, 6)), [1, 0], [4, 6], [1, 2]),
        _ss_case(_rand(rng, (5, 6)), [-1, 0], [0, 0], [-1, 1], end_mask=2),
        _ss_case(_rand(rng, (5, 6)), [2], [3], [1], shrink_axis_mask=1),
        _ss_case(_rand(rng, (2, 3, 4)), [0, 1], [0, 2], [1, 1], ellipsis_mask=1, shrink_axis_mask=2),
        _ss_case(
            _rand(rng, (3, 4)), [0, 0, 0], [0, 0, 0], [1, 1, 1], new_axis_mask=2, begin_mask=5, end_mask=5
        ),
        _ss_case(_rand(rng, (4,)), [10], [-10], [-1]),
        _ss_case(_rand(rng, (4, 3), D.int64), [0], [0], [1], begin_mask=1, end_mask=1),
    ],
    doc="NumPy-style basic indexing (x[1:4, ::2], x[..., 0], x[None])",
)


# ---------------------------------------------------------------------------
# Gather, OneHot
# ---------------------------------------------------------------------------
def _gather_shape(c):
    p, i, av = c.shape(0), c.shape(1), scalar_input(c, 2, "GatherV2's axis")
    if c.attrs.get("batch_dims", 0) != 0:
        raise ValueError("GatherV2 supports batch_dims=0 only")
    if p.ndims is None or i.ndims is None or av is None:
        return [TensorShape(None)]
    axis = _axis(av, p.ndims)
    d = p.as_tuple()
    return [TensorShape(d[:axis] + i.as_tuple() + d[axis + 1 :])]


def _gather_ref(ins, a):
    params, idx = ins[0], ins[1]
    axis = int(np.asarray(ins[2]))
    n = params.shape[axis]
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise IndexError(f"indices = {idx[bad].reshape(-1)[0]} is not in [0, {n})")
    return np.take(params, idx, axis=axis)


def _gather_lower(ctx):
    p = ctx.in_shapes[0]
    axis = _axis(int(np.asarray(ctx.values[2])), len(p))
    outer = math.prod(p[:axis])
    inner = math.prod(p[axis + 1 :])
    m = math.prod(ctx.in_shapes[1])
    if outer * m * inner == 0:
        return
    params = ctx.inp(0).reshape([outer, p[axis], inner])
    idx = ctx.inp(1).reshape([m])
    out = ctx.out(0).reshape([outer, m, inner])
    ctx.call(ctx.kernel("gather", ctx.in_dtypes[0]), [params, idx], [out])


op(
    name="GatherV2",
    inputs=[
        Arg("params", type_attr="Tparams"),
        Arg("indices", type_attr="Tindices"),
        Arg("axis", type_attr="Taxis", host=True),
    ],
    outputs=[Arg("output", type_attr="Tparams")],
    attrs=[
        Attr("Tparams", "type", allowed=STR_T),
        Attr("Tindices", "type", allowed=IDX_T),
        Attr("Taxis", "type", D.int32, allowed=IDX_T),
        Attr("batch_dims", "int", 0),
    ],
    shape_fn=_gather_shape,
    ref=_gather_ref,
    lower=_gather_lower,
    kernels=registry.kernels_for(["gather"], ALL_T),
    cases=lambda rng: (
        [
            Case((_rand(rng, (5, 3), t), np.array([4, 0, 2, 2], it), np.int32(0)), grad=t.is_floating)
            for t in STR_T
            for it in (np.int32, np.int64)
        ]
        + [
            Case((_rand(rng, (2, 5, 3)), np.array([[1, 4], [0, 0]], np.int32), np.int32(1))),
            Case((_rand(rng, (4, 3)), np.array(2, np.int64), np.int32(0))),
            Case((_rand(rng, (4, 3)), np.zeros((0,), np.int32), np.int32(0))),
        ]
    ),
    doc="Rows (slices along `axis`) of params picked by indices.",
)


def _onehot_shape(c):
    s, dv = c.shape(0), c.value(1)
    if c.shape(1).ndims not in (None, 0):
        raise ValueError(f"depth must be a scalar, got shape {c.shape(1)}")
    for i, what in ((2, "on_value"), (3, "off_value")):
        if c.shape(i).ndims not in (None, 0):
            raise ValueError(f"{what} must be a scalar, but got: {c.shape(i)}")
    depth = None if dv is None else int(np.asarray(dv))
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be non-negative, got {depth}")
    if s.ndims is None:
        return [TensorShape(None)]
    axis = c.attrs["axis"]
    dims = list(s.as_tuple())
    r = len(dims) + 1
    if axis == -1:
        axis = r - 1
    if not 0 <= axis < r:
        raise ValueError(f"axis {c.attrs['axis']} is out of range for a rank-{r} result")
    dims.insert(axis, depth)
    return [TensorShape(dims)]


def _onehot_ref(ins, a):
    idx, depth = ins[0], int(np.asarray(ins[1]))
    on, off = ins[2], ins[3]
    for v, what in ((on, "on_value"), (off, "off_value")):
        if np.ndim(v) != 0:
            raise ValueError(f"{what} must be a scalar, but got: {list(np.shape(v))}")
    axis = a["axis"] if a["axis"] != -1 else idx.ndim
    hot = np.expand_dims(idx, -1) == np.arange(depth)
    out = np.where(hot, on, off).astype(np.asarray(on).dtype)
    return np.moveaxis(out, -1, axis)


def _onehot_lower(ctx):
    ishape = ctx.in_shapes[0]
    for i, what in ((2, "on_value"), (3, "off_value")):
        if len(ctx.in_shapes[i]) != 0:
            raise ValueError(f"{what} must be a scalar, but got: {list(ctx.in_shapes[i])}")
    axis = ctx.attrs["axis"] if ctx.attrs["axis"] != -1 else len(ishape)
    outer = math.prod(ishape[:axis])
    inner = math.prod(ishape[axis:])
    depth = int(np.asarray(ctx.values[1]))
    if outer * inner * depth == 0:
        return
    out = ctx.out(0).reshape([outer, depth, inner])
    ctx.call(
        ctx.kernel("one_hot", ctx.out_dtypes[0]),
        [ctx.inp(0).reshape([outer, inner]), ctx.inp(2), ctx.inp(3)],
        [out],
    )


_OH_T = ALL_T
op(
    name="OneHot",
    inputs=[
        Arg("indices", type_attr="TI"),
        Arg("depth", dtype=D.int32, host=True),
        Arg("on_value", type_attr="T"),
        Arg("off_value", type_attr="T"),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[
        Attr("axis", "int", -1, min=-1),
        Attr("T", "type", allowed=_OH_T),
        Attr("TI", "type", D.int64, allowed=(D.uint8, D.int32, D.int64)),
    ],
    shape_fn=_onehot_shape,
    ref=_onehot_ref,
    lower=_onehot_lower,
    kernels=registry.kernels_for(["one_hot"], _OH_T),
    differentiable=False,
    cases=lambda rng: (
        [
            Case((np.array([0, 2, -1, 5], it), np.int32(4), np.array(1, t.np), np.array(0, t.np)), grad=False)
            for t in _OH_T
            for it in (np.int32, np.int64)
        ]
        + [
            Case(
                (np.array([[1, 0], [2, 2]], np.int32), np.int32(3), np.float32(5), np.float32(-1)),
                {"axis": 0},
                grad=False,
            )
        ]
    ),
    doc="One-hot vectors of `depth` (on_value at the index, off_value elsewhere).",
)


# ---------------------------------------------------------------------------
# Python wrappers
# ---------------------------------------------------------------------------
def _out(op_type, inputs, attrs=None, name=None):
    return builder.apply_op(op_type, inputs, attrs, name).outputs[0]


def constant(
    value, dtype=None, shape=None, name: str = "Const", verify_shape: bool = False, _strict: bool = False
) -> fops.Tensor:
    """A constant tensor (TF1 semantics: a scalar or short list fills `shape`)."""
    if isinstance(value, fops.Tensor) or fops.contains_tensor(value):
        raise TypeError(
            f"Expected any non-tensor type, but got a tensor instead: constant() takes a Python or "
            f"NumPy value ({value!r}); sf.convert_to_tensor packs lists of tensors"
        )
    dt = dtypes.as_dtype(dtype) if dtype is not None else fops.np_value_dtype(value)
    src = np.asarray(value) if dt is not D.string else strings.bytes_array(value, "a string constant")
    if src.dtype == object and dt is not D.string:
        raise TypeError(f"cannot make a constant from {value!r}")
    if _strict and dtype is not None and src.size:
        if (
            (src.dtype.kind == "f" and not dt.is_floating)
            or (src.dtype.kind == "b" and dt is not D.bool_)
            or (src.dtype.kind in "iu" and dt is D.bool_)
        ):
            raise TypeError(f"cannot convert {value!r} to {dt.name}")
        if src.dtype.kind in "iu" and dt.is_integer and (src.min() < dt.min or src.max() > dt.max):
            # a preferred type the values do not fit: the caller infers one (as TF does, so
            # that reshape(x, [2**40, 4]) makes an int64 shape)
            raise TypeError(f"{value!r} does not fit in {dt.name}")
    if src.dtype.kind == "f" and dt.is_integer:
        if not np.all(np.isfinite(src)) or not np.array_equal(src, np.trunc(src)):
            raise TypeError(f"Expected {dt.name}, but got {value!r} of type float (it is not an integer)")
    arr = np.array(src, dtype=dt.np)
    if shape is not None:
        shape = [int(d) for d in as_shape(shape).as_list()]
        n = sizes.num_elements(shape)
        if arr.shape != tuple(shape):
            if verify_shape:
                raise TypeError(f"Expected Tensor's shape: {tuple(shape)}, got {arr.shape}.")
            flat = arr.reshape(-1)
            if flat.size == n:
                arr = flat.reshape(shape)
            elif flat.size == 1:
                # one value for the whole shape: kept as one value (TensorFlow's splat), expanded
                # only by a plan that runs it, within the allocation limit
                arr = np.broadcast_to(flat.reshape(()), tuple(shape))
            elif 0 < flat.size < n:
                sizes.check_allocation(n * dt.size, f"constant {name!r} of shape {shape}")
                pad = np.empty(n - flat.size, dt.np)
                pad[...] = flat[-1]  # (np.full would read a bytes fill value as a sequence)
                arr = np.concatenate([flat, pad]).reshape(shape)
            else:
                raise TypeError(f"Too many elements provided. Needed at most {n}, but received {flat.size}")
    return _out("Const", [], {"value": arr, "dtype": dt}, name)


def autopack(value, dtype=None, name: str | None = None) -> fops.Tensor:
    """A (nested) list or tuple holding tensors packed into one tensor (TF's auto-packing,
    the rule `convert_to_tensor` applies to every op input).

    The dtype is `dtype`, or else that of the first tensor found (depth first); with an
    explicit dtype, tensors of another dtype are cast to it, otherwise they are an error.
    Python and NumPy elements become constants of the dtype; every list level is a Pack.
    """
    if dtype is None:
        dtype = _first_tensor(value).dtype
        cast = False
    else:
        dtype, cast = dtypes.as_dtype(dtype), True
    return _pack_nested(value, dtype, cast, name or "packed")


def _first_tensor(value) -> fops.Tensor:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        elif fops.contains_tensor([v]):
            return fops.convert_to_tensor(v)
    raise ValueError(f"{value!r} holds no tensor")


def _pack_nested(value, dtype, cast: bool, name: str) -> fops.Tensor:
    # recursion over the nesting of one Python literal, not over the graph
    with fops.name_scope(name) as scope:
        elems = []
        for i, e in enumerate(value):
            if isinstance(e, (list, tuple)) and fops.contains_tensor(e):
                e = _pack_nested(e, dtype, cast, str(i))
            elif fops.contains_tensor([e]):
                e = fops.convert_to_tensor(e)
                if e.dtype != dtype:
                    if not cast:
                        raise TypeError(
                            f"Cannot convert a list containing a tensor of dtype {e.dtype.name} to "
                            f"{dtype.name} (Tensor is: {e!r})"
                        )
                    from staticflow.ops import math_ops

                    e = math_ops.cast(e, dtype)
            else:
                e = constant(e, dtype=dtype, name=str(i))
            elems.append(e)
        return _out("Pack", [elems], {"axis": 0}, scope)


def placeholder(dtype, shape=None, name: str | None = None) -> fops.Tensor:
    """A value fed at run time; `shape` may contain None for unknown dimensions."""
    return _out(
        "Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": as_shape(shape)}, name or "Placeholder"
    )


def placeholder_with_default(input, shape, name: str | None = None) -> fops.Tensor:
    x = fops.convert_to_tensor(input)
    shape = as_shape(shape)
    if not x.shape.is_compatible_with(shape):
        raise ValueError(
            f"default value of shape {x.shape} is incompatible with the placeholder shape {shape}"
        )
    return _out("PlaceholderWithDefault", [x], {"dtype": x.dtype, "shape": shape}, name)


def identity(input, name: str | None = None) -> fops.Tensor:
    return _out("Identity", [input], None, name)


def stop_gradient(input, name: str | None = None) -> fops.Tensor:
    return _out("StopGradient", [input], None, name)


def no_op(name: str | None = None) -> fops.Operation:
    return builder.apply_op("NoOp", [], None, name)


def shape(input, name: str | None = None, out_type=D.int32) -> fops.Tensor:
    return _out("Shape", [input], {"out_type": dtypes.as_dtype(out_type)}, name)


def size(input, name: str | None = None, out_type=D.int32) -> fops.Tensor:
    return _out("Size", [input], {"out_type": dtypes.as_dtype(out_type)}, name)


def rank(input, name: str | None = None) -> fops.Tensor:
    return _out("Rank", [input], None, name)


def range_(start, limit=None, delta=1, dtype=None, name: str = "range") -> fops.Tensor:
    """sf.range(limit) or sf.range(start, limit, delta)."""
    if limit is None:
        start, limit = 0, start
    vals = [start, limit, delta]
    if dtype is None:
        tensors = [v for v in vals if isinstance(v, fops.Tensor)]
        if tensors:
            dtype = tensors[0].dtype
        elif any(isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f") for v in vals):
            dtype = D.float32
        elif any(fops.np_value_dtype(v) is D.int64 for v in vals):
            dtype = D.int64  # as TensorFlow infers it: a Python int beyond int32 makes an int64 range
        else:
            dtype = D.int32
    dt = dtypes.as_dtype(dtype)
    ts = [fops.convert_to_tensor(v, dtype=dt) if not isinstance(v, fops.Tensor) else v for v in vals]
    return _out("Range", ts, {"Tidx": dt}, name)


def reshape(tensor, shape, name: str | None = None) -> fops.Tensor:
    return _out("Reshape", [tensor, _shape_arg(shape)], None, name)


def _shape_arg(shape):
    """Shape-like arguments: a TensorShape as its list (lists holding tensors are packed by
    convert_to_tensor, as every op input)."""
    if isinstance(shape, TensorShape):
        return shape.as_list()
    if isinstance(shape, (list, tuple)) and not shape:
        return np.zeros(0, np.int32)  # a scalar's shape: int32, not NumPy's float64 default
    return shape


def expand_dims(input, axis=None, name: str | None = None, dim=None) -> fops.Tensor:
    if axis is None:
        axis = dim
    if axis is None:
        raise ValueError("expand_dims needs an axis")
    return _out("ExpandDims", [input, axis], None, name)


def squeeze(input, axis=None, name: str | None = None, squeeze_dims=None) -> fops.Tensor:
    axis = squeeze_dims if axis is None else axis
    if axis is None:
        axis = []
    elif isinstance(axis, int):
        axis = [axis]
    return _out("Squeeze", [input], {"squeeze_dims": [int(a) for a in axis]}, name)


def transpose(a, perm=None, name: str = "transpose", conjugate: bool = False) -> fops.Tensor:
    """Permutes the dimensions of `a` (default: reverses them, also for an unknown rank)."""
    a = fops.convert_to_tensor(a)
    if perm is None and a.shape.ndims is None:
        # as TF: perm = (rank - 1) - range(rank), known while planning
        from staticflow.ops import math_ops

        with fops.name_scope(name, "transpose", [a]) as scope:
            r = rank(a)
            perm = math_ops.subtract(r - 1, range_(0, r, 1))
            return _out("Transpose", [a, perm], None, scope)
    if perm is None:
        perm = list(range(a.shape.ndims))[::-1]
    return _out("Transpose", [a, perm], None, name)


def broadcast_to(input, shape, name: str | None = None) -> fops.Tensor:
    return _out("BroadcastTo", [input, _shape_arg(shape)], None, name)


def fill(dims, value, name: str | None = None) -> fops.Tensor:
    return _out("Fill", [_shape_arg(dims), value], None, name)


def zeros(shape, dtype=D.float32, name: str | None = None) -> fops.Tensor:
    dt = dtypes.as_dtype(dtype)
    return fill(shape, np.array(0, dt.np), name=name or "zeros")


def ones(shape, dtype=D.float32, name: str | None = None) -> fops.Tensor:
    dt = dtypes.as_dtype(dtype)
    return fill(shape, np.array(1, dt.np), name=name or "ones")


def zeros_like(tensor, dtype=None, name: str | None = None, optimize: bool = True) -> fops.Tensor:
    t = fops.convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) != t.dtype:
        from staticflow.ops import math_ops

        t = math_ops.cast(t, dtype)
    return _out("ZerosLike", [t], None, name or "zeros_like")


def ones_like(tensor, dtype=None, name: str | None = None, optimize: bool = True) -> fops.Tensor:
    t = fops.convert_to_tensor(tensor)
    if dtype is not None and dtypes.as_dtype(dtype) != t.dtype:
        from staticflow.ops import math_ops

        t = math_ops.cast(t, dtype)
    return _out("OnesLike", [t], None, name or "ones_like")


def tile(input, multiples, name: str | None = None) -> fops.Tensor:
    return _out("Tile", [input, _shape_arg(multiples)], None, name)


def pad(tensor, paddings, mode: str = "CONSTANT", name: str | None = None, constant_values=0) -> fops.Tensor:
    if mode.upper() != "CONSTANT":
        raise ValueError(f"pad mode {mode!r} is not supported; staticflow pads with mode='CONSTANT'")
    t = fops.convert_to_tensor(tensor)
    if isinstance(constant_values, fops.Tensor) or np.any(np.asarray(constant_values) != 0):
        return _out(
            "PadV2", [t, paddings, fops.convert_to_tensor(constant_values, dtype=t.dtype)], None, name
        )
    return _out("Pad", [t, paddings], None, name)


def concat(values, axis, name: str = "concat") -> fops.Tensor:
    values = list(values)
    if len(values) == 1:
        return identity(values[0], name=name)
    return _out("ConcatV2", [values, axis], None, name)


def split(value, num_or_size_splits, axis=0, num=None, name: str = "split") -> list[fops.Tensor]:
    if isinstance(num_or_size_splits, (int, np.integer)):
        op_ = builder.apply_op(
            "Split",
            [np.int32(axis) if not isinstance(axis, fops.Tensor) else axis, value],
            {"num_split": int(num_or_size_splits)},
            name,
        )
    else:
        sizes = num_or_size_splits
        n = num
        if n is None:
            n = len(sizes) if not isinstance(sizes, fops.Tensor) else sizes.shape[0].value
            if n is None:
                raise ValueError("cannot infer the number of splits; pass num=")
        op_ = builder.apply_op(
            "SplitV",
            [value, sizes, np.int32(axis) if not isinstance(axis, fops.Tensor) else axis],
            {"num_split": int(n)},
            name,
        )
    return list(op_.outputs)


def stack(values, axis: int = 0, name: str = "stack") -> fops.Tensor:
    return _out("Pack", [list(values)], {"axis": axis}, name)


def unstack(value, num=None, axis: int = 0, name: str = "unstack") -> list[fops.Tensor]:
    value = fops.convert_to_tensor(value)
    if num is None:
        s = value.shape
        if s.ndims is None or s[axis].value is None:
            raise ValueError(f"Cannot infer num from shape {s}")
        num = s[axis].value
    return list(builder.apply_op("Unpack", [value], {"num": num, "axis": axis}, name).outputs)


def slice_(input_, begin, size, name: str | None = None) -> fops.Tensor:
    """sf.slice: `size` elements from `begin` (-1: to the end)."""
    return _out("Slice", [input_, _shape_arg(begin), _shape_arg(size)], None, name)


def strided_slice(
    input_,
    begin,
    end,
    strides=None,
    begin_mask=0,
    end_mask=0,
    ellipsis_mask=0,
    new_axis_mask=0,
    shrink_axis_mask=0,
    name: str | None = None,
) -> fops.Tensor:
    if strides is None:
        strides = [1] * (len(begin) if not isinstance(begin, fops.Tensor) else begin.shape[0].value)
    attrs = dict(
        begin_mask=begin_mask,
        end_mask=end_mask,
        ellipsis_mask=ellipsis_mask,
        new_axis_mask=new_axis_mask,
        shrink_axis_mask=shrink_axis_mask,
    )
    return _out(
        "StridedSlice", [input_, _shape_arg(begin), _shape_arg(end), _shape_arg(strides)], attrs, name
    )


def getitem(tensor: fops.Tensor, key) -> fops.Tensor:
    """tensor[key] for ints, slices, None/newaxis, Ellipsis and scalar tensors."""
    if not isinstance(key, tuple):
        key = (key,)
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    for i, k in enumerate(key):
        bit = 1 << i
        if k is Ellipsis:
            masks["ellipsis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        elif k is None:
            masks["new_axis_mask"] |= bit
            begin.append(0), end.append(0), strides.append(1)
        elif isinstance(k, (int, np.integer)) or (isinstance(k, fops.Tensor) and k.shape.ndims == 0):
            masks["shrink_axis_mask"] |= bit
            begin.append(k)
            end.append(k + 1 if not isinstance(k, fops.Tensor) else k + 1)
            strides.append(1)
        elif isinstance(k, slice):
            if k.start is None:
                masks["begin_mask"] |= bit
            if k.stop is None:
                masks["end_mask"] |= bit
            begin.append(0 if k.start is None else k.start)
            end.append(0 if k.stop is None else k.stop)
            strides.append(1 if k.step is None else k.step)
        else:
            raise TypeError(
                f"Only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) and scalar int32/int64 "
                f"tensors are valid indices, got {k!r}"
            )
    return strided_slice(tensor, begin, end, strides, name="strided_slice", **masks)


def gather(params, indices, validate_indices=None, name: str | None = None, axis=0, batch_dims: int = 0):
    return _out("GatherV2", [params, indices, axis], {"batch_dims": batch_dims}, name)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name: str | None = None):
    dt = dtypes.as_dtype(dtype) if dtype is not None else None
    for v in (on_value, off_value):
        if dt is None and isinstance(v, fops.Tensor):
            dt = v.dtype
    dt = dt or D.float32
    on = fops.convert_to_tensor(1 if on_value is None else on_value, dtype=dt)
    off = fops.convert_to_tensor(0 if off_value is None else off_value, dtype=dt)
    attrs = {"axis": -1 if axis is None else axis}
    indices = fops.convert_to_tensor(indices)  # Python ints are int32, as in TF's one_hot
    return _out("OneHot", [indices, depth, on, off], attrs, name or "one_hot")


# ---------------------------------------------------------------------------
# ops that gradients are built from
# ---------------------------------------------------------------------------
def broadcast_gradient_args(s0, s1):
    """Axes to sum a gradient of the broadcast result over, to get back each input's shape.

    As TensorFlow's BCast: equal shapes need no reduction; otherwise, after padding
    with leading 1s, every axis where an input has size 1 is reduced for it."""
    s0, s1 = [int(d) for d in s0], [int(d) for d in s1]
    if s0 == s1:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    n = max(len(s0), len(s1))
    a = [1] * (n - len(s0)) + s0
    b = [1] * (n - len(s1)) + s1
    r0, r1 = [], []
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            if x == 1:
                r0.append(i)
                r1.append(i)
            continue
        if x == 1:
            r0.append(i)
        elif y == 1:
            r1.append(i)
        else:
            raise ValueError(f"incompatible shapes {s0} and {s1} for broadcasting")
    return np.array(r0, np.int32), np.array(r1, np.int32)


op(
    name="BroadcastGradientArgs",
    inputs=[Arg("s0", type_attr="T", host=True), Arg("s1", type_attr="T", host=True)],
    outputs=[Arg("r0", type_attr="T"), Arg("r1", type_attr="T")],
    attrs=[Attr("T", "type", D.int32, allowed=IDX_T)],
    shape_fn=lambda c: (
        [TensorShape([None]), TensorShape([None])]
        if c.value(0) is None or c.value(1) is None
        else [TensorShape([len(r)]) for r in broadcast_gradient_args(c.value(0), c.value(1))]
    ),
    ref=lambda ins, a: [r.astype(a["T"].np) for r in broadcast_gradient_args(ins[0], ins[1])],
    static=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(a, np.int32), np.array(b, np.int32)), grad=False)
        for a, b in [
            ([2, 3, 4], [4]),
            ([3, 1], [1, 5]),
            ([], [2, 2]),
            ([1], [1]),  # equal shapes: nothing to reduce
            ([1, 1], [1]),
            ([2, 1], [1]),
        ]
    ],
    doc="Reduction axes for the gradients of a broadcasting binary op (computed while planning).",
)


def _invert_perm(p):
    p = _int_list(p)
    if sorted(p) != list(range(len(p))):
        raise ValueError(f"{p} is not a permutation")
    out = [0] * len(p)
    for i, v in enumerate(p):
        out[v] = i
    return out


op(
    name="InvertPermutation",
    inputs=[Arg("x", type_attr="T", host=True)],
    outputs=[Arg("y", type_attr="T")],
    attrs=[Attr("T", "type", D.int32, allowed=IDX_T)],
    shape_fn=lambda c: [c.shape(0)],
    ref=lambda ins, a: np.array(_invert_perm(ins[0]), dtype=a["T"].np),
    static=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array([2, 0, 1], np.int32),), grad=False),
        Case((np.array([], np.int64),), grad=False),
    ],
    doc="The inverse of a permutation (computed while planning).",
)


def _ssg_shape(c):
    v = c.value(0)
    if v is None:
        s = c.shape(0)
        return [unknown_shape(s[0].value if s.ndims == 1 else None)]
    return [TensorShape(shape_value(v))]


def _ssg_lower(ctx):
    shape = tuple(_int_list(ctx.values[0]))
    plan, _ = strided_slice_spec(shape, *ctx.values[1:4], ctx.attrs)
    out = ctx.out(0)
    if out.size == 0:
        return
    ctx.copy(ctx.const(0, ctx.out_dtypes[0]).broadcast_to(out.shape), out)
    target = _ss_view(out, plan)
    if target.shape != tuple(ctx.in_shapes[4]):
        raise ValueError(f"dy has shape {tuple(ctx.in_shapes[4])}, the slice has shape {target.shape}")
    ctx.copy(ctx.inp(4), target)


def _ssg_ref(ins, a):
    shape = tuple(_int_list(ins[0]))
    out = np.zeros(shape, dtype=ins[4].dtype)
    plan, _ = strided_slice_spec(shape, ins[1], ins[2], ins[3], a)
    idx = []
    for p in plan:
        if p[0] == "new":
            continue
        _, d, b, step, size, shrink = p
        idx.append(
            b
            if shrink
            else builtins.slice(b, b + step * size if b + step * size >= 0 else None, step)
            if size
            else builtins.slice(0, 0)
        )
    dy = ins[4].reshape(out[tuple(idx)].shape)
    out[tuple(idx)] = dy
    return out


def _ssg_case(shape, b, e, s, dy_shape, rng, **masks):
    arrs = [np.array(v, np.int32) for v in (shape, b, e, s)]
    return Case((*arrs, _rand(rng, dy_shape)), {k: masks.get(k, 0) for k in _SS_ATTRS})


op(
    name="StridedSliceGrad",
    inputs=[
        Arg("shape", type_attr="Index", host=True),
        Arg("begin", type_attr="Index", host=True),
        Arg("end", type_attr="Index", host=True),
        Arg("strides", type_attr="Index", host=True),
        Arg("dy", type_attr="T"),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=ALL_T), Attr("Index", "type", D.int32, allowed=IDX_T)]
    + [Attr(k, "int", 0, min=0, max=_MASK_MAX) for k in _SS_ATTRS],
    shape_fn=_ssg_shape,
    ref=_ssg_ref,
    lower=_ssg_lower,
    kernels=COPY_KERNELS,
    cases=lambda rng: [
        _ssg_case([5, 6], [1, 0], [4, 6], [1, 2], (3, 3), rng),
        _ssg_case([5, 6], [2], [3], [1], (6,), rng, shrink_axis_mask=1),
        _ssg_case([4], [10], [-10], [-1], (4,), rng),
        _ssg_case(
            [3, 4], [0, 0, 0], [0, 0, 0], [1, 1, 1], (3, 1, 4), rng, new_axis_mask=2, begin_mask=5, end_mask=5
        ),
    ],
    doc="The gradient of StridedSlice: dy placed in a zero tensor of `shape`.",
)


def _segsum_shape(c):
    d, ids, n = c.shape(0), c.shape(1), c.value(2)
    if c.shape(2).ndims not in (None, 0):
        raise ValueError(f"num_segments must be a scalar, got shape {c.shape(2)}")
    if n is not None and int(np.asarray(n)) < 0:
        raise ValueError(f"num_segments must be non-negative, got {int(np.asarray(n))}")
    if d.ndims is None or ids.ndims is None:
        return [TensorShape(None)]
    if ids.ndims > d.ndims or not d[: ids.ndims].is_compatible_with(ids):
        # every id names one row of data: reading more ids than rows would read past the data
        raise ValueError(
            f"segment_ids of shape {ids} must be a prefix of the shape of data {d} "
            f"(one id per data row)"
        )
    rest = d.as_tuple()[ids.ndims :]
    return [TensorShape([None if n is None else int(np.asarray(n))] + list(rest))]


def _segsum_ref(ins, a):
    data, ids, n = ins[0], ins[1], int(np.asarray(ins[2]))
    if data.shape[: ids.ndim] != ids.shape:
        raise ValueError(f"segment_ids of shape {ids.shape} must be a prefix of data's shape {data.shape}")
    if np.any(ids >= n):
        raise ValueError(f"segment id {ids[ids >= n].reshape(-1)[0]} is out of range [0, {n})")
    inner = data.shape[ids.ndim :]
    if data.dtype in (D.float16.np, D.bfloat16.np):  # summed in float32, rounded once
        return _segsum_ref([data.astype(np.float32), ids, n], a).astype(data.dtype)
    out = np.zeros((n,) + inner, dtype=data.dtype)
    flat = data.reshape((ids.size,) + inner)
    for i, k in enumerate(ids.reshape(-1)):
        if k >= 0:
            out[k] += flat[i]
    return out


def _segsum_lower(ctx):
    ishape = tuple(ctx.in_shapes[1])
    if tuple(ctx.in_shapes[0][: len(ishape)]) != ishape:
        raise ValueError(
            f"segment_ids of shape {list(ishape)} must be a prefix of data's shape {list(ctx.in_shapes[0])}"
        )
    m = math.prod(ishape)
    inner = math.prod(ctx.in_shapes[0][len(ishape) :])
    out = ctx.out(0)
    if out.size == 0 and m == 0:  # nothing to write, and no id to check
        return
    n = ctx.out_shapes[0][0]
    data, o = ctx.inp(0).reshape([m, inner]), out.reshape([n, inner])
    half = ctx.in_dtypes[0] in D.HALF_FLOATS
    if half:  # summed in float32, rounded once
        data = _cast_view(ctx, data, D.float32)
        o = ctx.scratch_buffer((n, inner), D.float32)
    ctx.call(ctx.kernel("unsorted_segment_sum", data.dtype), [data, ctx.inp(1).reshape([m])], [o])
    if half:
        _cast_view(ctx, o, ctx.in_dtypes[0], out.reshape([n, inner]))


def _cast_view(ctx, src, dtype, dst=None):
    """Cast view src into dst (a new contiguous scratch buffer when None); returns dst."""
    dst = ctx.scratch_buffer(src.shape, dtype) if dst is None else dst
    if src.size:
        a, b = coalesce([src, dst])
        ctx.call(registry.kernel_name("cast", src.dtype, dtype), [a], [b])
    return dst


_SEG_T = D.ALL_NUMERIC
_SEG_NATIVE = tuple(t for t in _SEG_T if t not in D.HALF_FLOATS)
op(
    name="UnsortedSegmentSum",
    inputs=[
        Arg("data", type_attr="T"),
        Arg("segment_ids", type_attr="Tindices"),
        Arg("num_segments", type_attr="Tnumsegments", host=True),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=_SEG_T),
        Attr("Tindices", "type", allowed=IDX_T),
        Attr("Tnumsegments", "type", D.int32, allowed=IDX_T),
    ],
    shape_fn=_segsum_shape,
    ref=_segsum_ref,
    lower=_segsum_lower,
    kernels=registry.kernels_for(["unsorted_segment_sum"], _SEG_NATIVE)
    + tuple(
        registry.kernel_name("cast", a, b)
        for h in D.HALF_FLOATS
        for a, b in ((h, D.float32), (D.float32, h))
    ),
    cases=lambda rng: (
        [
            Case((_rand(rng, (5, 3), t), np.array([0, 2, -1, 2, 3], it), np.int32(4)), grad=t.is_floating)
            for t in _SEG_T
            for it in (np.int32, np.int64)
        ]
        + [Case((_rand(rng, (2, 2, 3)), np.array([[1, 0], [1, 1]], np.int32), np.int32(2)))]
    ),
    doc="Sums of data rows by segment id (the gradient of gather).",
)


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    return _out("UnsortedSegmentSum", [data, segment_ids, num_segments], None, name)


def invert_permutation(x, name=None):
    return _out("InvertPermutation", [x], None, name)


def _value_filler(value):
    def make(var):
        """Initial value of a slot of `var`: a callable making a Fill of its shape and dtype."""
        shape = var.shape
        if not shape.is_fully_defined():
            raise ValueError(f"slot of {var.name} needs a fully defined shape, got {shape}")
        return lambda: fill(shape.as_list(), np.array(value, dtype=var.dtype.np))

    return make


zeros_like_value = _value_filler(0)
ones_like_value = _value_filler(1)


def full_like_value(var, value):
    return _value_filler(value)(var)


# the framework's convert_to_tensor makes constants and packs lists of tensors through its hooks
framework_hooks.install(constant=constant, autopack=autopack)
