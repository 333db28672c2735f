"""Which kernel calls of a plan must follow which: the dependencies the scheduled
executor (`sf_run_schedule`, kernels/cpu/executor.c) runs a segment's calls by.

A call must follow every earlier call that touches the same bytes when either of the two
writes them: the producer of each input (read after write), and, because the arena packs
buffers whose lifetimes do not meet into the same bytes, every reader and writer of the
earlier buffer before the writer of the later one (write after read, write after write).
Variables and random ops' stream states are storage of their own, read and written in
place, so two steps that touch the same variable or state keep the plan's order the same
way. The accesses are taken from the call records as planned (arena offsets after packing,
storage addresses), so the edges follow whatever packing chose; each call also follows the
calls of the steps its step depends on (data and control edges, `Step.deps`) and the
earlier calls of its own step. With these edges any order the scheduler picks computes
what the plan's order computes, bit for bit.

The dependencies are found once per plan, when it first runs on more than one thread.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from staticflow.compiler.build import flat_args
from staticflow.compiler.ir import FEED
from staticflow.ops.lowering import HostCall

# a call touching fewer bytes than this (inputs and outputs) is too small to be worth a
# thread of its own: handing it over costs about 0.1-0.2 us more than calling it in order.
# The executor's SF_SHARE_MIN_BYTES is the same bound: such a ready call takes no share of
# the OpenMP threads from a large call starting beside it.
SCHEDULE_MIN_BYTES = 1 << 15

# multiply-adds that take about as long as moving a byte, in a call's estimated cost (its
# bytes plus its work over this): a core does some 50 G multiply-adds a second in a product
# and moves some 10-20 GB a second. Only ratios of costs matter: the executor gives a call
# no share of the threads for a running or ready call of at most 1/8 of its cost.
WORK_PER_BYTE = 4


@dataclass
class SegmentSchedule:
    """One segment's dependency arrays as the C executor reads them, and its width: the
    most calls of at least SCHEDULE_MIN_BYTES at one depth of its dependency graph (below 2:
    a chain, or nothing worth another thread, run in order)."""

    npred: object  # int32[n]: calls each call waits for
    succ_start: object  # int64[n + 1]
    succ: object  # int32[edges]: successors, local indices
    width: int
    cost: object = None  # int64[n]: each call's estimated cost (bytes + work / WORK_PER_BYTE)
    keep: tuple = ()  # the cffi arrays' owners


class _Shadow:
    """The last writer and the readers since of every byte range of one address space:
    disjoint segments [starts[i], ends[i]) sorted by start."""

    __slots__ = ("starts", "ends", "writer", "readers")

    def __init__(self):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.writer: list[int] = []
        self.readers: list[list[int]] = []

    def _split(self, at: int) -> None:
        """Make `at` a segment boundary (if a segment spans it)."""
        i = bisect.bisect_right(self.starts, at) - 1
        if i >= 0 and self.starts[i] < at < self.ends[i]:
            self.starts.insert(i + 1, at)
            self.ends.insert(i + 1, self.ends[i])
            self.writer.insert(i + 1, self.writer[i])
            self.readers.insert(i + 1, list(self.readers[i]))
            self.ends[i] = at

    def access(self, lo: int, hi: int, k: int, write: bool, deps: set) -> None:
        """Record call k's access to [lo, hi), adding the calls it must follow to `deps`."""
        self._split(lo)
        self._split(hi)
        i = bisect.bisect_left(self.starts, lo)
        j = bisect.bisect_left(self.starts, hi)
        for s in range(i, j):
            if self.writer[s] >= 0:
                deps.add(self.writer[s])
            if write:
                deps.update(self.readers[s])
        if write:
            self.starts[i:j] = [lo]
            self.ends[i:j] = [hi]
            self.writer[i:j] = [k]
            self.readers[i:j] = [[]]
            return
        # a read: join every covered segment's readers, and fill the gaps between them
        starts, ends, writer, readers = [], [], [], []
        at = lo
        for s in range(i, j):
            if self.starts[s] > at:
                starts.append(at), ends.append(self.starts[s]), writer.append(-1), readers.append([k])
            starts.append(self.starts[s]), ends.append(self.ends[s]), writer.append(self.writer[s])
            readers.append(self.readers[s] + [k])
            at = self.ends[s]
        if at < hi:
            starts.append(at), ends.append(hi), writer.append(-1), readers.append([k])
        self.starts[i:j], self.ends[i:j], self.writer[i:j], self.readers[i:j] = starts, ends, writer, readers


