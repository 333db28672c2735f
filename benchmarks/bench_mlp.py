"""Training-step throughput of an MLP: 784-512-512-10, relu, batch 128, plain SGD.

One step -- forward, mean sparse softmax cross-entropy, backward, and the
update ``w -= 0.01 * dw`` of every parameter -- per call: one ``sess.run`` of
the optimizer's train op for staticflow and TensorFlow 1.x graph mode
(tensorflow.compat.v1), ``loss.backward(); opt.step()`` for PyTorch, a compiled
PyTensor function with the updates (its fused, in-place graph), a jitted JAX
step, and the hand-written NumPy MLP of numpy_mlp.py in float32. staticflow runs
three times: with every graph pass, without pattern fusion ("no-remap"), and
without any pass ("no-passes"). All start from the same
weights and batch, and their first losses must agree before anything is timed.
Measured in one process and printed as steps per second with ratios as in
bench_foundation.py: peer time per step divided by staticflow's, so above 1
means staticflow is faster.
Run: ``make bench`` or ``python benchmarks/bench_mlp.py``.
"""

from __future__ import annotations

import argparse

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
import numpy_mlp
import peer_mlp
from harness import (
    import_tf1,
    machine_line,
    print_table,
    pytensor_functions,
    run_engines,
    session_step,
    staticflow_config,
    timed,
)

import staticflow as sf

SIZES = [784, 512, 512, 10]
LR = 0.01
WARMUP, REPEAT = 20, 7  # untimed steps first, then best of REPEAT rounds


def make_problem(batch: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Initial float32 weights ``[w1, b1, ...]`` and one random batch (x in [0, 1), int labels)."""
    rng = np.random.default_rng(seed)
    params = numpy_mlp.glorot_uniform_params(SIZES, rng, np.float32)
    x = rng.random((batch, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], batch).astype(np.int64)
    return params, x, y


def tf1_style_step(tf, init: list[np.ndarray], x0: np.ndarray, y0: np.ndarray, config=None):
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
    return session_step(tf, g, init_op, loss, train_op, {x: x0, y: y0}, config)


def bench_tf1_style(tf, init, x0, y0, config=None) -> tuple[float, float] | None:
    """The same TF1-API code on staticflow or TensorFlow (None when `tf` is missing)."""
    if tf is None:
        return None
    first, step = tf1_style_step(tf, init, x0, y0, config)
    return first, timed(step, WARMUP, REPEAT)


def bench_numpy(init, x0, y0) -> tuple[float, float]:
    params = [p.copy() for p in init]

    def step() -> float:
        loss, grads = numpy_mlp.loss_and_grads(params, x0, y0)
        numpy_mlp.sgd_step(params, grads, LR)
        return loss

    first = step()
    assert all(p.dtype == np.float32 for p in params)
    return first, timed(step, WARMUP, REPEAT)


def bench_pytorch(init, x0, y0) -> tuple[float, float] | None:
    """A PyTorch step (autograd and torch.optim.SGD) on the same weights."""
    try:
        step = peer_mlp.torch_sgd_step(init, x0, y0, LR)
    except ImportError:
        return None
    first = float(step())
    return first, timed(step, WARMUP, REPEAT)


def bench_pytensor(init, x0, y0, name: str) -> tuple[float, float] | None:
    """A PyTensor function computing the loss and applying the SGD updates in place, compiled
    by the backend `name` names (harness.pytensor_functions), on its own copy of the weights."""
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    pytensor.config.floatX = "float32"
    params = [pytensor.shared(p.copy()) for p in init]
    x, y = pt.matrix("x", dtype="float32"), pt.vector("y", dtype="int64")
    h = x
    for i in range(len(params) // 2):
        h = pt.dot(h, params[2 * i]) + params[2 * i + 1]
        if i < len(params) // 2 - 1:
            h = pt.maximum(h, 0)
    logp = h - pt.logsumexp(h, axis=1, keepdims=True)
    loss = -logp[pt.arange(y.shape[0]), y].mean()
    grads = pytensor.grad(loss, params)
    lr = np.float32(LR)
    fns = pytensor_functions([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    if name not in fns:
        return None
    fn = fns[name]
    first = float(fn(x0, y0))
    return first, timed(lambda: fn(x0, y0), WARMUP, REPEAT)


def bench_jax(init, x0, y0) -> tuple[float, float] | None:
    """A jitted JAX step (loss, gradients and the SGD update), its parameters passed along."""
    try:
        step = peer_mlp.jax_sgd_step(init, x0, y0, LR)
    except ImportError:
        return None
    first = float(step())
    return first, timed(step, WARMUP, REPEAT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128, help="examples per step (default 128)")
    args = ap.parse_args()
    print(machine_line())
    init, x0, y0 = make_problem(args.batch)
    results = run_engines(
        {
            "staticflow": lambda: bench_tf1_style(sf, init, x0, y0),
            "sf no-remap": lambda: bench_tf1_style(sf, init, x0, y0, staticflow_config("no-remap")),
            "sf no-passes": lambda: bench_tf1_style(sf, init, x0, y0, staticflow_config("none")),
            "numpy": lambda: bench_numpy(init, x0, y0),
            "pytensor": lambda: bench_pytensor(init, x0, y0, "pytensor"),
            "pytensor numba": lambda: bench_pytensor(init, x0, y0, "pytensor numba"),
            "jax": lambda: bench_jax(init, x0, y0),
            # PyTorch before TensorFlow: torch's optimizer crashes when loaded after TensorFlow.
            "pytorch": lambda: bench_pytorch(init, x0, y0),
            "tensorflow1": lambda: bench_tf1_style(import_tf1(), init, x0, y0),
        }
    )
    sizes = "-".join(map(str, SIZES))
    print(f"\nMLP {sizes} (relu), batch {args.batch}, one SGD step (lr {LR}) per call")
    print(f"  first loss {results['staticflow'][0]:.6f} (all engines agree to 1e-4)")
    print_table(results, "steps", 1)


if __name__ == "__main__":
    main()
