"""sf.contrib: TF1's contrib defaults and names (fully_connected relu, weights/biases, Conv,
BatchNorm), arg_scope, regularizers and initializers, sequence_loss against NumPy, and the
clear errors for the parts of tf.contrib that were separate libraries."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.contrib import framework as cfw
from staticflow.contrib import layers as cl

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _names(coll=sf.GraphKeys.GLOBAL_VARIABLES):
    return [v.op.name for v in sf.get_collection(coll)]


def test_fully_connected_defaults_names_and_collections():
    x = sf.constant(RNG.standard_normal((4, 3)))
    y = cl.fully_connected(x, 5, variables_collections=["my_vars"], outputs_collections="outs")
    y2 = cl.fully_connected(x, 2, activation_fn=None, biases_initializer=None)
    with sf.variable_scope("fully_connected", reuse=True):
        pass
    y3 = cl.fully_connected(x, 5, scope="fully_connected", reuse=True)
    assert _names() == ["fully_connected/weights", "fully_connected/biases", "fully_connected_1/weights"]
    assert _names(sf.GraphKeys.MODEL_VARIABLES) == _names()
    assert _names("my_vars") == ["fully_connected/weights", "fully_connected/biases"]
    assert sf.get_collection("outs") == [y] and y.aliases == ["fully_connected"]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, y2v, y3v, w, b, w2 = sess.run(
            [
                y,
                y2,
                y3,
                "fully_connected/weights:0",
                "fully_connected/biases:0",
                "fully_connected_1/weights:0",
            ]
        )
        xv = sess.run(x)
    np.testing.assert_allclose(yv, np.maximum(xv @ w + b, 0), rtol=1e-12)  # relu by default
    np.testing.assert_allclose(y2v, xv @ w2, rtol=1e-12)
    np.testing.assert_array_equal(y3v, yv)
    limit = np.sqrt(6.0 / (3 + 5))  # xavier_initializer: uniform in +-sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit and np.all(b == 0)
    with pytest.raises(ValueError, match="num_outputs type should be"):
        cl.fully_connected(x, 2.0)


def test_conv2d_arg_scope_and_normalizer():
    x = sf.placeholder(sf.float32, [None, 6, 6, 2])
    with cfw.arg_scope([cl.conv2d], padding="VALID", activation_fn=None):
        with cfw.arg_scope([cl.conv2d], stride=2) as sc:
            a = cl.conv2d(x, 4, [3, 3])
        b = cl.conv2d(x, 4, 3, padding="SAME")  # explicit arguments win
    with cfw.arg_scope(sc):
        c = cl.conv2d(x, 3, 1, normalizer_fn=cl.batch_norm, normalizer_params={"is_training": False})
    assert a.shape.as_list() == [None, 2, 2, 4] and b.shape.as_list() == [None, 6, 6, 4]
    assert c.shape.as_list() == [None, 3, 3, 3]
    assert _names() == [
        "Conv/weights",
        "Conv/biases",
        "Conv_1/weights",
        "Conv_1/biases",
        "Conv_2/weights",
        "Conv_2/BatchNorm/beta",
        "Conv_2/BatchNorm/moving_mean",
        "Conv_2/BatchNorm/moving_variance",
    ]
    assert cfw.has_arg_scope(cl.conv2d) and "padding" in cfw.arg_scoped_arguments(cl.conv2d)
    with pytest.raises(ValueError, match="not decorated with @add_arg_scope"):
        with cfw.arg_scope([sf.nn.relu], x=1):
            pass

    @cfw.add_arg_scope
    def scaled(v, factor=1.0):
        return v * factor

    with cfw.arg_scope([scaled], factor=3.0):
        assert scaled(2.0) == 6.0 and scaled(2.0, factor=0.5) == 1.0
    assert scaled(2.0) == 2.0


def test_batch_norm_defaults_updates_and_in_place_updates():
    x = sf.placeholder(sf.float64, [None, 3])
    y = cl.batch_norm(x, decay=0.9)
    y2 = cl.batch_norm(x, decay=0.5, scale=True, updates_collections=None, scope="inplace")
    assert _names() == [
        "BatchNorm/beta",
        "BatchNorm/moving_mean",
        "BatchNorm/moving_variance",
        "inplace/gamma",
        "inplace/beta",
        "inplace/moving_mean",
        "inplace/moving_variance",
    ]
    updates = sf.get_collection(sf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    xv = RNG.standard_normal((10, 3)) * 2 + 1
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, _ = sess.run([y, updates], {x: xv})
        sess.run(y2, {x: xv})
        mm, mv, im = sess.run(
            ["BatchNorm/moving_mean:0", "BatchNorm/moving_variance:0", "inplace/moving_mean:0"]
        )
    np.testing.assert_allclose(yv, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3), rtol=1e-9)
    np.testing.assert_allclose(mm, 0.1 * xv.mean(0), rtol=1e-10)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * xv.var(0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(im, 0.5 * xv.mean(0), rtol=1e-10)  # ran with the output, no UPDATE_OPS
    with pytest.raises(ValueError, match="zero_debias_moving_mean is not supported"):
        cl.batch_norm(x, zero_debias_moving_mean=True)


def test_regularizers_and_apply_regularization():
    w = sf.constant(np.array([[1.0, -2.0], [3.0, 0.5]]))
    l1 = cl.l1_regularizer(0.1)(w)
    l2 = cl.l2_regularizer(0.2)(w)
    both = cl.l1_l2_regularizer(0.1, 0.2)(w)
    total = cl.apply_regularization(cl.l2_regularizer(0.5), [w, w * 2])
    assert cl.l2_regularizer(0.0)(w) is None and cl.sum_regularizer([None]) is None
    x = sf.constant(np.ones((2, 2)))
    cl.fully_connected(
        x, 3, weights_regularizer=cl.l2_regularizer(0.5), weights_initializer=sf.ones_initializer()
    )
    losses = sf.get_collection(sf.GraphKeys.REGULARIZATION_LOSSES)
    assert total in losses and len(losses) == 2
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        l1v, l2v, bv, tv, fcv = sess.run([l1, l2, both, total, losses[-1]])
    ssq = 1 + 4 + 9 + 0.25
    assert l1v == pytest.approx(0.1 * 6.5) and l2v == pytest.approx(0.2 * ssq / 2)
    assert bv == pytest.approx(0.1 * 6.5 + 0.2 * ssq / 2)
    assert tv == pytest.approx(0.5 * ssq / 2 + 0.5 * 4 * ssq / 2)
    assert fcv == pytest.approx(0.5 * 6 / 2)
    with pytest.raises(ValueError, match="scale cannot be an integer"):
        cl.l2_regularizer(1)
    with pytest.raises(ValueError, match="less than 0"):
        cl.l1_regularizer(-0.5)


def test_initializers_statistics():
    w = sf.get_variable("w", [200, 300], initializer=cl.variance_scaling_initializer(seed=1))
    u = sf.get_variable("u", [3, 3, 40, 60], initializer=cl.xavier_initializer_conv2d(seed=2))
    n = sf.get_variable("n", [400, 100], initializer=cl.xavier_initializer(uniform=False, seed=3))
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        wv, uv, nv = sess.run([w, u, n])
    sd = np.sqrt(1.3 * 2.0 / 200)  # truncated normal's parameter; values lie within 2 of them
    assert np.abs(wv).max() <= 2 * sd and 0.8 * sd < wv.std() < 0.95 * sd
    limit = np.sqrt(3.0 / ((9 * 40 + 9 * 60) / 2))
    assert np.abs(uv).max() <= limit and uv.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert nv.std() == pytest.approx(0.88 * np.sqrt(1.3 / 250), rel=0.05)
    with pytest.raises(TypeError, match="Unknown mode"):
        cl.variance_scaling_initializer(mode="FAN_MAX")


def test_dropout_flatten_pooling_stack_repeat_and_layer_norm():
    x = sf.placeholder(sf.float32, [None, 8, 8, 2])
    p = cl.max_pool2d(x, 2)
    a = cl.avg_pool2d(x, [3, 3], stride=1, padding="SAME")
    f = cl.flatten(p)
    d = cl.dropout(f, 0.5, is_training=False)
    s = cl.stack(f, cl.fully_connected, [6, 4], scope="fc")
    r = cl.repeat(x, 2, cl.conv2d, 2, [3, 3], scope="conv")
    ln = cl.layer_norm(f)
    assert p.shape.as_list() == [None, 4, 4, 2] and f.shape.as_list() == [None, 32]
    assert a.shape.as_list() == [None, 8, 8, 2] and s.shape.as_list() == [None, 4]
    assert [n for n in _names() if not n.startswith("LayerNorm")] == [
        "fc/fc_1/weights",
        "fc/fc_1/biases",
        "fc/fc_2/weights",
        "fc/fc_2/biases",
        "conv/conv_1/weights",
        "conv/conv_1/biases",
        "conv/conv_2/weights",
        "conv/conv_2/biases",
    ]
    assert _names()[-2:] == ["LayerNorm/beta", "LayerNorm/gamma"]
    xv = RNG.standard_normal((2, 8, 8, 2)).astype(np.float32)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        pv, dv, fv, lnv, rv = sess.run([p, d, f, ln, r], {x: xv})
    np.testing.assert_allclose(pv, xv.reshape(2, 4, 2, 4, 2, 2).max(axis=(2, 4)))
    np.testing.assert_array_equal(dv, fv)
    want = (fv - fv.mean(1, keepdims=True)) / np.sqrt(fv.var(1, keepdims=True) + 1e-12)
    np.testing.assert_allclose(lnv, want, rtol=1e-4, atol=1e-5)
    assert rv.shape == (2, 8, 8, 2)


@pytest.mark.parametrize(
    "kw,axes",
    [
        ({}, None),
        ({"average_across_timesteps": False}, 0),
        ({"average_across_batch": False}, 1),
        ({"average_across_timesteps": False, "average_across_batch": False}, "none"),
        ({"average_across_timesteps": False, "average_across_batch": False, "sum_over_timesteps": True,
          "sum_over_batch": True}, "count"),
        ({"average_across_timesteps": False, "average_across_batch": False,
          "sum_over_timesteps": True}, "count1"),
    ],
)  # fmt: skip
def test_sequence_loss_matches_numpy(kw, axes):
    from staticflow.contrib import seq2seq

    logits = RNG.standard_normal((3, 4, 5))
    targets = RNG.integers(0, 5, (3, 4))
    weights = RNG.integers(0, 2, (3, 4)).astype(np.float64)
    weights[0] = 0  # an example with no weight at all: 0 where the division has nothing
    out = seq2seq.sequence_loss(
        sf.constant(logits), sf.constant(targets.astype(np.int32)), sf.constant(weights), **kw
    )
    with sf.Session() as sess:
        got = sess.run(out)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, targets[..., None], -1)[..., 0] * weights
    with np.errstate(invalid="ignore", divide="ignore"):
        if axes is None:
            want = ce.sum() / weights.sum()
        elif axes == "none":
            want = ce
        elif axes == "count":
            want = ce.sum() / np.count_nonzero(weights)
        elif axes == "count1":
            want = np.nan_to_num(ce.sum(1) / np.count_nonzero(weights, 1))
        else:
            want = np.nan_to_num(ce.sum(axes) / weights.sum(axes))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_aliases_global_step_and_missing_parts():
    assert sf.contrib.rnn.BasicLSTMCell is sf.nn.rnn_cell.BasicLSTMCell
    assert sf.contrib.rnn.static_bidirectional_rnn is sf.nn.static_bidirectional_rnn
    assert sf.contrib.slim.conv2d is cl.conv2d and sf.contrib.slim.arg_scope is cfw.arg_scope
    step = sf.contrib.framework.get_or_create_global_step()
    assert step is sf.train.get_global_step() and step is cfw.get_or_create_global_step()
    with pytest.raises(
        sf.contrib.ContribNotProvidedError, match=r"sf.contrib.tensor_forest .*random forests"
    ):
        sf.contrib.tensor_forest  # noqa: B018
    with pytest.raises(AttributeError, match=r"contrib.tensorboard.plugins.projector"):
        sf.contrib.tensorboard.plugins.projector  # noqa: B018
    with pytest.raises(AttributeError, match=r"sf.contrib.learn is not provided"):
        sf.contrib.learn  # noqa: B018
    with pytest.raises(AttributeError, match=r"sf.contrib.rnn.LayerNormBasicLSTMCell is not provided"):
        sf.contrib.rnn.LayerNormBasicLSTMCell  # noqa: B018
    with pytest.raises(AttributeError, match=r"sf.contrib.slim.learning is not provided"):
        sf.contrib.slim.learning  # noqa: B018
    with pytest.raises(AttributeError, match=r"sf.contrib.seq2seq.BasicDecoder is not provided"):
        sf.contrib.seq2seq.BasicDecoder  # noqa: B018
    assert not hasattr(sf.contrib, "boosted_trees")
