"""A run's fetched values belong to the caller: dropping them frees their memory at once.

A run that left a reference cycle behind kept its fetched arrays alive until Python's
cyclic garbage collector happened to run, so a large fetch held its memory after the
caller dropped it, and the caller's next large allocation had to take fresh pages
from the system instead of reusing those (20x slower for 64 MB on a virtual machine).
These tests hold the garbage collector off and check lifetimes directly, not times.
"""

from __future__ import annotations

import collections
import gc
import weakref

import numpy as np
import pytest

import staticflow as sf

Pair = collections.namedtuple("Pair", "a b")


@pytest.fixture
def no_gc():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _graph():
    x = sf.placeholder(sf.float32, [None])
    v = sf.Variable([1.0, 2.0])
    return x, x * 2.0, v


def test_dropped_fetch_is_freed_at_once(no_gc):
    x, z, v = _graph()
    with sf.Session() as s:
        s.run(v.initializer)
        feed = {x: np.arange(1000, dtype=np.float32)}
        for fetches in (z, [z], (z, v), {"k": z}, Pair(z, [z, {"v": v}])):
            out = s.run(fetches, feed)
            leaves = []
            stack = [out]
            while stack:
                o = stack.pop()
                if isinstance(o, np.ndarray):
                    leaves.append(weakref.ref(o))
                elif isinstance(o, dict):
                    stack.extend(o.values())
                else:
                    stack.extend(o)
            assert leaves
            del out, o, stack
            assert all(r() is None for r in leaves), f"a fetch of {fetches!r} outlived its last reference"


def test_runs_leave_no_reference_cycles(no_gc):
    x, z, v = _graph()
    with sf.Session() as s:
        s.run(v.initializer)
        feed = {x: np.ones(7, np.float32)}
        s.run([z, {"k": (z, Pair(z, v))}], feed)  # the first run builds (and caches) plans
        gc.collect()
        for _ in range(3):
            s.run([z, {"k": (z, Pair(z, v))}], feed)
            s.run(z, feed)
            s.run(v.initializer)
        assert gc.collect() == 0
