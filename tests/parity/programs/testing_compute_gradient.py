"""tf.test.compute_gradient and compute_gradient_error (TF1's gradient checker): the
theoretical and numerical Jacobians of a small model, and the error of a gradient that
gradient_override_map makes wrong on purpose."""

import numpy as np


def program(tf):
    try:
        tf.RegisterGradient("ParityHalfTanhGrad")(lambda op, grad: 0.5 * grad * (1.0 - op.outputs[0] ** 2))
    except KeyError:  # registered by an earlier run of this program in the same process
        pass
    rng = np.random.default_rng(11)
    xv = rng.standard_normal((2, 3))
    wv = rng.standard_normal((3, 2))
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float64, [2, 3], name="x")
    w = tf.constant(wv, name="w")
    y = tf.tanh(tf.matmul(x, w), name="y")
    with g.gradient_override_map({"Tanh": "ParityHalfTanhGrad"}):
        y_wrong = tf.tanh(tf.matmul(x, w), name="y_wrong")
    loss = tf.reduce_sum(y * y, name="loss")
    with tf.Session():
        theoretical, numerical = tf.test.compute_gradient(x, [2, 3], y, [2, 2], x_init_value=xv)
        loss_err = tf.test.compute_gradient_error(x, [2, 3], loss, [], x_init_value=xv)
        wrong_err = tf.test.compute_gradient_error(x, [2, 3], y_wrong, [2, 2], x_init_value=xv)
    return {
        "theoretical": theoretical,
        "numerical": numerical,
        "loss_error_small": np.array(loss_err < 1e-4, np.int32),
        "wrong_error": np.array(wrong_err),
    }
