"""Random ops: uniform, normal, truncated normal and integer tensors from Philox4x32-10.

Each op keeps a stream in its session: [seed, seed2, counter], where the
counter advances by the blocks a run uses, so repeated runs give new values
and a new session with the same seeds replays the same sequence. Seeds follow
TensorFlow's rules (`set_random_seed` and the op's `seed`).
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes, sizes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, registry
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
IDX_T = (D.int32, D.int64)
DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1

# ---------------------------------------------------------------------------
# Philox4x32-10 in NumPy: the reference the C kernels are checked against
# ---------------------------------------------------------------------------
_M0, _M1, _W0, _W1 = (
    np.uint64(0xD2511F53),
    np.uint64(0xCD9E8D57),
    np.uint32(0x9E3779B9),
    np.uint32(0xBB67AE85),
)
TN_RESERVE = 8


def philox_blocks(seed: int, seed2: int, first: int, n: int) -> np.ndarray:
    """Words [n, 4] (uint32) of blocks first .. first + n - 1 for key `seed`, stream `seed2`."""
    b = (np.uint64(first) + np.arange(n, dtype=np.uint64)) & np.uint64(2**64 - 1)
    s2 = np.uint64(seed2 & (2**64 - 1))
    c = [
        (b & np.uint64(0xFFFFFFFF)).astype(np.uint32),
        (b >> np.uint64(32)).astype(np.uint32),
        np.full(n, s2 & np.uint64(0xFFFFFFFF), np.uint32),
        np.full(n, s2 >> np.uint64(32), np.uint32),
    ]
    k0 = np.uint32(seed & 0xFFFFFFFF)
    k1 = np.uint32((seed >> 32) & 0xFFFFFFFF)
    for _ in range(10):
        p0 = _M0 * c[0].astype(np.uint64)
        p1 = _M1 * c[2].astype(np.uint64)
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), p0.astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), p1.astype(np.uint32)
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
        k0 = np.uint32((int(k0) + int(_W0)) & 0xFFFFFFFF)
        k1 = np.uint32((int(k1) + int(_W1)) & 0xFFFFFFFF)
    return np.stack(c, axis=1)


def _u24(w):
    return (w >> np.uint32(8)).astype(np.float64) * 2.0**-24


def _u53(a, b):
    x = (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normals(words: np.ndarray, dt) -> np.ndarray:
    """Box-Muller over a block's words, in the kernels' element order."""
    two_pi = 2 * np.pi
    if dt is D.float32:
        out = []
        for a, b in ((0, 1), (2, 3)):
            u1 = ((words[:, a] >> np.uint32(8)).astype(np.float64) + 1) * 2.0**-24
            u2 = _u24(words[:, b])
            r = np.sqrt(-2 * np.log(u1))
            out += [r * np.cos(two_pi * u2), r * np.sin(two_pi * u2)]
        return np.stack(out, axis=1).reshape(-1)
    u1 = ((words[:, 0].astype(np.uint64) << np.uint64(32)) | words[:, 1].astype(np.uint64)) >> np.uint64(11)
    u1 = (u1.astype(np.float64) + 1) * 2.0**-53
    u2 = _u53(words[:, 2], words[:, 3])
    r = np.sqrt(-2 * np.log(u1))
    return np.stack([r * np.cos(two_pi * u2), r * np.sin(two_pi * u2)], axis=1).reshape(-1)


def reference_stream(kind: str, dt, n: int, seed: int, seed2: int, counter: int, lo=None, hi=None):
    """(values, blocks used) exactly as the kernels generate them."""
    dt = D.as_dtype(dt)
    per = 4 if dt in (D.float32, D.int32) else 2
    if kind == "truncated_normal":
        # each group of `per` values draws TN_RESERVE blocks and keeps its first `per` normals
        # within two standard deviations (all groups at once: a row per group)
        groups = -(-n // per)
        z = (
            _normals(philox_blocks(seed, seed2, counter, groups * TN_RESERVE), dt).reshape(groups, -1)
            if groups
            else np.zeros((0, 1))
        )
        keep = np.abs(z) <= 2
        keep &= np.cumsum(keep, axis=1) <= per
        # the kept values row by row (a group short of values gives what it drew)
        return z[keep][:n].astype(dt.np), groups * TN_RESERVE
    blocks = -(-n // per)
    w = philox_blocks(seed, seed2, counter, blocks)
    if kind == "uniform":
        v = (
            _u24(w).reshape(-1)
            if dt is D.float32
            else _u53(w[:, [0, 2]].reshape(-1), w[:, [1, 3]].reshape(-1))
        )
        return v[:n].astype(dt.np), blocks
    if kind == "normal":
        return _normals(w, dt)[:n].astype(dt.np), blocks
    if kind == "uniform_int":
        rng = int(hi) - int(lo)
        if dt is D.int32:
            x = w.reshape(-1).astype(np.uint64)
            v = int(lo) + ((x * np.uint64(rng)) >> np.uint64(32)).astype(np.int64)
        else:
            x = ((w[:, [0, 2]].astype(np.uint64) << np.uint64(32)) | w[:, [1, 3]].astype(np.uint64)).reshape(
                -1
            )
            # the high 64 bits of x * rng, from 32-bit limbs; lo + them wraps back into int64
            r = np.uint64(rng)
            m32 = np.uint64(0xFFFFFFFF)
            x0, x1, r0, r1 = x & m32, x >> np.uint64(32), r & m32, r >> np.uint64(32)
            p01, p10 = x0 * r1, x1 * r0
            mid = ((x0 * r0) >> np.uint64(32)) + (p01 & m32) + (p10 & m32)
            hi_ = x1 * r1 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
            v = (np.uint64(int(lo) % 2**64) + hi_).view(np.int64)
        return np.asarray(v[:n]).astype(dt.np), blocks
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# seeds (TensorFlow's get_seed)
# ---------------------------------------------------------------------------
def set_random_seed(seed) -> None:
    """The graph-level seed of the default graph."""
    fops.get_default_graph().seed = seed


def get_seed(op_seed):
    """(seed, seed2) for an op, TF1 rules: graph seed and op seed, or both 0 for fresh randomness."""
    g = fops.get_default_graph()
    global_seed = g.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = g._id_counter
        seeds = (int(global_seed), int(op_seed))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed))
    else:
        return 0, 0
    if seeds == (0, 0):  # (0, 0) means "nondeterministic"; keep a fixed seed deterministic
        seeds = (0, _MAXINT32)
    return seeds


# ---------------------------------------------------------------------------
# declarations
# ---------------------------------------------------------------------------
def _shape_from_value(c):
    v = c.value(0)
    if v is None:
        return [c.shape_value(0)]  # known element by element: sf.stack([batch, 5]) gives (?, 5)
    from staticflow.ops.array_ops import shape_value

    return [TensorShape(shape_value(v))]


def _state_ref(kind):
    """The reference reads the stream state from attr `_state` (given by tests); a plain call
    with the op's seeds and a fresh counter otherwise."""

    def ref(ins, a):
        from staticflow.ops.array_ops import shape_value

        shape = shape_value(ins[0])
        n = sizes.num_elements(shape)
        dt = a.get("dtype", a.get("Tout"))
        lo, hi = (ins[1], ins[2]) if kind == "uniform_int" else (None, None)
        if kind == "uniform_int" and int(lo) >= int(hi):
            raise ValueError(f"Need minval < maxval, got {int(lo)} >= {int(hi)}")
        vals, _ = reference_stream(kind, dt, n, a["seed"], a["seed2"], 0, lo, hi)
        return vals.reshape(shape)

    return ref


