"""TensorFlow's first tutorial: softmax regression trained with -sum(y_ * log(softmax(z)))."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(9)
    xs = rng.standard_normal((16, 6)).astype(np.float32)
    ys = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    x = tf.placeholder(tf.float32, [None, 6])
    y_ = tf.placeholder(tf.float32, [None, 4])
    w = tf.Variable(np.zeros((6, 4), np.float32))
    b = tf.Variable(np.zeros(4, np.float32))
    y = tf.nn.softmax(tf.matmul(x, w) + b)
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([cross_entropy, train], {x: xs, y_: ys})[0] for _ in range(5)]
        wv, bv, probs = sess.run([w, b, y], {x: xs})
    per_example = -np.sum(ys * np.log(probs), axis=1)
    return {"losses": np.array(losses, np.float32), "w": wv, "b": bv, "per_example": per_example}
