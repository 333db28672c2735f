"""tests/parity/programs/checkpoint_saver_round_trip.py under staticflow, checked against NumPy
and against what TensorFlow 2.21 (compat.v1) returned for the same program (names and steps)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np

import staticflow as sf

PROGRAMS = os.path.join(os.path.dirname(__file__), "..", "parity", "programs")
PROGRAM = os.path.join(PROGRAMS, "checkpoint_saver_round_trip.py")


def test_saver_program_matches_numpy_and_tensorflow():
    spec = importlib.util.spec_from_file_location("checkpoint_saver_round_trip", PROGRAM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.program(sf)
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    w4, b4 = w0 * np.float32(0.5**4), b0 + np.float32(4.0)
    y = np.maximum(x @ w4 + b4, 0.0)
    np.testing.assert_allclose(out["trained_y"], y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["nested_y"], y, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["nested_b"], b4)
    np.testing.assert_array_equal(out["restored_w"], w4)
    np.testing.assert_array_equal(out["fixed_w"], w0 * np.float32(0.5))
    np.testing.assert_array_equal(out["fixed_b"], b0 + np.float32(1.0))
    np.testing.assert_array_equal(out["loaded_b"], b4)
    assert int(out["restored_step"]) == 4 and int(out["fixed_step"]) == 1 and int(out["nested_step"]) == 4
    # what TensorFlow returned for these (its values match the NumPy ones above)
    assert str(out["latest_name"]) == "model-4"
    assert list(out["kept"]) == ["model-3", "model-4"]
    assert list(out["indexes"]) == ["fixed.index", "model-3.index", "model-4.index"]
    assert list(out["listed"]) == ["b", "step", "w"]
