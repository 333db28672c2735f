"""What every benchmark here shares: timing, the machine line, TF1-style sessions,
the first-loss agreement check and the results table."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np


def best_of(fn, repeat: int = 5, number: int | None = None) -> float:
    """Best mean seconds per call over `repeat` rounds of `number` calls."""
    fn()
    if number is None:
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        number = max(1, int(0.2 / one))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def timed(step, warmup: int, repeat: int) -> float:
    """Best seconds per step after `warmup` untimed steps (thread pools, caches and lazy set-up settle)."""
    for _ in range(warmup):
        step()
    return best_of(step, repeat=repeat)


def machine_line() -> str:
    cpu = platform.processor() or "cpu"
    return f"machine: {platform.machine()}, {cpu}, staticflow kernels on {os.cpu_count()} cores"


def session_step(tf, graph, init_op, loss, train_op, feed: dict, config=None) -> tuple[float, Callable]:
    """A session of `graph` (staticflow or TF1, with an optional ConfigProto), initialized;
    (first loss, one-step function)."""
    sess = tf.Session(graph=graph, config=config)
    sess.run(init_op)
    first, _ = sess.run([loss, train_op], feed)

    def step():
        return sess.run(train_op, feed)

    step.session, step.train_op, step.feed = sess, train_op, feed  # for a traced step
    return float(first), step


def staticflow_config(passes: str):
    """A staticflow ConfigProto: "all" passes (None: the default), "no-remap" (pattern fusion
    off) or "none" (every graph pass off)."""
    import staticflow as sf

    if passes == "all":
        return None
    rw = (
        sf.RewriterConfig(disable_meta_optimizer=True)
        if passes == "none"
        else sf.RewriterConfig(remapping=sf.RewriterConfig.OFF)
    )
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


PYTENSOR_LINKERS = {"pytensor": "cvm", "pytensor numba": "numba"}


def pytensor_functions(inputs, outputs, **kwargs) -> dict[str, Callable]:
    """The same PyTensor graph compiled by its C backend ("pytensor", the `cvm` linker: the
    compiled C function the figures compare with) and by its Numba backend, PyTensor 3's
    default ("pytensor numba"); empty when PyTensor is missing, one entry when Numba is."""
    try:
        import pytensor
        from pytensor.compile.mode import Mode
    except ImportError:
        return {}
    out = {}
    for name, linker in PYTENSOR_LINKERS.items():
        try:
            mode = Mode(linker=linker, optimizer="fast_run")
            out[name] = pytensor.function(inputs, outputs, mode=mode, **kwargs)
        except (ImportError, NotImplementedError):
            continue
    return out


def import_tf1():
    """tensorflow.compat.v1 in graph mode, or None when TensorFlow is not installed."""
    try:
        import tensorflow.compat.v1 as tf
    except ImportError:
        return None
    tf.disable_eager_execution()
    return tf


def run_engines(engines: dict[str, Callable], rtol: float = 1e-4) -> dict[str, tuple[float, float]]:
    """Run each engine (a callable returning (first loss, seconds per step), or None when its
    library is missing); check every first loss agrees with staticflow's to `rtol`."""
    results = {}
    for name, fn in engines.items():
        r = fn()
        if r is not None:
            results[name] = r
    base = results["staticflow"][0]
    for name, (loss, _) in results.items():
        np.testing.assert_allclose(loss, base, rtol=rtol, err_msg=f"first loss of {name} vs staticflow")
    return results


def print_table(results: dict[str, tuple[float, float]], unit: str, per_step: int) -> None:
    """Throughput (`per_step` `unit`s per step), ms per step, and peer time / staticflow time."""
    base = results["staticflow"][1]
    print(f"  {'engine':12s} {unit + '/s':>10s} {'ms/step':>10s} {'peer time / staticflow time':>28s}")
    for name, (_, t) in results.items():
        ratio = "" if name == "staticflow" else f"{t / base:.2f}x"
        print(f"  {name:12s} {per_step / t:10.1f} {t * 1e3:10.3f} {ratio:>28s}")
