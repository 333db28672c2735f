"""Speed when the machine is not idle.

A small autoencoder training step (784-256-128-784, sigmoid, RMSProp, batch 256) in
staticflow (its default threads, which each run may lower from what it observes; those
threads on every run, the choice turned off; and intra_op_parallelism_threads=1), TensorFlow 1.x graph
mode (the same two settings) and PyTorch (2 threads and 1) where installed, each measured:

- idle;
- with one core taken by another process (a plain ``while True`` loop), pinned to the
  last core with ``os.sched_setaffinity``;
- with the same loop left to the OS scheduler (unpinned).

A statically split parallel loop waits for its slowest thread, and a thread whose core
another process holds runs only when that process yields: the busy figures show how an
engine copes. Each figure is the median over rounds of about 0.1 s (the best round is
printed beside it), since the busy figures vary from round to round.

The 10-op tanh/exp chain of bench_fusion.py (16M float32 values) is run the same way,
staticflow fused beside TensorFlow 1.x with XLA auto-clustering (``--no-chain`` skips it).

Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when measuring. Run:
``python benchmarks/bench_busy.py`` (``--rounds`` changes the number of rounds).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line

import staticflow as sf
from staticflow.backends import cpu

SIZES = (784, 256, 128, 784)
BATCH = 256
LR = 1e-3


def _busy_loop(pin: bool, ready) -> None:  # pragma: no cover - runs in the child
    if pin and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
    ready.set()
    while True:
        pass


class Busy:
    """A child process spinning on one core (pinned to the last one, or unpinned) while the
    block runs; `None` for an idle machine."""

    def __init__(self, mode: str | None):
        self.mode = mode
        self.proc = None

    def __enter__(self):
        if self.mode is not None:
            # spawned, not forked: the engines' thread pools make fork unsafe
            ctx = mp.get_context("spawn")
            ready = ctx.Event()
            self.proc = ctx.Process(target=_busy_loop, args=(self.mode == "pinned", ready), daemon=True)
            self.proc.start()
            ready.wait(60)
            time.sleep(0.3)  # let the scheduler settle the spinner on its core
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.join()


def init_weights() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    params = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        params.append(rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32))
        params.append(np.zeros(b, np.float32))
    return params


def batch() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (BATCH, SIZES[0])).astype(np.float32)


def graph_step(tf, config) -> tuple[float, Callable]:
    """The autoencoder step in a TF1-style API (staticflow or TensorFlow 1.x): (first loss,
    one-step function)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [BATCH, SIZES[0]])
        h = x
        for i, p in enumerate(init_weights()):
            v = tf.Variable(p)
            h = tf.matmul(h, v) if i % 2 == 0 else tf.sigmoid(h + v)
        loss = tf.reduce_mean(tf.square(h - x))
        train = tf.train.RMSPropOptimizer(LR).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g, config=config)
    sess.run(init)
    feed = {x: batch()}
    first = float(sess.run([loss, train], feed)[0])
    return first, lambda: sess.run(train, feed)


def torch_step(threads: int) -> tuple[float, Callable] | None:
    try:
        import torch
    except ImportError:
        return None
    params = [torch.tensor(p, requires_grad=True) for p in init_weights()]
    # TensorFlow's RMSProp: decay 0.9, epsilon 1e-10 inside the root, accumulators start at 1
    opt = torch.optim.RMSprop(params, lr=LR, alpha=0.9, eps=1e-10)
    for p in params:
        opt.state[p]["square_avg"] = torch.ones_like(p)
        opt.state[p]["step"] = torch.tensor(0.0)
    x = torch.from_numpy(batch())

    def step():
        # PyTorch and staticflow share the process's OpenMP runtime: the count set here
        # would otherwise stay the staticflow rows' count too (one thread after the
        # "pytorch 1 thr" row)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            opt.zero_grad(set_to_none=True)
            h = x
            for i in range(0, len(params), 2):
                h = torch.sigmoid(torch.addmm(params[i + 1], h, params[i]))
            loss = torch.mean((h - x) ** 2)
            loss.backward()
            opt.step()
            return loss.detach()
        finally:
            torch.set_num_threads(before)

    first = float(step())
    return first, step


def rounds(fn: Callable, n: int) -> tuple[float, float]:
    """(median, best) seconds per call over n rounds of about 0.1 s each."""
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    fn()
    number = max(1, int(0.1 / max(time.perf_counter() - t0, 1e-6)))
    per = []
    for _ in range(n):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        per.append((time.perf_counter() - t0) / number)
    return statistics.median(per), min(per)


