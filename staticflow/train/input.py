"""TF1's queue-based input pipeline builders: producers, batch and shuffle_batch.

A producer (`string_input_producer`, ...) is a queue filled by a QueueRunner
with its input, for `num_epochs` epochs (counted by a local variable) or
forever; `batch` and `shuffle_batch` put tensors into a FIFO or random-shuffle
queue from `num_threads` threads and dequeue batches of them. Nothing runs
until `sf.train.start_queue_runners` starts the runners' threads.
"""

from __future__ import annotations

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import builder, queue_ops
from staticflow.train.queue_runner import QueueRunner, add_queue_runner

D = dtypes


def _summary_scalar(name: str, make_value) -> None:
    """The queue-fullness summary TF1 adds, where sf.summary has scalar summaries."""
    from staticflow import summary

    scalar = getattr(summary, "scalar", None)
    if scalar is not None:
        scalar(name, make_value())


def limit_epochs(tensor, num_epochs=None, name=None):
    """`tensor`, produced `num_epochs` times; the next evaluation raises OutOfRangeError.
    The count lives in a local variable (run sf.local_variables_initializer())."""
    from staticflow.ops import state_ops
    from staticflow.ops.array_ops import constant

    if num_epochs is None:
        return tensor
    if num_epochs <= 0:
        raise ValueError(f"num_epochs must be > 0 not {num_epochs}.")
    with fops.name_scope(name, "limit_epochs", [tensor]) as scope:
        zero64 = constant(0, dtype=D.int64)
        epochs = state_ops.Variable(
            zero64, name="epochs", trainable=False, collections=[fops.GraphKeys.LOCAL_VARIABLES]
        )
        counter = epochs.count_up_to(num_epochs)
        with fops.control_dependencies([counter]):
            return builder.apply_op("Identity", [tensor], None, name=scope[:-1], exact_name=True).outputs[0]


def input_producer(
    input_tensor,
    element_shape=None,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    summary_name=None,
    name=None,
    cancel_op=None,
):
    """A FIFO queue filled with the rows of input_tensor (shuffled each epoch if shuffle),
    num_epochs times or forever, by a QueueRunner in the graph's collection."""
    from staticflow.ops import math_ops, random_ops

    with fops.name_scope(name, "input_producer", [input_tensor]) as scope:
        input_tensor = fops.convert_to_tensor(input_tensor, name="input_tensor")
        element_shape = input_tensor.shape[1:].merge_with(as_shape(element_shape))
        if not element_shape.is_fully_defined():
            raise ValueError(
                "Either `input_tensor` must have a fully defined shape or `element_shape` must be specified"
            )
        if shuffle:
            input_tensor = random_ops.random_shuffle(input_tensor, seed=seed)
        input_tensor = limit_epochs(input_tensor, num_epochs)
        q = queue_ops.FIFOQueue(
            capacity=capacity,
            dtypes=[input_tensor.dtype],
            shapes=[element_shape],
            shared_name=shared_name,
            name=scope,
        )
        enq = q.enqueue_many([input_tensor])
        add_queue_runner(QueueRunner(q, [enq], cancel_op=cancel_op))
        if summary_name is not None:
            _summary_scalar(summary_name, lambda: math_ops.cast(q.size(), D.float32) * (1.0 / capacity))
        return q


def string_input_producer(
    string_tensor,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
    cancel_op=None,
):
    """A queue of the strings (file names) of string_tensor, for the readers' `read`."""
    from staticflow.ops import array_ops

    not_null_err = "string_input_producer requires a non-null input tensor"
    if not isinstance(string_tensor, fops.Tensor) and not len(string_tensor):
        raise ValueError(not_null_err)
    with fops.name_scope(name, "input_producer", [string_tensor]) as scope:
        string_tensor = fops.convert_to_tensor(string_tensor, dtype=D.string)
        value = builder.constant_value(string_tensor)
        if value is not None and value.size == 0:
            raise ValueError(not_null_err)
        string_tensor = array_ops.identity(string_tensor)
        return input_producer(
            input_tensor=string_tensor,
            element_shape=[],
            num_epochs=num_epochs,
            shuffle=shuffle,
            seed=seed,
            capacity=capacity,
            shared_name=shared_name,
            name=scope,
            summary_name=f"fraction_of_{capacity}_full",
            cancel_op=cancel_op,
        )


def range_input_producer(
    limit, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None, name=None
):
    """A queue of the integers 0 .. limit - 1 (int32), for num_epochs epochs or forever."""
    from staticflow.ops.array_ops import range_

    with fops.name_scope(name, "input_producer", [limit]) as scope:
        range_tensor = range_(limit)
        return input_producer(
            range_tensor,
            [],
            num_epochs,
            shuffle,
            seed,
            capacity,
            shared_name,
            f"fraction_of_{capacity}_full",
            scope,
        )


