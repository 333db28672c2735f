"""while_loop: one While op whose cond and body are functions, run as nested plans."""

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import graph_pb2


def _whiles(g):
    return [op for op in g.get_operations() if op.type in ("While", "StatelessWhile")]


def test_fed_iteration_count_matches_a_numpy_loop():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [], name="n")
        w = sf.constant(np.array([[0.5, -0.2], [0.1, 0.9]], np.float32))
        x0 = sf.constant(np.array([[1.0, 2.0]], np.float32))
        i, x, acc = sf.while_loop(
            lambda i, x, acc: i < n,
            lambda i, x, acc: (i + 1, sf.tanh(sf.matmul(x, w)), acc + sf.reduce_sum(x)),
            [0, x0, 0.0],
        )
        (op,) = _whiles(g)
        assert op.type == "StatelessWhile"
        # TF's form: counter, maximum_iterations, the loop variables, then the captures (n, w)
        assert len(op.inputs) == 2 + 3 + 2
        with sf.Session() as sess:
            for k in (0, 1, 7):
                xv, accv = np.array([[1.0, 2.0]], np.float32), np.float32(0.0)
                wv = np.array([[0.5, -0.2], [0.1, 0.9]], np.float32)
                for _ in range(k):
                    xv, accv = np.tanh(xv @ wv), accv + xv.sum()
                got_i, got_x, got_acc = sess.run([i, x, acc], {n: k})
                assert got_i == k
                np.testing.assert_allclose(got_x, xv, rtol=1e-5)
                np.testing.assert_allclose(got_acc, accv, rtol=1e-5)


def test_maximum_iterations_stops_the_loop():
    g = sf.Graph()
    with g.as_default():
        m = sf.placeholder(sf.int32, [])
        x = sf.while_loop(lambda x: x < 1000.0, lambda x: x * 3.0, [sf.constant(1.0)], maximum_iterations=m)
        with sf.Session() as sess:
            assert sess.run(x, {m: 2}) == 9.0
            assert sess.run(x, {m: 100}) == 2187.0  # the cond stops it first: 3**7
            assert sess.run(x, {m: 0}) == 1.0


def test_nested_loops_match_numpy():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])

        def outer_body(i, total):
            _, inner = sf.while_loop(
                lambda j, s: j < i, lambda j, s: (j + 1, s + sf.cast(j, sf.float32)), [0, 0.0]
            )
            return i + 1, total + inner

        _, total = sf.while_loop(lambda i, t: i < n, outer_body, [0, 0.0])
        with sf.Session() as sess:
            for k in (0, 1, 4, 6):
                want = sum(sum(range(i)) for i in range(k))
                assert sess.run(total, {n: k}) == want


def test_nested_structures_of_loop_vars():
    g = sf.Graph()
    with g.as_default():
        state = {"a": sf.constant([1.0, 2.0]), "b": (sf.constant(1), sf.constant([[3.0]]))}

        def body(i, s):
            return i + 1, {"a": s["a"] * 2.0, "b": (s["b"][0] + i, s["b"][1] - 1.0)}

        i, s = sf.while_loop(lambda i, s: i < 3, body, [0, state])
        with sf.Session() as sess:
            got = sess.run({"i": i, "a": s["a"], "b0": s["b"][0], "b1": s["b"][1]})
        assert got["i"] == 3 and got["b0"] == 1 + 0 + 1 + 2
        np.testing.assert_allclose(got["a"], [8.0, 16.0])
        np.testing.assert_allclose(got["b1"], [[0.0]])


def test_cond_inside_a_loop_body():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        _, x = sf.while_loop(
            lambda i, x: i < n,
            lambda i, x: (i + 1, sf.cond(sf.equal(i % 2, 0), lambda: x + 1.0, lambda: x * 2.0)),
            [0, sf.constant(0.0)],
        )
        with sf.Session() as sess:
            xv = 0.0
            for k in range(5):
                xv = xv + 1.0 if k % 2 == 0 else xv * 2.0
            assert sess.run(x, {n: 5}) == xv


def test_loop_writes_a_variable_each_iteration():
    g = sf.Graph()
    with g.as_default():
        v = sf.Variable(0.0, name="v")

        def body(i):
            with sf.control_dependencies([sf.assign_add(v, 2.0)]):
                return i + 1

        i = sf.while_loop(lambda i: i < 4, body, [0])
        assert _whiles(g)[0].type == "While"
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            assert sess.run(i) == 4
            assert sess.run(v) == 8.0


