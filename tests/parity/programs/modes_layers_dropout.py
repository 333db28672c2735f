"""tf.layers.dropout with a bool placeholder as `training`: the static shape survives into the
next conv2d and dense, and inference (training fed False) is the identity."""

import numpy as np

RTOL = 1e-5


def program(tf):
    rng = np.random.default_rng(11)
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    is_training = tf.placeholder(tf.bool)
    k1 = rng.normal(0, 0.3, (3, 3, 2, 4)).astype(np.float32)
    k2 = rng.normal(0, 0.3, (36 * 4, 5)).astype(np.float32)
    h = tf.layers.conv2d(x, 4, 3, padding="same", kernel_initializer=tf.constant_initializer(k1))
    h = tf.layers.dropout(h, rate=0.5, training=is_training)
    flat = tf.layers.flatten(h)
    y = tf.layers.dense(flat, 5, kernel_initializer=tf.constant_initializer(k2))
    xv = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: xv, is_training: False})
        dropped = sess.run(h, {x: xv, is_training: True})
    return {
        "inference": out,
        "dropout_shape": np.array([-1 if d is None else d for d in h.shape.as_list()]),
        "dense_shape": np.array([-1 if d is None else d for d in y.shape.as_list()]),
        "training_run_shape": np.array(dropped.shape),
    }
