"""The scheduled executor (inter_op_parallelism_threads): independent kernel calls of a
segment run on several threads, and every schedule computes what the plan's order
computes, bit for bit.

Two kinds of check. Runs on 1-4 threads are compared with the sequential run (which
threads pick which calls is up to timing, so these exercise whatever interleaving
happens). And, independent of timing, the calls are run in adversarial orders that the
dependency arrays allow (`_run_permuted`: random ready call, or the last ready one, in
place of the plan's order): if an edge were missing, some such order would read a buffer
before it is written or after its bytes were reused. Before every run each arena is
filled with a poison byte (NaN in every float type, then a finite pattern), so a read of
memory no call of this run wrote changes a result.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import staticflow as sf
from staticflow.runtime import plan as plan_mod
from staticflow.runtime import schedule

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
POISON = (0xFF, 0x5A)


def _config(threads: int, intra: int = 1, **kw) -> sf.ConfigProto:
    """`threads` inter-op threads, each call's kernel on `intra` OpenMP threads (which a
    call keeps however many run at once: its bits depend on it)."""
    return sf.ConfigProto(inter_op_parallelism_threads=threads, intra_op_parallelism_threads=intra, **kw)


def _poison(sess, byte: int) -> None:
    for plans in sess._plans.values():
        for p in plans:
            if p.arena is not None:
                p.arena.fill(byte)


@pytest.fixture(autouse=True)
def _schedule_small_calls(monkeypatch):
    """Schedule calls of every size: the graphs here are small, and the point is the order."""
    monkeypatch.setattr(schedule, "SCHEDULE_MIN_BYTES", 0)


def _random_topo(deps: list, start: int, stop: int, rng) -> list[int]:
    """A random order of calls start..stop-1 that the dependencies allow, drawn to be
    far from the plan's: half the time the last ready call, else any ready one."""
    succ: dict[int, list[int]] = {k: [] for k in range(start, stop)}
    count = {}
    for k in range(start, stop):
        ps = [p for p in deps[k] if p >= start]
        count[k] = len(ps)
        for p in ps:
            succ[p].append(k)
    ready = [k for k in range(start, stop) if count[k] == 0]
    order = []
    while ready:
        i = len(ready) - 1 if rng.random() < 0.5 else int(rng.integers(len(ready)))
        k = ready.pop(i)
        order.append(k)
        for s in succ[k]:
            count[s] -= 1
            if count[s] == 0:
                ready.append(s)
    assert len(order) == stop - start, "the dependencies have a cycle"
    return order


@pytest.fixture
def permuted(monkeypatch):
    """Make runs walk each segment in a random order the dependencies allow (a seeded
    generator), poisoning the arena first."""
    rng = np.random.default_rng(0)

    def run_segments(plan, mode, trace=None):
        deps = schedule.call_dependencies(plan)
        for start, stop, host in plan.segments:
            for k in _random_topo(deps, start, stop, rng):
                code = plan.c_fns[k](plan.c_calls + k)
                if code:
                    raise plan_mod._fail(plan, k, code)
            if host is not None:
                step, fn, ins, outs = host
                plan_mod._run_host(plan.steps[step].op, fn, ins, outs)

    monkeypatch.setattr(plan_mod, "_run_segments", run_segments)


def _train(build, feed_fn, threads: int, steps: int = 3, poison: int = POISON[0], intra: int = 1):
    """Build a fresh graph with `build` (-> (fetches, train op)), train `steps` steps on
    `threads` inter-op threads with the arena poisoned before each run; every fetched value
    and the final variables, as bytes."""
    g = sf.Graph()
    with g.as_default():
        fetches, train = build()
        init = sf.global_variables_initializer()
        variables = sf.global_variables()
    out = []
    with sf.Session(graph=g, config=_config(threads, intra)) as sess:
        sess.run(init)
        for i in range(steps):
            feeds = feed_fn(g, i)
            _poison(sess, poison)
            sess.run(fetches, feeds)  # plan it, then run it poisoned
            _poison(sess, poison)
            values = sess.run([fetches, train], feeds)[0]
            out.extend(np.asarray(v).tobytes() for v in values)
        out.extend(np.asarray(v).tobytes() for v in sess.run(variables))
        widths = [
            s.width for p in (p for ps in sess._plans.values() for p in ps) if p.schedule for s in p.schedule
        ]
    return out, widths


