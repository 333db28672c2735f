"""random.c kernels (Philox4x32-10) called directly: known answers, the
state convention, statistics, and independence from the thread count.

Every kernel of the family in the table (sf_cpu_random_*,
sf_cpu_truncated_normal_*) is exercised.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table, set_num_threads

NAMES = sorted(n for n in kernel_table() if n.startswith(("sf_cpu_random_", "sf_cpu_truncated_normal_")))
FLOAT_KINDS = ("random_uniform", "random_normal", "truncated_normal")
DTYPES = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64}
# Philox blocks a call of n elements uses
PER_BLOCK = {"float32": 4, "float64": 2, "int32": 4, "int64": 2}
TN_RESERVE = 8  # blocks each truncated_normal group owns

# Random123's published known answers: (counter words, key words) -> words
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def _parse(name):
    body = name[len("sf_cpu_") :]
    op, dt = body.rsplit("_", 1)
    return op, dt


def _state(seed, seed2, counter=0):
    return np.array([seed, seed2, counter], np.int64)


def _state_words(ctr, key):
    """The state whose first Philox block has counter words ctr and key words key."""
    seed = key[0] | key[1] << 32
    seed2 = ctr[2] | ctr[3] << 32
    counter = ctr[0] | ctr[1] << 32
    return np.array([seed, seed2, counter], np.uint64).view(np.int64)


def _extra_inputs(op, dt):
    if op == "random_uniform_int":
        return [np.array(-7, DTYPES[dt]), np.array(12, DTYPES[dt])]
    return []


def _gen(name, state, shape):
    op, dt = _parse(name)
    out = np.empty(shape, DTYPES[dt])
    call_kernel(name, [state, *_extra_inputs(op, dt)], [out])
    return out


def _blocks(name, n):
    op, dt = _parse(name)
    groups = -(-n // PER_BLOCK[dt])
    return groups * TN_RESERVE if op == "truncated_normal" else groups


def test_family_names():
    want = [f"sf_cpu_{op}_{dt}" for op in FLOAT_KINDS for dt in ("float32", "float64")]
    want += [f"sf_cpu_random_uniform_int_{dt}" for dt in ("int32", "int64")]
    assert NAMES == sorted(want)


@pytest.mark.parametrize("ctr,key,words", KAT)
def test_philox_known_answers(ctr, key, words):
    # full-range int32: minval + floor(w * (2^32 - 1) / 2^32), so w is recoverable
    st = _state_words(ctr, key)
    out = np.empty(4, np.int32)
    call_kernel(
        "sf_cpu_random_uniform_int_int32",
        [st, np.array(-(2**31), np.int32), np.array(2**31 - 1, np.int32)],
        [out],
    )
    want = [-(2**31) + (w * (2**32 - 1) >> 32) for w in words]
    assert out.tolist() == want
    # float32 uniform: (w >> 8) * 2^-24
    out = np.empty(4, np.float32)
    call_kernel("sf_cpu_random_uniform_float32", [_state_words(ctr, key)], [out])
    assert out.tolist() == [(w >> 8) * 2.0**-24 for w in words]
    # float64 uniform: ((w0 << 32 | w1) >> 11) * 2^-53, then (w2, w3)
    out = np.empty(2, np.float64)
    call_kernel("sf_cpu_random_uniform_float64", [_state_words(ctr, key)], [out])
    assert out.tolist() == [
        ((words[0] << 32 | words[1]) >> 11) * 2.0**-53,
        ((words[2] << 32 | words[3]) >> 11) * 2.0**-53,
    ]
    # the float32 normals are Box-Muller on (w0, w1), (w2, w3)
    out = np.empty(4, np.float32)
    call_kernel("sf_cpu_random_normal_float32", [_state_words(ctr, key)], [out])
    want = []
    for a, b in ((words[0], words[1]), (words[2], words[3])):
        r = math.sqrt(-2 * math.log(((a >> 8) + 1) * 2.0**-24))
        t = 2 * math.pi * (b >> 8) * 2.0**-24
        want += [r * math.cos(t), r * math.sin(t)]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_state_reproducible_and_advancing(name):
    op, dt = _parse(name)
    st = _state(42, 7, 100)
    a = _gen(name, st, (5, 7))
    assert st.tolist() == [42, 7, 100 + _blocks(name, 35)]  # the counter advanced in place
    b = _gen(name, st, (5, 7))
    assert not np.array_equal(a, b)  # the stream continued
    assert st.tolist() == [42, 7, 100 + 2 * _blocks(name, 35)]
    again = _state(42, 7, 100)
    np.testing.assert_array_equal(_gen(name, again, (5, 7)), a)  # same state, same values
    np.testing.assert_array_equal(_gen(name, again, (5, 7)), b)
    # a value depends only on (seed, seed2, counter + its block): prefixes agree,
    # and two calls on whole blocks equal one call of both
    k = PER_BLOCK[dt] * 3
    np.testing.assert_array_equal(_gen(name, _state(42, 7, 100), (k,)), a.reshape(-1)[:k])
    st = _state(42, 7, 100)
    first = _gen(name, st, (k,))
    second = _gen(name, st, (k,))
    np.testing.assert_array_equal(np.concatenate([first, second]), _gen(name, _state(42, 7, 100), (2 * k,)))
    # other seeds give other values
    for s in (_state(43, 7, 100), _state(42, 8, 100), _state(42, 7, 101)):
        assert not np.array_equal(_gen(name, s, (5, 7)), a)
    # 0-d and empty outputs
    st = _state(1, 2, 3)
    assert _gen(name, st, ()).shape == ()
    assert st[2] == 3 + _blocks(name, 1)
    assert _gen(name, st, (0, 4)).shape == (0, 4)
    assert st[2] == 3 + _blocks(name, 1)


@pytest.mark.parametrize("name", NAMES)
def test_counter_wraps_and_negative_seeds(name):
    st = _state(-5, -(2**63), -1)  # counter 2^64 - 1
    _gen(name, st, (9,))
    assert st[2] == _blocks(name, 9) - 1
    st = _state(0, 0, 0)
    a = _gen(name, st, (3,))
    st = _state(0, 0, -1)
    b = _gen(name, st, (7,))  # its second block is counter 0
    if _parse(name)[0] != "truncated_normal":
        per = PER_BLOCK[_parse(name)[1]]
        np.testing.assert_array_equal(b[per : per + 3], a)


@pytest.mark.parametrize("name", NAMES)
def test_thread_count_does_not_change_results(name):
    outs = []
    try:
        for threads in (1, 2, 0):
            set_num_threads(threads)
            outs.append(_gen(name, _state(9, 9, 9), (300_001,)))
    finally:
        set_num_threads(0)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


N = 1_000_000


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_uniform_statistics(dt):
    x = _gen(f"sf_cpu_random_uniform_{dt}", _state(1, 2), (N,))
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.002
    assert abs(x.std() - math.sqrt(1 / 12)) < 0.002
    hist = np.histogram(x, bins=20, range=(0, 1))[0]
    assert np.abs(hist - N / 20).max() < 6 * math.sqrt(N / 20)  # no bin far off


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_normal_statistics(dt):
    x = _gen(f"sf_cpu_random_normal_{dt}", _state(3, 4), (N,)).astype(np.float64)
    assert np.isfinite(x).all()
    assert abs(x.mean()) < 0.005
    assert abs(x.std() - 1) < 0.005
    assert abs(np.mean(x**3)) < 0.02 and abs(np.mean(x**4) - 3) < 0.05  # skew 0, kurtosis 3
    assert abs(np.mean(np.abs(x) <= 1) - 0.682689) < 0.003
    # consecutive elements (the Box-Muller pairs) are uncorrelated
    assert abs(np.corrcoef(x[0::2], x[1::2])[0, 1]) < 0.01


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_truncated_normal_statistics(dt):
    x = _gen(f"sf_cpu_truncated_normal_{dt}", _state(5, 6), (N,)).astype(np.float64)
    assert np.abs(x).max() <= 2
    assert abs(x.mean()) < 0.005
    # the standard normal truncated to [-2, 2]: variance 1 - 4 phi(2) / (Phi(2) - Phi(-2))
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert abs(x.std() - math.sqrt(1 - 4 * phi2 / mass)) < 0.005
    # the shape is the normal's: P(|x| <= 1) / P(|x| <= 2)
    assert abs(np.mean(np.abs(x) <= 1) - math.erf(1 / math.sqrt(2)) / mass) < 0.003
    assert np.mean(np.abs(x) > 1.9) > 0.01  # not clipped or squeezed


@pytest.mark.parametrize("dt", ["int32", "int64"])
def test_uniform_int_statistics_and_bounds(dt):
    t = DTYPES[dt]
    name = f"sf_cpu_random_uniform_int_{dt}"
    out = np.empty(N, t)
    call_kernel(name, [_state(7, 8), np.array(-3, t), np.array(7, t)], [out])
    assert out.min() == -3 and out.max() == 6
    counts = np.bincount(out + 3, minlength=10)
    assert np.abs(counts - N / 10).max() < 6 * math.sqrt(N / 10)
    # extreme ranges
    info = np.iinfo(t)
    for lo, hi in ((info.min, info.max), (info.min, info.min + 1), (info.max - 1, info.max), (-1, 0)):
        out = np.empty(1000, t)
        call_kernel(name, [_state(1, 1), np.array(lo, t), np.array(hi, t)], [out])
        assert out.min() >= lo and out.max() < hi
    out = np.empty(1000, t)
    call_kernel(name, [_state(1, 1), np.array(info.min, t), np.array(info.max, t)], [out])
    assert out.min() < info.min // 2 and out.max() > info.max // 2  # spread over the range


def test_rejects_bad_calls():
    st = _state(1, 2)
    with pytest.raises(KernelError, match="Need minval < maxval: got 5 >= 5") as e:
        call_kernel(
            "sf_cpu_random_uniform_int_int32",
            [st, np.array(5, np.int32), np.array(5, np.int32)],
            [np.empty(3, np.int32)],
        )
    assert e.value.code == 3
    assert st.tolist() == [1, 2, 0]  # a failed call does not advance the counter
    with pytest.raises(KernelError, match="minval must be a scalar"):
        call_kernel(
            "sf_cpu_random_uniform_int_int64", [st, np.array([1, 2]), np.array(5)], [np.empty(3, np.int64)]
        )
    with pytest.raises(KernelError, match="state"):
        call_kernel("sf_cpu_random_uniform_float32", [np.zeros(2, np.int64)], [np.empty(3, np.float32)])
    with pytest.raises(KernelError, match="state"):
        call_kernel("sf_cpu_random_normal_float32", [np.zeros(3, np.int32)], [np.empty(3, np.float32)])
    with pytest.raises(KernelError, match="contiguous"):
        call_kernel("sf_cpu_random_normal_float64", [st], [np.empty((4, 4))[:, ::2]])
    with pytest.raises(KernelError, match="dtype"):
        call_kernel("sf_cpu_truncated_normal_float64", [st], [np.empty(4, np.float32)])
