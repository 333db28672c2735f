"""sf.nn: neural-network functions."""

from staticflow.ops.math_ops import erf, sigmoid, tanh  # noqa: F401
from staticflow.ops.nn_ops import bias_add, log_softmax, relu, relu6, softmax  # noqa: F401
