"""How building, differentiating and the first run grow with a graph's depth.

Two deep graphs, each at depth N and 4N: an MLP of N dense layers (relu, width 8) with the
gradients of all its variables, and a static_rnn of a BasicLSTMCell (8 units) unrolled over N
steps with the gradients of its weights; batch fed at run time. For each: seconds to build
the forward graph, to add the gradients (sf.gradients), and for the first sess.run of the loss
and gradients (planning included), then the ratio of the 4N time to the N time (best of
--repeat builds each). Linear growth gives about 4; the target is at most 5. The work itself
is counted, without timing, by tests/framework/test_deep_graphs.py.
Run: ``make bench`` or ``python benchmarks/bench_deep.py [--depth N]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import machine_line

import staticflow as sf

WIDTH = 8


def mlp(depth: int) -> tuple[float, float, float]:
    with sf.Graph().as_default():
        t0 = time.perf_counter()
        x = sf.placeholder(sf.float32, [None, WIDTH])
        h = x
        for _ in range(depth):
            h = sf.layers.dense(
                h, WIDTH, activation=sf.nn.relu, kernel_initializer=sf.constant_initializer(np.eye(WIDTH))
            )
        loss = sf.reduce_mean(sf.square(sf.reshape(h, [sf.shape(h)[0], -1])))
        t1 = time.perf_counter()
        grads = sf.gradients(loss, sf.trainable_variables())
        t2 = time.perf_counter()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            t3 = time.perf_counter()
            sess.run([loss] + grads, {x: np.ones((4, WIDTH), np.float32)})
            t4 = time.perf_counter()
    return t1 - t0, t2 - t1, t4 - t3


def lstm(steps: int) -> tuple[float, float, float]:
    with sf.Graph().as_default():
        t0 = time.perf_counter()
        x = sf.placeholder(sf.float32, [None, steps, 4])
        cell = sf.nn.rnn_cell.BasicLSTMCell(WIDTH)
        outputs, _ = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), dtype=sf.float32)
        loss = sf.reduce_mean(sf.square(outputs[-1]))
        t1 = time.perf_counter()
        grads = sf.gradients(loss, sf.trainable_variables())
        t2 = time.perf_counter()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            t3 = time.perf_counter()
            sess.run([loss] + grads, {x: np.ones((4, steps, 4), np.float32)})
            t4 = time.perf_counter()
    return t1 - t0, t2 - t1, t4 - t3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=250, help="N: the graphs are timed at N and 4N")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many builds per depth")
    args = ap.parse_args(argv)
    sys.setrecursionlimit(1000)  # the default: no walk may need more, whatever the depth
    n = args.depth
    print(machine_line())
    print(f"{'graph':<6} {'depth':>6} {'build s':>9} {'gradients s':>12} {'first run s':>12} {'total s':>9}")
    worst = 0.0
    for name, fn in (("mlp", mlp), ("lstm", lstm)):
        fn(8)  # warm up: imports, the kernel library, caches
        times = {}
        for depth in (n, 4 * n):
            runs = []
            for _ in range(args.repeat):
                gc.collect()
                runs.append(fn(depth))
            times[depth] = min(runs, key=sum)
            b, g, r = times[depth]
            print(f"{name:<6} {depth:>6} {b:>9.2f} {g:>12.2f} {r:>12.2f} {b + g + r:>9.2f}")
        ratios = [big / max(small, 1e-9) for small, big in zip(times[n], times[4 * n])]
        total = sum(times[4 * n]) / sum(times[n])
        worst = max(worst, total)
        print(
            f"{name:<6} {'4N/N':>6} {ratios[0]:>9.2f} {ratios[1]:>12.2f} {ratios[2]:>12.2f} {total:>9.2f}"
        )
    print(f"largest 4N/N ratio of the totals: {worst:.2f} (linear: 4, target: at most 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
