"""Session resources stay bounded: the plan cache is an LRU of configurable size, and fetch
structures nest to any depth without RecursionError."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import staticflow as sf
from staticflow.runtime.session import DEFAULT_PLAN_CACHE_SIZE


def _model():
    x = sf.placeholder(sf.float32, [None, 8], name="x")
    w = sf.Variable(np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(8, 8), name="w")
    y = sf.nn.relu(sf.matmul(x, w)) * 2.0
    return x, w, y


def _expected(xv, wv):
    return np.maximum(xv @ wv, 0.0) * 2.0


def test_500_batch_sizes_keep_at_most_the_default_number_of_plans():
    with sf.Graph().as_default():
        x, w, y = _model()
        rng = np.random.default_rng(0)
        with sf.Session() as sess:
            sess.run(w.initializer)
            wv = sess.run(w)
            for b in range(1, 501):
                xv = rng.standard_normal((b, 8)).astype(np.float32)
                np.testing.assert_allclose(sess.run(y, {x: xv}), _expected(xv, wv), rtol=1e-5, atol=1e-5)
                assert sess.plans_cached <= DEFAULT_PLAN_CACHE_SIZE
            assert DEFAULT_PLAN_CACHE_SIZE == 64
            # 500 batch sizes, the initializer and the read of w: 502 signatures
            assert sess.plans_cached == 64 and sess.plans_built == 502
            assert sess.plans_evicted == 502 - 64


def test_plan_cache_size_is_configurable_and_least_recently_used_goes_first():
    with sf.Graph().as_default():
        x, w, y = _model()
        with sf.Session(config=sf.ConfigProto(plan_cache_size=3)) as sess:
            sess.run(w.initializer)  # plan 1 (the initializer)
            feed = {b: {x: np.ones((b, 8), np.float32)} for b in range(1, 6)}
            sess.run(y, feed[1])
            sess.run(y, feed[2])  # cache: init, 1, 2
            sess.run(y, feed[1])  # a hit: 1 becomes the most recent
            assert sess.plans_built == 3
            sess.run(y, feed[3])  # evicts the initializer's plan, the least recently used
            assert sess.plans_cached == 3 and sess.plans_evicted == 1
            sess.run(y, feed[1])
            sess.run(y, feed[2])
            assert sess.plans_built == 4  # both still cached
            sess.run(y, feed[4])  # evicts 3
            sess.run(y, feed[3])  # rebuilt
            assert sess.plans_built == 6 and sess.plans_cached == 3
            np.testing.assert_allclose(sess.run(y, feed[5]), _expected(feed[5][x], sess.run(w)), rtol=1e-6)
    with pytest.raises(ValueError, match="plan_cache_size"):
        sf.Session(config=sf.ConfigProto(plan_cache_size=-1))


def _nest(leaf, depth: int, kinds):
    f = leaf
    for k in range(depth):
        kind = kinds[k % len(kinds)]
        if kind == "list":
            f = [f]
        elif kind == "tuple":
            f = (f, leaf)
        elif kind == "dict":
            f = {"k": f}
        else:
            f = collections.namedtuple("Pair", "first second")(f, leaf)
    return f


def _unnest(v, depth: int, kinds):
    for k in reversed(range(depth)):
        kind = kinds[k % len(kinds)]
        if kind == "list":
            assert isinstance(v, list) and len(v) == 1
            v = v[0]
        elif kind == "dict":
            assert isinstance(v, dict) and list(v) == ["k"]
            v = v["k"]
        else:
            assert isinstance(v, tuple) and len(v) == 2
            assert type(v).__name__ == ("Pair" if kind == "namedtuple" else "tuple")
            v = v[0]
    return v


@pytest.mark.parametrize("kinds", [["list"], ["tuple", "dict"], ["namedtuple", "list", "dict"]])
def test_fetches_nested_2000_levels_deep(kinds):
    with sf.Graph().as_default():
        x, w, y = _model()
        xv = np.arange(16, dtype=np.float32).reshape(2, 8)
        with sf.Session() as sess:
            sess.run(w.initializer)
            want = _expected(xv, sess.run(w))
            out = sess.run(_nest(y, 2000, kinds), {x: xv})
            np.testing.assert_allclose(_unnest(out, 2000, kinds), want, rtol=1e-6)
            drawing = sf.viz.draw_plan(sess, _nest(y, 2000, kinds), {x: xv})
            assert "peripheries=2" in drawing.source  # the fetched op is marked


def test_a_fetch_structure_that_contains_itself_is_an_error():
    with sf.Graph().as_default():
        x, w, y = _model()
        fetches = [y]
        fetches.append(fetches)
        with sf.Session() as sess:
            sess.run(w.initializer)
            with pytest.raises(ValueError, match="contains itself"):
                sess.run(fetches, {x: np.ones((1, 8), np.float32)})
            shared = [y, y]  # the same list twice is no cycle
            out = sess.run([shared, shared, {"a": shared}], {x: np.ones((1, 8), np.float32)})
            assert len(out) == 3 and len(out[2]["a"]) == 2
