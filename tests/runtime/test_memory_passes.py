"""The memory passes: outputs written in place over dying inputs, memory-aware ordering, and
the plain-SGD update fused into its weight-gradient product.

Each pass changes where tensors live and when steps run, never what a kernel computes, so
results with the passes on and off are compared bit for bit (on the examples and on random
graphs); a poisoned run fills every arena byte that no live tensor holds with NaN before
each step, so a read of memory that nothing wrote shows up in the results."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import staticflow as sf
from staticflow import passes
from staticflow.ops.lowering import KernelCall, View
from staticflow.passes import memory_order
from staticflow.runtime import plan as P

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the random programs of the pass property tests (tests/passes is a package of its own)
_random_graphs = _load(
    pathlib.Path(__file__).resolve().parents[1] / "passes" / "random_graphs.py", "memory_random_graphs"
)
build, programs = _random_graphs.build, _random_graphs.programs
MEMORY = ("memory_ordering", "memory_in_place")


@pytest.fixture(autouse=True)
def _own_graph():
    """Each test builds in a graph of its own (other tests rely on the names they get)."""
    with sf.Graph().as_default() as g:
        yield g


def _config(memory: bool, **rewrites) -> sf.ConfigProto:
    rw = sf.RewriterConfig(**rewrites)
    if not memory:
        rw.memory_optimization = sf.RewriterConfig.NO_MEM_OPT
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


def _last_plan(sess) -> P.Plan:
    return [p for ps in sess._plans.values() for p in ps][-1]


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- the poisoned walk ----------------------------------------------------------------------
class _Poisoned:
    """Stands for a plan's kernel table in the Python walk (execute(mode="python")): before
    the first call of each step, every arena byte that no buffer written by an earlier step
    and read from this step on holds becomes 0xFF (NaN in every float type, -1 in the
    integers)."""

    def __init__(self, plan: P.Plan):
        self.plan, self.fns, self.last = plan, plan.c_fns, None
        self.poisoned = 0

    def __getitem__(self, k: int):
        s = self.plan.call_steps[k]
        if s != self.last:
            self.last = s
            keep = np.zeros(self.plan.arena.size, bool)
            for b in self.plan.arena_buffers:
                if b.start < s <= b.end:
                    keep[b.offset : b.offset + P._round(b.nbytes)] = True
            self.plan.arena[~keep] = 0xFF
            self.poisoned += 1
        return self.fns[k]


def _poisoned_run(sess, fetches, feed):
    """Run once (the plan is made), then again with the poisoned walk; the second results."""
    sess.run(fetches, feed)
    p = _last_plan(sess)
    poison = _Poisoned(p)
    p.c_fns = poison
    sess._executor = "python"
    try:
        return sess.run(fetches, feed), poison
    finally:
        p.c_fns, sess._executor = poison.fns, "c"


# --- random graphs --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_memory_passes_on_and_off_agree_bit_for_bit_on_random_graphs(program):
    with sf.Graph().as_default():
        fetches, feed = build(program)
        with sf.Session(config=_config(False)) as s:
            off = s.run(fetches, feed)
        with sf.Session(config=_config(True)) as s:
            on = s.run(fetches, feed)
        with sf.Session(config=_config(True)) as s:
            poisoned, _ = _poisoned_run(s, fetches, feed)
        # unfused, more intermediates to write in place and to order
        with sf.Session(config=_config(True, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
            unfused_on, _ = _poisoned_run(s, fetches, feed)
        with sf.Session(config=_config(False, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
            unfused_off = s.run(fetches, feed)
    for a, b, c in zip(off, on, poisoned, strict=True):
        assert _same_bits(a, b) and _same_bits(a, c)
    for a, b in zip(unfused_off, unfused_on, strict=True):
        assert _same_bits(a, b)


def test_the_poisoned_walk_finds_a_read_of_unwritten_memory():
    """The check itself: a plan whose output buffer starts one step late is read before it
    is written, as far as the poisoned walk knows, and the result turns NaN."""
    x = sf.placeholder(sf.float32, [64])
    y = sf.exp(sf.sin(x))
    z = y * 2.0
    feed = {x: np.linspace(-1, 1, 64).astype(np.float32)}
    with sf.Session(config=_config(False, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
        want = s.run(z, feed)
        (got,), _ = _poisoned_run(s, [z], feed)
        assert _same_bits(got, want)
        p = _last_plan(s)
        # pretend exp's output (read by the last step) is written only after it is read
        exp_step = next(i for i, st in enumerate(p.steps) if st.node.type == "Exp")
        victim = next(b for b in p.arena_buffers if b.start == exp_step)
        victim.start = len(p.steps)
        (bad,), _ = _poisoned_run(s, [z], feed)
    assert np.isnan(bad).all()


# --- the examples ---------------------------------------------------------------------------
def _load_example(name: str):
    return _load(EXAMPLES / f"{name}.py", f"example_memory_{name}")


def _record_example(monkeypatch, name: str, argv: list[str], memory: bool) -> list:
    """Every value the example fetches, with the memory passes on or off."""
    seen: list = []
    run = sf.Session.run
    on = passes.Options.on

    def recording_run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        out = run(self, fetches, feed_dict, options, run_metadata)
        seen.append(out)
        return out

    def switch(self, pass_name: str) -> bool:
        return on(self, pass_name) and (memory or pass_name not in MEMORY)

    monkeypatch.setattr(sf.Session, "run", recording_run)
    monkeypatch.setattr(passes.Options, "on", switch)
    try:
        _load_example(name).main(argv)
    finally:
        monkeypatch.undo()
    return seen


def _flat(values) -> list:
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_flat(v))
        elif isinstance(v, dict):
            out.extend(_flat(list(v.values())))
        elif v is not None:
            out.append(np.asarray(v))
    return out


EXAMPLE_RUNS = {
    "mlp_digits": ["--quiet", "--epochs", "1"],
    "cnn_digits": ["--quiet", "--epochs", "1"],
    "cnn_digits_resnet": ["--quiet", "--epochs", "1", "--model", "resnet"],
    "transformer_reverse": ["--quiet", "--steps", "8"],
}


@pytest.mark.parametrize("case", list(EXAMPLE_RUNS))
def test_examples_train_the_same_with_and_without_memory_passes(case, monkeypatch):
    pytest.importorskip("sklearn")
    name = case.replace("_resnet", "")
    on = _flat(_record_example(monkeypatch, name, EXAMPLE_RUNS[case], True))
    off = _flat(_record_example(monkeypatch, name, EXAMPLE_RUNS[case], False))
    assert len(on) == len(off) >= 9
    assert all(_same_bits(a, b) for a, b in zip(on, off))


# --- in place -------------------------------------------------------------------------------
def _chain_graph():
    x = sf.placeholder(sf.float32, [256], name="x")
    v = sf.Variable(np.linspace(0, 1, 256).astype(np.float32), name="v")
    c = sf.constant(np.full(256, 0.5, np.float32))
    a = sf.exp(x)  # reads the feed: never written over
    b = sf.tanh(v)  # reads the variable: never written over
    d = sf.sin(c)  # reads the constant: folded, or never written over
    e = sf.abs(a) + b  # a dies here: add may write over it
    f = sf.sqrt(sf.abs(e))  # abs over e, sqrt over abs's output
    g = f * d
    return x, v, [g, e], a


def test_in_place_happens_along_a_chain_and_never_on_feeds_variables_or_fetches():
    x, v, fetches, a = _chain_graph()
    feed = {x: np.linspace(-1, 1, 256).astype(np.float32)}
    rw = dict(elementwise_fusion=sf.RewriterConfig.OFF, constant_folding=sf.RewriterConfig.OFF)
    with sf.Session(config=_config(False, **rw)) as s:
        s.run(v.initializer)
        want = s.run(fetches, feed)
        off = _last_plan(s)
    with sf.Session(config=_config(True, **rw)) as s:
        s.run(v.initializer)
        got, _ = _poisoned_run(s, fetches, feed)
        p = _last_plan(s)
        v_after = s.run(v)
    assert all(_same_bits(g, w) for g, w in zip(got, want))
    np.testing.assert_array_equal(v_after, np.linspace(0, 1, 256).astype(np.float32))
    assert off.stats.in_place == 0 and off.in_place == []
    types = {(p.steps[s].node.type, i) for s, i, _j in p.in_place}
    # abs(a) over a; add over abs's output; the second abs over nothing (e is fetched); sqrt
    # over the second abs's output; the product over sqrt's output
    assert ("Abs", 0) in types and ("Sqrt", 0) in types and ("Mul", 0) in types
    assert p.stats.in_place == len(p.in_place) >= 4
    for s_i, i, _j in p.in_place:
        node = p.steps[s_i].node
        src = node.inputs[i].node
        assert src.type not in ("_Feed", "VariableV2", "Const")
    # the fetched e (the sum) is never written over: the abs reading it writes elsewhere
    for s_i, i, _j in p.in_place:
        assert p.steps[s_i].node.inputs[i].node.type not in ("Add", "AddV2")
    # fewer buffers, a smaller arena, and the unplanned sum unchanged
    assert len(p.arena_buffers) == len(off.arena_buffers) - p.stats.in_place
    assert p.stats.arena_bytes < off.stats.arena_bytes
    assert p.stats.intermediate_bytes == off.stats.intermediate_bytes


def test_no_in_place_over_a_view_read_another_way():
    """An input read through a second, different view of its bytes in the same call (a
    transposed one here) may not become the output: the call would read elements the output
    has already overwritten. Identical views (x + x) may."""
    f32 = sf.float32
    a = P.Buffer("arena", 64, start=0, end=1)
    b = P.Buffer("arena", 64, start=1, end=1)
    src, dst = P.Loc(a, 0, (4, 4), f32), P.Loc(b, 0, (4, 4), f32)
    rows = View(("in", 0), f32, (4, 4), (4, 1))
    cols = View(("in", 1), f32, (4, 4), (1, 4))
    out = View(("out", 0), f32, (4, 4), (4, 1))

    def step(second):
        call = KernelCall("sf_cpu_add_float32", [rows, second], [out])
        return P.Step(None, [(call, [(src, rows), (src, second)], [(dst, out)])])

    assert P._can_alias(step(rows.with_((4, 4), (4, 1))), 1, src, dst, set(), None)
    assert not P._can_alias(step(cols), 1, src, dst, set(), None)
    # and never over a buffer that lives on, or that is not the arena's
    a.end = 2
    assert not P._can_alias(step(rows), 1, src, dst, set(), None)
    a.end = 1
    for kind in ("feed", "var", "const", "fetch"):
        a.kind = kind
        assert not P._can_alias(step(rows), 1, src, dst, set(), None)


def test_a_sum_with_its_own_transpose_is_right_in_place():
    x = sf.placeholder(sf.float32, [32, 32])
    y = sf.exp(x)
    z = y + sf.transpose(y)
    feed = {x: np.random.default_rng(0).uniform(-1, 1, (32, 32)).astype(np.float32)}
    with sf.Session(config=_config(True, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
        got, _ = _poisoned_run(s, [z], feed)
    e = np.exp(feed[x])
    np.testing.assert_allclose(got[0], e + e.T, rtol=1e-6)


def test_in_place_step_waits_for_the_other_readers_of_its_input():
    x = sf.placeholder(sf.float32, [128])
    y = sf.exp(x)
    r1 = sf.reduce_sum(y)  # another reader of y, before the in-place step
    z = sf.sin(y)  # y dies here: written over
    feed = {x: np.linspace(-1, 1, 128).astype(np.float32)}
    with sf.Session(config=_config(True, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
        got = s.run([r1, z], feed)
        p = _last_plan(s)
    np.testing.assert_allclose(got[1], np.sin(np.exp(feed[x])), rtol=1e-6)
    (s_sin,) = [s_i for s_i, _i, _j in p.in_place if p.steps[s_i].node.type == "Sin"]
    s_sum = next(i for i, st in enumerate(p.steps) if st.node.type == "Sum")
    if s_sum < s_sin:
        assert s_sum in p.steps[s_sin].deps


# --- ordering -------------------------------------------------------------------------------
def _branchy_graph(n: int = 6, width: int = 1 << 16):
    """n branches, each a large tensor reduced to a scalar: created branch by branch in
    layers (every large tensor first, then every reduction), so the plain order holds all
    of them at once, where branch-at-a-time holds one."""
    x = sf.placeholder(sf.float32, [width])
    bigs = [sf.exp(x * float(k + 1)) for k in range(n)]
    sums = [sf.reduce_sum(b) for b in bigs]
    return x, sf.add_n(sums)


def test_memory_ordering_lowers_the_peak_where_order_matters():
    x, total = _branchy_graph()
    feed = {x: np.linspace(-0.01, 0.01, 1 << 16).astype(np.float32)}
    rw = dict(elementwise_fusion=sf.RewriterConfig.OFF, remapping=sf.RewriterConfig.OFF)
    with sf.Session(config=_config(False, **rw)) as s:
        want = s.run(total, feed)
        off = _last_plan(s)
    with sf.Session(config=_config(True, **rw)) as s:
        got, _ = _poisoned_run(s, [total], feed)
        on = _last_plan(s)
    assert _same_bits(got[0], want)
    big = 4 << 16
    # off: every branch's product and exponential in flight; on: about one branch's
    assert off.stats.peak_bytes >= 6 * big
    assert on.stats.peak_bytes <= 3 * big
    assert on.stats.arena_bytes < off.stats.arena_bytes
    rec = next(r for r in on.pass_log if r.name == "memory_ordering")
    assert rec.changed > 0 and "estimated peak" in rec.notes[0]


def test_memory_ordering_keeps_variable_accesses_in_order():
    """A read of a variable and an assignment to it that no edge orders keep their plain
    order (the read first), though running the assignment first would free memory sooner."""
    v = sf.Variable(np.ones(1 << 14, np.float32))
    x = sf.placeholder(sf.float32, [1 << 14])
    big = sf.exp(x)  # allocated before, alive until the assignment reads it
    read = v * 2.0
    assign = sf.assign(v, big)
    feed = {x: np.zeros(1 << 14, np.float32)}
    for memory in (False, True):
        with sf.Session(config=_config(memory, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
            s.run(v.initializer)
            r, _ = s.run([read, assign], feed)
            np.testing.assert_array_equal(r, np.full(1 << 14, 2.0, np.float32))


def test_peak_estimate_of_the_plain_and_chosen_orders():
    from staticflow.compiler.build import build_ir

    x, total = _branchy_graph(4, 1 << 12)
    ir, ev = build_ir(sf.get_default_graph(), [total], [], {x: np.zeros(1 << 12, np.float32)})
    before = memory_order.peak_bytes(ir)
    ctx = passes.PassContext(ev, passes.Options())
    assert memory_order.run(ir, ctx) > 0
    after = memory_order.peak_bytes(ir)
    assert after < before
    ir.verify()


def test_set_order_refuses_an_order_against_the_edges():
    from staticflow.compiler.build import build_ir

    x = sf.placeholder(sf.float32, [4])
    y = sf.exp(x) + 1.0
    ir, _ev = build_ir(sf.get_default_graph(), [y], [], {x: np.zeros(4, np.float32)})
    order = ir.topo_order()
    with pytest.raises(ValueError, match="before its predecessor"):
        ir.set_order(order[::-1])
    with pytest.raises(ValueError, match="exactly once"):
        ir.set_order(order[:-1])


def test_no_mem_opt_turns_the_memory_passes_off():
    opts = passes.options_from_config(_config(False))
    assert not opts.on("memory_ordering") and not opts.on("memory_in_place")
    on = passes.options_from_config(_config(True))
    assert on.on("memory_ordering") and on.on("memory_in_place")
    sched = sf.RewriterConfig(memory_optimization=sf.RewriterConfig.SCHEDULING_HEURISTICS)
    opts = passes.options_from_config(sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=sched)))
    assert opts.on("memory_ordering") and opts.on("memory_in_place")


# --- a value assigned to a variable computed in its storage ----------------------------------
def _random_variables():
    w = sf.Variable(sf.glorot_uniform_initializer(seed=3)([300, 200]), name="w")
    u = sf.Variable(sf.random_normal([64], seed=4) * 2.0 + 1.0, name="u")  # a chain, in place
    b = sf.Variable(sf.zeros([200]), name="b")
    return [w, u, b]


def test_an_initializer_computes_its_value_in_the_variable():
    """A random initializer's value is drawn straight into the variable: the plan has no
    arena and no copy, and the variables get the values the same ops give on their own."""
    vs = _random_variables()
    init = sf.global_variables_initializer()
    with sf.Session(config=_config(False)) as s:
        s.run(init)
        off_plan = _last_plan(s)
        off = s.run(vs)
    with sf.Session() as s:
        s.run(init)
        p = _last_plan(s)
        on = s.run(vs)
        s.run(init)  # a second run draws again, into the same storage
        again = s.run(vs)
    with sf.Session() as s:  # the initial values fetched, not assigned
        alone = s.run([v.initial_value for v in vs])
    for a, b, c in zip(off, on, alone, strict=True):
        assert _same_bits(a, b) and _same_bits(a, c)
    assert not _same_bits(on[0], again[0]) and not _same_bits(on[1], again[1])
    assert off_plan.stats.arena_bytes >= (300 * 200 + 64) * 4
    assert p.stats.arena_bytes == 0 and p.arena_buffers == []
    # only b's Assign copies (from its constant)
    assert sorted(len(step.calls) for step in p.steps if step.node.type == "Assign") == [0, 0, 1]
    limit = np.sqrt(6 / 500)
    assert 0 < np.abs(on[0]).max() < limit and on[2].tolist() == [0] * 200


def test_an_assigned_value_waits_for_the_variables_earlier_readers():
    """When another step of the run views the variable (a read ordered before the Assign),
    the value keeps a buffer of its own, so the read sees the old value; a value also read
    by other steps is the same wherever it lives."""
    v = sf.Variable(np.ones([500], np.float32), name="v")
    old = v.read_value() * 1.0
    r = sf.random_uniform([500], seed=5)
    with sf.control_dependencies([old]):
        a = v.assign(r)
    r3 = r * 3.0
    with sf.Session() as s:
        s.run(v.initializer)
        got_old, got_a, got_r3 = s.run([old, a, r3])
        p = _last_plan(s)
        now = s.run(v)

    np.testing.assert_array_equal(got_old, np.ones(500, np.float32))
    np.testing.assert_array_equal(got_a, now)
    np.testing.assert_array_equal(got_r3, now * np.float32(3.0))
    assert [len(step.calls) for step in p.steps if step.node.type == "Assign"] == [1]
    r2 = sf.random_uniform([500], seed=6)
    r6 = r2 * 6.0  # read before the Assign: from the variable's storage, the same values
    with sf.control_dependencies([r6]):
        a2 = v.assign(r2)  # no early read of the variable: r2 is drawn into it
    with sf.Session() as s:
        s.run(v.initializer)
        got_a2, got_r6 = s.run([a2, r6])
        p2 = _last_plan(s)
        now = s.run(v)
    np.testing.assert_array_equal(got_a2, now)
    np.testing.assert_array_equal(got_r6, now * np.float32(6.0))
    assert [len(step.calls) for step in p2.steps if step.node.type == "Assign"] == [0]


# --- SGD fused into the weight gradient's product ---------------------------------------------
def _sgd_mlp(lr_kind: str):
    rng = np.random.default_rng(3)
    x = sf.placeholder(sf.float32, [64, 48])
    y = sf.placeholder(sf.int64, [64])
    w1 = sf.Variable(rng.normal(0, 0.2, (48, 96)).astype(np.float32))
    w2 = sf.Variable(rng.normal(0, 0.2, (96, 10)).astype(np.float32))
    h = sf.nn.relu(sf.matmul(x, w1))
    logits = sf.matmul(h, w2)
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    lr = sf.placeholder(sf.float32, []) if lr_kind == "placeholder" else sf.Variable(0.1)
    train = sf.train.GradientDescentOptimizer(lr).minimize(loss)
    feed = {x: rng.uniform(-1, 1, (64, 48)).astype(np.float32), y: rng.integers(0, 10, 64)}
    if lr_kind == "placeholder":
        feed[lr] = np.float32(0.1)
    return [w1, w2], loss, train, feed


@pytest.mark.parametrize("lr_kind", ["placeholder", "variable"])
def test_sgd_fused_into_the_gradient_product_matches_unfused(lr_kind):
    ws, loss, train, feed = _sgd_mlp(lr_kind)
    results = {}
    for fused in (True, False):
        rw = sf.RewriterConfig(remapping=sf.RewriterConfig.ON if fused else sf.RewriterConfig.OFF)
        with sf.Session(config=sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))) as s:
            s.run(sf.global_variables_initializer())
            for _ in range(3):
                s.run(train, feed)
            p = _last_plan(s)
            results[fused] = ([s.run(w) for w in ws], p)
    (w_fused, p_fused), (w_plain, p_plain) = results[True], results[False]
    # the same updates; BLAS sums the product's terms in another order when it accumulates
    # into the variable (C = -lr A^T B + C) than when it writes a gradient (C = A^T B), so
    # the last bits may differ
    for a, b in zip(w_fused, w_plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    fused_types = [st.node.type for st in p_fused.steps]
    assert fused_types.count("_MatMulApplyGradientDescent") == 2
    assert "ApplyGradientDescent" not in fused_types
    # no gradient buffer: no arena buffer of a weight's shape, which the unfused plan has
    weight_bytes = {w.shape.num_elements() * 4 for w in ws}
    assert not any(b.nbytes in weight_bytes for b in p_fused.arena_buffers)
    assert any(b.nbytes in weight_bytes for b in p_plain.arena_buffers)


# --- huge pages -------------------------------------------------------------------------------
def test_large_arenas_are_anonymous_mappings_advised_for_huge_pages():
    arena = P._arena_bytes(P.HUGE_PAGE_MIN_BYTES)
    assert arena.nbytes == P.HUGE_PAGE_MIN_BYTES
    assert arena.__array_interface__["data"][0] % P.ALIGN == 0
    arena[:] = 7  # writable, and its pages are the process's own
    assert int(arena.sum()) == 7 * arena.nbytes
    small = P._arena_bytes(1000)
    assert small.nbytes == 1000 and small.__array_interface__["data"][0] % P.ALIGN == 0
    start = arena.__array_interface__["data"][0]
    assert start % P.HUGE_PAGE == 0
    try:
        mode = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        smaps = pathlib.Path("/proc/self/smaps").read_text()
    except OSError:
        pytest.skip("no transparent huge pages here")
    if "[never]" in mode:
        pytest.skip("transparent huge pages are off")
    # the mapping holding the arena is eligible for huge pages: the advice was taken
    eligible = None
    for line in smaps.splitlines():
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(t, 16) for t in head.split("-"))
            inside = lo <= start < hi
        elif inside and line.startswith("THPeligible:"):
            eligible = line.split()[1] == "1"
    if eligible is None:
        pytest.skip("this kernel does not report THPeligible")
    assert eligible


# --- run metadata -----------------------------------------------------------------------------
def test_full_trace_run_metadata_carries_the_plans_memory_figures():
    x, total = _branchy_graph(3, 1 << 12)
    feed = {x: np.zeros(1 << 12, np.float32)}
    with sf.Session(config=_config(True, elementwise_fusion=sf.RewriterConfig.OFF)) as s:
        md = sf.RunMetadata()
        s.run(total, feed, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
        p = _last_plan(s)
    mem = md.step_stats.dev_stats[0].memory_plan
    assert mem.arena_bytes == p.stats.arena_bytes > 0
    assert mem.intermediate_bytes == p.stats.intermediate_bytes >= mem.arena_bytes
    assert mem.peak_bytes == p.stats.peak_bytes
    assert mem.in_place_outputs == p.stats.in_place
    # TensorFlow's per-node allocator records: each op's arena bytes under allocator "arena"
    total_bytes = 0
    for ns in md.step_stats.dev_stats[0].node_stats:
        for m in ns.memory:
            assert m.allocator_name == "arena"
            assert m.peak_bytes <= p.stats.arena_bytes
            total_bytes += m.total_bytes
    assert total_bytes > 0
