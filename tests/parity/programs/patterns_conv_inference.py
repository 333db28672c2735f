"""Convolutions that pattern fusion finishes in their kernel: bias, activation, max pooling, and
an inference batch normalization folded into the filter (variables and constants)."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-5


def program(tf):
    rng = np.random.default_rng(8)
    images = rng.standard_normal((3, 11, 9, 2)).astype(np.float32)
    f1 = (rng.standard_normal((3, 3, 2, 5)) * 0.4).astype(np.float32)
    f2 = (rng.standard_normal((5, 5, 5, 6)) * 0.2).astype(np.float32)
    f3 = (rng.standard_normal((1, 1, 6, 4)) * 0.5).astype(np.float32)
    b1 = rng.standard_normal(5).astype(np.float32)
    mean, var = rng.standard_normal(6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)
    beta, gamma = rng.standard_normal(6).astype(np.float32), rng.uniform(0.5, 1.5, 6).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 11, 9, 2])
    h1 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, f1, [1, 2, 1, 1], "SAME"), b1))
    p1 = tf.nn.max_pool(h1, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    c2 = tf.nn.conv2d(p1, tf.Variable(f2), [1, 1, 1, 1], "SAME")
    bn = tf.nn.batch_normalization(
        c2, tf.Variable(mean), tf.Variable(var), tf.Variable(beta), tf.Variable(gamma), 1e-3
    )
    h2 = tf.nn.elu(bn)
    h3 = tf.sigmoid(tf.nn.conv2d(h2, f3, [1, 1, 1, 1], "VALID") * 0.5 - 0.25)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b, c = sess.run([p1, h2, h3], {x: images})
    return {"conv_bias_relu_pool": a, "conv_batch_norm_elu": b, "pointwise_scale_shift_sigmoid": c}
