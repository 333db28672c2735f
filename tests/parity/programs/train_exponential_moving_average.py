"""ExponentialMovingAverage over several training steps: shadows of variables (fixed decay
and decay limited by num_updates), of a tensor with zero-debiasing, and the averages
restored into the model's variables through variables_to_restore and a Saver."""

import os
import tempfile

import numpy as np

RTOL = 1e-5
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((3, 2)).astype(np.float32)
    b0 = rng.standard_normal(2).astype(np.float32)
    xs = rng.standard_normal((5, 4, 3)).astype(np.float32)
    ys = rng.standard_normal((5, 4, 2)).astype(np.float32)

    x = tf.placeholder(tf.float32, [4, 3])
    y = tf.placeholder(tf.float32, [4, 2])
    w = tf.Variable(w0, name="w")
    b = tf.Variable(b0, name="b")
    d = tf.Variable(np.float64(2.0), name="d")
    step = tf.Variable(0, dtype=tf.int32, name="step", trainable=False)
    pred = tf.matmul(x, w) + b
    loss = tf.reduce_mean(tf.square(pred - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    with tf.control_dependencies([train]):
        ema = tf.train.ExponentialMovingAverage(0.9)
        update = ema.apply([w, b])
    ema_n = tf.train.ExponentialMovingAverage(0.99, num_updates=step, name="ema_n")
    update_n = ema_n.apply([w, d])
    ema_loss = tf.train.ExponentialMovingAverage(0.8, zero_debias=True, name="loss_avg")
    update_loss = ema_loss.apply([loss])
    grow_d = tf.assign_add(d, np.float64(0.5))
    out = {}
    restore = ema.variables_to_restore([w, b])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(5):
            feed = {x: xs[i], y: ys[i]}
            sess.run(update, feed)
            sess.run([update_n, update_loss], feed)
            sess.run(grow_d)
            shadows = sess.run(
                [ema.average(w), ema.average(b), ema_n.average(w), ema_n.average(d), ema_loss.average(loss)]
            )
            for name, v in zip(["w", "b", "w_n", "d_n", "loss"], shadows):
                out[f"{name}_{i}"] = np.asarray(v)
        saver = tf.train.Saver()
        with tempfile.TemporaryDirectory() as tmp:
            path = saver.save(sess, os.path.join(tmp, "model"))
            tf.train.Saver(restore).restore(sess, path)
        out["w_restored"], out["b_restored"] = sess.run([w, b])
    return out
