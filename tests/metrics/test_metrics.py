"""sf.metrics: streaming (value, update_op) pairs over local variables, against NumPy
references accumulated over several update runs; variables, collections, errors."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


RNG = np.random.default_rng(0)
N = 20
BATCHES = [
    dict(
        labels=RNG.integers(0, 2, N),
        scores=RNG.uniform(0, 1, N).astype(np.float32),
        classes=RNG.integers(0, 3, N),
        predicted=RNG.integers(0, 3, N),
        weights=RNG.uniform(0, 2, N).astype(np.float32),
    )
    for _ in range(3)
]


def _stream(metrics: dict, feeds_of):
    """Per batch: (update results, values read after the update)."""
    out = []
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        for batch in BATCHES:
            feed = feeds_of(batch)
            updates = sess.run({k: v[1] for k, v in metrics.items()}, feed)
            values = sess.run({k: v[0] for k, v in metrics.items()})
            out.append((updates, values))
    return out


def _placeholders():
    return (
        sf.placeholder(sf.int64, [None]),
        sf.placeholder(sf.float32, [None]),
        sf.placeholder(sf.int64, [None]),
        sf.placeholder(sf.int64, [None]),
        sf.placeholder(sf.float32, [None]),
    )


def _feeds(phs):
    lab, score, cls, pred, w = phs
    return lambda b: {
        lab: b["labels"],
        score: b["scores"],
        cls: b["classes"],
        pred: b["predicted"],
        w: b["weights"],
    }


def test_accuracy_mean_and_counts_stream_like_numpy():
    lab, score, cls, pred, w = phs = _placeholders()
    positive = score > 0.5
    metrics = {
        "accuracy": sf.metrics.accuracy(cls, pred),
        "accuracy_w": sf.metrics.accuracy(cls, pred, weights=sf.expand_dims(w, 1)),  # [N, 1] weights squeezed
        "mean_w": sf.metrics.mean(score, weights=w),
        "tp": sf.metrics.true_positives(lab, positive),
        "fp": sf.metrics.false_positives(lab, positive, weights=w),
        "tn": sf.metrics.true_negatives(lab, positive),
        "fn": sf.metrics.false_negatives(lab, positive),
        "precision": sf.metrics.precision(lab, positive),
        "recall": sf.metrics.recall(lab, positive, weights=w),
        "per_class": sf.metrics.mean_per_class_accuracy(cls, pred, 3),
    }
    for i, (updates, values) in enumerate(_stream(metrics, _feeds(phs))):
        b = {k: np.concatenate([bb[k] for bb in BATCHES[: i + 1]]) for k in BATCHES[0]}
        correct = b["classes"] == b["predicted"]
        pos, lab_pos, wt = b["scores"] > 0.5, b["labels"] == 1, b["weights"].astype(np.float64)
        tp, fn = np.sum(pos & lab_pos), np.sum(~pos & lab_pos)
        want = {
            "accuracy": correct.mean(),
            "accuracy_w": np.sum(correct * wt) / wt.sum(),
            "mean_w": np.sum(b["scores"] * wt) / wt.sum(),
            "tp": tp,
            "fp": np.sum((pos & ~lab_pos) * wt),
            "tn": np.sum(~pos & ~lab_pos),
            "fn": fn,
            "precision": tp / np.sum(pos),
            "recall": np.sum((pos & lab_pos) * wt) / np.sum(lab_pos * wt),
            "per_class": np.mean([correct[b["classes"] == c].mean() for c in range(3)]),
        }
        # TF's mean_per_class_accuracy update op returns the accuracy of each class
        updates["per_class"] = np.mean(updates["per_class"])
        for k, v in want.items():
            np.testing.assert_allclose(updates[k], v, rtol=1e-5, err_msg=f"{k} update {i}")
            np.testing.assert_allclose(values[k], v, rtol=1e-5, err_msg=f"{k} value {i}")


def _auc_reference(labels, scores, weights, num_thresholds, curve, method):
    """TF's AUC: counts at thresholds (score > t), then a Riemann or trapezoid sum."""
    eps = 1e-7
    t = np.array(
        [0 - eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + eps],
        np.float32,
    )
    above = scores[None, :] > t[:, None]
    pos = labels[None, :] == 1
    tp = ((above & pos) * weights).sum(1)
    fp = ((above & ~pos) * weights).sum(1)
    fn = ((~above & pos) * weights).sum(1)
    tn = ((~above & ~pos) * weights).sum(1)
    e = 1e-6
    rec = (tp + e) / (tp + fn + e)
    if curve == "ROC":
        x, y = fp / (fp + tn + e), rec
    else:
        x, y = rec, (tp + e) / (tp + fp + e)
    h = {
        "trapezoidal": (y[:-1] + y[1:]) / 2,
        "minoring": np.minimum(y[:-1], y[1:]),
        "majoring": np.maximum(y[:-1], y[1:]),
    }[method]
    return np.sum((x[:-1] - x[1:]) * h)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("method", ["trapezoidal", "minoring", "majoring"])
def test_auc_streams_like_the_reference(curve, method):
    lab, score, cls, pred, w = phs = _placeholders()
    metrics = {
        "auc": sf.metrics.auc(lab, score, weights=w, curve=curve, summation_method=method, num_thresholds=40)
    }
    for i, (updates, values) in enumerate(_stream(metrics, _feeds(phs))):
        b = {k: np.concatenate([bb[k] for bb in BATCHES[: i + 1]]) for k in BATCHES[0]}
        want = _auc_reference(b["labels"], b["scores"], b["weights"], 40, curve, method)
        np.testing.assert_allclose(updates["auc"], want, rtol=1e-4)
        np.testing.assert_allclose(values["auc"], want, rtol=1e-4)