def slice_input_producer(
    tensor_list, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None, name=None
):
    """One row of each tensor of tensor_list per evaluation (the same row of each), from
    a queue of row indices: num_epochs epochs or forever, shuffled if asked."""
    from staticflow.ops.array_ops import gather, shape

    with fops.name_scope(name, "input_producer", list(tensor_list)):
        tensor_list = [fops.convert_to_tensor(t) for t in tensor_list]
        if not tensor_list:
            raise ValueError("Expected at least one tensor in slice_input_producer().")
        range_size = shape(tensor_list[0])[0]
        queue = range_input_producer(
            range_size,
            num_epochs=num_epochs,
            shuffle=shuffle,
            seed=seed,
            capacity=capacity,
            shared_name=shared_name,
        )
        index = queue.dequeue()
        return [gather(t, index) for t in tensor_list]


# ---------------------------------------------------------------------------
# batching
# ---------------------------------------------------------------------------
def _as_tensor_list(tensors) -> list:
    if isinstance(tensors, dict):
        return [tensors[k] for k in sorted(tensors)]
    if isinstance(tensors, (list, tuple)):
        return list(tensors)
    return [tensors]


def _as_original_type(original, dequeued):
    if isinstance(original, dict):
        if len(original) == 1:
            dequeued = [dequeued]
        return {k: dequeued[i] for i, k in enumerate(sorted(original))}
    return dequeued


def _validate(tensor_list, what: str) -> list:
    tensor_list = [fops.convert_to_tensor(t) for t in tensor_list]
    if not tensor_list:
        raise ValueError(f"Expected at least one tensor in {what}().")
    return tensor_list


def _validate_join(tensor_list_list, what: str) -> list:
    tensor_list_list = [[fops.convert_to_tensor(t) for t in tl] for tl in tensor_list_list]
    if not tensor_list_list:
        raise ValueError(f"Expected at least one input in {what}().")
    return tensor_list_list


def _dtypes(tensor_list_list) -> list:
    types = [t.dtype for t in tensor_list_list[0]]
    for other in tensor_list_list[1:]:
        if [t.dtype for t in other] != types:
            raise TypeError(
                f"Expected types to be consistent: {', '.join(t.name for t in types)} vs. "
                f"{', '.join(t.dtype.name for t in other)}."
            )
    return types


def _shapes(tensor_list_list, shapes, enqueue_many: bool) -> list:
    if shapes is not None:
        return [as_shape(s) for s in shapes]
    n = len(tensor_list_list[0])
    for tl in tensor_list_list:
        if len(tl) != n:
            raise ValueError(f"Expected {n} tensors in each list, got {len(tl)}")
        for t in tl:
            if t.shape.ndims is None:
                raise ValueError(f"Cannot infer Tensor's rank: {t}")
    out = []
    for i in range(n):
        merged = TensorShape(None)
        for tl in tensor_list_list:
            s = tl[i].shape
            if enqueue_many:
                if s.ndims == 0:
                    raise ValueError(f"Shape {s} must have rank at least 1 (enqueue_many)")
                s = s[1:]
            merged = merged.merge_with(s)
        out.append(merged)
    return out


def _queue_for(dynamic_pad: bool):
    return queue_ops.PaddingFIFOQueue if dynamic_pad else queue_ops.FIFOQueue


def _enqueue(queue, tensor_list, threads: int, enqueue_many: bool) -> None:
    enq = queue.enqueue_many(tensor_list) if enqueue_many else queue.enqueue(tensor_list)
    add_queue_runner(QueueRunner(queue, [enq] * threads))


def _enqueue_join(queue, tensor_list_list, enqueue_many: bool) -> None:
    ops_ = [queue.enqueue_many(tl) if enqueue_many else queue.enqueue(tl) for tl in tensor_list_list]
    add_queue_runner(QueueRunner(queue, ops_))


def _dequeue(queue, batch_size, allow_smaller_final_batch: bool, scope: str):
    if allow_smaller_final_batch:
        return queue.dequeue_up_to(batch_size, name=scope)
    return queue.dequeue_many(batch_size, name=scope)


def _fullness(queue, capacity):
    from staticflow.ops import math_ops

    _summary_scalar(
        f"fraction_of_{capacity}_full", lambda: math_ops.cast(queue.size(), D.float32) * (1.0 / capacity)
    )


