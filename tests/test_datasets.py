"""staticflow.datasets: the digits split and the minibatch iterator."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.datasets import batches, load_digits_split, stratified_split


def test_stratified_split_proportions_and_determinism():
    y = np.repeat(np.arange(4), [40, 20, 8, 4])
    train, test = stratified_split(y, 0.25, seed=3)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    np.testing.assert_array_equal(np.bincount(y[test]), [10, 5, 2, 1])
    again = stratified_split(y, 0.25, seed=3)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, stratified_split(y, 0.25, seed=4)[1])
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(y, 1.0)


def test_load_digits_split():
    pytest.importorskip("sklearn")
    x_train, y_train, x_test, y_test = load_digits_split()
    assert x_train.shape == (1347, 64) and x_test.shape == (450, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # every class is in the test set in (about) the same share as overall
    share = np.bincount(y_test, minlength=10) / np.bincount(np.concatenate([y_train, y_test]))
    np.testing.assert_allclose(share, 0.25, atol=0.01)
    np.testing.assert_array_equal(load_digits_split()[3], y_test)


def test_batches_cover_an_epoch_shuffled():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    got = list(batches(x, y, 4, np.random.default_rng(0)))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in got])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb)
    dropped = list(batches(x, y, 4, np.random.default_rng(0), drop_remainder=True))
    assert [len(b[1]) for b in dropped] == [4, 4]
    with pytest.raises(ValueError, match="examples"):
        next(batches(x, y[:3], 4, np.random.default_rng(0)))
