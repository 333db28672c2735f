"""Plans: the part of a graph one `Session.run` signature needs, ready to execute.

Building a plan (prune, shapes with the concrete feed shapes, values needed
while planning, lowering to kernel calls, buffer assignment) is separate from
executing it. Every intermediate lives in one arena at an offset chosen from
its lifetime, so a run allocates nothing; variables live in the session's
persistent storage; constants in the plan. The kernel calls are prebuilt C
records, so executing is one call into C (`sf_run_plan`), or a Python walk of
the same records for debugging.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from staticflow.framework import dtypes, errors, sizes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, registry
from staticflow.ops.lowering import HostCall, KernelCall, LowerContext, View
from staticflow.runtime.graph_walk import prune, toposort

ALIGN = 64


def where(op: fops.Operation) -> str:
    return f"\n\t [[node {op.name} ({op.type}) defined at {fops.format_location(op.location)}]]"


@dataclass(eq=False)
class Buffer:
    """A storage unit: an arena slot, a constant, a variable's storage, or a feed slot."""

    kind: str  # "arena" | "const" | "var" | "state" | "feed" | "object"
    nbytes: int
    array: np.ndarray | None = None  # const / var / object storage
    objects: bool = False  # holds Python objects (strings): host calls only, never a kernel
    var: str | None = None
    start: int = 0  # first step that writes it (-1: before the run)
    end: int = -1  # last step that reads it
    offset: int = -1  # arena offset


@dataclass
class Loc:
    """Where a tensor lives: a buffer, a byte offset into it, a shape and dtype."""

    buf: Buffer
    byte_offset: int
    shape: tuple
    dtype: dtypes.DType


@dataclass
class Step:
    op: fops.Operation
    calls: list  # (KernelCall, [(Loc, View)] inputs, [(Loc, View)] outputs)


@dataclass
class PlanStats:
    arena_bytes: int = 0
    intermediate_bytes: int = 0
    peak_bytes: int = 0
    kernel_calls: int = 0
    steps: int = 0


@dataclass(eq=False)
class Plan:
    fetches: list  # per fetch leaf: Loc, or ("feed", tensor), or None for ops
    feeds: list  # (tensor, Loc)
    steps: list[Step]
    var_reads: list[str]  # variables read before any write in this plan
    var_writes: list[str]
    value_feeds: dict  # tensor -> value the plan was specialized on
    consts: list = field(default_factory=list)
    stats: PlanStats = field(default_factory=PlanStats)
    arena: np.ndarray | None = None
    c_fns: object = None
    c_calls: object = None
    c_records: object = None
    call_steps: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held by the run executing it


@dataclass(eq=False)
class FeedSlot:
    """A fed tensor's staging array and where the call records point into it.

    `sites` are (record index, byte offset) pairs: a run whose fed array is
    large, C-contiguous, aligned and of the right dtype points those records at
    it for the run instead of copying it into `staging`. `pinned` feeds
    (fetched, or read by a host call, through NumPy views of the staging
    array) are always copied."""

    tensor: object
    staging: np.ndarray
    sites: list = field(default_factory=list)
    pinned: bool = False

    @property
    def in_place(self) -> bool:
        """Large enough, and not pinned: runs may point the records at the fed array."""
        return not self.pinned and self.staging.nbytes >= ZERO_COPY_MIN_BYTES


# fed arrays smaller than this are copied (cheaper than repointing the records twice)
ZERO_COPY_MIN_BYTES = 1 << 16


