"""Testing staticflow models with pytest.

Helpers (import them from here):

- ``assert_all_close(actual, desired)``: arrays, Tensors or nested structures of
  them, with dtype-aware default tolerances and a report of the worst mismatch;
  ``assert_all_equal`` for exact values.
- ``check_gradients(fn, inputs)``: the symbolic gradient of ``fn`` against central
  differences in float64, reporting the worst element and the ops involved.
- ``assert_no_new_plans(session)``: a context manager failing when the block makes
  the session plan again (a feed shape that changes every step).

The pytest plugin (installed with staticflow, module ``pytest_staticflow``) adds
the fixtures ``sf_graph``, ``sf_session`` and ``sf_seed`` and the ``gpu`` marker;
``sf.test.TestCase`` is TF1's ``tf.test.TestCase``.
"""

from __future__ import annotations

from staticflow.testing.assertions import (
    DEFAULT_TOLERANCES,
    assert_all_close,
    assert_all_equal,
    default_tolerance,
)
from staticflow.testing.gradients import GradientCheck, check_gradients
from staticflow.testing.plans import assert_no_new_plans

__all__ = [
    "DEFAULT_TOLERANCES",
    "GradientCheck",
    "assert_all_close",
    "assert_all_equal",
    "assert_no_new_plans",
    "check_gradients",
    "default_tolerance",
]
