"""Graph cases for every registry op, built in staticflow and sent to TensorFlow.

Each registry test case becomes one GraphDef: its op with fed inputs as
placeholders of the exact shapes, host inputs (shapes, axes, sizes) as constants,
ref inputs as initialized variables. Variants of the same GraphDef rewrite the
placeholders' shapes to partially known ones:

  exact   every dimension known
  batch   the first dimension unknown (inputs of rank >= 1)
  dims    every dimension unknown, the rank known (when some input has rank >= 2)
  rank    the rank unknown

Both engines import the same bytes, so they start from one graph. `TfBatch`
builds every case of one op and asks TensorFlow for all of them in one request.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

import staticflow as sf
from parity import protocol
from parity.oracle import CaseResult, GradSpec, GraphCase, Oracle, Step
from staticflow.framework import dtypes
from staticflow.ops import builder, registry

RNG_SEED = 1234  # the registry's cases, as tests/ops generates them
VARIANTS = ("exact", "batch", "dims", "rank")


def cases_of(d: registry.OpDef) -> list[registry.Case]:
    return d.cases(np.random.default_rng(RNG_SEED))


def _flat_args(d: registry.OpDef, case: registry.Case):
    """(Arg, array) per flattened input, and the grouping that rebuilds the op's inputs."""
    out, groups = [], []
    for a, v in zip(d.inputs, case.inputs):
        if a.is_list:
            groups.append(len(v))
            out.extend((a, protocol.as_array(x)) for x in v)
        else:
            groups.append(None)
            out.append((a, protocol.as_array(v)))
    return out, groups


def _group(tensors, groups):
    grouped, i = [], 0
    for n in groups:
        if n is None:
            grouped.append(tensors[i])
            i += 1
        else:
            grouped.append(tensors[i : i + n])
            i += n
    return grouped


@dataclass
class Built:
    """One registry case as a GraphDef, and what to run and compare on it."""

    op: str
    index: int
    case: registry.Case
    graph_def: bytes
    outputs: list[str]  # tensor names of the op's outputs
    steps: list[Step]
    placeholders: dict[str, np.ndarray] = field(default_factory=dict)  # fed inputs by name
    grad: GradSpec | None = None
    error: str | None = None  # staticflow could not build the case at all

    def variants(self) -> list[str]:
        return _variants([v.ndim for v in self.placeholders.values()])

    def graph_def_for(self, variant: str) -> bytes:
        """The GraphDef with its placeholders' shapes made partial as `variant` says."""
        if variant == "exact":
            return self.graph_def
        gd = sf.GraphDef.FromString(self.graph_def)
        for node in gd.node:
            if node.op != "Placeholder" or node.name + ":0" not in self.placeholders:
                continue
            shape = node.attr["shape"].shape
            if variant == "rank":
                shape.Clear()
                shape.unknown_rank = True
            elif variant == "dims":
                for dim in shape.dim:
                    dim.size = -1
            elif variant == "batch" and shape.dim:
                shape.dim[0].size = -1
        return gd.SerializeToString()


def _variants(ranks: list[int]) -> list[str]:
    out = ["exact"]
    if any(r >= 1 for r in ranks):
        out.append("batch")
    if any(r >= 2 for r in ranks):
        out.append("dims")
    if ranks:
        out.append("rank")
    return out


def variants_of(d: registry.OpDef, case: registry.Case) -> list[str]:
    """The variants `build(d, ...).variants()` gives for `case`, without building it."""
    if case.label in ("feed", "variable"):
        return ["exact"]
    flat, _ = _flat_args(d, case)
    return _variants([v.ndim for a, v in flat if not (a.host or a.ref)])


def _weights(op: str, index: int, shapes_dtypes) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(f"{op}-{index}".encode()))
    return [rng.standard_normal(s).astype(dt) for s, dt in shapes_dtypes]


