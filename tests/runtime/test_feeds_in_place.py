"""Large contiguous feeds are read in place: the kernels point at the fed array for the
run instead of a copy in the plan's staging buffer. The results must be those of the
copy path, the fed array must not change, and no pointer into it may outlive the run."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime import plan as plan_mod

N = 128  # 128 x 128 float32 = 64 KiB, the in-place threshold


def _addresses(plan, slot):
    return {int(sf.backends.cpu.ffi.cast("uintptr_t", plan.c_records[r].data)) - off for r, off in slot.sites}


def _staging(slot):
    return slot.staging.__array_interface__["data"][0]


@pytest.fixture()
def graph(sf_graph):
    x = sf.placeholder(sf.float32, [N, N], name="x")
    y = sf.matmul(x, x) + 1.0
    return sf_graph, x, y


def test_large_feed_is_read_in_place_and_left_alone(graph, monkeypatch):
    g, x, y = graph
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, N)).astype(np.float32)
    before = a.copy()
    seen = []
    real = plan_mod._point

    def spy(plan, slot, address):
        seen.append(address)
        real(plan, slot, address)

    monkeypatch.setattr(plan_mod, "_point", spy)
    with sf.Session(graph=g) as sess:
        got = sess.run(y, {x: a})
        plan = sess.plan(y, {x: a})
        (slot,) = plan.feeds
        # pointed at the fed array for the run, then back at the staging buffer
        assert seen == [a.__array_interface__["data"][0], _staging(slot)]
        assert _addresses(plan, slot) == {_staging(slot)}
        # a second run with another array reads that one
        b = rng.standard_normal((N, N)).astype(np.float32)
        got_b = sess.run(y, {x: b})
    np.testing.assert_allclose(got, a.astype(np.float64) @ a + 1.0, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got_b, b.astype(np.float64) @ b + 1.0, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),  # not C-contiguous
        lambda a: a.astype(np.float64),  # converted to float32 on the way in (a new array)
        lambda a: a[:, :],  # a view, contiguous: read in place too
        lambda a: a[: N // 2],  # too small after slicing: a different plan, copied
    ],
)
def test_other_feeds_give_the_same_values(graph, make):
    g, x, y = graph
    a = np.random.default_rng(1).standard_normal((N, N)).astype(np.float32)
    v = make(a)
    with g.as_default():
        xs = sf.placeholder(sf.float32, [None, N])
        ys = sf.matmul(xs, x) + 1.0
    with sf.Session(graph=g) as sess:
        got = sess.run(ys, {xs: v, x: a})
    want = np.asarray(v, np.float64) @ a + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_a_fed_tensor_read_through_a_fetched_alias_is_copied(graph):
    g, x, _ = graph
    with g.as_default():
        flat = sf.reshape(x, [-1])  # aliases the feed's buffer
    a = np.arange(N * N, dtype=np.float32).reshape(N, N)
    with sf.Session(graph=g) as sess:
        first = sess.run(flat, {x: a})
        second = sess.run(flat, {x: a + 1})
        (slot,) = sess.plan(flat, {x: a}).feeds
    assert slot.pinned
    np.testing.assert_array_equal(first, a.reshape(-1))
    np.testing.assert_array_equal(second, a.reshape(-1) + 1)


def test_a_failing_run_does_not_keep_the_fed_array(graph):
    g, x, _ = graph
    with g.as_default():
        idx = sf.placeholder(sf.int32, [None])
        bad = sf.gather(sf.matmul(x, x), idx)
    a = np.ones((N, N), np.float32)
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.InvalidArgumentError):
            sess.run(bad, {x: a, idx: np.array([N + 5], np.int32)})
        plan = sess.plan(bad, {x: a, idx: np.array([0], np.int32)})
        slot = next(s for s in plan.feeds if s.tensor is x)
        assert _addresses(plan, slot) == {_staging(slot)}
