"""Static unrolling of recurrent cells (TF1's tf.nn.static_rnn and
static_bidirectional_rnn) and reverse_sequence.

The network is unrolled over a Python list of inputs, one cell call per step.
With `sequence_length`, every step still runs, and past each example's length
its output is zero and its state is copied through (TF's semantics; TF skips
the steps past the longest sequence with a conditional, which gives the same
values).
"""

from __future__ import annotations

from staticflow.framework import dtypes, nest
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import array_ops, builder, math_ops
from staticflow.ops import variable_scope as vs


def _hasattr(obj, name: str) -> bool:
    try:
        getattr(obj, name)
    except AttributeError:
        return False
    return True


def assert_like_rnncell(cell_name: str, cell) -> None:
    """Raise TypeError unless `cell` has output_size, state_size, zero_state and is callable."""
    conditions = [
        _hasattr(cell, "output_size"),
        _hasattr(cell, "state_size"),
        _hasattr(cell, "get_initial_state") or _hasattr(cell, "zero_state"),
        callable(cell),
    ]
    errors = [
        "'output_size' property is missing",
        "'state_size' property is missing",
        "either 'zero_state' or 'get_initial_state' method is required",
        "is not callable",
    ]
    if not all(conditions):
        missing = ", ".join(e for e, ok in zip(errors, conditions) if not ok)
        raise TypeError(f"The argument {cell_name!r} ({cell}) is not an RNNCell: {missing}.")


def _concat(prefix, suffix, static: bool = False):
    """[prefix..., suffix...] from ints, TensorShapes or tensors: a list of ints/None when
    static, else an int32 tensor."""
    if isinstance(prefix, fops.Tensor):
        p = prefix if prefix.shape.ndims != 0 else array_ops.expand_dims(prefix, 0)
        pv = builder.constant_value(prefix)
        p_static = [None if pv is None else int(pv)] if prefix.shape.ndims == 0 else None
    else:
        ps = TensorShape(prefix)
        p_static = ps.as_list() if ps.ndims is not None else None
        p = fops.convert_to_tensor(ps.as_list(), dtype=dtypes.int32) if ps.is_fully_defined() else None
    if isinstance(suffix, fops.Tensor):
        s = suffix if suffix.shape.ndims != 0 else array_ops.expand_dims(suffix, 0)
        s_static = None
    else:
        ss = TensorShape(suffix)
        s_static = ss.as_list() if ss.ndims is not None else None
        s = fops.convert_to_tensor(ss.as_list(), dtype=dtypes.int32) if ss.is_fully_defined() else None
    if static:
        if p_static is None or s_static is None:
            return None
        return p_static + s_static
    if p is None or s is None:
        raise ValueError(f"Provided a prefix or suffix of None: {prefix} and {suffix}")
    return array_ops.concat([math_ops.cast(p, dtypes.int32), s], 0)


def reverse_sequence(
    input,  # noqa: A002 - TF's name
    seq_lengths,
    seq_axis=None,
    batch_axis=None,
    name=None,
    seq_dim=None,
    batch_dim=None,
):
    """Reverse the first seq_lengths[b] entries along seq_axis of each slice b along batch_axis;
    entries past the length stay in place (TF1's tf.reverse_sequence)."""
    if seq_axis is None:
        seq_axis = seq_dim
    if batch_axis is None:
        batch_axis = batch_dim if batch_dim is not None else 0
    if seq_axis is None:
        raise ValueError("reverse_sequence needs seq_axis")
    with fops.name_scope(name, "ReverseSequence", [input, seq_lengths]):
        x = fops.convert_to_tensor(input, name="input")
        lengths = math_ops.cast(fops.convert_to_tensor(seq_lengths, name="seq_lengths"), dtypes.int32)
        rank = x.shape.ndims
        if rank is None:
            raise ValueError("reverse_sequence needs an input of known rank")
        seq_axis, batch_axis = seq_axis % rank, batch_axis % rank
        if seq_axis == batch_axis:
            raise ValueError(f"seq_axis and batch_axis must differ, both are {seq_axis}")
        if lengths.shape.ndims not in (None, 1):
            raise ValueError(f"seq_lengths must be a vector, got shape {lengths.shape}")
        perm = [seq_axis, batch_axis] + [a for a in range(rank) if a not in (seq_axis, batch_axis)]
        inverse = [perm.index(a) for a in range(rank)]
        xt = array_ops.transpose(x, perm)  # [T, B, ...]
        shape = array_ops.shape(xt)
        steps, batch = shape[0], shape[1]
        t = array_ops.expand_dims(array_ops.range_(steps), 1)
        n = array_ops.expand_dims(lengths, 0)
        source = math_ops.where_v2(t < n, n - 1 - t, t)  # [T, B]: the step each entry comes from
        index = array_ops.reshape(source * batch + array_ops.expand_dims(array_ops.range_(batch), 0), [-1])
        flat = array_ops.reshape(xt, array_ops.concat([[-1], shape[2:]], 0))
        out = array_ops.reshape(array_ops.gather(flat, index), shape)
        out = array_ops.transpose(out, inverse)
        out.set_shape(x.shape)
        return out


