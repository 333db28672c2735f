"""static_rnn with sequence_length: outputs zeroed and the state copied through past each
example's length (lengths fed, including a zero length), for a tuple-state LSTM and a GRU;
then static_bidirectional_rnn with and without sequence_length, and gradients."""

import importlib
import zlib

import numpy as np


def _rnn_cell(tf):
    """tf.nn.rnn_cell; where TensorFlow (2.16+) routes it to Keras 3, which has none of TF1's
    cells, TF1's own cell code that TensorFlow still ships."""
    try:
        tf.nn.rnn_cell.BasicLSTMCell  # noqa: B018 - the attribute access is the test
        return tf.nn.rnn_cell
    except AttributeError:
        return importlib.import_module("tensorflow.python.keras.layers.legacy_rnn.rnn_cell_impl")


def _numpy_getter(tf):
    def getter(getter, name, shape=None, *args, **kwargs):
        """Every variable from a generator seeded by its name, identically in any engine."""
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        kwargs["initializer"] = tf.constant_initializer(rng.uniform(-0.5, 0.5, size=shape).astype(np.float32))
        return getter(name, shape, *args, **kwargs)

    return getter


def program(tf):
    rnn_cell = _rnn_cell(tf)
    rng = np.random.default_rng(5)
    steps, batch, depth = 5, 4, 3
    xs_v = rng.standard_normal((steps, batch, depth)).astype(np.float32)
    lens_v = np.array([5, 2, 0, 3], np.int32)
    x = tf.placeholder(tf.float32, [steps, None, depth])
    lens = tf.placeholder(tf.int32, [None])
    xs = tf.unstack(x)
    fetch = {}
    with tf.variable_scope("seq", custom_getter=_numpy_getter(tf)):
        outs, state = tf.nn.static_rnn(rnn_cell.BasicLSTMCell(3), xs, dtype=tf.float32, sequence_length=lens)
        fetch["lstm_outputs"] = tf.stack(outs)
        fetch["lstm_c"], fetch["lstm_h"] = state
        outs, state = tf.nn.static_rnn(
            rnn_cell.GRUCell(2), xs, dtype=tf.float32, sequence_length=lens, scope="gru"
        )
        fetch["gru_outputs"] = tf.stack(outs)
        fetch["gru_state"] = state
        outs, fw, bw = tf.nn.static_bidirectional_rnn(
            rnn_cell.LSTMCell(3), rnn_cell.GRUCell(2), xs, dtype=tf.float32, sequence_length=lens
        )
        fetch["bi_outputs"] = tf.stack(outs)
        fetch["bi_fw_c"], fetch["bi_fw_h"] = fw
        fetch["bi_bw"] = bw
        outs2, fw2, bw2 = tf.nn.static_bidirectional_rnn(
            rnn_cell.BasicRNNCell(2), rnn_cell.BasicRNNCell(2), xs, dtype=tf.float32, scope="plain_bi"
        )
        fetch["plain_bi_outputs"] = tf.stack(outs2)
        fetch["plain_bi_fw"], fetch["plain_bi_bw"] = fw2, bw2
    loss = tf.reduce_sum(tf.stack(outs) * tf.stack(outs)) + tf.reduce_sum(fetch["lstm_h"])
    params = tf.trainable_variables()
    for v, g in zip(params, tf.gradients(loss, params)):
        if g is not None:
            fetch["grad_" + v.op.name] = g
    fetch["grad_x"] = tf.gradients(loss, x)[0]
    names = np.array([v.name for v in tf.global_variables()])
    shapes = np.array([str(t.shape.as_list()) for t in (outs[0], fw[0], bw, outs2[-1])])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(fetch, {x: xs_v, lens: lens_v})
    out["variable_names"] = names
    out["static_shapes"] = shapes
    return out
