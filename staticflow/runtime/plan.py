"""Plans: the part of a graph one `Session.run` signature needs, ready to execute.

Building a plan (prune, shapes with the concrete feed shapes, values needed
while planning, lowering to kernel calls, buffer assignment) is separate from
executing it. Every intermediate lives in one arena at an offset chosen from
its lifetime, so a run allocates nothing; variables live in the session's
persistent storage; constants in the plan. The kernel calls are prebuilt C
records, so executing is one call into C per segment between host calls
(`sf_run_plan` in the plan's order, or `sf_run_schedule`, which runs independent calls
on several threads), or a Python walk of the same records for debugging.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import mmap
import re
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from staticflow import backends  # noqa: F401  (registers the backends of this build)
from staticflow.compiler.build import build_ir, flat_args, where
from staticflow.compiler.ir import FEED, IRGraph, Value
from staticflow.framework import backend, dtypes, errors, sizes
from staticflow.framework import ops as fops
from staticflow.ops import registry
from staticflow.ops.lowering import HostCall, KernelCall, LowerContext, View
from staticflow.runtime import schedule

ALIGN = 64


@dataclass(eq=False)
class Buffer:
    """A storage unit: an arena slot, a constant, a variable's storage, a feed slot, or a
    fetched tensor's storage of its own (FetchSlot)."""

    kind: str  # "arena" | "const" | "var" | "state" | "feed" | "fetch" | "staging" | "object"
    nbytes: int
    array: np.ndarray | None = None  # const / var / object storage
    objects: bool = False  # holds Python objects (strings): host calls only, never a kernel
    var: str | None = None
    start: int = 0  # first step that writes it (-1: before the run)
    end: int = -1  # last step that reads it
    offset: int = -1  # arena offset
    # the memory it lives in: "" the host's, else a device's full name (its backend's memory;
    # no NumPy view of it exists: `ptr` is its address there for var and state buffers)
    device: str = ""
    ptr: int = 0
    # host memory the copies of a device go through asynchronously (a fed tensor an upload
    # reads, a "staging" buffer a download writes for the fetches): that device's full name,
    # whose backend allocates the buffer's pinned storage (allocate_host), once per plan
    pinned: str = ""


@dataclass
class Loc:
    """Where a tensor lives: a buffer, a byte offset into it, a shape and dtype."""

    buf: Buffer
    byte_offset: int
    shape: tuple
    dtype: dtypes.DType


@dataclass
class Step:
    op: fops.Operation  # the user op the step stands for (the first, when it stands for several)
    calls: list  # (KernelCall, [(Loc, View)] inputs, [(Loc, View)] outputs)
    node: object = None  # its IR node (compiler.ir.Node)
    # the earlier steps it must follow: those computing its inputs or named by its control
    # edges (nodes without a step, such as variables, constants and feeds, impose nothing)
    deps: tuple[int, ...] = ()


@dataclass
class PlanStats:
    arena_bytes: int = 0
    intermediate_bytes: int = 0
    peak_bytes: int = 0
    kernel_calls: int = 0
    steps: int = 0
    in_place: int = 0  # outputs written over an input that dies at their step


@dataclass(eq=False)
class Plan:
    # per fetch leaf: Loc, or ("feed", tensor), or None for ops; then (_materialize) an arena
    # view, a FetchView, ("feed", tensor) or ("feed copy", tensor) (build_plan)
    fetches: list
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
    # set by a run that reused the plan without looking it up in the session's cache (a
    # cached run signature's runner); the cache's eviction passes over such a plan once
    used: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)  # held by the run executing it
    pass_log: list = field(default_factory=list)  # passes.PassRecord per pass that ran
    # the backend whose executor runs the plan's call records (framework.backend.Backend)
    backend: object = field(default_factory=backend.default)
    fetch_slots: list = field(default_factory=list)  # FetchSlot per fetched buffer of its own
    # (step index, input index, output index) of each output written over its input's buffer
    in_place: list = field(default_factory=list)
    arena_buffers: list = field(default_factory=list)  # the Buffers packed into the arena
    # threads the scheduled executor may run independent calls on (from the session config's
    # inter_op_parallelism_threads); 1: the plan's order
    inter_op_threads: int = 1
    schedule: list | None = None  # schedule.SegmentSchedule per segment, made on first use
    functions: object = None  # FunctionPlans: the nested plans of the functions its ops call
    # per device memory the plan's steps use (none for a CPU-only plan): DeviceArena
    device_arenas: dict = field(default_factory=dict)


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

# fetched buffers at least this large get storage of their own, a fresh array each run handed
# to the caller as it is; smaller ones are copied out of the arena: a copy of less than about
# 128-192 KiB costs less than the allocation and the repointing of the records (measured with
# one kernel thread; the fresh array is 1.1-1.3x faster at 256 KiB-1 MiB, 10x at 64 MiB).
# Read when a plan is built.
FETCH_NO_COPY_MIN_BYTES = 1 << 18


@dataclass(eq=False)
class FetchSlot:
    """A fetched buffer kept out of the arena: each run takes storage of `nbytes` for it
    (`_fetch_storage`), points the call records at it (`sites`: (record index, byte
    offset) pairs, as FeedSlot's), runs, and hands it to the caller. Between runs the
    records hold no address at all: the plan never keeps a pointer into an array it has
    handed out. `spare`: storage of an earlier run's result that every array of the
    caller's over it has since released (at most one, reused by the next run: its pages
    are already mapped, where a fresh allocation's are faulted in and zeroed)."""

    nbytes: int
    sites: list = field(default_factory=list)
    spare: list = field(default_factory=list)


class _FetchOwner:
    """The base of every array a run hands out over a FetchSlot's storage: NumPy's views
    keep their base (not an array) alive, so this object dies only once the caller holds
    no array over the storage, and its storage then goes back to the slot's spare."""

    __slots__ = ("__array_interface__", "__weakref__", "storage")

    def __init__(self, storage: np.ndarray):
        self.storage = storage
        self.__array_interface__ = {
            "data": (storage.__array_interface__["data"][0], False),
            "shape": storage.shape,
            "typestr": "|u1",
            "version": 3,
        }


def _give_back(spare: list, storage: np.ndarray) -> None:
    if not spare:  # one spare per slot: a caller keeping many results keeps their memory
        spare.append(storage)


@dataclass(eq=False)
class FetchView:
    """A fetch of a FetchSlot's buffer: the slot's index in `Plan.fetch_slots`, the
    tensor's byte offset, dtype and shape in it; `hand_out`: the caller gets this run's
    array itself (the first fetch covering the whole buffer), else a copy of its part, so
    that every array a run returns is the caller's own."""

    slot: int
    byte_offset: int
    nbytes: int
    dtype: np.dtype
    shape: tuple
    hand_out: bool


def _object_array(shape, dt: dtypes.DType) -> np.ndarray:
    """The storage of a tensor of Python objects: empty strings, or None for a variant (its
    TensorList is made by the op that writes it)."""
    return np.full(tuple(shape), b"" if dt is dtypes.string else None, dtype=object)


@dataclass(eq=False)
class DeviceArena:
    """A plan's part in one device's memory: its arena of intermediates and, after it, the
    constants its device steps read (uploaded once, when the plan is built), in one
    allocation of `nbytes` at `ptr`, freed with the plan."""

    device: str
    backend: object
    arena_bytes: int = 0
    const_bytes: int = 0
    ptr: int = 0
    stream: object = None  # the session's stream on this device: every call's sf_call.stream
    stream_index: int = 0  # that stream's number (the trace's ".../stream:N" lane)

    @property
    def nbytes(self) -> int:
        return self.arena_bytes + self.const_bytes


def _memory(device: str) -> str:
    """The memory a node on `device` works in: "" the host's, else the device's full name."""
    return "" if not device or backend.is_host(device) else device


class _Planner:
    """Buffers and locations of one plan, built from its IR."""

    def __init__(self, ev, allocation_limit=None):
        self.ev = ev  # the IR's evaluator: values known before the run
        # bytes (the configured limit, else sizes.allocation_limit()'s default, read once a plan)
        self.allocation_limit = sizes.allocation_limit(allocation_limit)
        self.locs: dict[Value, Loc] = {}
        self.buffers: list[Buffer] = []
        self.twins: dict = {}  # (host const Buffer id, device) -> its copy in the device's memory

    # --- sizes --------------------------------------------------------------------------------
    @staticmethod
    def nbytes(shape, dt: dtypes.DType) -> int:
        return sizes.num_elements(shape) * dt.np.itemsize  # storage: a string is an object pointer

    def check_alloc(self, n: int, what: str, op=None) -> None:
        sizes.check_allocation(n, what, op, self.allocation_limit)

    # --- buffers ----------------------------------------------------------------------------
    def new_arena(self, shape, dt: dtypes.DType, step: int, op=None, device: str = "") -> Loc:
        """A fresh buffer for an intermediate: an arena slot (in `device`'s memory: "" the
        host's), or for strings (which the arena's raw bytes cannot hold) an object array of
        the plan's own."""
        n = self.nbytes(shape, dt)
        self.check_alloc(n, f"a {dt.name} tensor of shape {list(shape)}", op)
        if dtypes.holds_objects(dt):  # strings, variants (TensorLists): Python objects
            b = Buffer("object", n, array=_object_array(shape, dt), objects=True)
        else:
            b = Buffer("arena", n, start=step, end=step, device=device)
        self.buffers.append(b)
        return Loc(b, 0, tuple(shape), dt)

    def const_loc(self, arr: np.ndarray, dt: dtypes.DType, op=None) -> Loc:
        arr = np.asarray(arr)
        # a constant read from a file may be a lazy splat (one value, a 0-stride view): it is
        # expanded here, within the limit
        self.check_alloc(self.nbytes(arr.shape, dt), f"a {dt.name} constant of shape {list(arr.shape)}", op)
        arr = np.asarray(arr, dtype=dt.np, order="C")
        b = Buffer("const", arr.nbytes, array=arr, objects=dtypes.holds_objects(dt))
        self.buffers.append(b)
        return Loc(b, 0, arr.shape, dt)

    def on_device(self, loc: Loc, device: str) -> Loc:
        """`loc` as a device step reads it: a host constant's copy in the device's memory
        (one per constant and device); anything else as it is."""
        b = loc.buf
        if not device or b.kind != "const" or b.device == device or b.objects:
            return loc
        twin = self.twins.get((id(b), device))
        if twin is None:
            twin = self.twins[(id(b), device)] = Buffer("const", b.nbytes, array=b.array, device=device)
            self.buffers.append(twin)
        return Loc(twin, loc.byte_offset, loc.shape, loc.dtype)

    def use(self, loc: Loc, step: int) -> None:
        if loc.buf.kind == "arena":
            loc.buf.end = max(loc.buf.end, step)


