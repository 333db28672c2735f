"""sf.nn: neural-network functions."""

from staticflow.ops.math_ops import erf, sigmoid, tanh  # noqa: F401
from staticflow.ops.nn_ops import (  # noqa: F401
    bias_add,
    elu,
    l2_loss,
    leaky_relu,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid_cross_entropy_with_logits,
    softmax,
    softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
)
