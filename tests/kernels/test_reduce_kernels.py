"""reduce.c kernels (reduce_*, argmax, argmin) called directly against NumPy."""

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, get_num_threads, kernel_table, set_num_threads

DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
    "int8": np.int8,
    "int16": np.int16,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}
# the narrow and unsigned integers (16-bit floats reduce on the float32 kernels)
NEW_INTS = ("int8", "int16", "uint8", "uint16", "uint32", "uint64")
VALUE_OPS = ("sum", "mean", "max", "min", "prod", "all", "any")
ARG_OPS = ("argmax", "argmin")


def _family_names():
    names = []
    for n in kernel_table():
        if n.startswith("sf_cpu_reduce_") or n.startswith("sf_cpu_argmax_") or n.startswith("sf_cpu_argmin_"):
            names.append(n)
    return sorted(names)


NAMES = _family_names()


def _parse(name):
    body = name[len("sf_cpu_") :]
    if body.startswith("reduce_"):
        body = body[len("reduce_") :]
    op, dt = body.rsplit("_", 1)
    return op, DTYPES[dt]


def test_every_name_has_a_reference():
    for name in NAMES:
        op, dtype = _parse(name)
        assert op in VALUE_OPS + ARG_OPS, name
    numeric = ("float32", "float64", "int32", "int64") + NEW_INTS
    expect = {f"sf_cpu_reduce_{op}_{d}" for op in VALUE_OPS[:5] for d in numeric}
    expect |= {"sf_cpu_reduce_all_bool", "sf_cpu_reduce_any_bool"}
    expect |= {f"sf_cpu_{op}_{d}" for op in ARG_OPS for d in numeric}
    assert set(NAMES) == expect


