"""Static shape inference where TF1 programs need it: partially known shape vectors,
unknown ranks, fed keep probabilities, and the planner's shape arithmetic.

Each of the first failures of real TF1 scripts has a test here; values are checked
against NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import builder, const_eval

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# --- dropout with a fed keep probability, and what follows it in mnist_deep.py -------------------
def test_dropout_with_unshaped_keep_prob_keeps_the_shape():
    x = sf.placeholder(sf.float32, [None, 1024])
    keep_prob = sf.placeholder(sf.float32)
    d = sf.nn.dropout(x, keep_prob)
    assert d.shape.as_list() == [None, 1024]
    assert sf.matmul(d, sf.zeros([1024, 10])).shape.as_list() == [None, 10]
    xv = RNG.standard_normal((3, 1024)).astype(np.float32)
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(d, {x: xv, keep_prob: 1.0}), xv)
        half = sess.run(d, {x: xv, keep_prob: 0.5})
    kept = half != 0
    np.testing.assert_allclose(half[kept], 2 * xv[kept], rtol=1e-6)
    assert 0.3 < kept.mean() < 0.7


def test_dropout_rejects_a_keep_prob_that_is_not_a_scalar():
    with pytest.raises(ValueError, match="keep_prob must be a scalar"):
        sf.nn.dropout(sf.placeholder(sf.float32, [None, 4]), sf.placeholder(sf.float32, [4]))


def test_mnist_deep_pattern_builds_and_trains():
    """TensorFlow's mnist_deep.py, shrunk: conv, pool, conv, pool, dense, dropout with a fed
    keep_prob, logits, softmax cross-entropy on them, Adam."""
    n, side, classes = 64, 8, 3
    labels_int = RNG.integers(0, classes, n)
    images = RNG.standard_normal((n, side * side)).astype(np.float32) * 0.1
    images[np.arange(n), labels_int * 7] += 3.0  # a learnable signal
    onehot = np.eye(classes, dtype=np.float32)[labels_int]

    def weight(shape):
        return sf.Variable(RNG.normal(0, 0.1, shape).astype(np.float32))

    x = sf.placeholder(sf.float32, [None, side * side])
    y_ = sf.placeholder(sf.float32, [None, classes])
    keep_prob = sf.placeholder(sf.float32)
    h = sf.reshape(x, [-1, side, side, 1])
    h = sf.nn.relu(sf.nn.conv2d(h, weight([3, 3, 1, 4]), [1, 1, 1, 1], "SAME") + weight([4]))
    h = sf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = sf.nn.relu(sf.nn.conv2d(h, weight([3, 3, 4, 8]), [1, 1, 1, 1], "SAME") + weight([8]))
    h = sf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = sf.reshape(h, [-1, 2 * 2 * 8])
    h = sf.nn.relu(sf.matmul(h, weight([32, 16])) + weight([16]))
    h = sf.nn.dropout(h, keep_prob)
    logits = sf.matmul(h, weight([16, classes])) + weight([classes])
    assert logits.shape.as_list() == [None, classes]
    loss = sf.reduce_mean(sf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    train = sf.train.AdamOptimizer(0.01).minimize(loss)
    accuracy = sf.reduce_mean(sf.cast(sf.equal(sf.argmax(logits, 1), sf.argmax(y_, 1)), sf.float32))
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        first = sess.run(loss, {x: images, y_: onehot, keep_prob: 1.0})
        for _ in range(60):
            sess.run(train, {x: images, y_: onehot, keep_prob: 0.9})
        last, acc = sess.run([loss, accuracy], {x: images, y_: onehot, keep_prob: 1.0})
    assert last < 0.5 * first
    assert acc > 0.9


# --- softmax cross-entropy on logits and labels of unknown rank -----------------------------------
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
def test_softmax_xent_accepts_unknown_rank(shape):
    logits, labels = sf.placeholder(sf.float64), sf.placeholder(sf.float64)
    loss = sf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    assert loss.shape.ndims is None
    grad = sf.gradients(sf.reduce_sum(loss), logits)[0]
    lv = RNG.standard_normal(shape)
    pv = _softmax(RNG.standard_normal(shape))
    with sf.Session() as sess:
        got, g = sess.run([loss, grad], {logits: lv, labels: pv})
    want = -(pv * np.log(_softmax(lv))).sum(-1)
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(g, _softmax(lv) - pv, rtol=1e-9, atol=1e-12)


def test_softmax_xent_unknown_rank_logits_take_the_labels_shape():
    loss = sf.nn.softmax_cross_entropy_with_logits(
        labels=sf.placeholder(sf.float32, [None, 10]), logits=sf.placeholder(sf.float32)
    )
    assert loss.shape.as_list() == [None]


def test_softmax_xent_on_an_inner_axis_of_unknown_rank():
    logits, labels = sf.placeholder(sf.float64), sf.placeholder(sf.float64)
    loss = sf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=1)
    lv = RNG.standard_normal((2, 4, 3))
    pv = np.moveaxis(_softmax(RNG.standard_normal((2, 3, 4))), 2, 1)
    with sf.Session() as sess:
        got = sess.run(loss, {logits: lv, labels: pv})
    want = -(pv * np.log(np.moveaxis(_softmax(np.moveaxis(lv, 1, 2)), 2, 1))).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("labels_shape", [None, [None], [None, None]])
def test_sparse_softmax_xent_accepts_unknown_rank_logits(labels_shape):
    logits = sf.placeholder(sf.float64)
    labels = sf.placeholder(sf.int32, labels_shape)
    loss = sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert loss.shape == sf.TensorShape(labels_shape)
    shape = (4, 6) if labels_shape != [None, None] else (2, 3, 6)
    lv = RNG.standard_normal(shape)
    yv = RNG.integers(0, 6, shape[:-1]).astype(np.int32)
    with sf.Session() as sess:
        got = sess.run(loss, {logits: lv, labels: yv})
    want = -np.log(np.take_along_axis(_softmax(lv), yv[..., None], -1))[..., 0]
    np.testing.assert_allclose(got, want, rtol=1e-10)


# --- matmul-like ops on unknown ranks ------------------------------------------------------------
@pytest.mark.parametrize(
    "a_shape,b_shape,ta,tb,want",
    [
        (None, [5, 3], False, False, [None, 3]),
        (None, [5, 3], True, False, [None, 3]),
        (None, [3, 5], False, True, [None, 3]),
        ([4, 5], None, False, False, [4, None]),
        ([5, 4], None, True, False, [4, None]),
        (None, None, False, False, [None, None]),
    ],
)
def test_matmul_op_with_an_unknown_rank_infers_rank_2(a_shape, b_shape, ta, tb, want):
    a, b = sf.placeholder(sf.float32, a_shape), sf.placeholder(sf.float32, b_shape)
    y = builder.apply_op("MatMul", [a, b], {"transpose_a": ta, "transpose_b": tb}).outputs[0]
    assert y.shape.as_list() == want
    av = RNG.standard_normal((5, 4) if ta else (4, 5)).astype(np.float32)
    bv = RNG.standard_normal((3, 5) if tb else (5, 3)).astype(np.float32)
    if a_shape is not None:
        av = RNG.standard_normal(a_shape).astype(np.float32)
    if b_shape is not None:
        bv = RNG.standard_normal(b_shape).astype(np.float32)
    with sf.Session() as sess:
        got = sess.run(y, {a: av, b: bv})
    np.testing.assert_allclose(got, (av.T if ta else av) @ (bv.T if tb else bv), rtol=1e-5)


def test_batch_matmul_shapes_with_partial_and_unknown_ranks():
    x = sf.placeholder(sf.float32, [None, 2, 5])
    assert sf.matmul(x, sf.placeholder(sf.float32, [5, 3])).shape.as_list() == [None, 2, 3]
    assert sf.matmul(x, sf.placeholder(sf.float32)).shape.ndims is None  # as TF: BatchMatMulV2
    adj = sf.matmul(
        sf.placeholder(sf.float32, [None, 5, 2]),
        sf.placeholder(sf.float32, [None, 3, 5]),
        adjoint_a=True,
        adjoint_b=True,
    )
    assert adj.shape.as_list() == [None, 2, 3]


def test_transpose_of_unknown_rank_reverses_the_dimensions():
    x = sf.placeholder(sf.float32)
    y = sf.transpose(x)
    assert y.op.type == "Transpose" and y.op.name == "transpose"
    xv = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: xv}), xv.T)


# --- partially known shape vectors ---------------------------------------------------------------
def test_zeros_of_a_stacked_fed_batch():
    b = sf.placeholder(sf.float32, [None, 5])
    z = sf.zeros(sf.stack([sf.shape(b)[0], 7]))
    assert z.shape.as_list() == [None, 7]
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(z, {b: np.ones((3, 5), np.float32)}), np.zeros((3, 7)))


def test_constant_value_as_shape_reads_the_tf1_patterns():
    x = sf.placeholder(sf.float32, [None, 5, 4])
    n = sf.placeholder(sf.int32, [])
    s = sf.shape(x)
    cvs = const_eval.constant_value_as_shape
    assert cvs(s).as_list() == [None, 5, 4]
    assert cvs(s[1:]).as_list() == [5, 4]
    assert cvs(s[::-1]).as_list() == [4, 5, None]
    assert cvs(sf.stack([s[0], s[2], 7, -1])).as_list() == [None, 4, 7, None]
    assert cvs(sf.stack([n, 3])).as_list() == [None, 3]
    assert cvs(sf.concat([s[:1], [2, 3]], 0)).as_list() == [None, 2, 3]
    assert cvs(sf.cast(sf.stack([n, 3]), sf.int64)).as_list() == [None, 3]
    assert cvs(sf.slice(s, [1], [2])).as_list() == [5, 4]
    assert cvs(sf.constant([-1, 3])).as_list() == [None, 3]
    assert cvs(sf.constant(-1)) == sf.TensorShape(None)
    assert cvs(sf.placeholder(sf.int32, [3])).as_list() == [None, None, None]
    assert cvs(sf.placeholder(sf.int32)) == sf.TensorShape(None)
    assert cvs(sf.shape(sf.placeholder(sf.float32))) == sf.TensorShape(None)


def test_constant_value_knows_shape_facts_that_do_not_need_unknown_dims():
    x = sf.placeholder(sf.float32, [None, 5, 0])
    cv = const_eval.constant_value
    assert cv(sf.shape(x)) is None
    assert int(cv(sf.shape(x)[1])) == 5
    assert int(cv(sf.rank(x))) == 3
    assert int(cv(sf.size(x))) == 0  # a zero dimension decides the size
    assert cv(sf.size(sf.placeholder(sf.float32, [None, 5]))) is None
    assert int(cv(sf.shape(x)[1] * sf.shape(x)[2] + 2)) == 2


def test_shape_knowledge_follows_set_shape():
    x = sf.placeholder(sf.float32)
    s = sf.shape(x)
    assert const_eval.constant_value_as_shape(s) == sf.TensorShape(None)
    x.set_shape([None, 3])
    assert const_eval.constant_value_as_shape(s).as_list() == [None, 3]
    assert sf.zeros(sf.stack([s[0], s[1]])).shape.as_list() == [None, 3]


@pytest.mark.parametrize(
    "build,want,ran",
    [
        (lambda x, n: sf.reshape(x, [sf.shape(x)[0], 20]), [None, 20], (2, 20)),
        (lambda x, n: sf.reshape(x, [sf.shape(x)[0], -1]), [None, None], (2, 20)),  # TF's shape too
        (lambda x, n: sf.reshape(x, sf.stack([n, 10])), [None, 10], (4, 10)),
        (lambda x, n: sf.ones([n, 3]), [None, 3], (4, 3)),
        (lambda x, n: sf.fill(sf.shape(x)[1:], 2.0), [5, 4], (5, 4)),
        (lambda x, n: sf.random_uniform([n, 2], seed=1), [None, 2], (4, 2)),
        (lambda x, n: sf.random_normal(sf.shape(x), seed=1), [None, 5, 4], (2, 5, 4)),
        (lambda x, n: sf.truncated_normal(sf.stack([n, 6]), seed=1), [None, 6], (4, 6)),
        (lambda x, n: sf.broadcast_to(sf.ones([4]), sf.stack([n, 4])), [None, 4], (4, 4)),
        (lambda x, n: sf.tile(x, sf.stack([n, 2, 1])), [None, 10, 4], (8, 10, 4)),
        (lambda x, n: sf.slice(x, [0, 1, 0], sf.stack([sf.shape(x)[0], 2, -1])), [None, 2, 4], (2, 2, 4)),
    ],
)
def test_shape_taking_ops_read_partial_shape_vectors(build, want, ran):
    x = sf.placeholder(sf.float32, [None, 5, 4])
    n = sf.placeholder(sf.int32, [])
    y = build(x, n)
    assert y.shape.as_list() == want
    with sf.Session() as sess:
        got = sess.run(y, {x: np.ones((2, 5, 4), np.float32), n: 4})
    assert got.shape == ran


def test_reshape_infers_the_one_unknown_dimension_from_a_known_size():
    x = sf.placeholder(sf.float32, [2, 5, 4])
    n = sf.placeholder(sf.int32, [])
    assert sf.reshape(x, sf.stack([n, 10])).shape.as_list() == [4, 10]
    with pytest.raises(ValueError, match="Cannot reshape a tensor with 40 elements"):
        sf.reshape(x, sf.stack([n, 3]))


def test_lstm_zero_state_and_static_rnn_with_a_dynamic_batch():
    steps, n_in, units = 3, 4, 5
    x = sf.placeholder(sf.float64, [None, steps, n_in])
    cell = sf.nn.rnn_cell.BasicLSTMCell(units)
    state0 = cell.zero_state(sf.shape(x)[0], sf.float64)
    assert [s.shape.as_list() for s in state0] == [[None, units], [None, units]]
    outputs, state = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), initial_state=state0)
    assert outputs[-1].shape.as_list() == [None, units]
    xv = RNG.standard_normal((2, steps, n_in))
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got = sess.run(outputs[-1], {x: xv})
        kernel, bias = sess.run(sf.trainable_variables())
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = h = np.zeros((2, units))
    for t in range(steps):
        i, j, f, o = np.split(np.concatenate([xv[:, t], h], 1) @ kernel + bias, 4, axis=1)
        c = c * sig(f + 1.0) + sig(i) * np.tanh(j)
        h = np.tanh(c) * sig(o)
    np.testing.assert_allclose(got, h, rtol=1e-10)


# --- the planner's shape arithmetic --------------------------------------------------------------
@pytest.mark.parametrize("reduce", [sf.reduce_sum, sf.reduce_mean, sf.reduce_max, sf.reduce_prod])
@pytest.mark.parametrize("value", [3.0, np.ones((2, 3)) * 3.0])
def test_gradient_of_a_reduction_over_an_unshaped_placeholder(reduce, value):
    p = sf.placeholder(sf.float64)
    g = sf.gradients(reduce(p), p)[0]
    with sf.Session() as sess:
        got = sess.run(g, {p: value})
    n = np.size(value)
    want = {
        sf.reduce_sum: np.ones_like(value),
        sf.reduce_mean: np.ones_like(value) / n,
        sf.reduce_max: np.ones_like(value) / n,  # ties share the gradient
        sf.reduce_prod: np.ones_like(value) * 3.0 ** (n - 1),
    }[reduce]
    np.testing.assert_allclose(got, want)


def test_integer_division_over_empty_broadcasts_divides_nothing():
    """A divisor that meets no element (the rank of a scalar against no axes) is not a division by
    zero, as in TF's kernels; a real one is an error naming the op."""
    empty = sf.placeholder(sf.int32, [None])
    r = sf.placeholder(sf.int32, [])
    with sf.Session() as sess:
        for fn in (sf.floormod, sf.floordiv, sf.pow):
            assert sess.run(fn(empty, r), {empty: np.zeros(0, np.int32), r: 0}).shape == (0,)
    x = sf.placeholder(sf.float32, [None])
    z = sf.zeros(sf.stack([7 // sf.shape(x)[0]]))
    with sf.Session() as sess:
        assert sess.run(z, {x: np.ones(2, np.float32)}).shape == (3,)
        with pytest.raises(sf.errors.InvalidArgumentError, match="FloorDiv.*division by zero"):
            sess.run(z, {x: np.ones(0, np.float32)})
