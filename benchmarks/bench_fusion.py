"""Elementwise fusion benchmarks.

1. A 10-op elementwise chain over 16M float32 values, in a tanh/exp version and an
   arithmetic-only version: staticflow fused (one generated kernel) and unfused (one
   kernel per op), beside NumPy, TensorFlow 1.x graph mode, TensorFlow with XLA
   auto-clustering (in a child process: XLA's switch is process-wide) and JAX's jit,
   where installed. Each is reported in ms per run and in GB/s of minimal traffic
   (one read of x, one write of y: 128 MB), beside a plain copy of x into a fresh
   array measured in the same run. staticflow's fused kernel alone (its time in a
   traced run, without the copy of the fetched result) is shown too.
2. A 200-op chain on 16 floats (the per-run overhead when the work is negligible):
   staticflow fused and unfused beside NumPy, PyTensor's compiled C function, JAX's
   jit and TensorFlow 1.x.

Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when measuring. Run:
``python benchmarks/bench_fusion.py`` (``--n`` changes the chain's size).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import best_of, machine_line, pytensor_functions

import staticflow as sf

N = 16 * 1024 * 1024


def chain(kind: str, lib, x):
    """The 10 ops of the chain, written once for every engine (lib: tanh, exp, maximum, minimum)."""
    if kind == "tanh_exp":
        v = lib.tanh(x * 0.5 + 1.0)  # 3 ops
        w = lib.exp(x * -0.1)  # 2 ops
        v = (v * w - 0.25) * 1.5 + x  # 4 ops
        return lib.maximum(v, -1.0)  # 1 op
    v = (x * 0.5 + 1.0) * x - 0.25  # 4 ops
    v = v * 1.5 + x  # 2 ops
    v = lib.minimum(lib.maximum(v, -1.0), 4.0)  # 2 ops
    return v * 2.0 - 1.0  # 2 ops


class _NumpyLib:
    tanh, exp, maximum, minimum = np.tanh, np.exp, np.maximum, np.minimum


def _f32(v):
    return np.float32(v)


def numpy_chain(kind, x):
    # float32 scalars keep NumPy in float32
    if kind == "tanh_exp":
        v = np.tanh(x * _f32(0.5) + _f32(1.0))
        w = np.exp(x * _f32(-0.1))
        v = (v * w - _f32(0.25)) * _f32(1.5) + x
        return np.maximum(v, _f32(-1.0))
    v = (x * _f32(0.5) + _f32(1.0)) * x - _f32(0.25)
    v = v * _f32(1.5) + x
    v = np.minimum(np.maximum(v, _f32(-1.0)), _f32(4.0))
    return v * _f32(2.0) - _f32(1.0)


def _sf_session(kind, n, fused: bool):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [n])
        y = chain(kind, sf, x)
    toggle = sf.RewriterConfig.DEFAULT if fused else sf.RewriterConfig.OFF
    cfg = sf.ConfigProto(
        graph_options=sf.GraphOptions(rewrite_options=sf.RewriterConfig(elementwise_fusion=toggle))
    )
    return sf.Session(graph=g, config=cfg), x, y


def _kernel_seconds(sess, x, y, x0) -> float:
    """The fused kernel's own time: the longest step of a traced run, best of 20 (a single
    traced run moves more than the untraced ones, which best_of repeats in rounds)."""
    md = sf.RunMetadata()
    best = float("inf")
    for _ in range(20):
        sess.run(y, {x: x0}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
        best = min(best, max(s.op_end_rel_nanos for s in md.step_stats.dev_stats[0].node_stats) * 1e-9)
    return best


def bench_big(kind: str, n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-2, 2, n).astype(np.float32)
    want = numpy_chain(kind, x0)
    out: dict[str, float] = {}
    for name, fused in (("staticflow", True), ("sf unfused", False)):
        sess, x, y = _sf_session(kind, n, fused)
        np.testing.assert_allclose(sess.run(y, {x: x0}), want, rtol=1e-5, atol=1e-5)
        out[name] = best_of(lambda s=sess, y=y, x=x: s.run(y, {x: x0}), repeat=5)
        if fused:
            out["sf kernel"] = _kernel_seconds(sess, x, y, x0)
    out["numpy"] = best_of(lambda: numpy_chain(kind, x0), repeat=5)
    tf = _tf1()
    if tf is not None:
        tg = tf.Graph()
        with tg.as_default():
            tx = tf.placeholder(tf.float32, [n])
            ty = chain(kind, tf, tx)
        ts = tf.Session(graph=tg)
        np.testing.assert_allclose(ts.run(ty, {tx: x0}), want, rtol=1e-5, atol=1e-5)
        out["tf1"] = best_of(lambda: ts.run(ty, {tx: x0}), repeat=5)
        xla = _xla_child(kind, n)
        if xla is not None:
            out["tf1 xla"] = xla
    try:
        import jax
        import jax.numpy as jnp

        f = jax.jit(lambda v: chain(kind, jnp, v))
        jx = jax.device_put(x0)
        np.testing.assert_allclose(np.asarray(f(jx)), want, rtol=1e-5, atol=1e-5)
        out["jax jit"] = best_of(lambda: np.asarray(f(jx)), repeat=5)
    except ImportError:
        pass
    return out


def _tf1():
    try:
        import tensorflow.compat.v1 as tf
    except ImportError:
        return None
    tf.disable_eager_execution()
    return tf


def _xla_child(kind: str, n: int) -> float | None:
    """TF1 with XLA auto-clustering, in a child process (the flag is read at import)."""
    flags = "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"
    env = dict(os.environ, TF_XLA_FLAGS=flags, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, __file__, "--xla-child", kind, "--n", str(n)],
                       env=env, capture_output=True, text=True, cwd=os.path.dirname(__file__))
    if r.returncode != 0:
        print(f"  (XLA run failed: {r.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])["seconds"]


def xla_child(kind: str, n: int) -> None:
    tf = _tf1()
    x0 = np.random.default_rng(0).uniform(-2, 2, n).astype(np.float32)
    tg = tf.Graph()
    with tg.as_default():
        tx = tf.placeholder(tf.float32, [n])
        ty = chain(kind, tf, tx)
    cfg = tf.ConfigProto()
    cfg.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    ts = tf.Session(graph=tg, config=cfg)
    np.testing.assert_allclose(ts.run(ty, {tx: x0}), numpy_chain(kind, x0), rtol=1e-5, atol=1e-5)
    print(json.dumps({"seconds": best_of(lambda: ts.run(ty, {tx: x0}), repeat=5)}))


def bench_copy(n: int) -> float:
    x0 = np.random.default_rng(0).uniform(-2, 2, n).astype(np.float32)
    return best_of(lambda: x0.copy(), repeat=5)


CHAIN = 200


def _small_ops():
    return [["mul", "add", "tanh", "sub"][i % 4] for i in range(CHAIN)]


def _small(lib, v):
    for name in _small_ops():
        ops = {"mul": lambda v: v * 0.5, "add": lambda v: v + 1.0, "tanh": lib.tanh,
               "sub": lambda v: v - 0.25}
        v = ops[name](v)
    return v


def bench_small() -> dict[str, float]:
    x0 = np.linspace(-1, 1, 16, dtype=np.float32)
    want = _small(_NumpyLib, x0).astype(np.float32)
    out: dict[str, float] = {}
    for name, fused in (("staticflow", True), ("sf unfused", False)):
        g = sf.Graph()
        with g.as_default():
            x = sf.placeholder(sf.float32, [16])
            y = _small(sf, x)
        toggle = sf.RewriterConfig.DEFAULT if fused else sf.RewriterConfig.OFF
        rw = sf.RewriterConfig(elementwise_fusion=toggle)
        sess = sf.Session(graph=g, config=sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw)))
        np.testing.assert_allclose(sess.run(y, {x: x0}), want, rtol=1e-5)
        out[name] = best_of(lambda s=sess, y=y, x=x: s.run(y, {x: x0}))
    out["numpy"] = best_of(lambda: _small(_NumpyLib, x0))
    try:
        import pytensor.tensor as pt

        px = pt.vector("x", dtype="float32")
        for name, f in pytensor_functions([px], _small(pt, px)).items():
            np.testing.assert_allclose(f(x0), want, rtol=1e-5)
            out[name] = best_of(lambda f=f: f(x0))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jf = jax.jit(lambda v: _small(jnp, v))
        np.testing.assert_allclose(np.asarray(jf(x0)), want, rtol=1e-5)
        out["jax jit"] = best_of(lambda: np.asarray(jf(x0)))
    except ImportError:
        pass
    tf = _tf1()
    if tf is not None:
        tg = tf.Graph()
        with tg.as_default():
            tx = tf.placeholder(tf.float32, [16])
            ty = _small(tf, tx)
        ts = tf.Session(graph=tg)
        out["tf1"] = best_of(lambda: ts.run(ty, {tx: x0}))
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=N)
    ap.add_argument("--xla-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.xla_child:
        xla_child(args.xla_child, args.n)
        return
    print(machine_line(), "·", _cpu_model())
    traffic = 2 * 4 * args.n
    copy = bench_copy(args.n)
    for kind in ("tanh_exp", "arith"):
        times = bench_big(kind, args.n)
        print(f"\n10-op {kind} chain over {args.n} float32 ({traffic / 1e6:.0f} MB of minimal traffic)")
        print(f"  {'engine':12s} {'ms/run':>10s} {'GB/s':>8s} {'peer / staticflow':>18s}")
        gbs = traffic / copy / 1e9
        print(f"  {'copy':12s} {copy * 1e3:10.2f} {gbs:8.2f}   (x.copy() into a fresh array)")
        base = times["staticflow"]
        for k, v in times.items():
            ratio = "" if k == "staticflow" else f"{v / base:.2f}x"
            print(f"  {k:12s} {v * 1e3:10.2f} {traffic / v / 1e9:8.2f} {ratio:>18s}")
    small = bench_small()
    print(f"\nsession.run of a {CHAIN}-op chain on 16 floats")
    base = small["staticflow"]
    for k, v in small.items():
        ratio = "" if k == "staticflow" else f"{v / base:.2f}x"
        print(f"  {k:12s} {v * 1e6:10.1f} us {ratio:>18s}")


if __name__ == "__main__":
    main()
