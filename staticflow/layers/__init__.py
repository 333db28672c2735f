"""sf.layers: dense, conv, pooling, normalization, dropout, flatten (TF1's tf.layers).

Layers are functions that create their variables with get_variable inside a
variable scope (so `reuse` and `trainable` work as in TF1) and build ops.
"""

from staticflow.layers.core import (
    average_pooling2d,
    batch_normalization,
    conv2d,
    dense,
    dropout,
    flatten,
    layer_normalization,
    max_pooling2d,
)

__all__ = [
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "layer_normalization",
    "max_pooling2d",
]
