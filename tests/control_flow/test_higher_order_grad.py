"""Gradients of gradients through cond and while_loop, against analytic second derivatives,
TensorFlow's values (compat.v1 with control flow v2) and central differences of the first
gradient."""

from __future__ import annotations

import numpy as np

import staticflow as sf


def _numerical_jacobian(sess, f, x, xv, feeds=None, eps=1e-6):
    """d f / d x by central differences: f a tensor, x fed with xv."""
    xv = np.asarray(xv, np.float64)
    cols = []
    for j in range(xv.size):
        d = np.zeros(xv.size)
        d[j] = eps
        d = d.reshape(xv.shape)
        hi = sess.run(f, {**(feeds or {}), x: xv + d})
        lo = sess.run(f, {**(feeds or {}), x: xv - d})
        cols.append((np.asarray(hi) - np.asarray(lo)).reshape(-1) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_second_and_third_derivatives_through_cond_match_analytic_and_tensorflows():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [])
        p = sf.placeholder(sf.bool, [])
        c = sf.cond(p, lambda: x**3, lambda: sf.sin(x))
        (g1,) = sf.gradients(c, x)
        (g2,) = sf.gradients(g1, x)
        (g3,) = sf.gradients(g2, x)
        with sf.Session() as sess:
            xv = 0.7
            got_t = sess.run([g1, g2, g3], {x: xv, p: True})
            got_f = sess.run([g1, g2, g3], {x: xv, p: False})
    np.testing.assert_allclose(got_t, [3 * xv**2, 6 * xv, 6.0], rtol=1e-12)
    np.testing.assert_allclose(got_f, [np.cos(xv), -np.sin(xv), -np.cos(xv)], rtol=1e-12)
    # TensorFlow 2.21 compat.v1, control flow v2: tf.gradients(tf.gradients(c, x), x) at 0.7
    np.testing.assert_allclose(got_t[1], 4.199999999999999, rtol=1e-12)
    np.testing.assert_allclose(got_f[1], -0.644217687237691, rtol=1e-12)


def test_hessian_and_mixed_partials_through_nested_conds_match_central_differences():
    rng = np.random.default_rng(3)
    wv = rng.standard_normal((3, 3))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [3])
        w = sf.placeholder(sf.float64, [3, 3])
        p = sf.placeholder(sf.bool, [])

        def inner():
            h = sf.matmul(w, x[:, None])[:, 0]
            return sf.cond(sf.reduce_sum(x) > 0, lambda: sf.tanh(h) * x, lambda: h * h)

        y = sf.reduce_sum(sf.cond(p, inner, lambda: sf.exp(x) * sf.reduce_sum(w)))
        (gx,) = sf.gradients(y, x)
        hess = [sf.gradients(gx[i], x)[0] for i in range(3)]
        mixed = sf.gradients(gx[0], w)[0]
        with sf.Session() as sess:
            for pv, xv in ((True, [0.3, -0.2, 0.5]), (True, [-0.3, -0.2, 0.1]), (False, [0.3, 0.1, -0.4])):
                feeds = {w: wv, p: pv}
                got = np.stack(sess.run(hess, {**feeds, x: xv}))
                want = _numerical_jacobian(sess, gx, x, xv, feeds)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
                got_m = sess.run(mixed, {**feeds, x: xv})
                want_m = _numerical_jacobian(sess, gx[0], w, wv, {p: pv, x: xv}).reshape(3, 3)
                np.testing.assert_allclose(got_m, want_m, rtol=1e-5, atol=1e-7)


def test_first_derivative_through_while_loop_matches_tensorflows():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [])
        _, w = sf.while_loop(lambda i, w: i < 3, lambda i, w: (i + 1, w * x + sf.sin(w)), [0, x])
        (d1,) = sf.gradients(w, x)
        with sf.Session() as sess:
            got = sess.run([w, d1], {x: 0.7})
    # TensorFlow 2.21 compat.v1, control flow v2
    np.testing.assert_allclose(got, [2.1817539206319014, 3.7357694010209093], rtol=1e-12)


def test_second_derivative_through_while_loop_matches_tensorflows():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [])
        _, w = sf.while_loop(lambda i, w: i < 3, lambda i, w: (i + 1, w * x + sf.sin(w)), [0, x])
        (d1,) = sf.gradients(w, x)
        (d2,) = sf.gradients(d1, x)
        with sf.Session() as sess:
            got = sess.run(d2, {x: 0.7})
            want = _numerical_jacobian(sess, d1, x, 0.7).reshape(())
    # TensorFlow 2.21 compat.v1, control flow v2: tf.gradients(tf.gradients(w, x), x)
    np.testing.assert_allclose(got, -4.55651082822378, rtol=1e-10)
    np.testing.assert_allclose(got, want, rtol=1e-6)
