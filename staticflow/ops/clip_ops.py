"""Clipping values and gradient norms."""

from __future__ import annotations

from staticflow.framework import ops as fops
from staticflow.ops import array_ops, math_ops


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    with fops.name_scope(name, "clip_by_value", [t]) as scope:
        t = fops.convert_to_tensor(t)
        return math_ops.minimum(math_ops.maximum(t, clip_value_min), clip_value_max, name=scope)


def global_norm(t_list, name=None):
    """sqrt(sum of squares of every element of every tensor); Nones are skipped."""
    ts = [t for t in t_list if t is not None]
    if not ts:
        raise ValueError("global_norm needs at least one tensor")
    with fops.name_scope(name, "global_norm", ts):
        sq = [math_ops.reduce_sum(math_ops.square(fops.convert_to_tensor(t))) for t in ts]
        return math_ops.sqrt(math_ops.add_n(sq))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale all tensors by clip_norm / max(global_norm, clip_norm); returns (clipped, global_norm)."""
    t_list = list(t_list)
    with fops.name_scope(name, "clip_by_global_norm", [t for t in t_list if t is not None]):
        norm = use_norm if use_norm is not None else global_norm(t_list)
        norm = fops.convert_to_tensor(norm)
        clip = fops.convert_to_tensor(clip_norm, dtype=norm.dtype)
        scale = clip * math_ops.minimum(1.0 / norm, 1.0 / clip)
        out = [None if t is None else array_ops.identity(t * math_ops.cast(scale, t.dtype)) for t in t_list]
        return out, norm


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t scaled so its L2 norm (over axes) is at most clip_norm."""
    with fops.name_scope(name, "clip_by_norm", [t]):
        t = fops.convert_to_tensor(t)
        l2 = math_ops.sqrt(math_ops.reduce_sum(math_ops.square(t), axes, keepdims=True))
        clip = math_ops.cast(clip_norm, t.dtype)
        return t * clip / math_ops.maximum(l2, clip)
