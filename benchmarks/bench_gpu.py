"""GPU figures, for a machine with an NVIDIA GPU (benchmarks/gpu_check.sh runs it):

- the device's copy bandwidth (cudaMemcpy device to device, read + write bytes / s);
- a generated fused chain (``tanh(x) * x + x * x``, one read and one write per element)
  and a fused chain ending in a row sum, in GB/s of the bytes they must move, against
  that copy bandwidth: a fused elementwise kernel should run near it;
- a 4096 x 4096 float32 matmul: staticflow's CUDA kernel when the library has one,
  PyTorch's (cuBLAS) when PyTorch with CUDA is installed;
- the MLP training step of bench_mlp.py (784-512-512-10, batch 128) on the GPU:
  staticflow when a GPU backend is registered, PyTorch when installed.

Every figure is the best of several timed repetitions, each synchronized with the
device; what cannot run here prints why ("not installed", "no GPU backend").
Run: ``python benchmarks/bench_gpu.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import staticflow as sf
from staticflow.backends import cuda, cuda_fused
from staticflow.backends import fused_codegen as fc


def best(fn, reps: int, inner: int) -> float:
    """Best seconds per call of fn over `reps` timings of `inner` calls (fn synchronizes
    at the end of each timing through `sync`)."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        out.append((time.perf_counter() - t0) / inner)
    return min(out)


def sync() -> None:
    cuda.synchronize()


class Dev:
    """A device buffer of n elements of dtype, described as a contiguous view."""

    def __init__(self, shape, dtype, fill=None):
        self.ffi, self.lib = cuda.library()
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        p = self.ffi.new("void **")
        buf = self.ffi.new("char[]", 256)
        if self.lib.sf_cuda_malloc(p, max(self.nbytes, 1), buf, 256) != 0:
            raise RuntimeError(self.ffi.string(buf).decode())
        self.ptr = p[0]
        if fill is not None:
            a = np.ascontiguousarray(np.broadcast_to(fill, self.shape).astype(self.dtype))
            src = self.ffi.cast("void *", a.ctypes.data)
            self.lib.sf_cuda_memcpy(self.ptr, src, self.nbytes, 1, buf, 256)

    def record(self, rec) -> None:
        rec.data = self.ptr
        rec.dtype = sf.as_dtype(self.dtype).as_datatype_enum
        rec.ndim = len(self.shape)
        st = 1
        for d in reversed(range(len(self.shape))):
            rec.shape[d] = self.shape[d]
            rec.strides[d] = st
            st *= self.shape[d]


def call_record(ins, outs, iattr=()):
    ffi, _lib = cuda.library()
    return cuda.new_call(ffi, ins, outs, lambda rec, d: d.record(rec), iattr)


def spec_of(build):
    """The Spec of the one fused group `build()` makes (planned through the GPU lowering
    with a loader that only records)."""
    from staticflow.framework import backend

    class Recorder(cuda_fused.Loader):
        specs: list = []

        def unavailable(self):
            return None

        def kernel(self, spec):
            self.specs.append(spec)
            raise cuda_fused.jit.CompileError("recorded")

    import warnings

    warnings.simplefilter("ignore", cuda_fused.jit.FusionWarning)  # the recorder's own refusal
    rec = Recorder()
    be = type(backend.default())
    orig = be.lower_fused
    be.lower_fused = lambda self, ctx, group: cuda_fused.lower(ctx, group, loader=rec)
    try:
        with sf.Graph().as_default():
            fetches, feed = build()
            with sf.Session() as s:
                s.run(fetches, feed)
    finally:
        be.lower_fused = orig
    return rec.specs[0]


def bench_fused(n: int, reps: int) -> None:
    ffi, lib = cuda.library()
    # copy bandwidth
    a, b = Dev((n,), np.float32, 1.0), Dev((n,), np.float32)
    buf = ffi.new("char[]", 256)
    t = best(lambda: lib.sf_cuda_memcpy(b.ptr, a.ptr, a.nbytes, 3, buf, 256), reps, 10)
    copy_gbs = 2 * a.nbytes / t / 1e9
    print(f"device copy (D2D, {a.nbytes / 1e6:.0f} MB): {copy_gbs:8.1f} GB/s")

    def chain():
        x = sf.placeholder(sf.float32, [None])
        return [sf.tanh(x) * x + x * x], {x: np.ones(8, np.float32)}

    spec = spec_of(chain)
    _sym, addr, iattr = cuda_fused.default_loader().kernel(spec)
    call, _keep = call_record([a], [b], iattr)
    fn = ffi.cast("sf_kernel", addr)
    t = best(lambda: fn(call), reps, 10)
    gbs = 2 * a.nbytes / t / 1e9
    print(f"fused chain tanh(x)*x + x*x   : {gbs:8.1f} GB/s ({gbs / copy_gbs:.0%} of copy), {t * 1e6:.0f} us")

    rows = 64
    def red():
        x = sf.placeholder(sf.float32, [rows, None])
        y = sf.tanh(x) * x
        return [sf.reduce_sum(y * y, axis=1)], {x: np.ones((rows, 8), np.float32)}

    spec = spec_of(red)
    _sym, addr, iattr = cuda_fused.default_loader().kernel(spec)
    R = n // rows
    x2 = Dev((rows, R), np.float32, 0.5)
    out = Dev((rows,), np.float32)
    nch = (R + fc.CUDA_CHUNK - 1) // fc.CUDA_CHUNK
    ins = [x2] + ([Dev((rows * nch,), np.float64)] if nch > 1 else [])
    call, _keep2 = call_record(ins, [out], iattr)
    fn_red = ffi.cast("sf_kernel", addr)
    t = best(lambda: fn_red(call), reps, 10)
    gbs = x2.nbytes / t / 1e9
    print(f"fused chain + row sum [{rows}, {R}]: {gbs:8.1f} GB/s "
          f"({gbs / copy_gbs * 2:.0%} of copy's read rate), "
          f"{t * 1e6:.0f} us")


