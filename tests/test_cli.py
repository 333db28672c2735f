"""The `staticflow` command (staticflow.cli): draw, inspect, run, and its errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import staticflow as sf
from staticflow.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N_PARAMS = 4 * 8 + 8 + 8 * 3 + 3  # 67
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small trained MLP saved every way the command reads, and its output on a fixed input."""
    d = tmp_path_factory.mktemp("models")
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 4], name="x")
        labels = sf.placeholder(sf.float32, [None, 3], name="labels")
        with sf.variable_scope("dense1"):
            w1 = sf.get_variable("w", [4, 8], initializer=sf.random_normal_initializer(seed=1))
            b1 = sf.get_variable("b", [8], initializer=sf.zeros_initializer())
            h = sf.nn.relu(sf.matmul(x, w1) + b1)
        with sf.variable_scope("dense2"):
            w2 = sf.get_variable("w", [8, 3], initializer=sf.random_normal_initializer(seed=2))
            b2 = sf.get_variable("b", [3], initializer=sf.random_normal_initializer(seed=3))
        probs = sf.nn.softmax(sf.matmul(h, w2) + b2, name="probs")
        loss = sf.reduce_mean(sf.square(probs - labels), name="loss")
        train = sf.train.GradientDescentOptimizer(0.5).minimize(loss)
        rng = np.random.RandomState(0)
        xs = rng.randn(5, 4).astype(np.float32)
        with sf.Session(graph=g) as sess:
            sess.run(sf.global_variables_initializer())
            sess.run(train, {x: xs, labels: np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]})
            expected = sess.run(probs, {x: xs})
            gd = g.as_graph_def()
            paths = {
                "graph_pb": sf.io.write_graph(gd, str(d), "graph.pb", as_text=False),
                "graph_pbtxt": sf.io.write_graph(gd, str(d), "graph.pbtxt", as_text=True),
            }
            frozen = sf.graph_util.convert_variables_to_constants(sess, gd, ["probs"])
            paths["frozen"] = sf.io.write_graph(frozen, str(d), "frozen.pb", as_text=False)
            os.makedirs(d / "ckpt")
            prefix = sf.train.Saver().save(sess, str(d / "ckpt" / "model"))
            paths["meta"] = prefix + ".meta"
            paths["saved_model"] = str(d / "saved_model")
            sf.saved_model.simple_save(sess, paths["saved_model"], {"x": x}, {"probs": probs})
    np.save(d / "x.npy", xs)
    paths["x"] = str(d / "x.npy")
    paths["expected"] = expected
    paths["dir"] = d
    assert os.path.isfile(paths["meta"])
    return paths


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------------------------------------
# the command line itself
# ---------------------------------------------------------------------------------------------
def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("draw", "inspect", "run"):
        assert cmd in out
    for cmd in ("draw", "inspect", "run"):
        assert main([cmd, "--help"]) == 0
        assert "MODEL" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"staticflow {sf.__version__}"


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    capsys.readouterr()
    assert main(["run"]) == 2
    assert "MODEL" in capsys.readouterr().err


