"""Elementwise fusion: which nodes become one generated kernel, that the values are the same
fused, unfused and by the NumPy reference (on fixed and random graphs, with the kernels'
generator or its fallback), and that errors, traces and drawings still name the user's ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import staticflow as sf
from staticflow.backends import jit
from staticflow.ops import fused_elementwise as fused_ops
from staticflow.runtime import reference

from .random_graphs import build, programs


def _config(fusion: bool = True):
    toggle = sf.RewriterConfig.DEFAULT if fusion else sf.RewriterConfig.OFF
    rw = sf.RewriterConfig(elementwise_fusion=toggle)
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


def _run(fetches, feed, fusion=True):
    with sf.Session(config=_config(fusion)) as s:
        return s.plan(fetches, feed), s.run(fetches, feed)


def _fused_nodes(plan):
    return [st.node for st in plan.steps if st.node is not None and st.node.type == fused_ops.FUSED]


def _check(fetches, feed, rtol=1e-6, atol=1e-6):
    """Fused, unfused and the reference agree; returns the fused plan."""
    if not isinstance(fetches, list):
        fetches = [fetches]
    p_on, on = _run(fetches, feed, True)
    _p_off, off = _run(fetches, feed, False)
    want = reference.evaluate(fetches, feed)
    for a, b, w in zip(on, off, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        np.testing.assert_allclose(a, w, rtol=max(rtol, 1e-5), atol=max(atol, 1e-6))
        assert np.asarray(a).dtype == np.asarray(w).dtype and np.shape(a) == np.shape(w)
    return p_on


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _rng():
    return np.random.default_rng(0)


# --- grouping --------------------------------------------------------------------------------
def test_a_chain_with_broadcast_operands_is_one_kernel():
    x = sf.placeholder(sf.float32, [None, 8])
    b = sf.placeholder(sf.float32, [8])
    y = x
    for _ in range(10):
        y = sf.tanh(y * 0.5 + b) - sf.exp(-sf.abs(y))
    feed = {x: _rng().standard_normal((5, 8)).astype(np.float32), b: np.linspace(-1, 1, 8, dtype=np.float32)}
    p = _check(y, feed, rtol=2e-6)
    assert p.stats.kernel_calls == 1
    (node,) = _fused_nodes(p)
    assert len(node.origin) == 70  # every op the kernel replaced is remembered


def test_a_value_needed_outside_is_an_extra_output_of_the_same_kernel():
    x = sf.placeholder(sf.float32, [4, 3])
    h = sf.sigmoid(x) * 2.0
    y = sf.nn.relu(h - 1.0)
    feed = {x: _rng().standard_normal((4, 3)).astype(np.float32)}
    p = _check([h, y], feed)
    (node,) = _fused_nodes(p)
    assert len(node.shapes) == 2 and p.stats.kernel_calls == 1


def test_a_matmul_between_two_chains_keeps_them_apart():
    x = sf.placeholder(sf.float32, [3, 4])
    a = sf.tanh(x) * 2.0
    b = sf.matmul(a, sf.constant(np.ones((4, 4), np.float32)))
    c = sf.nn.relu(a - b) + 1.0  # reads a and b: fusing a's ops with c's would make a cycle
    feed = {x: _rng().standard_normal((3, 4)).astype(np.float32)}
    p = _check(c, feed)
    assert len(_fused_nodes(p)) == 2 and p.stats.kernel_calls == 3


def test_values_of_another_shape_form_their_own_groups_and_single_ops_stay():
    x = sf.placeholder(sf.float32, [3, 4])
    v = sf.placeholder(sf.float32, [4])
    w = sf.exp(sf.tanh(v))  # a [4] group, computed once, then broadcast
    y = sf.sqrt(sf.abs(x * w) + 1.0)
    z = sf.negative(sf.reduce_max(y, axis=0))  # a group of one: the plain kernel
    feed = {x: _rng().standard_normal((3, 4)).astype(np.float32), v: np.arange(4, dtype=np.float32)}
    p = _check([y, z], feed)
    shapes = sorted(n.attrs["group"].shape for n in _fused_nodes(p))
    assert shapes == [(3, 4), (4,)]


@pytest.mark.parametrize("axis, keep", [(None, False), (1, False), (0, True), (-1, True)])
def test_a_sum_or_mean_ends_the_kernel(axis, keep):
    x = sf.placeholder(sf.float32, [6, 40])
    t = sf.placeholder(sf.float32, [6, 40])
    d = sf.square(sf.tanh(x) - t)
    s = sf.reduce_sum(d, axis=axis, keepdims=keep)
    m = sf.reduce_mean(d * 0.5, axis=axis, keepdims=keep)
    feed = {x: _rng().standard_normal((6, 40)).astype(np.float32),
            t: _rng().uniform(-1, 1, (6, 40)).astype(np.float32)}
    p = _check([s, m], feed, rtol=2e-6)
    assert any(n.attrs["group"].reduce is not None for n in _fused_nodes(p))


@pytest.mark.parametrize("shape, axis", [((2, 70001), 1), ((100003,), 0), ((300, 257), 0)])
def test_long_and_column_reductions(shape, axis):
    x = sf.placeholder(sf.float64, shape)
    y = sf.reduce_sum(sf.sin(x) * x, axis=axis)
    p = _check(y, {x: _rng().standard_normal(shape)}, rtol=1e-10)
    assert p.stats.kernel_calls == 1


def test_a_reduction_whose_axes_do_not_merge_is_left_to_its_own_kernel():
    x = sf.placeholder(sf.float32, [3, 4, 5])
    y = sf.reduce_sum(sf.exp(x) * 2.0, axis=1)  # kept dims 0 and 2 do not merge into one
    p = _check(y, {x: _rng().standard_normal((3, 4, 5)).astype(np.float32)}, rtol=2e-6)
    (node,) = _fused_nodes(p)
    assert node.attrs["group"].reduce is None and p.stats.kernel_calls == 2


def test_integers_wrap_and_bools_select_as_unfused():
    a = sf.placeholder(sf.int32, [50])
    b = sf.placeholder(sf.int32, [50])
    big = (a * 65537 + b) * 40000 - b  # wraps around, as NumPy's and TensorFlow's int32
    m = sf.logical_and(big > 0, sf.logical_not(sf.equal(a, b)))
    out = sf.where_v2(m, big, -big)
    rng = _rng()
    feed = {
        a: rng.integers(-(2**31), 2**31 - 1, 50, dtype=np.int32),
        b: rng.integers(-5, 5, 50, dtype=np.int32),
    }
    p = _check([out, m], feed, rtol=0, atol=0)
    assert p.stats.kernel_calls == 1


@pytest.mark.parametrize("dt", [sf.float16, sf.bfloat16, sf.float64])
def test_other_float_types_round_every_op_as_unfused(dt):
    x = sf.placeholder(dt, [64])
    y = sf.tanh(x * 3.0) + sf.sigmoid(x) * x - 0.25
    feed = {x: np.linspace(-2, 2, 64).astype(dt.as_numpy_dtype)}
    p_on, on = _run(y, feed, True)
    _, off = _run(y, feed, False)
    rtol = 1e-2 if dt != sf.float64 else 1e-12
    np.testing.assert_allclose(on.astype(np.float64), off.astype(np.float64), rtol=rtol)
    assert len(_fused_nodes(p_on)) == 1


def test_bias_add_with_nchw_and_select_with_a_row_condition():
    x = sf.placeholder(sf.float32, [2, 3, 4, 5])
    b = sf.placeholder(sf.float32, [3])
    c = sf.placeholder(sf.bool, [2])
    y = sf.nn.relu(sf.nn.bias_add(x, b, data_format="NCHW"))
    z = sf.where(c, y, -y)  # TF1's where: a vector condition picks rows
    rng = _rng()
    feed = {
        x: rng.standard_normal((2, 3, 4, 5)).astype(np.float32),
        b: np.array([1.0, -1.0, 0.5], np.float32),
        c: np.array([True, False]),
    }
    p = _check(z, feed)
    assert p.stats.kernel_calls == 1


def test_a_large_chain_runs_on_threads_with_the_same_values():
    x = sf.placeholder(sf.float32, [300000])
    y = sf.tanh(sf.exp(x * 0.1) - 1.0) * 3.0 + x
    _check(y, {x: _rng().standard_normal(300000).astype(np.float32)}, rtol=2e-6)


# --- random graphs ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_fused_unfused_and_reference_agree(program):
    with sf.Graph().as_default():
        fetches, feed = build(program)
        want = reference.evaluate(fetches, feed)
        _, on = _run(fetches, feed, True)
        _, off = _run(fetches, feed, False)
    for a, b, w in zip(on, off, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(a, w, rtol=2e-5, atol=2e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_through_the_fallback_agree(program):
    """Where no kernel can be generated, a fused node runs its members' kernels."""
    with sf.Graph().as_default():
        fetches, feed = build(program)
        want = reference.evaluate(fetches, feed)
        mp = pytest.MonkeyPatch()
        try:
            mp.setattr(jit, "load", _no_compiler)
            mp.setattr(jit, "warn_once", lambda reason: None)
            _, on = _run(fetches, feed, True)
        finally:
            mp.undo()
    for a, w in zip(on, want, strict=True):
        np.testing.assert_allclose(a, w, rtol=2e-5, atol=2e-5)


