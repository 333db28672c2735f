"""Property: on random graphs, every pass on and every pass off compute the same values as
the NumPy reference evaluator (the IR's verifier runs after each pass, see conftest)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings

import staticflow as sf
from staticflow.runtime import reference

from .random_graphs import build, programs

OFF = sf.ConfigProto(
    graph_options=sf.GraphOptions(rewrite_options=sf.RewriterConfig(disable_meta_optimizer=True))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
# two fused gradient chains that read each other through the gradients of sums: each group
# alone is acyclic, the two together were a cycle
@example(
    {
        "inputs": [(1,), (1, 1)],
        "steps": [
            ("xent", 1, 0),
            ("unary", "abs", 0),
            ("binary", "add", 0, 2),
            ("unary", "abs", 0),
            ("unary", "abs", 0),
            ("binary", "add", 0, 1),
            ("unary", "abs", 0),
        ],
        "fetch": [2, 3, 4, 5, 6, 7, 8],
        "seed": 0,
        "grad": True,
    }
)
# a matmul's [1, 2] product plus a [1, 1] value: one value broadcast over the channels, which
# the fused bias must take as a [2] vector (it once became a [1, 2] "bias")
@example(
    {
        "inputs": [(1, 1)],
        "steps": [
            ("unary", "abs", 0),
            ("matmul", 0, 2, 0),
            ("unary", "abs", 0),
            ("conv", 0, 3, 1, "elu", False, 0),
            ("unary", "abs", 0),
            ("binary", "add", 0, 2),
            ("unary", "abs", 0),
        ],
        "fetch": [3, 4, 5, 6, 7],
        "seed": 0,
        "grad": True,
    }
)
def test_passes_on_and_off_agree_with_the_reference(program):
    with sf.Graph().as_default():
        fetches, feed = build(program)
        want = reference.evaluate(fetches, feed)
        with sf.Session() as s:
            on = s.run(fetches, feed)
        with sf.Session(config=OFF) as s:
            off = s.run(fetches, feed)
    for a, b, w in zip(on, off, want, strict=True):
        np.testing.assert_allclose(a, w, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(b, w, rtol=2e-5, atol=2e-5)
