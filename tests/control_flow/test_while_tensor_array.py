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
