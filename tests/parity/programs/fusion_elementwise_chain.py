"""An elementwise chain with broadcasting, an intermediate fetched, a select and a reduction
ending it: staticflow runs each group as one generated kernel, TensorFlow op by op."""

import numpy as np


def program(tf):
    rng = np.random.default_rng(7)
    x = tf.placeholder(tf.float32, [None, 16])
    b = tf.placeholder(tf.float32, [16])
    h = tf.tanh(x * 0.5 + b)
    g = tf.where(h > 0.1, h * tf.exp(-x), tf.nn.relu(x) - 1.0)
    y = tf.sigmoid(g) * 2.0 - tf.square(h)
    loss = tf.reduce_mean(tf.square(y - 0.5))
    rows = tf.reduce_sum(y * h, axis=1)
    feed = {x: rng.standard_normal((8, 16)).astype(np.float32), b: rng.uniform(-1, 1, 16).astype(np.float32)}
    with tf.Session() as s:
        hv, yv, lv, rv = s.run([h, y, loss, rows], feed)
    return {"h": hv, "y": yv, "loss": np.asarray(lv), "rows": rv}