def _arange(shape: list[int], dt: dtypes.DType) -> np.ndarray:
    """0, 1, 2, ... in `shape` and `dt` (strings: b"0", b"1", ...)."""
    n = np.arange(int(np.prod(shape))).reshape(shape)
    if dt is dtypes.string:
        return np.array([str(i).encode() for i in n.ravel()], dtype=object).reshape(n.shape)
    return n.astype(dt.np)


def _feed_value(shape: sf.TensorShape, dt: dtypes.DType) -> np.ndarray:
    """A value a placeholder of `shape` accepts (unknown dimensions become 2 or 3)."""
    dims = [2, 3] if shape.rank is None else [3 if d is None else d for d in shape.as_list()]
    v = np.asarray(np.random.default_rng(0).uniform(-3, 3, dims))
    if dt is dtypes.string:
        return np.array([f"{x:.3f}".encode() for x in v.ravel()], dtype=object).reshape(v.shape)
    return v.astype(dt.np)


def build(d: registry.OpDef, index: int) -> Built:
    """The registry's case `index` of op `d` as a staticflow graph, exported."""
    case = cases_of(d)[index]
    g = sf.Graph()
    placeholders: dict[str, np.ndarray] = {}
    steps: list[Step] = []
    grad = None
    with g.as_default():
        flat, groups = _flat_args(d, case)
        if case.label == "feed":  # a placeholder: fed and fetched
            x = builder.apply_op(d.name, [], dict(case.attrs)).outputs[0]
            v = _feed_value(x.shape, x.dtype)
            steps.append(Step(fetches=[x.name], feeds={x.name: v}))
            outputs = [x.name]
        elif case.label == "variable":  # variables initialized from constants, then the op
            inits, variables, ins = [], [], []
            if d.name == "VariableV2":
                attrs = dict(case.attrs)
                shape = sf.TensorShape(attrs["shape"]).as_list()
                value = _arange(shape, dtypes.as_dtype(attrs["dtype"]))
                op = builder.apply_op(d.name, [], attrs)
                inits.append(sf.assign(op.outputs[0], value).op.name)
                variables.append(op.outputs[0].name)
            else:
                for a, v in flat:
                    if a.ref:
                        dt = dtypes.as_dtype(v.dtype)
                        var = builder.apply_op(
                            "VariableV2", [], {"shape": sf.TensorShape(v.shape), "dtype": dt}
                        )
                        inits.append(sf.assign(var.outputs[0], v).op.name)
                        variables.append(var.outputs[0].name)
                        ins.append(var.outputs[0])
                    else:
                        ins.append(sf.constant(v, dtype=dtypes.as_dtype(v.dtype)))
                op = builder.apply_op(d.name, _group(ins, groups), dict(case.attrs))
            outputs = [t.name for t in op.outputs]
            steps.append(Step(targets=inits))
            if d.name != "VariableV2":
                steps.append(Step(fetches=outputs))
            steps.append(Step(fetches=variables))
        else:  # fed inputs as placeholders, host inputs as constants
            tensors, xs = [], []
            for i, (a, v) in enumerate(flat):
                dt = dtypes.as_dtype(v.dtype)
                if a.host or a.ref:
                    tensors.append(sf.constant(v, dtype=dt))
                    continue
                ph = sf.placeholder(dt, shape=v.shape, name=f"input_{i}")
                placeholders[ph.name] = v
                tensors.append(ph)
                if a.differentiable and dt.is_floating:
                    xs.append(ph.name)
            op = builder.apply_op(d.name, _group(tensors, groups), dict(case.attrs))
            outputs = [t.name for t in op.outputs]
            if outputs:
                steps.append(Step(fetches=outputs, feeds=dict(placeholders)))
            else:
                steps.append(Step(targets=[op.name], feeds=dict(placeholders)))
            ys = [t for t in op.outputs if t.dtype.is_floating]
            if d.differentiable and xs and ys:
                want = builder.run_reference(d, [v for _, v in flat], op.attrs)
                pairs = [(w.shape, t.dtype.np) for t, w in zip(op.outputs, want) if t.dtype.is_floating]
                grad = GradSpec(
                    ys=[t.name for t in ys],
                    weights=_weights(d.name, index, pairs),
                    xs=xs,
                    feeds=dict(placeholders),
                )
    return Built(
        d.name, index, case, g.as_graph_def().SerializeToString(), outputs, steps, placeholders, grad
    )


