"""Each TF1 RNN cell kind unrolled by static_rnn over a dynamic batch: BasicRNNCell, GRUCell,
BasicLSTMCell (tuple and concatenated state), LSTMCell with peepholes, cell_clip, num_proj,
proj_clip, forget_bias and an initializer. Variables get numpy values through a custom
getter keyed by their names, so the variable names must match too."""

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
    rng = np.random.default_rng(3)
    steps, batch, depth = 4, 3, 5
    xs_v = rng.standard_normal((steps, batch, depth)).astype(np.float32)
    x = tf.placeholder(tf.float32, [steps, None, depth])
    xs = tf.unstack(x)
    cells = {
        "basic_rnn": rnn_cell.BasicRNNCell(4),
        "gru": rnn_cell.GRUCell(4),
        "basic_lstm": rnn_cell.BasicLSTMCell(4, forget_bias=0.5),
        "basic_lstm_concat": rnn_cell.BasicLSTMCell(3, state_is_tuple=False),
        "lstm_full": rnn_cell.LSTMCell(
            6, use_peepholes=True, cell_clip=0.4, num_proj=3, proj_clip=0.3, forget_bias=0.7
        ),
        "lstm_concat_proj": rnn_cell.LSTMCell(4, num_proj=2, state_is_tuple=False, use_peepholes=True),
    }
    fetch = {}
    shapes = {}
    with tf.variable_scope("cells", custom_getter=_numpy_getter(tf)):
        for key, cell in cells.items():
            outs, state = tf.nn.static_rnn(cell, xs, dtype=tf.float32, scope=key)
            fetch[key + "_outputs"] = tf.stack(outs)
            for i, s in enumerate(_flat(state)):
                fetch[f"{key}_state{i}"] = s
            shapes[key + "_static_shapes"] = np.array(
                [str(t.shape.as_list()) for t in [outs[-1], *_flat(state)]]
            )
    with tf.variable_scope("init"):
        cell = rnn_cell.LSTMCell(3, initializer=tf.constant_initializer(0.05))
        outs, _ = tf.nn.static_rnn(cell, xs, dtype=tf.float32)
        fetch["initializer_outputs"] = tf.stack(outs)
    names = np.array([v.name for v in tf.global_variables()])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(fetch, {x: xs_v})
    out.update(shapes)
    out["variable_names"] = names
    return out


def _flat(state):
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flat(s)]
    return [state]
