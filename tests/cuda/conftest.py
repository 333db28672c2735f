"""Fixtures of the CUDA tests: the CPU build of the kernels' bodies, and kernel callers."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest

from staticflow.backends import cpu, cuda
from staticflow.ops import scalar_table

ROOT = pathlib.Path(__file__).resolve().parents[2]
DRIVER = pathlib.Path(__file__).resolve().parent / "bodies_driver.c"

_DRIVER_CDEF = """
const sf_kernel_entry *sf_emu_kernel_table(int64_t *count);
int sf_emu_reduce_mode(const sf_tensor *in, const sf_tensor *out, int64_t nred_dims);
double sf_emu_tree_sum_float32(const double *partials);
extern int64_t sf_emu_tiled_copies;
"""


class Emu:
    """The CPU-compiled bodies: ffi, lib and the table of emulated CUDA kernels."""

    def __init__(self, ffi, lib):
        self.ffi, self.lib = ffi, lib
        count = ffi.new("int64_t *")
        entries = lib.sf_emu_kernel_table(count)
        self.table = {ffi.string(entries[i].name).decode(): entries[i].fn for i in range(count[0])}

    def record(self, rec, a: np.ndarray) -> None:
        rec.data = self.ffi.cast("void *", a.__array_interface__["data"][0])
        rec.dtype = cpu.dtype_code(a.dtype)
        rec.ndim = a.ndim
        for i, (n, s) in enumerate(zip(a.shape, a.strides)):
            rec.shape[i] = n
            rec.strides[i] = s // a.itemsize

    def call(self, name, inputs, outputs, iattr=(), fattr=()) -> None:
        """As cpu.call_kernel, through the emulation of CUDA kernel `name`."""
        call, _keep = cuda.new_call(self.ffi, inputs, outputs, self.record, iattr, fattr)
        status = self.table[name](call)
        if status != 0:
            raise cpu.KernelError(status, self.ffi.string(call.msg).decode(errors="replace"), name)


@pytest.fixture(scope="session")
def emu(tmp_path_factory) -> Emu:
    """The bodies of kernels/cuda/ compiled for the CPU (a C compiler, no nvcc), loaded
    through cffi's ABI mode with the kernel ABI header as its cdef."""
    from cffi import FFI

    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) to build the kernel bodies for the CPU")
    d = tmp_path_factory.mktemp("cuda_bodies")
    (d / "sf_scalar_table.h").write_text(scalar_table.c_header())
    lib_path = d / "libsf_cuda_bodies.so"
    cmd = [cc, "-std=c99", "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-unused-function",
           *(f"-I{ROOT / 'kernels' / sub}" for sub in ("include", "cpu", "cuda")),
           f"-I{d}", str(DRIVER), "-o", str(lib_path), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"the CPU build of the CUDA kernel bodies failed:\n{r.stderr}"
    ffi = FFI()
    ffi.cdef(cuda._cdef_text() + _DRIVER_CDEF)
    return Emu(ffi, ffi.dlopen(str(lib_path)))
