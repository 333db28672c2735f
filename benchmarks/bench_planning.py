"""What planning costs as graphs grow: the targets of the compiler's planning budget.

Five graphs, each timed from a fresh graph (best of --repeat):
- a chain of 16,000 elementwise ops on a fed vector: seconds to plan it (`Session.plan`);
- `add_n` of 20,000 fed scalars: its first run (planning included);
- a 500-step `static_rnn` of a BasicLSTMCell (8 units) with plain SGD: the first training step;
- a 1,000-layer MLP (dense layers of width 8, relu) with plain SGD: the first training step;
- a 400-layer MLP: building it, differentiating it and its first training step, all together.
Each line prints the target beside the figure. TensorFlow 1.x's figure for the last graph is
measured in the same run when tensorflow is installed (`--no-tf` skips it).
Run: ``make bench`` or ``python benchmarks/bench_planning.py``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line

import staticflow as sf

WIDTH = 8


def chain_plan(n: int = 16000) -> float:
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [16])
        y = x
        for i in range(n):
            y = sf.tanh(y) if i % 2 else y * 0.5
        with sf.Session() as sess:
            t0 = time.perf_counter()
            sess.plan(y, {x: np.ones(16, np.float32)})
            return time.perf_counter() - t0


def add_n_first_run(n: int = 20000) -> float:
    with sf.Graph().as_default():
        xs = [sf.placeholder(sf.float32, []) for _ in range(n)]
        y = sf.add_n(xs)
        feed = {x: np.float32(1) for x in xs}
        with sf.Session() as sess:
            t0 = time.perf_counter()
            sess.run(y, feed)
            return time.perf_counter() - t0


def _first_step(loss, feed) -> float:
    train = sf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        t0 = time.perf_counter()
        sess.run(train, feed)
        return time.perf_counter() - t0


def lstm_first_step(steps: int = 500) -> float:
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, steps, 4])
        cell = sf.nn.rnn_cell.BasicLSTMCell(WIDTH)
        outputs, _ = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), dtype=sf.float32)
        loss = sf.reduce_mean(sf.square(outputs[-1]))
        return _first_step(loss, {x: np.ones((4, steps, 4), np.float32)})


def _mlp(tf, depth: int):
    """`depth` dense layers (relu) written with variables and matmul, so that both engines
    build the same graph (tf.layers needs Keras 2 under TensorFlow 2.16+)."""
    x = tf.placeholder(tf.float32, [None, WIDTH])
    h = x
    for i in range(depth):
        w = tf.Variable(np.eye(WIDTH, dtype=np.float32), name=f"w{i}")
        b = tf.Variable(np.zeros(WIDTH, np.float32), name=f"b{i}")
        h = tf.nn.relu(tf.matmul(h, w) + b)
    return x, tf.reduce_mean(tf.square(h))


def mlp_first_step(depth: int = 1000) -> float:
    with sf.Graph().as_default():
        x, loss = _mlp(sf, depth)
        return _first_step(loss, {x: np.ones((4, WIDTH), np.float32)})


def mlp_all(tf, depth: int = 400) -> float:
    """Build, differentiate and run the first training step of a `depth`-layer MLP."""
    with tf.Graph().as_default():
        t0 = time.perf_counter()
        x, loss = _mlp(tf, depth)
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {x: np.ones((4, WIDTH), np.float32)})
        return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs per graph")
    ap.add_argument("--no-tf", action="store_true", help="leave TensorFlow 1.x out")
    args = ap.parse_args(argv)
    print(machine_line())
    rows = [
        ("16k-op chain: plan", chain_plan, 1.0),
        ("add_n of 20,000 inputs: first run", add_n_first_run, 1.0),
        ("500-step LSTM: first training step", lstm_first_step, 2.0),
        ("1,000-layer MLP: first training step", mlp_first_step, 1.5),
        ("400-layer MLP: build + gradients + first step", lambda: mlp_all(sf), 1.0),
    ]
    mlp_all(sf, 4)  # warm up: imports, the kernel library, the kernel cache
    missed = 0
    print(f"{'graph':<48} {'seconds':>8} {'target':>8}")
    for name, fn, target in rows:
        best = float("inf")
        for _ in range(args.repeat):
            gc.collect()
            best = min(best, fn())
        missed += best > target
        flag = "" if best <= target else "  (missed)"
        print(f"{name:<48} {best:>8.2f} {'< ' + format(target, '.1f'):>8}{flag}")
    tf = None if args.no_tf else import_tf1()
    if tf is not None:
        mlp_all(tf, 4)
        best = min(mlp_all(tf) for _ in range(args.repeat))
        print(f"{'  TensorFlow 1.x, the same 400-layer MLP':<48} {best:>8.2f}")
    print(f"targets missed: {missed} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
