"""Fused elementwise groups on the GPU: one kernel generated per group, compiled by NVRTC,
launched through the ABI's kernel slot.

The interface for a GPU backend is one function::

    lower(ctx, group, device=0) -> bool

the body of its ``lower_fused`` (framework/backend.py): it lowers `group` in `ctx` to one
call and returns True, or returns False (after one FusionWarning saying why) when no
kernel can be made here (no NVRTC, no driver or GPU, a dtype the GPU kernels lack), and
the caller lowers the members' own kernels.

What a call is: the kernel's source comes from the group's Spec through
`fused_codegen.cuda_source` (the CPU generator's member bodies, indexed by thread);
NVRTC compiles it (backends/nvrtc.py: a cubin for the present GPU when NVRTC knows its
architecture, else PTX, cached on disk); the driver loads it into the device's primary
context (backends/cuda_driver.py); an `sf_fused_fn` descriptor records its functions, the
driver's entry points and the call's layout; and the plan's call record takes the generic
launcher `sf_cuda_fused_launch` (kernels/cuda/sf_fused_launch.h, compiled once by
backends/jit.py) with the descriptor's address in iattr[0]. The views are those of the CPU
kernel (`fused_codegen.geometry`): elementwise views coalesced to one shape, or 2-D
[kept, reduced] views; a row-mode reduction with rows longer than SF_FUSED_CHUNK takes a
float64 scratch of partials (a second pass adds them in order: deterministic, no atomics),
and a kernel whose members can fail (integer division) a one-word error scratch.

`Loader` is the seam the tests use: their loader compiles the same source as C and runs
it the way the GPU's threads would, through the same descriptor and packing.
"""

from __future__ import annotations

import pathlib
import threading

from staticflow.backends import fused_codegen as fc
from staticflow.backends import jit
from staticflow.framework import dtypes

_HERE = pathlib.Path(__file__).resolve().parent

# the descriptor (kernels/cuda/sf_fused_launch.h's sf_fused_fn); the driver's entry points
# as addresses
DESCRIPTOR_CDEF = """
typedef struct sf_fused_fn {
    void *ctx;
    void *func;
    void *fin;
    void *launch, *memset32, *dtoh, *sync, *ctx_get, *ctx_set, *errstr;
    int32_t mode;
    int32_t nin;
    int32_t nout;
    int32_t fallible;
    int32_t dt[49];
} sf_fused_fn;
"""



def include_dir() -> str | None:
    """kernels/cuda's headers: the package's copies (written by the build), else the source
    tree's."""
    for d in (_HERE / "include" / "cuda", _HERE.parents[1] / "kernels" / "cuda"):
        if (d / "sf_fused_cuda.h").is_file() and (d / "sf_fused_launch.h").is_file():
            return str(d)
    return None


def headers() -> dict[str, str]:
    """The headers a generated source includes, by name (NVRTC takes them by content)."""
    out = {}
    dirs = [*jit.include_dirs(), include_dir() or ""]
    for name in ("sf_scalar.h", "sf_fused_cuda.h"):
        for d in dirs:
            p = pathlib.Path(d) / name
            if d and p.is_file():
                out[name] = p.read_text()
                break
    return out


_ffi = None


def descriptor_ffi():
    global _ffi
    if _ffi is None:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef(DESCRIPTOR_CDEF)
        _ffi = ffi
    return _ffi


def descriptor(spec: fc.Spec, func: int, fin: int, entry: dict, ctx: int = 0):
    """A new sf_fused_fn for `spec`'s kernel (kept alive by the caller): the addresses of its
    CUfunctions, the driver's entry points and the context."""
    ffi = descriptor_ffi()
    d = ffi.new("sf_fused_fn *")
    d.ctx = ffi.cast("void *", ctx)
    d.func = ffi.cast("void *", func)
    d.fin = ffi.cast("void *", fin)
    for k, v in entry.items():
        setattr(d, k, ffi.cast("void *", v))
    d.mode = 0 if spec.reduce is None else 1 if spec.reduce[2] == "row" else 2
    d.nin = len(spec.inputs)
    d.nout = len(spec.outputs)
    d.fallible = int(fc.cuda_fallible(spec))
    for t, dt in enumerate(fc.cuda_view_dtypes(spec)):
        d.dt[t] = dtypes.as_dtype(dt).as_datatype_enum
    return d


class Loader:
    """Makes the kernel of a Spec: `kernel(spec)` -> (symbol, address, iattr) of the plan's
    call, or raises (jit.CompileError, or another error whose message says why not)."""

    symbol = "sf_cuda_fused_launch"

    def unavailable(self) -> str | None:
        raise NotImplementedError

    def kernel(self, spec: fc.Spec) -> tuple[str, int, tuple[int, ...]]:
        raise NotImplementedError


def launcher_address() -> int:
    """The generic launcher, compiled (once, then from the cache) by the system C compiler."""
    inc = include_dir()
    if inc is None:
        raise jit.CompileError("the GPU kernel headers (sf_fused_launch.h) are not installed")
    src = '#define SF_FUSED_LAUNCHER 1\n#include "sf_fused_launch.h"\n'
    return jit.load(src, "sf_cuda_fused_launch", (inc,))


