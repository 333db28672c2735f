"""A control dependency on an op whose outputs are all fed: the feed stands for the op, so
the op is not run (TF prunes it too), and the dependent op still runs after the feed."""

from __future__ import annotations

import numpy as np

import staticflow as sf


def test_control_dependency_on_a_fed_placeholder():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None], name="x")
        v = sf.Variable(0.0, name="v")
        with sf.control_dependencies([x]):
            add = sf.assign_add(v, sf.reduce_sum(x))
        with sf.Session() as sess:
            sess.run(v.initializer)
            assert sess.run(add, {x: np.array([1.0, 2.0], np.float32)}) == 3.0
            # the placeholder's own op is needed (not fed): the usual error names it
            with sf.control_dependencies([x.op]):
                y = sf.identity(sf.constant(1.0))
            try:
                sess.run(y)
            except sf.errors.InvalidArgumentError as e:
                assert "must feed a value for placeholder tensor 'x'" in str(e)
            else:
                raise AssertionError("running x's op without a feed must fail")
            assert sess.run(y, {x: np.zeros(1, np.float32)}) == 1.0


def test_zeros_of_an_empty_shape_list_is_a_scalar():
    with sf.Graph().as_default():
        z = sf.zeros([], sf.float64)
        assert z.shape.as_list() == [] and z.dtype == sf.float64
        with sf.Session() as sess:
            assert sess.run(z) == 0.0