def build_plan(
    graph,
    fetch_tensors,
    target_ops,
    feeds: dict,
    variables,
    resources=None,
    options=None,
    allocation_limit=None,
    inter_op_threads: int = 1,
    functions=None,
    feed_specs=None,
    done=None,
) -> Plan:
    """Plan the run that computes fetch_tensors and runs target_ops given feeds: build the IR
    of this signature, rewrite it with the pass pipeline (`options`: passes.Options, from the
    session's config), lower it. `resources` (the session's ResourceStore) is what host
    calls of queue, iterator and reader ops use. `allocation_limit` bounds every allocation
    of the plan in bytes (None: the default of `sizes.allocation_limit`); more raises
    ResourceExhaustedError. `inter_op_threads` above 1 plans for the scheduled executor: the
    arena is packed by the dependency depth at which each step can run, so that calls that
    may run at once get bytes of their own. `functions` (FunctionPlans) plans the functions
    its ops call (branches, loop bodies); None: a new one for this plan. `done`: ops already
    run (a continuation's, see SplitPlan).

    A run that needs an op whose outputs' shapes are only known while it runs (a loop
    variable that grows) gives a SplitPlan: this plan for the part before such ops, and what
    runs after it."""
    from staticflow import passes
    from staticflow.passes.early import EarlyRewrites

    # Python's cyclic garbage collector pauses meanwhile: planning makes many objects and no
    # garbage, and the full collections it would trigger each walk every object of the
    # graph, a cost that grows faster than the graph's depth
    enabled = gc.isenabled()
    gc.disable()
    try:
        early = EarlyRewrites(options)
        ir, ev = build_ir(
            graph, fetch_tensors, target_ops, feeds, allocation_limit, early, feed_specs, done,
            split=not getattr(graph, "building_function", False),
        )
        records = passes.optimize(ir, ev, options, early.counts, early.done())
        in_place = (options or passes.Options()).on("memory_in_place")
        if functions is None:
            functions = FunctionPlans(variables, resources, options, allocation_limit)
        plan = plan_ir(
            ir,
            ev,
            variables,
            resources,
            allocation_limit,
            in_place,
            inter_op_threads,
            functions,
            own_fetches=not getattr(graph, "building_function", False),
        )
    finally:
        if enabled:
            _age_new_objects()
            gc.enable()
    plan.pass_log = records
    plan.functions = functions
    asked = list(fetch_tensors)
    if ir.split is not None:
        fetch_tensors = ir.split.static_fetches + ir.split.boundary
    # a fetch the passes turned into one of a fed tensor (an identity of it) is a copy of the
    # fed array: the caller's array itself is what fetching the fed tensor gives (as in TF)
    plan.fetches = [
        ("feed copy", f[1]) if isinstance(f, tuple) and f[1] is not t else f
        for f, t in zip(plan.fetches, fetch_tensors)
    ]
    if ir.split is not None:
        return SplitPlan(plan, ir.split, functions, asked)
    return plan


class SplitPlan:
    """The plan of a run that needs values whose shapes are only known while running (the
    outputs of a loop whose variables change shape, of a cond whose branches give different
    shapes): `static`, the Plan of the part of the run before them, which also fetches the
    values the rest reads (`split.boundary`); the ops that make them (`split.dynamic`), run
    from Python with their functions' plans from `functions` (per input shapes, kept with this
    plan); then the continuation, the rest of the run, which the session plans as a plan of
    the same graph fed those values (so it is planned once per their shapes, and may split
    again). Attributes it does not have are the static plan's (its steps, stats, lock)."""

    def __init__(self, static: Plan, split, functions, fetch_tensors: list):
        self.static = static
        self.fetch_tensors = fetch_tensors  # the run's, in its order
        self.split = split
        self.functions = functions
        self.used = False

    def __getattr__(self, name):
        return getattr(self.__dict__["static"], name)

    def run_dynamic(self, feeds: dict, static_values: list) -> dict:
        """Tensor -> value of what the continuation may read: the static part's fetched
        values (`static_values`, in its fetch order), the fed values, and the outputs of the
        dynamic ops, run here on them."""
        from staticflow.ops import control_flow_v2

        sp = self.split
        known = dict(feeds)
        known.update(zip(sp.static_fetches + sp.boundary, static_values))
        for op in sp.dynamic:
            ins = [known[t] for t in op.inputs]
            try:
                outs = control_flow_v2.run_dynamic(op, ins, self.functions)
            except errors.OpError:
                raise
            except (ValueError, TypeError, IndexError) as e:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} op '{op.name}': {e}" + where(op)
                ) from None
            known.update(zip(op.outputs, outs))
        return known


class FunctionRunner:
    """A function graph's nested plan for one signature of input shapes, run on arrays: the
    arguments are copied into its feed buffers, its kernels run (one C call when the plan is
    one segment without host calls), its results are copied into the caller's arrays.
    Nothing is allocated per call, and the caller's result arrays may be its argument arrays
    (a loop's variables): every argument is in the plan's own buffers before any result is
    written."""

    def __init__(self, fg, plan: Plan, variables, in_shapes):
        self.name = fg.name
        self.plan = plan
        self.variables = variables
        pos = {t: i for i, t in enumerate(fg.inputs)}
        staging = {slot.tensor: slot.staging for slot in plan.feeds}
        self.copies_in = [(slot.staging, pos[slot.tensor]) for slot in plan.feeds]
        # (result index, array it is copied from: an arena view, or an argument's feed buffer)
        self.copies_out = []
        self.out_shapes = []
        for j, f in enumerate(plan.fetches):
            src = staging[f[1]] if isinstance(f, tuple) else f
            self.copies_out.append((j, src))
            self.out_shapes.append(tuple(src.shape) if isinstance(f, tuple) else tuple(f.shape))
        self._direct = _direct_call(plan, "c")
        # the segments as one list to walk (a plan with host calls: a loop body reading lists)
        self._program = _segment_program(plan) if self._direct is None else None
        self._status = plan.backend.ffi.new("int *")
        self._checked = False
        # a loop body whose results change shape: its results were checked against the loop's
        # shape invariants (control_flow_v2.run_dynamic), once for all its runs
        self.invariants_checked = False
        self._loop_copies: dict = {}

    def _call(self, ins, copies_in=None) -> None:
        """Copy the arguments in and run the plan's kernels (in the plan's lock)."""
        plan = self.plan
        if not self._checked:
            _check_initialized(plan, self.variables)
        for staging, i in self.copies_in if copies_in is None else copies_in:
            staging[...] = ins[i]
        direct = self._direct
        if direct is None:
            if self._program is None:
                _run_segments(plan, "c")
            else:
                _run_program(plan, self._program, self._status)
        elif direct[3]:
            failed = direct[0](direct[1], direct[2], direct[3], direct[4])
            if failed >= 0:
                raise _fail(plan, failed, direct[4][0])
        if not self._checked:
            for name in plan.var_writes:
                self.variables.mark_initialized(name)
            self._checked = True

    def run(self, ins, outs) -> None:
        """Run on argument arrays `ins`, writing the results into arrays `outs`."""
        with self.plan.lock:
            self._call(ins)
            for j, src in self.copies_out:
                outs[j][...] = src

    def truth(self, ins) -> bool:
        """Run a function of one scalar result (a loop's cond) and return that result's truth."""
        with self.plan.lock:
            self._call(ins)
            return bool(self.copies_out[0][1])

    def loop_copies(self, invariant: frozenset) -> tuple[list, list, list]:
        """For a loop whose body returns the arguments in `invariant` unchanged (the captured
        weights): (copies in of those, to make once per loop; copies in of the others, per
        iteration; copies out, per iteration, without the invariant results, which are their
        arguments). Nothing but these copies writes a plan's argument buffers, so what is
        copied in once stays for every iteration."""
        got = self._loop_copies.get(invariant)
        if got is None:
            once = [(st, i) for st, i in self.copies_in if i in invariant]
            each = [(st, i) for st, i in self.copies_in if i not in invariant]
            staged = {id(st): i for st, i in self.copies_in}
            out = [
                (j, src) for j, src in self.copies_out if not (j in invariant and staged.get(id(src)) == j)
            ]
            got = self._loop_copies[invariant] = (once, each, out)
        return got

    def loop(self, cond: FunctionRunner, arrays: list, invariant: frozenset) -> None:
        """Run a while loop with this runner as its body and `cond` as its cond on the loop
        variables `arrays` (read and written in place), copying the invariant ones in once
        (LoopRunner's way from Python)."""
        c_once, c_each, _ = cond.loop_copies(invariant)
        once, each, out = self.loop_copies(invariant)
        with cond.plan.lock:
            for staging, i in c_once:
                staging[...] = arrays[i]
        with self.plan.lock:
            for staging, i in once:
                staging[...] = arrays[i]
        flag = cond.copies_out[0][1]
        while True:
            with cond.plan.lock:
                cond._call(arrays, c_each)
                if not flag:
                    return
            with self.plan.lock:
                self._call(arrays, each)
                for j, src in out:
                    arrays[j][...] = src