def _no_compiler(source, symbol):
    raise jit.CompileError("no compiler in this test")


def test_the_fallback_warns_once_and_computes_the_same(monkeypatch, recwarn):
    monkeypatch.setattr(jit, "_warned", set())
    monkeypatch.setattr(jit, "load", _no_compiler)
    x = sf.placeholder(sf.float32, [7])
    y = sf.reduce_mean(sf.square(sf.tanh(x) - 0.5))
    z = sf.exp(x) * 2.0 + 1.0
    feed = {x: np.linspace(-1, 1, 7, dtype=np.float32)}
    p, got = _run([y, z], feed, True)
    want = reference.evaluate([y, z], feed)
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-6)
    assert len(_fused_nodes(p)) == 2
    assert len([w for w in recwarn if issubclass(w.category, jit.FusionWarning)]) == 1


# --- errors, traces and drawings name the user's ops ------------------------------------------
def test_an_error_in_a_fused_kernel_names_the_member_and_its_line():
    a = sf.placeholder(sf.int32, [3], name="a")
    d = sf.placeholder(sf.int32, [3], name="d")
    s = sf.add(a, 1, name="s")
    q = sf.floordiv(s, d, name="quot")  # the line the error must name
    line = q.op.location[1]
    y = sf.multiply(q, 2, name="twice")
    with sf.Session() as sess:
        assert len(_fused_nodes(sess.plan(y, {a: [1, 2, 3], d: [1, 1, 1]}))) == 1
        with pytest.raises(sf.errors.InvalidArgumentError) as e:
            sess.run(y, {a: [1, 2, 3], d: [1, 0, 1]})
    text = str(e.value)
    assert "integer division by zero" in text and "FloorDiv op 'quot'" in text
    assert f"test_fusion.py:{line}" in text and "fused kernel of 3 ops" in text
    assert e.value.op is q.op


