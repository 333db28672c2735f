"""A fed value that does not fit the placeholder's dtype is an error naming the placeholder.

TensorFlow casts silently ([2**40] fed to an int32 placeholder becomes [0]);
staticflow refuses on purpose: a wrapped index or size is how a bad feed
reaches a kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


def _run_fed(dtype, value, shape=None):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(dtype, shape, name="ids")
        y = sf.identity(x)
    with sf.Session(graph=g) as sess:
        return sess.run(y, {x: value})


@pytest.mark.parametrize(
    "dtype,value,bad",
    [
        (sf.int32, [2**40], "1099511627776"),
        (sf.int32, np.array([5, -(2**31) - 1], np.int64), "-2147483649"),
        (sf.uint8, np.array([300], np.int64), "300"),
        (sf.uint8, [-1], "-1"),
        (sf.int64, np.array([2**63], np.uint64), "9223372036854775808"),
        (sf.float32, np.array([1.0, 1e300]), "1e+300"),
        (sf.int64, [1, 2**63], "9223372036854775808"),  # beyond NumPy's int64: made a float
        (sf.uint64, [1, 2**64], "18446744073709551616"),  # beyond uint64: made an object array
        (sf.int8, [1, 128], "128"),
    ],
)
def test_out_of_range_feeds_are_invalid_arguments_naming_the_placeholder(dtype, value, bad):
    with pytest.raises(sf.errors.InvalidArgumentError) as e:
        _run_fed(dtype, value)
    msg = str(e.value)
    assert "Placeholder 'ids'" in msg and bad in msg and f"of dtype {dtype.name}" in msg
    assert e.value.op.name == "ids"


@pytest.mark.parametrize(
    "dtype,value",
    [
        (sf.int32, [2**31 - 1, -(2**31)]),
        (sf.uint8, np.array([0, 255], np.int64)),
        (sf.int64, np.array([2**63 - 1], np.uint64)),
        (sf.float32, np.array([1.5, np.inf, -np.inf, np.nan, 3.4e38])),  # non-finite values stay
        (sf.float64, [1, 2]),
        (sf.int32, np.zeros(0, np.int64)),
    ],
)
def test_feeds_in_range_are_converted(dtype, value):
    got = _run_fed(dtype, value)
    np.testing.assert_array_equal(got, np.asarray(value).astype(dtype.np))
    assert got.dtype == dtype.np
