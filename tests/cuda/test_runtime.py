"""The CUDA library's runtime entries (kernels/cuda/runtime.cu): the cffi declarations
against their header and cuda_runtime.h, and, without a GPU, failures returned as a status
and a message (never an abort); the transfer kernels' checks."""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import pytest

from staticflow.backends import _build_cuda, cpu, cuda, jit, nvrtc

CUDA_DIR = pathlib.Path(_build_cuda.CUDA)


def _runtime_include() -> pathlib.Path | None:
    for h in nvrtc.toolkits():
        d = pathlib.Path(h) / "include"
        if (d / "cuda_runtime.h").is_file():
            return d
    return None


@pytest.mark.skipif(_runtime_include() is None, reason="cuda_runtime.h not found (no CUDA toolkit)")
def test_runtime_declarations_match_the_header_and_cuda_runtime_h(tmp_path):
    """The cdef's declarations and sf_cuda_runtime.h's in one C++ translation unit: a
    parameter or return type that differs is a conflicting declaration of a C function.
    The constants the entries pass through (copy kinds) and the handle sizes are CUDA's."""
    cc = (jit.compiler() or ["cc"])[0]
    cxx = {"cc": "c++", "gcc": "g++", "clang": "clang++"}.get(pathlib.Path(cc).name, "c++")
    src = tmp_path / "check.cpp"
    src.write_text(
        "#include <cuda_runtime.h>\n#include \"sf_cuda_runtime.h\"\n"
        f'extern "C" {{\n{cuda.RUNTIME_CDEF}\n}}\n'
        'static_assert(SF_CUDA_H2D == cudaMemcpyHostToDevice, "");\n'
        'static_assert(SF_CUDA_D2H == cudaMemcpyDeviceToHost, "");\n'
        'static_assert(SF_CUDA_D2D == cudaMemcpyDeviceToDevice, "");\n'
        'static_assert(sizeof(cudaStream_t) == sizeof(void *), "");\n'
        'static_assert(sizeof(cudaEvent_t) == sizeof(void *), "");\n'
        "int main() { return 0; }\n"
    )
    inc = [_runtime_include(), CUDA_DIR, _build_cuda.KERNELS / "include", _build_cuda.KERNELS / "cpu"]
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", *(f"-I{d}" for d in inc), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    # and the check catches a drift: one parameter changed
    bad = src.read_text().replace("int sf_cuda_host_free(void *ptr,", "int sf_cuda_host_free(char *ptr,", 1)
    src.write_text(bad)
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", *(f"-I{d}" for d in inc), str(src)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "sf_cuda_host_free" in r.stderr


def test_the_cdef_repeats_the_header():
    """Every entry the header declares is in the cdef (the compile check covers the types)."""
    header = (CUDA_DIR / "sf_cuda_runtime.h").read_text()
    import re

    declared = set(re.findall(r"^int (sf_cuda_\w+)\(", header, re.M))
    in_cdef = set(re.findall(r"^int (sf_cuda_\w+)\(", cuda.RUNTIME_CDEF, re.M))
    assert declared == in_cdef and len(declared) == 12


def _lib():
    try:
        return cuda.library()
    except cuda.CudaUnavailable as e:
        pytest.skip(str(e))


def test_without_a_gpu_every_entry_returns_a_status_and_a_message():
    ffi, lib = _lib()
    if cuda.available():
        pytest.skip("a GPU can run here")
    msg = ffi.new("char[]", 256)
    ptr = ffi.new("void **")
    for call in (
        lambda: lib.sf_cuda_stream_create(ptr, msg, 256),
        lambda: lib.sf_cuda_event_create(ptr, msg, 256),
        lambda: lib.sf_cuda_host_alloc(ptr, 1024, msg, 256),
    ):
        msg[0] = b"\0"
        assert call() == -1 and ffi.string(msg)
        assert ptr[0] == ffi.NULL
    # destroying nothing is nothing
    assert lib.sf_cuda_stream_destroy(ffi.NULL, msg, 256) == 0
    assert lib.sf_cuda_host_free(ffi.NULL, msg, 256) == 0
    assert lib.sf_cuda_memcpy_async(ffi.NULL, ffi.NULL, 0, 1, ffi.NULL, msg, 256) == 0


def _transfer_call(ffi, a: np.ndarray, b: np.ndarray):
    call = ffi.new("sf_call *")
    ins, outs = ffi.new("sf_tensor[1]"), ffi.new("sf_tensor[1]")
    for rec, x in ((ins[0], a), (outs[0], b)):
        rec.data = ffi.cast("void *", x.__array_interface__["data"][0])
        rec.dtype = cpu.dtype_code(x.dtype)
        rec.ndim = x.ndim
        for i, (n, s) in enumerate(zip(x.shape, x.strides)):
            rec.shape[i], rec.strides[i] = n, s // x.itemsize
    call.n_in = call.n_out = 1
    setattr(call, "in", ins)
    call.out = outs
    return call, (ins, outs)


def test_the_transfer_kernels_check_their_views_before_copying():
    ffi, lib = _lib()
    a = np.zeros((4, 6), np.float32)
    call, keep = _transfer_call(ffi, a[:, ::2], np.zeros((4, 3), np.float32))
    assert lib.sf_cuda_upload(call) == cpu.lib.SF_ERR_INVALID_ARGUMENT
    assert "C-contiguous" in ffi.string(call.msg).decode()
    call, keep = _transfer_call(ffi, a, np.zeros((4, 5), np.float32))
    assert lib.sf_cuda_download(call) == cpu.lib.SF_ERR_INVALID_ARGUMENT
    assert "(96, 80 bytes)" in ffi.string(call.msg).decode()
    # an empty tensor copies nothing and needs no device
    call, keep = _transfer_call(ffi, np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert lib.sf_cuda_upload(call) == 0
    if not cuda.available():  # a real copy without a GPU: CUDA's error, as a status
        call, keep = _transfer_call(ffi, a, np.zeros((4, 6), np.float32))
        assert lib.sf_cuda_upload(call) == cpu.lib.SF_ERR_INTERNAL
        assert ffi.string(call.msg).decode().startswith("upload: CUDA call failed: ")
