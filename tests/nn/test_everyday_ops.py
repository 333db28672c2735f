"""top_k, in_top_k, arg_max/arg_min and the small nn functions TF1 scripts call, against
TensorFlow's values (literals) and NumPy."""

from __future__ import annotations

import re

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _run(fetches, feeds=None):
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        return sess.run(fetches, feeds or {})


NAN, INF = np.nan, np.inf
PRED = np.array(
    [
        [0.1, 0.3, 0.3, 0.2],
        [0.1, NAN, 0.5, 0.2],
        [0.1, 0.2, INF, 0.3],
        [0.4, 0.3, 0.2, 0.1],
        [-INF, 0.1, 0.2, 0.3],
        [0.1, 0.2, 0.3, 0.4],
    ],
    np.float32,
)
TARGETS = np.array([2, 2, 3, 0, 1, 7], np.int32)


def test_in_top_k_matches_tensorflow():
    """TensorFlow: ties count in the target's favour; a row with NaN or Inf, or a target
    outside the classes, is never in the top k; k <= 0 finds nothing."""
    got = _run({k: sf.nn.in_top_k(PRED, TARGETS, k) for k in (-1, 0, 1, 2, 5)})
    for k in (-1, 0):
        np.testing.assert_array_equal(got[k], [False] * 6)
    for k in (1, 2, 5):
        np.testing.assert_array_equal(got[k], [True, False, False, True, False, False])
    t = sf.nn.in_top_k(sf.placeholder(sf.float32, [None, 5]), sf.placeholder(sf.int64, [None]), 2)
    assert re.fullmatch(r"in_top_k(_\d+)?/InTopKV2:0", t.name), t.name
    assert t.shape.as_list() == [None] and t.dtype == sf.bool
    assert sf.math.in_top_k is sf.nn.in_top_k


def test_in_top_k_with_a_fed_k():
    k = sf.placeholder(sf.int64, [])
    t = sf.nn.in_top_k(PRED, TARGETS.astype(np.int64), k)
    with sf.Session() as sess:
        assert sess.run(t, {k: 1}).tolist() == [True, False, False, True, False, False]
        assert not sess.run(t, {k: 0}).any()


def test_top_k_matches_tensorflow():
    x = np.array([[3.0, 1.0, 3.0, 2.0, 3.0], [1, 1, 1, 1, 1], [-INF, INF, 0, 7, -0.0]], np.float32)
    values, indices = _run(sf.nn.top_k(x, 3))
    np.testing.assert_array_equal(indices, [[0, 2, 4], [0, 1, 2], [1, 3, 2]])
    np.testing.assert_array_equal(values, [[3, 3, 3], [1, 1, 1], [INF, 7, 0]])
    r = sf.nn.top_k(x, 2)
    assert re.fullmatch(r"TopKV2(_\d+)?:0", r.values.name) and r.indices.dtype == sf.int32
    assert sf.nn.top_k(sf.placeholder(sf.float32, [None, 7]), 3).values.shape.as_list() == [None, 3]
    assert sf.nn.top_k(
        sf.placeholder(sf.float32, [4, 7]), sf.placeholder(sf.int32, [])
    ).indices.shape.as_list() == [
        4,
        None,
    ]
    assert sf.math.top_k is sf.nn.top_k


def test_top_k_nan_ranks_first_and_k_errors():
    values, indices = _run(sf.nn.top_k(np.array([1.0, NAN, INF, 2.0], np.float32), 3))
    np.testing.assert_array_equal(indices, [1, 2, 3])
    assert np.isnan(values[0]) and values[1] == INF
    with pytest.raises(ValueError, match="last dimension >= k = 6 but is 5"):
        sf.nn.top_k(np.zeros((3, 5), np.float32), 6)
    with pytest.raises(ValueError, match="Need k >= 0"):
        sf.nn.top_k(np.zeros((3, 5), np.float32), -1)
    k = sf.placeholder(sf.int32, [])
    t = sf.nn.top_k(sf.placeholder(sf.float32, [2, 4]), k)
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError, match="last dimension >= k = 5"):
        sess.run(t.values, {k: 5, t.values.op.inputs[0]: np.zeros((2, 4), np.float32)})


def test_top_k_gradient_goes_to_the_chosen_entries():
    x = sf.constant(np.array([[1.0, 5.0, 3.0], [2.0, 2.0, 0.0]]))
    v, _ = sf.nn.top_k(x, 2)
    (g,) = sf.gradients(sf.reduce_sum(v * np.array([[1.0, 10.0], [100.0, 1000.0]])), [x])
    np.testing.assert_array_equal(_run(g), [[0, 1, 10], [100, 1000, 0]])


