"""Pooling layers and their functional forms (TF1's tf.layers.pooling): max and average
pooling over 1-d ([batch, width, channels]) and 2-d inputs."""

from __future__ import annotations

from staticflow.layers.base import Layer
from staticflow.layers.convolutional import _data_format, _padding, _tuple
from staticflow.ops import array_ops, conv_ops


class _Pooling(Layer):
    rank = 2
    kind = "max"

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if strides is None:
            strides = pool_size
        self.pool_size = _tuple(pool_size, self.rank, "pool_size")
        self.strides = _tuple(strides, self.rank, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)

    def _pool4(self, x, ksize, strides):
        fn = conv_ops.max_pool if self.kind == "max" else conv_ops.avg_pool
        fmt = "NHWC" if self.data_format == "channels_last" else "NCHW"
        return fn(x, list(ksize), list(strides), self.padding.upper(), data_format=fmt)

    def call(self, inputs):
        want = self.rank + 2
        if inputs.shape.ndims is not None and inputs.shape.ndims != want:
            raise ValueError(
                f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim={want}, "
                f"found ndim={inputs.shape.ndims}. Full shape received: {inputs.shape}"
            )
        if self.rank == 2:
            return self._pool4(inputs, self.pool_size, self.strides)
        axis = 1 if self.data_format == "channels_last" else 2
        y = self._pool4(array_ops.expand_dims(inputs, axis), (1, *self.pool_size), (1, *self.strides))
        return array_ops.squeeze(y, [axis])


class MaxPooling2D(_Pooling):
    """Max pooling over 2-d windows."""


class AveragePooling2D(_Pooling):
    """Average pooling over 2-d windows (padding is not counted in the mean)."""

    kind = "avg"


class MaxPooling1D(_Pooling):
    """Max pooling over 1-d windows of [batch, width, channels]."""

    rank = 1


class AveragePooling1D(_Pooling):
    """Average pooling over 1-d windows of [batch, width, channels]."""

    rank = 1
    kind = "avg"


MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Max pooling over 2-d windows (a `MaxPooling2D` applied once)."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Average pooling over 2-d windows (an `AveragePooling2D` applied once)."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def max_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Max pooling over 1-d windows (a `MaxPooling1D` applied once)."""
    return MaxPooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Average pooling over 1-d windows (an `AveragePooling1D` applied once)."""
    return AveragePooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)
