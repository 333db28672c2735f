"""dynamic_rnn, bidirectional_dynamic_rnn and raw_rnn against a NumPy loop over time (the
cells' equations written out), central differences of that loop for the gradients, and
static_rnn with the same weights."""

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import nest

RNG = np.random.default_rng(5)
B, T, D = 4, 5, 3
LENGTHS = np.array([0, 2, 5, 3], np.int32)  # an empty sequence and a full one


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --- the cells in NumPy: (weights, x, flat state) -> (output, flat state) ------------------------
def _basic(w, x, s):
    (h,) = s
    h = np.tanh(np.concatenate([x, h], 1) @ w[0] + w[1])
    return h, [h]


def _gru(w, x, s):
    (h,) = s
    gates = _sigmoid(np.concatenate([x, h], 1) @ w[0] + w[1])
    r, u = np.split(gates, 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ w[2] + w[3])
    h = u * h + (1 - u) * c
    return h, [h]


def _lstm(w, x, s):
    c, h = s
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ w[0] + w[1], 4, axis=1)
    c = _sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(j)
    h = _sigmoid(o) * np.tanh(c)
    return h, [c, h]


# kind -> (make the cell, NumPy step, variables per layer, state arrays per layer, units)
CELLS = {
    "basic": (lambda: sf.nn.rnn_cell.BasicRNNCell(4), _basic, 2, 1),
    "gru": (lambda: sf.nn.rnn_cell.GRUCell(4), _gru, 4, 1),
    "lstm": (lambda: sf.nn.rnn_cell.LSTMCell(4), _lstm, 2, 2),
    "multi": (
        lambda: sf.nn.rnn_cell.MultiRNNCell([sf.nn.rnn_cell.GRUCell(4), sf.nn.rnn_cell.LSTMCell(4)]),
        None,
        None,
        None,
    ),
}


def _np_step(kind):
    """(step(weights, x, flat state) -> (output, flat state), zero flat state for batch b)."""
    if kind != "multi":
        _, step, _, n_state = CELLS[kind]
        return step, lambda b: [np.zeros((b, 4))] * n_state

    def step(w, x, s):
        out, s1 = _gru(w[:4], x, s[:1])
        out, s2 = _lstm(w[4:], out, s[1:])
        return out, s1 + s2

    return step, lambda b: [np.zeros((b, 4))] * 3


def np_rnn(step, w, x_tm, lengths, state):
    """The reference: outputs [T, B, n] (zero past each length) and the flat final state (each
    row's state at its length)."""
    steps, batch = x_tm.shape[:2]
    lengths = np.full(batch, steps) if lengths is None else lengths
    outputs = []
    for t in range(steps):
        out, new = step(w, x_tm[t], state)
        live = (t < lengths)[:, None]
        outputs.append(np.where(live, out, 0.0))
        state = [np.where(live, n, s) for n, s in zip(new, state)]
    return np.stack(outputs), state


def _np_reverse(x_tm, lengths):
    out = x_tm.copy()
    for b, n in enumerate(lengths):
        out[:n, b] = x_tm[:n, b][::-1]
    return out


