"""Ops whose mode is picked by a predicate that may be a tensor (TF's smart_cond).

`smart_cond(pred, true_fn, false_fn)` calls only the branch a predicate known
while building the graph picks (a Python bool, a constant, anything that folds
to one). For a predicate known only at run time it builds both branches and
joins their outputs with `cond`.

staticflow has no cond op yet, so `cond` runs both branches and selects each
output with a scalar predicate; the static shape of an output is the one both
branches agree on (`most_specific_compatible_shape`), which is what TF's cond
gives. The differences until a real cond op replaces `cond` here: both
branches run (their side effects too), and their outputs must have one shape
at run time (TF's cond lets the branches' shapes differ). Layers and ops whose
behaviour a tensor picks (`training=is_training`) go through `smart_cond`, so
they gain the real op without changing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import array_ops, const_eval, control_flow_ops, math_ops


def smart_constant_value(pred) -> bool | None:
    """The predicate's value when known while building the graph, else None.

    `pred` is a Python bool (or 0/1, as TF), or a boolean tensor."""
    if isinstance(pred, (bool, np.bool_)) or (isinstance(pred, (int, np.integer)) and pred in (0, 1)):
        return bool(pred)
    if isinstance(pred, fops.Tensor):
        v = const_eval.constant_value(pred)
        if v is None or np.size(v) != 1:
            return None
        return bool(np.asarray(v).reshape(-1)[0])
    raise TypeError(f"`pred` must be a Tensor, or a Python bool, or 1 or 0. Found instead: {pred!r}")


def smart_cond(pred, true_fn: Callable | None = None, false_fn: Callable | None = None, name=None):
    """true_fn() if pred else false_fn(): only the picked branch when pred is known while
    building the graph, both joined by `cond` when it is a tensor known only at run time."""
    if not callable(true_fn):
        raise TypeError(f"`true_fn` must be callable, got {true_fn!r}")
    if not callable(false_fn):
        raise TypeError(f"`false_fn` must be callable, got {false_fn!r}")
    value = smart_constant_value(pred)
    if value is not None:
        return true_fn() if value else false_fn()
    return cond(pred, true_fn, false_fn, name=name)


def cond(pred, true_fn: Callable, false_fn: Callable, name=None):
    """Both branches' outputs joined under a boolean scalar tensor `pred` (see the module doc).

    The branches return the same structure (a tensor, or a list/tuple/dict of them, Nones
    and operations allowed); each tensor pair has one dtype and gives the shape both agree on.
    """
    with fops.name_scope(name, "cond", [pred]):
        pred = fops.convert_to_tensor(pred)
        if pred.dtype != dtypes.bool_:
            raise TypeError(f"cond: pred must be a bool tensor, got {pred.dtype.name} ({pred.name})")
        if pred.shape.ndims not in (None, 0):
            raise ValueError(f"cond: pred must be a scalar, got shape {pred.shape} ({pred.name})")
        if pred.shape.ndims is None:  # a fed value that is not a scalar fails when the graph runs
            pred = array_ops.reshape(pred, [], name="pred")
        with fops.name_scope("true"):
            a = true_fn()
        with fops.name_scope("false"):
            b = false_fn()
        return _join(pred, a, b, "output")


def _join(pred, a, b, where: str):
    """One output of cond from the branches' outputs a and b."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            raise ValueError(f"cond: the branches return dicts of different keys ({sorted(a)}, {sorted(b)})")
        return type(a)((k, _join(pred, a[k], b[k], f"{where}[{k!r}]")) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            raise ValueError(f"cond: the branches return {len(a)} and {len(b)} values ({where})")
        items = [_join(pred, x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))]
        return type(a)(*items) if hasattr(a, "_fields") else type(a)(items)
    if a is None and b is None:
        return None
    if isinstance(a, fops.Operation) or isinstance(b, fops.Operation):
        return control_flow_ops.group(a, b)
    if a is None or b is None or isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
        raise ValueError(f"cond: the branches return different structures ({where}): {a!r} and {b!r}")
    return _select(pred, fops.convert_to_tensor(a), fops.convert_to_tensor(b), where)


def _select(pred, a: fops.Tensor, b: fops.Tensor, where: str) -> fops.Tensor:
    """The one place a real cond op will replace: a scalar select of the two outputs."""
    if a.dtype != b.dtype:
        raise TypeError(f"cond: the branches return {a.dtype.name} and {b.dtype.name} ({where})")
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(
            f"cond: the branches return shapes {a.shape} and {b.shape} ({where}); staticflow's cond "
            f"selects between them and needs one shape"
        )
    out = math_ops.where_v2(pred, a, b)
    # a cond's output has either branch's shape: keep only what both agree on
    out._shape = a.shape.most_specific_compatible_shape(b.shape)
    return out
