"""The CUDA GPU as a device of the runtime: `framework.backend.Backend` over backends/cuda.py.

Registered (device type "GPU") by `probe`, which the backend registry runs the first time
devices are asked about, only where `cuda.available()`: the CUDA library is built and the
driver sees a GPU. Without one nothing registers and staticflow runs on the CPU alone.

- kernels: the CUDA library's table; lowering names kernels by the ABI's CPU names
  (sf_cpu_<op>_<dtype>), which map to sf_cuda_<op>_<dtype>; a missing one means placement
  keeps the op on the CPU (soft placement) or refuses the plan;
- memory: cudaMalloc'd blocks (a plan's arena and constants in one, variables and random
  states one each), freed with their owner;
- copies: `copy_in`/`copy_out` and the transfer kernels (UPLOAD/DOWNLOAD, which copy nodes
  call through the ABI) go through the library's cudaMemcpy entry, which orders them after
  the kernels queued before them and returns once the copy is done;
- the executor: the host's (sf_run_plan): a CUDA kernel entry is a host function that
  launches on call->stream, so one walk of a plan's calls queues the device's kernels in
  order between the copies.

What the library does not expose yet (kernels/cuda/table.cu): stream creation, events,
asynchronous copies and pinned host memory. Until it does, every call runs on the default
stream (`new_stream` gives NULL) and copies are synchronous from pageable memory.
"""

from __future__ import annotations

import numpy as np

from staticflow.backends import cpu, cuda
from staticflow.framework import backend

_H2D, _D2H = 1, 2
_SF_ERR_INTERNAL = 13


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
        kind = _H2D if upload else _D2H
        lib, ffi = self._lib, self._ffi

        def run(call):
            src, dst = getattr(call, "in")[0], call.out[0]
            n = 1
            for i in range(src.ndim):
                n *= src.shape[i]
            nbytes = n * np.dtype(cpu_dtype(src.dtype)).itemsize
            if nbytes == 0:
                return 0
            buf = ffi.new("char[]", 256)
            rc = lib.sf_cuda_memcpy(
                ffi.cast("void *", int(cpu.ffi.cast("intptr_t", dst.data))),
                ffi.cast("void *", int(cpu.ffi.cast("intptr_t", src.data))),
                nbytes, kind, buf, 256,
            )
            if rc != 0:
                text = ffi.string(buf)[: cpu.ffi.sizeof(call.msg) - 1]
                cpu.ffi.memmove(call.msg, text + b"\0", len(text) + 1)
                return _SF_ERR_INTERNAL
            return 0

        return cpu.ffi.callback("sf_kernel", run)

    # --- memory -------------------------------------------------------------------------------
    def device_count(self) -> int:
        return self._count

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            raise MemoryError(f"{what} on the GPU: {self._ffi.string(self._msg).decode(errors='replace')}")

    def allocate(self, nbytes: int) -> int:
        ptr = self._ffi.new("void **")
        self._check(self._lib.sf_cuda_malloc(ptr, max(int(nbytes), 1), self._msg, 256), "cudaMalloc")
        return int(self._ffi.cast("intptr_t", ptr[0]))

    def free(self, ptr: int) -> None:
        self._lib.sf_cuda_free(self._ffi.cast("void *", ptr), self._msg, 256)

    def copy_in(self, dst: int, src, stream=None) -> None:
        src = np.ascontiguousarray(src)
        if src.nbytes:
            rc = self._lib.sf_cuda_memcpy(
                self._ffi.cast("void *", dst), self._ffi.from_buffer(src), src.nbytes, _H2D, self._msg, 256
            )
            self._check(rc, "copy to the device")

    def copy_out(self, dst, src: int, stream=None) -> None:
        if dst.nbytes:
            rc = self._lib.sf_cuda_memcpy(
                self._ffi.from_buffer(dst), self._ffi.cast("void *", src), dst.nbytes, _D2H, self._msg, 256
            )
            self._check(rc, "copy from the device")

    def new_stream(self):
        return None  # the default stream (the library has no stream entry yet)

    def synchronize(self, stream=None) -> None:
        self._check(self._lib.sf_cuda_synchronize(self._msg, 256), "synchronize")

    def can_generate(self) -> bool:
        """Whether NVRTC, the driver and the launcher can make fused kernels here."""
        from staticflow.backends import cuda_fused

        return cuda_fused.default_loader(0).unavailable() is None

    def lower_fused(self, ctx, group) -> bool:
        from staticflow.backends import cuda_fused

        return cuda_fused.lower(ctx, group, device=0)


_DTYPES: dict = {}


def cpu_dtype(code: int):
    """The NumPy dtype of an ABI dtype code."""
    if not _DTYPES:
        from staticflow.framework import dtypes

        _DTYPES.update({d.as_datatype_enum: d.np for d in dtypes.FIXED_SIZE})
    return _DTYPES[code]


def probe() -> None:
    """Register the GPU where the CUDA library can run here (cheap where it cannot: the
    file and driver checks come first)."""
    # the driver first: without one the library (tens of ms to open) is never loaded
    if not cuda.LIBRARY.is_file() or not cuda._driver_loads() or cuda.unavailable_reason() is not None:
        return
    backend.register(CudaDevice())
