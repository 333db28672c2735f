"""cond, case and switch_case: If ops whose branches are functions; only the taken one runs."""

import pathlib

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import graph_pb2
from staticflow.framework.func_graph import FuncGraph
from staticflow.testing.gradients import check_gradients

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "control_flow"


def _ifs(g):
    return [op for op in g.get_operations() if op.type in ("If", "StatelessIf")]


def test_cond_runs_the_branch_the_fed_predicate_picks():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [3], name="x")
        p = sf.placeholder(sf.bool, [], name="p")
        y = sf.constant(3.0)
        r = sf.cond(p, lambda: x * y, lambda: sf.exp(x) + 1.0)
        assert r.shape.as_list() == [3] and r.name == "cond/Identity:0"
        (op,) = _ifs(g)
        assert op.type == "StatelessIf" and op.name == "cond"
        xv = np.array([0.5, -1.0, 2.0], np.float32)
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(r, {x: xv, p: True}), xv * 3.0, rtol=1e-6)
            np.testing.assert_allclose(sess.run(r, {x: xv, p: False}), np.exp(xv) + 1.0, rtol=1e-6)


def test_only_the_taken_branch_runs():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2])
        p = sf.placeholder(sf.bool, [])
        counter = sf.Variable(0.0, name="counter")

        def counted():
            with sf.control_dependencies([sf.assign_add(counter, 1.0)]):
                return sf.identity(x * 2.0)

        # the false branch fails the run when it runs (NaN check on the log of a negative)
        r = sf.cond(p, counted, lambda: sf.debugging.check_numerics(sf.log(x - 10.0), "ran"))
        assert _ifs(g)[0].type == "If"  # a branch writes a variable
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            for _ in range(3):
                np.testing.assert_allclose(sess.run(r, {x: [1.0, 2.0], p: True}), [2.0, 4.0])
            assert sess.run(counter) == 3.0
            with pytest.raises(sf.errors.InvalidArgumentError, match="ran"):
                sess.run(r, {x: [1.0, 2.0], p: False})
            assert sess.run(counter) == 3.0


def test_nested_conds_match_numpy():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [4])
        a = sf.placeholder(sf.bool, [])
        b = sf.placeholder(sf.bool, [])
        w = sf.constant(np.arange(4, dtype=np.float32))
        r = sf.cond(
            a,
            lambda: sf.cond(b, lambda: x * w, lambda: x - w, name="inner"),
            lambda: sf.cond(b, lambda: sf.square(x), lambda: -x),
        )
        xv = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
        wv = np.arange(4, dtype=np.float32)
        want = {
            (True, True): xv * wv,
            (True, False): xv - wv,
            (False, True): xv**2,
            (False, False): -xv,
        }
        with sf.Session() as sess:
            for (av, bv), w_ in want.items():
                np.testing.assert_allclose(sess.run(r, {x: xv, a: av, b: bv}), w_, rtol=1e-6)


def test_structures_nones_and_dicts():
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.bool, [])
        x = sf.constant([1.0, 2.0])
        out = sf.cond(p, lambda: {"a": x, "b": (x * 2, None)}, lambda: {"a": -x, "b": (x + 1, None)})
        assert out["b"][1] is None
        with sf.Session() as sess:
            got = sess.run({"a": out["a"], "b": out["b"][0]}, {p: False})
            np.testing.assert_allclose(got["a"], [-1.0, -2.0])
            np.testing.assert_allclose(got["b"], [2.0, 3.0])


def test_constant_predicate_builds_its_branch_only():
    g = sf.Graph()
    with g.as_default():
        x = sf.constant([1.0, 2.0])
        r = sf.cond(sf.constant(False), lambda: x * 10.0, lambda: x + 1.0)
        assert not _ifs(g)
        assert not any(op.type == "Mul" for op in g.get_operations())
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(r), [2.0, 3.0])


