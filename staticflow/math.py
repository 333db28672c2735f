"""sf.math: elementwise and reduction math (TF's tf.math names)."""

from staticflow.ops.math_ops import (  # noqa: F401
    abs, add, add_n, argmax, argmin, ceil, cos, divide, equal, erf, exp, expm1, floor, floordiv, floormod,
    greater, greater_equal, less, less_equal, log, log1p, logical_and, logical_not, logical_or, logical_xor,
    maximum, minimum, multiply, negative, not_equal, pow, realdiv, reciprocal, reduce_all, reduce_any,
    reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum, round, rsqrt, sigmoid, sign, sin, sqrt,
    square, squared_difference, subtract, tanh, truediv,
)
from staticflow.ops.math_ops import floormod as mod  # noqa: F401
from staticflow.ops.nn_ops import log_softmax, softmax  # noqa: F401
