"""Planning's cost stays linear: how often the IR's order is worked out per plan does not
grow with the graph, the kept order is always the one a fresh walk gives, and the
toposort's shortcut for graphs built producers first gives the heap's order."""

from __future__ import annotations

import random

import numpy as np
import pytest

import staticflow as sf
from staticflow import passes
from staticflow.compiler.build import build_ir
from staticflow.framework import graph_walk
from staticflow.passes.early import EarlyRewrites
from staticflow.runtime import plan as plan_mod


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _chain(n: int):
    x = sf.placeholder(sf.float32, [16], name="x")
    y = x
    for i in range(n):
        y = sf.tanh(y) if i % 2 else y * 0.5
    return x, y


def _reference_order(ir):
    """The IR's order from scratch: graph_walk.toposort over predecessor lists, ties by id."""
    return graph_walk.toposort(
        list(ir.nodes.values()),
        lambda n: [v.node for v in n.inputs] + list(n.control),
        key=lambda n: n.id,
        name=lambda n: n.name,
    )


def _plan_counting(fetch, feeds) -> int:
    """Plan as build_plan does and return how many orders the IR worked out."""
    ir, ev = build_ir(sf.get_default_graph(), [fetch], [], feeds)
    passes.optimize(ir, ev)
    plan_mod.plan_ir(ir, ev, sf.Session()._variables)
    return ir.orders_computed


def test_orders_per_plan_do_not_grow_with_the_graph(monkeypatch):
    monkeypatch.setattr(passes, "VERIFY", False)  # the verifier's own walks are not planning's
    counts = []
    for n in (50, 800):
        with sf.Graph().as_default():
            x, y = _chain(n)
            counts.append(_plan_counting(y, {x: np.ones(16, np.float32)}))
    assert counts[0] == counts[1]
    # at most one per pass and one for the lowering; passes that change nothing reuse it
    assert counts[0] <= len(passes._pipeline()) + 1


def test_the_kept_order_is_a_fresh_walks_order_after_every_pass():
    x = sf.placeholder(sf.float32, [None, 4], name="x")
    w = sf.Variable(np.eye(4, dtype=np.float32), name="w")
    h = x
    for _ in range(6):
        h = sf.nn.relu(sf.matmul(h, w) + 1.0) * 2.0
    loss = sf.reduce_mean(sf.square(h))
    train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
    ir, ev = build_ir(sf.get_default_graph(), [loss], [train], {x: np.ones((3, 4), np.float32)})
    assert ir.topo_order() == _reference_order(ir)
    for p in passes._pipeline():
        ctx = passes.PassContext(ev, passes.Options())
        changed = p.run(ir, ctx)
        if p.name == "memory_ordering" and changed:
            # an order of its own choosing (IRGraph.set_order): every node after its inputs
            order = ir.topo_order()
            at = {n.id: k for k, n in enumerate(order)}
            assert sorted(at) == sorted(ir.nodes)
            assert all(at[v.node.id] < at[n.id] for n in order for v in n.inputs)
            assert all(at[c.id] < at[n.id] for n in order for c in n.control)
            assert ir.topo_order() == order  # the kept one, read twice
            continue
        assert ir.topo_order() == _reference_order(ir), p.name
        assert ir.topo_order() == _reference_order(ir), p.name  # the kept one, read twice


def _heap_order(nodes, preds, key):
    """The smallest-key ready node first, by scanning (quadratic, obviously right)."""
    done, order = set(), []
    left = list(nodes)
    while left:
        ready = [n for n in left if all(p in done or p not in nodes for p in preds[n])]
        if not ready:
            raise ValueError("cycle")
        n = min(ready, key=lambda m: (key[m], nodes.index(m)))
        order.append(n)
        done.add(n)
        left.remove(n)
    return order