def parallel_order(order: list) -> tuple[list, dict]:
    """A plan's IR nodes (`order`: producers first) sorted by the depth at which each can
    run, for a plan the scheduled executor runs, and that depth by node id.

    A node's depth is one more than the deepest node it must follow: its data and control
    inputs (nodes that make no step, such as variables, constants and feeds, impose
    nothing), the earlier writers of a variable it reads or writes and, when it writes one,
    the earlier readers, and the stateful ops before it that keep resources of their own
    (queues, readers, ...). Sorting by depth (stably: ties keep `order`) keeps every one of
    those orders, so the plan computes what `order`'s plan computes; and the arena, packed
    by depth (parallel_lifetimes), shares bytes only between buffers one of which is done
    before the other's first depth, in this order and in any schedule the executor picks
    that follows depth."""
    depth: dict[int, int] = {}
    last_write: dict[int, int] = {}  # variable node id -> depth of its last writer
    reads: dict[int, int] = {}  # variable node id -> deepest reader since that write
    last_stateful = -1
    for node in order:
        d = node.opdef
        if d is None or d.static or node.type in (FEED, "VariableV2"):
            depth[node.id] = -1  # no step
            continue
        at = 0
        for v in node.inputs:
            at = max(at, depth.get(v.node.id, -1) + 1)
        for c in node.control:
            at = max(at, depth.get(c.id, -1) + 1)
        try:
            args = flat_args(d, node.attrs)
        except (KeyError, TypeError, ValueError):
            args = []
        touched = []
        for a, v in zip(args, node.inputs):
            if v.node.type == "VariableV2":
                at = max(at, last_write.get(v.node.id, -1) + 1)
                if a.ref:
                    at = max(at, reads.get(v.node.id, -1) + 1)
                touched.append((v.node.id, bool(a.ref)))
        if d.stateful and not d.random and not touched:
            at = max(at, last_stateful + 1)
            last_stateful = at
        for vid, write in touched:
            if write:
                last_write[vid], reads[vid] = at, -1
            else:
                reads[vid] = max(reads.get(vid, -1), at)
        depth[node.id] = at
    return sorted(order, key=lambda n: depth[n.id]), depth


def parallel_lifetimes(steps: list, buffers: list, depth: list[int]) -> None:
    """Re-time the arena buffers' lifetimes, before packing, by the depth of the steps that
    use them (parallel_order; `depth` per step) instead of the steps' places: buffers used
    at one depth then get bytes of their own, so steps that may run at once never wait on
    one another for reused bytes; bytes are shared only from a shallower depth to a deeper
    one, and the write-after-read edges that brings (call_dependencies) never make a step
    wait past its depth. A fetched buffer lives past the deepest step."""
    after = max(depth, default=0) + 1
    span: dict[int, list[int]] = {}
    for i, s in enumerate(steps):
        at = depth[i]
        for c in s.calls:
            for loc, _v in (*c[1], *c[2]):
                if loc.buf.kind == "arena":
                    sp = span.get(id(loc.buf))
                    if sp is None:
                        span[id(loc.buf)] = [at, at]
                    else:
                        sp[0], sp[1] = min(sp[0], at), max(sp[1], at)
    n = len(steps)
    for b in buffers:
        sp = span.get(id(b))
        if b.kind == "arena" and sp is not None:
            b.start, b.end = sp[0], after if b.end >= n else sp[1]


def _written_inputs(step) -> set:
    """Input indices of the step's op that its kernels write (variables passed by reference)."""
    node = step.node
    if node is None or node.opdef is None:
        return set()
    try:
        args = flat_args(node.opdef, node.attrs)
    except (KeyError, TypeError, ValueError):
        return set()
    return {i for i, a in enumerate(args) if a.ref}


