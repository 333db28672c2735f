"""Pattern fusion (the `remapping` pass): each pattern fuses where it should, stays apart where
it must, and computes what the unfused graph and the NumPy reference evaluator compute --
values and gradients, on odd shapes."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime import reference

OFF = sf.ConfigProto(
    graph_options=sf.GraphOptions(rewrite_options=sf.RewriterConfig(remapping=sf.RewriterConfig.OFF))
)


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default() as g:
        yield g


def _rng(seed=0):
    return np.random.default_rng(seed)


def _f32(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def _fused_types(fetches, feed, config=None):
    """The op types of the plan's steps (after every pass)."""
    with sf.Session(config=config) as s:
        if sf.global_variables():
            s.run(sf.global_variables_initializer())
        p = s.plan(fetches, feed)
    return [st.node.type for st in p.steps if st.node is not None]


def _check(fetches, feed, rtol=2e-5, atol=2e-5):
    """Run with the pass on and off: both agree with each other and with the reference."""
    want = reference.evaluate(fetches, feed)
    got = []
    for cfg in (None, OFF):
        with sf.Session(config=cfg) as s:
            got.append(s.run(fetches, feed))
    for on, off, w in zip(got[0], got[1], want, strict=True):
        np.testing.assert_allclose(on, w, rtol=rtol, atol=atol)
        np.testing.assert_allclose(off, w, rtol=rtol, atol=atol)
        np.testing.assert_allclose(on, off, rtol=rtol, atol=atol)
    return got[0]


# ---------------------------------------------------------------------------
# MatMul + bias + activation
# ---------------------------------------------------------------------------
ACTS = {
    "relu": sf.nn.relu,
    "elu": sf.nn.elu,
    "selu": sf.nn.selu,
    "leaky": lambda x: sf.nn.leaky_relu(x, 0.3),
    "sigmoid": sf.sigmoid,
    "tanh": sf.tanh,
    "none": lambda x: x,
}


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("bias", ["add", "bias_add", "row", "scalar", "sub"])
def test_dense_layer_fuses_and_agrees(act, bias):
    rng = _rng(1)
    x = sf.placeholder(sf.float32, [None, 13])
    w = sf.constant(_f32(rng, 13, 7))
    b = _f32(rng, 7)
    p = sf.matmul(x, w)
    z = {
        "add": lambda: p + b,
        "bias_add": lambda: sf.nn.bias_add(p, b),
        "row": lambda: p + b.reshape(1, 7),
        "scalar": lambda: p + 0.25,
        "sub": lambda: p - b,
    }[bias]()
    y = ACTS[act](z)
    feed = {x: _f32(rng, 11, 13, lo=-2, hi=2)}
    _check(y, feed)
    assert "_FusedMatMul" in _fused_types(y, feed)
    assert "_FusedMatMul" not in _fused_types(y, feed, OFF)


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_transposed_products_fuse(ta, tb):
    rng = _rng(2)
    a = _f32(rng, 9, 5) if ta else _f32(rng, 5, 9)
    w = _f32(rng, 3, 9) if tb else _f32(rng, 9, 3)
    x = sf.placeholder(sf.float32, a.shape)
    y = sf.nn.relu(sf.matmul(x, sf.constant(w), transpose_a=ta, transpose_b=tb) + _f32(rng, 3))
    _check(y, {x: a})
    assert "_FusedMatMul" in _fused_types(y, {x: a})


def test_scales_fold_into_the_weights_with_transpose_b():
    rng = _rng(3)
    x = sf.placeholder(sf.float32, [6, 4])
    w = sf.Variable(_f32(rng, 5, 4))
    s = sf.Variable(_f32(rng, 5, lo=0.5, hi=2))
    y = sf.tanh(sf.matmul(x, w, transpose_b=True) * s + 1.5)
    feed = {x: _f32(rng, 6, 4)}
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got = sess.run(y, feed)
        wv, sv = sess.run([w, s])
    np.testing.assert_allclose(got, np.tanh(feed[x] @ wv.T * sv + 1.5), rtol=1e-5, atol=1e-6)
    types = _fused_types(y, feed)
    assert "_FusedMatMul" in types and "Tanh" not in types


def test_a_value_read_twice_or_fetched_stays_apart():
    rng = _rng(4)
    x = sf.placeholder(sf.float32, [3, 4])
    z = sf.matmul(x, sf.constant(_f32(rng, 4, 5))) + _f32(rng, 5)
    y = sf.nn.relu(z)
    feed = {x: _f32(rng, 3, 4)}
    # the pre-activation is fetched too: the product and bias fuse, the relu stays
    types = _fused_types([y, z], feed)
    assert "Relu" in types and "_FusedMatMul" in types
    _check([y, z], feed)
    # the product is read twice: nothing swallows it
    p = sf.matmul(x, sf.constant(_f32(rng, 4, 5)))
    y2 = sf.nn.relu(p + 1.0) + p
    assert "MatMul" in _fused_types(y2, feed)
    _check(y2, feed)