@pytest.mark.parametrize("seed", range(40))
def test_toposort_matches_the_smallest_ready_first_rule(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    nodes = [f"n{i}" for i in range(n)]
    rng.shuffle(nodes)  # the given order is not the key order
    key = {m: rng.randint(0, 10) for m in nodes}  # ties too
    rank = {m: i for i, m in enumerate(rng.sample(nodes, n))}  # a hidden order edges follow
    forward = seed % 2 == 0  # half the graphs have every edge going up the key order
    preds = {}
    for m in nodes:
        cands = [p for p in nodes if (key[p] < key[m] if forward else rank[p] < rank[m])]
        preds[m] = rng.sample(cands, min(len(cands), rng.randint(0, 3)))
        if rng.random() < 0.2:
            preds[m].append("outside")  # inputs outside the node set are ignored
    got = graph_walk.toposort(nodes, lambda m: preds[m], key=lambda m: key[m])
    assert got == _heap_order(nodes, preds, key)


def test_toposort_still_names_a_cycle():
    preds = {"a": ["c"], "b": ["a"], "c": ["b"], "d": []}
    with pytest.raises(ValueError, match="cycle through: a, b, c"):
        graph_walk.toposort(list(preds), lambda m: preds[m], key=lambda m: m)


@pytest.mark.parametrize("seed", range(20))
def test_the_ir_order_after_random_edits_is_a_fresh_walks(seed):
    """New nodes feeding old ones (as folding and fusion make) put ids out of order."""
    from staticflow.compiler.ir import IRGraph

    rng = random.Random(seed)
    ir = IRGraph()
    f32 = sf.float32
    made = [ir.add("Const", (), {}, [()], [f32]) for _ in range(3)]
    for _ in range(rng.randint(5, 40)):
        ins = [rng.choice(made).output(0) for _ in range(rng.randint(1, 3))]
        made.append(ir.add("AddN", ins, {"N": len(ins)}, [()], [f32]))
    for _ in range(rng.randint(1, 15)):  # a new producer, read by an older node
        src = ir.add("Const", (), {}, [()], [f32])
        user = rng.choice([n for n in made if n.inputs])
        ir.set_input(user, rng.randrange(len(user.inputs)), src.output(0))
        if rng.random() < 0.3:  # an older node waits for a newer one
            ir.add_control(rng.choice(made), ir.add("Const", (), {}, [()], [f32]))
        made.append(src)
        assert ir.topo_order() == _reference_order(ir)


def _lstm_training(steps: int):
    sf.set_random_seed(3)
    x = sf.placeholder(sf.float32, [None, steps, 4], name="x")
    cell = sf.nn.rnn_cell.BasicLSTMCell(8)
    outputs, _ = sf.nn.static_rnn(cell, sf.unstack(x, axis=1), dtype=sf.float32)
    loss = sf.reduce_mean(sf.square(outputs[-1]))
    train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feed = {x: np.random.default_rng(0).standard_normal((3, steps, 4)).astype(np.float32)}
    return loss, train, feed


def _optimized(early: bool, loss, train, feed):
    rewrites = EarlyRewrites() if early else None
    ir, ev = build_ir(sf.get_default_graph(), [loss], [train], feed, None, rewrites)
    built = len(ir)
    if early:
        passes.optimize(ir, ev, None, rewrites.counts, rewrites.done())
    else:
        passes.optimize(ir, ev)
    return built, ir


def _kinds(ir):
    """The IR as a multiset of (op, output shapes, user ops stood for): what the plan runs,
    whatever the nodes' ids and names."""
    return sorted(
        (n.type, tuple(n.shapes), tuple(sorted(o.name for o in n.origin))) for n in ir.nodes.values()
    )


def test_the_early_rewrites_leave_an_unrolled_gradients_plumbing_out_of_the_built_ir():
    """Folding, simplification and CSE while building: the IR built has no more nodes than the
    first three passes leave of the plain build, and the pipeline ends with the same nodes."""
    loss, train, feed = _lstm_training(6)
    plain_built, plain = _optimized(False, loss, train, feed)
    early_built, early = _optimized(True, loss, train, feed)
    ir, ev = build_ir(sf.get_default_graph(), [loss], [train], feed)
    early_passes = ("constant_folding", "arithmetic_optimization", "common_subgraph_elimination")
    for p in passes._pipeline():
        if p.name in early_passes:
            p.run(ir, passes.PassContext(ev, passes.Options()))
    assert early_built <= len(ir) < plain_built
    assert [(a, s) for a, s, _o in _kinds(early)] == [(a, s) for a, s, _o in _kinds(plain)]
    assert _kinds(early) == _kinds(plain)


def test_the_early_rewrites_end_where_the_pipeline_does_with_rule_made_nodes_and_control():
    """Rules that make nodes (a sum over unit axes becomes a reshape, two transposes one) and
    nodes with control inputs: the passes run again after building, and the plan's nodes are
    the plain pipeline's."""
    x = sf.placeholder(sf.float32, [None, 1, 3], name="x")
    v = sf.Variable(np.ones(3, np.float32), name="v")
    s = sf.reduce_sum(x * 2.0, axis=1)  # over a unit axis: a reshape
    t = sf.transpose(sf.transpose(s, [1, 0]) + 1.0, [1, 0])
    with sf.control_dependencies([sf.assign_add(v, [1.0, 1.0, 1.0])]):
        c = sf.constant(2.0) * sf.constant(3.0) + sf.identity(t)
    n = sf.cast(sf.reshape(sf.shape(x), [3])[2:] * 1, sf.float32)  # folds
    y = sf.reduce_mean(sf.square(c + n + v))
    feed = {x: np.arange(6, dtype=np.float32).reshape(2, 1, 3)}
    rewrites = EarlyRewrites()
    ir, ev = build_ir(sf.get_default_graph(), [y], [], feed, None, rewrites)
    assert rewrites.done() == frozenset()  # a rule made a node: the passes run again
    passes.optimize(ir, ev, None, rewrites.counts, rewrites.done())
    plain, ev2 = build_ir(sf.get_default_graph(), [y], [], feed)
    passes.optimize(plain, ev2)
    assert _kinds(ir) == _kinds(plain)


def test_built_nodes_per_unrolled_step_stay_few():
    """Each further step of an unrolled LSTM's training graph adds a fixed, small number of
    built nodes, and of user ops: the gradients sum over constant axes, with no shape
    plumbing for planning to fold (89 ops per step with it, 39 without)."""
    sizes, ops = [], []
    for steps in (4, 8):
        with sf.Graph().as_default() as g:
            loss, train, feed = _lstm_training(steps)
            ops.append(len(g.get_operations()))
            sizes.append(_optimized(True, loss, train, feed)[0])
    per_step = (sizes[1] - sizes[0]) / 4
    assert per_step <= 32, sizes  # (31 now; 86 without the early rewrites)
    assert (ops[1] - ops[0]) / 4 <= 40, ops


def test_the_early_rewrites_follow_the_switches():
    """With folding, simplification and CSE off, building adds every op as a node."""
    loss, train, feed = _lstm_training(3)
    names = ("constant_folding", "arithmetic_optimization", "common_subgraph_elimination")
    rewrites = EarlyRewrites(passes.Options(enabled=dict.fromkeys(names, False)))
    ir, _ev = build_ir(sf.get_default_graph(), [loss], [train], feed, None, rewrites)
    plain, _ev = build_ir(sf.get_default_graph(), [loss], [train], feed)
    assert len(ir) == len(plain) and not any(rewrites.counts.values())
    rw = sf.RewriterConfig(**dict.fromkeys(names, sf.RewriterConfig.OFF))
    config = sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))
    values = []
    for cfg in (config, None):
        with sf.Session(config=cfg) as s:
            s.run(sf.global_variables_initializer())
            values.append(s.run(loss, feed))
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


