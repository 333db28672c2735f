"""Copies, device memory and streams on the simulated GPU: uploads and downloads counted per
run, variables kept on the device, one arena per plan and device, the stream's order, and
values equal to the CPU's (examples trained over several steps included)."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import cpu
from staticflow.backends import simulated as sim_mod
from staticflow.framework import backend

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"


def _graph():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [4, 3], name="x")
        with sf.device("/gpu:0"):
            a = sf.exp(x)  # x read twice on the device: uploaded once
            b = sf.tanh(x)
            y = a * b
            s = sf.reduce_sum(y)
    return g, x, y, s


def test_a_fed_tensor_is_uploaded_once_per_run_and_each_fetch_downloaded_once(sim_gpu):
    g, x, y, s = _graph()
    xv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with sf.Session(graph=g) as sess:
        sess.run([y, s], {x: xv})  # the plan is built (constants uploaded then)
        sim_gpu.reset()
        for _ in range(3):
            got_y, got_s = sess.run([y, s], {x: xv})
    want = np.exp(xv) * np.tanh(xv)
    np.testing.assert_allclose(got_y, want, rtol=1e-6)
    np.testing.assert_allclose(got_s, want.sum(), rtol=1e-5)
    c = sim_gpu.counters
    assert (c.uploads, c.downloads) == (3, 6)
    assert c.upload_bytes == 3 * xv.nbytes
    assert c.download_bytes == 3 * (want.nbytes + 4)
    assert c.allocations == 0  # the plan's memory is reused across runs


def test_stream_order_puts_uploads_before_and_downloads_after_the_kernels(sim_gpu):
    g, x, y, s = _graph()
    with sf.Session(graph=g) as sess:
        sess.run(s, {x: np.ones((4, 3), np.float32)})
        sim_gpu.reset()
        sess.run(s, {x: np.ones((4, 3), np.float32)})
    kinds = [k for _stream, k, _sym in sim_gpu.log]
    assert kinds[0] == "upload" and kinds[-1] == "download"
    assert set(kinds[1:-1]) == {"launch"}
    streams = {st for st, _k, _s in sim_gpu.log}
    assert len(streams) == 1 and 0 not in streams  # the session's own stream, every call


def test_each_session_has_its_own_stream(sim_gpu):
    g, x, y, s = _graph()
    xv = np.ones((4, 3), np.float32)
    seen = []
    for _ in range(2):
        with sf.Session(graph=g) as sess:
            sim_gpu.reset()
            sess.run(s, {x: xv})
            seen.append({st for st, _k, _s in sim_gpu.log})
    assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1]


def test_one_allocation_per_plan_on_the_device_holding_its_arena_and_constants(sim_gpu):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [64], name="x")
        with sf.device("/gpu:0"):
            c = sf.constant(np.arange(64, dtype=np.float32))
            y = sf.reduce_sum(sf.exp(x * c) + c)
    xv = np.full(64, 0.01, np.float32)
    with sf.Session(graph=g) as sess:
        before = sim_gpu.counters.allocations
        got = sess.run(y, {x: xv})
        p = sess.plan(y, {x: xv})
        assert sim_gpu.counters.allocations == before + 1
        (da,) = p.device_arenas.values()
        assert da.device == GPU and da.arena_bytes >= 64 * 4 and da.const_bytes >= 64 * 4
        assert p.stats.arena_bytes < da.arena_bytes  # the host's part holds only the download
        for _ in range(3):
            sess.run(y, {x: xv})
        assert sim_gpu.counters.allocations == before + 1
    cv = np.arange(64, dtype=np.float32)
    np.testing.assert_allclose(got, (np.exp(xv * cv) + cv).sum(), rtol=1e-5)


def test_variables_stay_on_the_device_across_runs(sim_gpu):
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:0"):
            v = sf.Variable(np.zeros(5, np.float32), name="v")
            inc = sf.assign_add(v, np.ones(5, np.float32))
        init = sf.global_variables_initializer()
    with sf.Session(graph=g) as sess:
        sess.run(init)
        sess.run(inc.op)
        sim_gpu.reset()
        for _ in range(4):
            sess.run(inc.op)
        assert (sim_gpu.counters.uploads, sim_gpu.counters.downloads) == (0, 0)
        assert sess._variables.device_of("v") == GPU
        np.testing.assert_array_equal(sess.run(v), np.full(5, 5.0, np.float32))
        assert sim_gpu.counters.downloads == 1  # fetching it: one download


def test_a_kernel_given_a_host_pointer_fails_and_names_it(sim_gpu):
    fn = sim_gpu.kernel("sf_cpu_neg_float32")
    a = np.ones(4, np.float32)
    out = np.zeros(4, np.float32)
    call = cpu.ffi.new("sf_call *")
    ins, outs = cpu.ffi.new("sf_tensor[1]"), cpu.ffi.new("sf_tensor[1]")
    cpu.array_record(ins[0], a)
    cpu.array_record(outs[0], out)
    call.n_in = call.n_out = 1
    setattr(call, "in", ins)
    call.out = outs
    assert fn(call) != 0
    assert "given a host pointer as its input 0" in cpu.ffi.string(call.msg).decode()
    assert (out == 0).all()  # nothing ran


def test_a_plan_that_misses_a_copy_is_caught_before_running(sim_gpu, monkeypatch):
    from staticflow.passes import copy_insertion

    monkeypatch.setattr(copy_insertion, "run", lambda ir, ctx: 0)
    g, x, y, s = _graph()
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.InternalError, match="no copy was inserted"):
            sess.run(s, {x: np.ones((4, 3), np.float32)})


def test_random_ops_keep_their_stream_on_the_device_and_match_the_cpu(sim_gpu):
    def draws(device_scope):
        g = sf.Graph()
        with g.as_default(), sf.device(device_scope):
            sf.set_random_seed(3)
            r = sf.random_uniform([6], seed=4)
        with sf.Session(graph=g) as sess:
            return [sess.run(r) for _ in range(3)]

    on_gpu = draws("/gpu:0")
    assert [sym for _st, k, sym in sim_gpu.log if k == "launch"] == ["sf_cpu_random_uniform_float32"] * 3
    on_cpu = draws("/cpu:0")
    for a, b in zip(on_gpu, on_cpu):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(on_gpu[0], on_gpu[1])  # the state advanced on the device


def _mlp(seed: int = 0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((32, 8)).astype(np.float32)
    ys = (xs[:, 0] + xs[:, 1] > 0).astype(np.int64)
    g = sf.Graph()
    with g.as_default():
        sf.set_random_seed(7)
        x = sf.placeholder(sf.float32, [None, 8], name="x")
        y = sf.placeholder(sf.int64, [None], name="y")
        h = sf.layers.dense(x, 16, activation=sf.nn.relu)
        logits = sf.layers.dense(h, 2)
        loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = sf.train.AdamOptimizer(0.05).minimize(loss)
        init = sf.global_variables_initializer()
    return g, x, y, loss, step, init, xs, ys


def _train(config=None, steps=6):
    g, x, y, loss, step, init, xs, ys = _mlp()
    with sf.Session(graph=g, config=config) as sess:
        sess.run(init)
        losses = [sess.run([loss, step], {x: xs, y: ys})[0] for _ in range(steps)]
        saver_vals = {v.op.name: sess.run(v) for v in g.get_collection("variables")}
    return np.array(losses), saver_vals


def test_mlp_training_on_the_simulated_gpu_equals_the_cpu():
    want, want_vars = _train()
    dev = sim_mod.install()
    try:
        got, got_vars = _train()
        assert dev.counters.launches > 0
    finally:
        sim_mod.uninstall()
    assert want[-1] < want[0]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for k in want_vars:
        np.testing.assert_allclose(got_vars[k], want_vars[k], rtol=1e-5, atol=1e-6)


def test_a_saver_round_trip_of_device_variables(sim_gpu, tmp_path):
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:0"):
            v = sf.Variable(np.arange(4, dtype=np.float32), name="v")
            double = sf.assign(v, v * 2.0)
        saver = sf.train.Saver()
        init = sf.global_variables_initializer()
    with sf.Session(graph=g) as sess:
        sess.run(init)
        sess.run(double)
        path = saver.save(sess, str(tmp_path / "ckpt"))
        sess.run(double)
        saver.restore(sess, path)
        assert sess._variables.device_of("v") == GPU
        np.testing.assert_array_equal(sess.run(v), np.arange(4, dtype=np.float32) * 2)


def test_a_cpu_only_session_takes_no_device_path():
    assert not backend.has_devices()
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [3], name="x")
        y = sf.exp(x)
    with sf.Session(graph=g) as sess:
        p = sess.plan(y, {x: np.zeros(3, np.float32)})
    assert p.device_arenas == {}
    assert [r.name for r in p.pass_log if r.name in ("placement", "copy_insertion")] == []


def test_a_variable_a_later_plan_must_place_elsewhere_moves_with_its_value(make_sim_gpu):
    # the GPU lacks the momentum update: a plan added later that updates the variable with it
    # keeps it on the CPU, so the variable moves there, value and all, and the session's
    # earlier plans (pointing at its device storage) are planned again
    dev = make_sim_gpu(kernels=lambda sym: "momentum" not in sym)
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:0"):
            v = sf.Variable(np.zeros(4, np.float32), name="v")
            inc = sf.assign_add(v, np.ones(4, np.float32))
        init = sf.global_variables_initializer()
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=True)) as sess:
        sess.run(init)
        sess.run(inc.op)
        assert sess._variables.device_of("v") == GPU
        with g.as_default(), sf.device("/gpu:0"):
            opt = sf.train.MomentumOptimizer(0.25, 0.0)
            step = opt.minimize(sf.reduce_sum(v * v))  # v -= 0.25 * 2v
            slots = sf.variables_initializer(opt.variables())
        sess.run(slots)
        sess.run(step)
        assert sess._variables.device_of("v") == "" and sess._variables.moved == 1
        np.testing.assert_array_equal(sess.run(v), [0.5] * 4)
        sess.run(inc.op)  # planned again, on the variable's new home
        np.testing.assert_array_equal(sess.run(v), [1.5] * 4)
        assert sess._variables.moved == 1  # and it stays there
    assert dev.counters.downloads >= 1