def _region(loc, v, arena_base: int):
    """(address space, first byte, end byte) a view of a located buffer touches; None if empty."""
    ext = v.extent()
    if ext is None:
        return None
    item = v.dtype.np.itemsize
    b = loc.buf
    if b.kind == "fetch":  # storage of its own each run: its own space
        space, base = ("fetch", id(b)), 0
    elif b.kind == "arena":
        space, base = "mem", arena_base + b.offset
    else:
        space, base = "mem", b.array.__array_interface__["data"][0]
    start = base + loc.byte_offset
    return space, start + ext[0] * item, start + (ext[1] + 1) * item


def call_dependencies(plan) -> list[set]:
    """For each kernel call of the plan (in the plan's order), the earlier calls it must
    follow (plan-wide indices)."""
    arena_base = plan.arena.__array_interface__["data"][0] if plan.arena is not None else 0
    shadows: dict = {}
    deps_of: list[set] = []
    last_calls: list[frozenset] = []  # per step: the calls a follower of it must follow
    k = 0
    for step in plan.steps:
        written = _written_inputs(step)
        follow: set = set()
        for d in step.deps:
            follow |= last_calls[d]
        prev = None
        for kc, ins, outs in step.calls:
            if isinstance(kc, HostCall):
                continue  # a segment boundary: everything before it is done first
            deps = set(follow)
            if prev is not None:
                deps.add(prev)
            accesses = []
            for loc, v in ins:
                kind, i = v.src
                w = kind in ("scratch", "state") or (kind == "in" and i in written)
                accesses.append((loc, v, w))
            accesses.extend((loc, v, True) for loc, v in outs)
            for loc, v, w in accesses:
                r = _region(loc, v, arena_base)
                if r is None:
                    continue
                sh = shadows.get(r[0])
                if sh is None:
                    sh = shadows[r[0]] = _Shadow()
                sh.access(r[1], r[2], k, w, deps)
            deps.discard(k)
            deps_of.append(deps)
            prev = k
            k += 1
        last_calls.append(frozenset((prev,)) if prev is not None else frozenset(follow))
    return deps_of


def build(plan) -> list:
    """The SegmentSchedule of each of the plan's segments (plan.segments' order)."""
    ffi = plan.backend.ffi
    deps_of = call_dependencies(plan)
    sizes = [
        (sum(v.size * v.dtype.np.itemsize for _, v in (*ins, *outs)), kc.work)
        for s in plan.steps
        for kc, ins, outs in s.calls
        if not isinstance(kc, HostCall)
    ]
    big = [b >= SCHEDULE_MIN_BYTES for b, _ in sizes]
    costs = np.array([b + w // WORK_PER_BYTE for b, w in sizes] or [0], np.int64)
    out = []
    for start, stop, _host in plan.segments:
        n = stop - start
        npred = np.zeros(max(n, 1), np.int32)
        succs: list[list[int]] = [[] for _ in range(n)]
        depth = [0] * n
        per_depth: dict[int, int] = {}
        for i in range(n):
            d = 0
            for p in deps_of[start + i]:
                if p >= start:
                    succs[p - start].append(i)
                    npred[i] += 1
                    d = max(d, depth[p - start] + 1)
            depth[i] = d
            per_depth[d] = per_depth.get(d, 0) + big[start + i]
        succ_start = np.zeros(n + 1, np.int64)
        succ_start[1:] = np.cumsum([len(s) for s in succs]) if n else []
        succ = np.array([x for s in succs for x in sorted(s)] or [0], np.int32)
        width = max(per_depth.values(), default=0)
        c_npred = ffi.cast("int32_t *", npred.ctypes.data)
        c_start = ffi.cast("int64_t *", succ_start.ctypes.data)
        c_succ = ffi.cast("int32_t *", succ.ctypes.data)
        cost = costs[start : max(stop, start + 1)].copy()
        c_cost = ffi.cast("int64_t *", cost.ctypes.data)
        out.append(SegmentSchedule(c_npred, c_start, c_succ, width, c_cost, (npred, succ_start, succ, cost)))
    return out
