"""The per-iteration overhead of a while_loop: an empty body (i + 1 while i < n).

staticflow's loop runs its cond and body as nested plans; when each is one segment of
kernel calls, as here, the loop runs from C (sf_run_while), and the cost per iteration is
copying the loop variable in and out of the nested plans' buffers and their kernel calls,
beside TensorFlow 1.x graph mode's while_loop (in
control flow v2 form, as staticflow's) and PyTorch's Python loop where installed. Also
a cond picking one of two small branches per run, beside TensorFlow's.

Each engine's figure is the best of ROUNDS runs. Run: ``make bench`` or
``python benchmarks/bench_while.py``.
"""

from __future__ import annotations

import time

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line

import staticflow as sf

ITERATIONS = 20000
ROUNDS = 7


def _loop(tf):
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        i = tf.while_loop(lambda i: i < n, lambda i: i + 1, [tf.constant(0)])
        sess = tf.Session(graph=g)
    assert sess.run(i, {n: 10}) == 10
    return lambda k: sess.run(i, {n: k})


def _cond(tf):
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.bool, [])
        x = tf.constant(np.arange(4, dtype=np.float32))
        y = tf.cond(p, lambda: x * 2.0, lambda: x + 1.0)
        sess = tf.Session(graph=g)
    np.testing.assert_allclose(sess.run(y, {p: True}), np.arange(4) * 2.0)
    flip = [True]

    def run():
        flip[0] = not flip[0]
        return sess.run(y, {p: flip[0]})

    return run


def _torch_loop():
    try:
        import torch
    except ImportError:
        return None

    def run(k):
        i = torch.tensor(0)
        while bool(i < k):
            i = i + 1
        return i

    return run


def _repeat(fn, k: int) -> None:
    for _ in range(k):
        fn()


def _best(fn, *args) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    print(machine_line())
    tf = import_tf1()
    if tf is not None:
        tf.enable_control_flow_v2()
    loops = {"staticflow": _loop(sf)}
    conds = {"staticflow": _cond(sf)}
    if tf is not None:
        loops["tf1"] = _loop(tf)
        conds["tf1"] = _cond(tf)
    else:
        print("TensorFlow: not installed")
    torch_loop = _torch_loop()
    if torch_loop is not None:
        loops["pytorch (python loop)"] = torch_loop
    else:
        print("PyTorch: not installed")
    print(f"empty while_loop body, {ITERATIONS} iterations, best of {ROUNDS} runs")
    print(f"  {'engine':24s} {'us/iteration':>13s}")
    for name, fn in loops.items():
        t = _best(fn, ITERATIONS) - _best(fn, 0)
        print(f"  {name:24s} {t / ITERATIONS * 1e6:13.2f}")
    print("cond of two 4-element branches, per run (the predicate fed, alternating)")
    print(f"  {'engine':24s} {'us/run':>13s}")
    for name, fn in conds.items():
        for _ in range(200):
            fn()
        t = _best(_repeat, fn, 1000) / 1000
        print(f"  {name:24s} {t * 1e6:13.2f}")


if __name__ == "__main__":
    main()
