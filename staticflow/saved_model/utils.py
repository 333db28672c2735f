"""TensorInfo helpers (TF's tf.saved_model.utils)."""

from __future__ import annotations

from staticflow.framework import ops as fops


def build_tensor_info(tensor):
    """The TensorInfo (name, dtype, static shape) of a tensor."""
    from staticflow.protobuf import meta_graph_pb2

    if hasattr(tensor, "_as_graph_element") and not isinstance(tensor, fops.Tensor):
        tensor = tensor._as_graph_element()
    if not isinstance(tensor, fops.Tensor):
        raise TypeError(f"build_tensor_info needs a Tensor, got {tensor!r}")
    info = meta_graph_pb2.TensorInfo(name=tensor.name, dtype=tensor.dtype.as_datatype_enum)
    info.tensor_shape.CopyFrom(tensor.shape.as_proto())
    return info


def get_tensor_from_tensor_info(tensor_info, graph=None, import_scope=None):
    """The tensor a TensorInfo names, in `graph` (default: the default graph)."""
    g = graph or fops.get_default_graph()
    if tensor_info.WhichOneof("encoding") != "name":
        raise ValueError(f"TensorInfo without a tensor name is not supported: {tensor_info}")
    name = tensor_info.name
    return g.get_tensor_by_name(f"{import_scope}/{name}" if import_scope else name)