def test_arg_max_and_arg_min_old_names():
    x = np.array([[1.0, 7.0, 7.0], [9.0, 0.0, 3.0]], np.float32)
    amax, amin = sf.arg_max(x, 1), sf.arg_min(x, 0, output_type=sf.int32)
    assert amax.name == "ArgMax:0" and amax.dtype == sf.int64 and amin.dtype == sf.int32
    a, b = _run([amax, amin])
    np.testing.assert_array_equal(a, [1, 0])
    np.testing.assert_array_equal(b, [0, 1, 1])


def test_xw_plus_b_zero_fraction_and_global_normalization():
    # values from TensorFlow
    xw = sf.nn.xw_plus_b(
        np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.arange(4, dtype=np.float32)
    )
    assert xw.name == "xw_plus_b:0"
    zf = sf.nn.zero_fraction(np.array([[0, 1.0, 0], [2, 0, 3]], np.float32))
    assert zf.name == "zero_fraction/fraction:0" and zf.dtype == sf.float32
    args = (np.ones((2, 3), np.float32), np.zeros(3, np.float32), np.full(3, 4, np.float32))
    scale = (np.ones(3, np.float32), np.full(3, 2, np.float32), 0.001)
    bn = sf.nn.batch_norm_with_global_normalization(*args, *scale, True)
    bn_plain = sf.nn.batch_norm_with_global_normalization(*args, *scale, scale_after_normalization=False)
    xwv, zfv, bnv, bnp = _run([xw, zf, bn, bn_plain])
    np.testing.assert_array_equal(xwv, [[3, 4, 5, 6]] * 2)
    assert zfv == 0.5
    np.testing.assert_allclose(bnv, np.full((2, 3), 1.9998751), rtol=1e-6)
    np.testing.assert_allclose(bnp, np.full((2, 3), 1.4999375), rtol=1e-6)
    assert _run(sf.nn.zero_fraction(np.zeros((0,), np.float32))) != _run(sf.nn.zero_fraction([0.0]))


def test_small_functions_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    labels = rng.uniform(0, 1, (3, 4))
    got = _run(
        {
            "l2": sf.nn.l2_normalize(x, axis=1),
            "l2_eps": sf.nn.l2_normalize(np.zeros((2,)), epsilon=1e-4),
            "wxent": sf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=x, pos_weight=3.0),
            "softsign": sf.nn.softsign(x),
            "swish": sf.nn.swish(x, beta=2.0),
            "crelu": sf.nn.crelu(x),
            "div": sf.div_no_nan(x, np.array([0.0, 2.0, 0.0, -1.0])),
            "relu_layer": sf.nn.relu_layer(x, np.eye(4), np.ones(4)),
        }
    )
    np.testing.assert_allclose(got["l2"], x / np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(got["l2_eps"], [0, 0])
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(got["wxent"], -(3.0 * labels * np.log(sig) + (1 - labels) * np.log(1 - sig)))
    np.testing.assert_allclose(got["softsign"], x / (1 + np.abs(x)))
    np.testing.assert_allclose(got["swish"], x / (1 + np.exp(-2 * x)))
    np.testing.assert_allclose(got["crelu"], np.maximum(np.concatenate([x, -x], 1), 0))
    np.testing.assert_allclose(got["div"], np.where([0, 1, 0, 1], x / np.array([1.0, 2.0, 1.0, -1.0]), 0))
    np.testing.assert_allclose(got["relu_layer"], np.maximum(x + 1, 0))
    assert sf.nn.silu is sf.nn.swish and sf.math.divide_no_nan is sf.div_no_nan
    with pytest.raises(TypeError, match="floating-point"):
        sf.div_no_nan(np.array([1, 2]), np.array([0, 1]))


def test_moments_helpers_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    freq = rng.integers(0, 4, (5, 3)).astype(np.float64)
    counts, m_ss, v_ss, shift = sf.nn.sufficient_statistics(sf.constant(x), [0], shift=0.5)
    mean, var = sf.nn.normalize_moments(counts, m_ss, v_ss, shift)
    wm, wv = sf.nn.weighted_moments(sf.constant(x), [0], freq)
    got = _run([counts, mean, var, wm, wv])
    assert got[0] == 5
    np.testing.assert_allclose(got[1], x.mean(0))
    np.testing.assert_allclose(got[2], x.var(0))
    want_wm = (freq * x).sum(0) / freq.sum(0)
    np.testing.assert_allclose(got[3], want_wm)
    np.testing.assert_allclose(got[4], (freq * (x - want_wm) ** 2).sum(0) / freq.sum(0))
