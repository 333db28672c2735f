"""Recurrent cells and their wrappers (TF1's tf.nn.rnn_cell).

A cell is a layer: `output, new_state = cell(inputs, state)` computes one
time step. Its variables are made on the first call, in a variable scope named
after the cell class ("basic_lstm_cell", "lstm_cell", ...) inside the scope it
is first called in, and reused by every later call, so an unrolled network
shares one set of weights across time, and the variable names are TF1's
("rnn/basic_lstm_cell/kernel", "rnn/multi_rnn_cell/cell_0/lstm_cell/bias").

Cells know nothing of how they are unrolled: `static_rnn` (staticflow.ops.rnn)
calls them once per step of a Python list, and a loop-based unroller can call
the same cells inside a loop body.
"""

from __future__ import annotations

import collections
import numbers

from staticflow.framework import dtypes, nest
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.layers.base import Layer
from staticflow.layers.core import _activation
from staticflow.ops import (
    array_ops,
    builder,
    clip_ops,
    init_ops,
    math_ops,
    nn_impl,
    nn_ops,
    random_ops,
)
from staticflow.ops import variable_scope as vs
from staticflow.ops.rnn import _concat, assert_like_rnncell

_BIAS_VARIABLE_NAME = "bias"
_WEIGHTS_VARIABLE_NAME = "kernel"


def _as_dims(size) -> list:
    return TensorShape(size).as_list() if not isinstance(size, fops.Tensor) else [None]


def _zero_state_tensors(state_size, batch_size, dtype):
    """Zeros of shape [batch_size, s] for each s in the (nested) state_size."""

    def zeros(s):
        z = array_ops.zeros(_concat(batch_size, s), dtype=dtype)
        static = _concat(batch_size, s, static=True)
        if static is not None:
            z.set_shape(static)
        return z

    return nest.map_structure(zeros, state_size)


def _check_supported_dtypes(dtype) -> None:
    if dtype is None:
        return
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"RNN cell only supports floating point inputs, but saw dtype: {dtype.name}")


def _check_rnn_cell_input_dtypes(inputs) -> None:
    for t in nest.flatten(inputs):
        _check_supported_dtypes(t.dtype)


def _check_2d(cell, input_shape) -> int:
    shape = TensorShape(input_shape)
    if shape.ndims is not None and shape.ndims != 2:
        raise ValueError(
            f"Input 0 of layer {cell.name} is incompatible with the layer: expected ndim=2, found "
            f"ndim={shape.ndims}. Full shape received: {shape}"
        )
    depth = shape[-1].value if shape.ndims is not None else None
    if depth is None:
        raise ValueError(f"Expected inputs.shape[-1] to be known, saw shape: {shape}")
    return depth


class RNNCell(Layer):
    """Abstract cell: `output, next_state = call(inputs, state)`, with `state_size` and
    `output_size`. Variables made with get_variable inside `call` are tracked as the
    cell's weights."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._is_tf_rnn_cell = True
        self._rnncell_scope = None

    def __call__(self, inputs, state, scope=None):
        """Run one step from `state` on `inputs` ([batch, input_size])."""
        if scope is not None:
            with vs.variable_scope(scope, custom_getter=self._rnn_get_variable) as sc:
                return super().__call__(inputs, state, scope=sc)
        if self._rnncell_scope is None:
            with vs.variable_scope(vs.get_variable_scope(), custom_getter=self._rnn_get_variable) as sc:
                self._rnncell_scope = sc
                return super().__call__(inputs, state)
        with vs.variable_scope(self._rnncell_scope):
            return super().__call__(inputs, state)

    def _rnn_get_variable(self, getter, *args, **kwargs):
        variable = getter(*args, **kwargs)
        self._track(variable, variable.trainable)  # (not a scan of every variable at each step)
        return variable

    @property
    def state_size(self):
        """Size(s) of the state: an int, a TensorShape, or a (nested) tuple of them."""
        raise NotImplementedError("Abstract method")

    @property
    def output_size(self):
        """Size of the output: an int or a TensorShape."""
        raise NotImplementedError("Abstract method")

    def build(self, _):
        pass

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """zero_state for `inputs`' batch size and dtype, or for the given ones."""
        if inputs is not None:
            inputs = fops.convert_to_tensor(inputs, name="inputs")
            if batch_size is not None:
                static = (
                    builder.constant_value(batch_size) if isinstance(batch_size, fops.Tensor) else batch_size
                )
                if inputs.shape[0].value != static:
                    raise ValueError(
                        "batch size from input tensor is different from the input param. Input tensor "
                        f"batch: {inputs.shape[0].value}, batch_size: {batch_size}"
                    )
            if dtype is not None and inputs.dtype != dtypes.as_dtype(dtype):
                raise ValueError(
                    "dtype from input tensor is different from the input param. Input tensor dtype: "
                    f"{inputs.dtype.name}, dtype: {dtypes.as_dtype(dtype).name}"
                )
            batch_size = inputs.shape[0].value or array_ops.shape(inputs)[0]
            dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError(
                "batch_size and dtype cannot be None while constructing initial state: "
                f"batch_size={batch_size}, dtype={dtype}"
            )
        return self.zero_state(batch_size, dtype)

    def zero_state(self, batch_size, dtype):
        """Zeros of shape [batch_size, s] for each s in state_size (int or scalar tensor batch)."""
        with fops.name_scope(type(self).__name__ + "ZeroState", values=[batch_size]):
            return _zero_state_tensors(self.state_size, batch_size, dtype)