def bench_matmul(reps: int) -> None:
    n = 4096
    flops = 2 * n ** 3
    table = cuda.kernel_table()
    name = "sf_cuda_matmul_float32"
    if name in table:
        a, b, c = Dev((n, n), np.float32, 1.0), Dev((n, n), np.float32, 1.0), Dev((n, n), np.float32)
        call, _keep = call_record([a, b], [c])
        fn = table[name]
        t = best(lambda: fn(call), reps, 3)
        print(f"matmul 4096^2 staticflow: {flops / t / 1e12:7.2f} TFLOP/s ({t * 1e3:.2f} ms)")
    else:
        print("matmul 4096^2 staticflow: no CUDA matmul kernel in the library yet")
    try:
        import torch
    except ImportError:
        print("matmul 4096^2 PyTorch: not installed")
        return
    if not torch.cuda.is_available():
        print("matmul 4096^2 PyTorch: no CUDA in this PyTorch")
        return
    x = torch.ones((n, n), device="cuda")
    y = torch.ones((n, n), device="cuda")
    ts = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            torch.matmul(x, y)
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t0) / 3)
    t = min(ts)
    print(f"matmul 4096^2 PyTorch   : {flops / t / 1e12:7.2f} TFLOP/s ({t * 1e3:.2f} ms)")


def bench_mlp(reps: int) -> None:
    sizes, batch = [784, 512, 512, 10], 128
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ys = rng.integers(0, 10, batch)
    from staticflow.framework import backend

    if backend.for_device("/GPU:0").device_type != "GPU":
        print("MLP step staticflow: no GPU backend registered")
    else:
        with sf.Graph().as_default(), sf.device("/GPU:0"):
            x = sf.placeholder(sf.float32, [batch, sizes[0]])
            y = sf.placeholder(sf.int64, [batch])
            h = x
            for i, (m, k) in enumerate(zip(sizes[:-1], sizes[1:])):
                w = sf.Variable(rng.standard_normal((m, k)).astype(np.float32) * 0.05)
                b = sf.Variable(np.zeros(k, np.float32))
                h = sf.matmul(h, w) + b
                if i < len(sizes) - 2:
                    h = sf.nn.relu(h)
            loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
            train = sf.train.GradientDescentOptimizer(0.01).minimize(loss)
            with sf.Session() as s:
                s.run(sf.global_variables_initializer())
                def run():
                    s.run(train, {x: xs, y: ys})

                for _ in range(5):
                    run()
                ts = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    for _ in range(20):
                        run()
                    ts.append((time.perf_counter() - t0) / 20)
                print(f"MLP step staticflow: {1 / min(ts):8.0f} steps/s")
    try:
        import torch
    except ImportError:
        print("MLP step PyTorch: not installed")
        return
    if not torch.cuda.is_available():
        print("MLP step PyTorch: no CUDA in this PyTorch")
        return
    layers = []
    for i, (m, k) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(m, k))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(xs).cuda(), torch.from_numpy(ys).cuda()

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(tx), ty).backward()
        opt.step()

    for _ in range(5):
        step()
    ts = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            step()
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t0) / 20)
    print(f"MLP step PyTorch   : {1 / min(ts):8.0f} steps/s")


def main(argv) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    args = p.parse_args(argv)
    why = cuda.skip_reason(nvrtc=True)
    if why:
        print(f"GPU benchmarks: not run ({why})")
        return 0
    reps = 3 if args.quick else 7
    bench_fused(1 << 22 if args.quick else 1 << 26, reps)
    bench_matmul(reps)  # PyTorch before anything TensorFlow (none here)
    bench_mlp(reps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
