"""An LSTM over 100 steps, forward and backward: dynamic_rnn's while_loop beside TensorFlow and PyTorch.

One step fetches the loss (the sum of the LSTM's outputs) and its gradients with respect to
every weight (the cell's kernel and bias): batch 64, 100 time steps, input size and hidden
size 256, float32, time-major input, every sequence of the full length (no
`sequence_length`, so no masking). Engines:

- staticflow: `sf.nn.dynamic_rnn` with `LSTMCell` (a while_loop reading its inputs from a
  TensorArray unstacked from x, the outputs written to a TensorArray that is stacked after
  the loop), and gradients through it;
- TensorFlow 1.x graph mode: `tf.compat.v1.nn.dynamic_rnn`, in control flow v2 form
  (While, TensorList), as TensorFlow 2's compat.v1 builds it, with a cell that computes
  what `tf.compat.v1.nn.rnn_cell.LSTMCell` does, op for op (`TFLSTMCell`: TensorFlow with
  Keras 3 no longer has that class);
- PyTorch: `torch.nn.LSTM` (its fused CPU LSTM) on the same weights, eager
  forward + `backward()`.

All start from the same weights, so the first losses must agree. Also printed: the
per-iteration cost of an empty while_loop body beside TensorFlow's (bench_while's loop).
Each figure is the best of several rounds, the engines taking turns; the load average
before and after is printed (the machine may be shared). Run:
``python benchmarks/bench_dynamic_rnn.py`` (``--threads 1``: every engine's kernels on one
thread, a comparison a busy machine disturbs less).
"""

from __future__ import annotations

import argparse
import os
import time

import bench_while
import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line

import staticflow as sf

T, B, IN, H = 100, 64, 256, 256
WHILE_ITERATIONS = 20000
ROUNDS = 7


def weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x [T, B, IN], the LSTMCell kernel [IN + H, 4H] (gates i, j, f, o) and bias [4H]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, IN)).astype(np.float32)
    kernel = (rng.standard_normal((IN + H, 4 * H)) / np.sqrt(IN + H)).astype(np.float32)
    bias = (rng.standard_normal(4 * H) * 0.1).astype(np.float32)
    return x, kernel, bias


def build_staticflow(x_np, kernel, bias, threads: int = 0):
    """sf.nn.dynamic_rnn with an LSTMCell (time-major), loss and gradients of its weights."""
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [T, B, IN], name="x")
        cell = sf.nn.rnn_cell.LSTMCell(H, initializer=sf.constant_initializer(kernel))
        out, _ = sf.nn.dynamic_rnn(cell, x, dtype=sf.float32, time_major=True)
        (bias_var,) = [v for v in sf.trainable_variables() if "bias" in v.name]
        (kernel_var,) = [v for v in sf.trainable_variables() if "kernel" in v.name]
        b_init = bias_var.assign(sf.constant(bias))
        loss = sf.reduce_sum(out)
        grads = sf.gradients(loss, [kernel_var, bias_var])
        init = sf.global_variables_initializer()
    sess = sf.Session(graph=g, config=sf.ConfigProto(intra_op_parallelism_threads=threads))
    sess.run(init)
    sess.run(b_init)
    return sess, [loss, *grads], {x: x_np}


class TFLSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell's computation, op for op (TensorFlow with Keras 3 no
    longer has the class): concat([x, m]) @ kernel + bias, gates i, j, f, o, forget bias 1."""

    output_size = H
    state_size = (H, H)  # (c, m)

    def __init__(self, tf, kernel, bias):
        self.tf = tf
        self.kernel = tf.get_variable("lstm_cell/kernel", initializer=kernel)
        self.bias = tf.get_variable("lstm_cell/bias", initializer=bias)

    def zero_state(self, batch_size, dtype):
        return tuple(self.tf.zeros([batch_size, H], dtype) for _ in range(2))

    def __call__(self, inputs, state, scope=None):
        tf = self.tf
        c, m = state
        z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, m], 1), self.kernel), self.bias)
        i, j, f, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        m = tf.sigmoid(o) * tf.tanh(c)
        return m, (c, m)


def build_tf(tf, x_np, kernel, bias, threads: int = 0):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [T, B, IN])
        cell = TFLSTMCell(tf, kernel, bias)
        out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, time_major=True)
        loss = tf.reduce_sum(out)
        grads = tf.gradients(loss, [cell.kernel, cell.bias])
        init = tf.global_variables_initializer()
    cfg = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    sess = tf.Session(graph=g, config=cfg)
    sess.run(init)
    return sess, [loss, *grads], {x: x_np}


def session_engine(sess, fetches, feed):
    """(first values, one-step function) of a session's step."""
    return sess.run(fetches, feed), lambda: sess.run(fetches, feed)