class LayerRNNCell(RNNCell):
    """A cell whose `build` makes its variables (with add_weight), like any layer."""

    def __call__(self, inputs, state, scope=None, *args, **kwargs):
        return Layer.__call__(self, inputs, state, *args, scope=scope, **kwargs)


class BasicRNNCell(LayerRNNCell):
    """output = new_state = activation(concat([inputs, state]) @ kernel + bias)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self.dtype)
        self._num_units = num_units
        self._activation = _activation(activation) or math_ops.tanh

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _check_2d(self, inputs_shape)
        _check_supported_dtypes(self.dtype)
        self._kernel = self.add_weight(_WEIGHTS_VARIABLE_NAME, [depth + self._num_units, self._num_units])
        self._bias = self.add_weight(
            _BIAS_VARIABLE_NAME, [self._num_units], initializer=init_ops.zeros_initializer(self.dtype)
        )
        self.built = True

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        gate_inputs = nn_ops.bias_add(
            math_ops.matmul(array_ops.concat([inputs, state], 1), self._kernel), self._bias
        )
        output = self._activation(gate_inputs)
        return output, output


class GRUCell(LayerRNNCell):
    """Gated recurrent unit: reset and update gates (bias 1.0), then the candidate state."""

    def __init__(
        self,
        num_units,
        activation=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self.dtype)
        self._num_units = num_units
        self._activation = _activation(activation) or math_ops.tanh
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _check_2d(self, inputs_shape)
        _check_supported_dtypes(self.dtype)
        n = self._num_units
        bias_init = self._bias_initializer
        self._gate_kernel = self.add_weight(
            "gates/kernel", [depth + n, 2 * n], initializer=self._kernel_initializer
        )
        self._gate_bias = self.add_weight(
            "gates/bias",
            [2 * n],
            initializer=bias_init or init_ops.constant_initializer(1.0, dtype=self.dtype),
        )
        self._candidate_kernel = self.add_weight(
            "candidate/kernel", [depth + n, n], initializer=self._kernel_initializer
        )
        self._candidate_bias = self.add_weight(
            "candidate/bias", [n], initializer=bias_init or init_ops.zeros_initializer(self.dtype)
        )
        self.built = True

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        gate_inputs = math_ops.matmul(array_ops.concat([inputs, state], 1), self._gate_kernel)
        value = math_ops.sigmoid(nn_ops.bias_add(gate_inputs, self._gate_bias))
        r, u = array_ops.split(value, 2, axis=1)
        candidate = math_ops.matmul(array_ops.concat([inputs, r * state], 1), self._candidate_kernel)
        c = self._activation(nn_ops.bias_add(candidate, self._candidate_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


_LSTMStateTuple = collections.namedtuple("LSTMStateTuple", ("c", "h"))


class LSTMStateTuple(_LSTMStateTuple):
    """An LSTM's state (c, h): the cell state and the output."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype.name} vs {h.dtype.name}")
        return c.dtype


