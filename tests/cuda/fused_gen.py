"""Helpers of the GPU fused-kernel tests: the CPU build of the generated CUDA sources (the
emulated loader), a session whose fused groups go through the GPU lowering, and calls
of generated kernels on NumPy arrays."""

from __future__ import annotations

import contextlib
import pathlib

import numpy as np

import staticflow as sf
from staticflow.backends import cpu, cuda, cuda_fused, jit
from staticflow.backends import fused_codegen as fc

HERE = pathlib.Path(__file__).resolve().parent


class EmuLoader(cuda_fused.Loader):
    """The generated CUDA source compiled as C with tests/cuda/sf_fused_emu.h, which runs
    its per-element functions as the GPU's threads would; the same descriptor and packing
    as on the GPU. Records the specs it made kernels for."""

    symbol = "sf_emu_fused"

    def __init__(self):
        self.specs: list[fc.Spec] = []
        self.descriptors: list = []

    def unavailable(self) -> str | None:
        return None if jit.available() and cuda_fused.include_dir() else "no C compiler"

    def address(self, spec: fc.Spec) -> int:
        src = fc.cuda_source(spec) + '\n#include "sf_fused_emu.h"\n'
        return jit.load(src, "sf_emu_fused", (cuda_fused.include_dir(), str(HERE)))

    def kernel(self, spec: fc.Spec):
        self.specs.append(spec)
        d = cuda_fused.descriptor(spec, 1, 0, {})
        self.descriptors.append(d)
        return self.symbol, self.address(spec), (int(cuda_fused.descriptor_ffi().cast("uintptr_t", d)),)

    def descriptor_address(self, spec: fc.Spec) -> tuple:
        d = cuda_fused.descriptor(spec, 1, 0, {})
        self.descriptors.append(d)
        return d, int(cuda_fused.descriptor_ffi().cast("uintptr_t", d))


@contextlib.contextmanager
def gpu_lowering(loader: cuda_fused.Loader):
    """Fused groups planned in the block go through cuda_fused.lower with `loader`."""
    backend = type(sf_cpu_backend())
    orig = backend.lower_fused
    backend.lower_fused = lambda self, ctx, group: cuda_fused.lower(ctx, group, loader=loader)
    try:
        yield loader
    finally:
        backend.lower_fused = orig


def sf_cpu_backend():
    from staticflow.framework import backend

    return backend.default()


def config(fusion: bool = True):
    toggle = sf.RewriterConfig.DEFAULT if fusion else sf.RewriterConfig.OFF
    rw = sf.RewriterConfig(elementwise_fusion=toggle)
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


def run(fetches, feed, fusion: bool = True):
    with sf.Session(config=config(fusion)) as s:
        return s.run(fetches, feed)


def call_at(addr: int, inputs, outputs, iattr=()) -> None:
    """Call the generated kernel at `addr` (CPU memory) on NumPy arrays."""
    ffi = cpu.ffi
    call, _keep = cuda.new_call(ffi, inputs, outputs, cpu.array_record, iattr)
    status = ffi.cast("sf_kernel", addr)(call)
    if status != 0:
        raise cpu.KernelError(status, ffi.string(call.msg).decode(errors="replace"), "fused")


def arrays_for(spec: fc.Spec, rng, shape=(7, 45)) -> tuple[list, list]:
    """Inputs (strided, transposed and broadcast views of `shape`, then the scratch inputs)
    and outputs for a call of `spec`'s GPU kernel."""
    nin = len(spec.inputs)
    dts = fc.cuda_view_dtypes(spec)
    red = spec.reduce is not None
    ins = []
    for k in range(nin):
        dt = np.dtype(dts[k])
        if dt.kind == "f":
            base = rng.uniform(-2, 2, (shape[0] * 2, shape[1] * 2)).astype(dt)
        elif dt.kind == "b":
            base = rng.integers(0, 2, (shape[0] * 2, shape[1] * 2)).astype(dt)
        else:
            base = rng.integers(1, 5, (shape[0] * 2, shape[1] * 2)).astype(dt)
        how = rng.integers(0, 4)
        if how == 0:
            ins.append(np.ascontiguousarray(base[: shape[0], : shape[1]]))
        elif how == 1:
            ins.append(base[::2, ::2])
        elif how == 2:
            ins.append(np.ascontiguousarray(base[: shape[1], : shape[0]]).T)
        else:
            ins.append(np.broadcast_to(base[:1, : shape[1]], shape))
    outs = [np.zeros(shape, dts[nin + o]) for o in range(len(spec.outputs))]
    if red:
        K, R = shape
        outs.append(np.zeros(K, dts[-1]))
        nch = (R + fc.CUDA_CHUNK - 1) // fc.CUDA_CHUNK if spec.reduce[2] == "row" else 1
        if nch > 1:
            ins.append(np.zeros(K * nch, np.float64))
    if fc.cuda_fallible(spec):
        ins.append(np.zeros(1, np.int64))
    return ins, outs
