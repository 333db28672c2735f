"""The CUDA kernel library: loaded on request, kernel lookup by name, calls through the ABI.

The library is ``staticflow/backends/_sf_cuda.so``, built by nvcc from
``kernels/cuda/`` at install time when nvcc is present (``_build_cuda.py``). It
is opened through cffi in ABI mode, with the kernel ABI header as the cdef, only
when something asks for it (`library`, `available`, `kernel_table`): importing
staticflow never loads CUDA. The library links the CUDA runtime statically, so it
loads on machines without a driver or GPU; `available` then says why no kernel
can run.

Kernels take device pointers in their sf_tensor records. `call_kernel` is the
test and tool entry: it copies NumPy arrays (strided views included, as views of
their uploaded memory span) to the device, runs one kernel, and copies the
outputs back.
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Sequence

import numpy as np

from staticflow.framework import dtypes as _dtypes

_HERE = pathlib.Path(__file__).resolve().parent
LIBRARY = _HERE / "_sf_cuda.so"

# The library's own entries (the CPU library's cdef leaves them out: it does not define them).
_CUDA_CDEF = """
const sf_kernel_entry *sf_cuda_kernel_table(int64_t *count);
int sf_cuda_device_count(char *msg, int64_t msg_len);
int sf_cuda_malloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len);
int sf_cuda_free(void *ptr, char *msg, int64_t msg_len);
int sf_cuda_memcpy(void *dst, const void *src, int64_t nbytes, int kind, char *msg, int64_t msg_len);
int sf_cuda_synchronize(char *msg, int64_t msg_len);
int sf_cuda_add_library_dir(const char *dir);
"""

# Streams, events, pinned host memory, stream-ordered copies and the transfer kernels
# (kernels/cuda/sf_cuda_runtime.h; tests/cuda/test_runtime.py compiles these declarations
# against that header and cuda_runtime.h).
RUNTIME_CDEF = """
int sf_cuda_stream_create(void **stream, char *msg, int64_t msg_len);
int sf_cuda_stream_destroy(void *stream, char *msg, int64_t msg_len);
int sf_cuda_stream_synchronize(void *stream, char *msg, int64_t msg_len);
int sf_cuda_event_create(void **event, char *msg, int64_t msg_len);
int sf_cuda_event_record(void *event, void *stream, char *msg, int64_t msg_len);
int sf_cuda_event_elapsed(float *ms, void *start, void *end, char *msg, int64_t msg_len);
int sf_cuda_event_destroy(void *event, char *msg, int64_t msg_len);
int sf_cuda_host_alloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len);
int sf_cuda_host_free(void *ptr, char *msg, int64_t msg_len);
int sf_cuda_memcpy_async(void *dst, const void *src, int64_t nbytes, int kind, void *stream, char *msg,
                         int64_t msg_len);
int sf_cuda_upload(sf_call *call);
int sf_cuda_download(sf_call *call);
"""

_H2D, _D2H = 1, 2


class CudaUnavailable(RuntimeError):
    """The CUDA library cannot be used here; str() says why."""


class KernelError(RuntimeError):
    """A CUDA kernel returned a non-zero status; `code` is the status, str() the message."""

    def __init__(self, code: int, message: str, kernel: str = ""):
        super().__init__(message)
        self.code = code
        self.kernel = kernel


def _header() -> pathlib.Path:
    for p in (_HERE / "include" / "staticflow.h", _HERE.parents[1] / "kernels" / "include" / "staticflow.h"):
        if p.is_file():
            return p
    raise CudaUnavailable("the kernel ABI header staticflow.h is not installed")


def _cdef_text() -> str:
    """The ABI header as a cffi cdef (as the C library's build reads it), with the CUDA
    declarations."""
    from staticflow.backends._build_cpu import cdef_of

    return cdef_of(_header().read_text()) + _CUDA_CDEF + RUNTIME_CDEF


_lock = threading.Lock()
_loaded: tuple | None = None
_load_error: str | None = None


def library():
    """(ffi, lib) of the CUDA library, opened on the first call; CudaUnavailable
    when it is not built or cannot be opened."""
    global _loaded, _load_error
    with _lock:
        if _loaded is None and _load_error is None:
            if not LIBRARY.is_file():
                _load_error = ("the CUDA kernel library is not built (nvcc was not found when "
                               "staticflow was installed; install the CUDA toolkit and rerun `make install`)")
            else:
                try:
                    from cffi import FFI

                    ffi = FFI()
                    ffi.cdef(_cdef_text())
                    lib = ffi.dlopen(str(LIBRARY))
                    for d in nvidia_library_dirs():
                        lib.sf_cuda_add_library_dir(str(d).encode())
                    _loaded = (ffi, lib)
                except (OSError, ImportError) as e:
                    _load_error = f"the CUDA kernel library could not be loaded: {e}"
        if _loaded is None:
            raise CudaUnavailable(_load_error)
        return _loaded


def nvidia_library_dirs() -> list[pathlib.Path]:
    """The library directories of NVIDIA's PyPI wheels (nvidia-cublas-cu12, nvidia-cudnn-cu12,
    their CUDA 13 builds) installed beside staticflow: where the matmul and conv kernels look
    for cuBLAS and cuDNN before the system's library path."""
    import site
    import sys

    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    out: list[pathlib.Path] = []
    for root in roots:
        base = pathlib.Path(root) / "nvidia"
        for sub in ("cu13", "cublas", "cudnn"):
            d = base / sub / "lib"
            if d.is_dir() and d not in out:
                out.append(d)
    return out


