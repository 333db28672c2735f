"""sf.image: image helpers of TF1's tf.image that staticflow provides."""

from staticflow.ops.cast_ops import convert_image_dtype

__all__ = ["convert_image_dtype"]
