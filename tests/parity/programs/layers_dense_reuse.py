"""tf.layers.dense inside variable_scope, built twice with reuse=True: one set of variables."""

import numpy as np


def program(tf):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((5, 4)).astype(np.float32)
    w1 = rng.standard_normal((4, 6)).astype(np.float32)
    w2 = rng.standard_normal((6, 2)).astype(np.float32)

    def net(x, reuse):
        with tf.variable_scope("net", reuse=reuse):
            h = tf.layers.dense(x, 6, activation=tf.nn.tanh, kernel_initializer=tf.constant_initializer(w1))
            return tf.layers.dense(h, 2, kernel_initializer=tf.constant_initializer(w2), name="out")

    xa = tf.placeholder(tf.float32, [None, 4])
    xb = tf.placeholder(tf.float32, [None, 4])
    ya = net(xa, reuse=False)
    yb = net(xb, reuse=True)
    with tf.variable_scope("net", reuse=True):
        kernel = tf.get_variable("out/kernel")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        va, vb, k = sess.run([ya, yb, kernel], {xa: a, xb: b})
    return {
        "first": va,
        "second": vb,
        "out_kernel": k,
        "variables": np.array(sorted(v.name for v in tf.global_variables())),
        "trainable_count": np.int64(len(tf.trainable_variables())),
        "output_names": np.array([ya.name, yb.name]),
    }
