"""Behaviour the TensorFlow parity suite (tests/parity) found to differ, pinned without TensorFlow.

The expected values are TensorFlow 2.21's (tf.compat.v1), written here as literals.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import array_ops, builder


def _shape(t):
    return None if t.shape.ndims is None else t.shape.as_list()


# (s0, s1) -> TensorFlow's BroadcastGradientArgs (r0, r1)
BCAST = [
    ([1], [1], [], []),
    ([1, 2], [1, 2], [], []),
    ([1, 1], [1], [0, 1], [0, 1]),
    ([2, 1], [1], [1], [0, 1]),
    ([3, 1], [1, 5], [1], [0]),
    ([], [1], [0], [0]),
    ([2, 3, 4], [4], [], [0, 1]),
    ([1, 1, 3], [1, 3], [0, 1], [0, 1]),
]


@pytest.mark.parametrize("s0,s1,r0,r1", BCAST)
def test_broadcast_gradient_args_as_tensorflow(s0, s1, r0, r1):
    with sf.Graph().as_default():
        op = builder.apply_op("BroadcastGradientArgs", [np.array(s0, np.int32), np.array(s1, np.int32)], None)
        assert [_shape(t) for t in op.outputs] == [[len(r0)], [len(r1)]]
        with sf.Session() as sess:
            got = sess.run(list(op.outputs))
    assert [g.tolist() for g in got] == [r0, r1]


def test_gradient_of_unknown_rank_input_fed_a_scalar():
    # the gradient's shape arithmetic takes axes modulo the rank, 0 for a scalar
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, shape=None)
        loss = sf.reduce_sum(sf.exp(x) * 0.5)
        (g,) = sf.gradients(loss, [x])
        with sf.Session() as sess:
            assert sess.run(g, {x: np.float32(1.0)}) == pytest.approx(0.5 * np.e, rel=1e-6)
            np.testing.assert_allclose(sess.run(g, {x: np.zeros((2, 3), np.float32)}), np.full((2, 3), 0.5))


def test_integer_floormod_by_zero_over_no_elements():
    with sf.Graph().as_default():
        empty = sf.placeholder(sf.int32, shape=[None])
        y = sf.floormod(empty, 0)
        with sf.Session() as sess:
            assert sess.run(y, {empty: np.zeros(0, np.int32)}).shape == (0,)
            with pytest.raises(sf.errors.InvalidArgumentError, match="by zero"):
                sess.run(y, {empty: np.ones(2, np.int32)})


@pytest.mark.parametrize(
    "fmt,x_shape,f_shape,strides,want",
    [
        ("NHWC", [None, 5, 7, 3], [None, 2, 3, 4], [1, 2, 2, 1], [None, 3, 4, 4]),
        ("NHWC", [None, 5, 7, 3], [None, None, 3, 4], [1, 1, 1, 1], [None, 5, 7, 4]),
        ("NCHW", [None, 3, 6, 5], [None, 3, 3, 2], [1, 1, 2, 1], [None, 2, 3, 5]),
    ],
)
def test_conv_same_padding_shape_without_filter_size(fmt, x_shape, f_shape, strides, want):
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, x_shape)
        f = sf.placeholder(sf.float32, f_shape)
        y = sf.nn.conv2d(x, f, strides, "SAME", data_format=fmt)
        assert _shape(y) == want


def test_depthwise_same_padding_shape_without_filter_size():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 6, 5, 2])
        f = sf.placeholder(sf.float32, [None, 3, 2, 2])
        y = sf.nn.depthwise_conv2d_native(x, f, [1, 2, 2, 1], "SAME")
        assert _shape(y) == [None, 3, 3, 4]


def test_rank_from_paddings_multiples_and_sizes():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, shape=None)
        assert _shape(sf.pad(x, [[1, 2], [0, 1]])) == [None, None]
        assert _shape(sf.tile(x, [2, 0])) == [None, 0]
        assert _shape(sf.slice(x, [0, 1], [2, -1])) == [2, None]
        v = sf.placeholder(sf.float32, shape=[None])
        assert _shape(sf.tile(v, [0])) == [0]


def _grads_both_ways(build, feeds):
    """Gradients with known-rank and unknown-rank placeholders; both must agree."""
    out = []
    for known in (True, False):
        with sf.Graph().as_default():
            phs = [sf.placeholder(sf.as_dtype(v.dtype), v.shape if known else None) for v in feeds]
            y = build(*phs)
            w = (
                np.random.default_rng(0)
                .standard_normal(np.shape(_value_of(build, feeds)))
                .astype(np.float32)
            )
            (g,) = sf.gradients(sf.reduce_sum(y * w), [phs[0]])
            with sf.Session() as sess:
                out.append(sess.run(g, dict(zip(phs, feeds))))
    return out


def _value_of(build, feeds):
    """What build computes on constant inputs (its output shape sizes the cotangent)."""
    with sf.Graph().as_default():
        with sf.Session() as sess:
            return sess.run(build(*[sf.constant(v) for v in feeds]))


@pytest.mark.parametrize(
    "name,build,feeds",
    [
        (
            "bias_add",
            lambda x, b: sf.nn.bias_add(x, b),
            [np.ones((2, 3, 4), np.float32), np.ones(4, np.float32)],
        ),
        (
            "bias_add_nchw",
            lambda x, b: sf.nn.bias_add(x, b, data_format="NCHW"),
            [np.ones((2, 4, 3, 3), np.float32), np.ones(4, np.float32)],
        ),
        (
            "gather_axis_1",
            lambda p, i: sf.gather(p, i, axis=1),
            [np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.array([[2, 0], [2, 2]], np.int32)],
        ),
        (
            "gather_axis_minus_1",
            lambda p, i: sf.gather(p, i, axis=-1),
            [np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.array([3, 0, 3], np.int32)],
        ),
        (
            "unsorted_segment_sum",
            lambda d, i: array_ops.unsorted_segment_sum(d, i, 3),
            [np.arange(12, dtype=np.float32).reshape(4, 3), np.array([0, 2, -1, 2], np.int32)],
        ),
    ],
)
def test_gradients_of_unknown_rank_inputs(name, build, feeds):
    known, unknown = _grads_both_ways(build, feeds)
    np.testing.assert_allclose(unknown, known, rtol=1e-6)
    assert known.shape == feeds[0].shape


def test_print_data_is_a_list_of_types():
    with sf.Graph().as_default() as g:
        x = sf.constant([1.0, 2.0])
        y = sf.Print(x, [x, sf.constant([3, 4]), sf.constant(True)], message="x: ")
        node = g.as_graph_def().node[-1]
        assert node.op == "Print"
        assert list(node.attr["U"].list.type) == [1, 3, 10]  # DT_FLOAT, DT_INT32, DT_BOOL
        assert "N" not in node.attr
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(y), [1.0, 2.0])


def test_default_op_names_as_tensorflow():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [2], name="x")
        y = sf.placeholder(sf.float32, [2], name="y")
        i = sf.placeholder(sf.int32, [2], name="i")
        made = [
            sf.add(x, y),
            sf.divide(x, y),
            sf.realdiv(x, y),
            sf.floordiv(x, y),
            sf.zeros_like(x),
            sf.ones_like(x),
            sf.one_hot(i, 3),
            sf.clip_by_value(x, 0.0, 1.0),
            sf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x),
            x + y,
            x - y,
            x * y,
            x / y,
            x // y,
            x % y,
            x**y,
            1.0 + x,
            i + 1,
        ]
        want = [
            "Add:0",
            "truediv:0",
            "RealDiv:0",
            "floordiv:0",
            "zeros_like:0",
            "ones_like:0",
            "one_hot:0",
            "clip_by_value:0",
            "logistic_loss:0",
            "add_1:0",  # names are unique regardless of case: "Add" is taken
            "sub:0",
            "mul:0",
            "truediv_1:0",
            "floordiv_1:0",
            "mod:0",
            "pow:0",
            "add_2:0",
            "add_3:0",
        ]
        assert [t.name for t in made] == want


def test_name_of_a_name_scope_names_the_op_itself():
    with sf.Graph().as_default():
        x = sf.constant(1.0)
        with sf.name_scope("block") as scope:
            y = sf.identity(x, name=scope)
        assert y.name == "block:0"


def test_select_with_a_scalar_condition():
    with sf.Graph().as_default():
        flag = sf.placeholder_with_default(True, shape=[])
        a = sf.constant([1.0, 2.0, 3.0])
        z = sf.where(flag, a, -a)
        assert z.shape.as_list() == [3]
        (g,) = sf.gradients(sf.reduce_sum(z * [1.0, 2.0, 3.0]), [a])
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(z), [1.0, 2.0, 3.0])
            np.testing.assert_array_equal(sess.run(z, {flag: False}), [-1.0, -2.0, -3.0])
            np.testing.assert_array_equal(sess.run(g, {flag: False}), [-1.0, -2.0, -3.0])


def test_variable_used_under_control_dependencies_sees_their_writes():
    with sf.Graph().as_default():
        counter = sf.Variable(0, dtype=sf.int32)
        inc = sf.assign_add(counter, 1)
        with sf.control_dependencies([inc]):
            as_float = sf.cast(counter, sf.float32)
            same = sf.identity(counter)
        untouched = counter * 1  # no dependency: the shared snapshot
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            assert sess.run(as_float) == 1.0
            assert sess.run(same) == 2
            assert sess.run([as_float, same]) == [3.0, 3]
            assert sess.run(untouched) == 3
