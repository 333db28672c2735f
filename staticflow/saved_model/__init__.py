"""sf.saved_model: SavedModel export and loading (TF1's tf.compat.v1.saved_model).

A SavedModel directory holds saved_model.pb (a SavedModel message: tagged
MetaGraphDefs with their signatures, behind a checksum header that TensorFlow
skips) and the checkpoint variables/variables.{index,data-<unique>}.
"""

from staticflow.saved_model import (
    builder,
    constants,
    loader,
    signature_constants,
    signature_def_utils,
    tag_constants,
    utils,
)
from staticflow.saved_model.builder import Builder, SavedModelBuilder, simple_save
from staticflow.saved_model.loader import load, maybe_saved_model_directory
from staticflow.saved_model.signature_def_utils import build_signature_def, predict_signature_def
from staticflow.saved_model.utils import build_tensor_info, get_tensor_from_tensor_info

__all__ = [
    "Builder",
    "SavedModelBuilder",
    "build_signature_def",
    "build_tensor_info",
    "builder",
    "constants",
    "get_tensor_from_tensor_info",
    "load",
    "loader",
    "maybe_saved_model_directory",
    "predict_signature_def",
    "signature_constants",
    "signature_def_utils",
    "simple_save",
    "tag_constants",
    "utils",
]