class GpuLoader(Loader):
    """NVRTC, the driver and the generic launcher, on GPU `device`."""

    def __init__(self, device: int = 0):
        self.device = device
        self._lock = threading.Lock()
        self._kernels: dict = {}  # source -> (descriptor, address); never freed

    def unavailable(self) -> str | None:
        """Why no kernel can be made (None: they can); found out once per loader."""
        if not hasattr(self, "_why"):
            self._why = self._unavailable()
        return self._why

    def _unavailable(self) -> str | None:
        from staticflow.backends import cuda_driver, nvrtc

        why = nvrtc.unavailable_reason()
        if why:
            return why
        if not jit.available() or include_dir() is None:
            return "no C compiler or kernel headers for the GPU kernels' launcher"
        try:
            cuda_driver.context(self.device)
        except cuda_driver.DriverUnavailable as e:
            return str(e)
        return None

    def image(self, source: str) -> bytes:
        """NVRTC's code for `source`: a cubin for this GPU's architecture when NVRTC has it,
        else PTX for the newest architecture NVRTC has that the GPU runs."""
        from staticflow.backends import cuda_driver, nvrtc

        cc = cuda_driver.compute_capability(self.device)
        archs = nvrtc.supported_archs()
        if cc in archs:
            return nvrtc.compile_cached(source, headers(), nvrtc.options(cc, cubin=True))
        older = [a for a in archs if a <= cc]
        if not older:
            raise jit.CompileError(f"NVRTC compiles for {archs}, none of which runs on compute capability "
                                   f"{cc}")
        return nvrtc.compile_cached(source, headers(), nvrtc.options(max(older), cubin=False))

    def kernel(self, spec: fc.Spec) -> tuple[str, int, tuple[int, ...]]:
        from staticflow.backends import cuda_driver

        source = fc.cuda_source(spec)
        with self._lock:
            hit = self._kernels.get(source)
            if hit is None:
                names = ["sf_fused", "sf_fused_fin"]
                func, fin = cuda_driver.load_module(self.image(source), names, self.device)
                ctx = cuda_driver.context(self.device)
                func, fin, ctx = (cuda_driver.address(p) for p in (func, fin, ctx))
                d = descriptor(spec, func, fin, cuda_driver.entry_points(), ctx)
                addr = int(descriptor_ffi().cast("uintptr_t", d))
                hit = self._kernels[source] = (d, addr)
        return self.symbol, launcher_address(), (hit[1],)


_default: dict[int, GpuLoader] = {}


def default_loader(device: int = 0) -> GpuLoader:
    if device not in _default:
        _default[device] = GpuLoader(device)
    return _default[device]


# lowering key (fused_codegen._lowering_key) -> (views, scratch, nin, spec): an unrolled loop
# fuses the same group at every step, and equal keys lower alike
_LOWERED: dict = {}


def _lowered(ctx, group) -> tuple:
    key = fc._lowering_key(ctx, group)
    hit = _LOWERED.get(key) if key is not None else None
    if hit is None:
        views, scratch, nin, classes, mode = fc.geometry(ctx, group, fc.CUDA_CHUNK)
        hit = (tuple(views), scratch, nin, fc._spec(group, ctx, classes, mode))
        if key is not None:
            if len(_LOWERED) > 4096:
                _LOWERED.clear()
            _LOWERED[key] = hit
    return hit


_HINT = ("GPU fused kernels need libnvrtc (the CUDA toolkit or the nvidia-cuda-nvrtc wheel), a driver "
         "and a C compiler.")


def lower(ctx, group, device: int = 0, loader: Loader | None = None) -> bool:
    """Lower `group` in `ctx` to one generated GPU kernel (see the module's docstring);
    False, after one FusionWarning, when none can be made here."""
    loader = loader or default_loader(device)
    why = loader.unavailable()
    if why:
        jit.warn_once(f"GPU: {why}", _HINT)
        return False
    views, scratch, nin, spec = _lowered(ctx, group)
    why = fc.cuda_unsupported(spec)
    if why:
        jit.warn_once(f"GPU: {why}", _HINT)
        return False
    from staticflow.backends import cuda_driver, nvrtc

    try:
        symbol, addr, iattr = loader.kernel(spec)
    except jit.CompileError as e:
        jit.warn_once(f"GPU: the kernel did not compile: {str(e).splitlines()[-1][:200]}", _HINT)
        return False
    except (cuda_driver.DriverUnavailable, nvrtc.NvrtcUnavailable) as e:
        # e.g. a driver older than NVRTC, which cannot load its code
        jit.warn_once(f"GPU: the kernel could not be loaded: {str(e)[:200]}", _HINT)
        return False
    extra = [] if scratch is None else [ctx.scratch_buffer(*scratch)]
    if fc.cuda_fallible(spec):
        extra.append(ctx.scratch_buffer((1,), dtypes.int64))
    ctx.call_generated(symbol, addr, list(views[:nin]) + extra, list(views[nin:]), iattr=iattr)
    return True
