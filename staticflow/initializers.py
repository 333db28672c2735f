"""sf.initializers: variable initializers by their short names (TF1's tf.initializers)."""

from staticflow.ops.init_ops import (  # noqa: F401
    Constant as constant,
)
