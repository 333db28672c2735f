"""An MLP trained by sf.train's optimizers follows a hand-written NumPy reference step by step.

The model (64-32-16-10, relu, mean sparse softmax cross-entropy) starts from the
same NumPy-made weights in both; the reference (benchmarks/numpy_mlp.py, run
here in float64) has its backward pass and optimizer updates written by hand.
The losses of 20 steps on fixed digits batches must agree to 1e-4 relative.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import staticflow as sf
from staticflow.datasets import load_digits_split

# The NumPy MLP lives beside the benchmark that also times it.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
import numpy_mlp  # noqa: E402

pytest.importorskip("sklearn")

SIZES = [64, 32, 16, 10]
STEPS = 20
BATCH = 64


@pytest.fixture(scope="module")
def data():
    """Initial float32 weights and 20 fixed (x, y) batches of digits."""
    x_train, y_train, _, _ = load_digits_split(seed=0)
    rng = np.random.default_rng(1234)
    init = numpy_mlp.glorot_uniform_params(SIZES, rng, np.float32)
    # Non-zero biases so that their gradients and updates are exercised from step one.
    for i in range(1, len(init), 2):
        init[i] = rng.uniform(-0.1, 0.1, init[i].shape).astype(np.float32)
    idx = [rng.choice(len(x_train), BATCH, replace=False) for _ in range(STEPS)]
    return init, [(x_train[i], y_train[i]) for i in idx]


def build(init: list[np.ndarray]):
    """Placeholders, the variables (initialized from `init`) and the mean loss."""
    x = sf.placeholder(sf.float32, [None, SIZES[0]], name="x")
    y = sf.placeholder(sf.int64, [None], name="y")
    params = [sf.Variable(v, name=f"{'wb'[i % 2]}{i // 2 + 1}") for i, v in enumerate(init)]
    h = x
    for i in range(len(params) // 2):
        h = sf.matmul(h, params[2 * i]) + params[2 * i + 1]
        if i < len(params) // 2 - 1:
            h = sf.nn.relu(h)
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    return x, y, params, loss


def numpy_reference(init, batches, step) -> tuple[list[float], list[np.ndarray]]:
    """Losses of the float64 reference, updating its parameters with `step(params, grads)`."""
    params = [p.astype(np.float64) for p in init]
    losses = []
    for xb, yb in batches:
        loss, grads = numpy_mlp.loss_and_grads(params, xb.astype(np.float64), yb)
        losses.append(loss)
        step(params, grads)
    return losses, params


def adam_reference(lr, **kw):
    state = None

    def step(params, grads):
        nonlocal state
        if state is None:
            state = numpy_mlp.AdamState(params, **kw)
        numpy_mlp.adam_step(params, grads, state, lr)

    return step


def momentum_reference(lr, momentum, use_nesterov=False):
    accum = None

    def step(params, grads):
        nonlocal accum
        if accum is None:
            accum = [np.zeros_like(p) for p in params]
        numpy_mlp.momentum_step(params, grads, accum, lr, momentum, use_nesterov)

    return step


CASES = {
    "adam": (lambda: sf.train.AdamOptimizer(1e-3), lambda: adam_reference(1e-3)),
    "adam_lr_0.01_beta": (
        lambda: sf.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.99, epsilon=1e-7),
        lambda: adam_reference(0.01, beta1=0.8, beta2=0.99, epsilon=1e-7),
    ),
    "gradient_descent": (
        lambda: sf.train.GradientDescentOptimizer(0.1),
        lambda: lambda p, g: numpy_mlp.sgd_step(p, g, 0.1),
    ),
    "momentum": (lambda: sf.train.MomentumOptimizer(0.05, 0.9), lambda: momentum_reference(0.05, 0.9)),
    "nesterov": (
        lambda: sf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
        lambda: momentum_reference(0.05, 0.9, use_nesterov=True),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_loss_curve_matches_numpy(data, case):
    init, batches = data
    make_opt, make_ref = CASES[case]
    g = sf.Graph()
    with g.as_default():
        x, y, params, loss = build(init)
        global_step = sf.train.get_or_create_global_step()
        train_op = make_opt().minimize(loss, global_step=global_step, var_list=params)
        init_op = sf.global_variables_initializer()
    got = []
    with sf.Session(graph=g) as sess:
        sess.run(init_op)
        for xb, yb in batches:
            # The loss fetched with the update is the one of the weights before it.
            value, _ = sess.run([loss, train_op], {x: xb, y: yb})
            got.append(float(value))
        final_params = sess.run(params)
        assert int(sess.run(global_step)) == STEPS

    want, want_params = numpy_reference(init, batches, make_ref())
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert got[-1] < got[0], "the loss should go down over 20 steps"
    for name, a, b in zip(("w1", "b1", "w2", "b2", "w3", "b3"), final_params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=f"{case}: final {name}")


def test_gradients_match_numpy_backward(data):
    init, batches = data
    xb, yb = batches[0]
    g = sf.Graph()
    with g.as_default():
        x, y, params, loss = build(init)
        grads = sf.gradients(loss, params)
        init_op = sf.global_variables_initializer()
    with sf.Session(graph=g) as sess:
        sess.run(init_op)
        got_loss, got = sess.run([loss, grads], {x: xb, y: yb})
    params64 = [p.astype(np.float64) for p in init]
    want_loss, want = numpy_mlp.loss_and_grads(params64, xb.astype(np.float64), yb)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=f"gradient of parameter {i}")


def test_numpy_reference_backward_is_the_derivative(data):
    """The hand-written backward pass against central differences (float64), so the reference is right."""
    init, batches = data
    xb, yb = batches[0]
    params = [p.astype(np.float64) for p in init]
    _, grads = numpy_mlp.loss_and_grads(params, xb.astype(np.float64), yb)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for p, gp in zip(params, grads):
        for flat in rng.choice(p.size, 5, replace=False):
            i = np.unravel_index(flat, p.shape)
            old = p[i]
            p[i] = old + eps
            up, _ = numpy_mlp.loss_and_grads(params, xb.astype(np.float64), yb)
            p[i] = old - eps
            down, _ = numpy_mlp.loss_and_grads(params, xb.astype(np.float64), yb)
            p[i] = old
            assert abs((up - down) / (2 * eps) - gp[i]) < 1e-6 * max(1.0, abs(gp[i]))
