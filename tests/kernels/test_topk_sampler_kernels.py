"""topk.c and random.c's candidate samplers called directly: strided inputs, the stream
state's counter, and error statuses (never a crash)."""

from __future__ import annotations

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel
from staticflow.ops import candidate_sampling_ops as cs
from staticflow.ops import topk_ops

DTYPES = [np.float32, np.float64, np.int32, np.int64]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("k", [0, 1, 4, 9])
def test_top_k_on_a_transposed_view(dt, k):
    rng = np.random.default_rng(k)
    base = rng.integers(-4, 5, (9, 6)).astype(dt)  # ties
    x = base.T  # rows of 9 with stride 6
    values = np.zeros((6, k), dt)
    indices = np.zeros((6, k), np.int32)
    call_kernel(f"sf_cpu_top_k_{np.dtype(dt).name}", [x], [values, indices])
    want_v, want_i = topk_ops._top_k_ref([x, np.int32(k)], {})
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_array_equal(values, want_v)


def test_top_k_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(KernelError, match="last dimension >= k = 4 but is 3"):
        call_kernel("sf_cpu_top_k_float32", [x], [np.zeros((2, 4), np.float32), np.zeros((2, 4), np.int32)])
    with pytest.raises(KernelError, match="indices int32"):
        call_kernel("sf_cpu_top_k_float32", [x], [np.zeros((2, 2), np.float32), np.zeros((2, 2), np.int64)])


def test_in_top_k_strided_and_errors():
    p = np.asfortranarray(np.array([[0.1, 0.9], [0.5, 0.5], [0.3, 0.2], [0.0, np.nan]], np.float32))
    out = np.zeros(4, bool)
    call_kernel("sf_cpu_in_top_k_float32_int64", [p, np.array([0, 1, 0, 0]), np.array(1)], [out])
    np.testing.assert_array_equal(out, [False, True, True, False])
    with pytest.raises(KernelError, match="targets and k int32"):
        call_kernel("sf_cpu_in_top_k_float32_int32", [p, np.array([0, 1, 0, 0]), np.array(1)], [out])


def _sample(kind, tc, s, unique, rmax, state):
    out = [np.zeros(s, np.int64), np.zeros(tc.size, np.float32), np.zeros(s, np.float32)]
    out.append(np.zeros(cs._set_size(s), np.int64))
    call_kernel(
        f"sf_cpu_{kind}_candidate_sampler_int64", [state, tc.reshape(-1)], out, iattr=(rmax, int(unique))
    )
    return out


@pytest.mark.parametrize("kind", ["log_uniform", "uniform"])
def test_sampler_advances_the_counter_by_its_draws(kind):
    tc = np.array([[3], [1]], np.int64)
    state = np.array([5, 6, 0], np.int64)
    first = _sample(kind, tc, 8, True, 12, state)
    cand, tec, sec, tries = cs.reference_sample(kind, tc, 8, True, 12, 5, 6)
    np.testing.assert_array_equal(first[0], cand)
    np.testing.assert_allclose(first[1], tec.reshape(-1), rtol=2e-6)
    np.testing.assert_allclose(first[2], sec, rtol=2e-6)
    assert state[2] == (tries + 1) // 2  # two float64 draws per Philox block
    second = _sample(kind, tc, 8, True, 12, state)
    assert not np.array_equal(first[0], second[0])


def test_sampler_errors():
    tc = np.array([1, 2], np.int64)
    with pytest.raises(KernelError, match="Sampler's range is too small"):
        _sample("uniform", tc, 5, True, 4, np.array([1, 2, 0], np.int64))
    out = [np.zeros(4, np.int64), np.zeros(2, np.float32), np.zeros(4, np.float32), np.zeros(5, np.int64)]
    with pytest.raises(KernelError, match="power-of-two size"):
        call_kernel("sf_cpu_uniform_candidate_sampler_int64", [np.array([1, 2, 0]), tc], out, iattr=(10, 1))
    with pytest.raises(KernelError, match="state"):
        call_kernel("sf_cpu_uniform_candidate_sampler_int64", [np.array([1, 2]), tc], out, iattr=(10, 0))
    with pytest.raises(KernelError, match="range_max must be >= 1"):
        call_kernel("sf_cpu_uniform_candidate_sampler_int64", [np.array([1, 2, 0]), tc], out, iattr=(0, 0))
    state = np.array([1, 2, 0], np.int64)
    with pytest.raises(KernelError, match=r"`true_candidate` out of range \[0, 2\), received 2"):
        call_kernel("sf_cpu_uniform_candidate_sampler_int64", [state, tc], out, iattr=(2, 0))
    assert state[2] == 0  # nothing drawn
