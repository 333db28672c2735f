"""get_variable, variable_scope and initializers (TF1 semantics)."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def test_scopes_prefix_names_and_reuse_shares():
    with sf.variable_scope("layer"):
        w = sf.get_variable("w", [2, 3])
    with sf.variable_scope("layer", reuse=True):
        w2 = sf.get_variable("w")
    with sf.variable_scope("layer", reuse=sf.AUTO_REUSE):
        w3 = sf.get_variable("w", [2, 3])
        v = sf.get_variable("v", [1])
    assert w is w2 is w3 and w.op.name == "layer/w" and v.op.name == "layer/v"


def test_reuse_errors_name_the_variable():
    sf.get_variable("w", [2])
    with pytest.raises(ValueError, match="Variable w already exists, disallowed"):
        sf.get_variable("w", [2])
    with sf.variable_scope("s", reuse=True), pytest.raises(ValueError, match="Variable s/x does not exist"):
        sf.get_variable("x", [2])
    with sf.variable_scope("", reuse=True), pytest.raises(ValueError, match="specified shape"):
        sf.get_variable("w", [3])


def test_nested_scopes_inherit_reuse_and_reuse_variables():
    with sf.variable_scope("a"):
        with sf.variable_scope("b"):
            x = sf.get_variable("x", [1])
    with sf.variable_scope("a", reuse=True):
        with sf.variable_scope("b"):
            assert sf.get_variable("x") is x
    with sf.variable_scope("c") as scope:
        y = sf.get_variable("y", [1])
        scope.reuse_variables()
        assert sf.get_variable("y") is y
        assert sf.get_variable_scope().name == "c"


def test_default_names_and_name_scopes():
    with sf.variable_scope(None, default_name="dense") as s1:
        pass
    with sf.variable_scope(None, default_name="dense") as s2:
        pass
    assert (s1.name, s2.name) == ("dense", "dense_1")
    with sf.variable_scope("layer"):
        t = sf.constant(1.0, name="c")
    with sf.variable_scope("layer", reuse=True):
        t2 = sf.constant(1.0, name="c")
    assert t.op.name == "layer/c" and t2.op.name == "layer_1/c"  # ops get a fresh name scope, as in TF


def test_trainable_flag_and_initial_values():
    a = sf.get_variable("a", [2, 2], initializer=sf.ones_initializer())
    b = sf.get_variable("b", initializer=np.arange(3.0, dtype=np.float32), trainable=False)
    c = sf.get_variable("c", [2], dtype=sf.int32)
    d = sf.get_variable("d", [3], initializer=sf.constant_initializer([1, 2, 3]))
    assert sf.trainable_variables() == [a, c, d]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        av, bv, cv, dv = sess.run([a, b, c, d])
    np.testing.assert_array_equal(av, np.ones((2, 2)))
    np.testing.assert_array_equal(bv, [0, 1, 2])
    np.testing.assert_array_equal(cv, [0, 0])
    np.testing.assert_array_equal(dv, [1, 2, 3])
    with pytest.raises(ValueError, match="must be fully defined"):
        sf.get_variable("e", [None, 2])


def test_scope_initializer_default():
    with sf.variable_scope("z", initializer=sf.zeros_initializer()):
        v = sf.get_variable("v", [4])
    with sf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v), np.zeros(4))


@pytest.mark.parametrize(
    "init,check",
    [
        (sf.glorot_uniform_initializer(seed=1), lambda v: np.abs(v).max() <= np.sqrt(6 / (300 + 200))),
        (sf.random_uniform_initializer(-0.5, 0.25, seed=1), lambda v: v.min() >= -0.5 and v.max() < 0.25),
        (sf.truncated_normal_initializer(0.0, 0.1, seed=1), lambda v: np.abs(v).max() <= 0.2 + 1e-6),
        (sf.random_normal_initializer(1.0, 0.1, seed=1), lambda v: abs(v.mean() - 1) < 0.01),
        (sf.initializers.he_normal(seed=1), lambda v: abs(v.std() - np.sqrt(2 / 300)) < 0.003),
        (sf.initializers.he_uniform(seed=1), lambda v: np.abs(v).max() <= np.sqrt(6 / 300)),
        (sf.glorot_normal_initializer(seed=1), lambda v: abs(v.std() - np.sqrt(2 / 500)) < 0.003),
    ],
)
def test_initializer_distributions(init, check):
    v = sf.get_variable("w", [300, 200], initializer=init)
    with sf.Session() as sess:
        sess.run(v.initializer)
        value = sess.run(v)
    assert value.shape == (300, 200) and check(value)


def test_seeds_make_runs_reproducible():
    def build():
        g = sf.Graph()
        with g.as_default():
            sf.set_random_seed(42)
            a = sf.random_normal([5])
            b = sf.random_uniform([3], seed=7)
        return g, a, b

    g1, a1, b1 = build()
    g2, a2, b2 = build()
    with sf.Session(graph=g1) as s1, sf.Session(graph=g2) as s2:
        first = s1.run([a1, b1])
        np.testing.assert_array_equal(first[0], s2.run(a2))
        np.testing.assert_array_equal(first[1], s2.run(b2))
        again = s1.run(a1)  # the stream goes on within a session
        assert not np.array_equal(first[0], again)
    with sf.Session(graph=g1) as s3:  # and restarts in a new one
        np.testing.assert_array_equal(s3.run(a1), first[0])
    g3 = sf.Graph()
    with g3.as_default():
        c = sf.random_normal([5])  # no seeds: each session differs
    with sf.Session(graph=g3) as s4, sf.Session(graph=g3) as s5:
        assert not np.array_equal(s4.run(c), s5.run(c))


def test_random_ops_sample_their_distributions():
    x = sf.random_uniform([20000], minval=2, maxval=5, dtype=sf.int32, seed=3)
    n = sf.truncated_normal([20000], 1.0, 2.0, seed=3)
    with sf.Session() as sess:
        xv, nv = sess.run([x, n])
    assert xv.min() == 2 and xv.max() == 4 and xv.dtype == np.int32
    assert np.abs(nv - 1).max() <= 4.0 + 1e-5 and abs(nv.mean() - 1) < 0.05


def test_default_names_are_counted_per_scope_and_reset_on_reentry():
    """TF1 counts default scope names per enclosing variable scope and resets the counts
    of a scope's sub-scopes when it is left (names and name scopes checked against TF 2.21's
    compat.v1)."""
    with sf.name_scope("ns1"):
        with sf.variable_scope(None, default_name="d") as d1:
            pass
    with sf.name_scope("ns2"):
        with sf.variable_scope(None, default_name="d") as d2:
            pass
    assert (d1.name, d1.original_name_scope) == ("d", "ns1/d/")
    assert (d2.name, d2.original_name_scope) == ("d_1", "ns2/d/")
    got = []
    for _ in range(2):
        with sf.variable_scope("m"):
            with sf.variable_scope(None, default_name="d") as s:
                got.append((s.name, s.original_name_scope))
    with sf.variable_scope("m"):
        with sf.variable_scope(None, default_name="d"):
            pass
        with sf.variable_scope(None, default_name="d") as s:
            got.append((s.name, s.original_name_scope))
    with sf.variable_scope(None, default_name="m") as s:
        got.append((s.name, s.original_name_scope))
    assert got == [("m/d", "m/d/"), ("m/d", "m_1/d/"), ("m/d_1", "m_2/d_1/"), ("m_1", "m_3/")]
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with sf.variable_scope(None, default_name="x", reuse=True):
            pass


def test_reentering_a_captured_scope():
    """A captured VariableScope keeps its own reuse (the parent's is not inherited) and opens
    a fresh name scope named after its last component, or none with auxiliary_name_scope=False."""
    with sf.variable_scope("a") as a:
        pass
    with sf.variable_scope("b", reuse=True):
        with sf.variable_scope(a) as a2:
            c = sf.constant(1.0)
    assert a2.reuse is False and a2.name == "a" and a2.original_name_scope == "a/"
    assert c.op.name == "b/a/Const"
    with sf.variable_scope(a, auxiliary_name_scope=False):
        c2 = sf.constant(1.0)
    assert c2.op.name == "Const"
    with sf.variable_scope("x", reuse=sf.AUTO_REUSE):
        with sf.variable_scope("y", reuse=True) as y:
            pass
        with sf.variable_scope("z") as z:
            pass
    assert y.reuse is True and z.reuse is sf.AUTO_REUSE


def test_custom_getters_nest_and_see_full_names():
    seen = []

    def outer(getter, name, *args, **kwargs):
        seen.append(("outer", name))
        return getter(name, *args, **kwargs)

    def inner(getter, name, *args, **kwargs):
        seen.append(("inner", name, sorted(kwargs)[:4]))
        kwargs["trainable"] = False
        return getter(name + "_renamed", *args, **kwargs)

    with sf.variable_scope("cg", custom_getter=outer):
        with sf.variable_scope("in", custom_getter=inner):
            v = sf.get_variable("v", [1])
    assert v.op.name == "cg/in/v_renamed" and v not in sf.trainable_variables()
    assert seen == [("inner", "cg/in/v", ["caching_device", "collections", "constraint", "dtype"]),
                    ("outer", "cg/in/v_renamed")]

    def drop_reuse(getter, name, shape=None, dtype=None, initializer=None, **kwargs):
        return getter(name, shape=shape, dtype=dtype, initializer=initializer)

    # a getter that does not pass `reuse` on gets TF1's permissive default (share or create)
    with sf.variable_scope("dr", custom_getter=drop_reuse):
        w = sf.get_variable("w", [1])
        assert sf.get_variable("w", [1]) is w
    with pytest.raises(ValueError, match="custom_getter must be callable"):
        with sf.variable_scope("bad", custom_getter=3):
            pass