def test_roc_auc_approaches_the_exact_area():
    """With 200 thresholds the ROC AUC is within discretisation of the exact (Mann-Whitney) area."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 2000)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.15), 0, 1).astype(np.float32)
    value, update = sf.metrics.auc(labels, scores)
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        got = sess.run(update)
    pos, neg = scores[labels == 1], scores[labels == 0]
    exact = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    assert abs(got - exact) < 5e-3, (got, exact)


def test_mean_iou_streams_like_numpy():
    lab, score, cls, pred, w = phs = _placeholders()
    metrics = {
        "iou": sf.metrics.mean_iou(cls, pred, 4),
        "iou_w": sf.metrics.mean_iou(cls, pred, 4, weights=w),
    }
    for i, (updates, values) in enumerate(_stream(metrics, _feeds(phs))):
        b = {k: np.concatenate([bb[k] for bb in BATCHES[: i + 1]]) for k in BATCHES[0]}
        for key, wt in (("iou", np.ones(len(b["classes"]))), ("iou_w", b["weights"])):
            cm = np.zeros((4, 4))
            np.add.at(cm, (b["classes"], b["predicted"]), wt)
            inter = np.diag(cm)
            union = cm.sum(0) + cm.sum(1) - inter
            want = np.mean(inter[union > 0] / union[union > 0])  # class 3 never appears: left out
            np.testing.assert_allclose(values[key], want, rtol=1e-5)
            np.testing.assert_allclose(updates[key], cm, rtol=1e-5)  # the update returns the matrix


def test_variables_collections_and_names():
    labels, scores = sf.placeholder(sf.int64, [None]), sf.placeholder(sf.float32, [None])
    value, update = sf.metrics.auc(labels, scores, metrics_collections=["m"], updates_collections=["u"])
    acc, acc_update = sf.metrics.accuracy(labels, labels)
    acc2, _ = sf.metrics.accuracy(labels, labels)
    names = [v.op.name for v in sf.local_variables()]
    assert names == [
        "auc/true_positives",
        "auc/false_negatives",
        "auc/true_negatives",
        "auc/false_positives",
        "accuracy/total",
        "accuracy/count",
        "accuracy_1/total",
        "accuracy_1/count",
    ]
    assert [v.op.name for v in sf.get_collection(sf.GraphKeys.METRIC_VARIABLES)] == names
    assert sf.get_collection(sf.GraphKeys.METRIC_VARIABLES) == sf.get_collection("metric_variables")
    assert not sf.global_variables() and not sf.trainable_variables()
    assert sf.get_collection("m") == [value] and sf.get_collection("u") == [update]
    assert (value.name, update.name, acc.name, acc_update.name, acc2.name) == (
        "auc/value:0",
        "auc/update_op:0",
        "accuracy/value:0",
        "accuracy/update_op:0",
        "accuracy_1/value:0",
    )
    assert sf.local_variables()[0].shape.as_list() == [200]


def test_local_variables_initializer_restarts_the_stream():
    x = sf.placeholder(sf.float32, [None])
    value, update = sf.metrics.mean(x)
    with sf.Session() as sess:
        with pytest.raises(sf.errors.FailedPreconditionError, match="uninitialized"):
            sess.run(value)
        sess.run(sf.local_variables_initializer())
        assert sess.run(value) == 0  # no values yet: 0, not NaN
        sess.run(update, {x: [1.0, 2.0]})
        assert sess.run(update, {x: [6.0]}) == 3.0
        sess.run(sf.local_variables_initializer())
        assert sess.run(update, {x: [5.0]}) == 5.0


def test_confusion_matrix():
    cm = sf.confusion_matrix([1, 2, 4], [2, 2, 4])
    cm_w = sf.math.confusion_matrix(
        [0, 1, 1], [1, 1, 0], num_classes=3, weights=[1.0, 2.0, 0.5], dtype=sf.float32
    )
    with sf.Session() as sess:
        a, b = sess.run([cm, cm_w])
    want = np.zeros((5, 5), np.int32)
    want[1, 2], want[2, 2], want[4, 4] = 1, 1, 1
    np.testing.assert_array_equal(a, want)
    assert a.dtype == np.int32
    np.testing.assert_array_equal(b, [[0, 1, 0], [0.5, 2, 0], [0, 0, 0]])


def test_bad_values_fail_the_run():
    scores = sf.placeholder(sf.float32, [None])
    _, auc_update = sf.metrics.auc([1, 0], scores)
    cls = sf.placeholder(sf.int64, [None])
    _, iou_update = sf.metrics.mean_iou(cls, cls, 3)
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        with pytest.raises(sf.errors.InvalidArgumentError, match=r"predictions must be in \[0, 1\]"):
            sess.run(auc_update, {scores: [0.5, 1.5]})
        with pytest.raises(sf.errors.InvalidArgumentError, match="`labels` out of bound"):
            sess.run(iou_update, {cls: [0, 3]})
        with pytest.raises(sf.errors.InvalidArgumentError, match="`labels` contains negative values"):
            sess.run(iou_update, {cls: [-1, 1]})
    with pytest.raises(ValueError, match="Curve must be either ROC or PR"):
        sf.metrics.auc([1], [0.5], curve="DET")
    with pytest.raises(ValueError, match="Invalid summation_method"):
        sf.metrics.auc([1], [0.5], summation_method="simpson")
