"""tinyclf's tests as plain pytest functions with staticflow's fixtures and helpers.

sf_graph / sf_session give each test a fresh default graph and a session on it
(closed after the test, pass or fail); sf_seed fixes the random seeds; the
helpers in staticflow.testing compare values, check gradients and catch a
training loop that re-plans every step.
"""

from __future__ import annotations

import numpy as np
import pytest
from tinyclf import batches, build_model, cross_entropy, forward, initial_params, train_step

import staticflow as tf
from staticflow.testing import assert_all_close, assert_no_new_plans, check_gradients


def relu(z):
    return np.maximum(z, 0.0)


@pytest.fixture
def model(sf_session):
    """The classifier, its variables initialized in the test's session."""
    m = build_model(4, 3)
    sf_session.run(tf.global_variables_initializer())
    return m


def test_forward_matches_numpy(sf_session, model, blobs):
    x, _ = blobs
    p = initial_params(4, 3)
    want = relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    # float32 logits against a float64 reference: float32's default tolerance is too
    # tight for a sum of products, so say what is close enough
    assert_all_close(model.logits, want, rtol=1e-5, atol=1e-5, feed_dict={model.x: x})


def test_loss_gradients_match_central_differences(blobs):
    x, labels = blobs
    p = initial_params(4, 3)

    def loss(x, w1, b1, w2, b2):
        return cross_entropy(forward(x, w1, b1, w2, b2), labels[:8])

    check = check_gradients(loss, [x[:8], p["w1"], p["b1"], p["w2"], p["b2"]])
    assert [c.name for c in check.inputs] == ["x", "w1", "b1", "w2", "b2"]


def test_training_reaches_high_accuracy(sf_session, sf_seed, model, blobs):
    x, y = blobs
    rng = np.random.default_rng(sf_seed)
    losses = [train_step(sf_session, model, xb, yb) for _ in range(10) for xb, yb in batches(x, y, 32, rng)]
    assert losses[-1] < losses[0] / 4
    accuracy = sf_session.run(model.accuracy, {model.x: x, model.labels: y})
    assert accuracy > 0.9


def test_training_steps_reuse_one_plan(sf_session, model, blobs):
    x, y = blobs
    steps = batches(x, y, 32)
    train_step(sf_session, model, *next(steps))  # the first step plans
    with assert_no_new_plans(sf_session):
        for xb, yb in steps:  # 240 examples: 7 batches of 32, the remainder dropped
            train_step(sf_session, model, xb, yb)


def test_a_last_partial_batch_would_plan_again(sf_session, model, blobs):
    x, y = blobs
    train_step(sf_session, model, x[:32], y[:32])
    with pytest.raises(AssertionError, match=r"feed 'x:0' changed shape \(32, 4\) -> \(16, 4\)"):
        with assert_no_new_plans(sf_session):
            train_step(sf_session, model, x[224:], y[224:])


@pytest.mark.gpu
def test_trains_on_a_gpu(sf_session, blobs):
    x, y = blobs
    with tf.device(tf.test.gpu_device_name()):
        m = build_model(4, 3)
    sf_session.run(tf.global_variables_initializer())
    assert np.isfinite(train_step(sf_session, m, x[:32], y[:32]))