class BasicLSTMCell(LayerRNNCell):
    """LSTM without peepholes, clipping or projection; `forget_bias` is added to the forget
    gate. With state_is_tuple=False the state is concat([c, h], 1)."""

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self.dtype)
        self._num_units = num_units
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation) or math_ops.tanh

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _check_2d(self, inputs_shape)
        _check_supported_dtypes(self.dtype)
        n = self._num_units
        self._kernel = self.add_weight(_WEIGHTS_VARIABLE_NAME, [depth + n, 4 * n])
        self._bias = self.add_weight(
            _BIAS_VARIABLE_NAME, [4 * n], initializer=init_ops.zeros_initializer(self.dtype)
        )
        self.built = True

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        sigmoid = math_ops.sigmoid
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = array_ops.split(state, 2, axis=1)
        gate_inputs = nn_ops.bias_add(
            math_ops.matmul(array_ops.concat([inputs, h], 1), self._kernel), self._bias
        )
        i, j, f, o = array_ops.split(gate_inputs, 4, axis=1)
        forget_bias = fops.convert_to_tensor(self._forget_bias, dtype=f.dtype)
        new_c = math_ops.add(
            math_ops.multiply(c, sigmoid(math_ops.add(f, forget_bias))),
            math_ops.multiply(sigmoid(i), self._activation(j)),
        )
        new_h = math_ops.multiply(self._activation(new_c), sigmoid(o))
        new_state = (
            LSTMStateTuple(new_c, new_h) if self._state_is_tuple else array_ops.concat([new_c, new_h], 1)
        )
        return new_h, new_state


