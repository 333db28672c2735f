"""The fused elementwise group: an internal op that only the elementwise fusion pass makes.

A `_FusedElementwise` node stands for a group of elementwise ops of one shape (its
*members*, in the order they compute), optionally ended by a sum or mean over some
axes. Its inputs are the values the group reads from outside, its outputs the
members' values that are needed outside (fetched, or read by other nodes) and the
reduction's result, in that order. `Group` (the node's ``group`` attr) describes it.

Lowering asks the node's backend (`ctx.backend.lower_fused`) for one kernel: the CPU
backend generates C from the members' scalar expressions (`backends/fused_codegen.py`),
compiles or finds it in the kernel cache (`backends/jit.py`) and calls it in the ABI's
slot like a hand-written kernel; a GPU backend calls `backends/cuda_fused.lower`, which generates
CUDA from the same member expressions and compiles it with NVRTC. Where no kernel can be
generated (no C compiler, a compile error), the node
lowers to its members' own kernels, with intermediates in scratch buffers, after one
warning: the values are the same either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, registry, scalar_table
from staticflow.ops.lowering import LowerContext, View, coalesce, contiguous_strides
from staticflow.ops.registry import Arg, Attr, op

FUSED = "_FusedElementwise"


@dataclass(eq=False)
class Member:
    """One op of a group. args: ("in", i) the fused node's input i, or ("m", j) member j;
    aligned: each arg's shape lined up with the group's shape (NumPy broadcasting)."""

    op_type: str
    attrs: dict
    args: tuple
    in_shapes: tuple
    aligned: tuple
    in_dtypes: tuple
    out_dtype: dtypes.DType
    origin: tuple = ()  # the user ops it stands for

    @property
    def opdef(self) -> registry.OpDef:
        return registry.get(self.op_type)


@dataclass(eq=False)
class Reduce:
    """The sum or mean over `axes` of member `member`'s value that ends a group."""

    kind: str
    op_type: str
    attrs: dict
    axes: tuple
    member: int
    out_shape: tuple
    axes_value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    origin: tuple = ()


@dataclass(eq=False)
class Group:
    shape: tuple
    members: list
    outputs: list  # member index of each elementwise output, in output order
    reduce: Reduce | None = None

    def __repr__(self) -> str:
        ops_ = [m.op_type for m in self.members] + ([self.reduce.op_type] if self.reduce else [])
        more = ",..." if len(ops_) > 6 else ""
        return f"<{len(ops_)} ops {','.join(ops_[:6])}{more} over {list(self.shape)}>"

    def tensors(self) -> dict:
        """User tensor -> (shape, output index of the fused node or None when the value only
        lives in registers), for every member's user ops."""
        out = {}
        for j, m in enumerate(self.members):
            o = self.outputs.index(j) if j in self.outputs else None
            for op_ in m.origin:
                for t in op_.outputs:
                    out[t] = (tuple(self.shape), o)
        if self.reduce is not None:
            for op_ in self.reduce.origin:
                for t in op_.outputs:
                    out[t] = (tuple(self.reduce.out_shape), len(self.outputs))
        return out

    def origin_of(self, k: int) -> tuple:
        """The user ops of member k (k == len(members): the reduction)."""
        if k == len(self.members) and self.reduce is not None:
            return self.reduce.origin
        return self.members[k].origin


# ---------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------
def operand_views(views: list[View], shape, axes) -> tuple[list[View], str] | None:
    """Views of the group's shape (inputs broadcast, outputs) as 2-D [kept, reduced] views for a
    kernel ending with a reduction over `axes`, and its mode ("row": the reduced elements are
    adjacent; "col": the kept ones are). None when the kept or the reduced dims do not merge
    into one dim in every view."""
    kept = [d for d in range(len(shape)) if d not in axes]
    red = [d for d in range(len(shape)) if d in axes]

    def merged(dims):
        if not dims:
            return [(1, 0)] * len(views)
        part = [v.with_([shape[d] for d in dims], [v.strides[d] for d in dims]) for v in views]
        cs = coalesce(part)
        if cs[0].ndim > 1:
            return None
        if cs[0].ndim == 0:
            return [(1, 0)] * len(views)
        return [(c.shape[0], c.strides[0]) for c in cs]

    k, r = merged(kept), merged(red)
    if k is None or r is None:
        return None
    out = [v.with_((k[i][0], r[i][0]), (k[i][1], r[i][1]), v.offset) for i, v in enumerate(views)]
    K = k[0][0]
    col = K >= 16 and any(sk == 1 for _n, sk in k) and not any(sr == 1 for _n, sr in r)
    return out, "col" if col else "row"


def _input_view(i: int, shape, dtype, aligned, group_shape) -> View:
    v = View(("in", i), dtype, tuple(shape), contiguous_strides(shape))
    return v.reshape(aligned).broadcast_to(group_shape)


def kernel_operands(group: Group) -> list[tuple[int, tuple]]:
    """The kernel's inputs: one per (fused node input, aligned shape) the members read."""
    seen: list[tuple[int, tuple]] = []
    for m in group.members:
        for (kind, i), a in zip(m.args, m.aligned):
            if kind == "in" and (i, a) not in seen:
                seen.append((i, a))
    return seen