class _Planner:
    def __init__(self, graph, fetch_tensors, target_ops, feeds: dict, variables, allocation_limit=None):
        self.graph = graph
        self.allocation_limit = allocation_limit  # bytes; None: sizes.allocation_limit()'s default
        self.fetch_tensors = fetch_tensors
        self.target_ops = target_ops
        self.feeds = feeds  # Tensor -> np.ndarray
        self.variables = variables  # VariableStore
        self.shapes: dict[fops.Tensor, tuple] = {}
        self.static: dict[fops.Tensor, np.ndarray] = {}
        self.value_feeds: dict = {}
        self.locs: dict[fops.Tensor, Loc] = {}
        self.buffers: list[Buffer] = []

    # --- values needed while planning -------------------------------------------------
    def static_value(self, t: fops.Tensor, why: str) -> np.ndarray:
        if t in self.static:
            return self.static[t]
        if t in self.feeds:
            v = self.feeds[t]
            self.value_feeds[t] = v
        else:
            op = t.op
            d = registry.get(op.type)
            if op.type == "Const":
                v = np.asarray(op.get_attr("value"))
            elif d.resource is not None:  # a handle: the op's name (runtime/resources.py)
                v = np.array(op.name.encode(), dtype=object)
            elif d.shape_only:
                x = op.inputs[0]
                v = d.ref([_shaped(self.shapes[x], x.dtype)], op._attrs)
                v = np.asarray(v if not isinstance(v, list) else v[0], dtype=t.dtype.np)
            elif d.stateful or d.random or op.type in ("Placeholder", "VariableV2"):
                raise errors.InvalidArgumentError(
                    None,
                    op,
                    f"The value of {t.name} is needed before the run starts ({why}), but it comes from "
                    f"{op.type} op '{op.name}', whose value is only known while the graph runs. Compute "
                    f"shape arguments from constants, sf.shape() or fed values." + where(op),
                )
            else:
                vals = [self.static_value(x, why) for x in op.inputs]
                for out in op.outputs:  # the reference allocates its outputs: within the limit
                    if out in self.shapes:
                        self.check_alloc(self.nbytes(self.shapes[out], out.dtype), f"tensor {out.name}", op)
                v = builder.run_reference(d, vals, op._attrs)[t.value_index]
        self.static[t] = v
        return v

    # --- sizes --------------------------------------------------------------------------------
    @staticmethod
    def nbytes(shape, dt: dtypes.DType) -> int:
        return sizes.num_elements(shape) * dt.np.itemsize  # storage: a string is an object pointer

    def check_alloc(self, n: int, what: str, op=None) -> None:
        sizes.check_allocation(n, what, op, self.allocation_limit)

    # --- shapes -----------------------------------------------------------------------------
    def infer(self, op: fops.Operation) -> None:
        d = registry.get(op.type)
        if op.type == "VariableV2":
            s = op.get_attr("shape")
            if not s.is_fully_defined():
                raise errors.InvalidArgumentError(
                    None, op, f"variable {op.name} has shape {s}, which is not fully defined" + where(op)
                )
            shapes = [s]
        else:
            host = {i for i, a in enumerate(_flat_args(d.inputs, op)) if a.host}

            def value(i):
                if i in host:
                    return self.static_value(op.inputs[i], f"input {i} of {op.type} op '{op.name}'")
                t = op.inputs[i]
                if t.op.type == "Const":
                    return t.op.get_attr("value")
                return None

            ctx = registry.ShapeContext(
                d,
                op.name,
                [self.shapes[t] for t in op.inputs],
                [t.dtype for t in op.inputs],
                op._attrs,
                value,
                planning=True,
            )
            try:
                shapes = d.shape_fn(ctx)
            except (ValueError, IndexError) as e:
                ins = ", ".join(str(TensorShape(self.shapes[t])) for t in op.inputs)
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} op '{op.name}': {e}. Input shapes: [{ins}]" + where(op)
                ) from None
        for t, s in zip(op.outputs, shapes):
            if t in self.feeds:
                continue
            if not s.is_fully_defined():
                raise errors.InternalError(None, op, f"shape of {t.name} is {s} after planning" + where(op))
            try:
                sizes.check_shape(s.as_list(), t.dtype.np.itemsize, f"the shape of {t.name}")
            except ValueError as e:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} op '{op.name}': {e}" + where(op)
                ) from None
            self.shapes[t] = tuple(s.as_list())

    # --- buffers ----------------------------------------------------------------------------
    def new_arena(self, shape, dt: dtypes.DType, step: int, op=None) -> Loc:
        """A fresh buffer for an intermediate: an arena slot, or for strings (which the
        arena's raw bytes cannot hold) an object array of the plan's own."""
        n = self.nbytes(shape, dt)
        self.check_alloc(n, f"a {dt.name} tensor of shape {list(shape)}", op)
        if dt is dtypes.string:
            b = Buffer("object", n, array=np.full(tuple(shape), b"", dtype=object), objects=True)
        else:
            b = Buffer("arena", n, start=step, end=step)
        self.buffers.append(b)
        return Loc(b, 0, tuple(shape), dt)

    def const_loc(self, arr: np.ndarray, dt: dtypes.DType, op=None) -> Loc:
        arr = np.asarray(arr)
        # a constant read from a file may be a lazy splat (one value, a 0-stride view): it is
        # expanded here, within the limit
        self.check_alloc(self.nbytes(arr.shape, dt), f"a {dt.name} constant of shape {list(arr.shape)}", op)
        arr = np.asarray(arr, dtype=dt.np, order="C")
        b = Buffer("const", arr.nbytes, array=arr, objects=dt is dtypes.string)
        self.buffers.append(b)
        return Loc(b, 0, arr.shape, dt)

    def use(self, loc: Loc, step: int) -> None:
        if loc.buf.kind == "arena":
            loc.buf.end = max(loc.buf.end, step)


