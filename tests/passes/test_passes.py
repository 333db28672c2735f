"""The plan-time passes: what each rewrites, the switches that turn them off, and that the
values a run computes are the same with every pass on and off."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime import reference


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _config(**off):
    rw = sf.RewriterConfig(**{k: sf.RewriterConfig.OFF for k in off})
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


ALL_OFF = dict(
    constant_folding=1,
    arithmetic_optimization=1,
    common_subgraph_elimination=1,
    remapping=1,
    elementwise_fusion=1,
)


def _kernel_calls(fetches, feeds, config=None):
    with sf.Session(config=config) as s:
        p = s.plan(fetches, feeds)
        return p.stats.kernel_calls, s.run(fetches, feeds), p


def test_the_example_graph_shrinks_with_the_same_values():
    x = sf.placeholder(sf.float32, [None, 4])
    c = sf.constant(np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4))
    k = c * 2 + 1  # folds
    a = sf.nn.relu(sf.matmul(x, k))  # written twice: merged
    b = sf.nn.relu(sf.matmul(x, k))
    y = a + b
    for _ in range(5):
        y = sf.tanh(y * 0.5)
    out = y * 1.0  # dropped
    feed = {x: np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)}
    n_off, v_off, _ = _kernel_calls(out, feed, _config(**ALL_OFF, disable_model_pruning=True))
    n_on, v_on, p = _kernel_calls(out, feed)
    # 2 folded, 2 merged, 1 dropped, the product and relu one kernel (remapping), and the 11
    # elementwise ops after it one generated kernel
    assert n_off == 18 and n_on == 2
    np.testing.assert_allclose(v_on, v_off, rtol=1e-6)
    np.testing.assert_allclose(v_on, reference.evaluate(out, feed), rtol=1e-5)
    names = [r.name for r in p.pass_log]
    assert names == [
        "function_optimization",
        "loop_optimization",
        "constant_folding",
        "arithmetic_optimization",
        "common_subgraph_elimination",
        "remapping",
        "elementwise_fusion",
        "recomputation",
        "dead_node_elimination",
        "memory_ordering",
    ]


@pytest.mark.parametrize(
    "switch",
    ["constant_folding", "arithmetic_optimization", "common_subgraph_elimination", "elementwise_fusion"],
)
def test_each_switch_turns_its_pass_off(switch):
    x = sf.placeholder(sf.float32, [3])
    y = (x * 1.0 + sf.constant(2.0) * 3.0) + (x * 1.0 + sf.constant(2.0) * 3.0)
    feed = {x: np.arange(3, dtype=np.float32)}
    with sf.Session(config=_config(**{switch: 1})) as s:
        p = s.plan(y, feed)
        np.testing.assert_allclose(s.run(y, feed), 2 * (np.arange(3) + 6.0))
    assert switch not in [r.name for r in p.pass_log]


def test_opt_level_zero_turns_folding_and_cse_off_unless_asked():
    x = sf.placeholder(sf.float32, [2])
    y = sf.exp(x) + sf.exp(x)
    oo = sf.OptimizerOptions(opt_level=sf.OptimizerOptions.L0)
    cfg = sf.ConfigProto(graph_options=sf.GraphOptions(optimizer_options=oo))
    with sf.Session(config=cfg) as s:
        ran = [r.name for r in s.plan(y, {x: [1.0, 2.0]}).pass_log]
    assert "constant_folding" not in ran and "common_subgraph_elimination" not in ran
    cfg.graph_options.optimizer_options.do_common_subexpression_elimination = True
    with sf.Session(config=cfg) as s:
        ran = [r.name for r in s.plan(y, {x: [1.0, 2.0]}).pass_log]
    assert "common_subgraph_elimination" in ran
    cfg.graph_options.rewrite_options.disable_meta_optimizer = True
    with sf.Session(config=cfg) as s:
        assert s.plan(y, {x: [1.0, 2.0]}).pass_log == []


def test_folding_keeps_control_dependencies():
    v = sf.Variable(0.0)
    inc = sf.assign_add(v, 1.0)
    with sf.control_dependencies([inc]):
        c = sf.constant(2.0) * 3.0
    with sf.Session() as s:
        s.run(v.initializer)
        assert s.run(c) == 6.0
        assert s.run(c) == 6.0
        assert s.run(v) == 2.0  # the assignment ran with each fetch of the folded constant


def test_reads_of_variables_and_random_ops_are_not_merged():
    v = sf.Variable(1.0)
    r1 = sf.identity(v)
    with sf.control_dependencies([sf.assign(v, 5.0)]):
        r2 = sf.identity(v)
    u1 = sf.random_uniform([3], seed=1)
    u2 = sf.random_uniform([3], seed=1)
    with sf.Session() as s:
        s.run(v.initializer)
        a, b = s.run([r1, r2])
        assert (a, b) == (1.0, 5.0)
        x, y = s.run([u1, u2])
    np.testing.assert_array_equal(x, y)  # same seeds: same values, but two streams ran
    assert s.plans_built >= 2


def test_simplifications_are_exact():
    x = sf.placeholder(sf.float32, [2, 3])
    xi = sf.placeholder(sf.int32, [4])
    outs = [
        sf.transpose(sf.transpose(x, [1, 0]), [1, 0]),
        sf.reshape(sf.expand_dims(sf.reshape(x, [6]), 0), [3, 2]),
        sf.negative(sf.negative(x)),
        sf.cast(sf.cast(xi, sf.int64), sf.int32),
        sf.cast(sf.cast(x, sf.float64), sf.float32),
        x / 1.0 - 0.0,
        sf.logical_not(sf.logical_not(x > 0)),
        sf.identity(sf.stop_gradient(x)),
    ]
    feed = {x: np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, xi: np.array([1, -2, 3, 7], np.int32)}
    _, got, p = _kernel_calls(outs, feed)
    want = reference.evaluate(outs, feed)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    # a lossy round trip is a real computation and stays
    lossy = sf.cast(sf.cast(x, sf.int32), sf.float32)
    _, v, p2 = _kernel_calls(lossy, feed)
    np.testing.assert_array_equal(v, np.trunc(feed[x]))
    assert p2.stats.kernel_calls == 2
    assert p.stats.kernel_calls == 1  # the comparison: everything else reads x (a reshape is a view)
