"""TF1's numeric dtypes end to end: the DType objects, TensorProto wire format,
placeholders, constants, variables, checkpoints, GraphDefs written by TensorFlow,
casts (saturate_cast, bitcast, convert_image_dtype) and 16-bit float gradients.

Expected values marked "TensorFlow" were computed by tensorflow-cpu 2.21
(tf.compat.v1) and are checked in as literals.
"""

from __future__ import annotations

import json
import os

import ml_dtypes
import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import tensor_util

BF16 = ml_dtypes.bfloat16
FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tensorflow")

# name, enum, size, is_floating, is_integer, is_unsigned, min, max (TensorFlow)
TF_DTYPES = [
    ("float16", 19, 2, True, False, False, -65504.0, 65504.0),
    ("bfloat16", 14, 2, True, False, False, -3.3895313892515355e38, 3.3895313892515355e38),
    ("float32", 1, 4, True, False, False, -3.4028234663852886e38, 3.4028234663852886e38),
    ("float64", 2, 8, True, False, False, -1.7976931348623157e308, 1.7976931348623157e308),
    ("int8", 6, 1, False, True, False, -128, 127),
    ("int16", 5, 2, False, True, False, -32768, 32767),
    ("int32", 3, 4, False, True, False, -(2**31), 2**31 - 1),
    ("int64", 9, 8, False, True, False, -(2**63), 2**63 - 1),
    ("uint8", 4, 1, False, True, True, 0, 255),
    ("uint16", 17, 2, False, True, True, 0, 65535),
    ("uint32", 22, 4, False, True, True, 0, 2**32 - 1),
    ("uint64", 23, 8, False, True, True, 0, 2**64 - 1),
]
NUMERIC = [r[0] for r in TF_DTYPES]
FIXED = NUMERIC + ["bool"]


