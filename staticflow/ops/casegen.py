"""Random inputs for the registry's test cases (used by generated op tests)."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes


def rand(rng: np.random.Generator, shape, dt=dtypes.float32, low=-2.0, high=2.0) -> np.ndarray:
    """Random array of `shape` and dtype `dt`: uniform floats, small ints, coin-flip bools."""
    dt = dtypes.as_dtype(dt)
    shape = tuple(shape)
    if dt is dtypes.string:  # short words from a small alphabet, so that equal ones occur
        out = np.empty(shape, dtype=object)
        flat = out.reshape(-1)
        for i in range(flat.size):
            flat[i] = "".join(rng.choice(["a", "b", "c", "\u00e9"], size=int(rng.integers(0, 4)))).encode()
        return out
    if dt.is_floating:
        return rng.uniform(low, high, size=shape).astype(dt.np)
    if dt is dtypes.bool_:
        return rng.random(size=shape) < 0.5
    if dt.is_unsigned:
        return rng.integers(0, 10, size=shape).astype(dt.np)
    return rng.integers(int(low) * 3 - 1, int(high) * 3 + 2, size=shape).astype(dt.np)


def positive(rng, shape, dt=dtypes.float32, low=0.5, high=2.0) -> np.ndarray:
    return rand(rng, shape, dt, low, high)


# shapes every elementwise op is tested on: scalars, vectors, matrices, empty
UNARY_SHAPES = [(), (7,), (3, 4), (2, 3, 5), (0, 3)]
# pairs exercising NumPy broadcasting
BINARY_SHAPES = [
    ((), ()),
    ((5,), (5,)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), ()),
    ((), (2, 3)),
    ((2, 1, 4), (3, 1)),
    ((0, 3), (3,)),
]
