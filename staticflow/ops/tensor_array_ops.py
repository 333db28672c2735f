"""`sf.TensorArray`: TF1's TensorArray API on TensorList ops, as TensorFlow's control flow v2 builds it.

A TensorArray is a Python object around one scalar `variant` tensor, its `flow`: a TensorList
(ops/list_ops.py). It is functional: `write`, `unstack`, `scatter` and `split` return a new
TensorArray over the new list and leave this one as it was, so use what they return (as in
TensorFlow 2 and in TF1's loops). The ops it builds, their names and attrs are those of
TensorFlow 2.21's `compat.v1` with control flow v2, so graphs port both ways.

Behaviour is TensorFlow's: reading a slot never written gives zeros when the element shape is
known and fails otherwise; a write past the end fails unless `dynamic_size`; writing one slot
twice replaces it (TensorLists have no write-once rule, and `clear_after_read` is accepted and
has no effect); element shapes are checked when the graph is built (`infer_shape`: all
elements have one shape, which the first write fixes) and again when it runs.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import list_ops


def _constant_int(x):
    """x's value when it is a Python int or a constant tensor, else None (TF's
    tensor_util.constant_value for the size)."""
    if isinstance(x, fops.Tensor):
        if x.op.type == "Const":
            v = np.asarray(x.op.get_attr("value"))
            return int(v) if v.ndim == 0 else None
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    return None


class TensorArray:
    """A list of tensors of one dtype, read and written by index (TF1's tf.TensorArray).

    dtype: the elements' type; size: the number of elements (an int or an int32 tensor);
    dynamic_size: writes past the end grow the array; clear_after_read: accepted, no effect
    (as in TensorFlow 2); element_shape: the elements' shape, partly known or unknown;
    infer_shape: every element has one shape (the first write tells it when element_shape
    does not); flow: the variant tensor of an existing array (instead of size).
    """

    def __init__(
        self,
        dtype,
        size=None,
        dynamic_size=None,
        clear_after_read=None,
        tensor_array_name=None,
        handle=None,
        flow=None,
        infer_shape=True,
        element_shape=None,
        colocate_with_first_write_call=True,
        name=None,
    ):
        del clear_after_read, tensor_array_name, colocate_with_first_write_call
        if handle is not None:
            raise ValueError("TensorArray: `handle` is not supported (the array is its `flow`, a TensorList)")
        if flow is not None and (not isinstance(flow, fops.Tensor) or flow.dtype is not dtypes.variant):
            got = flow.dtype.name if isinstance(flow, fops.Tensor) else type(flow).__name__
            raise TypeError(f"Expected `flow` to be a variant tensor, but received `{got}` instead.")
        if flow is None and size is None:
            raise ValueError("Argument `size` must be provided if argument `flow` is not provided.")
        if flow is not None and size is not None:
            raise ValueError("Cannot provide both `flow` and `size` arguments at the same time.")
        if flow is not None and element_shape is not None:
            raise ValueError("Cannot provide both `flow` and `element_shape` arguments at the same time.")
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._size = size
        # shared by the arrays a write returns (TF's list of one shape): a later write's
        # shape narrows what every array of the chain reads
        self._element_shape = [as_shape(element_shape) if element_shape is not None else TensorShape(None)]
        self._infer_shape = infer_shape
        if flow is None:
            g = fops.get_default_graph()
            with g.name_scope(name or "TensorArrayV2") as scope:
                self._flow = list_ops.tensor_list_reserve(
                    self._element_shape[0], size, self._dtype, name=scope
                )
        else:
            self._flow = flow

    # --- properties -------------------------------------------------------------------------
    @property
    def flow(self) -> fops.Tensor:
        """The variant tensor holding the array's TensorList."""
        return self._flow

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def handle(self):
        """None: a TensorList array has no resource handle (TF2's TensorArray says the same)."""
        return None

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape[0]

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    # --- helpers ------------------------------------------------------------------------------
    def _with_flow(self, flow: fops.Tensor) -> TensorArray:
        ta = TensorArray.__new__(TensorArray)
        ta._dtype, ta._dynamic_size, ta._size = self._dtype, self._dynamic_size, self._size
        ta._element_shape, ta._infer_shape, ta._flow = self._element_shape, self._infer_shape, flow
        return ta

    def _check_element_shape(self, shape: TensorShape) -> None:
        if not shape.is_compatible_with(self.element_shape):
            raise ValueError(f"Inconsistent shapes: saw {shape} but expected {self.element_shape} ")
        if self._infer_shape:
            self._element_shape[0] = self.element_shape.merge_with(shape)

    def _value(self, value, what: str) -> fops.Tensor:
        t = fops.convert_to_tensor(value, dtype=None if isinstance(value, fops.Tensor) else self._dtype)
        if t.dtype is not self._dtype:
            raise TypeError(
                f"TensorArray of {self._dtype.name}: {what} got a {t.dtype.name} tensor ({t.name})"
            )
        return t

    def _scope(self, name, default: str):
        return fops.get_default_graph().name_scope(name or default)

    # --- reads ---------------------------------------------------------------------------------
    def read(self, index, name=None) -> fops.Tensor:
        """The element at `index` (zeros of the element shape for one never written)."""
        with self._scope(name, "TensorArrayV2Read"):
            return list_ops.tensor_list_get_item(
                self._flow, index, self._dtype, element_shape=self.element_shape, name=name
            )

    def stack(self, name=None) -> fops.Tensor:
        """Every element, stacked along a new first axis."""
        with self._scope(name, "TensorArrayV2Stack"):
            n = _constant_int(self._size) if not self._dynamic_size and self._size is not None else None
            return list_ops.tensor_list_stack(
                self._flow,
                self._dtype,
                num_elements=-1 if n is None else n,
                element_shape=self.element_shape,
            )

    def gather(self, indices, name=None) -> fops.Tensor:
        """The elements at `indices`, stacked."""
        return list_ops.tensor_list_gather(
            self._flow, indices, self._dtype, element_shape=self.element_shape, name=name
        )

    def concat(self, name=None) -> fops.Tensor:
        """Every element, concatenated along its first axis (they may differ in it)."""
        es = self.element_shape
        shape = [None] + es.as_list()[1:] if es.ndims else None
        return list_ops.tensor_list_concat(self._flow, self._dtype, element_shape=shape, name=name)

    def size(self, name=None) -> fops.Tensor:
        """The number of elements: the size given, or the list's length when it can grow."""
        if not self._dynamic_size and self._size is not None:
            return fops.convert_to_tensor(self._size, dtype=dtypes.int32)
        return list_ops.tensor_list_length(self._flow, name=name)

    # --- writes (each returns the new array) -------------------------------------------------------
    def write(self, index, value, name=None) -> TensorArray:
        """A new array with `value` at `index`."""
        with self._scope(name, "TensorArrayV2Write"):
            value = self._value(value, "write")
            self._check_element_shape(value.shape)
            flow = list_ops.tensor_list_set_item(
                self._flow, index, value, resize_if_index_out_of_bounds=self._dynamic_size, name=name
            )
        return self._with_flow(flow)

    def unstack(self, value, name=None) -> TensorArray:
        """A new array holding `value`'s rows."""
        with self._scope(name, "TensorArrayUnstack"):
            value = self._value(value, "unstack")
            if value.shape.ndims is not None:
                if value.shape.ndims < 1:
                    raise ValueError(
                        f"TensorArray.unstack needs a tensor of at least one dimension, got {value.shape}"
                    )
                self._check_element_shape(TensorShape(value.shape.as_list()[1:]))
                es = TensorShape(value.shape.as_list()[1:])
            else:
                es = TensorShape(None)
            flow = list_ops.tensor_list_from_tensor(value, es)
        return self._with_flow(flow)

    def scatter(self, indices, value, name=None) -> TensorArray:
        """A new array with `value`'s rows at `indices`."""
        with self._scope(name, "TensorArrayScatter"):
            value = self._value(value, "scatter")
            if value.shape.ndims is not None and value.shape.ndims >= 1:
                self._check_element_shape(TensorShape(value.shape.as_list()[1:]))
            flow = list_ops.tensor_list_scatter(value, indices, input_handle=self._flow)
        return self._with_flow(flow)

    def split(self, value, lengths, name=None) -> TensorArray:
        """A new array whose elements are `value`'s consecutive slices of `lengths` rows."""
        from staticflow.ops import math_ops

        with self._scope(name, "TensorArraySplit"):
            value = self._value(value, "split")
            lengths_64 = math_ops.cast(lengths, dtypes.int64)
            if not isinstance(lengths, fops.Tensor) and value.shape.ndims is not None:
                ls = np.asarray(lengths).reshape(-1)
                if ls.size and ls.max() == ls.min():
                    self._check_element_shape(TensorShape([int(ls[0])] + value.shape.as_list()[1:]))
            flow = list_ops.tensor_list_split(value, self.element_shape, lengths_64, name=name)
        return self._with_flow(flow)

    # --- the rest -----------------------------------------------------------------------------
    def identity(self) -> TensorArray:
        """The same array through an Identity of its flow (so control dependencies apply)."""
        from staticflow.ops import array_ops

        return self._with_flow(array_ops.identity(self._flow))

    def close(self, name=None):
        """A no-op (a TensorList needs no closing)."""
        from staticflow.ops import array_ops

        return array_ops.no_op(name=name)

    def grad(self, source, flow=None, name=None):
        """Not supported by TensorList arrays (as in TensorFlow 2): gradients flow through
        sf.gradients of what reads the array."""
        raise NotImplementedError("TensorArray.grad is not supported: use sf.gradients")

    def __repr__(self) -> str:
        es, flow = self.element_shape, self._flow.name
        return f"<sf.TensorArray dtype={self._dtype.name} element_shape={es} flow={flow}>"


def build_ta_with_new_flow(old_ta: TensorArray, flow: fops.Tensor) -> TensorArray:
    """A TensorArray like `old_ta` (dtype, size, element shape, shape inference) over another
    flow: how a loop or a branch that carries an array as its variant flow gives the array
    back (TensorFlow's function of this name, which while_loop and cond use)."""
    if not isinstance(flow, fops.Tensor) or flow.dtype is not dtypes.variant:
        got = flow.dtype.name if isinstance(flow, fops.Tensor) else type(flow).__name__
        raise TypeError(f"Expected `flow` to be a variant tensor, but received `{got}` instead.")
    return old_ta._with_flow(flow)


def to_flow(x):
    """`x`'s flow when it is a TensorArray, else `x` (what a loop carries for it)."""
    return x.flow if isinstance(x, TensorArray) else x


def from_flow(template, x):
    """A TensorArray over flow `x` like `template` when `template` is a TensorArray, else `x`."""
    return build_ta_with_new_flow(template, x) if isinstance(template, TensorArray) else x
