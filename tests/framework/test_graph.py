"""Graph construction: names, scopes, control dependencies, collections, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture
def g(sf_graph):
    return sf_graph


def test_default_graph_and_as_default():
    outer = sf.get_default_graph()
    g = sf.Graph()
    with g.as_default():
        assert sf.get_default_graph() is g
        c = sf.constant(1.0)
    assert sf.get_default_graph() is outer
    assert c.graph is g


def test_unique_names_and_tensor_names(g):
    a = sf.constant(1.0, name="x")
    b = sf.constant(2.0, name="x")
    c = sf.constant(3.0, name="x")
    assert [a.op.name, b.op.name, c.op.name] == ["x", "x_1", "x_2"]
    assert a.name == "x:0"
    assert g.get_tensor_by_name("x_1:0") is b
    assert g.get_operation_by_name("x_2") is c.op


def test_name_scopes_nest_and_uniquify(g):
    with sf.name_scope("layer") as s:
        assert s == "layer/"
        a = sf.constant(1.0, name="c")
        with sf.name_scope("inner"):
            b = sf.constant(1.0, name="c")
    with sf.name_scope("layer") as s2:
        assert s2 == "layer_1/"
        c = sf.constant(1.0)
    with sf.name_scope("layer/"):  # re-enter an existing scope
        d = sf.constant(1.0, name="again")
    assert (a.op.name, b.op.name, c.op.name, d.op.name) == (
        "layer/c",
        "layer/inner/c",
        "layer_1/Const",
        "layer/again",
    )


def test_lookup_errors_name_what_is_wrong(g):
    sf.constant(1.0, name="k")
    with pytest.raises(KeyError, match="does not exist"):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(ValueError, match="looks like an operation name"):
        g.get_tensor_by_name("k")
    with pytest.raises(ValueError, match="looks like a tensor name"):
        g.get_operation_by_name("k:0")
    with pytest.raises(KeyError, match="has 1 outputs"):
        g.get_tensor_by_name("k:3")


def test_control_dependencies(g):
    a = sf.constant(1.0, name="a")
    b = sf.constant(2.0, name="b")
    with sf.control_dependencies([a]):
        c = sf.identity(b)
        with sf.control_dependencies([b.op]):
            d = sf.identity(b)
        with sf.control_dependencies(None):
            e = sf.identity(b)
    assert c.op.control_inputs == [a.op]
    assert d.op.control_inputs == [a.op, b.op] or set(d.op.control_inputs) == {a.op, b.op}
    assert e.op.control_inputs == []


def test_collections(g):
    v = sf.Variable(np.zeros(3, np.float32), name="v")
    u = sf.Variable(np.zeros(2, np.float32), name="u", trainable=False)
    assert sf.global_variables() == [v, u]
    assert sf.trainable_variables() == [v]
    sf.add_to_collection("mine", 3)
    assert sf.get_collection("mine") == [3]
    assert sf.get_collection(sf.GraphKeys.GLOBAL_VARIABLES, scope="u") == [u]


def test_variable_ops_are_named_like_tf1(g):
    sf.Variable(np.ones((3, 2), np.float32), name="w")
    names = [o.name for o in g.get_operations()]
    assert names == ["w/initial_value", "w", "w/Assign", "w/read"]
    assert g.get_operation_by_name("w").type == "VariableV2"


def test_shape_and_dtype_inference(g):
    x = sf.placeholder(sf.float32, shape=[None, 3])
    w = sf.constant(np.ones((3, 5), np.float32))
    y = sf.matmul(x, w)
    assert y.shape.as_list() == [None, 5]
    assert y.get_shape()[1].value == 5
    assert y.dtype == sf.float32
    z = sf.reduce_sum(y, axis=1, keepdims=True)
    assert z.shape.as_list() == [None, 1]
    r = sf.reshape(x, [-1])
    assert r.shape.as_list() == [None]
    assert sf.placeholder(sf.float32).shape.ndims is None


def test_shape_mismatch_names_op_shapes_and_source_line(g):
    a = sf.placeholder(sf.float32, shape=[2, 3], name="a")
    b = sf.placeholder(sf.float32, shape=[4, 5], name="b")
    with pytest.raises(ValueError) as e:
        sf.matmul(a, b, name="prod")
    msg = str(e.value)
    assert "MatMul op 'prod'" in msg
    assert "(2, 3)" in msg and "(4, 5)" in msg
    assert "test_graph.py" in msg  # the user's file and line


def test_broadcast_mismatch_error(g):
    with pytest.raises(ValueError, match=r"AddV2 op .*not broadcast-compatible.*test_graph.py"):
        sf.constant(np.ones((2, 3))) + sf.constant(np.ones((4,)))


def test_dtype_mismatch_error(g):
    a = sf.constant(1.0)
    b = sf.constant(1)
    with pytest.raises(TypeError, match="input y has dtype int32, expected float32"):
        sf.add(a, b)
    with pytest.raises(TypeError, match="Cannot convert 1.5"):
        b + 1.5


def test_operator_overloading_builds_tf_ops(g):
    x = sf.placeholder(sf.float32, [2, 2])
    i = sf.placeholder(sf.int32, [2])
    ops = {
        "AddV2": x + 1,
        "Sub": 1 - x,
        "Mul": x * x,
        "RealDiv": x / 2,
        "FloorDiv": x // 2,
        "FloorMod": x % 2,
        "Pow": x**2,
        "MatMul": x @ x,
        "Neg": -x,
        "Abs": abs(x),
        "Less": x < 1,
        "LessEqual": x <= 1,
        "Greater": x > 1,
        "GreaterEqual": x >= 1,
    }
    for name, t in ops.items():
        assert t.op.type == name, name
    # integer true division casts to float64 first, as TF does
    q = i / 2
    assert q.dtype == sf.float64 and q.op.type == "RealDiv"
    b = x > 0
    assert (b & b).op.type == "LogicalAnd" and (~b).op.type == "LogicalNot"


def test_getitem_shapes(g):
    x = sf.placeholder(sf.float32, [4, 5, 6])
    assert x[1].shape.as_list() == [5, 6]
    assert x[1:3, ::2].shape.as_list() == [2, 3, 6]
    assert x[..., 0].shape.as_list() == [4, 5]
    assert x[None, :, 1].shape.as_list() == [1, 4, 6]
    assert x[::-1].shape.as_list() == [4, 5, 6]
    with pytest.raises(TypeError, match="valid indices"):
        x["a"]


def test_tensor_is_not_a_bool(g):
    with pytest.raises(TypeError, match="as a Python bool"):
        bool(sf.constant(True))


def test_inputs_from_another_graph_are_rejected():
    g1, g2 = sf.Graph(), sf.Graph()
    with g1.as_default():
        a = sf.constant(1.0)
    with g2.as_default():
        b = sf.constant(2.0)
        with pytest.raises(ValueError, match="same graph"):
            sf.add(b, a)


def test_constant_fills_shape_like_tf1(g):
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(sf.constant(7, shape=[2, 2])), np.full((2, 2), 7, np.int32))
        np.testing.assert_array_equal(sess.run(sf.constant([1, 2], shape=[4])), [1, 2, 2, 2])
    with pytest.raises(TypeError, match="Too many elements"):
        sf.constant([1, 2, 3], shape=[2])
    assert sf.constant(1.5).dtype == sf.float32
    assert sf.constant(np.float64(1.5)).dtype == sf.float64
    assert sf.constant(3).dtype == sf.int32


def test_tensor_shape_api():
    s = sf.TensorShape([None, 3])
    assert s.ndims == 2 and not s.is_fully_defined()
    assert s.merge_with([4, None]).as_list() == [4, 3]
    assert s.is_compatible_with([7, 3]) and not s.is_compatible_with([7, 4])
    assert sf.TensorShape(None).ndims is None
    with pytest.raises(ValueError):
        sf.TensorShape(None).as_list()
    assert str(s) == "(?, 3)"
    assert sf.Dimension(None) + 1 == sf.Dimension(None) or (sf.Dimension(None) + 1).value is None


def test_shapes_known_at_construction_are_folded(g):
    x = sf.placeholder(sf.float32, [2, 3, 4])
    from staticflow.ops.builder import constant_value

    np.testing.assert_array_equal(constant_value(sf.shape(x)), [2, 3, 4])
    assert constant_value(sf.rank(x)) == 3 and constant_value(sf.size(x)) == 24
    # a reshape to another tensor's (known) shape gets a fully known static shape
    y = sf.reshape(sf.placeholder(sf.float32, [24]), sf.shape(x))
    assert y.shape.as_list() == [2, 3, 4]
    assert constant_value(sf.shape(sf.placeholder(sf.float32, [None, 3]))) is None
