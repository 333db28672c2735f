"""Session.make_callable (TF1's) and the cached-signature path of Session.run: values
against NumPy, fetch structures, every documented error, variables, plan eviction."""

from __future__ import annotations

import collections
import gc
import threading
import weakref

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture
def g(sf_graph):
    return sf_graph


def _graph():
    x = sf.placeholder(sf.float32, [None], name="x")
    y = x * 2.0 + 1.0
    c = sf.constant(3.0, name="c")
    return x, y, c


def test_single_tensor_is_its_value(g):
    x, y, _ = _graph()
    xv = np.arange(5, dtype=np.float32)
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        for k in range(3):  # the first call plans, the later ones reuse the plan
            np.testing.assert_array_equal(f(xv + k), (xv + k) * 2 + 1)
        assert sess.plans_built == 1


def test_structures_are_those_of_run(g):
    x, y, c = _graph()
    noop = sf.no_op()
    pair = collections.namedtuple("pair", "a b")
    xv = np.arange(3, dtype=np.float32)
    want = xv * 2 + 1
    with sf.Session() as sess:
        assert sess.make_callable(noop)() is None
        out = sess.make_callable([y], [x])(xv)
        assert isinstance(out, list) and len(out) == 1
        np.testing.assert_array_equal(out[0], want)
        out = sess.make_callable((y, c), [x])(xv)
        assert isinstance(out, tuple) and out[1] == 3.0 and np.ndim(out[1]) == 0
        out = sess.make_callable([noop, c, y], [x])(xv)
        assert out[0] is None and out[1] == 3.0
        np.testing.assert_array_equal(out[2], want)
        out = sess.make_callable({"a": y, "b": [c, (noop,)]}, [x])(xv)
        assert set(out) == {"a", "b"} and out["b"][0] == 3.0 and out["b"][1] == (None,)
        np.testing.assert_array_equal(out["a"], want)
        out = sess.make_callable(pair(y, c), [x])(xv)
        assert isinstance(out, pair) and out.b == 3.0
        np.testing.assert_array_equal(out.a, want)
        # each result is the caller's own array: a later call does not change it
        f = sess.make_callable(y, [x])
        first = f(xv)
        f(xv + 10)
        np.testing.assert_array_equal(first, want)


def test_feed_list_forms(g):
    x, y, c = _graph()
    xv = np.arange(4, dtype=np.float32)
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.make_callable(y, ("x:0",))(xv), xv * 2 + 1)
        assert sess.make_callable(c, [])() == 3.0
        assert sess.make_callable(c)() == 3.0
        # a fed constant and a fetched feed, as in run
        assert sess.make_callable(c, [c])(5.0) == 5.0
        np.testing.assert_array_equal(sess.make_callable(x, [x])(xv), xv)
        # a tensor listed twice takes its later value (as a feed_dict built from the list)
        np.testing.assert_array_equal(sess.make_callable(y, [x, x])(xv, xv + 1), (xv + 1) * 2 + 1)


def test_values_are_converted_as_run_converts_them(g):
    x, y, _ = _graph()
    n = sf.placeholder(sf.int32, [], name="n")
    s = sf.placeholder(sf.string, [None], name="s")
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        np.testing.assert_array_equal(f([1, 2]), [3.0, 5.0])  # a list
        np.testing.assert_array_equal(f(np.arange(3)), [1.0, 3.0, 5.0])  # int64 into float32
        np.testing.assert_array_equal(f(np.arange(6, dtype=np.float32)[::2]), [1.0, 5.0, 9.0])  # strided
        np.testing.assert_array_equal(f(np.float64([0.5])), [2.0])
        assert sess.make_callable(n * 3, [n])(7) == 21
        length = sess.make_callable(sf.strings.length(s), [s])
        for _ in range(2):  # string values are converted on every call
            np.testing.assert_array_equal(length(["ab", "cde"]), [2, 3])


def test_python_scalars_beside_arrays(g):
    x, y, _ = _graph()
    lr = sf.placeholder(sf.float32, [], name="lr")
    xv = np.arange(3, dtype=np.float32)
    with sf.Session() as sess:
        scaled = y * lr
        f = sess.make_callable(scaled, [x, lr])
        for k in range(3):  # the array reused as it is, the scalar converted each call
            np.testing.assert_allclose(f(xv, 0.5 * k), (xv * 2 + 1) * 0.5 * k)
            np.testing.assert_allclose(sess.run(scaled, {x: xv, lr: 2.0}), (xv * 2 + 1) * 2)
        with pytest.raises(sf.errors.InvalidArgumentError, match="lr:0.*holds 1e[+]39, outside the") as e:
            f(xv, 1e39)
        top = float(np.finfo(np.float32).max)
        assert f"range [{-top}, {top}]" in str(e.value)
        assert np.isinf(f(xv, np.inf)).all()  # infinities are no overflow


