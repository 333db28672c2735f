"""How an op becomes kernel calls: strided views over abstract buffers.

An op's `lower(ctx)` sees concrete shapes and describes its work as calls
of ABI kernels on `View`s: strided windows into its inputs, outputs,
plan constants or scratch buffers. Transposes, slices, broadcasts and tiles
are just views, so one copy kernel serves them all. The planner later binds
each view's buffer to an address; nothing here touches memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from staticflow.framework import backend as _backend
from staticflow.framework import dtypes, sizes
from staticflow.ops import abi, registry

MAX_DIMS = abi.SF_MAX_DIMS  # the most dims a kernel takes


def contiguous_strides(shape) -> tuple[int, ...]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(int(n), 1)
    return tuple(reversed(strides))


@dataclass(frozen=True)
class View:
    """A strided window (strides in elements) into buffer `src` at `offset`.

    src is ("in", i), ("out", j), ("const", k) or ("scratch", k).
    """

    src: tuple
    dtype: dtypes.DType
    shape: tuple
    strides: tuple
    offset: int = 0

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def extent(self) -> tuple[int, int] | None:
        """(lowest, highest) element offset the view touches in its buffer; None if empty."""
        if any(n == 0 for n in self.shape):
            return None
        lo = hi = self.offset
        for n, s in zip(self.shape, self.strides):
            if s > 0:
                hi += (n - 1) * s
            else:
                lo += (n - 1) * s
        return lo, hi

    def is_contiguous(self) -> bool:
        exp = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != exp:
                return False
            exp *= n
        return True

    def with_(self, shape, strides, offset=None) -> View:
        return View(
            self.src,
            self.dtype,
            tuple(map(int, shape)),
            tuple(map(int, strides)),
            self.offset if offset is None else int(offset),
        )

    def reshape(self, shape) -> View:
        """The same elements in a new shape (a contiguous view; same element count)."""
        if not self.is_contiguous():
            raise ValueError("reshape of a non-contiguous view")
        shape = tuple(map(int, shape))
        n = sizes.num_elements(shape, "view shape")
        if n != self.size:
            raise ValueError(f"cannot view {self.size} elements of shape {self.shape} as shape {shape} ({n})")
        return self.with_(shape, contiguous_strides(shape))

    def transpose(self, perm) -> View:
        return self.with_([self.shape[p] for p in perm], [self.strides[p] for p in perm])

    def broadcast_to(self, shape) -> View:
        """NumPy broadcasting as 0 strides; shape must be broadcast-compatible."""
        shape = tuple(map(int, shape))
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"cannot broadcast {self.shape} to {shape}")
        strides = [0] * lead
        for i, (n, s) in enumerate(zip(self.shape, self.strides)):
            tgt = shape[lead + i]
            if n == tgt:
                strides.append(s if n != 1 else 0)
            elif n == 1:
                strides.append(0)
            else:
                raise ValueError(f"cannot broadcast {self.shape} to {shape}")
        return self.with_(shape, strides)

    def slice(self, begin, size, step=None) -> View:
        """Window from index `begin` with `size` elements per dim, every `step`-th."""
        step = step or [1] * self.ndim
        off = self.offset + sum(b * s for b, s in zip(begin, self.strides))
        return self.with_(size, [s * k for s, k in zip(self.strides, step)], off)

    def insert_axis(self, axis: int) -> View:
        shape, strides = list(self.shape), list(self.strides)
        shape.insert(axis, 1)
        strides.insert(axis, 0)
        return self.with_(shape, strides)


def narrow_tiling(rows: int, width: int, lo: int = 64, hi: int = 256) -> int | None:
    """How many rows of a [rows, width] array to treat as one, so that a kernel whose
    inner loop runs along a row gets rows of lo..hi elements instead of a few.

    Rows as short as a layer's channel count (6, 16) cost a kernel more in loop
    overhead than in arithmetic; k rows side by side make one row of k * width,
    with a per-channel operand tiled k times. Returns the largest k with
    k * width <= hi that divides rows, if k * width >= lo; else None (rows
    already long, or no divisor fits)."""
    if width < 1 or width >= lo or rows < 2:
        return None
    for k in range(min(hi // width, rows), 1, -1):
        if rows % k == 0:
            return k if k * width >= lo else None
    return None


def coalesce(views: list[View]) -> list[View]:
    """Drop size-1 dims and merge dims that are contiguous in every view.

    All views must have one shape; the result is the same elements in the same
    order, with as few dims as possible (so kernels loop over fewer dims).
    """
    shape = views[0].shape
    keep = [d for d in range(len(shape)) if shape[d] != 1]
    if any(n == 0 for n in shape):
        return [v.with_((0,), (1,)) for v in views]
    dims = [[shape[d] for d in keep]]
    strides = [[v.strides[d] for d in keep] for v in views]
    out_shape, out_strides = [], [[] for _ in views]
    for i, n in enumerate(dims[0]):
        if out_shape and all(st[-1] == s[i] * n for st, s in zip(out_strides, strides)):
            out_shape[-1] *= n
            for st, s in zip(out_strides, strides):
                st[-1] = s[i]
            continue
        out_shape.append(n)
        for st, s in zip(out_strides, strides):
            st.append(s[i])
    return [v.with_(out_shape, st) for v, st in zip(views, out_strides)]


@dataclass
class KernelCall:
    """One call of an ABI kernel: its symbol, input and output views, attribute values
    (positions named in kernels/include/staticflow.h, see ops/abi.py). A kernel's working
    memory is a scratch buffer among its inputs (LowerContext.scratch_buffer)."""

    symbol: str
    ins: list[View]
    outs: list[View]
    iattr: tuple = ()
    fattr: tuple = ()
    fn: int | None = None  # the address of a kernel generated at plan time (symbol is its name)
    # multiply-adds the call does (a product, a convolution), 0 where its bytes are its cost:
    # what the scheduled executor weighs calls by when they share threads (schedule.py)
    work: int = 0


def product_work(out, a, transpose_a) -> int:
    """Multiply-adds of a (batched) matrix product into `out` whose left operand is `a`
    (transposed when `transpose_a`): out's elements times the inner dimension (KernelCall.work)."""
    return out.size * a.shape[-2 if transpose_a else -1]


