"""A small CNN step: conv2d, max pooling, batch norm (training, moving averages), dense, SGD."""

import numpy as np

RTOL = 2e-4
ATOL = 1e-5


def program(tf):
    rng = np.random.default_rng(1)
    images = rng.standard_normal((4, 8, 8, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 4).astype(np.int32)
    k1 = (rng.standard_normal((3, 3, 2, 4)) * 0.3).astype(np.float32)
    k2 = (rng.standard_normal((4 * 4 * 4, 3)) * 0.1).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 8, 8, 2], name="images")
    y = tf.placeholder(tf.int32, [None], name="labels")
    training = tf.placeholder_with_default(False, [], name="training")
    h = tf.layers.conv2d(x, 4, 3, padding="same", kernel_initializer=tf.constant_initializer(k1), name="conv")
    h = tf.layers.batch_normalization(h, training=training, momentum=0.9, name="bn")
    h = tf.nn.relu(h)
    h = tf.layers.max_pooling2d(h, 2, 2, name="pool")
    flat = tf.reshape(h, [-1, 4 * 4 * 4])
    logits = tf.layers.dense(flat, 3, kernel_initializer=tf.constant_initializer(k2), name="fc")
    loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    moving = [v for v in tf.global_variables() if "moving" in v.name]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: images, y: labels}
        before = sess.run(loss, feed)
        for _ in range(3):
            sess.run(train, {**feed, training: True})
        after, inference = sess.run([loss, logits], feed)
        moving_values = sess.run(sorted(moving, key=lambda v: v.name))
    return {
        "loss_before": np.float32(before),
        "loss_after": np.float32(after),
        "logits_inference": inference,
        "moving_mean": moving_values[0],
        "moving_variance": moving_values[1],
        "conv_output_shape": np.array(h.shape.as_list()[1:], np.int64),
    }
