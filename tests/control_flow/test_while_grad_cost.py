"""What a while_loop's gradient costs: the backward body runs the gradient ops alone (its
forward values come from the replay's accumulators, not from computing the body again), a
plan fetching the loss and the gradients runs the forward loop once, and the accumulators
hold one entry per iteration run, of intermediates only (no loop-invariant weight). Values
are checked against a NumPy LSTM and its hand-written gradient."""

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import list_ops

T, B, IN, H = 5, 3, 4, 6
RNG = np.random.default_rng(5)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_lstm(x, k, b, steps):
    """loss = sum of the outputs of `steps` LSTMCell steps, and d loss / d (k, b)."""
    c = np.zeros((B, H))
    h = np.zeros((B, H))
    tape = []
    loss = 0.0
    for t in range(steps):
        z = np.concatenate([x[t], h], 1)
        m = z @ k + b
        i, j, f, o = np.split(m, 4, axis=1)
        si, tj, sf_, so = _sigmoid(i), np.tanh(j), _sigmoid(f + 1.0), _sigmoid(o)
        c2 = sf_ * c + si * tj
        tc = np.tanh(c2)
        h2 = so * tc
        tape.append((z, c, si, tj, sf_, so, tc))
        c, h = c2, h2
        loss += h.sum()
    dk, db = np.zeros_like(k), np.zeros_like(b)
    dh, dc = np.zeros((B, H)), np.zeros((B, H))
    for z, c_prev, si, tj, sf_, so, tc in reversed(tape):
        dh = dh + 1.0
        do = dh * tc
        dc = dc + dh * so * (1 - tc**2)
        di, dj, df = dc * tj, dc * si, dc * c_prev
        dm = np.concatenate(
            [di * si * (1 - si), dj * (1 - tj**2), df * sf_ * (1 - sf_), do * so * (1 - so)], 1
        )
        dk += z.T @ dm
        db += dm.sum(0)
        dz = dm @ k.T
        dh, dc = dz[:, IN:], dc * sf_
    return loss, dk, db


def _lstm_graph():
    """The loop dynamic_rnn builds: inputs read from a TensorArray, outputs written to one."""
    x = sf.placeholder(sf.float64, [T, B, IN], name="x")
    n = sf.placeholder(sf.int32, [], name="n")
    kernel = np.random.default_rng(1).standard_normal((IN + H, 4 * H)) * 0.3
    cell = sf.nn.rnn_cell.LSTMCell(H, dtype=sf.float64, initializer=sf.constant_initializer(kernel))
    cell.build(sf.TensorShape([B, IN]))
    inputs = sf.TensorArray(sf.float64, size=T, element_shape=[B, IN]).unstack(x)
    outputs = sf.TensorArray(sf.float64, size=T, element_shape=[B, H])
    state = cell.zero_state(B, sf.float64)

    def body(t, out, c, h):
        y, (c2, h2) = cell(inputs.read(t), sf.nn.rnn_cell.LSTMStateTuple(c, h))
        return t + 1, out.write(t, y), c2, h2

    _, out, _, _ = sf.while_loop(
        lambda t, *_: t < n, body, [sf.constant(0), outputs, state.c, state.h], maximum_iterations=T
    )
    loss = sf.reduce_sum(out.stack())
    grads = sf.gradients(loss, [cell._kernel, cell._bias])
    return x, n, cell, loss, grads


def _config(**switches):
    rw = sf.RewriterConfig(**{k: sf.RewriterConfig.OFF for k, v in switches.items() if not v})
    return sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw))


def _loop_steps(plan) -> list:
    return [s for s in plan.steps if s.op.type in ("While", "StatelessWhile")]


def _body_plan(plan, name_part: str):
    got = [r.plan for fg, r in plan.functions.runners() if name_part in fg.name and "_body" in fg.name]
    assert len(got) == 1, [fg.name for fg, _ in plan.functions.runners()]
    return got[0]