class FunctionPlans:
    """The nested plans of the functions one plan's ops call (cond branches, loop bodies),
    made once per (function, input shapes) with the same compiler pipeline as the plan
    (build_ir, passes, lowering) and kept while the plan lives. A function's plan is
    specialized on nothing but its arguments' shapes."""

    def __init__(self, variables, resources=None, options=None, allocation_limit=None):
        self.variables = variables
        self.resources = resources
        self.options = options
        self.allocation_limit = allocation_limit
        self._runners: dict = {}

    def count(self) -> int:
        """How many nested plans it has made (one per function and input shapes)."""
        return sum(isinstance(r, FunctionRunner) for _, r in self._runners.values())

    def runners(self) -> list[tuple]:
        """(function graph, FunctionRunner) of every nested plan made so far, to inspect."""
        return [(fg, r) for fg, r in self._runners.values() if isinstance(r, FunctionRunner)]

    def __call__(self, fg, in_shapes, in_specs=None) -> FunctionRunner:
        """`in_specs`: what is known of the function's list arguments (ListSpecs, None where
        nothing), so that its reads of them plan with the element shapes its caller knows."""
        specs = tuple(in_specs) if in_specs else ()
        # (NumPy's integers hash and compare as Python's: the key found without converting them)
        got = self._runners.get((id(fg), tuple(map(tuple, in_shapes)), specs))
        if got is not None:
            return got[1]
        from staticflow.compiler.build import _shaped, check_no_value_feeds

        key = (id(fg), tuple(tuple(int(n) for n in s) for s in in_shapes), specs)
        feeds = {t: _shaped(s, t.dtype) for t, s in zip(fg.inputs, key[1])}
        feed_specs = {t: sp for t, sp in zip(fg.inputs, specs) if sp is not None}
        p = build_plan(
            fg,
            list(fg.outputs),
            list(fg.control_outputs),
            feeds,
            self.variables,
            self.resources,
            self.options,
            self.allocation_limit,
            functions=self,
            feed_specs=feed_specs,
        )
        check_no_value_feeds(fg, p)
        runner_ = FunctionRunner(fg, p, self.variables, key[1])
        self._runners[key] = (fg, runner_)
        return runner_

    def loop(self, cond_fg, body_fg, in_shapes, in_specs=None) -> LoopRunner:
        """The runner of a while loop of these cond and body functions on loop variables of
        these shapes (made once, as the functions' plans)."""
        shapes = tuple(tuple(int(n) for n in s) for s in in_shapes)
        key = ("loop", id(cond_fg), id(body_fg), shapes, tuple(in_specs) if in_specs else ())
        got = self._runners.get(key)
        if got is None:
            cond, body = self(cond_fg, in_shapes, in_specs), self(body_fg, in_shapes, in_specs)
            # the variables the body returns unchanged (captured weights): copied into the
            # plans once per run of the loop, not at every iteration
            pairs = zip(body_fg.inputs, body_fg.outputs)
            invariant = frozenset(j for j, (a, b) in enumerate(pairs) if a is b)
            # the functions ride along so that their ids stay theirs while the key lives
            got = self._runners[key] = ((cond_fg, body_fg), LoopRunner(cond, body, invariant))
        return got[1]


class LoopRunner:
    """A while loop of two nested plans, its cond's and its body's, on the loop variables'
    arrays (which hold the initial values when it starts and the final ones when it ends).

    When both plans are one segment without host steps, the loop runs from C (sf_run_while):
    the interpreter is not entered between iterations. It returns to Python every
    `C_BUDGET_NS` so that signals (Ctrl-C) are seen. Otherwise each iteration is two calls
    of the nested plans from Python. The first iteration always runs from Python: it checks
    that the variables the plans read are initialized."""

    C_LIMIT = 1 << 30
    C_BUDGET_NS = 50_000_000

    def __init__(self, cond: FunctionRunner, body: FunctionRunner, invariant: frozenset = frozenset()):
        self.cond = cond
        self.body = body
        # the loop variables the body passes through: the first iteration copies them into
        # the plans, the others copy them neither in nor out
        self.invariant = invariant
        self._tables: dict = {}  # loop variables' addresses -> the C loop's records

    def run(self, loop_vars: list) -> None:
        cond, body = self.cond, self.body
        if not cond.truth(loop_vars):
            return
        body.run(loop_vars, loop_vars)
        c = self._c_loop(loop_vars)
        if c is None:
            body.loop(cond, loop_vars, self.invariant)
            return
        be, c_cond, pred, c_body, out = c[:5]
        iterations, stopped, which, status = out
        with cond.plan.lock, body.plan.lock:
            while True:
                failed = be.run_while(
                    c_cond, pred, c_body, self.C_LIMIT, self.C_BUDGET_NS, iterations, stopped, which, status
                )
                if failed >= 0:
                    runner_ = cond if which[0] == 0 else body
                    raise _fail(runner_.plan, runner_.plan.segments[0][0] + failed, status[0])
                if stopped[0]:
                    return

    def _c_loop(self, loop_vars: list):
        """The C loop's records for these loop variable arrays (made once per set of
        addresses), or None when the loop cannot run from C."""
        key = tuple(a.ctypes.data for a in loop_vars)
        if key in self._tables:
            return self._tables[key]
        if len(self._tables) >= 8:  # the variables of a plan's loop op stay put: this is rare
            self._tables.clear()
        got = self._tables[key] = self._make_c_loop(loop_vars)
        return got

    def _make_c_loop(self, loop_vars: list):
        cond, body = self.cond, self.body
        be = cond.plan.backend
        if cond._direct is None or body._direct is None:
            return None
        if be is not body.plan.backend or not all(a.flags.c_contiguous for a in loop_vars):
            return None
        pred = cond.copies_out[0][1]
        if pred.dtype != np.bool_ or pred.size != 1 or not pred.flags.c_contiguous:
            return None
        ffi = be.ffi
        keep: list = []

        def copies(pairs):
            pairs = [(d, s) for d, s in pairs if d.nbytes]
            for d, s in pairs:
                if d.nbytes != s.nbytes or not (d.flags.c_contiguous and s.flags.c_contiguous):
                    return None
            arr = ffi.new("sf_copy[]", max(len(pairs), 1))
            for k, (d, s) in enumerate(pairs):
                arr[k].dst = ffi.cast("void *", d.ctypes.data)
                arr[k].src = ffi.cast("void *", s.ctypes.data)
                arr[k].nbytes = d.nbytes
            keep.append(arr)
            return arr, len(pairs)

        def segment(runner_, outs):
            # (the first iteration, from Python, copied the invariant variables in)
            _, each, out = runner_.loop_copies(self.invariant)
            ins = copies([(staging, loop_vars[i]) for staging, i in each])
            back = copies([(loop_vars[j], src) for j, src in out]) if outs else (ffi.NULL, 0)
            if ins is None or back is None:
                return None
            _, fns, calls, n, _ = runner_._direct
            seg = ffi.new("sf_segment *")
            seg.fns, seg.calls, seg.n = fns, calls, n
            seg.copy_in, seg.n_copy_in = ins
            seg.copy_out, seg.n_copy_out = back
            keep.append(seg)
            return seg

        c_cond, c_body = segment(cond, False), segment(body, True)
        if c_cond is None or c_body is None:
            return None
        c_pred = ffi.cast("uint8_t *", pred.ctypes.data)
        out = (ffi.new("int64_t *"), ffi.new("int *"), ffi.new("int *"), ffi.new("int *"))
        return be, c_cond, c_pred, c_body, out, keep, loop_vars