def _shuffle_fullness(queue, capacity, min_after_dequeue):
    from staticflow.ops import math_ops

    def value():
        over = math_ops.maximum(0, queue.size() - min_after_dequeue)
        return math_ops.cast(over, D.float32) * (1.0 / (capacity - min_after_dequeue))

    _summary_scalar(f"fraction_over_{min_after_dequeue}_of_{capacity - min_after_dequeue}_full", value)


def batch(
    tensors,
    batch_size,
    num_threads=1,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches of `tensors` (a list, a dict or one tensor) through a FIFO queue filled by
    num_threads threads; with dynamic_pad, components of unknown dims are padded."""
    tensor_list = _as_tensor_list(tensors)
    with fops.name_scope(name, "batch", tensor_list) as scope:
        tensor_list = _validate(tensor_list, "batch")
        types = _dtypes([tensor_list])
        shp = _shapes([tensor_list], shapes, enqueue_many)
        queue = _queue_for(dynamic_pad)(capacity=capacity, dtypes=types, shapes=shp, shared_name=shared_name)
        _enqueue(queue, tensor_list, num_threads, enqueue_many)
        _fullness(queue, capacity)
        return _as_original_type(tensors, _dequeue(queue, batch_size, allow_smaller_final_batch, scope))


def batch_join(
    tensors_list,
    batch_size,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches from several lists of tensors (one enqueue thread each) through one FIFO queue."""
    tensor_list_list = [_as_tensor_list(t) for t in tensors_list]
    with fops.name_scope(name, "batch_join", [t for tl in tensor_list_list for t in tl]) as scope:
        tensor_list_list = _validate_join(tensor_list_list, "batch_join")
        types = _dtypes(tensor_list_list)
        shp = _shapes(tensor_list_list, shapes, enqueue_many)
        queue = _queue_for(dynamic_pad)(capacity=capacity, dtypes=types, shapes=shp, shared_name=shared_name)
        _enqueue_join(queue, tensor_list_list, enqueue_many)
        _fullness(queue, capacity)
        return _as_original_type(
            tensors_list[0], _dequeue(queue, batch_size, allow_smaller_final_batch, scope)
        )


def shuffle_batch(
    tensors,
    batch_size,
    capacity,
    min_after_dequeue,
    num_threads=1,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches of `tensors` in random order, through a RandomShuffleQueue that keeps at
    least min_after_dequeue elements to draw from until its input ends."""
    tensor_list = _as_tensor_list(tensors)
    with fops.name_scope(name, "shuffle_batch", tensor_list) as scope:
        if capacity <= min_after_dequeue:
            raise ValueError(
                f"capacity {capacity} must be bigger than min_after_dequeue {min_after_dequeue}."
            )
        tensor_list = _validate(tensor_list, "shuffle_batch")
        types = _dtypes([tensor_list])
        shp = _shapes([tensor_list], shapes, enqueue_many)
        queue = queue_ops.RandomShuffleQueue(
            capacity=capacity,
            min_after_dequeue=min_after_dequeue,
            seed=seed,
            dtypes=types,
            shapes=shp,
            shared_name=shared_name,
        )
        _enqueue(queue, tensor_list, num_threads, enqueue_many)
        _shuffle_fullness(queue, capacity, min_after_dequeue)
        return _as_original_type(tensors, _dequeue(queue, batch_size, allow_smaller_final_batch, scope))


def shuffle_batch_join(
    tensors_list,
    batch_size,
    capacity,
    min_after_dequeue,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """shuffle_batch from several lists of tensors, one enqueue thread each."""
    tensor_list_list = [_as_tensor_list(t) for t in tensors_list]
    with fops.name_scope(name, "shuffle_batch_join", [t for tl in tensor_list_list for t in tl]) as scope:
        if capacity <= min_after_dequeue:
            raise ValueError(
                f"capacity {capacity} must be bigger than min_after_dequeue {min_after_dequeue}."
            )
        tensor_list_list = _validate_join(tensor_list_list, "shuffle_batch_join")
        types = _dtypes(tensor_list_list)
        shp = _shapes(tensor_list_list, shapes, enqueue_many)
        queue = queue_ops.RandomShuffleQueue(
            capacity=capacity,
            min_after_dequeue=min_after_dequeue,
            seed=seed,
            dtypes=types,
            shapes=shp,
            shared_name=shared_name,
        )
        _enqueue_join(queue, tensor_list_list, enqueue_many)
        _shuffle_fullness(queue, capacity, min_after_dequeue)
        return _as_original_type(
            tensors_list[0], _dequeue(queue, batch_size, allow_smaller_final_batch, scope)
        )