def _weights(sess, scope):
    vs = [v for v in sf.trainable_variables() if v.name.startswith(scope + "/")]
    return vs, [np.asarray(a, np.float64) for a in sess.run(vs)]


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("kind", list(CELLS))
def test_dynamic_rnn_matches_numpy_loop(kind, time_major):
    x_bm = RNG.standard_normal((B, T, D))
    step, zero = _np_step(kind)
    with sf.Graph().as_default():
        sf.set_random_seed(1)
        shape = [T, None, D] if time_major else [None, T, D]
        x = sf.placeholder(sf.float64, shape)
        lengths = sf.placeholder(sf.int32, [None])
        cell = CELLS[kind][0]()
        out, state = sf.nn.dynamic_rnn(
            cell, x, sequence_length=lengths, dtype=sf.float64, time_major=time_major
        )
        out_full, state_full = sf.nn.dynamic_rnn(
            cell, x, dtype=sf.float64, time_major=time_major, scope="rnn"
        )
        assert out.shape.as_list() == ([T, None, 4] if time_major else [None, T, 4])
        flat_state = nest.flatten(state)
        assert [s.shape.as_list() for s in flat_state] == [[None, 4]] * len(flat_state)
        if kind == "lstm":
            assert isinstance(state, sf.nn.rnn_cell.LSTMStateTuple)
            assert [v.name for v in sf.global_variables()] == [
                "rnn/lstm_cell/kernel:0",
                "rnn/lstm_cell/bias:0",
            ]
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w = _weights(sess, "rnn")
            xv = x_bm.transpose(1, 0, 2) if time_major else x_bm
            got = sess.run([out, flat_state, out_full, nest.flatten(state_full)], {x: xv, lengths: LENGTHS})
    x_tm = x_bm.transpose(1, 0, 2)
    for lens, (o, s) in ((LENGTHS, got[:2]), (None, got[2:])):
        want_o, want_s = np_rnn(step, w, x_tm, lens, zero(B))
        o = o if time_major else o.transpose(1, 0, 2)
        np.testing.assert_allclose(o, want_o, rtol=1e-10, atol=1e-12)
        for a, b in zip(s, want_s):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # the empty sequence: zero outputs, the initial (zero) state
    np.testing.assert_array_equal(got[0][:, 0] if time_major else got[0][0], np.zeros((T, 4)))
    for s in got[1]:
        np.testing.assert_array_equal(s[0], np.zeros(4))


def test_outputs_stop_at_the_longest_sequence_and_lengths_may_all_be_short():
    x_bm = RNG.standard_normal((2, T, D))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, None, D])
        lengths = sf.placeholder(sf.int32, [None])
        cell = sf.nn.rnn_cell.BasicRNNCell(3)
        out, state = sf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=sf.float64)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w = _weights(sess, "rnn")
            for lens in ([0, 0], [1, 2], [5, 0]):
                o, s = sess.run([out, state], {x: x_bm, lengths: lens})
                want_o, (want_s,) = np_rnn(
                    _basic, w, x_bm.transpose(1, 0, 2), np.array(lens), [np.zeros((2, 3))]
                )
                np.testing.assert_allclose(o, want_o.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(s, want_s, rtol=1e-10, atol=1e-12)
            o, s = sess.run([out, state], {x: x_bm[:, :2], lengths: [1, 2]})  # another time length
            assert o.shape == (2, 2, 3)


def test_initial_state_and_static_shapes():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [3, T, D])
        cell = sf.nn.rnn_cell.LSTMCell(4)
        h0 = sf.nn.rnn_cell.LSTMStateTuple(sf.ones([3, 4]), sf.ones([3, 4]) * 0.5)
        out, state = sf.nn.dynamic_rnn(cell, x, initial_state=h0)
        assert out.shape.as_list() == [3, T, 4]
        assert state.c.shape.as_list() == [3, 4]
        xv = RNG.standard_normal((3, T, D)).astype(np.float32)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w = _weights(sess, "rnn")
            o, s = sess.run([out, state], {x: xv})
        want_o, want_s = np_rnn(
            _lstm, w, xv.transpose(1, 0, 2), None, [np.ones((3, 4)), np.full((3, 4), 0.5)]
        )
        np.testing.assert_allclose(o, want_o.transpose(1, 0, 2), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.c, want_s[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.h, want_s[1], rtol=1e-5, atol=1e-6)


def test_nested_inputs():
    # a tuple of inputs reaches the cell as a tuple; the cell here concatenates them
    class Concat(sf.nn.rnn_cell.RNNCell):
        def __init__(self):
            super().__init__()
            self.inner = sf.nn.rnn_cell.BasicRNNCell(2)

        state_size = property(lambda self: 2)
        output_size = property(lambda self: 2)

        def call(self, inputs, state):
            return self.inner(sf.concat(list(inputs), 1), state)

    a, b = RNG.standard_normal((2, T, 1)), RNG.standard_normal((2, T, 2))
    with sf.Graph().as_default():
        out, state = sf.nn.dynamic_rnn(Concat(), (sf.constant(a), sf.constant(b)), dtype=sf.float64)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w = _weights(sess, "rnn")
            o, s = sess.run([out, state])
    want_o, (want_s,) = np_rnn(
        _basic, w, np.concatenate([a, b], 2).transpose(1, 0, 2), None, [np.zeros((2, 2))]
    )
    np.testing.assert_allclose(o, want_o.transpose(1, 0, 2), rtol=1e-10)
    np.testing.assert_allclose(s, want_s, rtol=1e-10)


@pytest.mark.parametrize("kind", ["basic", "lstm", "multi"])
def test_same_values_as_static_rnn(kind):
    xv = RNG.standard_normal((B, T, D))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [B, T, D])
        cell = CELLS[kind][0]()
        out, state = sf.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS, dtype=sf.float64)
        n_vars = len(sf.global_variables())
        s_out, s_state = sf.nn.static_rnn(
            cell, sf.unstack(x, axis=1), sequence_length=LENGTHS, dtype=sf.float64
        )
        assert len(sf.global_variables()) == n_vars  # the same weights
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            a, b, c, d = sess.run([out, nest.flatten(state), s_out, nest.flatten(s_state)], {x: xv})
    np.testing.assert_allclose(a, np.stack(c, 1), rtol=1e-12, atol=1e-14)
    for u, v in zip(b, d):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


