"""Gradients of a composite loss: cross-entropy, L2 penalty, a stopped branch, shared weights."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((6, 4)).astype(np.float32)
    t_np = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    w_np = rng.standard_normal((4, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 4])
    t = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(w_np)
    b = tf.Variable(np.zeros(3, np.float32))
    logits = tf.matmul(x, w) + b
    ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=t, logits=logits))
    probs = tf.nn.softmax(logits)
    target = tf.stop_gradient(tf.reduce_max(probs, axis=1, keepdims=True))
    penalty = 0.01 * tf.nn.l2_loss(w) + tf.reduce_mean(tf.square(probs - target))
    shared = tf.reduce_sum(tf.sigmoid(tf.matmul(x, w)) * tf.tanh(logits))
    loss = ce + penalty + 0.1 * shared
    grads = tf.gradients(loss, [w, b, x])
    hess = tf.gradients(tf.gradients(ce, b)[0], b)  # d/db of sum(dce/db)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gw, gb, gx, lv = sess.run(grads + [loss], {x: x_np, t: t_np})
        hb = sess.run(hess[0], {x: x_np, t: t_np})
    return {"loss": np.float32(lv), "dw": gw, "db": gb, "dx": gx, "d2b": hb}
