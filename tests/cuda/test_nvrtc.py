"""GPU fused kernels without a GPU: the generated CUDA sources compile with NVRTC and nvcc,
their per-element functions compiled as C and run the way the GPU's threads would agree
with NumPy and with the CPU fused kernels (random graphs, long rows, columns, errors),
the generic launcher packs and launches through the driver's entry points (stand-ins
here), NVRTC's disk cache hits, survives two processes and recompiles a damaged entry,
and the cffi declarations match nvrtc.h and cuda.h."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from passes.random_graphs import build, programs  # tests/ is on the path (rootdir import)

import staticflow as sf
from staticflow.backends import cpu, cuda_driver, cuda_fused, jit, nvrtc
from staticflow.backends import fused_codegen as fc
from staticflow.runtime import reference

from .fused_gen import EmuLoader, arrays_for, call_at, gpu_lowering, run

ROOT = pathlib.Path(__file__).resolve().parents[2]
needs_nvrtc = pytest.mark.skipif(not nvrtc.available(), reason=f"no NVRTC: {nvrtc.unavailable_reason()}")
needs_cc = pytest.mark.skipif(not jit.available(), reason="no C compiler")


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _agree(got, *wants, tol=2e-5):
    for w in wants:
        for a, b in zip(got, w, strict=True):
            assert np.asarray(a).dtype == np.asarray(b).dtype and np.shape(a) == np.shape(b)
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# --- the GPU kernels' logic, compiled as C ----------------------------------------------------
@needs_cc
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_through_the_emulated_gpu_kernels_agree(program):
    """Every fused group of a random graph lowered by cuda_fused.lower (the GPU's views,
    scratch and launcher packing; its kernels run as C), against NumPy and the CPU fused
    kernels."""
    with sf.Graph().as_default():
        fetches, feed = build(program)
        want = reference.evaluate(fetches, feed)
        cpu_fused = run(fetches, feed)
        with gpu_lowering(EmuLoader()):
            got = run(fetches, feed)
    _agree(got, want, cpu_fused)  # (the fixed cases below check that groups take this path)


def _fixed(build_fn, feed_fn, tol=2e-5):
    fetches, feeds = build_fn()
    feed = feed_fn(feeds)
    want = reference.evaluate(fetches, feed)
    cpu_fused = run(fetches, feed)
    with gpu_lowering(EmuLoader()) as loader:
        got = run(fetches, feed)
    assert loader.specs, "no group went through the GPU lowering"
    _agree(got, want, cpu_fused, tol=tol)
    return loader


@needs_cc
@pytest.mark.parametrize("kind", ["sum", "mean"])
@pytest.mark.parametrize("shape,axis,mode", [
    ((3, 40_000), 1, "row"),  # rows past SF_FUSED_CHUNK: partials, then the second pass
    ((5, 700), 1, "row"),
    ((20, 300), 0, "col"),  # kept elements adjacent: one thread per output
    ((4, 6, 9), (0, 2), None),
])
def test_reductions_ending_a_group(kind, shape, axis, mode):
    red = sf.reduce_sum if kind == "sum" else sf.reduce_mean

    def graph():
        x = sf.placeholder(sf.float32, shape)
        y = sf.tanh(x) * 2.0 + 0.5
        return [red(sf.square(y), axis=axis), y], [x]

    rng = np.random.default_rng(1)
    loader = _fixed(graph, lambda f: {f[0]: rng.standard_normal(shape).astype(np.float32)}, tol=1e-4)
    modes = {s.reduce[2] for s in loader.specs if s.reduce}
    if mode is not None:
        assert modes == {mode}


@needs_cc
def test_broadcast_operands_and_integer_and_bool_members():
    def graph():
        a = sf.placeholder(sf.float64, [6, 1, 5])
        b = sf.placeholder(sf.float64, [4, 1])
        i = sf.placeholder(sf.int32, [4, 5])
        f = sf.where_v2(a > b, sf.exp(a) - b, a * b) + sf.cast(i * 3 - 7, sf.float64)
        g = (i // 2) % 3 + sf.abs(i)
        return [f, g, sf.logical_and(i > 1, i < 4)], [a, b, i]

    rng = np.random.default_rng(2)
    _fixed(graph, lambda f: {f[0]: rng.standard_normal((6, 1, 5)), f[1]: rng.standard_normal((4, 1)),
                             f[2]: rng.integers(-9, 9, (4, 5)).astype(np.int32)})


@needs_cc
def test_an_error_in_an_emulated_gpu_kernel_names_the_member():
    a = sf.placeholder(sf.int32, [3], name="a")
    q = sf.floordiv(a, a - 2) + 1
    with gpu_lowering(EmuLoader()) as loader:
        with pytest.raises(sf.errors.InvalidArgumentError, match="division by zero") as e:
            run([q], {a: np.array([1, 2, 3], np.int32)})
    assert loader.specs and fc.cuda_fallible(loader.specs[0])
    assert "floordiv" in str(e.value).lower() or "FloorDiv" in str(e.value)


@needs_cc
def test_block_tree_order_of_row_reductions():
    """A row of 256 values whose float32 sum depends on the order: the emulated kernel's
    result is the documented tree (lanes l and l + off, then the warps), in double."""
    loader = EmuLoader()
    x = sf.placeholder(sf.float32, [1, 256])
    y = sf.reduce_sum(x * 1.0, axis=1)
    v = np.random.default_rng(3).standard_normal((1, 256)).astype(np.float32) * 1e4
    with gpu_lowering(loader):
        got = run([y], {x: v})[0]

    def warp(w):
        w = list(w)
        for off in (16, 8, 4, 2, 1):
            old = list(w)
            w = [old[ln] + (old[ln + off] if ln + off < 32 else old[ln]) for ln in range(32)]
        return w[0]

    vals = [float(t) for t in v[0]]
    want = warp([warp(vals[i * 32:(i + 1) * 32]) for i in range(8)] + [0.0] * 24)
    assert got[0] == np.float32(want)


# --- the generic launcher, with stand-ins for the driver's entry points ----------------------
_HEAD = """
typedef struct sf_fused_head {
    int64_t n, nd, K, R, nch, pad_;
    int64_t shape[8];
    unsigned long long *err;
    double *part;
    void *out;
    void *pad2_;
} sf_fused_head;
"""


@needs_cc
@pytest.mark.parametrize("case", ["elementwise", "long_rows", "error"])
def test_the_launcher_packs_and_launches_through_the_driver_entry_points(case):
    """sf_cuda_fused_launch with cffi callbacks for cuLaunchKernel and friends: the grids,
    the packed head, the second pass, and the error word read back into the message."""
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_HEAD)
    loader = EmuLoader()
    if case == "elementwise":
        x = sf.placeholder(sf.float32, [1000, 3])
        fetch = sf.exp(x) * 2.0
        feed = {x: np.ones((1000, 3), np.float32)}
    elif case == "long_rows":
        x = sf.placeholder(sf.float32, [3, 40_000])
        fetch = sf.reduce_sum(sf.tanh(x), axis=1)
        feed = {x: np.ones((3, 40_000), np.float32)}
    else:
        x = sf.placeholder(sf.int32, [10])
        fetch = sf.floordiv(x, x - 4)
        feed = {x: np.arange(10, dtype=np.int32) + 5}
    with gpu_lowering(loader):
        run([fetch], feed)
    spec = loader.specs[0]
    launches, log = [], []
    LAUNCH = ("int(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, "
              "void **, void **)")

    @ffi.callback(LAUNCH)
    def launch(f, gx, gy, gz, bx, by, bz, shmem, stream, params, extra):
        h = ffi.cast("sf_fused_head *", params[0])
        launches.append((int(ffi.cast("uintptr_t", f)), gx, bx, h.n, h.K, h.R, h.nch, h.nd))
        return 0

    @ffi.callback("int(unsigned long long, unsigned, size_t, void *)")
    def memset32(dst, v, n, stream):
        log.append(("memset", n))
        return 0

    @ffi.callback("int(void *, unsigned long long, size_t, void *)")
    def dtoh(dst, src, n, stream):
        ffi.cast("unsigned long long *", dst)[0] = (2 << 4) | 1  # member 1: division by zero
        log.append(("dtoh", n))
        return 0

    @ffi.callback("int(void *)")
    def sync(stream):
        log.append(("sync",))
        return 0

    @ffi.callback("int(void **)")
    def ctx_get(p):
        p[0] = ffi.cast("void *", 77)
        return 0

    @ffi.callback("int(void *)")
    def ctx_set(c):
        log.append(("ctx_set", int(ffi.cast("uintptr_t", c))))
        return 0

    entry = {k: int(ffi.cast("uintptr_t", v)) for k, v in dict(
        launch=launch, memset32=memset32, dtoh=dtoh, sync=sync, ctx_get=ctx_get, ctx_set=ctx_set).items()}
    d = cuda_fused.descriptor(spec, 11, 12, entry, ctx=77)
    addr = int(cuda_fused.descriptor_ffi().cast("uintptr_t", d))
    shape = {"elementwise": (1000, 3), "long_rows": (3, 40_000), "error": (10,)}[case]
    ins, outs = arrays_for(spec, np.random.default_rng(0), shape if len(shape) == 2 else (1, 10))
    if case == "error":
        ins = [np.arange(10, dtype=np.int32), np.full(10, 4, np.int32), np.zeros(1, np.int64)]
        outs = [np.zeros(10, np.int32)]
    launcher = cuda_fused.launcher_address()
    if case == "error":
        with pytest.raises(cpu.KernelError, match="fused member 1: integer division by zero"):
            call_at(launcher, ins, outs, (addr,))
        assert [e[0] for e in log] == ["memset", "dtoh", "sync"] and log[0][1] == 2
        assert launches[0][1] == 1 and launches[0][3] == 10
        return
    call_at(launcher, ins, outs, (addr,))
    assert not log  # the context was current; no error word to read back
    if case == "elementwise":
        n = 3000 if len(ins[0].shape) == 2 else ins[0].size
        assert launches == [(11, (n + 255) // 256, 256, n, 0, 0, 0, launches[0][7])]
    else:
        nch = (40_000 + fc.CUDA_CHUNK - 1) // fc.CUDA_CHUNK
        assert launches[0] == (11, 3 * nch, 256, 3 * nch, 3, 40_000, nch, 2)
        assert launches[1][:3] == (12, 1, 256)  # the second pass: a thread per row


@needs_cc
def test_the_launcher_refuses_a_call_without_a_descriptor_or_with_a_wrong_layout():
    x = sf.placeholder(sf.float32, [8])
    loader = EmuLoader()
    with gpu_lowering(loader):
        run([sf.exp(x) * x], {x: np.ones(8, np.float32)})
    launcher = cuda_fused.launcher_address()
    with pytest.raises(cpu.KernelError, match="no kernel descriptor"):
        call_at(launcher, [np.ones(8, np.float32)], [np.ones(8, np.float32)], (0,))
    _d, addr = loader.descriptor_address(loader.specs[0])
    with pytest.raises(cpu.KernelError, match="dtype"):
        call_at(launcher, [np.ones(8, np.float64)], [np.ones(8, np.float32)], (addr,))
    with pytest.raises(cpu.KernelError, match="shape differs"):
        call_at(launcher, [np.ones(8, np.float32)], [np.ones(9, np.float32)], (addr,))


@needs_cc
def test_descriptor_layout_matches_the_header():
    loader = EmuLoader()
    x = sf.placeholder(sf.float32, [8])
    with gpu_lowering(loader):
        run([sf.exp(x) + 1.0], {x: np.ones(8, np.float32)})
    import ctypes

    addr = loader.address(loader.specs[0])
    lib_size = ctypes.CFUNCTYPE(ctypes.c_int64)
    # the emulation library exports the C sizes beside its kernel
    handle = [h for h in jit._loaded.values() if h[1] == addr][0][0]
    size = lib_size(("sf_emu_descriptor_size", handle))()
    dt_off = lib_size(("sf_emu_dt_offset", handle))()
    ffi = cuda_fused.descriptor_ffi()
    assert ffi.sizeof("sf_fused_fn") == size
    assert ffi.offsetof("sf_fused_fn", "dt") == dt_off


# --- NVRTC and nvcc ---------------------------------------------------------------------------
def _specs_of(program) -> list:
    with sf.Graph().as_default():
        fetches, feed = build(program)
        with gpu_lowering(EmuLoader()) as loader:
            run(fetches, feed)
    return loader.specs


@needs_nvrtc
@needs_cc
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_sources_compile_with_nvrtc(program):
    for spec in _specs_of(program):
        ptx = nvrtc.compile_source(fc.cuda_source(spec), cuda_fused.headers(), nvrtc.options(80, cubin=False))
        assert b".entry sf_fused" in ptx and ptx.endswith(b"\0")
        if spec.reduce is not None and spec.reduce[2] == "row":
            assert b".entry sf_fused_fin" in ptx


@needs_nvrtc
def test_nvrtc_makes_a_cubin_for_a_real_architecture():
    x = sf.placeholder(sf.float32, [4, 300])
    with gpu_lowering(EmuLoader()) as loader:
        run([sf.reduce_mean(sf.exp(x), axis=1)], {x: np.ones((4, 300), np.float32)})
    arch = max(a for a in nvrtc.supported_archs() if a <= 90)
    src = fc.cuda_source(loader.specs[0])
    cubin = nvrtc.compile_source(src, cuda_fused.headers(), nvrtc.options(arch, True))
    assert cubin[:4] == b"\x7fELF"


@needs_nvrtc
def test_a_compile_error_carries_nvrtc_s_log():
    with pytest.raises(jit.CompileError, match="undefined"):
        src = 'extern "C" __global__ void k() { undefined_thing(); }'
        nvrtc.compile_source(src, {}, nvrtc.options(80, False))


def _nvcc():
    from staticflow.backends import _build_cuda

    return _build_cuda.find_nvcc()


@pytest.mark.skipif(_nvcc() is None, reason="no nvcc")
@needs_cc
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs())
def test_generated_sources_compile_with_nvcc(tmp_path_factory, program):
    d = tmp_path_factory.mktemp("nvcc")
    for k, spec in enumerate(_specs_of(program)[:2]):
        src = d / f"k{k}.cu"
        src.write_text(fc.cuda_source(spec))
        cmd = [_nvcc(), "-ptx", "-arch=compute_80", f"-I{cuda_fused.include_dir()}",
               *(f"-I{p}" for p in jit.include_dirs()), str(src), "-o", str(d / f"k{k}.ptx")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
        assert ".entry sf_fused" in (d / f"k{k}.ptx").read_text()


# --- the cache --------------------------------------------------------------------------------
_SRC = 'extern "C" __global__ void sf_fused(float *x) { x[threadIdx.x] = expf(x[threadIdx.x]); }\n'


@needs_nvrtc
def test_a_second_compile_is_a_cache_hit(tmp_path, monkeypatch):
    monkeypatch.setenv(jit.CACHE_ENV, str(tmp_path))
    opts = nvrtc.options(80, False)
    c0, h0 = nvrtc.stats["compiled"], nvrtc.stats["cached"]
    a = nvrtc.compile_cached(_SRC, {}, opts)
    assert (nvrtc.stats["compiled"], nvrtc.stats["cached"]) == (c0 + 1, h0)
    b = nvrtc.compile_cached(_SRC, {}, opts)
    assert (nvrtc.stats["compiled"], nvrtc.stats["cached"]) == (c0 + 1, h0 + 1)
    assert a == b and len(list(tmp_path.glob("nv_*.ptx"))) == 1
    # another option or source is another entry
    nvrtc.compile_cached(_SRC, {}, nvrtc.options(90, False))
    nvrtc.compile_cached(_SRC + "\n", {}, opts)
    assert len(list(tmp_path.glob("nv_*.ptx"))) == 3


@needs_nvrtc
def test_a_damaged_entry_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv(jit.CACHE_ENV, str(tmp_path))
    opts = nvrtc.options(80, False)
    good = nvrtc.compile_cached(_SRC, {}, opts)
    (entry,) = tmp_path.glob("nv_*.ptx")
    whole = entry.read_bytes()
    for damage in (whole[:-40], b"garbage", whole.replace(b"sf_fused", b"sf_fusex")):
        entry.write_bytes(damage)
        c0 = nvrtc.stats["compiled"]
        assert nvrtc.compile_cached(_SRC, {}, opts) == good
        assert nvrtc.stats["compiled"] == c0 + 1


@needs_nvrtc
def test_two_processes_compiling_at_once_leave_one_valid_entry(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from staticflow.backends import nvrtc
        while time.time() < float(sys.argv[1]):
            time.sleep(0.001)
        out = nvrtc.compile_cached({_SRC!r}, {{}}, nvrtc.options(80, False))
        sys.stdout.write(str(len(out)) + " " + str(nvrtc.stats["compiled"]))
    """)
    import time

    env = {**os.environ, jit.CACHE_ENV: str(tmp_path)}
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, "-c", script, start], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    sizes = {o[0].split()[0] for o in outs}
    compiled = sorted(int(o[0].split()[1]) for o in outs)
    assert len(sizes) == 1 and compiled == [0, 1]  # one compiled, the other waited and read it
    entries = list(tmp_path.glob("nv_*.ptx"))
    assert len(entries) == 1 and nvrtc._read(entries[0]) is not None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# --- the declarations against the real headers ------------------------------------------------