def _central(f, value, eps=1e-6):
    out = np.zeros_like(value)
    for idx in np.ndindex(value.shape):
        e = np.zeros_like(value)
        e[idx] = eps
        out[idx] = (f(value + e) - f(value - e)) / (2 * eps)
    return out


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("kind", ["basic", "gru", "lstm", "multi"])
def test_gradients_match_central_differences(kind, time_major):
    b, t, d = 3, 4, 2
    lengths = np.array([0, 4, 2], np.int32)
    x_bm = RNG.standard_normal((b, t, d))
    step, zero = _np_step(kind)
    r_out = RNG.standard_normal((t, b, 4))
    n_state = len(zero(b))
    r_state = [RNG.standard_normal((b, 4)) for _ in range(n_state)]

    def loss(w, x_tm):
        o, s = np_rnn(step, w, x_tm, lengths, zero(b))
        return (o * r_out).sum() + sum((a * r).sum() for a, r in zip(s, r_state))

    with sf.Graph().as_default():
        sf.set_random_seed(3)
        x = sf.placeholder(sf.float64, [t, b, d] if time_major else [b, t, d])
        out, state = sf.nn.dynamic_rnn(
            CELLS[kind][0](), x, sequence_length=lengths, dtype=sf.float64, time_major=time_major
        )
        out_tm = out if time_major else sf.transpose(out, [1, 0, 2])
        total = sf.reduce_sum(out_tm * r_out) + sf.add_n(
            [sf.reduce_sum(a * r) for a, r in zip(nest.flatten(state), r_state)]
        )
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            variables, w = _weights(sess, "rnn")
            grads = sf.gradients(total, [x, *variables])
            xv = x_bm.transpose(1, 0, 2) if time_major else x_bm
            got = sess.run(grads, {x: xv})
    x_tm = x_bm.transpose(1, 0, 2)
    want_x = _central(lambda v: loss(w, v), x_tm)
    np.testing.assert_allclose(
        got[0] if time_major else got[0].transpose(1, 0, 2), want_x, rtol=1e-6, atol=1e-8
    )
    assert not want_x[:, 0].any()  # the empty sequence's inputs change nothing
    for k in range(len(w)):

        def f(v, k=k):
            return loss([v if j == k else u for j, u in enumerate(w)], x_tm)

        np.testing.assert_allclose(
            got[1 + k], _central(f, w[k]), rtol=1e-6, atol=1e-8, err_msg=variables[k].name
        )


