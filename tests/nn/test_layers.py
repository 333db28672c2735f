"""sf.layers: TF1's default names and reuse, the layer classes, and the convolution layers'
values against NumPy loops."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _net(x):
    h = sf.layers.conv2d(x, 4, 3)
    h = sf.layers.conv2d(h, 4, 3)
    h = sf.layers.flatten(h)
    return sf.layers.dense(h, 2)


def test_building_a_network_twice_reuses_its_variables():
    """The second build inside variable_scope(..., reuse=True) gets the same default names
    (names as TensorFlow 2.21's compat.v1 legacy layers give them)."""
    x = sf.placeholder(sf.float32, [None, 8, 8, 3])
    with sf.variable_scope("m"):
        y = _net(x)
    with sf.variable_scope("m", reuse=True):
        y2 = _net(x)
    assert [v.name for v in sf.global_variables()] == [
        "m/conv2d/kernel:0",
        "m/conv2d/bias:0",
        "m/conv2d_1/kernel:0",
        "m/conv2d_1/bias:0",
        "m/dense/kernel:0",
        "m/dense/bias:0",
    ]
    assert (y.name, y2.name) == ("m/dense/BiasAdd:0", "m_1/dense/BiasAdd:0")
    xv = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        a, b = sess.run([y, y2], {x: xv})
    np.testing.assert_array_equal(a, b)


def test_layer_object_weights_scope_and_second_application():
    d = sf.layers.Dense(3, activation="relu")
    with pytest.raises(ValueError, match="has not been used yet"):
        d.scope_name  # noqa: B018
    o = d(sf.zeros([2, 2]))
    o2 = d.apply(sf.ones([4, 2]))
    assert d.scope_name == "dense" and o.name == "dense/Relu:0" and o2.name == "dense/Relu_1:0"
    assert [w.name for w in d.trainable_weights] == ["dense/kernel:0", "dense/bias:0"]
    assert d.weights == d.trainable_weights and d.non_trainable_weights == []
    assert d.kernel.shape.as_list() == [2, 3] and o2.shape.as_list() == [4, 3]
    assert sf.layers.dense([[1.0, 2.0]], 3, name="from_list").shape.as_list() == [1, 3]
    frozen = sf.layers.Dense(2, trainable=False, name="frozen")
    frozen(sf.zeros([1, 3]))
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 2
    assert all(v not in sf.trainable_variables() for v in frozen.non_trainable_weights)


def test_regularizers_and_errors():
    reg = lambda w: 0.5 * sf.reduce_sum(sf.square(w))  # noqa: E731
    d = sf.layers.Dense(2, kernel_regularizer=reg, kernel_initializer=sf.ones_initializer())
    d(sf.zeros([1, 3]))
    losses = sf.get_collection(sf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(d.losses) == 1 and losses == d.losses
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        assert sess.run(d.losses[0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        sf.layers.dense(sf.placeholder(sf.float32, [None, None]), 3)
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        sf.layers.conv2d(sf.zeros([1, 4, 4]), 2, 3)
    with pytest.raises(ValueError, match="Unknown activation function: 'nope'"):
        sf.layers.Dense(2, activation="nope")


def _conv2d_ref(x, w, stride, pad_hw):
    """Cross-correlation of NHWC x with [kh, kw, in, out] w after zero-padding."""
    (pt, pb), (pl, pr) = pad_hw
    x = np.pad(x, [(0, 0), (pt, pb), (pl, pr), (0, 0)])
    kh, kw = w.shape[:2]
    oh = (x.shape[1] - kh) // stride[0] + 1
    ow = (x.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _deconv_ref(x, w, stride, padding):
    """Transposed convolution by scattering: every input pixel adds w * value at stride steps;
    w is [kh, kw, out, in]. 'same' crops the full result to in * stride, as TensorFlow does."""
    n, h, wd, _ = x.shape
    kh, kw, co, _ = w.shape
    full = np.zeros((n, (h - 1) * stride[0] + kh, (wd - 1) * stride[1] + kw, co))
    for i in range(h):
        for j in range(wd):
            full[:, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw, :] += np.einsum(
                "nc,hwoc->nhwo", x[:, i, j, :], w
            )
    if padding == "valid":
        # TF's output length in * stride + max(k - stride, 0) may exceed the scatter's extent by
        # stride - k: those trailing rows/columns receive no input
        oh, ow = h * stride[0] + max(kh - stride[0], 0), wd * stride[1] + max(kw - stride[1], 0)
        out = np.zeros((n, oh, ow, co))
        out[:, : full.shape[1], : full.shape[2]] = full[:, :oh, :ow]
        return out
    oh, ow = h * stride[0], wd * stride[1]
    top = max((h - 1) * stride[0] + kh - oh, 0) // 2
    left = max((wd - 1) * stride[1] + kw - ow, 0) // 2
    return full[:, top : top + oh, left : left + ow]


@pytest.mark.parametrize("padding,stride,kernel", [("valid", (2, 3), (3, 2)), ("same", (2, 2), (3, 3))])
def test_conv2d_transpose_matches_scatter_reference(padding, stride, kernel):
    xv = RNG.standard_normal((2, 4, 5, 3))
    x = sf.placeholder(sf.float64, [None, 4, 5, 3])
    y = sf.layers.conv2d_transpose(x, 2, kernel, strides=stride, padding=padding, name="up")
    layer_vars = {v.op.name: v for v in sf.global_variables()}
    assert layer_vars["up/kernel"].shape.as_list() == [*kernel, 2, 3]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, w, b = sess.run([y, layer_vars["up/kernel"], layer_vars["up/bias"]], {x: xv})
    want = _deconv_ref(xv, w, stride, padding) + b
    assert y.shape.as_list() == [None, *want.shape[1:]]
    np.testing.assert_allclose(yv, want, rtol=1e-10, atol=1e-12)


def test_conv1d_pool1d_and_channels_first_match_numpy():
    seq = RNG.standard_normal((2, 7, 3))
    y = sf.layers.conv1d(sf.constant(seq), 4, 3, strides=2, padding="valid", name="c1")
    yf = sf.layers.conv1d(sf.constant(seq.transpose(0, 2, 1)), 4, 3, data_format="channels_first", name="c1f")
    img = RNG.standard_normal((2, 6, 6, 3))
    z = sf.layers.conv2d(
        sf.constant(img.transpose(0, 3, 1, 2)), 2, 3, data_format="channels_first", name="cf"
    )
    p = sf.layers.max_pooling1d(sf.constant(seq), 2, 2)
    a = sf.layers.average_pooling1d(sf.constant(seq), 3, 1)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, yfv, zv, pv, av, w, wf, wz, bf = sess.run(
            [y, yf, z, p, a, "c1/kernel:0", "c1f/kernel:0", "cf/kernel:0", "c1f/bias:0"]
        )
    want = _conv2d_ref(seq[:, None], w[None], (1, 2), ((0, 0), (0, 0)))[:, 0]
    np.testing.assert_allclose(yv, want, rtol=1e-10)
    want_f = _conv2d_ref(seq[:, None], wf[None], (1, 1), ((0, 0), (0, 0)))[:, 0] + bf
    np.testing.assert_allclose(yfv, want_f.transpose(0, 2, 1), rtol=1e-10)
    np.testing.assert_allclose(
        zv, _conv2d_ref(img, wz, (1, 1), ((0, 0), (0, 0))).transpose(0, 3, 1, 2), rtol=1e-10
    )
    np.testing.assert_allclose(pv, np.maximum(seq[:, 0:6:2], seq[:, 1:7:2]))
    np.testing.assert_allclose(av, (seq[:, 0:5] + seq[:, 1:6] + seq[:, 2:7]) / 3)


def test_separable_conv2d_is_depthwise_then_pointwise():
    img = RNG.standard_normal((1, 5, 5, 2))
    y = sf.layers.separable_conv2d(sf.constant(img), 3, 2, depth_multiplier=2, name="sep")
    names = [v.op.name for v in sf.global_variables()]
    assert names == ["sep/depthwise_kernel", "sep/pointwise_kernel", "sep/bias"]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, dw, pw = sess.run([y, "sep/depthwise_kernel:0", "sep/pointwise_kernel:0"])
    depth = np.concatenate(
        [
            _conv2d_ref(img[..., c : c + 1], dw[:, :, c : c + 1, :], (1, 1), ((0, 0), (0, 0)))
            for c in range(2)
        ],
        -1,
    )
    np.testing.assert_allclose(yv, depth @ pw[0, 0], rtol=1e-10)


def test_batch_normalization_and_dropout_classes():
    x = sf.placeholder(sf.float64, [None, 3])
    bn = sf.layers.BatchNormalization(momentum=0.5)
    y = bn(x, training=True)
    y2 = bn(x, training=False)
    assert [v.op.name for v in bn.trainable_weights] == [
        "batch_normalization/gamma",
        "batch_normalization/beta",
    ]
    assert [v.op.name for v in bn.non_trainable_weights] == [
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
    ]
    assert len(bn.updates) == 2 and all(u in sf.get_collection(sf.GraphKeys.UPDATE_OPS) for u in bn.updates)
    drop = sf.layers.Dropout(0.5)
    d_off = drop(x)
    d_on = drop(x, training=True)
    xv = RNG.standard_normal((64, 3)) + 3.0
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        yv, _ = sess.run([y, bn.updates], {x: xv})
        mean = sess.run(bn.moving_mean)
        off, on = sess.run([d_off, d_on], {x: xv})
        y2v = sess.run(y2, {x: xv})
    np.testing.assert_allclose(yv.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(mean, 0.5 * xv.mean(0), rtol=1e-10)
    np.testing.assert_array_equal(off, xv)
    assert set(np.unique(np.round(on / xv, 9))) <= {0.0, 2.0}
    assert y2v.shape == (64, 3)
