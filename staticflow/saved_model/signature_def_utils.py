"""SignatureDef helpers (TF's tf.saved_model.signature_def_utils)."""

from __future__ import annotations

from staticflow.saved_model import signature_constants
from staticflow.saved_model.utils import build_tensor_info


def build_signature_def(inputs=None, outputs=None, method_name=None):
    from staticflow.protobuf import meta_graph_pb2

    sig = meta_graph_pb2.SignatureDef(method_name=method_name or "")
    for k, v in (inputs or {}).items():
        sig.inputs[k].CopyFrom(v)
    for k, v in (outputs or {}).items():
        sig.outputs[k].CopyFrom(v)
    return sig


def predict_signature_def(inputs, outputs):
    """A predict SignatureDef from {key: Tensor} dicts of inputs and outputs."""
    if not inputs:
        raise ValueError("Prediction inputs cannot be None or empty.")
    if not outputs:
        raise ValueError("Prediction outputs cannot be None or empty.")
    return build_signature_def(
        {k: build_tensor_info(t) for k, t in inputs.items()},
        {k: build_tensor_info(t) for k, t in outputs.items()},
        signature_constants.PREDICT_METHOD_NAME,
    )
