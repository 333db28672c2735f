"""The CUDA GPU as a device of the runtime: `framework.backend.Backend` over backends/cuda.py.

Registered (device type "GPU") by `probe`, which the backend registry runs the first time
devices are asked about, only where `cuda.available()`: the CUDA library is built and the
driver sees a GPU. Without one nothing registers and staticflow runs on the CPU alone.

- kernels: the CUDA library's table; lowering names kernels by the ABI's CPU names
  (sf_cpu_<op>_<dtype>), which map to sf_cuda_<op>_<dtype>; a missing one means placement
  keeps the op on the CPU (soft placement) or refuses the plan;
- memory: cudaMalloc'd blocks (a plan's arena and constants in one, variables and random
  states one each), freed with their owner;
- copies: the transfer kernels (UPLOAD/DOWNLOAD, which copy nodes call through the ABI)
  are the library's `sf_cuda_upload`/`sf_cuda_download`, C kernels like the others: a
  cudaMemcpyAsync on call->stream, asynchronous where the host side is pinned memory (a
  plan's staging of its fed and fetched tensors, `allocate_host`: cudaMallocHost) and, as
  CUDA defines it for pageable memory, done with the host side when the call returns
  otherwise; `copy_in`/`copy_out` (variables, constants, savers) copy on the stream and
  wait for it;
- streams: one per session (`new_stream`: cudaStreamCreateWithFlags, non-blocking), every
  kernel and copy of its plans on it; a plan's run waits for it once (`synchronize`:
  cudaStreamSynchronize) before its fetches are handed out. A closed session's stream is
  kept for the next session (`free_stream`), not destroyed: the matmul and conv kernels
  keep a cuBLAS and a cuDNN handle per stream (a bounded table), so the process makes as
  many streams as it has sessions open at once, not one per session ever made;
- events (traced runs only): cudaEventRecord around each device step, cudaEventElapsedTime
  after the run's synchronize;
- the executor: the host's (sf_run_plan): a CUDA kernel entry is a host function that
  launches on call->stream, so one walk of a plan's calls queues the device's kernels in
  order between the copies.
"""

from __future__ import annotations

import threading

import numpy as np

from staticflow.backends import cpu, cuda
from staticflow.framework import backend

_H2D, _D2H = 1, 2


