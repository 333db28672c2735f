"""Recurrent networks run by a loop over time (TF1's tf.nn.dynamic_rnn,
bidirectional_dynamic_rnn and raw_rnn), as TensorFlow 1.x builds them with control flow v2.

`dynamic_rnn` is one `while_loop` whose body reads step `time` of the inputs from
TensorArrays (unstacked from the time-major inputs), calls the cell, and writes its
output to TensorArrays stacked after the loop, so the graph has one cell whatever the
number of steps. With `sequence_length`, the loop stops after the longest sequence (at
least one step) and, past each sequence's end, the output is zero and the state is copied
through (a select on `time >= sequence_length`, TF's `_rnn_step` without conditionals):
the final state is each sequence's state at its length. Variables are the cell's, in
variable scope `scope` (default "rnn"), so TF1 checkpoints load (`rnn/lstm_cell/kernel`).
The cell's variables are made outside the loop's body (the variable store lifts them),
which reads them as captured values.

`ops/rnn.py` unrolls statically; both check a cell by its interface only (layers hold the
cells: docs/layers.md).
"""

from __future__ import annotations

from collections.abc import Callable

from staticflow.framework import dtypes, nest
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import array_ops, builder, control_flow_v2, logging_ops, math_ops, tensor_array_ops
from staticflow.ops import variable_scope as vs
from staticflow.ops.rnn import (
    _concat,
    _infer_state_dtype,
    _initial_state,
    _rnn_step,
    assert_like_rnncell,
    reverse_sequence,
)


def _transpose_batch_time(x: fops.Tensor) -> fops.Tensor:
    """x with its first two axes swapped ([B, T, ...] <-> [T, B, ...]); rank < 2 unchanged."""
    static = x.shape
    if static.ndims is not None and static.ndims < 2:
        return x
    if static.ndims is not None:
        perm = [1, 0, *range(2, static.ndims)]
    else:
        perm = array_ops.concat([[1, 0], array_ops.range_(2, array_ops.rank(x))], 0)
    out = array_ops.transpose(x, perm)
    if static.ndims is not None:
        out.set_shape(TensorShape([static[1].value, static[0].value]).concatenate(static[2:]))
    return out


def _best_effort_input_batch_size(flat_input: list) -> int | fops.Tensor:
    """The batch size (axis 1 of time-major inputs): static when some input knows it."""
    for input_ in flat_input:
        shape = input_.shape
        if shape.ndims is None:
            continue
        if shape.ndims < 2:
            raise ValueError(
                f"Input tensor should have rank >= 2. Received input={input_} of rank {shape.ndims}"
            )
        if shape[1].value is not None:
            return shape[1].value
    return array_ops.shape(flat_input[0])[1]


def _size_shape(size) -> TensorShape:
    """An output size (int, TensorShape, or an int vector tensor) as a TensorShape."""
    if isinstance(size, fops.Tensor):
        value = builder.constant_value(size)
        return TensorShape(None if value is None else [int(v) for v in value])
    return as_shape(size)


def _assert_has_shape(x: fops.Tensor, shape: list) -> fops.Operation:
    """An Assert that x's shape is `shape` when the graph runs (TF's message)."""
    packed = array_ops.stack(shape)
    return logging_ops.Assert(
        math_ops.reduce_all(math_ops.equal(array_ops.shape(x), packed)),
        [f"Expected shape for Tensor {x.name} is ", packed, " but saw shape: ", array_ops.shape(x)],
    )