def test_python_dash_m(models, tmp_path):
    out_dir = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "staticflow", "run", models["frozen"], "--input", f"x={models['x']}",
         "-o", str(out_dir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(out_dir / "probs.npy"), models["expected"], rtol=1e-5)
    r = subprocess.run(
        [sys.executable, "-m", "staticflow", "inspect", str(tmp_path / "missing.pb")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2
    assert "missing.pb" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------------------------------------
# draw
# ---------------------------------------------------------------------------------------------
@needs_dot
@pytest.mark.parametrize("which", ["graph_pb", "graph_pbtxt", "frozen", "meta", "saved_model"])
def test_draw_png(models, tmp_path, capsys, which):
    out = tmp_path / "graph.png"
    assert main(["draw", models[which], "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert str(out) in capsys.readouterr().out


@needs_dot
def test_draw_options(models, tmp_path):
    svg = tmp_path / "g.svg"
    assert main(["draw", models["graph_pb"], "-o", str(svg), "--no-gradients", "--collapse"]) == 0
    assert b"<svg" in svg.read_bytes()
    full = tmp_path / "full.svg"
    assert main(["draw", models["graph_pb"], "-o", str(full), "--no-collapse"]) == 0
    assert b"gradients" in full.read_bytes() and b"gradients" not in svg.read_bytes()
    pdf = tmp_path / "g.out"
    assert main(["draw", models["frozen"], "-o", str(pdf), "--format", "pdf"]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"


# ---------------------------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------------------------
def _sections(out: str) -> dict[str, list[str]]:
    sections, cur = {}, None
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            cur = line.split(" ")[0].rstrip(":")
            sections[cur] = []
        elif line.startswith("  ") and cur is not None:
            sections[cur].append(line.split())
        else:
            cur = None
    return sections


def _op_counts(rows) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in rows}


@pytest.mark.parametrize("which", ["graph_pb", "graph_pbtxt"])
def test_inspect_graph_def(models, capsys, which):
    assert main(["inspect", models[which]]) == 0
    out = capsys.readouterr().out
    s = _sections(out)
    assert ["x:0", "float32", "[?,", "4]"] in s["Inputs"]
    assert ["labels:0", "float32", "[?,", "3]"] in s["Inputs"]
    assert len(s["Inputs"]) == 2
    outputs = {r[0] for r in s["Outputs"]}
    assert "init" in outputs  # nobody consumes the initializer
    assert "probs:0" not in outputs  # the loss consumes it
    gd = sf.framework.graph_io.read_graph(models["graph_pb"])
    counts = _op_counts(s["Ops"])
    assert counts["VariableV2"] == 4 and counts["MatMul"] >= 2 and counts["Placeholder"] == 2
    assert sum(counts.values()) == len(gd.node)
    assert f"Parameters: {N_PARAMS} (4 variables)" in out


def test_inspect_frozen(models, capsys):
    assert main(["inspect", models["frozen"]]) == 0
    out = capsys.readouterr().out
    s = _sections(out)
    assert "frozen GraphDef" in out.splitlines()[0]
    assert s["Inputs"] == [["x:0", "float32", "[?,", "4]"]]
    assert s["Outputs"] == [["probs:0", "float32", "[?,", "3]"]]
    counts = _op_counts(s["Ops"])
    assert counts == {"Const": 4, "Identity": 4, "MatMul": 2, "AddV2": 2, "Placeholder": 1, "Relu": 1,
                      "Softmax": 1}  # fmt: skip
    assert f"Parameters: {N_PARAMS} (elements of 4 Const nodes" in out


def test_inspect_meta(models, capsys):
    assert main(["inspect", models["meta"]]) == 0
    out = capsys.readouterr().out
    s = _sections(out)
    assert "meta graph" in out.splitlines()[0]
    assert ["x:0", "float32", "[?,", "4]"] in s["Inputs"]
    assert _op_counts(s["Ops"])["VariableV2"] == 4
    assert f"Parameters: {N_PARAMS} (4 variables)" in out


def test_inspect_saved_model(models, capsys):
    assert main(["inspect", models["saved_model"]]) == 0
    out = capsys.readouterr().out
    s = _sections(out)
    assert "SavedModel" in out.splitlines()[0]
    assert s["Inputs"] == [["x", "x:0", "float32", "[?,", "4]"]]
    assert s["Outputs"] == [["probs", "probs:0", "float32", "[?,", "3]"]]
    assert _op_counts(s["Ops"])["VariableV2"] == 4
    assert f"Parameters: {N_PARAMS} (4 variables in the checkpoint)" in out


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x", "x:0"])
def test_run_frozen(models, tmp_path, capsys, name):
    assert main(["run", models["frozen"], "--input", f"{name}={models['x']}", "-o", str(tmp_path)]) == 0
    path = tmp_path / "probs.npy"
    assert str(path) in capsys.readouterr().out
    np.testing.assert_allclose(np.load(path), models["expected"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["x", "x:0"])
def test_run_saved_model(models, tmp_path, capsys, name):
    assert main(["run", models["saved_model"], "--input", f"{name}={models['x']}", "-o", str(tmp_path)]) == 0
    path = tmp_path / "probs.npy"
    assert str(path) in capsys.readouterr().out
    np.testing.assert_allclose(np.load(path), models["expected"], rtol=1e-5, atol=1e-7)


def test_run_named_outputs(models, tmp_path, capsys):
    argv = ["run", models["frozen"], "-i", f"x={models['x']}", "--output", "probs", "dense1/Relu:0"]
    assert main([*argv, "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    relu = tmp_path / "dense1_Relu.npy"
    assert str(relu) in out
    assert np.load(relu).shape == (5, 8) and (np.load(relu) >= 0).all()
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), models["expected"], rtol=1e-5, atol=1e-7)


def test_run_meta_graph_with_checkpoint(models, tmp_path):
    argv = ["run", models["meta"], "-i", f"x={models['x']}", "--output", "probs", "-o", str(tmp_path)]
    assert main(argv) == 0
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), models["expected"], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# errors: exit status 2, one line naming the file and what is wrong
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["draw", "inspect", "run"])
def test_missing_model(tmp_path, capsys, cmd):
    missing = str(tmp_path / "nope.pb")
    assert main([cmd, missing]) == 2
    err = _err(capsys)
    assert missing in err and "no such file" in err


@pytest.mark.parametrize("cmd", ["draw", "inspect", "run"])
@pytest.mark.parametrize("content", [b"hello, world\n", b"\x00\x01\x02garbage\xff\xfe", b""])
def test_not_a_model(tmp_path, capsys, cmd, content):
    bad = tmp_path / "notes.pb"
    bad.write_bytes(content)
    assert main([cmd, str(bad)]) == 2
    err = _err(capsys)
    assert str(bad) in err and "not a model" in err


def test_directory_not_saved_model(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 2
    err = _err(capsys)
    assert str(tmp_path) in err and "not a SavedModel" in err


def test_corrupt_saved_model(models, tmp_path, capsys):
    d = tmp_path / "sm"
    shutil.copytree(models["saved_model"], d)
    (d / "saved_model.pb").write_bytes(b"\xff\xff\xff junk")
    assert main(["inspect", str(d)]) == 2
    assert str(d) in _err(capsys)


def test_unknown_input(models, tmp_path, capsys):
    assert main(["run", models["frozen"], "-i", f"y={models['x']}", "-o", str(tmp_path)]) == 2
    err = _err(capsys)
    assert models["frozen"] in err and "'y'" in err and "x:0" in err
    assert main(["run", models["saved_model"], "-i", f"images={models['x']}", "-o", str(tmp_path)]) == 2
    err = _err(capsys)
    assert models["saved_model"] in err and "'images'" in err and "x" in err
    assert not list(tmp_path.glob("*.npy"))


def test_unknown_output(models, tmp_path, capsys):
    argv = ["run", models["saved_model"], "-i", f"x={models['x']}", "--output", "logits", "-o", str(tmp_path)]
    assert main(argv) == 2
    err = _err(capsys)
    assert models["saved_model"] in err and "'logits'" in err and "probs" in err
    argv = ["run", models["frozen"], "-i", f"x={models['x']}", "--output", "nothing:0", "-o", str(tmp_path)]
    assert main(argv) == 2
    err = _err(capsys)
    assert "'nothing:0'" in err and "probs:0" in err


def test_missing_input(models, tmp_path, capsys):
    assert main(["run", models["frozen"], "-o", str(tmp_path)]) == 2
    err = _err(capsys)
    assert models["frozen"] in err and "missing input" in err and "x:0" in err


def test_input_file_errors(models, tmp_path, capsys):
    def run(arr_or_path):
        if isinstance(arr_or_path, np.ndarray):
            path = tmp_path / "in.npy"
            np.save(path, arr_or_path)
        else:
            path = arr_or_path
        rc = main(["run", models["frozen"], "-i", f"x={path}", "-o", str(tmp_path / "out")])
        return rc, str(path)

    rc, path = run(np.zeros((5, 3), np.float32))  # wrong width
    assert rc == 2
    err = _err(capsys)
    assert path in err and "shape [5, 3]" in err and "[?, 4]" in err
    rc, path = run(np.zeros((4,), np.float32))  # wrong rank
    assert rc == 2 and "shape [4]" in _err(capsys)
    rc, path = run(np.zeros((5, 4), np.float64))  # would lose precision
    assert rc == 2
    err = _err(capsys)
    assert path in err and "float64" in err and "float32" in err
    rc, path = run(np.zeros((5, 4), np.complex64))
    assert rc == 2 and "complex64" in _err(capsys)
    rc, path = run(str(tmp_path / "absent.npy"))
    assert rc == 2
    err = _err(capsys)
    assert "absent.npy" in err and "no such file" in err
    text = tmp_path / "text.npy"
    text.write_text("1 2 3 4\n")
    rc, path = run(str(text))
    assert rc == 2
    assert str(text) in _err(capsys)
    assert not (tmp_path / "out").exists()
    # a safe cast is fine: int8 values into a float32 placeholder
    rc, _ = run(np.ones((5, 4), np.int8))
    assert rc == 0
    assert np.load(tmp_path / "out" / "probs.npy").shape == (5, 3)


def test_bad_input_argument(models, tmp_path, capsys):
    assert main(["run", models["frozen"], "-i", models["x"], "-o", str(tmp_path)]) == 2
    assert "NAME=FILE.npy" in _err(capsys)


def test_run_graph_def_with_variables(models, tmp_path, capsys):
    assert main(["run", models["graph_pb"], "-i", f"x={models['x']}", "-o", str(tmp_path)]) == 2
    err = _err(capsys)
    assert models["graph_pb"] in err and "variables" in err


def test_unknown_signature(models, capsys):
    assert main(["inspect", models["saved_model"], "--signature", "classify"]) == 2
    err = _err(capsys)
    assert models["saved_model"] in err and "classify" in err and "serving_default" in err


# ---------------------------------------------------------------------------------------------
# hostile models and arguments: one line, exit status 2, never a traceback
# ---------------------------------------------------------------------------------------------
def _saved_model_with_signature_tensor(models, tmp_path, which: str, name: str) -> str:
    from staticflow.protobuf import saved_model_pb2
    from staticflow.train.meta_graph import seal, unseal

    d = tmp_path / "sm"
    shutil.copytree(models["saved_model"], d)
    pb = d / "saved_model.pb"
    sm = saved_model_pb2.SavedModel.FromString(unseal(pb.read_bytes(), str(pb))[0])
    sig = sm.meta_graphs[0].signature_def["serving_default"]
    getattr(sig, which)["x" if which == "inputs" else "probs"].name = name
    pb.write_bytes(seal(sm.SerializeToString(), False))
    return str(d)


@pytest.mark.parametrize("which", ["inputs", "outputs"])
@pytest.mark.parametrize("name", ["b:zz", "nope:0", "probs:7", "x:0:0", ""])
def test_signature_naming_a_missing_tensor(models, tmp_path, capsys, which, name):
    sm = _saved_model_with_signature_tensor(models, tmp_path, which, name)
    assert main(["run", sm, "-i", f"x={models['x']}", "-o", str(tmp_path / "out")]) == 2
    err = _err(capsys)
    assert sm in err and "serving_default" in err and repr(name) in err and "does not have" in err
    assert main(["inspect", sm]) == 0  # inspecting shows what the signature says
    capsys.readouterr()


@pytest.mark.parametrize("name", ["b:zz", "x:zz", "x:1", ":", "x:0:0", "x:99999999999999999999"])
def test_odd_input_and_output_names(models, tmp_path, capsys, name):
    assert main(["run", models["frozen"], "-i", f"{name}={models['x']}", "-o", str(tmp_path)]) == 2
    assert repr(name) in _err(capsys)
    argv = ["run", models["frozen"], "-i", f"x={models['x']}", "--output", name, "-o", str(tmp_path)]
    assert main(argv) == 2
    assert repr(name) in _err(capsys)


def _graph_def_file(tmp_path, nodes) -> str:
    from staticflow.framework import graph_pb2

    gd = graph_pb2.GraphDef()
    for name, op, inputs in nodes:
        n = gd.node.add(name=name, op=op)
        n.input.extend(inputs)
        if op in ("Identity", "AddV2"):
            n.attr["T"].type = sf.float32.as_datatype_enum
        if op == "Placeholder":
            n.attr["dtype"].type = sf.float32.as_datatype_enum
    path = tmp_path / "g.pb"
    path.write_bytes(gd.SerializeToString())
    return str(path)


@needs_dot
def test_draw_names_that_break_dot_quoting(tmp_path, capsys):
    """A trailing backslash used to end the quoted DOT string early: dot failed, with a traceback."""
    model = _graph_def_file(
        tmp_path,
        [
            ("a\\", "Weird\\", []),
            ('q"uote', "<b>Html</b>", ["a\\"]),
            ("b", "Op\\N\\G\\l", ["q\"uote:zz", "a\\:3"]),  # an input index that is not a number
            ("s\\/t\\", "Identity", ["b"]),
        ],
    )
    svg = tmp_path / "g.svg"
    assert main(["draw", model, "-o", str(svg)]) == 0
    text = svg.read_text()
    assert "Weird\\" in text and "&lt;b&gt;Html&lt;/b&gt;" in text and "Op\\N\\G\\l" in text
    assert main(["draw", model, "-o", str(tmp_path / "c.png"), "--collapse"]) == 0
    assert main(["inspect", model]) == 0


@pytest.mark.parametrize(
    "nodes",
    [
        [("a", "Identity", ["b"]), ("b", "Identity", ["a"])],
        [("a", "Identity", ["a"])],
        [("x", "Placeholder", []), ("a", "AddV2", ["x", "b"]), ("b", "Identity", ["a"]),
         ("c", "Identity", ["b"])],  # fmt: skip
        [("a", "NoOp", ["^b"]), ("b", "NoOp", ["^a"])],
    ],
    ids=["two", "self", "through-an-add", "control"],
)
def test_cyclic_graphs(tmp_path, capsys, nodes):
    model = _graph_def_file(tmp_path, nodes)
    assert main(["inspect", model]) == 0
    capsys.readouterr()
    if shutil.which("dot"):
        assert main(["draw", model, "-o", str(tmp_path / "g.svg")]) == 0
        capsys.readouterr()
    np.save(tmp_path / "x.npy", np.ones(2, np.float32))
    assert main(["run", model, "-i", f"x={tmp_path / 'x.npy'}", "--output", "c", "-o", str(tmp_path)]) == 2
    err = _err(capsys)
    assert model in err and "cycle" in err


def _npy(path, descr, shape, payload: bytes, fortran: bool = False) -> str:
    import io

    from numpy.lib import format as npy_format

    b = io.BytesIO()
    npy_format.write_array_header_1_0(b, {"descr": descr, "fortran_order": fortran, "shape": shape})
    path.write_bytes(b.getvalue() + payload)
    return str(path)


@pytest.mark.parametrize(
    "descr, shape, payload, message",
    [
        ("<f4", (1 << 40, 4), b"\0" * 80, "header says shape [1099511627776, 4] float32"),
        ("<f4", (5, 4), b"\0" * 40, "truncated"),
        ("<f4", (5, 4), b"\0" * 400, "extra bytes"),
        ("<f4", (-5, 4), b"\0" * 80, "invalid shape"),
        ("|O", (5, 4), b"\0" * 80, "holds object values"),
        ([("a", "<f4")], (5,), b"\0" * 20, "holds [('a', '<f4')] values"),
    ],
)
def test_npy_whose_header_lies(models, tmp_path, capsys, descr, shape, payload, message):
    path = _npy(tmp_path / "x.npy", descr, shape, payload)
    assert main(["run", models["frozen"], "-i", f"x={path}", "-o", str(tmp_path / "out")]) == 2
    err = _err(capsys)
    assert path in err and message in err and "'x'" in err
    assert not (tmp_path / "out").exists()


def test_npy_in_fortran_order_and_other_byte_order(models, tmp_path, capsys):
    xs = np.load(models["x"])
    path = _npy(tmp_path / "x.npy", ">f4", xs.shape, np.asfortranarray(xs).astype(">f4").T.tobytes(), True)
    assert main(["run", models["frozen"], "-i", f"x={path}", "-o", str(tmp_path / "out")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "out" / "probs.npy"), models["expected"], rtol=1e-5)


def test_output_paths_that_cannot_be_written(models, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a directory")
    assert main(["run", models["frozen"], "-i", f"x={models['x']}", "-o", str(taken)]) == 2
    err = _err(capsys)
    assert str(taken) in err and "not a directory" in err
    assert main(["run", models["frozen"], "-i", f"x={models['x']}", "-o", str(taken / "below")]) == 2
    assert str(taken / "below") in _err(capsys)
    (tmp_path / "out" / "probs.npy").mkdir(parents=True)  # the output file's name is a directory
    assert main(["run", models["frozen"], "-i", f"x={models['x']}", "-o", str(tmp_path / "out")]) == 2
    assert "probs.npy" in _err(capsys)
    if shutil.which("dot"):
        assert main(["draw", models["frozen"], "-o", str(tmp_path)]) == 2
        assert "is a directory" in _err(capsys)
        assert main(["draw", models["frozen"], "-o", str(taken / "g.png")]) == 2
        assert "is not a directory" in _err(capsys)
