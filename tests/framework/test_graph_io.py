"""GraphDef: exact round trips, import with input maps, files in text and binary form."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format

import staticflow as sf


def _model():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, shape=[None, 3], name="x")
        w = sf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        with sf.name_scope("layer"), sf.device("/cpu:0"):
            y = sf.nn.relu(sf.matmul(x, w) + sf.constant([1.0, 2.0]), name="y")
        with sf.control_dependencies([y]):
            z = sf.identity(sf.reduce_sum(y, axis=[1], keepdims=True), name="z")
        sf.concat([y, z], axis=1, name="cat")
        sf.constant(np.array([[1, 2], [3, 4]], np.int64), name="ints")
        sf.constant(np.float64(2.5), name="scalar")
        sf.constant(np.array([True, False]), name="flags")
    return g


def test_round_trip_preserves_every_node_attr_device_and_value():
    g = _model()
    gd = g.as_graph_def()
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(sf.GraphDef.FromString(gd.SerializeToString()), name="")
    gd2 = g2.as_graph_def()
    assert gd2 == gd  # every node, input, attr, device
    assert [o.name for o in g2.get_operations()] == [o.name for o in g.get_operations()]
    assert g2.get_operation_by_name("layer/y").device == "/cpu:0"
    assert g2.get_operation_by_name("z").control_inputs[0].name == "layer/y"
    for name in ("ints", "scalar", "flags", "w/initial_value"):
        a = g.get_operation_by_name(name).get_attr("value")
        b = g2.get_operation_by_name(name).get_attr("value")
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_graph_def_uses_tensorflow_names():
    gd = _model().as_graph_def()
    by_name = {n.name: n for n in gd.node}
    mm = by_name["layer/MatMul"]
    assert mm.op == "MatMul" and list(mm.input) == ["x", "w/read"]
    assert mm.attr["T"].type == 1 and mm.attr["transpose_a"].b is False
    assert by_name["w"].op == "VariableV2"
    assert list(by_name["z"].input) == ["Sum", "^layer/y"]


def test_imported_graph_computes_the_same():
    g = _model()
    xv = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    with sf.Session(graph=g) as sess:
        sess.run(sf.variables_initializer(g.get_collection(sf.GraphKeys.GLOBAL_VARIABLES)))
        want = sess.run("cat:0", {"x:0": xv})
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(g.as_graph_def(), name="imp")
    with sf.Session(graph=g2) as sess:
        sess.run("imp/w/Assign")
        got = sess.run("imp/cat:0", {"imp/x:0": xv})
    np.testing.assert_array_equal(got, want)


def test_input_map_and_return_elements():
    g = _model()
    g2 = sf.Graph()
    with g2.as_default():
        feed = sf.constant(np.ones((2, 3), np.float32), name="ones")
        y, init = sf.import_graph_def(
            g.as_graph_def(), input_map={"x": feed}, return_elements=["layer/y:0", "w/Assign"], name="m"
        )
        assert y.name == "m/layer/y:0" and init.name == "m/w/Assign"
        with sf.Session() as sess:
            sess.run(init)
            np.testing.assert_array_equal(sess.run(y), np.ones((2, 3)) @ np.arange(6).reshape(3, 2) + [1, 2])
        with pytest.raises(ValueError, match="not found in graph_def"):
            sf.import_graph_def(g.as_graph_def(), input_map={"nope:0": feed})
        with pytest.raises(ValueError, match="not found in graph_def"):
            sf.import_graph_def(g.as_graph_def(), return_elements=["nope"])


def test_import_names_unknown_ops():
    gd = sf.GraphDef()
    n = gd.node.add()
    n.name, n.op = "weird", "FancyOp"
    with (
        sf.Graph().as_default(),
        pytest.raises(ValueError, match="'FancyOp', which staticflow does not have"),
    ):
        sf.import_graph_def(gd)


def test_import_of_out_of_order_nodes():
    text = """
    node { name: "b" op: "Neg" input: "a" attr { key: "T" value { type: DT_FLOAT } } }
    node { name: "a" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
           attr { key: "value" value { tensor { dtype: DT_FLOAT
                                                tensor_shape { dim { size: 3 } } float_val: 2 } } } }
    """
    gd = text_format.Parse(text, sf.GraphDef())
    with sf.Graph().as_default() as g2:
        sf.import_graph_def(gd, name="")
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run("b:0"), [-2, -2, -2])  # TF's short float_val repeats
    assert g2.get_operation_by_name("b").inputs[0].op.name == "a"


def test_unknown_attrs_round_trip():
    text = """
    node { name: "a" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
           attr { key: "value" value { tensor { dtype: DT_FLOAT float_val: 1 } } }
           attr { key: "_class" value { list { s: "loc:@a" } } }
           attr { key: "future_flag" value { b: true } } }
    """
    gd = text_format.Parse(text, sf.GraphDef())
    with sf.Graph().as_default() as g:
        sf.import_graph_def(gd, name="")
    out = g.as_graph_def().node[0]
    assert out.attr["future_flag"].b is True


@pytest.mark.parametrize("as_text", [True, False])
def test_write_and_read_graph(tmp_path, as_text):
    g = _model()
    path = sf.io.write_graph(g, str(tmp_path), "model.pbtxt" if as_text else "model.pb", as_text=as_text)
    raw = open(path, "rb").read()
    assert (b'name: "layer/MatMul"' in raw) == as_text
    gd = sf.io.read_graph(path)
    assert gd == g.as_graph_def()


def test_read_graph_errors_name_the_file(tmp_path):
    bad = tmp_path / "junk.pb"
    bad.write_bytes(b"\xff\xfe not a graph {{{")
    with pytest.raises(ValueError, match="junk.pb is not a GraphDef"):
        sf.io.read_graph(str(bad))
    with pytest.raises(OSError, match="missing.pb"):
        sf.io.read_graph(str(tmp_path / "missing.pb"))


def test_tensor_proto_conversions():
    for arr in [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array(3, np.int64),
        np.array([], np.float64),
        np.array([True, False, True]),
        np.array([1, 2], np.uint8),
        np.array(1.5, np.float16),
    ]:
        back = sf.make_ndarray(sf.make_tensor_proto(arr))
        assert back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr)
