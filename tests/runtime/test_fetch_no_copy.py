"""Large fetched tensors are written into storage of their own each run and handed to the
caller without a copy out of the plan's arena; storage the caller has released is reused.

Every test runs with the path forced on (a threshold of one byte) and, where the values
are the point, off (no fetch gets storage of its own), against NumPy. Returned arrays
must be the caller's own: mutating one never changes another returned array or a later
run's result, and no call record keeps a pointer into an array handed out."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime import plan as plan_mod

pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph

N = 4096
ON, OFF = 1, 1 << 62  # thresholds: every fetched kernel-written buffer / none


@pytest.fixture(params=[ON, OFF], ids=["no-copy", "copy"])
def threshold(request, monkeypatch):
    monkeypatch.setattr(plan_mod, "FETCH_NO_COPY_MIN_BYTES", request.param)
    return request.param


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setattr(plan_mod, "FETCH_NO_COPY_MIN_BYTES", ON)


def _x(seed: int = 0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, n).astype(np.float32)


def _chain(x):
    v = sf.tanh(x * 0.5 + 1.0) * sf.exp(x * -0.1)
    return sf.maximum((v - 0.25) * 1.5 + x, -1.0)


def _chain_np(x):
    x = x.astype(np.float64)
    v = np.tanh(x * 0.5 + 1.0) * np.exp(x * -0.1)
    return np.maximum((v - 0.25) * 1.5 + x, -1.0)


def _session(fused: bool = True, executor: str = "c") -> sf.Session:
    toggle = sf.RewriterConfig.DEFAULT if fused else sf.RewriterConfig.OFF
    rw = sf.RewriterConfig(elementwise_fusion=toggle)
    cfg = sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))
    return sf.Session(config=cfg, executor=executor)


def _record_addresses(plan) -> set[int]:
    """Where the records of every fetched buffer of the plan's own point, less their offsets."""
    cast = plan.backend.ffi.cast
    return {
        int(cast("uintptr_t", plan.c_records[r].data)) - off for s in plan.fetch_slots for r, off in s.sites
    }


def _check_slots(sess, fetches, feed, threshold, want: int) -> None:
    """The plan has `want` fetched buffers of its own when the path is on (none when off),
    and between runs their records point nowhere."""
    plan = sess.plan(fetches, feed)
    assert len(plan.fetch_slots) == (want if threshold == ON else 0)
    assert _record_addresses(plan) <= {0}


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("executor", ["c", "python"])
def test_values_and_independent_arrays(threshold, fused, executor):
    x = sf.placeholder(sf.float32, [N])
    y = _chain(x)
    xv = _x()
    want = _chain_np(xv)
    with _session(fused, executor) as sess:
        r1 = sess.run(y, {x: xv})
        r2 = sess.run(y, {x: xv})
        _check_slots(sess, y, {x: xv}, threshold, 1)
        assert not np.shares_memory(r1, r2)
        r1[:] = 7.0  # the caller's own array: the next run and the other result are unaffected
        r3 = sess.run(y, {x: xv})
        r2[:] = -7.0
        r4 = sess.run(y, {x: xv})
    np.testing.assert_allclose(r3, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r4, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(r1, 7.0)
    assert r3.dtype == np.float32 and r3.shape == (N,) and r3.flags.writeable and r3.flags.c_contiguous


def test_traced_run(threshold):
    x = sf.placeholder(sf.float32, [N])
    y = sf.matmul(sf.reshape(x, [64, 64]), sf.reshape(x, [64, 64])) + 1.0
    xv = _x(1)
    a = xv.reshape(64, 64).astype(np.float64)
    md = sf.RunMetadata()
    with sf.Session() as sess:
        opts = sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE)
        got = sess.run(y, {x: xv}, options=opts, run_metadata=md)
        again = sess.run(y, {x: xv})
        _check_slots(sess, y, {x: xv}, threshold, 1)
    assert md.step_stats.dev_stats[0].node_stats
    np.testing.assert_allclose(got, a @ a + 1.0, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got, again)