def _age_new_objects() -> None:
    """Move the objects made while the collector was off into its oldest generation.

    They are mostly the plan's own (long-lived), and left in the youngest generation the
    first young collection after planning would walk every one of them (a pause that grows
    with the graph); in the oldest they wait for the next full collection, as survivors do.
    gc.freeze then gc.unfreeze is that move. Skipped when the program froze objects itself
    (unfreeze would release them)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


class _SeenList(list):
    """A list that answers `in` from a set: variables are looked up at every access."""

    def __init__(self):
        super().__init__()
        self._seen: set = set()

    def append(self, x) -> None:
        self._seen.add(x)
        super().append(x)

    def __contains__(self, x) -> bool:
        return x in self._seen


def plan_ir(
    ir: IRGraph,
    ev,
    variables,
    resources=None,
    allocation_limit=None,
    in_place: bool = True,
    inter_op_threads: int = 1,
    functions=None,
    own_fetches: bool = True,
) -> Plan:
    """Lower an IR to kernel calls on buffers, pack the arena and build the C records.
    `in_place`: outputs may be written over an input that dies at their step
    (`_write_in_place`); `inter_op_threads` > 1: ordered and packed for the scheduled
    executor (schedule.py)."""
    p = _Planner(ev, allocation_limit)
    steps: list[Step] = []
    feed_locs = []
    for t, node in ir.feeds.items():
        # a buffer of its own (not in the arena): the run may point the kernels at the fed
        # array itself instead of copying it in (execute)
        shape = node.shapes[0]
        b = Buffer("feed", p.nbytes(shape, t.dtype))
        p.check_alloc(b.nbytes, f"the staging buffer of fed tensor {t.name}", t.op)
        if dtypes.holds_objects(t.dtype):
            b.objects, b.array = True, _object_array(shape, t.dtype)
        p.buffers.append(b)
        loc = Loc(b, 0, tuple(shape), t.dtype)
        p.locs[node.output(0)] = loc
        feed_locs.append((t, loc))

    var_reads, var_writes = _SeenList(), _SeenList()
    write_steps: dict[str, list[int]] = {}  # variable -> steps that write it
    snapshots = []  # (snapshot buffer, variable loc, step, copy call) of variable reads

    def read_var(loc):
        if loc.buf.kind == "var" and loc.buf.var not in var_writes and loc.buf.var not in var_reads:
            var_reads.append(loc.buf.var)

    step_of: dict[int, int] = {}  # IR node id -> its step
    order, depth = ir.topo_order(), None
    if inter_op_threads > 1:  # by the depth each step can run at (for the packing below)
        order, depth = schedule.parallel_order(order)
    for node in order:
        if node.type == FEED:
            continue
        d = node.opdef
        step_index = len(steps)
        op = node.origin[0]
        mem = _memory(node.device)  # the memory the step's kernels work in
        if node.type == "VariableV2":
            p.check_alloc(p.nbytes(node.shapes[0], node.dtypes[0]), f"variable {op.name}", op)
            if mem:  # the variable lives in its device's memory, across runs
                ptr, nbytes = variables.device_storage(op, mem)
                b = Buffer("var", nbytes, var=op.name, device=mem, ptr=ptr)
            else:
                arr = variables.storage(op)
                b = Buffer("var", arr.nbytes, array=arr, var=op.name, objects=arr.dtype == object)
            p.buffers.append(b)
            p.locs[node.output(0)] = Loc(b, 0, tuple(node.shapes[0]), node.dtypes[0])
            continue
        if d.static:
            for v in node.outputs:
                what = "constant" if node.type == "Const" else "tensor"
                p.check_alloc(
                    p.nbytes(v.shape, v.dtype), f"a {v.dtype.name} {what} of shape {list(v.shape)}", op
                )
                p.locs[v] = p.const_loc(ev.value(v, "a constant"), v.dtype, op)
            continue
        # a regular op: lower to kernel calls
        in_locs = [p.locs[v] for v in node.inputs]
        args = flat_args(d, node.attrs)
        out_mem = mem
        if mem:
            if d.transfer == "download":
                out_mem = ""  # reads its device's memory, writes the host's
            elif d.transfer is None:
                in_locs = [p.on_device(loc, mem) for loc in in_locs]
            if d.transfer != "upload":
                for i, (a, loc) in enumerate(zip(args, in_locs)):
                    if loc.buf.device != mem and not a.host:
                        raise errors.InternalError(
                            None, op, f"{node.type} op '{op.name}' on {node.device} reads input {i} from "
                            f"{loc.buf.device or 'host'} memory: no copy was inserted" + where(node)
                        )
        values = [
            ev.value(v, f"input {i} of {node.type} op '{op.name}'") if a.host else None
            for i, (a, v) in enumerate(zip(args, node.inputs))
        ]
        out_shapes = list(node.shapes)
        ctx = LowerContext(
            d,
            node.name,
            node.attrs,
            [loc.shape for loc in in_locs],
            [v.dtype for v in node.inputs],
            out_shapes,
            list(node.dtypes),
            values,
            resources=resources,
            backend=backend.for_device(node.device),
            functions=functions,
        )
        if ev.specs:
            ctx.in_specs = [ev.specs.get(v) for v in node.inputs]
            ctx.out_specs = [ev.specs.get(node.output(j)) for j in range(len(node.dtypes))]
        try:
            if registry.runs_on_host(d, ctx.in_dtypes, ctx.out_dtypes):
                ctx.reference([i for i, a in enumerate(args) if a.ref])
            else:
                d.lower(ctx)
        except (ValueError, IndexError) as e:
            raise errors.InvalidArgumentError(
                None, op, f"{node.type} op '{op.name}': {e}" + where(node)
            ) from None
        unwritten = ctx.unwritten_outputs()
        if unwritten:
            raise errors.InternalError(
                None,
                op,
                f"{node.type} op '{op.name}': its lowering writes no value into output "
                f"{unwritten[0]} of shape {list(out_shapes[unwritten[0]])}" + where(node),
            )
        # outputs: aliases or fresh arena slots
        out_locs = []
        for j, v in enumerate(node.outputs):
            if j in ctx.aliases:
                src = in_locs[ctx.aliases[j]]
                if src.buf.kind == "var" and not args[ctx.aliases[j]].ref:
                    # a read of a variable is a snapshot: copy it out of the storage (the copy
                    # is dropped after planning if no write can come between it and its uses)
                    loc = p.new_arena(out_shapes[j], v.dtype, step_index, op, out_mem)
                    src_view = ctx.inp(ctx.aliases[j]).reshape(out_shapes[j])
                    if src_view.size:
                        kc = KernelCall(registry.kernel_name("copy", v.dtype), [src_view], [ctx.out(j)])
                        ctx.calls.append(kc)
                        snapshots.append((loc.buf, src, step_index, kc))
                else:
                    loc = Loc(src.buf, src.byte_offset, tuple(out_shapes[j]), v.dtype)
            else:
                loc = p.new_arena(out_shapes[j], v.dtype, step_index, op, out_mem)
            out_locs.append(loc)
            p.locs[v] = loc
        const_locs = [p.on_device(p.const_loc(c, dtypes.as_dtype(c.dtype), op), mem) for c in ctx.consts]
        scratch_locs = [p.new_arena(s, dt, step_index, op, mem) for s, dt in ctx.scratch]
        state_locs = []
        if d.random:
            if mem:  # the stream state lives in the device's memory, as a variable does
                ptr, nbytes = variables.device_op_state(op, mem)
                b = Buffer("state", nbytes, device=mem, ptr=ptr)
            else:
                arr = variables.op_state(op)
                b = Buffer("state", arr.nbytes, array=arr)
            p.buffers.append(b)
            state_locs.append(Loc(b, 0, (3,), dtypes.int64))
        locs = {
            "in": in_locs,
            "out": out_locs,
            "const": const_locs,
            "scratch": scratch_locs,
            "state": state_locs,
        }
        # variable access bookkeeping
        for i, (a, loc) in enumerate(zip(args, in_locs)):
            if a.ref:
                if loc.buf.kind != "var":
                    raise errors.InvalidArgumentError(
                        None, op, f"input {i} of {node.type} op '{op.name}' must be a variable" + where(node)
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
        deps = {step_of.get(v.node.id) for v in node.inputs} | {step_of.get(c.id) for c in node.control}
        deps.discard(None)
        step_of[node.id] = step_index
        steps.append(Step(op, resolved, node, tuple(sorted(deps))))

    # fetches
    fetch_locs = []
    end = len(steps)
    for v in ir.fetches:
        if v.node.type == FEED:
            fetch_locs.append(("feed", v.node.tensor))
            continue
        loc = p.locs[v]
        read_var(loc)
        p.use(loc, end)
        fetch_locs.append(loc)

    _read_in_place(steps, snapshots, write_steps)
    if own_fetches:  # (a function's plan: its caller copies its results out of the arena)
        _pin_transfers(steps, fetch_locs)
        _own_fetch_buffers(fetch_locs, steps)
    # what the intermediates would take without planning: every tensor its own buffer
    unplanned = sum(_round(b.nbytes) for b in p.buffers if b.kind == "arena")
    written_in_place = _write_in_place(steps, p) if in_place else []
    if in_place:
        _assign_in_place(steps, p)
    plan = Plan(fetch_locs, feed_locs, steps, var_reads, var_writes, dict(ir.value_feeds))
    plan.in_place = written_in_place
    plan.stats.in_place = len(written_in_place)
    plan.shapes = {t: v.shape for t, v in _user_values(ir).items()}
    for node in ir.nodes.values():  # the user tensors a fused group computes
        group = node.attrs.get("group") if node.opdef is not None and node.opdef.internal else None
        if group is not None:
            for t, (shape, _o) in group.tensors().items():
                plan.shapes.setdefault(t, shape)
    devices = sorted({b.device for b in p.buffers if b.device})
    # a device's calls run in its stream's order: the plan's order, on one thread
    plan.inter_op_threads = 1 if devices else inter_op_threads
    if depth is not None:
        schedule.parallel_lifetimes(steps, p.buffers, [depth[s.node.id] for s in steps])
    _assign_arena([b for b in p.buffers if not b.device], plan.stats)
    for dev in devices:  # each device's arena: packed as the host's, in its own memory
        dstats = PlanStats()
        _assign_arena([b for b in p.buffers if b.device == dev], dstats)
        da = DeviceArena(dev, backend.for_device(dev), dstats.arena_bytes)
        da.const_bytes = sum(_round(b.nbytes) for b in p.buffers if b.device == dev and b.kind == "const")
        p.check_alloc(da.nbytes, f"the plan's memory on {dev}", _largest_arena_op(steps, p))
        da.stream = variables.stream(dev) if hasattr(variables, "stream") else None
        da.stream_index = variables.stream_index(dev) if hasattr(variables, "stream_index") else 0
        plan.device_arenas[dev] = da
    plan.stats.intermediate_bytes = unplanned
    p.check_alloc(
        plan.stats.arena_bytes, "the plan's arena of intermediate tensors", _largest_arena_op(steps, p)
    )
    plan.stats.steps = len(steps)
    plan.arena_buffers = [b for b in p.buffers if b.kind == "arena" and not b.device]
    _materialize(plan, p.buffers)
    return plan


def step_memory(plan: Plan) -> list[tuple[int, int, int, int]]:
    """Per step of the plan: (bytes its new arena buffers take, bytes of those still alive
    after it, arena bytes alive while it runs, arena bytes alive after it), from the packed
    buffers' lifetimes (what RunMetadata reports per op)."""
    n = len(plan.steps)
    total, live, starts, ends = [0] * n, [0] * n, [0] * (n + 2), [0] * (n + 2)
    for b in plan.arena_buffers:
        s, e = max(b.start, 0), min(max(b.end, b.start, 0), n)
        if s < n:
            total[s] += b.nbytes
            if e > s:
                live[s] += b.nbytes
        starts[min(s, n)] += b.nbytes
        ends[e] += b.nbytes
    out, alive = [], 0
    for k in range(n):
        alive += starts[k]
        out.append((total[k], live[k], alive, alive - ends[k]))
        alive -= ends[k]
    return out