@pytest.mark.parametrize("pred", [True, False])
def test_cond_gradient_matches_numerical(pred):
    def fn(x, w):
        p = sf.placeholder_with_default(pred, [])
        return sf.cond(p, lambda: sf.sin(x) * w, lambda: sf.reduce_sum(x * x) * w)

    rng = np.random.default_rng(0)
    check_gradients(fn, [rng.standard_normal(3), rng.standard_normal(3)])


def test_gradient_runs_only_the_taken_branch_gradient():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float64, [2])
        p = sf.placeholder(sf.bool, [])
        r = sf.cond(p, lambda: x * x, lambda: sf.sqrt(x))  # sqrt's gradient at 0 is inf
        (gx,) = sf.gradients(r, x)
        assert gx.op.type == "StatelessIf"
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(gx, {x: [0.0, 3.0], p: True}), [0.0, 6.0])
            np.testing.assert_allclose(sess.run(gx, {x: [4.0, 1.0], p: False}), [0.25, 0.5])


def test_nested_cond_gradient():
    def fn(x):
        a = sf.reduce_sum(x) > 0
        return sf.cond(a, lambda: sf.cond(x[0] > 0, lambda: x * x * x, lambda: sf.tanh(x)), lambda: x * 2.0)

    check_gradients(fn, [np.array([0.5, 1.5, -0.2])])
    check_gradients(fn, [np.array([-0.5, 1.5, -0.2])])
    check_gradients(fn, [np.array([-0.5, -1.5, -0.2])])


def test_case_and_switch_case_match_numpy():
    g = sf.Graph()
    with g.as_default():
        i = sf.placeholder(sf.int32, [])
        x = sf.constant([1.0, 2.0])
        s = sf.switch_case(i, [lambda: x * 1.0, lambda: x * 2.0, lambda: x * 3.0])
        c = sf.case([(i < 1, lambda: x - 1.0), (i < 2, lambda: x - 2.0)], default=lambda: x - 9.0)
        cx = sf.case([(i < 1, lambda: x), (i < 5, lambda: -x)], default=lambda: x * 0.0, exclusive=True)
        with sf.Session() as sess:
            for k, (sw, cw) in enumerate([(1.0, 1.0), (2.0, 2.0), (3.0, 9.0), (3.0, 9.0)]):
                got_s, got_c = sess.run([s, c], {i: k})
                np.testing.assert_allclose(got_s, [sw, 2 * sw])
                np.testing.assert_allclose(got_c, [1.0 - cw, 2.0 - cw])
            np.testing.assert_allclose(sess.run(s, {i: -3}), [3.0, 6.0])  # out of range: the last
            np.testing.assert_allclose(sess.run(cx, {i: 7}), [0.0, 0.0])
            with pytest.raises(sf.errors.InvalidArgumentError, match="more than one predicate"):
                sess.run(cx, {i: 0})


def test_errors_name_the_problem():
    g = sf.Graph()
    with g.as_default():
        x = sf.constant([1.0, 2.0])
        with pytest.raises(TypeError, match="pred must be a bool tensor, got float32"):
            sf.cond(x[0], lambda: x, lambda: x)
        p = sf.placeholder(sf.bool, [])
        with pytest.raises(TypeError, match="cond: the branches return float32 and int32"):
            sf.cond(p, lambda: x, lambda: sf.constant([1, 2]))
        with pytest.raises(ValueError, match="different structures"):
            sf.cond(p, lambda: (x, x), lambda: x)
        with pytest.raises(ValueError, match="return 2 and 1 values"):
            sf.cond(p, lambda: [x, x], lambda: [x])
        with pytest.raises(ValueError, match="pred must be a scalar"):
            sf.cond(sf.placeholder(sf.bool, [2]), lambda: x, lambda: x)


def test_branches_of_different_shapes_fail_when_planned():
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.bool, [])
        n = sf.placeholder(sf.int32, [])
        r = sf.cond(p, lambda: sf.zeros([2]), lambda: sf.zeros([3]))
        assert r.shape.as_list() == [None]
        with sf.Session() as sess:
            with pytest.raises(sf.errors.InvalidArgumentError, match=r"cond.*\[2\].*\[3\]"):
                sess.run(r, {p: True, n: 1})


