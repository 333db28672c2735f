"""What a run costs beyond its kernels when it fetches a large tensor.

1. A chain of 10 elementwise ops (fused into one kernel) over 16M float32 values, fetched: the
   wall time of `sess.run` beside the sum of its kernels' times (from a
   FULL_TRACE run) plus one 64 MB copy. The difference is the run's own cost:
   binding feeds, the C call, handing the fetch out.
2. A fetch of a 64 MB tensor (one cheap op) beside `np.copy` of 64 MB.
3. The caller's own 64 MB copy right after a run beside the same copy before any
   run: a run must not leave the process's memory in a state that slows the next
   large allocation (it did while a reference cycle kept each fetch alive).

Run: ``make bench`` or ``python benchmarks/bench_fetch.py``.
"""

from __future__ import annotations

import time

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import best_of, machine_line

import staticflow as sf

N = 16 * 1024 * 1024  # float32 values: 64 MB
CHAIN = 10


def chain(x):
    y = x
    for i in range(CHAIN):
        y = [lambda v: v * 0.5, lambda v: v + 1.0, sf.abs, lambda v: v - 0.25, sf.negative][i % 5](y)
    return y


def kernel_seconds(sess, fetch, feed) -> float:
    """Sum of the kernel times of one traced run: the ops of a fused group share one span,
    and each span counts once."""
    md = sf.RunMetadata()
    opts = sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE)
    sess.run(fetch, feed, options=opts, run_metadata=md)
    spans = {(n.all_start_nanos, n.op_end_rel_nanos) for d in md.step_stats.dev_stats for n in d.node_stats}
    return sum(length for _, length in spans) * 1e-9


def main() -> None:
    print(machine_line())
    xv = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    copy_first = best_of(lambda: np.array(xv, copy=True), repeat=7)

    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [N])
        y = chain(x)
        one = x * 2.0
    sess = sf.Session(graph=g)
    feed = {x: xv}
    sess.run([y], feed)
    sess.run(one, feed)

    kernels = min(kernel_seconds(sess, y, feed) for _ in range(5))
    run = best_of(lambda: sess.run(y, feed), repeat=7)
    copy = best_of(lambda: np.array(xv, copy=True), repeat=7)
    print(f"1. {CHAIN}-op elementwise chain over 16M float32 (64 MB), fetched")
    print(
        f"   kernels {kernels * 1e3:.1f} ms + one 64 MB copy {copy * 1e3:.1f} ms "
        f"= {(kernels + copy) * 1e3:.1f} ms"
    )
    print(f"   sess.run {run * 1e3:.1f} ms: {run / (kernels + copy):.2f}x of kernels + copy (target <= 1.3x)")

    fetch = best_of(lambda: sess.run(one, feed), repeat=7)
    one_kernel = min(kernel_seconds(sess, one, feed) for _ in range(5))
    print("2. fetch of a 64 MB tensor (x * 2)")
    print(
        f"   sess.run {fetch * 1e3:.1f} ms (its kernel {one_kernel * 1e3:.1f} ms) beside np.copy of 64 MB "
        f"{copy * 1e3:.1f} ms: run - kernel = {(fetch - one_kernel) / copy:.2f}x a copy"
    )

    after = []
    for _ in range(7):
        sess.run(y, feed)
        t0 = time.perf_counter()
        np.array(xv, copy=True)
        after.append(time.perf_counter() - t0)
    print("3. the caller's 64 MB copy")
    print(
        f"   before any run {copy_first * 1e3:.1f} ms, right after a run {min(after) * 1e3:.1f} ms "
        f"(median {np.median(after) * 1e3:.1f} ms): {np.median(after) / copy_first:.2f}x"
    )


if __name__ == "__main__":
    main()
