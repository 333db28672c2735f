"""sf.losses: weighted losses added to the LOSSES collection (TF1's tf.losses)."""

from __future__ import annotations

from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.ops import array_ops, math_ops, nn_ops


class Reduction:
    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)


def compute_weighted_loss(
    losses,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """losses * weights, reduced as `reduction` says, and added to loss_collection."""
    if reduction not in Reduction.all():
        raise ValueError(f"Invalid Reduction Key {reduction!r}")
    with fops.name_scope(scope, "weighted_loss", [losses]):
        losses = fops.convert_to_tensor(losses)
        dt = losses.dtype
        weights = math_ops.cast(weights, dt)
        weighted = losses * weights
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            total = math_ops.reduce_sum(weighted)
            if reduction == Reduction.SUM:
                loss = total
            elif reduction == Reduction.MEAN:
                loss = _safe_div(total, math_ops.reduce_sum(array_ops.ones_like(losses) * weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_div(total, math_ops.cast(array_ops.size(losses), dt))
            else:
                nonzero = math_ops.cast(math_ops.not_equal(array_ops.ones_like(losses) * weights, 0), dt)
                loss = _safe_div(total, math_ops.reduce_sum(nonzero))
        if loss_collection:
            fops.add_to_collection(loss_collection, loss)
        return loss


def _safe_div(num, den):
    """num / den, and 0 where den is 0 (TF's div_no_nan for loss averaging)."""
    safe = math_ops.where_v2(math_ops.equal(den, 0), array_ops.ones_like(den), den)
    return math_ops.where_v2(math_ops.equal(den, 0), array_ops.zeros_like(num), num / safe)


def mean_squared_error(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    with fops.name_scope(scope, "mean_squared_error", [predictions, labels]):
        predictions = fops.convert_to_tensor(predictions)
        labels = math_ops.cast(labels, predictions.dtype)
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
        return compute_weighted_loss(
            math_ops.squared_difference(predictions, labels), weights, None, loss_collection, reduction
        )


def absolute_difference(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    with fops.name_scope(scope, "absolute_difference", [predictions, labels]):
        predictions = fops.convert_to_tensor(predictions)
        labels = math_ops.cast(labels, predictions.dtype)
        return compute_weighted_loss(
            math_ops.abs(predictions - labels), weights, None, loss_collection, reduction
        )


def softmax_cross_entropy(
    onehot_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    with fops.name_scope(scope, "softmax_cross_entropy_loss", [logits, onehot_labels]):
        logits = fops.convert_to_tensor(logits)
        labels = math_ops.cast(onehot_labels, logits.dtype)
        if label_smoothing > 0:
            k = math_ops.cast(array_ops.shape(labels)[-1], logits.dtype)
            labels = labels * (1 - label_smoothing) + label_smoothing / k
        losses = nn_ops.softmax_cross_entropy_with_logits_v2(
            labels=array_ops.stop_gradient(labels), logits=logits
        )
        return compute_weighted_loss(losses, weights, None, loss_collection, reduction)


def sparse_softmax_cross_entropy(
    labels,
    logits,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    with fops.name_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels]):
        losses = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return compute_weighted_loss(losses, weights, None, loss_collection, reduction)


def sigmoid_cross_entropy(
    multi_class_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    with fops.name_scope(scope, "sigmoid_cross_entropy_loss", [logits, multi_class_labels]):
        logits = fops.convert_to_tensor(logits)
        labels = math_ops.cast(multi_class_labels, logits.dtype)
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return compute_weighted_loss(losses, weights, None, loss_collection, reduction)


def add_loss(loss, loss_collection=GraphKeys.LOSSES) -> None:
    if loss_collection:
        fops.add_to_collection(loss_collection, loss)


def get_losses(scope=None, loss_collection=GraphKeys.LOSSES) -> list:
    return fops.get_collection(loss_collection, scope)


def get_regularization_losses(scope=None) -> list:
    return fops.get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return array_ops.constant(0.0, name=name)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise ValueError("No losses to sum")
    return math_ops.add_n(losses, name=name)