def reduction_fits(group: Group, in_shapes, in_dtypes) -> bool:
    """Whether a kernel can end `group` with its reduction (2-D geometry in every view)."""
    views = [
        _input_view(i, in_shapes[i], in_dtypes[i], a, group.shape) for i, a in kernel_operands(group)
    ]
    views += [View(("out", o), dtypes.float32, group.shape, contiguous_strides(group.shape))
              for o in range(len(group.outputs))]
    return operand_views(views, group.shape, group.reduce.axes) is not None


# ---------------------------------------------------------------------------
# lowering
# ---------------------------------------------------------------------------
def lower_fused(ctx: LowerContext) -> None:
    """One kernel generated by the node's backend; the members' own kernels where it cannot
    make one (no compiler, a compile error: the backend warns once)."""
    group: Group = ctx.attrs["group"]
    if not ctx.backend.lower_fused(ctx, group):
        lower_members(ctx, group)


def _remap(v: View, where: dict) -> View:
    return dataclasses.replace(v, src=where[v.src])


def lower_members(ctx: LowerContext, group: Group) -> None:
    """The group as its members' own kernels (no compiler): values needed only inside the
    group go to scratch buffers."""
    place: dict[int, tuple] = {j: ("out", o) for o, j in enumerate(group.outputs)}
    for j, m in enumerate(group.members):
        if j not in place:
            ctx.scratch_buffer(group.shape, m.out_dtype)
            place[j] = ("scratch", len(ctx.scratch) - 1)
    steps = [(m, j) for j, m in enumerate(group.members)]
    if group.reduce is not None:
        steps.append((group.reduce, None))
    for m, j in steps:
        if j is None:  # the reduction
            r = group.reduce
            d = registry.get(r.op_type)
            src = [place[r.member], None]
            in_shapes = [group.shape, r.axes_value.shape]
            in_dtypes = [group.members[r.member].out_dtype, dtypes.as_dtype(r.axes_value.dtype)]
            values = [None, r.axes_value]
            out = ("out", len(group.outputs))
            out_shape, out_dtype, attrs = r.out_shape, in_dtypes[0], r.attrs
        else:
            d = m.opdef
            src = [("in", i) if kind == "in" else place[i] for kind, i in m.args]
            in_shapes, in_dtypes = list(m.in_shapes), list(m.in_dtypes)
            values = [None] * len(m.args)
            out, out_shape, out_dtype, attrs = place[j], group.shape, m.out_dtype, m.attrs
        sub = LowerContext(d, ctx.name, attrs, in_shapes, in_dtypes, [out_shape], [out_dtype], values)
        d.lower(sub)
        where = {("in", a): s for a, s in enumerate(src) if s is not None}
        where[("out", 0)] = out
        base = len(ctx.consts)
        ctx.consts.extend(sub.consts)
        for k in range(len(sub.consts)):
            where[("const", k)] = ("const", base + k)
        for k, (shape, dt) in enumerate(sub.scratch):
            ctx.scratch_buffer(shape, dt)
            where[("scratch", k)] = ("scratch", len(ctx.scratch) - 1)
        for call in sub.calls:
            call.ins = [_remap(v, where) for v in call.ins]
            call.outs = [_remap(v, where) for v in call.outs]
            ctx.calls.append(call)
        for o, i in sub.aliases.items():  # an op that passes an input through: copy it
            ctx.copy(_remap(sub.inp(i), where), _remap(sub.out(o), where))


# ---------------------------------------------------------------------------
# reference, shapes, registration
# ---------------------------------------------------------------------------
def _ref(ins, attrs):
    group: Group = attrs["group"]
    vals = []
    for m in group.members:
        args = [ins[i] if kind == "in" else vals[i] for kind, i in m.args]
        vals.append(builder.run_reference(m.opdef, args, m.attrs)[0])
    out = [vals[j] for j in group.outputs]
    if group.reduce is not None:
        r = group.reduce
        d = registry.get(r.op_type)
        out.append(builder.run_reference(d, [vals[r.member], r.axes_value], r.attrs)[0])
    return out


def _shape(c):
    group: Group = c.attrs["group"]
    shapes = [TensorShape(group.shape) for _ in group.outputs]
    if group.reduce is not None:
        shapes.append(TensorShape(group.reduce.out_shape))
    return shapes


op(
    name=FUSED,
    inputs=[Arg("inputs", type_list_attr="Tin")],
    outputs=[Arg("outputs", type_list_attr="Tout")],
    attrs=[Attr("Tin", "list(type)"), Attr("Tout", "list(type)"), Attr("group", "string")],
    shape_fn=_shape,
    ref=_ref,
    lower=lower_fused,
    # the fallback (members' own kernels) copies where a member passes its input through
    kernels=registry.kernels_for(["copy"], [dtypes.as_dtype(n) for n in scalar_table.DTYPES]),
    internal=True,
    differentiable=False,
    # the generated kernel loads every operand at an index before it stores there (the
    # fallback to the members' kernels makes several calls, which the planner never aliases)
    inplace=registry.INPLACE_ANY,
    cases=lambda rng: [],
    tested_by="tests/passes/test_fusion.py",  # and the property tests of tests/passes
    doc="A group of elementwise ops (and a sum or mean ending it) computed by one generated kernel.",
)