def _plan_description(fetch, feeds) -> list:
    """Every kernel call of the plan: its symbol, generated function, attributes and where
    each operand lives (buffer kind, byte offset, shape, dtype, view)."""
    ir, ev = build_ir(sf.get_default_graph(), [fetch], [], feeds)
    passes.optimize(ir, ev)
    plan = plan_mod.plan_ir(ir, ev, sf.Session()._variables)

    def where(pairs):
        return [(loc.buf.kind, loc.byte_offset, loc.shape, loc.dtype, v) for loc, v in pairs]

    return [
        (kc.symbol, kc.fn, kc.iattr, kc.fattr, where(ins), where(outs))
        for step in plan.steps
        for kc, ins, outs in step.calls
    ]


def test_identical_fused_groups_lower_as_if_each_were_lowered_afresh(monkeypatch):
    # an unrolled loop of fused groups, alike step by step (elementwise and with a reduction),
    # beside groups of other shapes: the plan is the one made lowering every group from scratch
    from staticflow.backends import fused_codegen, jit

    if not jit.available():
        pytest.skip("no C compiler for generated kernels")
    x = sf.placeholder(sf.float32, [4, 3], name="x")
    v = sf.placeholder(sf.float32, [3], name="v")
    w = sf.placeholder(sf.float32, [3, 3], name="w")
    h, outs = x, []
    for _ in range(6):
        z = sf.matmul(h, w)  # (not fusable: it ends each step's groups)
        h = sf.tanh(z * 0.5 + v) * sf.sigmoid(z)
        outs.append(sf.reduce_sum(sf.square(h - 1.0), axis=1))
        outs.append(sf.exp(sf.matmul(h, w, transpose_b=True)) - 1.0)
    y = sf.add_n([sf.reduce_sum(o) for o in outs])
    feeds = {x: np.ones((4, 3), np.float32), v: np.ones(3, np.float32), w: np.eye(3, dtype=np.float32)}
    fused_codegen._LOWERED.clear()
    lowered = fused_codegen._lowered
    made = []
    monkeypatch.setattr(fused_codegen, "_lowered", lambda ctx, g: made.append(1) or lowered(ctx, g))
    memo = _plan_description(y, feeds)
    calls = sum(1 for c in memo if c[1] is not None)
    assert calls >= 12 and len(made) < calls  # groups were fused, and alike ones reused
    monkeypatch.setattr(fused_codegen, "_lowering_key", lambda ctx, g: None)
    assert _plan_description(y, feeds) == memo


