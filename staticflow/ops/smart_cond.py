"""Ops whose mode is picked by a predicate that may be a tensor (TF's smart_cond).

`smart_cond(pred, true_fn, false_fn)` calls only the branch a predicate known
while building the graph picks (a Python bool, a constant, anything that folds
to one). For a predicate known only at run time it builds a `cond`: one If op
whose branches are functions, of which only the taken one runs
(ops/control_flow_v2.py). The static shape of an output is the one both
branches agree on (`most_specific_compatible_shape`), as TF's cond gives; when
the branches give different concrete shapes, the rest of the run is planned once
the taken one has run (docs/control_flow.md). Layers and ops whose behaviour a tensor picks
(`training=is_training`) go through `smart_cond`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from staticflow.framework import ops as fops
from staticflow.ops import const_eval


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
    """true_fn() if pred else false_fn() for a boolean scalar tensor `pred`: one If op, of
    which only the taken branch runs (staticflow.ops.control_flow_v2.cond)."""
    from staticflow.ops import control_flow_v2

    return control_flow_v2.cond(pred, true_fn, false_fn, name=name)
