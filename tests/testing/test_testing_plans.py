"""staticflow.testing.assert_no_new_plans: a run signature that changes every step is caught."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.testing import assert_no_new_plans


@pytest.fixture
def model(sf_session):
    x = sf.placeholder(sf.float32, [None, 3], name="x")
    w = sf.Variable(np.ones((3, 2), np.float32), name="w")
    y = sf.matmul(x, w, name="y")
    step = sf.assign_add(w, 0.1 * sf.ones_like(w), name="step")
    sf_session.run(w.initializer)
    return x, y, step


def test_fixed_shapes_build_no_plan(sf_session, model):
    x, y, step = model
    batch = np.ones((4, 3), np.float32)
    sf_session.run([y, step], {x: batch})  # warm-up: plans it
    with assert_no_new_plans(sf_session) as sess:
        assert sess is sf_session
        for _ in range(3):
            sf_session.run([y, step], {x: batch})


def test_a_feed_shape_that_changes_every_step_is_named(sf_session, model):
    x, y, _ = model
    sf_session.run(y, {x: np.ones((4, 3), np.float32)})
    with pytest.raises(AssertionError) as err:
        with assert_no_new_plans(sf_session):
            for n in (5, 6):
                sf_session.run(y, {x: np.ones((n, 3), np.float32)})
    msg = str(err.value)
    assert msg.startswith("assert_no_new_plans: 2 new plans built inside the block (0 allowed)")
    assert "plan for fetches [y:0] with feeds 'x:0' float32 (5, 3):" in msg
    assert "feed 'x:0' changed shape (4, 3) -> (5, 3)" in msg
    assert "feed 'x:0' changed shape (5, 3) -> (6, 3)" in msg


def test_allowed_counts_expected_plans(sf_session, model):
    x, y, step = model
    with assert_no_new_plans(sf_session, allowed=2):
        sf_session.run(y, {x: np.ones((4, 3), np.float32)})
        sf_session.run(step)
        sf_session.run(y, {x: np.ones((4, 3), np.float32)})
    with pytest.raises(AssertionError, match=r"no earlier plan had these fetches"):
        with assert_no_new_plans(sf_session):
            sf_session.run([y, step], {x: np.ones((4, 3), np.float32)})


def test_a_fed_value_the_plan_depends_on(sf_session):
    x = sf.placeholder(sf.float32, [None], name="x")
    shape = sf.placeholder(sf.int32, [2], name="shape")
    y = sf.reshape(x, shape, name="y")
    sf_session.run(y, {x: np.arange(6, dtype=np.float32), shape: [2, 3]})
    with pytest.raises(AssertionError, match=r"the value fed to 'shape:0' changed \(\[2, 3\] -> \[3, 2\]\)"):
        with assert_no_new_plans(sf_session):
            sf_session.run(y, {x: np.arange(6, dtype=np.float32), shape: [3, 2]})


def test_an_error_in_the_block_propagates_unchanged(sf_session, model):
    x, y, _ = model
    with pytest.raises(ValueError, match="Cannot feed value of shape"):
        with assert_no_new_plans(sf_session):
            sf_session.run(y, {x: np.ones((4, 4), np.float32)})
