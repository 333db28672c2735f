"""sf.contrib.layers: the parts of TF1's tf.contrib.layers that were thin layers over core TF1.

TF1's contrib defaults differ from tf.layers and are kept: `fully_connected` and
`conv2d` apply relu unless activation_fn=None, initialize weights with
xavier_initializer, name their variables `weights`/`biases` (in MODEL_VARIABLES
too) and their scopes "fully_connected", "Conv", "Conv2d_transpose",
"BatchNorm", "LayerNorm"; `batch_norm` has decay 0.999 and no gamma
(scale=False) by default; pooling defaults to stride 2 and VALID padding. Every
layer function takes part in `sf.contrib.framework.arg_scope`.
"""

from __future__ import annotations

import functools
import math
import numbers

from staticflow.contrib.framework import add_arg_scope, model_variable
from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.layers import convolutional as conv_layers
from staticflow.layers import core as core_layers
from staticflow.ops import (
    array_ops,
    conv_ops,
    init_ops,
    math_ops,
    nn_impl,
    nn_ops,
    random_ops,
)
from staticflow.ops import variable_scope as vs
from staticflow.ops.recompute import recompute_grad  # noqa: F401  (tf.contrib.layers.recompute_grad)

DATA_FORMAT_NCHW = "NCHW"
DATA_FORMAT_NHWC = "NHWC"


# --- initializers ------------------------------------------------------------------------
def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None, dtype=dtypes.float32):
    """Weights with variance factor / n, n = fan_in, fan_out or their mean: uniform in
    [-sqrt(3 factor / n), +sqrt(...)] or truncated normal with stddev sqrt(1.3 factor / n)."""
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise TypeError("Cannot create initializer for non-floating point type.")
    if mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
        raise TypeError(f"Unknown mode {mode} [FAN_IN, FAN_OUT, FAN_AVG]")

    def _initializer(shape, dtype=dtype, partition_info=None):
        dtype = dtypes.as_dtype(dtype)
        if not dtype.is_floating:
            raise TypeError("Cannot create initializer for non-floating point type.")
        shape = list(shape)
        if shape:
            fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
            fan_out = float(shape[-1])
        else:
            fan_in = fan_out = 1.0
        for dim in shape[:-2]:
            fan_in *= float(dim)
            fan_out *= float(dim)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[mode]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return random_ops.random_uniform(shape, -limit, limit, dtype, seed=seed)
        return random_ops.truncated_normal(shape, 0.0, math.sqrt(1.3 * factor / n), dtype, seed=seed)

    return _initializer


def xavier_initializer(uniform=True, seed=None, dtype=dtypes.float32):
    """Glorot & Bengio's initializer: variance_scaling_initializer(1.0, 'FAN_AVG', uniform)."""
    return variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=uniform, seed=seed, dtype=dtype)


xavier_initializer_conv2d = xavier_initializer


# the default initializers of the layer functions (one object each, as in TF1)
_XAVIER = xavier_initializer()
_ZEROS = init_ops.zeros_initializer()


# --- regularizers ------------------------------------------------------------------------
def _check_scale(scale, what="scale"):
    if isinstance(scale, numbers.Integral):
        raise ValueError(f"{what} cannot be an integer: {scale}")
    if isinstance(scale, numbers.Real) and scale < 0.0:
        raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale:g}.")


def l1_regularizer(scale, scope=None):
    """weights -> scale * sum(|weights|); scale 0.0 gives a regularizer returning None."""
    _check_scale(scale)
    if isinstance(scale, numbers.Real) and scale == 0.0:
        return lambda _: None

    def l1(weights, name=None):
        with fops.name_scope(scope, "l1_regularizer", [weights]) as name:
            my_scale = fops.convert_to_tensor(scale, dtype=weights.dtype, name="scale")
            return math_ops.multiply(my_scale, math_ops.reduce_sum(math_ops.abs(weights)), name=name)

    return l1


def l2_regularizer(scale, scope=None):
    """weights -> scale * sum(weights ** 2) / 2; scale 0.0 gives a regularizer returning None."""
    _check_scale(scale)
    if isinstance(scale, numbers.Real) and scale == 0.0:
        return lambda _: None

    def l2(weights):
        with fops.name_scope(scope, "l2_regularizer", [weights]) as name:
            my_scale = fops.convert_to_tensor(scale, dtype=weights.dtype, name="scale")
            return math_ops.multiply(my_scale, nn_ops.l2_loss(weights), name=name)

    return l2


