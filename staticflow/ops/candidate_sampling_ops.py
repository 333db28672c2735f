"""Candidate samplers (TF's LogUniformCandidateSampler, UniformCandidateSampler) and
ComputeAccidentalHits: the sampling half of the sampled losses (nce_loss,
sampled_softmax_loss).

The samplers are random ops on the Philox stream of random.c: draw t of a run is
element t of the float64 uniform stream, mapped to a class in [0, range_max) by
the sampler's distribution; with ``unique`` the draws go on until num_sampled
distinct classes are picked. Expected counts follow TensorFlow's RangeSampler
exactly (float32): ``p * num_sampled`` when every draw was kept, else
``1 - (1 - p) ** num_tries``. The NumPy references replay the same stream.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, unknown_shape
from staticflow.ops import abi, builder, random_ops
from staticflow.ops.lowering import COPY_KERNELS
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
FLT_MAX = float(np.finfo(np.float32).max)
_SAMPLED = ["sampled_candidates", "true_expected_count", "sampled_expected_count"]
_RESULTS = {
    "LogUniformCandidateSampler": collections.namedtuple("LogUniformCandidateSampler", _SAMPLED),
    "UniformCandidateSampler": collections.namedtuple("UniformCandidateSampler", _SAMPLED),
    "ComputeAccidentalHits": collections.namedtuple("ComputeAccidentalHits", ["indices", "ids", "weights"]),
}


# ---------------------------------------------------------------------------
# the samplers' distributions (the NumPy side of random.c's sampler kernels)
# ---------------------------------------------------------------------------
def _draws(seed: int, seed2: int):
    """The stream's draws in order: (64 random bits, uniform double in [0, 1))."""
    block = 0
    while True:
        w = random_ops.philox_blocks(seed, seed2, block, 64)
        for row in w:
            for half in (0, 1):
                x = (int(row[2 * half]) << 32) | int(row[2 * half + 1])
                yield x, (x >> 11) * 2.0**-53
        block += 64


def _sample(kind: str, range_max: int, x: int, u: float) -> int:
    if kind == "log_uniform":
        return (int(math.exp(u * math.log1p(range_max))) - 1) % range_max
    return (x * range_max) >> 64


def probability(kind: str, range_max: int, value) -> np.ndarray:
    """P(value) under the sampler (float32, as TensorFlow's Probability)."""
    v = np.asarray(value, np.int64).astype(np.float64)
    if kind == "log_uniform":
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.log((v + 2.0) / (v + 1.0)) / math.log1p(range_max)
        return p.astype(np.float32)
    return np.full(v.shape, 1.0 / range_max).astype(np.float32)


