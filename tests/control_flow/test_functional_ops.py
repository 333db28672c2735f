"""map_fn, foldl, foldr and scan against NumPy loops, and their TF1 names."""

import numpy as np
import pytest

import staticflow as sf

RNG = np.random.default_rng(7)


def _run(fetch, feeds=None):
    with sf.Session() as sess:
        return sess.run(fetch, feeds)


def test_map_fn_static_and_fed_length():
    xv = RNG.standard_normal((5, 3)).astype(np.float32)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 3])
        y = sf.map_fn(lambda r: sf.tanh(r) * 2.0 + sf.reduce_sum(r), x)
        assert y.op.name.startswith("map/") and y.shape.as_list() == [None, 3]
        want = np.stack([np.tanh(r) * 2 + r.sum() for r in xv])
        np.testing.assert_allclose(_run(y, {x: xv}), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_run(y, {x: xv[:2]}), want[:2], rtol=1e-5)
        z = sf.map_fn(lambda r: r * r, sf.constant(xv))
        assert z.shape.as_list() == [5, 3]
        np.testing.assert_allclose(_run(z), xv * xv, rtol=1e-6)


def test_map_fn_nested_elems_and_dtype():
    av = RNG.standard_normal((4, 2))
    bv = RNG.integers(0, 5, size=4).astype(np.int32)
    with sf.Graph().as_default():
        a, b = sf.constant(av), sf.constant(bv)
        out = sf.map_fn(
            lambda e: {"s": sf.reduce_sum(e[0]) * sf.cast(e[1], sf.float64), "k": e[1] + 1},
            (a, b),
            dtype={"s": sf.float64, "k": sf.int32},
        )
        got = _run(out)
    np.testing.assert_allclose(got["s"], av.sum(1) * bv, rtol=1e-12)
    np.testing.assert_array_equal(got["k"], bv + 1)


def test_map_fn_result_structure_must_match():
    with sf.Graph().as_default():
        x = sf.constant(np.ones((3, 2), np.float32))
        with pytest.raises(ValueError, match="map_fn"):
            sf.map_fn(lambda r: (r, r), x)
        with pytest.raises(TypeError, match="map_fn: fn returns int32"):
            sf.map_fn(lambda r: sf.cast(r, sf.int32), x)


def test_foldl_foldr():
    xv = RNG.standard_normal((6, 2))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, 2])
        fl = sf.foldl(lambda a, r: a * 0.5 - r, x)
        fl0 = sf.foldl(lambda a, r: a * 0.5 - r, x, initializer=sf.ones([2], sf.float64))
        fr = sf.foldr(lambda a, r: a * 0.5 - r, x)
        fr0 = sf.foldr(lambda a, r: a * 0.5 - r, x, initializer=sf.ones([2], sf.float64))
        assert fl.op.name.startswith("foldl/") and fr.op.name.startswith("foldr/")
        got = _run([fl, fl0, fr, fr0], {x: xv})

    def fold(rows, a):
        for r in rows:
            a = a * 0.5 - r
        return a

    want = [fold(xv[1:], xv[0]), fold(xv, np.ones(2)), fold(xv[::-1][1:], xv[-1]), fold(xv[::-1], np.ones(2))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_foldl_nested_accumulator():
    xv = np.arange(1, 5, dtype=np.float32)
    with sf.Graph().as_default():
        s, p = sf.foldl(lambda a, r: (a[0] + r, a[1] * r), sf.constant(xv), initializer=(0.0, 1.0))
        got = _run([s, p])
    np.testing.assert_allclose(got, [xv.sum(), xv.prod()])


@pytest.mark.parametrize("reverse", [False, True])
def test_scan(reverse):
    xv = RNG.standard_normal((5, 3)).astype(np.float32)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 3])
        s = sf.scan(lambda a, r: a * 0.9 + r, x, reverse=reverse)
        s0 = sf.scan(lambda a, r: a * 0.9 + r, x, initializer=sf.zeros([3]), reverse=reverse)
        assert s.op.name.startswith("scan/")
        got, got0 = _run([s, s0], {x: xv})
    rows = xv[::-1] if reverse else xv

    def scan(a, rs):
        out = []
        for r in rs:
            a = a * np.float32(0.9) + r
            out.append(a)
        return np.stack(out)

    want = np.concatenate([rows[:1], scan(rows[0], rows[1:])])
    want0 = scan(np.zeros(3, np.float32), rows)
    if reverse:
        want, want0 = want[::-1], want0[::-1]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(got0, want0, rtol=1e-5)


def test_scan_nested_initializer_and_elems():
    av = RNG.standard_normal((4, 2))
    bv = RNG.standard_normal(4)
    with sf.Graph().as_default():
        out = sf.scan(
            lambda acc, e: {"sum": acc["sum"] + e[0] * e[1], "n": acc["n"] + 1},
            (sf.constant(av), sf.constant(bv)),
            initializer={"sum": sf.zeros([2], sf.float64), "n": sf.constant(0)},
        )
        got = _run(out)
    np.testing.assert_allclose(got["sum"], np.cumsum(av * bv[:, None], axis=0), rtol=1e-12)
    np.testing.assert_array_equal(got["n"], np.arange(1, 5))


def test_names_are_tensorflows():
    # as TensorFlow 1.x (control flow v2) names them
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [4, 3])
        names = [
            sf.map_fn(lambda r: r * 2.0, x).name,
            sf.scan(lambda a, r: a + r, x).name,
            sf.foldl(lambda a, r: a + r, x).name,
            sf.foldr(lambda a, r: a + r, x, initializer=sf.zeros([3])).name,
        ]
        loops = [o.name for o in sf.get_default_graph().get_operations() if o.type.endswith("While")]
    assert names == [
        "map/TensorArrayV2Stack/TensorListStack:0",
        "scan/TensorArrayV2Stack/TensorListStack:0",
        "foldl/while/Identity_3:0",
        "foldr/while/Identity_3:0",
    ]
    assert loops == ["map/while", "scan/while", "foldl/while", "foldr/while"]