def _compile_check(header_dir: pathlib.Path, header: str, cdef: str, extra: str, tmp_path) -> None:
    cc = (jit.compiler() or ["cc"])[0]
    decls = re.sub(r"typedef[^;]*;", "", cdef)  # the header's own types; the functions checked
    src = tmp_path / "check.c"
    src.write_text(f"#include <{header}>\n{decls}\n{extra}\nint main(void) {{ return 0; }}\n")
    r = subprocess.run([cc, "-std=c11", "-Werror", "-fsyntax-only", f"-I{header_dir}", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def _nvrtc_header() -> pathlib.Path | None:
    if not nvrtc.available():
        return None
    lib_path = nvrtc.library()[2]
    for d in (lib_path.parent.parent / "include", *(pathlib.Path(h) / "include" for h in _toolkits())):
        if (d / "nvrtc.h").is_file():
            return d
    return None


def _toolkits() -> list[str]:
    return nvrtc.toolkits()


@needs_cc
@pytest.mark.skipif(_nvrtc_header() is None, reason="nvrtc.h not found beside libnvrtc or the toolkit")
def test_nvrtc_declarations_match_nvrtc_h(tmp_path):
    _compile_check(_nvrtc_header(), "nvrtc.h", nvrtc.CDEF,
                   '_Static_assert(sizeof(nvrtcResult) == sizeof(int), "nvrtcResult is an int");', tmp_path)


@needs_cc
@pytest.mark.skipif(not any((pathlib.Path(h) / "include" / "cuda.h").is_file() for h in _toolkits()),
                    reason="cuda.h not found (no CUDA toolkit)")
def test_driver_declarations_match_cuda_h(tmp_path):
    d = next(pathlib.Path(h) / "include" for h in _toolkits()
             if (pathlib.Path(h) / "include" / "cuda.h").is_file())
    major, minor = cuda_driver.COMPUTE_CAPABILITY_MAJOR, cuda_driver.COMPUTE_CAPABILITY_MINOR
    extra = f"""
    _Static_assert(sizeof(CUresult) == sizeof(int), "");
    _Static_assert(sizeof(CUdevice) == sizeof(int), "");
    _Static_assert(sizeof(CUdeviceptr) == 8, "");
    _Static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == {major}, "");
    _Static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == {minor}, "");
    """
    _compile_check(d, "cuda.h", cuda_driver.CDEF, extra, tmp_path)


def test_without_nvrtc_or_a_driver_the_gpu_lowering_says_why(monkeypatch, recwarn):
    monkeypatch.setattr(nvrtc, "_loaded", None)
    monkeypatch.setattr(nvrtc, "_error", "libnvrtc was not found (in this test)")
    monkeypatch.setattr(jit, "_warned", set())
    loader = cuda_fused.GpuLoader()
    assert "libnvrtc was not found" in loader.unavailable()
    with gpu_lowering(loader):
        x = sf.placeholder(sf.float32, [5])
        got = run([sf.exp(x) * 2.0 + 1.0], {x: np.ones(5, np.float32)})[0]
    np.testing.assert_allclose(got, np.exp(1.0) * 2 + 1, rtol=1e-6)
    assert [str(w.message) for w in recwarn if issubclass(w.category, jit.FusionWarning)] and \
        "libnvrtc" in str([w.message for w in recwarn][0])


def test_a_kernel_the_driver_cannot_load_falls_back_to_the_members(monkeypatch, recwarn):
    monkeypatch.setattr(jit, "_warned", set())

    class Refusing(EmuLoader):
        def kernel(self, spec):
            raise cuda_driver.DriverUnavailable("cuModuleLoadData failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION")

    x = sf.placeholder(sf.float32, [5])
    with gpu_lowering(Refusing()):
        got = run([sf.exp(x) * x], {x: np.full(5, 2.0, np.float32)})[0]
    np.testing.assert_allclose(got, np.exp(2.0) * 2, rtol=1e-6)
    msgs = [str(w.message) for w in recwarn if issubclass(w.category, jit.FusionWarning)]
    assert len(msgs) == 1 and "UNSUPPORTED_PTX_VERSION" in msgs[0]
