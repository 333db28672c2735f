"""NaN, Inf and -0.0 as TensorFlow handles them: staticflow's results against TensorFlow's.

The expected values were computed by TensorFlow (tf.compat.v1, CPU) on the same
inputs and are checked in as literals. docs/nan_semantics.md states the rules;
the cases where TensorFlow's own result varies (softmax rows holding NaN or
+Inf) or where staticflow differs on purpose (float to int casts, Erf(+-Inf)
in float64, non-finite filter values over a convolution's padding) are tested
against staticflow's documented rule in test_nan_rules_where_tensorflow_varies.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import builder

nan, inf = float("nan"), float("inf")
F = np.float32


def A(*v):
    return np.array(v, F)


def _raw(op_type, **kwargs):
    """A registry op by TensorFlow's raw name with keyword inputs and attrs."""
    from staticflow.ops import registry

    d = registry.get(op_type)
    inputs = [kwargs.pop(a.name) for a in d.inputs]
    outs = builder.apply_op(op_type, inputs, kwargs).outputs
    return outs if len(outs) > 1 else outs[0]


_BUILD = {
    "relu_grad": lambda sf: _raw(
        "ReluGrad", gradients=A(nan, 1, 2, nan, 3, nan), features=A(-1, 0, nan, 2, -0.0, nan)
    ),
    "selu_grad": lambda sf: _raw(
        "SeluGrad", gradients=A(1, 1, 1, 1, nan, 2), outputs=A(0, -0.0, -0.5, 0.5, 1, nan)
    ),
    "elu_grad": lambda sf: _raw(
        "EluGrad", gradients=A(1, 1, 1, 1, nan, 2), outputs=A(0, -0.0, -0.5, 0.5, 1, nan)
    ),
    "leaky_relu_grad": lambda sf: _raw(
        "LeakyReluGrad", gradients=A(1, 1, 1, nan, 2), features=A(0, -0.0, nan, 1, -1), alpha=0.2
    ),
    "sqrt_grad": lambda sf: _raw("SqrtGrad", y=A(0, inf, nan, 2, 0), dy=A(0, 0, 0, 1, 1)),
    "rsqrt_grad": lambda sf: _raw("RsqrtGrad", y=A(0, inf, nan, 2, inf), dy=A(0, 0, 0, 1, 1)),
    "reciprocal_grad": lambda sf: _raw("ReciprocalGrad", y=A(0, inf, nan, 2, inf), dy=A(0, 0, 0, 1, 1)),
    "tanh_grad": lambda sf: _raw("TanhGrad", y=A(inf, nan, 1, 0), dy=A(0, 1, nan, inf)),
    "softplus_grad": lambda sf: _raw(
        "SoftplusGrad", gradients=A(1, 1, 1, nan), features=A(inf, -inf, nan, 0)
    ),
    "reduce_max": lambda sf: sf.reduce_max(
        np.array([[nan, 1, 2], [1, nan, 2], [1, 2, nan], [-inf, -inf, -inf], [inf, nan, 0]], F), axis=1
    ),
    "reduce_min": lambda sf: sf.reduce_min(
        np.array([[nan, 1, 2], [1, nan, 2], [1, 2, nan], [inf, inf, inf], [-inf, nan, 0]], F), axis=1
    ),
    "reduce_sum": lambda sf: sf.reduce_sum(
        np.array([[nan, 1, 2], [inf, -inf, 0], [inf, inf, 1], [-0.0, -0.0, -0.0]], F), axis=1
    ),
    "reduce_mean": lambda sf: sf.reduce_mean(
        np.array([[nan, 1, 2], [inf, -inf, 0], [inf, inf, 1]], F), axis=1
    ),
    "reduce_prod": lambda sf: sf.reduce_prod(np.array([[nan, 1, 2], [inf, 0, 1], [-inf, -1, 2]], F), axis=1),
    "maximum": lambda sf: sf.maximum(A(nan, 1, nan, -0.0, 0, inf), A(1, nan, nan, 0, -0.0, nan)),
    "minimum": lambda sf: sf.minimum(A(nan, 1, nan, -0.0, 0, -inf), A(1, nan, nan, 0, -0.0, nan)),
    "clip_by_value": lambda sf: sf.clip_by_value(A(nan, inf, -inf, 5, -5, 0.5), 0.0, 1.0),
    "less": lambda sf: sf.less(A(nan, 1, nan, -inf, -0.0), A(1, nan, nan, inf, 0)),
    "less_equal": lambda sf: sf.less_equal(A(nan, 1, nan, -inf, -0.0), A(1, nan, nan, inf, 0)),
    "equal": lambda sf: sf.equal(A(nan, 1, nan, -inf, -0.0), A(1, nan, nan, -inf, 0)),
    "not_equal": lambda sf: sf.not_equal(A(nan, 1, nan, -inf, -0.0), A(1, nan, nan, -inf, 0)),
    "greater": lambda sf: sf.greater(A(nan, 1, nan, inf, 0), A(1, nan, nan, -inf, -0.0)),
    "relu": lambda sf: sf.nn.relu(A(nan, inf, -inf, -0.0, 0.0, -1, 2)),
    "sign": lambda sf: sf.sign(A(nan, inf, -inf, -0.0, 0.0, -1, 2)),
    "abs": lambda sf: sf.abs(A(nan, inf, -inf, -0.0, 0.0, -1, 2)),
    "floor_ceil_round": lambda sf: sf.stack(
        [
            sf.floor(A(nan, inf, -inf, -0.5, 0.5, 1.5, 2.5)),
            sf.math.ceil(A(nan, inf, -inf, -0.5, 0.5, 1.5, 2.5)),
            sf.round(A(nan, inf, -inf, -0.5, 0.5, 1.5, 2.5)),
        ]
    ),
    "log_sqrt_reciprocal": lambda sf: sf.stack(
        [
            sf.math.log(A(0, -0.0, -1, inf, nan)),
            sf.sqrt(A(0, -0.0, -1, inf, nan)),
            sf.math.reciprocal(A(0, -0.0, -1, inf, nan)),
            sf.math.rsqrt(A(0, -0.0, -1, inf, nan)),
        ]
    ),
    "exp_sigmoid_tanh": lambda sf: sf.stack(
        [
            sf.exp(A(inf, -inf, nan, 100, -100)),
            sf.sigmoid(A(inf, -inf, nan, 100, -100)),
            sf.tanh(A(inf, -inf, nan, 100, -100)),
        ]
    ),
    "softplus_elu_selu": lambda sf: sf.stack(
        [
            sf.nn.softplus(A(inf, -inf, nan, 100, -100)),
            sf.nn.elu(A(inf, -inf, nan, 100, -100)),
            sf.nn.selu(A(inf, -inf, nan, 100, -100)),
        ]
    ),
    "div_mod_pow": lambda sf: sf.stack(
        [
            sf.math.divide(A(1, -1, 0, inf, nan), A(0, 0, 0, inf, 1)),
            sf.math.floormod(A(1, -1, 5, inf, 5), A(0, 0, inf, 2, -inf)),
            sf.pow(A(0, nan, 1, -1, inf), A(-1, 0, nan, 0.5, -1)),
        ]
    ),
    "floordiv": lambda sf: sf.math.floordiv(A(1, -1, 0, inf, nan), A(0, 0, 0, 2, 1)),
    "max_pool": lambda sf: sf.nn.max_pool(
        np.array([nan, nan, nan, nan, nan, 1, 2, nan, -inf, -inf, -inf, -inf, 3, nan, -inf, 4], F)
        .reshape(1, 2, 8, 1)
        .transpose(0, 2, 1, 3)
        .reshape(1, 4, 4, 1),
        [1, 2, 2, 1],
        [1, 2, 2, 1],
        "VALID",
    ),
    "avg_pool": lambda sf: sf.nn.avg_pool(
        np.array([nan, 1, 2, 3, inf, 1, -inf, 2, 1, 1, 1, 1, 2, 2, 2, 2], F).reshape(1, 4, 4, 1),
        [1, 2, 2, 1],
        [1, 2, 2, 1],
        "VALID",
    ),
    "argmax": lambda sf: sf.argmax(
        np.array([[nan, 1, 2], [1, nan, 2], [nan, nan, nan], [-inf, -inf, nan], [nan, inf, 1]], F), axis=1
    ),
    "argmin": lambda sf: sf.argmin(
        np.array([[nan, 1, 2], [1, nan, 2], [nan, nan, nan], [inf, inf, nan], [nan, -inf, 1]], F), axis=1
    ),
    "softmax": lambda sf: sf.nn.softmax(
        np.array([[-inf, 1, 2], [-inf, -inf, -inf], [1e30, 1, 0], [-inf, -inf, 0]], F)
    ),
    "log_softmax": lambda sf: sf.nn.log_softmax(np.array([[-inf, 1, 2], [1e30, 1, 0], [-inf, -inf, 0]], F)),
    "select": lambda sf: sf.where(
        np.array([True, False, True, False]), A(nan, nan, -0.0, 1), A(1, inf, 2, nan)
    ),
    "squared_difference": lambda sf: sf.math.squared_difference(A(inf, inf, nan, -0.0), A(inf, -inf, 1, 0.0)),
    "matmul": lambda sf: sf.matmul(np.array([[inf, 0], [nan, 1], [1, 1]], F), np.array([[0, 1], [2, 3]], F)),
    "bias_add": lambda sf: sf.nn.bias_add(np.array([[inf, -inf], [nan, 1]], F), A(-inf, nan)),
    "add_n": lambda sf: sf.add_n([A(inf, -inf, nan, 1), A(-inf, -inf, 1, 2), A(1, 1, 1, inf)]),
    "sparse_xent": lambda sf: sf.stack(
        list(
            _raw(
                "SparseSoftmaxCrossEntropyWithLogits",
                features=np.array([[nan, 1, 2], [inf, 1, 2], [-inf, 1, 2], [1, 2, 3]], F),
                labels=np.array([1, 1, 0, 2], np.int32),
            )
        )[:1]
    ),
}

