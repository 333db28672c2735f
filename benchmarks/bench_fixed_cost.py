"""The fixed cost of a run: y = x + 1 on a fed float32 vector of 4 values.

Each engine runs the same 1-op graph, taking a NumPy array and giving one back:
staticflow's `sess.run(y, {x: v})` and `sess.make_callable(y, [x])`, TensorFlow
1.x graph mode's same two, PyTensor's compiled function (`pytensor.function`)
and JAX's jit (the result brought back with `np.asarray`), each where
installed. The kernel's own work is a few nanoseconds, so the time per call is
what the engine spends around it: binding the feed, finding the plan, calling
it, handing the fetch out. Targets: the callable at most PyTensor's function
time, `sess.run` under 4 us.

Calls are timed in rounds of about ROUND_SECONDS each; the engines take turns
round by round, and each engine's figure is its best round (a shared machine's
load lengthens some rounds, never shortens one). Run: ``make bench`` or
``python benchmarks/bench_fixed_cost.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line, pytensor_functions

import staticflow as sf

ROUND_SECONDS = 2e-3  # the length of a timed round
ROUNDS = 200  # rounds per engine, taken in turns


def _tf1_api_calls(tf, label: str, xv: np.ndarray) -> dict[str, Callable]:
    """`sess.run` and `make_callable` of y = x + 1 through a TF1-style API (staticflow's or
    TensorFlow's compat.v1, whose calls are spelled the same)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [xv.size])
        y = x + 1.0
    sess = tf.Session(graph=g)
    f = sess.make_callable(y, [x])
    return {f"{label} sess.run": lambda: sess.run(y, {x: xv}), f"{label} make_callable": lambda: f(xv)}


def staticflow_calls(xv: np.ndarray) -> dict[str, Callable]:
    return _tf1_api_calls(sf, "staticflow", xv)


def tf1_calls(xv: np.ndarray) -> dict[str, Callable]:
    tf = import_tf1()
    return {} if tf is None else _tf1_api_calls(tf, "tf1", xv)


def pytensor_calls(xv: np.ndarray) -> dict[str, Callable]:
    try:
        import pytensor.tensor as pt
    except ImportError:
        return {}
    px = pt.vector("x", dtype="float32")
    fns = pytensor_functions([px], px + np.float32(1.0))
    return {f"{name} function": (lambda f=f: f(xv)) for name, f in fns.items()}


def jax_calls(xv: np.ndarray) -> dict[str, Callable]:
    try:
        import jax
    except ImportError:
        return {}
    f = jax.jit(lambda v: v + np.float32(1.0))
    return {"jax jit": lambda: np.asarray(f(xv))}


def per_call_seconds(calls: dict[str, Callable]) -> dict[str, float]:
    """Best seconds per call of each engine, the engines timed in turns, round by round."""
    clock = time.perf_counter
    size = {}  # calls per round
    for name, fn in calls.items():
        t0 = clock()
        for _ in range(100):
            fn()
        size[name] = max(10, int(ROUND_SECONDS / ((clock() - t0) / 100)))
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in calls.items():
            n = size[name]
            t0 = clock()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (clock() - t0) / n)
    return best


def main() -> None:
    print(machine_line())
    xv = np.arange(4, dtype=np.float32)
    calls: dict[str, Callable] = {}
    for make in (staticflow_calls, tf1_calls, pytensor_calls, jax_calls):
        calls.update(make(xv))
    for name, fn in calls.items():  # every engine computes x + 1
        np.testing.assert_allclose(fn(), xv + 1, err_msg=name)
        for _ in range(100):  # plans, compiled code and caches settle
            fn()
    times = per_call_seconds(calls)
    ref = times.get("pytensor function")
    print(f"1-op graph (y = x + 1, 4 float32 fed), best of {ROUNDS} rounds of {ROUND_SECONDS * 1e3:g} ms")
    print(f"  {'engine':26s} {'us/call':>8s} {'/ pytensor':>11s} {'/ sf callable':>14s}")
    for name, t in times.items():
        vs_pt = f"{t / ref:.2f}x" if ref else "-"
        print(f"  {name:26s} {t * 1e6:8.2f} {vs_pt:>11s} {t / times['staticflow make_callable']:13.2f}x")
    run, call = times["staticflow sess.run"], times["staticflow make_callable"]
    print(f"  targets: sess.run {run * 1e6:.2f} us (under 4 us); make_callable {call * 1e6:.2f} us", end="")
    print(f" (at most pytensor's {ref * 1e6:.2f} us)" if ref else " (pytensor not installed)")


if __name__ == "__main__":
    main()
