"""Small data sets for examples and tests, and a minibatch iterator.

The digits set (scikit-learn's ``load_digits``: 1,797 8x8 grey-level images of
handwritten digits) ships with scikit-learn, so examples and tests train on
real data with nothing to download. The split is done here with NumPy so that
it is the same whatever scikit-learn's splitters do in a given version.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["batches", "load_digits_split", "stratified_split"]


def stratified_split(y: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with each class split in the same proportion.

    Each class contributes ``round(count * test_fraction)`` examples to the test
    set, chosen by a permutation from ``seed``; both index arrays are then
    shuffled, so neither is ordered by class.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train))
    test_idx = rng.permutation(np.concatenate(test))
    return train_idx, test_idx


def load_digits_split(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits as ``(x_train, y_train, x_test, y_test)``, stratified by class.

    x is float32 of shape [N, 64] scaled to [0, 1] (the raw pixels are 0..16),
    y is int64 in 0..9. The same ``seed`` always gives the same split.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError("load_digits_split needs scikit-learn (pip install scikit-learn)") from e
    digits = load_digits()
    x = (np.asarray(digits.data, np.float32) / np.float32(16.0)).astype(np.float32)
    y = np.asarray(digits.target, np.int64)
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    drop_remainder: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``(x_batch, y_batch)`` in an order shuffled by `rng`.

    The last batch is smaller when ``batch_size`` does not divide ``len(x)``,
    unless ``drop_remainder``. Call once per epoch; `rng` advances each time.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = rng.permutation(len(x))
    stop = len(x) - len(x) % batch_size if drop_remainder else len(x)
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]
