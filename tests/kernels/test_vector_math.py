"""The CPU kernels' own float32 exp and tanh (kernels/cpu/sf_scalar.h) against float64.

They replace libm's calls so that every loop over them vectorizes; these tests hold
them to the accuracy sf_scalar.h states (exp within 1.2 ulp, tanh within 2.5, both
checked exhaustively when written) on a sample spread over every float32 bit pattern,
and to libm's answers for the special values. The hand-written kernels, the fused
kernels generated at plan time and softmax all use them.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends.cpu import call_kernel

# every 1021st bit pattern (a prime stride: all exponents, scattered mantissas), NaN dropped
_BITS = np.arange(0, 2**32, 1021, dtype=np.uint64).astype(np.uint32)
SAMPLE = _BITS.view(np.float32)[~np.isnan(_BITS.view(np.float32))]
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, -87.33, -103.9, -104.0,
                    -150.0, 9.0, -9.0, 0.625, 1e-30, -1e-45], np.float32)


def ulp_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the last place of want rounded to float32 (denormal
    spacing below FLT_MIN); both infinite and equal, or both NaN, count as 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        w32 = want.astype(np.float32)
        err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(w32)).astype(np.float64)
    same = (got == w32) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, err)


def _run(name: str, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    call_kernel(name, [x], [out])
    return out


def _reference(name: str, x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        if name == "exp":
            return np.exp(x64)
        if name == "tanh":
            return np.tanh(x64)
        e = np.exp(-np.abs(x64))  # sigmoid, without overflow or cancellation
        return np.where(x64 >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.parametrize(("name", "bound"), [("exp", 1.2), ("tanh", 2.5), ("sigmoid", 3.0)])
def test_float32_kernel_is_within_its_ulp_bound_over_all_exponents(name, bound):
    got = _run(f"sf_cpu_{name}_float32", SAMPLE)
    err = ulp_error(got, _reference(name, SAMPLE))
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{name}({SAMPLE[worst]!r}) = {got[worst]!r}: {err[worst]:.2f} ulp"


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_special_values_match_libm(name):
    got = _run(f"sf_cpu_{name}_float32", SPECIAL)
    want = _reference(name, SPECIAL)
    assert np.all(ulp_error(got, want) <= 3.0), (SPECIAL, got, want)
    np.testing.assert_array_equal(np.signbit(got[:2]), np.signbit(want[:2].astype(np.float32)))


def test_exp_gives_denormal_results_and_their_zero():
    x = np.array([-87.5, -95.0, -100.0, -103.27, -103.98, -104.5, -1000.0], np.float32)
    got = _run("sf_cpu_exp_float32", x)
    want = np.exp(x.astype(np.float64)).astype(np.float32)  # denormal, then 0
    assert np.all(ulp_error(got, np.exp(x.astype(np.float64))) <= 1.2), (got, want)
    assert got[-1] == 0 and got[0] > 0 and got[0] < np.finfo(np.float32).tiny


def test_fused_kernels_and_softmax_share_the_accuracy():
    xs = sf.placeholder(sf.float32, [SAMPLE.size])
    neg = -xs
    md = sf.RunMetadata()
    with sf.Session() as sess:  # one generated kernel with two outputs (negation is exact)
        got_exp, got_tanh = sess.run([sf.exp(neg), sf.tanh(neg)], {xs: SAMPLE}, run_metadata=md,
                                     options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE))
    labels = [n.timeline_label for n in md.step_stats.dev_stats[0].node_stats]
    assert labels and all("[_FusedElementwise: " in label for label in labels), labels
    x64 = -SAMPLE.astype(np.float64)
    assert np.max(ulp_error(got_exp, _reference("exp", -SAMPLE))) <= 1.2
    assert np.max(ulp_error(got_tanh, np.tanh(x64))) <= 2.5

    logits = np.array([[0.0, -90.0, -100.0, -3.0]], np.float32)
    out = np.empty_like(logits)
    call_kernel("sf_cpu_softmax_float32", [logits], [out])
    e = np.exp(logits.astype(np.float64) - 0.0)
    want_sm = e / e.sum()
    assert out[0, 2] > 0  # a denormal term is kept, not flushed
    assert np.max(ulp_error(out, want_sm)) <= 3.0