def _flat_args(args, op):
    """Input Args repeated for list inputs, aligned with op.inputs."""
    out = []
    for a in args:
        if a.type_list_attr:
            n = len(op.get_attr(a.type_list_attr))
        else:
            n = op.get_attr(a.number_attr) if a.number_attr else 1
        out.extend([a] * n)
    return out


def build_plan(
    graph, fetch_tensors, target_ops, feeds: dict, variables, resources=None, allocation_limit=None
) -> Plan:
    """Plan the run that computes fetch_tensors and runs target_ops given feeds. `resources`
    (the session's ResourceStore) is what host calls of queue, iterator and reader ops use.
    `allocation_limit` bounds every allocation of the plan in bytes (None: the default of
    `sizes.allocation_limit`); more raises ResourceExhaustedError."""
    p = _Planner(graph, fetch_tensors, target_ops, feeds, variables, allocation_limit)
    fed = set(feeds)
    order = toposort(prune(fetch_tensors, target_ops, fed), fed)
    for t, v in feeds.items():
        p.shapes[t] = v.shape

    steps: list[Step] = []
    feed_locs = []
    for t, v in feeds.items():
        # a buffer of its own (not in the arena): the run may point the kernels at the fed
        # array itself instead of copying it in (execute)
        b = Buffer("feed", p.nbytes(v.shape, t.dtype))
        p.check_alloc(b.nbytes, f"the staging buffer of fed tensor {t.name}", t.op)
        if t.dtype is dtypes.string:
            b.objects, b.array = True, np.full(v.shape, b"", dtype=object)
        p.buffers.append(b)
        loc = Loc(b, 0, tuple(v.shape), t.dtype)
        p.locs[t] = loc
        feed_locs.append((t, loc))

    var_reads, var_writes = [], []
    write_steps: dict[str, list[int]] = {}  # variable -> steps that write it
    snapshots = []  # (snapshot buffer, variable loc, step, copy call) of variable reads

    def read_var(loc):
        if loc.buf.kind == "var" and loc.buf.var not in var_writes and loc.buf.var not in var_reads:
            var_reads.append(loc.buf.var)

    for op in order:
        d = registry.lookup(op.type)
        if d is None:
            raise errors.UnimplementedError(None, op, f"staticflow has no op {op.type!r}" + where(op))
        if d.source is not None:
            raise errors.InternalError(
                None,
                op,
                f"{op.type} op '{op.name}' is a source: Session.run evaluates it before planning and "
                "feeds its outputs" + where(op),
            )
        if op.type == "Placeholder" and op.outputs[0] not in fed:
            dims = op.get_attr("shape")
            raise errors.InvalidArgumentError(
                None,
                op,
                f"You must feed a value for placeholder tensor '{op.name}' with dtype "
                f"{op.get_attr('dtype').name} and shape {dims}" + where(op),
            )
        p.infer(op)
        step_index = len(steps)
        live_outs = [t for t in op.outputs if t not in fed]
        if op.type == "VariableV2":
            t = op.outputs[0]
            if t not in fed:
                p.check_alloc(p.nbytes(p.shapes[t], t.dtype), f"variable {op.name}", op)
                arr = variables.storage(op)
                b = Buffer("var", arr.nbytes, array=arr, var=op.name, objects=arr.dtype == object)
                p.buffers.append(b)
                p.locs[t] = Loc(b, 0, arr.shape, t.dtype)
            continue
        if d.static:
            for t in live_outs:
                if t in p.shapes:
                    what = "constant" if op.type == "Const" else "tensor"
                    shape = list(p.shapes[t])
                    p.check_alloc(p.nbytes(shape, t.dtype), f"a {t.dtype.name} {what} of shape {shape}", op)
                p.locs[t] = p.const_loc(p.static_value(t, "a constant"), t.dtype, op)
            continue
        # a regular op: lower to kernel calls
        in_locs = [p.locs[t] for t in op.inputs]
        values = []
        for i, a in enumerate(_flat_args(d.inputs, op)):
            values.append(
                p.static_value(op.inputs[i], f"input {i} of {op.type} op '{op.name}'") if a.host else None
            )
        out_shapes = [p.shapes.get(t) if t not in fed else p.shapes[t] for t in op.outputs]
        ctx = LowerContext(
            d,
            op.name,
            op._attrs,
            [loc.shape for loc in in_locs],
            [t.dtype for t in op.inputs],
            out_shapes,
            [t.dtype for t in op.outputs],
            values,
            resources=resources,
        )
        try:
            if registry.runs_on_host(d, ctx.in_dtypes, ctx.out_dtypes):
                ctx.reference([i for i, a in enumerate(_flat_args(d.inputs, op)) if a.ref])
            else:
                d.lower(ctx)
        except (ValueError, IndexError) as e:
            raise errors.InvalidArgumentError(
                None, op, f"{op.type} op '{op.name}': {e}" + where(op)
            ) from None
        unwritten = [j for j in ctx.unwritten_outputs() if op.outputs[j] not in fed]
        if unwritten:
            raise errors.InternalError(
                None,
                op,
                f"{op.type} op '{op.name}': its lowering writes no value into output "
                f"{unwritten[0]} of shape {list(out_shapes[unwritten[0]])}" + where(op),
            )
        # outputs: aliases or fresh arena slots
        out_locs = []
        for j, t in enumerate(op.outputs):
            if j in ctx.aliases and t not in fed:
                src = in_locs[ctx.aliases[j]]
                if src.buf.kind == "var" and not _writes_ref(d, op, ctx.aliases[j]):
                    # a read of a variable is a snapshot: copy it out of the storage (the copy
                    # is dropped after planning if no write can come between it and its uses)
                    loc = p.new_arena(out_shapes[j], t.dtype, step_index, op)
                    src_view = ctx.inp(ctx.aliases[j]).reshape(out_shapes[j])
                    if src_view.size:
                        kc = KernelCall(registry.kernel_name("copy", t.dtype), [src_view], [ctx.out(j)])
                        ctx.calls.append(kc)
                        snapshots.append((loc.buf, src, step_index, kc))
                else:
                    loc = Loc(src.buf, src.byte_offset, tuple(out_shapes[j]), t.dtype)
            else:
                loc = p.new_arena(out_shapes[j], t.dtype, step_index, op)
            out_locs.append(loc)
            if t not in fed:
                p.locs[t] = loc
        const_locs = [p.const_loc(c, dtypes.as_dtype(c.dtype), op) for c in ctx.consts]
        scratch_locs = [p.new_arena(s, dt, step_index, op) for s, dt in ctx.scratch]
        state_locs = []
        if d.random:
            arr = variables.op_state(op)
            b = Buffer("state", arr.nbytes, array=arr)
            p.buffers.append(b)
            state_locs.append(Loc(b, 0, arr.shape, dtypes.int64))
        locs = {
            "in": in_locs,
            "out": out_locs,
            "const": const_locs,
            "scratch": scratch_locs,
            "state": state_locs,
        }
        # variable access bookkeeping
        for i, (a, loc) in enumerate(zip(_flat_args(d.inputs, op), in_locs)):
            if a.ref:
                if loc.buf.kind != "var":
                    raise errors.InvalidArgumentError(
                        None, op, f"input {i} of {op.type} op '{op.name}' must be a variable" + where(op)
                    )
                if a.ref == "update":
                    read_var(loc)
                if loc.buf.var not in var_writes:
                    var_writes.append(loc.buf.var)
                write_steps.setdefault(loc.buf.var, []).append(step_index)
            else:
                read_var(loc)
            p.use(loc, step_index)
        resolved = []
        for call in ctx.calls:
            resolved.append(
                (call, [_resolve(v, locs) for v in call.ins], [_resolve(v, locs) for v in call.outs])
            )
        steps.append(Step(op, resolved))

    # fetches
    fetch_locs = []
    end = len(steps)
    for t in fetch_tensors:
        if t in fed:
            fetch_locs.append(("feed", t))
            continue
        loc = p.locs[t]
        read_var(loc)
        p.use(loc, end)
        fetch_locs.append(loc)

    _read_in_place(steps, snapshots, write_steps)
    plan = Plan(fetch_locs, feed_locs, steps, var_reads, var_writes, dict(p.value_feeds))
    plan.shapes = dict(p.shapes)
    _assign_arena(p.buffers, plan.stats)
    p.check_alloc(
        plan.stats.arena_bytes, "the plan's arena of intermediate tensors", _largest_arena_op(steps, p)
    )
    plan.stats.steps = len(steps)
    _materialize(plan, p.buffers)
    return plan