@pytest.mark.parametrize("time_major", [False, True])
def test_bidirectional_dynamic_rnn(time_major):
    x_bm = RNG.standard_normal((B, T, D))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [T, None, D] if time_major else [None, T, D])
        (o_fw, o_bw), (s_fw, s_bw) = sf.nn.bidirectional_dynamic_rnn(
            sf.nn.rnn_cell.GRUCell(4),
            sf.nn.rnn_cell.LSTMCell(4),
            x,
            sequence_length=sf.constant(LENGTHS),
            dtype=sf.float64,
            time_major=time_major,
        )
        (n_fw, n_bw), _ = sf.nn.bidirectional_dynamic_rnn(
            sf.nn.rnn_cell.BasicRNNCell(2), sf.nn.rnn_cell.BasicRNNCell(2), x, dtype=sf.float64,
            time_major=time_major, scope="plain",
        )  # fmt: skip
        names = [v.name for v in sf.global_variables()]
        assert names[:2] == [
            "bidirectional_rnn/fw/gru_cell/gates/kernel:0",
            "bidirectional_rnn/fw/gru_cell/gates/bias:0",
        ]
        assert "bidirectional_rnn/bw/lstm_cell/kernel:0" in names
        assert "plain/bw/basic_rnn_cell/kernel:0" in names
        assert isinstance(s_bw, sf.nn.rnn_cell.LSTMStateTuple)
        xv = x_bm.transpose(1, 0, 2) if time_major else x_bm
        x_tm = x_bm.transpose(1, 0, 2)
        loss = sf.reduce_sum(o_fw * o_fw) + sf.reduce_sum(o_bw) + sf.reduce_sum(s_bw.c)
        (gx,) = sf.gradients(loss, x)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w_fw = _weights(sess, "bidirectional_rnn/fw")
            _, w_bw = _weights(sess, "bidirectional_rnn/bw")
            _, p_fw = _weights(sess, "plain/fw")
            _, p_bw = _weights(sess, "plain/bw")
            got = sess.run([o_fw, o_bw, s_fw, s_bw, n_fw, n_bw, gx], {x: xv})

    def to_tm(a):
        return a if time_major else a.transpose(1, 0, 2)

    def np_bidi(w_fw, w_bw, x_tm):
        fw, (sfw,) = np_rnn(_gru, w_fw, x_tm, LENGTHS, [np.zeros((B, 4))])
        bw, sbw = np_rnn(_lstm, w_bw, _np_reverse(x_tm, LENGTHS), LENGTHS, [np.zeros((B, 4))] * 2)
        return fw, _np_reverse(bw, LENGTHS), sfw, sbw

    fw, bw, sfw, sbw = np_bidi(w_fw, w_bw, x_tm)
    np.testing.assert_allclose(to_tm(got[0]), fw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_tm(got[1]), bw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[2], sfw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[3].c, sbw[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[3].h, sbw[1], rtol=1e-10, atol=1e-12)
    # without lengths the backward RNN reads every step in reverse
    pf, _ = np_rnn(_basic, p_fw, x_tm, None, [np.zeros((B, 2))])
    pb, _ = np_rnn(_basic, p_bw, x_tm[::-1], None, [np.zeros((B, 2))])
    np.testing.assert_allclose(to_tm(got[4]), pf, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_tm(got[5]), pb[::-1], rtol=1e-10, atol=1e-12)

    def np_loss(x_tm):
        fw, bw, _, sbw = np_bidi(w_fw, w_bw, x_tm)
        return (fw * fw).sum() + bw.sum() + sbw[0].sum()

    np.testing.assert_allclose(to_tm(got[6]), _central(np_loss, x_tm), rtol=1e-6, atol=1e-8)


def test_raw_rnn_matches_dynamic_rnn():
    x_bm = RNG.standard_normal((B, T, D))
    with sf.Graph().as_default():
        x = sf.constant(x_bm.transpose(1, 0, 2))
        lengths = sf.constant(LENGTHS)
        cell = sf.nn.rnn_cell.LSTMCell(4)
        inputs_ta = sf.TensorArray(sf.float64, size=T).unstack(x)

        def loop_fn(time, cell_output, cell_state, loop_state):
            next_state = cell.zero_state(B, sf.float64) if cell_output is None else cell_state
            finished = time >= lengths
            next_input = sf.cond(
                sf.reduce_all(finished), lambda: sf.zeros([B, D], sf.float64), lambda: inputs_ta.read(time)
            )
            return finished, next_input, next_state, cell_output, None

        emit_ta, state, loop_state = sf.nn.raw_rnn(cell, loop_fn)
        assert loop_state is None
        # the loop's count is known only when it runs, so is the array's length: read by index
        # (a stack needs the length while planning)
        out = sf.stack([emit_ta.read(t) for t in range(LENGTHS.max())])
        (gx,) = sf.gradients(sf.reduce_sum(out) + sf.reduce_sum(state.h), x)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            _, w = _weights(sess, "rnn")
            o, s, g, n = sess.run([out, state, gx, emit_ta.size()])
            assert n == LENGTHS.max()
            with pytest.raises(
                sf.errors.InvalidArgumentError, match="length of the list is not known while planning"
            ):
                sess.run(emit_ta.stack())
    want_o, want_s = np_rnn(_lstm, w, x_bm.transpose(1, 0, 2), LENGTHS, [np.zeros((B, 4))] * 2)
    np.testing.assert_allclose(o, want_o[: LENGTHS.max()], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.c, want_s[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.h, want_s[1], rtol=1e-10, atol=1e-12)

    def np_loss(x_tm):
        o, s = np_rnn(_lstm, w, x_tm, LENGTHS, [np.zeros((B, 4))] * 2)
        return o.sum() + s[1].sum()

    np.testing.assert_allclose(g, _central(np_loss, x_bm.transpose(1, 0, 2)), rtol=1e-6, atol=1e-8)


def test_sequence_length_of_the_wrong_size_fails():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, T, D])
        lengths = sf.placeholder(sf.int32, [None])
        out, _ = sf.nn.dynamic_rnn(
            sf.nn.rnn_cell.BasicRNNCell(2), x, sequence_length=lengths, dtype=sf.float32
        )
        checks = [op for op in sf.get_default_graph().get_operations() if op.type == "Assert"]
        assert len(checks) == 1  # TF's check of the lengths' shape, before the loop
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            with pytest.raises(sf.errors.InvalidArgumentError, match="Select"):  # planning sees it first
                sess.run(out, {x: np.zeros((3, T, D)), lengths: [1, 2]})
            with pytest.raises(
                sf.errors.InvalidArgumentError, match=r"Expected shape for Tensor .* is \] \[3\]"
            ):
                sess.run(checks[0], {x: np.zeros((3, T, D)), lengths: [1, 2]})
            sess.run(checks[0], {x: np.zeros((3, T, D)), lengths: [1, 2, 3]})