def _infer_state_dtype(explicit_dtype, state):
    if explicit_dtype is not None:
        return dtypes.as_dtype(explicit_dtype)
    inferred = [s.dtype for s in nest.flatten(state)]
    if not inferred:
        raise ValueError(f"Unable to infer dtype from empty state: {state}")
    if any(d != inferred[0] for d in inferred):
        raise ValueError(f"State has tensors of different inferred dtypes. Unable to infer a single "
                         f"representative dtype. Dtypes: {[d.name for d in inferred]}")  # fmt: skip
    return inferred[0]


def _initial_state(cell, initial_state, batch_size, dtype):
    """The state an RNN starts from: `initial_state`, else the cell's zero state of `dtype`
    (TF1's error when neither is given)."""
    if initial_state is not None:
        return initial_state
    if not dtype:
        raise ValueError("If no initial_state is provided, argument `dtype` must be specified")
    if getattr(cell, "get_initial_state", None) is not None:
        return cell.get_initial_state(inputs=None, batch_size=batch_size, dtype=dtype)
    return cell.zero_state(batch_size, dtype)


def _rnn_step(time, sequence_length, zero_output, state, call_cell):
    """One step of an RNN over a batch of sequences: the cell's output and new state where
    time < sequence_length[b], else zeros and the old state (rows chosen by `where`)."""
    new_output, new_state = call_cell()
    nest.assert_same_structure(zero_output, new_output)
    nest.assert_same_structure(state, new_state)
    copy = time >= sequence_length

    def copy_through(old, new):
        if old.shape.ndims == 0:
            return new
        out = math_ops.where(copy, old, new)
        out.set_shape(old.shape)
        return out

    final_output = nest.map_structure(copy_through, zero_output, new_output)
    final_state = nest.map_structure(copy_through, state, new_state)
    return final_output, final_state


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Unroll `cell` over `inputs`, a list of [batch, input_size] tensors (or nested tuples).

    Returns (outputs, final state). With `sequence_length` (an int vector [batch]), the
    output of example b at step t >= sequence_length[b] is zero and its state is the one
    at its last step. Variables are made in variable scope `scope` (default "rnn").
    """
    assert_like_rnncell("cell", cell)
    if not nest.is_nested(inputs):
        raise TypeError(f"Argument `inputs` must be a sequence. Received: {inputs}")
    if not inputs:
        raise ValueError("Argument `inputs` must not be empty.")
    outputs = []
    with vs.variable_scope(scope or "rnn") as varscope:
        first_input = inputs
        while nest.is_nested(first_input):
            first_input = first_input[0]
        first_input = fops.convert_to_tensor(first_input)
        if first_input.shape.ndims != 1:
            fixed_batch = first_input.shape.with_rank_at_least(2)[0]
            for flat_input in nest.flatten(inputs):
                shape = fops.convert_to_tensor(flat_input).shape.with_rank_at_least(2)
                fixed_batch = fixed_batch.merge_with(shape[0])
                for i, size in enumerate(shape[1:].as_list()):
                    if size is None:
                        raise ValueError(
                            f"Input size (dimension {i} of input {flat_input}) must be accessible via shape "
                            "inference, but saw value None."
                        )
        else:
            fixed_batch = first_input.shape.with_rank_at_least(1)[0]
        batch_size = fixed_batch.value if fixed_batch.value else array_ops.shape(first_input)[0]
        state = _initial_state(cell, initial_state, batch_size, dtype)
        if sequence_length is not None:
            sequence_length = fops.convert_to_tensor(sequence_length, name="sequence_length")
            if sequence_length.shape.ndims not in (None, 1):
                raise ValueError(
                    f"Argument `sequence_length` must be a vector of length {batch_size}. Received "
                    f"sequence_length={sequence_length}."
                )
            out_dtype = _infer_state_dtype(dtype, state)

            def zero_output_for(size):
                z = array_ops.zeros(_concat(batch_size, size), out_dtype)
                z.set_shape(TensorShape([fixed_batch.value]).concatenate(TensorShape(size)))
                return z

            output_size = cell.output_size
            zero_output = nest.pack_sequence_as(
                output_size, [zero_output_for(s) for s in nest.flatten(output_size)]
            )
            sequence_length = math_ops.cast(sequence_length, dtypes.int32)
        for time, input_ in enumerate(inputs):
            if time > 0:
                varscope.reuse_variables()

            def call_cell(input_=input_, state=state):
                return cell(input_, state)

            if sequence_length is not None:
                output, state = _rnn_step(time, sequence_length, zero_output, state, call_cell)
            else:
                output, state = call_cell()
            outputs.append(output)
        return outputs, state


def _reverse_seq(input_seq, lengths):
    """The list reversed, or, with lengths, each example's first lengths[b] steps reversed."""
    if lengths is None:
        return list(reversed(input_seq))
    flat_seqs = [nest.flatten(x) for x in input_seq]
    flat_results = [[] for _ in input_seq]
    for sequence in zip(*flat_seqs):
        shape = TensorShape(None)
        for x in sequence:
            shape = shape.merge_with(x.shape) if shape.ndims is not None else TensorShape(x.shape)
        reversed_ = array_ops.unstack(reverse_sequence(array_ops.stack(sequence), lengths, 0, 1))
        for r, out in zip(reversed_, flat_results):
            r.set_shape(shape)
            out.append(r)
    return [nest.pack_sequence_as(x, r) for x, r in zip(input_seq, flat_results)]


