"""An MLP trained a few steps by SGD, Momentum and Adam from NumPy-initialised weights."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-5


def program(tf):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((32, 5)).astype(np.float32)
    y_np = rng.integers(0, 3, 32).astype(np.int32)
    w1 = (rng.standard_normal((5, 8)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((8, 3)) * 0.5).astype(np.float32)
    optimizers = {
        "sgd": lambda: tf.train.GradientDescentOptimizer(0.1),
        "momentum": lambda: tf.train.MomentumOptimizer(0.05, momentum=0.9),
        "nesterov": lambda: tf.train.MomentumOptimizer(0.05, momentum=0.9, use_nesterov=True),
        "adam": lambda: tf.train.AdamOptimizer(0.01),
        "rmsprop": lambda: tf.train.RMSPropOptimizer(0.01),
        "adagrad": lambda: tf.train.AdagradOptimizer(0.1),
    }
    out = {}
    for name, make in optimizers.items():
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 5], name="x")
            y = tf.placeholder(tf.int32, [None], name="y")
            W1 = tf.Variable(w1, name="W1")
            b1 = tf.Variable(np.zeros(8, np.float32), name="b1")
            W2 = tf.Variable(w2, name="W2")
            b2 = tf.Variable(np.full(3, 0.1, np.float32), name="b2")
            h = tf.nn.relu(tf.matmul(x, W1) + b1)
            logits = tf.matmul(h, W2) + b2
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            step = tf.train.get_or_create_global_step()
            train = make().minimize(loss, global_step=step)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                feed = {x: x_np, y: y_np}
                losses = [sess.run([loss, train], feed)[0] for _ in range(6)]
                out[f"{name}_losses"] = np.array(losses, np.float32)
                out[f"{name}_W1"], out[f"{name}_b2"], out[f"{name}_step"] = sess.run([W1, b2, step])
    return out