def torch_engine(x_np, kernel, bias, threads: int = 0):
    """torch.nn.LSTM on the same weights: TensorFlow's gates (i, j, f, o) and forget bias 1.0
    as PyTorch's (i, f, g, o) rows."""
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(IN, H)
    ki, kj, kf, ko = np.split(kernel, 4, axis=1)
    bi, bj, bf, bo = np.split(bias, 4)
    w = np.concatenate([ki, kf, kj, ko], axis=1).T  # [4H, IN + H]
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w[:, :IN])))
        lstm.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w[:, IN:])))
        lstm.bias_ih_l0.copy_(torch.from_numpy(np.concatenate([bi, bf + 1.0, bj, bo])))
        lstm.bias_hh_l0.zero_()
    tx = torch.from_numpy(x_np)
    params = list(lstm.parameters())

    def step():
        out, _ = lstm(tx)
        loss = out.sum()
        grads = torch.autograd.grad(loss, params)
        return float(loss.detach()), grads

    return step(), step, torch.get_num_threads()


def interleaved(steps: dict, rounds: int) -> dict:
    """Best seconds per step of each engine, the engines taking turns round after round, so
    that a change in the machine's load reaches them alike."""
    for step in steps.values():
        step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=0, help="threads of every engine's kernels (0: each one's default)"
    )
    threads = parser.parse_args().threads
    print(machine_line())
    if threads:
        print(f"every engine on {threads} thread(s)")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    x_np, kernel, bias = weights()
    steps = {}
    ref, steps["staticflow"] = session_engine(*build_staticflow(x_np, kernel, bias, threads))
    torch_rows = torch_engine(x_np, kernel, bias, threads)  # (PyTorch before TensorFlow)
    if torch_rows is None:
        print("  PyTorch: not installed")
    else:
        first, step, threads = torch_rows
        np.testing.assert_allclose(first[0], ref[0], rtol=1e-3)
        steps[f"pytorch nn.LSTM ({threads} threads)"] = step
    tf = import_tf1()
    if tf is None:
        print("  TensorFlow: not installed")
    else:
        tf.enable_control_flow_v2()
        got, steps["tf1 dynamic_rnn (v2)"] = session_engine(*build_tf(tf, x_np, kernel, bias, threads))
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-3)
        for a, b in zip(got[1:], ref[1:]):
            np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2 * np.abs(b).max())
    rows = interleaved(steps, ROUNDS)
    base = rows["staticflow"]
    print(f"  LSTM T={T} B={B} input={IN} hidden={H} float32, loss and gradients of every weight")
    print(f"  best of {ROUNDS} steps each, the engines taking turns")
    print(f"  {'engine':34s} {'ms/step':>10s} {'time / staticflow time':>24s}")
    for name, t in rows.items():
        print(f"  {name:34s} {t * 1e3:10.2f} {t / base:24.2f}")
    loops = {"staticflow": bench_while._loop(sf)}
    if tf is not None:
        loops["tf1"] = bench_while._loop(tf)
    print(f"  empty while_loop body, {WHILE_ITERATIONS} iterations")
    print(f"  {'engine':34s} {'us/iteration':>10s}")
    for name, fn in loops.items():
        t = bench_while._best(fn, WHILE_ITERATIONS) - bench_while._best(fn, 0)
        print(f"  {name:34s} {t / WHILE_ITERATIONS * 1e6:10.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
