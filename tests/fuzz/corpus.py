"""The fuzzer's seeds: un-mutated inputs that staticflow must run exactly as the reference does.

Two sources:
- every case the op registry declares (`OpDef.cases`, the cases the generated op tests run),
  each as a serialized GraphDef: fed inputs become placeholders of unknown dimensions (so
  that fed values of other shapes reach the kernels), planning-time inputs constants, and
  the inputs an op updates variables initialised by an `fuzz_init` op;
- the example models (examples/*.py), built, initialised and saved into a directory at run
  time: a frozen GraphDef, the MetaGraphDef with a serving signature, and the checkpoint.

A seed is plain data (bytes, arrays, names), so a case built from it pickles to a worker.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

import staticflow as sf
from staticflow.framework import dtypes
from staticflow.ops import builder, registry

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE_RNG_SEED = 1234  # the generated op tests' seed: the same cases
INIT = "fuzz_init"


@dataclass
class Seed:
    """One un-mutated input.

    kind: "op" (a registry case) or "model" (a frozen example model): a GraphDef in
    `graph_def`; "meta" (an example's MetaGraphDef and checkpoint): files in `files`, the
    meta graph under "model.meta" and the checkpoint under prefix "model".
    `feeds` maps tensor names to values, `fetches` are tensor names, `init` names ops to
    run first; `random` marks graphs with random ops (values compared by shape and dtype)."""

    kind: str
    name: str
    graph_def: bytes = b""
    files: dict = field(default_factory=dict)
    feeds: dict = field(default_factory=dict)
    fetches: list = field(default_factory=list)
    init: list = field(default_factory=list)
    random: bool = False
    # checkpoint seeds: the saved values by checkpoint key (the oracle of restores)
    saved: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# registry cases
# ---------------------------------------------------------------------------
def _usable(d: registry.OpDef, case: registry.Case) -> bool:
    """Cases a graph of one op can run: not the session-state scenarios, not the ops whose
    values come from session resources, not a bare Placeholder/VariableV2, and not the
    compiler's internal ops (a GraphDef cannot name them: their import is refused whole)."""
    return (
        not d.internal
        and case.scenario is None
        and d.resource is None
        and d.source is None
        and d.name not in ("Placeholder", "VariableV2")
    )


@functools.cache
def op_case_index() -> tuple[tuple[str, int], ...]:
    """(op name, case index) of every usable registry case, in registry order."""
    out = []
    for d in registry.all_ops():
        for i, c in enumerate(d.cases(np.random.default_rng(CASE_RNG_SEED))):
            if _usable(d, c):
                out.append((d.name, i))
    return tuple(out)


@functools.cache
def _cases(op_name: str) -> list:
    return registry.get(op_name).cases(np.random.default_rng(CASE_RNG_SEED))


def op_seed(op_name: str, index: int) -> Seed:
    """The GraphDef of registry case `index` of op `op_name`, with its feeds and fetches."""
    d = registry.get(op_name)
    case = _cases(op_name)[index]
    g = sf.Graph()
    feeds: dict = {}
    inits = []
    with g.as_default():
        grouped = []
        for arg, v in zip(d.inputs, case.inputs):
            items = list(v) if arg.is_list else [v]
            ts = []
            for k, x in enumerate(items):
                x = np.asarray(x)
                dt = dtypes.as_dtype(x.dtype)
                name = f"{arg.name}_{k}" if arg.is_list else arg.name
                if arg.ref:
                    var = builder.apply_op(
                        "VariableV2", [], {"shape": sf.TensorShape(x.shape), "dtype": dt}, name=name
                    ).outputs[0]
                    inits.append(sf.assign(var, sf.constant(x, dtype=dt)).op)
                    ts.append(var)
                elif arg.host:
                    ts.append(sf.constant(x, dtype=dt, name=name))
                else:
                    ph = sf.placeholder(dt, shape=[None] * x.ndim, name=name)
                    feeds[ph.name] = x
                    ts.append(ph)
            grouped.append(ts if arg.is_list else ts[0])
        op = builder.apply_op(d.name, grouped, dict(case.attrs), name="op")
        init = [sf.group(*inits, name=INIT).name] if inits else []
    fetches = [t.name for t in op.outputs]
    return Seed(
        "op",
        f"{op_name}-{index}",
        graph_def=g.as_graph_def().SerializeToString(),
        feeds=feeds,
        fetches=fetches if fetches else [op.name],
        init=init,
        random=d.random,
    )


# ---------------------------------------------------------------------------
# example models
# ---------------------------------------------------------------------------
def _example(name: str):
    path = os.path.join(REPO, "examples", name + ".py")
    spec = importlib.util.spec_from_file_location(f"_fuzz_example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _builders(rng: np.random.Generator):
    """(name, build fn -> (inputs {placeholder: value}, outputs [tensors])) per example model,
    each building into the default graph."""

    def demo():
        mod = _example("demo")
        g = mod.build_model(seed=0)
        return g, {g.get_tensor_by_name("x:0"): rng.normal(size=(3, 8)).astype(np.float32)}, [
            g.get_tensor_by_name("probs:0"),
            g.get_tensor_by_name("label:0"),
        ]

    def softmax_regression():
        mod = _example("softmax_regression")
        m = mod.build_model(6, 3, 0.1)
        x = rng.normal(size=(4, 6)).astype(np.float32)
        y = rng.integers(0, 3, 4)
        return None, {m["x"]: x, m["y"]: y}, [m["loss"], m["accuracy"]]

    def mlp_digits():
        mod = _example("mlp_digits")
        m = mod.build_model(16, (12, 8), 5, 0.01)
        x = rng.normal(size=(5, 16)).astype(np.float32)
        y = rng.integers(0, 5, 5)
        return None, {m["x"]: x, m["y"]: y}, [m["loss"], m["accuracy"]]

    def lenet():
        mod = _example("cnn_digits")
        x = sf.placeholder(sf.float32, [None, 16, 16, 1], name="images")
        logits = mod.lenet(x, False)
        probs = sf.nn.softmax(logits, name="probs")
        return None, {x: rng.normal(size=(2, 16, 16, 1)).astype(np.float32)}, [probs]

    def resnet():
        mod = _example("cnn_digits")
        x = sf.placeholder(sf.float32, [None, 8, 8, 1], name="images")
        logits = mod.resnet(x, False)
        return None, {x: rng.normal(size=(2, 8, 8, 1)).astype(np.float32)}, [logits]

    def transformer():
        mod = _example("transformer_reverse")
        tokens, targets, loss, accuracy, _ = mod.build(0)
        t = rng.integers(0, mod.VOCAB, (2, mod.LENGTH)).astype(np.int32)
        return None, {tokens: t, targets: t[:, ::-1].copy()}, [loss, accuracy]

    return [
        ("demo", demo),
        ("softmax_regression", softmax_regression),
        ("mlp_digits", mlp_digits),
        ("lenet", lenet),
        ("resnet", resnet),
        ("transformer", transformer),
    ]


def model_seeds(workdir: str) -> list[Seed]:
    """For each example model: a frozen GraphDef seed and a MetaGraphDef + checkpoint seed,
    saved under `workdir` (the files are carried in the seeds as bytes)."""
    from staticflow.protobuf import meta_graph_pb2
    from staticflow.train.meta_graph import seal, unseal

    out = []
    rng = np.random.default_rng(7)
    for name, build in _builders(rng):
        g0 = sf.Graph()
        with g0.as_default():
            g, inputs, outputs = build()
        g = g or g0
        with g.as_default(), sf.Session(graph=g) as sess:
            sess.run(sf.global_variables_initializer())
            feeds = {t.name: v for t, v in inputs.items()}
            fetches = [t.name for t in outputs]
            frozen = sf.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), sorted({t.op.name for t in outputs})
            )
            gd = frozen.SerializeToString()
            out.append(Seed("model", name, graph_def=gd, feeds=feeds, fetches=fetches))
            d = os.path.join(workdir, name)
            saver = sf.train.Saver()
            prefix = saver.save(sess, os.path.join(d, "model"))
            saved = {k: np.array(v) for k, v in saver._values(sess)}
        # a serving signature, as a SavedModel's meta graph carries
        meta_path = prefix + ".meta"
        raw = open(meta_path, "rb").read()
        mg = meta_graph_pb2.MetaGraphDef.FromString(unseal(raw, meta_path)[0])
        sig = mg.signature_def["serving_default"]
        for t in inputs:
            sig.inputs[t.op.name].name = t.name
            sig.inputs[t.op.name].dtype = t.dtype.as_datatype_enum
        for t in outputs:
            sig.outputs[t.op.name].name = t.name
            sig.outputs[t.op.name].dtype = t.dtype.as_datatype_enum
        sig.method_name = "tensorflow/serving/predict"
        files = {"model.meta": seal(mg.SerializeToString(), False)}
        for f in sorted(os.listdir(d)):
            if f.startswith("model.") and f != "model.meta" or f == "checkpoint":
                files[f] = open(os.path.join(d, f), "rb").read()
        out.append(Seed("meta", name, files=files, feeds=feeds, fetches=fetches, saved=saved))
    return out
