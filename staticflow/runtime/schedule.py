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
from staticflow.ops.lowering import HostCall


@dataclass
class SegmentSchedule:
    """One segment's dependency arrays as the C executor reads them, and its width: the
    most calls at one depth of its dependency graph (1: a chain, run in order)."""

    npred: object  # int32[n]: calls each call waits for
    succ_start: object  # int64[n + 1]
    succ: object  # int32[edges]: successors, local indices
    width: int
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
            per_depth[d] = per_depth.get(d, 0) + 1
        succ_start = np.zeros(n + 1, np.int64)
        succ_start[1:] = np.cumsum([len(s) for s in succs]) if n else []
        succ = np.array([x for s in succs for x in sorted(s)] or [0], np.int32)
        width = max(per_depth.values(), default=0)
        c_npred = ffi.cast("int32_t *", npred.ctypes.data)
        c_start = ffi.cast("int64_t *", succ_start.ctypes.data)
        c_succ = ffi.cast("int32_t *", succ.ctypes.data)
        out.append(SegmentSchedule(c_npred, c_start, c_succ, width, (npred, succ_start, succ)))
    return out
