"""The generated fused kernels on a GPU (NVRTC, the driver, the generic launcher) against
their CPU build run the way the threads would and against NumPy: random groups, sizes past
one grid, long rows, errors, the cubin and the disk cache, launches from a second thread.
Skipped, with the reason, where no GPU or NVRTC can run them."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from passes.random_graphs import build, programs  # tests/ is on the path (rootdir import)

import staticflow as sf
from staticflow.backends import cpu, cuda, cuda_driver, cuda_fused, nvrtc
from staticflow.backends import fused_codegen as fc

from .fused_gen import EmuLoader, arrays_for, call_at, gpu_lowering, run

pytestmark = pytest.mark.skipif(cuda.skip_reason(nvrtc=True) is not None,
                                reason=f"no GPU fused kernels: {cuda.skip_reason(nvrtc=True)}")


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def gpu_call(addr: int, inputs, outputs, iattr=()) -> None:
    """Call the launcher at `addr` on NumPy arrays copied to the device; outputs copied back."""
    ffi, _lib = cuda.library()
    cuda.call_function(ffi.cast("sf_kernel", addr), "fused", inputs, outputs, iattr)


_GPU = cuda_fused.GpuLoader()


def _both(spec, shape, seed=0):
    """Run `spec` on the same arrays through its CPU build and on the GPU; returns both
    outputs or both errors."""
    rng = np.random.default_rng(seed)
    ins, outs = arrays_for(spec, rng, shape)
    emu = EmuLoader()
    d, daddr = emu.descriptor_address(spec)
    res = []
    for run_one in ("emu", "gpu"):
        o = [np.zeros_like(x) for x in outs]
        i = list(ins)
        try:
            if run_one == "emu":
                call_at(emu.address(spec), i, o, (daddr,))
            else:
                _sym, addr, iattr = _GPU.kernel(spec)
                gpu_call(addr, i, o, iattr)
            res.append(o)
        except (cpu.KernelError, cuda.KernelError) as e:
            res.append(str(e))
    return res


def _compare(emu, gpu):
    if isinstance(emu, str) or isinstance(gpu, str):
        assert emu == gpu
        return
    for a, b in zip(emu, gpu, strict=True):
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=2e-6 if a.dtype == np.float32 else 1e-13, atol=1e-6)
        else:
            np.testing.assert_array_equal(b, a)


def _specs_of(program) -> list:
    with sf.Graph().as_default():
        fetches, feed = build(program)
        with gpu_lowering(EmuLoader()) as loader:
            run(fetches, feed)
    return loader.specs


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_groups_on_the_gpu_match_their_cpu_build(program):
    for spec in _specs_of(program):
        for shape in ((7, 45), (3, 40_000)):
            _compare(*_both(spec, shape))


def test_sizes_past_one_grid_and_long_rows_against_numpy():
    x = sf.placeholder(sf.float32, [3, None])
    y = sf.tanh(x) * x  # no constants: the kernel's one input is x
    s = sf.reduce_sum(y * y, axis=1)
    v = np.random.default_rng(0).standard_normal((3, 5_000_000)).astype(np.float32)
    with gpu_lowering(EmuLoader()) as loader:
        run([y, s], {x: v[:, :10]})
    spec = loader.specs[0]
    assert len(spec.inputs) == 1 and spec.reduce[2] == "row"
    _sym, addr, iattr = _GPU.kernel(spec)
    ins = [v]
    K, R = v.shape
    nch = (R + fc.CUDA_CHUNK - 1) // fc.CUDA_CHUNK
    ins.append(np.zeros(K * nch, np.float64))
    outs = [np.zeros_like(v), np.zeros(K, np.float32)]
    gpu_call(addr, ins, outs, iattr)
    want_y = np.tanh(v.astype(np.float64)) * v
    np.testing.assert_allclose(outs[0], want_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1], (want_y ** 2).sum(axis=1), rtol=1e-5)


def test_errors_come_back_as_statuses_and_the_device_still_runs():
    a = sf.placeholder(sf.int32, [6])
    with gpu_lowering(EmuLoader()) as loader:
        run([sf.floordiv(a, a - 2) + 1], {a: np.arange(6, dtype=np.int32) + 5})
    spec = loader.specs[0]
    _sym, addr, iattr = _GPU.kernel(spec)
    x = np.arange(6, dtype=np.int32)
    with pytest.raises(cuda.KernelError, match="fused member 1: integer division by zero"):
        gpu_call(addr, [x, np.full(6, 2, np.int32), np.ones(6, np.int32), np.zeros(1, np.int64)],
                 [np.zeros(6, np.int32)], iattr)
    out = np.zeros(6, np.int32)
    ins = [x + 5, np.full(6, 2, np.int32), np.ones(6, np.int32), np.zeros(1, np.int64)]
    gpu_call(addr, ins, [out], iattr)
    np.testing.assert_array_equal(out, (x + 5) // (x + 3) + 1)


def test_a_cubin_for_this_gpu_and_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STATICFLOW_CACHE_DIR", str(tmp_path))
    x = sf.placeholder(sf.float32, [64])
    with gpu_lowering(EmuLoader()) as loader:
        run([sf.exp(x) * x], {x: np.ones(64, np.float32)})
    spec = loader.specs[0]
    cc = cuda_driver.compute_capability()
    c0 = nvrtc.stats["compiled"]
    cuda_fused.GpuLoader().kernel(spec)
    assert nvrtc.stats["compiled"] == c0 + 1
    kind = "cubin" if cc in nvrtc.supported_archs() else "ptx"
    assert len(list(tmp_path.glob(f"nv_*.{kind}"))) == 1
    h0 = nvrtc.stats["cached"]
    _sym, addr, iattr = cuda_fused.GpuLoader().kernel(spec)  # a new loader: from the disk
    assert nvrtc.stats["cached"] == h0 + 1 and nvrtc.stats["compiled"] == c0 + 1
    v = np.linspace(-1, 1, 64, dtype=np.float32)
    out = np.zeros(64, np.float32)
    gpu_call(addr, [v], [out], iattr)
    np.testing.assert_allclose(out, np.exp(v) * v, rtol=1e-6)


def test_launches_from_a_thread_that_never_used_the_device():
    x = sf.placeholder(sf.float32, [1000])
    with gpu_lowering(EmuLoader()) as loader:
        run([sf.sigmoid(x) * x], {x: np.ones(1000, np.float32)})
    _sym, addr, iattr = _GPU.kernel(loader.specs[0])
    v = np.linspace(-3, 3, 1000, dtype=np.float32)
    outs, errors = [], []

    def work():
        try:
            out = np.zeros(1000, np.float32)
            gpu_call(addr, [v], [out], iattr)
            outs.append(out)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for out in outs:
        np.testing.assert_allclose(out, v / (1 + np.exp(-v.astype(np.float64))), rtol=1e-5, atol=1e-6)
