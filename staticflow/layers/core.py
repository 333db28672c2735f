"""Dense, Flatten, Dropout and BatchNormalization layers and their functional forms (TF1's
tf.layers.core and tf.layers.normalization)."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.framework.tensor_shape import TensorShape
from staticflow.layers.base import Layer
from staticflow.ops import array_ops, init_ops, math_ops, nn_impl, nn_ops, state_ops, variable_scope
from staticflow.ops.smart_cond import smart_cond, smart_constant_value

vs = variable_scope


def _activation(fn):
    """An activation given as a function, None, or a Keras name ("relu", "tanh", ...)."""
    if fn is None or callable(fn):
        return fn
    table = {
        "linear": None,
        "relu": nn_ops.relu,
        "relu6": nn_ops.relu6,
        "elu": nn_ops.elu,
        "selu": nn_ops.selu,
        "tanh": math_ops.tanh,
        "sigmoid": math_ops.sigmoid,
        "softmax": nn_ops.softmax,
        "softplus": nn_ops.softplus,
    }
    if fn not in table:
        raise ValueError(f"Unknown activation function: {fn!r} (known: {sorted(table)})")
    return table[fn]


class _KernelLayer(Layer):
    """A layer computing activation(op(inputs, kernel) + bias): the arguments, the bias and the
    activation that Dense and the convolutions share. A subclass makes its kernel and calls
    `_add_bias`, then `_bias_and_activation` on its product."""

    def __init__(
        self,
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
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        self.activation = _activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = (
            bias_initializer if bias_initializer is not None else init_ops.zeros_initializer()
        )
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = self.bias = None

    def _check_floating(self, layer: str, what: str) -> None:
        dt = self.dtype or dtypes.float32
        if not dt.is_floating:
            raise TypeError(f"Unable to build `{layer}` layer with {what} dtype {dt.name}")

    def _add_kernel(self, shape: list[int]) -> None:
        self.kernel = self.add_weight(
            "kernel",
            shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _add_bias(self, units: int) -> None:
        """The `bias` variable [units], when use_bias."""
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [units],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _bias_and_activation(self, out, add_bias=nn_ops.bias_add):
        if self.bias is not None:
            out = add_bias(out, self.bias)
        return self.activation(out) if self.activation is not None else out


def _apply_once(cls, args: dict):
    """A functional form's layer: `cls` made from the function's arguments (its locals()),
    with `name` as its scope and `reuse` as its reuse, applied once to `inputs`."""
    args = dict(args)
    inputs, name, reuse = args.pop("inputs"), args.pop("name"), args.pop("reuse")
    return cls(name=name, _scope=name, _reuse=reuse, **args).apply(inputs)


class Dense(_KernelLayer):
    """Densely connected layer: activation(inputs @ kernel + bias) over the last dimension."""

    def __init__(
        self,
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
        **kwargs,
    ):
        super().__init__(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
            trainable,
            name,
            **kwargs,
        )
        self.units = int(units)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        self._check_floating("Dense", "non-floating point")
        if input_shape.ndims is not None and input_shape.ndims < 2:
            raise ValueError(
                f"Input 0 of layer {self.name} is incompatible with the layer: expected min_ndim=2, "
                f"found ndim={input_shape.ndims}. Full shape received: {input_shape}"
            )
        last = input_shape[-1].value if input_shape.ndims is not None else None
        if last is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        self._add_kernel([last, self.units])
        self._add_bias(self.units)
        self.built = True

    def call(self, inputs):
        rank = inputs.shape.ndims
        if rank == 2 or rank is None:
            out = math_ops.matmul(inputs, self.kernel)
        else:
            in_dim = self.kernel.shape[0].value
            flat = array_ops.reshape(inputs, [-1, in_dim])
            out_shape = array_ops.concat([array_ops.shape(inputs)[:-1], [self.units]], 0)
            out = array_ops.reshape(math_ops.matmul(flat, self.kernel), out_shape)
            out.set_shape(inputs.shape[:-1].concatenate([self.units]))
        return self._bias_and_activation(out)

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)[:-1].concatenate([self.units])


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
    """activation(inputs @ kernel + bias) over the last dimension (a `Dense` layer applied once)."""
    return _apply_once(Dense, locals())


class Flatten(Layer):
    """[batch, ...] -> [batch, prod(...)]; channels_first inputs are moved to channels_last first."""

    def __init__(self, data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format

    def call(self, inputs):
        rank = inputs.shape.ndims
        if self.data_format == "channels_first" and rank is not None and rank > 2:
            inputs = array_ops.transpose(inputs, [0] + list(range(2, rank)) + [1])
        if rank == 1:
            return array_ops.expand_dims(inputs, 1)
        rest = inputs.shape.as_list()[1:] if rank is not None else None
        if rest is not None and all(d is not None for d in rest):
            out = array_ops.reshape(inputs, [-1, int(np.prod(rest, dtype=np.int64))])
            out.set_shape([inputs.shape[0].value, int(np.prod(rest, dtype=np.int64))])
            return out
        return array_ops.reshape(inputs, array_ops.stack([array_ops.shape(inputs)[0], -1]))


def flatten(inputs, name=None, data_format="channels_last"):
    """[batch, ...] -> [batch, prod(...)] (a `Flatten` layer applied once)."""
    return Flatten(data_format=data_format, name=name, _scope=name).apply(inputs)


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


class Dropout(Layer):
    """Dropout applied only when called with training=True (a bool or a boolean tensor)."""

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        return dropout(
            inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed, training=training
        )


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


class BatchNormalization(Layer):
    """Batch normalization layer; see `batch_normalization` for what training does.

    Its variables (gamma, beta, moving_mean, moving_variance) are made on the
    first call; `updates` holds the moving-average updates (also in UPDATE_OPS).
    """

    def __init__(
        self,
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
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        fused=None,
        trainable=True,
        virtual_batch_size=None,
        adjustment=None,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise ValueError(
                "BatchNormalization: renorm, virtual_batch_size and adjustment are not supported"
            )
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization: only one axis is supported, got {axis}")
            axis = axis[0]
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self._initializers = (
            beta_initializer,
            gamma_initializer,
            moving_mean_initializer,
            moving_variance_initializer,
        )
        self._regularizers = (beta_regularizer, gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._applied = False

    def call(self, inputs, training=False):
        beta_i, gamma_i, mean_i, var_i = self._initializers
        n_before = len(fops.get_collection_ref(GraphKeys.UPDATE_OPS))  # batch_normalization appends
        scope = self._current_scope
        out = batch_normalization(
            inputs,
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=beta_i,
            gamma_initializer=gamma_i,
            moving_mean_initializer=mean_i,
            moving_variance_initializer=var_i,
            beta_regularizer=self._regularizers[0],
            gamma_regularizer=self._regularizers[1],
            training=training,
            trainable=self.trainable,
            name=scope,
            reuse=True if self._applied else self._reuse,
        )
        self._applied = True
        made = vs._store().vars  # (no copy of every variable for each layer)
        for attr, trainable in (
            ("gamma", True),
            ("beta", True),
            ("moving_mean", False),
            ("moving_variance", False),
        ):
            v = made.get(f"{scope.name}/{attr}")
            if v is not None:
                setattr(self, attr, v)
                self._track(v, trainable and self.trainable)
        self.add_update(fops.get_collection_ref(GraphKeys.UPDATE_OPS)[n_before:])
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
