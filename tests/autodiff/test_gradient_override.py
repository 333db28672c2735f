"""sf.RegisterGradient and Graph.gradient_override_map, as in TF1.

Expected values: the derivative of x**2 is 2x; the overrides below replace it by
3x (a registered name) or pass the gradient through unchanged (Identity's)."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow import autodiff
from staticflow.ops import registry

X = np.array([0.5, -1.0, 2.0])


@pytest.fixture
def named_gradient():
    """A gradient registered under a fresh name, removed again after the test."""
    name = "TripleSquareGradForOverrideTests"
    sf.RegisterGradient(name)(lambda op, grad: grad * 3.0 * op.inputs[0])
    yield name
    del autodiff._NAMED_GRADIENTS[name]


def _grad(y, x, feed):
    with sf.Session(graph=x.graph) as sess:
        return sess.run(sf.gradients(sf.reduce_sum(y), x)[0], feed)


def test_override_applies_to_ops_made_inside_the_map_only(sf_graph, named_gradient):
    x = sf.placeholder(sf.float64, [3])
    with sf_graph.gradient_override_map({"Square": named_gradient}):
        inside = sf.square(x)
        other = sf.sin(x)  # a type outside the map keeps its gradient
    outside = sf.square(x)
    np.testing.assert_allclose(_grad(inside, x, {x: X}), 3 * X)
    np.testing.assert_allclose(_grad(outside, x, {x: X}), 2 * X)
    np.testing.assert_allclose(_grad(other, x, {x: X}), np.cos(X))
    assert inside.op.node_def.attr["_gradient_op_type"].s == named_gradient.encode()
    assert "_gradient_op_type" not in outside.op.node_def.attr


def test_an_op_types_own_gradient_as_the_override(sf_graph):
    x = sf.placeholder(sf.float64, [3])
    with sf_graph.gradient_override_map({"Sign": "Identity"}):  # straight-through estimator
        y = sf.sign(x) * 2.0
    np.testing.assert_allclose(_grad(y, x, {x: X}), [2.0, 2.0, 2.0])


def test_maps_nest_and_are_restored(sf_graph, named_gradient):
    with sf_graph.gradient_override_map({"Square": named_gradient}):
        with sf_graph.gradient_override_map({"Square": "Identity"}):
            assert sf_graph._gradient_override_map == {"Square": "Identity"}
        assert sf_graph._gradient_override_map == {"Square": named_gradient}
    assert sf_graph._gradient_override_map == {}


def test_override_survives_a_graph_def_round_trip(sf_graph, named_gradient):
    x = sf.placeholder(sf.float64, [3], name="x")
    with sf_graph.gradient_override_map({"Square": named_gradient}):
        sf.square(x, name="y")
    with sf.Graph().as_default() as g2:
        sf.import_graph_def(sf_graph.as_graph_def(), name="")
        x2, y2 = g2.get_tensor_by_name("x:0"), g2.get_tensor_by_name("y:0")
        np.testing.assert_allclose(_grad(y2, x2, {x2: X}), 3 * X)


def test_unknown_override_name_is_a_clear_error(sf_graph):
    x = sf.placeholder(sf.float64, [3])
    with sf_graph.gradient_override_map({"Square": "NoSuchGradientName"}):
        y = sf.square(x, name="sq")
    with pytest.raises(LookupError, match=r"No gradient registered under the name 'NoSuchGradientName'.*sq"):
        sf.gradients(y, x)


def test_registering_a_name_twice_is_a_key_error(named_gradient):
    with pytest.raises(KeyError, match="Registering two gradient with name"):
        sf.RegisterGradient(named_gradient)(lambda op, grad: grad)
    with pytest.raises(KeyError, match="'Square'"):  # an op type with a gradient
        sf.RegisterGradient("Square")(lambda op, grad: grad)
    with pytest.raises(TypeError, match="op_type must be a string"):
        sf.RegisterGradient(3)


def test_gradient_override_map_checks_its_argument(sf_graph):
    with pytest.raises(TypeError, match="mapping strings to strings"):
        with sf_graph.gradient_override_map({"Square": 1}):
            pass


def test_register_the_gradient_of_an_op_type_without_one(monkeypatch):
    monkeypatch.delitem(registry.GRADIENTS, "Sin")
    sf.RegisterGradient("Sin")(lambda op, grad: grad * 5.0)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [3])
        np.testing.assert_allclose(_grad(sf.sin(x), x, {x: X}), [5.0, 5.0, 5.0])
