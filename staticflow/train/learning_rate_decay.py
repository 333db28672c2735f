"""Learning-rate schedules: tensors computed from the global step each run."""

from __future__ import annotations

import math

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import math_ops


def _f(x, dt=dtypes.float32):
    return math_ops.cast(x, dt)


def _need_step(global_step):
    if global_step is None:
        raise ValueError("global_step is required for this decay schedule.")


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * decay_rate ^ (global_step / decay_steps) (floored when staircase)."""
    _need_step(global_step)
    with fops.name_scope(name, "ExponentialDecay", [learning_rate, global_step]):
        lr = fops.convert_to_tensor(learning_rate, name="learning_rate")
        p = _f(global_step, lr.dtype) / _f(decay_steps, lr.dtype)
        if staircase:
            p = math_ops.floor(p)
        return lr * math_ops.pow(_f(decay_rate, lr.dtype), p)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    _need_step(global_step)
    with fops.name_scope(name, "NaturalExpDecay", [learning_rate, global_step]):
        lr = fops.convert_to_tensor(learning_rate, name="learning_rate")
        p = _f(global_step, lr.dtype) / _f(decay_steps, lr.dtype)
        if staircase:
            p = math_ops.floor(p)
        return lr * math_ops.exp(-_f(decay_rate, lr.dtype) * p)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    _need_step(global_step)
    with fops.name_scope(name, "InverseTimeDecay", [learning_rate, global_step]):
        lr = fops.convert_to_tensor(learning_rate, name="learning_rate")
        p = _f(global_step, lr.dtype) / _f(decay_steps, lr.dtype)
        if staircase:
            p = math_ops.floor(p)
        return lr / (1 + _f(decay_rate, lr.dtype) * p)


def polynomial_decay(
    learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False, name=None
):
    _need_step(global_step)
    with fops.name_scope(name, "PolynomialDecay", [learning_rate, global_step]):
        lr = fops.convert_to_tensor(learning_rate, name="learning_rate")
        step = _f(global_step, lr.dtype)
        steps = _f(decay_steps, lr.dtype)
        if cycle:
            mult = math_ops.maximum(math_ops.ceil(step / steps), 1.0)
            steps = steps * mult
        else:
            step = math_ops.minimum(step, steps)
        frac = 1 - step / steps
        end = _f(end_learning_rate, lr.dtype)
        return (lr - end) * math_ops.pow(frac, _f(power, lr.dtype)) + end


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    _need_step(global_step)
    with fops.name_scope(name, "CosineDecay", [learning_rate, global_step]):
        lr = fops.convert_to_tensor(learning_rate, name="learning_rate")
        step = math_ops.minimum(_f(global_step, lr.dtype), _f(decay_steps, lr.dtype))
        cos = 0.5 * (1 + math_ops.cos(math.pi * step / _f(decay_steps, lr.dtype)))
        return lr * ((1 - alpha) * cos + alpha)


def piecewise_constant(x, boundaries, values, name=None):
    """values[0] while x <= boundaries[0], values[i] while x <= boundaries[i], values[-1] after."""
    if len(values) != len(boundaries) + 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with fops.name_scope(name, "PiecewiseConstant", [x]):
        x = fops.convert_to_tensor(x)
        vals = [fops.convert_to_tensor(v) for v in values]
        out = vals[-1]
        for b, v in zip(reversed(boundaries), reversed(vals[:-1])):
            out = math_ops.where_v2(math_ops.less_equal(x, math_ops.cast(b, x.dtype)), v, out)
        return out
