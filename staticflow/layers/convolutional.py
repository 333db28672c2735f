"""Convolution layers and their functional forms (TF1's tf.layers.convolutional):
Conv1D, Conv2D, Conv2DTranspose, SeparableConv2D."""

from __future__ import annotations

from staticflow.framework.tensor_shape import TensorShape
from staticflow.layers.core import _apply_once, _KernelLayer
from staticflow.ops import array_ops, conv_ops, nn_ops


def _tuple(v, n: int, what: str) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(x) for x in v)
    if len(t) != n:
        raise ValueError(f"The `{what}` argument must be a tuple of {n} integers. Received: {v}")
    return t


def _padding(padding: str) -> str:
    p = padding.lower()
    if p not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return p


def _data_format(data_format: str) -> str:
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


class _Conv(_KernelLayer):
    """N-d convolution (N = 1 or 2) with optional bias and activation."""

    rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        n = self.rank
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, n, "kernel_size")
        self.strides = _tuple(strides, n, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)
        self.dilation_rate = _tuple(dilation_rate, n, "dilation_rate")

    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape) -> int:
        input_shape = TensorShape(input_shape)
        want = self.rank + 2
        if input_shape.ndims is not None and input_shape.ndims != want:
            raise ValueError(
                f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim={want}, "
                f"found ndim={input_shape.ndims}. Full shape received: {input_shape}"
            )
        ch = input_shape[self._channel_axis()].value if input_shape.ndims is not None else None
        if ch is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        return ch

    def _kernel_shape(self, in_ch: int) -> list[int]:
        return list(self.kernel_size) + [in_ch, self.filters]

    def build(self, input_shape):
        self._check_floating(type(self).__name__, "non-floating")
        self._add_kernel(self._kernel_shape(self._input_channels(input_shape)))
        self._add_bias(self.filters)
        self.built = True

    def _fmt(self) -> str:
        return "NHWC" if self.data_format == "channels_last" else "NCHW"

    def _convolve(self, inputs):
        return conv_ops.conv2d(
            inputs,
            self.kernel,
            strides=list(self.strides),
            padding=self.padding.upper(),
            data_format=self._fmt(),
            dilations=list(self.dilation_rate),
        )

    def _add_bias_to(self, out, bias):
        return nn_ops.bias_add(out, bias, data_format=self._fmt())

    def call(self, inputs):
        return self._bias_and_activation(self._convolve(inputs), self._add_bias_to)


class Conv2D(_Conv):
    """2-d convolution layer (channels_last = NHWC, channels_first = NCHW); kernel [h, w, in, filters]."""

    rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
        **kwargs,
    ):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs)


class Conv1D(_Conv):
    """1-d convolution layer over [batch, width, channels] (or channels_first); kernel [w, in, filters].

    Computed as a 2-d convolution over a height of 1, as TensorFlow does."""

    rank = 1

    def _convolve(self, inputs):
        last = self.data_format == "channels_last"
        x = array_ops.expand_dims(inputs, 1 if last else 2)
        w = array_ops.expand_dims(self.kernel, 0)
        y = conv_ops.conv2d(
            x,
            w,
            strides=[1, self.strides[0]],
            padding=self.padding.upper(),
            data_format=self._fmt(),
            dilations=[1, self.dilation_rate[0]],
        )
        return array_ops.squeeze(y, [1 if last else 2])

    def _add_bias_to(self, out, bias):
        if self.data_format == "channels_first":
            return out + array_ops.reshape(bias, [1, self.filters, 1])
        return nn_ops.bias_add(out, bias)


def _deconv_length(n, k, padding, stride):
    if n is None:
        return None
    return n * stride + max(k - stride, 0) if padding == "valid" else n * stride


