"""sf.confusion_matrix (TF's tf.math.confusion_matrix), the squeeze of a trailing size-1
dimension that TF's metrics apply to labels and predictions, and run-time checks of a
condition over a tensor's values (what TF's check_ops asserts do for the metrics)."""

from __future__ import annotations

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import array_ops, logging_ops, math_ops

D = dtypes


def assert_all(condition, message: str, name: str | None = None) -> fops.Tensor:
    """A float32 scalar whose computation fails the run with InvalidArgumentError
    "<message> : ..." when any element of the bool tensor `condition` is False.

    Make the values it guards depend on it (control dependencies), as TF's asserts."""
    with fops.name_scope(name, "assert_all", [condition]):
        # 1 when every element holds, else 0; an empty condition holds (its min, +inf, is capped)
        ok = math_ops.minimum(math_ops.reduce_min(math_ops.cast(condition, D.float32)), 1.0)
        return logging_ops.check_numerics(math_ops.log(ok), f"{message} (the check failed)")


def with_checks(checks: list, value):
    """value, computed after the given checks (an Identity with control dependencies)."""
    with fops.control_dependencies(checks):
        return array_ops.identity(value)


def remove_squeezable_dimensions(labels, predictions, expected_rank_diff=0, name=None):
    """(labels, predictions) with a trailing size-1 dimension squeezed from the one whose rank
    exceeds the other's by one more than expected_rank_diff. Ranks must be known for any
    squeeze; otherwise both are returned as they are."""
    with fops.name_scope(name, "remove_squeezable_dimensions", [labels, predictions]):
        predictions = fops.convert_to_tensor(predictions)
        labels = fops.convert_to_tensor(labels)
        ps, ls = predictions.shape, labels.shape
        if ps.ndims is not None and ls.ndims is not None:
            diff = ps.ndims - ls.ndims
            if diff == expected_rank_diff + 1 and ps[-1].is_compatible_with(1):
                predictions = array_ops.squeeze(predictions, [-1])
            elif diff == expected_rank_diff - 1 and ls[-1].is_compatible_with(1):
                labels = array_ops.squeeze(labels, [-1])
        return labels, predictions


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=D.int32, name=None):
    """[num_classes, num_classes] counts (or summed weights) of (label, prediction) pairs:
    rows are labels, columns predictions. labels and predictions are class ids in
    [0, num_classes); a value outside fails the run. num_classes=None takes
    max(labels, predictions) + 1, which must then be known when the run is planned."""
    dtype = D.as_dtype(dtype)
    with fops.name_scope(name, "confusion_matrix", [predictions, labels, weights]):
        labels, predictions = remove_squeezable_dimensions(
            fops.convert_to_tensor(labels, name="labels"),
            fops.convert_to_tensor(predictions, name="predictions"),
        )
        predictions = math_ops.cast(predictions, D.int64)
        labels = math_ops.cast(labels, D.int64)
        checks = [
            assert_all(labels >= 0, "`labels` contains negative values"),
            assert_all(predictions >= 0, "`predictions` contains negative values"),
        ]
        if num_classes is None:
            n = math_ops.maximum(math_ops.reduce_max(predictions), math_ops.reduce_max(labels)) + 1
        else:
            n = math_ops.cast(num_classes, D.int64)
            checks += [
                assert_all(labels < n, "`labels` out of bound"),
                assert_all(predictions < n, "`predictions` out of bound"),
            ]
        labels, predictions = with_checks(checks, labels), with_checks(checks, predictions)
        if weights is not None:
            weights = fops.convert_to_tensor(weights, name="weights")
            if not predictions.shape.is_compatible_with(weights.shape):
                raise ValueError(
                    f"weights of shape {weights.shape} do not match predictions of {predictions.shape}"
                )
            values = math_ops.cast(weights, dtype)
        else:
            values = array_ops.ones_like(predictions, dtype=dtype)
        ids = array_ops.reshape(labels * n + predictions, [-1])
        counts = array_ops.unsorted_segment_sum(array_ops.reshape(values, [-1]), ids, n * n)
        return array_ops.reshape(counts, array_ops.stack([n, n]))