def test_same_tensor_and_a_view_fetched_twice(threshold):
    x = sf.placeholder(sf.float32, [N])
    y = x * 3.0
    r = sf.reshape(y, [64, 64])
    xv = _x(2)
    with sf.Session() as sess:
        a, b, c = sess.run([y, y, r], {x: xv})
        _check_slots(sess, [y, y, r], {x: xv}, threshold, 1)
    for v in (a, b, c.reshape(-1)):
        np.testing.assert_array_equal(v, xv * np.float32(3.0))
    # three arrays of the caller's own (TensorFlow returns one object for [y, y])
    assert not np.shares_memory(a, b) and not np.shares_memory(a, c) and not np.shares_memory(b, c)
    a[:] = 0.0
    np.testing.assert_array_equal(b, xv * np.float32(3.0))


def test_fetched_input_and_result_of_a_later_op(threshold):
    # b could be computed over a's buffer if a were not fetched: a keeps its value
    x = sf.placeholder(sf.float32, [N])
    a = x + 1.0
    b = a * 2.0
    c = sf.reduce_sum(b)
    xv = _x(3)
    with _session(fused=False) as sess:
        av, bv, cv = sess.run([a, b, c], {x: xv})
        _check_slots(sess, [a, b, c], {x: xv}, threshold, 3)  # c: 4 bytes, over a threshold of 1
    np.testing.assert_array_equal(av, xv + np.float32(1.0))
    np.testing.assert_array_equal(bv, (xv + np.float32(1.0)) * np.float32(2.0))
    np.testing.assert_allclose(cv, np.sum(bv, dtype=np.float64), rtol=1e-4)


def test_fetch_of_fed_tensors(threshold):
    x = sf.placeholder(sf.float32, [N])
    ix = sf.identity(x)
    y = x * 2.0
    xv = _x(4)
    before = xv.copy()
    with sf.Session() as sess:
        fx, fix, fy = sess.run([x, ix, y], {x: xv})
        # the fed tensor gives the fed array (as TensorFlow does), an identity of it a copy
        assert not np.shares_memory(fix, xv)
        # a fed intermediate: its fetch is the fed value, and what reads it reads that
        yv = _x(5)
        fy2, fz = sess.run([y, y + 1.0], {x: xv, y: yv})
        fix[:] = 0.0
        fy[:] = 0.0
        again = sess.run([ix, y], {x: xv})
    np.testing.assert_array_equal(fx, before)
    np.testing.assert_array_equal(xv, before)  # the fed array is left alone
    np.testing.assert_array_equal(again[0], before)
    np.testing.assert_array_equal(again[1], before * np.float32(2.0))
    np.testing.assert_array_equal(fy2, yv)
    np.testing.assert_array_equal(fz, yv + np.float32(1.0))


def test_fetched_variable_then_assigned(threshold):
    init = _x(6)
    v = sf.Variable(init)
    read = sf.identity(v)
    doubled = v * 2.0
    step = sf.assign_add(v, sf.ones([N]))
    with sf.Session() as sess:
        sess.run(v.initializer)
        got_v, got_read, got_doubled = sess.run([v, read, doubled])
        sess.run(step)
        after = sess.run(v)
        got_v[:] = 0.0
        got_read[:] = 0.0
        again = sess.run(read)
    np.testing.assert_array_equal(got_doubled, init * np.float32(2.0))
    np.testing.assert_array_equal(after, init + np.float32(1.0))
    np.testing.assert_array_equal(again, init + np.float32(1.0))


def test_fetch_and_assign_in_one_run(threshold):
    # the fetched read is taken before the update, whose result is fetched too
    init = _x(7)
    v = sf.Variable(init)
    with sf.control_dependencies(None):
        snap = v * 1.0
    with sf.control_dependencies([snap]):
        upd = sf.assign_add(v, sf.ones([N]) * 2.0)
    with sf.Session() as sess:
        sess.run(v.initializer)
        s, u = sess.run([snap, upd])
        s2 = sess.run(snap)
    np.testing.assert_array_equal(s, init)
    np.testing.assert_array_equal(u, init + np.float32(2.0))
    np.testing.assert_array_equal(s2, init + np.float32(2.0))