def _shaped(shape, dt: dtypes.DType) -> np.ndarray:
    """An array of this shape and dtype that takes no memory (shape-only references read
    shapes, never values)."""
    return np.broadcast_to(np.empty((), dt.np if dt is not dtypes.string else object), tuple(shape))


def _largest_arena_op(steps: list[Step], p: _Planner):
    """The op whose outputs are the largest arena tensors (for an arena that is too large)."""
    best, op = -1, None
    for step in steps:
        for t in step.op.outputs:
            loc = p.locs.get(t)
            if loc is not None and loc.buf.kind == "arena" and loc.buf.nbytes > best:
                best, op = loc.buf.nbytes, step.op
    return op


def _read_in_place(steps: list[Step], snapshots: list, write_steps: dict) -> None:
    """Drop a variable read's snapshot copy where nothing can tell: no step writes the
    variable from the copy's step through the snapshot's last use (its buffer's `end`,
    which counts every alias of it and a fetch at the end of the run). The snapshot's
    buffer then becomes the variable's storage itself."""
    for b, var_loc, s_copy, kc in snapshots:
        writes = write_steps.get(var_loc.buf.var, ())
        if var_loc.byte_offset or b.nbytes != var_loc.buf.nbytes:
            continue
        if any(s_copy <= w <= b.end for w in writes):
            continue
        b.kind, b.array, b.var = "var", var_loc.buf.array, var_loc.buf.var
        steps[s_copy].calls = [c for c in steps[s_copy].calls if c[0] is not kc]


