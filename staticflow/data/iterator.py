"""sf.data.Iterator: TF1's iterators over datasets, as graph ops.

`get_next()` makes an IteratorGetNext op, which each Session.run advances
once; `initializer` (MakeIterator) starts a pass with the values of the
tensors the dataset needs (feed placeholders in that run). `from_structure`
makes an iterator that any dataset of a compatible structure can be started
on (`make_initializer`), and `from_string_handle` one whose handle is fed.
"""

from __future__ import annotations

from staticflow.data import structure as st
from staticflow.data.dataset import Dataset, Spec
from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import as_shape, unknown_shape
from staticflow.ops import builder

D = dtypes


def _attrs(structure) -> dict:
    flat = st.flatten(structure)
    return {"output_types": [s.dtype for s in flat], "output_shapes": [s.shape for s in flat]}


def _structure_of(output_types, output_shapes):
    types = st.map_structure(D.as_dtype, output_types)
    if output_shapes is None:
        shapes = st.map_structure(lambda _: unknown_shape(), types)
    elif not st.is_nested(types):
        shapes = as_shape(output_shapes)
    else:
        if not st.same_structure(types, output_shapes):
            raise TypeError("output_shapes must have the same structure as output_types")
        shapes = output_shapes
    flat = [Spec(t, as_shape(s)) for t, s in zip(st.flatten(types), st.flatten(shapes))]
    return st.pack(types, flat)


class Iterator:
    """An iterator over the elements of a dataset (TF1's tf.data.Iterator)."""

    def __init__(self, iterator_resource, initializer, structure):
        self._iterator_resource = iterator_resource
        self._initializer = initializer
        self._structure = structure

    # --- construction -------------------------------------------------------------------------
    @staticmethod
    def _one_shot(dataset: Dataset) -> Iterator:
        for t in dataset._inputs():
            if t.op.type == "Placeholder":
                raise ValueError(
                    f"Cannot capture a placeholder (name:{t.op.name}, type:Placeholder) by value: a one-shot "
                    "iterator cannot be fed; use make_initializable_iterator"
                )
        handle = builder.apply_op("OneShotIterator", [], _attrs(dataset._structure), "OneShotIterator")
        handle._dataset = dataset
        return Iterator(handle.outputs[0], None, dataset._structure)

    @staticmethod
    def _initializable(dataset: Dataset, shared_name=None) -> Iterator:
        attrs = _attrs(dataset._structure)
        attrs["shared_name"] = shared_name or ""
        handle = builder.apply_op("IteratorV2", [], attrs, "IteratorV2").outputs[0]
        it = Iterator(handle, None, dataset._structure)
        it._initializer = it.make_initializer(dataset)
        return it

    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None) -> Iterator:
        """An iterator not bound to a dataset: `make_initializer(dataset)` starts it on one."""
        structure = _structure_of(output_types, output_shapes)
        attrs = _attrs(structure)
        attrs["shared_name"] = shared_name or ""
        handle = builder.apply_op("IteratorV2", [], attrs, "Iterator").outputs[0]
        return Iterator(handle, None, structure)

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None) -> Iterator:
        """An iterator whose handle is a string tensor (fed with another iterator's string_handle())."""
        structure = _structure_of(output_types, output_shapes)
        handle = fops.convert_to_tensor(string_handle, dtype=D.string)
        return Iterator(handle, None, structure)

    # --- use ------------------------------------------------------------------------------------
    @property
    def initializer(self) -> fops.Operation:
        if self._initializer is None:
            raise ValueError("Iterator does not have an initializer.")
        return self._initializer

    def make_initializer(self, dataset: Dataset, name=None) -> fops.Operation:
        """An op that starts this iterator on dataset (with the tensors it needs as inputs)."""
        mine, theirs = self._structure, dataset._structure
        if not st.same_structure(mine, theirs) or [s.dtype for s in st.flatten(mine)] != [
            s.dtype for s in st.flatten(theirs)
        ]:
            raise TypeError(
                f"Expected output types {self.output_types} but got dataset with output types "
                f"{dataset.output_types}."
            )
        for a, b in zip(st.flatten(mine), st.flatten(theirs)):
            if not a.shape.is_compatible_with(b.shape):
                raise TypeError(
                    f"Expected output shapes compatible with {self.output_shapes} but got dataset with "
                    f"output shapes {dataset.output_shapes}."
                )
        with fops.name_scope(name, "make_initializer") as scope:
            op = builder.apply_op(
                "MakeIterator",
                [self._iterator_resource, dataset._inputs()],
                None,
                name=scope[:-1],
                exact_name=True,
            )
        op._dataset = dataset
        return op

    def get_next(self, name=None):
        """The next element (a structure of tensors); each run of it advances the iterator once."""
        attrs = _attrs(self._structure)
        op = builder.apply_op("IteratorGetNext", [self._iterator_resource], attrs, name or "IteratorGetNext")
        for t, s in zip(op.outputs, st.flatten(self._structure)):
            t.set_shape(s.shape)
        return st.pack(self._structure, list(op.outputs))

    def string_handle(self, name=None) -> fops.Tensor:
        """The iterator's handle as a string (to feed to an iterator from_string_handle)."""
        return builder.apply_op("IteratorToStringHandle", [self._iterator_resource], None, name).outputs[0]

    @property
    def output_types(self):
        return st.map_structure(lambda s: s.dtype, self._structure)

    @property
    def output_shapes(self):
        return st.map_structure(lambda s: s.shape, self._structure)

    @property
    def output_classes(self):
        return st.map_structure(lambda s: fops.Tensor, self._structure)