def test_constants_zero_size_and_strings(forced):
    c = sf.constant(_x(8))
    z = sf.placeholder(sf.float32, [None])
    zs = z * 2.0
    s = sf.constant(np.array([b"ab", b"cde"] * 100, dtype=object))
    joined = sf.strings.join([s, s], separator="-")
    with sf.Session() as sess:
        cv, zv, jv = sess.run([c, zs, joined], {z: np.zeros(0, np.float32)})
        plan = sess.plan([c, zs, joined], {z: np.zeros(0, np.float32)})
        cv[:] = 0.0
        cv2 = sess.run(c)
    assert plan.fetch_slots == []  # a constant, an empty tensor and strings are copied
    np.testing.assert_array_equal(cv2, _x(8))
    assert zv.shape == (0,) and zv.dtype == np.float32
    assert list(jv[:2]) == [b"ab-ab", b"cde-cde"]


def test_host_call_buffers_are_copied(forced):
    # a buffer a host call writes (StringLength) or reads (AsString) keeps its arena slot
    s = sf.placeholder(sf.string, [300])
    n = sf.strings.length(s)
    x = sf.placeholder(sf.float32, [300])
    y = x * 2.0
    t = sf.as_string(y)
    sv = np.array([b"a" * (i % 7) for i in range(300)], dtype=object)
    xv = np.arange(300, dtype=np.float32)
    with sf.Session() as sess:
        nv, yv, tv = sess.run([n, y, t], {s: sv, x: xv})
        plan = sess.plan([n, y, t], {s: sv, x: xv})
        nv[:] = -1
        nv2 = sess.run(n, {s: sv})
    assert plan.fetch_slots == []
    np.testing.assert_array_equal(nv2, [i % 7 for i in range(300)])
    np.testing.assert_array_equal(yv, xv * 2.0)
    assert tv[3] == b"6.000000"


def test_error_mid_run_leaves_the_plan_usable(threshold):
    x = sf.placeholder(sf.float32, [N])
    big = x * 2.0
    idx = sf.placeholder(sf.int32, [None])
    with sf.control_dependencies([big]):
        picked = sf.gather(big, idx)
    xv = _x(9)
    with sf.Session() as sess:
        with pytest.raises(sf.errors.InvalidArgumentError):
            sess.run([big, picked], {x: xv, idx: np.array([0, N + 5], np.int32)})
        _check_slots(sess, [big, picked], {x: xv, idx: np.array([0, 1], np.int32)}, threshold, 2)
        b, p = sess.run([big, picked], {x: xv, idx: np.array([1, N - 1], np.int32)})
    np.testing.assert_array_equal(b, xv * np.float32(2.0))
    np.testing.assert_array_equal(p, [b[1], b[N - 1]])


def test_small_fetches_stay_in_the_arena():
    # the default threshold: a small result is copied out of the arena, a large one is not
    x = sf.placeholder(sf.float32, [None])
    y = x * 2.0
    with sf.Session() as sess:
        small = sess.plan(y, {x: np.ones(16, np.float32)})
        large = sess.plan(y, {x: np.ones(plan_mod.FETCH_NO_COPY_MIN_BYTES // 4, np.float32)})
    assert small.fetch_slots == []
    assert [s.nbytes for s in large.fetch_slots] == [plan_mod.FETCH_NO_COPY_MIN_BYTES]
    assert large.stats.arena_bytes == 0  # its only intermediate is the fetch: no arena slot


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_storage_is_reused_only_once_released(forced):
    x = sf.placeholder(sf.float32, [N])
    y = x * 2.0
    xv = _x(10)
    want = xv * np.float32(2.0)
    with sf.Session() as sess:
        r1 = sess.run(y, {x: xv})
        at = _address(r1)
        del r1  # released: the next run writes into the same memory
        r2 = sess.run(y, {x: xv})
        assert _address(r2) == at
        # a view of a result keeps its storage the caller's: the next run takes other memory
        view = r2[::2]
        del r2
        r3 = sess.run(y, {x: xv})
        assert _address(r3) != at
        r3[:] = -1.0
        r4 = sess.run(y, {x: xv})
        # results kept: each run gets storage of its own
        kept = [sess.run(y, {x: xv}) for _ in range(3)]
    np.testing.assert_array_equal(view, want[::2])
    np.testing.assert_array_equal(r4, want)
    assert len({_address(a) for a in (view, r3, r4, *kept)}) == 6
    for a in kept:
        np.testing.assert_array_equal(a, want)