def _largest_arena_op(steps: list[Step], p: _Planner):
    """The op whose outputs are the largest arena tensors (for an arena that is too large)."""
    best, op = -1, None
    for step in steps:
        for v in step.node.outputs:
            loc = p.locs.get(v)
            if loc is not None and loc.buf.kind == "arena" and loc.buf.nbytes > best:
                best, op = loc.buf.nbytes, step.op
    return op


def _user_values(ir: IRGraph) -> dict:
    """User Tensor -> the IR value that computes it, for nodes that stand for one user op."""
    out = {}
    for node in ir.nodes.values():
        if node.type == FEED:
            out[node.tensor] = node.output(0)
        else:
            for v in node.outputs:
                t = node.user_tensor(v.index)
                if t is not None:
                    out.setdefault(t, v)
    return out


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
        b.device, b.ptr = var_loc.buf.device, var_loc.buf.ptr
        steps[s_copy].calls = [c for c in steps[s_copy].calls if c[0] is not kc]


def _write_in_place(steps: list[Step], p: _Planner) -> list[tuple[int, int, int]]:
    """Write an output over an input that dies at its step, where the op allows it.

    The op's record names the (input, output) pairs its kernels may alias (`OpDef.inplace`:
    each element of the output is computed from that input's element at the same index,
    read before it is written). A pair is taken when
    - both tensors are whole arena buffers of one size and dtype: never a feed, a variable,
      a constant, a fetched buffer of its own or a string array;
    - the input's buffer (every tensor viewing it) is read by no later step and no fetch:
      its last use is this step;
    - one kernel call of the step touches the two buffers, and every view it has of either is
      the same window (so an input read through another view, a transpose or a broadcast of
      the same bytes, keeps the output apart);
    - the output's buffer is not already another output's at this step.
    The output's buffer then goes: its tensors live in the input's buffer, whose lifetime
    extends to theirs. The step waits for every other step that reads the input (their reads
    come first in any order that keeps the steps' dependencies). Returns the pairs taken as
    (step, input, output)."""
    refs: dict[int, list[Loc]] = {}  # id(buffer) -> every Loc over it (each Loc object once)
    seen: set[int] = set()

    def note(loc: Loc) -> None:
        if id(loc) not in seen:
            seen.add(id(loc))
            refs.setdefault(id(loc.buf), []).append(loc)

    readers: dict[int, set[int]] = {}  # id(buffer) -> the steps reading it
    for s_i, step in enumerate(steps):
        for _c, ins, outs in step.calls:
            for loc, _v in ins:
                note(loc)
                readers.setdefault(id(loc.buf), set()).add(s_i)
            for loc, _v in outs:
                note(loc)
    for loc in p.locs.values():
        note(loc)
    done: list[tuple[int, int, int]] = []
    gone: set[int] = set()
    for s_i, step in enumerate(steps):
        node = step.node
        d = node.opdef if node is not None else None
        if d is None or not d.inplace:
            continue
        taken: set[int] = set()
        for i, j in d.inplace_pairs(len(node.inputs), len(node.outputs)):
            src, dst = p.locs.get(node.inputs[i]), p.locs.get(node.outputs[j])
            if src is None or dst is None or not _can_alias(step, s_i, src, dst, taken, p):
                continue
            old, new = dst.buf, src.buf
            for loc in refs.pop(id(old), []):
                loc.buf = new
                refs.setdefault(id(new), []).append(loc)
            new.end = max(new.end, old.end)
            readers.setdefault(id(new), set()).update(readers.pop(id(old), ()))
            gone.add(id(old))
            taken.add(id(new))
            others = readers.get(id(new), set()) - {s_i}
            step.deps = tuple(sorted(set(step.deps) | {r for r in others if r < s_i}))
            done.append((s_i, i, j))
    if gone:
        p.buffers[:] = [b for b in p.buffers if id(b) not in gone]
    return done


def _assign_in_place(steps: list[Step], p: _Planner) -> None:
    """Compute a value that an Assign writes into a variable in the variable's storage.

    A variable's initializer (Assign of a random or filled tensor) would otherwise hold the
    value twice: in the plan's arena, which lives as long as the plan is cached, and in the
    variable. The value's buffer becomes the variable's storage, and the Assign's copy goes,
    when the value is a whole arena buffer of the variable's shape and dtype, read by no step
    after the Assign and by no host call, and no other step views the variable at all (so
    nothing sees it change before the Assign's turn)."""
    touching: dict[str, set[int]] = {}  # variable -> the steps whose calls view its storage
    host: set[int] = set()
    for s_i, step in enumerate(steps):
        for c, ins, outs in step.calls:
            for loc, _v in ins + outs:
                if loc.buf.kind == "var":
                    touching.setdefault(loc.buf.var, set()).add(s_i)
                if isinstance(c, HostCall):
                    host.add(id(loc.buf))
    for s_i, step in enumerate(steps):
        if step.node is None or step.node.type != "Assign" or len(step.calls) != 1:
            continue
        src, dst = p.locs.get(step.node.inputs[1]), p.locs.get(step.node.inputs[0])
        if src is None or dst is None:
            continue
        a, v = src.buf, dst.buf
        if a.kind != "arena" or v.kind != "var" or a.objects or v.objects or id(a) in host:
            continue
        if a.device or v.device:  # device variables keep their storage (the session's)
            continue
        if a.end != s_i or src.byte_offset or dst.byte_offset or src.dtype is not dst.dtype:
            continue
        if a.nbytes != v.nbytes or tuple(src.shape) != tuple(v.array.shape) or touching[v.var] != {s_i}:
            continue
        a.kind, a.array, a.var = "var", v.array, v.var
        step.calls = []


def _can_alias(step: Step, s_i: int, src: Loc, dst: Loc, taken: set, p: _Planner) -> bool:
    a, b = src.buf, dst.buf
    if a is b or a.kind != "arena" or b.kind != "arena" or a.objects or b.objects or a.device != b.device:
        return False
    if id(a) in taken or id(b) in taken or a.end != s_i or b.start != s_i:
        return False
    if src.byte_offset or dst.byte_offset or src.dtype is not dst.dtype or a.nbytes != b.nbytes:
        return False
    if _Planner.nbytes(src.shape, src.dtype) != a.nbytes or _Planner.nbytes(dst.shape, dst.dtype) != b.nbytes:
        return False
    touching = [c for c in step.calls if any(loc.buf is a or loc.buf is b for loc, _v in c[1] + c[2])]
    if len(touching) != 1 or isinstance(touching[0][0], HostCall):
        return False
    _kc, ins, outs = touching[0]
    writes = [v for loc, v in outs if loc.buf is b]
    if len(writes) != 1 or any(loc.buf is a for loc, _v in outs):
        return False

    def window(loc: Loc, v: View) -> tuple:
        return (loc.byte_offset + v.offset * v.dtype.np.itemsize, v.shape, v.strides, v.dtype.np)

    w = window(dst, writes[0])
    return all(window(loc, v) == w for loc, v in ins if loc.buf is a or loc.buf is b)


def _own_fetch_buffers(fetch_locs: list, steps: list[Step]) -> None:
    """Take each large fetched arena buffer out of the arena (kind "fetch") where a fetch is
    the whole buffer and only kernel calls read or write it (a host call's NumPy views of its
    buffers are made once, when the plan is built: such a buffer stays in the arena and
    its fetches are copied out). Its storage is then a fresh array per run (execute), so
    the arena planner gives it no slot and nothing can overwrite it once written."""
    host = {
        id(loc.buf) for s in steps for c in s.calls if isinstance(c[0], HostCall) for loc, _ in c[1] + c[2]
    }
    for loc in fetch_locs:
        if isinstance(loc, tuple):
            continue
        b = loc.buf
        if (
            b.kind == "arena"
            and not b.device
            and 0 < b.nbytes
            and b.nbytes >= FETCH_NO_COPY_MIN_BYTES
            and id(b) not in host
            and loc.byte_offset == 0
            and _Planner.nbytes(loc.shape, loc.dtype) == b.nbytes
        ):
            b.kind = "fetch"


def _pin_transfers(steps: list[Step], fetch_locs: list) -> None:
    """Give the host side of a plan's per-run copies pinned staging memory of their device
    (Buffer.pinned), so that they run asynchronously on the session's stream: each fed
    tensor an upload reads (always copied into its staging, never read in place), and each
    host buffer a download writes that only fetches read (kind "staging", out of the
    arena). A downloaded buffer a later step reads stays in the arena: a copy into pageable
    memory is done when its call returns, before that step runs. The run waits for each
    device's stream once, before its fetches are handed out (execute)."""
    read = {id(loc.buf) for s in steps for c in s.calls for loc, _ in c[1]}
    fetched = {id(loc.buf) for loc in fetch_locs if not isinstance(loc, tuple)}
    for s in steps:
        transfer = getattr(s.node.opdef, "transfer", None) if s.node is not None else None
        mem = _memory(s.node.device) if transfer else ""
        if not mem or len(s.calls) != 1:
            continue  # not a copy of a device, or an empty tensor's (no call)
        _kc, ins, outs = s.calls[0]
        if transfer == "upload":
            b = ins[0][0].buf
            if b.kind == "feed" and not b.objects:
                b.pinned = mem
        elif transfer == "download":
            b = outs[0][0].buf
            if b.kind == "arena" and not b.device and id(b) in fetched and id(b) not in read:
                b.kind, b.pinned = "staging", mem