def _rand(shape, dtype, op, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        p = 0.97 if op == "all" else 0.03
        return rng.random(shape) < p
    if np.dtype(dtype).kind == "f":
        if op == "prod":
            return rng.uniform(0.9, 1.1, shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)
    if op == "prod":
        return rng.integers(-3, 4, shape).astype(dtype)
    if op in ARG_OPS:
        return rng.integers(-5, 5, shape).astype(dtype)  # many ties
    return rng.integers(-1000, 1000, shape).astype(dtype)


def _reference(op, x, axes):
    """NumPy result of reducing `axes` of x the way the kernels define it."""
    dtype = x.dtype
    floating = dtype.kind == "f"
    if op == "sum":
        return np.sum(
            x.astype(np.float64) if floating else x, axis=axes, dtype=None if floating else dtype
        ).astype(dtype)
    if op == "prod":
        return np.prod(
            x.astype(np.float64) if floating else x, axis=axes, dtype=None if floating else dtype
        ).astype(dtype)
    if op == "mean":
        count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        if floating:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (np.sum(x.astype(np.float64), axis=axes) / count).astype(dtype)
        if dtype.kind == "u":  # summed in uint64 (wrapping), divided unsigned
            s = np.sum(x.astype(np.uint64), axis=axes, dtype=np.uint64)
            return (s // np.uint64(max(count, 1))).astype(dtype)
        s = np.sum(x.astype(np.int64), axis=axes, dtype=np.int64)
        if count == 0:
            return np.zeros_like(s, dtype)
        return (np.sign(s) * (np.abs(s) // count)).astype(dtype)
    if op in ("max", "min"):
        if floating:
            init = -np.inf if op == "max" else np.inf
        else:
            info = np.iinfo(dtype)
            init = info.min if op == "max" else info.max
        f = np.max if op == "max" else np.min
        return f(x, axis=axes, initial=init).astype(dtype)
    if op == "all":
        return np.all(x, axis=axes)
    if op == "any":
        return np.any(x, axis=axes)
    raise AssertionError(op)


def _run_reduce(name, x, axes):
    op, dtype = _parse(name)
    axes = tuple(a % max(x.ndim, 1) for a in axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    view = x.transpose(kept + list(axes)) if x.ndim else x
    out = np.full([x.shape[a] for a in kept], 77, dtype)
    call_kernel(name, [view], [out], [len(axes)])
    ref = _reference(op, x, axes)
    if np.dtype(dtype).kind == "f":
        if op in ("sum", "mean", "prod"):
            mag = np.sum(np.abs(x.astype(np.float64)), axis=axes) if op != "prod" else np.abs(ref)
            if op == "mean" and x.size:
                mag = mag / max(1, int(np.prod([x.shape[a] for a in axes])))
            tol = 1e-6 if dtype == np.float32 else 1e-12
            err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
            bad = ~(err <= tol * (np.asarray(mag) + 1e-30) + 1e-30) & ~(np.isnan(out) & np.isnan(ref))
            assert not bad.any(), (name, x.shape, axes, out, ref)
        else:
            np.testing.assert_array_equal(out, ref, err_msg=f"{name} {x.shape} {axes}")
    else:
        np.testing.assert_array_equal(out, ref, err_msg=f"{name} {x.shape} {axes}")


CASES = [
    ((7, 9), (1,)),  # row sums
    ((7, 9), (0,)),  # column sums
    ((7, 9), (0, 1)),  # full
    ((4, 5, 6), (0, 2)),
    ((4, 5, 6), (1,)),
    ((4, 5, 6), ()),  # nothing reduced
    ((4, 5, 6), (0, 1, 2)),
    ((), ()),  # 0-d
    ((3, 1, 4), (1,)),
    ((0, 5), (0,)),  # empty reduction -> identities
    ((5, 0), (1,)),
    ((0, 5), (1,)),  # empty output
    ((2, 3, 700), (0, 1)),  # column mode, several chunks
]


@pytest.mark.parametrize("name", [n for n in NAMES if _parse(n)[0] in VALUE_OPS])
def test_reduce_layouts(name):
    op, dtype = _parse(name)
    for shape, axes in CASES:
        _run_reduce(name, _rand(shape, dtype, op, 1), axes)
    x = _rand((6, 20, 8), dtype, op, 2)
    _run_reduce(name, x[::-1, ::3, ::2], (1,))  # negative and non-unit strides
    _run_reduce(name, x[::-1, ::3, ::2], (0,))
    _run_reduce(name, x.transpose(2, 0, 1), (0, 2))
    _run_reduce(name, np.broadcast_to(x[:1], (6, 20, 8)), (0,))  # zero stride
    _run_reduce(name, np.broadcast_to(x[:, :, :1], (6, 20, 8)), (2,))


@pytest.fixture(params=[1, 4])
def threads(request):
    before = get_num_threads()
    set_num_threads(request.param)
    yield request.param
    set_num_threads(0)
    assert get_num_threads() == before


BIG_CASES = [
    ((700, 300), (1,)),  # many long rows: parallel over outputs
    ((700, 300), (0,)),  # column mode with one chunk: split over the rows
    ((300, 2000), (0,)),  # column mode with several chunks
    ((1 << 17,), (0,)),  # full reduction: split
    ((40000, 3), (0,)),  # tall and thin columns
    ((3, 40000), (1,)),  # few long rows
    ((60, 50, 40), (0, 2)),
]


@pytest.mark.parametrize("name", [n for n in NAMES if _parse(n)[0] in VALUE_OPS])
def test_reduce_parallel(name, threads):
    op, dtype = _parse(name)
    for shape, axes in BIG_CASES:
        _run_reduce(name, _rand(shape, dtype, op, 3), axes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_propagate_nan(op, dtype):
    x = np.arange(24, dtype=dtype).reshape(4, 6)
    x[1, 3] = np.nan
    x[3, 0] = np.nan
    for axes in ((1,), (0,), (0, 1)):
        _run_reduce(f"sf_cpu_reduce_{op}_{np.dtype(dtype).name}", x, axes)
    big = _rand((50000,), dtype, op, 4)
    big[31337] = np.nan
    _run_reduce(f"sf_cpu_reduce_{op}_{np.dtype(dtype).name}", big, (0,))


def test_float32_sum_accumulates_in_double():
    x = np.full(1 << 20, 0.1, np.float32)
    out = np.zeros((), np.float32)
    call_kernel("sf_cpu_reduce_sum_float32", [x], [out], [1])
    assert out == np.float32(np.sum(x.astype(np.float64)))


def test_int_sum_wraps():
    x = np.full(4, 2**30, np.int32)
    out = np.zeros((), np.int32)
    call_kernel("sf_cpu_reduce_sum_int32", [x], [out], [1])
    assert out == np.sum(x, dtype=np.int32)


@pytest.mark.parametrize(
    "name, x, want",
    [
        # values TensorFlow's CPU kernels give
        ("sf_cpu_reduce_sum_int8", np.array([100, 100], np.int8), -56),
        ("sf_cpu_reduce_mean_int8", np.array([-7, 3, 1], np.int8), -1),
        ("sf_cpu_reduce_mean_uint8", np.array([250, 250], np.uint8), 250),
        ("sf_cpu_reduce_prod_uint8", np.array([16, 16], np.uint8), 0),
        ("sf_cpu_reduce_mean_uint32", np.array([2**31, 2**31], np.uint32), 2**31),
        ("sf_cpu_reduce_mean_uint64", np.array([2**63, 2**63], np.uint64), 0),
        ("sf_cpu_reduce_max_uint64", np.array([2**63, 5], np.uint64), 2**63),
        ("sf_cpu_reduce_min_int16", np.array([-32768, 5], np.int16), -32768),
    ],
)
def test_narrow_and_unsigned_ints_match_tensorflow(name, x, want):
    out = np.zeros((), x.dtype)
    call_kernel(name, [x], [out], [1])
    assert out == np.array(want).astype(x.dtype)


# ---- argmax / argmin -------------------------------------------------------


def _run_arg(name, x, axis, odt):
    op, dtype = _parse(name)
    view = np.moveaxis(x, axis, -1) if x.ndim else x
    out = np.full(view.shape[:-1] if x.ndim else (), -7, odt)
    call_kernel(name, [view], [out])
    f = np.argmax if op == "argmax" else np.argmin
    ref = f(view, axis=-1) if x.ndim else np.array(0)
    np.testing.assert_array_equal(out, ref, err_msg=f"{name} {x.shape} axis {axis}")


@pytest.mark.parametrize("name", [n for n in NAMES if _parse(n)[0] in ARG_OPS])
@pytest.mark.parametrize("odt", [np.int32, np.int64])
def test_argmax_argmin(name, odt):
    op, dtype = _parse(name)
    for shape, axis in (
        ((7, 9), 1),
        ((7, 9), 0),
        ((4, 5, 6), 1),
        ((1,), 0),
        ((), 0),
        ((0, 4), 1),
        ((4, 1000), 0),
    ):
        _run_arg(name, _rand(shape, dtype, op, 5), axis, odt)
    x = _rand((8, 30), dtype, op, 6)
    _run_arg(name, x[::-1, ::2], 1, odt)
    _run_arg(name, x[::-1, ::2], 0, odt)
    _run_arg(name, _rand((400, 300), dtype, op, 7), 1, odt)  # parallel rows
    _run_arg(name, _rand((400, 300), dtype, op, 8), 0, odt)  # parallel columns


# TensorFlow's results (tf.argmax / tf.argmin, float32 and float64): NaN is ignored, ties
# go to the first index, and a row of NaN and -inf (+inf for argmin) gives 0
_ARG_NAN_X = [[1, 3, 3, 1], [np.nan, 5, np.nan, 0], [2, 2, np.nan, 9], [4, 4, 4, 4]]
_ARG_NAN_WANT = {
    ("argmax", 1): [1, 1, 3, 0],
    ("argmin", 1): [0, 3, 0, 0],
    ("argmax", 0): [3, 1, 3, 2],
    ("argmin", 0): [0, 2, 0, 1],
}
_ARG_SPECIAL_X = [[np.nan] * 3, [-np.inf, -np.inf, np.nan], [np.inf, np.nan, np.inf], [np.nan, -np.inf, 1]]
_ARG_SPECIAL_WANT = {"argmax": [0, 0, 0, 2], "argmin": [0, 0, 0, 1]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ARG_OPS)
def test_arg_nan_and_ties(op, dtype):
    name = f"sf_cpu_{op}_{np.dtype(dtype).name}"
    x = np.array(_ARG_NAN_X, dtype)
    for axis in (1, 0):
        view = np.moveaxis(x, axis, -1)
        for v in (view, np.ascontiguousarray(view)):  # column and row walks
            out = np.full(4, -7, np.int64)
            call_kernel(name, [v], [out])
            np.testing.assert_array_equal(out, _ARG_NAN_WANT[(op, axis)], err_msg=f"{name} axis {axis}")
    out = np.full(4, -7, np.int32)
    call_kernel(name, [np.array(_ARG_SPECIAL_X, dtype)], [out])
    np.testing.assert_array_equal(out, _ARG_SPECIAL_WANT[op])


def test_arg_empty_dim_is_error():
    with pytest.raises(KernelError) as e:
        call_kernel("sf_cpu_argmax_float32", [np.zeros((3, 0), np.float32)], [np.zeros(3, np.int64)])
    assert "empty" in str(e.value)


def test_reduce_rejects_bad_output():
    with pytest.raises(KernelError):
        call_kernel(
            "sf_cpu_reduce_sum_float32", [np.zeros((3, 4), np.float32)], [np.zeros(4, np.float32)], [1]
        )
    with pytest.raises(KernelError):
        call_kernel(
            "sf_cpu_reduce_sum_float32", [np.zeros((3, 4), np.float32)], [np.zeros(3, np.float64)], [1]
        )
    with pytest.raises(KernelError):
        call_kernel("sf_cpu_argmax_float32", [np.zeros((3, 4), np.float32)], [np.zeros(3, np.float32)])
    with pytest.raises(KernelError):
        call_kernel(
            "sf_cpu_reduce_sum_float32", [np.zeros((3, 4), np.float32)], [np.zeros(3, np.float32)], [3]
        )