def sum_regularizer(regularizer_list, scope=None):
    """The sum of the given regularizers' losses (None when the list has none)."""
    regularizer_list = [r for r in regularizer_list if r is not None]
    if not regularizer_list:
        return None

    def sum_reg(weights):
        with fops.name_scope(scope, "sum_regularizer", [weights]) as name:
            tensors = [t for t in (r(weights) for r in regularizer_list) if t is not None]
            return math_ops.add_n(tensors, name=name) if tensors else None

    return sum_reg


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
    """l1_regularizer(scale_l1) + l2_regularizer(scale_l2)."""
    _check_scale(scale_l1, "scale_l1")
    _check_scale(scale_l2, "scale_l2")
    scope = scope or "l1_l2_regularizer"
    if scale_l1 == 0.0:
        return l2_regularizer(scale_l2, scope)
    if scale_l2 == 0.0:
        return l1_regularizer(scale_l1, scope)
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope=scope)


def apply_regularization(regularizer, weights_list=None):
    """The summed penalty of `regularizer` over weights_list (default: the WEIGHTS collection),
    also added to REGULARIZATION_LOSSES."""
    if not weights_list:
        weights_list = fops.get_collection(GraphKeys.WEIGHTS)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with fops.name_scope("get_regularization_penalty", values=weights_list) as scope:
        penalties = [regularizer(w) for w in weights_list]
        penalties = [p if p is not None else array_ops.constant(0.0) for p in penalties]
        for p in penalties:
            if p.shape.ndims != 0:
                raise ValueError(
                    f"regularizer must return a scalar Tensor instead of a Tensor with rank {p.shape.ndims}."
                )
        summed = math_ops.add_n(penalties, name=scope)
        fops.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, summed)
        return summed


# --- helpers -----------------------------------------------------------------------------
def _model_variable_getter(
    getter,
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    partitioner=None,
    rename=None,
    use_resource=None,
    **_,
):
    """Make layer variables model variables, renamed (kernel -> weights, bias -> biases)."""
    short = name.split("/")[-1]
    if rename and short in rename:
        name = "/".join(name.split("/")[:-1] + [rename[short]])
    return model_variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        collections=collections,
        trainable=trainable,
        custom_getter=getter,
    )


def _build_variable_getter(rename=None):
    def layer_variable_getter(getter, *args, **kwargs):
        kwargs["rename"] = rename
        return _model_variable_getter(getter, *args, **kwargs)

    return layer_variable_getter


def _variable_collections(collections_set, name):
    if isinstance(collections_set, dict):
        return collections_set.get(name, None)
    return collections_set


def _add_variable_to_collections(variable, collections_set, name) -> None:
    for collection in _variable_collections(collections_set, name) or []:
        if variable not in fops.get_collection(collection):
            fops.add_to_collection(collection, variable)


def collect_named_outputs(collections, alias, outputs):
    """Add `outputs` to `collections` (if any), remembering `alias` on it; returns outputs."""
    if collections:
        aliases = getattr(outputs, "aliases", None)
        if aliases is None:
            try:
                outputs.aliases = aliases = []
            except AttributeError:
                aliases = []
        if alias not in aliases:
            aliases.append(alias)
        fops.add_to_collections(collections, outputs)
    return outputs


def _channels(data_format) -> str:
    return "channels_first" if data_format and data_format.startswith("NC") else "channels_last"


def _weights_layer(cls, inputs, sc, args: dict, **layer_args):
    """The body that fully_connected and the convolutions share: a `cls` layer with variables
    `weights` and `biases` (none when a normalizer_fn is given or biases_initializer is None),
    applied to `inputs` in scope `sc`, then normalizer_fn, then activation_fn. `args` is the
    layer function's locals(); `layer_args` are the arguments that only `cls` takes."""
    layer = cls(
        activation=None,
        use_bias=bool(not args["normalizer_fn"] and args["biases_initializer"]),
        kernel_initializer=args["weights_initializer"],
        bias_initializer=args["biases_initializer"],
        kernel_regularizer=args["weights_regularizer"],
        bias_regularizer=args["biases_regularizer"],
        trainable=args["trainable"],
        name=sc.name,
        dtype=inputs.dtype,
        _scope=sc,
        _reuse=args["reuse"],
        **layer_args,
    )
    outputs = layer.apply(inputs)
    _add_variable_to_collections(layer.kernel, args["variables_collections"], "weights")
    if layer.bias is not None:
        _add_variable_to_collections(layer.bias, args["variables_collections"], "biases")
    if args["normalizer_fn"] is not None:
        outputs = args["normalizer_fn"](outputs, **(args["normalizer_params"] or {}))
    if args["activation_fn"] is not None:
        outputs = args["activation_fn"](outputs)
    return collect_named_outputs(args["outputs_collections"], sc.name, outputs)