def static_bidirectional_rnn(
    cell_fw,
    cell_bw,
    inputs,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    sequence_length=None,
    scope=None,
):
    """A forward and a backward static_rnn over `inputs`; returns (outputs, state_fw, state_bw)
    where outputs[t] = concat([fw[t], bw[t]], 1). With sequence_length, the backward RNN reads
    each example's first sequence_length[b] steps in reverse. Scopes: bidirectional_rnn/fw, /bw."""
    assert_like_rnncell("cell_fw", cell_fw)
    assert_like_rnncell("cell_bw", cell_bw)
    if not nest.is_nested(inputs):
        raise TypeError(f"Argument `inputs` must be a sequence. Received: {inputs}")
    if not inputs:
        raise ValueError("Argument `inputs` must not be empty.")
    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            output_fw, output_state_fw = static_rnn(
                cell_fw, inputs, initial_state_fw, dtype, sequence_length, scope=fw_scope
            )
        with vs.variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_seq(inputs, sequence_length)
            tmp, output_state_bw = static_rnn(
                cell_bw, reversed_inputs, initial_state_bw, dtype, sequence_length, scope=bw_scope
            )
    output_bw = _reverse_seq(tmp, sequence_length)
    flat = [array_ops.concat([fw, bw], 1) for fw, bw in zip(nest.flatten(output_fw), nest.flatten(output_bw))]
    return nest.pack_sequence_as(output_fw, flat), output_state_fw, output_state_bw
