"""SavedModel: simple_save -> loader.load (also in a fresh process) gives the same outputs,
with the serving signature's tensors resolvable by name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import staticflow as sf


def _export(export_dir):
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 3], name="x")
        w = sf.Variable(rng.standard_normal((3, 2)).astype(np.float32), name="w")
        counter = sf.Variable(np.int64(0), name="counter", trainable=False)
        y = sf.nn.sigmoid(sf.matmul(x, w), name="y")
        init = sf.group(counter.assign(counter + 1).op, name="legacy_init")
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            sess.run(w.assign(w * 2.0))
            expected = sess.run(y, {x: xv})
            sf.saved_model.simple_save(sess, export_dir, {"x": x}, {"y": y}, legacy_init_op=init)
    return xv, expected


def test_simple_save_and_load(tmp_path):
    export_dir = str(tmp_path / "export")
    xv, expected = _export(export_dir)
    assert sorted(os.listdir(export_dir)) == ["saved_model.pb", "variables"]
    data, index = sorted(os.listdir(os.path.join(export_dir, "variables")))
    assert re.fullmatch(r"variables\.data-[0-9a-f]{16}", data) and index == "variables.index"
    assert [p for p in os.listdir(tmp_path) if p != "export"] == []  # no temporary folder left
    with sf.Graph().as_default() as g:
        with sf.Session(graph=g) as sess:
            mg = sf.saved_model.loader.load(sess, [sf.saved_model.tag_constants.SERVING], export_dir)
            sig = mg.signature_def["serving_default"]
            assert sig.method_name == "tensorflow/serving/predict"
            assert sig.inputs["x"].name == "x:0" and sig.outputs["y"].name == "y:0"
            got = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: xv})
            assert got.tobytes() == expected.tobytes()
            assert sess.run("counter:0") == 1  # the legacy init op ran after the restore
    with sf.Graph().as_default() as g:
        with sf.Session(graph=g) as sess:
            with pytest.raises(RuntimeError, match="could not be found"):
                sf.saved_model.load(sess, ["train"], export_dir)


def test_load_in_a_fresh_process(tmp_path):
    export_dir = str(tmp_path / "export")
    xv, expected = _export(export_dir)
    np.save(tmp_path / "x.npy", xv)
    script = textwrap.dedent(
        """
        import json
        import numpy as np
        import staticflow as sf

        with sf.Session() as sess:
            mg = sf.saved_model.load(sess, ["serve"], "export")
            sig = mg.signature_def["serving_default"]
            out = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: np.load("x.npy")})
        np.save("out.npy", out)
        print(json.dumps({"ok": True}))
        """
    )
    (tmp_path / "child.py").write_text(script)
    r = subprocess.run(
        [sys.executable, "child.py"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "out.npy").tobytes() == expected.tobytes()


def test_existing_directory_and_damaged_model(tmp_path):
    export_dir = tmp_path / "export"
    _export(str(export_dir))
    with pytest.raises(AssertionError, match="already exists"):
        _export(str(export_dir))
    pb = export_dir / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:100])
    with sf.Graph().as_default() as g, sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.DataLossError, match="saved_model.pb"):
            sf.saved_model.load(sess, ["serve"], str(export_dir))
