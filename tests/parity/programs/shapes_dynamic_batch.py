"""Shapes computed from a fed batch size: zeros(stack([batch, n])), reshape to
[batch, -1], an LSTM's zero_state and static_rnn over a batch only known when fed, and
dropout with a fed keep probability into a matmul and a softmax cross-entropy."""

import numpy as np

RTOL = 1e-5


def _shape(t):
    return np.array([-1 if d is None else d for d in t.shape.as_list()])


def program(tf):
    rng = np.random.default_rng(13)
    steps, n_in, units = 3, 4, 5
    x = tf.placeholder(tf.float32, [None, steps, n_in])
    batch = tf.shape(x)[0]
    zeros = tf.zeros(tf.stack([batch, 7]))
    flat = tf.reshape(x, tf.stack([batch, steps * n_in]))
    cell = tf.nn.rnn_cell.BasicLSTMCell(units)
    state0 = cell.zero_state(batch, tf.float32)
    kernel = rng.normal(0, 0.4, (n_in + units, 4 * units)).astype(np.float32)
    with tf.variable_scope("rnn", initializer=tf.constant_initializer(kernel)):
        outputs, state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=state0)
    keep_prob = tf.placeholder(tf.float32)
    dropped = tf.nn.dropout(outputs[-1], keep_prob)
    w = tf.constant(rng.normal(0, 0.5, (units, 3)).astype(np.float32))
    logits = tf.matmul(dropped, w)
    labels = tf.placeholder(tf.float32, [None, 3])
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    xv = rng.standard_normal((2, steps, n_in)).astype(np.float32)
    yv = np.eye(3, dtype=np.float32)[[0, 2]]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        z, f, out, c, loss_v = sess.run(
            [zeros, flat, outputs[-1], state.c, loss], {x: xv, keep_prob: 1.0, labels: yv}
        )
    return {
        "zeros": z,
        "flat": f,
        "lstm_output": out,
        "lstm_c": c,
        "loss": loss_v,
        "zeros_shape": _shape(zeros),
        "flat_shape": _shape(flat),
        "state_shape": _shape(state0.h),
        "dropout_shape": _shape(dropped),
        "logits_shape": _shape(logits),
        "loss_shape": _shape(loss),
    }