def test_function_graph_captures_outer_tensors_as_arguments():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2], name="x")
        p = sf.placeholder(sf.bool, [], name="p")
        y = sf.constant(2.0, name="y")
        sf.cond(p, lambda: x * y, lambda: x)
        (op,) = _ifs(g)
        then_fg, else_fg = op.get_attr("then_branch"), op.get_attr("else_branch")
        assert isinstance(then_fg, FuncGraph) and then_fg.outer_graph is g
        assert [t.name for t in op.inputs] == ["p:0", "x:0", "y:0"]
        assert len(then_fg.inputs) == len(else_fg.inputs) == 2
        assert [o for o, _ in then_fg.captures] == [x, y]
        assert all(t.graph is then_fg for t in then_fg.inputs + then_fg.outputs)
        assert not any(o.name.startswith("cond/") for o in then_fg.get_operations())


def test_save_and_import_round_trip(tmp_path):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [3], name="x")
        p = sf.placeholder(sf.bool, [], name="p")
        r = sf.cond(p, lambda: sf.cond(x[0] > 0, lambda: x * 2.0, lambda: x * 3.0), lambda: x - 1.0)
        sf.identity(r, name="r")
        (gx,) = sf.gradients(r, x)
        sf.identity(gx, name="gx")
    gd = g.as_graph_def()
    names = {f.signature.name for f in gd.library.function}
    assert len(names) == len(gd.library.function) >= 6  # 4 forward branches, their gradients
    path = sf.io.write_graph(gd, str(tmp_path), "cond.pb", as_text=False)
    gd2 = graph_pb2.GraphDef()
    gd2.ParseFromString(pathlib.Path(path).read_bytes())
    xv = np.array([1.0, -2.0, 3.0], np.float32)
    results = []
    for graph_def in (gd, gd2):
        g2 = sf.Graph()
        with g2.as_default():
            sf.import_graph_def(graph_def, name="")
            with sf.Session() as sess:
                results.append(
                    [
                        sess.run(["r:0", "gx:0"], {"x:0": v, "p:0": pv})
                        for v in (xv, -xv)
                        for pv in (True, False)
                    ]
                )
        assert g2.as_graph_def().library == graph_def.library or len(
            g2.as_graph_def().library.function
        ) == len(names)
    want = [
        [xv * 2, np.full(3, 2.0)],
        [xv - 1, np.ones(3)],
        [-xv * 3, np.full(3, 3.0)],
        [-xv - 1, np.ones(3)],
    ]
    for got in results:
        for (r_, g_), (rw, gw) in zip(got, want):
            np.testing.assert_allclose(r_, rw, rtol=1e-6)
            np.testing.assert_allclose(g_, gw, rtol=1e-6)


def test_tensorflow_written_nested_cond_imports_and_matches():
    gd = graph_pb2.GraphDef()
    gd.ParseFromString((FIXTURES / "cond_v2.pb").read_bytes())
    want = np.load(FIXTURES / "cond_v2.npz")
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
        assert {op.type for op in _ifs(g)} == {"StatelessIf"}
        with sf.Session() as sess:
            for pv in (True, False):
                for k, xv in enumerate(([1.0, 2.0], [-1.0, 2.0])):
                    got = sess.run("r:0", {"x:0": xv, "p:0": pv})
                    np.testing.assert_allclose(got, want[f"r_{int(pv)}_{k}"], rtol=1e-6)


def test_drawing_shows_each_branch_as_a_cluster():
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [3], name="x")
        p = sf.placeholder(sf.bool, [], name="p")
        sf.cond(p, lambda: sf.cond(x[0] > 0, lambda: x * 2.0, lambda: x), lambda: x + 1.0)
    for source in (g, g.as_graph_def()):
        dot = sf.viz.draw(source).source
        for cluster in ("cond/then_branch", "cond/else_branch", "cond/then_branch/cond/then_branch"):
            assert f"cluster_{cluster}" in dot
        assert "then_branch: cond_true" in dot


