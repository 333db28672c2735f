"""sf.nn.rnn_cell cells and wrappers, static_rnn with sequence_length, static_bidirectional_rnn
and reverse_sequence, against NumPy loops."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf

RNG = np.random.default_rng(11)
rnn_cell = sf.nn.rnn_cell


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _weights(sess):
    return {v.op.name: sess.run(v) for v in sf.global_variables()}


def test_reverse_sequence_matches_numpy():
    x = RNG.standard_normal((3, 5, 2))  # [batch, time, feature]
    lengths = np.array([5, 0, 3])
    y = sf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    g = sf.gradients(sf.reduce_sum(y * np.arange(30.0).reshape(3, 5, 2)), y)[0]
    with sf.Session() as sess:
        yv = sess.run(y)
    want = x.copy()
    for b, n in enumerate(lengths):
        want[b, :n] = x[b, :n][::-1]
    np.testing.assert_array_equal(yv, want)
    assert y.shape.as_list() == [3, 5, 2] and g is not None


def test_static_rnn_sequence_length_zeroes_outputs_and_copies_state():
    steps, batch, depth, units = 4, 3, 2, 3
    xs = RNG.standard_normal((steps, batch, depth))
    lengths = np.array([4, 1, 0])
    x = sf.placeholder(sf.float64, [steps, None, depth])
    seq = sf.placeholder(sf.int32, [None])
    cell = rnn_cell.BasicRNNCell(units)
    outs, state = sf.nn.static_rnn(cell, sf.unstack(x), dtype=sf.float64, sequence_length=seq)
    assert [o.shape.as_list() for o in outs] == [[None, units]] * steps
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got, st = sess.run([outs, state], {x: xs, seq: lengths})
        w = _weights(sess)
    k, b = w["rnn/basic_rnn_cell/kernel"], w["rnn/basic_rnn_cell/bias"]
    h = np.zeros((batch, units))
    for t in range(steps):
        new = np.tanh(np.concatenate([xs[t], h], 1) @ k + b)
        live = (t < lengths)[:, None]
        np.testing.assert_allclose(got[t], np.where(live, new, 0.0), rtol=1e-12)
        h = np.where(live, new, h)
    np.testing.assert_allclose(st, h, rtol=1e-12)


def test_bidirectional_rnn_reads_each_sequence_backwards_within_its_length():
    steps, batch, depth = 4, 2, 3
    xs = RNG.standard_normal((steps, batch, depth))
    lengths = np.array([2, 4])
    fw, bw = rnn_cell.GRUCell(2), rnn_cell.BasicRNNCell(3)
    outs, sfw, sbw = sf.nn.static_bidirectional_rnn(
        fw, bw, [sf.constant(v) for v in xs], dtype=sf.float64, sequence_length=lengths
    )
    names = sorted(v.op.name for v in sf.global_variables())
    assert names == [
        "bidirectional_rnn/bw/basic_rnn_cell/bias",
        "bidirectional_rnn/bw/basic_rnn_cell/kernel",
        "bidirectional_rnn/fw/gru_cell/candidate/bias",
        "bidirectional_rnn/fw/gru_cell/candidate/kernel",
        "bidirectional_rnn/fw/gru_cell/gates/bias",
        "bidirectional_rnn/fw/gru_cell/gates/kernel",
    ]
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got, gbw = sess.run([outs, sbw])
        w = _weights(sess)
    kb, bb = w["bidirectional_rnn/bw/basic_rnn_cell/kernel"], w["bidirectional_rnn/bw/basic_rnn_cell/bias"]
    for ex, n in enumerate(lengths):
        h = np.zeros(3)
        back = np.zeros((steps, 3))
        for t in reversed(range(n)):
            h = np.tanh(np.concatenate([xs[t, ex], h]) @ kb + bb)
            back[t] = h
        np.testing.assert_allclose(np.stack(got)[:, ex, 2:], back, rtol=1e-12)
        np.testing.assert_allclose(gbw[ex], h, rtol=1e-12)
        assert np.all(np.stack(got)[n:, ex] == 0)


def _lstm_ref(xs, w, units, proj=None, peep=False, cell_clip=None, proj_clip=None, forget_bias=1.0):
    batch = xs.shape[1]
    c = np.zeros((batch, units))
    m = np.zeros((batch, proj or units))
    outs = []
    for x in xs:
        z = np.concatenate([x, m], 1) @ w["kernel"] + w["bias"]
        i, j, f, o = np.split(z, 4, axis=1)
        if peep:
            c = _sig(f + forget_bias + w["w_f_diag"] * c) * c + _sig(i + w["w_i_diag"] * c) * np.tanh(j)
        else:
            c = _sig(f + forget_bias) * c + _sig(i) * np.tanh(j)
        if cell_clip is not None:
            c = np.clip(c, -cell_clip, cell_clip)
        m = _sig(o + w["w_o_diag"] * c) * np.tanh(c) if peep else _sig(o) * np.tanh(c)
        if proj:
            m = m @ w["projection/kernel"]
            if proj_clip is not None:
                m = np.clip(m, -proj_clip, proj_clip)
        outs.append(m)
    return np.stack(outs), c, m


@pytest.mark.parametrize("state_is_tuple", [True, False])
def test_lstm_cell_peepholes_clipping_projection(state_is_tuple):
    xs = RNG.standard_normal((3, 2, 4))
    cell = rnn_cell.LSTMCell(
        5,
        use_peepholes=True,
        cell_clip=0.3,
        num_proj=3,
        proj_clip=0.2,
        forget_bias=0.5,
        state_is_tuple=state_is_tuple,
        initializer=sf.random_uniform_initializer(-1.0, 1.0, seed=1),
    )
    assert cell.output_size == 3
    assert cell.state_size == ((5, 3) if state_is_tuple else 8)
    outs, state = sf.nn.static_rnn(cell, [sf.constant(v) for v in xs], dtype=sf.float64)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        got, st = sess.run([outs, state])
        w = {k.split("lstm_cell/")[1]: v for k, v in _weights(sess).items()}
    want, c, m = _lstm_ref(xs, w, 5, proj=3, peep=True, cell_clip=0.3, proj_clip=0.2, forget_bias=0.5)
    np.testing.assert_allclose(np.stack(got), want, rtol=1e-12)
    np.testing.assert_allclose(st[0] if state_is_tuple else st[:, :5], c, rtol=1e-12)
    np.testing.assert_allclose(st[1] if state_is_tuple else st[:, 5:], m, rtol=1e-12)


def test_basic_lstm_concatenated_state_layout_and_zero_state_with_fed_batch():
    batch = sf.placeholder(sf.int32, [])
    tup = rnn_cell.BasicLSTMCell(3)
    cat = rnn_cell.BasicLSTMCell(3, state_is_tuple=False)
    zt = tup.zero_state(batch, sf.float32)
    zc = cat.zero_state(batch, sf.float32)
    assert isinstance(zt, rnn_cell.LSTMStateTuple) and zt.c.shape.as_list() == [None, 3]
    assert zc.shape.as_list() == [None, 6]
    xs = RNG.standard_normal((2, 2, 4))
    o1, s1 = sf.nn.static_rnn(tup, [sf.constant(v) for v in xs], dtype=sf.float64, scope="a")
    with sf.variable_scope("a", reuse=True) as shared:
        pass
    o2, s2 = sf.nn.static_rnn(cat, [sf.constant(v) for v in xs], dtype=sf.float64, scope=shared)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        assert sess.run(zc, {batch: 5}).shape == (5, 6)
        a, b, (c, h), cat_state = sess.run([o1, o2, s1, s2])
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(cat_state, np.concatenate([c, h], 1), rtol=1e-12)


def test_multi_rnn_cell_names_state_and_residual_device_wrappers():
    xs = [sf.constant(v) for v in RNG.standard_normal((2, 3, 4))]
    inner = rnn_cell.GRUCell(4)
    multi = rnn_cell.MultiRNNCell(
        [rnn_cell.ResidualWrapper(inner), rnn_cell.DeviceWrapper(rnn_cell.LSTMCell(2), "/cpu:0")]
    )
    assert multi.state_size == (4, (2, 2)) and multi.output_size == 2
    outs, state = sf.nn.static_rnn(multi, xs, dtype=sf.float64)
    assert [v.op.name for v in multi.trainable_weights] == [
        "rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel",
        "rnn/multi_rnn_cell/cell_0/gru_cell/gates/bias",
        "rnn/multi_rnn_cell/cell_0/gru_cell/candidate/kernel",
        "rnn/multi_rnn_cell/cell_0/gru_cell/candidate/bias",
        "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_1/lstm_cell/bias",
    ]
    assert isinstance(state, tuple) and isinstance(state[1], rnn_cell.LSTMStateTuple)
    assert outs[0].op.device == "/cpu:0" and state[0].op.device == ""
    # a residual cell's output is its input plus the wrapped cell's output (a GRU's new state)
    res = rnn_cell.ResidualWrapper(rnn_cell.GRUCell(4))
    o, new_state = res(xs[0], sf.constant(RNG.standard_normal((3, 4))))
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        ov, sv, xv = sess.run([o, new_state, xs[0]])
    np.testing.assert_allclose(ov, xv + sv, rtol=1e-12)
    with pytest.raises(ValueError, match="incompatible shapes"):
        rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3))(xs[0], sf.zeros([3, 3], sf.float64))


def test_dropout_wrapper_keep_probabilities_and_variational_masks():
    x = sf.constant(np.ones((200, 10)))
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicRNNCell(10), input_keep_prob=0.5, seed=3)
    with sf.variable_scope("v", initializer=sf.constant_initializer(0.0)):
        out, _ = cell(x, sf.zeros([200, 10], sf.float64))
    keep = sf.placeholder(sf.float64, [])
    var = rnn_cell.DropoutWrapper(
        rnn_cell.BasicLSTMCell(6),
        output_keep_prob=keep,
        variational_recurrent=True,
        dtype=sf.float64,
        seed=4,
    )
    outs, _ = sf.nn.static_rnn(var, [x] * 3, dtype=sf.float64, scope="var")
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        o = sess.run(out)
        masks = [v != 0 for v in sess.run(outs, {keep: 0.5})]
        full = sess.run(outs, {keep: 1.0})
    assert np.all(o == 0)  # zero weights and bias: the cell sees nothing of its inputs
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])  # one mask for every step (and every example)
    np.testing.assert_array_equal(masks[0], np.broadcast_to(masks[0][:1], masks[0].shape))
    assert 0 < masks[0].mean() < 1 and np.all(np.stack(full) != 0)
    with pytest.raises(ValueError, match="input_keep_prob must be between 0 and 1"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), input_keep_prob=1.5)
    with pytest.raises(ValueError, match="dtype must be provided"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), variational_recurrent=True)
    with pytest.raises(ValueError, match="input_size must be provided"):
        rnn_cell.DropoutWrapper(
            rnn_cell.GRUCell(2), input_keep_prob=0.5, variational_recurrent=True, dtype=sf.float32
        )


def test_static_rnn_errors():
    cell = rnn_cell.GRUCell(2)
    with pytest.raises(ValueError, match="must not be empty"):
        sf.nn.static_rnn(cell, [], dtype=sf.float32)
    with pytest.raises(ValueError, match="dtype"):
        sf.nn.static_rnn(cell, [sf.zeros([2, 3])])
    with pytest.raises(ValueError, match="must be a vector"):
        sf.nn.static_rnn(cell, [sf.zeros([2, 3])], dtype=sf.float32, sequence_length=[[1, 2]])
    with pytest.raises(ValueError, match="Input size .* must be accessible via shape inference"):
        sf.nn.static_rnn(cell, [sf.placeholder(sf.float32, [2, None])], dtype=sf.float32)
    with pytest.raises(ValueError, match="RNN cell only supports floating point inputs"):
        sf.nn.static_rnn(rnn_cell.GRUCell(2), [sf.zeros([2, 3], sf.int32)], dtype=sf.int32, scope="i")
    with pytest.raises(TypeError, match="is not an RNNCell"):
        sf.nn.static_rnn(object(), [sf.zeros([2, 3])], dtype=sf.float32)


def test_multi_rnn_cell_of_dropout_lstms_trains():
    """A 2-layer LSTM with dropout (keep 0.8) learns to output the running mean of its inputs."""
    sf.set_random_seed(1)
    steps, batch = 5, 16
    rng = np.random.default_rng(0)
    x = sf.placeholder(sf.float32, [steps, None, 1])
    y = sf.placeholder(sf.float32, [None, 1])
    cells = [
        rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(8), output_keep_prob=0.8, seed=i) for i in range(2)
    ]
    outs, _ = sf.nn.static_rnn(rnn_cell.MultiRNNCell(cells), sf.unstack(x), dtype=sf.float32)
    pred = sf.layers.dense(outs[-1], 1)
    loss = sf.reduce_mean(sf.square(pred - y))
    train = sf.train.AdamOptimizer(0.02).minimize(loss)
    losses = []
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        for _ in range(150):
            xv = rng.uniform(-1, 1, (steps, batch, 1)).astype(np.float32)
            lv, _ = sess.run([loss, train], {x: xv, y: xv.mean(0)})
            losses.append(lv)
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20])