def test_errors_as_tensorflow():
    with sf.Graph().as_default():
        cell = sf.nn.rnn_cell.LSTMCell(4)
        x = sf.placeholder(sf.float32, [None, T, D])
        with pytest.raises(
            TypeError, match=r"The argument 'cell' .* is not an RNNCell: 'output_size' property is missing"
        ):
            sf.nn.dynamic_rnn(object(), x, dtype=sf.float32)
        with pytest.raises(ValueError, match=r"Shape \(3, 2\) must have rank at least 3"):
            sf.nn.dynamic_rnn(cell, sf.placeholder(sf.float32, [2, 3]), dtype=sf.float32)
        with pytest.raises(ValueError, match="Input tensor should have rank >= 2"):
            sf.nn.dynamic_rnn(cell, sf.placeholder(sf.float32, [2]), dtype=sf.float32)
        with pytest.raises(
            ValueError, match="If no initial_state is provided, argument `dtype` must be specified"
        ):
            sf.nn.dynamic_rnn(cell, x)
        with pytest.raises(ValueError, match=r"Input size \(depth of inputs\) must be accessible"):
            sf.nn.dynamic_rnn(cell, sf.placeholder(sf.float32, [2, T, None]), dtype=sf.float32)
        with pytest.raises(
            ValueError, match="Argument sequence_length must be a vector of length batch_size"
        ):
            sf.nn.dynamic_rnn(cell, x, sequence_length=sf.placeholder(sf.int32, [2, 2]), dtype=sf.float32)
        with pytest.raises(TypeError, match="The argument 'cell_bw'"):
            sf.nn.bidirectional_dynamic_rnn(cell, None, x, dtype=sf.float32)
        with pytest.raises(TypeError, match="Argument `loop_fn` must be a callable"):
            sf.nn.raw_rnn(cell, 3)


