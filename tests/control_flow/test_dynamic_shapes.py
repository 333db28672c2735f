"""Loop variables that change shape and conds whose branches give different shapes: the
run is planned up to them, they run, and the rest is planned for the shapes they gave (once
per shape). Values against NumPy loops, gradients against central differences of them."""

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime.plan import SplitPlan

GROW = [sf.TensorShape([]), sf.TensorShape([None, 2])]


def _grow_ref(x0: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """The growing loop in NumPy: n times, append tanh(last row * w)."""
    x = x0.copy()
    for _ in range(n):
        x = np.concatenate([x, np.tanh(x[-1:] * w)], 0)
    return x


def _numerical_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        a, b = x.copy(), x.copy()
        a[idx] += eps
        b[idx] -= eps
        g[idx] = (f(a) - f(b)) / (2 * eps)
    return g


def _growing_graph():
    n = sf.placeholder(sf.int32, [], name="n")
    x0 = sf.placeholder(sf.float64, [1, 2], name="x0")
    w = sf.Variable(np.array([[1.5, -0.5]]), name="w")
    _, x = sf.while_loop(
        lambda i, x: i < n,
        lambda i, x: (i + 1, sf.concat([x, sf.tanh(x[-1:] * w)], 0)),
        [sf.constant(0), x0],
        shape_invariants=GROW,
    )
    return n, x0, w, x


X0 = np.array([[0.3, -0.7]])
W0 = np.array([[1.5, -0.5]])
C = np.array([1.0, -2.0])  # weights of the loss, so that every element's gradient differs


def test_growing_loop_values_and_each_shape_planned_once():
    g = sf.Graph()
    with g.as_default():
        n, x0, w, x = _growing_graph()
        assert x.shape.as_list() == [None, 2]
        doubled = n * 2
        with sf.Session() as sess:
            sess.run(w.initializer)
            before = sess.plans_built
            counts = (0, 1, 3, 2)
            for k in counts:
                np.testing.assert_allclose(sess.run(x, {n: k, x0: X0}), _grow_ref(X0, W0, k), rtol=1e-12)
            # one plan for the part before the loop (the feeds' shapes never change), one per
            # shape of the loop's result for the rest
            assert sess.plans_built - before == 1 + len(counts)
            split = sess.plan(x, {n: 1, x0: X0})
            assert isinstance(split, SplitPlan)
            nested = split.functions.count()
            for k in counts:  # again: nothing planned, the same values
                np.testing.assert_allclose(sess.run(x, {n: k, x0: X0}), _grow_ref(X0, W0, k), rtol=1e-12)
            assert sess.plans_built - before == 1 + len(counts)
            assert split.functions.count() == nested
            # fetches from both parts, in a nested structure, in one run
            got = sess.run({"x": x, "d": [doubled, x0]}, {n: 3, x0: X0})
            np.testing.assert_allclose(got["x"], _grow_ref(X0, W0, 3), rtol=1e-12)
            assert got["d"][0] == 6
            np.testing.assert_array_equal(got["d"][1], X0)


def test_loop_that_keeps_its_shapes_stays_one_plan():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        _, x = sf.while_loop(
            lambda i, x: i < n, lambda i, x: (i + 1, x * 2.0), [0, sf.ones([1, 2])], shape_invariants=GROW
        )
        with sf.Session() as sess:
            assert not isinstance(sess.plan(x, {n: 3}), SplitPlan)
            np.testing.assert_array_equal(sess.run(x, {n: 3}), np.full((1, 2), 8.0, np.float32))


def test_growing_loop_gradient_wrt_initial_value_and_body_variable():
    g = sf.Graph()
    with g.as_default():
        n, x0, w, x = _growing_graph()
        loss = sf.reduce_sum(x * x * C)
        gx, gw = sf.gradients(loss, [x0, w])
        with sf.Session() as sess:
            sess.run(w.initializer)
            for k in (0, 1, 3):
                got_x, got_w = sess.run([gx, gw], {n: k, x0: X0})

                def f_x(v, k=k):
                    return float(np.sum(_grow_ref(v, W0, k) ** 2 * C))

                def f_w(v, k=k):
                    return float(np.sum(_grow_ref(X0, v, k) ** 2 * C))

                np.testing.assert_allclose(got_x, _numerical_grad(f_x, X0), rtol=1e-6, atol=1e-8)
                np.testing.assert_allclose(got_w, _numerical_grad(f_w, W0), rtol=1e-6, atol=1e-8)
            assert np.abs(got_w).sum() > 0  # (k=3: the body's variable matters)
            built = sess.plans_built
            sess.run([gx, gw], {n: 3, x0: X0})
            assert sess.plans_built == built


def test_shrinking_loop_value_and_gradient():
    g = sf.Graph()
    with g.as_default():
        k = sf.placeholder(sf.int32, [])
        x0 = sf.placeholder(sf.float64, [6, 3])
        x = sf.while_loop(
            lambda x: sf.shape(x)[0] > k,
            lambda x: x[1:] * 2.0 + sf.reduce_sum(x[:1]),
            [x0],
            shape_invariants=[sf.TensorShape([None, 3])],
        )
        loss = sf.reduce_sum(sf.sin(x))
        (gx,) = sf.gradients(loss, [x0])
        v = np.random.default_rng(0).standard_normal((6, 3)) * 0.3

        def ref(a, kk):
            while a.shape[0] > kk:
                a = a[1:] * 2.0 + a[:1].sum()
            return a

        with sf.Session() as sess:
            for kk in (6, 4, 1):
                got, got_g = sess.run([x, gx], {k: kk, x0: v})
                np.testing.assert_allclose(got, ref(v, kk), rtol=1e-12)
                num = _numerical_grad(lambda a, kk=kk: float(np.sin(ref(a, kk)).sum()), v)
                np.testing.assert_allclose(got_g, num, rtol=1e-6, atol=1e-8)


def test_unknown_dim_into_matmul_and_reduce_and_a_train_step():
    g = sf.Graph()
    with g.as_default():
        n, x0, w, x = _growing_graph()
        m0 = np.array([[0.2, -0.1, 0.4], [0.3, 0.5, -0.6]])
        m = sf.Variable(m0, name="m")
        y = sf.matmul(x, m)
        mean = sf.reduce_mean(y, 0)
        loss = sf.reduce_sum(y * y)
        lr = 0.1
        train = sf.train.GradientDescentOptimizer(lr).minimize(loss)

        def loss_ref(wv, mv, k):
            return float(np.sum((_grow_ref(X0, wv, k) @ mv) ** 2))

        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            got_y, got_mean = sess.run([y, mean], {n: 2, x0: X0})
            want = _grow_ref(X0, W0, 2) @ m0
            np.testing.assert_allclose(got_y, want, rtol=1e-12)
            np.testing.assert_allclose(got_mean, want.mean(0), rtol=1e-12)
            wv, mv = W0.copy(), m0.copy()
            for k in (2, 3, 2):
                gw = _numerical_grad(lambda a, k=k, mv=mv: loss_ref(a, mv, k), wv)
                gm = _numerical_grad(lambda a, k=k, wv=wv: loss_ref(wv, a, k), mv)
                before = loss_ref(wv, mv, k)
                got_loss, _ = sess.run([loss, train], {n: k, x0: X0})
                np.testing.assert_allclose(got_loss, before, rtol=1e-7)
                wv, mv = wv - lr * gw, mv - lr * gm
                np.testing.assert_allclose(sess.run(w), wv, rtol=1e-6, atol=1e-9)
                np.testing.assert_allclose(sess.run(m), mv, rtol=1e-6, atol=1e-9)


def test_cond_with_branches_of_different_shapes():
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.bool, [])
        a = sf.placeholder(sf.float64, [3])
        y = sf.cond(p, lambda: sf.sin(a) * 2.0, lambda: sf.concat([a, a[:2] * a[1:]], 0) ** 2)
        assert y.shape.as_list() == [None]  # TF1: (?,)
        weights = sf.cast(sf.range(sf.size(y)), sf.float64) + 1.0
        loss = sf.reduce_sum(y * y * weights)
        (ga,) = sf.gradients(loss, [a])
        av = np.array([0.5, -1.2, 2.0])

        def ref(v, pv):
            r = np.sin(v) * 2.0 if pv else np.concatenate([v, v[:2] * v[1:]]) ** 2
            return r, float(np.sum(r * r * (np.arange(r.size) + 1.0)))

        with sf.Session() as sess:
            for pv in (True, False, True):
                got, got_g = sess.run([y, ga], {p: pv, a: av})
                np.testing.assert_allclose(got, ref(av, pv)[0], rtol=1e-12)
                num = _numerical_grad(lambda v, pv=pv: ref(v, pv)[1], av)
                np.testing.assert_allclose(got_g, num, rtol=1e-6, atol=1e-8)


