"""sf.contrib.rnn: TF1's tf.contrib.rnn names for the core cells, wrappers and static RNNs.

The cells tf.contrib.rnn implemented itself (LayerNormBasicLSTMCell,
LSTMBlockCell, AttentionCellWrapper, ...) are not provided: using one raises
an error that names it.
"""

from staticflow.layers.rnn_cell import (
    BasicLSTMCell,
    BasicRNNCell,
    DeviceWrapper,
    DropoutWrapper,
    GRUCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
    ResidualWrapper,
    RNNCell,
)
from staticflow.ops.rnn import static_bidirectional_rnn, static_rnn

__all__ = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "DeviceWrapper",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
    "ResidualWrapper",
    "static_bidirectional_rnn",
    "static_rnn",
]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"sf.contrib.rnn.{name} is not provided by staticflow: tf.contrib.rnn's own cells and helpers "
        f"were not part of core TensorFlow 1.x; the core ones are ({', '.join(__all__)})"
    )
