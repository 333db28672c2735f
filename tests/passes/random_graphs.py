"""Random dataflow graphs for property tests of plan-time passes.

`programs()` is a hypothesis strategy of small programs: placeholders of
broadcast-compatible shapes, then elementwise ops (unary and binary, activations
with attributes, comparisons feeding selects, constants and broadcasting),
reductions, matrix products with constant weights, transposes and reshapes,
written so that some subexpressions repeat and some constants fold.
`build(program)` makes the graph in the default graph and returns (fetches, feed_dict).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import staticflow as sf

UNARY = {
    "tanh": sf.tanh,
    "sigmoid": sf.sigmoid,
    "relu": sf.nn.relu,
    "neg": sf.negative,
    "abs": sf.abs,
    "square": lambda x: sf.square(sf.tanh(x)),
    "exp": lambda x: sf.exp(sf.tanh(x)),
    "softplus": sf.nn.softplus,
    "leaky_relu": lambda x: sf.nn.leaky_relu(x, 0.1),
    "elu": sf.nn.elu,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "max": sf.maximum,
    "min": sf.minimum,
    "sqdiff": sf.squared_difference,
    "where": lambda a, b: sf.where_v2(a > b, a, b * 0.5),
}


@st.composite
def programs(draw):
    b = draw(st.integers(1, 4))
    n = draw(st.integers(1, 5))
    shapes = [(b, n), (n,), (1, n), (b, 1), ()]
    k = draw(st.integers(1, 3))
    inputs = [draw(st.sampled_from(shapes[:4])) for _ in range(k)]
    steps = []
    cur = [tuple(s) for s in inputs]
    for _ in range(draw(st.integers(3, 14))):
        kind = draw(
            st.sampled_from(
                ["unary", "binary", "binary", "const", "const", "reduce", "matmul", "view", "repeat"]
            )
        )
        i = draw(st.integers(0, len(cur) - 1))
        s = cur[i]
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))), i))
        elif kind == "binary":
            j = draw(st.integers(0, len(cur) - 1))
            try:
                s = tuple(np.broadcast_shapes(cur[i], cur[j]))
            except ValueError:
                continue
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), i, j))
        elif kind == "const":
            c = draw(st.sampled_from([0.0, 1.0, 0.0, 1.0, 0.5, -2.0]))  # neutral ones often
            left = draw(st.booleans())
            steps.append(("const", draw(st.sampled_from(["add", "mul", "sub", "div"])), i, c, left))
        elif kind == "reduce":
            if not s:
                continue
            axis = draw(st.integers(0, len(s) - 1))
            keep = draw(st.booleans())
            steps.append(("reduce", draw(st.sampled_from(["sum", "mean", "max"])), i, axis, keep))
            s = tuple(1 if a == axis else d for a, d in enumerate(s)) if keep else s[:axis] + s[axis + 1 :]
        elif kind == "matmul":
            if len(s) != 2:
                continue
            m = draw(st.integers(1, 4))
            steps.append(("matmul", i, m, draw(st.integers(0, 1000))))
            s = (s[0], m)
        elif kind == "view":
            if len(s) != 2:
                continue
            if draw(st.booleans()):
                steps.append(("transpose", i))
                s = (s[1], s[0])
            else:
                steps.append(("reshape", i))
                s = (s[0] * s[1],)
        else:  # the same expression again, so that common subexpressions appear
            if not steps:
                continue
            steps.append(("repeat", draw(st.integers(0, len(steps) - 1))))
            continue
        cur.append(s)
    # every value the steps made, most of the time (so that a wrong rewrite anywhere shows), or a
    # few (so that dead nodes stay for the passes to drop)
    derived = list(range(k, len(cur))) or [0]
    fetch = (
        derived
        if draw(st.integers(0, 3))
        else draw(st.lists(st.sampled_from(derived), min_size=1, max_size=2))
    )
    seed = draw(st.integers(0, 2**16))
    return {"inputs": inputs, "steps": steps, "fetch": fetch, "seed": seed}


def build(program):
    """(fetch tensors, feed dict) of `program` in the default graph."""
    rng = np.random.default_rng(program["seed"])
    phs, feed = [], {}
    for s in program["inputs"]:
        p = sf.placeholder(sf.float32, [None] * len(s))
        phs.append(p)
        feed[p] = rng.uniform(-2, 2, s).astype(np.float32)
    vals = list(phs)
    made = []

    def apply(step):
        kind = step[0]
        if kind == "unary":
            return UNARY[step[1]](vals[step[2]])
        if kind == "binary":
            return BINARY[step[1]](vals[step[2]], vals[step[3]])
        if kind == "const":
            c, v = sf.constant(step[3]), vals[step[2]]
            a, b = (c, v) if step[4] else (v, c)
            if step[1] == "div":  # by a constant only, never by a value that may be 0
                return v / (c if step[3] != 0.0 else sf.constant(2.0))
            return {"add": lambda: a + b, "mul": lambda: a * b, "sub": lambda: a - b}[step[1]]()
        if kind == "reduce":
            fn = {"sum": sf.reduce_sum, "mean": sf.reduce_mean, "max": sf.reduce_max}[step[1]]
            return fn(vals[step[2]], axis=step[3], keepdims=step[4])
        if kind == "matmul":
            x = vals[step[1]]
            w = np.random.default_rng(step[3]).uniform(-1, 1, (_static(x)[1], step[2])).astype(np.float32)
            return sf.matmul(x, sf.constant(w) * 1.0)
        if kind == "transpose":
            return sf.transpose(vals[step[1]])
        if kind == "reshape":
            return sf.reshape(vals[step[1]], [-1])
        raise ValueError(kind)

    shapes = [tuple(s) for s in program["inputs"]]

    def _static(x):
        return shapes[vals.index(x)]

    for step in program["steps"]:
        if step[0] == "repeat":
            step = made[step[1]]
            v = apply(step)  # the same computation again: a value equal to an earlier one
            made.append(step)
            continue
        v = apply(step)
        made.append(step)
        vals.append(v)
        shapes.append(tuple(np.asarray(_eval_shape(step, shapes))))
    fetches = [vals[i] for i in program["fetch"] if i < len(vals)]
    return fetches, feed


def _eval_shape(step, shapes):
    kind = step[0]
    if kind == "unary" or kind == "const":
        return shapes[step[2]]
    if kind == "binary":
        return np.broadcast_shapes(shapes[step[2]], shapes[step[3]])
    if kind == "reduce":
        s, axis, keep = shapes[step[2]], step[3], step[4]
        return tuple(1 if a == axis else d for a, d in enumerate(s)) if keep else s[:axis] + s[axis + 1 :]
    if kind == "matmul":
        return (shapes[step[1]][0], step[2])
    if kind == "transpose":
        s = shapes[step[1]]
        return (s[1], s[0])
    if kind == "reshape":
        s = shapes[step[1]]
        return (int(np.prod(s)),)
    raise ValueError(kind)
