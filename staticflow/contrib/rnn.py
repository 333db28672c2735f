"""sf.contrib.rnn: TF1's tf.contrib.rnn names for the core cells, wrappers and static RNNs,
and its stack_bidirectional_dynamic_rnn.

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
from staticflow.ops import array_ops
from staticflow.ops import variable_scope as vs
from staticflow.ops.rnn import static_bidirectional_rnn, static_rnn
from staticflow.ops.rnn_dynamic import bidirectional_dynamic_rnn

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
    "stack_bidirectional_dynamic_rnn",
    "static_bidirectional_rnn",
    "static_rnn",
]


def stack_bidirectional_dynamic_rnn(
    cells_fw,
    cells_bw,
    inputs,
    initial_states_fw=None,
    initial_states_bw=None,
    dtype=None,
    sequence_length=None,
    parallel_iterations=None,
    time_major: bool = False,
    scope=None,
    swap_memory: bool = False,
):
    """Layers of bidirectional_dynamic_rnn, each reading the previous one's forward and backward
    outputs concatenated (variable scopes `scope` (default "stack_bidirectional_rnn")/cell_i);
    returns (the last layer's concatenated outputs, the forward states, the backward states),
    one state per layer."""
    if not cells_fw:
        raise ValueError("Must specify at least one fw cell for BidirectionalRNN.")
    if not cells_bw:
        raise ValueError("Must specify at least one bw cell for BidirectionalRNN.")
    if not isinstance(cells_fw, list):
        raise ValueError("cells_fw must be a list of RNNCells (one per layer).")
    if not isinstance(cells_bw, list):
        raise ValueError("cells_bw must be a list of RNNCells (one per layer).")
    if len(cells_fw) != len(cells_bw):
        raise ValueError("Forward and Backward cells must have the same depth.")
    if initial_states_fw is not None and (
        not isinstance(initial_states_fw, list) or len(initial_states_fw) != len(cells_fw)
    ):
        raise ValueError("initial_states_fw must be a list of state tensors (one per layer).")
    if initial_states_bw is not None and (
        not isinstance(initial_states_bw, list) or len(initial_states_bw) != len(cells_bw)
    ):
        raise ValueError("initial_states_bw must be a list of state tensors (one per layer).")
    states_fw, states_bw, prev_layer = [], [], inputs
    with vs.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with vs.variable_scope(f"cell_{i}"):
                outputs, (state_fw, state_bw) = bidirectional_dynamic_rnn(
                    cell_fw,
                    cell_bw,
                    prev_layer,
                    initial_state_fw=initial_states_fw[i] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[i] if initial_states_bw else None,
                    sequence_length=sequence_length,
                    parallel_iterations=parallel_iterations,
                    dtype=dtype,
                    swap_memory=swap_memory,
                    time_major=time_major,
                )
                prev_layer = array_ops.concat(list(outputs), 2)
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return prev_layer, tuple(states_fw), tuple(states_bw)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"sf.contrib.rnn.{name} is not provided by staticflow: tf.contrib.rnn's own cells and helpers "
        f"were not part of core TensorFlow 1.x; the core ones are ({', '.join(__all__)})"
    )
