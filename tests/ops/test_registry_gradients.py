"""Gradient checks generated from the op registry.

For every differentiable op and every case marked for gradients, the symbolic
gradient of <outputs, random cotangent> (float64) is compared with central
differences computed by running the op itself. A random cotangent means a
transposed or mis-broadcast gradient cannot pass by symmetry.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import dtypes
from staticflow.ops import builder, registry

MAX_COORDS = 24  # numerically checked coordinates per input (sampled beyond that)


def _to64(v):
    v = np.asarray(v)
    return v.astype(np.float64) if v.dtype == np.float32 else v


_HALF = (np.dtype(np.float16), dtypes.bfloat16.np)


def _has_half(case) -> bool:
    """16-bit float inputs: too coarse for central differences (their gradients are
    checked against float32 in tests/framework/test_dtypes.py)."""
    flat = [x for v in case.inputs for x in (v if isinstance(v, (list, tuple)) else [v])]
    return any(np.asarray(x).dtype in _HALF for x in flat)


def _cases(d):
    return [
        c
        for c in d.cases(np.random.default_rng(1234))
        if c.grad and c.label not in ("feed", "variable") and not _has_half(c)
    ]


PARAMS = [
    pytest.param(d.name, i, id=f"{d.name}-{i}")
    for d in registry.all_ops()
    if d.differentiable
    for i in range(len(_cases(d)))
]


def _build(d, case, rng):
    """The op on float64 placeholders; returns (graph, placeholders, values, loss)."""
    g = sf.Graph()
    attrs = {k: (sf.float64 if v is sf.float32 else v) for k, v in case.attrs.items()}
    phs, vals, grouped = [], [], []
    with g.as_default():
        for arg, v in zip(d.inputs, case.inputs):
            items = [_to64(x) for x in v] if arg.is_list else [_to64(v)]
            ts = []
            for x in items:
                if x.dtype == np.float64 and not arg.host and arg.differentiable:
                    p = sf.placeholder(sf.float64, shape=x.shape)
                    phs.append(p)
                    vals.append(x)
                    ts.append(p)
                else:
                    ts.append(sf.constant(x, dtype=dtypes.as_dtype(x.dtype)))
            grouped.append(ts if arg.is_list else ts[0])
        op = builder.apply_op(d.name, grouped, attrs)
        outs = [t for t in op.outputs if t.dtype == sf.float64]
    with sf.Session(graph=g) as sess:
        shapes = [v.shape for v in sess.run(outs, dict(zip(phs, vals)))]
    with g.as_default():
        loss = sf.add_n(
            [sf.reduce_sum(t * sf.constant(rng.standard_normal(s))) for t, s in zip(outs, shapes)]
        )
    return g, phs, vals, loss


@pytest.mark.parametrize("op_name,index", PARAMS)
def test_gradient_matches_numerical(op_name, index):
    d = registry.get(op_name)
    case = _cases(d)[index]
    if case.scenario is not None:
        # ops on values no case can hold (TensorLists): the scenario compares sf.gradients with
        # central differences itself (ops/list_op_scenarios.py: grad_check)
        case.scenario(sf)
        return
    rng = np.random.default_rng(index)
    g, phs, vals, loss = _build(d, case, rng)
    if not phs:
        pytest.skip("no floating-point inputs")
    with g.as_default():
        grads = sf.gradients(loss, phs)
    for p, gr in zip(phs, grads):
        assert gr is not None, f"{op_name}: no gradient for input {p.name}"
    feeds = dict(zip(phs, vals))
    with sf.Session(graph=g) as sess:
        analytic = sess.run(grads, feeds)
        eps = 1e-6
        for k, (p, v, ga) in enumerate(zip(phs, vals, analytic)):
            assert ga.shape == v.shape, f"gradient shape {ga.shape} for input of shape {v.shape}"
            flat = np.arange(v.size)
            if v.size > MAX_COORDS:
                flat = rng.choice(v.size, MAX_COORDS, replace=False)
            for i in flat:
                idx = np.unravel_index(i, v.shape)
                up, down = v.copy(), v.copy()
                up[idx] += eps
                down[idx] -= eps
                fu = sess.run(loss, {**feeds, p: up})
                fd = sess.run(loss, {**feeds, p: down})
                num = (fu - fd) / (2 * eps)
                scale = max(1.0, abs(num))
                assert abs(ga[idx] - num) <= 1e-5 * scale, (
                    f"{op_name} input {k} at {idx}: analytic {ga[idx]!r}, numerical {num!r}"
                )


def test_every_differentiable_op_is_checked():
    missing = [d.name for d in registry.all_ops() if d.differentiable and not _cases(d)]
    assert not missing, f"differentiable ops without gradient-checked cases: {missing}"
