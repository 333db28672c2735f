"""Deep graphs: no graph walk recurses over the graph's depth, and building, differentiating
and the first run grow linearly with depth.

The walks run under a recursion limit only a little above the test's own stack depth, so a
walk that recursed once per op (or once per few ops) would fail on these graphs. Linearity is
checked by counting work, not by timing: the Python function calls (profiled) of build +
gradients + first run for depths N, 2N and 4N, whose increments must stay in proportion
(a quadratic term would double the second increment relative to the first).
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import sys

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import const_eval

SPARE_FRAMES = 200  # above the caller's stack depth: enough for any walk that does not recurse per op


@contextlib.contextmanager
def shallow_stack():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + SPARE_FRAMES)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def mlp(depth: int, width: int = 4, batch: int = 2):
    """depth dense layers, a reshape of the result to [batch, -1], the mean square loss, the
    gradients of every variable, and the first run of all of it."""
    x = sf.placeholder(sf.float32, [None, width])
    h = x
    for _ in range(depth):
        init = sf.constant_initializer(np.eye(width))
        h = sf.layers.dense(h, width, activation=sf.nn.relu, kernel_initializer=init)
    h = sf.reshape(h, [sf.shape(h)[0], -1])
    loss = sf.reduce_mean(sf.square(h))
    vs = sf.trainable_variables()
    grads = sf.gradients(loss, vs)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        out = sess.run([loss] + grads, {x: np.ones((batch, width), np.float32)})
    return x, loss, vs, grads, out


def lstm(steps: int, units: int = 4, batch: int = 2):
    """static_rnn of a BasicLSTMCell over `steps` inputs with a fed batch, the gradients of its
    variables and the first run."""
    x = sf.placeholder(sf.float32, [None, steps, 3])
    cell = sf.nn.rnn_cell.BasicLSTMCell(units)
    outputs, state = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), dtype=sf.float32)
    loss = sf.reduce_mean(sf.square(outputs[-1]))
    vs = sf.trainable_variables()
    grads = sf.gradients(loss, vs)
    xv = np.random.default_rng(1).standard_normal((batch, steps, 3)).astype(np.float32)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        out = sess.run([loss] + grads, {x: xv})
    return x, loss, vs, grads, out


def test_1000_layer_mlp_builds_differentiates_and_runs():
    with sf.Graph().as_default(), shallow_stack():
        _, _, vs, grads, out = mlp(1000)
    assert len(vs) == 2000 and all(g is not None for g in grads)
    # identity layers relu(x I + 0) keep the ones: the loss mean(h^2) is 1, its gradient 2h/8
    # (2 rows of 4) reaches every layer unchanged: 0.5 for each bias and kernel entry
    assert float(out[0]) == 1.0
    for g in out[1:]:
        np.testing.assert_array_equal(g, np.full_like(g, 0.5))


def test_deep_lstm_builds_differentiates_and_runs():
    with sf.Graph().as_default(), shallow_stack():
        _, loss, vs, _, out = lstm(150)
    assert len(vs) == 2 and np.isfinite(out[0]) and all(np.all(np.isfinite(g)) for g in out[1:])


@pytest.mark.slow
def test_1000_step_lstm_builds_differentiates_and_runs():
    with sf.Graph().as_default(), shallow_stack():
        _, _, vs, _, out = lstm(1000)
    assert np.isfinite(out[0]) and all(np.all(np.isfinite(g)) for g in out[1:])


def test_deep_graph_survives_every_graph_walk(tmp_path):
    """Export, import, meta graphs, freezing, saving, drawing, optimizers, control dependencies
    and constant folding of a 600-op integer chain, on a graph deeper than the stack allows
    recursing over."""
    with sf.Graph().as_default() as g, shallow_stack():
        x, loss, vs, grads, out = mlp(400)
        # a 600-op integer chain feeding a Reshape's shape: folded while building and planning
        n = sf.shape(x)[1]
        for _ in range(600):
            n = n + 1
        n = n - 600
        r = sf.reshape(x, [-1, n])
        assert r.shape.as_list() == [None, 4]
        assert int(const_eval.constant_value(n)) == 4
        fed = sf.placeholder(sf.int32, [])
        m = fed
        for _ in range(600):
            m = m * 1
        r2 = sf.reshape(x, sf.stack([-1, m]))
        step = sf.train.GradientDescentOptimizer(0.01).minimize(loss)
        with sf.control_dependencies([step]):
            after = sf.identity(loss)
        gd = g.as_graph_def()
        sf.viz.draw(g)  # the drawing's trace of the graph
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            got = sess.run([r, r2, after], {x: np.ones((3, 4), np.float32), fed: 4})
            assert got[0].shape == got[1].shape == (3, 4)
            now = sess.run(loss, {x: np.ones((2, 4), np.float32)})  # after the training step
            frozen = sf.graph_util.convert_variables_to_constants(sess, gd, [loss.op.name])
            saver = sf.train.Saver(vs[:4])
            saver.save(sess, str(tmp_path / "ckpt"))
        meta = sf.train.export_meta_graph(str(tmp_path / "m.meta"))
        assert len(meta.graph_def.node) == len(g.get_operations())
    for graph_def in (gd, frozen):
        with sf.Graph().as_default() as g2, shallow_stack():
            sf.import_graph_def(graph_def, name="")
            g2.as_graph_def()
            with sf.Session() as sess:
                if graph_def is gd:
                    sess.run("init")  # the initializer mlp() ran; a GraphDef has no collections
                got = sess.run(loss.name, {x.name: np.ones((2, 4), np.float32)})
            if graph_def is frozen:
                np.testing.assert_allclose(got, now, rtol=1e-5)
    with sf.Graph().as_default(), shallow_stack():
        sf.train.import_meta_graph(str(tmp_path / "m.meta"))
        assert len(sf.trainable_variables()) == len(vs)


def _count_calls(fn, depth: int) -> int:
    """Python function calls (including builtins) made by fn(depth) in a fresh graph."""
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            calls[event] += 1

    with sf.Graph().as_default():
        sys.setprofile(profile)
        try:
            fn(depth)
        finally:
            sys.setprofile(None)
    return sum(calls.values())


@pytest.mark.parametrize("build,n", [(mlp, 32), (lstm, 8)])
def test_build_differentiate_and_first_run_grow_linearly(build, n):
    # depths past the few where the arena is packed greedily by size (its cost is capped by
    # OVERLAP_BUDGET per buffer): all three plans use the same packing
    c1, c2, c4 = (_count_calls(build, k * n) for k in (1, 2, 4))
    first, second = c2 - c1, c4 - c2  # linear: second == 2 * first; quadratic: 4 * first
    assert first > 0
    assert second <= 2.4 * first, f"calls for depth {n}, {2 * n}, {4 * n}: {c1}, {c2}, {c4}"
