"""The CPU kernel library: kernel lookup by name and calls through the ABI.

The library is `staticflow.backends._sf_cpu`, built by cffi from
``kernels/`` (see ``_build_cpu.py``). Kernels are found through the C kernel
table, so the op registry can check that every kernel it names exists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache

import numpy as np

from staticflow.framework import backend
from staticflow.framework import dtypes as _dtypes

# Idle OpenMP threads spin a short while (GOMP_SPINCOUNT iterations, about a
# millisecond here) and then sleep. Sleeping at once (OMP_WAIT_POLICY=
# PASSIVE) costs tens of microseconds to wake the team for every parallel
# kernel, many times per step; spinning without end (ACTIVE) starves other
# work when cores are shared (CI, notebooks, a second process). Every kernel,
# BLAS products included, runs on this one pool (linalg.c). Read when the
# runtime starts; users may set their own.
os.environ.setdefault("GOMP_SPINCOUNT", "30000")



# A path to another build of the kernel library (the AddressSanitizer build of
# `make asan`, which needs libasan preloaded); empty: the installed one.
KERNEL_LIBRARY_ENV = "STATICFLOW_KERNEL_LIBRARY"


def _load_from(path: str):
    """The extension module `staticflow.backends._sf_cpu` loaded from another file."""
    import importlib.machinery
    import importlib.util
    import sys

    if not os.path.isfile(path):
        raise ImportError(f"{KERNEL_LIBRARY_ENV}={path!r} is not a file")
    name = "staticflow.backends._sf_cpu"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load():
    """The kernel library (and the BLAS library it links, which loads with it).

    OpenBLAS reads its thread count when it loads. The kernels keep it at one
    thread (linalg.c), and with one it starts no worker threads at all, which
    would otherwise spin for a tenth of a second after loading. The setting is
    restored right after, so BLAS libraries loaded later (SciPy's) see the user's."""
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import scipy_openblas32  # noqa: F401  (the BLAS library the kernels link against)

        other = os.environ.get(KERNEL_LIBRARY_ENV, "").strip()
        if other:
            _sf_cpu = _load_from(other)
        else:
            from staticflow.backends import _sf_cpu
    except ImportError as e:  # pragma: no cover - only without a build
        raise ImportError(
            "staticflow's C kernel library is not built; run `pip install -e .` "
            "(or `make install`) in the source tree"
        ) from e
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    return _sf_cpu.ffi, _sf_cpu.lib


ffi, lib = _load()

MAX_DIMS = lib.SF_MAX_DIMS
MAX_ATTRS = lib.SF_MAX_ATTRS

# TensorFlow DataType enum values, as used by the ABI (bfloat16's NumPy type
# is ml_dtypes.bfloat16, as in TensorFlow: its entry is added by dtype_code once
# a bfloat16 array exists, so that importing staticflow does not load ml_dtypes)
_DTYPE_CODES = {d.np: d.as_datatype_enum for d in _dtypes.FIXED_SIZE if d is not _dtypes.bfloat16}


class KernelError(RuntimeError):
    """A kernel returned a non-zero status; `code` is the status, str() the message."""

    def __init__(self, code: int, message: str, kernel: str = ""):
        super().__init__(message)
        self.code = code
        self.kernel = kernel


@cache
def kernel_table() -> dict[str, object]:
    """Name -> function pointer of every kernel in the library."""
    count = ffi.new("int64_t *")
    entries = lib.sf_cpu_kernel_table(count)
    return {ffi.string(entries[i].name).decode(): entries[i].fn for i in range(count[0])}


def kernel(name: str):
    """The function pointer of kernel `name`; KeyError names a missing one."""
    try:
        return kernel_table()[name]
    except KeyError:
        raise KeyError(f"the CPU kernel library has no kernel {name!r}") from None


def dtype_code(dtype) -> int:
    d = np.dtype(dtype)
    code = _DTYPE_CODES.get(d)
    if code is None and d.name == "bfloat16":
        code = _DTYPE_CODES[_dtypes.bfloat16.np] = _dtypes.bfloat16.as_datatype_enum
    if code is None:
        raise KeyError(d)
    return code


def fill_tensor(rec, data_ptr, dtype, shape: Sequence[int], strides: Sequence[int]) -> None:
    """Fill an sf_tensor record; strides in elements."""
    if len(shape) > MAX_DIMS:
        raise ValueError(f"kernels take at most {MAX_DIMS} dims, got shape {tuple(shape)}")
    rec.data = data_ptr
    rec.dtype = dtype_code(dtype)
    rec.ndim = len(shape)
    for i, (n, s) in enumerate(zip(shape, strides)):
        rec.shape[i] = n
        rec.strides[i] = s


def array_record(rec, a: np.ndarray) -> None:
    """Describe numpy array `a` (any strides) in sf_tensor record `rec`."""
    item = a.itemsize
    strides = [s // item for s in a.strides]
    ptr = ffi.cast("void *", a.__array_interface__["data"][0])
    fill_tensor(rec, ptr, a.dtype, a.shape, strides)


def call_kernel(
    name: str,
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    iattr: Sequence[int] = (),
    fattr: Sequence[float] = (),
) -> None:
    """Call kernel `name` once on numpy arrays (used by tests and tools).

    Outputs are written in place; a failing kernel raises KernelError with
    the kernel's message.
    """
    fn = kernel(name)
    ins = ffi.new("sf_tensor[]", max(len(inputs), 1))
    outs = ffi.new("sf_tensor[]", max(len(outputs), 1))
    for i, a in enumerate(inputs):
        array_record(ins[i], a)
    for i, a in enumerate(outputs):
        if not a.flags.writeable:
            raise ValueError(f"output {i} of {name} is read-only")
        array_record(outs[i], a)
    call = ffi.new("sf_call *")
    call.n_in, call.n_out = len(inputs), len(outputs)
    setattr(call, "in", ins)  # `in` is a Python keyword
    call.out = outs
    for i, v in enumerate(iattr):
        call.iattr[i] = int(v)
    for i, v in enumerate(fattr):
        call.fattr[i] = float(v)
    status = fn(call)
    if status != 0:
        raise KernelError(status, ffi.string(call.msg).decode(errors="replace"), name)


def set_adaptive_threads(on: bool) -> None:
    """Whether a plan's runs choose the kernels' thread count from the times they observe
    (the default), or always take the set count (for measurements)."""
    lib.sf_set_adaptive_threads(1 if on else 0)


def policy_replay(top: int, ns: np.ndarray) -> np.ndarray:
    """The rung (top >> rung threads) each run of a fresh plan takes when run i at rung r
    takes ns[i, r] nanoseconds: the per-run thread choice on a synthetic machine, for
    tests. ns has one column per rung (top, top/2, ..., 1)."""
    ns = np.ascontiguousarray(ns, dtype=np.int64)
    out = np.zeros(ns.shape[0], np.int32)
    got = lib.sf_policy_replay(int(top), ns.shape[0], ffi.from_buffer("int64_t[]", ns),
                               ffi.from_buffer("int32_t[]", out))
    if got < 0 or got != ns.shape[1]:
        raise ValueError(f"policy_replay: top {top} has {got} rungs; ns has {ns.shape[1]} columns")
    return out


def set_parallel_min(n: int) -> None:
    """The work below which kernels stay on one thread (elements, or a product's
    multiply-adds); n < 0 restores the defaults. Tests lower it so that small inputs take
    the parallel paths."""
    lib.sf_set_parallel_min(int(n))


def set_num_threads(n: int) -> None:
    """Threads the kernels may use (0 restores the default)."""
    lib.sf_set_num_threads(int(n))


def get_num_threads() -> int:
    return int(lib.sf_get_num_threads())


def simd_bytes() -> int:
    """Bytes in one vector register of the kernels' build target (64 with AVX-512)."""
    return int(lib.sf_cpu_simd_bytes())


class HostExecutor:
    """The host's executor and thread settings, shared by every backend whose kernel entries
    are host functions: the CPU's kernels, and the device backends' entries that launch on
    their device (backends/cuda_device.py, backends/simulated.py)."""

    # a device's calls go to one stream: its scheduled plans run on one thread, in order
    one_stream = False

    def fill_tensor(self, rec, data, dtype, shape, strides) -> None:
        fill_tensor(rec, data, dtype, shape, strides)

    def run_plan(self, fns, calls, n: int, status) -> int:
        return lib.sf_run_plan(fns, calls, n, status)

    def run_schedule(
        self, fns, calls, n: int, npred, succ_start, succ, cost, threads: int, trace, status
    ) -> int:
        threads = 1 if self.one_stream else threads
        return lib.sf_run_schedule(fns, calls, n, npred, succ_start, succ, cost, threads, trace, status)

    def run_while(self, cond, pred, body, limit: int, budget_ns: int, *out) -> int:
        """out: the iterations, stopped, which and status cells (see sf_run_while)."""
        return lib.sf_run_while(cond, pred, body, limit, budget_ns, *out)

    def num_procs(self) -> int:
        return int(lib.sf_num_procs())

    def num_threads(self) -> int:
        return get_num_threads()

    def set_num_threads(self, n: int) -> None:
        set_num_threads(n)

    def simd_bytes(self) -> int:
        return simd_bytes()


class CPUBackend(HostExecutor):
    """The CPU kernel library as a `framework.backend.Backend`: the default device.

    Its memory is host memory: plans keep their NumPy-backed arenas (with their huge-page
    advice) and variables their NumPy arrays, so CPU-only plans take no device path at all;
    `allocate` and the copies exist so that the CPU meets the interface every device does
    (a copy is a memcpy)."""

    device_type = "CPU"
    device_name = "/job:localhost/replica:0/task:0/device:CPU:0"
    ffi = ffi
    host_memory = True

    def __init__(self) -> None:
        self._blocks: dict[int, np.ndarray] = {}  # address -> the array that owns it

    def device_count(self) -> int:
        return 1

    def has_kernel(self, symbol: str) -> bool:
        return symbol in kernel_table()

    def allocate(self, nbytes: int) -> int:
        raw = np.empty(max(int(nbytes), 1) + 64, np.uint8)
        shift = (-raw.ctypes.data) % 64
        ptr = raw.ctypes.data + shift
        self._blocks[ptr] = raw
        return ptr

    def free(self, ptr: int) -> None:
        self._blocks.pop(ptr, None)

    def copy_in(self, dst: int, src, stream=None) -> None:
        ffi.memmove(ffi.cast("void *", dst), ffi.from_buffer(np.ascontiguousarray(src)), src.nbytes)

    def copy_out(self, dst, src: int, stream=None) -> None:
        ffi.memmove(ffi.from_buffer(dst), ffi.cast("void *", src), dst.nbytes)

    def new_stream(self):
        return ffi.NULL  # kernels run in the caller's thread, in order

    def synchronize(self, stream=None) -> None:
        pass

    def free_stream(self, stream) -> None:
        pass

    def allocate_host(self, nbytes: int) -> int:
        return self.allocate(nbytes)  # host memory is what the CPU has

    def free_host(self, ptr: int) -> None:
        self.free(ptr)

    def new_event(self):
        return [0]  # the time it was recorded (the CPU's work is done when its call returns)

    def record_event(self, event, stream=None) -> None:
        import time

        event[0] = time.perf_counter_ns()

    def elapsed_ms(self, start, end) -> float:
        return (end[0] - start[0]) / 1e6

    def free_event(self, event) -> None:
        pass

    def kernel(self, symbol: str):
        return kernel(symbol)

    def kernel_table(self) -> dict[str, object]:
        return kernel_table()


    def can_generate(self) -> bool:
        from staticflow.backends import jit

        return jit.available()

    def lower_fused(self, ctx, group) -> bool:
        from staticflow.backends import fused_codegen

        return fused_codegen.lower(ctx, group)


backend.register(CPUBackend())
