"""A float16 two-layer network: forward pass, gradients and one SGD step (TF1 mixed-precision style)."""

import numpy as np

RTOL = 4e-3  # float16: a few units in the last place
ATOL = 2e-3


def program(tf):
    rng = np.random.default_rng(11)
    xv = rng.uniform(-1, 1, (8, 6)).astype(np.float16)
    yv = rng.integers(0, 3, 8).astype(np.int32)
    w1v = rng.uniform(-0.5, 0.5, (6, 5)).astype(np.float16)
    w2v = rng.uniform(-0.5, 0.5, (5, 3)).astype(np.float16)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float16, [None, 6])
        y = tf.placeholder(tf.int32, [None])
        w1 = tf.get_variable("w1", initializer=tf.constant_initializer(w1v), shape=[6, 5], dtype=tf.float16)
        b1 = tf.get_variable("b1", initializer=tf.zeros_initializer(), shape=[5], dtype=tf.float16)
        w2 = tf.get_variable("w2", initializer=tf.constant_initializer(w2v), shape=[5, 3], dtype=tf.float16)
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
        logits = tf.matmul(h, w2)
        # the loss in float32, as TF1 mixed-precision code does
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.cast(logits, tf.float32))
        )
        grads = tf.gradients(loss, [w1, b1, w2])
        step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feeds = {x: xv, y: yv}
            names = ["logits", "loss", "g_w1", "g_b1", "g_w2"]
            out = dict(zip(names, sess.run([logits, loss] + grads, feeds)))
            sess.run(step, feeds)
            out["w1_after"] = sess.run(w1)
            out["loss_after"] = sess.run(loss, feeds)
    return {k: np.asarray(v) for k, v in out.items()}
