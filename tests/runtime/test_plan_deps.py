"""A plan keeps each step's dependencies, not only a linear order: the steps computing its
inputs and those its control edges name."""

from __future__ import annotations

import numpy as np

import staticflow as sf

OFF = sf.ConfigProto(
    graph_options=sf.GraphOptions(rewrite_options=sf.RewriterConfig(disable_meta_optimizer=True))
)


def _by_name(plan):
    return {s.op.name: (k, s) for k, s in enumerate(plan.steps)}


def test_independent_branches_do_not_depend_on_each_other_and_a_join_depends_on_both():
    x = sf.placeholder(sf.float32, [3, 3], name="x")
    a = sf.matmul(x, x, name="a")
    b = sf.matmul(x, sf.transpose(x), name="b")
    c = sf.add(a, b, name="c")
    with sf.Session(config=OFF) as sess:
        plan = sess.plan(c, {x: np.ones((3, 3), np.float32)})
    steps = _by_name(plan)
    ka, sa = steps["a"]
    kb, sb = steps["b"]
    kc, sc = steps["c"]
    kt = steps["transpose"][0]
    assert sa.deps == ()  # x is fed: no step
    assert sb.deps == (kt,)
    assert sc.deps == tuple(sorted((ka, kb)))


def test_control_edges_are_dependencies():
    x = sf.placeholder(sf.float32, [2], name="x")
    first = sf.multiply(x, 2.0, name="first")
    with sf.control_dependencies([first]):
        second = sf.add(x, 1.0, name="second")
    with sf.Session(config=OFF) as sess:
        plan = sess.plan([first, second], {x: np.ones(2, np.float32)})
    steps = _by_name(plan)
    assert steps["second"][1].deps == (steps["first"][0],)


def test_every_dependency_points_back_and_every_producer_step_is_one():
    rng = np.random.default_rng(0)
    x = sf.placeholder(sf.float32, [None, 4])
    h = sf.layers.dense(x, 5, activation=sf.nn.relu)
    loss = sf.reduce_mean(sf.square(sf.layers.dense(h, 2)))
    train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        plan = sess.plan([loss, train], {x: rng.standard_normal((3, 4)).astype(np.float32)})
    step_of = {s.node.id: k for k, s in enumerate(plan.steps)}
    for k, s in enumerate(plan.steps):
        assert all(d < k for d in s.deps), f"step {k} depends on a later step"
        producers = {step_of[v.node.id] for v in s.node.inputs if v.node.id in step_of}
        producers |= {step_of[c.id] for c in s.node.control if c.id in step_of}
        assert set(s.deps) == producers
