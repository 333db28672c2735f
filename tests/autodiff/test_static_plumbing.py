"""Gradients of broadcasting ops and concat sum over constant axes, with no shape plumbing,
when the broadcast axes follow from what is known while building; they keep TF1's runtime
plumbing where the batch sizes of two operands might differ. Values against NumPy."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import grad_util

PLUMBING = ("BroadcastGradientArgs", "Rank", "GatherV2", "FloorMod", "Size")


def _plain(kinds) -> bool:
    """No broadcast plumbing: only the final sum's gradient reads a shape (its Reshape to a
    constant and its BroadcastTo to x's shape)."""
    return not any(kinds[k] for k in PLUMBING) and kinds["Shape"] <= 1 and kinds["Reshape"] <= 1


@pytest.fixture
def g(sf_graph):
    return sf_graph


def _grad_ops(g, before: int) -> collections.Counter:
    return collections.Counter(o.type for o in g.get_operations()[before:])


def _run(ts, feeds):
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        return sess.run(ts, feeds)


def test_operands_sharing_the_batch_need_no_plumbing(g):
    x = sf.placeholder(sf.float64, [None, 3], name="x")
    s = sf.sigmoid(x)
    z = sf.concat([x, s], 1)  # [None, 6]: the batch of x
    a, b = sf.split(z, 2, axis=1)
    y = a * b + sf.tanh(s)
    loss = sf.reduce_sum(y * 2.0)
    n = len(g.get_operations())
    gx = sf.gradients(loss, x)[0]
    kinds = _grad_ops(g, n)
    assert _plain(kinds), kinds
    xv = np.random.default_rng(0).standard_normal((4, 3))
    sv = 1 / (1 + np.exp(-xv))
    want = 2 * (sv + xv * sv * (1 - sv)) + 2 * (1 - np.tanh(sv) ** 2) * sv * (1 - sv)
    np.testing.assert_allclose(_run(gx, {x: xv}), want, rtol=1e-10)


def test_a_bias_of_known_shape_sums_over_the_batch(g):
    x = sf.placeholder(sf.float64, [None, 3], name="x")
    b = sf.Variable(np.zeros(3), name="b")
    c = sf.Variable(np.zeros((1, 3)), name="c")
    y = sf.reduce_sum(sf.square(x + b) + x * c)
    n = len(g.get_operations())
    gb, gc = sf.gradients(y, [b, c])
    kinds = _grad_ops(g, n)
    assert _plain(kinds), kinds
    xv = np.arange(12.0).reshape(4, 3)
    vb, vc = _run([gb, gc], {x: xv})
    np.testing.assert_allclose(vb, (2 * xv).sum(0))
    np.testing.assert_allclose(vc, xv.sum(0, keepdims=True))


def test_zero_state_from_the_inputs_shape_shares_its_batch(g):
    x = sf.placeholder(sf.float64, [None, 3], name="x")
    zeros = sf.zeros(sf.stack([sf.shape(x)[0], 3]), sf.float64)
    w = sf.Variable(np.ones((3, 3)), name="w")
    h = sf.matmul(x, w)
    y = sf.reduce_sum((zeros + 1.0) * h)
    n = len(g.get_operations())
    (gw,) = sf.gradients(y, [w])
    kinds = _grad_ops(g, n)
    assert kinds["BroadcastGradientArgs"] == 0, kinds
    xv = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(_run(gw, {x: xv}), xv.T @ np.ones((2, 3)))


@pytest.mark.parametrize("rows", [(1, 4), (4, 1), (4, 4)])
def test_operands_whose_batches_may_differ_keep_the_runtime_plumbing(g, rows):
    x = sf.placeholder(sf.float64, [None, 3], name="x")
    y = sf.placeholder(sf.float64, [None, 3], name="y")
    n = len(g.get_operations())
    gx, gy = sf.gradients(sf.reduce_sum(x * y), [x, y])
    assert _grad_ops(g, n)["BroadcastGradientArgs"] == 1
    rng = np.random.default_rng(1)
    xv, yv = rng.standard_normal((rows[0], 3)), rng.standard_normal((rows[1], 3))
    vx, vy = _run([gx, gy], {x: xv, y: yv})
    full = (max(rows), 3)

    def back(other, n):  # d sum(x*y) / dx: y broadcast, summed back to x's rows
        b = np.broadcast_to(other, full)
        return b.sum(0, keepdims=True) if n == 1 else b

    np.testing.assert_allclose(vx, back(yv, rows[0]))
    np.testing.assert_allclose(vy, back(xv, rows[1]))


