"""Session.run: fetch structures, pruning, feeds, plan caching, variables, errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime import reference


@pytest.fixture
def g(sf_graph):
    return sf_graph


def _mlp(g):
    x = sf.placeholder(sf.float32, shape=[None, 3], name="x")
    w = sf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
    b = sf.constant([1.0, -2.0])
    with sf.name_scope("layer"):
        y = sf.nn.relu(sf.matmul(x, w) + b)
    return x, w, b, y


def test_issue_example_end_to_end(g):
    x, w, b, y = _mlp(g)
    init = sf.global_variables_initializer()
    xv = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    with sf.Session(graph=g) as sess:
        assert sess.run(init) is None
        out = sess.run(y, feed_dict={x: xv})
        np.testing.assert_allclose(
            out, np.maximum(xv @ (np.arange(6).reshape(3, 2) / 10) + [1, -2], 0), rtol=1e-6
        )
        both = sess.run({"y": y, "b": b}, feed_dict={"x:0": np.zeros((2, 3), np.float32)})
        np.testing.assert_array_equal(both["y"], [[1, 0], [1, 0]])
        np.testing.assert_array_equal(both["b"], [1, -2])


def test_fetch_structures(g):
    a = sf.constant(1.0)
    b = sf.constant([2, 3])
    Pair = collections.namedtuple("Pair", "first second")
    with sf.Session() as sess:
        out = sess.run([a, (b, {"k": a}), Pair(a, b.op), "Const:0"])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[2], Pair)
    assert out[0] == 1.0 and out[1][1]["k"] == 1.0 and out[2].second is None and out[3] == 1.0
    np.testing.assert_array_equal(out[1][0], [2, 3])


def test_only_needed_subgraph_runs(g):
    x = sf.placeholder(sf.float32, [2])
    never = sf.placeholder(sf.float32, [2], name="never_fed")
    y = x * 2
    _unused = never + 1  # would fail (unfed) if it ran
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2]}), [2, 4])
        p = sess.plan(y, {x: np.array([1, 2], np.float32)})
    assert [s.op.type for s in p.steps] == ["Mul"]


def test_feed_any_tensor_not_only_placeholders(g):
    a = sf.constant(3.0)
    b = a * 2
    c = b + 1
    with sf.Session() as sess:
        assert sess.run(c) == 7.0
        assert sess.run(c, {b: 10.0}) == 11.0
        assert sess.run(b, {b: 5.0}) == 5.0


def test_plan_cached_per_signature(g):
    x = sf.placeholder(sf.float32, [None])
    y = sf.exp(x) * 3
    with sf.Session() as sess:
        sess.run(y, {x: np.ones(3)})
        sess.run(y, {x: np.zeros(3)})
        assert sess.plans_built == 1
        sess.run(y, {x: np.ones(5)})  # a new shape is a new signature
        assert sess.plans_built == 2
        sess.run(y, {x: np.ones(3)})
        assert sess.plans_built == 2


def test_shape_from_fed_value_specializes_plan(g):
    n = sf.placeholder(sf.int32, [])
    z = sf.zeros(sf.stack([n, 2]))
    with sf.Session() as sess:
        assert sess.run(z, {n: 3}).shape == (3, 2)
        assert sess.run(z, {n: 5}).shape == (5, 2)


def test_dynamic_batch_uses_runtime_shapes(g):
    x = sf.placeholder(sf.float32, [None, 4])
    flat = sf.reshape(x, sf.stack([sf.shape(x)[0] * 2, 2]))
    with sf.Session() as sess:
        v = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_array_equal(sess.run(flat, {x: v}), v.reshape(6, 2))


def test_variables_assign_and_updates(g):
    v = sf.Variable([1.0, 2.0], name="v")
    inc = v.assign_add([1.0, 1.0])
    dec = v.assign_sub([0.5, 0.5])
    setv = v.assign([7.0, 8.0])
    with sf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v), [1, 2])
        np.testing.assert_array_equal(sess.run(inc), [2, 3])
        np.testing.assert_array_equal(sess.run(dec), [1.5, 2.5])
        np.testing.assert_array_equal(sess.run(setv), [7, 8])
        np.testing.assert_array_equal(sess.run(v.read_value()), [7, 8])
    # a new session has its own (uninitialized) variable values
    with sf.Session() as sess2:
        with pytest.raises(sf.errors.FailedPreconditionError, match="uninitialized value v"):
            sess2.run(v)


def test_variable_read_is_a_snapshot(g):
    v = sf.Variable(np.zeros(3, np.float32), name="v")
    before = v.read_value() * 1
    with sf.control_dependencies([before]):
        upd = v.assign_add(np.ones(3, np.float32))
    with sf.Session() as sess:
        sess.run(v.initializer)
        b, u = sess.run([before, upd])
    np.testing.assert_array_equal(b, [0, 0, 0])
    np.testing.assert_array_equal(u, [1, 1, 1])


def _copies_of(sess, fetches):
    """Names of the variable reads in the plan of `fetches` that still copy the variable."""
    plan = sess.plan(fetches)
    return [s.op.name for s in plan.steps if s.op.type == "Identity" and s.calls]


def test_variable_read_used_after_a_write_keeps_its_snapshot(g):
    """A read whose value is used (or fetched) after a write of the same run is a copy."""
    v = sf.Variable(np.zeros(3, np.float32), name="v")
    r = sf.identity(v, name="r")
    with sf.control_dependencies([r]):
        upd = v.assign_add(np.ones(3, np.float32))
    with sf.control_dependencies([upd]):
        later = r * 2  # runs after the write, reads the snapshot
    with sf.Session() as sess:
        sess.run(v.initializer)
        got_r, got_later, got_upd = sess.run([r, later, upd])
        assert _copies_of(sess, [r, later, upd]) == ["v/read"]  # the read r goes through
    np.testing.assert_array_equal(got_r, [0, 0, 0])
    np.testing.assert_array_equal(got_later, [0, 0, 0])
    np.testing.assert_array_equal(got_upd, [1, 1, 1])


def test_variable_read_with_no_write_in_between_is_read_in_place(g):
    v = sf.Variable(np.arange(3, dtype=np.float32), name="v")
    r = sf.identity(v, name="r")
    y = r * 2
    with sf.control_dependencies([y]):
        upd = v.assign(np.full(3, 9, np.float32))  # after every use of r
    with sf.Session() as sess:
        sess.run(v.initializer)
        got_y, _ = sess.run([y, upd])
        assert _copies_of(sess, [y, upd]) == []
        np.testing.assert_array_equal(sess.run(y), [18, 18, 18])
    np.testing.assert_array_equal(got_y, [0, 2, 4])


def test_eval_and_run_on_default_session(g):
    v = sf.Variable(2.0)
    y = v * 3
    with sf.Session():
        v.initializer.run()
        assert y.eval() == 6.0
        assert (y * 2).eval(feed_dict={y: 1.0}) == 2.0
    with pytest.raises(ValueError, match="No default session"):
        y.eval()


def test_interactive_session(g):
    sess = sf.InteractiveSession(graph=g)
    try:
        assert sf.get_default_session() is sess
        assert sf.constant(4.0).eval() == 4.0
    finally:
        sess.close()
    assert sf.get_default_session() is None


def test_python_walk_executor_matches_c_executor(g):
    x, w, b, y = _mlp(g)
    xv = np.random.default_rng(1).random((5, 3), dtype=np.float32)
    outs = []
    for mode in ("c", "python"):
        with sf.Session(graph=g, executor=mode) as sess:
            sess.run(w.initializer)
            outs.append(sess.run(y, {x: xv}))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_session_agrees_with_reference_evaluator(g):
    x = sf.placeholder(sf.float32, [None, 4])
    h = sf.nn.softmax(sf.matmul(x, sf.constant(np.eye(4, dtype=np.float32) * 2)) - 1)
    s = sf.reduce_sum(h[:, 1:] * sf.log(h[:, :-1]), axis=1)
    z = sf.concat([s, sf.reduce_max(x, axis=1)], 0)
    xv = np.random.default_rng(2).random((6, 4), dtype=np.float32)
    with sf.Session() as sess:
        got = sess.run(z, {x: xv})
    want = reference.evaluate(z, {x: xv})
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_arena_reuses_memory_along_a_chain(g):
    x = sf.placeholder(sf.float32, [1000])
    y = x
    for _ in range(50):
        y = sf.tanh(y) + 1.0
    # unfused, so that there are intermediates to pack (fused, the chain is one kernel)
    rw = sf.RewriterConfig(elementwise_fusion=sf.RewriterConfig.OFF)
    with sf.Session(config=sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))) as sess:
        p = sess.plan(y, {x: np.zeros(1000, np.float32)})
        out = sess.run(y, {x: np.zeros(1000, np.float32)})
    ref = np.zeros(1000, np.float32)
    for _ in range(50):
        ref = np.tanh(ref) + np.float32(1)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    # 101 intermediates of 4000 bytes, but only a few alive at once
    assert p.stats.intermediate_bytes >= 100 * 4000
    assert p.stats.arena_bytes <= 4 * 4032


# --- errors -------------------------------------------------------------------------------------
def test_missing_feed_names_the_placeholder(g):
    x = sf.placeholder(sf.float32, [None, 3], name="images")
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError) as e:
        sess.run(x * 2)
    assert "placeholder tensor 'images'" in str(e.value) and "test_session.py" in str(e.value)


def test_feed_of_wrong_shape(g):
    x = sf.placeholder(sf.float32, [None, 3], name="x")
    with (
        sf.Session() as sess,
        pytest.raises(
            ValueError,
            match=r"Cannot feed value of shape \(2, 4\) for "
            r"Tensor 'x:0', which has shape '\(\?, 3\)'",
        ),
    ):
        sess.run(x, {x: np.zeros((2, 4))})


def test_feed_of_wrong_dtype(g):
    i = sf.placeholder(sf.int32, [2], name="idx")
    with sf.Session() as sess:
        with pytest.raises(TypeError, match="dtype float64 for Tensor 'idx:0', which has dtype int32"):
            sess.run(i, {i: np.array([1.5, 2.0])})
        np.testing.assert_array_equal(sess.run(i, {i: [1, 2]}), [1, 2])


def test_feed_key_errors(g):
    x = sf.placeholder(sf.float32, [], name="x")
    with sf.Session() as sess:
        with pytest.raises(ValueError, match="refers to an Operation, not a Tensor"):
            sess.run(x, {"x": 1.0})
        with pytest.raises(TypeError, match="cannot be a sf.Tensor"):
            sess.run(x, {x: x})


def test_fetch_from_another_graph(g):
    other = sf.Graph()
    with other.as_default():
        t = sf.constant(1.0)
    with sf.Session(graph=g) as sess, pytest.raises(ValueError, match="not an element of this graph"):
        sess.run(t)


def test_fetch_of_unknown_name(g):
    with sf.Session() as sess, pytest.raises(ValueError, match="cannot be interpreted as a Tensor"):
        sess.run("nothing:0")


def test_uninitialized_variable_names_it(g):
    w = sf.Variable(np.ones(2, np.float32), name="weights")
    with sf.Session() as sess, pytest.raises(sf.errors.FailedPreconditionError) as e:
        sess.run(w * 2)
    assert "uninitialized value weights" in str(e.value)
    assert e.value.op.name == "weights"


def test_closed_session(g):
    sess = sf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(sf.constant(1.0))


def test_kernel_error_names_op_and_source_line(g):
    a = sf.placeholder(sf.int32, [3], name="a")
    q = sf.floordiv(a, sf.constant([1, 0, 2]), name="quot")
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError) as e:
        sess.run(q, {a: [1, 2, 3]})
    assert "division by zero" in str(e.value)
    assert "quot (FloorDiv)" in str(e.value) and "test_session.py" in str(e.value)
    assert e.value.op is q.op


def test_gather_out_of_range_is_an_error_not_a_crash(g):
    p = sf.constant(np.arange(4.0))
    i = sf.placeholder(sf.int32, [None])
    y = sf.gather(p, i)
    with sf.Session() as sess:
        with pytest.raises(sf.errors.InvalidArgumentError, match="not in \\[0, 4\\)"):
            sess.run(y, {i: [1, 7]})
        np.testing.assert_array_equal(sess.run(y, {i: [3, 0]}), [3, 0])


def test_runtime_shape_mismatch_names_op(g):
    a = sf.placeholder(sf.float32, [None, 3])
    b = sf.placeholder(sf.float32, [None, 3])
    c = sf.add(a, b, name="sum")
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError) as e:
        sess.run(c, {a: np.zeros((2, 3)), b: np.zeros((4, 3))})
    assert "AddV2 op 'sum'" in str(e.value) and "(2, 3)" in str(e.value)


def test_shape_argument_from_a_variable_is_explained(g):
    v = sf.Variable([2, 3], name="dims")
    z = sf.zeros(v)
    with sf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(sf.errors.InvalidArgumentError, match="needed before the run starts"):
            sess.run(z)
