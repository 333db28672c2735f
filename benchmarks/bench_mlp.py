"""Training-step throughput of an MLP: 784-512-512-10, relu, batch 128, plain SGD.

One step -- forward, mean sparse softmax cross-entropy, backward, and the
update ``w -= 0.01 * dw`` of every parameter -- per call: one ``sess.run`` of
the optimizer's train op for staticflow and TensorFlow 1.x graph mode
(tensorflow.compat.v1), ``loss.backward(); opt.step()`` for PyTorch, and the
hand-written NumPy MLP of numpy_mlp.py in float32. All start from the same
weights and batch, and their first losses must agree before anything is timed.
Measured in one process and printed as steps per second with ratios as in
bench_foundation.py: peer time per step divided by staticflow's, so above 1
means staticflow is faster.
Run: ``make bench`` or ``python benchmarks/bench_mlp.py``.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import numpy_mlp
from bench_foundation import best_of

import staticflow as sf

SIZES = [784, 512, 512, 10]
LR = 0.01
WARMUP = 20  # untimed steps first: thread pools, caches and lazy set-up settle


def timed(step) -> float:
    """Best seconds per step, after `WARMUP` untimed steps."""
    for _ in range(WARMUP):
        step()
    return best_of(step, repeat=7)


def make_problem(batch: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Initial float32 weights ``[w1, b1, ...]`` and one random batch (x in [0, 1), int labels)."""
    rng = np.random.default_rng(seed)
    params = numpy_mlp.glorot_uniform_params(SIZES, rng, np.float32)
    x = rng.random((batch, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], batch).astype(np.int64)
    return params, x, y


def tf1_style_step(tf, init: list[np.ndarray], x0: np.ndarray, y0: np.ndarray):
    """A TF1-API graph and session for one SGD step; returns (first loss, step function)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, SIZES[0]], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        params = [tf.Variable(p, name=f"p{i}") for i, p in enumerate(init)]
        h = x
        for i in range(len(params) // 2):
            h = tf.matmul(h, params[2 * i]) + params[2 * i + 1]
            if i < len(params) // 2 - 1:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train_op = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        init_op = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init_op)
    feed = {x: x0, y: y0}
    first, _ = sess.run([loss, train_op], feed)
    return float(first), lambda: sess.run(train_op, feed)


def bench_staticflow(init, x0, y0) -> tuple[float, float]:
    first, step = tf1_style_step(sf, init, x0, y0)
    return first, timed(step)


def bench_numpy(init, x0, y0) -> tuple[float, float]:
    params = [p.copy() for p in init]

    def step() -> float:
        loss, grads = numpy_mlp.loss_and_grads(params, x0, y0)
        numpy_mlp.sgd_step(params, grads, LR)
        return loss

    first = step()
    assert all(p.dtype == np.float32 for p in params)
    return first, timed(step)


def bench_tensorflow(init, x0, y0) -> tuple[float, float] | None:
    try:
        import tensorflow.compat.v1 as tf
    except ImportError:
        return None
    tf.disable_eager_execution()
    first, step = tf1_style_step(tf, init, x0, y0)
    return first, timed(step)


def bench_pytorch(init, x0, y0) -> tuple[float, float] | None:
    try:
        import torch
    except ImportError:
        return None
    params = [torch.tensor(p, requires_grad=True) for p in init]
    opt = torch.optim.SGD(params, lr=LR)
    tx, ty = torch.from_numpy(x0), torch.from_numpy(y0)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        h = tx
        for i in range(len(params) // 2):
            h = torch.addmm(params[2 * i + 1], h, params[2 * i])
            if i < len(params) // 2 - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, ty)
        loss.backward()
        opt.step()
        return loss.detach()

    first = float(step())
    return first, timed(step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128, help="examples per step (default 128)")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{sf.__name__} kernels on {os.cpu_count()} cores"
    )
    init, x0, y0 = make_problem(args.batch)
    results: dict[str, tuple[float, float]] = {
        "staticflow": bench_staticflow(init, x0, y0),
        "numpy": bench_numpy(init, x0, y0),
    }
    for name, fn in (("tensorflow1", bench_tensorflow), ("pytorch", bench_pytorch)):
        r = fn(init, x0, y0)
        if r is not None:
            results[name] = r
    base_loss, base_time = results["staticflow"]
    for name, (loss, _) in results.items():
        np.testing.assert_allclose(loss, base_loss, rtol=1e-4, err_msg=f"first loss of {name} vs staticflow")

    sizes = "-".join(map(str, SIZES))
    print(f"\nMLP {sizes} (relu), batch {args.batch}, one SGD step (lr {LR}) per call")
    print(f"  first loss {base_loss:.6f} (all engines agree to 1e-4)")
    print(f"  {'engine':12s} {'steps/s':>10s} {'ms/step':>10s} {'peer time / staticflow time':>28s}")
    for name, (_, t) in results.items():
        ratio = "" if name == "staticflow" else f"{t / base_time:.2f}x"
        print(f"  {name:12s} {1 / t:10.1f} {t * 1e3:10.3f} {ratio:>28s}")


if __name__ == "__main__":
    main()