def test_a_unit_dimension_against_an_unknown_one_is_summed(g):
    x = sf.placeholder(sf.float64, [None, 1, 2], name="x")
    y = sf.placeholder(sf.float64, [2, None, 2], name="y")
    n = len(g.get_operations())
    gx, gy = sf.gradients(sf.reduce_sum(sf.square(x * y)), [x, y])
    assert _grad_ops(g, n)["BroadcastGradientArgs"] == 1  # x's batch vs 2: may broadcast
    x2 = sf.placeholder(sf.float64, [2, 1, 2], name="x2")
    m = len(g.get_operations())
    gx2, gy2 = sf.gradients(sf.reduce_sum(sf.square(x2 * y)), [x2, y])
    kinds = _grad_ops(g, m)
    assert _plain(kinds) and kinds["Sum"] == 2, kinds  # the loss's, and x2's over axis 1
    rng = np.random.default_rng(2)
    xv, yv = rng.standard_normal((2, 1, 2)), rng.standard_normal((2, 3, 2))
    vx, vy = _run([gx2, gy2], {x2: xv, y: yv})
    np.testing.assert_allclose(vx, (2 * xv * yv * yv).sum(1, keepdims=True))
    np.testing.assert_allclose(vy, 2 * xv * xv * yv)


def test_concat_of_known_sizes_splits_at_constants(g):
    a = sf.placeholder(sf.float64, [None, 2], name="a")
    b = sf.placeholder(sf.float64, [None, 3], name="b")
    c = sf.concat([a, b], -1)
    w = np.arange(5.0)
    n = len(g.get_operations())
    ga, gb = sf.gradients(sf.reduce_sum(c * w), [a, b])
    kinds = _grad_ops(g, n)
    assert _plain(kinds), kinds
    va, vb = _run([ga, gb], {a: np.ones((4, 2)), b: np.ones((4, 3))})
    np.testing.assert_allclose(va, np.tile(w[:2], (4, 1)))
    np.testing.assert_allclose(vb, np.tile(w[2:], (4, 1)))


def test_tokens_name_shared_dimensions():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 4])
        h = sf.matmul(sf.tanh(x), sf.ones([4, 7]))
        parts = sf.unstack(sf.stack([h, h * 2.0], axis=1), axis=1)
        other = sf.placeholder(sf.float32, [None, 4])
        tx, th, tp, to = (grad_util.dim_tokens(t) for t in (x, h, parts[1], other))
        assert tx[1] == 4 and th[1] == 7 and th[0] == tx[0] == tp[0]
        assert to[0] != tx[0]


def test_an_unrolled_lstms_gradient_has_no_shape_plumbing(g):
    x = sf.placeholder(sf.float32, [None, 5, 4], name="x")
    cell = sf.nn.rnn_cell.BasicLSTMCell(8)
    outputs, _ = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), dtype=sf.float32)
    loss = sf.reduce_mean(sf.square(outputs[-1]))
    n = len(g.get_operations())
    sf.train.GradientDescentOptimizer(0.1).minimize(loss)
    kinds = _grad_ops(g, n)
    assert kinds["BroadcastGradientArgs"] == 0 and kinds["GatherV2"] == 0, kinds
    assert kinds["Shape"] <= 2, kinds  # the mean's count of the batch only


def test_reshape_back_to_one_unknown_dimension_uses_a_constant(g):
    x = sf.placeholder(sf.float64, [None, 2, 3], name="x")
    w = np.arange(6.0)
    flat = sf.reshape(x, [-1, 6])
    two = sf.placeholder(sf.float64, [None, None], name="two")
    n = len(g.get_operations())
    gx, gt = sf.gradients(sf.reduce_sum(flat * w) + sf.reduce_sum(sf.reshape(two, [-1]) * 2.0), [x, two])
    kinds = _grad_ops(g, n)
    assert kinds["Shape"] == 3, kinds  # the two sums' broadcasts and `two`'s own shape
    vx, vt = _run([gx, gt], {x: np.ones((4, 2, 3)), two: np.ones((2, 5))})
    np.testing.assert_allclose(vx, np.broadcast_to(w.reshape(2, 3), (4, 2, 3)))
    np.testing.assert_allclose(vt, np.full((2, 5), 2.0))