def dynamic_rnn(
    cell,
    inputs,
    sequence_length=None,
    initial_state=None,
    dtype=None,
    parallel_iterations: int | None = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope=None,
):
    """Run `cell` over the time axis of `inputs` in a while_loop; returns (outputs, state).

    inputs: [batch, time, ...] (time_major: [time, batch, ...]), or a nest of such tensors;
    sequence_length: int vector [batch]: past step sequence_length[b] the output of example
    b is zero and its state is the one at its last step; initial_state: the cell's state
    (else `dtype` is required and the cell's zero state is used). outputs has inputs' major
    order and the cell's output structure; state the cell's state structure.
    """
    assert_like_rnncell("cell", cell)
    with vs.variable_scope(scope or "rnn"):
        flat_input = nest.flatten(inputs)
        if not time_major:  # (B, T, D) => (T, B, D)
            flat_input = [_transpose_batch_time(fops.convert_to_tensor(x)) for x in flat_input]
        else:
            flat_input = [fops.convert_to_tensor(x) for x in flat_input]
        parallel_iterations = parallel_iterations or 32
        if sequence_length is not None:
            sequence_length = math_ops.cast(sequence_length, dtypes.int32)
            if sequence_length.shape.ndims not in (None, 1):
                raise ValueError(
                    "Argument sequence_length must be a vector of length batch_size. Received "
                    f"sequence_length={sequence_length} of shape: {sequence_length.shape}"
                )
            sequence_length = array_ops.identity(sequence_length, name="sequence_length")
        batch_size = _best_effort_input_batch_size(flat_input)
        state = _initial_state(cell, initial_state, batch_size, dtype)
        if sequence_length is not None:
            with fops.control_dependencies([_assert_has_shape(sequence_length, [batch_size])]):
                sequence_length = array_ops.identity(sequence_length, name="CheckSeqLen")
        inputs = nest.pack_sequence_as(inputs, flat_input)
        outputs, final_state = _dynamic_rnn_loop(
            cell, inputs, state, parallel_iterations, swap_memory, sequence_length, dtype
        )
        if not time_major:  # (T, B, D) => (B, T, D)
            outputs = nest.map_structure(_transpose_batch_time, outputs)
        return outputs, final_state


def _dynamic_rnn_loop(cell, inputs, initial_state, parallel_iterations, swap_memory, sequence_length, dtype):
    """The loop of dynamic_rnn over time-major inputs: (outputs [T, B, ...], final state)."""
    state = initial_state
    flat_input = nest.flatten(inputs)
    flat_output_size = nest.flatten(cell.output_size)
    time_steps = array_ops.shape(flat_input[0])[0]
    batch_size = _best_effort_input_batch_size(flat_input)
    got_shapes = [x.shape.with_rank_at_least(3) for x in flat_input]
    const_time_steps, const_batch_size = got_shapes[0].as_list()[:2]
    for x, shape in zip(flat_input, got_shapes):
        if not shape[2:].is_fully_defined():
            raise ValueError(
                "Input size (depth of inputs) must be accessible via shape inference, but saw value "
                f"None for input={x}."
            )
        if shape[0].value != const_time_steps:
            raise ValueError("Time steps is not the same for all the elements in the input in a batch.")
        if shape[1].value != const_batch_size:
            raise ValueError("Batch_size is not the same for all the elements in the input.")
    out_dtype = _infer_state_dtype(dtype, state)

    def zeros_for(size):
        return array_ops.zeros(_concat(batch_size, size), out_dtype)

    zero_output = nest.pack_sequence_as(cell.output_size, [zeros_for(s) for s in flat_output_size])
    if sequence_length is not None:
        max_sequence_length = math_ops.reduce_max(sequence_length)
    else:
        max_sequence_length = time_steps
    time = array_ops.constant(0, dtype=dtypes.int32, name="time")
    with fops.name_scope("dynamic_rnn") as base_name:
        pass

    def make_ta(name, element_shape, dt):
        return tensor_array_ops.TensorArray(
            dtype=dt, size=time_steps, element_shape=element_shape, tensor_array_name=base_name + name
        )

    output_ta = tuple(
        make_ta(f"output_{i}", TensorShape([const_batch_size]).concatenate(_size_shape(size)), out_dtype)
        for i, size in enumerate(flat_output_size)
    )
    input_ta = tuple(make_ta(f"input_{i}", x.shape[1:], x.dtype).unstack(x) for i, x in enumerate(flat_input))

    def time_step(time, output_ta_t, state):
        input_t = tuple(ta.read(time) for ta in input_ta)
        for x, shape in zip(input_t, got_shapes):
            x.set_shape(shape[1:])
        input_t = nest.pack_sequence_as(inputs, list(input_t))

        def call_cell():
            return cell(input_t, state)

        if sequence_length is not None:
            output, new_state = _rnn_step(time, sequence_length, zero_output, state, call_cell)
        else:
            output, new_state = call_cell()
        output = nest.flatten(output)
        output_ta_t = tuple(ta.write(time, out) for ta, out in zip(output_ta_t, output))
        return time + 1, output_ta_t, new_state

    # at least one step, so that the output arrays see the outputs' shape
    loop_bound = math_ops.minimum(time_steps, math_ops.maximum(1, max_sequence_length))
    _, output_final_ta, final_state = control_flow_v2.while_loop(
        cond=lambda time, *_: time < loop_bound,
        body=time_step,
        loop_vars=(time, output_ta, state),
        parallel_iterations=parallel_iterations,
        maximum_iterations=time_steps,
        swap_memory=swap_memory,
    )
    final_outputs = tuple(ta.stack() for ta in output_final_ta)
    for output, size in zip(final_outputs, flat_output_size):
        output.set_shape(TensorShape([const_time_steps, const_batch_size]).concatenate(_size_shape(size)))
    final_outputs = nest.pack_sequence_as(cell.output_size, list(final_outputs))
    return final_outputs, final_state


