"""sf.data: TF1's tf.data input pipelines (datasets and their iterators).

Build a Dataset (from tensors, a range, a generator, files), transform it
(map, filter, batch, shuffle, repeat, ...), and read it through an iterator
whose `get_next()` each Session.run advances; the end is OutOfRangeError.
"""

from staticflow.data import experimental
from staticflow.data.dataset import (
    AUTOTUNE,
    Dataset,
    FixedLengthRecordDataset,
    TextLineDataset,
    TFRecordDataset,
)
from staticflow.data.iterator import Iterator
from staticflow.ops import data_ops as _data_ops  # noqa: F401  (registers the iterator ops)

DatasetV1 = Dataset


def make_one_shot_iterator(dataset: Dataset) -> Iterator:
    """An iterator over dataset that needs no initializer."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Dataset, shared_name=None) -> Iterator:
    """An iterator over dataset started (again) by running its `initializer`."""
    return dataset.make_initializable_iterator(shared_name)


def get_output_types(dataset_or_iterator):
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator):
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator):
    return dataset_or_iterator.output_classes


__all__ = [
    "AUTOTUNE",
    "Dataset",
    "DatasetV1",
    "FixedLengthRecordDataset",
    "Iterator",
    "TFRecordDataset",
    "TextLineDataset",
    "experimental",
    "get_output_classes",
    "get_output_shapes",
    "get_output_types",
    "make_initializable_iterator",
    "make_one_shot_iterator",
]