def expected_count(p, num_sampled: int, num_tries: int) -> np.ndarray:
    """TensorFlow's ExpectedCountHelper, in float32."""
    p = np.asarray(p, np.float32)
    if num_tries == num_sampled:
        return (p * np.float32(num_sampled)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (-np.expm1(np.float32(num_tries) * np.log1p(-p))).astype(np.float32)


def reference_sample(kind, true_classes, num_sampled, unique, range_max, seed, seed2):
    """(candidates, true expected counts, sampled expected counts, draws) as the kernel makes them."""
    if unique and num_sampled > range_max:
        raise ValueError("Sampler's range is too small.")
    bad = [int(v) for v in np.asarray(true_classes, np.int64).ravel() if not 0 <= v < range_max]
    if bad:
        raise ValueError(f"`true_candidate` out of range [0, {range_max}), received {bad[0]}")
    picked: list[int] = []
    seen: set[int] = set()
    tries = 0
    for x, u in _draws(seed, seed2):
        if len(picked) == num_sampled:
            break
        v = _sample(kind, range_max, x, u)
        tries += 1
        if not unique or v not in seen:
            seen.add(v)
            picked.append(v)
    cand = np.array(picked, np.int64)
    tc = np.asarray(true_classes, np.int64)
    return (
        cand,
        expected_count(probability(kind, range_max, tc), num_sampled, tries),
        expected_count(probability(kind, range_max, cand), num_sampled, tries),
        tries,
    )


# ---------------------------------------------------------------------------
# declarations
# ---------------------------------------------------------------------------
def _sampler_shape(c):
    tc = c.shape(0).with_rank(2)
    num_true, num_sampled = c.attrs["num_true"], c.attrs["num_sampled"]
    cols = tc.as_tuple()[1]
    if cols is not None and cols != num_true:
        raise ValueError(f"true_classes must have num_true columns, expected: {num_true} was: {cols}")
    if c.attrs["unique"] and num_sampled > c.attrs["range_max"]:
        raise ValueError(
            f"Sampler's range is too small: {num_sampled} unique samples from range_max "
            f"{c.attrs['range_max']}"
        )
    batch = TensorShape([num_sampled])
    return [batch, TensorShape([tc.as_tuple()[0], num_true]), batch]


def _sampler_ref(kind):
    def ref(ins, a):
        tc = np.asarray(ins[0])
        cand, tec, sec, _ = reference_sample(
            kind, tc, a["num_sampled"], a["unique"], a["range_max"], a["seed"], a["seed2"]
        )
        return [cand, tec, sec]

    return ref


def _set_size(num_sampled: int) -> int:
    cap = 2
    while cap < 2 * num_sampled:
        cap *= 2
    return cap


def _sampler_lower(kind):
    symbol = f"sf_cpu_{kind}_candidate_sampler_int64"

    def lower(ctx):
        n = int(np.prod(ctx.in_shapes[0], dtype=np.int64))
        s = ctx.attrs["num_sampled"]
        scratch = ctx.scratch_buffer((_set_size(s),), D.int64)
        ctx.call(
            symbol,
            [ctx.state(), ctx.inp(0).reshape([n])],
            [ctx.out(0), ctx.out(1).reshape([n]), ctx.out(2), scratch],
            iattr=abi.pack({
                abi.SF_SAMPLER_RANGE_MAX: ctx.attrs["range_max"],
                abi.SF_SAMPLER_UNIQUE: int(ctx.attrs["unique"]),
            }),
        )

    return lower


def _check_attrs(kind_name):
    def check(attrs):
        for a in ("num_true", "num_sampled", "range_max"):
            if int(attrs[a]) < 1:
                raise ValueError(f"Attr '{a}' of '{kind_name}' Op passed {attrs[a]} less than minimum 1.")

    return check


def _sampler_cases(rng):
    out = []
    for unique in (True, False):
        for tc, num_true, s, rmax in (
            (np.array([[1, 5], [3, 3], [0, 9]]), 2, 6, 10),
            (np.array([[0], [7], [2], [2]]), 1, 5, 1000),
            (np.array([[3, 1, 2]]), 3, 4, 4),
        ):
            if unique and s > rmax:
                continue
            out.append(
                Case(
                    (tc.astype(np.int64),),
                    {
                        "num_true": num_true,
                        "num_sampled": s,
                        "unique": unique,
                        "range_max": rmax,
                        "seed": 7,
                        "seed2": 3,
                    },
                    grad=False,
                )
            )
    return out


_SAMPLERS = {
    "LogUniformCandidateSampler": (
        "log_uniform",
        "Samples classes from the log-uniform (Zipfian) distribution over [0, range_max).",
    ),
    "UniformCandidateSampler": ("uniform", "Samples classes uniformly from [0, range_max)."),
}
for _name, (_kind, _doc) in _SAMPLERS.items():
    op(
        name=_name,
        inputs=[Arg("true_classes", dtype=D.int64)],
        outputs=[
            Arg("sampled_candidates", dtype=D.int64),
            Arg("true_expected_count", dtype=D.float32),
            Arg("sampled_expected_count", dtype=D.float32),
        ],
        attrs=[
            Attr("num_true", "int"),
            Attr("num_sampled", "int"),
            Attr("unique", "bool"),
            Attr("range_max", "int"),
            Attr("seed", "int", 0),
            Attr("seed2", "int", 0),
        ],
        shape_fn=_sampler_shape,
        ref=_sampler_ref(_kind),
        lower=_sampler_lower(_kind),
        kernels=(f"sf_cpu_{_kind}_candidate_sampler_int64",),
        stateful=True,
        random=True,
        differentiable=False,
        cases=_sampler_cases,
        doc=_doc,
    )


def accidental_hits(true_classes, sampled, num_true: int):
    """TensorFlow's ComputeAccidentalHits on arrays: one hit per (row, true class) found
    among the samples, at the sample's last position."""
    tc = np.asarray(true_classes, np.int64)
    s = np.asarray(sampled, np.int64).reshape(-1)
    if tc.ndim != 2 or tc.shape[1] != num_true:
        raise ValueError(f"true_classes must be a [batch, {num_true}] matrix, got shape {tc.shape}")
    pos = {int(v): i for i, v in enumerate(s)}  # the last position of each value
    idx, ids = [], []
    for i in range(tc.shape[0]):
        for j in range(num_true):
            k = pos.get(int(tc[i, j]))
            if k is not None:
                idx.append(i)
                ids.append(k)
    n = len(idx)
    return [np.array(idx, np.int32), np.array(ids, np.int64), np.full(n, -FLT_MAX, np.float32)]


def _hits_shape(c):
    tc = c.shape(0).with_rank(2)
    c.shape(1).with_rank(1)
    num_true = c.attrs["num_true"]
    cols = tc.as_tuple()[1]
    if cols is not None and cols != num_true:
        raise ValueError(f"Dimension must be {num_true} but is {cols}")
    a, b = c.value(0), c.value(1)
    if a is None or b is None:
        return [unknown_shape(1)] * 3
    n = len(accidental_hits(a, b, num_true)[0])
    return [TensorShape([n])] * 3


def _hits_lower(ctx):
    """The hits are computed while planning, from the inputs' values (constants or feeds):
    their number sets the outputs' shapes, and a plan's shapes are fixed before it runs."""
    outs = accidental_hits(ctx.values[0], ctx.values[1], ctx.attrs["num_true"])
    for j, arr in enumerate(outs):
        ctx.copy(ctx.const(arr, D.as_dtype(arr.dtype)), ctx.out(j))


op(
    name="ComputeAccidentalHits",
    inputs=[
        Arg("true_classes", dtype=D.int64, host=True),
        Arg("sampled_candidates", dtype=D.int64, host=True),
    ],
    outputs=[Arg("indices", dtype=D.int32), Arg("ids", dtype=D.int64), Arg("weights", dtype=D.float32)],
    attrs=[Attr("num_true", "int"), Attr("seed", "int", 0), Attr("seed2", "int", 0)],
    shape_fn=_hits_shape,
    ref=lambda ins, a: accidental_hits(ins[0], ins[1], a["num_true"]),
    lower=_hits_lower,
    kernels=COPY_KERNELS,
    differentiable=False,
    cases=lambda rng: [
        Case(
            (np.array([[1, 5], [3, 3], [0, 9]], np.int64), np.array([3, 5, 3, 7, 9, 1], np.int64)),
            {"num_true": 2},
            grad=False,
        ),
        Case((np.array([[4], [2]], np.int64), np.array([0, 1], np.int64)), {"num_true": 1}, grad=False),
    ],
    doc="Positions of the sampled candidates that equal a row's true class, with weight -FLT_MAX.",
)


# ---------------------------------------------------------------------------
# wrappers (sf.nn.*_candidate_sampler, sf.random.*, sf.nn.compute_accidental_hits)
# ---------------------------------------------------------------------------
def _sampler(op_type, true_classes, num_true, num_sampled, unique, range_max, seed, name):
    s1, s2 = random_ops.get_seed(seed)
    attrs = {
        "num_true": int(num_true),
        "num_sampled": int(num_sampled),
        "unique": bool(unique),
        "range_max": int(range_max),
        "seed": s1,
        "seed2": s2,
    }
    _check_attrs(op_type)(attrs)
    tc = fops.convert_to_tensor(true_classes)
    if tc.dtype != D.int64:
        raise TypeError(f"{op_type}: true_classes must be int64, got {tc.dtype.name}")
    return _RESULTS[op_type](*builder.apply_op(op_type, [tc], attrs, name).outputs)


def log_uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Samples num_sampled classes from P(class) = log((class + 2) / (class + 1)) / log(range_max + 1).

    Returns (sampled_candidates [num_sampled] int64, true_expected_count [batch, num_true],
    sampled_expected_count [num_sampled]); true_classes is an int64 [batch, num_true] matrix.
    Suits classes sorted by decreasing frequency (Zipf's law), as word ids usually are.
    """
    return _sampler(
        "LogUniformCandidateSampler", true_classes, num_true, num_sampled, unique, range_max, seed, name
    )


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """Samples num_sampled classes uniformly from [0, range_max); returns what
    log_uniform_candidate_sampler returns."""
    return _sampler(
        "UniformCandidateSampler", true_classes, num_true, num_sampled, unique, range_max, seed, name
    )


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """(indices int32, ids int64, weights float32): for each row i and true class of it that
    is among sampled_candidates, i, the candidate's (last) position and -FLT_MAX.

    The number of hits sets the outputs' shapes, which staticflow fixes when it plans a run,
    so true_classes and sampled_candidates must be known then: constants or fed values.
    The sampled losses remove accidental hits without this op (with a mask of the same
    effect), so their samples may come from a sampler op.
    """
    s1, s2 = random_ops.get_seed(seed)
    return _RESULTS["ComputeAccidentalHits"](
        *builder.apply_op(
            "ComputeAccidentalHits",
            [true_classes, sampled_candidates],
            {"num_true": int(num_true), "seed": s1, "seed2": s2},
            name,
        ).outputs
    )
