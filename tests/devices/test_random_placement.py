"""Property: random graphs with random device assignments (CPU, GPU, none) compute on the
simulated GPU what they compute on the CPU alone, and what the NumPy reference does."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from passes.random_graphs import build, programs

import staticflow as sf
from staticflow.backends import simulated
from staticflow.runtime import reference

SOFT = sf.ConfigProto(allow_soft_placement=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32 - 1))
def test_random_device_assignments_agree_with_the_cpu(program, seed):
    g = sf.Graph()
    with g.as_default():
        fetches, feed = build(program)
        want = reference.evaluate(fetches, feed)
    with sf.Session(graph=g) as s:
        on_cpu = s.run(fetches, feed)
    rng = np.random.default_rng(seed)
    for op in g.get_operations():
        op._device = str(rng.choice(["", "/cpu:0", "/gpu:0", "/device:GPU:0"]))
    dev = simulated.install()
    try:
        with sf.Session(graph=g, config=SOFT) as s:
            s.run(fetches, feed)
            dev.reset()
            on_gpu = s.run(fetches, feed)
        fed_on_gpu = dev.counters.uploads
    finally:
        simulated.uninstall()
    assert fed_on_gpu <= len(feed) + len(g.get_operations())  # at most one copy per value
    for a, b, w in zip(on_gpu, on_cpu, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(a, w, rtol=2e-5, atol=2e-5)