def _values(dt: sf.DType, shape=(2, 3), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dt == sf.bool:
        return rng.random(shape) < 0.5
    if dt.is_floating:
        return rng.uniform(-4, 4, shape).astype(dt.as_numpy_dtype)
    lo = 0 if dt.is_unsigned else -50
    return rng.integers(lo, 100, shape).astype(dt.as_numpy_dtype)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype == BF16:
        a, b = a.view(np.uint16), b.view(np.uint16)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# DType objects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", TF_DTYPES, ids=[r[0] for r in TF_DTYPES])
def test_dtype_matches_tensorflow(row):
    name, enum, size, floating, integer, unsigned, lo, hi = row
    dt = getattr(sf, name)
    assert dt.name == name and dt.as_datatype_enum == enum and dt.size == size
    assert (dt.is_floating, dt.is_integer, dt.is_unsigned) == (floating, integer, unsigned)
    assert dt.is_numeric and not dt.is_bool and not dt.is_complex and not dt.is_quantized
    if floating:
        assert (float(dt.min), float(dt.max)) == (lo, hi)
    else:
        assert (dt.min, dt.max) == (lo, hi) and isinstance(dt.max, int)
    assert dt.real_dtype is dt and dt.base_dtype is dt
    assert sf.as_dtype(enum) is dt and sf.as_dtype(enum + 100) is dt  # the _ref enum too
    assert sf.as_dtype(name) is dt and sf.as_dtype(dt.as_numpy_dtype) is dt
    assert sf.as_dtype(np.dtype(dt.as_numpy_dtype)) is dt
    assert dt.is_compatible_with(name) and dt.is_compatible_with(dt)
    assert not dt.is_compatible_with(sf.string)
    assert dt == name and dt != "string" and hash(dt) == enum
    assert str(dt) == f"<dtype: '{name}'>"


def test_bfloat16_numpy_type_is_ml_dtypes_as_in_tensorflow():
    assert sf.bfloat16.as_numpy_dtype is BF16
    assert sf.half is sf.float16 and sf.as_dtype("half") is sf.float16
    assert sf.dtypes.bfloat16 is sf.bfloat16


def test_limits_and_bool():
    assert sf.uint8.limits == (0, 255)
    assert sf.int8.limits == (0, 127)
    assert sf.float32.limits == (0, 1)
    assert sf.bool.limits == (0, True)
    with pytest.raises(TypeError, match="minimum"):
        _ = sf.bool.min
    with pytest.raises(TypeError):
        _ = sf.string.max
    assert sf.bool.is_bool and not sf.bool.is_numeric


def test_as_dtype_errors_and_other_frameworks():
    with pytest.raises(TypeError, match="'nope'"):
        sf.as_dtype("nope")
    with pytest.raises(TypeError, match="1000"):
        sf.as_dtype(1000)

    class OtherDType:  # anything with TF's as_datatype_enum (e.g. tf.int8)
        as_datatype_enum = 6

    assert sf.as_dtype(OtherDType()) is sf.int8


# ---------------------------------------------------------------------------
# TensorProto: TensorFlow's wire format both ways
# ---------------------------------------------------------------------------

# dtype, value, the field TensorFlow fills and what it holds (TensorFlow's make_tensor_proto)
TF_PROTOS = [
    ("float16", 3, "half_val", [16896]),
    ("float16", [1, 2, 3], "tensor_content", b"\x00<\x00@\x00B"),
    ("bfloat16", 3, "half_val", [16448]),
    ("bfloat16", [1, 2, 3], "tensor_content", b"\x80?\x00@@@"),
    ("int8", 3, "int_val", [3]),
    ("int8", [1, 2, 3], "tensor_content", b"\x01\x02\x03"),
    ("int16", 3, "int_val", [3]),
    ("int16", [1, 2, 3], "tensor_content", b"\x01\x00\x02\x00\x03\x00"),
    ("uint8", 3, "int_val", [3]),
    ("uint16", 3, "int_val", [3]),
    ("uint16", [1, 2, 3], "int_val", [1, 2, 3]),
    ("uint32", 3, "uint32_val", [3]),
    ("uint32", [1, 2, 3], "tensor_content", b"\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00"),
    ("uint64", 3, "uint64_val", [3]),
    ("uint64", [1, 2], "tensor_content", b"\x01" + b"\x00" * 7 + b"\x02" + b"\x00" * 7),
]


@pytest.mark.parametrize("name, value, field, content", TF_PROTOS)
def test_tensor_proto_matches_tensorflow(name, value, field, content):
    dt = sf.as_dtype(name)
    arr = np.asarray(value).astype(dt.as_numpy_dtype)
    p = sf.make_tensor_proto(arr, dtype=dt)
    assert p.dtype == dt.as_datatype_enum
    got = getattr(p, field)
    assert (bytes(got) if field == "tensor_content" else list(got)) == content
    for other in ("half_val", "int_val", "uint32_val", "uint64_val", "tensor_content"):
        if other != field:
            assert not getattr(p, other)
    # and TensorFlow's proto reads back as the array
    _same(sf.make_ndarray(p), arr)
    _same(tensor_util.make_ndarray(sf.TensorProto.FromString(p.SerializeToString())), arr)


def test_tensor_proto_short_value_list_repeats_last_value():
    p = sf.TensorProto(dtype=sf.bfloat16.as_datatype_enum)
    p.tensor_shape.dim.add(size=3)
    p.half_val.append(16448)  # bfloat16 3.0, filled as TensorFlow does
    _same(sf.make_ndarray(p), np.full(3, 3, BF16))


# ---------------------------------------------------------------------------
# placeholders, constants, variables, GraphDef, checkpoints
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXED)
def test_feed_fetch_constant_variable_and_graphdef(name):
    dt = sf.as_dtype(name)
    x, init = _values(dt, seed=1), _values(dt, seed=2)
    g = sf.Graph()
    with g.as_default():
        ph = sf.placeholder(dt, [None, 3], name="ph")
        c = sf.constant(init, name="c")
        v = sf.Variable(init, name="v")
        assign = sf.assign(v, ph)
        t = sf.transpose(sf.concat([ph, c], 0))  # copies of the type
        g2 = sf.gather(c, [1, 0])
    assert c.dtype is dt and v.dtype is dt and t.dtype is dt
    with sf.Session(graph=g) as sess:
        sess.run(sf.variables_initializer([v]))
        _same(sess.run(ph, {ph: x}), x)
        _same(sess.run(c), init)
        _same(sess.run(v), init)
        _same(sess.run(t, {ph: x}), np.concatenate([x, init]).T)
        _same(sess.run(g2), init[[1, 0]])
        sess.run(assign, {ph: x})
        _same(sess.run(v), x)
    # the GraphDef round trip keeps the type and the constant's value
    g3 = sf.Graph()
    with g3.as_default():
        sf.import_graph_def(sf.GraphDef.FromString(g.as_graph_def().SerializeToString()), name="")
    with sf.Session(graph=g3) as sess:
        _same(sess.run("c:0"), init)
        _same(sess.run("ph:0", {"ph:0": x}), x)