# ---- models -------------------------------------------------------------------------------


def _lenet():
    sys.path.insert(0, str(EXAMPLES))
    import cnn_digits

    def build():
        sf.set_random_seed(1)
        x = sf.placeholder(sf.float32, [8, 16, 16, 1], name="x")
        y = sf.placeholder(sf.int64, [8], name="y")
        logits = cnn_digits.lenet(x, True)
        loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return [loss, logits], sf.train.AdamOptimizer(1e-3).minimize(loss)

    def feeds(g, i):
        rng = np.random.default_rng(i)
        return {
            g.get_tensor_by_name("x:0"): rng.random((8, 16, 16, 1), dtype=np.float32),
            g.get_tensor_by_name("y:0"): rng.integers(0, 10, 8),
        }

    return build, feeds


def _resnet():
    sys.path.insert(0, str(EXAMPLES))
    import cnn_digits

    def build():
        sf.set_random_seed(2)
        x = sf.placeholder(sf.float32, [4, 8, 8, 1], name="x")
        y = sf.placeholder(sf.int64, [4], name="y")
        logits = cnn_digits.resnet(x, True)
        loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        with sf.control_dependencies(sf.get_collection(sf.GraphKeys.UPDATE_OPS)):
            train = sf.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        return [loss], train

    def feeds(g, i):
        rng = np.random.default_rng(i)
        return {
            g.get_tensor_by_name("x:0"): rng.random((4, 8, 8, 1), dtype=np.float32),
            g.get_tensor_by_name("y:0"): rng.integers(0, 10, 4),
        }

    return build, feeds


def _transformer():
    sys.path.insert(0, str(EXAMPLES))
    import transformer_reverse

    def build():
        tokens, targets, loss, accuracy, train = transformer_reverse.build(3)
        return [loss, accuracy], train

    def feeds(g, i):
        rng = np.random.default_rng(i)
        t = rng.integers(0, transformer_reverse.VOCAB, (4, transformer_reverse.LENGTH)).astype(np.int32)
        return {g.get_tensor_by_name("tokens:0"): t, g.get_tensor_by_name("targets:0"): t[:, ::-1].copy()}

    return build, feeds


def _mlp_dropout():
    def build():
        sf.set_random_seed(4)
        x = sf.placeholder(sf.float32, [16, 20], name="x")
        h = sf.layers.dense(x, 32, activation=sf.nn.relu, name="a")
        # random ops in parallel branches: each keeps its own stream
        h = sf.nn.dropout(h, rate=0.3) + sf.nn.dropout(h, rate=0.5) + sf.random_normal([16, 32])
        loss = sf.reduce_mean(sf.square(sf.layers.dense(h, 1, name="b")))
        return [loss], sf.train.GradientDescentOptimizer(0.1).minimize(loss)

    def feeds(g, i):
        return {g.get_tensor_by_name("x:0"): np.random.default_rng(i).random((16, 20), dtype=np.float32)}

    return build, feeds


MODELS = {"lenet": _lenet, "resnet": _resnet, "transformer": _transformer, "mlp_dropout": _mlp_dropout}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_examples_train_bit_identical_on_1_to_4_threads(model):
    build, feeds = MODELS[model]()
    want, _ = _train(build, feeds, 1)
    # the plan has calls that can run at once, so the runs below take the scheduled path
    _, widths = _train(build, feeds, 2, steps=1)
    assert max(widths) > 1
    for threads in (2, 3, 4):
        got, _ = _train(build, feeds, threads, poison=POISON[threads % 2])
        assert got == want, f"{threads} threads"
    # kernels on two OpenMP threads each (cut into other blocks than on one)
    want, _ = _train(build, feeds, 1, intra=2)
    assert _train(build, feeds, 2, intra=2)[0] == want