def test_stateful_ops_before_the_loop_run_once_per_run():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        v = sf.Variable(0.0, dtype=sf.float64)
        inc = sf.assign_add(v, 1.0)
        r = sf.random_uniform([1, 2], dtype=sf.float64)
        start = r + inc
        _, x = sf.while_loop(
            lambda i, x: i < n,
            lambda i, x: (i + 1, sf.concat([x, x[-1:] + 1.0], 0)),
            [0, start],
            shape_invariants=[sf.TensorShape([]), sf.TensorShape([None, 2])],
        )
        total = sf.reduce_sum(x)
        with sf.Session() as sess:
            sess.run(v.initializer)
            for run, k in enumerate((2, 3, 2), start=1):
                rv, xv, tv = sess.run([r, x, total], {n: k})
                assert sess.run(v) == run  # the increment ran once per run
                # the loop and what follows saw the one random draw fetched beside them
                want = np.concatenate([rv + run + j for j in range(k + 1)], 0)
                np.testing.assert_allclose(xv, want, rtol=1e-12)
                np.testing.assert_allclose(tv, want.sum(), rtol=1e-12)


def test_continuation_target_runs_an_assignment_of_a_loop_result():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        acc = sf.Variable(0.0, dtype=sf.float64)
        _, x = sf.while_loop(
            lambda i, x: i < n,
            lambda i, x: (i + 1, sf.concat([x, x * 0.0 + sf.cast(i, sf.float64)], 0)),
            [0, sf.ones([1], sf.float64)],
            shape_invariants=[sf.TensorShape([]), sf.TensorShape([None])],
        )
        step = sf.assign_add(acc, sf.reduce_sum(x))
        with sf.Session() as sess:
            sess.run(acc.initializer)
            total = 0.0
            for k in (3, 1, 3):
                sess.run(step.op, {n: k})
                total += 1.0 + sum(j * 2**j for j in range(k))  # x doubles, the new half is i
                assert sess.run(acc) == pytest.approx(total)


