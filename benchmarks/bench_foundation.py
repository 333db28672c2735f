"""Foundation benchmarks: per-run overhead and a large matrix product.

1. session.run latency of a 200-op chain of tiny elementwise ops (16 floats):
   what one call costs when the work is negligible, i.e. the engine's overhead.
2. A 1024x1024 float32 matrix product.

Each is measured beside NumPy and, when installed, TensorFlow 1.x graph mode
(tensorflow.compat.v1) and PyTorch, in the same process, and printed with
ratios (peer time / staticflow time: above 1 means staticflow is faster).
Run: ``make bench`` or ``python benchmarks/bench_foundation.py``.
"""

from __future__ import annotations

import argparse

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import best_of, machine_line

import staticflow as sf

CHAIN = 200


def chain_ops(n: int):
    """The op sequence of the chain: (name, numpy fn) cycling through cheap ops."""
    seq = [
        ("mul", lambda v: v * np.float32(0.5)),
        ("add", lambda v: v + np.float32(1.0)),
        ("tanh", np.tanh),
        ("sub", lambda v: v - np.float32(0.25)),
    ]
    return [seq[i % len(seq)] for i in range(n)]


def bench_chain() -> dict[str, float]:
    x0 = np.linspace(-1, 1, 16, dtype=np.float32)
    out: dict[str, float] = {}
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [16])
        y = x
        for name, _ in chain_ops(CHAIN):
            y = {
                "mul": lambda v: v * 0.5,
                "add": lambda v: v + 1.0,
                "tanh": sf.tanh,
                "sub": lambda v: v - 0.25,
            }[name](y)
    sess = sf.Session(graph=g)
    got = sess.run(y, {x: x0})
    out["staticflow"] = best_of(lambda: sess.run(y, {x: x0}))

    def numpy_chain():
        v = x0
        for _, fn in chain_ops(CHAIN):
            v = fn(v)
        return v

    np.testing.assert_allclose(got, numpy_chain(), rtol=1e-5)
    out["numpy"] = best_of(numpy_chain)
    try:
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        tg = tf.Graph()
        with tg.as_default():
            tx = tf.placeholder(tf.float32, [16])
            ty = tx
            for name, _ in chain_ops(CHAIN):
                ty = {
                    "mul": lambda v: v * 0.5,
                    "add": lambda v: v + 1.0,
                    "tanh": tf.tanh,
                    "sub": lambda v: v - 0.25,
                }[name](ty)
        ts = tf.Session(graph=tg)
        np.testing.assert_allclose(ts.run(ty, {tx: x0}), got, rtol=1e-5)
        out["tensorflow1"] = best_of(lambda: ts.run(ty, {tx: x0}))
    except ImportError:
        pass
    try:
        import torch

        tx0 = torch.from_numpy(x0)

        def torch_chain():
            v = tx0
            for name, _ in chain_ops(CHAIN):
                v = {
                    "mul": lambda v: v * 0.5,
                    "add": lambda v: v + 1.0,
                    "tanh": torch.tanh,
                    "sub": lambda v: v - 0.25,
                }[name](v)
            return v

        np.testing.assert_allclose(torch_chain().numpy(), got, rtol=1e-5)
        out["pytorch"] = best_of(torch_chain)
    except ImportError:
        pass
    return out


def bench_matmul(n: int = 1024) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out: dict[str, float] = {}
    g = sf.Graph()
    with g.as_default():
        pa = sf.placeholder(sf.float32, [n, n])
        pb = sf.placeholder(sf.float32, [n, n])
        c = sf.matmul(pa, pb)
    sess = sf.Session(graph=g)
    got = sess.run(c, {pa: a, pb: b})
    np.testing.assert_allclose(got, a @ b, rtol=1e-3, atol=1e-3)
    out["staticflow"] = best_of(lambda: sess.run(c, {pa: a, pb: b}), repeat=5)
    out["numpy"] = best_of(lambda: a @ b, repeat=5)
    try:
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        tg = tf.Graph()
        with tg.as_default():
            ta = tf.placeholder(tf.float32, [n, n])
            tb = tf.placeholder(tf.float32, [n, n])
            tc = tf.matmul(ta, tb)
        ts = tf.Session(graph=tg)
        out["tensorflow1"] = best_of(lambda: ts.run(tc, {ta: a, tb: b}), repeat=5)
    except ImportError:
        pass
    try:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out["pytorch"] = best_of(lambda: torch.mm(ta, tb), repeat=5)
    except ImportError:
        pass
    return out


def report(title: str, times: dict[str, float], unit: str = "us", scale: float = 1e6) -> None:
    base = times["staticflow"]
    print(f"\n{title}")
    print(f"  {'engine':12s} {'time (' + unit + ')':>12s} {'peer / staticflow':>18s}")
    for k, v in times.items():
        ratio = "" if k == "staticflow" else f"{v / base:.2f}x"
        print(f"  {k:12s} {v * scale:12.1f} {ratio:>18s}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.parse_args()
    print(machine_line())
    report(f"session.run of a {CHAIN}-op chain of elementwise ops on 16 floats", bench_chain())
    report("1024x1024 float32 matmul", bench_matmul(), unit="ms", scale=1e3)


if __name__ == "__main__":
    main()
