"""The NumPy reference evaluator: each op's reference function run over the graph.

It shares no code with planning or kernels beyond pruning, so it is the oracle
that tests compare Session results, passes and plans against.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import ops as fops
from staticflow.framework.graph_walk import prune_ops, toposort_ops
from staticflow.ops import builder, registry


def evaluate(fetches, feed_dict=None, variables: dict | None = None):
    """Values of `fetches` (a tensor or a list of tensors/ops), computed with NumPy.

    `variables` maps variable op names to arrays; ops that update variables
    (Assign, the optimizers' Apply ops) update those arrays in place.
    """
    single = not isinstance(fetches, (list, tuple))
    items = [fetches] if single else list(fetches)
    tensors = [x for x in items if isinstance(x, fops.Tensor)]
    targets = [x for x in items if isinstance(x, fops.Operation)]
    feeds = {t: np.asarray(v, dtype=t.dtype.np) for t, v in (feed_dict or {}).items()}
    variables = {} if variables is None else variables
    fed = set(feeds)
    values: dict = dict(feeds)
    for op in toposort_ops(prune_ops(tensors, targets, fed), fed):
        d = registry.get(op.type)
        if op.type == "Placeholder":
            raise ValueError(f"placeholder {op.name} must be fed")
        if op.type == "VariableV2":
            if op.name not in variables:
                raise ValueError(f"variable {op.name} has no value")
            outs = [variables[op.name]]
        else:
            # references of ops that update variables write into the arrays they are given
            outs = builder.run_reference(d, [values[t] for t in op.inputs], op._attrs)
        for t, v in zip(op.outputs, outs):
            if t not in fed:
                values[t] = v
    out = [values[t] if isinstance(t, fops.Tensor) else None for t in items]
    return out[0] if single else out