@pytest.mark.parametrize("model", sorted(MODELS))
def test_examples_train_bit_identical_in_any_order_the_dependencies_allow(model, permuted):
    build, feeds = MODELS[model]()
    want, _ = _train(build, feeds, 1, poison=POISON[1])
    for seed_poison in POISON:
        got, _ = _train(build, feeds, 1, poison=seed_poison)
        assert got == want


# ---- random graphs ------------------------------------------------------------------------

_UNARY = [sf.nn.relu, sf.tanh, sf.negative, lambda t: t * 0.5, lambda t: sf.transpose(t)]
_BINARY = [sf.add, sf.multiply, sf.subtract, sf.matmul, sf.maximum]


@st.composite
def _dags(draw):
    """A random DAG of square float ops over two fed inputs and a variable: `width`
    branches from the inputs, each a few ops deep, joined at random; some branches update
    the variable (assign_add, then reads of it under control edges)."""
    n = draw(st.sampled_from([4, 8]))
    width = draw(st.integers(2, 6))
    depth = draw(st.integers(1, 4))
    ops = []
    for b in range(width):
        for _ in range(depth):
            if draw(st.booleans()):
                ops.append(("u", b, draw(st.integers(0, len(_UNARY) - 1))))
            else:
                ops.append(("b", b, draw(st.integers(0, len(_BINARY) - 1)), draw(st.integers(0, width - 1))))
    updates = draw(st.lists(st.integers(0, width - 1), max_size=3))
    joins = draw(
        st.lists(st.tuples(st.integers(0, width - 1), st.integers(0, width - 1)), min_size=1, max_size=4)
    )
    return n, width, ops, updates, joins


def _build_dag(spec):
    n, width, ops, updates, joins = spec
    x = sf.placeholder(sf.float32, [n, n], name="x")
    z = sf.placeholder(sf.float32, [n, n], name="z")
    v = sf.Variable(np.full((n, n), 0.25, np.float32), name="v")
    heads = [x if b % 3 == 0 else z if b % 3 == 1 else v.read_value() for b in range(width)]
    for op in ops:
        if op[0] == "u":
            heads[op[1]] = _UNARY[op[2]](heads[op[1]])
        else:
            heads[op[1]] = sf.tanh(_BINARY[op[2]](heads[op[1]], heads[op[3]]))
    fetches = list(heads)
    for b in updates:
        upd = sf.assign_add(v, heads[b] * 0.01)
        with sf.control_dependencies([upd]):
            fetches.append(v.read_value() * 1.0)
    for a, b in joins:
        fetches.append(heads[a] - heads[b])
    return x, z, fetches


def _run_dag(spec, threads: int, poison: int):
    g = sf.Graph()
    with g.as_default():
        x, z, fetches = _build_dag(spec)
        init = sf.global_variables_initializer()
    rng = np.random.default_rng(7)
    n = spec[0]
    feeds = {
        x: rng.standard_normal((n, n)).astype(np.float32),
        z: rng.standard_normal((n, n)).astype(np.float32),
    }
    with sf.Session(graph=g, config=_config(threads)) as sess:
        sess.run(init)
        out = []
        for _ in range(2):
            sess.plan(fetches, feeds)
            _poison(sess, poison)
            out.append([np.asarray(v).tobytes() for v in sess.run(fetches, feeds)])
        return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_dags())
