"""A dense network trained by SGD: what pattern fusion rewrites (bias + activation after each
product, activation and bias gradients, weight gradients into their variables), each activation."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(7)
    sizes = [13, 11, 9, 5]
    x0 = rng.standard_normal((10, 13)).astype(np.float32)
    y0 = rng.integers(0, 5, 10).astype(np.int64)
    inits = [(rng.standard_normal((m, n)) * 0.4).astype(np.float32) for m, n in zip(sizes[:-1], sizes[1:])]
    biases = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in sizes[1:]]
    out = {}
    acts = {
        "relu": tf.nn.relu,
        "elu": tf.nn.elu,
        "selu": tf.nn.selu,
        "leaky": lambda v: tf.nn.leaky_relu(v, 0.1),
    }
    for name, act in acts.items():
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, 13])
            y = tf.placeholder(tf.int64, [None])
            h = x
            params = []
            for i, (w0, b0) in enumerate(zip(inits, biases)):
                w, b = tf.Variable(w0), tf.Variable(b0)
                params += [w, b]
                h = tf.nn.bias_add(tf.matmul(h, w), b) if i == 1 else tf.matmul(h, w) + b
                if i < len(inits) - 1:
                    h = act(h)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
            train = tf.train.GradientDescentOptimizer(0.3).minimize(loss)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([loss, train], {x: x0, y: y0})[0] for _ in range(4)]
                values = sess.run(params)
        out[f"{name}_losses"] = np.array(losses, np.float32)
        for k, v in enumerate(values):
            out[f"{name}_param{k}"] = v
    return out