def _msg(ffi, buf) -> str:
    return ffi.string(buf).decode(errors="replace")


def unavailable_reason() -> str | None:
    """None when CUDA kernels can run here (the library loads and sees a GPU), else why not."""
    try:
        ffi, lib = library()
    except CudaUnavailable as e:
        return str(e)
    if not _driver_loads():
        return "no NVIDIA driver (libcuda.so.1 cannot be loaded)"
    buf = ffi.new("char[]", 256)
    n = lib.sf_cuda_device_count(buf, 256)
    if n < 0:
        return f"no usable CUDA driver or GPU: {_msg(ffi, buf)}"
    if n == 0:
        return "the CUDA driver sees no GPU"
    return None


def _driver_loads() -> bool:
    """Whether the driver library (which the statically linked runtime opens) loads."""
    import ctypes

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def available() -> bool:
    """Whether CUDA kernels can run here; `unavailable_reason` says why not."""
    return unavailable_reason() is None


def kernel_table() -> dict[str, object]:
    """Name -> function pointer of every kernel in the CUDA library (needs no GPU)."""
    ffi, lib = library()
    count = ffi.new("int64_t *")
    entries = lib.sf_cuda_kernel_table(count)
    return {ffi.string(entries[i].name).decode(): entries[i].fn for i in range(count[0])}


# ---- device memory for call_kernel ------------------------------------------

_DTYPE_CODES = {d.np: d.as_datatype_enum for d in _dtypes.FIXED_SIZE if d is not _dtypes.bfloat16}


def _check(ffi, rc: int, buf, what: str) -> None:
    if rc != 0:
        raise CudaUnavailable(f"{what}: {_msg(ffi, buf)}")


class _Upload:
    """A NumPy array's memory span on the device, and the array as a view of it."""

    def __init__(self, a: np.ndarray):
        self.ffi, self.lib = library()
        self.a = a
        if a.size == 0:
            lo = hi = a.__array_interface__["data"][0]
        else:
            lo, hi = np.lib.array_utils.byte_bounds(a)
        self.lo, self.nbytes = lo, max(hi - lo, 1)
        self.buf = self.ffi.new("char[]", 256)
        ptr = self.ffi.new("void **")
        _check(self.ffi, self.lib.sf_cuda_malloc(ptr, self.nbytes, self.buf, 256), self.buf, "cudaMalloc")
        self.dev = ptr[0]
        if a.size:
            src = self.ffi.cast("void *", lo)
            _check(self.ffi, self.lib.sf_cuda_memcpy(self.dev, src, hi - lo, _H2D, self.buf, 256), self.buf,
                   "copy to the device")
        offset = a.__array_interface__["data"][0] - lo
        self.data = self.ffi.cast("char *", self.dev) + offset

    def download(self) -> None:
        if self.a.size:
            dst = self.ffi.cast("void *", self.lo)
            rc = self.lib.sf_cuda_memcpy(dst, self.dev, self.nbytes, _D2H, self.buf, 256)
            _check(self.ffi, rc, self.buf,
                   "copy from the device")

    def free(self) -> None:
        self.lib.sf_cuda_free(self.dev, self.buf, 256)


