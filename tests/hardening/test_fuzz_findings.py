"""Minimized reproducers of what the fuzzer (tests/fuzz) found.

Each input used to end in a raw Python exception (TypeError, OverflowError, ...) instead
of staticflow's error for bad input: a ValueError naming the op while a graph is built
or imported (as TensorFlow raises), an `sf.errors.*` error while it is planned or run.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import graph_pb2, tensor_pb2, tensor_util
from staticflow.ops import builder


# ---------------------------------------------------------------------------
# scalar inputs (axes, counts) given as vectors
# ---------------------------------------------------------------------------
def _vector_axis_graphs():
    """(op name, build(axis tensor) -> output) of ops with an integer scalar input."""
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    return [
        ("ConcatV2", lambda a: builder.apply_op("ConcatV2", [[sf.constant(x), sf.constant(x)], a], {})),
        ("Split", lambda a: builder.apply_op("Split", [a, sf.constant(x)], {"num_split": 1})),
        ("GatherV2", lambda a: builder.apply_op("GatherV2", [sf.constant(x), sf.constant([0, 1]), a], {})),
        ("TopKV2", lambda a: builder.apply_op("TopKV2", [sf.constant(x), a], {})),
    ]


@pytest.mark.parametrize("op_type,build", _vector_axis_graphs(), ids=[n for n, _ in _vector_axis_graphs()])
def test_a_constant_vector_for_a_scalar_input_is_refused_while_building(op_type, build):
    # the shape function used to call int() on the array: TypeError "only 0-dimensional arrays..."
    with sf.Graph().as_default(), pytest.raises(ValueError, match=rf"{op_type} op .*must be a scalar"):
        build(sf.constant([1, 1]))


@pytest.mark.parametrize("op_type,build", _vector_axis_graphs(), ids=[n for n, _ in _vector_axis_graphs()])
def test_a_fed_vector_for_a_scalar_input_is_refused_while_planning(op_type, build):
    g = sf.Graph()
    with g.as_default():
        a = sf.placeholder(sf.int32, None, name="a")
        op = build(a)
    with sf.Session(graph=g) as sess, pytest.raises(sf.errors.InvalidArgumentError, match="must be a scalar"):
        sess.run(op.outputs[0], {a: np.array([1, 1], np.int32)})


def test_an_imported_concat_whose_axis_constant_became_a_vector_is_refused():
    g = sf.Graph()
    with g.as_default():
        sf.concat([sf.constant([[1.0]]), sf.constant([[2.0]])], axis=1, name="c")
    gd = g.as_graph_def()
    for n in gd.node:
        if n.name == "c/axis":
            n.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(np.array([1, 1], np.int32)))
    with sf.Graph().as_default(), pytest.raises(ValueError, match="ConcatV2 op 'c'.*axis must be a scalar"):
        sf.import_graph_def(gd, name="")


# ---------------------------------------------------------------------------
# typed values out of their dtype's range
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,value", [(sf.uint16, 2147483646), (sf.int8, 128), (sf.uint8, -1), (sf.int16, -40000)])
def test_an_int_val_out_of_the_dtype_range_is_refused(dtype, value):
    # int_val carries int32s for every narrower integer type: NumPy raised OverflowError
    p = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    p.tensor_shape.dim.add(size=3)
    p.int_val.append(value)
    with pytest.raises(ValueError, match=f"dtype {dtype.name} holds {value} in int_val, out of its range"):
        tensor_util.make_ndarray(p)


def test_a_graph_def_with_such_a_constant_fails_to_import_with_a_value_error():
    gd = graph_pb2.GraphDef()
    n = gd.node.add(name="c", op="Const")
    n.attr["dtype"].type = sf.uint16.as_datatype_enum
    t = n.attr["value"].tensor
    t.dtype = sf.uint16.as_datatype_enum
    t.tensor_shape.dim.add(size=4)
    t.int_val.append(1 << 20)
    with sf.Graph().as_default(), pytest.raises(ValueError, match="out of its range"):
        sf.import_graph_def(gd, name="")


def test_int_vals_within_range_still_read():
    p = tensor_util.make_tensor_proto(np.array([0, 65535, 7], np.uint16))
    np.testing.assert_array_equal(tensor_util.make_ndarray(p), [0, 65535, 7])
    p = tensor_pb2.TensorProto(dtype=sf.int8.as_datatype_enum)
    p.tensor_shape.dim.add(size=2)
    p.int_val.extend([-128, 127])
    np.testing.assert_array_equal(tensor_util.make_ndarray(p), np.array([-128, 127], np.int8))
