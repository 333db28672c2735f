"""No graph, GraphDef or fed value makes a kernel read or write outside a tensor.

Each reproducer used to read far past a buffer (a crash, or another tensor's
bytes in the result); those that could crash run in a child process.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import graph_pb2, tensor_util
from staticflow.ops import lowering, registry
from staticflow.ops.lowering import LowerContext, View


def _session_run(fetch, feeds=None):
    with sf.Session(graph=fetch.graph) as sess:
        return sess.run(fetch, feeds)


# ---------------------------------------------------------------------------
# element counts that wrap
# ---------------------------------------------------------------------------
def test_reshape_whose_element_count_wraps_is_refused_while_building():
    # 4 * (2**62 + 1) wraps to 4 in int64: the reshape used to pass, and the sum after it
    # read 2**64 + 4 elements of a 16-byte buffer
    g = sf.Graph()
    with g.as_default():
        x = sf.constant(np.ones(4, np.float32))
        with pytest.raises(ValueError, match=r"Reshape.*too many elements"):
            sf.reshape(x, [2**62 + 1, 4])


def test_reshape_to_a_fed_shape_that_wraps_fails_cleanly(child):
    r = child(
        """
        import numpy as np, staticflow as sf
        g = sf.Graph()
        with g.as_default():
            x = sf.placeholder(sf.float32, [None])
            shape = sf.placeholder(sf.int64, [2])
            y = sf.reduce_sum(sf.reshape(x, shape))
        with sf.Session(graph=g) as s:
            try:
                s.run(y, {x: np.ones(4, np.float32), shape: np.array([2**62 + 1, 4], np.int64)})
            except sf.errors.InvalidArgumentError as e:
                print("InvalidArgumentError:", str(e).splitlines()[0])
        """
    )
    assert not r.crashed, r
    assert "InvalidArgumentError" in r.stdout and "too many elements" in r.stdout, r


@pytest.mark.parametrize(
    "build",
    [
        lambda: sf.fill(sf.constant([2**62, 2**62]), 1.0),
        lambda: sf.tile(sf.zeros([2, 2]), [2**62, 2**62]),
        lambda: sf.broadcast_to(sf.constant(1.0), [2**40, 2**40]),
        lambda: sf.random_uniform([2**33, 2**33]),
        lambda: sf.pad(sf.zeros([2]), [[2**62, 2**62]]),
    ],
    ids=["fill", "tile", "broadcast_to", "random_uniform", "pad"],
)
def test_shapes_whose_element_count_overflows_are_refused(build):
    g = sf.Graph()
    with g.as_default(), pytest.raises(ValueError, match="too many elements"):
        build()


def test_explicit_conv_padding_beyond_the_supported_sizes_is_refused():
    g = sf.Graph()
    with g.as_default():
        x, w = sf.zeros([1, 4, 4, 1]), sf.zeros([2, 2, 1, 1])
        with pytest.raises(ValueError, match="explicit_paddings .* entries above"):
            sf.nn.conv2d(x, w, [1, 1, 1, 1], [[0, 0], [2**40, 2**40], [0, 0], [0, 0]])
        with pytest.raises(ValueError, match="Conv2D.*too many bytes"):  # [1, 2**31 + 3, 2**31 + 3, 1]
            sf.nn.conv2d(x, w, [1, 1, 1, 1], [[0, 0], [2**30, 2**30], [2**30, 2**30], [0, 0]])


def test_fed_tile_multiples_that_overflow_are_an_invalid_argument():
    g = sf.Graph()
    with g.as_default():
        m = sf.placeholder(sf.int64, [2])
        y = sf.tile(sf.ones([2, 2]), m)
    with sf.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run(y, {m: np.array([1, 2])}), np.ones((2, 4)))
        with pytest.raises(sf.errors.InvalidArgumentError, match="too many elements"):
            sess.run(y, {m: np.array([2**62, 2**62])})


def test_negative_sizes_in_a_shape_value_are_refused():
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match="must be non-negative"):
            sf.random_uniform(sf.constant([-1, 5]))
        with pytest.raises(ValueError, match="must be non-negative"):
            sf.broadcast_to(sf.constant(1.0), sf.constant([3, -1]))


def test_a_fed_negative_shape_is_an_invalid_argument():
    g = sf.Graph()
    with g.as_default():
        shape = sf.placeholder(sf.int32, [2])
        y = sf.random_uniform(shape)
    with sf.Session(graph=g) as sess, pytest.raises(sf.errors.InvalidArgumentError, match="non-negative"):
        sess.run(y, {shape: np.array([-1, 5], np.int32)})


def test_view_reshape_checks_the_element_count():
    v = View(("in", 0), sf.float32, (3, 4), (4, 1))
    assert v.reshape([12]).shape == (12,)
    with pytest.raises(ValueError, match="cannot view 12 elements"):
        v.reshape([5, 4])
    with pytest.raises(ValueError, match="too many elements"):
        v.reshape([2**62 + 1, 4])


def test_every_kernel_view_must_lie_inside_its_buffer():
    d = registry.get("Identity")
    ctx = LowerContext(d, "x", {}, [(3, 4)], [sf.float32], [(3, 4)], [sf.float32], [None])
    copy = registry.kernel_name("copy", sf.float32)
    ctx.call(copy, [ctx.inp(0)], [ctx.out(0)])  # in bounds
    past_end = ctx.inp(0).with_((3, 5), (4, 1))  # the last row reaches element 12 of 12
    with pytest.raises(ValueError, match="would reach elements 0..12"):
        ctx.call(copy, [past_end], [ctx.out(0).with_((3, 5), (5, 1))])
    before_start = ctx.inp(0).with_((3, 4), (-4, 1))
    with pytest.raises(ValueError, match="would reach elements -8..3"):
        ctx.call(copy, [before_start], [ctx.out(0)])
    too_many_dims = ctx.inp(0).with_((1,) * 9, (0,) * 9)
    with pytest.raises(ValueError, match="at most 8"):
        ctx.call(copy, [too_many_dims], [ctx.out(0).with_((1,) * 9, (0,) * 9)])
    assert lowering.MAX_DIMS == 8


# ---------------------------------------------------------------------------
# UnsortedSegmentSum: ids that outnumber the data rows
# ---------------------------------------------------------------------------
def test_segment_ids_that_outnumber_the_rows_are_refused_while_building():
    g = sf.Graph()
    with g.as_default(), pytest.raises(ValueError, match="must be a prefix of the shape of data"):
        sf.math.unsorted_segment_sum(sf.zeros([3, 4]), sf.constant([0, 1, 0, 1, 0]), 2)


def test_fed_segment_ids_that_outnumber_the_rows_fail_cleanly(child):
    # 2 million ids against one row of data: the kernel used to read 512 MB past the data
    r = child(
        """
        import numpy as np, staticflow as sf
        from staticflow.ops.array_ops import unsorted_segment_sum
        g = sf.Graph()
        with g.as_default():
            data = sf.placeholder(sf.float32, [None, 64])
            ids = sf.placeholder(sf.int32, [None])
            y = unsorted_segment_sum(data, ids, 2)
        with sf.Session(graph=g) as s:
            try:
                s.run(y, {data: np.ones((1, 64), np.float32), ids: np.zeros(2_000_000, np.int32)})
            except sf.errors.InvalidArgumentError as e:
                print("InvalidArgumentError:", str(e).splitlines()[0])
        """
    )
    assert not r.crashed, r
    assert "InvalidArgumentError" in r.stdout and "prefix" in r.stdout, r


def _segment_sum_graph_def(num_rows: int, num_ids: int) -> bytes:
    """A small GraphDef (written without staticflow's checks): UnsortedSegmentSum of a
    [num_rows, 64] constant by num_ids zero ids."""
    gd = graph_pb2.GraphDef()
    for name, value in (
        ("data", np.ones((num_rows, 64), np.float32)),
        ("ids", np.zeros(num_ids, np.int32)),
        ("n", np.array(2, np.int32)),
    ):
        n = gd.node.add(name=name, op="Const")
        n.attr["dtype"].type = tensor_util.make_tensor_proto(value).dtype
        n.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    # the ids as a splat: one value for a whole shape, as frozen graphs hold them
    ids = gd.node[1].attr["value"].tensor
    ids.ClearField("tensor_content")
    ids.int_val.append(0)
    s = gd.node.add(name="seg", op="UnsortedSegmentSum", input=["data", "ids", "n"])
    s.attr["T"].type = 1
    s.attr["Tindices"].type = 3
    s.attr["Tnumsegments"].type = 3
    return gd.SerializeToString()


def test_segment_sum_graph_def_is_refused_at_import(tmp_path):
    data = _segment_sum_graph_def(1, 2_000_000)
    assert len(data) < 600  # a few hundred bytes are enough
    g = sf.Graph()
    with g.as_default(), pytest.raises(ValueError, match="UnsortedSegmentSum.*prefix"):
        sf.import_graph_def(sf.GraphDef.FromString(data), name="")


def test_segment_sum_graph_def_does_not_crash_staticflow_run(child, tmp_path):
    model = tmp_path / "seg.pb"
    model.write_bytes(_segment_sum_graph_def(1, 2_000_000))
    r = child(
        f"""
        import sys
        from staticflow import cli
        sys.exit(cli.main(["run", {str(model)!r}, "--output", "seg", "-o", {str(tmp_path / "out")!r}]))
        """
    )
    assert not r.crashed, r
    assert r.returncode != 0 and "UnsortedSegmentSum" in r.stdout + r.stderr, r


def test_fed_segment_ids_out_of_range_are_an_invalid_argument():
    g = sf.Graph()
    with g.as_default():
        ids = sf.placeholder(sf.int64, [3])
        y = sf.math.unsorted_segment_sum(sf.ones([3, 2]), ids, 2)
    with sf.Session(graph=g) as sess:
        got = sess.run(y, {ids: np.array([1, -1, 1], np.int64)})  # negative ids are dropped
        np.testing.assert_array_equal(got, [[0, 0], [2, 2]])
        with pytest.raises(sf.errors.InvalidArgumentError, match=r"segment_ids\[2\] = 2 is out of range"):
            sess.run(y, {ids: np.array([1, 0, 2], np.int64)})


def test_fed_gather_indices_out_of_range_are_an_invalid_argument():
    g = sf.Graph()
    with g.as_default():
        idx = sf.placeholder(sf.int32, [None])
        y = sf.gather(sf.ones([4, 3]), idx)
    with sf.Session(graph=g) as sess:
        for bad in ([4], [-1], [0, 2**31 - 1]):
            with pytest.raises(sf.errors.InvalidArgumentError, match="not in \\[0, 4\\)"):
                sess.run(y, {idx: np.array(bad, np.int32)})


# ---------------------------------------------------------------------------
# OneHot: on_value and off_value are scalars
# ---------------------------------------------------------------------------
def test_one_hot_values_must_be_scalars_while_building():
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match="on_value must be a scalar"):
            sf.one_hot([0, 1], 3, on_value=sf.constant([1.0, 2.0]), off_value=0.0)
        with pytest.raises(ValueError, match="off_value must be a scalar"):
            sf.one_hot([0, 1], 3, on_value=1.0, off_value=sf.zeros([0]))


def test_fed_one_hot_values_must_be_scalars():
    # an empty on_value used to be read anyway: the kernel took a value from another tensor
    g = sf.Graph()
    with g.as_default():
        on = sf.placeholder(sf.float32, None)
        y = sf.one_hot([0, 1], 3, on_value=on, off_value=0.0)
    with sf.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run(y, {on: np.float32(5)}), [[5, 0, 0], [0, 5, 0]])
        for bad in (np.zeros(0, np.float32), np.ones(2, np.float32)):
            with pytest.raises(sf.errors.InvalidArgumentError, match="on_value must be a scalar"):
                sess.run(y, {on: bad})


# ---------------------------------------------------------------------------
# outputs a lowering would skip
# ---------------------------------------------------------------------------
def test_sparse_softmax_cross_entropy_with_no_classes_is_refused():
    # TensorFlow's error; the loss of shape [2] used to be whatever the arena held
    g = sf.Graph()
    with g.as_default():
        logits = sf.placeholder(sf.float32, [None, None])
        labels = sf.placeholder(sf.int32, [None])
        other = sf.constant(np.full(64, 7.0, np.float32)) * 3.0  # fills the arena first
        loss = sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    with sf.Session(graph=g) as sess:
        no_class = r"Must have at least one class, but got logits shape \[2,0\]"
        with pytest.raises(sf.errors.InvalidArgumentError, match=no_class):
            sess.run([other, loss], {logits: np.zeros((2, 0), np.float32), labels: np.zeros(2, np.int32)})
        empty = sess.run(loss, {logits: np.zeros((0, 3), np.float32), labels: np.zeros(0, np.int32)})
        assert empty.shape == (0,)


def test_dense_softmax_cross_entropy_with_no_classes_is_zero():
    # TensorFlow: the loss over no classes is 0
    g = sf.Graph()
    with g.as_default():
        logits = sf.placeholder(sf.float32, [None, None])
        loss = sf.nn.softmax_cross_entropy_with_logits_v2(labels=logits, logits=logits)
    np.testing.assert_array_equal(
        _session_run(loss, {logits: np.zeros((2, 0), np.float32)}), np.zeros(2, np.float32)
    )


def test_a_lowering_that_leaves_an_output_unwritten_is_refused():
    ctx = LowerContext(registry.get("Identity"), "x", {}, [(3,)], [sf.float32], [(3,)], [sf.float32], [None])
    assert ctx.unwritten_outputs() == [0]
    ctx.copy(ctx.inp(0), ctx.out(0))
    assert ctx.unwritten_outputs() == []
    empty = LowerContext(
        registry.get("Identity"), "x", {}, [(0,)], [sf.float32], [(0,)], [sf.float32], [None]
    )
    assert empty.unwritten_outputs() == []  # nothing to write
