"""Frozen TensorFlow 1.x GraphDefs import and compute what TensorFlow computed.

The fixtures in tests/fixtures/tensorflow/ were written by TensorFlow itself (see make_fixtures.py
there for the version and how to remake them); these tests need no TensorFlow.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import staticflow as sf

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tensorflow")
MODELS = ["mlp", "cnn", "array_ops"]


def _graph_files(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)["graphs"]


# every file TensorFlow wrote for a model: frozen binary, the same with default-valued attrs
# stripped (what TF writes with strip_default_attrs=True), and for the MLP the text format
GRAPH_FILES = [(m, f) for m in MODELS for f in _graph_files(m)]


def _load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        meta = json.load(f)
    with np.load(os.path.join(FIXTURES, name + ".npz")) as z:
        inputs = [z[f"in{i}"] for i in range(len(meta["inputs"]))]
        outputs = [z[f"out{i}"] for i in range(len(meta["outputs"]))]
    return meta, inputs, outputs


def _run(graph_def, meta, inputs):
    with sf.Graph().as_default() as g:
        sf.import_graph_def(graph_def, name="")
    with sf.Session(graph=g) as sess:
        got = sess.run(meta["outputs"], dict(zip(meta["inputs"], inputs, strict=True)))
    return g, got


def _check(got, want, names):
    assert len(got) == len(want)
    for name, a, b in zip(names, got, want, strict=True):
        a = np.asarray(a)
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, name
        if np.issubdtype(b.dtype, np.floating):
            scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("name,fname", GRAPH_FILES)
def test_frozen_tensorflow_graph_gives_tensorflows_results(name, fname):
    meta, inputs, want = _load(name)
    gd = sf.io.read_graph(os.path.join(FIXTURES, fname))
    assert len(gd.node) > 0 and gd.versions.producer > 0  # TF's producer version, kept as read
    _, got = _run(gd, meta, inputs)
    _check(got, want, meta["outputs"])


def test_tensorflow_text_and_binary_graph_defs_read_the_same():
    assert sf.io.read_graph(os.path.join(FIXTURES, "mlp.pbtxt")) == sf.io.read_graph(
        os.path.join(FIXTURES, "mlp.pb")
    )


@pytest.mark.parametrize("name", MODELS)
def test_graph_def_from_bytes_and_prefixed_import(name):
    meta, inputs, want = _load(name)
    with open(os.path.join(FIXTURES, name + ".pb"), "rb") as f:
        gd = sf.GraphDef.FromString(f.read())
    with sf.Graph().as_default() as g:
        outs = sf.import_graph_def(gd, return_elements=meta["outputs"], name="tf")
    assert all(t.name.startswith("tf/") for t in outs)
    with sf.Session(graph=g) as sess:
        got = sess.run(outs, {"tf/" + k: v for k, v in zip(meta["inputs"], inputs, strict=True)})
    _check(got, want, meta["outputs"])


@pytest.mark.parametrize("name", MODELS)
def test_reexported_graph_reads_back_and_gives_the_same_results(tmp_path, name):
    meta, inputs, want = _load(name)
    gd = sf.io.read_graph(os.path.join(FIXTURES, name + ".pb"))
    g, first = _run(gd, meta, inputs)
    exported = g.as_graph_def()
    assert sorted(n.name for n in exported.node) == sorted(n.name for n in gd.node)
    for as_text, fname in ((False, "again.pb"), (True, "again.pbtxt")):
        path = sf.io.write_graph(g, str(tmp_path), fname, as_text=as_text)
        gd2 = sf.io.read_graph(path)
        assert gd2 == exported
        g2, second = _run(gd2, meta, inputs)
        assert g2.as_graph_def() == exported  # a fixed point after one round trip
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)
    _check(second, want, meta["outputs"])


def test_tensorflow_attrs_staticflow_does_not_declare_are_kept():
    gd = sf.io.read_graph(os.path.join(FIXTURES, "mlp.pb"))
    tf_mm = next(n for n in gd.node if n.op == "MatMul")
    with sf.Graph().as_default() as g:
        sf.import_graph_def(gd, name="")
    out = {n.name: n for n in g.as_graph_def().node}[tf_mm.name]
    for k, v in tf_mm.attr.items():
        if not k.startswith("_"):
            assert out.attr[k] == v, k  # declared or not (grad_a, grad_b), written back as read


def test_unknown_tensorflow_op_is_named_with_its_node():
    meta, _, _ = _load("unknown_op")
    op_type, node = meta["expect_error"]["op"], meta["expect_error"]["node"]
    gd = sf.io.read_graph(os.path.join(FIXTURES, "unknown_op.pb"))
    assert any(n.op == op_type and n.name == node for n in gd.node)
    with sf.Graph().as_default() as g, pytest.raises(ValueError) as e:
        sf.import_graph_def(gd, name="")
    msg = str(e.value)
    assert f"'{op_type}'" in msg and f"'{node}'" in msg and "does not have" in msg
    assert g.get_operations() == []  # nothing half-imported
