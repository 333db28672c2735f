"""staticflow.testing.assert_all_close / assert_all_equal: tolerances by dtype, structures, reports."""

from __future__ import annotations

import collections
import re

import ml_dtypes
import numpy as np
import pytest

import staticflow as sf
from staticflow.testing import DEFAULT_TOLERANCES, assert_all_close, assert_all_equal, default_tolerance


@pytest.mark.parametrize(
    "dtype, ok, bad",
    [
        (np.float16, 5e-4, 5e-3),  # TensorFlow's half tolerance: 1e-3 + 1e-3 * |desired|
        (ml_dtypes.bfloat16, 5e-3, 5e-2),  # 1e-2
        (np.float32, 1e-6, 1e-5),  # 1e-6
        (np.float64, 1e-6, 1e-5),
    ],
)
def test_default_tolerance_follows_the_dtype(dtype, ok, bad):
    desired = np.array([1.0, -2.0], np.float64)
    actual = desired.astype(dtype)  # exact in every one of these dtypes
    assert_all_close(actual, desired + ok * np.array([1.0, 0.0]))
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 2"):
        assert_all_close(actual, desired + bad * np.array([1.0, 0.0]))


def test_the_least_precise_dtype_sets_the_tolerance():
    assert default_tolerance(np.float16, np.float64) == DEFAULT_TOLERANCES["float16"]
    assert default_tolerance(np.float32, np.float64) == (1e-6, 1e-6)
    assert default_tolerance(np.int32, np.int64) == (0.0, 0.0)
    assert default_tolerance(ml_dtypes.bfloat16, np.float16) == (1e-2, 1e-2)


def test_integers_and_strings_compare_exactly():
    assert_all_close(np.array([1, 2], np.int64), [1, 2])
    with pytest.raises(AssertionError, match=r"Worst mismatch at index \(1,\): actual 3, desired 2"):
        assert_all_close(np.array([1, 3], np.int32), [1, 2])
    assert_all_equal(np.array([b"a", b"b"], object), np.array([b"a", b"b"], object))
    with pytest.raises(AssertionError, match=r"actual b'c', desired b'b'"):
        assert_all_equal(np.array([b"a", b"c"], object), np.array([b"a", b"b"], object))


def test_explicit_tolerances_override_the_defaults():
    assert_all_close(np.float32([100.0]), [101.0], rtol=0.02)
    assert_all_close(np.float32([100.0]), [101.0], atol=1.0)
    with pytest.raises(AssertionError, match=r"rtol=0\.001, atol=1e-06"):
        assert_all_close(np.float32([100.0]), [101.0], rtol=1e-3)


def test_nan_inf_and_scalars():
    assert_all_close([np.nan, np.inf, -np.inf], [np.nan, np.inf, -np.inf])
    with pytest.raises(AssertionError, match=r"Worst mismatch at index \(0,\): actual nan, desired 1\.0"):
        assert_all_close([np.nan, 2.0], [1.0, 3.0])
    with pytest.raises(AssertionError, match=r"Worst mismatch at index \(1,\): actual inf"):
        assert_all_close([1.0, np.inf], [1.0, 1.0])
    assert_all_close(np.zeros((2, 3)), 0.0)  # a scalar desired value is compared with every element
    assert_all_close(3.0, 3.0)


def test_shapes_must_match():
    with pytest.raises(AssertionError, match=r"Shapes differ: actual \(2, 3\), desired \(3, 2\)"):
        assert_all_close(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(AssertionError, match=r"Shapes differ: actual \(3,\), desired \(3, 1\)"):
        assert_all_close(np.zeros(3), np.zeros((3, 1)))  # no broadcasting


def test_report_names_the_worst_mismatch_and_counts():
    actual = np.arange(12, dtype=np.float64).reshape(3, 4)
    desired = actual.copy()
    desired[0, 1] += 1e-3
    desired[2, 3] += 0.5  # the worst
    desired[1, 0] -= 0.01
    with pytest.raises(AssertionError) as err:
        assert_all_close(actual, desired)
    msg = str(err.value)
    assert "Mismatched elements: 3 / 12 (25%)" in msg
    assert "Worst mismatch at index (2, 3): actual 11.0, desired 11.5" in msg
    assert re.search(r"\|actual - desired\| = 0\.5, allowed 1\.25e-05", msg)
    assert "Max absolute difference among mismatches: 0.5" in msg
    assert "(0, 1): 1.0 vs 1.001" in msg and "(1, 0): 4.0 vs 3.99" in msg


def test_tensors_are_evaluated_and_named(sf_session):
    x = sf.placeholder(sf.float32, [3], name="x")
    y = sf.square(x, name="sq")
    assert_all_close(y, [1.0, 4.0, 9.0], feed_dict={x: [1.0, 2.0, 3.0]})
    with pytest.raises(AssertionError) as err:
        assert_all_close(y, [1.0, 4.0, 10.0], feed_dict={x: [1.0, 2.0, 3.0]})
    assert re.search(
        rf"actual:  Tensor 'sq:0' \(Square, made at \S*test_testing_assertions\.py:{y.op.location[1]}\)",
        str(err.value),
    )
    assert_all_close(y, sf.constant([1.0, 4.0, 9.0]), feed_dict={x: [1.0, 2.0, 3.0]})  # both tensors


def test_variables_use_the_default_session(sf_session):
    v = sf.Variable(np.array([1.5, 2.5], np.float32))
    sf_session.run(v.initializer)
    assert_all_close(v, [1.5, 2.5])


def test_a_tensor_without_a_default_session_gets_a_temporary_one(sf_graph):
    assert_all_close(sf.constant([1.0, 2.0]) * 2.0, [2.0, 4.0])


def test_nested_structures_report_the_path():
    Pair = collections.namedtuple("Pair", "w b")
    actual = {"layer": Pair(np.ones((2, 2)), [0.0, 1.0]), "step": 3}
    assert_all_close(actual, {"layer": Pair(np.ones((2, 2)), [0.0, 1.0]), "step": 3})
    with pytest.raises(AssertionError, match=r"Not close at \['layer'\]\['b'\]"):
        assert_all_close(actual, {"layer": Pair(np.ones((2, 2)), [0.0, 2.0]), "step": 3})
    with pytest.raises(AssertionError, match=r"keys differ"):
        assert_all_close({"a": 1.0}, {"b": 1.0})
    with pytest.raises(AssertionError, match=r"lengths differ"):
        assert_all_close([np.ones(2), np.ones(3)], [np.ones(2)])


def test_a_list_of_tensors_against_an_array(sf_session):
    a, b = sf.constant([1.0, 2.0]), sf.constant([3.0, 4.0])
    assert_all_close([a, b], np.array([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(AssertionError, match=r"Not close at \[1\]"):
        assert_all_close([a, b], np.array([[1.0, 2.0], [3.0, 5.0]]))


def test_err_msg_leads_the_report():
    with pytest.raises(AssertionError, match=r"^after step 3\nNot close"):
        assert_all_close([1.0], [2.0], err_msg="after step 3")


def test_all_equal_is_exact_for_floats_too():
    assert_all_equal([1.0, np.nan], [1.0, np.nan])
    with pytest.raises(AssertionError, match=r"^Not equal \(actual float32, desired float64\)"):
        assert_all_equal(np.float32([1.0]), [1.0 + 1e-7])
