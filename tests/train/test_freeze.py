"""Freezing: convert_variables_to_constants gives a GraphDef that runs alone, in a fresh
process, with the trained session's outputs bit for bit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import staticflow as sf


def _trained():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((16, 3)).astype(np.float32)
    x = sf.placeholder(sf.float32, [None, 3], name="input")
    w = sf.Variable(rng.standard_normal((3, 5)).astype(np.float32), name="w")
    b = sf.Variable(np.zeros(5, np.float32), name="b")
    out = sf.nn.relu(sf.matmul(x, w) + b)
    prob = sf.nn.softmax(out, name="prob")
    loss = sf.reduce_sum(prob * prob)
    train = sf.train.AdamOptimizer(0.1).minimize(loss)
    sess = sf.Session()
    sess.run(sf.global_variables_initializer())
    for _ in range(3):
        sess.run(train, {x: xv})
    return sess, xv, prob


def test_freeze_runs_alone_in_a_fresh_process(tmp_path):
    with sf.Graph().as_default() as g:
        sess, xv, prob = _trained()
        with sess:
            frozen = sf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["prob"])
            expected = sess.run(prob, {"input:0": xv})
    ops = {n.op for n in frozen.node}
    assert "VariableV2" not in ops and not ops & {"Assign", "ApplyAdam", "NoOp"}
    assert {n.name for n in frozen.node if n.op == "Const"} >= {"w", "b"}
    sf.io.write_graph(frozen, str(tmp_path), "frozen.pb", as_text=False)
    np.save(tmp_path / "x.npy", xv)
    script = textwrap.dedent(
        """
        import json
        import numpy as np
        import staticflow as sf

        gd = sf.GraphDef.FromString(open("frozen.pb", "rb").read())
        sf.import_graph_def(gd, name="")
        with sf.Session() as sess:
            out = sess.run("prob:0", {"input:0": np.load("x.npy")})
        np.save("out.npy", out)
        print(json.dumps({"ok": True}))
        """
    )
    (tmp_path / "child.py").write_text(script)
    r = subprocess.run(
        [sys.executable, "child.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_extract_sub_graph_and_lists():
    with sf.Graph().as_default() as g:
        sess, xv, prob = _trained()
        with sess:
            gd = g.as_graph_def()
            sub = sf.graph_util.extract_sub_graph(gd, ["prob"])
            assert {n.name for n in sub.node} >= {"input", "w", "w/read", "b", "prob"}
            assert not any(n.op in ("Assign", "ApplyAdam") for n in sub.node)
            names = [n.name for n in gd.node]
            assert [n.name for n in sub.node] == [m for m in names if m in {n.name for n in sub.node}]
            keep_w = sf.graph_util.convert_variables_to_constants(
                sess, gd, ["prob"], variable_names_blacklist=["w"]
            )
            assert {n.name: n.op for n in keep_w.node}["w"] == "VariableV2"
            only_w = sf.graph_util.convert_variables_to_constants(
                sess, gd, ["prob"], variable_names_whitelist=["w"]
            )
            assert {n.name: n.op for n in only_w.node}["b"] == "VariableV2"
            with pytest.raises(ValueError, match="nothere is not in graph"):
                sf.graph_util.extract_sub_graph(gd, ["nothere"])
            with pytest.raises(TypeError):
                sf.graph_util.extract_sub_graph(gd, "prob")


def test_freeze_uninitialized_variable_is_an_error():
    with sf.Graph().as_default() as g:
        sf.Variable(np.ones(2, np.float32), name="v")
        out = sf.identity(g.get_tensor_by_name("v/read:0"), name="out")
        del out
        with sf.Session() as sess:
            with pytest.raises(sf.errors.FailedPreconditionError, match="v"):
                sf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["out"])