def _step_types(plan) -> list[str]:
    return [s.op.type for s in plan.steps]


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_lstm_loop_gradient_matches_numpy(steps):
    xv = RNG.standard_normal((T, B, IN))
    with sf.Graph().as_default():
        x, n, cell, loss, grads = _lstm_graph()
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            kv, bv = sess.run([cell._kernel, cell._bias])
            bv = RNG.standard_normal(bv.shape) * 0.1
            sess.run(cell._bias.assign(bv))
            got = sess.run([loss, *grads], {x: xv, n: steps})
    want = _numpy_lstm(xv, kv, bv, steps)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_backward_body_runs_no_forward_op():
    """The forward body's activations (Sigmoid, Tanh) and its product do not run again in the
    backward body: its plan has the gradient's two products and activation gradients only."""
    with sf.Graph().as_default():
        x, n, _, loss, grads = _lstm_graph()
        cfg = _config(remapping=False, elementwise_fusion=False)
        with sf.Session(config=cfg) as sess:
            sess.run(sf.global_variables_initializer())
            feed = {x: RNG.standard_normal((T, B, IN)), n: T}
            sess.run([loss, *grads], feed)
            p = sess.plan([loss, *grads], feed)
    fwd = _step_types(_body_plan(p, "replay"))
    back = _step_types(_body_plan(p, "backward"))
    assert fwd.count("Sigmoid") == 3 and fwd.count("Tanh") == 2 and fwd.count("MatMul") == 1
    assert "Sigmoid" not in back and "Tanh" not in back, back
    assert back.count("MatMul") == 2, back  # d concat(x, h) and d kernel; no forward product
    assert back.count("SigmoidGrad") == 3 and back.count("TanhGrad") == 2, back


def test_loss_and_gradients_run_one_forward_loop():
    with sf.Graph().as_default():
        x, n, _, loss, grads = _lstm_graph()
        feed = {x: RNG.standard_normal((T, B, IN)), n: 4}
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            both = sess.run([loss, *grads], feed)
            p = sess.plan([loss, *grads], feed)
            alone = sess.run(loss, feed)
            p_loss = sess.plan(loss, feed)
        assert len(_loop_steps(p)) == 2  # the replay (the forward loop's outputs) and the backward loop
        assert len(_loop_steps(p_loss)) == 1
        (rec,) = [r for r in p.pass_log if r.name == "loop_optimization"]
        # the forward loop shared with the replay (the backward loop's invariant values are
        # also computed before it, the pass's other half)
        assert [note for note in rec.notes if "outputs taken from" in note] == [
            "while: its outputs taken from gradients/while_grad/while_grad/replay"
        ], rec.notes
        np.testing.assert_allclose(both[0], alone, rtol=1e-12)
        with sf.Session(config=_config(loop_optimization=False)) as sess:
            sess.run(sf.global_variables_initializer())
            p_off = sess.plan([loss, *grads], feed)
            off = sess.run([loss, *grads], feed)
        assert len(_loop_steps(p_off)) == 3
        for a, b in zip(both, off):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_accumulators_hold_one_entry_per_iteration_run_and_no_weights():
    with sf.Graph().as_default():
        x, n, cell, loss, grads = _lstm_graph()
        (replay,) = [
            o for o in sf.get_default_graph().get_operations() if o.name.endswith("while_grad/replay")
        ]
        n_vars = len(replay.get_attr("body").replay_of[0].inputs)
        accs = replay.outputs[2 + n_vars :]  # after its counter and limit, the forward loop's variables
        pushed = [
            o.inputs[1] for o in replay.get_attr("body").get_operations() if o.type == "TensorListPushBack"
        ]
        assert len(accs) == len(pushed) > 0
        # intermediates only: the loop-invariant kernel and bias are not pushed
        assert all(t.shape.as_list() not in ([IN + H, 4 * H], [4 * H]) for t in pushed), pushed
        lengths = [list_ops.tensor_list_length(a) for a in accs]
        feed = {x: RNG.standard_normal((T, B, IN))}
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            for k in (0, 2, 5):
                assert sess.run(lengths, {**feed, n: k}) == [k] * len(accs)