# --- layers ------------------------------------------------------------------------------
@add_arg_scope
def fully_connected(
    inputs,
    num_outputs,
    activation_fn=nn_ops.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=_XAVIER,
    weights_regularizer=None,
    biases_initializer=_ZEROS,
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """activation_fn(inputs @ weights + biases) with variables `weights` and `biases` in scope
    "fully_connected" (relu by default; biases replaced by normalizer_fn when given)."""
    if not isinstance(num_outputs, numbers.Integral) or isinstance(num_outputs, bool):
        raise ValueError(f"num_outputs type should be one of [int], got {type(num_outputs)}.")
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with vs.variable_scope(scope, "fully_connected", [inputs], reuse=reuse, custom_getter=getter) as sc:
        inputs = fops.convert_to_tensor(inputs)
        return _weights_layer(
            core_layers.Dense,
            inputs,
            sc,
            locals(),
            units=num_outputs,
        )


@add_arg_scope
def convolution(
    inputs,
    num_outputs,
    kernel_size,
    stride=1,
    padding="SAME",
    data_format=None,
    rate=1,
    activation_fn=nn_ops.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=_XAVIER,
    weights_regularizer=None,
    biases_initializer=_ZEROS,
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
    conv_dims=None,
):
    """1-d or 2-d convolution (by the input's rank) with variables `weights`, `biases` in scope
    "Conv"; relu and SAME padding by default."""
    if data_format not in (None, "NWC", "NCW", "NHWC", "NCHW"):
        raise ValueError(f"Invalid data_format: {data_format!r}")
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with vs.variable_scope(scope, "Conv", [inputs], reuse=reuse, custom_getter=getter) as sc:
        inputs = fops.convert_to_tensor(inputs)
        rank = inputs.shape.ndims
        if conv_dims is not None and rank is not None and conv_dims + 2 != rank:
            raise ValueError(f"Convolution expects input with rank {conv_dims + 2}, got {rank}")
        if rank == 3:
            cls = conv_layers.Conv1D
        elif rank == 4:
            cls = conv_layers.Conv2D
        else:
            raise ValueError(
                f"Convolution not supported for input with rank {rank} (staticflow supports 3 and 4)"
            )
        return _weights_layer(
            cls,
            inputs,
            sc,
            locals(),
            filters=num_outputs,
            kernel_size=kernel_size,
            strides=stride,
            padding=padding,
            data_format=_channels(data_format),
            dilation_rate=rate,
        )


convolution1d = add_arg_scope(functools.partial(convolution, conv_dims=1))
convolution2d = add_arg_scope(functools.partial(convolution, conv_dims=2))
for _f, _n in ((convolution1d, "convolution1d"), (convolution2d, "convolution2d")):
    _f.__name__ = _f.__qualname__ = _n
conv1d = convolution1d
conv2d = convolution2d


@add_arg_scope
def convolution2d_transpose(
    inputs,
    num_outputs,
    kernel_size,
    stride=1,
    padding="SAME",
    data_format=DATA_FORMAT_NHWC,
    activation_fn=nn_ops.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=_XAVIER,
    weights_regularizer=None,
    biases_initializer=_ZEROS,
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """Transposed 2-d convolution with `weights` [h, w, out, in] and `biases` in scope
    "Conv2d_transpose"; relu and SAME padding by default."""
    getter = _build_variable_getter({"bias": "biases", "kernel": "weights"})
    with vs.variable_scope(scope, "Conv2d_transpose", [inputs], reuse=reuse, custom_getter=getter) as sc:
        if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
            raise ValueError("data_format has to be either NCHW or NHWC.")
        inputs = fops.convert_to_tensor(inputs)
        return _weights_layer(
            conv_layers.Conv2DTranspose,
            inputs,
            sc,
            locals(),
            filters=num_outputs,
            kernel_size=kernel_size,
            strides=stride,
            padding=padding,
            data_format=_channels(data_format),
        )


conv2d_transpose = convolution2d_transpose


def _pool(kind, inputs, kernel_size, stride, padding, data_format, outputs_collections, scope):
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with fops.name_scope(scope, "MaxPool2D" if kind == "max" else "AvgPool2D", [inputs]) as sc:
        inputs = fops.convert_to_tensor(inputs)
        ksize = conv_layers._tuple(kernel_size, 2, "kernel_size")
        strides = conv_layers._tuple(stride, 2, "stride")
        fn = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
        outputs = fn(inputs, list(ksize), list(strides), padding.upper(), data_format=data_format)
        return collect_named_outputs(outputs_collections, sc, outputs)


@add_arg_scope
def max_pool2d(
    inputs,
    kernel_size,
    stride=2,
    padding="VALID",
    data_format=DATA_FORMAT_NHWC,
    outputs_collections=None,
    scope=None,
):
    """2-d max pooling (stride 2 and VALID padding by default)."""
    return _pool("max", inputs, kernel_size, stride, padding, data_format, outputs_collections, scope)


@add_arg_scope
def avg_pool2d(
    inputs,
    kernel_size,
    stride=2,
    padding="VALID",
    data_format=DATA_FORMAT_NHWC,
    outputs_collections=None,
    scope=None,
):
    """2-d average pooling (stride 2 and VALID padding by default)."""
    return _pool("avg", inputs, kernel_size, stride, padding, data_format, outputs_collections, scope)


@add_arg_scope
def flatten(inputs, outputs_collections=None, scope=None):
    """[batch, ...] -> [batch, k] in name scope "Flatten"."""
    with fops.name_scope(scope, "Flatten", [inputs]) as sc:
        inputs = fops.convert_to_tensor(inputs)
        if inputs.shape.ndims is not None and inputs.shape.ndims < 2:
            raise ValueError(f"Inputs must have a least 2 dimensions, got shape {inputs.shape}.")
        outputs = core_layers.flatten(inputs)
        return collect_named_outputs(outputs_collections, sc, outputs)


@add_arg_scope
def dropout(
    inputs, keep_prob=0.5, noise_shape=None, is_training=True, outputs_collections=None, scope=None, seed=None
):
    """Dropout keeping `keep_prob` (float or tensor) when is_training (bool or bool tensor)."""
    with vs.variable_scope(scope, "Dropout", [inputs], custom_getter=_model_variable_getter) as sc:
        inputs = fops.convert_to_tensor(inputs)
        rate = 1 - keep_prob
        layer = core_layers.Dropout(rate=rate, noise_shape=noise_shape, seed=seed, name=sc.name, _scope=sc)
        outputs = layer.apply(inputs, training=is_training)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def batch_norm(
    inputs,
    decay=0.999,
    center=True,
    scale=False,
    epsilon=0.001,
    activation_fn=None,
    param_initializers=None,
    param_regularizers=None,
    updates_collections=GraphKeys.UPDATE_OPS,
    is_training=True,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    batch_weights=None,
    fused=None,
    data_format=DATA_FORMAT_NHWC,
    zero_debias_moving_mean=False,
    scope=None,
    renorm=False,
    renorm_clipping=None,
    renorm_decay=0.99,
    adjustment=None,
):
    """Batch normalization in scope "BatchNorm" (variables beta, [gamma,] moving_mean,
    moving_variance). The moving averages move by (1 - decay) toward the batch statistics
    (the variance with Bessel's correction, as TF's fused kernel gives it). The update ops
    go to `updates_collections`; with updates_collections=None they run with the output."""
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    unsupported = {
        "batch_weights": batch_weights is not None,
        "zero_debias_moving_mean": zero_debias_moving_mean,
        "renorm": renorm,
        "adjustment": adjustment is not None,
    }
    if any(unsupported.values()):
        names = ", ".join(k for k, v in unsupported.items() if v)
        raise ValueError(f"sf.contrib.layers.batch_norm: {names} is not supported by staticflow")
    inits = param_initializers or {}
    regs = param_regularizers or {}
    getter = _build_variable_getter()
    with vs.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse, custom_getter=getter) as sc:
        inputs = fops.convert_to_tensor(inputs)
        if inputs.shape.ndims is None:
            raise ValueError(f"Inputs {inputs.name} has undefined rank.")
        n_before = len(fops.get_collection_ref(GraphKeys.UPDATE_OPS))  # the layer appends its updates
        outputs = core_layers.batch_normalization(
            inputs,
            axis=1 if data_format == DATA_FORMAT_NCHW else -1,
            momentum=decay,
            epsilon=epsilon,
            center=center,
            scale=scale,
            beta_initializer=inits.get("beta"),
            gamma_initializer=inits.get("gamma"),
            moving_mean_initializer=inits.get("moving_mean"),
            moving_variance_initializer=inits.get("moving_variance"),
            beta_regularizer=regs.get("beta"),
            gamma_regularizer=regs.get("gamma"),
            training=is_training,
            trainable=trainable,
            name=sc,
            reuse=reuse,
        )
        ref = fops.get_collection_ref(GraphKeys.UPDATE_OPS)
        new = ref[n_before:]
        if updates_collections != GraphKeys.UPDATE_OPS:
            del ref[n_before:]
            if updates_collections is None:
                with fops.control_dependencies(new):
                    outputs = array_ops.identity(outputs)
            else:
                for u in new:
                    fops.add_to_collections(updates_collections, u)
        made = vs._store().vars  # (no copy of every variable for each layer)
        for name in ("moving_mean", "moving_variance", "beta", "gamma"):
            v = made.get(f"{sc.name}/{name}")
            if v is not None:
                _add_variable_to_collections(v, variables_collections, name)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def layer_norm(
    inputs,
    center=True,
    scale=True,
    activation_fn=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    begin_norm_axis=1,
    begin_params_axis=-1,
    scope=None,
):
    """Normalize over axes begin_norm_axis.. (epsilon 1e-12), then scale by gamma and shift by
    beta of shape inputs.shape[begin_params_axis:] (scope "LayerNorm")."""
    with vs.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse) as sc:
        inputs = fops.convert_to_tensor(inputs)
        shape = inputs.shape
        rank = shape.ndims
        if rank is None:
            raise ValueError(f"Inputs {inputs.name} has undefined rank.")
        dtype = inputs.dtype
        if begin_norm_axis < 0:
            begin_norm_axis = rank + begin_norm_axis
        if begin_params_axis >= rank or begin_norm_axis >= rank:
            raise ValueError(
                f"begin_params_axis ({begin_params_axis}) and begin_norm_axis ({begin_norm_axis}) must be "
                f"< rank(inputs) ({rank})"
            )
        params_shape = shape[begin_params_axis:]
        if not params_shape.is_fully_defined():
            raise ValueError(
                f"Inputs {inputs.name}: shape(inputs)[{begin_params_axis}:] is not fully defined: {shape}"
            )
        beta = gamma = None
        if center:
            beta = model_variable(
                "beta",
                shape=params_shape,
                dtype=dtype,
                initializer=_ZEROS,
                collections=_variable_collections(variables_collections, "beta"),
                trainable=trainable,
            )
        if scale:
            gamma = model_variable(
                "gamma",
                shape=params_shape,
                dtype=dtype,
                initializer=init_ops.ones_initializer(),
                collections=_variable_collections(variables_collections, "gamma"),
                trainable=trainable,
            )
        mean, variance = nn_impl.moments(inputs, list(range(begin_norm_axis, rank)), keep_dims=True)
        eps = 1e-12 if dtype != dtypes.float16 else 1e-3
        outputs = nn_impl.batch_normalization(inputs, mean, variance, beta, gamma, eps)
        outputs.set_shape(shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def bias_add(
    inputs,
    activation_fn=None,
    initializer=_ZEROS,
    regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    data_format=DATA_FORMAT_NHWC,
    scope=None,
):
    """inputs + biases over the channel dimension (scope "BiasAdd")."""
    if data_format not in (DATA_FORMAT_NCHW, DATA_FORMAT_NHWC):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with vs.variable_scope(scope, "BiasAdd", [inputs], reuse=reuse) as sc:
        inputs = fops.convert_to_tensor(inputs)
        rank = inputs.shape.ndims
        if rank is None:
            raise ValueError("Dims of shape must be known but is None")
        if rank != 4 and data_format == DATA_FORMAT_NCHW:
            raise ValueError("Data format NCHW only supports 4D Tensor")
        n = inputs.shape[1 if data_format == DATA_FORMAT_NCHW else -1].value
        if n is None:
            raise ValueError("`C` dimension must be known but is None")
        biases = model_variable(
            "biases",
            shape=[n],
            dtype=inputs.dtype,
            initializer=initializer,
            regularizer=regularizer,
            collections=_variable_collections(variables_collections, "biases"),
            trainable=trainable,
        )
        outputs = nn_ops.bias_add(inputs, biases, data_format=data_format)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def one_hot_encoding(labels, num_classes, on_value=1.0, off_value=0.0, outputs_collections=None, scope=None):
    """one_hot(labels, num_classes) in name scope "OneHotEncoding"."""
    with fops.name_scope(scope, "OneHotEncoding", [labels]) as sc:
        labels = fops.convert_to_tensor(labels)
        outputs = array_ops.one_hot(labels, num_classes, on_value=on_value, off_value=off_value)
        return collect_named_outputs(outputs_collections, sc, outputs)


@add_arg_scope
def softmax(logits, scope=None):
    """Softmax over the last dimension (name scope "softmax")."""
    with fops.name_scope(scope, "softmax", [logits]):
        return nn_ops.softmax(logits)


def repeat(inputs, repetitions, layer, *args, **kwargs):
    """Apply `layer` `repetitions` times with scopes <scope>_1, <scope>_2, ... inside "Repeat"."""
    scope = kwargs.pop("scope", None)
    with vs.variable_scope(scope, "Repeat", [inputs]):
        inputs = fops.convert_to_tensor(inputs)
        scope = (
            scope
            or getattr(layer, "__name__", None)
            or getattr(getattr(layer, "func", None), "__name__", "repeat")
        )
        outputs = inputs
        for i in range(repetitions):
            kwargs["scope"] = f"{scope}_{i + 1}"
            outputs = layer(outputs, *args, **kwargs)
        return outputs


def stack(inputs, layer, stack_args, **kwargs):
    """Apply `layer` once per entry of stack_args (its extra arguments), scopes <scope>_1, ..."""
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, (list, tuple)):
        raise ValueError("stack_args need to be a list or tuple")
    with vs.variable_scope(scope, "Stack", [inputs]):
        inputs = fops.convert_to_tensor(inputs)
        scope = (
            scope
            or getattr(layer, "__name__", None)
            or getattr(getattr(layer, "func", None), "__name__", "stack")
        )
        outputs = inputs
        for i, layer_args in enumerate(stack_args):
            kwargs["scope"] = f"{scope}_{i + 1}"
            if not isinstance(layer_args, (list, tuple)):
                layer_args = [layer_args]
            outputs = layer(outputs, *layer_args, **kwargs)
        return outputs