# TensorFlow's results for _BUILD, (dtype, value)
_TF = {
    "relu_grad": ("float32", [nan, 0.0, 0.0, nan, 0.0, nan]),
    "selu_grad": (
        "float32",
        [
            1.0507010221481323,
            1.0507010221481323,
            1.2580993175506592,
            1.0507010221481323,
            nan,
            2.1014020442962646,
        ],
    ),
    "elu_grad": ("float32", [1.0, 1.0, 0.5, 1.0, nan, 2.0]),
    "leaky_relu_grad": (
        "float32",
        [0.20000000298023224, 0.20000000298023224, 0.20000000298023224, nan, 0.4000000059604645],
    ),
    "sqrt_grad": ("float32", [0.0, 0.0, 0.0, 0.25, inf]),
    "rsqrt_grad": ("float32", [0.0, 0.0, 0.0, -4.0, -inf]),
    "reciprocal_grad": ("float32", [0.0, 0.0, 0.0, -4.0, -inf]),
    "tanh_grad": ("float32", [nan, nan, nan, inf]),
    "softplus_grad": ("float32", [1.0, 0.0, nan, nan]),
    "reduce_max": ("float32", [nan, nan, nan, -inf, nan]),
    "reduce_min": ("float32", [nan, nan, nan, inf, nan]),
    "reduce_sum": ("float32", [nan, nan, inf, 0.0]),
    "reduce_mean": ("float32", [nan, nan, inf]),
    "reduce_prod": ("float32", [nan, nan, inf]),
    "maximum": ("float32", [nan, nan, nan, -0.0, 0.0, nan]),
    "minimum": ("float32", [nan, nan, nan, -0.0, 0.0, nan]),
    "clip_by_value": ("float32", [nan, 1.0, 0.0, 1.0, 0.0, 0.5]),
    "less": ("bool", [False, False, False, True, False]),
    "less_equal": ("bool", [False, False, False, True, True]),
    "equal": ("bool", [False, False, False, True, True]),
    "not_equal": ("bool", [True, True, True, False, False]),
    "greater": ("bool", [False, False, False, True, False]),
    "relu": ("float32", [nan, inf, 0.0, -0.0, 0.0, 0.0, 2.0]),
    "sign": ("float32", [nan, 1.0, -1.0, 0.0, 0.0, -1.0, 1.0]),
    "abs": ("float32", [nan, inf, inf, 0.0, 0.0, 1.0, 2.0]),
    "floor_ceil_round": (
        "float32",
        [
            [nan, inf, -inf, -1.0, 0.0, 1.0, 2.0],
            [nan, inf, -inf, -0.0, 1.0, 2.0, 3.0],
            [nan, inf, -inf, -0.0, 0.0, 2.0, 2.0],
        ],
    ),
    "log_sqrt_reciprocal": (
        "float32",
        [
            [-inf, -inf, nan, inf, nan],
            [0.0, -0.0, nan, inf, nan],
            [inf, -inf, -1.0, 0.0, nan],
            [inf, -inf, nan, 0.0, nan],
        ],
    ),
    "exp_sigmoid_tanh": (
        "float32",
        [[inf, 0.0, nan, inf, 0.0], [1.0, 0.0, nan, 1.0, 0.0], [1.0, -1.0, nan, 1.0, -1.0]],
    ),
    "softplus_elu_selu": (
        "float32",
        [
            [inf, 0.0, nan, 100.0, 0.0],
            [inf, -1.0, nan, 100.0, -1.0],
            [inf, -1.7580993175506592, nan, 105.07009887695312, -1.7580993175506592],
        ],
    ),
    "div_mod_pow": (
        "float32",
        [[inf, -inf, nan, nan, nan], [nan, nan, 5.0, nan, -inf], [inf, 1.0, 1.0, nan, 0.0]],
    ),
    "floordiv": ("float32", [inf, -inf, nan, inf, nan]),
    "max_pool": ("float32", [[[[-3.4028234663852886e38], [-3.4028234663852886e38]], [[3.0], [4.0]]]]),
    "avg_pool": ("float32", [[[[nan], [-inf]], [[1.5], [1.5]]]]),
    "argmax": ("int64", [2, 2, 0, 0, 1]),
    "argmin": ("int64", [1, 0, 0, 0, 1]),
    "softmax": (
        "float32",
        [[0.0, 0.2689414322376251, 0.7310585379600525], [nan, nan, nan], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
    ),
    "log_softmax": (
        "float32",
        [
            [-inf, -1.31326162815094, -0.31326165795326233],
            [0.0, -1.0000000150474662e30, -1.0000000150474662e30],
            [-inf, -inf, 0.0],
        ],
    ),
    "select": ("float32", [nan, inf, -0.0, nan]),
    "squared_difference": ("float32", [nan, inf, nan, 0.0]),
    "matmul": ("float32", [[nan, inf], [nan, nan], [2.0, 4.0]]),
    "bias_add": ("float32", [[nan, nan], [nan, nan]]),
    "add_n": ("float32", [nan, -inf, nan, inf]),
    "sparse_xent": ("float32", [[nan, nan, inf, 0.40760594606399536]]),
}


def _run(t):
    with sf.Session(graph=t.graph) as sess:
        return sess.run(t)


@pytest.mark.parametrize("name", sorted(_TF))
def test_nan_inf_and_negative_zero_as_tensorflow(name):
    dtype, want = _TF[name]
    g = sf.Graph()
    with g.as_default():
        got = _run(_BUILD[name](sf))
    want = np.array(want, dtype)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: NaN positions")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg=f"{name}: +Inf positions")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want), err_msg=f"{name}: -Inf positions")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-6, atol=1e-7, err_msg=name)


def test_nan_rules_where_tensorflow_varies():
    """staticflow's documented rules where TensorFlow's own result depends on the batch
    shape or the platform, or where staticflow differs on purpose."""
    g = sf.Graph()
    with g.as_default():
        rows = np.array([[nan, 1, 2], [inf, 1, 2], [1, inf, -inf], [-inf, 1, 2]], F)
        soft, log_soft = sf.nn.softmax(rows), sf.nn.log_softmax(rows)
        cast = [
            sf.cast(A(nan, inf, -inf, 1e10, -1e10, -2.7, 300.5), t) for t in (sf.int32, sf.int64, sf.uint8)
        ]
        erf = sf.math.erf(np.array([inf, -inf, nan], np.float64))
    with sf.Session(graph=g) as sess:
        s, ls, c32, c64, c8, e = sess.run([soft, log_soft, *cast, erf])
    # a row holding NaN or +Inf is NaN throughout; -Inf alone is exp(-inf) = 0
    assert np.isnan(s[:3]).all() and np.isnan(ls[:3]).all()
    np.testing.assert_allclose(s[3], [0, 0.26894143, 0.7310586], rtol=1e-6)
    # float to int: truncation toward zero, saturating, NaN -> 0 (TensorFlow on x86 gives
    # the integer type's minimum for NaN, Inf and out-of-range values)
    np.testing.assert_array_equal(c32, [0, 2**31 - 1, -(2**31), 2**31 - 1, -(2**31), -2, 300])
    np.testing.assert_array_equal(c64, [0, 2**63 - 1, -(2**63), 10**10, -(10**10), -2, 300])
    np.testing.assert_array_equal(c8, [0, 255, 0, 255, 0, 0, 255])
    # erf(+-Inf) = +-1 in both float types (TensorFlow's float64 Erf gives NaN there)
    np.testing.assert_array_equal(e[:2], [1.0, -1.0])
    assert np.isnan(e[2])


def test_as_string_pads_nan_and_inf_with_spaces():
    # TensorFlow (C's printf): the 0 flag does not apply to nan and inf
    g = sf.Graph()
    with g.as_default():
        s = sf.as_string(np.array([nan, inf, -inf, -0.0]), precision=3, width=14, fill="0")
    got = sf.Session(graph=g).run(s)
    assert got.tolist() == [b"           nan", b"           inf", b"          -inf", b"-000000000.000"]