def test_errors():
    g = sf.Graph()
    with g.as_default():
        x = sf.constant([1.0, 2.0])
        with pytest.raises(TypeError, match="cond must return a bool"):
            sf.while_loop(lambda x: 1.0 + x[0], lambda x: x, [x])
        with pytest.raises(TypeError, match="body returns int32 for loop variable 0 of dtype float32"):
            sf.while_loop(lambda x: x[0] < 3.0, lambda x: sf.constant([1, 2]), [x])
        with pytest.raises(ValueError, match="shape_invariants"):
            sf.while_loop(lambda x: x[0] < 3.0, lambda x: sf.concat([x, x], 0), [x])
        with pytest.raises(ValueError, match="body returns 1 values for 2 loop variables"):
            sf.while_loop(lambda a, b: a < 3, lambda a, b: [a + 1], [0, 1])
        # a loop variable whose shape changes as its invariant allows: planned once it has run
        y = sf.while_loop(
            lambda y: sf.size(y) < 8,
            lambda y: sf.concat([y, y], 0),
            [x],
            shape_invariants=[sf.TensorShape([None])],
        )
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(y), np.tile([1.0, 2.0], 4))


def test_save_and_import_round_trip():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [], name="n")
        _, x = sf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, x * 1.5), [0, sf.constant([2.0])])
        sf.identity(x, name="x")
    gd = g.as_graph_def()
    gd2 = graph_pb2.GraphDef.FromString(gd.SerializeToString())
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(gd2, name="")
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run("x:0", {"n:0": 3}), [2.0 * 1.5**3])


def test_tensorflow_written_while_loop_imports_and_matches():
    import pathlib

    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "control_flow"
    gd = graph_pb2.GraphDef.FromString((fixtures / "while_v2.pb").read_bytes())
    want = np.load(fixtures / "while_v2.npz")
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
        assert [op.type for op in _whiles(g)] == ["StatelessWhile"]
        with sf.Session() as sess:
            for k in (0, 3, 10):  # 10: maximum_iterations (6) stops it
                np.testing.assert_allclose(sess.run("x:0", {"n:0": k}), want[f"x_{k}"], rtol=1e-6)


def test_body_that_swaps_loop_variables():
    # results that are arguments of the body, crossed: each must be read before any is written
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        _, a, b, go = sf.while_loop(
            lambda i, a, b, go: go,
            lambda i, a, b, go: (i + 1, b, a, i + 1 < n),
            [0, [1.0, 2.0], [3.0, 4.0], True],
        )
        with sf.Session() as sess:
            for k, (wa, wb) in {1: ([3.0, 4.0], [1.0, 2.0]), 2: ([1.0, 2.0], [3.0, 4.0])}.items():
                got_a, got_b = sess.run([a, b], {n: k})
                np.testing.assert_allclose(got_a, wa)
                np.testing.assert_allclose(got_b, wb)


def test_gradients_through_a_loop():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2])
        _, y = sf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2.0), [0, x])
        (gy,) = sf.gradients(y, x)
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(gy, {x: [1.0, 2.0]}), [8.0, 8.0])
        # a loop that no differentiated value passes through is no obstacle
        n, _ = sf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a), [0, sf.constant(1.0)])
        (gx,) = sf.gradients(x * sf.cast(n, sf.float32), x)
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(gx, {x: [1.0, 2.0]}), [3.0, 3.0])


def test_captured_tensors_are_read_anew_by_every_run_of_the_loop():
    """A loop copies what its body passes through (captured tensors) into the body's plan
    once per run of the loop, not per iteration: a new fed value reaches every run."""
    with sf.Graph().as_default():
        w = sf.placeholder(sf.float64, [3])
        n = sf.placeholder(sf.int32, [])
        y0 = sf.ones([3], sf.float64)
        _, y = sf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * w + 1.0), [0, y0])
        with sf.Session() as sess:
            runs = ((np.array([0.5, 2.0, -1.0]), 3), (np.array([1.5, -0.5, 0.25]), 4), (np.zeros(3), 2))
            for wv, k in runs:
                want = np.ones(3)
                for _ in range(k):
                    want = want * wv + 1.0
                np.testing.assert_allclose(sess.run(y, {w: wv, n: k}), want, rtol=1e-12)


def test_variables_made_in_a_body_live_in_the_outer_graph():
    # get_variable inside a body (a layer built on its first call there) makes the variable and
    # its initializer outside the loop, under the variable scopes entered outside, as TF lifts
    # them; the body reads it as a captured value and gradients reach it
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2])

        def body(i, h):
            w = sf.get_variable("w", [2], initializer=sf.constant_initializer([2.0, 3.0]))
            return i + 1, h * w

        with sf.variable_scope("outer"):
            _, y = sf.while_loop(lambda i, h: i < 2, body, [0, x])
        (v,) = sf.global_variables()
        assert v.name == "outer/w:0" and v.graph is g
        assert sf.trainable_variables() == [v]
        (gw,) = sf.gradients(sf.reduce_sum(y), v)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            got_y, got_gw = sess.run([y, gw], {x: [1.0, 1.0]})
    np.testing.assert_allclose(got_y, [4.0, 9.0])
    np.testing.assert_allclose(got_gw, [4.0, 6.0])