def test_shapes_change_between_calls(g):
    x, y, _ = _graph()
    rng = np.random.default_rng(0)
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        for size in [3, 5, 3, 1, 5, 0]:
            xv = rng.standard_normal(size).astype(np.float32)
            np.testing.assert_allclose(f(xv), xv * 2 + 1, rtol=1e-6)
            np.testing.assert_allclose(sess.run(y, {x: xv}), xv * 2 + 1, rtol=1e-6)
        assert sess.plans_built == 4  # one plan per shape, shared by run and the callable


def test_wrong_feeds_name_the_tensor(g):
    x, y, _ = _graph()
    m = sf.placeholder(sf.float32, [2, 2], name="m")
    i = sf.placeholder(sf.int8, [], name="i")
    with sf.Session() as sess:
        f = sess.make_callable(sf.reduce_sum(m) + y, [m, x])
        assert f(np.ones((2, 2), np.float32), np.zeros(1, np.float32)) == pytest.approx(5.0)
        with pytest.raises(ValueError, match=r"shape \(3,\) for Tensor 'm:0'"):
            f(np.ones(3, np.float32), np.zeros(1, np.float32))
        with pytest.raises(TypeError, match="dtype <U3 for Tensor 'x:0'"):
            f(np.ones((2, 2), np.float32), np.array(["abc"]))
        with pytest.raises(TypeError, match="feed cannot be a sf.Tensor"):
            f(np.ones((2, 2), np.float32), y)
        with pytest.raises(sf.errors.InvalidArgumentError, match="'i'"):
            sess.make_callable(i + 1, [i])(300)
        # after the errors, the cached plan still serves good values
        assert f(np.ones((2, 2), np.float32), np.zeros(1, np.float32)) == pytest.approx(5.0)


def test_wrong_number_of_values_is_a_type_error(g):
    x, y, c = _graph()
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        with pytest.raises(TypeError, match=r"takes 1 feed value\(s\).*x:0.*given 0"):
            f()
        with pytest.raises(TypeError, match="given 2"):
            f(np.ones(1, np.float32), np.ones(1, np.float32))
        with pytest.raises(TypeError, match="given 1"):
            sess.make_callable(c)(1.0)
        with pytest.raises(TypeError, match="options"):  # only with accept_options
            f(np.ones(1, np.float32), options=sf.RunOptions())


def test_bad_feed_list_items(g):
    x, y, _ = _graph()
    noop = sf.no_op()
    with sf.Graph().as_default():
        other = sf.placeholder(sf.float32, [2])
    with sf.Session() as sess:
        with pytest.raises(TypeError, match="`feed_list` must be a list or tuple"):
            sess.make_callable(y, x)
        for bad in (3, None, noop):
            with pytest.raises(TypeError, match="Cannot interpret feed_dict key"):
                sess.make_callable(y, [bad])
        with pytest.raises(ValueError, match="'x' refers to an Operation"):
            sess.make_callable(y, ["x"])
        with pytest.raises(ValueError, match="nope:0"):
            sess.make_callable(y, ["nope:0"])
        with pytest.raises(ValueError, match="not an element of this graph"):
            sess.make_callable(y, [other])


def test_bad_fetches(g):
    _graph()
    with sf.Graph().as_default():
        other = sf.placeholder(sf.float32, [2]) * 2.0
    with sf.Session() as sess:
        with pytest.raises(ValueError, match="cannot be interpreted as a Tensor"):
            sess.make_callable(other)
        with pytest.raises(ValueError, match="nope:0"):
            sess.make_callable("nope:0")
        with pytest.raises(TypeError, match="None"):
            sess.make_callable(None)
        with pytest.raises(TypeError, match="invalid type"):
            sess.make_callable(3)


def test_missing_feed_is_the_placeholders_error(g):
    x, y, _ = _graph()
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError, match="x"):
        sess.make_callable(y)()


def test_kernel_errors_are_those_of_run(g):
    p = sf.constant([1.0, 2.0, 3.0])
    i = sf.placeholder(sf.int32, [2])
    y = sf.gather(p, i)
    with sf.Session() as sess:
        f = sess.make_callable(y, [i])
        np.testing.assert_array_equal(f(np.array([0, 2], np.int32)), [1.0, 3.0])
        with pytest.raises(sf.errors.InvalidArgumentError, match=r"7 is not in \[0, 3\)") as e:
            f(np.array([0, 7], np.int32))
        assert e.value.op is y.op
        np.testing.assert_array_equal(f(np.array([1, 1], np.int32)), [2.0, 2.0])


def test_variables_through_the_callable(g):
    v = sf.Variable(1.0, name="v")
    step = sf.placeholder(sf.float32, [], name="step")
    inc = sf.assign_add(v, step)
    with sf.Session() as sess:
        read = sess.make_callable(v)
        with pytest.raises(sf.errors.FailedPreconditionError, match="uninitialized value v"):
            read()
        with pytest.raises(sf.errors.FailedPreconditionError, match="uninitialized value v"):
            read()  # the check stays until the variable is initialized
        sess.run(v.initializer)
        assert read() == 1.0
        add = sess.make_callable(inc, [step])
        assert add(2.0) == 3.0 and add(0.5) == 3.5
        assert read() == 3.5 and sess.run(v) == 3.5
        run_op = sess.make_callable(inc.op, [step])
        assert run_op(1.0) is None and read() == 4.5


