"""tf.layers.batch_normalization with a bool placeholder as `training`: the static shape
survives into the next conv2d; training normalizes with the batch's statistics and moves the
moving mean through UPDATE_OPS; inference uses the moving statistics."""

import numpy as np

RTOL = 1e-4
ATOL = 1e-5


def program(tf):
    rng = np.random.default_rng(12)
    x = tf.placeholder(tf.float32, [None, 4, 4, 3])
    is_training = tf.placeholder(tf.bool)
    gamma = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    beta = rng.normal(0, 0.1, 3).astype(np.float32)
    h = tf.layers.batch_normalization(
        x,
        momentum=0.8,
        training=is_training,
        gamma_initializer=tf.constant_initializer(gamma),
        beta_initializer=tf.constant_initializer(beta),
    )
    kernel = rng.normal(0, 0.3, (3, 3, 3, 2)).astype(np.float32)
    y = tf.layers.conv2d(h, 2, 3, kernel_initializer=tf.constant_initializer(kernel))
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    moving_mean = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    batches = [rng.standard_normal((5, 4, 4, 3)).astype(np.float32) * 2 + 1 for _ in range(3)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first_inference = sess.run(y, {x: batches[0], is_training: False})
        train_out = []
        for b in batches:
            out, _ = sess.run([y, updates], {x: b, is_training: True})
            train_out.append(out)
        mm = sess.run(moving_mean)
    return {
        "bn_shape": np.array([-1 if d is None else d for d in h.shape.as_list()]),
        "conv_shape": np.array([-1 if d is None else d for d in y.shape.as_list()]),
        "first_inference": first_inference,
        "training_outputs": np.stack(train_out),
        "moving_mean": mm,
    }