class Conv2DTranspose(Conv2D):
    """Transposed 2-d convolution ("deconvolution"); kernel [h, w, filters, in].

    The output is `in * stride` (same) or `in * stride + max(k - stride, 0)` (valid) per
    spatial dimension, as in TensorFlow."""

    def __init__(
        self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last", **kwargs
    ):
        super().__init__(filters, kernel_size, strides, padding, data_format, **kwargs)

    def _kernel_shape(self, in_ch: int) -> list[int]:
        return list(self.kernel_size) + [self.filters, in_ch]

    def _convolve(self, inputs):
        last = self.data_format == "channels_last"
        h_axis, w_axis = (1, 2) if last else (2, 3)
        dyn = array_ops.shape(inputs)
        dims = inputs.shape.as_list() if inputs.shape.ndims is not None else [None] * 4
        sizes = []
        static = []
        for axis, k, s in (
            (h_axis, self.kernel_size[0], self.strides[0]),
            (w_axis, self.kernel_size[1], self.strides[1]),
        ):
            n = dims[axis]
            static.append(_deconv_length(n, k, self.padding, s))
            if n is not None:
                sizes.append(static[-1])
            else:
                sizes.append(dyn[axis] * s + max(k - s, 0) if self.padding == "valid" else dyn[axis] * s)
        batch = dyn[0]
        shape = (
            [batch, sizes[0], sizes[1], self.filters] if last else [batch, self.filters, sizes[0], sizes[1]]
        )
        out = conv_ops.conv2d_transpose(
            inputs,
            self.kernel,
            array_ops.stack(shape),
            strides=list(self.strides),
            padding=self.padding.upper(),
            data_format=self._fmt(),
        )
        out.set_shape(
            [dims[0], static[0], static[1], self.filters]
            if last
            else [dims[0], self.filters, static[0], static[1]]
        )
        return out

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        last = self.data_format == "channels_last"
        h_axis, w_axis = (1, 2) if last else (2, 3)
        h = _deconv_length(dims[h_axis], self.kernel_size[0], self.padding, self.strides[0])
        w = _deconv_length(dims[w_axis], self.kernel_size[1], self.padding, self.strides[1])
        return TensorShape([dims[0], h, w, self.filters] if last else [dims[0], self.filters, h, w])


class SeparableConv2D(Conv2D):
    """Depthwise convolution (one filter bank per input channel, `depth_multiplier` outputs each)
    followed by a 1x1 pointwise convolution; variables depthwise_kernel, pointwise_kernel, bias."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer=None,
        pointwise_initializer=None,
        bias_initializer=None,
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
            trainable=trainable,
            name=name,
            **kwargs,
        )
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        in_ch = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            list(self.kernel_size) + [in_ch, self.depth_multiplier],
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            [1, 1, in_ch * self.depth_multiplier, self.filters],
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self._add_bias(self.filters)
        self.built = True

    def _convolve(self, inputs):
        return conv_ops.separable_conv2d(
            inputs,
            self.depthwise_kernel,
            self.pointwise_kernel,
            strides=[1, *self.strides, 1] if self.data_format == "channels_last" else [1, 1, *self.strides],
            padding=self.padding.upper(),
            rate=list(self.dilation_rate),
            data_format=self._fmt(),
        )


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution2DTranspose = Deconvolution2D = Deconv2D = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D


def conv1d(
    inputs,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    data_format="channels_last",
    dilation_rate=1,
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
    """1-d convolution layer over [batch, width, channels] (a `Conv1D` applied once)."""
    return _apply_once(Conv1D, locals())


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
    """2-d convolution layer (channels_last = NHWC, channels_first = NCHW; a `Conv2D` applied once)."""
    return _apply_once(Conv2D, locals())


def conv2d_transpose(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
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
    """Transposed 2-d convolution layer (a `Conv2DTranspose` applied once)."""
    return _apply_once(Conv2DTranspose, locals())


def separable_conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
    depth_multiplier=1,
    activation=None,
    use_bias=True,
    depthwise_initializer=None,
    pointwise_initializer=None,
    bias_initializer=None,
    depthwise_regularizer=None,
    pointwise_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    depthwise_constraint=None,
    pointwise_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """Depthwise-separable 2-d convolution layer (a `SeparableConv2D` applied once)."""
    return _apply_once(SeparableConv2D, locals())
