"""sf.layers: dense, conv, pooling, normalization, dropout, flatten (TF1's tf.layers).

Each layer is a class (`Dense`, `Conv2D`, ...) whose variables live in a
variable scope named as TF1 names it, and a function (`dense`, `conv2d`, ...)
that builds the class and applies it once, so `reuse` and default names
("dense", "dense_1", reset when a variable scope is re-entered) work as in TF1.
"""

from staticflow.layers.base import Layer
from staticflow.layers.convolutional import (
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution2D,
    Convolution2DTranspose,
    Deconvolution2D,
    SeparableConv2D,
    SeparableConvolution2D,
    conv1d,
    conv2d,
    conv2d_transpose,
    separable_conv2d,
)
from staticflow.layers.core import (
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    batch_normalization,
    dense,
    dropout,
    flatten,
    layer_normalization,
)
from staticflow.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
    average_pooling1d,
    average_pooling2d,
    max_pooling1d,
    max_pooling2d,
)

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution1D",
    "Convolution2D",
    "Convolution2DTranspose",
    "Deconvolution2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "SeparableConv2D",
    "SeparableConvolution2D",
    "average_pooling1d",
    "average_pooling2d",
    "batch_normalization",
    "conv1d",
    "conv2d",
    "conv2d_transpose",
    "dense",
    "dropout",
    "flatten",
    "layer_normalization",
    "max_pooling1d",
    "max_pooling2d",
    "separable_conv2d",
]
