"""sf.gradients semantics: accumulation, several ys, unconnected and stopped gradients,
second derivatives, Hessian-vector products, errors."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import registry


@pytest.fixture
def g(sf_graph):
    return sf_graph


def _run(t, feeds=None):
    with sf.Session() as sess:
        return sess.run(t, feeds or {})


def test_gradient_ops_live_under_gradients_scope(g):
    x = sf.placeholder(sf.float64, [3], name="x")
    y = sf.reduce_sum(sf.square(x))
    (gx,) = sf.gradients(y, [x])
    assert gx.name.startswith("gradients/")
    assert any(o.name.startswith("gradients/Square_grad/") for o in g.get_operations())
    np.testing.assert_allclose(_run(gx, {x: [1.0, 2.0, 3.0]}), [2, 4, 6])


def test_several_paths_accumulate_with_one_addn(g):
    x = sf.placeholder(sf.float64, [], name="x")
    y = x * 2 + sf.square(x) + sf.sin(x)  # three paths from x
    (gx,) = sf.gradients(y, x)
    assert gx.op.type == "AddN" and len(gx.op.inputs) == 3
    np.testing.assert_allclose(_run(gx, {x: 0.5}), 2 + 1.0 + np.cos(0.5))


def test_sum_over_several_ys_and_grad_ys(g):
    x = sf.placeholder(sf.float64, [2])
    y1, y2 = x * 3, sf.square(x)
    gx = sf.gradients([y1, y2], x)[0]
    np.testing.assert_allclose(_run(gx, {x: [1.0, 2.0]}), [3 + 2, 3 + 4])
    gw = sf.gradients([y1, y2], x, grad_ys=[np.array([1.0, 0.0]), np.array([0.0, 10.0])])[0]
    np.testing.assert_allclose(_run(gw, {x: [1.0, 2.0]}), [3, 40])


def test_unconnected_gradients(g):
    x = sf.placeholder(sf.float64, [2])
    z = sf.placeholder(sf.float64, [2])
    y = sf.reduce_sum(x * 2)
    assert sf.gradients(y, [z]) == [None]
    (gz,) = sf.gradients(y, [z], unconnected_gradients="zero")
    np.testing.assert_array_equal(_run(gz, {z: [1.0, 1.0]}), [0, 0])


def test_stop_gradient_op_and_argument(g):
    x = sf.placeholder(sf.float64, [])
    a = x * 3
    y = sf.stop_gradient(a) * x + a
    (gx,) = sf.gradients(y, x)
    np.testing.assert_allclose(_run(gx, {x: 2.0}), 6 + 3)  # d/dx of (const 6) * x + 3x
    (gs,) = sf.gradients(a * x, x, stop_gradients=[a])
    np.testing.assert_allclose(_run(gs, {x: 2.0}), 6)


def test_gradient_with_respect_to_a_variable(g):
    w = sf.Variable(np.array([1.0, -2.0]), name="w")
    loss = sf.reduce_sum(sf.square(w))
    (gw,) = sf.gradients(loss, [w])
    with sf.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_allclose(sess.run(gw), [2, -4])


def test_integer_paths_carry_no_gradient(g):
    x = sf.placeholder(sf.float64, [3])
    idx = sf.argmax(x)
    y = sf.cast(idx, sf.float64) + sf.reduce_sum(x)
    (gx,) = sf.gradients(y, x)
    np.testing.assert_allclose(_run(gx, {x: [1.0, 5.0, 2.0]}), [1, 1, 1])


@pytest.mark.parametrize(
    "fn,d2",
    [
        (lambda x: x**3, lambda v: 6 * v),
        (lambda x: sf.sin(x) * x, lambda v: 2 * np.cos(v) - v * np.sin(v)),
        (lambda x: sf.sigmoid(x), lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
        (lambda x: sf.tanh(x), lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
        (lambda x: sf.exp(-sf.square(x)), lambda v: (4 * v**2 - 2) * np.exp(-(v**2))),
        (lambda x: sf.sqrt(x), lambda v: -0.25 * v**-1.5),
        (lambda x: sf.rsqrt(x), lambda v: 0.75 * v**-2.5),
        (lambda x: sf.reciprocal(x), lambda v: 2 * v**-3),
        (lambda x: sf.nn.softplus(x), lambda v: np.exp(v) / (1 + np.exp(v)) ** 2),
    ],
)
def test_second_derivatives(g, fn, d2):
    x = sf.placeholder(sf.float64, [4])
    y = sf.reduce_sum(fn(x))
    (gx,) = sf.gradients(y, x)
    (hx,) = sf.gradients(gx, x)
    v = np.array([0.3, 0.7, 1.1, 1.9])
    np.testing.assert_allclose(_run(hx, {x: v}), d2(v), rtol=1e-9)


def test_hessian_vector_product_of_a_softmax_loss(g):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((5, 4))
    labels = np.eye(3)[rng.integers(0, 3, 5)]
    w = sf.placeholder(sf.float64, [4, 3])
    loss = sf.reduce_mean(sf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=sf.matmul(xs, w)))
    v = rng.standard_normal((4, 3))
    (hv,) = sf.hessian_vector_product(loss, [w], [sf.constant(v)])
    (gw,) = sf.gradients(loss, [w])
    w0 = rng.standard_normal((4, 3))
    eps = 1e-5
    with sf.Session() as sess:
        got = sess.run(hv, {w: w0})
        num = (sess.run(gw, {w: w0 + eps * v}) - sess.run(gw, {w: w0 - eps * v})) / (2 * eps)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-9)


def test_compute_gradient_error(g):
    x = sf.placeholder(sf.float64, [3, 2])
    y = sf.matmul(sf.tanh(x), sf.constant(np.arange(8.0).reshape(2, 4) / 7))
    with sf.Session():
        err = sf.test.compute_gradient_error(x, [3, 2], y, [3, 4], delta=1e-6)
    assert err < 1e-8
    theo, num = None, None
    with sf.Session():
        theo, num = sf.test.compute_gradient(x, [3, 2], y, [3, 4], delta=1e-6)
    assert theo.shape == (6, 12) and np.abs(theo - num).max() < 1e-8


def test_missing_gradient_names_the_op_and_the_path(g):
    from staticflow.framework.tensor_shape import TensorShape

    d = registry.op(
        name="NoGradOpForTest",
        inputs=[registry.Arg("x", type_attr="T")],
        outputs=[registry.Arg("y", type_attr="T")],
        attrs=[registry.Attr("T", "type")],
        shape_fn=lambda c: [TensorShape(c.shape(0))],
        ref=lambda ins, a: ins[0],
        lower=lambda ctx: ctx.alias(0, 0),
        cases=lambda rng: [],
    )
    try:
        from staticflow.ops import builder

        x = sf.placeholder(sf.float64, [2], name="x")
        mid = builder.apply_op("NoGradOpForTest", [x * 2], None, name="custom").outputs[0]
        loss = sf.reduce_sum(sf.exp(mid), name="loss")
        with pytest.raises(LookupError) as e:
            sf.gradients(loss, x)
        msg = str(e.value)
        assert "'custom'" in msg and "NoGradOpForTest" in msg and "loss <- Exp <- custom" in msg
    finally:
        registry._REGISTRY.pop(d.name)


def test_gradient_of_broadcast_binary_with_unknown_batch(g):
    x = sf.placeholder(sf.float64, [None, 3])
    b = sf.placeholder(sf.float64, [3])
    y = sf.reduce_sum((x + b) * b)
    gx, gb = sf.gradients(y, [x, b])
    xv = np.arange(6.0).reshape(2, 3)
    bv = np.array([1.0, 2.0, 3.0])
    with sf.Session() as sess:
        a, c = sess.run([gx, gb], {x: xv, b: bv})
    np.testing.assert_allclose(a, np.broadcast_to(bv, (2, 3)))
    np.testing.assert_allclose(c, (xv + 2 * bv).sum(0))
