"""The CUDA library: nvcc compiles kernels/cuda/ (a compile error fails here), its
kernel table names only kernels the op registry declares, importing staticflow does
not load it, and `available()` says why no GPU can be used."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import staticflow  # noqa: F401  (registers the ops)
from staticflow.backends import _build_cuda, cpu, cuda
from staticflow.ops import registry

needs_nvcc = pytest.mark.skipif(_build_cuda.find_nvcc() is None, reason="nvcc not found (no CUDA toolkit)")


@needs_nvcc
def test_cuda_sources_compile():
    """The installed build, when it is up to date with the sources (`make install` compiled
    exactly these); else a full build into a temporary directory."""
    if _build_cuda.is_up_to_date():
        assert _build_cuda.LIBRARY.is_file()
        return
    lib = _build_cuda.build_to_temp()
    try:
        assert lib.is_file()
    finally:
        shutil.rmtree(lib.parent, ignore_errors=True)


def test_families_depend_only_on_the_headers_they_include(tmp_path, monkeypatch):
    """A change to linalg.cu's headers recompiles linalg.cu alone; one to the shared
    bodies recompiles every family that includes them."""
    deps = {s.name: {d.name for d in _build_cuda._deps(s)} for s in _build_cuda.sources()}
    assert {"sf_cuda_dnn.h", "sf_cuda_linalg.h"} <= deps["linalg.cu"]
    assert not any("sf_cuda_dnn.h" in d for n, d in deps.items() if n != "linalg.cu")
    assert all("sf_cuda_bodies.h" in d and "staticflow.h" in d for d in deps.values())
    # every header of kernels/cuda/ is some family's (none is left out of the hashes), but
    # those of the kernels generated at plan time (sf_fused_*.h), which NVRTC's cache keys hash
    used = set().union(*deps.values())
    headers = {p.name for pattern in ("*.h", "*.cuh") for p in _build_cuda.CUDA.glob(pattern)}
    headers -= {h for h in headers if h.startswith("sf_fused_")}
    assert headers <= used, headers - used
    # the digests: editing a copy of sf_cuda_dnn.h changes linalg.cu's alone
    kernels = tmp_path / "kernels"
    shutil.copytree(_build_cuda.KERNELS, kernels)
    monkeypatch.setattr(_build_cuda, "KERNELS", kernels)
    monkeypatch.setattr(_build_cuda, "CUDA", kernels / "cuda")
    nvcc, table = "nvcc", "table"
    before = {s.name: _build_cuda._digest(s, nvcc, table) for s in _build_cuda.sources()}
    dnn = kernels / "cuda" / "sf_cuda_dnn.h"
    dnn.write_text(dnn.read_text() + "\n/* changed */\n")
    after = {s.name: _build_cuda._digest(s, nvcc, table) for s in _build_cuda.sources()}
    assert {n for n in before if before[n] != after[n]} == {"linalg.cu"}
    bodies = kernels / "cuda" / "sf_cuda_bodies.h"
    bodies.write_text(bodies.read_text() + "\n/* changed */\n")
    again = {s.name: _build_cuda._digest(s, nvcc, table) for s in _build_cuda.sources()}
    assert all(again[n] != after[n] for n in again)
    # the op lists count only for the families that include them
    other = {s.name: _build_cuda._digest(s, nvcc, "other") for s in _build_cuda.sources()}
    includes_table = {n for n in deps if "sf_scalar_table.h" in (_build_cuda.CUDA / n).read_text()}
    assert includes_table and {n for n in other if other[n] != again[n]} == includes_table


def _table_or_skip() -> dict:
    try:
        return cuda.kernel_table()
    except cuda.CudaUnavailable as e:
        pytest.skip(str(e))


def test_every_cuda_kernel_names_a_declared_op_kernel(emu):
    table = _table_or_skip()
    declared = {k for d in registry.all_ops() for k in d.kernels}
    cpu_kernels = set(cpu.kernel_table())
    assert table, "the CUDA library exports no kernel"
    bad = sorted(n for n in table if not n.startswith("sf_cuda_") or "sf_cpu_" + n[8:] not in declared)
    assert not bad, f"CUDA kernels that name no declared op kernel: {bad}"
    assert all("sf_cpu_" + n[8:] in cpu_kernels for n in table)
    # every CUDA kernel's logic is also compiled for the CPU and tested (test_bodies.py)
    assert set(table) == set(emu.table)


# C kernels without a CUDA version, as kernels/cuda/README.md lists them: 16-bit floats, and
# the C library's alternative conv kernels (the lowering gives a GPU the plain ones)
_NOT_YET = re.compile(r"float16|bfloat16|_direct_|_igemm_|_winograd_")


def test_every_c_kernel_has_a_cuda_kernel_but_the_listed_gaps(emu):
    """The CPU build of the CUDA kernels (the same list as the library's, see above): a C
    kernel without its CUDA kernel sends its ops to the CPU on a GPU, or fails them with
    soft placement off."""
    missing = sorted(k for k in cpu.kernel_table()
                     if "sf_cuda_" + k[len("sf_cpu_"):] not in emu.table and not _NOT_YET.search(k))
    assert not missing, f"C kernels without a CUDA kernel: {missing}"


def test_importing_staticflow_does_not_load_cuda():
    code = (
        "import sys, staticflow\n"
        "assert 'staticflow.backends.cuda' not in sys.modules\n"
        "assert '_sf_cuda' not in open('/proc/self/maps').read()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_available_says_why_not():
    reason = cuda.unavailable_reason()
    assert cuda.available() == (reason is None)
    if not _build_cuda.LIBRARY.is_file():
        assert "not built" in reason
    elif reason is not None:
        assert "driver" in reason or "GPU" in reason


def test_c_kernels_ignore_the_stream_member():
    """sf_call's last member is the device stream; the C kernels never read it."""
    call = cpu.ffi.new("sf_call *")
    assert cpu.ffi.offsetof("sf_call", "stream") + cpu.ffi.sizeof("void *") == cpu.ffi.sizeof("sf_call")
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, np.float32)
    ins = cpu.ffi.new("sf_tensor[]", 2)
    outs = cpu.ffi.new("sf_tensor[]", 1)
    for rec, a in ((ins[0], x), (ins[1], x), (outs[0], out)):
        cpu.array_record(rec, a)
    call.n_in, call.n_out = 2, 1
    setattr(call, "in", ins)
    call.out = outs
    call.stream = cpu.ffi.cast("void *", 0xDEAD)
    assert cpu.kernel("sf_cpu_add_float32")(call) == 0
    np.testing.assert_array_equal(out, 2 * x)