def test_freeze_and_meta_graph_keep_the_branches(tmp_path):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2], name="x")
        p = sf.placeholder(sf.bool, [], name="p")
        w = sf.Variable([2.0, -1.0], name="w")
        sf.identity(sf.cond(p, lambda: x * w, lambda: x + w), name="r")
        _, loop = sf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * w), [0, x])
        sf.identity(loop, name="loop")
        saver = sf.train.Saver()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model"))
            frozen = sf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["r", "loop"])
    assert not any(n.op == "VariableV2" for n in frozen.node)
    assert len(frozen.library.function) == 4
    want = {True: [2.0, -2.0], False: [3.0, 1.0]}
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(frozen, name="")
        with sf.Session() as sess:
            for pv, w_ in want.items():
                np.testing.assert_allclose(sess.run("r:0", {"x:0": [1.0, 2.0], "p:0": pv}), w_)
            np.testing.assert_allclose(sess.run("loop:0", {"x:0": [1.0, 2.0]}), [8.0, -2.0])
    g3 = sf.Graph()
    with g3.as_default():
        restorer = sf.train.import_meta_graph(prefix + ".meta")
        with sf.Session() as sess:
            restorer.restore(sess, prefix)
            np.testing.assert_allclose(sess.run("r:0", {"x:0": [1.0, 2.0], "p:0": True}), want[True])
            np.testing.assert_allclose(sess.run("loop:0", {"x:0": [1.0, 2.0]}), [8.0, -2.0])


def _plan_ops(sess, fetch, feeds):
    """The op types of the plan a run of `fetch` with `feeds` makes."""
    return [s.node.type for s in sess.plan(fetch, feeds).steps]


def test_a_predicate_constant_in_the_plan_inlines_its_branch():
    # the predicate tests a fed tensor's shape: constant once the plan knows the shape, so the
    # plan holds the taken branch's ops, and the other branch (another output shape) is never planned
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None])
        big = sf.shape(x)[0] > 2
        r = sf.cond(big, lambda: sf.reduce_sum(x, keepdims=True) * 2.0, lambda: x + 1.0)
        assert _ifs(g)
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(r, {x: [1.0, 2.0, 3.0, 4.0]}), [20.0])
            np.testing.assert_allclose(sess.run(r, {x: [1.0, 2.0]}), [2.0, 3.0])
            types = _plan_ops(sess, r, {x: np.ones(5, np.float32)})
            assert not {"If", "StatelessIf"} & set(types), types
        rw = sf.RewriterConfig(function_optimization=sf.RewriterConfig.OFF)  # the If stays a call
        with sf.Session(config=sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))) as sess:
            np.testing.assert_allclose(sess.run(r, {x: [1.0, 2.0, 3.0, 4.0]}), [20.0])
            assert "StatelessIf" in _plan_ops(sess, r, {x: np.ones(5, np.float32)})


@pytest.mark.parametrize("pred", [True, False])
def test_gradient_through_a_branch_that_reads_a_tensor_array(pred):
    # the branch's input is the array's list (a variant): its gradient is a list
    xv = np.arange(6.0).reshape(3, 2)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [3, 2])
        p = sf.placeholder(sf.bool, [])
        ta = sf.TensorArray(sf.float64, size=3).unstack(x)
        y = sf.cond(p, lambda: ta.read(1) * x[2], lambda: sf.zeros([2], sf.float64) + x[0])
        (gx,) = sf.gradients(sf.reduce_sum(y), x)
        with sf.Session() as sess:
            got = sess.run(gx, {x: xv, p: pred})
    want = np.zeros_like(xv)
    if pred:
        want[1], want[2] = xv[2], xv[1]
    else:
        want[0] = 1.0
    np.testing.assert_allclose(got, want)
