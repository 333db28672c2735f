"""Learning-rate schedules, clipping, losses and regularization against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


def _eval(t, feeds=None):
    with sf.Session() as sess:
        return sess.run(t, feeds or {})


pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


@pytest.mark.parametrize("step", [0, 3, 10, 25])
def test_decay_schedules(step):
    gs = sf.constant(np.int64(step))
    lr, n, r = 0.5, 10, 0.3
    got = _eval(
        [
            sf.train.exponential_decay(lr, gs, n, r),
            sf.train.exponential_decay(lr, gs, n, r, staircase=True),
            sf.train.natural_exp_decay(lr, gs, n, r),
            sf.train.inverse_time_decay(lr, gs, n, r),
            sf.train.polynomial_decay(lr, gs, 20, end_learning_rate=0.01, power=2.0),
            sf.train.cosine_decay(lr, gs, 20, alpha=0.1),
        ]
    )
    p = step / n
    s = min(step, 20)
    want = [
        lr * r**p,
        lr * r ** np.floor(p),
        lr * np.exp(-r * p),
        lr / (1 + r * p),
        (lr - 0.01) * (1 - s / 20) ** 2 + 0.01,
        lr * ((1 - 0.1) * 0.5 * (1 + np.cos(np.pi * s / 20)) + 0.1),
    ]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_piecewise_constant():
    x = sf.placeholder(sf.int64, [])
    lr = sf.train.piecewise_constant(x, [10, 20], [1.0, 0.5, 0.1])
    with sf.Session() as sess:
        assert [sess.run(lr, {x: v}) for v in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, pytest.approx(0.1)]
    with pytest.raises(ValueError, match="1 less than"):
        sf.train.piecewise_constant(x, [1], [1.0])


def test_clip_by_global_norm_and_value():
    a = np.array([3.0, 4.0])
    b = np.array([[12.0]])
    (ca, cb), norm = sf.clip_by_global_norm([sf.constant(a), sf.constant(b)], 6.5)
    got = _eval(
        [ca, cb, norm, sf.clip_by_value(sf.constant(a), 3.5, 3.8), sf.clip_by_norm(sf.constant(a), 1.0)]
    )
    assert got[2] == pytest.approx(13.0)
    np.testing.assert_allclose(got[0], a / 2)
    np.testing.assert_allclose(got[1], b / 2)
    np.testing.assert_allclose(got[3], [3.5, 3.8])
    np.testing.assert_allclose(got[4], a / 5)
    (keep,), _ = sf.clip_by_global_norm([sf.constant(a)], 100.0)
    np.testing.assert_allclose(_eval(keep), a)


def test_losses_match_numpy():
    rng = np.random.default_rng(0)
    labels = rng.random((4, 3))
    preds = rng.random((4, 3))
    logits = rng.standard_normal((4, 3)) * 30  # large logits: stable forms, no NaN
    z = (rng.random((4, 3)) > 0.5).astype(np.float64)
    mse = sf.losses.mean_squared_error(labels, preds)
    weighted = sf.losses.mean_squared_error(labels, preds, weights=np.array([[1.0], [0.0], [2.0], [0.0]]))
    sig = sf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=logits)
    l2 = sf.nn.l2_loss(sf.constant(preds))
    got = _eval([mse, weighted, sig, l2])
    np.testing.assert_allclose(got[0], np.mean((labels - preds) ** 2))
    w = np.array([[1.0], [0.0], [2.0], [0.0]])
    np.testing.assert_allclose(got[1], np.sum((labels - preds) ** 2 * w) / 6)  # 6 nonzero weights
    want_sig = np.maximum(logits, 0) - logits * z + np.log1p(np.exp(-np.abs(logits)))
    np.testing.assert_allclose(got[2], want_sig, rtol=1e-12)
    np.testing.assert_allclose(got[3], np.sum(preds**2) / 2)
    assert len(sf.losses.get_losses()) == 2


def test_softmax_cross_entropies_are_stable_and_agree():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.5, 0.25, 0.0]], np.float32)
    idx = np.array([1, 0], np.int64)
    onehot = np.eye(3, dtype=np.float32)[idx]
    sparse = sf.nn.sparse_softmax_cross_entropy_with_logits(labels=idx, logits=logits)
    dense = sf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits)
    v1 = sf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)
    s, d, v = _eval([sparse, dense, v1])
    x = logits.astype(np.float64)
    lse = np.log(np.sum(np.exp(x - x.max(1, keepdims=True)), 1)) + x.max(1)
    want = lse - x[np.arange(2), idx]
    for got in (s, d, v):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_cross_entropy_of_higher_rank_logits():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 3, 5))
    labels = rng.integers(0, 5, (2, 3))
    got = _eval(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    x = logits - logits.max(-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="Rank mismatch"):
        sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[0], logits=logits)


def test_label_out_of_range_is_an_error():
    y = sf.placeholder(sf.int64, [None])
    loss = sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=sf.zeros([2, 4]))
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError, match="outside the valid range"):
        sess.run(loss, {y: [1, 4]})


def test_regularization_losses_collection():
    reg = lambda w: 0.01 * sf.nn.l2_loss(w)  # noqa: E731
    w = sf.get_variable("w", [3], initializer=sf.constant_initializer(2.0), regularizer=reg)
    total = sf.losses.get_regularization_loss()
    assert len(sf.losses.get_regularization_losses()) == 1
    with sf.Session() as sess:
        sess.run(w.initializer)
        assert sess.run(total) == pytest.approx(0.01 * 0.5 * 12)