def bidirectional_dynamic_rnn(
    cell_fw,
    cell_bw,
    inputs,
    sequence_length=None,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    parallel_iterations: int | None = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope=None,
):
    """A forward and a backward dynamic_rnn over `inputs`; returns ((output_fw, output_bw),
    (state_fw, state_bw)). The backward RNN reads each example's first sequence_length[b]
    steps in reverse (all steps without sequence_length), and its outputs are reversed back
    to the inputs' order. Variable scopes: `scope` (default "bidirectional_rnn")/fw, /bw."""
    assert_like_rnncell("cell_fw", cell_fw)
    assert_like_rnncell("cell_bw", cell_bw)
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)

    def reverse(x):
        if sequence_length is not None:
            return reverse_sequence(x, seq_lengths=sequence_length, seq_axis=time_axis, batch_axis=batch_axis)
        return x[::-1] if time_axis == 0 else x[:, ::-1]

    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            output_fw, output_state_fw = dynamic_rnn(
                cell_fw,
                inputs,
                sequence_length=sequence_length,
                initial_state=initial_state_fw,
                dtype=dtype,
                parallel_iterations=parallel_iterations,
                swap_memory=swap_memory,
                time_major=time_major,
                scope=fw_scope,
            )
        with vs.variable_scope("bw") as bw_scope:
            inputs_reverse = nest.map_structure(reverse, inputs)
            tmp, output_state_bw = dynamic_rnn(
                cell_bw,
                inputs_reverse,
                sequence_length=sequence_length,
                initial_state=initial_state_bw,
                dtype=dtype,
                parallel_iterations=parallel_iterations,
                swap_memory=swap_memory,
                time_major=time_major,
                scope=bw_scope,
            )
    output_bw = nest.map_structure(reverse, tmp)
    return (output_fw, output_bw), (output_state_fw, output_state_bw)


