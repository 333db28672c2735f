"""GraphDefs with TF1's dataflow control flow (Switch/Merge conds, Enter/Exit while frames)
import as functional If/While ops and compute what TensorFlow computed; what cannot be
converted is refused, naming the construct.

The fixtures in tests/fixtures/control_flow/*_v1.* were written by TensorFlow 2.21's compat.v1
with control flow v2 turned off (make_v1_fixtures.py there); these tests need no TensorFlow.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import functionalize, node_def_pb2

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "control_flow"
V1_OPS = {"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond"}


def _graph_def(name):
    return sf.GraphDef.FromString((FIXTURES / f"{name}.pb").read_bytes())


def _cases(name, outs):
    """[(feeds, {output: TensorFlow's value})] of a fixture."""
    z = np.load(FIXTURES / f"{name}.npz")
    cases, k = [], 0
    while f"{outs[0]}_{k}" in z.files:
        mine = [f for f in z.files if f.startswith("feed_") and f.endswith(f"_{k}")]
        feeds = {f.split("_")[1] + ":0": z[f] for f in mine}
        cases.append((feeds, {o: z[f"{o}_{k}"] for o in outs}))
        k += 1
    return cases


@pytest.mark.parametrize(
    "name,outs,ops",
    [
        ("cond_v1", ["a", "b"], {"StatelessIf"}),
        ("while_v1", ["x"], {"StatelessWhile"}),
        ("nested_v1", ["v"], {"StatelessWhile"}),
        ("control_deps_v1", ["r", "r2", "w"], {"StatelessIf", "StatelessWhile"}),
    ],
)
@pytest.mark.parametrize("prefix", ["", "imported"])
def test_tf1_control_flow_imports_as_functions_and_gives_tensorflows_values(name, outs, ops, prefix):
    gd = _graph_def(name)
    assert V1_OPS & {n.op for n in gd.node}
    with sf.Graph().as_default() as g:
        sf.import_graph_def(gd, name=prefix)
    types = {op.type for op in g.get_operations()}
    assert not types & V1_OPS
    assert ops <= types
    pre = prefix + "/" if prefix else ""
    cases = _cases(name, outs)
    assert len(cases) >= 2
    with sf.Session(graph=g) as sess:
        for feeds, want in cases:
            got = sess.run([pre + o + ":0" for o in outs], {pre + k: v for k, v in feeds.items()})
            for o, v in zip(outs, got, strict=True):
                np.testing.assert_allclose(v, want[o], rtol=1e-5, atol=1e-6, err_msg=f"{name} {o} {feeds}")


def test_control_inputs_from_outside_a_construct_become_the_new_nodes_control_inputs():
    with sf.Graph().as_default() as g:
        sf.import_graph_def(_graph_def("control_deps_v1"), name="")
    made = [op for op in g.get_operations() if op.type in ("StatelessIf", "StatelessWhile")]
    assert len(made) == 3
    for op in made:
        assert "other" in [c.name for c in op.control_inputs], op.name


def test_nested_loops_and_their_cond_nest_as_functions():
    out = functionalize.functionalize(_graph_def("nested_v1"))
    assert [n.op for n in out.node if n.op.endswith("While")] == ["StatelessWhile"]
    fns = {f.signature.name: f for f in out.library.function}
    inner_loops = [f for f in fns.values() if any(n.op == "StatelessWhile" for n in f.node_def)]
    conds = [f for f in fns.values() if any(n.op == "StatelessIf" for n in f.node_def)]
    assert len(inner_loops) == 1 and len(conds) == 1  # the outer body has the inner loop, whose body the cond
    assert not any(n.op in V1_OPS for f in fns.values() for n in f.node_def)


def test_converted_graph_round_trips_through_a_graph_def():
    with sf.Graph().as_default() as g:
        sf.import_graph_def(_graph_def("while_v1"), name="")
    gd = g.as_graph_def()
    with sf.Graph().as_default() as g2:
        sf.import_graph_def(gd, name="")
    feeds, want = _cases("while_v1", ["x"])[1]
    with sf.Session(graph=g2) as sess:
        np.testing.assert_allclose(sess.run("x:0", feeds), want["x"], rtol=1e-5)


def test_gradients_through_an_imported_tf1_while_loop_match_numerical_ones():
    with sf.Graph().as_default() as g:
        sf.import_graph_def(_graph_def("while_v1"), name="")
        x0 = g.get_tensor_by_name("x0:0")
        loss = sf.reduce_sum(g.get_tensor_by_name("x:0") ** 2)
        (grad,) = sf.gradients(loss, [x0])
    xv = np.array([[1.0, 2.0]], np.float32)
    with sf.Session(graph=g) as sess:
        got = sess.run(grad, {"n:0": 3, x0: xv})
        eps = 1e-2
        num = np.zeros_like(xv)
        for j in range(2):
            d = np.zeros_like(xv)
            d[0, j] = eps
            hi = sess.run(loss, {"n:0": 3, x0: xv + d})
            lo = sess.run(loss, {"n:0": 3, x0: xv - d})
            num[0, j] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(got, num, rtol=2e-2, atol=1e-3)


def test_graph_defs_without_tf1_control_flow_are_left_alone():
    gd = _graph_def("cond_v2")
    assert not functionalize.has_v1_control_flow(gd)


# ---------------------------------------------------------------------------
# refusals: each names the construct and asks for control flow v2
# ---------------------------------------------------------------------------
def _node(gd, name):
    return next(n for n in gd.node if n.name == name)


def _add(gd, name, op, inputs, **type_attrs):
    n = node_def_pb2.NodeDef(name=name, op=op, input=inputs)
    for k, v in type_attrs.items():
        n.attr[k].type = v.as_datatype_enum
    gd.node.append(n)


def _set_input(gd, name, k, value):
    _node(gd, name).input[k] = value


def _merge_of_three(gd):
    _node(gd, "cond/Merge").input.append("x")


def _branch_reads_both_sides(gd):
    _set_input(gd, "cond/add", 0, "cond/add/Switch:1")


def _both_inputs_one_branch(gd):
    _set_input(gd, "cond/Merge_1", 0, "cond/Greater")


def _value_index_read(gd):
    _add(gd, "which", "Identity", ["cond/Merge:1"], T=sf.int32)


def _two_predicates(gd):
    _add(gd, "q", "Placeholder", [], dtype=sf.bool)
    _set_input(gd, "cond/add/Switch", 1, "q")


def _source_in_branch(gd):
    del _node(gd, "cond/add/y").input[:]


def _missing_input(gd):
    _set_input(gd, "cond/Merge_1", 0, "no_such_node")


def _effect_reads_branch_node(gd):
    _add(gd, "shuffle", "RandomShuffle", ["cond/mul"], T=sf.float32)


COND_REFUSALS = [
    (_merge_of_three, r"Merge node 'cond/Merge' has 3 inputs"),
    (_branch_reads_both_sides, r"Merge node 'cond/Merge': its input 'cond/add' is behind both outputs"),
    (_both_inputs_one_branch, r"Merge node 'cond/Merge_1': both its inputs are in the true branch"),
    (_value_index_read, r"Merge node 'cond/Merge'.*'which' \(Identity\) reads its value_index"),
    (_two_predicates, r"Merge node 'cond/.*test different predicates"),
    (_source_in_branch, r"node 'cond/add/y' \(Const\) is used inside it but does not enter it"),
    (_effect_reads_branch_node, r"RandomShuffle node 'shuffle' reads 'cond/mul' of a converted cond"),
]


def _ref_enter(gd):
    _node(gd, "while/Enter_2").op = "RefEnter"


def _all_constant(gd):
    for n in gd.node:
        if n.op == "Enter":
            n.attr["is_constant"].b = True


def _enter_read_elsewhere(gd):
    _add(gd, "peek", "Identity", ["while/Enter_2"], T=sf.float32)


def _two_exits(gd):
    n = node_def_pb2.NodeDef()
    n.CopyFrom(_node(gd, "while/Exit_2"))
    n.name = "while/Exit_again"
    gd.node.append(n)


def _merge_without_next_iteration(gd):
    _node(gd, "while/NextIteration_2").op = "Identity"


def _switch_on_other_predicate(gd):
    _set_input(gd, "while/Switch_2", 1, "while/LogicalAnd")


def _false_output_to_next_iteration(gd):
    _set_input(gd, "while/NextIteration_2", 0, "while/Switch_2")


def _body_reads_false_output(gd):
    _set_input(gd, "while/Identity_2", 0, "while/Switch_2")


def _stray_exit(gd):
    _add(gd, "stray", "Exit", ["x0"], T=sf.float32)


FRAME = "while loop frame 'while/while_context'"
WHILE_REFUSALS = [
    (_ref_enter, r"RefEnter node 'while/Enter_2' \(while loop frame 'while/while_context'\)"),
    (_all_constant, FRAME + r": Enter node .* none of which is a loop variable"),
    (_enter_read_elsewhere, FRAME + r": Enter node 'while/Enter_2' feeds Identity node 'peek'"),
    (_two_exits, FRAME + r": Switch node 'while/Switch_2' has 2 Exit consumers"),
    (_merge_without_next_iteration, FRAME + r": Merge node 'while/Merge_2' does not join its Enter"),
    (_switch_on_other_predicate, FRAME + r": Switch node 'while/Switch_2' does not test the frame's one"),
    (_false_output_to_next_iteration, FRAME + r": Switch node 'while/Switch_2' passes its false output"),
    (_body_reads_false_output, r"the body of " + FRAME + r": node 'while/Identity_2' reads 'while/Switch_2'"),
    (_stray_exit, r"Exit node 'stray' is part of TF1 control flow that could not be converted"),
]


@pytest.mark.parametrize(
    "fixture,mutate,match",
    [("cond_v1", f, m) for f, m in COND_REFUSALS] + [("while_v1", f, m) for f, m in WHILE_REFUSALS],
    ids=lambda x: x.__name__ if callable(x) else None,
)
def test_tf1_control_flow_that_cannot_be_converted_is_refused_naming_it(fixture, mutate, match):
    gd = _graph_def(fixture)
    mutate(gd)
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match=match) as e:
            sf.import_graph_def(gd, name="")
    assert isinstance(e.value, functionalize.ControlFlowImportError)
    assert "enable_control_flow_v2" in str(e.value)


def test_a_branch_input_naming_no_node_is_refused_naming_it():
    gd = _graph_def("cond_v1")
    _missing_input(gd)
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match=r"Merge node 'cond/Merge_1': input 'no_such_node' is not a"):
            sf.import_graph_def(gd, name="")


def test_a_tf1_gradient_of_a_while_loop_is_refused_naming_its_stacks():
    gd = _graph_def("while_grad_v1")
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match=r"Stack\w* node '.*': the GraphDef holds TF1's gradient"):
            sf.import_graph_def(gd, name="")


