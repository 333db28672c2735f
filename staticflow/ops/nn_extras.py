"""Everyday sf.nn and sf.math functions of TF1 that compose from existing ops: xw_plus_b,
zero_fraction, batch_norm_with_global_normalization, l2_normalize, the weighted and
Poisson losses, moments from sufficient statistics, softsign, swish, crelu and
div_no_nan. Each follows TensorFlow's formula, so values match it to rounding; the
gradients come from the ops they are made of."""

from __future__ import annotations

import math

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import array_ops, builder, math_ops, nn_impl, nn_ops

D = dtypes


def named_as_scope(op_type: str, inputs: list, attrs, scope: str) -> fops.Tensor:
    """Output 0 of a new op named exactly `scope` without its '/' (TF's `name=scope` idiom)."""
    return builder.apply_op(op_type, inputs, attrs, name=scope[:-1], exact_name=True).outputs[0]


def div_no_nan(x, y, name=None):
    """x / y, or 0 wherever y is 0 (even where x is 0, Inf or NaN)."""
    with fops.name_scope(name, "div_no_nan", [x, y]) as scope:
        x = fops.convert_to_tensor(x)
        y = fops.convert_to_tensor(y, dtype=x.dtype)
        if not x.dtype.is_floating:
            raise TypeError(f"div_no_nan needs floating-point tensors, got {x.dtype.name}")
        zero = math_ops.equal(y, array_ops.zeros([], y.dtype))
        safe_y = math_ops.where_v2(zero, array_ops.ones([], y.dtype), y)
        quotient = math_ops.truediv(x, safe_y)
        return named_as_scope("SelectV2", [zero, array_ops.zeros([], x.dtype), quotient], None, scope)


def xw_plus_b(x, weights, biases, name=None):
    """matmul(x, weights) + biases, the biases added along the last dimension."""
    with fops.name_scope(name, "xw_plus_b", [x, weights, biases]) as scope:
        x = fops.convert_to_tensor(x, name="x")
        weights = fops.convert_to_tensor(weights, name="weights")
        biases = fops.convert_to_tensor(biases, name="biases")
        mm = math_ops.matmul(x, weights)
        return named_as_scope("BiasAdd", [mm, biases], {"data_format": "NHWC"}, scope)


def relu_layer(x, weights, biases, name=None):
    """relu(matmul(x, weights) + biases)."""
    with fops.name_scope(name, "relu_layer", [x, weights, biases]) as scope:
        x = fops.convert_to_tensor(x, name="x")
        weights = fops.convert_to_tensor(weights, name="weights")
        biases = fops.convert_to_tensor(biases, name="biases")
        z = nn_ops.bias_add(math_ops.matmul(x, weights), biases)
        return named_as_scope("Relu", [z], None, scope)


def zero_fraction(value, name=None):
    """The fraction of value's entries that are zero, as a float32 scalar (the sparsity of
    an activation, for summaries)."""
    with fops.name_scope(name, "zero_fraction", [value]):
        value = fops.convert_to_tensor(value, name="value")
        size = array_ops.size(value, out_type=D.int64)
        with fops.name_scope("count_nonzero"):
            zero = array_ops.zeros([], value.dtype)
            nonzero = math_ops.reduce_sum(
                math_ops.cast(math_ops.not_equal(value, zero), D.int64), name="nonzero_count"
            )
        with fops.name_scope("counts_to_fraction"):
            num_zero = math_ops.cast(size - nonzero, D.float32)
            fraction = num_zero / math_ops.cast(size, D.float32)
        return array_ops.identity(fraction, name="fraction")


def batch_norm_with_global_normalization(
    t=None,
    m=None,
    v=None,
    beta=None,
    gamma=None,
    variance_epsilon=None,
    scale_after_normalization=None,
    name=None,
    input=None,  # noqa: A002 - TF's name
    mean=None,
    variance=None,
):
    """TF1's old batch normalization with given statistics: (t - m) / sqrt(v + epsilon), times
    gamma when scale_after_normalization, plus beta (t, m, v also as input, mean, variance)."""
    t = _one_of("input", input, "t", t)
    m = _one_of("mean", mean, "m", m)
    v = _one_of("variance", variance, "v", v)
    if variance_epsilon is None or scale_after_normalization is None:
        raise TypeError(
            "batch_norm_with_global_normalization needs variance_epsilon and scale_after_normalization"
        )
    return nn_impl.batch_normalization(
        t, m, v, beta, gamma if scale_after_normalization else None, variance_epsilon, name
    )


