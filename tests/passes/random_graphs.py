"""Random dataflow graphs for property tests of plan-time passes.

`programs()` is a hypothesis strategy of small programs: placeholders of
broadcast-compatible shapes, then elementwise ops (unary and binary, activations
with attributes, comparisons feeding selects, constants and broadcasting),
reductions, matrix products with constant weights, transposes and reshapes,
written so that some subexpressions repeat and some constants fold. Some steps
are the patterns pattern fusion looks for: dense layers (a product, a bias in
one of its spellings, an activation), convolutions with a bias, an activation
and sometimes a max pool, and cross-entropies written out by hand; and some
programs also fetch the gradients of their outputs, so that the backward
patterns appear too. `build(program)` makes the graph in the default graph and
returns (fetches, feed_dict).
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
ACTIVATIONS = {
    "relu": sf.nn.relu,
    "elu": sf.nn.elu,
    "leaky": lambda x: sf.nn.leaky_relu(x, 0.1),
    "tanh": sf.tanh,
    "none": lambda x: x,
}
BIASES = ["add", "bias_add", "sub", "scalar", "scale_shift"]
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
                + ["dense", "dense", "conv", "xent"]
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
        elif kind == "dense":
            if len(s) != 2:
                continue
            m = draw(st.integers(1, 5))
            act = draw(st.sampled_from(sorted(ACTIVATIONS)))
            steps.append(("dense", i, m, act, draw(st.sampled_from(BIASES)), draw(st.integers(0, 1000))))
            s = (s[0], m)
        elif kind == "conv":
            if len(s) != 2:
                continue
            k, m, pool = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.booleans())
            act = draw(st.sampled_from(sorted(ACTIVATIONS)))
            steps.append(("conv", i, k, m, act, pool, draw(st.integers(0, 1000))))
            s = (s[0], (-(-s[1] // 2) if pool else s[1]) * m)
        elif kind == "xent":
            if len(s) != 2:
                continue
            steps.append(("xent", i, draw(st.integers(0, 1000))))
            s = (s[0],)
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
    grad = draw(st.integers(0, 2)) == 0  # also fetch d(weighted sum of the fetches)/d(inputs)
    return {"inputs": inputs, "steps": steps, "fetch": fetch, "seed": seed, "grad": grad}


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
        if kind == "dense":
            return _dense(vals[step[1]], _static(vals[step[1]])[1], *step[2:])
        if kind == "conv":
            return _conv(vals[step[1]], _static(vals[step[1]]), *step[2:])
        if kind == "xent":
            x = vals[step[1]]
            n = _static(x)[1]
            p = np.random.default_rng(step[2]).random((_static(x)[0], n)) + 0.05
            labels = sf.constant((p / p.sum(axis=1, keepdims=True)).astype(np.float32))
            return -sf.reduce_sum(labels * sf.log(sf.nn.softmax(x)), axis=1)
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
    if program.get("grad"):
        weights = np.random.default_rng(program["seed"] + 1)
        total = sf.add_n(
            [
                sf.reduce_sum(f * weights.uniform(0.5, 1.5, shapes[vals.index(f)]).astype(np.float32))
                for f in fetches
            ]
        )
        fetches += [g for g in sf.gradients(total, phs) if g is not None]
    return fetches, feed


def _dense(x, n, m, act, bias, seed):
    """act(x @ w + bias) with the bias in one of its spellings (or a scale, then a shift)."""
    rng = np.random.default_rng(seed)
    w = sf.constant(rng.uniform(-1, 1, (n, m)).astype(np.float32))
    b = rng.uniform(-1, 1, m).astype(np.float32)
    p = sf.matmul(x, w)
    z = {
        "add": lambda: p + b,
        "bias_add": lambda: sf.nn.bias_add(p, b),
        "sub": lambda: p - b,
        "scalar": lambda: p + 0.5,
        "scale_shift": lambda: p * (np.abs(b) + 0.5) + b,
    }[bias]()
    return ACTIVATIONS[act](z)


def _conv(x, shape, k, m, act, pool, seed):
    """x [b, n] as b images of n x 1 pixels, one channel: conv k x 1 SAME, bias, activation,
    max pool 2 x 1 when `pool`; flattened back to [b, pixels * m]."""
    rng = np.random.default_rng(seed)
    b, n = shape
    img = sf.reshape(x, [b, n, 1, 1])
    f = sf.constant(rng.uniform(-1, 1, (k, 1, 1, m)).astype(np.float32))
    h = ACTIVATIONS[act](
        sf.nn.bias_add(sf.nn.conv2d(img, f, [1, 1, 1, 1], "SAME"), rng.uniform(-1, 1, m).astype(np.float32))
    )
    if pool:
        h = sf.nn.max_pool(h, [1, 2, 1, 1], [1, 2, 1, 1], "SAME")
        n = -(-n // 2)
    return sf.reshape(h, [b, n * m])


def _eval_shape(step, shapes):
    kind = step[0]
    if kind == "unary" or kind == "const":
        return shapes[step[2]]
    if kind == "binary":
        return np.broadcast_shapes(shapes[step[2]], shapes[step[3]])
    if kind == "reduce":
        s, axis, keep = shapes[step[2]], step[3], step[4]
        return tuple(1 if a == axis else d for a, d in enumerate(s)) if keep else s[:axis] + s[axis + 1 :]
    if kind in ("matmul", "dense"):
        return (shapes[step[1]][0], step[2])
    if kind == "conv":
        b, n = shapes[step[1]]
        return (b, (-(-n // 2) if step[5] else n) * step[3])
    if kind == "xent":
        return (shapes[step[1]][0],)
    if kind == "transpose":
        s = shapes[step[1]]
        return (s[1], s[0])
    if kind == "reshape":
        s = shapes[step[1]]
        return (int(np.prod(s)),)
    raise ValueError(kind)
