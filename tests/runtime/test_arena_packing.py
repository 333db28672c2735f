"""Arena packing: buffers alive at the same time never share bytes, the greedy packing is the
same as the straightforward quadratic one, and deep graphs switch to the execution-order
packing whose cost grows linearly."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.runtime import plan as P


def _random_buffers(rng, n):
    out = []
    for _ in range(n):
        start = int(rng.integers(0, 60))
        out.append(
            P.Buffer("arena", int(rng.integers(1, 5000)), start=start, end=start + int(rng.integers(0, 25)))
        )
    return out


def _reference_greedy(buffers):
    """Largest first, each at the lowest offset beside every placed buffer it meets in time."""
    placed, offsets, top = [], {}, 0
    for b in sorted(buffers, key=lambda b: (-b.nbytes, b.start)):
        size = P._round(b.nbytes)
        clashes = sorted(
            (offsets[id(o)], offsets[id(o)] + P._round(o.nbytes))
            for o in placed
            if not (o.end < b.start or b.end < o.start)
        )
        off = 0
        for lo, hi in clashes:
            if off + size <= lo:
                break
            off = max(off, hi)
        offsets[id(b)] = off
        placed.append(b)
        top = max(top, off + size)
    return offsets, top


def _assert_disjoint(buffers, top):
    for a in buffers:
        assert 0 <= a.offset and a.offset + P._round(a.nbytes) <= top
        for b in buffers:
            if a is not b and not (a.end < b.start or b.end < a.start):
                assert a.offset + P._round(a.nbytes) <= b.offset or b.offset + P._round(b.nbytes) <= a.offset


@pytest.mark.parametrize("seed", range(20))
def test_both_packings_keep_live_buffers_apart(seed):
    rng = np.random.default_rng(seed)
    buffers = _random_buffers(rng, int(rng.integers(1, 120)))
    want, want_top = _reference_greedy(buffers)
    overlaps = P._overlaps(buffers, 10**9)
    top = P._greedy_by_size(buffers, overlaps)
    _assert_disjoint(buffers, top)
    assert top == want_top and all(b.offset == want[id(b)] for b in buffers)
    top = P._first_fit_in_order(buffers)
    _assert_disjoint(buffers, top)
    peak = max(sum(P._round(b.nbytes) for b in buffers if b.start <= t <= b.end) for t in range(0, 90))
    assert peak <= top


def test_many_overlapping_lifetimes_use_the_execution_order_packing():
    # a deep network's saved activations: buffer i lives from step i to step 2n - i
    n = 400
    buffers = [P.Buffer("arena", 256, start=i, end=2 * n - i) for i in range(n)]
    assert P._overlaps(buffers, P.OVERLAP_BUDGET * n) is None
    stats = P.PlanStats()
    P._assign_arena(buffers, stats)
    _assert_disjoint(buffers, stats.arena_bytes)
    assert stats.arena_bytes == stats.peak_bytes == n * 256  # nested lifetimes pack perfectly
