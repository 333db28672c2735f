"""TensorArrays as while_loop variables (written per iteration, read from an unstacked
input), against NumPy loops."""

import numpy as np
import pytest

import staticflow as sf


def _run(fetch, feeds=None):
    with sf.Session() as sess:
        return sess.run(fetch, feeds)


def test_write_per_iteration_then_stack():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [3])
        ta = sf.TensorArray(sf.float32, size=5)

        def body(i, acc, ta):
            acc = acc * 2.0 + x
            return i + 1, acc, ta.write(i, acc)

        _, acc, ta = sf.while_loop(lambda i, a, t: i < 5, body, [0, sf.zeros([3]), ta])
        assert isinstance(ta, sf.TensorArray)
        stacked = ta.stack()
        xv = np.array([1.0, -2.0, 0.5], np.float32)
        got_s, got_a = _run([stacked, acc], {x: xv})
    a, rows = np.zeros(3, np.float32), []
    for _ in range(5):
        a = a * np.float32(2) + xv
        rows.append(a)
    np.testing.assert_allclose(got_s, np.stack(rows), rtol=1e-6)
    np.testing.assert_allclose(got_a, a, rtol=1e-6)


def test_read_unstacked_input_inside_body():
    # a partly unknown static shape: the read inside the body plans from the fed shape
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, None])
        n = sf.shape(x)[0]
        inp = sf.TensorArray(sf.float64, size=n).unstack(x)
        out = sf.TensorArray(sf.float64, size=n)

        def body(i, s, out):
            s = s + inp.read(i)
            return i + 1, s, out.write(i, s * s)

        s0 = sf.zeros(sf.shape(x)[1:], sf.float64)
        _, s, out = sf.while_loop(lambda i, s, o: i < n, body, (0, s0, out))
        ys = out.stack()
        xv = np.random.default_rng(0).standard_normal((4, 3))
        got_y, got_s = _run([ys, s], {x: xv})
    c = np.cumsum(xv, axis=0)
    np.testing.assert_allclose(got_y, c * c, rtol=1e-12)
    np.testing.assert_allclose(got_s, c[-1], rtol=1e-12)


def test_nested_structure_with_tensor_arrays():
    with sf.Graph().as_default():
        x = sf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
        state = {"i": sf.constant(0), "tas": (sf.TensorArray(sf.float32, 3), sf.TensorArray(sf.float32, 3))}

        def body(st):
            i, (a, b) = st["i"], st["tas"]
            row = sf.gather(x, i)
            return ({"i": i + 1, "tas": (a.write(i, row + 1.0), b.write(2 - i, row * 3.0))},)

        (st,) = sf.while_loop(lambda st: st["i"] < 3, body, [state])
        a, b = st["tas"]
        got_a, got_b = _run([a.stack(), b.stack()])
    xv = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(got_a, xv + 1)
    np.testing.assert_allclose(got_b, (xv * 3)[::-1])


def test_body_must_return_the_array():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=2)
        with pytest.raises(TypeError, match="loop variable 1 is TensorArray"):
            sf.while_loop(lambda i, t: i < 2, lambda i, t: (i + 1, t.flow), [0, ta])


def test_gradient_of_an_array_whose_batch_size_is_fed():
    # the array's element shape [?, 3] is known only through the writes while planning
    xv = np.random.default_rng(2).standard_normal((2, 3))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, 3])
        ta = sf.TensorArray(sf.float64, size=4, element_shape=[None, 3])

        def body(i, ta, h):
            h = sf.tanh(h * 0.5 + x)
            return i + 1, ta.write(i, h), h

        _, ta, _ = sf.while_loop(lambda i, ta, h: i < 4, body, [0, ta, x])
        w = np.arange(4.0)[:, None, None]
        (gx,) = sf.gradients(sf.reduce_sum(ta.stack() * w), [x])
        got = _run(gx, {x: xv})

    def f(x):
        h, total = x, 0.0
        for i in range(4):
            h = np.tanh(h * 0.5 + x)
            total += i * h.sum()
        return total

    want = np.zeros_like(xv)
    for idx in np.ndindex(xv.shape):
        e = np.zeros_like(xv)
        e[idx] = 1e-6
        want[idx] = (f(xv + e) - f(xv - e)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_gradient_of_a_dynamic_size_array_the_loop_grows():
    # each write grows the list; the gradient of a write shrinks the list's gradient back to
    # the length the list had before it, which the backward loop must know per iteration
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [2])
        n = sf.placeholder(sf.int32, [])
        ta = sf.TensorArray(sf.float64, size=0, dynamic_size=True, element_shape=[2])
        _, ta, _ = sf.while_loop(
            lambda i, ta, h: i < n, lambda i, ta, h: (i + 1, ta.write(i, h * x), h * x), [0, ta, x]
        )
        y = sf.reduce_sum(ta.read(0)) + 2.0 * sf.reduce_sum(ta.read(2))
        (gx,) = sf.gradients(y, [x])
        with sf.Session() as sess:
            got, size = sess.run([gx, ta.size()], {x: [1.5, -0.5], n: 3})
    assert size == 3
    # ta[0] = x^2, ta[2] = x^4
    np.testing.assert_allclose(got, 2 * np.array([1.5, -0.5]) + 8 * np.array([1.5, -0.5]) ** 3)


def test_gradient_of_a_loop_whose_array_is_not_used():
    # the array's gradient is an empty list of element shape [?, 3]: the gradient of the
    # body's write reads it with the shape of the item written (a Shape, known while planning)
    xv = np.random.default_rng(3).standard_normal((2, 3))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, 3])
        ta = sf.TensorArray(sf.float64, size=4, element_shape=[None, 3])
        _, _, h = sf.while_loop(
            lambda i, ta, h: i < 4, lambda i, ta, h: (i + 1, ta.write(i, h), sf.tanh(h) * 0.5 + x), [0, ta, x]
        )
        (gx,) = sf.gradients(sf.reduce_sum(h), [x])
        got = _run(gx, {x: xv})

    def f(x):
        h = x
        for _ in range(4):
            h = np.tanh(h) * 0.5 + x
        return h.sum()

    want = np.zeros_like(xv)
    for idx in np.ndindex(xv.shape):
        e = np.zeros_like(xv)
        e[idx] = 1e-6
        want[idx] = (f(xv + e) - f(xv - e)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