@pytest.mark.parametrize("name", NUMERIC)
def test_assign_add_and_feeding_python_values(name):
    dt = sf.as_dtype(name)
    with sf.Graph().as_default():
        v = sf.Variable(np.array([1, 2, 3]).astype(dt.as_numpy_dtype))
        up = sf.assign_add(v, np.array([4, 5, 6]).astype(dt.as_numpy_dtype))
        ph = sf.placeholder(dt, [3])
        with sf.Session() as sess:
            sess.run(v.initializer)
            sess.run(up)
            _same(sess.run(v), np.array([5, 7, 9]).astype(dt.as_numpy_dtype))
            _same(sess.run(ph, {ph: [1, 2, 3]}), np.array([1, 2, 3]).astype(dt.as_numpy_dtype))
            if dt.is_integer:  # a Python value the type cannot hold is refused, not wrapped
                with pytest.raises(sf.errors.InvalidArgumentError, match="outside the .* range"):
                    sess.run(ph, {ph: [1, 2, int(dt.max) + 1]})


def test_saver_saves_and_restores_every_dtype(tmp_path):
    values = {name: _values(sf.as_dtype(name), seed=i) for i, name in enumerate(FIXED)}
    with sf.Graph().as_default():
        vs = {name: sf.Variable(v, name=f"v_{name}") for name, v in values.items()}
        saver = sf.train.Saver()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            path = saver.save(sess, str(tmp_path / "model"))
            for name, v in vs.items():  # overwrite, then restore
                sess.run(sf.assign(v, np.zeros_like(values[name])))
            saver.restore(sess, path)
            for name, v in vs.items():
                _same(sess.run(v), values[name])
    reader = sf.train.load_checkpoint(path)
    dtypes_map = reader.get_variable_to_dtype_map()
    for name in FIXED:
        assert dtypes_map[f"v_{name}"] is sf.as_dtype(name)
        _same(reader.get_tensor(f"v_{name}"), values[name])


def test_graphdef_written_by_tensorflow_computes_what_tensorflow_did():
    with open(os.path.join(FIXTURES, "dtypes.json")) as f:
        meta = json.load(f)
    with open(os.path.join(FIXTURES, "dtypes.pb"), "rb") as f:
        gd = sf.GraphDef.FromString(f.read())

    def typed(a, name):
        return a.view(BF16) if name == "bfloat16" else a

    with np.load(os.path.join(FIXTURES, "dtypes.npz")) as z:
        ins = [typed(z[f"in{i}"], d) for i, d in enumerate(meta["dtypes_in"])]
        outs = [typed(z[f"out{i}"], d) for i, d in enumerate(meta["dtypes_out"])]
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
    with sf.Session(graph=g) as sess:
        got = sess.run(meta["outputs"], dict(zip(meta["inputs"], ins)))
    for name, a, b in zip(meta["outputs"], got, outs):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if name.startswith("o_mmbf"):
            # TensorFlow's bfloat16 MatMul (oneDNN) rounds its products its own way;
            # staticflow computes in float32 and rounds once: within one bfloat16 unit
            np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=2**-7, err_msg=name)
        else:
            _same(a, b)


# ---------------------------------------------------------------------------
# kernels: what TensorFlow computes, and what it refuses
# ---------------------------------------------------------------------------


def _run(t, feeds=None):
    with sf.Session() as sess:
        return sess.run(t, feeds)


def test_half_arithmetic_rounds_like_tensorflow():
    with sf.Graph().as_default():
        # TensorFlow: float16 sum of 10000 x 0.1 accumulates its own way (997.0); staticflow
        # sums in float32 and rounds once, like NumPy (1000.0). AddN rounds every step like TF.
        x = np.full([10000], 0.1, np.float16)
        assert _run(sf.reduce_sum(x)) == np.float16(1000.0)
        xs = [np.random.default_rng(i).uniform(-1, 1, (64,)).astype(np.float16) for i in range(5)]
        seq = xs[0]
        for v in xs[1:]:
            seq = (seq.astype(np.float32) + v.astype(np.float32)).astype(np.float16)
        _same(_run(sf.add_n([sf.constant(v) for v in xs])), seq)
        # products in float32 of exact inputs, rounded once (TensorFlow's float16 MatMul)
        a = np.random.default_rng(0).uniform(-1, 1, (16, 300)).astype(np.float16)
        b = np.random.default_rng(1).uniform(-1, 1, (300, 8)).astype(np.float16)
        _same(_run(sf.matmul(a, b)), (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16))
        # casts through float32, as TensorFlow's Eigen types (TensorFlow's values)
        d = np.array([1 + 2**-11 + 2**-40, 1 + 2**-8 + 2**-40, 1 + 2**-9 + 2**-35])
        _same(_run(sf.cast(d, sf.float16)).view(np.uint16), np.array([15360, 15364, 15362], np.uint16))
        _same(_run(sf.cast(d, sf.bfloat16)).view(np.uint16), np.array([16256, 16256, 16256], np.uint16))
        f = np.array([300.7, -5.5, 65519.9, 70000, np.nan], np.float32)
        got = _run(sf.cast(f, sf.float16))
        np.testing.assert_array_equal(got[:4], np.array([300.75, -5.5, 65504, np.inf], np.float16))
        assert np.isnan(got[4])


