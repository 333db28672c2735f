"""Gradients through while_loop (and so map_fn, foldl, foldr, scan) against central
differences of the same graph's loss, and against a NumPy loop's."""

import numpy as np
import pytest

import staticflow as sf

RNG = np.random.default_rng(11)


def _numeric(sess, loss, x, xv, feeds=None, eps=1e-6):
    out = np.zeros_like(xv)
    for idx in np.ndindex(xv.shape):
        e = np.zeros_like(xv)
        e[idx] = eps
        hi = sess.run(loss, {**(feeds or {}), x: xv + e})
        lo = sess.run(loss, {**(feeds or {}), x: xv - e})
        out[idx] = (hi - lo) / (2 * eps)
    return out


def test_loop_gradient_matches_numpy_loop():
    xv, wv = RNG.standard_normal(3), RNG.standard_normal(3)

    def f(xv, wv, k):
        y = xv.copy()
        for _ in range(k):
            y = np.tanh(y * wv) + xv
        return (y * y).sum()

    with sf.Graph().as_default():
        x, w = sf.placeholder(sf.float64, [3]), sf.placeholder(sf.float64, [3])
        n = sf.placeholder(sf.int32, [])
        _, y = sf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, sf.tanh(y * w) + x), [0, x])
        gx, gw = sf.gradients(sf.reduce_sum(y * y), [x, w])
        eps = 1e-6
        with sf.Session() as sess:
            for k in (0, 1, 4):
                a, b = sess.run([gx, gw], {x: xv, w: wv, n: k})
                nx = [(f(xv + eps * e, wv, k) - f(xv - eps * e, wv, k)) / (2 * eps) for e in np.eye(3)]
                nw = [(f(xv, wv + eps * e, k) - f(xv, wv - eps * e, k)) / (2 * eps) for e in np.eye(3)]
                np.testing.assert_allclose(a, nx, rtol=1e-6, atol=1e-8)
                np.testing.assert_allclose(b, nw, rtol=1e-6, atol=1e-8)


def test_gradient_with_maximum_iterations_and_two_float_variables():
    xv = RNG.standard_normal(2)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [2])
        _, a, b = sf.while_loop(
            lambda i, a, b: i < 10,
            lambda i, a, b: (i + 1, a * sf.cos(b), b + 0.5 * a),
            [0, x, x * 2.0],
            maximum_iterations=3,
        )
        loss = sf.reduce_sum(a * b)
        (g,) = sf.gradients(loss, x)
        with sf.Session() as sess:
            want = _numeric(sess, loss, x, xv)
            np.testing.assert_allclose(sess.run(g, {x: xv}), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("which", ["map_fn", "scan", "scan_reverse", "foldl", "foldr"])
def test_higher_order_functions_are_differentiable(which):
    xv = RNG.standard_normal((4, 2))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [4, 2])
        w = sf.constant([1.1, -0.4], sf.float64)
        y = {
            "map_fn": lambda: sf.map_fn(lambda r: sf.tanh(r * w), x),
            "scan": lambda: sf.scan(lambda a, r: a * r + 1.0, x),
            "scan_reverse": lambda: sf.scan(lambda a, r: sf.sin(a) + r, x, initializer=w, reverse=True),
            "foldl": lambda: sf.foldl(lambda a, r: sf.sin(a) * r, x, initializer=sf.ones([2], sf.float64)),
            "foldr": lambda: sf.foldr(lambda a, r: a * r + w, x),
        }[which]()
        loss = sf.reduce_sum(y * y)
        (g,) = sf.gradients(loss, x)
        with sf.Session() as sess:
            want = _numeric(sess, loss, x, xv)
            np.testing.assert_allclose(sess.run(g, {x: xv}), want, rtol=1e-6, atol=1e-8)


def test_body_reading_a_list_it_writes_fails_clearly():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [2])
        ta = sf.TensorArray(sf.float32, size=3).write(0, x)

        def body(i, ta):
            return i + 1, ta.write(i, ta.read(i - 1) * 2.0)

        _, ta = sf.while_loop(lambda i, t: i < 3, body, [1, ta])
        with pytest.raises(NotImplementedError, match="reads the TensorList loop variable"):
            sf.gradients(sf.reduce_sum(ta.stack()), x)


def test_gradient_of_nested_loops_and_a_cond_in_the_body():
    xv = np.array([0.3, -0.2])
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [2])

        def outer_body(i, a):
            _, b = sf.while_loop(lambda j, b: j < 2, lambda j, b: (j + 1, sf.sin(b) * x + a), [0, a])
            b = sf.cond(sf.equal(i % 2, 0), lambda: b * b, lambda: b - x)
            return i + 1, b

        _, y = sf.while_loop(lambda i, a: i < 3, outer_body, [0, x])
        loss = sf.reduce_sum(y * y)
        (g,) = sf.gradients(loss, x)
        with sf.Session() as sess:
            want = _numeric(sess, loss, x, xv)
            np.testing.assert_allclose(sess.run(g, {x: xv}), want, rtol=1e-6, atol=1e-8)
