"""A simulated GPU: the host side of the device path, tested on machines without one.

`install()` registers a `SimulatedDevice` as the backend of device type "GPU" (and
`uninstall()` removes it); nothing registers it otherwise, so `sf.test.is_gpu_available()`
and the device listings never see it unless a test asks. It implements the whole device
interface of `framework.backend.Backend` the way the CUDA backend does, with the CPU
kernels as its kernel library:

- its memory is separately allocated "device" memory: plan arenas, variables, random
  states and constants of device nodes live there, never in the host's NumPy arrays;
- every kernel it hands out is the CPU kernel wrapped in a check that each tensor record
  of the call lies inside device memory it allocated: a kernel given a host pointer (a
  missing copy) fails with an error naming the kernel and the tensor instead of reading
  host memory, as it would fault on a GPU;
- the transfer kernels (UPLOAD / DOWNLOAD) and `copy_in` / `copy_out` count uploads,
  downloads and their bytes, and check that one side is host memory and the other the
  device's;
- every launch and transfer is appended to `log` with the stream it ran on, so tests can
  check the order the copies impose on the kernels;
- streams and events as on a GPU: a transfer whose host side is pinned staging memory
  (`allocate_host`, separately allocated and counted) is asynchronous: it is queued on its
  stream and done only when a later launch, event or copy on that stream, or a
  `synchronize` of it, comes (so a plan that handed out a fetch before synchronizing would
  hand out the staging buffer's garbage); transfers from pageable memory are done at once.
  Events read the device's own clock, which advances by the time each launch and transfer
  takes (plus 1 us, so that no step takes no time). `counters` counts pinned allocations,
  asynchronous copies, synchronizes, events and streams.

`kernels` restricts the library to the CPU kernels a predicate accepts (to test soft
placement: an op without a "GPU" kernel); the default is every CPU kernel.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from staticflow.backends import cpu
from staticflow.framework import backend
from staticflow.framework import dtypes as _dtypes

ffi = cpu.ffi

_ITEMSIZE = {d.as_datatype_enum: d.np.itemsize for d in _dtypes.FIXED_SIZE}
_SF_ERR_INTERNAL = 13
_ALIGN = 256  # as cudaMalloc's


@dataclass
class Counters:
    """Transfers and allocations of a simulated device since `reset`."""

    uploads: int = 0
    downloads: int = 0
    upload_bytes: int = 0
    download_bytes: int = 0
    allocations: int = 0
    frees: int = 0
    launches: int = 0
    pinned_allocations: int = 0  # allocate_host
    pinned_frees: int = 0
    async_copies: int = 0  # transfers from or to pinned memory, queued on their stream
    synchronizes: int = 0
    events: int = 0  # events recorded
    streams: int = 0  # streams made
    streams_freed: int = 0


@dataclass
class SimulatedDevice(cpu.HostExecutor):
    """A "GPU" backend running the CPU kernels on memory of its own (see the module doc)."""

    kernels: Callable[[str], bool] | None = None  # which CPU kernel symbols it has; None: all
    count: int = 1  # devices of the type (GPU:0 .. GPU:count-1 share this memory)
    device_type: str = "GPU"
    one_stream = True  # one stream: calls in the plan's order
    counters: Counters = field(default_factory=Counters)
    log: list = field(default_factory=list)  # (stream id, "launch" | "upload" | "download", symbol)
    listed: bool = False  # shown by device listings and is_gpu_available (as a real GPU would be)

    host_memory = False
    ffi = ffi

    def __post_init__(self) -> None:
        self.device_name = backend.full_name(self.device_type, 0)
        self._blocks: dict[int, np.ndarray] = {}  # start address -> its storage
        self._starts: list[int] = []  # sorted start addresses
        self._wrapped: dict[str, object] = {}  # symbol -> the checking callback (kept alive)
        self._streams = itertools.count(1)
        self._pinned: dict[int, np.ndarray] = {}  # start address -> pinned host storage
        self._pending: dict[int, list] = {}  # stream id -> queued copies, in order
        self._clock_ns = 0  # the device's clock (events read it)
        self._events: dict[int, int | None] = {}  # event id -> clock when recorded
        self._event_ids = itertools.count(1)

    # --- memory -------------------------------------------------------------------------
    def allocate(self, nbytes: int) -> int:
        raw = np.empty(max(int(nbytes), 1) + _ALIGN, np.uint8)
        ptr = raw.ctypes.data + (-raw.ctypes.data) % _ALIGN
        raw[:] = 0xA5  # fresh device memory holds garbage, not zeros
        self._blocks[ptr] = raw
        bisect.insort(self._starts, ptr)
        self.counters.allocations += 1
        return ptr

    def free(self, ptr: int) -> None:
        if self._blocks.pop(ptr, None) is not None:
            self._starts.remove(ptr)
            self.counters.frees += 1

    def owns(self, lo: int, hi: int) -> bool:
        """Whether bytes [lo, hi) lie inside one allocation of this device."""
        i = bisect.bisect_right(self._starts, lo) - 1
        if i < 0:
            return False
        start = self._starts[i]
        raw = self._blocks[start]
        end = raw.ctypes.data + raw.nbytes
        return lo >= start and hi <= end

    @property
    def bytes_allocated(self) -> int:
        return sum(b.nbytes - _ALIGN for b in self._blocks.values())

    def allocate_host(self, nbytes: int) -> int:
        raw = np.empty(max(int(nbytes), 1) + _ALIGN, np.uint8)
        ptr = raw.ctypes.data + (-raw.ctypes.data) % _ALIGN
        raw[:] = 0xA5  # garbage, as fresh memory holds
        self._pinned[ptr] = raw
        self.counters.pinned_allocations += 1
        return ptr

    def free_host(self, ptr: int) -> None:
        if self._pinned.pop(ptr, None) is not None:
            self.counters.pinned_frees += 1

    def is_pinned(self, lo: int, hi: int) -> bool:
        """Whether bytes [lo, hi) lie inside one pinned host allocation of this device."""
        for start, raw in self._pinned.items():
            if start <= lo and hi <= raw.ctypes.data + raw.nbytes:
                return True
        return False

    @property
    def pinned_bytes(self) -> int:
        return sum(b.nbytes - _ALIGN for b in self._pinned.values())

    def _flush(self, sid: int) -> None:
        """Do the copies queued on stream `sid`, in order (its later work waits for them)."""
        queue = self._pending.pop(sid, None)
        for copy in queue or ():
            copy()

    def _timed(self, fn):
        t0 = time.perf_counter_ns()
        out = fn()
        self._clock_ns += time.perf_counter_ns() - t0 + 1000
        return out

    def copy_in(self, dst: int, src, stream=None) -> None:
        self._flush(self._stream_id(stream))
        src = np.ascontiguousarray(src)
        if src.nbytes and not self.owns(dst, dst + src.nbytes):
            raise ValueError("copy_in: the destination is not memory of the simulated device")
        self.counters.uploads += 1
        self.counters.upload_bytes += src.nbytes
        self.log.append((self._stream_id(stream), "upload", "copy_in"))
        if src.nbytes:
            ffi.memmove(ffi.cast("void *", dst), ffi.from_buffer(src), src.nbytes)

    def copy_out(self, dst, src: int, stream=None) -> None:
        self._flush(self._stream_id(stream))
        if dst.nbytes and not self.owns(src, src + dst.nbytes):
            raise ValueError("copy_out: the source is not memory of the simulated device")
        self.counters.downloads += 1
        self.counters.download_bytes += dst.nbytes
        self.log.append((self._stream_id(stream), "download", "copy_out"))
        if dst.nbytes:
            ffi.memmove(ffi.from_buffer(dst), ffi.cast("void *", src), dst.nbytes)

    def new_stream(self):
        self.counters.streams += 1
        return ffi.cast("void *", next(self._streams))

    def free_stream(self, stream) -> None:
        self._flush(self._stream_id(stream))
        self.counters.streams_freed += 1

    def synchronize(self, stream=None) -> None:
        """Wait for `stream` (every stream when None): its queued copies are done."""
        self.counters.synchronizes += 1
        for sid in [self._stream_id(stream)] if stream is not None else list(self._pending):
            self._flush(sid)

    def new_event(self):
        e = next(self._event_ids)
        self._events[e] = None
        return e

    def record_event(self, event, stream=None) -> None:
        self._flush(self._stream_id(stream))
        self._events[event] = self._clock_ns
        self.counters.events += 1

    def elapsed_ms(self, start, end) -> float:
        t0, t1 = self._events[start], self._events[end]
        if t0 is None or t1 is None:
            raise ValueError("elapsed_ms: an event was not recorded")
        return (t1 - t0) / 1e6

    def free_event(self, event) -> None:
        self._events.pop(event, None)

    @staticmethod
    def _stream_id(stream) -> int:
        return 0 if stream is None or stream == ffi.NULL else int(ffi.cast("intptr_t", stream))

    def reset(self) -> None:
        """Zero the counters and clear the log."""
        self.counters = Counters()
        self.log.clear()

    # --- kernels ------------------------------------------------------------------------
    def device_count(self) -> int:
        return self.count

    def has_kernel(self, symbol: str) -> bool:
        if symbol in (backend.UPLOAD, backend.DOWNLOAD):
            return True
        return symbol in cpu.kernel_table() and (self.kernels is None or bool(self.kernels(symbol)))

    def kernel(self, symbol: str):
        fn = self._wrapped.get(symbol)
        if fn is None:
            if symbol == backend.UPLOAD:
                fn = self._transfer(upload=True)
            elif symbol == backend.DOWNLOAD:
                fn = self._transfer(upload=False)
            elif self.has_kernel(symbol):
                fn = self._checked(symbol, cpu.kernel(symbol))
            else:
                raise KeyError(f"the simulated {self.device_type} device has no kernel {symbol!r}")
            self._wrapped[symbol] = fn
        return fn

    def kernel_table(self) -> dict[str, object]:
        return {s: self.kernel(s) for s in cpu.kernel_table() if self.has_kernel(s)}

    def _span(self, rec) -> tuple[int, int]:
        """Bytes [lo, hi) a tensor record's strided view covers (empty: lo == hi)."""
        item = _ITEMSIZE.get(rec.dtype, 1)
        lo = hi = int(ffi.cast("intptr_t", rec.data))
        if any(rec.shape[i] == 0 for i in range(rec.ndim)):
            return lo, lo
        for i in range(rec.ndim):
            ext = (rec.shape[i] - 1) * rec.strides[i] * item
            if ext < 0:
                lo += ext
            else:
                hi += ext
        return lo, hi + item

    def _bad_record(self, call) -> str | None:
        """The first tensor of a call outside this device's memory, named, or None."""
        for kind, recs, n in (("input", getattr(call, "in"), call.n_in), ("output", call.out, call.n_out)):
            for i in range(n):
                lo, hi = self._span(recs[i])
                if hi > lo and not self.owns(lo, hi):
                    return f"{kind} {i}"
        return None

    def _fail(self, call, text: str) -> int:
        msg = text.encode()[: ffi.sizeof(call.msg) - 1]
        ffi.memmove(call.msg, msg + b"\0", len(msg) + 1)
        return _SF_ERR_INTERNAL

    def _checked(self, symbol: str, fn):
        def run(call):
            bad = self._bad_record(call)
            if bad is not None:
                where = f"the simulated {self.device_type}"
                return self._fail(call, f"{symbol} on {where} was given a host pointer as its {bad}")
            sid = self._stream_id(call.stream)
            self._flush(sid)
            self.counters.launches += 1
            self.log.append((sid, "launch", symbol))
            return self._timed(lambda: fn(call))

        return ffi.callback("sf_kernel", run)

    def _transfer(self, upload: bool):
        name = backend.UPLOAD if upload else backend.DOWNLOAD

        def run(call):
            src, dst = getattr(call, "in")[0], call.out[0]
            (slo, shi), (dlo, dhi) = self._span(src), self._span(dst)
            n = shi - slo
            if n != dhi - dlo:
                return self._fail(call, f"{name}: {n} bytes in, {dhi - dlo} out")
            dev_lo, dev_hi, host_lo, host_hi = (dlo, dhi, slo, shi) if upload else (slo, shi, dlo, dhi)
            if n and (not self.owns(dev_lo, dev_hi) or self.owns(host_lo, host_hi)):
                return self._fail(call, f"{name}: the device side is not device memory or the host side is")
            if upload:
                self.counters.uploads += 1
                self.counters.upload_bytes += n
            else:
                self.counters.downloads += 1
                self.counters.download_bytes += n
            sid = self._stream_id(call.stream)
            self.log.append((sid, "upload" if upload else "download", name))

            def copy():
                if n:
                    self._timed(lambda: ffi.memmove(ffi.cast("void *", dlo), ffi.cast("void *", slo), n))

            if n and self.is_pinned(host_lo, host_hi):  # asynchronous: queued on the stream
                self.counters.async_copies += 1
                self._pending.setdefault(sid, []).append(copy)
            else:  # from or to pageable memory: done when the call returns
                self._flush(sid)
                copy()
            return 0

        return ffi.callback("sf_kernel", run)

    def can_generate(self) -> bool:
        return False  # generated kernels are the CPU's own code: fused groups run member by member

    def lower_fused(self, ctx, group) -> bool:
        return False


_installed: list = []  # (the simulated device, the backend it replaced or None)


def install(
    kernels: Callable[[str], bool] | None = None, count: int = 1, listed: bool = False
) -> SimulatedDevice:
    """Register a fresh simulated GPU (see the module doc); `uninstall` restores what was
    there. Sessions made after this place ops on it as on a GPU. `listed`: device listings
    and `sf.test.is_gpu_available()` report it (for tests of code that asks them)."""
    backend.registered()  # (a real GPU's backend, probed first, is what uninstall restores)
    dev = SimulatedDevice(kernels=kernels, count=count, listed=listed)
    previous = backend.unregister(dev.device_type)
    backend.register(dev)
    _installed.append((dev, previous))
    return dev


def uninstall() -> None:
    """Remove the last installed simulated GPU, restoring the backend it replaced."""
    if not _installed:
        return
    dev, previous = _installed.pop()
    backend.unregister(dev.device_type)
    if previous is not None:
        backend.register(previous)