def test_integer_types_wrap_like_tensorflow():
    with sf.Graph().as_default():
        i = np.array([300, -1, 70000, -40000, 2**31 - 1], np.int32)
        _same(_run(sf.cast(i, sf.int8)), np.array([44, -1, 112, -64, -1], np.int8))
        _same(_run(sf.cast(i, sf.uint16)), np.array([300, 65535, 4464, 25536, 65535], np.uint16))
        _same(_run(sf.reduce_mean(np.array([250, 250], np.uint8))), np.uint8(250))
        _same(_run(sf.reduce_sum(np.array([100, 100], np.int8))), np.int8(-56))
        _same(
            _run(sf.floordiv(np.array([7, 200], np.uint8), np.array([2, 255], np.uint8))),
            np.array([3, 0], np.uint8),
        )
        _same(
            _run(sf.floormod(np.array([-7, 7], np.int8), np.array([2, -2], np.int8))),
            np.array([1, -1], np.int8),
        )
        p = sf.pow(np.array([3, -2], np.int8), np.array([5, 3], np.int8))
        _same(_run(p), np.array([-13, -8], np.int8))
        _same(_run(sf.argmax(np.array([1, np.nan, 3], np.float16))), np.int64(2))  # NaN is ignored (TF)
        _same(_run(sf.argmax(np.array([1, 5, 5], np.uint16))), np.int64(1))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: sf.exp(sf.constant([1], sf.int8)), "parameter 'x' has DataType int8 not in list of allow"),
        (lambda: sf.negative(sf.constant([1], sf.uint16)), "DataType uint16 not in list of allowed values"),
        (lambda: sf.pow(sf.constant([1], sf.uint8), sf.constant([1], sf.uint8)), "DataType uint8"),
        (lambda: sf.matmul(sf.constant([[1]], sf.int8), sf.constant([[1]], sf.int8)), "DataType int8"),
        (lambda: sf.logical_not(sf.constant([1], sf.int8)), "DataType int8"),
    ],
)
def test_an_op_without_a_kernel_for_the_type_fails_at_construction(make, message):
    with sf.Graph().as_default(), pytest.raises(TypeError, match=message):
        make()


# ---------------------------------------------------------------------------
# saturate_cast, bitcast, convert_image_dtype (TensorFlow's values)
# ---------------------------------------------------------------------------

F = np.array([300.7, -5.5, 1e10, -1e10, np.nan, np.inf, -np.inf, 2.5, -0.7, 65519.9, 70000], np.float32)


def test_saturate_cast_matches_tensorflow():
    with sf.Graph().as_default():
        _same(
            _run(sf.saturate_cast(F, sf.uint8)),
            np.array([255, 0, 255, 0, 0, 255, 0, 2, 0, 255, 255], np.uint8),
        )
        i = np.array([300, -1, 70000, -40000, 2**31 - 1], np.int32)
        _same(_run(sf.saturate_cast(i, sf.int8)), np.array([127, -1, 127, -128, 127], np.int8))
        _same(
            _run(sf.saturate_cast(np.array([1e10, -1e10, 5.5], np.float32), sf.int32)),
            np.array([2147483520, -2147483648, 5], np.int32),
        )
        _same(
            _run(sf.saturate_cast(np.array([-1, 2**40, 7], np.int64), sf.uint32)),
            np.array([0, 4294967295, 7], np.uint32),
        )
        u = np.array([0, 200, 65535], np.uint16)
        _same(_run(sf.saturate_cast(u, sf.int8)), np.array([0, 127, 127], np.int8))
        h = _run(sf.saturate_cast(F, sf.float16))
        want = [300.8, -5.5, 65504, -65504, np.nan, 65504, -65504, 2.5, -0.7, 65504, 65504]
        want = np.array(want, np.float16)
        np.testing.assert_array_equal(h, want)
        b = _run(sf.saturate_cast(np.array([1e38, np.inf, -np.inf], np.float32), sf.bfloat16))
        np.testing.assert_array_equal(
            b.astype(np.float64), [9.969209968386869e37, 3.3895313892515355e38, -3.3895313892515355e38]
        )


