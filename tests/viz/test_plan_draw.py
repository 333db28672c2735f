"""sf.viz.draw_plan: steps in execution order with shapes, bytes, arena offsets; annotations."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import staticflow as sf

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")


@pytest.fixture
def session():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 4], name="x")
        w = sf.Variable(np.ones((4, 3), np.float32), name="w")
        h = sf.nn.relu(sf.matmul(x, w), name="h")
        out = sf.reduce_sum(h * 2.0, axis=1, name="out")
        init = sf.global_variables_initializer()
    sess = sf.Session(graph=g)
    sess.run(init)
    yield sess, x, out
    sess.close()


def test_steps_numbered_in_execution_order(session):
    sess, x, out = session
    feed = {x: np.ones((5, 4), np.float32)}
    plan = sess.plan(out, feed)
    src = sf.viz.draw_plan(sess, out, feed).source
    # numbered by step (a fused group's cluster may come later in the source)
    titles = sorted(re.findall(r'label="#(\d+) ([^\n"]+)\n', src), key=lambda kv: int(kv[0]))
    assert [int(k) for k, _ in titles] == list(range(1, len(plan.steps) + 1))
    assert [name for _, name in titles] == [s.op.name for s in plan.steps]
    # output shape and bytes, and the arena offset of each arena output
    assert re.search(r"#\d+ h\nRelu\n\[5, 3\] 60 B · arena @ \d+", src)
    assert "variable storage" in src and "fed" in src
    assert "float32 [5,4]" in src  # edges carry the concrete shapes
    assert f"plan: {plan.stats.steps} steps, {plan.stats.kernel_calls} kernel calls" in src
    assert "→ fetched" in src


def test_offsets_match_the_plan(session):
    sess, x, out = session
    feed = {x: np.ones((2, 4), np.float32)}
    plan = sess.plan(out, feed)
    locs = sf.viz.plan.tensor_locs(plan)
    relu = next(s.op for s in plan.steps if s.op.name == "h")
    off = locs[relu.outputs[0]].buf.offset + locs[relu.outputs[0]].byte_offset
    assert f"arena @ {off}" in sf.viz.draw_plan(sess, out, feed).source


def test_annotators_mark_nodes_and_groups(session):
    sess, x, out = session

    def fused(plan, trace):
        for step in plan.steps:
            if step.op.type in ("Relu", "Mul"):
                node = trace.nodes[step.op.name]
                node.scope = "fused_0"
                node.notes.append("fused")
                node.attrs["color"] = "#ff00ff"

    src = sf.viz.draw_plan(sess, out, {x: np.ones((2, 4), np.float32)}, annotators=[fused]).source
    assert "subgraph cluster_fused_0 {" in src
    assert src.count('\nfused"') == 2 and "#ff00ff" in src
    sf.viz.PLAN_ANNOTATORS.append(fused)
    try:
        assert "cluster_fused_0" in sf.viz.draw_plan(sess, out, {x: np.ones((2, 4), np.float32)}).source
    finally:
        sf.viz.PLAN_ANNOTATORS.remove(fused)


@needs_dot
def test_plan_renders(tmp_path, session):
    sess, x, out = session
    feed = {x: np.ones((2, 4), np.float32)}
    sf.viz.draw_plan(sess, out, feed, path=tmp_path / "plan.png")
    assert (tmp_path / "plan.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    sf.viz.draw_plan(sess, [out], feed, path=tmp_path / "plan.svg")
    assert ET.parse(tmp_path / "plan.svg").getroot().tag.endswith("svg")


def test_a_fused_group_is_a_cluster_naming_the_ops_it_replaced(session):
    sess, x, out = session
    feed = {x: np.ones((5, 4), np.float32)}
    plan = sess.plan(out, feed)
    (k,) = [i for i, s in enumerate(plan.steps) if s.node.type == "_FusedMatMul"]
    src = sf.viz.draw_plan(sess, out, feed).source
    assert f"subgraph cluster_step_{k + 1} {{" in src
    assert f'label="#{k + 1} fused kernel _FusedMatMul: 2 ops (Relu, MatMul)"' in src
    # the relu computes the group's value and heads the frame; the product is drawn in it
    assert re.search(rf"#{k + 1} h\nRelu\n\[5, 3\] 60 B · arena @ \d+", src)
    assert f"step {k + 1}: MatMul (MatMul), one of 2 ops computed by one kernel" in src