def test_build_without_nvcc_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(_build_cuda, "find_nvcc", lambda: None)
    assert _build_cuda.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "nvcc not found" in out


def test_unbuilt_library_is_unavailable_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(cuda, "LIBRARY", tmp_path / "_sf_cuda.so")
    monkeypatch.setattr(cuda, "_loaded", None)
    monkeypatch.setattr(cuda, "_load_error", None)
    assert not cuda.available()
    assert "not built" in cuda.unavailable_reason()
    with pytest.raises(cuda.CudaUnavailable, match="not built"):
        cuda.kernel_table()


# ---- cuBLAS and cuDNN -------------------------------------------------------------

HERE = pathlib.Path(__file__).resolve().parent
CUDA_SRC = HERE.parents[1] / "kernels" / "cuda"


def _nvidia_include_dirs() -> list[pathlib.Path]:
    """Where NVIDIA's headers may be, in search order: the CUDA toolkit of nvcc (its
    TOP, as nvcc reports it: nvcc may be a wrapper script), $SF_NVIDIA_INCLUDE
    (os.pathsep-separated), and the include directories of NVIDIA's wheels beside
    staticflow."""
    dirs = []
    nvcc = _build_cuda.find_nvcc()
    if nvcc:
        r = subprocess.run([nvcc, "--dryrun", "-E", "-x", "cu", os.devnull], capture_output=True, text=True)
        for line in (r.stdout + r.stderr).splitlines():
            if line.startswith("#$ TOP="):
                top = pathlib.Path(line.split("=", 1)[1].strip())
                dirs += [top / "include", *sorted(top.glob("targets/*/include"))]
    dirs += [pathlib.Path(d) for d in os.environ.get("SF_NVIDIA_INCLUDE", "").split(os.pathsep) if d]
    dirs += [d.parent / "include" for d in cuda.nvidia_library_dirs()]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def _find_header(name: str, dirs: list[pathlib.Path]) -> pathlib.Path | None:
    return next((d for d in dirs if (d / name).is_file()), None)