class LSTMCell(LayerRNNCell):
    """LSTM with optional peepholes (w_f_diag, w_i_diag, w_o_diag), cell clipping, and a
    projection of the output to `num_proj` units (clipped to proj_clip)."""

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self.dtype)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise ValueError(
                "LSTMCell: num_unit_shards and num_proj_shards (partitioned variables) are not supported"
            )
        self._num_units = num_units
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = num_proj
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation) or math_ops.tanh
        out = num_proj if num_proj else num_units
        self._state_size = LSTMStateTuple(num_units, out) if state_is_tuple else num_units + out
        self._output_size = out

    @property
    def state_size(self):
        return self._state_size

    @property
    def output_size(self):
        return self._output_size

    def build(self, inputs_shape):
        depth = _check_2d(self, inputs_shape)
        _check_supported_dtypes(self.dtype)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_weight(
            _WEIGHTS_VARIABLE_NAME, [depth + h_depth, 4 * n], initializer=self._initializer
        )
        self._bias = self.add_weight(
            _BIAS_VARIABLE_NAME, [4 * n], initializer=init_ops.zeros_initializer(self.dtype)
        )
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", [n], initializer=self._initializer)
            self._w_i_diag = self.add_weight("w_i_diag", [n], initializer=self._initializer)
            self._w_o_diag = self.add_weight("w_o_diag", [n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_weight(
                "projection/kernel", [n, self._num_proj], initializer=self._initializer
            )
        self.built = True

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        num_proj = self._num_units if self._num_proj is None else self._num_proj
        sigmoid = math_ops.sigmoid
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = array_ops.slice_(state, [0, 0], [-1, self._num_units])
            m_prev = array_ops.slice_(state, [0, self._num_units], [-1, num_proj])
        lstm_matrix = nn_ops.bias_add(
            math_ops.matmul(array_ops.concat([inputs, m_prev], 1), self._kernel), self._bias
        )
        i, j, f, o = array_ops.split(lstm_matrix, 4, axis=1)
        if self._use_peepholes:
            c = sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev + sigmoid(
                i + self._w_i_diag * c_prev
            ) * self._activation(j)
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = clip_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            m = math_ops.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = clip_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else array_ops.concat([c, m], 1)
        return m, new_state


class _RNNCellWrapper(RNNCell):
    """A cell that runs another cell (`cell`) and changes its inputs, outputs or state.
    The wrapped cell's variables are named as if it were called directly."""

    def __init__(self, cell, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert_like_rnncell("cell", cell)
        self.cell = cell

    def __call__(self, inputs, state, scope=None):
        return self._call_wrapped_cell(inputs, state, cell_call_fn=self.cell.__call__, scope=scope)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        raise NotImplementedError

    @property
    def wrapped_cell(self):
        return self.cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    @property
    def trainable_weights(self):
        return self.cell.trainable_weights if isinstance(self.cell, Layer) else []

    @property
    def non_trainable_weights(self):
        return self.cell.non_trainable_weights if isinstance(self.cell, Layer) else []

    def zero_state(self, batch_size, dtype):
        with fops.name_scope(type(self).__name__ + "ZeroState", values=[batch_size]):
            return self.cell.zero_state(batch_size, dtype)


def _default_dropout_state_filter_visitor(substate):
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)  # never drop out an LSTM's memory c
    return True


def _enumerated_map_structure_up_to(shallow, map_fn, *args):
    ix = [0]

    def enumerated_fn(*inner):
        r = map_fn(ix[0], *inner)
        ix[0] += 1
        return r

    return nest.map_structure_up_to(shallow, enumerated_fn, *args)


class DropoutWrapper(_RNNCellWrapper):
    """Dropout on the cell's inputs, outputs and/or new state (not on an LSTM's c).

    Keep probabilities are floats in [0, 1] or scalar tensors; a float 1.0 adds no op.
    With variational_recurrent=True one mask per run is drawn (for each of inputs,
    state and outputs) and reused at every step; `dtype`, and `input_size` when
    input_keep_prob < 1, are then required.
    """

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
        **kwargs,
    ):
        super().__init__(cell, dtype=dtype, **kwargs)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError("dropout_state_filter_visitor must be callable")
        self._dropout_state_filter = dropout_state_filter_visitor or _default_dropout_state_filter_visitor
        with fops.name_scope("DropoutWrapperInit"):
            for prob, attr in (
                (input_keep_prob, "input_keep_prob"),
                (state_keep_prob, "state_keep_prob"),
                (output_keep_prob, "output_keep_prob"),
            ):
                tensor_prob = fops.convert_to_tensor(prob)
                const = builder.constant_value(tensor_prob)
                if const is not None:
                    if const < 0 or const > 1:
                        raise ValueError(f"Parameter {attr} must be between 0 and 1: {float(const)}")
                    setattr(self, f"_{attr}", float(const))
                else:
                    setattr(self, f"_{attr}", tensor_prob)
        self._variational_recurrent = variational_recurrent
        self._input_size = input_size
        self._seed = seed
        self._recurrent_input_noise = None
        self._recurrent_state_noise = None
        self._recurrent_output_noise = None
        if variational_recurrent:
            if dtype is None:
                raise ValueError("When variational_recurrent=True, dtype must be provided")

            def batch_noise(s, inner_seed):
                shape = array_ops.concat([[1], TensorShape(s).as_list()], 0)
                return random_ops.random_uniform(shape, seed=inner_seed, dtype=dtype)

            if not isinstance(self._input_keep_prob, numbers.Real) or self._input_keep_prob < 1.0:
                if input_size is None:
                    raise ValueError(
                        "When variational_recurrent=True and input_keep_prob < 1.0 or is unknown, "
                        "input_size must be provided"
                    )
                self._recurrent_input_noise = _enumerated_map_structure_up_to(
                    input_size, lambda i, s: batch_noise(s, self._gen_seed("input", i)), input_size
                )
            self._recurrent_state_noise = _enumerated_map_structure_up_to(
                cell.state_size, lambda i, s: batch_noise(s, self._gen_seed("state", i)), cell.state_size
            )
            self._recurrent_output_noise = _enumerated_map_structure_up_to(
                cell.output_size, lambda i, s: batch_noise(s, self._gen_seed("output", i)), cell.output_size
            )

    def _gen_seed(self, salt_prefix: str, index: int):
        if self._seed is None:
            return None
        salt = f"{salt_prefix}_{index}"
        import hashlib  # (it loads OpenSSL: only when a seed is derived)

        return int(hashlib.md5((str(self._seed) + salt).encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF

    def _variational_recurrent_dropout_value(self, index, value, noise, keep_prob):
        binary = math_ops.floor(keep_prob + noise)
        ret = math_ops.divide(value, keep_prob) * binary
        ret.set_shape(value.shape)
        return ret

    def _dropout(self, values, salt_prefix, recurrent_noise, keep_prob, shallow=None):
        if shallow is None:
            shallow = values
        if not self._variational_recurrent:

            def dropout(i, do_dropout, v):
                if not isinstance(do_dropout, bool) or do_dropout:
                    return nn_impl.dropout(v, rate=1.0 - keep_prob, seed=self._gen_seed(salt_prefix, i))
                return v

            return _enumerated_map_structure_up_to(shallow, dropout, shallow, values)

        def vdropout(i, do_dropout, v, n):
            if not isinstance(do_dropout, bool) or do_dropout:
                return self._variational_recurrent_dropout_value(i, v, n, keep_prob)
            return v

        return _enumerated_map_structure_up_to(shallow, vdropout, shallow, values, recurrent_noise)

    def build(self, inputs_shape):
        self.cell.build(inputs_shape)
        self.built = True

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        def should_dropout(p):
            return not isinstance(p, float) or p < 1

        if should_dropout(self._input_keep_prob):
            inputs = self._dropout(inputs, "input", self._recurrent_input_noise, self._input_keep_prob)
        output, new_state = cell_call_fn(inputs, state, **kwargs)
        if should_dropout(self._state_keep_prob):
            shallow = nest.get_traverse_shallow_structure(self._dropout_state_filter, new_state)
            new_state = self._dropout(
                new_state, "state", self._recurrent_state_noise, self._state_keep_prob, shallow
            )
        if should_dropout(self._output_keep_prob):
            output = self._dropout(output, "output", self._recurrent_output_noise, self._output_keep_prob)
        return output, new_state


class ResidualWrapper(_RNNCellWrapper):
    """Adds the cell's inputs to its outputs (or applies `residual_fn(inputs, outputs)`)."""

    def __init__(self, cell, residual_fn=None, **kwargs):
        super().__init__(cell, **kwargs)
        self._residual_fn = residual_fn

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        outputs, new_state = cell_call_fn(inputs, state, **kwargs)

        def default_residual_fn(inputs, outputs):
            nest.assert_same_structure(inputs, outputs)

            def add(inp, out):
                if not inp.shape.is_compatible_with(out.shape):
                    raise ValueError(
                        f"ResidualWrapper: the cell's inputs {inp.shape} and outputs {out.shape} "
                        "have incompatible shapes"
                    )
                return inp + out

            return nest.map_structure(add, inputs, outputs)

        return (self._residual_fn or default_residual_fn)(inputs, outputs), new_state


class DeviceWrapper(_RNNCellWrapper):
    """Runs the cell (and makes its zero state) under sf.device(device)."""

    def __init__(self, cell, device, **kwargs):
        super().__init__(cell, **kwargs)
        self._device = device

    def zero_state(self, batch_size, dtype):
        with fops.name_scope(type(self).__name__ + "ZeroState", values=[batch_size]):
            with fops.device(self._device):
                return self.cell.zero_state(batch_size, dtype)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        with fops.device(self._device):
            return cell_call_fn(inputs, state, **kwargs)


class MultiRNNCell(RNNCell):
    """Cells stacked in order: each cell's output is the next one's input. The state is a
    tuple of the cells' states (state_is_tuple=True) or their concatenation."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not nest.is_nested(cells):
            raise TypeError(f"cells must be a list or tuple, but saw: {cells}.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(nest.is_nested(c.state_size) for c in self._cells):
            raise ValueError(
                "Some cells return tuples of states, but the flag state_is_tuple is not set. State sizes "
                f"are: {[c.state_size for c in self._cells]}"
            )

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with fops.name_scope(type(self).__name__ + "ZeroState", values=[batch_size]):
            if self._state_is_tuple:
                return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)
            return super().zero_state(batch_size, dtype)

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for cell in self._cells if isinstance(cell, Layer) for w in cell.trainable_weights]

    @property
    def non_trainable_weights(self):
        weights = [w for cell in self._cells if isinstance(cell, Layer) for w in cell.non_trainable_weights]
        if not self.trainable:
            return [
                w for cell in self._cells if isinstance(cell, Layer) for w in cell.trainable_weights
            ] + weights
        return weights

    def call(self, inputs, state):
        cur_pos = 0
        cur_inp = inputs
        new_states = []
        for i, cell in enumerate(self._cells):
            with vs.variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    if not nest.is_nested(state):
                        raise ValueError(
                            f"Expected state to be a tuple of length {len(self.state_size)}, "
                            f"but received: {state}"
                        )
                    cur_state = state[i]
                else:
                    cur_state = array_ops.slice_(state, [0, cur_pos], [-1, cell.state_size])
                    cur_pos += cell.state_size
                cur_inp, new_state = cell(cur_inp, cur_state)
                new_states.append(new_state)
        new_states = tuple(new_states) if self._state_is_tuple else array_ops.concat(new_states, 1)
        return cur_inp, new_states


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
]
