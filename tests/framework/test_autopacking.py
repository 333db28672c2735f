"""Auto-packing: every op input converts a (nested) list or tuple holding tensors with TF's
rule (a Pack per list level, the dtype from the tensors or the one asked for). Names,
dtypes, shapes and errors follow tf.compat.v1."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def test_nested_list_of_tensors_and_numbers():
    a, b = sf.placeholder(sf.float32, [], name="a"), sf.placeholder(sf.float32, [], name="b")
    t = sf.convert_to_tensor([[a, 1.0], [b, 2]])
    assert (t.op.type, t.op.name, t.dtype, t.shape.as_list()) == ("Pack", "packed", sf.float32, [2, 2])
    assert [x.op.name for x in t.op.inputs] == ["packed/0", "packed/1"]
    assert [x.op.name for x in t.op.inputs[0].op.inputs] == ["a", "packed/0/1"]
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(t, {a: 3.0, b: 4.0}), [[3, 1], [4, 2]])


def test_dtype_comes_from_the_first_tensor_or_the_one_asked_for():
    i = sf.placeholder(sf.int32, [])
    f = sf.placeholder(sf.float32, [])
    assert sf.convert_to_tensor([i, 2, -1]).dtype == sf.int32
    with pytest.raises(TypeError, match="Expected int32, but got 1.5"):
        sf.convert_to_tensor([i, 1.5])
    with pytest.raises(
        TypeError, match="Cannot convert a list containing a tensor of dtype float32 to int32"
    ):
        sf.convert_to_tensor([i, f])
    cast = sf.convert_to_tensor([i, 2], dtype=sf.float64)  # asked for: tensors are cast
    assert cast.dtype == sf.float64 and cast.op.inputs[0].op.type == "Cast"
    bools = sf.convert_to_tensor((sf.placeholder(sf.bool, []), True))
    assert bools.dtype == sf.bool
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(cast, {i: 5}), [5.0, 2.0])


def test_numpy_arrays_and_lists_beside_a_vector_tensor():
    v = sf.placeholder(sf.float32, [3])
    t = sf.convert_to_tensor([v, np.arange(3.0), [7, 8, 9]])
    assert t.dtype == sf.float32 and t.shape.as_list() == [3, 3]
    with sf.Session() as sess:
        got = sess.run(t, {v: [1, 2, 3]})
    np.testing.assert_array_equal(got, [[1, 2, 3], [0, 1, 2], [7, 8, 9]])
    with pytest.raises(ValueError, match="Pack op"):
        sf.convert_to_tensor([v, 1.0])


def test_every_op_input_packs():
    x = sf.placeholder(sf.float32, [None, 5, 4])
    a = sf.placeholder(sf.float32, [])
    batch = sf.shape(x)[0]
    r = sf.reshape(x, [batch, -1])
    assert r.op.inputs[1].op.type == "Pack" and r.op.inputs[1].op.name == "Reshape/shape"
    r64 = sf.reshape(x, [sf.cast(batch, sf.int64), 20])  # the shape's default int32 is preferred
    assert r64.op.inputs[1].dtype == sf.int32 and r64.shape.as_list() == [None, 20]
    sg = sf.stop_gradient([a])
    assert sg.shape.as_list() == [1] and sg.op.inputs[0].op.name == "StopGradient/input"
    z = sf.zeros([batch, 3])
    assert z.shape.as_list() == [None, 3]
    added = sf.constant([1.0, 2.0]) + [a, 1.0]
    xv = np.arange(40, dtype=np.float32).reshape(2, 5, 4)
    with sf.Session() as sess:
        got = sess.run([r, r64, sg, z, added], {x: xv, a: 0.5})
    np.testing.assert_array_equal(got[0], xv.reshape(2, 20))
    np.testing.assert_array_equal(got[1], xv.reshape(2, 20))
    np.testing.assert_array_equal(got[2], [0.5])
    np.testing.assert_array_equal(got[3], np.zeros((2, 3)))
    np.testing.assert_array_equal(got[4], [1.5, 3.0])


def test_variables_pack_and_gradients_reach_the_packed_tensors():
    w = sf.Variable(2.0, name="w")
    a = sf.placeholder(sf.float32, [])
    m = sf.convert_to_tensor([[w, 1.0], [a, w]])
    y = sf.reduce_sum(m * sf.constant([[1.0, 10.0], [100.0, 1000.0]]))
    gw, ga = sf.gradients(y, [w, a])
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        assert sess.run([gw, ga], {a: 3.0}) == [1001.0, 100.0]


def test_constant_refuses_tensors():
    with pytest.raises(TypeError, match="Expected any non-tensor type, but got a tensor instead"):
        sf.constant([sf.placeholder(sf.float32, []), 1.0])