def _pinned_bytes(plan: Plan, device: str, nbytes: int) -> np.ndarray:
    """A uint8 array over pinned host memory of `device`'s backend, freed with the plan."""
    be = backend.for_device(device)
    ptr = be.allocate_host(max(nbytes, 1))
    weakref.finalize(plan, be.free_host, ptr)
    ffi = plan.backend.ffi
    return np.frombuffer(ffi.buffer(ffi.cast("char *", ptr), max(nbytes, 1)), np.uint8)[:nbytes]


def _resolve(v: View, locs: dict):
    kind, i = v.src
    return locs[kind][i], v


# average number of other buffers a buffer's lifetime meets, up to which the arena is packed
# greedily by size (better packing, cost grows with the overlaps); past it, a deep graph's
# saved activations all overlap one another, and buffers are placed in execution order
OVERLAP_BUDGET = 32


def _assign_arena(buffers: list[Buffer], stats: PlanStats) -> None:
    """Pack arena buffers by offset so that buffers alive at the same time never overlap.

    Greedy by size (largest first), each at the lowest offset that fits beside the already
    placed buffers whose lifetimes intersect its own, when lifetimes overlap little;
    otherwise first fit in execution order. Both cost time linear in the number of buffers
    (times their bounded overlaps, or a log), so a plan's set-up grows linearly with depth.
    """
    arena = [b for b in buffers if b.kind == "arena"]
    overlaps = _overlaps(arena, OVERLAP_BUDGET * len(arena))
    if overlaps is not None:
        top = _greedy_by_size(arena, overlaps)
    else:
        top = _first_fit_in_order(arena)
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


def _overlaps(arena: list[Buffer], budget: int) -> dict | None:
    """For each buffer, the buffers whose lifetimes intersect its own (a sweep over start
    steps); None, found by counting first, when there are more than `budget` such pairs."""
    by_start = sorted(arena, key=lambda b: b.start)
    active: list = []  # heap of (end, tie, buffer) of the buffers started so far and not ended
    pairs = 0
    for k, b in enumerate(by_start):
        while active and active[0][0] < b.start:
            heapq.heappop(active)
        pairs += len(active)
        if pairs > budget:
            return None
        heapq.heappush(active, (b.end, k, b))
    out: dict[int, list[Buffer]] = {id(b): [] for b in arena}
    active = []
    for k, b in enumerate(by_start):
        while active and active[0][0] < b.start:
            heapq.heappop(active)
        for _, _, o in active:
            out[id(o)].append(b)
            out[id(b)].append(o)
        heapq.heappush(active, (b.end, k, b))
    return out


def _greedy_by_size(arena: list[Buffer], overlaps: dict) -> int:
    for b in arena:
        b.offset = -1
    top = 0
    for b in sorted(arena, key=lambda b: (-b.nbytes, b.start)):
        size = _round(b.nbytes)
        clashes = sorted((o.offset, o.offset + _round(o.nbytes)) for o in overlaps[id(b)] if o.offset >= 0)
        off = 0
        for lo, hi in clashes:
            if off + size <= lo:
                break
            off = max(off, hi)
        b.offset = off
        top = max(top, off + size)
    return top


def _first_fit_in_order(arena: list[Buffer]) -> int:
    """Walk the steps in order: a buffer takes the smallest free block that fits (the lowest
    of equal ones) when its lifetime starts, and gives it back, merged with free neighbours,
    after its last use. Free blocks are kept sorted by offset and by size, so each placement
    costs a few bisections."""
    by_offset: list[tuple[int, int]] = []  # free (offset, size) blocks below top
    by_size: list[tuple[int, int]] = []  # the same blocks as (size, offset)
    ending: list = []  # heap of (end, offset, size) of the placed buffers
    top = 0

    def take(off: int, size: int) -> None:
        del by_offset[bisect.bisect_left(by_offset, (off, size))]
        del by_size[bisect.bisect_left(by_size, (size, off))]

    def give(off: int, size: int) -> None:
        bisect.insort(by_offset, (off, size))
        bisect.insort(by_size, (size, off))

    def release(off: int, size: int) -> None:
        i = bisect.bisect_left(by_offset, (off, 0))
        if i < len(by_offset) and by_offset[i][0] == off + size:  # merge the next free block
            nxt = by_offset[i]
            take(*nxt)
            size += nxt[1]
        if i > 0 and sum(by_offset[i - 1]) == off:  # and the previous one
            prev = by_offset[i - 1]
            take(*prev)
            off, size = prev[0], prev[1] + size
        give(off, size)

    for b in sorted(arena, key=lambda b: (b.start, -b.nbytes)):
        while ending and ending[0][0] < b.start:
            release(*heapq.heappop(ending)[1:])
        size = _round(b.nbytes)
        j = bisect.bisect_left(by_size, (size, -1))
        if j < len(by_size):
            free, off = by_size[j]
            take(off, free)
            if free > size:
                give(off + size, free - size)
        elif by_offset and sum(by_offset[-1]) == top:  # grow the free block at the top
            off = by_offset[-1][0]
            take(*by_offset[-1])
            top = off + size
        else:
            off, top = top, top + size
        b.offset = off
        heapq.heappush(ending, (b.end, off, size))  # live buffers never share an offset
    return top


