"""NaN, Inf and -0.0 through the ops of a small model, under both engines.

Non-finite results are returned as masks (isnan, isposinf, isneginf) beside the
values with those entries zeroed, so the comparison needs no NaN-aware equality.
"""

import numpy as np

nan, inf = float("nan"), float("inf")


def _split(name, v, out):
    v = np.asarray(v)
    if v.dtype.kind != "f":
        out[name] = v
        return
    out[name + "_nan"] = np.isnan(v)
    out[name + "_posinf"] = np.isposinf(v)
    out[name + "_neginf"] = np.isneginf(v)
    out[name] = np.where(np.isfinite(v), v, 0).astype(v.dtype)


def program(tf):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    x[0, 1], x[1, 2], x[2, 3], x[3, 0] = nan, inf, -inf, -0.0
    g = tf.Graph()
    with g.as_default():
        xt = tf.placeholder(tf.float32, [4, 6])
        up = tf.placeholder(tf.float32, [4, 6])
        # rows with -inf but no NaN or +inf (TensorFlow's softmax varies on those)
        soft_in = tf.constant(np.where(np.isfinite(x), x, -np.inf).astype(np.float32))
        relu = tf.nn.relu(xt)
        selu = tf.nn.selu(xt)
        sq = tf.sqrt(tf.abs(xt))
        d_relu = tf.gradients(relu, xt, grad_ys=up)[0]
        d_selu = tf.gradients(selu, xt, grad_ys=up)[0]
        d_sqrt = tf.gradients(sq, xt, grad_ys=tf.zeros_like(up))[0]
        results = {
            "relu": relu,
            "d_relu": d_relu,
            "d_selu": d_selu,
            "d_sqrt_zero_upstream": d_sqrt,
            "maximum": tf.maximum(xt, 0.0),
            "clip": tf.clip_by_value(xt, -0.5, 0.5),
            "reduce_max": tf.reduce_max(xt, axis=1),
            "reduce_sum": tf.reduce_sum(xt, axis=0),
            "argmax": tf.argmax(xt, axis=1),
            "argmin": tf.argmin(xt, axis=0),
            "less": tf.less(xt, 0.0),
            "not_equal": tf.not_equal(xt, xt),
            "max_pool": tf.nn.max_pool(tf.reshape(xt, [1, 4, 6, 1]), [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
            "avg_pool": tf.nn.avg_pool(tf.reshape(xt, [1, 4, 6, 1]), [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
            "softmax_neg_inf": tf.nn.softmax(soft_in),
            "matmul": tf.matmul(xt, tf.ones([6, 2])),
        }
        upstream = rng.normal(size=(4, 6)).astype(np.float32)
        upstream[3, 0] = nan  # a NaN gradient where the feature is -0.0: ReluGrad gives NaN
        with tf.Session() as sess:
            values = sess.run(results, {xt: x, up: upstream})
    out = {}
    for k in sorted(values):
        _split(k, values[k], out)
    return out
