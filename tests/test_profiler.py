"""sf.profiler.Timeline: a traced run's step stats as a Chrome trace."""

from __future__ import annotations

import json

import numpy as np
import pytest

import staticflow as sf
from staticflow.protobuf import config_pb2


def _traced_run():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2, 3], name="x")
        a = sf.tanh(x, name="a")
        b = sf.reduce_sum(a, axis=1, name="b")
        y = sf.argmax(b, name="y")  # not elementwise: its own kernel after the fused group
    md = sf.RunMetadata()
    with sf.Session(graph=g) as sess:
        sess.run(y, {x: np.arange(6, dtype=np.float32).reshape(2, 3)},
                 options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
    return md


def test_every_op_of_the_step_stats_is_a_box_with_its_times_and_inputs():
    md = _traced_run()
    trace = json.loads(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())
    events = trace["traceEvents"]
    boxes = {e["args"]["name"]: e for e in events if e["ph"] == "X"}
    (dev,) = md.step_stats.dev_stats
    assert set(boxes) == {n.node_name for n in dev.node_stats}
    for n in dev.node_stats:
        box = boxes[n.node_name]
        assert box["ts"] == n.all_start_micros and box["dur"] == n.all_end_rel_micros
        assert box["tid"] == n.thread_id and box["pid"] == 0
        assert n.timeline_label.startswith(f"{n.node_name} = {box['name']}(")
    assert boxes["y"]["name"] == "ArgMax" and boxes["y"]["args"]["input0"] == "b:0"
    assert "test_profiler.py" in boxes["y"]["args"]["where"]  # the user's source line
    names = {(e["name"], e.get("tid")): e["args"] for e in events if e["ph"] == "M"}
    assert names[("process_name", None)]["name"] == f"{dev.device} Compute"
    assert names[("thread_name", dev.node_stats[0].thread_id)]["name"] == "thread 0"


def test_dataflow_arrows_join_each_producer_to_its_reader():
    md = _traced_run()
    events = json.loads(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())["traceEvents"]
    boxes = {e["args"]["name"]: e for e in events if e["ph"] == "X"}
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "t"}
    assert set(starts) == set(ends) and starts
    # b (read by y) ends where its arrow starts; the arrow ends where y starts. x is fed: no arrow
    pairs = {(s["ts"], ends[i]["ts"]) for i, s in starts.items()}
    assert (boxes["b"]["ts"] + boxes["b"]["dur"], boxes["y"]["ts"]) in pairs
    reads = [v for e in boxes.values() for k, v in e["args"].items() if k.startswith("input")]
    assert len(starts) == sum(1 for v in reads if v.split(":")[0] in boxes)
    off = json.loads(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format(show_dataflow=False))
    assert not [e for e in off["traceEvents"] if e["ph"] in "st"]


def test_tensorflow_labels_and_several_devices_and_threads():
    stats = config_pb2.RunMetadata().step_stats
    cpu = stats.dev_stats.add(device="/job:localhost/replica:0/task:0/device:CPU:0")
    cpu.node_stats.add(node_name="m", all_start_micros=10, all_end_rel_micros=5, thread_id=7,
                       timeline_label="m = MatMul(x, w)")
    cpu.node_stats.add(node_name="r", all_start_micros=16, all_end_rel_micros=2, thread_id=9,
                       timeline_label="r = Relu(m)")
    other = stats.dev_stats.add(device="/device:CPU:1")
    other.node_stats.add(node_name="n", all_start_micros=11, all_end_rel_micros=1, thread_id=7,
                         timeline_label="n = NoOp()")
    events = json.loads(sf.profiler.Timeline(stats).generate_chrome_trace_format())["traceEvents"]
    boxes = {e["args"]["name"]: e for e in events if e["ph"] == "X"}
    assert boxes["m"]["args"] == {"name": "m", "op": "MatMul", "input0": "x", "input1": "w"}
    assert (boxes["r"]["pid"], boxes["r"]["tid"], boxes["n"]["pid"]) == (0, 9, 1)
    lanes = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert lanes == {(0, 7): "thread 0", (0, 9): "thread 1", (1, 7): "thread 0"}
    (s,) = [e for e in events if e["ph"] == "s"]
    assert (s["ts"], s["tid"]) == (15, 7)  # m's end, on m's lane


def test_show_memory_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no allocation records"):
        sf.profiler.Timeline(config_pb2.RunMetadata().step_stats).generate_chrome_trace_format(show_memory=True)
