"""Neural-network functions composed from ops: moments, normalization, dropout, attention,
embeddings. Their gradients come from the ops they are made of."""

from __future__ import annotations

import numpy as np

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, math_ops, nn_ops, random_ops


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over axes (population variance, as TF)."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with fops.name_scope(name, "moments", [x]):
        x = fops.convert_to_tensor(x)
        mean = math_ops.reduce_mean(x, axes, keepdims=True, name="mean")
        variance = math_ops.reduce_mean(
            math_ops.squared_difference(x, array_ops.stop_gradient(mean)),
            axes,
            keepdims=True,
            name="variance",
        )
        if not keep:
            mean = array_ops.squeeze(mean, list(axes))
            variance = array_ops.squeeze(variance, list(axes))
        return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset (offset and scale may be None)."""
    with fops.name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        inv = math_ops.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        shift = (offset - mean * inv) if offset is not None else -mean * inv
        return x * math_ops.cast(inv, x.dtype) + math_ops.cast(shift, x.dtype)


def fused_batch_norm(
    x,
    scale,
    offset,
    mean=None,
    variance=None,
    epsilon=0.001,
    data_format="NHWC",
    is_training=True,
    name=None,
    exponential_avg_factor=1.0,
):
    """Batch norm over all axes but the channel: (y, batch mean, batch variance) when training,
    (y, mean, variance) with the given statistics otherwise. The returned training variance is
    the unbiased (n - 1) estimate, as TensorFlow's."""
    with fops.name_scope(name, "FusedBatchNorm", [x, scale, offset]):
        x = fops.convert_to_tensor(x)
        r = x.shape.ndims
        if r != 4:
            raise ValueError(f"fused_batch_norm needs a 4-d input, got shape {x.shape}")
        channel = 3 if data_format == "NHWC" else 1
        axes = [i for i in range(4) if i != channel]

        def bshape(v):
            return v if data_format == "NHWC" else array_ops.reshape(v, [-1, 1, 1])

        if is_training:
            if mean is not None or variance is not None:
                raise ValueError("fused_batch_norm computes the statistics when training; pass mean=None")
            m, v = moments(x, axes)
            # elements per channel (a zero channel count divides nothing)
            n = math_ops.cast(array_ops.size(x) // math_ops.maximum(array_ops.shape(x)[channel], 1), x.dtype)
            y = batch_normalization(x, bshape(m), bshape(v), bshape(offset), bshape(scale), epsilon)
            return y, m, v * n / math_ops.maximum(n - 1, 1)
        if mean is None or variance is None:
            raise ValueError("fused_batch_norm in inference needs mean and variance")
        y = batch_normalization(x, bshape(mean), bshape(variance), bshape(offset), bshape(scale), epsilon)
        return y, fops.convert_to_tensor(mean), fops.convert_to_tensor(variance)


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Zero each element with probability 1 - keep_prob and scale the rest by 1 / keep_prob.

    TF1's sf.nn.dropout: applied whenever it runs (feed keep_prob 1.0 to evaluate).
    Give keep_prob (second argument) or rate = 1 - keep_prob.
    """
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout needs exactly one of keep_prob and rate")
    with fops.name_scope(name, "dropout", [x]):
        x = fops.convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise ValueError(f"dropout needs a floating point tensor, got {x.dtype.name}")
        keep = (
            (1 - fops.convert_to_tensor(rate, dtype=x.dtype))
            if rate is not None
            else fops.convert_to_tensor(keep_prob, dtype=x.dtype)
        )
        if keep.shape.ndims not in (None, 0):
            raise ValueError(
                f"dropout: {'rate' if rate is not None else 'keep_prob'} must be a scalar, got shape "
                f"{keep.shape}"
            )
        kv = None
        if not isinstance(keep_prob if rate is None else rate, fops.Tensor):
            kv = float(keep_prob) if rate is None else 1.0 - float(rate)
            if not 0 < kv <= 1:
                raise ValueError(f"keep_prob must be in (0, 1], got {kv}")
            if kv == 1.0:
                return x
        shape = noise_shape if noise_shape is not None else array_ops.shape(x)
        u = random_ops.random_uniform(shape, dtype=x.dtype, seed=seed)
        # 1 with probability keep. Not floor(u + keep): u reaches 1 - 2^-24, and with keep
        # 1.0 fed, 1 + u rounds to 2.0, which doubled that element
        mask = math_ops.cast(math_ops.greater_equal(u, 1 - keep), x.dtype)
        out = x / keep * mask
        # keep is a scalar and the mask broadcasts to x: x's shape, even where keep's static
        # shape (an unshaped placeholder) or the noise shape is unknown
        out.set_shape(x.shape)
        return out


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """Rows of params for ids. params may be a list of shards of one table (TF's partitioned
    embeddings): with "mod", id i lives in shard i % n at row i // n; with "div", shards
    hold consecutive ids, the first (total % n) shards one row more than the rest."""
    shards = list(params) if isinstance(params, (list, tuple)) else [params]
    if not shards:
        raise ValueError("embedding_lookup needs at least one parameter tensor")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"Unrecognized partition strategy: {partition_strategy}")
    with fops.name_scope(name, "embedding_lookup", shards + [ids]):
        if len(shards) == 1:
            out = array_ops.gather(shards[0], ids)
        else:
            out = _sharded_lookup([fops.convert_to_tensor(p) for p in shards], ids, partition_strategy)
        if max_norm is not None:
            norm = math_ops.sqrt(math_ops.reduce_sum(math_ops.square(out), -1, keepdims=True))
            out = out * math_ops.minimum(1.0, max_norm / math_ops.maximum(norm, 1e-12))
        return out


def _sharded_lookup(shards, ids, strategy):
    """Gather from the shards concatenated, at each id's row in the concatenation."""
    ids = fops.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"embedding_lookup: ids must be integers, got {ids.dtype.name}")
    n = len(shards)
    flat = array_ops.reshape(ids, [-1])
    sizes = [math_ops.cast(array_ops.shape(p)[0], ids.dtype) for p in shards]
    if strategy == "mod":
        part, row = flat % n, flat // n
    else:
        total = math_ops.add_n(sizes)
        per, extras = total // n, total % n
        part = math_ops.maximum(flat // (per + 1), (flat - extras) // per)
        row = math_ops.where(part < extras, flat % (per + 1), (flat - extras) % per)
    offsets = _offsets(sizes, ids.dtype)
    rows = array_ops.gather(array_ops.concat(shards, 0), array_ops.gather(offsets, part) + row)
    out_shape = array_ops.concat([array_ops.shape(ids), array_ops.shape(shards[0])[1:]], 0)
    out = array_ops.reshape(rows, out_shape)
    if ids.shape.ndims is not None and shards[0].shape.ndims is not None:
        out.set_shape(ids.shape.concatenate(shards[0].shape[1:]))  # as TF's static shape
    return out


def _offsets(sizes, dtype):
    """[0, s0, s0 + s1, ...]: where each shard starts in the concatenation (one per shard)."""
    starts = [array_ops.zeros([], dtype)]
    for s in sizes[:-1]:
        starts.append(starts[-1] + s)
    return array_ops.stack(starts)


def scaled_dot_product_attention(q, k, v, mask=None, name=None):
    """softmax(q k^T / sqrt(d) + mask) v over the last two dims; mask is added (use large
    negative values, or pass a boolean mask where True means keep)."""
    with fops.name_scope(name, "attention", [q, k, v]):
        q = fops.convert_to_tensor(q)
        d = q.shape[-1].value
        if d is None:
            raise ValueError("the last dimension of q must be known")
        scores = math_ops.matmul(q, k, transpose_b=True) * (1.0 / np.sqrt(d))
        if mask is not None:
            mask = fops.convert_to_tensor(mask)
            if mask.dtype.is_bool:
                mask = math_ops.where_v2(
                    mask, array_ops.zeros_like(scores), array_ops.ones_like(scores) * -1e9
                )
            scores = scores + math_ops.cast(mask, scores.dtype)
        return math_ops.matmul(nn_ops.softmax(scores), v)