def test_epilogue_operand_computed_from_the_product_is_not_fused():
    """A training graph's batch normalization: the mean comes from the product itself."""
    rng = _rng(5)
    x = sf.placeholder(sf.float32, [8, 6])
    p = sf.matmul(x, sf.constant(_f32(rng, 6, 4)))
    mean, var = sf.nn.moments(p, [0])
    y = sf.nn.relu(sf.nn.batch_normalization(p, mean, var, None, None, 1e-3))
    feed = {x: _f32(rng, 8, 6)}
    _check(y, feed, rtol=1e-4, atol=1e-4)


def test_fused_ops_name_every_op_they_replace_in_traces():
    rng = _rng(6)
    x = sf.placeholder(sf.float32, [4, 3], name="x")
    w = sf.constant(_f32(rng, 3, 2), name="w")
    y = sf.nn.relu(sf.matmul(x, w, name="dense") + _f32(rng, 2), name="act")
    md = sf.RunMetadata()
    with sf.Session() as s:
        s.run(
            y,
            {x: _f32(rng, 4, 3)},
            options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE),
            run_metadata=md,
        )
    labels = {n.node_name: n.timeline_label for d in md.step_stats.dev_stats for n in d.node_stats}
    assert labels["dense"].startswith("dense = MatMul(x:0, w:0) @ ")
    assert labels["dense"].endswith(" [_FusedMatMul: act, dense, add]")
    assert labels["act"].startswith("act = Relu(add:0) @ ")
    assert "test_remap.py:" in labels["act"] and labels["act"].endswith(" [_FusedMatMul: act, dense, add]")


def test_a_kernel_error_in_a_fused_group_names_the_users_ops():
    from staticflow.compiler.build import where
    from staticflow.passes import remap  # noqa: F401

    rng = _rng(7)
    x = sf.placeholder(sf.float32, [4, 3])
    y = sf.nn.relu(sf.matmul(x, sf.constant(_f32(rng, 3, 2)), name="dense") + 1.0, name="act")
    with sf.Session() as s:
        p = s.plan(y, {x: _f32(rng, 4, 3)})
    step = next(st for st in p.steps if st.node.type == "_FusedMatMul")
    text = where(step.node)
    assert "dense (MatMul)" in text and "act (Relu)" in text and "test_remap.py" in text


# ---------------------------------------------------------------------------
# Conv2D + bias + activation (+ max pool); batch normalization folded in
# ---------------------------------------------------------------------------
CONVS = [
    # image, filter, strides, padding: im2col strided, direct (one input channel), pointwise
    ((3, 9, 7, 3), (3, 3, 3, 5), [1, 2, 1, 1], "SAME"),
    ((2, 10, 9, 1), (5, 5, 1, 6), [1, 1, 1, 1], "SAME"),
    ((2, 5, 6, 4), (1, 1, 4, 3), [1, 1, 1, 1], "VALID"),
    ((5, 11, 11, 6), (3, 3, 6, 16), [1, 1, 1, 1], "VALID"),
]


@pytest.mark.parametrize("cfg", range(len(CONVS)))
@pytest.mark.parametrize("pool", [False, True])
def test_conv_bias_relu_pool_fuses_and_agrees(cfg, pool):
    xs, ws, strides, padding = CONVS[cfg]
    rng = _rng(10 + cfg)
    x = sf.placeholder(sf.float32, [None, *xs[1:]])
    h = sf.nn.conv2d(x, sf.constant(_f32(rng, *ws)), strides=strides, padding=padding)
    h = sf.nn.relu(sf.nn.bias_add(h, _f32(rng, ws[3])))
    y = sf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME" if cfg % 2 else "VALID") if pool else h
    feed = {x: _f32(rng, *xs)}
    _check(y, feed, rtol=1e-4, atol=1e-5)
    types = _fused_types(y, feed)
    assert ("_FusedConv2DMaxPool" if pool else "_FusedConv2D") in types
    assert "MaxPool" not in types and "Relu" not in types


