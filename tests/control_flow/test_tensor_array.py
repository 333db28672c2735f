"""sf.TensorArray on TensorList ops: values against NumPy, gradients against central
differences, TensorFlow's errors, GraphDef round trips and a TensorFlow-written graph."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import staticflow as sf

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tensorflow")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _numeric_grad(sess, loss, p, x, eps=1e-6):
    out = np.zeros_like(x)
    flat = out.reshape(-1)
    for k in range(x.size):
        xp, xm = x.copy().reshape(-1), x.copy().reshape(-1)
        xp[k] += eps
        xm[k] -= eps
        flat[k] = (sess.run(loss, {p: xp.reshape(x.shape)}) - sess.run(loss, {p: xm.reshape(x.shape)})) / (
            2 * eps
        )
    return out


def check_grad(build, x: np.ndarray, rtol=1e-6, atol=1e-6):
    """sf.gradients of <build(x), c> (c a random cotangent) against central differences;
    x is fed to a float64 placeholder of unknown dimensions."""
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float64, [None] * x.ndim, name="x")
        y = build(p)
        with sf.Session() as sess:
            c = _rng(1).standard_normal(np.shape(sess.run(y, {p: x})))
            loss = sf.reduce_sum(y * c)
            (g,) = sf.gradients(loss, [p])
            analytic = sess.run(g, {p: x})
            numeric = _numeric_grad(sess, loss, p, x)
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


# --- values --------------------------------------------------------------------------------------
def test_write_read_stack_against_numpy():
    x = _rng().standard_normal((4, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        ta = sf.TensorArray(sf.float32, size=4)
        for i in range(4):
            ta = ta.write(i, p[3 - i] * float(i))
        out = [ta.stack(), ta.read(2), ta.size()]
        with sf.Session() as sess:
            stacked, read2, size = sess.run(out, {p: x})
    want = np.stack([x[3 - i] * i for i in range(4)])
    np.testing.assert_allclose(stacked, want, rtol=1e-6)
    np.testing.assert_allclose(read2, want[2], rtol=1e-6)
    assert size == 4 and stacked.dtype == np.float32


def test_writes_are_functional_the_old_array_is_unchanged():
    with sf.Graph().as_default():
        ta0 = sf.TensorArray(sf.float32, size=2, element_shape=[2])
        ta1 = ta0.write(0, [1.0, 2.0])
        ta2 = ta1.write(0, [5.0, 6.0])  # a second write of a slot replaces it (TensorLists do)
        with sf.Session() as sess:
            a, b, c = sess.run([ta0.stack(), ta1.stack(), ta2.stack()])
    np.testing.assert_array_equal(a, np.zeros((2, 2), np.float32))
    np.testing.assert_array_equal(b, [[1, 2], [0, 0]])
    np.testing.assert_array_equal(c, [[5, 6], [0, 0]])


def test_unstack_gather_scatter_concat_split_against_numpy():
    x = _rng(2).standard_normal((5, 2)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        ta = sf.TensorArray(sf.float32, size=5).unstack(p)
        gathered = ta.gather([4, 1, 1])
        concat = ta.concat()
        sc = sf.TensorArray(sf.float32, size=4, element_shape=[2]).scatter([3, 0], p[:2])
        sp = sf.TensorArray(sf.float32, size=3).split(p, [1, 0, 4])
        fetches = [gathered, concat, sc.stack(), sp.read(0), sp.read(2), sp.concat(), ta.read(4)]
        with sf.Session() as sess:
            got = sess.run(fetches, {p: x})
    scattered = np.zeros((4, 2), np.float32)
    scattered[[3, 0]] = x[:2]
    wants = [x[[4, 1, 1]], x.reshape(-1), scattered, x[:1], x[1:], x, x[4]]
    for g, w in zip(got, wants):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_shapes_known_statically_and_from_the_fed_shape_while_planning():
    x = np.ones((3, 4), np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        ta = sf.TensorArray(sf.float32, size=3).unstack(p)
        r = ta.read(1)
        assert r.shape.as_list() == [None]  # the graph only knows the rank
        known = sf.TensorArray(sf.float32, size=3, element_shape=[4]).read(0)
        assert known.shape.as_list() == [4]
        with sf.Session() as sess:
            got = sess.run([r, sf.shape(r), ta.stack()], {p: x})
    assert got[0].shape == (4,) and list(got[1]) == [4] and got[2].shape == (3, 4)


def test_dynamic_size_grows_and_size_follows():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=0, dynamic_size=True)
        ta = ta.write(0, [1.0, 2.0]).write(3, [3.0, 4.0])
        with sf.Session() as sess:
            stacked, size = sess.run([ta.stack(), ta.size()])
    np.testing.assert_array_equal(stacked, [[1, 2], [0, 0], [0, 0], [3, 4]])
    assert size == 4


def test_integer_and_string_arrays():
    with sf.Graph().as_default():
        ints = sf.TensorArray(sf.int32, size=2).write(0, 7).write(1, -3).stack()
        strs = sf.TensorArray(sf.string, size=2).write(0, "ab").write(1, "c").stack()
        with sf.Session() as sess:
            a, b = sess.run([ints, strs])
    np.testing.assert_array_equal(a, np.array([7, -3], np.int32))
    assert list(b) == [b"ab", b"c"]


def test_identity_close_flow_and_handle():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=1, clear_after_read=False).write(0, [1.0])
        same = ta.identity()
        assert same.flow.op.type == "Identity" and same.flow.dtype is sf.variant
        assert ta.handle is None and ta.dtype is sf.float32
        close = ta.close()
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(same.read(0)), [1.0])
            assert sess.run(close) is None
        rebuilt = sf.TensorArray(sf.float32, flow=ta.flow)
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(rebuilt.read(0, name="again")), [1.0])


# --- gradients ------------------------------------------------------------------------------------
def test_gradient_through_unstack_read_write_stack():
    def build(t):
        ta = sf.TensorArray(sf.float64, size=3).unstack(t)
        out = sf.TensorArray(sf.float64, size=2)
        out = out.write(0, ta.read(0) * ta.read(2)).write(1, sf.tanh(ta.read(1)))
        return out.stack()

    check_grad(build, _rng(3).standard_normal((3, 4)))


def test_gradient_through_gather_with_a_repeated_index():
    # (TensorFlow's own gradient keeps only one of the two rows of index 1)
    def build(t):
        return sf.TensorArray(sf.float64, size=3).unstack(t).gather([1, 2, 1])

    check_grad(build, _rng(4).standard_normal((3, 2)))


def test_gradient_through_scatter_and_concat_and_split():
    def build(t):
        sc = sf.TensorArray(sf.float64, size=3, element_shape=[2]).scatter([2, 0], t[:2] * t[2:4])
        sp = sf.TensorArray(sf.float64, size=2).split(sf.reshape(t, [-1]), [3, 5])
        return sf.concat([sf.reshape(sc.stack(), [-1]), sf.sin(sp.concat()), sp.read(1) * 2.0], 0)

    check_grad(build, _rng(5).standard_normal((4, 2)))


def test_gradient_through_dynamic_size_writes():
    def build(t):
        ta = sf.TensorArray(sf.float64, size=0, dynamic_size=True)
        ta = ta.write(2, t[0] * t[1]).write(0, t[1])
        return ta.stack()

    check_grad(build, _rng(6).standard_normal((2, 3)))


# --- errors ---------------------------------------------------------------------------------------
def _run_error(fetch, feeds=None, cls=None):
    with sf.Session() as sess:
        with pytest.raises(cls or sf.errors.InvalidArgumentError) as e:
            sess.run(fetch, feeds or {})
    return str(e.value)


def test_reading_an_unwritten_element_of_unknown_shape_names_op_and_index():
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None])
        n = sf.placeholder(sf.int32, [])
        ta = sf.TensorArray(sf.float32, size=3).write(0, p)
        r = ta.read(n, name="r")
        assert r.shape.as_list() == [None]
        with sf.Session() as sess:  # written: read; unwritten: zeros of the written shape
            np.testing.assert_array_equal(sess.run(r, {p: [1.0, 2.0], n: 0}), [1, 2])
            np.testing.assert_array_equal(sess.run(r, {p: [1.0, 2.0], n: 2}), [0, 0])
        empty = sf.TensorArray(sf.float32, size=3, element_shape=[None]).read(1, name="empty_read")
        msg = _run_error(empty)
    assert "empty_read" in msg and "element_shape" in msg


def test_index_out_of_range_without_dynamic_size():
    with sf.Graph().as_default():
        i = sf.placeholder(sf.int32, [])
        ta = sf.TensorArray(sf.float32, size=2, element_shape=[1])
        w = ta.write(i, [1.0], name="w").stack()
        msg = _run_error(w, {i: 2})
        assert "TensorListSetItem op 'w/w'" in msg and "modify element 2 in a list with 2 elements" in msg
        r = ta.read(i, name="rd")
        msg = _run_error(r, {i: -1})
        assert "'rd/rd'" in msg and "access element -1 in a list with 2 elements" in msg
        g = ta.gather([0, 5], name="g")
        assert "Index 5 out o range" in _run_error(g)


def test_element_shape_mismatch_fails_at_build_and_at_run():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=2).write(0, [1.0, 2.0])
        with pytest.raises(ValueError, match="Inconsistent shapes"):
            ta.write(1, [1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match="Inconsistent shapes"):
            sf.TensorArray(sf.float32, size=2, element_shape=[3]).unstack(np.zeros((2, 2), np.float32))
        p = sf.placeholder(sf.float32, None)
        late = sf.TensorArray(sf.float32, size=2, element_shape=[3]).write(1, p, name="late")
        msg = _run_error(late.stack(), {p: np.zeros(2, np.float32)})
    assert "'late/late'" in msg and "incompatible shape" in msg


def test_wrong_dtype_and_bad_arguments():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=2)
        with pytest.raises(TypeError, match="TensorArray of float32"):
            ta.write(0, sf.constant([1, 2]))
        with pytest.raises(ValueError, match="size"):
            sf.TensorArray(sf.float32)
        with pytest.raises(TypeError, match="variant"):
            sf.TensorArray(sf.float32, flow=sf.constant(1.0))
        with pytest.raises(NotImplementedError):
            ta.grad("source")


def test_split_lengths_must_cover_the_tensor():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=2).split([1.0, 2.0, 3.0], [1, 1], name="sp")
        assert "Unused values in tensor. Length of tensor: 3 Values used: 2" in _run_error(ta.read(0))


def test_stack_expects_the_declared_size():
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, 2])
        st = sf.TensorArray(sf.float32, size=2).unstack(p).stack()
        assert "expected a list with 2 elements but got a list with 3" in _run_error(
            st, {p: np.zeros((3, 2))}
        )


def test_fetching_or_feeding_the_flow_is_an_error_naming_it():
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=1, name="arr")
        msg = _run_error(ta.flow, cls=sf.errors.InternalError)
        assert "arr:0" in msg and "variant" in msg
        with sf.Session() as sess, pytest.raises(TypeError, match="arr:0.*variant"):
            sess.run(ta.read(0, name="r0"), {ta.flow: 0})


# --- graphs --------------------------------------------------------------------------------------
def test_ops_names_and_attrs_are_tensorflows():
    with sf.Graph().as_default() as g:
        x = sf.placeholder(sf.float32, [4, 3], name="x")
        ta = sf.TensorArray(sf.float32, size=4, name="ta").unstack(x)
        ta.read(1, name="r")
        w = sf.TensorArray(sf.float32, size=2, dynamic_size=True, element_shape=[3], name="w")
        w.write(0, x[0], name="w0").stack(name="st")
    nodes = {n.name: n for n in g.as_graph_def().node}
    assert nodes["ta"].op == "TensorListReserve"
    assert nodes["TensorArrayUnstack/TensorListFromTensor"].op == "TensorListFromTensor"
    assert nodes["r/r"].op == "TensorListGetItem"
    assert nodes["w0/w0"].op == "TensorListSetItem"
    assert nodes["w0/w0"].attr["resize_if_index_out_of_bounds"].b is True
    stack = nodes["st/TensorListStack"]
    assert stack.op == "TensorListStack" and stack.attr["num_elements"].i == -1
    assert stack.attr["element_dtype"].type == sf.float32.as_datatype_enum
    assert g.get_tensor_by_name("ta:0").dtype is sf.variant


def test_graph_def_round_trip_runs_the_same():
    x = _rng(7).standard_normal((3, 2)).astype(np.float32)
    with sf.Graph().as_default() as g:
        p = sf.placeholder(sf.float32, [None, 2], name="x")
        ta = sf.TensorArray(sf.float32, size=3).unstack(p)
        out = sf.identity(ta.write(1, ta.read(0) * 2.0).stack(), name="out")
        (gx,) = sf.gradients(sf.reduce_sum(out * out), [p])
        gx = sf.identity(gx, name="gx")
        with sf.Session() as sess:
            want = sess.run([out, gx], {p: x})
    data = g.as_graph_def().SerializeToString()
    with sf.Graph().as_default():
        sf.import_graph_def(sf.GraphDef.FromString(data), name="")
        with sf.Session() as sess:
            got = sess.run(["out:0", "gx:0"], {"x:0": x})
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_tensorflow_written_tensor_array_graph_imports_and_matches():
    """tensor_array.pb: written by TensorFlow 2.21 (make_tensor_array_fixture.py) with control
    flow v2, reads, writes, stack, gather, scatter, split, concat and their gradients."""
    with open(os.path.join(FIXTURES, "tensor_array.json")) as f:
        meta = json.load(f)
    with np.load(os.path.join(FIXTURES, "tensor_array.npz")) as z:
        x = z["in0"]
        wants = [z[f"out{i}"] for i in range(len(meta["outputs"]))]
    gd = sf.io.read_graph(os.path.join(FIXTURES, "tensor_array.pb"))
    assert any(n.op == "TensorListSetItem" for n in gd.node)
    with sf.Graph().as_default() as g:
        sf.import_graph_def(gd, name="")
    with sf.Session(graph=g) as sess:
        got = sess.run(meta["outputs"], {meta["inputs"][0]: x})
    for name, a, b in zip(meta["outputs"], got, wants):
        a = np.asarray(a)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_raw_ops_build_the_list_ops_a_loop_gradient_uses():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with sf.Graph().as_default():
        lst = sf.raw_ops.EmptyTensorList(element_shape=[3], max_num_elements=-1, element_dtype=sf.float32)
        lst = sf.raw_ops.TensorListPushBack(input_handle=lst, tensor=sf.constant(x[0]))
        lst = sf.raw_ops.TensorListPushBack(input_handle=lst, tensor=sf.constant(x[1]), name="push")
        rest, last = sf.raw_ops.TensorListPopBack(
            input_handle=lst, element_shape=[3], element_dtype=sf.float32
        )
        assert lst.op.name == "push" and lst.dtype is sf.variant
        with sf.Session() as sess:
            got_last, length = sess.run([last, sf.raw_ops.TensorListLength(input_handle=rest)])
        with pytest.raises(TypeError, match="missing required argument"):
            sf.raw_ops.TensorListLength()
        with pytest.raises(AttributeError):
            sf.raw_ops.NoSuchOp  # noqa: B018
    np.testing.assert_array_equal(got_last, x[1])
    assert length == 1


def test_variant_dtype_and_flow_helpers():
    from staticflow.framework import dtypes
    from staticflow.ops import tensor_array_ops

    assert sf.as_dtype("variant") is sf.variant and sf.as_dtype(21) is sf.variant
    assert sf.variant.size == 0 and dtypes.holds_objects(sf.variant) and not dtypes.holds_objects(sf.float32)
    with sf.Graph().as_default():
        ta = sf.TensorArray(sf.float32, size=2, element_shape=[2])
        carried = sf.identity(tensor_array_ops.to_flow(ta))  # what a loop would carry
        back = tensor_array_ops.from_flow(ta, carried).write(1, [3.0, 4.0])
        assert tensor_array_ops.from_flow(3, carried) is carried
        assert back.element_shape.as_list() == [2]
        with pytest.raises(TypeError, match="variant"):
            tensor_array_ops.build_ta_with_new_flow(ta, sf.constant(1.0))
        with sf.Session() as sess:  # the size survives: stack knows its length before the run
            np.testing.assert_array_equal(sess.run(back.stack()), [[0, 0], [3, 4]])


def test_a_fed_list_plans_with_the_spec_its_caller_gives():
    # (how a loop body, whose TensorList arguments are feeds of its own plan, learns their
    # element shapes: the caller passes what it knows of them)
    from staticflow.compiler.build import build_ir
    from staticflow.framework.tensor_shape import TensorShape
    from staticflow.ops import list_ops

    with sf.Graph().as_default() as g:
        flow = sf.TensorArray(sf.float32, size=3).flow
        item = sf.TensorArray(sf.float32, flow=flow).read(1)
        assert item.shape.ndims is None
    feeds = {flow: np.empty((), object)}
    with pytest.raises(sf.errors.InvalidArgumentError, match="element_shape"):
        build_ir(g, [item], [], feeds)
    spec = list_ops.ListSpec(TensorShape(None), 3, ((2, 5),) * 3, (2, 5))
    ir, _ = build_ir(g, [item], [], feeds, feed_specs={flow: spec})
    assert ir.fetches[0].shape == (2, 5)
