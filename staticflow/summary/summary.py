"""TF1's summary functions: graph ops whose value is a serialized `Summary`.

``sf.summary.scalar("loss", loss)`` adds a ScalarSummary op to the graph (and
to the SUMMARIES collection); running it, or ``sf.summary.merge_all()``, gives
bytes that ``FileWriter.add_summary`` records for TensorBoard. Tags follow
TensorFlow's rule: the summary's name scope (so names under a scope or used
twice stay distinct), with an optional family prefix.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import builder
from staticflow.ops import summary_ops as _summary_ops  # noqa: F401  (registers the ops)

_INVALID_TAG = re.compile(r"[^-/\w\.]")


def _clean_tag(name):
    """A tag with characters TensorBoard cannot show replaced by '_' (TF's clean_tag)."""
    if name is None:
        return None
    new = _INVALID_TAG.sub("_", name).lstrip("/")
    return new


@contextlib.contextmanager
def _summary_scope(name, family=None, values=None):
    name, family = _clean_tag(name), _clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with fops.name_scope(base, values=values) as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        yield tag, scope


def _string_const(value: bytes, name: str) -> fops.Tensor:
    return fops.convert_to_tensor(np.array(value, dtype=object), dtype=dtypes.string, name=name)


def _collect(t: fops.Tensor, collections) -> fops.Tensor:
    for key in collections if collections is not None else [fops.GraphKeys.SUMMARIES]:
        t.graph.add_to_collection(key, t)
    return t


def _summary(op_type, name, family, collections, inputs, attrs=None, values=None) -> fops.Tensor:
    with _summary_scope(name, family, values=values) as (tag, scope):
        tag_name = "tags" if op_type == "ScalarSummary" else "tag"  # the input's name, as TF names it
        tag_t = _string_const(tag.encode(), tag_name)
        t = builder.apply_op(op_type, [tag_t, *inputs], attrs, name=scope).outputs[0]
    return _collect(t, collections)


def scalar(name: str, tensor, collections=None, family=None) -> fops.Tensor:
    """A summary of one scalar value (TensorBoard's Scalars tab)."""
    tensor = fops.convert_to_tensor(tensor)
    if tensor.shape.ndims not in (None, 0):
        raise ValueError(
            f"Tensor {tensor.name} to summarize as {name!r} must be a scalar, has shape {tensor.shape}"
        )
    return _summary("ScalarSummary", name, family, collections, [tensor], values=[tensor])


def histogram(name: str, values, collections=None, family=None) -> fops.Tensor:
    """A summary of the distribution of `values` (TensorBoard's Histograms tab)."""
    values = fops.convert_to_tensor(values)
    return _summary("HistogramSummary", name, family, collections, [values], values=[values])


def image(name: str, tensor, max_outputs: int = 3, collections=None, family=None) -> fops.Tensor:
    """A summary of up to max_outputs images of a [batch, height, width, 1|3|4] tensor."""
    tensor = fops.convert_to_tensor(tensor)
    return _summary(
        "ImageSummary", name, family, collections, [tensor], {"max_images": max_outputs}, values=[tensor]
    )


def tensor_summary(
    name: str,
    tensor,
    summary_description=None,
    collections=None,
    summary_metadata=None,
    family=None,
    display_name=None,
) -> fops.Tensor:
    """A summary holding a whole tensor, with plugin metadata."""
    from staticflow.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata() if summary_metadata is None else summary_metadata
    if display_name is not None:
        meta.display_name = display_name
    if summary_description is not None:
        meta.summary_description = summary_description
    tensor = fops.convert_to_tensor(tensor)
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        tag_t = _string_const(tag.encode(), "tag")
        meta_t = _string_const(meta.SerializeToString(), "serialized_summary_metadata")
        t = builder.apply_op("TensorSummaryV2", [tag_t, tensor, meta_t], name=scope).outputs[0]
    return _collect(t, collections)


def text(name: str, tensor, collections=None) -> fops.Tensor:
    """A summary of a string tensor, for TensorBoard's Text tab."""
    from staticflow.framework import summary_pb2

    tensor = fops.convert_to_tensor(tensor)
    if tensor.dtype != dtypes.string:
        raise ValueError(f"Expected tensor {tensor.name} to have dtype string, got {tensor.dtype.name}")
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    return tensor_summary(name, tensor, collections=collections, summary_metadata=meta)


def merge(inputs, collections=None, name=None) -> fops.Tensor:
    """One summary holding the values of all `inputs` (summary tensors)."""
    inputs = [fops.convert_to_tensor(x, dtype=dtypes.string) for x in inputs]
    t = builder.apply_op("MergeSummary", [inputs], name=name or "MergeSummary").outputs[0]
    if collections:
        for key in collections:
            t.graph.add_to_collection(key, t)
    return t


def merge_all(key: str = fops.GraphKeys.SUMMARIES, scope=None, name=None) -> fops.Tensor | None:
    """Every summary of collection `key` (optionally under `scope`) merged; None if there is none."""
    ops_ = fops.get_collection(key, scope=scope)
    if not ops_:
        return None
    with fops.name_scope(name or "Merge"):
        return merge(ops_)


def get_summary_description(node_def):
    """The SummaryDescription of a TensorSummary node (from its description attr)."""
    from staticflow.framework import summary_pb2

    desc = summary_pb2.SummaryDescription()
    if "description" in node_def.attr:
        desc.ParseFromString(node_def.attr["description"].s)
    return desc
