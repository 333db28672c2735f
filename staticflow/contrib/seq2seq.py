"""sf.contrib.seq2seq: sequence_loss (TF1's tf.contrib.seq2seq.sequence_loss).

The decoders, helpers and attention mechanisms of tf.contrib.seq2seq are not
provided: using one raises an error that names it.
"""

from __future__ import annotations

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, math_ops, nn_ops

__all__ = ["sequence_loss"]


def _div_no_nan(x, y):
    """x / y, 0 where y is 0 (and a zero gradient there)."""
    zero = math_ops.equal(y, 0)
    safe = math_ops.where_v2(zero, array_ops.ones_like(y), y)
    return math_ops.where_v2(zero, array_ops.zeros_like(x / safe), x / safe)


def _count_nonzero(w, axis=None, dtype=None):
    return math_ops.reduce_sum(math_ops.cast(math_ops.not_equal(w, 0), dtype), axis=axis)


def sequence_loss(
    logits,
    targets,
    weights,
    average_across_timesteps=True,
    average_across_batch=True,
    sum_over_timesteps=False,
    sum_over_batch=False,
    softmax_loss_function=None,
    name=None,
):
    """Weighted cross-entropy of [batch, time, classes] logits against [batch, time] targets.

    By default the weighted sum divided by the sum of the weights (a scalar); averaging over
    only one of time or batch gives a [batch] or [time] vector, neither a [batch, time]
    matrix. The sum_over_* options divide by the count of non-zero weights instead.
    """
    logits = fops.convert_to_tensor(logits)
    targets = fops.convert_to_tensor(targets)
    weights = fops.convert_to_tensor(weights)
    if logits.shape.ndims != 3:
        raise ValueError("Logits must be a [batch_size x sequence_length x logits] tensor")
    if targets.shape.ndims != 2:
        raise ValueError("Targets must be a [batch_size x sequence_length] tensor")
    if weights.shape.ndims != 2:
        raise ValueError("Weights must be a [batch_size x sequence_length] tensor")
    if average_across_timesteps and sum_over_timesteps:
        raise ValueError(
            "average_across_timesteps and sum_over_timesteps cannot be set to True at same time."
        )
    if average_across_batch and sum_over_batch:
        raise ValueError("average_across_batch and sum_over_batch cannot be set to True at same time.")
    with fops.name_scope(name, "sequence_loss", [logits, targets, weights]):
        num_classes = array_ops.shape(logits)[2]
        logits_flat = array_ops.reshape(logits, array_ops.stack([-1, num_classes]))
        targets = array_ops.reshape(targets, [-1])
        if softmax_loss_function is None:
            crossent = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits_flat)
        else:
            crossent = softmax_loss_function(labels=targets, logits=logits_flat)
        crossent = crossent * array_ops.reshape(weights, [-1])
        if average_across_timesteps and average_across_batch:
            return _div_no_nan(math_ops.reduce_sum(crossent), math_ops.reduce_sum(weights))
        if sum_over_timesteps and sum_over_batch:
            return _div_no_nan(math_ops.reduce_sum(crossent), _count_nonzero(weights, dtype=crossent.dtype))
        crossent = array_ops.reshape(crossent, array_ops.shape(logits)[0:2])
        if average_across_timesteps or average_across_batch:
            axis = [0] if average_across_batch else [1]
            return _div_no_nan(
                math_ops.reduce_sum(crossent, axis=axis), math_ops.reduce_sum(weights, axis=axis)
            )
        if sum_over_timesteps or sum_over_batch:
            axis = [0] if sum_over_batch else [1]
            count = _count_nonzero(weights, axis=axis, dtype=crossent.dtype)
            return _div_no_nan(math_ops.reduce_sum(crossent, axis=axis), count)
        return crossent


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"sf.contrib.seq2seq.{name} is not provided by staticflow: of tf.contrib.seq2seq (a library of "
        "decoders and attention mechanisms) only sequence_loss is"
    )