def test_cublas_and_cudnn_declarations_match_their_headers(tmp_path):
    """The declarations the kernels dlopen against (sf_cuda_dnn.h) compiled beside
    cublas_v2.h and cudnn.h: a parameter, return type or constant that differs fails."""
    dirs = _nvidia_include_dirs()
    found = {h: _find_header(h, dirs) for h in ("cuda_runtime_api.h", "cublas_v2.h", "cudnn.h")}
    missing = [h for h, d in found.items() if d is None]
    if missing:
        pytest.skip(f"no {', '.join(missing)} (install the CUDA toolkit, nvidia-cublas-cu12 and "
                    "nvidia-cudnn-cu12, or set SF_NVIDIA_INCLUDE)")
    cxx = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    incs = [f"-I{d}" for d in [*dirs, CUDA_SRC]]
    check = HERE / "dnn_decls_check.cpp"
    cmd = [cxx, "-std=c++17", "-fsyntax-only", *incs, str(check)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the check can fail: one parameter changed is caught
    bad = tmp_path / "sf_cuda_dnn.h"
    text = (CUDA_SRC / "sf_cuda_dnn.h").read_text()
    assert "const float *, float *, int))" in text
    bad.write_text(text.replace("const float *, float *, int))", "const float *, float *, long))", 1))
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", f"-I{tmp_path}", *incs, str(check)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "cublasSgemm_v2 is not declared as in its header" in r.stderr


def _host_call(ffi, name: str, arrays_in, arrays_out, iattr=()):
    """A CUDA kernel called with host memory: only for kernels that fail before touching it."""
    fn = cuda.kernel_table()[name]
    ins = ffi.new("sf_tensor[]", len(arrays_in))
    outs = ffi.new("sf_tensor[]", len(arrays_out))
    for recs, arrays in ((ins, arrays_in), (outs, arrays_out)):
        for i, a in enumerate(arrays):
            recs[i].data = ffi.cast("void *", a.ctypes.data)
            recs[i].dtype = cpu.dtype_code(a.dtype)
            recs[i].ndim = a.ndim
            for d, (n, st) in enumerate(zip(a.shape, a.strides)):
                recs[i].shape[d] = n
                recs[i].strides[d] = st // a.itemsize
    call = ffi.new("sf_call *")
    call.n_in, call.n_out = len(arrays_in), len(arrays_out)
    setattr(call, "in", ins)
    call.out = outs
    for i, v in enumerate(iattr):
        call.iattr[i] = v
    return fn(call), ffi.string(call.msg).decode()


def test_missing_cublas_and_cudnn_name_the_pip_package():
    """Where the libraries cannot be found, the product and conv kernels fail with a
    message naming the library and the package to install (checked only where they are
    missing: elsewhere the GPU tests run them)."""
    import ctypes.util

    _table_or_skip()
    ffi, _ = cuda.library()
    have = {lib: bool(ctypes.util.find_library(lib)) for lib in ("cublas", "cudnn")}
    for d in cuda.nvidia_library_dirs():
        have["cublas"] |= any(d.glob("libcublas.so*"))
        have["cudnn"] |= any(d.glob("libcudnn.so*"))
    if all(have.values()):
        pytest.skip("cuBLAS and cuDNN are installed here")
    a, b, out = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros((2, 4), np.float32)
    if not have["cublas"]:
        st, msg = _host_call(ffi, "sf_cuda_matmul_float32", [a, b], [out])
        assert st != 0 and "cuBLAS" in msg and "pip package nvidia-cublas-cu12" in msg, msg
        assert msg.startswith("sf_cuda_matmul_float32: ")
    if not have["cudnn"]:
        x, f, y = np.ones((1, 4, 4, 2), np.float32), np.ones((3, 3, 2, 5), np.float32), np.zeros((1, 2, 2, 5),
                                                                                                    np.float32)
        st, msg = _host_call(ffi, "sf_cuda_conv2d_float32", [x, f], [y], iattr=(1, 1, 1, 1, 0, 0))
        assert st != 0 and "cuDNN" in msg and "pip package nvidia-cudnn-cu12" in msg, msg
    # a bad call is still a bad call, before any library is needed
    st, msg = _host_call(ffi, "sf_cuda_matmul_float32", [a, a], [out])
    assert st == 3 and "does not give out" in msg
