"""Recurrent cells and static unrolling (TF1's tf.nn.rnn_cell and tf.nn.static_rnn).

A cell creates its variables on first call inside its variable scope and
reuses them at every later step, so an unrolled network shares one set of
weights across time, as in TensorFlow.
"""

from __future__ import annotations

import collections

from staticflow.ops import array_ops, init_ops, math_ops, nn_ops, variable_scope

LSTMStateTuple = collections.namedtuple("LSTMStateTuple", ("c", "h"))


class RNNCell:
    """Base class: output, new_state = cell(inputs, state)."""

    def __init__(self, num_units: int, activation=None, reuse=None, name=None, dtype=None):
        self._num_units = num_units
        self._activation = activation or math_ops.tanh
        self._reuse = reuse
        self._name = name
        self._scope = None
        self._built = False

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    def zero_state(self, batch_size, dtype):
        size = self.state_size
        if isinstance(size, LSTMStateTuple):
            return LSTMStateTuple(*(array_ops.zeros(array_ops.stack([batch_size, s]), dtype) for s in size))
        return array_ops.zeros(array_ops.stack([batch_size, size]), dtype)

    def __call__(self, inputs, state, scope=None):
        if self._scope is None:
            with variable_scope.variable_scope(
                scope, default_name=self._name or self._default_name, reuse=self._reuse
            ) as vs:
                self._scope = vs
                out = self.call(inputs, state)
            self._built = True
            return out
        with variable_scope.variable_scope(self._scope, reuse=True):
            return self.call(inputs, state)

    def _linear(self, args, output_size: int, name: str, bias_init=0.0):
        """concat(args) @ W + b with W, b made (or reused) in the current scope."""
        x = array_ops.concat(args, 1) if len(args) > 1 else args[0]
        in_size = x.shape[-1].value
        if in_size is None:
            raise ValueError(f"the last dimension of the inputs of {type(self).__name__} must be known")
        w = variable_scope.get_variable(f"{name}/kernel", [in_size, output_size], dtype=x.dtype)
        b = variable_scope.get_variable(
            f"{name}/bias", [output_size], dtype=x.dtype, initializer=init_ops.constant_initializer(bias_init)
        )
        return nn_ops.bias_add(math_ops.matmul(x, w), b)


class BasicRNNCell(RNNCell):
    _default_name = "basic_rnn_cell"

    def call(self, inputs, state):
        out = self._activation(self._linear([inputs, state], self._num_units, "linear"))
        return out, out


class BasicLSTMCell(RNNCell):
    """LSTM with a forget-gate bias (TF's BasicLSTMCell, state as (c, h))."""

    _default_name = "basic_lstm_cell"

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
    ):
        super().__init__(num_units, activation, reuse, name, dtype)
        if not state_is_tuple:
            raise ValueError(
                "staticflow's LSTM cells keep their state as an LSTMStateTuple (state_is_tuple=True)"
            )
        self._forget_bias = forget_bias

    @property
    def state_size(self):
        return LSTMStateTuple(self._num_units, self._num_units)

    def call(self, inputs, state):
        c, h = state
        gates = self._linear([inputs, h], 4 * self._num_units, "linear")
        i, j, f, o = array_ops.split(gates, 4, axis=1)
        new_c = c * math_ops.sigmoid(f + self._forget_bias) + math_ops.sigmoid(i) * self._activation(j)
        new_h = self._activation(new_c) * math_ops.sigmoid(o)
        return new_h, LSTMStateTuple(new_c, new_h)


LSTMCell = BasicLSTMCell


class GRUCell(RNNCell):
    """Gated recurrent unit (TF's GRUCell: reset and update gates, then the candidate)."""

    _default_name = "gru_cell"

    def call(self, inputs, state):
        gates = math_ops.sigmoid(self._linear([inputs, state], 2 * self._num_units, "gates", bias_init=1.0))
        r, u = array_ops.split(gates, 2, axis=1)
        cand = self._activation(self._linear([inputs, r * state], self._num_units, "candidate"))
        new_h = u * state + (1 - u) * cand
        return new_h, new_h


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Unroll cell over a list of [batch, input] tensors; returns (outputs, final state)."""
    if sequence_length is not None:
        raise ValueError("static_rnn with sequence_length is not supported; pad or mask the outputs")
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs must not be empty")
    with variable_scope.variable_scope(scope, default_name="rnn"):
        state = initial_state
        if state is None:
            if dtype is None:
                raise ValueError("If no initial_state is provided, dtype must be specified")
            state = cell.zero_state(array_ops.shape(inputs[0])[0], dtype)
        outputs = []
        for x in inputs:
            out, state = cell(x, state)
            outputs.append(out)
        return outputs, state
