"""Streams, events and pinned staging on the simulated GPU: one pinned buffer per fed and
fetched tensor per plan, asynchronous copies on the session's stream, one synchronize per
run before the fetches are handed out, and the trace's GPU stream lane."""

from __future__ import annotations

import gc
import json

import numpy as np

import staticflow as sf
from staticflow.framework import backend
from staticflow.runtime import plan as plan_mod

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"


def _graph(shape=(4, 3)):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, shape[1]], name="x")
        with sf.device("/gpu:0"):
            y = sf.exp(x) * sf.tanh(x)
            s = sf.reduce_sum(y)
    return g, x, y, s


def _want(xv):
    y = np.exp(xv) * np.tanh(xv)
    return y, y.sum()


def _device_calls(p) -> list[str]:
    """The symbols of a plan's kernel calls on the device, in the plan's order."""
    syms = []
    for step in p.steps:
        if step.node is not None and not backend.is_host(step.node.device):
            syms += [kc.symbol for kc, _i, _o in step.calls if not isinstance(kc, plan_mod.HostCall)]
    return syms


def test_pinned_staging_is_allocated_once_per_plan_and_each_run_copies_through_it(sim_gpu):
    g, x, y, s = _graph()
    xv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with sf.Session(graph=g) as sess:
        sess.run([y, s], {x: xv})
        # the plan's staging: x (uploaded), y and s (downloaded for the fetches)
        assert sim_gpu.counters.pinned_allocations == 3
        p = sess.plan([y, s], {x: xv})
        (slot,) = p.feeds
        lo = slot.staging.__array_interface__["data"][0]
        assert sim_gpu.is_pinned(lo, lo + slot.staging.nbytes) and not slot.in_place
        sim_gpu.reset()
        for i in range(3):
            got_y, got_s = sess.run([y, s], {x: xv + i})
            want_y, want_s = _want(xv + i)
            np.testing.assert_allclose(got_y, want_y, rtol=1e-6)
            np.testing.assert_allclose(got_s, want_s, rtol=1e-5)
        c = sim_gpu.counters
        assert c.pinned_allocations == 0 and c.allocations == 0  # reused across runs
        assert (c.uploads, c.downloads, c.async_copies) == (3, 6, 9)  # all from or to pinned memory
        assert c.synchronizes == 3  # one per run
        assert c.events == 0  # untraced: no events
        # a second signature is a second plan with staging of its own
        sess.run(s, {x: xv})
        assert sim_gpu.counters.pinned_allocations == 2
    del sess, p, slot
    gc.collect()
    assert sim_gpu.pinned_bytes == 0  # freed with the plans


def test_fetches_are_handed_out_only_after_the_synchronize(sim_gpu, monkeypatch):
    """The simulated copies into pinned memory are done when the stream is waited for: a run
    that did not wait would hand out the staging's garbage (so the wait is what makes the
    values right), and a handed-out fetch is the caller's own (the staging is reused)."""
    g, x, y, s = _graph()
    xv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with sf.Session(graph=g) as sess:
        monkeypatch.setattr(sim_gpu, "synchronize", lambda stream=None: None)
        bad_y, _ = sess.run([y, s], {x: xv})
        assert not np.allclose(bad_y, _want(xv)[0])
        monkeypatch.undo()
        first, _ = sess.run([y, s], {x: xv})
        second, _ = sess.run([y, s], {x: 2 * xv})
    np.testing.assert_allclose(first, _want(xv)[0], rtol=1e-6)
    np.testing.assert_allclose(second, _want(2 * xv)[0], rtol=1e-6)


def test_every_copy_and_kernel_runs_on_the_session_stream_in_plan_order(sim_gpu):
    g, x, y, s = _graph()
    xv = np.ones((4, 3), np.float32)
    with sf.Session(graph=g) as sess:
        sess.run([y, s], {x: xv})
        p = sess.plan([y, s], {x: xv})
        sim_gpu.reset()
        sess.run([y, s], {x: xv})
        stream = sess._variables.stream(GPU)
    assert [sym for _st, _k, sym in sim_gpu.log] == _device_calls(p)
    assert {st for st, _k, _s in sim_gpu.log} == {stream} and stream != 0
    kinds = [k for _st, k, _s in sim_gpu.log]
    assert kinds[0] == "upload" and kinds[-2:] == ["download", "download"]


def test_two_sessions_get_two_streams_each_freed_when_closed(sim_gpu):
    g, x, y, s = _graph()
    xv = np.ones((4, 3), np.float32)
    a, b = sf.Session(graph=g), sf.Session(graph=g)
    sim_gpu.reset()
    a.run(s, {x: xv})
    b.run(s, {x: xv})
    streams = [st for st, _k, _s in sim_gpu.log]
    half = len(streams) // 2
    assert len(set(streams[:half])) == len(set(streams[half:])) == 1 and streams[0] != streams[-1]
    assert sim_gpu.counters.streams == 2
    a.close()
    assert sim_gpu.counters.streams_freed == 1
    b.close()
    assert sim_gpu.counters.streams_freed == 2