@dataclass
class HostCall:
    """A Python callback between kernel calls: `fn(op, ins, outs)` gets its input views as
    read-only NumPy arrays (writable for the inputs listed in `writes`, variables the op
    updates) and its output views as writable arrays."""

    fn: object
    ins: list[View]
    outs: list = field(default_factory=list)
    writes: tuple = ()


@dataclass
class LowerContext:
    """Everything a lowering function knows about one op at planning time."""

    opdef: registry.OpDef
    name: str
    attrs: dict
    in_shapes: list[tuple]
    in_dtypes: list[dtypes.DType]
    out_shapes: list[tuple]
    out_dtypes: list[dtypes.DType]
    values: list  # host values of inputs (np arrays) or None
    calls: list[KernelCall] = field(default_factory=list)
    aliases: dict[int, int] = field(default_factory=dict)
    consts: list[np.ndarray] = field(default_factory=list)
    scratch: list[tuple] = field(default_factory=list)
    # the session's ResourceStore (queues, iterators, readers), for the host calls of ops that
    # use or change them; None when planning outside a session
    resources: object = None
    # the node's device backend (framework.backend.Backend): thread count, vector width and
    # generated kernels; None: the default device's
    backend: object = None
    # fn(func_graph, concrete input shapes) -> a FunctionRunner: the function's nested plan
    # for those shapes, made by the runtime (ops that call functions: If, While); None when
    # planning without one
    functions: object = None
    # what planning knows of the list values among its inputs and outputs (ListSpecs, None
    # where nothing is known): ops that call functions pass them to their plans
    in_specs: list = field(default_factory=list)
    out_specs: list = field(default_factory=list)

    def __post_init__(self):
        if self.backend is None:
            self.backend = _backend.default()

    def inp(self, i: int) -> View:
        shape = self.in_shapes[i]
        return View(("in", i), self.in_dtypes[i], tuple(shape), contiguous_strides(shape))

    def out(self, j: int) -> View:
        shape = self.out_shapes[j]
        return View(("out", j), self.out_dtypes[j], tuple(shape), contiguous_strides(shape))

    def const(self, value, dtype: dtypes.DType) -> View:
        arr = np.asarray(value, dtype=dtype.np, order="C")
        self.consts.append(arr)
        return View(("const", len(self.consts) - 1), dtype, arr.shape, contiguous_strides(arr.shape))

    def scratch_buffer(self, shape, dtype: dtypes.DType) -> View:
        self.scratch.append((tuple(shape), dtype))
        return View(("scratch", len(self.scratch) - 1), dtype, tuple(shape), contiguous_strides(shape))

    def state(self) -> View:
        """The op's persistent stream state in its session: int64 [seed, seed2, counter]."""
        return View(("state", 0), dtypes.int64, (3,), (1,))

    def host(self, fn, ins, outs=(), writes=()) -> None:
        """Run Python `fn(op, in_arrays, out_arrays)` on these views at this point of the run
        (printing, callbacks, string processing)."""
        ins, outs = list(ins), list(outs)
        for v in ins + outs:
            self.check_view(v, "host call")
        self.calls.append(HostCall(fn, ins, outs, tuple(writes)))

    def reference(self, writes=()) -> None:
        """Lower to one host call of the op's NumPy reference, writing every output: how ops
        on strings and host-kernel ops run. `writes` are the inputs it updates in place."""
        opdef, attrs, shapes = self.opdef, self.attrs, self.out_shapes

        def run(op, ins, outs):
            from staticflow.ops import builder

            values = builder.run_reference(opdef, list(ins), attrs)
            for j, (o, v) in enumerate(zip(outs, values)):
                if v.shape != tuple(shapes[j]):
                    raise ValueError(
                        f"output {j} has shape {v.shape} at run time, but the plan made room for "
                        f"{tuple(shapes[j])}"
                    )
                o[...] = v

        self.host(run, [self.inp(i) for i in range(len(self.in_shapes))],
                  [self.out(j) for j in range(len(self.out_shapes))], writes)

    def buffer_bytes(self, src: tuple) -> int:
        """Bytes of the buffer a view's `src` names (inputs and outputs as planned)."""
        kind, i = src
        if kind == "in":
            return sizes.num_elements(self.in_shapes[i]) * self.in_dtypes[i].np.itemsize
        if kind == "out":
            return sizes.num_elements(self.out_shapes[i]) * self.out_dtypes[i].np.itemsize
        if kind == "const":
            return int(self.consts[i].nbytes)
        if kind == "scratch":
            shape, dt = self.scratch[i]
            return sizes.num_elements(shape) * dt.np.itemsize
        if kind == "state":
            return 3 * dtypes.int64.size
        raise ValueError(f"unknown buffer {src!r}")

    def check_view(self, v: View, what: str) -> None:
        """A view handed to a kernel lies inside its buffer, with at most MAX_DIMS dims.

        Every lowering's views pass here, so no kernel is ever pointed outside the
        memory of a tensor, whatever shapes or values a graph or a feed brought."""
        if v.ndim > MAX_DIMS:
            raise ValueError(
                f"{what} needs a view of {v.ndim} dims {v.shape}; kernels take at most {MAX_DIMS}"
            )
        if len(v.strides) != v.ndim or any(n < 0 for n in v.shape):
            raise ValueError(f"{what}: malformed view of shape {v.shape} and strides {v.strides}")
        ext = v.extent()
        if ext is None:
            return
        lo, hi = ext
        have = self.buffer_bytes(v.src)
        if lo < 0 or (hi + 1) * v.dtype.np.itemsize > have:
            raise ValueError(
                f"{what} would reach elements {lo}..{hi} of {v.dtype.name} in its {v.src[0]} buffer "
                f"{v.src[1]}, which holds {have} bytes (view shape {v.shape}, strides {v.strides}, "
                f"offset {v.offset})"
            )

    def kernel(self, base: str, *dts: dtypes.DType) -> str:
        sym = registry.kernel_name(base, *(dts or (self.in_dtypes[0],)))
        if sym not in self.opdef.kernels:
            raise RuntimeError(f"op {self.opdef.name} lowers to {sym}, which it does not declare in kernels")
        return sym

    def call(self, symbol: str, ins, outs, iattr=(), fattr=(), work: int = 0) -> None:
        if symbol not in self.opdef.kernels:
            raise RuntimeError(f"op {self.opdef.name} calls {symbol}, which it does not declare in kernels")
        ins, outs = list(ins), list(outs)
        for k, v in enumerate(ins):
            self.check_view(v, f"input {k} of {symbol}")
        for k, v in enumerate(outs):
            self.check_view(v, f"output {k} of {symbol}")
        self.calls.append(KernelCall(symbol, ins, outs, tuple(iattr), tuple(fattr), work=int(work)))

    def call_generated(self, symbol: str, address: int, ins, outs, iattr=(), fattr=()) -> None:
        """A call of a kernel generated while planning (not in the library's table): the
        plan's record takes its function pointer."""
        self.calls.append(KernelCall(symbol, list(ins), list(outs), tuple(iattr), tuple(fattr), address))

    def alias(self, out_index: int, in_index: int) -> None:
        """Output `out_index` is input `in_index`'s buffer (same bytes, no copy)."""
        need = self.buffer_bytes(("out", out_index))
        have = self.buffer_bytes(("in", in_index))
        if need > have:
            raise ValueError(
                f"output {out_index} of shape {tuple(self.out_shapes[out_index])} needs {need} bytes, "
                f"but input {in_index} of shape {tuple(self.in_shapes[in_index])} holds {have}"
            )
        self.aliases[out_index] = in_index

    def unwritten_outputs(self) -> list[int]:
        """Outputs with elements that neither a call writes nor an alias provides.

        A kernel's output lives in the arena, which holds other tensors' bytes before
        and after: an output no call writes would hand them out."""
        written = {v.src[1] for c in self.calls for v in c.outs if v.src[0] == "out"}
        return [
            j
            for j, shape in enumerate(self.out_shapes)
            if shape is not None
            and sizes.num_elements(shape)
            and j not in self.aliases
            and j not in written
        ]

    def copy(self, src: View, dst: View) -> None:
        """Copy view src into view dst (same shape), skipping empty copies."""
        if src.shape != dst.shape:
            raise ValueError(f"copy between shapes {src.shape} and {dst.shape}")
        if dst.size == 0:
            return
        s, d = coalesce([src, dst])
        self.call(registry.kernel_name("copy", dst.dtype), [s], [d])

    def elementwise(self, base: str, dtype: dtypes.DType | None = None, iattr=(), fattr=()) -> None:
        """One kernel over all inputs broadcast to output 0's shape."""
        out = self.out(0)
        if out.size == 0:
            return
        ins = [self.inp(i).broadcast_to(out.shape) for i in range(len(self.in_shapes))]
        views = coalesce(ins + [out])
        sym = registry.kernel_name(base, dtype or self.in_dtypes[0])
        self.call(sym, views[:-1], views[-1:], iattr, fattr)


COPY_DTYPES = dtypes.FIXED_SIZE
COPY_KERNELS = registry.kernels_for(["copy"], COPY_DTYPES)