def test_rank_change_against_an_invariant_fails_clearly():
    g = sf.Graph()
    with g.as_default():
        x = sf.zeros([1, 2])
        # (the graph knows the reshape gives (2,); TF1's has (?,))
        with pytest.raises(ValueError, match=r"enters the loop with shape \(1, 2\), but has shape \((\?|2),"):
            sf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, sf.reshape(x, [-1])), [0, x])
        with pytest.raises(ValueError, match=r"enters the loop with shape \(\?, 2\), but has shape \(\?,\)"):
            sf.while_loop(
                lambda i, x: i < 3, lambda i, x: (i + 1, sf.reshape(x, [-1])), [0, x], shape_invariants=GROW
            )
        # a body whose result's rank the graph does not know: found when the loop is planned
        _, y = sf.while_loop(
            lambda i, x: i < 3, lambda i, x: (i + 1, sf.squeeze(x)), [0, x], shape_invariants=GROW
        )
        assert y.shape.as_list() == [None, 2]
        with sf.Session() as sess:
            with pytest.raises(
                sf.errors.InvalidArgumentError,
                match=r"enters the loop with shape \(1, 2\), but has shape \(2,\) after one iteration.*"
                r"invariant \(\?, 2\)",
            ):
                sess.run(y)


def test_incompatible_shape_invariants_fail_clearly():
    g = sf.Graph()
    with g.as_default():
        x = sf.zeros([1, 2], name="x")
        with pytest.raises(
            ValueError,
            match=r"shape invariant specified for x:0 is not compatible with the initial shape.*"
            r"enters the loop with shape \(1, 2\), but the specified shape invariant is \(\?, 3\)",
        ):
            sf.while_loop(
                lambda i, x: i < 3, lambda i, x: (i + 1, x), [0, x],
                shape_invariants=[sf.TensorShape([]), sf.TensorShape([None, 3])],
            )


def test_changing_shapes_inside_a_function_fail_clearly():
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.bool, [])
        n = sf.placeholder(sf.int32, [])

        def inner():
            _, x = sf.while_loop(
                lambda i, x: i < n,
                lambda i, x: (i + 1, sf.concat([x, x], 0)),
                [0, sf.ones([1])],
                shape_invariants=[sf.TensorShape([]), sf.TensorShape([None])],
            )
            return sf.reduce_sum(x)

        y = sf.cond(p, inner, lambda: sf.constant(0.0))
        with sf.Session() as sess:
            with pytest.raises(sf.errors.UnimplementedError, match="only known while it runs"):
                sess.run(y, {p: True, n: 2})


def test_two_growing_loops_the_raw_loop_output_and_make_callable():
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        inv = [sf.TensorShape([]), sf.TensorShape([None])]
        _, a = sf.while_loop(
            lambda i, x: i < n, lambda i, x: (i + 1, sf.concat([x, x[:1] + 1.0], 0)), [0, sf.ones([1])],
            shape_invariants=inv,
        )
        _, b = sf.while_loop(
            lambda i, x: i < n + 1, lambda i, x: (i + 1, sf.concat([x, x[-1:] * 2.0], 0)), [0, sf.ones([1])],
            shape_invariants=inv,
        )
        raw = a.op.inputs[0]  # the While op's own output, not the Identity after it
        assert raw.op.type in ("While", "StatelessWhile")
        total = sf.reduce_sum(a) + sf.reduce_sum(b)

        def ref(k):
            ra = np.array([1.0] + [2.0] * k, np.float32)
            rb = 2.0 ** np.arange(k + 2, dtype=np.float32)
            return ra, rb

        with sf.Session() as sess:
            for k in (0, 2, 3):
                ra, rb = ref(k)
                got_raw, got_total, got_b = sess.run([raw, total, b], {n: k})
                np.testing.assert_array_equal(got_raw, ra)
                np.testing.assert_array_equal(got_b, rb)
                assert got_total == pytest.approx(ra.sum() + rb.sum())
            f = sess.make_callable([total, raw], [n])
            for k in (3, 1, 3):
                ra, rb = ref(k)
                got_total, got_raw = f(k)
                np.testing.assert_array_equal(got_raw, ra)
                assert got_total == pytest.approx(ra.sum() + rb.sum())
