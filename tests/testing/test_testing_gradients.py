"""staticflow.testing.check_gradients: symbolic gradients against central differences (float64)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import staticflow as sf
from staticflow import autodiff
from staticflow.testing import check_gradients

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3))
W = RNG.standard_normal((3, 2))


def _dense_tanh(x, w):
    return sf.tanh(sf.matmul(x, w))


def test_a_correct_gradient_passes_and_reports_what_it_compared():
    res = check_gradients(_dense_tanh, [X, W])
    assert [c.name for c in res.inputs] == ["x", "w"]
    c = res.cotangents[0]
    # the vector-Jacobian products, from NumPy: d/dx sum(c * tanh(x @ w))
    upstream = c * (1 - np.tanh(X @ W) ** 2)
    np.testing.assert_allclose(res.inputs[0].symbolic, upstream @ W.T, rtol=1e-10)
    np.testing.assert_allclose(res.inputs[1].symbolic, X.T @ upstream, rtol=1e-10)
    np.testing.assert_allclose(res.inputs[0].numerical, upstream @ W.T, rtol=1e-6, atol=1e-8)
    assert res.max_abs_error < 1e-6


@pytest.fixture
def half_square_gradient():
    """A deliberately wrong gradient of Square (g * x instead of 2 * g * x)."""
    name = "HalfSquareGradForCheckGradientsTests"
    sf.RegisterGradient(name)(lambda op, grad: grad * op.inputs[0])
    yield name
    del autodiff._NAMED_GRADIENTS[name]


def test_a_wrong_gradient_registered_in_the_test_is_caught(half_square_gradient):
    def loss(x, w):
        with sf.get_default_graph().gradient_override_map({"Square": half_square_gradient}):
            return sf.reduce_sum(sf.square(sf.matmul(x, w, name="logits"), name="sq"), axis=1)

    with pytest.raises(AssertionError) as err:
        check_gradients(loss, [X, W])
    msg = str(err.value)
    assert msg.startswith("check_gradients: the symbolic gradient of ")
    assert "loss` (" in msg and "test_testing_gradients.py:" in msg
    assert "input 'x' (#0 of 2, shape (4, 3)): 12 of 12 checked elements differ" in msg
    assert "input 'w' (#1 of 2, shape (3, 2))" in msg
    assert "MatMul 'logits'" in msg
    assert re.search(r"Square 'sq' \(\S*test_testing_gradients\.py:\d+\)", msg)
    assert f"[gradient overridden by '{half_square_gradient}']" in msg
    # the worst element, with both values: the symbolic one is half the numerical one here
    m = re.search(r"worst at index \((\d), (\d)\): symbolic (\S+), numerical (\S+),", msg)
    assert m is not None
    assert float(m.group(3)) == pytest.approx(float(m.group(4)) / 2, rel=1e-4)


def test_integer_inputs_are_fed_not_differentiated():
    labels = np.array([0, 2, 1, 1], np.int32)

    def xent(logits, labels):
        return sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    res = check_gradients(xent, [X, labels])
    assert [c.name for c in res.inputs] == ["logits"]


def test_variables_are_initialized():
    def layer(x):
        w = sf.Variable(W, name="w")
        return sf.matmul(x, w)

    res = check_gradients(layer, X)
    np.testing.assert_allclose(res.inputs[0].symbolic, res.cotangents[0] @ W.T, rtol=1e-10)


def test_several_outputs_each_get_a_cotangent():
    res = check_gradients(lambda x: [sf.sin(x), sf.reduce_sum(x * x)], X)
    c_sin, c_sum = res.cotangents
    assert c_sin.shape == X.shape and c_sum.shape == ()
    np.testing.assert_allclose(res.inputs[0].symbolic, c_sin * np.cos(X) + c_sum * 2 * X, rtol=1e-10)


def test_a_stopped_gradient_is_reported_as_missing():
    with pytest.raises(AssertionError, match=r"found no path from the outputs to this input"):
        check_gradients(lambda x: sf.stop_gradient(x) * 2.0, X)


def test_large_inputs_are_sampled():
    big = RNG.standard_normal(300)
    res = check_gradients(lambda x: sf.sin(x), big, max_elements=20)
    assert len(res.inputs[0].checked) == 20
    assert np.isnan(res.inputs[0].numerical).sum() == 280


def test_fn_must_return_tensors():
    with pytest.raises(TypeError, match="not a Tensor"):
        check_gradients(lambda x: 3.0, X)
    with pytest.raises(TypeError, match="no floating-point output"):
        check_gradients(lambda x: sf.cast(x, sf.int32), X)


def test_the_graph_of_the_check_is_its_own(sf_graph):
    check_gradients(lambda x: sf.sin(x), X[0])
    assert sf_graph.get_operations() == []
