"""The per-iteration overhead of a while_loop: an empty body (i + 1 while i < n).

staticflow's loop runs its cond and body as nested plans; when each is one segment of
kernel calls, as here, the loop runs from C (sf_run_while), and the cost per iteration is
copying the loop variable in and out of the nested plans' buffers and their kernel calls,
beside TensorFlow 1.x graph mode's while_loop (in
control flow v2 form, as staticflow's) and PyTorch's Python loop where installed. Also
a cond picking one of two small branches per run, beside TensorFlow's. And a loop whose body
computes values that are the same at every iteration (`x @ W` of captured tensors, a
transpose of a captured weight), with staticflow's loop_optimization (which computes them
once, before the loop) on and off, beside TensorFlow's.

Also a loop whose variable grows (a row appended per iteration, allowed by
shape_invariants), which staticflow runs from Python with the body planned per shape (the
plans made on the first run, reused after), and its gradient, beside TensorFlow's.

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


RNN_BATCH, RNN_HIDDEN, RNN_STEPS = 32, 256, 100


def _rnn(tf, config=None):
    """h <- tanh(h @ W^T + x @ W) for RNN_STEPS iterations: W^T and x @ W are invariant."""
    rng = np.random.default_rng(0)
    wv = (rng.standard_normal((RNN_HIDDEN, RNN_HIDDEN)) * 0.05).astype(np.float32)
    xv = rng.standard_normal((RNN_BATCH, RNN_HIDDEN)).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [RNN_BATCH, RNN_HIDDEN])
        w = tf.placeholder(tf.float32, [RNN_HIDDEN, RNN_HIDDEN])

        def body(i, h):
            return [i + 1, tf.tanh(tf.matmul(h, tf.transpose(w)) + tf.matmul(x, w))]

        _, h = tf.while_loop(lambda i, h: i < RNN_STEPS, body, [tf.constant(0), tf.zeros_like(x)])
        sess = tf.Session(graph=g, config=config)
    feeds = {x: xv, w: wv}
    want = np.zeros_like(xv)
    for _ in range(RNN_STEPS):
        want = np.tanh(want @ wv.T + xv @ wv)
    np.testing.assert_allclose(sess.run(h, feeds), want, rtol=1e-3, atol=1e-4)
    return lambda: sess.run(h, feeds)


GROW_ITERATIONS = 100


def _growing(tf):
    """(run of the growing loop, run of its gradient), each a function of the iteration count."""
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        x0 = tf.constant(np.full((1, 8), 0.5, np.float32))
        w = tf.constant(np.linspace(-1.0, 1.0, 8, dtype=np.float32))
        _, x = tf.while_loop(
            lambda i, x: i < n,
            lambda i, x: (i + 1, tf.concat([x, tf.tanh(x[-1:] * w)], 0)),
            [tf.constant(0), x0],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 8])],
        )
        total = tf.reduce_sum(x)
        (gx,) = tf.gradients(total, [x0])
        sess = tf.Session(graph=g)
    return (lambda k: sess.run(total, {n: k})), (lambda k: sess.run(gx, {n: k}))


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
    grows = {"staticflow": _growing(sf)}
    if tf is not None:
        grows["tf1"] = _growing(tf)
    print(f"growing loop variable (1x8, a row per iteration), {GROW_ITERATIONS} iterations, per run")
    print(f"  {'engine':24s} {'forward ms':>13s} {'gradient ms':>13s}")
    for name, (fwd, grad) in grows.items():
        got = [fwd(GROW_ITERATIONS), grad(GROW_ITERATIONS)]  # the first runs plan every shape
        if name != "staticflow":
            ref = [grows["staticflow"][0](GROW_ITERATIONS), grows["staticflow"][1](GROW_ITERATIONS)]
            np.testing.assert_allclose(got[0], ref[0], rtol=1e-4)
            np.testing.assert_allclose(got[1], ref[1], rtol=1e-4, atol=1e-5)
        t_f = _best(fwd, GROW_ITERATIONS)
        t_g = _best(grad, GROW_ITERATIONS)
        print(f"  {name:24s} {t_f * 1e3:13.2f} {t_g * 1e3:13.2f}")
    print("cond of two 4-element branches, per run (the predicate fed, alternating)")
    print(f"  {'engine':24s} {'us/run':>13s}")
    for name, fn in conds.items():
        for _ in range(200):
            fn()
        t = _best(_repeat, fn, 1000) / 1000
        print(f"  {name:24s} {t * 1e6:13.2f}")
    off = sf.ConfigProto()
    off.graph_options.rewrite_options.loop_optimization = sf.RewriterConfig.OFF
    rnns = {"staticflow": _rnn(sf), "staticflow, loop_opt off": _rnn(sf, off)}
    if tf is not None:
        rnns["tf1"] = _rnn(tf)
    print(
        f"loop with invariant values: tanh(h @ W^T + x @ W), {RNN_STEPS} iterations, "
        f"[{RNN_BATCH}, {RNN_HIDDEN}], best of {ROUNDS} runs"
    )
    print(f"  {'engine':24s} {'ms/run':>13s}")
    for name, fn in rnns.items():
        for _ in range(3):
            fn()
        t = _best(_repeat, fn, 5) / 5
        print(f"  {name:24s} {t * 1e3:13.2f}")


if __name__ == "__main__":
    main()
