"""ExponentialMovingAverage: shadow values against a NumPy recurrence over several steps,
TensorFlow's names for shadows and zero-debias variables, collections, and restoring the
averages through a Saver."""

from __future__ import annotations

import os

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


VALUES = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)


def _f32(x):
    return np.float32(x)


def test_shadows_follow_the_recurrence():
    start = np.array([1.0, -2.0, 0.5], np.float32)
    v = sf.Variable(start, name="v")
    x = sf.placeholder(sf.float32, [3])
    set_v = sf.assign(v, x)
    step = sf.Variable(0.0, name="step", trainable=False)
    t = sf.identity(v * 2.0, name="t")
    ema = sf.train.ExponentialMovingAverage(0.9)
    ema_n = sf.train.ExponentialMovingAverage(0.99, num_updates=step, name="ema_n")
    ema_t = sf.train.ExponentialMovingAverage(0.7, zero_debias=True, name="ema_t")
    updates = [ema.apply([v]), ema_n.apply([v]), ema_t.apply([t])]
    tick = sf.assign_add(step, 1.0)
    shadow = start.copy()
    shadow_n = start.copy()
    biased, steps = np.zeros(3, np.float32), 0
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        for i, value in enumerate(VALUES):
            sess.run(set_v, {x: value})
            sess.run(updates)
            # TF computes 1 - decay in float32 from the float32 decay tensor
            one_minus = _f32(1) - _f32(0.9)
            shadow = shadow - (shadow - value) * one_minus
            decay_n = min(_f32(0.99), _f32((1.0 + i) / (10.0 + i)))
            shadow_n = shadow_n - (shadow_n - value) * (_f32(1) - _f32(decay_n))
            biased = biased - (biased - 2 * value) * (_f32(1) - _f32(0.7))
            steps += 1
            unbiased = biased / (1 - _f32(0.7) ** steps)
            got = sess.run([ema.average(v), ema_n.average(v), ema_t.average(t)])
            np.testing.assert_allclose(got[0], shadow, rtol=1e-6)
            np.testing.assert_allclose(got[1], shadow_n, rtol=1e-6)
            np.testing.assert_allclose(got[2], unbiased, rtol=1e-5)
            sess.run(tick)
    # the first debiased average is the first value itself
    assert ema_t.average(t).dtype == sf.float32


def test_names_and_collections_match_tensorflow():
    """The names TensorFlow 2.21 (compat.v1) gives the same program."""
    with sf.variable_scope("outer"):
        w = sf.Variable(np.ones((2,), np.float32), name="w")
        ema = sf.train.ExponentialMovingAverage(0.9)
        t = sf.identity(w * 2.0, name="t")
        op = ema.apply([w, t])
    assert (ema.average(w).name, ema.average(t).name, op.name) == (
        "outer/outer/w/ExponentialMovingAverage:0",
        "outer/outer/t/ExponentialMovingAverage:0",
        "outer/ExponentialMovingAverage",
    )
    ema2 = sf.train.ExponentialMovingAverage(0.9, zero_debias=True)
    op2 = ema2.apply([w, t])
    assert (ema2.average(w).name, ema2.average(t).name, op2.name) == (
        "outer/w/ExponentialMovingAverage:0",
        "outer/t/ExponentialMovingAverage:0",
        "ExponentialMovingAverage",
    )
    assert [v.name for v in sf.global_variables()] == [
        "outer/w:0",
        "outer/outer/w/ExponentialMovingAverage:0",
        "outer/outer/t/ExponentialMovingAverage:0",
        "outer/w/ExponentialMovingAverage:0",
        "outer/t/ExponentialMovingAverage:0",
        "outer/t/ExponentialMovingAverage/biased:0",
        "outer/t/ExponentialMovingAverage/local_step:0",
    ]
    assert [v.name for v in sf.moving_average_variables()] == ["outer/w:0", "outer/w:0"]
    assert [v.name for v in sf.trainable_variables()] == ["outer/w:0"]
    assert (ema.average_name(w), ema.average_name(t), ema2.average_name(w)) == (
        "outer/outer/w/ExponentialMovingAverage",
        "outer/outer/t/ExponentialMovingAverage",
        "outer/w/ExponentialMovingAverage",
    )
    u = sf.Variable(3.0, name="u")
    assert ema.average_name(u) == "u/ExponentialMovingAverage" and ema.average(u) is None
    restore = {k: v.name for k, v in ema.variables_to_restore().items()}
    assert restore == {
        "outer/outer/t/ExponentialMovingAverage": "outer/outer/t/ExponentialMovingAverage:0",
        "outer/outer/w/ExponentialMovingAverage": "outer/w:0",
        "outer/t/ExponentialMovingAverage": "outer/t/ExponentialMovingAverage:0",
        "outer/t/ExponentialMovingAverage/biased": "outer/t/ExponentialMovingAverage/biased:0",
        "outer/t/ExponentialMovingAverage/local_step": "outer/t/ExponentialMovingAverage/local_step:0",
        "outer/w/ExponentialMovingAverage": "outer/w/ExponentialMovingAverage:0",
        "u/ExponentialMovingAverage": "u:0",
    }


def test_applying_twice_makes_one_shadow_and_a_second_ema_gets_a_new_name():
    w = sf.Variable(np.zeros(2, np.float32), name="w")
    ema = sf.train.ExponentialMovingAverage(0.5)
    ema.apply([w])
    first = ema.average(w)
    ema.apply([w])
    assert ema.average(w) is first
    other = sf.train.ExponentialMovingAverage(0.5)
    other.apply([w])
    assert other.average(w).op.name == "w/ExponentialMovingAverage_1"


def test_bad_inputs():
    with pytest.raises(TypeError, match="half, float, or double"):
        sf.train.ExponentialMovingAverage(0.9).apply([sf.Variable(np.zeros(2, np.int32), name="i")])
    with pytest.raises(ValueError, match="fully defined shape"):
        sf.train.ExponentialMovingAverage(0.9).apply([sf.placeholder(sf.float32, [None])])


def test_saver_restores_averages_into_the_model(tmp_path):
    w = sf.Variable(np.array([1.0, 2.0], np.float32), name="w")
    ema = sf.train.ExponentialMovingAverage(0.5)
    update = ema.apply([w])
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        sess.run(sf.assign(w, [3.0, 6.0]))
        sess.run(update)  # shadow: [2, 4]
        path = sf.train.Saver().save(sess, os.path.join(tmp_path, "ckpt"))
    names = dict(sf.train.list_variables(path))
    assert names == {"w": [2], "w/ExponentialMovingAverage": [2]}
    with sf.Session() as sess:
        sf.train.Saver(ema.variables_to_restore()).restore(sess, path)
        np.testing.assert_array_equal(sess.run(w), [2.0, 4.0])
