"""The global step: an int64 variable counting training steps."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys


def get_global_step(graph=None):
    """The graph's global step variable, or None."""
    g = graph or fops.get_default_graph()
    steps = g.get_collection(GraphKeys.GLOBAL_STEP)
    if len(steps) > 1:
        raise TypeError("There are multiple items in the global step collection.")
    return steps[0] if steps else None


def create_global_step(graph=None):
    """Create the global step (int64, starting at 0, not trainable); error if it exists."""
    from staticflow.ops import state_ops

    g = graph or fops.get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError("'global_step' already exists.")
    with g.as_default(), g.name_scope(None):
        return state_ops.Variable(
            np.int64(0),
            trainable=False,
            name="global_step",
            dtype=dtypes.int64,
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph=None):
    return get_global_step(graph) or create_global_step(graph)


def global_step(sess, global_step_tensor) -> int:
    """The global step's current value as a Python int."""
    return int(sess.run(global_step_tensor))