linear = functools.partial(fully_connected, activation_fn=None)
relu = functools.partial(fully_connected, activation_fn=nn_ops.relu)
relu6 = functools.partial(fully_connected, activation_fn=nn_ops.relu6)
for _f, _n in ((linear, "linear"), (relu, "relu"), (relu6, "relu6")):
    _f.__name__ = _n


_PROVIDED = {
    "apply_regularization",
    "avg_pool2d",
    "batch_norm",
    "bias_add",
    "collect_named_outputs",
    "conv1d",
    "conv2d",
    "conv2d_transpose",
    "convolution",
    "convolution1d",
    "convolution2d",
    "convolution2d_transpose",
    "dropout",
    "flatten",
    "fully_connected",
    "l1_l2_regularizer",
    "l1_regularizer",
    "l2_regularizer",
    "layer_norm",
    "linear",
    "max_pool2d",
    "one_hot_encoding",
    "relu",
    "relu6",
    "repeat",
    "softmax",
    "stack",
    "sum_regularizer",
    "variance_scaling_initializer",
    "xavier_initializer",
    "xavier_initializer_conv2d",
}
__all__ = sorted(_PROVIDED)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"sf.contrib.layers.{name} is not provided by staticflow: only the parts of tf.contrib.layers "
        f"that were thin layers over core TensorFlow 1.x are ({', '.join(__all__)})"
    )
