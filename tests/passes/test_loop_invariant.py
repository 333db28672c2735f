"""Loop-invariant code motion (passes/loop_invariant.py, RewriterConfig.loop_optimization):
what a while body computes from captured tensors and constants alone runs once, before the
loop; the values stay NumPy's and the switched-off pipeline's."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow import passes
from staticflow.runtime.plan import FunctionPlans

OFF = sf.RewriterConfig.OFF


def _config(on: bool):
    cfg = sf.ConfigProto()
    if not on:
        cfg.graph_options.rewrite_options.loop_optimization = OFF
    return cfg


def _loop_step(plan):
    (st,) = [s for s in plan.steps if s.node.type in ("While", "StatelessWhile")]
    return st


def _body_plan(plan):
    """The loop's body function as the plan calls it, and that function's own plan."""
    st = _loop_step(plan)
    body = st.node.attrs["body"]
    runner = FunctionPlans({}, options=passes.Options())(body, [v.shape for v in st.node.inputs])
    return body, runner.plan


def _rnn(n_steps=5):
    rng = np.random.default_rng(0)
    wv = (rng.standard_normal((4, 4)) * 0.3).astype(np.float32)
    xv = rng.standard_normal((2, 4)).astype(np.float32)
    want = np.zeros((2, 4), np.float32)
    for _ in range(n_steps):
        want = np.tanh(want @ wv.T + xv @ wv)
    return wv, xv, want


def _build_rnn():
    x = sf.placeholder(sf.float32, [2, 4], name="x")
    w = sf.placeholder(sf.float32, [4, 4], name="w")
    n = sf.placeholder(sf.int32, [], name="n")

    def body(i, h):  # W^T and x @ W are the same at every iteration
        return i + 1, sf.tanh(sf.matmul(h, sf.transpose(w)) + sf.matmul(x, w))

    _, h = sf.while_loop(lambda i, h: i < n, body, [0, sf.zeros([2, 4])])
    return x, w, n, h


def test_invariant_values_are_computed_before_the_loop_with_the_same_values():
    wv, xv, want = _rnn()
    g = sf.Graph()
    with g.as_default():
        x, w, n, h = _build_rnn()
        (loop,) = [op for op in g.get_operations() if op.type.endswith("While")]
        user_body = loop.get_attr("body")
        user_ops = [op.name for op in user_body.get_operations()]
        graph_ops = [op.name for op in g.get_operations()]
        feeds = {x: xv, w: wv, n: np.int32(5)}
        got, plans = {}, {}
        for on in (True, False):
            with sf.Session(config=_config(on)) as sess:
                got[on] = sess.run(h, feeds)
                plans[on] = sess.plan(h, feeds)
    np.testing.assert_allclose(got[True], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[True], got[False], rtol=1e-6, atol=1e-7)

    body_on, plan_on = _body_plan(plans[True])
    body_off, plan_off = _body_plan(plans[False])
    assert body_off is user_body  # switched off, the loop calls the user's body
    assert body_on is not user_body
    types_on = [s.node.type for s in plan_on.steps]
    types_off = [s.node.type for s in plan_off.steps]
    assert "Transpose" in types_off and "Transpose" not in types_on
    assert types_off.count("MatMul") == 2 and types_on.count("MatMul") == 1
    assert len(plan_on.steps) < len(plan_off.steps)
    # computed once, in the outer plan, from the fed x and w
    outer_types = [s.node.type for s in plans[True].steps]
    assert "Transpose" in outer_types and "MatMul" in outer_types
    # the loop carries the two invariant values instead of x and w (the cond reads n)
    assert len(_loop_step(plans[True]).node.inputs) == len(_loop_step(plans[False]).node.inputs) - 1
    (rec,) = [r for r in plans[True].pass_log if r.name == "loop_optimization"]
    assert rec.changed == 1 and "2 invariant values" in str(rec) and "transpose" in str(rec)
    assert "loop_optimization" not in [r.name for r in plans[False].pass_log]
    # the user's Graph and body are as they were
    assert [op.name for op in user_body.get_operations()] == user_ops
    assert [op.name for op in g.get_operations()] == graph_ops
    assert loop.get_attr("body") is user_body


def test_values_that_change_per_iteration_or_have_effects_stay_in_the_body():
    g = sf.Graph()
    with g.as_default():
        w = sf.placeholder(sf.float32, [3], name="w")

        def body(i, acc, r):
            noise = sf.random_uniform([3], seed=1)  # random: a new value every iteration
            return i + 1, acc + w * sf.cast(i, sf.float32), r + noise

        _, acc, r = sf.while_loop(lambda i, a, r: i < 4, body, [0, sf.zeros([3]), sf.zeros([3])])
        with sf.Session() as sess:
            p = sess.plan([acc, r], {w: np.ones(3, np.float32)})
            accv, rv = sess.run([acc, r], {w: np.array([1.0, 2.0, 3.0], np.float32)})
    (rec,) = [x for x in p.pass_log if x.name == "loop_optimization"]
    assert rec.changed == 0
    np.testing.assert_allclose(accv, np.array([1.0, 2.0, 3.0]) * 6, rtol=1e-6)
    # four draws of [0, 1) summed: not four times one draw
    assert np.all(rv > 0) and np.all(rv < 4)


def test_gradients_through_a_loop_are_the_same_with_the_pass_on_and_off():
    wv, xv, _ = _rnn()
    with sf.Graph().as_default():
        x, w, n, h = _build_rnn()
        loss = sf.reduce_sum(h * h)
        gw, gx = sf.gradients(loss, [w, x])
        feeds = {x: xv, w: wv, n: np.int32(4)}
        got = {}
        for on in (True, False):
            with sf.Session(config=_config(on)) as sess:
                got[on] = sess.run([gw, gx], feeds)
                if on:
                    p = sess.plan([gw, gx], feeds)
        eps = 1e-2
        with sf.Session() as sess:
            num = np.zeros_like(wv)
            for a in range(4):
                for b in range(4):
                    d = np.zeros_like(wv)
                    d[a, b] = eps
                    hi = sess.run(loss, {**feeds, w: wv + d})
                    lo = sess.run(loss, {**feeds, w: wv - d})
                    num[a, b] = (hi - lo) / (2 * eps)
    for a, b in zip(got[True], got[False], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[True][0], num, rtol=2e-2, atol=2e-3)
    (rec,) = [r for r in p.pass_log if r.name == "loop_optimization"]
    assert rec.changed >= 1  # the forward loop and the gradient's loops


def test_an_inner_loops_invariants_depending_on_the_outer_loop_move_to_the_outer_body():
    rng = np.random.default_rng(1)
    wv = (rng.standard_normal((3, 3)) * 0.4).astype(np.float32)
    with sf.Graph().as_default():
        w = sf.placeholder(sf.float32, [3, 3])

        def outer(i, v):
            scale = sf.cast(i + 1, sf.float32)

            def inner(j, u):  # w * scale is invariant in the inner loop
                return j + 1, sf.tanh(sf.matmul(u[None], w * scale)[0])

            _, v = sf.while_loop(lambda j, u: j < 2, inner, [0, v])
            return i + 1, v

        _, v = sf.while_loop(lambda i, v: i < 3, outer, [0, sf.ones([3])])
        with sf.Session() as sess:
            got = sess.run(v, {w: wv})
    want = np.ones(3, np.float32)
    for i in range(3):
        for _ in range(2):
            want = np.tanh(want @ (wv * np.float32(i + 1)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("on", [True, False])
def test_map_fn_over_a_captured_weight_gives_numpys_values(on):
    rng = np.random.default_rng(2)
    ev = rng.standard_normal((5, 3)).astype(np.float32)
    wv = rng.standard_normal((3, 3)).astype(np.float32)
    with sf.Graph().as_default():
        e = sf.placeholder(sf.float32, [5, 3])
        w = sf.placeholder(sf.float32, [3, 3])
        out = sf.map_fn(lambda r: sf.reduce_sum(sf.matmul(r[None], sf.transpose(w) * 2.0)), e)
        with sf.Session(config=_config(on)) as sess:
            got = sess.run(out, {e: ev, w: wv})
            p = sess.plan(out, {e: ev, w: wv})
    np.testing.assert_allclose(got, (ev @ (wv.T * 2)).sum(1), rtol=1e-5)
    if on:
        (rec,) = [r for r in p.pass_log if r.name == "loop_optimization"]
        assert rec.changed == 1


@pytest.mark.parametrize("on", [True, False])
def test_an_invariant_tensor_array_is_made_once_with_numpys_values_and_gradients(on):
    wv = np.arange(15, dtype=np.float32).reshape(5, 3)
    with sf.Graph().as_default():
        w = sf.placeholder(sf.float32, [5, 3])

        def body(i, acc):  # the array unstacked from the captured w is the same every iteration
            ta = sf.TensorArray(sf.float32, size=5).unstack(w * 2.0)
            return i + 1, acc + ta.read(i)

        _, acc = sf.while_loop(lambda i, a: i < 5, body, [0, sf.zeros([3])])
        (gw,) = sf.gradients(sf.reduce_sum(acc * acc), [w])
        with sf.Session(config=_config(on)) as sess:
            got, got_g = sess.run([acc, gw], {w: wv})
            p = sess.plan(acc, {w: wv})
    want = (wv * 2).sum(0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got_g, np.tile(4 * want, (5, 1)), rtol=1e-6)
    if on:
        (rec,) = [r for r in p.pass_log if r.name == "loop_optimization"]
        assert rec.changed == 1 and "TensorListFromTensor" in str(rec)
