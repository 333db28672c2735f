"""The CUDA library: nvcc compiles kernels/cuda/ (a compile error fails here), its
kernel table names only kernels the op registry declares, importing staticflow does
not load it, and `available()` says why no GPU can be used."""

from __future__ import annotations

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
