"""NVRTC: CUDA source -> PTX (or a cubin for the present GPU) at plan time, cached on disk.

libnvrtc is opened through cffi in ABI mode when first needed (no build step, no link:
staticflow installs and imports without it). It is looked for at ``$STATICFLOW_NVRTC``
(a file), then beside the CUDA toolkit (``$CUDA_HOME``, ``$CUDA_PATH``, the nvcc on
``PATH``), then in pip's NVIDIA wheels (``nvidia-cuda-nvrtc``: ``site-packages/nvidia/
*/lib``), then by the loader's own search (``libnvrtc.so``). Its builtins library (the
device headers NVRTC compiles against) is opened first from the same directory, since
NVRTC finds it by name only.

Sources see their headers by content (``nvrtcCreateProgram``'s header list): the kernel
helper headers (sf_scalar.h, kernels/cuda/sf_fused_cuda.h) and two small stand-ins for
``<math.h>`` (NVRTC's device math is built in) and ``<stdint.h>``. The result is kept in
the kernel cache directory of backends/jit.py as ``nv_<key>.ptx`` / ``.cubin``, keyed by
a hash of the source, the headers, the NVRTC version and the options; entries are
written through jit's lock and atomic rename (two processes compiling one key leave one
whole entry) and carry a digest of their contents, so a damaged entry is compiled again.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import logging
import os
import pathlib
import shutil
import sys
import threading

from staticflow.backends import jit

log = logging.getLogger("staticflow.nvrtc")

LIB_ENV = "STATICFLOW_NVRTC"

# The declarations used, as nvrtc.h has them (tests/cuda/test_nvrtc.py compiles them
# against the real header).
CDEF = """
typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
const char *nvrtcGetErrorString(nvrtcResult result);
nvrtcResult nvrtcVersion(int *major, int *minor);
nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs);
nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs);
nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders,
                               const char *const *headers, const char *const *includeNames);
nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog);
nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char *const *options);
nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet);
nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx);
nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet);
nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin);
nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet);
nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log);
"""

# <stdint.h> for NVRTC (which has no C library headers): the types and limits the
# kernel helpers use, for the LP64 targets NVRTC compiles for
STDINT = """\
#pragma once
typedef signed char int8_t; typedef short int16_t; typedef int int32_t; typedef long long int64_t;
typedef unsigned char uint8_t; typedef unsigned short uint16_t; typedef unsigned int uint32_t;
typedef unsigned long long uint64_t; typedef long long intptr_t; typedef unsigned long long uintptr_t;
#define INT8_MIN (-128)
#define INT8_MAX 127
#define INT16_MIN (-32767 - 1)
#define INT16_MAX 32767
#define INT32_MIN (-2147483647 - 1)
#define INT32_MAX 2147483647
#define INT64_MIN (-9223372036854775807LL - 1)
#define INT64_MAX 9223372036854775807LL
#define UINT8_MAX 255
#define UINT16_MAX 65535
#define UINT32_MAX 4294967295U
#define UINT64_MAX 18446744073709551615ULL
"""
MATH = "#pragma once\n/* NVRTC's device math functions are built in */\n"

_MAGIC = b"SFNV1 "  # an entry: magic, sha256 of the payload, newline, payload


class NvrtcUnavailable(RuntimeError):
    """NVRTC cannot be used here; str() says why."""


CompileError = jit.CompileError


def toolkits() -> list[str]:
    """CUDA toolkit directories: $CUDA_HOME, $CUDA_PATH, the one of the nvcc on PATH, and the
    default install location."""
    homes = [os.environ.get(v) for v in ("CUDA_HOME", "CUDA_PATH")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        homes.append(str(pathlib.Path(os.path.realpath(nvcc)).parents[1]))
    homes.append("/usr/local/cuda")
    out = []
    for h in homes:
        if h and os.path.isdir(h) and h not in out:
            out.append(h)
    return out


def _candidates() -> list[pathlib.Path]:
    """Where libnvrtc may be, in the order they are tried."""
    out = []
    env = os.environ.get(LIB_ENV)
    if env:
        out.append(pathlib.Path(env))
    for home in toolkits():
        for sub in ("lib64", "lib", "targets/*/lib"):
            out += [pathlib.Path(p) for p in sorted(glob.glob(os.path.join(home, sub, "libnvrtc.so*")))]
    for site in sys.path:
        nv = os.path.join(site, "nvidia")
        if os.path.isdir(nv):
            out += [pathlib.Path(p) for p in sorted(glob.glob(os.path.join(nv, "*", "lib", "libnvrtc.so*")))]
    return [p for p in out if "builtins" not in p.name and ".alt." not in p.name]


_lock = threading.Lock()
_loaded: tuple | None = None
_error: str | None = None


def library():
    """(ffi, lib, path) of libnvrtc, opened on the first call; NvrtcUnavailable says why not."""
    global _loaded, _error
    with _lock:
        if _loaded is None and _error is None:
            _loaded, _error = _open()
        if _loaded is None:
            raise NvrtcUnavailable(_error)
        return _loaded


def _open():
    try:
        from cffi import FFI
    except ImportError as e:  # pragma: no cover - cffi is a dependency
        return None, f"cffi is missing: {e}"
    ffi = FFI()
    ffi.cdef(CDEF)
    tried = []
    for p in _candidates() + [pathlib.Path("libnvrtc.so")]:
        if p.parent != pathlib.Path(".") and not p.is_file():
            continue
        for b in sorted(p.parent.glob("libnvrtc-builtins.so*")) if p.parent != pathlib.Path(".") else []:
            if ".alt." not in b.name:
                try:  # NVRTC opens its builtins by name: make that name resolve
                    ctypes.CDLL(str(b), mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    pass
        try:
            return (ffi, ffi.dlopen(str(p)), p), None
        except OSError as e:
            tried.append(f"{p}: {e}")
    return None, ("libnvrtc was not found (install the CUDA toolkit or the nvidia-cuda-nvrtc wheel, or "
                  f"name the library in ${LIB_ENV})" + (f"; tried {'; '.join(tried[:3])}" if tried else ""))


def available() -> bool:
    return unavailable_reason() is None


def unavailable_reason() -> str | None:
    try:
        library()
    except NvrtcUnavailable as e:
        return str(e)
    return None


def version() -> tuple[int, int]:
    ffi, lib, _p = library()
    a, b = ffi.new("int *"), ffi.new("int *")
    _check(lib.nvrtcVersion(a, b), "nvrtcVersion")
    return a[0], b[0]


def supported_archs() -> list[int]:
    """The compute capabilities (e.g. 80, 90) this NVRTC compiles for."""
    ffi, lib, _p = library()
    n = ffi.new("int *")
    _check(lib.nvrtcGetNumSupportedArchs(n), "nvrtcGetNumSupportedArchs")
    arr = ffi.new("int[]", max(n[0], 1))
    _check(lib.nvrtcGetSupportedArchs(arr), "nvrtcGetSupportedArchs")
    return [arr[i] for i in range(n[0])]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        ffi, lib, _p = library()
        raise NvrtcUnavailable(f"{what} failed: {ffi.string(lib.nvrtcGetErrorString(rc)).decode()}")


def options(arch: int, cubin: bool) -> list[str]:
    """The compile options: a real architecture (sm_XY, a cubin) for the present GPU, else a
    virtual one (compute_XY, PTX the driver compiles when it loads it)."""
    return [f"--gpu-architecture={'sm' if cubin else 'compute'}_{arch}", "-std=c++17", "-DSF_NVRTC=1"]


def standard_headers() -> dict[str, str]:
    return {"math.h": MATH, "stdint.h": STDINT}


def key_of(source: str, headers: dict[str, str], opts: list[str]) -> str:
    h = hashlib.sha256()
    major, minor = version()
    parts = (source, *(f"{k}\0{v}" for k, v in sorted(headers.items())), " ".join(opts), f"{major}.{minor}")
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def compile_source(source: str, headers: dict[str, str], opts: list[str], name: str = "fused.cu") -> bytes:
    """NVRTC's output for `source` (PTX text, or a cubin for an sm_ architecture); headers:
    include name -> text. Raises CompileError with NVRTC's log when it fails."""
    ffi, lib, _p = library()
    hs = {**standard_headers(), **headers}
    keep = [ffi.new("char[]", v.encode()) for v in hs.values()]
    names = [ffi.new("char[]", k.encode()) for k in hs]
    prog = ffi.new("nvrtcProgram *")
    _check(lib.nvrtcCreateProgram(prog, source.encode(), name.encode(), len(hs), ffi.new("char *[]", keep),
                                  ffi.new("char *[]", names)), "nvrtcCreateProgram")
    try:
        args = [ffi.new("char[]", o.encode()) for o in opts]
        rc = lib.nvrtcCompileProgram(prog[0], len(args), ffi.new("char *[]", args))
        n = ffi.new("size_t *")
        lib.nvrtcGetProgramLogSize(prog[0], n)
        buf = ffi.new("char[]", max(n[0], 1))
        lib.nvrtcGetProgramLog(prog[0], buf)
        text = ffi.string(buf).decode(errors="replace")
        if rc != 0:
            err = ffi.string(lib.nvrtcGetErrorString(rc)).decode()
            raise CompileError(f"NVRTC ({err}) with {' '.join(opts)}:\n{text.strip()[-4000:]}")
        cubin = any(o.startswith("--gpu-architecture=sm_") for o in opts)
        size_fn, get_fn = (lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN) if cubin else (lib.nvrtcGetPTXSize,
                                                                                    lib.nvrtcGetPTX)
        _check(size_fn(prog[0], n), "nvrtcGet*Size")
        out = ffi.new("char[]", n[0])
        _check(get_fn(prog[0], out), "nvrtcGet*")
        data = bytes(ffi.buffer(out, n[0]))
        return data.rstrip(b"\0") + b"\0" if not cubin else data
    finally:
        lib.nvrtcDestroyProgram(prog)


stats = {"compiled": 0, "cached": 0}


def _read(path: pathlib.Path) -> bytes | None:
    """An entry's payload, or None when it is missing or damaged (its digest differs)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head, sep, payload = raw.partition(b"\n")
    digest = hashlib.sha256(payload).hexdigest().encode()
    if not sep or not head.startswith(_MAGIC) or head[len(_MAGIC):] != digest:
        return None
    return payload


def compile_cached(source: str, headers: dict[str, str], opts: list[str]) -> bytes:
    """compile_source through the disk cache (see the module's docstring)."""
    key = key_of(source, headers, opts)
    cubin = any(o.startswith("--gpu-architecture=sm_") for o in opts)
    path = jit.cache_dir() / f"nv_{key}.{'cubin' if cubin else 'ptx'}"
    got = _read(path)
    if got is not None:
        stats["cached"] += 1
        return got
    if path.exists():
        log.warning("recompiling the damaged cached GPU kernel %s", path)

    def build(tmp: str) -> None:
        payload = compile_source(source, headers, opts)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        with open(pathlib.Path(tmp).with_suffix(".cu"), "w") as f:  # beside it, for reading
            f.write(source)
        os.replace(pathlib.Path(tmp).with_suffix(".cu"), path.with_suffix(".cu"))
        stats["compiled"] += 1

    jit.build_entry(path, build, lambda p: _read(p) is not None)
    got = _read(path)
    if got is None:
        raise CompileError(f"the cached GPU kernel {path} cannot be read back")
    return got