def _shape_functions_run(monkeypatch, fetch, feeds) -> int:
    from staticflow.compiler import build as build_mod

    calls = []
    real = build_mod.registry.ShapeContext

    def counting(*a, **k):
        calls.append(a[1])
        return real(*a, **k)

    monkeypatch.setattr(build_mod.registry, "ShapeContext", counting)
    build_ir(sf.get_default_graph(), [fetch], [], feeds)
    monkeypatch.setattr(build_mod.registry, "ShapeContext", real)
    return len(calls)


def test_shapes_the_graph_knows_are_not_inferred_again(monkeypatch):
    """Ops whose shapes were fully known while building (and whose inputs have those shapes)
    take them from the graph; ops reading a batch of unknown size run their shape function."""
    w = sf.Variable(np.ones((3, 3), np.float32), name="w")
    known = sf.reduce_sum(sf.matmul(w, w) * 2.0)
    x = sf.placeholder(sf.float32, [None, 3], name="x")
    fed = sf.reduce_sum(sf.matmul(x, w) * 2.0)
    assert _shape_functions_run(monkeypatch, known, {}) == 0
    # the MatMul, the Mul and the Sum read x's batch: each runs its shape function
    assert _shape_functions_run(monkeypatch, fed, {x: np.ones((2, 3), np.float32)}) >= 3
    with sf.Session() as s:
        s.run(sf.global_variables_initializer())
        np.testing.assert_allclose(s.run(known), 2 * 9 * 3)


def test_a_feed_that_contradicts_a_known_shape_still_fails_while_planning():
    v = sf.placeholder(sf.float32, [None], name="v")
    m = sf.reshape(v, [2, 3])  # known (2, 3): planning still checks the fed size
    with sf.Session() as s:
        np.testing.assert_array_equal(s.run(m, {v: np.arange(6, dtype=np.float32)}).shape, (2, 3))
        with pytest.raises(sf.errors.InvalidArgumentError, match="Reshape"):
            s.run(m, {v: np.arange(5, dtype=np.float32)})
