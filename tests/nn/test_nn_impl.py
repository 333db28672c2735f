"""Composed neural-network functions and layers against NumPy: moments, batch and layer
normalization, dropout, embeddings, attention, recurrent cells, dense layers."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf

pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


def _run(fetches, feeds=None, init=True):
    with sf.Session() as sess:
        if init:
            sess.run(sf.global_variables_initializer())
        return sess.run(fetches, feeds or {})


RNG = np.random.default_rng(0)


def test_moments_and_batch_normalization():
    x = RNG.standard_normal((4, 5, 3))
    m, v = sf.nn.moments(sf.constant(x), [0, 1])
    y = sf.nn.batch_normalization(
        sf.constant(x),
        m,
        v,
        offset=sf.constant(np.array([1.0, 2.0, 3.0])),
        scale=sf.constant(np.array([0.5, 1.0, 2.0])),
        variance_epsilon=1e-3,
    )
    mv, vv, yv = _run([m, v, y])
    np.testing.assert_allclose(mv, x.mean((0, 1)))
    np.testing.assert_allclose(vv, x.var((0, 1)))
    want = (x - x.mean((0, 1))) / np.sqrt(x.var((0, 1)) + 1e-3) * [0.5, 1, 2] + [1, 2, 3]
    np.testing.assert_allclose(yv, want, rtol=1e-10)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_and_inference(fmt):
    x = RNG.standard_normal((2, 3, 4, 5))
    c = 5 if fmt == "NHWC" else 3
    axes = (0, 1, 2) if fmt == "NHWC" else (0, 2, 3)
    shape = (1, 1, 1, c) if fmt == "NHWC" else (1, c, 1, 1)
    scale, offset = RNG.random(c) + 0.5, RNG.standard_normal(c)
    y, bm, bv = sf.nn.fused_batch_norm(sf.constant(x), scale, offset, epsilon=1e-3, data_format=fmt)
    mean, var = RNG.standard_normal(c), RNG.random(c) + 0.5
    yi, _, _ = sf.nn.fused_batch_norm(sf.constant(x), scale, offset, mean, var, 1e-3, fmt, is_training=False)
    yv, bmv, bvv, yiv = _run([y, bm, bv, yi], init=False)
    n = x.size // c
    mu, s2 = x.mean(axes), x.var(axes)
    np.testing.assert_allclose(bmv, mu)
    np.testing.assert_allclose(bvv, s2 * n / (n - 1))  # TF returns the unbiased variance
    np.testing.assert_allclose(
        yv,
        (x - mu.reshape(shape)) / np.sqrt(s2.reshape(shape) + 1e-3) * scale.reshape(shape)
        + offset.reshape(shape),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        yiv,
        (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-3) * scale.reshape(shape)
        + offset.reshape(shape),
        rtol=1e-10,
    )


def test_dropout_keeps_and_scales():
    x = np.ones((200, 100), np.float32)
    kp = sf.placeholder(sf.float32, [])
    d = sf.nn.dropout(sf.constant(x), kp, seed=1)
    d_rate = sf.nn.dropout(sf.constant(x), rate=0.75, seed=2)
    with sf.Session() as sess:
        a = sess.run(d, {kp: 0.25})
        b = sess.run(d_rate)
        full = sess.run(d, {kp: 1.0})
    for v in (a, b):
        assert set(np.unique(v)) <= {0.0, 4.0}
        assert abs((v > 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(full, x)  # feeding keep_prob 1.0 evaluates without dropout
    with pytest.raises(ValueError, match="exactly one of keep_prob and rate"):
        sf.nn.dropout(sf.constant(x))
    with pytest.raises(ValueError, match="keep_prob must be in"):
        sf.nn.dropout(sf.constant(x), 1.5)


def test_dropout_with_fed_keep_prob_one_is_the_identity_at_the_largest_uniform():
    # the uniform's largest value, 1 - 2^-24: floor(u + 1.0) rounded to 2 there and doubled
    # the element; graph seed 1, op seed 6 draws it among 2^20 values
    top = np.float32(1 - 2**-24)
    with sf.Graph().as_default():
        sf.set_random_seed(1)
        x = sf.placeholder(sf.float32, [None])
        keep_prob = sf.placeholder(sf.float32)
        d = sf.nn.dropout(x, keep_prob, seed=6)
        u = sf.random_uniform([1 << 20], seed=6)
        xv = np.ones(1 << 20, np.float32)
        with sf.Session() as sess:
            assert (sess.run(u) == top).any()  # the case this test is about is drawn
            np.testing.assert_array_equal(sess.run(d, {x: xv, keep_prob: 1.0}), xv)


def test_dropout_noise_shape_and_layer_training_flag():
    x = np.ones((50, 8), np.float32)
    d = sf.nn.dropout(sf.constant(x), 0.5, noise_shape=[1, 8], seed=3)
    training = sf.placeholder(sf.bool, [])
    layer = sf.layers.dropout(sf.constant(x), rate=0.5, training=training, seed=4)
    off = sf.layers.dropout(sf.constant(x), rate=0.5)
    with sf.Session() as sess:
        dv = sess.run(d)
        assert np.all(dv == dv[:1])  # one mask shared by every row
        np.testing.assert_array_equal(sess.run(layer, {training: False}), x)
        on = sess.run(layer, {training: True})
        assert set(np.unique(on)) <= {0.0, 2.0} and 0 < (on > 0).mean() < 1
        np.testing.assert_array_equal(sess.run(off), x)


def test_embedding_lookup_and_its_gradient():
    params = sf.Variable(RNG.standard_normal((6, 3)), name="emb")
    ids = sf.placeholder(sf.int32, [None, 2])
    out = sf.nn.embedding_lookup(params, ids)
    loss = sf.reduce_sum(out * sf.constant(np.arange(3.0)))
    (g,) = sf.gradients(loss, [params])
    idv = np.array([[1, 4], [1, 0]])
    with sf.Session() as sess:
        sess.run(params.initializer)
        pv, ov, gv = sess.run([params, out, g], {ids: idv})
    np.testing.assert_array_equal(ov, pv[idv])
    want = np.zeros((6, 3))
    for i in idv.reshape(-1):
        want[i] += np.arange(3.0)
    np.testing.assert_allclose(gv, want)


def test_scaled_dot_product_attention_with_mask():
    q, k, v = (RNG.standard_normal((2, 4, 8)) for _ in range(3))
    mask = np.tril(np.ones((4, 4), bool))
    out = _run(sf.nn.scaled_dot_product_attention(q, k, v, mask=mask), init=False)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(8) + np.where(mask, 0, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(out, p @ v, rtol=1e-10)


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_recurrent_cells_match_numpy_and_share_weights(kind):
    steps, batch, n_in, units = 3, 2, 4, 5
    xs = [RNG.standard_normal((batch, n_in)) for _ in range(steps)]
    cell = {
        "lstm": sf.nn.rnn_cell.BasicLSTMCell,
        "gru": sf.nn.rnn_cell.GRUCell,
        "rnn": sf.nn.rnn_cell.BasicRNNCell,
    }[kind](units)
    outs, state = sf.nn.static_rnn(cell, [sf.constant(x) for x in xs], dtype=sf.float64)
    names = sorted(v.op.name for v in sf.trainable_variables())
    assert len(names) == {"lstm": 2, "gru": 4, "rnn": 2}[kind]  # one set of weights for all steps
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got = sess.run(outs)
        w = {v.op.name.split("/", 2)[-1]: sess.run(v) for v in sf.trainable_variables()}
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    for t, x in enumerate(xs):
        if kind == "lstm":
            z = np.concatenate([x, h], 1) @ w["kernel"] + w["bias"]
            i, j, f, o = np.split(z, 4, axis=1)
            c = c * _sig(f + 1.0) + _sig(i) * np.tanh(j)
            h = np.tanh(c) * _sig(o)
        elif kind == "gru":
            gates = _sig(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"])
            r, u = np.split(gates, 2, axis=1)
            cand = np.tanh(np.concatenate([x, r * h], 1) @ w["candidate/kernel"] + w["candidate/bias"])
            h = u * h + (1 - u) * cand
        else:
            h = np.tanh(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"])
        np.testing.assert_allclose(got[t], h, rtol=1e-10)


def test_dense_layer_variables_reuse_and_shapes():
    x = sf.placeholder(sf.float32, [None, 3, 4])
    y = sf.layers.dense(x, 6, activation=sf.nn.relu, name="fc")
    y2 = sf.layers.dense(x, 6, name="fc", reuse=True)
    assert y.shape.as_list() == [None, 3, 6]
    assert sorted(v.op.name for v in sf.trainable_variables()) == ["fc/bias", "fc/kernel"]
    flat = sf.layers.flatten(x)
    assert flat.shape.as_list() == [None, 12]
    xv = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        a, b, k, bias = sess.run([y, y2, "fc/kernel:0", "fc/bias:0"], {x: xv})
    np.testing.assert_allclose(b, xv @ k + bias, rtol=1e-5)
    np.testing.assert_allclose(a, np.maximum(xv @ k + bias, 0), rtol=1e-5)


def test_batch_normalization_layer_moving_averages():
    """Training normalizes with batch statistics and moves the averages with momentum;
    inference uses the moving statistics (TF1's documented behaviour)."""
    x = sf.placeholder(sf.float64, [None, 3])
    training = sf.placeholder(sf.bool, [])
    y = sf.layers.batch_normalization(x, momentum=0.9, epsilon=1e-3, training=training, name="bn")
    updates = sf.get_collection(sf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    batches = [RNG.standard_normal((8, 3)) * 2 + 1 for _ in range(5)]
    mm, mv = np.zeros(3), np.ones(3)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        for b in batches:
            out, _ = sess.run([y, updates], {x: b, training: True})
            np.testing.assert_allclose(out, (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-3), rtol=1e-9)
            mm = 0.9 * mm + 0.1 * b.mean(0)
            mv = 0.9 * mv + 0.1 * b.var(0, ddof=1)
        got_m, got_v = sess.run(["bn/moving_mean:0", "bn/moving_variance:0"])
        np.testing.assert_allclose(got_m, mm, rtol=1e-10)
        np.testing.assert_allclose(got_v, mv, rtol=1e-10)
        test = RNG.standard_normal((4, 3))
        inf, _ = sess.run([y, updates], {x: test, training: False})
        np.testing.assert_allclose(inf, (test - mm) / np.sqrt(mv + 1e-3), rtol=1e-9)
        np.testing.assert_allclose(sess.run("bn/moving_mean:0"), mm)  # inference leaves them alone


def test_layer_normalization():
    x = RNG.standard_normal((3, 7))
    y = sf.layers.layer_normalization(sf.constant(x), epsilon=1e-5)
    got = _run(y)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-9)