def test_trace_entries_name_every_op_of_a_fused_kernel():
    x = sf.placeholder(sf.float32, [4], name="x")
    y = sf.tanh(sf.multiply(x, 2.0, name="dbl"), name="act")
    md = sf.RunMetadata()
    with sf.Session() as sess:
        sess.run(y, {x: np.ones(4, np.float32)}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE),
                 run_metadata=md)
    # one entry per user op, sharing the fused kernel's span; each names its source line and the group
    entries = {n.node_name: n for n in md.step_stats.dev_stats[0].node_stats}
    assert set(entries) == {"dbl", "act"}
    assert entries["dbl"].op_end_rel_nanos == entries["act"].op_end_rel_nanos
    for name, head in (("dbl", "dbl = Mul(x:0, Const:0) @ "), ("act", "act = Tanh(dbl:0) @ ")):
        label = entries[name].timeline_label
        assert label.startswith(head) and "test_fusion.py:" in label
        assert label.endswith(" [_FusedElementwise: dbl, act]")


def test_draw_plan_frames_a_fused_kernel_and_names_its_ops():
    x = sf.placeholder(sf.float32, [2, 3], name="x")
    h = sf.matmul(x, sf.constant(np.ones((3, 3), np.float32)), name="mm")
    y = sf.nn.relu(sf.add(h, 1.0, name="shift"), name="act")
    loss = sf.reduce_sum(sf.square(y, name="sq"), name="loss")
    feed = {x: np.ones((2, 3), np.float32)}
    with sf.Session() as sess:
        plan = sess.plan([y, loss], feed)
        tr = sf.viz.trace_plan(plan, [y.op, loss.op])
        dot = sf.viz.draw_plan(sess, [y, loss], feed).source
    # the product, bias and relu are one kernel (remapping), the square and its sum another
    assert tr.cluster_labels == {
        "step_1": "#1 fused kernel _FusedMatMul: 3 ops (Relu, MatMul, AddV2)",
        "step_2": "#2 fused kernel _FusedElementwise: 2 ops (Square, Sum)",
    }
    assert {tr.nodes[n].scope for n in ("mm", "shift", "act")} == {"step_1"}
    assert {tr.nodes[n].scope for n in ("sq", "loss")} == {"step_2"}
    assert "in registers" in " ".join(tr.nodes["sq"].notes) and "arena" in " ".join(tr.nodes["act"].notes)
    assert all(label in dot for label in tr.cluster_labels.values())


def test_a_long_chain_is_cut_into_kernels_of_at_most_max_members_ops():
    from staticflow.passes import fusion

    x = sf.placeholder(sf.float32, [5], name="x")
    y = x
    for i in range(2 * fusion.MAX_MEMBERS + 44):
        y = sf.tanh(y) if i % 2 else y * 0.75
    feed = {x: np.linspace(-2, 2, 5, dtype=np.float32)}
    with sf.Session() as sess:
        nodes = _fused_nodes(sess.plan(y, feed))
        got = sess.run(y, feed)
    sizes = sorted(len(n.attrs["group"].members) for n in nodes)
    assert sizes == [44, fusion.MAX_MEMBERS, fusion.MAX_MEMBERS]
    np.testing.assert_allclose(got, reference.evaluate(y, feed), rtol=1e-5, atol=1e-6)