def _writes_ref(d: registry.OpDef, op, input_index: int) -> bool:
    args = _flat_args(d.inputs, op)
    return bool(args[input_index].ref)


def _resolve(v: View, locs: dict):
    kind, i = v.src
    return locs[kind][i], v


def _assign_arena(buffers: list[Buffer], stats: PlanStats) -> None:
    """Pack arena buffers by offset so that buffers alive at the same time never overlap.

    Greedy by size (largest first), each at the lowest offset that fits beside
    the already placed buffers whose lifetimes intersect its own.
    """
    arena = [b for b in buffers if b.kind == "arena"]
    placed: list[Buffer] = []
    top = 0
    for b in sorted(arena, key=lambda b: (-b.nbytes, b.start)):
        size = _round(b.nbytes)
        clashes = sorted(
            (o.offset, o.offset + _round(o.nbytes))
            for o in placed
            if not (o.end < b.start or b.end < o.start)
        )
        off = 0
        for lo, hi in clashes:
            if off + size <= lo:
                break
            off = max(off, hi)
        b.offset = off
        placed.append(b)
        top = max(top, off + size)
    stats.arena_bytes = top
    stats.intermediate_bytes = sum(_round(b.nbytes) for b in arena)
    events: dict[int, int] = {}
    for b in arena:
        events[b.start] = events.get(b.start, 0) + _round(b.nbytes)
        events[b.end + 1] = events.get(b.end + 1, 0) - _round(b.nbytes)
    live = peak = 0
    for k in sorted(events):
        live += events[k]
        peak = max(peak, live)
    stats.peak_bytes = peak


