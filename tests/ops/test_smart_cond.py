"""smart_cond: a predicate known while building picks one branch; a fed one joins both with
the static shape they agree on, so that layers whose mode is a tensor keep their shapes."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops.smart_cond import cond, smart_cond, smart_constant_value

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _never():
    raise AssertionError("this branch must not be built")


@pytest.mark.parametrize("pred", [True, 1, np.bool_(True), "const"])
def test_a_known_predicate_builds_only_its_branch(pred):
    if pred == "const":
        pred = sf.logical_not(sf.constant(False))  # folds while building
    assert smart_constant_value(pred) is True
    assert smart_cond(pred, lambda: "picked", _never) == "picked"
    assert smart_cond(False, _never, lambda: "other") == "other"


def test_smart_constant_value_rejects_what_cannot_be_a_predicate():
    with pytest.raises(TypeError, match="`pred` must be a Tensor, or a Python bool"):
        smart_constant_value("yes")
    with pytest.raises(TypeError, match="`true_fn` must be callable"):
        smart_cond(True, 1, lambda: 2)
    assert smart_constant_value(sf.placeholder(sf.bool, [])) is None
    assert smart_constant_value(sf.placeholder_with_default(True, [])) is None  # may be fed


def test_a_fed_predicate_picks_at_run_time_with_the_agreed_shape():
    p = sf.placeholder(sf.bool)
    a = sf.placeholder(sf.float32, [None, 3])
    b = sf.placeholder(sf.float32, [2, None])
    out = smart_cond(p, lambda: a * 2.0, lambda: b - 1.0)
    assert out.shape.as_list() == [None, None]  # (?, 3) and (2, ?) agree on nothing but the rank
    same = smart_cond(p, lambda: a * 2.0, lambda: a + 1.0)
    assert same.shape.as_list() == [None, 3]
    av, bv = RNG.standard_normal((2, 3)).astype(np.float32), RNG.standard_normal((2, 3)).astype(np.float32)
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {p: True, a: av, b: bv}), av * 2)
        np.testing.assert_allclose(sess.run(out, {p: False, a: av, b: bv}), bv - 1)
        with pytest.raises(sf.errors.InvalidArgumentError):  # the predicate must be a scalar
            sess.run(out, {p: [True, False], a: av, b: bv})


def test_cond_joins_nested_outputs_and_checks_them():
    p = sf.placeholder(sf.bool, [])
    x = sf.constant([1.0, 2.0])
    out = cond(p, lambda: {"y": (x, x * 2), "z": None}, lambda: {"y": (x * 3, x), "z": None})
    assert out["z"] is None and isinstance(out["y"], tuple)
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(out["y"], {p: False}), [[3, 6], [1, 2]])
    with pytest.raises(TypeError, match="float32 and int32"):
        cond(p, lambda: x, lambda: sf.constant([1, 2]))
    with pytest.raises(ValueError, match="different structures"):
        cond(p, lambda: x, lambda: (x, x))
    with pytest.raises(ValueError, match="pred must be a scalar"):
        cond(sf.placeholder(sf.bool, [2]), lambda: x, lambda: x)
    with pytest.raises(TypeError, match="must be a bool tensor"):
        cond(sf.placeholder(sf.int32, []), lambda: x, lambda: x)


def test_gradients_flow_through_the_picked_branch_only():
    p = sf.placeholder(sf.bool, [])
    w = sf.Variable(np.array([1.0, 2.0]))
    y = sf.reduce_sum(smart_cond(p, lambda: w * 3.0, lambda: w * w))
    g = sf.gradients(y, w)[0]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(g, {p: True}), [3.0, 3.0])
        np.testing.assert_allclose(sess.run(g, {p: False}), [2.0, 4.0])


def test_layers_with_a_tensor_training_flag_keep_shapes_into_the_next_layer():
    """The next conv2d / dense needs the channel count and the last dimension."""
    is_training = sf.placeholder(sf.bool)  # unshaped, as TF1 scripts write it
    x = sf.placeholder(sf.float32, [None, 6, 6, 2])
    h = sf.layers.batch_normalization(x, training=is_training)
    assert h.shape.as_list() == [None, 6, 6, 2]
    h = sf.layers.conv2d(h, 3, 3, padding="same")
    h = sf.layers.dropout(h, rate=0.5, training=is_training)
    assert h.shape.as_list() == [None, 6, 6, 3]
    h = sf.layers.conv2d(h, 4, 3)
    flat = sf.layers.flatten(h)
    y = sf.layers.dense(sf.layers.dropout(flat, training=is_training), 5)
    assert y.shape.as_list() == [None, 5]
    xv = RNG.standard_normal((3, 6, 6, 2)).astype(np.float32)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        a = sess.run(y, {x: xv, is_training: False})
        b = sess.run(y, {x: xv, is_training: False})
        c = sess.run(y, {x: xv, is_training: True})
    np.testing.assert_array_equal(a, b)  # inference is deterministic
    assert a.shape == c.shape == (3, 5) and not np.allclose(a, c)


def test_layers_dropout_modes():
    x = np.ones((40, 10), np.float32)
    t = sf.placeholder(sf.bool, [])
    on = sf.layers.dropout(sf.constant(x), rate=0.25, training=t, seed=1)
    assert on.shape.as_list() == [40, 10]
    assert sf.layers.dropout(sf.constant(x), training=sf.constant(False)).op.type == "Identity"
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(on, {t: False}), x)
        v = sess.run(on, {t: True})
    assert set(np.unique(v)) <= {0.0, np.float32(1.0) / np.float32(0.75)} and 0.6 < (v > 0).mean() < 0.9