class CudaDevice(cpu.HostExecutor):
    """The CUDA library's GPU (see the module doc)."""

    device_type = "GPU"
    one_stream = True  # the session's stream: calls in the plan's order
    device_name = backend.full_name("GPU", 0)
    host_memory = False
    listed = True
    ffi = cpu.ffi  # the executor's records (the host's ABI types)

    def __init__(self) -> None:
        self._ffi, self._lib = cuda.library()
        self._table = cuda.kernel_table()
        self._transfers: dict[str, object] = {}
        self._msg = self._ffi.new("char[]", 256)
        self._idle_streams: list[int] = []  # streams of closed sessions, for the next ones
        self._streams_lock = threading.Lock()
        n = self._lib.sf_cuda_device_count(self._msg, 256)
        self._count = max(int(n), 0)

    # --- kernels ----------------------------------------------------------------------------
    @staticmethod
    def _symbol(symbol: str) -> str:
        return "sf_cuda_" + symbol[len("sf_cpu_"):] if symbol.startswith("sf_cpu_") else symbol

    def has_kernel(self, symbol: str) -> bool:
        return symbol in (backend.UPLOAD, backend.DOWNLOAD) or self._symbol(symbol) in self._table

    def kernel(self, symbol: str):
        if symbol in (backend.UPLOAD, backend.DOWNLOAD):
            fn = self._transfers.get(symbol)
            if fn is None:
                fn = self._transfers[symbol] = self._transfer(symbol == backend.UPLOAD)
            return fn
        fn = self._table.get(self._symbol(symbol))
        if fn is None:
            raise KeyError(f"the CUDA kernel library has no kernel {self._symbol(symbol)!r}")
        # the same C function pointer, as the executor's FFI types it
        return cpu.ffi.cast("sf_kernel", int(self._ffi.cast("intptr_t", fn)))

    def kernel_table(self) -> dict[str, object]:
        return {name: self.kernel(name) for name in self._table}

    def _transfer(self, upload: bool):
        fn = self._lib.sf_cuda_upload if upload else self._lib.sf_cuda_download
        return cpu.ffi.cast("sf_kernel", int(self._ffi.cast("intptr_t", fn)))

    # --- memory -------------------------------------------------------------------------------
    def device_count(self) -> int:
        return self._count

    def _check(self, rc: int, what: str) -> None:
        """A failed entry as an error: MemoryError for an allocation, RuntimeError otherwise."""
        if rc != 0:
            exc = MemoryError if what in ("cudaMalloc", "cudaMallocHost") else RuntimeError
            raise exc(f"{what} on the GPU: {self._ffi.string(self._msg).decode(errors='replace')}")

    def allocate(self, nbytes: int) -> int:
        ptr = self._ffi.new("void **")
        self._check(self._lib.sf_cuda_malloc(ptr, max(int(nbytes), 1), self._msg, 256), "cudaMalloc")
        return int(self._ffi.cast("intptr_t", ptr[0]))

    def free(self, ptr: int) -> None:
        self._lib.sf_cuda_free(self._ffi.cast("void *", ptr), self._msg, 256)

    def _ptr(self, stream):
        """A stream as the library takes it (streams travel as addresses; None: the default)."""
        if stream is None:
            return self._ffi.NULL
        if not isinstance(stream, int):
            stream = int(cpu.ffi.cast("intptr_t", stream))
        return self._ffi.cast("void *", stream)

    def copy_in(self, dst: int, src, stream=None) -> None:
        src = np.ascontiguousarray(src)
        if src.nbytes:
            s = self._ptr(stream)
            rc = self._lib.sf_cuda_memcpy_async(
                self._ffi.cast("void *", dst), self._ffi.from_buffer(src), src.nbytes, _H2D, s, self._msg, 256
            )
            self._check(rc, "copy to the device")
            self._check(self._lib.sf_cuda_stream_synchronize(s, self._msg, 256), "copy to the device")

    def copy_out(self, dst, src: int, stream=None) -> None:
        if dst.nbytes:
            s = self._ptr(stream)
            rc = self._lib.sf_cuda_memcpy_async(
                self._ffi.from_buffer(dst), self._ffi.cast("void *", src), dst.nbytes, _D2H, s, self._msg, 256
            )
            self._check(rc, "copy from the device")
            self._check(self._lib.sf_cuda_stream_synchronize(s, self._msg, 256), "copy from the device")

    def new_stream(self):
        with self._streams_lock:
            if self._idle_streams:
                return cpu.ffi.cast("void *", self._idle_streams.pop())
        st = self._ffi.new("void **")
        self._check(self._lib.sf_cuda_stream_create(st, self._msg, 256), "cudaStreamCreate")
        return cpu.ffi.cast("void *", int(self._ffi.cast("intptr_t", st[0])))

    def free_stream(self, stream) -> None:
        """Keep a closed session's stream for the next session (see the module doc); its
        queued work completes before the next session's, in the stream's order."""
        address = int(self._ffi.cast("intptr_t", self._ptr(stream)))
        if address:
            with self._streams_lock:
                self._idle_streams.append(address)

    def synchronize(self, stream=None) -> None:
        if stream is None:
            self._check(self._lib.sf_cuda_synchronize(self._msg, 256), "synchronize")
        else:
            rc = self._lib.sf_cuda_stream_synchronize(self._ptr(stream), self._msg, 256)
            self._check(rc, "synchronize")

    def allocate_host(self, nbytes: int) -> int:
        ptr = self._ffi.new("void **")
        self._check(self._lib.sf_cuda_host_alloc(ptr, max(int(nbytes), 1), self._msg, 256), "cudaMallocHost")
        return int(self._ffi.cast("intptr_t", ptr[0]))

    def free_host(self, ptr: int) -> None:
        self._lib.sf_cuda_host_free(self._ffi.cast("void *", ptr), self._msg, 256)

    def new_event(self):
        ev = self._ffi.new("void **")
        self._check(self._lib.sf_cuda_event_create(ev, self._msg, 256), "cudaEventCreate")
        return ev[0]

    def record_event(self, event, stream=None) -> None:
        rc = self._lib.sf_cuda_event_record(event, self._ptr(stream), self._msg, 256)
        self._check(rc, "cudaEventRecord")

    def elapsed_ms(self, start, end) -> float:
        ms = self._ffi.new("float *")
        self._check(self._lib.sf_cuda_event_elapsed(ms, start, end, self._msg, 256), "cudaEventElapsedTime")
        return float(ms[0])

    def free_event(self, event) -> None:
        self._lib.sf_cuda_event_destroy(event, self._msg, 256)

    def can_generate(self) -> bool:
        """Whether NVRTC, the driver and the launcher can make fused kernels here."""
        from staticflow.backends import cuda_fused

        return cuda_fused.default_loader(0).unavailable() is None

    def lower_fused(self, ctx, group) -> bool:
        from staticflow.backends import cuda_fused

        return cuda_fused.lower(ctx, group, device=0)


def probe() -> None:
    """Register the GPU where the CUDA library can run here (cheap where it cannot: the
    file and driver checks come first)."""
    # the driver first: without one the library (tens of ms to open) is never loaded
    if not cuda.LIBRARY.is_file() or not cuda._driver_loads() or cuda.unavailable_reason() is not None:
        return
    backend.register(CudaDevice())
