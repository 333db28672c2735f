"""The dtype TF1-style programs of tests/parity/programs run under staticflow; the integer
one gives exactly what TensorFlow 2.21 (tf.compat.v1) computed, recorded here."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import staticflow as sf

PROGRAMS = os.path.join(os.path.dirname(__file__), os.pardir, "parity", "programs")

# TensorFlow's outputs of dtypes_integer_types.py
TF_INTEGER_OUTPUTS = {
    "i16_argmax": np.array([2, 0, 1, 0], np.int64),
    "i16_gt": np.array([[True, True, False, True], [False, True, True, False], [True, False, False, False]]),
    "i16_sum_rows": np.array([182, -61, -185], np.int16),
    "i8_abs_neg": np.array([127, 100, 4, 0], np.int8),
    "i8_floordiv": np.array([-43, 33, -2, 0], np.int8),
    "i8_mod": np.array([2, 0, 4, 0], np.int8),
    "i8_mul": np.array([125, -44, 12, 0], np.int8),
    "i8_sum": np.array([-128, -102, 7, 100], np.int8),
    "u16_min": np.array([66, 3195, 8589, 2967], np.uint16),
    "u16_prod": np.array(105, np.uint16),
    "u32_div": np.array([1431655765, 2, 33], np.uint32),
    "u32_to_i64": np.array([4294967295, 7, 100], np.int64),
    "u64_add": np.array([9223372036854775823, 1, 13], np.uint64),
    "u64_eq": np.array([False, False, True]),
    "u64_max": np.array(18446744073709551607, np.uint64),
    "u8_cast_i8": np.array([5, -56, 10, -1], np.int8),
    "u8_max": np.array([100, 200, 100, 255], np.uint8),
    "u8_mean": np.array(117, np.uint8),
    "u8_sat_i8": np.array([5, 127, 10, 127], np.int8),
    "u8_sub": np.array([251, 190, 0, 245], np.uint8),
    "v8_after": np.array([2, -1, 4, -56], np.int8),
}


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(PROGRAMS, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_integer_program_matches_tensorflow():
    out = _load("dtypes_integer_types").program(sf)
    for k, want in TF_INTEGER_OUTPUTS.items():
        assert out[k].dtype == want.dtype, k
        np.testing.assert_array_equal(out[k], want, err_msg=k)


@pytest.mark.parametrize("name", ["dtypes_half_mlp", "dtypes_bfloat16_and_images"])
def test_float_programs_run_and_are_deterministic(name):
    a, b = _load(name).program(sf), _load(name).program(sf)
    assert set(a) == set(b)
    for k in a:
        assert np.all(np.isfinite(a[k].astype(np.float64))), k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    if name == "dtypes_half_mlp":
        assert a["logits"].dtype == np.float16 and a["g_w1"].dtype == np.float16
        assert a["loss_after"] < a["loss"]  # the float16 SGD step lowers the loss