def _small_cond():
    """A cond as TF1 writes it, by hand: x's Switch on p, -x and |x| joined by a Merge, and the
    pivot Switch(p, p) with its switch_t Identity that no branch uses."""
    gd = sf.GraphDef()
    _add(gd, "x", "Placeholder", [], dtype=sf.float32)
    _add(gd, "p", "Placeholder", [], dtype=sf.bool)
    _add(gd, "cond/Switch", "Switch", ["p", "p"], T=sf.bool)
    _add(gd, "cond/switch_t", "Identity", ["cond/Switch:1"], T=sf.bool)
    _add(gd, "cond/Neg/Switch", "Switch", ["x", "p"], T=sf.float32)
    _add(gd, "cond/Neg", "Neg", ["cond/Neg/Switch:1"], T=sf.float32)
    _add(gd, "cond/Abs", "Abs", ["cond/Neg/Switch"], T=sf.float32)
    _add(gd, "cond/Merge", "Merge", ["cond/Abs", "cond/Neg"], T=sf.float32)
    _node(gd, "cond/Merge").attr["N"].i = 2
    return gd


def test_a_hand_written_cond_imports_and_its_unused_pivot_is_dropped():
    with sf.Graph().as_default() as g:
        sf.import_graph_def(_small_cond(), name="")
    assert not {op.type for op in g.get_operations()} & V1_OPS
    assert "cond/switch_t" not in [op.name for op in g.get_operations()]
    xv = np.array([1.5, -2.0], np.float32)
    with sf.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run("cond/Merge:0", {"x:0": xv, "p:0": True}), -xv)
        np.testing.assert_array_equal(sess.run("cond/Merge:0", {"x:0": xv, "p:0": False}), np.abs(xv))


def test_an_effect_only_a_dead_branch_pivot_reaches_is_refused_naming_it():
    gd = _small_cond()
    _add(gd, "shuffle", "RandomShuffle", ["cond/switch_t"], T=sf.bool)
    with sf.Graph().as_default():
        with pytest.raises(ValueError, match=r"'shuffle' runs in a branch of the cond of Switch 'cond/Sw"):
            sf.import_graph_def(gd, name="")
