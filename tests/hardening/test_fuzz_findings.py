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
@pytest.mark.parametrize(
    "dtype,value", [(sf.uint16, 2147483646), (sf.int8, 128), (sf.uint8, -1), (sf.int16, -40000)]
)
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


# ---------------------------------------------------------------------------
# output counts from a file
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("op_type,attr", [("Unpack", "num"), ("Split", "num_split"), ("SplitV", "num_split")])
def test_a_huge_output_count_is_refused_before_any_output_is_made(op_type, attr):
    # Unpack with num = 2**40 used to build a list of 2**40 output dtypes: MemoryError
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None], name="x")
        if op_type == "Unpack":
            sf.unstack(x, num=2, name="op")
        elif op_type == "Split":
            sf.split(x, 2, name="op")
        else:
            sf.split(x, [1, 1], name="op")
    gd = g.as_graph_def()
    for n in gd.node:
        if n.op == op_type:
            n.attr[attr].i = 1 << 40
    with sf.Graph().as_default(), pytest.raises(ValueError, match=f"{attr}.* is more than the maximum"):
        sf.import_graph_def(gd, name="")


# ---------------------------------------------------------------------------
# shapes that do not fit a 32-bit out_type
# ---------------------------------------------------------------------------
def test_a_shape_dimension_beyond_int32_is_refused_for_an_int32_shape():
    # NumPy's OverflowError escaped the shape's partial evaluation while building a reshape
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [2, 1 << 40])
        with pytest.raises(ValueError, match="Shape output type is 32-bit but dim 1 is 1099511627776"):
            sf.reshape(sf.zeros([2]), sf.shape(x))
        y = sf.reshape(sf.zeros([2]), sf.shape(x, out_type=sf.int64)[:1])  # int64 holds it
        assert y.shape.as_list() == [2]


def test_a_size_beyond_int32_is_refused_for_an_int32_size():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [1 << 16, 1 << 16])
        with pytest.raises(ValueError, match="larger than representable by int32"):
            sf.reshape(sf.zeros([1]), [sf.size(x)])
        y = sf.reshape(sf.zeros([1]), [sf.size(x, out_type=sf.int64) // (1 << 32)])  # int64 holds it
        assert y.shape.as_list() == [1]


def test_the_evaluator_names_the_op_whose_shape_does_not_fit():
    # the planning-time evaluation of shape-only ops was not wrapped: a raw exception
    from staticflow.compiler.build import Evaluator
    from staticflow.compiler.ir import IRGraph

    ir = IRGraph()
    src = ir.add("Placeholder", (), {"dtype": sf.float32}, [(1 << 31,)], [sf.float32], name="x")
    shape_attrs = {"T": sf.float32, "out_type": sf.int32}
    shp = ir.add("Shape", [src.output(0)], shape_attrs, [(1,)], [sf.int32], name="s")
    with pytest.raises(sf.errors.InvalidArgumentError, match="Shape op 's'.*32-bit but dim 0 is 2147483648"):
        Evaluator(ir, {}).value(shp.output(0), "a test")


# ---------------------------------------------------------------------------
# regular expressions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False])
def test_a_rewrite_naming_a_group_the_pattern_lacks_is_an_invalid_argument(static):
    # re.error ("invalid group reference") escaped the host kernel raw; a rewrite is checked
    # whether a string matches or not, as TensorFlow checks it before running
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.string, [None])
        if static:
            y = builder.apply_op("StaticRegexReplace", [x], {"pattern": "a+", "rewrite": r"<\1>"}).outputs[0]
        else:
            y = sf.strings.regex_replace(x, sf.constant("a+"), sf.constant(r"<\1>"))
    with sf.Session(graph=g) as sess:
        for strings in ([b"baa"], [b"xyz"]):  # matched or not: the rewrite is refused (as TF's RE2 check)
            with pytest.raises(sf.errors.InvalidArgumentError, match=r"Invalid rewrite .* invalid group ref"):
                sess.run(y, {x: np.array(strings, object)})


# ---------------------------------------------------------------------------
# empty outputs still check their inputs; references of empty inputs
# ---------------------------------------------------------------------------
def test_segment_ids_are_checked_when_there_are_no_segments():
    # num_segments 0 made the output empty and the lowering skipped the kernel, whose check
    # of the ids it also skipped: an id out of range passed silently (TensorFlow refuses it)
    g = sf.Graph()
    with g.as_default():
        data = sf.placeholder(sf.float32, [None, 2])
        ids = sf.placeholder(sf.int32, [None])
        n = sf.placeholder(sf.int32, [])
        y = sf.math.unsorted_segment_sum(data, ids, n)
    with sf.Session(graph=g) as sess:
        feeds = {data: np.ones((1, 2), np.float32), ids: np.array([2], np.int32)}
        with pytest.raises(sf.errors.InvalidArgumentError, match=r"segment_ids\[0\] = 2 is out of range"):
            sess.run(y, {**feeds, n: 0})
        # negative ids drop their row; with no rows nothing is checked; an empty result is fine
        assert sess.run(y, {**feeds, ids: np.array([-1], np.int32), n: 0}).shape == (0, 2)
        got = sess.run(y, {data: np.ones((0, 2), np.float32), ids: np.zeros(0, np.int32), n: 3})
        np.testing.assert_array_equal(got, np.zeros((3, 2), np.float32))


def test_top_k_reference_of_an_empty_last_dimension():
    # the NumPy reference (the fuzzer's oracle) raised "cannot reshape array of size 0"
    from staticflow.ops import registry

    d = registry.get("TopKV2")
    x = np.zeros((3, 0), np.float32)
    attrs = {a.name: a.default for a in d.attrs if a.default is not registry.REQUIRED}
    vals, idx = builder.run_reference(d, [x, np.int32(0)], {**attrs, "T": sf.float32})
    assert vals.shape == (3, 0) and idx.shape == (3, 0)
    with sf.Graph().as_default():
        v, i = sf.nn.top_k(sf.placeholder_with_default(x, [None, None]), 0)
        with sf.Session() as sess:
            got = sess.run([v, i])
    assert got[0].shape == (3, 0) and got[1].shape == (3, 0)