def test_inference_batch_norm_folds_into_the_convolution():
    rng = _rng(20)
    x = sf.placeholder(sf.float32, [None, 8, 8, 3])
    f = sf.Variable(_f32(rng, 3, 3, 3, 4))
    mean = sf.Variable(_f32(rng, 4))
    var = sf.Variable(_f32(rng, 4, lo=0.5, hi=2.0))
    beta = sf.Variable(_f32(rng, 4))
    gamma = sf.Variable(_f32(rng, 4, lo=0.5, hi=1.5))
    h = sf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
    y = sf.nn.relu(sf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3))
    feed = {x: _f32(rng, 2, 8, 8, 3)}
    with sf.Session() as s:
        s.run(sf.global_variables_initializer())
        on = s.run(y, feed)
        p = s.plan(y, feed)
        fv, mv, vv, bv, gv = s.run([f, mean, var, beta, gamma])
    with sf.Session(config=OFF) as s:
        s.run(sf.global_variables_initializer())
        off = s.run(y, feed)
    conv = reference.evaluate(sf.nn.conv2d(sf.constant(feed[x]), sf.constant(fv), [1, 1, 1, 1], "SAME"), {})
    want = np.maximum((conv - mv) / np.sqrt(vv + 1e-3) * gv + bv, 0)
    np.testing.assert_allclose(on, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(off, want, rtol=1e-4, atol=1e-5)
    types = [st.node.type for st in p.steps]
    # the image-sized multiply and add are gone; what is left scales the 3x3x3x4 filter
    assert "_FusedConv2D" in types and "Conv2D" not in types and "Relu" not in types
    big = [
        st.node for st in p.steps if st.node.type in ("Mul", "AddV2") and np.prod(st.node.shapes[0]) > 4 * 36
    ]
    assert all(n.shapes[0] == (3, 3, 3, 4) for n in big)


def test_layers_batch_norm_in_inference_mode_folds_with_constants():
    rng = _rng(21)
    x = sf.placeholder(sf.float32, [None, 6, 6, 2])
    h = sf.nn.conv2d(x, sf.constant(_f32(rng, 3, 3, 2, 5)), [1, 1, 1, 1], "VALID")
    bn = sf.nn.batch_normalization(
        h,
        sf.constant(_f32(rng, 5)),
        sf.constant(_f32(rng, 5, lo=0.5, hi=2)),
        sf.constant(_f32(rng, 5)),
        sf.constant(_f32(rng, 5)),
        1e-3,
    )
    y = sf.nn.elu(bn)
    feed = {x: _f32(rng, 3, 6, 6, 2)}
    _check(y, feed, rtol=1e-4, atol=1e-5)
    types = _fused_types(y, feed)
    assert types.count("_FusedConv2D") == 1 and len(types) == 1  # the folded filter is a constant


# ---------------------------------------------------------------------------
# the backward pass: activation gradient + bias gradient, weight updates
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["relu", "leaky", "elu", "selu"])
def test_activation_and_bias_gradients_fuse_and_agree(act):
    rng = _rng(30)
    x = sf.placeholder(sf.float32, [None, 5])
    w1, b1 = sf.constant(_f32(rng, 5, 9)), sf.constant(_f32(rng, 9))
    w2 = sf.constant(_f32(rng, 9, 3))
    h = ACTS[act](sf.matmul(x, w1) + b1)
    loss = sf.reduce_sum(sf.square(sf.matmul(h, w2)))
    grads = sf.gradients(loss, [x, b1, w1])
    feed = {x: _f32(rng, 7, 5, lo=-2, hi=2)}
    _check(grads, feed, rtol=1e-4, atol=1e-5)
    assert "_FusedBiasActivationGrad" in _fused_types(grads, feed)


