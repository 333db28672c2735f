"""A fixed-seed fuzz of the `staticflow` command: mutated models (GraphDefs, meta graphs,
SavedModels, their checkpoints), odd names, lying or foreign .npy inputs and unwritable output
paths. Whatever the case, the command ends with status 0, 1 (the model failed while running) or
2 (a user error), prints one line on failure, and never a traceback nor an internal error.

`cli_cases(seed, n, workdir)` yields argv lists and is meant to be driven by longer fuzz runs.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import random
import shutil

import numpy as np
import pytest

import staticflow as sf
from staticflow.cli import INTERNAL_ERROR, main
from staticflow.framework import graph_pb2
from staticflow.protobuf import meta_graph_pb2, saved_model_pb2
from staticflow.train.meta_graph import seal, unseal

WEIRD = ["b:zz", "a\\", "x:0:1", '"q"', "<b>", "y:-1", ":", "", "x:99999999999999999999", "ünï", "^x",
         "a/b/", "/x", "x\n", "x:1"]  # fmt: skip


def make_models(d: str) -> list[str]:
    """A trained-looking model saved every way the command reads: frozen .pb, .pbtxt, .meta, SavedModel."""
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 4], name="x")
        w = sf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), name="w")
        y = sf.nn.softmax(sf.matmul(x, w), name="y")
        loss = sf.reduce_sum(y, name="loss")
        sf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with sf.Session() as s:
            s.run(sf.global_variables_initializer())
            frozen = sf.graph_util.convert_variables_to_constants(s, g.as_graph_def(), ["y"])
            sf.io.write_graph(frozen, d, "frozen.pb", as_text=False)
            sf.io.write_graph(g.as_graph_def(), d, "graph.pbtxt", as_text=True)
            sf.train.Saver().save(s, os.path.join(d, "ck", "model"))
            sf.saved_model.simple_save(s, os.path.join(d, "sm"), {"x": x}, {"y": y})
    np.save(os.path.join(d, "x.npy"), np.ones((2, 4), np.float32))
    return [os.path.join(d, p) for p in ("frozen.pb", "graph.pbtxt", "ck/model.meta", "sm")]


def _mutate_graph_def(rng: random.Random, gd) -> None:
    nodes = list(gd.node)
    if not nodes:
        return
    n = rng.choice(nodes)
    k = rng.randrange(9)
    weird = rng.choice(WEIRD)
    if k == 0:
        n.op = weird
    elif k == 1 and n.input:
        n.input[rng.randrange(len(n.input))] = weird
    elif k == 2:
        n.name = weird
    elif k == 3:
        n.input.append(rng.choice(nodes).name)  # often a cycle
    elif k == 4 and n.attr:
        n.attr[rng.choice(sorted(n.attr))].Clear()
    elif k == 5:
        del gd.node[rng.randrange(len(gd.node))]
    elif k == 6:
        n.device = weird
    elif k == 7:
        n.attr["_output_shapes"].list.shape.add().dim.add(size=rng.choice([-5, 0, 2**62]))
    else:
        for m in nodes:
            if m.op == "Placeholder":
                m.attr["shape"].shape.dim.add(size=rng.choice([-7, 0, 1 << 40]))


def _flip(rng: random.Random, path: str, flips: int = 1) -> None:
    b = bytearray(open(path, "rb").read())
    for _ in range(flips if b else 0):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    with open(path, "wb") as f:
        f.write(bytes(b))


def _model_case(rng: random.Random, models: list[str], d: str) -> str:
    src = rng.choice(models)
    kind = rng.randrange(4)
    if os.path.isdir(src):  # SavedModel
        dst = os.path.join(d, "sm")
        shutil.copytree(src, dst)
        pb = os.path.join(dst, "saved_model.pb")
        sm = saved_model_pb2.SavedModel.FromString(unseal(open(pb, "rb").read(), pb)[0])
        mg = sm.meta_graphs[0]
        if kind == 0:
            _mutate_graph_def(rng, mg.graph_def)
        elif kind == 1:
            sig = mg.signature_def["serving_default"]
            m = sig.inputs if rng.random() < 0.5 else sig.outputs
            m[rng.choice(sorted(m))].name = rng.choice(WEIRD + ["w:0", "nope:0"])
        elif kind == 2:
            mg.meta_info_def.tags[:] = [rng.choice(["", "serve", "a,b"])]
        else:
            for f in sorted(os.listdir(os.path.join(dst, "variables"))):
                if rng.random() < 0.5:
                    _flip(rng, os.path.join(dst, "variables", f))
        with open(pb, "wb") as f:
            f.write(seal(sm.SerializeToString(), False) if rng.random() < 0.7 else sm.SerializeToString())
        if rng.random() < 0.2:
            _flip(rng, pb)
        return dst
    if src.endswith(".meta"):
        shutil.copytree(os.path.dirname(src), os.path.join(d, "ck"))
        dst = os.path.join(d, "ck", "model.meta")
        mg = meta_graph_pb2.MetaGraphDef.FromString(unseal(open(src, "rb").read(), src)[0])
        if kind <= 1:
            _mutate_graph_def(rng, mg.graph_def)
        elif kind == 2:
            mg.saver_def.restore_op_name = rng.choice(["nope", "", "save/restore_all:0"])
        else:
            junk = bytes(rng.randrange(256) for _ in range(8))
            mg.collection_def["variables"].bytes_list.value.append(junk)
        with open(dst, "wb") as f:
            f.write(mg.SerializeToString())
        if rng.random() < 0.3:
            _flip(rng, os.path.join(d, "ck", sorted(os.listdir(os.path.join(d, "ck")))[rng.randrange(4)]))
        return dst
    dst = os.path.join(d, os.path.basename(src))
    if kind == 0:
        shutil.copy(src, dst)
        _flip(rng, dst, rng.randrange(1, 4))
        return dst
    from google.protobuf import text_format

    gd = graph_pb2.GraphDef()
    data = open(src, "rb").read()
    if src.endswith(".pbtxt"):
        text_format.Parse(data.decode(), gd)
    else:
        gd.ParseFromString(data)
    for _ in range(rng.randrange(1, 3)):
        _mutate_graph_def(rng, gd)
    with open(dst, "wb") as f:
        f.write(gd.SerializeToString())
    return dst


def _npy_case(rng: random.Random, d: str, good: str) -> str:
    from numpy.lib import format as npy_format

    p = os.path.join(d, f"in{rng.randrange(10**6)}.npy")
    k = rng.randrange(8)
    if k == 0:
        shape = rng.choice([(2, 4), (4,), (0, 4), (2, 5), ()])
        dtype = rng.choice([np.float32, np.float64, np.int8, np.bool_, np.complex64, "U3"])
        np.save(p, np.ones(shape, dtype))
    elif k == 1:
        b = io.BytesIO()
        header = {
            "descr": rng.choice(["<f4", "|O", ">f4", "<f8", [("a", "<f4")], "<V4"]),
            "fortran_order": rng.random() < 0.3,
            "shape": rng.choice([(1 << 40, 4), (2, 4), (-1, 4), (3,), ()]),
        }
        npy_format.write_array_header_1_0(b, header)
        with open(p, "wb") as f:
            f.write(b.getvalue() + bytes(rng.choice([0, 8, 32, 1000])))
    elif k == 2:
        with open(p, "wb") as f:
            f.write(bytes(rng.randrange(256) for _ in range(rng.randrange(200))))
    elif k == 3:
        np.savez(p[:-4], a=np.ones(3))
    elif k == 4:
        p = d
    elif k == 5:
        data = open(good, "rb").read()
        with open(p, "wb") as f:
            f.write(data[: rng.randrange(len(data))])
    elif k == 6:
        p = os.devnull
    else:
        shutil.copy(good, p)
    return p


def cli_cases(seed: int, n: int, workdir: str):
    """n argv lists for `staticflow`, each with its own files under workdir (deterministic in seed)."""
    rng = random.Random(seed)
    base = os.path.join(workdir, "models")
    os.makedirs(base, exist_ok=True)
    models = make_models(base)
    good = os.path.join(base, "x.npy")
    for i in range(n):
        d = os.path.join(workdir, f"case{i}")
        os.makedirs(d)
        model = _model_case(rng, models, d)
        cmd = rng.choice(["inspect", "run", "draw", "run", "run"])
        argv = [cmd, model]
        if cmd == "draw":
            out = rng.choice(["g.png", "", "nodir/g.png", "g.svg", "file.txt/g.png", "g.xyz"])
            if "file.txt" in out:
                open(os.path.join(d, "file.txt"), "w").close()
            argv += ["-o", os.path.join(d, out)]
            if rng.random() < 0.3:
                argv.append(rng.choice(["--no-gradients", "--collapse", "--no-collapse"]))
            if rng.random() < 0.2:
                argv += ["--format", rng.choice(["png", "svg", "pdf"])]
        if cmd == "run":
            for _ in range(rng.randrange(0, 3)):
                name = rng.choice(["x", "x:0", "b:zz", "y", ":", "x:1", "=", "x=", "w", "x:0:0", ""])
                argv += ["-i", f"{name}={_npy_case(rng, d, good)}"]
            if rng.random() < 0.4:
                names = ["y", "y:0", "b:zz", "y:5", "loss", "w", "init", ":", "x", "", "save/Const"]
                argv += ["--output"] + [rng.choice(names) for _ in range(rng.randrange(1, 3))]
            out = rng.choice(["out", "out", "file.txt", good])
            if out == "file.txt":
                open(os.path.join(d, out), "w").close()
            argv += ["-o", os.path.join(d, out)]
        if rng.random() < 0.2:
            argv += ["--tag", rng.choice(["serve", "", "nope", "a,,b"])]
        if rng.random() < 0.2 and cmd != "draw":
            argv += ["--signature", rng.choice(["serving_default", "nope", ""])]
        yield argv


def run_cli(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, err.getvalue()


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")
def test_fixed_seed_cli_fuzz(tmp_path, monkeypatch):
    monkeypatch.delenv("STATICFLOW_DEBUG", raising=False)
    codes: collections.Counter = collections.Counter()
    bad = []
    for argv in cli_cases(seed=7, n=300, workdir=str(tmp_path)):
        rc, err = run_cli(argv)
        codes[rc] += 1
        lines = err.strip().splitlines()
        if rc not in (0, 1, 2) or (rc != 0 and len(lines) != 1) or "Traceback" in err:
            bad.append((argv, rc, err[-500:]))
    print(f"CLI fuzz: {sum(codes.values())} cases, exit statuses {dict(sorted(codes.items()))}")
    assert codes[INTERNAL_ERROR] == 0 and not bad, bad[:5]
    assert codes[0] > 20 and codes[2] > 100  # both paths exercised
