"""sf.ConfigProto, sf.RunOptions and sf.RunMetadata as TF1 scripts use them: the
session's kernel threads, device placement logging, and per-op traces of a run."""

from __future__ import annotations

import time

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import cpu
from staticflow.ops import logging_ops


def _graph():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 4], name="x")
        w = sf.constant(np.arange(12, dtype=np.float32).reshape(4, 3), name="w")
        y = sf.nn.relu(sf.matmul(x, w, name="mm") - 10.0, name="y")
    return g, x, y


@pytest.fixture
def printed_threads(monkeypatch):
    """(graph, x, z, seen): z is the graph's y through a Print whose host side records the
    kernel thread count it runs with into seen."""
    g, x, y = _graph()
    seen = []
    record = lambda *a, **k: seen.append(cpu.get_num_threads())  # noqa: E731
    monkeypatch.setattr(logging_ops, "print", record, raising=False)
    with g.as_default():
        z = sf.Print(y, [y], "y: ")
    return g, x, z, seen


def _relu_mm(feed):
    return np.maximum(feed @ np.arange(12).reshape(4, 3) - 10, 0)


def test_intra_op_threads_apply_during_runs_only(printed_threads):
    g, x, z, seen = printed_threads
    before = cpu.get_num_threads()
    with sf.Session(graph=g, config=sf.ConfigProto(intra_op_parallelism_threads=1)) as sess:
        got = sess.run(z, {x: np.ones((2, 4), np.float32)})
    assert seen == [1]
    assert cpu.get_num_threads() == before
    np.testing.assert_allclose(got, _relu_mm(np.ones((2, 4))))


def test_intra_op_threads_apply_on_the_cached_runs_too(printed_threads):
    """Repeated runs and a make_callable go through the plan's runner (the fast path), which
    sets the config's thread count around each run and restores the caller's."""
    g, x, z, seen = printed_threads
    before = cpu.get_num_threads()
    feed = np.ones((2, 4), np.float32)
    with sf.Session(graph=g, config=sf.ConfigProto(intra_op_parallelism_threads=1)) as sess:
        f = sess.make_callable(z, [x])
        for _ in range(3):
            np.testing.assert_allclose(sess.run(z, {x: feed}), _relu_mm(feed))
            np.testing.assert_allclose(f(feed), _relu_mm(feed))
            assert cpu.get_num_threads() == before
    assert seen == [1] * 6


def test_log_device_placement_names_every_op_once(capsys):
    g, x, y = _graph()
    cfg = sf.ConfigProto(log_device_placement=True, allow_soft_placement=True)
    cfg.gpu_options.allow_growth = True  # accepted, as TF1 scripts set it
    with sf.Session(graph=g, config=cfg) as sess:
        sess.run(y, {x: np.ones((1, 4), np.float32)})
        sess.run(y, {x: np.ones((1, 4), np.float32)})  # the cached plan logs nothing
    lines = capsys.readouterr().err.splitlines()
    assert "mm: (MatMul): /job:localhost/replica:0/task:0/device:CPU:0" in lines
    assert sum(line.startswith("y: (Relu)") for line in lines) == 1


def test_full_trace_times_every_op_of_the_run():
    g, x, y = _graph()
    md = sf.RunMetadata()
    t_before = time.time_ns()
    with sf.Session(graph=g) as sess:
        got = sess.run(
            y, {x: np.ones((3, 4), np.float32)}, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE),
            run_metadata=md,
        )
        untraced = sess.run(y, {x: np.ones((3, 4), np.float32)})
    np.testing.assert_array_equal(got, untraced)
    (dev,) = md.step_stats.dev_stats
    assert dev.device.endswith("device:CPU:0")
    stats = {n.node_name: n for n in dev.node_stats}
    assert {"mm", "y"} <= set(stats)
    # mm, the subtraction and y run as one fused kernel: each has an entry that says so, with the
    # line that made the op
    line = g.get_operation_by_name("mm").location[1]
    label = stats["mm"].timeline_label
    assert label.startswith("mm = MatMul(x:0, w:0) @ ")
    assert label.endswith(f"test_session_config.py:{line} [_FusedMatMul: y, mm, sub]")
    assert stats["y"].op_end_rel_nanos == stats["mm"].op_end_rel_nanos
    starts = [n.all_start_nanos for n in dev.node_stats]
    assert starts == sorted(starts)  # in the order they ran
    for n in dev.node_stats:
        assert t_before - 10**9 <= n.all_start_nanos <= time.time_ns() + 10**9  # wall clock
        assert n.op_end_rel_nanos >= 0 and n.all_end_rel_micros == n.op_end_rel_nanos // 1000


def test_no_trace_leaves_run_metadata_alone():
    g, x, y = _graph()
    md = sf.RunMetadata()
    with sf.Session(graph=g) as sess:
        sess.run(y, {x: np.ones((1, 4), np.float32)}, options=sf.RunOptions(), run_metadata=md)
    assert not md.HasField("step_stats")


@pytest.mark.parametrize("arg", ["config", "options", "run_metadata"])
def test_wrong_message_types_are_refused(arg):
    g, x, y = _graph()
    want = {"config": "ConfigProto", "options": "RunOptions", "run_metadata": "RunMetadata"}[arg]
    with pytest.raises(TypeError, match=f"{arg} must be a {want}"):
        if arg == "config":
            sf.Session(graph=g, config={"intra_op_parallelism_threads": 1})
        else:
            with sf.Session(graph=g) as sess:
                sess.run(y, {x: np.ones((1, 4), np.float32)}, **{arg: 3})


def test_tensorflow_messages_are_accepted():
    """TensorFlow's own ConfigProto/RunOptions/RunMetadata (same field numbers) work too."""
    tf_config = pytest.importorskip("tensorflow.core.protobuf.config_pb2")
    g, x, y = _graph()
    md = tf_config.RunMetadata()
    cfg = tf_config.ConfigProto(intra_op_parallelism_threads=1)
    with sf.Session(graph=g, config=cfg) as sess:
        sess.run(y, {x: np.ones((1, 4), np.float32)},
                 options=tf_config.RunOptions(trace_level=tf_config.RunOptions.FULL_TRACE), run_metadata=md)
    assert "mm" in {n.node_name for n in md.step_stats.dev_stats[0].node_stats}
