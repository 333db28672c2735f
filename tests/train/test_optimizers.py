"""Optimizers: slots named like TensorFlow's, updates against NumPy, global step, errors."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf

A = np.array([[3.0, 0.5], [0.5, 1.0]])
W0 = np.array([1.0, -2.0])


def _quadratic():
    """loss = w^T A w / 2 + sum(w): gradient A w + 1."""
    w = sf.Variable(W0.copy(), name="w")
    loss = 0.5 * sf.reduce_sum(
        w * sf.squeeze(sf.matmul(sf.constant(A), sf.reshape(w, [2, 1])), [1])
    ) + sf.reduce_sum(w)
    return w, loss


def _grad(w):
    return A @ w + 1


def _numpy_steps(name, steps, **kw):
    w = W0.copy()
    s1, s2, s3 = np.zeros(2), np.zeros(2), np.zeros(2)
    if name == "rmsprop":
        s1 = np.ones(2)
    if name == "adagrad":
        s1 = np.full(2, kw.get("init", 0.1))
    for t in range(1, steps + 1):
        g = _grad(w)
        if name == "sgd":
            w = w - kw["lr"] * g
        elif name == "momentum":
            s1 = kw["m"] * s1 + g
            w = w - (kw["lr"] * g + kw["lr"] * kw["m"] * s1 if kw.get("nesterov") else kw["lr"] * s1)
        elif name == "adam":
            b1, b2, eps, lr = 0.9, 0.999, 1e-8, kw["lr"]
            s1 = b1 * s1 + (1 - b1) * g
            s2 = b2 * s2 + (1 - b2) * g * g
            lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            w = w - lr_t * s1 / (np.sqrt(s2) + eps)
        elif name == "rmsprop":
            rho, mom, eps, lr = 0.9, kw.get("mom", 0.0), 1e-10, kw["lr"]
            if kw.get("centered"):
                s3 = rho * s3 + (1 - rho) * g
                s1 = rho * s1 + (1 - rho) * g * g
                s2 = mom * s2 + lr * g / np.sqrt(s1 - s3 * s3 + eps)
            else:
                s1 = rho * s1 + (1 - rho) * g * g
                s2 = mom * s2 + lr * g / np.sqrt(s1 + eps)
            w = w - s2
        elif name == "adagrad":
            s1 = s1 + g * g
            w = w - kw["lr"] * g / np.sqrt(s1)
    return w


CASES = [
    ("sgd", lambda: sf.train.GradientDescentOptimizer(0.1), {"lr": 0.1}),
    ("momentum", lambda: sf.train.MomentumOptimizer(0.05, 0.9), {"lr": 0.05, "m": 0.9}),
    (
        "momentum",
        lambda: sf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
        {"lr": 0.05, "m": 0.9, "nesterov": True},
    ),
    ("adam", lambda: sf.train.AdamOptimizer(0.1), {"lr": 0.1}),
    ("rmsprop", lambda: sf.train.RMSPropOptimizer(0.01), {"lr": 0.01}),
    ("rmsprop", lambda: sf.train.RMSPropOptimizer(0.01, momentum=0.5), {"lr": 0.01, "mom": 0.5}),
    (
        "rmsprop",
        lambda: sf.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
        {"lr": 0.01, "mom": 0.5, "centered": True},
    ),
    ("adagrad", lambda: sf.train.AdagradOptimizer(0.3), {"lr": 0.3}),
]


@pytest.mark.parametrize("name,make,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_updates_match_numpy(name, make, kw):
    with sf.Graph().as_default():
        w, loss = _quadratic()
        step = make().minimize(loss)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            for _ in range(5):
                sess.run(step)
            got = sess.run(w)
    np.testing.assert_allclose(got, _numpy_steps(name, 5, **kw), rtol=1e-10)


def test_slots_are_tf_named_non_trainable_variables():
    with sf.Graph().as_default():
        w, loss = _quadratic()
        opt = sf.train.AdamOptimizer()
        opt.minimize(loss)
        names = sorted(v.op.name for v in sf.global_variables())
        assert names == ["beta1_power", "beta2_power", "w", "w/Adam", "w/Adam_1"]
        assert [v.op.name for v in sf.trainable_variables()] == ["w"]
        assert opt.get_slot(w, "m").op.name == "w/Adam"
        assert opt.get_slot_names() == ["m", "v"]


def test_global_step_and_train_op_collection():
    with sf.Graph().as_default() as g:
        w, loss = _quadratic()
        gs = sf.train.get_or_create_global_step()
        assert sf.train.get_or_create_global_step() is gs and gs.dtype == sf.int64
        train = sf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
        assert g.get_collection(sf.GraphKeys.TRAIN_OP) == [train]
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            assert sess.run(gs) == 3
            assert sf.train.global_step(sess, gs) == 3


def test_loss_fetched_with_the_step_is_the_value_before_it():
    with sf.Graph().as_default():
        w, loss = _quadratic()
        train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            before = sess.run(loss)
            _, fetched = sess.run([train, loss])
            after = sess.run(loss)
    assert fetched == pytest.approx(before) and after < before


def test_var_list_and_compute_apply():
    with sf.Graph().as_default():
        a = sf.Variable(1.0, name="a")
        b = sf.Variable(2.0, name="b")
        loss = a * a + b * b
        opt = sf.train.GradientDescentOptimizer(0.25)
        gvs = opt.compute_gradients(loss, var_list=[a])
        assert [v for _, v in gvs] == [a]
        clipped = [(sf.clip_by_value(g, -0.1, 0.1), v) for g, v in gvs]
        train = opt.apply_gradients(clipped)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            sess.run(train)
            assert sess.run([a, b]) == [pytest.approx(0.975), 2.0]


def test_no_gradient_errors():
    with sf.Graph().as_default():
        a = sf.Variable(1.0, name="a")
        b = sf.Variable(1.0, name="b")
        with pytest.raises(ValueError, match="No gradients provided for any variable"):
            sf.train.GradientDescentOptimizer(0.1).minimize(b * 2, var_list=[a])
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match="No variables to optimize"):
            sf.train.GradientDescentOptimizer(0.1).minimize(sf.constant(1.0))


def test_learning_rate_schedule_drives_the_optimizer():
    with sf.Graph().as_default():
        w, loss = _quadratic()
        gs = sf.train.get_or_create_global_step()
        lr = sf.train.exponential_decay(0.1, gs, decay_steps=1, decay_rate=0.5, staircase=True)
        train = sf.train.GradientDescentOptimizer(lr).minimize(loss, global_step=gs)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            got = sess.run(w)
    want = W0.copy()
    for k in range(3):
        want = want - 0.1 * 0.5**k * _grad(want)
    np.testing.assert_allclose(got, want, rtol=1e-6)
