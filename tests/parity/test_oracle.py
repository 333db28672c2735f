"""The TensorFlow worker: answers, survives failing cases and crashes, exits cleanly."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import staticflow as sf
from parity import oracle, protocol


def _graph(build) -> bytes:
    g = sf.Graph()
    with g.as_default():
        build()
    return g.as_graph_def().SerializeToString()


def _add_graph() -> bytes:
    def build():
        x = sf.placeholder(sf.float32, [None, 2], name="x")
        sf.identity(x * 3.0 + 1.0, name="y")

    return _graph(build)


def test_protocol_round_trip():
    buf = io.BytesIO()
    arrays = {"f": np.arange(6.0).reshape(2, 3), "s": np.array([b"a\x00", b""], dtype=object)}
    protocol.write_message(buf, {"cmd": "x", "n": [1, None]}, [b"graph", protocol.pack_arrays(arrays)])
    buf.seek(0)
    header, blobs = protocol.read_message(buf)
    assert header == {"cmd": "x", "n": [1, None]} and blobs[0] == b"graph"
    back = protocol.unpack_arrays(blobs[1])
    np.testing.assert_array_equal(back["f"], arrays["f"])
    assert back["s"].tolist() == [b"a\x00", b""]
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(io.BytesIO(b"\x05\x00"))


def test_protocol_keeps_bfloat16_and_binary_strings():
    import ml_dtypes

    bf = np.array([[1.5, -2.0], [np.inf, 3.0e38]], ml_dtypes.bfloat16)
    back = protocol.unpack_arrays(
        protocol.pack_arrays({"bf": bf, "s": b"pb\x00\x00", "h": np.float16([0.5])})
    )
    assert back["bf"].dtype == bf.dtype
    np.testing.assert_array_equal(back["bf"].astype(np.float32), bf.astype(np.float32))
    assert back["s"].dtype == object and back["s"].item() == b"pb\x00\x00"  # NUL bytes kept
    assert back["h"].dtype == np.float16
    with pytest.raises(ValueError, match="contains"):
        protocol.pack_arrays({"a@b": np.zeros(1)})


def test_values_shapes_and_gradients(tf_oracle):
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    w = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    case = oracle.GraphCase(
        _add_graph(),
        shapes=["y:0"],
        steps=[oracle.Step(fetches=["y:0"], feeds={"x:0": x})],
        grad=oracle.GradSpec(ys=["y:0"], weights=[w], xs=["x:0"], feeds={"x:0": x}),
    )
    (res,) = tf_oracle.run_cases([case])
    assert res.import_error is None and res.grad_error is None
    assert res.shapes == {"y:0": ([None, 2], "float32")}
    np.testing.assert_allclose(res.steps[0].outputs[0], x * 3 + 1)
    np.testing.assert_allclose(res.grads[0], 3 * w)


def test_failing_cases_report_tensorflows_error_and_the_worker_goes_on(tf_oracle):
    bad_graph = oracle.GraphCase(b"\x08\x01not a graph")
    bad_feed = oracle.GraphCase(
        _add_graph(), steps=[oracle.Step(fetches=["y:0"], feeds={"x:0": np.zeros((2, 3), np.float32)})]
    )
    unknown_op = oracle.GraphCase(_add_graph(), steps=[oracle.Step(targets=["no_such_op"])])
    good = oracle.GraphCase(
        _add_graph(), steps=[oracle.Step(fetches=["y:0"], feeds={"x:0": np.ones((1, 2), np.float32)})]
    )
    results = tf_oracle.run_cases([bad_graph, bad_feed, good])
    assert results[0].import_error and "DecodeError" in results[0].import_error
    assert "Cannot feed value of shape (2, 3)" in results[1].steps[0].error
    np.testing.assert_array_equal(results[2].steps[0].outputs[0], [[4.0, 4.0]])
    with pytest.raises(oracle.OracleError, match="no_such_op"):
        tf_oracle.run_cases([unknown_op])  # a malformed request: the suite's own bug
    (again,) = tf_oracle.run_cases([good])
    np.testing.assert_array_equal(again.steps[0].outputs[0], [[4.0, 4.0]])


def test_a_failing_program_reports_its_error(tf_oracle, tmp_path):
    path = tmp_path / "broken_program.py"
    path.write_text("def program(tf):\n    return {'x': tf.Session().run(tf.reshape([1, 2, 3], [2]))}\n")
    values, error = tf_oracle.run_program(str(path))
    assert values is None and "reshape" in error.lower()


def test_crash_restart_and_clean_exit():
    python, _ = oracle.environment()
    if python is None:
        pytest.skip(oracle.SKIP_REASON)
    worker = oracle.Oracle(python)
    good = oracle.GraphCase(
        _add_graph(), steps=[oracle.Step(fetches=["y:0"], feeds={"x:0": np.ones((1, 2), np.float32)})]
    )
    worker.crash_for_test()
    assert worker.proc.returncode == 3
    (res,) = worker.run_cases([good])  # restarted on demand
    np.testing.assert_array_equal(res.steps[0].outputs[0], [[4.0, 4.0]])
    proc = worker.proc
    assert worker.close() == 0
    assert proc.poll() == 0 and proc.stdin.closed


def test_a_missing_environment_is_reported():
    with pytest.raises(oracle.OracleError, match="does not exist"):
        oracle.Oracle("/nonexistent/python")


def _pytest(env_updates: dict, *args: str) -> subprocess.CompletedProcess:
    """pytest in a child process with the parity variables replaced by env_updates."""
    env = {k: v for k, v in os.environ.items() if k not in (oracle.PYTHON_ENV, oracle.REQUIRED_ENV)}
    env.update(env_updates)
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rs", *args],
        cwd=os.path.dirname(tests),
        env=env,
        capture_output=True,
        text=True,
    )


def test_without_the_environment_the_suite_is_skipped_or_required():
    target = "tests/parity/test_oracle.py::test_values_shapes_and_gradients"
    skipped = _pytest({}, target)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout
    assert oracle.SKIP_REASON in skipped.stdout
    required = _pytest({oracle.REQUIRED_ENV: "1"}, target)
    assert required.returncode != 0
    assert "the TensorFlow parity suite is required" in required.stdout + required.stderr
