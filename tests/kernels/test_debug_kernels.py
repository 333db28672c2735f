"""debug.c kernels (check_numerics) called directly.

Every kernel of the family in the table (sf_cpu_check_numerics_*) is
exercised.
"""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table

NAMES = sorted(n for n in kernel_table() if n.startswith("sf_cpu_check_numerics_"))
DTYPES = {"float32": np.float32, "float64": np.float64}
LARGE = 300_000  # above SF_PARALLEL_MIN: OpenMP tasks


def _dtype(name):
    return DTYPES[name.rsplit("_", 1)[1]]


def test_family_names():
    assert NAMES == sorted(f"sf_cpu_check_numerics_{d}" for d in DTYPES)


def _views(dtype, rng):
    """(input, output) pairs of many layouts."""
    x = rng.standard_normal((6, 10)).astype(dtype)
    big = rng.standard_normal((600, 500)).astype(dtype)
    return [
        (x, np.empty_like(x)),
        (x[::-1, ::-2], np.empty((6, 5), dtype)),
        (x.T, np.empty((10, 6), dtype)),
        (x, np.zeros((10, 6), dtype).T),
        (np.broadcast_to(x[:1], (6, 10)), np.empty((6, 10), dtype)),
        (np.array(3.5, dtype), np.empty((), dtype)),
        (np.zeros((0, 4), dtype), np.empty((0, 4), dtype)),
        (big, np.empty_like(big)),
        (big.T, np.empty((500, 600), dtype)),
        (big[:, ::2], np.empty((600, 250), dtype)),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_finite_input_is_copied(name):
    rng = np.random.default_rng(0)
    for x, out in _views(_dtype(name), rng):
        call_kernel(name, [x], [out])
        np.testing.assert_array_equal(out, x)
        call_kernel(name, [x], [])  # check only
    y = rng.standard_normal(50).astype(_dtype(name))
    want = y.copy()
    call_kernel(name, [y], [y])  # in place
    np.testing.assert_array_equal(y, want)
    big = np.full(LARGE, np.finfo(_dtype(name)).max, _dtype(name))  # largest finite values pass
    call_kernel(name, [big], [np.empty_like(big)])


MESSAGES = {
    "nan": "Tensor had NaN values",
    "inf": "Tensor had Inf values",
    "both": "Tensor had Inf and NaN values",
}


def _poison(x, kind, rng):
    flat = x.reshape(-1)
    if kind in ("nan", "both"):
        flat[rng.integers(flat.size)] = np.nan
    if kind in ("inf", "both"):
        i = rng.integers(flat.size)
        while np.isnan(flat[i]):
            i = rng.integers(flat.size)
        flat[i] = rng.choice([np.inf, -np.inf])


@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_are_reported(name, kind):
    dtype = _dtype(name)
    rng = np.random.default_rng(len(kind))
    for shape in ((1,) if kind != "both" else (2,), (7,), (5, 9), (LARGE,), (400, 700)):
        for view in ("contiguous", "transposed", "strided"):
            base = rng.standard_normal(shape).astype(dtype)
            _poison(base, kind, rng)
            if view == "contiguous":
                x = base
            elif view == "transposed":
                x = base.T
            else:
                x = np.repeat(base, 2, axis=-1)[..., ::2]
            out = np.zeros(x.shape, dtype)
            with pytest.raises(KernelError) as e:
                call_kernel(name, [x], [out])
            assert e.value.code == 3
            assert str(e.value) == MESSAGES[kind]
            np.testing.assert_array_equal(out, x)  # the copy is written anyway
            with pytest.raises(KernelError, match=MESSAGES[kind]):
                call_kernel(name, [x], [])
    # only the last element bad, on the parallel path
    x = np.zeros(LARGE, dtype)
    x[-1] = -np.inf
    with pytest.raises(KernelError, match="^Tensor had Inf values$"):
        call_kernel(name, [x], [np.empty_like(x)])


@pytest.mark.parametrize("name", NAMES)
def test_rejects_bad_calls(name):
    dtype = _dtype(name)
    with pytest.raises(KernelError, match="shape"):
        call_kernel(name, [np.zeros(3, dtype)], [np.zeros(4, dtype)])
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(KernelError, match="dtype"):
        call_kernel(name, [np.zeros(3, other)], [np.zeros(3, dtype)])
    with pytest.raises(KernelError, match="takes 1 input"):
        call_kernel(name, [np.zeros(3, dtype)] * 2, [np.zeros(3, dtype)])
