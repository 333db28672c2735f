"""sf.metrics: TF1's streaming metrics (tf.compat.v1.metrics).

Each metric returns (value, update_op). The update op adds a batch's statistics to
local variables (collections ``local_variables`` and ``metric_variables``, initialised
by ``sf.local_variables_initializer()``) and returns the metric over everything seen
so far; the value reads the variables without changing them. Formulas, thresholds and
variable names are TensorFlow's, so several update runs give TensorFlow's values.

Inputs of unknown rank are taken as they are: the trailing size-1 dimension that TF
squeezes at run time from labels, predictions or weights of unknown rank is only
squeezed here when the ranks are known while building.
"""

from __future__ import annotations

import logging

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import array_ops, math_ops, state_ops
from staticflow.ops.confusion_matrix import (
    assert_all,
    confusion_matrix,
    remove_squeezable_dimensions,
    with_checks,
)
from staticflow.ops.nn_extras import div_no_nan
from staticflow.ops.variable_scope import variable_scope

D = dtypes
_log = logging.getLogger("staticflow")

__all__ = [
    "accuracy",
    "auc",
    "false_negatives",
    "false_negatives_at_thresholds",
    "false_positives",
    "false_positives_at_thresholds",
    "mean",
    "mean_absolute_error",
    "mean_cosine_distance",
    "mean_iou",
    "mean_per_class_accuracy",
    "mean_relative_error",
    "mean_squared_error",
    "mean_tensor",
    "percentage_below",
    "precision",
    "precision_at_thresholds",
    "recall",
    "recall_at_thresholds",
    "root_mean_squared_error",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "true_negatives",
    "true_negatives_at_thresholds",
    "true_positives",
    "true_positives_at_thresholds",
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def metric_variable(shape, dtype, validate_shape=True, name=None) -> state_ops.Variable:
    """A zero-initialised, non-trainable variable in the local and metric collections."""
    return state_ops.Variable(
        lambda: array_ops.zeros(shape, dtype),
        trainable=False,
        collections=[fops.GraphKeys.LOCAL_VARIABLES, fops.GraphKeys.METRIC_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def _add(collections, value) -> None:
    if collections:
        fops.add_to_collections(collections, value)


def _publish(value, update_op, metrics_collections, updates_collections):
    """(value, update_op), each added to its collections."""
    _add(metrics_collections, value)
    _add(updates_collections, update_op)
    return value, update_op


def _from_counts(compute, values, updates, metrics_collections, updates_collections):
    """A metric computed by compute(counts, op_name) from the count variables (the value,
    op "value") and from their updates (the update op, op "update_op")."""
    return _publish(
        compute(values, "value"), compute(updates, "update_op"), metrics_collections, updates_collections
    )


def _remove_squeezable(predictions, labels, weights):
    """TF's _remove_squeezable_dimensions: align labels with predictions, and weights' rank
    with the predictions' (squeeze or expand its last dimension), when ranks are known."""
    predictions = fops.convert_to_tensor(predictions)
    if labels is not None:
        labels, predictions = remove_squeezable_dimensions(labels, predictions)
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
    if weights is None:
        return predictions, labels, None
    weights = fops.convert_to_tensor(weights)
    wr, pr = weights.shape.ndims, predictions.shape.ndims
    if wr == 0:
        return predictions, labels, weights
    if wr is not None and pr is not None:
        if wr - pr == 1:
            weights = array_ops.squeeze(weights, [-1])
        elif pr - wr == 1:
            weights = array_ops.expand_dims(weights, -1)
    return predictions, labels, weights


def _broadcast_weights(weights, values):
    """weights broadcast to values' shape (float32)."""
    weights = math_ops.cast(weights, values.dtype)
    ws, vs = weights.shape, values.shape
    if ws.is_fully_defined() and vs.is_fully_defined() and ws.as_tuple() == vs.as_tuple():
        return weights
    return weights * array_ops.ones_like(values)


# ---------------------------------------------------------------------------
# means
# ---------------------------------------------------------------------------
def _streaming_mean(values, weights, metrics_collections, updates_collections, name, elementwise: bool):
    """mean (over all of values) or mean_tensor (elementwise, elementwise=True): the weighted
    sum and the summed weights accumulate in `total` and `count` (`total_tensor` and
    `count_tensor` of values' shape when elementwise)."""
    with variable_scope(name, "mean", (values, weights)):
        values = math_ops.cast(values, D.float32)
        shape, suffix = (values.shape, "_tensor") if elementwise else ([], "")
        total = metric_variable(shape, D.float32, name="total" + suffix)
        count = metric_variable(shape, D.float32, name="count" + suffix)
        if elementwise:
            num_values = array_ops.ones_like(values)
        elif weights is None:
            num_values = math_ops.cast(array_ops.size(values), D.float32)
        if weights is not None:
            values, _, weights = _remove_squeezable(values, None, weights)
            weights = _broadcast_weights(math_ops.cast(weights, D.float32), values)
            values = math_ops.multiply(values, weights)
            num_values = (
                math_ops.multiply(num_values, weights) if elementwise else math_ops.reduce_sum(weights)
            )
        update_total = state_ops.assign_add(total, values if elementwise else math_ops.reduce_sum(values))
        with fops.control_dependencies([values]):
            update_count = state_ops.assign_add(count, num_values)
        return _publish(
            div_no_nan(total, math_ops.maximum(count, 0), name="value"),
            div_no_nan(update_total, math_ops.maximum(update_count, 0), name="update_op"),
            metrics_collections,
            updates_collections,
        )


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The (weighted) mean of values: variables `total` and `count`."""
    return _streaming_mean(values, weights, metrics_collections, updates_collections, name, False)


def mean_tensor(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The elementwise (weighted) mean of values over the updates: variables `total_tensor`
    and `count_tensor` of values' (fully defined) shape."""
    return _streaming_mean(values, weights, metrics_collections, updates_collections, name, True)


def accuracy(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """How often predictions equal labels: the mean of (predictions == labels)."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    if labels.dtype != predictions.dtype:
        predictions = math_ops.cast(predictions, labels.dtype)
    is_correct = math_ops.cast(math_ops.equal(predictions, labels), D.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_absolute_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The mean of |predictions - labels|."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    errors = math_ops.abs(predictions - labels)
    return mean(errors, weights, metrics_collections, updates_collections, name or "mean_absolute_error")


def mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The mean of (predictions - labels) ** 2."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    errors = math_ops.squared_difference(labels, predictions)
    return mean(errors, weights, metrics_collections, updates_collections, name or "mean_squared_error")


def root_mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """sqrt of mean_squared_error."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    mse, update_mse = mean_squared_error(
        labels, predictions, weights, None, None, name or "root_mean_squared_error"
    )
    return _publish(math_ops.sqrt(mse), math_ops.sqrt(update_mse), metrics_collections, updates_collections)


def mean_relative_error(
    labels,
    predictions,
    normalizer,
    weights=None,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The mean of |labels - predictions| / normalizer (0 where normalizer is 0)."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    predictions, normalizer = remove_squeezable_dimensions(predictions, normalizer)
    relative = math_ops.where(
        math_ops.equal(normalizer, 0.0),
        array_ops.zeros_like(labels),
        math_ops.divide(math_ops.abs(labels - predictions), normalizer),
    )
    return mean(relative, weights, metrics_collections, updates_collections, name or "mean_relative_error")


def mean_cosine_distance(
    labels, predictions, dim, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """1 - the mean of the dot products of labels and predictions along dim (unit vectors)."""
    predictions, labels, weights = _remove_squeezable(predictions, labels, weights)
    radial = math_ops.reduce_sum(math_ops.multiply(predictions, labels), axis=[dim], keepdims=True)
    distance, update = mean(radial, weights, None, None, name or "mean_cosine_distance")
    return _publish(
        math_ops.subtract(1.0, distance),
        math_ops.subtract(1.0, update),
        metrics_collections,
        updates_collections,
    )


def percentage_below(
    values, threshold, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The fraction of values below threshold."""
    below = math_ops.cast(math_ops.less(values, threshold), D.float32)
    return mean(
        below, weights, metrics_collections, updates_collections, name or "percentage_below_threshold"
    )


def mean_per_class_accuracy(
    labels,
    predictions,
    num_classes,
    weights=None,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The mean over classes of each class's accuracy: variables `total` and `count` [num_classes]."""
    with variable_scope(name, "mean_accuracy", (predictions, labels, weights)):
        labels = math_ops.cast(labels, D.int64)
        predictions = fops.convert_to_tensor(predictions)
        if (labels.shape.ndims or 0) > 1:
            labels = array_ops.reshape(labels, [-1])
        if (predictions.shape.ndims or 0) > 1:
            predictions = array_ops.reshape(predictions, [-1])
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
        total = metric_variable([num_classes], D.float32, name="total")
        count = metric_variable([num_classes], D.float32, name="count")
        ones = array_ops.ones_like(labels, dtype=D.float32)
        if labels.dtype != predictions.dtype:
            predictions = math_ops.cast(predictions, labels.dtype)
        is_correct = math_ops.cast(math_ops.equal(predictions, labels), D.float32)
        if weights is not None:
            weights = fops.convert_to_tensor(weights)
            if (weights.shape.ndims or 0) > 1:
                weights = array_ops.reshape(weights, [-1])
            weights = math_ops.cast(weights, D.float32)
            is_correct *= weights
            ones *= weights
        update_total = state_ops.assign_add(total, array_ops.unsorted_segment_sum(ones, labels, num_classes))
        update_count = state_ops.assign_add(
            count, array_ops.unsorted_segment_sum(is_correct, labels, num_classes)
        )
        return _publish(
            math_ops.reduce_mean(div_no_nan(count, math_ops.maximum(total, 0)), name="mean_accuracy"),
            div_no_nan(update_count, math_ops.maximum(update_total, 0), name="update_op"),
            metrics_collections,
            updates_collections,
        )


# ---------------------------------------------------------------------------
# counts of a binary condition
# ---------------------------------------------------------------------------
def _count_condition(values, weights, metrics_collections, updates_collections):
    count = metric_variable([], D.float32, name="count")
    values = math_ops.cast(values, D.float32)
    if weights is not None:
        weights = math_ops.cast(weights, D.float32)
        values = math_ops.multiply(values, weights)
    return _publish(
        count.value(),
        state_ops.assign_add(count, math_ops.reduce_sum(values)),
        metrics_collections,
        updates_collections,
    )


def _binary_count(default: str, want_label: bool, want_pred: bool, doc: str):
    """The metric counting entries whose label is `want_label` and prediction `want_pred`
    (variable `count`, default scope `default`)."""

    def metric(
        labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
    ):
        with variable_scope(name, default, (predictions, labels, weights)):
            predictions, labels, weights = _remove_squeezable(
                math_ops.cast(predictions, D.bool_), math_ops.cast(labels, D.bool_), weights
            )
            lab = labels if want_label else math_ops.logical_not(labels)
            pred = predictions if want_pred else math_ops.logical_not(predictions)
            return _count_condition(
                math_ops.logical_and(lab, pred), weights, metrics_collections, updates_collections
            )

    metric.__name__ = metric.__qualname__ = default
    metric.__doc__ = doc
    return metric


true_positives = _binary_count(
    "true_positives", True, True, "The (weighted) number of entries with label and prediction both True."
)
false_positives = _binary_count(
    "false_positives", False, True, "The (weighted) number of entries predicted True whose label is False."
)
true_negatives = _binary_count(
    "true_negatives", False, False, "The (weighted) number of entries with label and prediction both False."
)
false_negatives = _binary_count(
    "false_negatives", True, False, "The (weighted) number of entries predicted False whose label is True."
)


def _ratio_metric(
    labels, predictions, weights, metrics_collections, updates_collections, name, default, second
):
    """tp / (tp + second) with its update op (0 while the denominator is 0)."""
    with variable_scope(name, default, (predictions, labels, weights)):
        predictions, labels, weights = _remove_squeezable(
            math_ops.cast(predictions, D.bool_), math_ops.cast(labels, D.bool_), weights
        )
        tp, tp_update = true_positives(labels, predictions, weights)
        other, other_update = second(labels, predictions, weights)

        def ratio(a, b, op_name):
            return math_ops.where(math_ops.greater(a + b, 0), math_ops.divide(a, a + b), 0, name=op_name)

        return _publish(
            ratio(tp, other, "value"),
            ratio(tp_update, other_update, "update_op"),
            metrics_collections,
            updates_collections,
        )


def precision(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """true_positives / (true_positives + false_positives)."""
    return _ratio_metric(
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
        "precision",
        false_positives,
    )


def recall(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """true_positives / (true_positives + false_negatives)."""
    return _ratio_metric(
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
        "recall",
        false_negatives,
    )


# ---------------------------------------------------------------------------
# confusion counts at thresholds, AUC
# ---------------------------------------------------------------------------
_ALL_INCLUDES = ("tp", "fn", "tn", "fp")
_COUNT_NAMES = {
    "tp": "true_positives",
    "fn": "false_negatives",
    "tn": "true_negatives",
    "fp": "false_positives",
}


def _confusion_matrix_at_thresholds(labels, predictions, thresholds, weights=None, includes=None):
    """({key: variable}, {key: update}) of the counts per threshold (prediction > threshold
    means positive); keys among tp, fn, tn, fp. Predictions must lie in [0, 1]."""
    includes = _ALL_INCLUDES if includes is None else includes
    for inc in includes:
        if inc not in _ALL_INCLUDES:
            raise ValueError(f"Invalid key: {inc}")
    predictions = math_ops.cast(predictions, D.float32)
    checks = [
        assert_all(predictions >= 0.0, "predictions must be in [0, 1]"),
        assert_all(predictions <= 1.0, "predictions must be in [0, 1]"),
    ]
    predictions = with_checks(checks, predictions)
    predictions, labels, weights = _remove_squeezable(predictions, math_ops.cast(labels, D.bool_), weights)
    num_thresholds = len(thresholds)
    pred_row = array_ops.reshape(predictions, [1, -1])
    label_is_pos = array_ops.reshape(math_ops.cast(labels, D.bool_), [1, -1])
    thresh = array_ops.reshape(array_ops.constant([float(t) for t in thresholds], D.float32), [-1, 1])
    pred_is_pos = math_ops.greater(pred_row, thresh)  # [num_thresholds, num_predictions]
    pred_is_neg = math_ops.logical_not(pred_is_pos)
    label_is_neg = math_ops.logical_not(label_is_pos)
    weights_row = None
    if weights is not None:
        weights_row = array_ops.reshape(
            _broadcast_weights(math_ops.cast(weights, D.float32), predictions), [1, -1]
        )
    conditions = {
        "tp": (label_is_pos, pred_is_pos),
        "fn": (label_is_pos, pred_is_neg),
        "tn": (label_is_neg, pred_is_neg),
        "fp": (label_is_neg, pred_is_pos),
    }
    values, updates = {}, {}
    for key in _ALL_INCLUDES:
        if key not in includes:
            continue
        var = metric_variable([num_thresholds], D.float32, name=_COUNT_NAMES[key])
        lab, pred = conditions[key]
        hits = math_ops.cast(math_ops.logical_and(lab, pred), D.float32)
        if weights_row is not None:
            hits *= weights_row
        updates[key] = state_ops.assign_add(var, math_ops.reduce_sum(hits, 1))
        values[key] = var.value()
    return values, updates


def _at_thresholds(key, default):
    def metric(
        labels,
        predictions,
        thresholds,
        weights=None,
        metrics_collections=None,
        updates_collections=None,
        name=None,
    ):
        with variable_scope(name, default, (predictions, labels, weights)):
            values, updates = _confusion_matrix_at_thresholds(
                labels, predictions, thresholds, weights, (key,)
            )
            return _publish(values[key], updates[key], metrics_collections, updates_collections)

    metric.__name__ = f"{_COUNT_NAMES[key]}_at_thresholds"
    metric.__doc__ = f"The (weighted) {_COUNT_NAMES[key].replace('_', ' ')} at each threshold."
    return metric


true_positives_at_thresholds = _at_thresholds("tp", "true_positives")
false_positives_at_thresholds = _at_thresholds("fp", "false_positives")
true_negatives_at_thresholds = _at_thresholds("tn", "true_negatives")
false_negatives_at_thresholds = _at_thresholds("fn", "false_negatives")


def _ratio_at_thresholds(prefix: str, other: str, doc: str):
    """The metric tp / (tp + `other` + 1e-7) at each threshold: ops <prefix>_value and
    <prefix>_update_op in the scope `name` or <prefix>_at_thresholds."""

    def metric(
        labels,
        predictions,
        thresholds,
        weights=None,
        metrics_collections=None,
        updates_collections=None,
        name=None,
    ):
        with variable_scope(name, prefix + "_at_thresholds", (predictions, labels, weights)):
            values, updates = _confusion_matrix_at_thresholds(
                labels, predictions, thresholds, weights, ("tp", other)
            )

            def compute(counts, op_name):
                tp = counts["tp"]
                return math_ops.divide(tp, 1e-7 + tp + counts[other], name=f"{prefix}_{op_name}")

            return _from_counts(compute, values, updates, metrics_collections, updates_collections)

    metric.__name__ = metric.__qualname__ = prefix + "_at_thresholds"
    metric.__doc__ = doc
    return metric


precision_at_thresholds = _ratio_at_thresholds("precision", "fp", "tp / (tp + fp + 1e-7) at each threshold.")
recall_at_thresholds = _ratio_at_thresholds("recall", "fn", "tp / (tp + fn + 1e-7) at each threshold.")


def _default_thresholds(num_thresholds: int) -> list[float]:
    """TF's: num_thresholds - 2 evenly spaced in (0, 1), plus one just below 0 and one just above 1."""
    kepsilon = 1e-7
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - kepsilon] + inner + [1.0 + kepsilon]


def auc(
    labels,
    predictions,
    weights=None,
    num_thresholds=200,
    metrics_collections=None,
    updates_collections=None,
    curve="ROC",
    name=None,
    summation_method="trapezoidal",
    thresholds=None,
):
    """The area under the ROC or PR curve, from counts at num_thresholds thresholds.

    summation_method: "trapezoidal" (default), "careful_interpolation" (PR: interpolates
    precision in recall, TF's recommended PR-AUC), "minoring" or "majoring" (Riemann sums
    from below or above). thresholds, when given, replaces the evenly spaced ones.
    """
    with variable_scope(name, "auc", (labels, predictions, weights)):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"Curve must be either ROC or PR. Curve {curve} is unknown.")
        if summation_method not in ("trapezoidal", "careful_interpolation", "minoring", "majoring"):
            raise ValueError(
                f"Invalid summation_method: {summation_method} summation_method should be 'trapezoidal', "
                "'careful_interpolation', 'minoring', or 'majoring'."
            )
        if thresholds is not None:
            thresholds = sorted(thresholds)
            num_thresholds = len(thresholds) + 2
            thresholds = [0.0 - 1e-7] + list(thresholds) + [1.0 + 1e-7]
        else:
            thresholds = _default_thresholds(num_thresholds)
        values, updates = _confusion_matrix_at_thresholds(labels, predictions, thresholds, weights)
        epsilon = 1e-6
        n = num_thresholds

        def interpolate_pr_auc(tp, fp, fn):
            dtp = tp[: n - 1] - tp[1:]
            p = tp + fp
            prec_slope = div_no_nan(dtp, math_ops.maximum(p[: n - 1] - p[1:], 0), name="prec_slope")
            intercept = tp[1:] - math_ops.multiply(prec_slope, p[1:])
            safe_p_ratio = math_ops.where(
                math_ops.logical_and(p[: n - 1] > 0, p[1:] > 0),
                div_no_nan(p[: n - 1], math_ops.maximum(p[1:], 0), name="recall_relative_ratio"),
                array_ops.ones_like(p[1:]),
            )
            return math_ops.reduce_sum(
                div_no_nan(
                    prec_slope * (dtp + intercept * math_ops.log(safe_p_ratio)),
                    math_ops.maximum(tp[1:] + fn[1:], 0),
                    name="pr_auc_increment",
                ),
                name="interpolate_pr_auc",
            )

        def compute_auc(counts, op_name):
            tp, fn, tn, fp = (counts[k] for k in ("tp", "fn", "tn", "fp"))
            if curve == "PR" and summation_method == "careful_interpolation":
                return interpolate_pr_auc(tp, fp, fn)
            rec = math_ops.divide(tp + epsilon, tp + fn + epsilon)
            if curve == "ROC":
                x, y = math_ops.divide(fp, fp + tn + epsilon), rec
            else:
                x, y = rec, math_ops.divide(tp + epsilon, tp + fp + epsilon)
            if summation_method in ("trapezoidal", "careful_interpolation"):
                heights = (y[: n - 1] + y[1:]) / 2.0
            elif summation_method == "minoring":
                heights = math_ops.minimum(y[: n - 1], y[1:])
            else:
                heights = math_ops.maximum(y[: n - 1], y[1:])
            return math_ops.reduce_sum(math_ops.multiply(x[: n - 1] - x[1:], heights), name=op_name)

        if curve == "PR" and summation_method == "trapezoidal":
            _log.warning(
                "Trapezoidal rule is known to produce incorrect PR-AUCs; please switch to "
                '"careful_interpolation" instead.'
            )
        return _from_counts(compute_auc, values, updates, metrics_collections, updates_collections)


def sensitivity_at_specificity(
    labels,
    predictions,
    specificity,
    weights=None,
    num_thresholds=200,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The recall at the threshold whose specificity is closest to `specificity`."""
    if specificity < 0 or specificity > 1:
        raise ValueError(
            f"`specificity` must be in the range [0, 1]. Currently, `specificity` got {specificity}."
        )
    with variable_scope(name, "sensitivity_at_specificity", (predictions, labels, weights)):
        values, updates = _confusion_matrix_at_thresholds(
            labels, predictions, _default_thresholds(num_thresholds), weights
        )
        kepsilon = 1e-7

        def compute(counts, op_name):
            tp, tn, fp, fn = (counts[k] for k in ("tp", "tn", "fp", "fn"))
            specificities = math_ops.divide(tn, tn + fp + kepsilon)
            i = math_ops.cast(math_ops.argmin(math_ops.abs(specificities - specificity), 0), D.int32)
            tp_i, fn_i = array_ops.gather(tp, i), array_ops.gather(fn, i)
            return math_ops.divide(tp_i, tp_i + fn_i + kepsilon, name=op_name)

        return _from_counts(compute, values, updates, metrics_collections, updates_collections)


def specificity_at_sensitivity(
    labels,
    predictions,
    sensitivity,
    weights=None,
    num_thresholds=200,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The specificity at the threshold whose sensitivity is closest to `sensitivity` (the
    last such threshold, as TF)."""
    if sensitivity < 0 or sensitivity > 1:
        raise ValueError(
            f"`sensitivity` must be in the range [0, 1]. Currently, `sensitivity` got {sensitivity}."
        )
    with variable_scope(name, "specificity_at_sensitivity", (predictions, labels, weights)):
        values, updates = _confusion_matrix_at_thresholds(
            labels, predictions, _default_thresholds(num_thresholds), weights
        )

        def compute(counts, op_name):
            tn, fp = counts["tn"], counts["fp"]
            tp, fn = counts["tp"], counts["fn"]
            sensitivities = math_ops.divide(tp, tp + fn + 1e-7)
            min_val = math_ops.reduce_min(math_ops.abs(sensitivities - sensitivity))
            indices_at_min = math_ops.cast(
                math_ops.equal(math_ops.abs(sensitivities - sensitivity), min_val), D.int32
            )
            # TF takes the largest index at the minimum distance
            positions = array_ops.range_(0, num_thresholds) * indices_at_min - (1 - indices_at_min)
            i = math_ops.reduce_max(positions)
            tn_i, fp_i = array_ops.gather(tn, i), array_ops.gather(fp, i)
            return math_ops.divide(tn_i, tn_i + fp_i + 1e-7, name=op_name)

        return _from_counts(compute, values, updates, metrics_collections, updates_collections)


# ---------------------------------------------------------------------------
# mean IoU
# ---------------------------------------------------------------------------
def mean_iou(
    labels,
    predictions,
    num_classes,
    weights=None,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The mean over classes of intersection / union, from a streaming confusion matrix
    (variable `total_confusion_matrix`, float64 [num_classes, num_classes]). Classes that
    appear in neither labels nor predictions are left out of the mean. update_op returns
    the confusion matrix, as TF's."""
    num_classes = int(num_classes)
    with variable_scope(name, "mean_iou", (predictions, labels, weights)):
        predictions = fops.convert_to_tensor(predictions)
        labels = fops.convert_to_tensor(labels)
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
        total_cm = metric_variable([num_classes, num_classes], D.float64, name="total_confusion_matrix")
        predictions = math_ops.cast(predictions, D.int64)
        labels = math_ops.cast(labels, D.int64)
        if (predictions.shape.ndims or 0) > 1:
            predictions = array_ops.reshape(predictions, [-1])
        if (labels.shape.ndims or 0) > 1:
            labels = array_ops.reshape(labels, [-1])
        if weights is not None:
            weights = fops.convert_to_tensor(weights)
            if (weights.shape.ndims or 0) > 1:
                weights = array_ops.reshape(weights, [-1])
        current = confusion_matrix(labels, predictions, num_classes, weights=weights, dtype=D.float64)
        update_op = state_ops.assign_add(total_cm, current)

        cm = total_cm.value()
        sum_over_row = math_ops.cast(math_ops.reduce_sum(cm, 0), D.float32)
        sum_over_col = math_ops.cast(math_ops.reduce_sum(cm, 1), D.float32)
        diag = array_ops.gather(
            array_ops.reshape(cm, [-1]), [i * (num_classes + 1) for i in range(num_classes)]
        )
        cm_diag = math_ops.cast(diag, D.float32)
        denominator = sum_over_row + sum_over_col - cm_diag
        num_valid = math_ops.reduce_sum(math_ops.cast(math_ops.not_equal(denominator, 0), D.float32))
        denominator = math_ops.where(
            math_ops.greater(denominator, 0), denominator, array_ops.ones_like(denominator)
        )
        iou = math_ops.divide(cm_diag, denominator)
        value = math_ops.where(
            math_ops.greater(num_valid, 0), math_ops.reduce_sum(iou, name="mean_iou") / num_valid, 0.0
        )
        return _publish(value, update_op, metrics_collections, updates_collections)
