"""Meta graph files and saved_model.pb carry a checksum: a flipped bit or a truncation is refused
instead of loading another graph; files without the header (TensorFlow's) still load."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import staticflow as sf
from staticflow.protobuf import meta_graph_pb2, saved_model_pb2
from staticflow.train import meta_graph

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tensorflow")


def _graph():
    x = sf.placeholder(sf.float32, [None, 3], name="x")
    w = sf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
    y = sf.matmul(x, w, name="y")
    sf.add_to_collection("outputs", y)
    sf.add_to_collection("notes", "a string")
    return y


def _written(tmp_path, as_text: bool) -> tuple[str, object]:
    path = str(tmp_path / ("g.meta.pbtxt" if as_text else "g.meta"))
    with sf.Graph().as_default():
        _graph()
        mg = sf.train.export_meta_graph(path, as_text=as_text)
    return path, mg


def _outcome(path, original) -> str:
    """'refused' (DataLossError), 'same' (loaded the graph that was written) or 'different'."""
    try:
        got = meta_graph.read_meta_graph_file(path)
    except sf.errors.DataLossError:
        return "refused"
    got.DiscardUnknownFields()  # a damaged header that no longer reads as one: skipped by the parser
    return "same" if got == original else "different"


@pytest.mark.parametrize("as_text", [False, True])
def test_bit_flips_are_refused(tmp_path, as_text):
    path, original = _written(tmp_path, as_text)
    raw = open(path, "rb").read()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "same": 0, "different": 0}
    for _ in range(300):
        pos = int(rng.integers(len(raw)))
        bad = bytearray(raw)
        bad[pos] ^= 1 << int(rng.integers(8))
        with open(path, "wb") as f:
            f.write(bad)
        outcomes[_outcome(path, original)] += 1
    print(outcomes)
    assert outcomes["different"] == 0, outcomes
    # only a flip inside the header itself can leave the (intact) graph loadable
    assert outcomes["refused"] >= 280, outcomes


@pytest.mark.parametrize("as_text", [False, True])
def test_truncations_are_refused(tmp_path, as_text):
    path, original = _written(tmp_path, as_text)
    raw = open(path, "rb").read()
    for keep in list(range(0, 64)) + list(range(64, len(raw), 37)) + [len(raw) - 1]:
        with open(path, "wb") as f:
            f.write(raw[:keep])
        assert _outcome(path, original) == "refused", keep


def test_header_is_a_protobuf_field_that_other_readers_skip(tmp_path):
    """TensorFlow parses the file with the same wire format: the header is an unknown field to it."""
    path, original = _written(tmp_path, False)
    whole = meta_graph_pb2.MetaGraphDef.FromString(open(path, "rb").read())
    assert whole.meta_info_def == original.meta_info_def and whole.graph_def == original.graph_def
    whole.DiscardUnknownFields()
    assert whole == original
    text_path, _ = _written(tmp_path, True)
    assert open(text_path, "rb").read().startswith(b"# staticflow-crc32: ")  # a comment to a text parser


@pytest.mark.parametrize("name", ["tf_written.meta", "tf_written.meta.pbtxt"])
def test_tensorflow_written_meta_graphs_load(name):
    """Written by TensorFlow 2.21 (tests/fixtures/tensorflow/make_meta_fixtures.py): no header."""
    path = os.path.join(FIXTURES, name)
    assert not open(path, "rb").read().startswith(b"# staticflow")
    with sf.Graph().as_default() as g:
        sf.train.import_meta_graph(path)
        assert [t.name for t in g.get_collection("outputs")] == ["y:0"]
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            out = sess.run("y:0", {"x:0": np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(out, np.ones((2, 3)) @ np.arange(6.0).reshape(3, 2))


def test_meta_graphs_written_before_checksums_still_load(tmp_path):
    path, original = _written(tmp_path, False)
    with open(path, "wb") as f:
        f.write(original.SerializeToString())  # what staticflow wrote before the header
    assert meta_graph.read_meta_graph_file(path) == original


def test_saved_model_bit_flips_are_refused(tmp_path):
    export = tmp_path / "export"
    with sf.Graph().as_default() as g:
        y = _graph()
        with sf.Session(graph=g) as sess:
            sess.run(sf.global_variables_initializer())
            sf.saved_model.simple_save(sess, str(export), {"x": g.get_tensor_by_name("x:0")}, {"y": y})
    pb = export / "saved_model.pb"
    raw = pb.read_bytes()
    assert saved_model_pb2.SavedModel.FromString(raw).meta_graphs  # parses whole, header skipped
    original = saved_model_pb2.SavedModel.FromString(raw).meta_graphs[0].graph_def
    rng = np.random.default_rng(1)
    loaded_different = refused = 0
    for _ in range(100):
        bad = bytearray(raw)
        pos = int(rng.integers(len(raw)))
        bad[pos] ^= 1 << int(rng.integers(8))
        pb.write_bytes(bytes(bad))
        with sf.Graph().as_default() as g2, sf.Session(graph=g2) as sess:
            try:
                mg = sf.saved_model.loader.load(sess, ["serve"], str(export))
            except sf.errors.DataLossError as e:
                assert "saved_model.pb" in str(e)
                refused += 1
                continue
            mg.DiscardUnknownFields()
            loaded_different += mg.graph_def != original
    assert loaded_different == 0
    assert refused >= 95
    shutil.rmtree(export)
