"""The CUDA driver API through cffi (ABI mode, ``libcuda.so.1`` opened when first needed):
loading NVRTC's PTX or cubin into a module and finding its kernels, for the kernels
generated at plan time.

The CUDA kernel library (backends/cuda.py) runs on the device's primary context
through the runtime it links; modules loaded here go into that same context
(``cuDevicePrimaryCtxRetain``), so device pointers of one are valid in the other.
Without a driver or GPU nothing here is reached: `context` raises DriverUnavailable
with the reason, and the fused lowering falls back to the members' kernels.
"""

from __future__ import annotations

import threading

# The declarations used, with the exported (versioned) names cuda.h maps them to;
# tests/cuda/test_nvrtc.py compiles them against the real cuda.h.
CDEF = """
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;
typedef enum CUdevice_attribute_enum {
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
} CUdevice_attribute;
CUresult cuInit(unsigned int Flags);
CUresult cuDriverGetVersion(int *driverVersion);
CUresult cuDeviceGetCount(int *count);
CUresult cuDeviceGet(CUdevice *device, int ordinal);
CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev);
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev);
CUresult cuCtxGetCurrent(CUcontext *pctx);
CUresult cuCtxSetCurrent(CUcontext ctx);
CUresult cuModuleLoadData(CUmodule *module, const void *image);
CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name);
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra);
CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream);
CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream);
CUresult cuStreamSynchronize(CUstream hStream);
CUresult cuGetErrorString(CUresult error, const char **pStr);
"""

# CUdevice_attribute values (cuda.h)
COMPUTE_CAPABILITY_MAJOR = 75
COMPUTE_CAPABILITY_MINOR = 76


class DriverUnavailable(RuntimeError):
    """The driver API cannot be used here; str() says why."""


_lock = threading.Lock()
_state: dict = {}


def library():
    """(ffi, lib) of libcuda.so.1, initialized; DriverUnavailable says why not."""
    with _lock:
        if "lib" not in _state and "error" not in _state:
            try:
                from cffi import FFI

                ffi = FFI()
                ffi.cdef(CDEF)
                lib = ffi.dlopen("libcuda.so.1")
                rc = lib.cuInit(0)
                if rc != 0:
                    raise DriverUnavailable(f"cuInit failed: {_err(ffi, lib, rc)}")
                _state["ffi"], _state["lib"] = ffi, lib
            except OSError as e:
                _state["error"] = f"no NVIDIA driver (libcuda.so.1 cannot be loaded: {e})"
            except DriverUnavailable as e:
                _state["error"] = str(e)
        if "error" in _state:
            raise DriverUnavailable(_state["error"])
        return _state["ffi"], _state["lib"]


def _err(ffi, lib, rc: int) -> str:
    s = ffi.new("const char **")
    if lib.cuGetErrorString(rc, s) == 0 and s[0] != ffi.NULL:
        return f"{ffi.string(s[0]).decode()} ({rc})"
    return f"CUDA error {rc}"


def check(rc: int, what: str) -> None:
    if rc != 0:
        ffi, lib = library()
        raise DriverUnavailable(f"{what} failed: {_err(ffi, lib, rc)}")


def context(device: int = 0):
    """The primary context of `device`, current on this thread (retained once per process)."""
    ffi, lib = library()
    with _lock:
        ctx = _state.get(("ctx", device))
        if ctx is None:
            n = ffi.new("int *")
            check(lib.cuDeviceGetCount(n), "cuDeviceGetCount")
            if device >= n[0]:
                raise DriverUnavailable(f"no GPU {device}: the driver sees {n[0]}")
            dev = ffi.new("CUdevice *")
            check(lib.cuDeviceGet(dev, device), "cuDeviceGet")
            pctx = ffi.new("CUcontext *")
            check(lib.cuDevicePrimaryCtxRetain(pctx, dev[0]), "cuDevicePrimaryCtxRetain")
            ctx = _state[("ctx", device)] = pctx[0]
            _state[("dev", device)] = dev[0]
    check(lib.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    return ctx


def compute_capability(device: int = 0) -> int:
    """The GPU's compute capability as one number (9.0 -> 90)."""
    ffi, lib = library()
    context(device)
    dev = _state[("dev", device)]
    a, b = ffi.new("int *"), ffi.new("int *")
    check(lib.cuDeviceGetAttribute(a, COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute")
    check(lib.cuDeviceGetAttribute(b, COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute")
    return a[0] * 10 + b[0]


_modules: list = []  # loaded modules: never unloaded (plans keep their functions)


def load_module(image: bytes, names: list[str], device: int = 0) -> list:
    """Load PTX (NUL-terminated) or a cubin into `device`'s context; the CUfunction of each
    of `names` (ffi.NULL for a name the module lacks)."""
    ffi, lib = library()
    context(device)
    mod = ffi.new("CUmodule *")
    buf = ffi.from_buffer(image)
    check(lib.cuModuleLoadData(mod, buf), "cuModuleLoadData")
    _modules.append(mod[0])
    out = []
    for name in names:
        f = ffi.new("CUfunction *")
        rc = lib.cuModuleGetFunction(f, mod[0], name.encode())
        out.append(f[0] if rc == 0 else ffi.NULL)
    return out


def address(handle) -> int:
    """A driver handle (CUcontext, CUfunction; NULL: 0) as an integer."""
    ffi, _lib = library()
    return int(ffi.cast("uintptr_t", handle))


def entry_points() -> dict:
    """Addresses of the driver functions the generic launcher calls (sf_fused_fn's)."""
    ffi, lib = library()
    names = {
        "launch": "cuLaunchKernel", "memset32": "cuMemsetD32Async", "dtoh": "cuMemcpyDtoHAsync_v2",
        "sync": "cuStreamSynchronize", "ctx_get": "cuCtxGetCurrent", "ctx_set": "cuCtxSetCurrent",
        "errstr": "cuGetErrorString",
    }
    return {k: int(ffi.cast("uintptr_t", getattr(lib, v))) for k, v in names.items()}