def raw_rnn(
    cell, loop_fn: Callable, parallel_iterations: int | None = None, swap_memory: bool = False, scope=None
):
    """TF1's raw_rnn: a while_loop driven by `loop_fn(time, cell_output, cell_state,
    loop_state) -> (finished, next_input, next_cell_state, emit_output, next_loop_state)`,
    first called with time 0 and None for the rest (its state is the initial state, its
    emit_output, when not None, the structure of what is emitted). The loop runs until every
    example is finished; a finished example keeps its state and emits zeros.

    Returns (emit_ta, final_state, final_loop_state): emit_ta is a (nest of) TensorArray
    indexed by time."""
    assert_like_rnncell("cell", cell)
    if not callable(loop_fn):
        raise TypeError(f"Argument `loop_fn` must be a callable. Received: {loop_fn}.")
    parallel_iterations = parallel_iterations or 32
    with vs.variable_scope(scope or "rnn"):
        time = array_ops.constant(0, dtype=dtypes.int32)
        elements_finished, next_input, initial_state, emit_structure, init_loop_state = loop_fn(
            time, None, None, None
        )
        flat_input = [fops.convert_to_tensor(x) for x in nest.flatten(next_input)]
        next_input = nest.pack_sequence_as(next_input, flat_input)
        loop_state = (
            init_loop_state if init_loop_state is not None else array_ops.constant(0, dtype=dtypes.int32)
        )
        shapes = [x.shape for x in flat_input]
        static_batch = shapes[0].with_rank_at_least(1)[0]
        for s in shapes:
            other = s.with_rank_at_least(1)[0]
            if not static_batch.is_compatible_with(other):
                raise ValueError(f"Dimensions {static_batch} and {other} are not compatible")
        const_batch_size = static_batch.value
        batch_size = const_batch_size if const_batch_size is not None else array_ops.shape(flat_input[0])[0]
        nest.assert_same_structure(initial_state, cell.state_size)
        flat_state = [fops.convert_to_tensor(s) for s in nest.flatten(initial_state)]
        state = nest.pack_sequence_as(initial_state, flat_state)
        if emit_structure is not None:
            flat_emit_structure = [fops.convert_to_tensor(e) for e in nest.flatten(emit_structure)]
            flat_emit_size = [
                e.shape if e.shape.is_fully_defined() else array_ops.shape(e) for e in flat_emit_structure
            ]
            flat_emit_dtypes = [e.dtype for e in flat_emit_structure]
        else:
            emit_structure = cell.output_size
            flat_emit_size = nest.flatten(emit_structure)
            flat_emit_dtypes = [flat_state[0].dtype] * len(flat_emit_size)
        flat_emit_ta = [
            tensor_array_ops.TensorArray(
                dtype=dt,
                dynamic_size=True,
                element_shape=TensorShape([const_batch_size]).concatenate(_size_shape(size)),
                size=0,
                name=f"rnn_output_{i}",
            )
            for i, (dt, size) in enumerate(zip(flat_emit_dtypes, flat_emit_size))
        ]
        emit_ta = nest.pack_sequence_as(emit_structure, flat_emit_ta)
        zero_emit = nest.pack_sequence_as(
            emit_structure,
            [array_ops.zeros(_concat(batch_size, s), dt) for s, dt in zip(flat_emit_size, flat_emit_dtypes)],
        )

        def condition(unused_time, elements_finished, *_):
            return math_ops.logical_not(math_ops.reduce_all(elements_finished))

        def body(time, elements_finished, current_input, emit_ta, state, loop_state):
            next_output, cell_state = cell(current_input, state)
            nest.assert_same_structure(state, cell_state)
            nest.assert_same_structure(cell.output_size, next_output)
            next_time = time + 1
            next_finished, next_input, next_state, emit_output, next_loop_state = loop_fn(
                next_time, next_output, cell_state, loop_state
            )
            nest.assert_same_structure(state, next_state)
            nest.assert_same_structure(current_input, next_input)
            nest.assert_same_structure(emit_ta, emit_output)
            loop_state = loop_state if next_loop_state is None else next_loop_state

            def copy_some_through(current, candidate):
                def copy_fn(cur, cand):
                    if isinstance(cur, tensor_array_ops.TensorArray):
                        return cand
                    if cur.shape.ndims == 0:
                        return cand
                    out = math_ops.where(elements_finished, cur, cand)
                    out.set_shape(cur.shape)
                    return out

                return nest.map_structure(copy_fn, current, candidate)

            emit_output = copy_some_through(zero_emit, emit_output)
            next_state = copy_some_through(state, next_state)
            emit_ta = nest.map_structure(lambda ta, emit: ta.write(time, emit), emit_ta, emit_output)
            elements_finished = math_ops.logical_or(elements_finished, next_finished)
            return next_time, elements_finished, next_input, emit_ta, next_state, loop_state

        returned = control_flow_v2.while_loop(
            condition,
            body,
            loop_vars=[time, elements_finished, next_input, emit_ta, state, loop_state],
            parallel_iterations=parallel_iterations,
            swap_memory=swap_memory,
        )
        emit_ta, final_state, final_loop_state = returned[-3:]
        if init_loop_state is None:
            final_loop_state = None
        return emit_ta, final_state, final_loop_state