def _random_lower(kind):
    base = {
        "uniform": "random_uniform",
        "normal": "random_normal",
        "truncated_normal": "truncated_normal",
        "uniform_int": "random_uniform_int",
    }[kind]

    def lower(ctx):
        out = ctx.out(0)
        ins = [ctx.state()] + ([ctx.inp(1), ctx.inp(2)] if kind == "uniform_int" else [])
        if out.size:
            ctx.call(ctx.kernel(base, ctx.out_dtypes[0]), ins, [out.reshape([out.size])])

    return lower


def _random_cases(dts, extra=()):
    def cases(rng):
        return [
            Case(
                (np.array(s, np.int32), *[np.array(e, t.np) for e in extra]),
                {("Tout" if extra else "dtype"): t, "seed": 7, "seed2": 3},
                grad=False,
            )
            for t in dts
            for s in [(5,), (3, 4), (0,), (1001,)]
        ]

    return cases


_RANDOM = [
    ("RandomUniform", "uniform", "Outputs random values uniform in [0, 1)."),
    ("RandomStandardNormal", "normal", "Outputs random values from a standard normal distribution."),
    ("TruncatedNormal", "truncated_normal", "Normal values, redrawn when beyond two standard deviations."),
]
for _name, _kind, _doc in _RANDOM:
    op(
        name=_name,
        inputs=[Arg("shape", type_attr="T", host=True)],
        outputs=[Arg("output", type_attr="dtype")],
        attrs=[
            Attr("seed", "int", 0),
            Attr("seed2", "int", 0),
            Attr("dtype", "type", allowed=F),
            Attr("T", "type", D.int32, allowed=IDX_T),
        ],
        shape_fn=_shape_from_value,
        ref=_state_ref(_kind),
        lower=_random_lower(_kind),
        kernels=registry.kernels_for(
            [
                {
                    "uniform": "random_uniform",
                    "normal": "random_normal",
                    "truncated_normal": "truncated_normal",
                }[_kind]
            ],
            F,
        ),
        stateful=True,
        random=True,
        differentiable=False,
        cases=_random_cases(F),
        doc=_doc,
    )