def _round(n: int) -> int:
    return max(ALIGN, (n + ALIGN - 1) // ALIGN * ALIGN)


def _materialize(plan: Plan, buffers: list[Buffer]) -> None:
    """Allocate the arena and build the C call records (each kernel from its node's backend)."""
    ffi = plan.backend.ffi
    plan.arena = _arena_bytes(plan.stats.arena_bytes)
    arena_base = plan.arena.__array_interface__["data"][0]
    plan.consts = [b.array for b in buffers if b.kind == "const" and not b.device]
    for da in plan.device_arenas.values():  # one allocation per device: arena, then constants
        da.ptr = da.backend.allocate(max(da.nbytes, 1))
        weakref.finalize(plan, da.backend.free, da.ptr)
        at = da.arena_bytes
        for b in buffers:
            if b.device == da.device and b.kind == "const":
                b.offset, b.ptr = at, da.ptr + at
                da.backend.copy_in(b.ptr, b.array, da.stream)
                at += _round(b.nbytes)
    for b in buffers:
        if b.pinned:  # the staging of a device's copies: pinned, allocated once per plan
            b.array = _pinned_bytes(plan, b.pinned, b.nbytes)
        elif b.kind == "feed" and not b.objects:
            b.array = _aligned_bytes(b.nbytes)
    sites: dict = {}  # feed Buffer -> [(record index, byte offset)] of the records that read it
    pinned: set = set()  # feed Buffers that are always copied in (FeedSlot.pinned)
    fetch_sites: dict = {b: [] for b in buffers if b.kind == "fetch"}  # every record on one

    def address(loc: Loc, v: View) -> int:
        b = loc.buf
        if b.device:  # device memory: the plan's allocation there, or the session's storage
            start = plan.device_arenas[b.device].ptr + b.offset if b.kind == "arena" else b.ptr
        elif b.kind == "fetch":  # no storage between runs: execute points the records at each run's
            start = 0
        elif b.kind == "arena":
            start = arena_base + b.offset
        else:
            start = b.array.__array_interface__["data"][0]
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
        dev = plan.steps[s_i].node.device
        be = backend.for_device(dev)
        try:
            plan.c_fns[k] = be.kernel(kc.symbol) if kc.fn is None else ffi.cast("sf_kernel", kc.fn)
        except KeyError as e:
            step = plan.steps[s_i]
            what = f"{step.node.type} op '{step.op.name}' placed on {dev or 'the CPU'}"
            raise errors.InternalError(None, step.op, f"{what}: {e.args[0]}" + where(step.node)) from None
        call = plan.c_calls[k]
        da = plan.device_arenas.get(_memory(dev))
        if da is not None and da.stream:
            call.stream = ffi.cast("void *", da.stream)
        call.n_in, call.n_out = len(ins), len(outs)
        setattr(call, "in", plan.c_records + r)
        call.out = plan.c_records + r + len(ins)
        for j, (loc, v) in enumerate(ins + outs):
            if loc.buf.objects:
                raise errors.InternalError(
                    None, plan.steps[s_i].op, f"kernel {kc.symbol} was given a tensor of Python objects"
                )
            be.fill_tensor(
                plan.c_records[r], ffi.cast("void *", address(loc, v)), v.dtype.np, v.shape, v.strides
            )
            if loc.buf.kind == "fetch":
                fetch_sites[loc.buf].append((r, loc.byte_offset + v.offset * v.dtype.np.itemsize))
            elif loc.buf.kind == "feed":
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
        if b.device:
            raise errors.InternalError(
                None, None, f"a host view of a tensor in {b.device} memory was asked for (no copy inserted)"
            )
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
    pinned |= {b for b in buffers if b.kind == "feed" and (b.objects or b.pinned)}
    plan.feeds = [
        FeedSlot(t, arena_view(loc), sites.get(loc.buf, []), loc.buf in pinned) for t, loc in plan.feeds
    ]

    def host_entry(step: int, hc: HostCall, ins, outs):
        in_arrays = [_view_array(arena_view, loc, v, i in hc.writes) for i, (loc, v) in enumerate(ins)]
        out_arrays = [_view_array(arena_view, loc, v, True) for loc, v in outs]
        return (step, hc.fn, in_arrays, out_arrays)

    plan.segments = [(a, b, None if h is None else host_entry(h[0], *h[1])) for a, b, h in plan.segments]
    slot_of = {}
    for b, s in fetch_sites.items():
        slot_of[b] = len(plan.fetch_slots)
        plan.fetch_slots.append(FetchSlot(b.nbytes, s))
    handed: set = set()

    def fetch_value(loc: Loc):
        if loc.buf.kind != "fetch":
            return arena_view(loc)
        nbytes = _Planner.nbytes(loc.shape, loc.dtype)
        whole = loc.byte_offset == 0 and nbytes == loc.buf.nbytes
        view = FetchView(
            slot_of[loc.buf],
            loc.byte_offset,
            nbytes,
            loc.dtype.np,
            tuple(loc.shape),
            whole and loc.buf not in handed,
        )
        if view.hand_out:
            handed.add(loc.buf)
        return view

    plan.fetches = [f if isinstance(f, tuple) else fetch_value(f) for f in plan.fetches]


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
    step = plan.steps[plan.call_steps[k]]
    op = step.op
    msg = plan.backend.ffi.string(plan.c_calls[k].msg).decode(errors="replace")
    node = step.node
    if node is not None and node.opdef is not None and node.opdef.internal:
        # a fused kernel names the member that failed: the error is that member's op's
        m = re.match(r"fused member (\d+): (.*)", msg, re.S)
        group = node.attrs.get("group")
        origin = group.origin_of(int(m.group(1))) if m and group is not None else ()
        if origin:
            op = origin[0]
            msg = f"{op.type} op '{op.name}': {m.group(2)} (in a fused kernel of {len(node.origin)} ops)"
            return errors.error_class(code)(None, op, msg + where(origin))
    d = registry.get(op.type)
    prefix = d.error_prefix(op) if d.error_prefix is not None else ""
    return errors.error_class(code)(None, op, prefix + msg + where(step.node or op))


def execute(plan: Plan, feeds: dict, variables, mode: str = "c", trace: list | None = None) -> list:
    """Run a plan: bind the feeds (large contiguous ones in place, the rest copied in), run
    every kernel call, hand out the fetches (a large fetched buffer, written into a fresh
    array this run, as it is; the rest copied out). With a `trace` list, each call appends
    (step index, start ns, end ns, thread index) to it."""
    _check_initialized(plan, variables)
    repointed = []
    for slot in plan.feeds:
        value = feeds[slot.tensor]
        if slot.in_place and _can_point_at(slot, value):
            _point(plan, slot, value.__array_interface__["data"][0])
            repointed.append(slot)
        else:
            np.copyto(slot.staging, value, casting="unsafe")
    fresh = [_fetch_storage(s) for s in plan.fetch_slots]
    if not repointed and not fresh and not plan.device_arenas:
        _run_segments(plan, mode, trace)
    else:
        try:
            for s, a in zip(plan.fetch_slots, fresh):
                _point_sites(plan, s.sites, a.__array_interface__["data"][0])
            _run_segments(plan, mode, trace)
        finally:
            if plan.device_arenas:  # once per run, before anything is handed out
                _synchronize(plan, trace)
            # records never keep pointers into the caller's arrays, fed or handed out
            for slot in repointed:
                _point(plan, slot, slot.staging.__array_interface__["data"][0])
            for s in plan.fetch_slots:
                _point_sites(plan, s.sites, 0)
    for name in plan.var_writes:
        variables.mark_initialized(name)
    owned = []
    for s, a in zip(plan.fetch_slots, fresh):
        owner = _FetchOwner(a)
        weakref.finalize(owner, _give_back, s.spare, a)
        owned.append(np.asarray(owner))
    out = []
    for f in plan.fetches:
        if isinstance(f, tuple):
            value = feeds[f[1]] if f[0] == "feed" else np.array(feeds[f[1]], copy=True)
        elif isinstance(f, FetchView):
            value = owned[f.slot][f.byte_offset : f.byte_offset + f.nbytes].view(f.dtype).reshape(f.shape)
            if not f.hand_out:
                value = value.copy()
        else:
            value = np.array(f, copy=True)
        out.append(value[()] if value.ndim == 0 else value)  # a scalar, as TF gives it
    return out


def runner(plan: Plan, variables, order: list, mode: str = "c"):
    """A function that runs `plan` as `execute` does, with as little Python per run as it
    can: it takes the feed values (arrays converted as `execute` wants them) as a sequence
    in the order of the tensors in `order`, which holds every tensor the plan is fed, and
    returns the fetches' values. What `execute` decides per run from the plan alone (where
    each feed goes, how each fetch is handed out, the kernel calls' C arguments, the status
    buffer) is decided here once; the variables the plan reads are checked until they are
    initialized (nothing makes a variable uninitialized again) and those it writes marked
    once. Plans with host calls, fed arrays read in place, fetched buffers of their own, device
    steps (whose streams each run waits for), or run by the Python walk, run through
    `execute` itself."""
    lock = plan.lock
    direct = _direct_call(plan, mode)
    if direct is None or plan.fetch_slots or any(s.in_place for s in plan.feeds) or plan.device_arenas:
        # the general path, in the plan's lock (a plan owns its arena: one run at a time)
        def run_general(values):
            feeds = dict(zip(order, values))
            with lock:
                return execute(plan, feeds, variables, mode)

        return run_general
    pos = {t: i for i, t in enumerate(order)}
    copies = [(s.staging, pos[s.tensor]) for s in plan.feeds]
    getters = [_fetch_getter(f, pos) for f in plan.fetches]
    run_plan, fns, calls, n, status = direct
    checked = False  # the variables read are initialized, those written marked

    def run(values):
        nonlocal checked
        with lock:
            if not checked:
                _check_initialized(plan, variables)
            for staging, i in copies:
                staging[...] = values[i]
            if n:
                failed = run_plan(fns, calls, n, status)
                if failed >= 0:
                    raise _fail(plan, failed, status[0])
            if not checked:
                for name in plan.var_writes:
                    variables.mark_initialized(name)
                checked = True
            return [get(values) for get in getters]

    if len(copies) != 1 or len(getters) != 1 or not n:
        return run
    # one fed array, one fetch: the same steps without the loops (a third of the runner's time)
    (staging, i), (get,) = copies[0], getters

    def run_one(values):
        nonlocal checked
        with lock:
            if not checked:
                _check_initialized(plan, variables)
            staging[...] = values[i]
            failed = run_plan(fns, calls, n, status)
            if failed >= 0:
                raise _fail(plan, failed, status[0])
            if not checked:
                for name in plan.var_writes:
                    variables.mark_initialized(name)
                checked = True
            return [get(values)]

    return run_one


def _direct_call(plan: Plan, mode: str):
    """(run_plan, fns, calls, n, status): the one C call that runs every kernel call of
    `plan` in its order, as `_run_segments` does untraced, when the plan is one segment
    without host calls run by the C executor; else None. `status` is the plan's runner's
    own buffer for the failing call's code. It is `_run_segments`'s untraced C case written
    out once: a plan that `_run_segments` would run any other way gets None here."""
    if mode != "c" or len(plan.segments) != 1 or plan.segments[0][2] is not None:
        return None
    if plan.inter_op_threads > 1 and hasattr(plan.backend, "run_schedule"):
        return None  # the scheduled executor's
    start, stop, _ = plan.segments[0]
    be = plan.backend
    return be.run_plan, plan.c_fns + start, plan.c_calls + start, stop - start, be.ffi.new("int *")


def _segment_program(plan: Plan) -> list | None:
    """`_run_segments`'s untraced C case for a plan of several segments, as one list to walk:
    (True, fns, calls, count, first call) for a segment's kernel calls, (False, op, fn, ins,
    outs) for a host call; None when the plan needs the scheduled executor."""
    if plan.inter_op_threads > 1 and hasattr(plan.backend, "run_schedule"):
        return None
    prog = []
    for start, stop, host in plan.segments:
        if stop > start:
            prog.append((True, plan.c_fns + start, plan.c_calls + start, stop - start, start))
        if host is not None:
            step, fn, ins, outs = host
            prog.append((False, plan.steps[step].op, fn, ins, outs))
    return prog


def _run_program(plan: Plan, prog: list, status) -> None:
    run_plan = plan.backend.run_plan
    for kernels, a, b, c, d in prog:
        if kernels:
            failed = run_plan(a, b, c, status)
            if failed >= 0:
                raise _fail(plan, d + failed, status[0])
        else:
            _run_host(a, b, c, d)


def _fetch_getter(f, pos: dict):
    """How a runner hands out one fetch of a plan without buffers of its own (FetchView):
    a copy of its arena view, or the fed array (fetched as it is, or copied); a 0-d value as
    a NumPy scalar, as TensorFlow gives it."""
    if isinstance(f, tuple):
        i = pos[f[1]]
        if f[0] == "feed":
            return lambda values: values[i][()] if values[i].ndim == 0 else values[i]

        def copy_of_feed(values):
            value = np.array(values[i], copy=True)
            return value[()] if value.ndim == 0 else value

        return copy_of_feed
    if f.ndim == 0:
        return lambda values: f[()]
    copy = f.copy
    return lambda values: copy()


def _check_initialized(plan: Plan, variables) -> None:
    """A plan reading a variable no run or restore has initialized fails, naming it."""
    for name in plan.var_reads:
        if not variables.is_initialized(name):
            op = variables.op(name)
            raise errors.FailedPreconditionError(
                None, op, f"Attempting to use uninitialized value {name}" + where(op)
            )


def _fetch_storage(slot: FetchSlot) -> np.ndarray:
    """Storage for a FetchSlot's buffer this run: its spare, else a fresh array."""
    return slot.spare.pop() if slot.spare else _aligned_bytes(slot.nbytes)


def _aligned_bytes(nbytes: int) -> np.ndarray:
    """A fresh uint8 array of nbytes whose start is ALIGN-aligned, as the kernels want every
    buffer's: the arena, feed staging and fetched buffers' storage. (NumPy asks for
    transparent huge pages for large allocations, so a fetched buffer's first writes fault a
    page per 2 MiB where the kernel grants them.)"""
    raw = np.empty(nbytes + ALIGN, np.uint8)
    shift = (-raw.__array_interface__["data"][0]) % ALIGN
    return raw[shift : shift + nbytes]


# arenas at least this large are a mapping of their own advised for transparent huge pages
HUGE_PAGE_MIN_BYTES = 4 << 20
HUGE_PAGE = 2 << 20


def _arena_bytes(nbytes: int) -> np.ndarray:
    """The plan's arena: a large one is an anonymous mapping whose 2 MiB-aligned start is
    advised MADV_HUGEPAGE, so that where the system's transparent huge pages are in
    "madvise" mode (a common default) the arena's pages are 2 MiB ones: a step walking
    hundreds of MiB of activations then misses the TLB far less, and the first run faults a
    page in per 2 MiB instead of per 4 KiB. This is explicit, not left to NumPy: NumPy
    advises its own allocations of 4 MiB and more too, but only where its
    `_set_madvise_hugepage` switch is on, and the arena would be a NumPy allocation like any
    other. The mapping is released when the plan goes (its pages go back to the system at
    once, not to the C heap). Smaller arenas, and systems without the advice, take
    _aligned_bytes."""
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if nbytes < HUGE_PAGE_MIN_BYTES or advice is None:
        return _aligned_bytes(nbytes)
    # private (a shared anonymous mapping is shmem, which huge pages follow other rules for);
    # page-aligned; untouched pages take no memory
    m = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    raw = np.frombuffer(m, np.uint8)
    shift = (-raw.__array_interface__["data"][0]) % HUGE_PAGE
    try:
        m.madvise(advice, shift, nbytes)
    except OSError:  # a kernel without transparent huge pages: plain pages
        pass
    return raw[shift : shift + nbytes]


def _can_point_at(slot: FeedSlot, value: np.ndarray) -> bool:
    """Whether the kernels may read the fed array (of an in_place slot) instead of a copy."""
    return (
        value.dtype == slot.staging.dtype
        and value.shape == slot.staging.shape
        and value.flags.c_contiguous
        and value.flags.aligned
    )


def _point(plan: Plan, slot: FeedSlot, address: int) -> None:
    _point_sites(plan, slot.sites, address)


def _point_sites(plan: Plan, sites: list, address: int) -> None:
    """Point the records at `sites` ((record index, byte offset) pairs) into `address`."""
    cast, records = plan.backend.ffi.cast, plan.c_records
    for r, offset in sites:
        records[r].data = cast("void *", address + offset)


class Trace(list):
    """What a traced run records: (step index, start ns, end ns, thread index, OpenMP threads
    it was given, 0 for a host call) per kernel or host call (the host's view: when each call
    ran), and `device_spans`, (device, stream index, step index, start ns, end ns) per device
    step, the device's own time of its calls (events on its stream), on the same clock
    (perf_counter_ns)."""

    def __init__(self):
        super().__init__()
        self.device_spans: list = []
        self.events: list = []  # _StepEvents of runs whose streams were not waited for yet


class _StepEvents:
    """The device timing of a traced run: an anchor event on each device's stream as the run
    starts (its host time taken then: the stream is idle, every run having waited for it),
    then an event pair around each device step's calls; `resolve` reads them once the
    stream was waited for and turns them into the trace's device spans."""

    def __init__(self, plan: Plan, trace: Trace):
        self.plan, self.trace = plan, trace
        steps = plan.call_steps
        n = len(steps)
        self.first = [k == 0 or steps[k - 1] != steps[k] for k in range(n)]
        self.last = [k == n - 1 or steps[k + 1] != steps[k] for k in range(n)]
        nodes = [plan.steps[s].node for s in steps]
        self.mem = [_memory(node.device) if node is not None else "" for node in nodes]
        self.anchors: dict = {}  # device -> (event, host ns)
        self.spans: list = []  # (device, step, start event, end event)
        self.open = None
        for dev, da in plan.device_arenas.items():
            ev = da.backend.new_event()
            da.backend.record_event(ev, da.stream)
            self.anchors[dev] = (ev, time.perf_counter_ns())

    def _record(self, dev: str):
        da = self.plan.device_arenas[dev]
        ev = da.backend.new_event()
        da.backend.record_event(ev, da.stream)
        return ev

    def before(self, k: int) -> None:
        if self.first[k] and self.mem[k]:
            self.open = (self.mem[k], self.plan.call_steps[k], self._record(self.mem[k]))

    def after(self, k: int) -> None:
        if self.last[k] and self.open is not None:
            dev, step, start = self.open
            self.spans.append((dev, step, start, self._record(dev)))
            self.open = None

    def resolve(self, ok: bool = True) -> None:
        """The device spans (when the run got that far), then every event freed."""
        das = self.plan.device_arenas
        if ok:
            for dev, step, e0, e1 in self.spans:
                be = das[dev].backend
                anchor, h0 = self.anchors[dev]
                t0 = h0 + round(be.elapsed_ms(anchor, e0) * 1e6)
                t1 = t0 + round(be.elapsed_ms(e0, e1) * 1e6)
                self.trace.device_spans.append((dev, das[dev].stream_index, step, t0, t1))
        for dev, (ev, _h0) in self.anchors.items():
            das[dev].backend.free_event(ev)
        for dev, _step, e0, e1 in self.spans:
            das[dev].backend.free_event(e0)
            das[dev].backend.free_event(e1)
        if self.open is not None:
            das[self.open[0]].backend.free_event(self.open[2])
        self.spans, self.anchors, self.open = [], {}, None


def _synchronize(plan: Plan, trace: list | None) -> None:
    """Wait once for each device's stream of the plan: the run's copies into pinned staging
    are done (and a traced run's events recorded, which are read then)."""
    done = False
    try:
        for da in plan.device_arenas.values():
            da.backend.synchronize(da.stream)
        done = True
    finally:
        pending = getattr(trace, "events", None)
        while pending:
            pending.pop(0).resolve(ok=done)


def _run_segments(plan: Plan, mode: str, trace: list | None = None) -> None:
    be = plan.backend
    status = be.ffi.new("int *")
    clock = time.perf_counter_ns
    threads = max(plan.inter_op_threads, 1) if mode == "c" else 1
    # a traced plan with device steps: the Python walk, with events around its device steps
    events = _StepEvents(plan, trace) if isinstance(trace, Trace) and plan.device_arenas else None
    omp = be.num_threads() if trace is not None and hasattr(be, "num_threads") else 1
    if events is not None:
        trace.events.append(events)
    scheduled = (
        events is None and mode == "c" and hasattr(be, "run_schedule") and (threads > 1 or trace is not None)
    )
    if scheduled and threads > 1 and plan.schedule is None:
        plan.schedule = schedule.build(plan)
    for seg, (start, stop, host) in enumerate(plan.segments):
        if stop > start and scheduled:
            _run_scheduled(plan, seg, threads, trace, status)
        elif stop > start and mode == "c" and trace is None:
            failed = be.run_plan(plan.c_fns + start, plan.c_calls + start, stop - start, status)
            if failed >= 0:
                raise _fail(plan, start + failed, status[0])
        else:  # the Python walk over the same records, timing each call when traced
            for k in range(start, stop):
                if events is not None:
                    events.before(k)
                t0 = clock()
                code = plan.c_fns[k](plan.c_calls + k)
                if trace is not None:
                    trace.append((plan.call_steps[k], t0, clock(), 0, omp))
                if events is not None:
                    events.after(k)
                if code:
                    raise _fail(plan, k, code)
        if host is not None:
            step, fn, ins, outs = host
            t0 = clock()
            _run_host(plan.steps[step].op, fn, ins, outs)
            if trace is not None:
                trace.append((step, t0, clock(), 0, 0))  # no kernel: no kernel threads


def _run_scheduled(plan: Plan, seg: int, threads: int, trace: list | None, status) -> None:
    """One segment through the scheduled executor: on up to `threads` threads when its
    calls are not a chain (and some are worth a thread), else in order (with one thread no
    dependencies are made); traced, with each call's span and thread."""
    be = plan.backend
    start, stop, _ = plan.segments[seg]
    n = stop - start
    null = be.ffi.NULL
    sch = plan.schedule[seg] if threads > 1 else schedule.SegmentSchedule(null, null, null, 1, null)
    t = min(threads, sch.width)
    spans = np.zeros((n, 4), np.int64) if trace is not None else None
    c_spans = be.ffi.cast("int64_t *", spans.ctypes.data) if spans is not None else null
    failed = be.run_schedule(
        plan.c_fns + start,
        plan.c_calls + start,
        n,
        sch.npred,
        sch.succ_start,
        sch.succ,
        sch.cost,
        t,
        c_spans,
        status,
    )
    if spans is not None:
        steps = plan.call_steps
        for i, (t0, t1, th, share) in enumerate(spans.tolist()):
            if t1:  # calls after a failure never ran
                trace.append((steps[start + i], t0, t1, th, share))
    if failed >= 0:
        raise _fail(plan, start + failed, status[0])


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