def test_random_dags_bit_identical_on_1_to_4_threads(spec):
    want = _run_dag(spec, 1, POISON[0])
    for threads in (2, 4):
        assert _run_dag(spec, threads, POISON[threads // 2 % 2]) == want


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(_dags())
def test_random_dags_bit_identical_in_any_order_the_dependencies_allow(permuted, spec):
    want = _run_dag(spec, 1, POISON[0])
    assert _run_dag(spec, 1, POISON[1]) == want


# ---- ordering, reuse, errors, traces ------------------------------------------------------


def test_variable_updates_keep_program_order():
    # TF1: control edges order the updates; reads between them see each one
    v = sf.Variable(1.0, name="v")
    a = sf.assign_add(v, 2.0, name="a")
    with sf.control_dependencies([a]):
        r1 = v.read_value() * 1.0
        b = sf.assign(v, v.read_value() * 10.0, name="b")
    with sf.control_dependencies([b]):
        r2 = v.read_value() * 1.0
        c = sf.assign_sub(v, 4.0, name="c")
    with sf.control_dependencies([c]):
        r3 = v.read_value() + 0.0
    # independent work beside the chain, so the plan has calls to run at once
    side = [sf.reduce_sum(sf.ones([64, 64]) * float(i)) for i in range(6)]
    with sf.Session(config=_config(4)) as sess:
        for _ in range(3):
            sess.run(v.initializer)
            got = sess.run([r1, r2, r3, *side])
            assert got[:3] == [3.0, 30.0, 26.0]
            assert sess.run(v) == 26.0
        assert max(s.width for s in sess.plan([r1, r2, r3, *side]).schedule) > 1


def test_optimizer_updates_after_every_read_of_the_weights():
    # the gradients read the weights the update then overwrites in place: write after read
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((32, 32)).astype(np.float32)
    xs = rng.standard_normal((8, 32)).astype(np.float32)

    def run(threads):
        g = sf.Graph()
        with g.as_default():
            x = sf.placeholder(sf.float32, [8, 32])
            w = sf.Variable(w0)
            h = [sf.matmul(sf.tanh(x * float(i + 1)), w) for i in range(4)]
            loss = sf.add_n([sf.reduce_sum(sf.square(t)) for t in h])
            train = sf.train.GradientDescentOptimizer(1e-3).minimize(loss)
            init = sf.global_variables_initializer()
        with sf.Session(graph=g, config=_config(threads)) as sess:
            sess.run(init)
            for _ in range(4):
                sess.run(train, {x: xs})
            return sess.run(w).tobytes()

    want = run(1)
    assert run(2) == want and run(4) == want


def test_reused_arena_bytes_get_write_after_read_edges():
    # a long chain beside wide branches: packing reuses bytes, and every call that writes
    # reused bytes follows every earlier reader and writer of them
    x = sf.placeholder(sf.float32, [64, 64], name="x")
    branches = [sf.tanh(sf.matmul(x, x * float(i))) for i in range(6)]
    y = sf.add_n(branches)
    for _ in range(6):
        y = sf.matmul(sf.tanh(y), x)
    with sf.Session(config=_config(4)) as sess:
        xv = np.full((64, 64), 0.01, np.float32)
        sess.run(y, {x: xv})
        plan = sess.plan(y, {x: xv})
    deps = schedule.call_dependencies(plan)
    base = plan.arena.__array_interface__["data"][0]
    # every pair of calls whose arena bytes overlap, one writing, is ordered (transitively)
    n = len(deps)
    before = [set() for _ in range(n)]
    for k in range(n):
        for p in deps[k]:
            before[k] |= before[p] | {p}
    ranges = []
    for k in range(n):
        rec = plan.c_calls[k]
        spans = []
        for j in range(rec.n_in + rec.n_out):
            t = (getattr(rec, "in") if j < rec.n_in else rec.out)[j if j < rec.n_in else j - rec.n_in]
            addr = int(plan.backend.ffi.cast("uintptr_t", t.data))
            size = int(np.prod([t.shape[d] for d in range(t.ndim)])) * 4
            if base <= addr < base + plan.arena.nbytes:
                spans.append((addr, addr + size, j >= rec.n_in))
        ranges.append(spans)
    checked = war = 0
    for k in range(n):
        for j in range(k):
            war += any(
                lo1 < hi2 and lo2 < hi1 and w1 and not w2
                for lo1, hi1, w1 in ranges[k]
                for lo2, hi2, w2 in ranges[j]
            )
            clash = any(
                lo1 < hi2 and lo2 < hi1 and (w1 or w2)
                for lo1, hi1, w1 in ranges[k]
                for lo2, hi2, w2 in ranges[j]
            )
            if clash:
                checked += 1
                assert j in before[k], f"call {k} touches bytes call {j} touched, unordered"
    assert checked > n and war > 0  # bytes were reused


def test_a_failing_kernel_in_a_parallel_segment_names_its_op():
    x = sf.placeholder(sf.float32, [32, 32], name="x")
    ok = [sf.tanh(sf.matmul(x, x * float(i)), name=f"ok{i}") for i in range(4)]
    bad = sf.debugging.check_numerics(sf.log(x - 1.0), "log went wrong", name="checked")
    y = sf.add_n(ok) + bad
    with sf.Session(config=_config(4)) as sess:
        good = np.full((32, 32), 2.0, np.float32)
        sess.run(y, {x: good})
        assert max(s.width for s in sess.plan(y, {x: good}).schedule) > 1
        for _ in range(3):
            with pytest.raises(sf.errors.InvalidArgumentError, match="log went wrong") as e:
                sess.run(y, {x: np.zeros((32, 32), np.float32)})
            assert e.value.op.name == "checked"
        # the session still runs afterwards
        assert np.isfinite(sess.run(y, {x: good})).all()


def test_traced_run_records_each_op_on_the_thread_that_ran_it():
    x = sf.placeholder(sf.float32, [64, 64], name="x")
    branches = [sf.tanh(sf.matmul(x, x * float(i)), name=f"b{i}") for i in range(6)]
    y = sf.add_n(branches, name="y")
    xv = np.full((64, 64), 0.01, np.float32)
    with sf.Session(config=_config(3)) as sess:
        want = sess.run(y, {x: xv})
        md = sf.RunMetadata()
        got = sess.run(
            y, {x: xv}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md
        )
    assert np.array_equal(got, want)
    stats = [ns for d in md.step_stats.dev_stats for ns in d.node_stats]
    names = {ns.node_name for ns in stats}
    assert {f"b{i}" for i in range(6)} <= {n.split("/")[0] for n in names} | names
    tids = {ns.thread_id for ns in stats}
    # lanes: the calling thread and at most two workers (which ones ran what is up to timing)
    assert 1 <= len(tids) <= 3 and max(tids) - min(tids) <= 2
    for ns in stats:
        assert ns.all_end_rel_nanos >= 0
    trace = sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format()
    assert '"thread_name"' in trace


def test_calls_too_small_for_a_thread_of_their_own_run_in_order(monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE_MIN_BYTES", 1 << 15)
    x = sf.placeholder(sf.float32, [16], name="x")
    small = sf.add_n([sf.sin(x * float(i)) for i in range(6)])  # 64-byte calls
    big = sf.placeholder(sf.float32, [128, 128], name="big")
    large = sf.add_n([sf.matmul(big, big * float(i)) for i in range(3)])  # 64 KiB calls
    with sf.Session(config=_config(2)) as sess:
        feeds = {x: np.ones(16, np.float32), big: np.ones((128, 128), np.float32)}
        sess.run(small, feeds)
        sess.run(large, feeds)
        assert [s.width for s in sess.plan(small, feeds).schedule] == [0]
        assert max(s.width for s in sess.plan(large, feeds).schedule) >= 2


@pytest.fixture
def two_fixed_threads():
    """Two OpenMP threads, not chosen per run (the policy could pick one): restored after."""
    from staticflow.backends import cpu

    before = cpu.get_num_threads()
    cpu.set_num_threads(2)
    cpu.set_adaptive_threads(False)
    yield
    cpu.set_adaptive_threads(True)
    cpu.set_num_threads(0)
    assert cpu.get_num_threads() == before


def _shares(sess, fetch, feeds) -> dict[str, int]:
    """One traced run of `fetch`: each op's kernel threads (RunMetadata), by name; checks
    that the Chrome trace shows the same."""
    md = sf.RunMetadata()
    sess.run(fetch, feeds, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
    shares = {ns.node_name: ns.kernel_threads for d in md.step_stats.dev_stats for ns in d.node_stats}
    events = json.loads(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())["traceEvents"]
    shown = {e["args"]["name"]: e["args"]["kernel threads"] for e in events if e["ph"] == "X"}
    assert shown == shares
    return shares


def test_costs_are_bytes_plus_multiply_adds():
    sf.reset_default_graph()
    x = sf.placeholder(sf.float32, [96, 64], name="x")
    w = sf.placeholder(sf.float32, [32, 64], name="w")
    y = sf.matmul(x, w, transpose_b=True, name="y")
    z = sf.tanh(x, name="z")
    feeds = {x: np.ones((96, 64), np.float32), w: np.ones((32, 64), np.float32)}
    with sf.Session(config=_config(2)) as sess:
        sess.run([y, z], feeds)
        plan = sess.plan([y, z], feeds)
    (seg,) = plan.schedule
    costs = {plan.steps[plan.call_steps[k]].op.name: int(c) for k, c in enumerate(seg.keep[-1])}
    nbytes = 4 * (96 * 64 + 32 * 64 + 96 * 32)
    assert costs["y"] == nbytes + 96 * 32 * 64 // schedule.WORK_PER_BYTE
    assert costs["z"] == 4 * 2 * 96 * 64


def test_a_call_far_cheaper_than_a_product_takes_none_of_its_threads(two_fixed_threads):
    """A product ready beside a call of a few bytes' work each (a tanh over as many bytes)
    gets both threads: its share holds for its whole run, which the tanh is a sliver of.
    Two products ready at once are peers: the first to start takes one thread."""
    sf.reset_default_graph()
    x = sf.placeholder(sf.float32, [256, 256], name="x")
    w = sf.placeholder(sf.float32, [256, 512], name="w")
    w2 = sf.placeholder(sf.float32, [256, 512], name="w2")
    big = sf.matmul(x, w, name="big")  # 1.25 MiB, 32 M multiply-adds
    small = sf.tanh(x, name="small")  # 0.5 MiB: under an eighth of big's cost
    other = sf.matmul(x, w2, name="other")
    feeds = {x: np.full((256, 256), 0.01, np.float32), w: np.ones((256, 512), np.float32),
             w2: np.ones((256, 512), np.float32)}
    with sf.Session(config=_config(2, intra=2)) as sess:
        for _ in range(5):
            shares = _shares(sess, [big, small], feeds)
            assert shares["big"] == 2, shares
        pair = _shares(sess, [big, other], feeds)
        assert min(pair["big"], pair["other"]) == 1, pair


def test_one_thread_is_the_plans_order():
    x = sf.placeholder(sf.float32, [16, 16], name="x")
    y = sf.add_n([sf.tanh(x * float(i)) for i in range(5)])
    no_passes = sf.GraphOptions(rewrite_options=sf.RewriterConfig(disable_meta_optimizer=True))
    xv = np.ones((16, 16), np.float32)
    with sf.Session(config=_config(1, graph_options=no_passes)) as sess:
        md = sf.RunMetadata()
        sess.run(y, {x: xv}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
        plan = sess.plan(y, {x: xv})
    stats = [ns for d in md.step_stats.dev_stats for ns in d.node_stats]
    assert len({ns.thread_id for ns in stats}) == 1
    # one entry per step, in the plan's order, each starting after the one before ended
    assert [ns.node_name for ns in stats] == [s.op.name for s in plan.steps if s.calls]
    for a, b in zip(stats, stats[1:]):
        assert b.all_start_nanos >= a.all_start_nanos + a.all_end_rel_nanos


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_scheduled_plans():
    x = sf.placeholder(sf.float32, [32, 32], name="x")
    y = sf.add_n([sf.tanh(sf.matmul(x, x * float(i))) for i in range(4)])
    xv = np.full((32, 32), 0.1, np.float32)
    with sf.Session(config=_config(2)) as sess:
        want = sess.run(y, {x: xv})
        pid = os.fork()
        if pid == 0:  # the child: no workers of its own until it makes them
            code = 0 if np.array_equal(sess.run(y, {x: xv}), want) else 1
            os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked child's run did not finish")
            time.sleep(0.01)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert np.array_equal(sess.run(y, {x: xv}), want)