def test_conv_bias_gradient_fuses_over_images():
    rng = _rng(31)
    x = sf.placeholder(sf.float32, [None, 6, 5, 2])
    f, b = sf.constant(_f32(rng, 3, 3, 2, 3)), sf.constant(_f32(rng, 3))
    h = sf.nn.relu(sf.nn.bias_add(sf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME"), b))
    loss = sf.reduce_sum(h * h)
    grads = sf.gradients(loss, [f, b, x])
    feed = {x: _f32(rng, 3, 6, 5, 2)}
    _check(grads, feed, rtol=1e-4, atol=1e-5)
    assert "_FusedBiasActivationGrad" in _fused_types(grads, feed)


def _mlp(rng, sizes, act=sf.nn.relu):
    x = sf.placeholder(sf.float32, [None, sizes[0]])
    y = sf.placeholder(sf.int64, [None])
    params = []
    h = x
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = sf.Variable(_f32(rng, m, n, lo=-0.5, hi=0.5))
        b = sf.Variable(_f32(rng, n, lo=-0.1, hi=0.1))
        params += [w, b]
        h = sf.matmul(h, w) + b
        if i < len(sizes) - 2:
            h = act(h)
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    return x, y, params, loss


def test_the_backward_pass_of_an_mlp_shows_fused_groups():
    rng = _rng(32)
    x, y, params, loss = _mlp(rng, [13, 11, 9, 5])
    train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feed = {x: _f32(rng, 10, 13), y: rng.integers(0, 5, 10)}
    types = _fused_types([loss, train], feed)
    assert types.count("_FusedMatMul") == 3  # every layer's product, bias (and relu)
    assert types.count("_FusedBiasActivationGrad") == 2  # relu grad + bias grad, both hidden layers
    assert types.count("_MatMulApplyGradientDescent") == 3  # every weight update
    assert "ReluGrad" not in types and "ApplyGradientDescent" in types  # biases: plain updates


@pytest.mark.parametrize("opt", ["sgd", "momentum"])
def test_mlp_training_agrees_with_and_without_the_pass(opt):
    results = []
    for cfg in (None, OFF):
        with sf.Graph().as_default():
            rng = _rng(33)
            x, y, params, loss = _mlp(rng, [17, 12, 8, 4])
            o = (
                sf.train.GradientDescentOptimizer(0.2)
                if opt == "sgd"
                else sf.train.MomentumOptimizer(0.1, 0.9)
            )
            train = o.minimize(loss)
            feed = {x: _f32(rng, 9, 17), y: rng.integers(0, 4, 9)}
            with sf.Session(config=cfg) as s:
                s.run(sf.global_variables_initializer())
                losses = [s.run([loss, train], feed)[0] for _ in range(5)]
                results.append((losses, s.run(params)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert results[0][0][-1] < results[0][0][0]


def test_mlp_sgd_step_matches_a_numpy_loop():
    """The fused training step against a hand-written float64 MLP step."""
    rng = _rng(34)
    x, y, params, loss = _mlp(rng, [6, 10, 3])
    train = sf.train.GradientDescentOptimizer(0.5).minimize(loss)
    xv, yv = _f32(rng, 8, 6), rng.integers(0, 3, 8)
    with sf.Session() as s:
        s.run(sf.global_variables_initializer())
        w1, b1, w2, b2 = (p.astype(np.float64) for p in s.run(params))
        s.run(train, {x: xv, y: yv})
        got = s.run(params)
    h = np.maximum(xv @ w1 + b1, 0)
    z = h @ w2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = p.copy()
    dz[np.arange(8), yv] -= 1
    dz /= 8
    dh = (dz @ w2.T) * (h > 0)
    want = [w1 - 0.5 * xv.T @ dh, b1 - 0.5 * dh.sum(0), w2 - 0.5 * h.T @ dz, b2 - 0.5 * dz.sum(0)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_a_weight_gradient_that_is_also_fetched_is_not_folded_into_the_update():
    rng = _rng(35)
    x, y, params, loss = _mlp(rng, [5, 4, 3])
    opt = sf.train.GradientDescentOptimizer(0.1)
    gv = opt.compute_gradients(loss, params)
    train = opt.apply_gradients(gv)
    feed = {x: _f32(rng, 6, 5), y: rng.integers(0, 3, 6)}
    types = _fused_types([train, gv[0][0]], feed)
    assert types.count("_MatMulApplyGradientDescent") == 1  # the second layer's only


def test_cnn_training_agrees_with_and_without_the_pass():
    results = []
    for cfg in (None, OFF):
        with sf.Graph().as_default():
            rng = _rng(36)
            x = sf.placeholder(sf.float32, [None, 10, 10, 1])
            y = sf.placeholder(sf.int64, [None])
            f = sf.Variable(_f32(rng, 3, 3, 1, 4))
            fb = sf.Variable(_f32(rng, 4, lo=-0.1, hi=0.1))
            w = sf.Variable(_f32(rng, 100, 3, lo=-0.2, hi=0.2))
            h = sf.nn.relu(sf.nn.bias_add(sf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME"), fb))
            h = sf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            logits = sf.matmul(sf.reshape(h, [-1, 100]), w)
            loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            train = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
            feed = {x: _f32(rng, 6, 10, 10, 1), y: rng.integers(0, 3, 6)}
            with sf.Session(config=cfg) as s:
                s.run(sf.global_variables_initializer())
                if cfg is None:
                    types = [st.node.type for st in s.plan([loss, train], feed).steps]
                    assert "_FusedConv2DMaxPool" in types and "_FusedBiasActivationGrad" in types
                losses = [s.run([loss, train], feed)[0] for _ in range(4)]
                results.append((losses, s.run([f, fb, w])))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------
# softmax + cross-entropy written out by hand
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "form",
    ["textbook", "neg_labels", "log_softmax", "neg_inside"],
)
def test_a_written_out_cross_entropy_becomes_one_op(form):
    rng = _rng(40)
    z = sf.placeholder(sf.float32, [None, 7])
    lab = sf.placeholder(sf.float32, [None, 7])
    if form == "textbook":
        loss = -sf.reduce_sum(lab * sf.log(sf.nn.softmax(z)), axis=1)
    elif form == "neg_labels":
        loss = sf.reduce_sum(-lab * sf.log(sf.nn.softmax(z)), axis=1)
    elif form == "log_softmax":
        loss = -sf.reduce_sum(sf.nn.log_softmax(z) * lab, axis=[1])
    else:
        loss = sf.reduce_sum(-(lab * sf.nn.log_softmax(z)), axis=-1)
    p = rng.random((5, 7)) + 0.1
    feed = {z: _f32(rng, 5, 7, lo=-3, hi=3), lab: (p / p.sum(1, keepdims=True)).astype(np.float32)}
    _check(loss, feed, rtol=1e-5, atol=1e-6)
    types = _fused_types(loss, feed)
    assert types == ["SoftmaxCrossEntropyWithLogits"]


def test_the_fused_cross_entropy_is_finite_where_log_of_softmax_is_not():
    z = sf.placeholder(sf.float32, [1, 3])
    lab = sf.constant([[0.0, 0.0, 1.0]])
    loss = -sf.reduce_sum(lab * sf.log(sf.nn.softmax(z)), axis=1)
    feed = {z: np.array([[200.0, 0.0, -200.0]], np.float32)}
    with sf.Session() as s:
        on = s.run(loss, feed)
    with sf.Session(config=OFF) as s:
        off = s.run(loss, feed)
    np.testing.assert_allclose(on, [400.0])
    assert not np.isfinite(off).all()


def test_a_cross_entropy_whose_softmax_is_also_fetched_keeps_it():
    rng = _rng(41)
    z = sf.placeholder(sf.float32, [4, 5])
    lab = sf.placeholder(sf.float32, [4, 5])
    prob = sf.nn.softmax(z)
    loss = sf.reduce_mean(-sf.reduce_sum(lab * sf.log(prob), axis=1))
    feed = {z: _f32(rng, 4, 5), lab: np.eye(5, dtype=np.float32)[[0, 2, 4, 1]]}
    _check([loss, prob], feed)
    types = _fused_types([loss, prob], feed)
    assert "SoftmaxCrossEntropyWithLogits" in types and "Softmax" in types and "Log" not in types


def test_the_switch_turns_the_pass_off():
    x = sf.placeholder(sf.float32, [2, 2])
    y = sf.nn.relu(sf.matmul(x, sf.constant(np.eye(2, dtype=np.float32))) + 1.0)
    with sf.Session(config=OFF) as s:
        p = s.plan(y, {x: np.ones((2, 2), np.float32)})
    assert "remapping" not in [r.name for r in p.pass_log]
    with sf.Session() as s:
        p = s.plan(y, {x: np.ones((2, 2), np.float32)})
    rec = next(r for r in p.pass_log if r.name == "remapping")
    assert rec.changed == 1 and "_FusedMatMul(MatMul, AddV2, Relu)" in rec.notes[0]


def test_a_graph_def_naming_a_fused_op_is_refused_on_import():
    gd = sf.GraphDef()
    node = gd.node.add(name="f", op="_FusedMatMul")
    node.input.extend(["a", "a"])
    with pytest.raises(ValueError, match="only staticflow's graph compiler makes"):
        sf.import_graph_def(gd, name="")


def test_a_sum_over_no_axes_or_unit_axes_is_no_kernel():
    """The gradient of `x + b` w.r.t. x sums over the axes b was broadcast along: none for x."""
    rng = _rng(50)
    x = sf.placeholder(sf.float32, [4, 3, 1])
    a = sf.reduce_sum(x, axis=[])
    b = sf.reduce_max(x, axis=[2], keepdims=False)
    c = sf.reduce_mean(x, axis=[2, 1])  # axis 1 has size 3: a real reduction
    feed = {x: _f32(rng, 4, 3, 1)}
    _check([a, b, c], feed)
    with sf.Session() as s:
        p = s.plan([a, b, c], feed)
    types = [st.node.type for st in p.steps]
    assert types.count("Sum") == 0 and types.count("Max") == 0 and types.count("Mean") == 1