def test_exported_as_tensorflow_1():
    assert sf.compat.v1.nn.dynamic_rnn is sf.nn.dynamic_rnn
    assert sf.compat.v1.nn.bidirectional_dynamic_rnn is sf.nn.bidirectional_dynamic_rnn
    assert sf.compat.v1.nn.raw_rnn is sf.nn.raw_rnn


def test_tensorflow_written_dynamic_rnn_imports_and_matches():
    # TensorFlow's dynamic_rnn (LSTMCell, fed sequence_length, weights frozen to constants) and
    # a while_loop over its outputs, from tests/fixtures/control_flow/make_rnn_fixture.py
    import pathlib

    from staticflow.framework import graph_pb2

    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "control_flow"
    gd = graph_pb2.GraphDef.FromString((fixtures / "dynamic_rnn_v2.pb").read_bytes())
    want = np.load(fixtures / "dynamic_rnn_v2.npz")
    feeds = {"x:0": want["x"], "lengths:0": want["lengths"]}
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
        types = {op.type for op in g.get_operations()}
        assert {"StatelessWhile", "TensorListFromTensor", "TensorListStack", "Assert", "Minimum"} <= types
        body = g.get_operation_by_name("rnn/while").get_attr("body")
        assert {"TensorListGetItem", "TensorListSetItem", "Select"} <= {
            op.type for op in body.get_operations()
        }
        with sf.Session() as sess:
            got = sess.run(["outputs:0", "c:0", "h:0", "total:0"], feeds)
    for name, value in zip(["outputs", "c", "h", "total"], got):
        np.testing.assert_allclose(value, want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # the same network built here, with TF's weights, gives TF's values
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 6, 3])
        lengths = sf.placeholder(sf.int32, [None])
        cell = sf.nn.rnn_cell.LSTMCell(4, initializer=sf.constant_initializer(want["kernel"]))
        out, state = sf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=sf.float32)
        assert [v.name for v in sf.global_variables()] == list(want["variables"])
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            o, s = sess.run([out, state], {x: want["x"], lengths: want["lengths"]})
    np.testing.assert_allclose(o, want["outputs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.c, want["c"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.h, want["h"], rtol=1e-5, atol=1e-6)


def test_stack_bidirectional_dynamic_rnn():
    x_bm = RNG.standard_normal((B, T, D))
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float64, [None, T, D])
        cells_fw = [sf.nn.rnn_cell.GRUCell(3), sf.nn.rnn_cell.BasicRNNCell(2)]
        cells_bw = [sf.nn.rnn_cell.GRUCell(3), sf.nn.rnn_cell.BasicRNNCell(2)]
        out, states_fw, states_bw = sf.contrib.rnn.stack_bidirectional_dynamic_rnn(
            cells_fw, cells_bw, x, sequence_length=LENGTHS, dtype=sf.float64
        )
        assert out.shape.as_list()[1:] == [T, 4] and len(states_fw) == len(states_bw) == 2
        names = {v.name for v in sf.global_variables()}
        assert "stack_bidirectional_rnn/cell_1/bidirectional_rnn/bw/basic_rnn_cell/kernel:0" in names
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            w = {
                (i, d): _weights(sess, f"stack_bidirectional_rnn/cell_{i}/bidirectional_rnn/{d}")[1]
                for i in (0, 1)
                for d in ("fw", "bw")
            }
            got = sess.run([out, states_fw, states_bw], {x: x_bm})
        with pytest.raises(ValueError, match="Forward and Backward cells must have the same depth"):
            sf.contrib.rnn.stack_bidirectional_dynamic_rnn(cells_fw, cells_bw[:1], x, dtype=sf.float64)
    layer = x_bm.transpose(1, 0, 2)
    for i, (step, units) in enumerate(((_gru, 3), (_basic, 2))):
        fw, (sfw,) = np_rnn(step, w[i, "fw"], layer, LENGTHS, [np.zeros((B, units))])
        bw, (sbw,) = np_rnn(step, w[i, "bw"], _np_reverse(layer, LENGTHS), LENGTHS, [np.zeros((B, units))])
        layer = np.concatenate([fw, _np_reverse(bw, LENGTHS)], 2)
        np.testing.assert_allclose(got[1][i], sfw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[2][i], sbw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[0], layer.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
