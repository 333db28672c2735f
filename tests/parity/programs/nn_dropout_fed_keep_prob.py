"""dropout with an unshaped keep_prob placeholder fed 1.0 (deterministic), then a softmax loss."""

import numpy as np


def _static(t):
    return np.array([-1 if d is None else d for d in t.shape.as_list()], np.int64)


def program(tf):
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((4, 6)).astype(np.float32)
    w_np = rng.standard_normal((6, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6])
    keep_prob = tf.placeholder(tf.float32)
    h = tf.nn.dropout(tf.nn.relu(x), keep_prob)
    logits = tf.matmul(h, tf.constant(w_np))
    labels = tf.constant(np.eye(3, dtype=np.float32)[[0, 2, 1, 0]])
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    (dx,) = tf.gradients(loss, [x])
    with tf.Session() as sess:
        hv, lv, dxv = sess.run([h, loss, dx], {x: x_np, keep_prob: 1.0})
    return {
        "dropped": hv,
        "loss": np.float32(lv),
        "dx": dxv,
        "dropout_shape": _static(h),
        "logits_shape": _static(logits),
    }
