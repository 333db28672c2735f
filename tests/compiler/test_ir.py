"""The IR: building it from a graph, its editing operations, and its verifier."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.compiler.build import build_ir
from staticflow.compiler.ir import FEED, IRGraph


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _ir(fetches, feeds):
    return build_ir(sf.get_default_graph(), fetches, [], feeds)[0]


def test_build_prunes_infers_concrete_shapes_and_keeps_provenance():
    x = sf.placeholder(sf.float32, [None, 3], name="x")
    w = sf.constant(np.ones((3, 4), np.float32), name="w")
    y = sf.nn.relu(sf.matmul(x, w), name="y")
    sf.exp(x, name="unused")
    ir = _ir([y], {x: np.zeros((5, 3), np.float32)})
    types = sorted(n.type for n in ir)
    assert types == sorted([FEED, "Const", "MatMul", "Relu"])
    relu = ir.fetches[0].node
    assert relu.shapes == [(5, 4)] and relu.dtypes == [sf.float32]
    assert [o.name for o in relu.origin] == ["y"] and relu.location[1] > 0
    feed = ir.feeds[x]
    assert feed.type == FEED and feed.shapes == [(5, 3)]
    ir.verify()


def test_users_follow_replace_and_remove():
    x = sf.placeholder(sf.float32, [2], name="x")
    a = sf.exp(x)
    b = sf.sin(a)
    c = sf.cos(a)
    ir = _ir([b, c], {x: np.zeros(2, np.float32)})
    exp = ir.fetches[0].node.inputs[0].node
    assert sorted(u.type for u, _ in exp.users[0]) == ["Cos", "Sin"]
    feed = ir.feeds[x].output(0)
    moved = ir.replace_uses(exp.output(0), feed)
    assert moved == 2 and not exp.has_users()
    ir.remove(exp)
    ir.verify()
    assert all(n.inputs[0] == feed for n in (ir.fetches[0].node, ir.fetches[1].node))
    with pytest.raises(ValueError, match="still has users"):
        ir.remove(ir.feeds[x])


def test_topological_order_is_iterative_and_deterministic():
    ir = IRGraph()
    prev = ir.add("Const", (), {"value": np.float32(1), "dtype": sf.float32}, [()], [sf.float32])
    for _ in range(20000):  # far deeper than Python's recursion limit
        prev = ir.add("Neg", [prev.output(0)], {"T": sf.float32}, [()], [sf.float32])
    order = ir.topo_order()
    assert len(order) == 20001 and order[-1] is prev
    ir.verify()


def test_verifier_names_what_is_broken():
    x = sf.placeholder(sf.float32, [2], name="x")
    y = sf.exp(x, name="e")
    ir = _ir([y], {x: np.zeros(2, np.float32)})
    node = ir.fetches[0].node
    node.users[0].append((node, 0))  # a user list that disagrees with the edges
    with pytest.raises(AssertionError, match="IR node e"):
        ir.verify()
    node.users[0].pop()
    node.shapes[0] = (-1,)
    with pytest.raises(AssertionError, match="not concrete"):
        ir.verify()


def test_cycle_is_reported():
    ir = IRGraph()
    a = ir.add("Const", (), {"value": np.float32(1), "dtype": sf.float32}, [()], [sf.float32])
    b = ir.add("Neg", [a.output(0)], {}, [()], [sf.float32])
    c = ir.add("Neg", [b.output(0)], {}, [()], [sf.float32])
    ir.set_input(b, 0, c.output(0))
    with pytest.raises(ValueError, match="cycle"):
        ir.topo_order()


def test_dump_lists_nodes_in_order_with_fetches():
    x = sf.placeholder(sf.float32, [2], name="x")
    y = sf.exp(x, name="e")
    text = _ir([y], {x: np.zeros(2, np.float32)}).dump()
    lines = text.strip().splitlines()
    assert lines[0].startswith("x = _Feed()") and "e = Exp(x:0)" in lines[1] and "[fetch 0]" in lines[1]