def test_bitcast_matches_tensorflow():
    with sf.Graph().as_default():
        _same(_run(sf.bitcast(np.float32(1.0), sf.int32)), np.int32(1065353216))
        _same(_run(sf.bitcast(np.array([0, 0, 128, 63], np.uint8), sf.float32)), np.float32(1.0))
        h = sf.bitcast(np.array([1.0, -2.0], np.float16), sf.uint16)
        _same(_run(h), np.array([15360, 49152], np.uint16))
        _same(_run(sf.bitcast(np.array([1, 2], np.int64), sf.int32)), np.array([[1, 0], [2, 0]], np.int32))
        with pytest.raises(ValueError, match="Cannot bitcast from uint8 to float32"):
            sf.bitcast(np.array([1, 2, 3], np.uint8), sf.float32)
        with pytest.raises(TypeError, match="DataType bool"):
            sf.bitcast(np.array([True]), sf.uint8)


@pytest.mark.parametrize(
    "x, dtype, saturate, want",
    [
        (np.array([0, 1, 127, 128, 255], np.uint8), "float32", False,
         np.array([0.0, 0.003921568859368563, 0.49803924560546875, 0.501960813999176, 1.0], np.float32)),
        (np.array([0, 1, 127, 128, 255], np.uint8), "uint16", False,
         np.array([0, 256, 32512, 32768, 65280], np.uint16)),
        (np.array([0, 1, 127, 128, 255], np.uint8), "int8", False, np.array([0, 0, 63, 64, 127], np.int8)),
        (np.array([0, 255, 256, 65535], np.uint16), "uint8", False, np.array([0, 0, 1, 255], np.uint8)),
        (np.array([0.0, 0.25, 0.5, 0.999, 1.0], np.float32), "uint8", False,
         np.array([0, 63, 127, 255, 255], np.uint8)),
        (np.array([0.0, 0.25, 0.5, 0.999, 1.0, 1.5, -0.2], np.float32), "uint8", True,
         np.array([0, 63, 127, 255, 255, 255, 0], np.uint8)),
        (np.array([0.0, 0.25, 0.5, 0.999, 1.0, -0.2], np.float32), "int16", False,
         np.array([0, 8191, 16383, 32734, 32767, -6553], np.int16)),
        (np.array([0.0, 0.25, 0.999, -0.2], np.float32), "float16", False,
         np.array([0.0, 0.25, 0.9990234375, -0.199951171875], np.float16)),
        (np.array([-128, 0, 127], np.int8), "float32", False,
         np.array([-1.0078740119934082, 0.0, 1.0], np.float32)),
    ],
)  # fmt: skip
def test_convert_image_dtype_matches_tensorflow(x, dtype, saturate, want):
    with sf.Graph().as_default():
        _same(_run(sf.image.convert_image_dtype(x, dtype, saturate=saturate)), want)


# ---------------------------------------------------------------------------
# 16-bit float graphs differentiate (their gradients checked against float32)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_gradients_follow_float32(name):
    dt = sf.as_dtype(name)
    rng = np.random.default_rng(3)
    xv = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    wv = rng.uniform(-1, 1, (5, 3)).astype(np.float32)
    bv = rng.uniform(-1, 1, (3,)).astype(np.float32)
    grads = {}
    for t in (sf.float32, dt):
        with sf.Graph().as_default():
            x = sf.constant(xv.astype(t.as_numpy_dtype))
            w = sf.Variable(wv.astype(t.as_numpy_dtype))
            b = sf.Variable(bv.astype(t.as_numpy_dtype))
            h = sf.nn.bias_add(sf.matmul(x, w), b)
            loss = sf.reduce_mean(sf.square(sf.tanh(h)) + sf.sigmoid(h) * sf.nn.relu(h))
            gw, gb = sf.gradients(loss, [w, b])
            assert gw.dtype is t and gb.dtype is t
            step = sf.train.GradientDescentOptimizer(0.1).minimize(loss) if t is sf.float32 else None
            with sf.Session() as sess:
                sess.run(sf.global_variables_initializer())
                grads[t.name] = [g.astype(np.float32) for g in sess.run([gw, gb])]
                if step is not None:
                    sess.run(step)
    tol = 2**-9 if name == "float16" else 2**-6
    for a, b in zip(grads[name], grads["float32"]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())