def test_a_traced_run_has_a_gpu_stream_lane_with_one_entry_per_device_step(sim_gpu):
    g, x, y, s = _graph()
    xv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    opts = sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE)
    md = sf.RunMetadata()
    with sf.Session(graph=g) as sess:
        sess.run(s, {x: xv})
        sim_gpu.reset()
        got = sess.run(s, {x: xv}, options=opts, run_metadata=md)
        index = sess._variables.stream_index(GPU)
        p = sess.plan(s, {x: xv})
        sess.run(s, {x: xv})  # untraced again: no events
    np.testing.assert_allclose(got, _want(xv)[1], rtol=1e-5)
    device_steps = [st for st in p.steps if st.calls and not backend.is_host(st.node.device)]
    assert sim_gpu.counters.events == 2 * len(device_steps) + 1  # a pair per step, one anchor
    lanes = [d for d in md.step_stats.dev_stats if "/stream:" in d.device]
    assert [d.device for d in lanes] == [f"{GPU}/stream:{index}"]
    (lane,) = lanes
    assert len(lane.node_stats) == len(device_steps)
    assert [n.node_name for n in lane.node_stats] == [st.op.name for st in device_steps]
    starts = [n.all_start_nanos for n in lane.node_stats]
    assert starts == sorted(starts)  # one stream: in order
    # each step's device time is at least the simulated clock's 1 us per call
    for n, st in zip(lane.node_stats, device_steps):
        assert n.all_end_rel_nanos >= 1000 * len(st.calls)
    cpu = [d for d in md.step_stats.dev_stats if "/stream:" not in d.device]
    lo = min(n.all_start_nanos for d in cpu for n in d.node_stats)
    hi = max(n.all_start_nanos + n.all_end_rel_nanos for d in cpu for n in d.node_stats)
    assert lo - 10**9 < starts[0] and starts[-1] < hi + 10**9  # the same clock as the host's
    trace = json.loads(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())
    names = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    (pid,) = [k for k, v in names.items() if v == f"{GPU}/stream:{index} Compute"]
    lanes_named = [e["args"]["name"] for e in trace["traceEvents"]
                   if e["name"] == "thread_name" and e["pid"] == pid]
    assert lanes_named == [f"stream {index}"]
    boxes = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == pid]
    assert len(boxes) == len(device_steps)
    assert sim_gpu.counters.events == 2 * len(device_steps) + 1


def test_zero_size_and_non_contiguous_feeds(sim_gpu):
    g, x, y, s = _graph()
    with sf.Session(graph=g) as sess:
        empty = np.zeros((0, 3), np.float32)
        got_y, got_s = sess.run([y, s], {x: empty})
        assert got_y.shape == (0, 3) and got_s == 0.0
        base = np.linspace(-1, 1, 40, dtype=np.float32).reshape(5, 8)
        xv = base[:, 1::3]  # a strided view: copied into the staging
        assert not xv.flags.c_contiguous
        sess.run([y, s], {x: np.zeros((5, 3), np.float32)})  # the plan of this shape
        sim_gpu.reset()
        got_y, got_s = sess.run([y, s], {x: xv})
        assert sim_gpu.counters.uploads == 1 and sim_gpu.counters.async_copies == 3
    want_y, want_s = _want(np.ascontiguousarray(xv))
    np.testing.assert_allclose(got_y, want_y, rtol=1e-6)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-5)


def test_a_download_a_cpu_step_reads_stays_in_pageable_memory(sim_gpu):
    """Only the copies of fed and fetched tensors go through pinned staging: a value the
    CPU reads later in the run is copied into the host arena, done when its call returns."""
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [6], name="x")
        with sf.device("/gpu:0"):
            a = sf.exp(x)
        with sf.device("/cpu:0"):
            b = sf.sqrt(a) + 1.0
    xv = np.linspace(0, 1, 6, dtype=np.float32)
    with sf.Session(graph=g) as sess:
        sess.run(b, {x: xv})
        assert sim_gpu.counters.pinned_allocations == 1  # x's staging only
        sim_gpu.reset()
        got = sess.run(b, {x: xv})
        c = sim_gpu.counters
        assert (c.uploads, c.downloads, c.async_copies, c.synchronizes) == (1, 1, 1, 1)
    np.testing.assert_allclose(got, np.sqrt(np.exp(xv)) + 1, rtol=1e-6)


def test_device_values_equal_the_cpu_through_the_staging(sim_gpu, make_sim_gpu):
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((16, 5)).astype(np.float32)

    def run(device):
        g = sf.Graph()
        with g.as_default():
            x = sf.placeholder(sf.float32, [None, 5], name="x")
            with sf.device(device):
                w = sf.constant(rng.standard_normal((5, 4)).astype(np.float32))
                h = sf.nn.softmax(sf.matmul(x, w))
                m = sf.reduce_max(h, axis=1)
        with sf.Session(graph=g) as sess:
            return [sess.run([h, m], {x: xv}) for _ in range(2)]

    state = rng.bit_generator.state
    on_gpu = run("/gpu:0")
    assert sim_gpu.counters.async_copies == 2 * 3
    rng.bit_generator.state = state
    on_cpu = run("/cpu:0")
    for (gh, gm), (ch, cm) in zip(on_gpu, on_cpu):
        np.testing.assert_array_equal(gh, ch)
        np.testing.assert_array_equal(gm, cm)