def params() -> list[tuple[str, int, str, registry.Case]]:
    """(op, case index, variant, case) of every comparison, in registry order."""
    out = []
    for d in registry.all_ops():
        if d.internal:  # made by the compiler: compared through the ops it replaces
            continue
        for i, case in enumerate(cases_of(d)):
            out.extend((d.name, i, v, case) for v in variants_of(d, case))
    return out


class TfBatch:
    """TensorFlow's results for every case and variant of one op, asked in one request
    (cases with a scenario are left out: see test_ops.py)."""

    def __init__(self, oracle: Oracle, op: str):
        d = registry.get(op)
        # a scenario case has no graph of its own: its op is compared through the programs
        self.built = [None if c.scenario else build(d, i) for i, c in enumerate(cases_of(d))]
        keys, cases = [], []
        for b in self.built:
            for v in b.variants() if b else ():
                keys.append((b.index, v))
                cases.append(GraphCase(b.graph_def_for(v), b.outputs, b.steps, b.grad))
        self.results: dict[tuple[int, str], CaseResult] = dict(zip(keys, oracle.run_cases(cases)))


# ---------------------------------------------------------------------------
# the staticflow side
# ---------------------------------------------------------------------------
@dataclass
class SfResult:
    import_error: str | None
    shapes: dict[str, tuple[list | None, str]]
    steps: list[tuple[str | None, list[np.ndarray]]]
    grad_error: str | None = None
    grads: list[np.ndarray | None] | None = None


def _shape_json(shape: sf.TensorShape):
    return None if shape.rank is None else shape.as_list()


def run_staticflow(b: Built, variant: str) -> SfResult:
    """What staticflow makes of the variant's GraphDef: shapes, values, gradients."""
    g = sf.Graph()
    res = SfResult(None, {}, [])
    with g.as_default():
        try:
            sf.import_graph_def(sf.GraphDef.FromString(b.graph_def_for(variant)), name="")
        except (ValueError, TypeError) as e:
            res.import_error = f"{type(e).__name__}: {e}"
            return res
        for name in b.outputs:
            t = g.get_tensor_by_name(name)
            res.shapes[name] = (_shape_json(t.shape), t.dtype.base_dtype.name)
        grads = None
        if b.grad is not None:
            try:
                ys = [g.get_tensor_by_name(n) for n in b.grad.ys]
                loss = sf.add_n([sf.reduce_sum(y * sf.constant(w)) for y, w in zip(ys, b.grad.weights)])
                grads = sf.gradients(loss, [g.get_tensor_by_name(n) for n in b.grad.xs])
            except Exception as e:  # any failure is what the comparison reports
                res.grad_error = f"{type(e).__name__}: {e}"
    with sf.Session(graph=g) as sess:
        for step in b.steps:
            feeds = {g.get_tensor_by_name(k): v for k, v in step.feeds.items()}
            fetches = [g.get_tensor_by_name(n) for n in step.fetches]
            targets = [g.get_operation_by_name(n) for n in step.targets]
            try:
                values = sess.run(fetches + targets, feeds)[: len(fetches)]
            except Exception as e:
                res.steps.append((f"{type(e).__name__}: {e}", []))
                continue
            res.steps.append((None, [protocol.as_array(v) for v in values]))
        if grads is not None:
            present = [x for x in grads if x is not None]
            try:
                values = iter(
                    sess.run(present, {g.get_tensor_by_name(k): v for k, v in b.grad.feeds.items()})
                )
                res.grads = [None if x is None else protocol.as_array(next(values)) for x in grads]
            except Exception as e:
                res.grad_error = f"{type(e).__name__}: {e}"
    return res
