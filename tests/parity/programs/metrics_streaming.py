"""Streaming metrics over three update runs of fed batches: the update ops' results and
the values read after each run; AUC with every curve and summation method."""

import numpy as np

RTOL = 1e-5
ATOL = 1e-6


def program(tf):
    rng = np.random.default_rng(11)
    n = 16
    batches = []
    for _ in range(3):
        labels = rng.integers(0, 2, n)
        scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, n), 0, 1).astype(np.float32)
        classes = rng.integers(0, 4, n)
        pred_classes = np.where(rng.random(n) < 0.6, classes, rng.integers(0, 4, n))
        weights = rng.uniform(0, 2, n).astype(np.float32)
        values = rng.standard_normal((n, 3)).astype(np.float32)
        batches.append((labels, scores, classes, pred_classes, weights, values))

    lab = tf.placeholder(tf.int64, [None], name="labels")
    score = tf.placeholder(tf.float32, [None], name="scores")
    cls = tf.placeholder(tf.int64, [None], name="classes")
    pcls = tf.placeholder(tf.int64, [None], name="pred_classes")
    w = tf.placeholder(tf.float32, [None], name="weights")
    vals = tf.placeholder(tf.float32, [None, 3], name="values")
    m = tf.metrics
    metrics = {
        "accuracy": m.accuracy(cls, pcls),
        "accuracy_w": m.accuracy(cls, pcls, weights=w),
        "mean": m.mean(vals),
        "mean_w": m.mean(vals[:, 0], weights=w),
        "mean_tensor": m.mean_tensor(tf.reduce_sum(vals, 0)),
        "precision": m.precision(lab, score > 0.5),
        "recall_w": m.recall(lab, score > 0.5, weights=w),
        "tp": m.true_positives(lab, score > 0.5),
        "fp": m.false_positives(lab, score > 0.5, weights=w),
        "tn": m.true_negatives(lab, score > 0.5),
        "fn": m.false_negatives(lab, score > 0.5),
        "auc": m.auc(lab, score),
        "auc_w": m.auc(lab, score, weights=w),
        "auc_pr": m.auc(lab, score, curve="PR"),
        "auc_pr_careful": m.auc(lab, score, curve="PR", summation_method="careful_interpolation"),
        "auc_minoring": m.auc(lab, score, summation_method="minoring", num_thresholds=50),
        "auc_majoring": m.auc(lab, score, summation_method="majoring"),
        "auc_thresholds": m.auc(lab, score, thresholds=[0.25, 0.5, 0.75]),
        "mean_iou": m.mean_iou(cls, pcls, 4),
        "mean_iou_w": m.mean_iou(cls, pcls, 4, weights=w),
        "mse": m.mean_squared_error(vals[:, 0], vals[:, 1]),
        "rmse": m.root_mean_squared_error(vals[:, 0], vals[:, 1]),
        "mae": m.mean_absolute_error(vals[:, 0], vals[:, 1], weights=w),
        "per_class": m.mean_per_class_accuracy(cls, pcls, 4),
        "tp_at": m.true_positives_at_thresholds(lab, score, [0.2, 0.6]),
        "prec_at": m.precision_at_thresholds(lab, score, [0.2, 0.6]),
        "rec_at": m.recall_at_thresholds(lab, score, [0.2, 0.6]),
        "sens_at_spec": m.sensitivity_at_specificity(lab, score, 0.7),
        "spec_at_sens": m.specificity_at_sensitivity(lab, score, 0.6),
        "below": m.percentage_below(vals, 0.5),
    }
    out = {}
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for step, (labels, scores, classes, pred_classes, weights, values) in enumerate(batches):
            feed = {lab: labels, score: scores, cls: classes, pcls: pred_classes, w: weights, vals: values}
            updates = sess.run({k: v[1] for k, v in metrics.items()}, feed)
            current = sess.run({k: v[0] for k, v in metrics.items()})
            for k in metrics:
                out[f"{k}_update_{step}"] = np.asarray(updates[k])
                out[f"{k}_value_{step}"] = np.asarray(current[k])
    return out