def engines() -> dict[str, Callable]:
    out: dict[str, Callable] = {}
    _, out["staticflow"] = graph_step(sf, None)
    _, out["sf 1 thread"] = graph_step(sf, sf.ConfigProto(intra_op_parallelism_threads=1))
    _, fixed = graph_step(sf, None)

    def fixed_threads():  # every run on the default count: the thread choice per run off
        cpu.set_adaptive_threads(False)
        try:
            fixed()
        finally:
            cpu.set_adaptive_threads(True)

    out["sf fixed thr"] = fixed_threads
    firsts = {}
    # PyTorch first: its optimizers import torch._dynamo, which crashes once TensorFlow is loaded
    for n in (2, 1):
        r = torch_step(n)
        if r is None:
            print("  PyTorch: not installed")
            break
        firsts["pytorch"], out[f"pytorch {n} thr"] = r
    tf = import_tf1()
    if tf is None:
        print("  TensorFlow: not installed")
    else:
        firsts["tf1"], out["tf1"] = graph_step(tf, None)
        one = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        _, out["tf1 1 thread"] = graph_step(tf, one)
    base, _ = graph_step(sf, None)
    for name, loss in firsts.items():
        np.testing.assert_allclose(loss, base, rtol=1e-4, err_msg=f"first loss of {name} vs staticflow")
    return out


CONDITIONS = (("idle", None), ("busy pinned", "pinned"), ("busy unpinned", "unpinned"))


def bench_step(n_rounds: int) -> None:
    print(f"autoencoder step {'-'.join(map(str, SIZES))}, sigmoid, RMSProp, batch {BATCH}: "
          "median (best) ms per step")
    steps = engines()
    table: dict[str, dict[str, tuple[float, float]]] = {name: {} for name in steps}
    for cond, mode in CONDITIONS:
        with Busy(mode):
            for name, fn in steps.items():
                table[name][cond] = rounds(fn, n_rounds)
    head = "".join(f"{c:>20s}" for c, _ in CONDITIONS)
    print(f"  {'engine':14s}{head}")
    for name, row in table.items():
        cells = "".join(f"{row[c][0] * 1e3:11.2f} ({row[c][1] * 1e3:5.2f})" for c, _ in CONDITIONS)
        print(f"  {name:14s}{cells}")
    one = table["sf 1 thread"]
    print("  staticflow default / staticflow 1 thread (target with a core busy: <= 1.3x):")
    print("    " + ", ".join(f"{c} {table['staticflow'][c][0] / one[c][0]:.2f}x" for c, _ in CONDITIONS))
    if "tf1" in table:
        print("  staticflow / TensorFlow 1.x (default threads, 1 thread):")
        for c, _ in CONDITIONS:
            print(f"    {c}: {table['staticflow'][c][0] / table['tf1'][c][0]:.2f}x, "
                  f"{one[c][0] / table['tf1 1 thread'][c][0]:.2f}x")


def bench_chain(n_rounds: int) -> None:
    import bench_fusion

    print("tanh/exp chain over 16M float32 (bench_fusion.py): best-of ms per run")
    print(f"  {'engine':14s}" + "".join(f"{c:>16s}" for c, _ in CONDITIONS))
    rows: dict[str, dict[str, float]] = {}
    for cond, mode in CONDITIONS:
        with Busy(mode):
            r = bench_fusion.bench_big("tanh_exp", bench_fusion.N)
        for name in ("staticflow", "tf1", "tf1 xla", "jax jit"):
            if name in r:
                rows.setdefault(name, {})[cond] = r[name]
    for name, row in rows.items():
        print(f"  {name:14s}" + "".join(f"{row.get(c, float('nan')) * 1e3:16.2f}" for c, _ in CONDITIONS))
    if "tf1 xla" in rows:
        print("  XLA time / staticflow time: " + ", ".join(
            f"{c} {rows['tf1 xla'][c] / rows['staticflow'][c]:.2f}x" for c, _ in CONDITIONS
            if c in rows["tf1 xla"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-chain", action="store_true", help="skip the fused tanh/exp chain")
    args = ap.parse_args()
    print(machine_line())
    print(f"load average before: {os.getloadavg()}, staticflow threads: {os.cpu_count()}")
    bench_step(args.rounds)
    if not args.no_chain:
        bench_chain(args.rounds)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