def _one_of(new_name, new, old_name, old):
    if new is not None and old is not None:
        raise ValueError(f"Cannot specify both '{new_name}' and '{old_name}'")
    return new if new is not None else old


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon)) (axis None: all axes)."""
    axis = _one_of("axis", axis, "dim", dim)
    with fops.name_scope(name, "l2_normalize", [x]) as scope:
        x = fops.convert_to_tensor(x, name="x")
        square_sum = math_ops.reduce_sum(math_ops.square(x), axis, keepdims=True)
        inv_norm = math_ops.rsqrt(math_ops.maximum(square_sum, epsilon))
        return named_as_scope("Mul", [x, inv_norm], None, scope)


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None, targets=None):
    """sigmoid_cross_entropy_with_logits with the positive term weighted by pos_weight."""
    labels = _one_of("labels", labels, "targets", targets)
    with fops.name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = fops.convert_to_tensor(logits, name="logits")
        labels = fops.convert_to_tensor(labels, name="labels", dtype=logits.dtype)
        if not labels.shape.is_compatible_with(logits.shape):
            raise ValueError(
                "`logits` and `labels` must have the same shape, received "
                f"({logits.shape} vs {labels.shape})."
            )
        log_weight = 1 + (pos_weight - 1) * labels
        soft = math_ops.log1p(math_ops.exp(-math_ops.abs(logits))) + nn_ops.relu(-logits)
        return named_as_scope("AddV2", [(1 - labels) * logits, log_weight * soft], None, scope)


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """exp(log_input) - log_input * targets, plus Stirling's term when compute_full_loss."""
    with fops.name_scope(name, "log_poisson_loss", [log_input, targets]):
        log_input = fops.convert_to_tensor(log_input, name="log_input")
        targets = fops.convert_to_tensor(targets, name="targets", dtype=log_input.dtype)
        if not targets.shape.is_compatible_with(log_input.shape):
            raise ValueError(
                f"`log_input` and `targets` must have the same shape, received ({log_input.shape} vs "
                f"{targets.shape})."
            )
        result = math_ops.exp(log_input) - log_input * targets
        if compute_full_loss:
            dt = targets.dtype
            stirling = (
                targets * math_ops.log(targets)
                - targets
                + array_ops.constant(0.5, dtype=dt)
                * math_ops.log(array_ops.constant(2 * math.pi, dt) * targets)
            )
            zeros = array_ops.zeros_like(targets)
            ones = array_ops.ones_like(targets)
            small = math_ops.logical_and(targets >= zeros, targets <= ones)
            result += math_ops.where(small, zeros, stirling)
        return result


def sufficient_statistics(x, axes, shift=None, keep_dims=None, name=None, keepdims=None):
    """(count, sum of x - shift, sum of (x - shift) ** 2, shift) over axes: the parts of
    moments that add across batches (see normalize_moments)."""
    axes = sorted(set(axes))
    keep = bool(_one_of("keepdims", keepdims, "keep_dims", keep_dims))
    with fops.name_scope(name, "sufficient_statistics", [x, shift]):
        x = fops.convert_to_tensor(x, name="x")
        dims = x.shape.as_tuple() if x.shape.ndims is not None else None
        if dims is not None and all(dims[d] is not None for d in axes):
            count = 1
            for d in axes:
                count *= dims[d]
            counts = array_ops.constant(count, dtype=x.dtype)
        else:
            rank = array_ops.rank(x)
            positive = array_ops.stack([a + rank if a < 0 else array_ops.constant(a) for a in axes])
            counts = math_ops.reduce_prod(
                array_ops.gather(math_ops.cast(array_ops.shape(x), x.dtype), positive), name="count"
            )
        if shift is not None:
            shift = fops.convert_to_tensor(shift, name="shift", dtype=x.dtype)
            m_ss, v_ss = x - shift, math_ops.squared_difference(x, shift)
        else:
            m_ss, v_ss = x, math_ops.square(x)
        m_ss = math_ops.reduce_sum(m_ss, axes, keepdims=keep, name="mean_ss")
        v_ss = math_ops.reduce_sum(v_ss, axes, keepdims=keep, name="var_ss")
    return counts, m_ss, v_ss, shift


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from sufficient_statistics' sums."""
    with fops.name_scope(name, "normalize", [counts, mean_ss, variance_ss, shift]):
        divisor = math_ops.reciprocal(counts, name="divisor")
        if shift is not None:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="shifted_mean")
            mean = math_ops.add(shifted_mean, shift, name="mean")
        else:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="mean")
            mean = shifted_mean
        variance = math_ops.subtract(
            math_ops.multiply(variance_ss, divisor), math_ops.square(shifted_mean), name="variance"
        )
    return mean, variance


def weighted_moments(x, axes, frequency_weights, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over axes, each entry counted frequency_weights times."""
    keep = bool(_one_of("keepdims", keepdims, "keep_dims", keep_dims))
    with fops.name_scope(name, "weighted_moments", [x, frequency_weights, axes]):
        x = fops.convert_to_tensor(x, name="x")
        w = math_ops.cast(fops.convert_to_tensor(frequency_weights, name="frequency_weights"), x.dtype)
        wsum = math_ops.reduce_sum(w * x, axes, keepdims=True, name="weighted_input_sum")
        sum_w = math_ops.reduce_sum(w + array_ops.zeros_like(x), axes, keepdims=True, name="sum_of_weights")
        mean = div_no_nan(wsum, sum_w)
        distsq = math_ops.reduce_sum(
            w * math_ops.squared_difference(x, mean), axes, keepdims=True, name="weighted_distsq"
        )
        variance = div_no_nan(distsq, sum_w)
        if not keep:
            mean = array_ops.squeeze(mean, list(axes))
            variance = array_ops.squeeze(variance, list(axes))
        return mean, variance


def softsign(features, name=None):
    """features / (1 + |features|)."""
    with fops.name_scope(name, "Softsign", [features]):
        features = fops.convert_to_tensor(features)
        return features / (1 + math_ops.abs(features))


def swish(features, beta=1.0, name=None):
    """features * sigmoid(beta * features) (also called SiLU)."""
    with fops.name_scope(name, "swish", [features]):
        features = fops.convert_to_tensor(features, name="features")
        beta = math_ops.cast(fops.convert_to_tensor(beta, name="beta"), features.dtype)
        return features * math_ops.sigmoid(beta * features)


def crelu(features, name=None, axis=-1):
    """relu of features and of -features, concatenated along axis."""
    with fops.name_scope(name, "CRelu", [features]):
        features = fops.convert_to_tensor(features, name="features")
        return nn_ops.relu(array_ops.concat([features, -features], axis))
