"""sf.initializers: variable initializers by their short names (TF1's tf.initializers)."""

from staticflow.ops.init_ops import Constant as constant
from staticflow.ops.init_ops import Ones as ones
from staticflow.ops.init_ops import RandomNormal as random_normal
from staticflow.ops.init_ops import RandomUniform as random_uniform
from staticflow.ops.init_ops import TruncatedNormal as truncated_normal
from staticflow.ops.init_ops import VarianceScaling as variance_scaling
from staticflow.ops.init_ops import Zeros as zeros
from staticflow.ops.init_ops import glorot_normal_initializer as glorot_normal
from staticflow.ops.init_ops import glorot_uniform_initializer as glorot_uniform
from staticflow.ops.init_ops import he_normal, he_uniform, lecun_normal, lecun_uniform

__all__ = [
    "constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "ones", "random_normal", "random_uniform", "truncated_normal", "variance_scaling", "zeros",
]