def test_an_assign_marks_its_variable_initialized(g):
    v = sf.Variable(0.0, name="w")
    set_v = sf.assign(v, sf.placeholder_with_default(7.0, []))
    with sf.Session() as sess:
        sess.make_callable(set_v.op)()
        assert sess.make_callable(v)() == 7.0


def test_accept_options_traces_the_call(g):
    x, y, _ = _graph()
    xv = np.arange(3, dtype=np.float32)
    with sf.Session() as sess:
        f = sess.make_callable(y, [x], accept_options=True)
        np.testing.assert_array_equal(f(xv), xv * 2 + 1)
        md = sf.RunMetadata()
        out = f(xv, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
        np.testing.assert_array_equal(out, xv * 2 + 1)
        names = {n.node_name for d in md.step_stats.dev_stats for n in d.node_stats}
        assert y.op.name in names
        nested = sess.make_callable({"y": [y]}, [x], accept_options=True)
        assert nested(xv, options=sf.RunOptions(), run_metadata=sf.RunMetadata())["y"][0][1] == 3.0
        with pytest.raises(TypeError, match="RunOptions"):
            f(xv, options=3)


def test_closed_session(g):
    x, y, _ = _graph()
    sess = sf.Session()
    f = sess.make_callable(y, [x])
    f(np.ones(2, np.float32))
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        f(np.ones(2, np.float32))
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(y, {x: np.ones(2, np.float32)})


def test_ops_added_after_the_callable(g):
    x, y, _ = _graph()
    xv = np.arange(3, dtype=np.float32)
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        np.testing.assert_array_equal(f(xv), xv * 2 + 1)
        z = y * 10.0
        h = sess.make_callable([y, z], [x])
        np.testing.assert_array_equal(f(xv), xv * 2 + 1)
        np.testing.assert_array_equal(h(xv)[1], (xv * 2 + 1) * 10)


def test_concurrent_calls_get_their_own_values(g):
    x, y, _ = _graph()
    with sf.Session() as sess:
        f = sess.make_callable(y, [x])
        bad = []

        def worker(k):
            xv = np.full(16, k, np.float32)
            for _ in range(300):
                if not np.array_equal(f(xv), xv * 2 + 1):
                    bad.append(k)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not bad


def test_run_reuses_its_signature(g):
    x, y, c = _graph()
    noop = sf.no_op()
    xv = np.arange(3, dtype=np.float32)
    with sf.Session() as sess:
        for _ in range(3):
            out = sess.run([noop, y, c, y], {x: xv})
            assert out[0] is None and out[2] == 3.0
            np.testing.assert_array_equal(out[1], xv * 2 + 1)
            np.testing.assert_array_equal(out[3], xv * 2 + 1)
            assert out[1] is not out[3]
            assert sess.run((c,)) == (3.0,)
            np.testing.assert_array_equal(sess.run("add:0", {"x:0": xv}), xv * 2 + 1)
            assert sess.run([[c]]) == [[3.0]]  # nested: walked afresh each run
        assert sess.plans_built == 3  # (c,) and [[c]] share a plan


def test_evicted_plans_are_not_kept_by_signatures(g):
    x, y, _ = _graph()
    with sf.Session(config=sf.ConfigProto(plan_cache_size=1)) as sess:
        f = sess.make_callable(y, [x])
        f(np.ones(2, np.float32))
        first = weakref.ref(sess.plan(y, {x: np.ones(2, np.float32)}))
        for size in (3, 4):
            np.testing.assert_array_equal(f(np.ones(size, np.float32)), np.full(size, 3.0))
            np.testing.assert_array_equal(sess.run(y, {x: np.ones(size, np.float32)}), np.full(size, 3.0))
        gc.collect()
        assert first() is None and sess.plans_cached == 1 and sess.plans_evicted == 2


def test_a_plan_reused_by_its_runner_is_not_the_first_evicted(g):
    x, y, c = _graph()
    z = c * 2.0
    with sf.Session(config=sf.ConfigProto(plan_cache_size=2)) as sess:
        xv = np.ones(2, np.float32)
        sess.run(y, {x: xv})  # plan A
        sess.run(c)  # plan B: the cache holds A, B; A the least recently looked up
        sess.run(y, {x: xv})  # A again, through its runner (no cache lookup)
        sess.run(z)  # plan C: evicts B, which no run used since A's reuse
        built = sess.plans_built
        sess.run(y, {x: xv})
        assert sess.plans_built == built
        sess.run(c)
        assert sess.plans_built == built + 1
