"""The layer functions (TF1 signatures)."""

from __future__ import annotations

import numpy as np

from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.framework.smart_cond import smart_cond, smart_constant_value
from staticflow.ops import array_ops, init_ops, math_ops, nn_impl, nn_ops, state_ops, variable_scope

vs = variable_scope


def dense(
    inputs,
    units,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """activation(inputs @ kernel + bias) over the last dimension."""
    inputs = fops.convert_to_tensor(inputs)
    in_dim = inputs.shape[-1].value
    if in_dim is None:
        raise ValueError("The last dimension of the inputs to `dense` should be defined. Found `None`.")
    with vs.variable_scope(name, default_name="dense", reuse=reuse):
        kernel = vs.get_variable(
            "kernel",
            [in_dim, units],
            dtype=inputs.dtype,
            initializer=kernel_initializer,
            regularizer=kernel_regularizer,
            trainable=trainable,
        )
        rank = inputs.shape.ndims
        if rank == 2:
            out = math_ops.matmul(inputs, kernel)
        else:
            flat = array_ops.reshape(inputs, [-1, in_dim])
            out_shape = array_ops.concat([array_ops.shape(inputs)[:-1], [units]], 0)
            out = array_ops.reshape(math_ops.matmul(flat, kernel), out_shape)
            out.set_shape(inputs.shape[:-1].concatenate([units]))
        if use_bias:
            bias = vs.get_variable(
                "bias",
                [units],
                dtype=inputs.dtype,
                initializer=bias_initializer or init_ops.zeros_initializer(),
                regularizer=bias_regularizer,
                trainable=trainable,
            )
            out = nn_ops.bias_add(out, bias)
        return activation(out) if activation is not None else out


def flatten(inputs, name=None, data_format="channels_last"):
    """[batch, ...] -> [batch, prod(...)]."""
    with fops.name_scope(name, "flatten", [inputs]):
        inputs = fops.convert_to_tensor(inputs)
        rest = inputs.shape.as_list()[1:] if inputs.shape.ndims is not None else None
        if rest is not None and all(d is not None for d in rest):
            return array_ops.reshape(inputs, [-1, int(np.prod(rest, dtype=np.int64))])
        return array_ops.reshape(inputs, array_ops.stack([array_ops.shape(inputs)[0], -1]))


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Dropout active only when `training` (a bool or a boolean tensor) is true.

    The result keeps the inputs' static shape whatever `training` is, so the next layer builds.
    """
    with fops.name_scope(name, "dropout", [inputs]):
        inputs = fops.convert_to_tensor(inputs)
        return smart_cond(
            training,
            lambda: nn_impl.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed),
            lambda: array_ops.identity(inputs),
        )


def conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """2-d convolution layer (channels_last = NHWC, channels_first = NCHW)."""
    inputs = fops.convert_to_tensor(inputs)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    dh, dw = (dilation_rate, dilation_rate) if isinstance(dilation_rate, int) else dilation_rate
    nhwc = data_format == "channels_last"
    in_ch = inputs.shape[-1 if nhwc else 1].value
    if in_ch is None:
        raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
    with vs.variable_scope(name, default_name="conv2d", reuse=reuse):
        kernel = vs.get_variable(
            "kernel",
            [kh, kw, in_ch, filters],
            dtype=inputs.dtype,
            initializer=kernel_initializer,
            regularizer=kernel_regularizer,
            trainable=trainable,
        )
        fmt = "NHWC" if nhwc else "NCHW"
        st = [1, sh, sw, 1] if nhwc else [1, 1, sh, sw]
        dl = [1, dh, dw, 1] if nhwc else [1, 1, dh, dw]
        from staticflow import nn

        out = nn.conv2d(inputs, kernel, strides=st, padding=padding.upper(), data_format=fmt, dilations=dl)
        if use_bias:
            bias = vs.get_variable(
                "bias",
                [filters],
                dtype=inputs.dtype,
                initializer=bias_initializer or init_ops.zeros_initializer(),
                regularizer=bias_regularizer,
                trainable=trainable,
            )
            out = nn_ops.bias_add(out, bias, data_format=fmt)
        return activation(out) if activation is not None else out


def _pool(kind, inputs, pool_size, strides, padding, data_format, name):
    from staticflow import nn

    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    nhwc = data_format == "channels_last"
    ksize = [1, ph, pw, 1] if nhwc else [1, 1, ph, pw]
    st = [1, sh, sw, 1] if nhwc else [1, 1, sh, sw]
    fn = nn.max_pool if kind == "max" else nn.avg_pool
    return fn(inputs, ksize, st, padding.upper(), data_format="NHWC" if nhwc else "NCHW", name=name)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format, name)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    return _pool("avg", inputs, pool_size, strides, padding, data_format, name)


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=None,
    gamma_initializer=None,
    moving_mean_initializer=None,
    moving_variance_initializer=None,
    beta_regularizer=None,
    gamma_regularizer=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    **kwargs,
):
    """Batch normalization over all axes but `axis`.

    Training normalizes with the batch's statistics and adds the moving-average
    updates (moving = moving * momentum + batch * (1 - momentum)) to UPDATE_OPS,
    which the train op must depend on, as in TF1; inference uses the moving
    statistics. `training` may be a Python bool or a boolean tensor.
    """
    inputs = fops.convert_to_tensor(inputs)
    r = inputs.shape.ndims
    if r is None:
        raise ValueError("batch_normalization needs inputs of known rank")
    if not -r <= axis < r:
        raise ValueError(f"batch_normalization: axis {axis} is out of range for inputs of rank {r}")
    ax = axis % r
    ch = inputs.shape[ax].value
    if ch is None:
        raise ValueError(f"The dimension {ax} of the inputs to batch_normalization must be known")
    red = [i for i in range(r) if i != ax]
    bshape = [1] * r
    bshape[ax] = ch
    dt = inputs.dtype
    beta_initializer = beta_initializer or init_ops.zeros_initializer()
    gamma_initializer = gamma_initializer or init_ops.ones_initializer()
    moving_mean_initializer = moving_mean_initializer or init_ops.zeros_initializer()
    moving_variance_initializer = moving_variance_initializer or init_ops.ones_initializer()
    with vs.variable_scope(name, default_name="batch_normalization", reuse=reuse):
        gamma = (
            vs.get_variable("gamma", [ch], dt, gamma_initializer, gamma_regularizer, trainable)
            if scale
            else None
        )
        beta = (
            vs.get_variable("beta", [ch], dt, beta_initializer, beta_regularizer, trainable)
            if center
            else None
        )
        moving_mean = vs.get_variable("moving_mean", [ch], dt, moving_mean_initializer, trainable=False)
        moving_var = vs.get_variable(
            "moving_variance", [ch], dt, moving_variance_initializer, trainable=False
        )

        def normalize(mean, var):
            return nn_impl.batch_normalization(
                inputs,
                array_ops.reshape(mean, bshape),
                array_ops.reshape(var, bshape),
                array_ops.reshape(beta, bshape) if beta is not None else None,
                array_ops.reshape(gamma, bshape) if gamma is not None else None,
                epsilon,
            )

        if smart_constant_value(training) is False:
            return normalize(moving_mean.value(), moving_var.value())
        mean, var = nn_impl.moments(inputs, red)
        n = math_ops.cast(array_ops.size(inputs) // max(ch, 1), dt)
        unbiased = var * n / math_ops.maximum(n - 1, 1)
        decay = 1.0 - momentum
        # the batch's statistics when training, the moving ones otherwise; a boolean tensor
        # picks at run time, and the moving averages then move by zero when it is false
        mean = smart_cond(training, lambda: mean, lambda: moving_mean.value())
        var = smart_cond(training, lambda: var, lambda: moving_var.value())
        target_v = smart_cond(training, lambda: unbiased, lambda: moving_var.value())
        upd_m = state_ops.assign_sub(moving_mean, (moving_mean.value() - mean) * decay)
        upd_v = state_ops.assign_sub(moving_var, (moving_var.value() - target_v) * decay)
        fops.add_to_collections([GraphKeys.UPDATE_OPS], upd_m.op)
        fops.add_to_collections([GraphKeys.UPDATE_OPS], upd_v.op)
        out = normalize(mean, var)
        out.set_shape(inputs.shape)
        return out


def layer_normalization(
    inputs, axis=-1, epsilon=1e-3, center=True, scale=True, trainable=True, name=None, reuse=None
):
    """Normalize each example over `axis` (default: the last), then scale and shift."""
    inputs = fops.convert_to_tensor(inputs)
    dim = inputs.shape[axis].value
    if dim is None:
        raise ValueError("layer_normalization needs the normalized dimension to be known")
    with vs.variable_scope(name, default_name="layer_normalization", reuse=reuse):
        gamma = (
            vs.get_variable("gamma", [dim], inputs.dtype, init_ops.ones_initializer(), trainable=trainable)
            if scale
            else None
        )
        beta = (
            vs.get_variable("beta", [dim], inputs.dtype, init_ops.zeros_initializer(), trainable=trainable)
            if center
            else None
        )
        mean, var = nn_impl.moments(inputs, [axis], keep_dims=True)
        return nn_impl.batch_normalization(inputs, mean, var, beta, gamma, epsilon)
