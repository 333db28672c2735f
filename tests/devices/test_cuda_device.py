"""The CUDA GPU as a runtime device (backends/cuda_device.py): its kernel mapping where the
library is built, its absence where no GPU can run, and, on a GPU, plans on it."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import cuda
from staticflow.framework import backend

built = pytest.mark.skipif(not cuda.LIBRARY.is_file(), reason="the CUDA kernel library is not built here")


@built
def test_the_gpu_maps_the_abi_names_to_its_kernels():
    from staticflow.backends.cuda_device import CudaDevice

    dev = CudaDevice()
    table = cuda.kernel_table()
    assert dev.has_kernel("sf_cpu_neg_float32") == ("sf_cuda_neg_float32" in table)
    assert dev.has_kernel(backend.UPLOAD) and dev.has_kernel(backend.DOWNLOAD)
    from staticflow.backends import cpu

    # a C kernel without a CUDA twin (the fused ones, the candidate samplers)
    missing = sorted(s for s in cpu.kernel_table() if "sf_cuda" + s[6:] not in table)[0]
    assert not dev.has_kernel(missing)
    with pytest.raises(KeyError, match="has no kernel"):
        dev.kernel(missing)


def test_no_gpu_is_registered_where_none_can_run():
    if cuda.available():
        pytest.skip("a GPU can run here")
    assert "GPU" not in [b.device_type for b in backend.registered()]
    assert not sf.test.is_gpu_available()
    assert sf.config.list_physical_devices("GPU") == []


@pytest.mark.gpu
def test_an_mlp_step_on_the_gpu_equals_the_cpu():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 10)).astype(np.float32)

    def losses(device):
        g = sf.Graph()
        with g.as_default(), sf.device(device):
            sf.set_random_seed(1)
            x = sf.placeholder(sf.float32, [None, 10])
            h = sf.layers.dense(x, 32, activation=sf.nn.relu)
            loss = sf.reduce_mean(sf.square(sf.layers.dense(h, 1)))
            step = sf.train.GradientDescentOptimizer(0.05).minimize(loss)
            init = sf.global_variables_initializer()
        with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=True)) as s:
            s.run(init)
            return [s.run([loss, step], {x: xs})[0] for _ in range(5)]

    np.testing.assert_allclose(losses("/gpu:0"), losses("/cpu:0"), rtol=1e-4)


@built
def test_the_gpu_copies_through_the_library_transfer_kernels_and_reports_failures():
    """UPLOAD / DOWNLOAD are the library's C kernels (sf_cuda_upload / sf_cuda_download: no
    Python per copy); without a GPU, streams, events and pinned memory fail with CUDA's
    message instead of aborting."""
    from staticflow.backends import cpu
    from staticflow.backends.cuda_device import CudaDevice

    dev = CudaDevice()
    ffi, lib = cuda.library()
    up = dev.kernel(backend.UPLOAD)
    assert int(cpu.ffi.cast("intptr_t", up)) == int(ffi.cast("intptr_t", lib.sf_cuda_upload))
    down = dev.kernel(backend.DOWNLOAD)
    assert int(cpu.ffi.cast("intptr_t", down)) == int(ffi.cast("intptr_t", lib.sf_cuda_download))
    a = np.zeros((4, 6), np.float32)
    call = cpu.ffi.new("sf_call *")
    ins, outs = cpu.ffi.new("sf_tensor[1]"), cpu.ffi.new("sf_tensor[1]")
    cpu.array_record(ins[0], a[:, ::2])
    cpu.array_record(outs[0], np.zeros((4, 3), np.float32))
    call.n_in = call.n_out = 1
    setattr(call, "in", ins)
    call.out = outs
    assert up(call) == cpu.lib.SF_ERR_INVALID_ARGUMENT
    assert cpu.ffi.string(call.msg).decode().startswith("upload: the two sides must be C-contiguous")
    if cuda.available():
        return
    with pytest.raises(RuntimeError, match="cudaStreamCreate on the GPU: "):
        dev.new_stream()
    with pytest.raises(RuntimeError, match="cudaEventCreate on the GPU: "):
        dev.new_event()
    with pytest.raises(MemoryError, match="cudaMallocHost on the GPU: "):
        dev.allocate_host(1 << 20)


@built
def test_a_closed_sessions_stream_is_kept_for_the_next_session():
    """The GPU hands a freed stream to the next new_stream (no GPU needed: no stream is made
    while one is kept), so the per-stream cuBLAS/cuDNN handles stay bounded."""
    from staticflow.backends import cpu
    from staticflow.backends.cuda_device import CudaDevice

    dev = CudaDevice()
    dev.free_stream(0)  # the default stream is not kept
    dev.free_stream(0x1000)
    dev.free_stream(cpu.ffi.cast("void *", 0x2000))
    got = [int(cpu.ffi.cast("intptr_t", dev.new_stream())) for _ in range(2)]
    assert got == [0x2000, 0x1000]
    if not cuda.available():
        with pytest.raises(RuntimeError, match="cudaStreamCreate"):
            dev.new_stream()  # none kept: a new one is made


@pytest.mark.gpu
def test_sessions_run_on_their_own_streams_with_pinned_staging_and_a_traced_lane():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 64])
        with sf.device("/gpu:0"):
            y = sf.exp(x) * sf.tanh(x)
            s = sf.reduce_sum(y, axis=1)
    xv = np.random.default_rng(0).standard_normal((128, 64)).astype(np.float32)
    gpu = backend.full_name("GPU", 0)
    a, b = sf.Session(graph=g), sf.Session(graph=g)
    try:
        for sess in (a, b):
            for i in range(3):
                got_y, got_s = sess.run([y, s], {x: xv + i})
                want = np.exp(xv + i) * np.tanh(xv + i)
                np.testing.assert_allclose(got_y, want, rtol=1e-5)
                np.testing.assert_allclose(got_s, want.sum(axis=1), rtol=1e-4)
        assert a._variables.stream(gpu) != b._variables.stream(gpu)
        md = sf.RunMetadata()
        a.run(s, {x: xv}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
        lanes = [d for d in md.step_stats.dev_stats if "/stream:" in d.device]
        assert len(lanes) == 1 and len(lanes[0].node_stats) >= 2
        assert all(n.all_end_rel_nanos >= 0 for n in lanes[0].node_stats)
    finally:
        a.close()
        b.close()