def _dtype_code(dtype: np.dtype) -> int:
    code = _DTYPE_CODES.get(dtype)
    if code is None and dtype.name == "bfloat16":  # ml_dtypes' type, known once such an array exists
        code = _DTYPE_CODES[dtype] = _dtypes.bfloat16.as_datatype_enum
    if code is None:
        raise KeyError(dtype)
    return code


def _record(rec, up: _Upload) -> None:
    a = up.a
    if a.ndim > 8:
        raise ValueError(f"kernels take at most 8 dims, got shape {a.shape}")
    rec.data = up.data
    rec.dtype = _dtype_code(a.dtype)
    rec.ndim = a.ndim
    for i, (n, s) in enumerate(zip(a.shape, a.strides)):
        rec.shape[i] = n
        rec.strides[i] = s // a.itemsize


def new_call(ffi, inputs: Sequence, outputs: Sequence, record, iattr: Sequence[int] = (),
             fattr: Sequence[float] = ()):
    """An sf_call over `inputs` and `outputs`, each described by `record(rec, x)` (device
    uploads, device buffers, or host arrays for a CPU build of the kernels); stream NULL.
    Returns (call, keep): `keep` holds the record arrays, alive as long as the call is used.
    The one call builder of the CUDA tests, tools and benchmarks."""
    ins = ffi.new("sf_tensor[]", max(len(inputs), 1))
    outs = ffi.new("sf_tensor[]", max(len(outputs), 1))
    for i, a in enumerate(inputs):
        record(ins[i], a)
    for i, a in enumerate(outputs):
        record(outs[i], a)
    call = ffi.new("sf_call *")
    call.n_in, call.n_out = len(inputs), len(outputs)
    setattr(call, "in", ins)
    call.out = outs
    if hasattr(call, "stream"):
        call.stream = ffi.NULL
    for i, v in enumerate(iattr):
        call.iattr[i] = int(v)
    for i, v in enumerate(fattr):
        call.fattr[i] = float(v)
    return call, (ins, outs)


def synchronize(what: str = "the device") -> None:
    """Wait for the device's work so far; a failure raises CudaUnavailable naming `what`."""
    ffi, lib = library()
    buf = ffi.new("char[]", 256)
    _check(ffi, lib.sf_cuda_synchronize(buf, 256), buf, f"{what} failed on the device")


def skip_reason(nvrtc: bool = False) -> str | None:
    """Why GPU kernels (and, with `nvrtc`, kernels generated at plan time) cannot run here,
    or None: the reason the GPU tests and benchmarks skip with."""
    why = unavailable_reason()
    if why is None and nvrtc:
        from staticflow.backends import nvrtc as _nvrtc

        why = _nvrtc.unavailable_reason()
    return why


def call_kernel(
    name: str,
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    iattr: Sequence[int] = (),
    fattr: Sequence[float] = (),
) -> None:
    """Run CUDA kernel `name` once on NumPy arrays: each array's memory span is
    copied to the device and described as the same view there; after the kernel,
    outputs and the inputs it may write (state, optimizer slots) are copied back.
    A failing kernel raises KernelError with its message. For tests and tools."""
    fn = kernel_table().get(name)
    if fn is None:
        raise KeyError(f"the CUDA kernel library has no kernel {name!r}")
    call_function(fn, name, inputs, outputs, iattr, fattr)


def call_function(fn, name: str, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                  iattr: Sequence[int] = (), fattr: Sequence[float] = ()) -> None:
    """`call_kernel` for a kernel given by its function (an `sf_kernel` pointer: a table
    entry, or the launcher of a kernel generated at plan time); `name` is for messages."""
    ffi, _lib = library()
    ups: list[_Upload] = []
    try:
        for i, a in enumerate(outputs):
            if not a.flags.writeable:
                raise ValueError(f"output {i} of {name} is read-only")
        for a in [*inputs, *outputs]:
            ups.append(_Upload(a))
        call, _keep = new_call(ffi, ups[: len(inputs)], ups[len(inputs):], _record, iattr, fattr)
        status = fn(call)
        synchronize(name)
        if status != 0:
            raise KernelError(status, _msg(ffi, call.msg), name)
        for up in ups:
            if up.a.flags.writeable:
                up.download()
    finally:
        for up in ups:
            up.free()