op(
    name="RandomUniformInt",
    inputs=[
        Arg("shape", type_attr="T", host=True),
        Arg("minval", type_attr="Tout"),
        Arg("maxval", type_attr="Tout"),
    ],
    outputs=[Arg("output", type_attr="Tout")],
    attrs=[
        Attr("seed", "int", 0),
        Attr("seed2", "int", 0),
        Attr("Tout", "type", allowed=IDX_T),
        Attr("T", "type", D.int32, allowed=IDX_T),
    ],
    shape_fn=_shape_from_value,
    ref=_state_ref("uniform_int"),
    lower=_random_lower("uniform_int"),
    kernels=registry.kernels_for(["random_uniform_int"], IDX_T),
    stateful=True,
    random=True,
    differentiable=False,
    cases=_random_cases(IDX_T, extra=(-3, 11)),
    doc="Outputs random integers uniform in [minval, maxval).",
)


# ---------------------------------------------------------------------------
# wrappers
# ---------------------------------------------------------------------------
def _random(op_type, shape, dtype, seed, name, extra=()):
    from staticflow.ops.array_ops import _shape_arg

    s1, s2 = get_seed(seed)
    attrs = {"seed": s1, "seed2": s2}
    attrs["Tout" if extra else "dtype"] = D.as_dtype(dtype)
    return builder.apply_op(op_type, [_shape_arg(shape), *extra], attrs, name).outputs[0]


def random_uniform(shape, minval=0, maxval=None, dtype=D.float32, seed=None, name=None):
    """Uniform values in [minval, maxval) (maxval defaults to 1 for floats)."""
    dt = D.as_dtype(dtype)
    if dt.is_integer:
        if maxval is None:
            raise ValueError("Must specify maxval for integer dtype")
        return _random(
            "RandomUniformInt",
            shape,
            dt,
            seed,
            name or "random_uniform",
            extra=(fops.convert_to_tensor(minval, dtype=dt), fops.convert_to_tensor(maxval, dtype=dt)),
        )
    with fops.name_scope(name, "random_uniform"):
        u = _random("RandomUniform", shape, dt, seed, None)
        maxval = 1 if maxval is None else maxval
        if (
            not isinstance(minval, fops.Tensor)
            and not isinstance(maxval, fops.Tensor)
            and (minval, maxval) == (0, 1)
        ):
            return u
        return u * (maxval - minval) + minval


def random_normal(shape, mean=0.0, stddev=1.0, dtype=D.float32, seed=None, name=None):
    with fops.name_scope(name, "random_normal"):
        z = _random("RandomStandardNormal", shape, dtype, seed, None)
        return z * stddev + mean


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=D.float32, seed=None, name=None):
    with fops.name_scope(name, "truncated_normal"):
        z = _random("TruncatedNormal", shape, dtype, seed, None)
        return z * stddev + mean


# ---------------------------------------------------------------------------
# RandomShuffle: a random permutation along the first dimension
# ---------------------------------------------------------------------------
def _permutation(n: int, seed: int, seed2: int, counter: int) -> tuple[np.ndarray, int]:
    """(a permutation of range(n), blocks used): the order of n random 64-bit keys."""
    blocks = -(-n // 2)
    w = philox_blocks(seed, seed2, counter, blocks).astype(np.uint64)
    keys = ((w[:, [0, 2]] << np.uint64(32)) | w[:, [1, 3]]).reshape(-1)[:n]
    return np.argsort(keys, kind="stable"), blocks


def _shuffle_ref(ins, a):
    x = np.asarray(ins[0])
    if x.ndim == 0:
        return x.copy()
    perm, _ = _permutation(x.shape[0], a["seed"], a["seed2"], 0)
    return x[perm]


def _shuffle_lower(ctx):
    def run(op_, ins, outs):
        x, state = ins
        if x.ndim == 0:
            outs[0][...] = x
            return
        perm, used = _permutation(x.shape[0], int(state[0]), int(state[1]), int(state[2]))
        state[2] += used
        outs[0][...] = x[perm]

    ctx.host(run, [ctx.inp(0), ctx.state()], [ctx.out(0)], writes=(1,))


op(
    name="RandomShuffle",
    inputs=[Arg("value", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("seed", "int", 0), Attr("seed2", "int", 0), Attr("T", "type")],
    shape_fn=lambda c: [c.shape(0)],
    ref=_shuffle_ref,
    lower=_shuffle_lower,
    strings_lowered=True,
    stateful=True,
    random=True,
    differentiable=False,
    cases=lambda rng: [
        Case((rng.standard_normal((7, 3)).astype(np.float32),), {"seed": 5, "seed2": 2}, grad=False),
        Case((np.arange(10, dtype=np.int64),), {"seed": 1, "seed2": 9}, grad=False),
        Case((np.array([b"a", b"b", b"c", b"d"], dtype=object),), {"seed": 3, "seed2": 4}, grad=False),
        Case((np.zeros((0, 2), np.float32),), {"seed": 3, "seed2": 4}, grad=False),
        Case((np.float32(2.5),), {"seed": 3, "seed2": 4}, grad=False),
    ],
    doc="Its input with the slices along the first dimension in a random order.",
)


def random_shuffle(value, seed=None, name=None) -> fops.Tensor:
    """value with its first dimension randomly permuted (a new order each run)."""
    s1, s2 = get_seed(seed)
    return builder.apply_op("RandomShuffle", [value], {"seed": s1, "seed2": s2}, name).outputs[0]
