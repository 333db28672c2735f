"""Everyday TF1 nn/math calls: top_k, in_top_k (ties, k at the edges), arg_max/arg_min,
xw_plus_b, zero_fraction, batch_norm_with_global_normalization, l2_normalize, the
weighted and Poisson losses, moments from sufficient statistics, and their gradients."""

import numpy as np

RTOL = 1e-5
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(5)
    scores = rng.integers(-3, 4, (6, 9)).astype(np.float32)  # many ties
    targets = rng.integers(0, 9, 6)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    sparse = np.where(rng.random((3, 7)) < 0.4, 0.0, rng.standard_normal((3, 7))).astype(np.float32)
    img = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    mean = rng.standard_normal(4).astype(np.float32)
    var = rng.uniform(0.5, 2, 4).astype(np.float32)
    beta = rng.standard_normal(4).astype(np.float32)
    gamma = rng.uniform(0.5, 2, 4).astype(np.float32)
    labels = rng.uniform(0, 1, (4, 5)).astype(np.float32)

    xv = tf.Variable(x, name="x")
    out_t = {}
    vals, idx = tf.nn.top_k(scores, 4)
    out_t["top_k_values"], out_t["top_k_indices"] = vals, idx
    out_t["top_k_1"] = tf.nn.top_k(scores, 1).indices
    out_t["top_k_int"] = tf.nn.top_k(scores.astype(np.int32), 9).indices
    for k in (0, 1, 3, 9):
        out_t[f"in_top_k_{k}"] = tf.nn.in_top_k(scores, targets, k)
    out_t["in_top_k_int64"] = tf.nn.in_top_k(scores, targets.astype(np.int64), 2)
    out_t["arg_max"] = tf.arg_max(scores, 1)
    out_t["arg_min"] = tf.arg_min(scores, 0, output_type=tf.int32)
    out_t["xw_plus_b"] = tf.nn.xw_plus_b(xv, w, b)
    out_t["relu_layer"] = tf.nn.relu_layer(xv, w, b)
    out_t["zero_fraction"] = tf.nn.zero_fraction(sparse)
    out_t["zero_fraction_int"] = tf.nn.zero_fraction(np.array([0, 1, 0, 2, 0], np.int32))
    out_t["bn_scaled"] = tf.nn.batch_norm_with_global_normalization(img, mean, var, beta, gamma, 0.001, True)
    out_t["bn_unscaled"] = tf.nn.batch_norm_with_global_normalization(
        img, mean, var, beta, gamma, 0.001, False
    )
    out_t["l2_normalize"] = tf.nn.l2_normalize(xv, 1)
    out_t["l2_normalize_all"] = tf.nn.l2_normalize(xv)
    out_t["weighted_xent"] = tf.nn.weighted_cross_entropy_with_logits(labels, xv, 2.5)
    out_t["log_poisson"] = tf.nn.log_poisson_loss(labels * 3, xv, compute_full_loss=True)
    counts, m_ss, v_ss, _ = tf.nn.sufficient_statistics(xv, [0])
    out_t["normalized_mean"], out_t["normalized_variance"] = tf.nn.normalize_moments(counts, m_ss, v_ss, None)
    wm, wv = tf.nn.weighted_moments(xv, [1], labels)
    out_t["weighted_mean"], out_t["weighted_variance"] = wm, wv
    out_t["softsign"] = tf.nn.softsign(xv)
    out_t["swish"] = tf.nn.swish(xv)
    out_t["crelu"] = tf.nn.crelu(xv)
    out_t["div_no_nan"] = tf.div_no_nan(xv, np.array([0.0, 1.0, 2.0, 0.0, -1.0], np.float32))
    loss = (
        tf.reduce_sum(tf.nn.top_k(xv, 2).values * 1.5)
        + tf.reduce_sum(out_t["l2_normalize"] * labels)
        + tf.reduce_sum(out_t["weighted_xent"])
        + tf.reduce_sum(out_t["xw_plus_b"] ** 2)
        + tf.reduce_sum(out_t["div_no_nan"] * labels)
    )
    out_t["grad_x"] = tf.gradients(loss, xv)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return {k: np.asarray(v) for k, v in sess.run(out_t).items()}
