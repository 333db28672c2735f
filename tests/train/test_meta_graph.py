"""Meta graphs: export -> import in a fresh process -> training continues exactly as if
it had never stopped; collections and the saver come back; damaged files are named."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import staticflow as sf

STEPS_BEFORE, STEPS_AFTER = 5, 6


def _data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 1)) + 0.1).astype(np.float32)
    return x, y


def _build_mlp():
    sf.set_random_seed(3)
    x = sf.placeholder(sf.float32, [None, 4], name="x")
    y = sf.placeholder(sf.float32, [None, 1], name="y")
    w1 = sf.Variable(sf.random_normal([4, 8], seed=1) * 0.5, name="w1")
    b1 = sf.Variable(sf.zeros([8]), name="b1")
    w2 = sf.Variable(sf.random_normal([8, 1], seed=2) * 0.5, name="w2")
    b2 = sf.Variable(sf.zeros([1]), name="b2")
    h = sf.tanh(sf.matmul(x, w1) + b1)
    loss = sf.reduce_mean(sf.square(sf.matmul(h, w2) + b2 - y), name="loss")
    step = sf.train.get_or_create_global_step()
    train = sf.train.AdamOptimizer(0.05).minimize(loss, global_step=step)
    sf.add_to_collection("loss", loss)
    return x, y, loss, train


def _run(script: str, tmp_path) -> dict:
    f = tmp_path / "child.py"
    f.write_text(textwrap.dedent(script))
    r = subprocess.run([sys.executable, str(f)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_resume_training_in_a_fresh_process(tmp_path):
    xv, yv = _data()
    np.save(tmp_path / "x.npy", xv)
    np.save(tmp_path / "y.npy", yv)
    with sf.Graph().as_default():
        x, y, loss, train = _build_mlp()
        saver = sf.train.Saver()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            feed = {x: xv, y: yv}
            for _ in range(STEPS_BEFORE):
                sess.run(train, feed)
            path = saver.save(sess, str(tmp_path / "model"), global_step=sf.train.get_global_step())
            expected = [float(sess.run([loss, train], feed)[0]) for _ in range(STEPS_AFTER)]
    assert path.endswith(f"model-{STEPS_BEFORE}")
    out = _run(
        """
        import json
        import numpy as np
        import staticflow as sf

        saver = sf.train.import_meta_graph("model-5.meta")
        train = sf.get_collection(sf.GraphKeys.TRAIN_OP)[0]
        loss = sf.get_collection("loss")[0]
        feed = {"x:0": np.load("x.npy"), "y:0": np.load("y.npy")}
        with sf.Session() as sess:
            saver.restore(sess, sf.train.latest_checkpoint("."))
            step0 = int(sess.run(sf.train.get_global_step()))
            losses = [float(sess.run([loss, train], feed)[0]) for _ in range(6)]
            names = sorted(v.op.name for v in sf.trainable_variables())
            n_global = len(sf.global_variables())
        print(json.dumps({"losses": losses, "step0": step0, "trainable": names, "n_global": n_global}))
        """,
        tmp_path,
    )
    assert out["step0"] == STEPS_BEFORE
    assert out["trainable"] == ["b1", "b2", "w1", "w2"]
    assert out["n_global"] == 4 + 8 + 3  # weights, Adam slots, beta powers + global step
    assert out["losses"] == expected  # exactly


def test_collections_round_trip_in_process_with_scope(tmp_path):
    with sf.Graph().as_default():
        x, y, loss, train = _build_mlp()
        sf.add_to_collection("names", "hello")
        sf.add_to_collection("ints", 3)
        sf.add_to_collection("floats", 0.5)
        sf.add_to_collection("tensors", loss)
        sf.add_to_collection("my_vars", sf.trainable_variables()[0])
        mg = sf.train.export_meta_graph(str(tmp_path / "g.meta"), as_text=True)
    assert mg.collection_def["trainable_variables"].WhichOneof("kind") == "bytes_list"
    assert list(mg.collection_def["train_op"].node_list.value) == [train.name]
    with sf.Graph().as_default() as g:
        saver = sf.train.import_meta_graph(str(tmp_path / "g.meta"), import_scope="imp")
        assert saver is not None
        assert g.get_collection("names") == ["hello"]
        assert g.get_collection("ints") == [3]
        assert g.get_collection("floats") == [0.5]
        assert g.get_collection("tensors")[0].name == "imp/loss:0"
        assert g.get_collection("my_vars")[0].name == "imp/w1:0"
        assert g.get_collection("train_op")[0].name == "imp/" + train.name
        tv = sf.trainable_variables()
        assert [v.name for v in tv] == ["imp/w1:0", "imp/b1:0", "imp/w2:0", "imp/b2:0"]
        assert tv[0] is g.get_collection("variables")[0]  # one object per variable
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            sess.run(
                g.get_collection("train_op")[0], {"imp/x:0": np.ones((2, 4)), "imp/y:0": np.ones((2, 1))}
            )


def test_damaged_meta_graph_file_is_named(tmp_path):
    with sf.Graph().as_default():
        _build_mlp()
        sf.train.export_meta_graph(str(tmp_path / "g.meta"))
    raw = (tmp_path / "g.meta").read_bytes()
    (tmp_path / "g.meta").write_bytes(raw[: len(raw) // 2])
    with sf.Graph().as_default():
        with pytest.raises((sf.errors.DataLossError, ValueError)) as e:
            sf.train.import_meta_graph(str(tmp_path / "g.meta"))
    assert "g.meta" in str(e.value)
    with sf.Graph().as_default():
        with pytest.raises(sf.errors.NotFoundError, match="nothere.meta"):
            sf.train.import_meta_graph(str(tmp_path / "nothere.meta"))