def _round(n: int) -> int:
    return max(ALIGN, (n + ALIGN - 1) // ALIGN * ALIGN)


def _materialize(plan: Plan, buffers: list[Buffer]) -> None:
    """Allocate the arena and build the C call records."""
    from staticflow.backends import cpu

    ffi = cpu.ffi
    raw = np.empty(plan.stats.arena_bytes + ALIGN, np.uint8)
    base = raw.__array_interface__["data"][0]
    shift = (-base) % ALIGN
    plan.arena = raw[shift : shift + plan.stats.arena_bytes]
    arena_base = base + shift
    plan.consts = [b.array for b in buffers if b.kind == "const"]
    for b in buffers:
        if b.kind == "feed" and not b.objects:
            raw_f = np.empty(b.nbytes + ALIGN, np.uint8)
            sh = (-raw_f.__array_interface__["data"][0]) % ALIGN
            b.array = raw_f[sh : sh + b.nbytes]
    sites: dict = {}  # feed Buffer -> [(record index, byte offset)] of the records that read it
    pinned: set = set()  # feed Buffers that are always copied in (FeedSlot.pinned)

    def address(loc: Loc, v: View) -> int:
        b = loc.buf
        start = arena_base + b.offset if b.kind == "arena" else b.array.__array_interface__["data"][0]
        return start + loc.byte_offset + v.offset * v.dtype.np.itemsize

    everything = [(s_i, c) for s_i, s in enumerate(plan.steps) for c in s.calls]
    calls = [(s_i, c) for s_i, c in everything if not isinstance(c[0], HostCall)]
    # the C walk runs in segments, with the host calls between them
    plan.segments = []
    start = 0
    for s_i, c in everything:
        if isinstance(c[0], HostCall):
            plan.segments.append((start, _count_before(everything, c), (s_i, c)))
            start = plan.segments[-1][1]
    plan.segments.append((start, len(calls), None))
    n = len(calls)
    n_rec = sum(len(ins) + len(outs) for _, (_, ins, outs) in calls)
    plan.c_fns = ffi.new("sf_kernel[]", max(n, 1))
    plan.c_calls = ffi.new("sf_call[]", max(n, 1))
    plan.c_records = ffi.new("sf_tensor[]", max(n_rec, 1))
    plan.call_steps = []
    r = 0
    for k, (s_i, (kc, ins, outs)) in enumerate(calls):
        plan.c_fns[k] = cpu.kernel(kc.symbol)
        call = plan.c_calls[k]
        call.n_in, call.n_out = len(ins), len(outs)
        setattr(call, "in", plan.c_records + r)
        call.out = plan.c_records + r + len(ins)
        for j, (loc, v) in enumerate(ins + outs):
            if loc.buf.objects:
                raise errors.InternalError(
                    None, plan.steps[s_i].op, f"kernel {kc.symbol} was given a tensor of Python objects"
                )
            cpu.fill_tensor(
                plan.c_records[r], ffi.cast("void *", address(loc, v)), v.dtype.np, v.shape, v.strides
            )
            if loc.buf.kind == "feed":
                if j < len(ins):
                    at = loc.byte_offset + v.offset * v.dtype.np.itemsize
                    sites.setdefault(loc.buf, []).append((r, at))
                else:  # nothing writes a fed tensor; should anything, never repoint the write
                    pinned.add(loc.buf)
            r += 1
        for i, x in enumerate(kc.iattr):
            call.iattr[i] = int(x)
        for i, x in enumerate(kc.fattr):
            call.fattr[i] = float(x)
        plan.call_steps.append(s_i)
    plan.stats.kernel_calls = n

    # fetch/feed views over the arena
    def arena_view(loc: Loc) -> np.ndarray:
        b = loc.buf
        nbytes = sizes.num_elements(loc.shape) * loc.dtype.np.itemsize
        if b.objects:  # an object array: offsets count elements (of the object pointer's size)
            first = loc.byte_offset // loc.dtype.np.itemsize
            return b.array.reshape(-1)[first : first + nbytes // loc.dtype.np.itemsize].reshape(loc.shape)
        if b.kind == "arena":
            raw_b = plan.arena[b.offset + loc.byte_offset : b.offset + loc.byte_offset + nbytes]
        else:
            raw_b = b.array.reshape(-1).view(np.uint8)[loc.byte_offset : loc.byte_offset + nbytes]
        return raw_b.view(loc.dtype.np).reshape(loc.shape)

    pinned |= {loc.buf for loc in plan.fetches if not isinstance(loc, tuple)}
    pinned |= {loc.buf for _, _, h in plan.segments if h is not None for loc, _ in h[1][1]}
    pinned |= {b for b in buffers if b.kind == "feed" and b.objects}
    plan.feeds = [
        FeedSlot(t, arena_view(loc), sites.get(loc.buf, []), loc.buf in pinned) for t, loc in plan.feeds
    ]

    def host_entry(step: int, hc: HostCall, ins, outs):
        in_arrays = [_view_array(arena_view, loc, v, i in hc.writes) for i, (loc, v) in enumerate(ins)]
        out_arrays = [_view_array(arena_view, loc, v, True) for loc, v in outs]
        return (step, hc.fn, in_arrays, out_arrays)

    plan.segments = [
        (a, b, None if h is None else host_entry(h[0], *h[1])) for a, b, h in plan.segments
    ]
    plan.fetches = [f if isinstance(f, tuple) else arena_view(f) for f in plan.fetches]


def _count_before(everything, target) -> int:
    """Kernel calls (not host calls) before `target` in the plan's order."""
    n = 0
    for _, c in everything:
        if c is target:
            return n
        if not isinstance(c[0], HostCall):
            n += 1
    return n


def _view_array(arena_view, loc: Loc, v: View, writeable: bool = False) -> np.ndarray:
    """A NumPy view of a strided View inside a located buffer (for host calls)."""
    base = arena_view(Loc(loc.buf, 0, (loc.buf.nbytes // v.dtype.np.itemsize,), v.dtype)).reshape(-1)
    off = loc.byte_offset // v.dtype.np.itemsize + v.offset
    return np.lib.stride_tricks.as_strided(
        base[off:], shape=v.shape, strides=[s * v.dtype.np.itemsize for s in v.strides], writeable=writeable
    )


def _fail(plan: Plan, k: int, code: int):
    from staticflow.backends import cpu

    op = plan.steps[plan.call_steps[k]].op
    msg = cpu.ffi.string(plan.c_calls[k].msg).decode(errors="replace")
    d = registry.get(op.type)
    prefix = d.error_prefix(op) if d.error_prefix is not None else ""
    return errors.error_class(code)(None, op, prefix + msg + where(op))


def execute(plan: Plan, feeds: dict, variables, mode: str = "c", trace: list | None = None) -> list:
    """Run a plan: bind the feeds (large contiguous ones in place, the rest copied in), run
    every kernel call, copy the fetches out. With a `trace` list, each call runs on its
    own and appends (step index, start ns, end ns) to it."""
    for name in plan.var_reads:
        if not variables.is_initialized(name):
            op = variables.op(name)
            raise errors.FailedPreconditionError(
                None, op, f"Attempting to use uninitialized value {name}" + where(op)
            )
    repointed = []
    for slot in plan.feeds:
        value = feeds[slot.tensor]
        if slot.in_place and _can_point_at(slot, value):
            _point(plan, slot, value.__array_interface__["data"][0])
            repointed.append(slot)
        else:
            np.copyto(slot.staging, value, casting="unsafe")
    if not repointed:
        _run_segments(plan, mode, trace)
    else:
        try:
            _run_segments(plan, mode, trace)
        finally:
            for slot in repointed:  # records never keep pointers into the caller's arrays
                _point(plan, slot, slot.staging.__array_interface__["data"][0])
    for name in plan.var_writes:
        variables.mark_initialized(name)
    out = []
    for f in plan.fetches:
        if isinstance(f, tuple):
            value = feeds[f[1]]
            out.append(value[()] if value.ndim == 0 else value)  # a scalar, as TF gives it
        else:
            value = np.array(f, copy=True)
            out.append(value[()] if value.ndim == 0 else value)  # a scalar as TF gives it
    return out


def _can_point_at(slot: FeedSlot, value: np.ndarray) -> bool:
    """Whether the kernels may read the fed array (of an in_place slot) instead of a copy."""
    return (
        value.dtype == slot.staging.dtype
        and value.shape == slot.staging.shape
        and value.flags.c_contiguous
        and value.flags.aligned
    )


def _point(plan: Plan, slot: FeedSlot, address: int) -> None:
    from staticflow.backends import cpu

    for r, offset in slot.sites:
        plan.c_records[r].data = cpu.ffi.cast("void *", address + offset)


def _run_segments(plan: Plan, mode: str, trace: list | None = None) -> None:
    from staticflow.backends import cpu

    status = cpu.ffi.new("int *")
    clock = time.perf_counter_ns
    for start, stop, host in plan.segments:
        if stop > start and mode == "c" and trace is None:
            failed = cpu.lib.sf_run_plan(plan.c_fns + start, plan.c_calls + start, stop - start, status)
            if failed >= 0:
                raise _fail(plan, start + failed, status[0])
        else:  # the Python walk over the same records, timing each call when traced
            for k in range(start, stop):
                t0 = clock()
                code = plan.c_fns[k](plan.c_calls + k)
                if trace is not None:
                    trace.append((plan.call_steps[k], t0, clock()))
                if code:
                    raise _fail(plan, k, code)
        if host is not None:
            step, fn, ins, outs = host
            t0 = clock()
            _run_host(plan.steps[step].op, fn, ins, outs)
            if trace is not None:
                trace.append((step, t0, clock()))


def _run_host(op, fn, ins, outs) -> None:
    """One host call; a failure of the op's Python code is the op's error, named as a
    kernel's would be."""
    try:
        fn(op, ins, outs)
    except errors.OpError as e:
        if e.op is None:  # raised by code that did not know the op: name it here
            raise type(e)(None, op, f"{op.type} op '{op.name}': {e.message}" + where(op)) from None
        raise
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError) as e:
        raise errors.InvalidArgumentError(None, op, f"{op.type} op '{op.name}': {e}" + where(op)) from None
