"""A MultiRNNCell of DropoutWrapper-ed LSTM cells (keep probabilities 1.0, given as floats
and as a fed tensor, so nothing is dropped), with a ResidualWrapper and a DeviceWrapper,
unrolled by static_rnn from a given initial state; then its gradients."""

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
    rng = np.random.default_rng(4)
    steps, batch, depth = 3, 2, 4
    xs_v = rng.standard_normal((steps, batch, depth)).astype(np.float32)
    x = tf.placeholder(tf.float32, [steps, batch, depth])
    keep = tf.placeholder_with_default(1.0, [])
    xs = tf.unstack(x)
    with tf.variable_scope("net", custom_getter=_numpy_getter(tf)):
        cells = [
            rnn_cell.DropoutWrapper(rnn_cell.LSTMCell(4), input_keep_prob=1.0, output_keep_prob=keep),
            rnn_cell.ResidualWrapper(
                rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), state_keep_prob=keep, output_keep_prob=1.0)
            ),
            rnn_cell.DeviceWrapper(rnn_cell.GRUCell(3), "/cpu:0"),
        ]
        multi = rnn_cell.MultiRNNCell(cells)
        init = multi.zero_state(batch, tf.float32)
        init = (init[0], rnn_cell.LSTMStateTuple(init[1].c + 0.1, init[1].h - 0.2), init[2] + 0.3)
        outs, state = tf.nn.static_rnn(multi, xs, initial_state=init)
    loss = tf.reduce_sum(tf.square(tf.stack(outs)))
    params = tf.trainable_variables()
    grads = tf.gradients(loss, params)
    fetch = {"outputs": tf.stack(outs)}
    for i, s in enumerate(_flat(state)):
        fetch[f"state{i}"] = s
    for v, g in zip(params, grads):
        fetch["grad_" + v.op.name] = g
    names = np.array([v.name for v in tf.global_variables()])
    # TF's wrappers report no weights of their own (its legacy layers skip attribute tracking);
    # staticflow's report the wrapped cell's: compare the wrapped cells themselves
    weights = np.array([w.name for c in cells for w in _unwrapped(c).trainable_weights])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(fetch, {x: xs_v})
    out["variable_names"] = names
    out["cell_weights"] = weights
    out["state_size"] = np.array(str(multi.state_size))
    return out


def _unwrapped(cell):
    while hasattr(cell, "cell"):
        cell = cell.cell
    return cell


def _flat(state):
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flat(s)]
    return [state]
