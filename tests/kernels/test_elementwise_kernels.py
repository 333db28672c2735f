"""Elementwise CPU kernels (kernels/cpu/elementwise.c) called directly, against NumPy.

Every kernel in elementwise.c's own table (sf_cpu_elementwise_entries) must
have an entry in SPEC below (and the other way round), and every SPEC entry
runs through every layout: contiguous, broadcast (stride 0), a broadcast 0-d
scalar, negative strides (inputs and output), transposed views (inputs and
output), 0-d, empty, many dims, and sizes above SF_PARALLEL_MIN (the OpenMP
path). Semantics that NumPy alone does not pin down (errors, NaN in casts,
saturation, rounding, floor-mod signs, erf, stable sigmoid) have their own
tests.
"""

from __future__ import annotations

import ctypes
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import ml_dtypes
import numpy as np
import pytest

from staticflow.backends import cpu
from staticflow.backends.cpu import KernelError, call_kernel

PARALLEL_MIN = 32768  # SF_PARALLEL_MIN in kernels/cpu/sf_internal.h

DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
}
FLOATS = ("float32", "float64")
INTS = ("int32", "int64")
ALL6 = ("float32", "float64", "int32", "int64", "bool", "uint8")
# The other numeric types: 16-bit floats (stored as their bits, computed in
# float32 and rounded), the narrow signed and the unsigned integers.
DTYPES.update(
    {
        "float16": np.dtype(np.float16),
        "bfloat16": np.dtype(ml_dtypes.bfloat16),
        "int8": np.dtype(np.int8),
        "int16": np.dtype(np.int16),
        "uint16": np.dtype(np.uint16),
        "uint32": np.dtype(np.uint32),
        "uint64": np.dtype(np.uint64),
    }
)
HALVES = ("float16", "bfloat16")
SMALL_INTS = ("int8", "int16")
UINTS = ("uint8", "uint16", "uint32", "uint64")
ALL13 = ALL6 + HALVES + SMALL_INTS + ("uint16", "uint32", "uint64")


# ---------------------------------------------------------------------------
# The reference: kernel name -> inputs (dtype, value domain), output dtype and
# a NumPy function.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    ins: tuple  # ((dtype name, domain), ...)
    out: str
    ref: Callable


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid_ref(x):
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


UNARY_FLOAT = {
    "neg": (np.negative, "any"),
    "reciprocal": (np.reciprocal, "nonzero"),
    "exp": (np.exp, "any"),
    "expm1": (np.expm1, "any"),
    "log": (np.log, "pos"),
    "log1p": (np.log1p, "gtm1"),
    "sqrt": (np.sqrt, "pos"),
    "rsqrt": (lambda x: 1 / np.sqrt(x), "pos"),
    "square": (np.square, "any"),
    "abs": (np.abs, "any"),
    "sign": (np.sign, "small"),
    "floor": (np.floor, "any"),
    "ceil": (np.ceil, "any"),
    "round": (np.rint, "halves"),
    "sin": (np.sin, "any"),
    "cos": (np.cos, "any"),
    "erf": (_erf, "any"),
    "relu": (lambda x: np.maximum(x, 0), "any"),
    "sigmoid": (_sigmoid_ref, "wide"),
    "tanh": (np.tanh, "any"),
}
UNARY_INT = {
    "neg": np.negative,
    "square": np.square,
    "abs": np.abs,
    "sign": np.sign,
    "relu": lambda x: np.maximum(x, 0),
}
BINARY_FLOAT = {
    "add": (np.add, "any", "any"),
    "sub": (np.subtract, "any", "any"),
    "mul": (np.multiply, "any", "any"),
    "div": (np.divide, "any", "nonzero"),
    # TensorFlow's FloorDiv for floats: floor(x / y)
    "floordiv": (lambda x, y: np.floor(x / y), "wide", "nonzero"),
    "mod": (np.mod, "wide", "nonzero"),
    "pow": (np.power, "base", "any"),
    "maximum": (np.maximum, "small", "small"),
    "minimum": (np.minimum, "small", "small"),
    "squared_difference": (lambda x, y: np.square(x - y), "any", "any"),
}
BINARY_INT = {
    "add": (np.add, "any", "any"),
    "sub": (np.subtract, "any", "any"),
    "mul": (np.multiply, "any", "any"),
    "floordiv": (np.floor_divide, "wide", "nonzero"),
    "mod": (np.mod, "wide", "nonzero"),
    "pow": (np.power, "base", "exp"),
    "maximum": (np.maximum, "small", "small"),
    "minimum": (np.minimum, "small", "small"),
    "squared_difference": (lambda x, y: np.square(x - y), "any", "any"),
}
COMPARE = {
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "equal": np.equal,
    "not_equal": np.not_equal,
}
BOOL_BINARY = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
}


def _cast_domain(src: str, dst: str) -> str:
    if src in FLOATS + HALVES:
        if dst in UINTS:
            return "u8"
        if dst == "bool":
            return "small"  # many exact zeros
        return "wide"
    return "wide"


def _build_spec() -> dict[str, Spec]:
    spec: dict[str, Spec] = {}
    for dt in FLOATS:
        for op, (ref, dom) in UNARY_FLOAT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, dom),), dt, ref)
        for op, (ref, d0, d1) in BINARY_FLOAT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, d0), (dt, d1)), dt, ref)
    for dt in INTS:
        for op, ref in UNARY_INT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, "any"),), dt, ref)
        for op, (ref, d0, d1) in BINARY_INT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, d0), (dt, d1)), dt, ref)
    for dt in FLOATS + INTS:
        for op, ref in COMPARE.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, "small"), (dt, "small")), "bool", ref)
    spec["sf_cpu_logical_not_bool"] = Spec((("bool", "any"),), "bool", np.logical_not)
    for op, ref in BOOL_BINARY.items():
        spec[f"sf_cpu_{op}_bool"] = Spec((("bool", "any"), ("bool", "any")), "bool", ref)
    for dt in ALL6:
        spec[f"sf_cpu_select_{dt}"] = Spec(
            (("bool", "any"), (dt, "wide"), (dt, "wide")), dt, lambda c, x, y: np.where(c, x, y)
        )
    for src in ALL6:
        for dst in ALL6:
            spec[f"sf_cpu_cast_{src}_{dst}"] = Spec(
                ((src, _cast_domain(src, dst)),), dst, lambda x, dst=dst: x.astype(DTYPES[dst])
            )
    for dt in FLOATS + INTS:
        spec[f"sf_cpu_addn_{dt}"] = Spec(
            ((dt, "any"), (dt, "any"), (dt, "any")),
            dt,
            lambda *xs: np.sum(np.stack(np.broadcast_arrays(*xs)), axis=0, dtype=xs[0].dtype),
        )
    return spec


def _via_float32(dt, ref):
    """TensorFlow's 16-bit float kernels: the float32 result of float32 inputs, rounded."""

    def run(*xs):
        y = np.asarray(ref(*[x.astype(np.float32) if x.dtype == DTYPES[dt] else x for x in xs]))
        return y.astype(DTYPES[dt]) if y.dtype.kind == "f" else y

    return run


def _addn_rounding_each_step(*xs):
    acc = xs[0]
    for x in xs[1:]:
        acc = (acc.astype(np.float32) + x.astype(np.float32)).astype(acc.dtype)
    return acc


def _cast_ref(src, dst):
    def run(x):
        if dst in HALVES and src not in ("float32",) + HALVES:
            x = x.astype(np.float32)  # float64 and integers round to float32 first (TF)
        if dst == "bool":
            return x.astype(np.float32) != 0 if src in HALVES else x != 0
        if src in HALVES:
            x = x.astype(np.float32)
        if x.dtype.kind == "f" and DTYPES[dst].kind in "iu":  # saturating (256.0 -> 255)
            info = np.iinfo(DTYPES[dst])
            x = np.clip(np.trunc(x.astype(np.float64)), info.min, info.max)
        return x.astype(DTYPES[dst])

    return run


def _build_new_spec() -> dict[str, Spec]:
    """Kernels of the 16-bit floats, narrow and unsigned integers, and every cast pair
    and select of the 13 types that are not in SPEC."""
    spec: dict[str, Spec] = {}
    for dt in HALVES:
        for op, (ref, dom) in UNARY_FLOAT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, dom),), dt, _via_float32(dt, ref))
        for op, (ref, d0, d1) in BINARY_FLOAT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, d0), (dt, d1)), dt, _via_float32(dt, ref))
        three = ((dt, "any"), (dt, "any"), (dt, "any"))
        spec[f"sf_cpu_addn_{dt}"] = Spec(three, dt, _addn_rounding_each_step)
    for dt in SMALL_INTS:
        for op, ref in UNARY_INT.items():
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, "any"),), dt, ref)
        for op, (ref, d0, d1) in BINARY_INT.items():
            if op != "squared_difference":  # TensorFlow has it for int32/int64 only
                spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, d0), (dt, d1)), dt, ref)
    for dt in UINTS[1:] + ("uint8",):
        spec[f"sf_cpu_square_{dt}"] = Spec(((dt, "any"),), dt, np.square)
        spec[f"sf_cpu_relu_{dt}"] = Spec(((dt, "any"),), dt, lambda x: x)
        for op, (ref, d0, d1) in BINARY_INT.items():
            if op not in ("pow", "squared_difference"):
                spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, d0), (dt, d1)), dt, ref)
    for dt in HALVES + SMALL_INTS + UINTS:
        for op, ref in COMPARE.items():
            r = _via_float32(dt, ref) if dt in HALVES else ref
            spec[f"sf_cpu_{op}_{dt}"] = Spec(((dt, "small"), (dt, "small")), "bool", r)
    for dt in ALL13:
        if dt not in ALL6:
            spec[f"sf_cpu_select_{dt}"] = Spec(
                (("bool", "any"), (dt, "wide"), (dt, "wide")), dt, lambda c, x, y: np.where(c, x, y)
            )
        if dt not in FLOATS + INTS + HALVES + ("bool",):
            spec[f"sf_cpu_addn_{dt}"] = Spec(
                ((dt, "any"), (dt, "any"), (dt, "any")),
                dt,
                lambda *xs: np.sum(np.stack(np.broadcast_arrays(*xs)), axis=0, dtype=xs[0].dtype),
            )
    for src in ALL13:
        for dst in ALL13:
            if src in ALL6 and dst in ALL6:
                continue
            dom = _cast_domain(src, dst)
            spec[f"sf_cpu_cast_{src}_{dst}"] = Spec(((src, dom),), dst, _cast_ref(src, dst))
    return spec


SPEC = _build_spec()
SPEC_NEW = _build_new_spec()
# the new types' kernels run through these layouts (each kernel once per test)
NEW_LAYOUTS = ("contiguous", "scalar1", "negative", "transposed_out", "mixed", "0d", "empty", "large")


def _rand(rng: np.random.Generator, dtype: str, domain: str, shape) -> np.ndarray:
    dt = DTYPES[dtype]
    if dt == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype in UINTS and domain in ("nonzero", "small", "any"):
        # "any": wrapped negatives, large values
        lo, hi = {"nonzero": (1, 20), "small": (0, 3), "any": (-50, 51)}[domain]
        return np.asarray(rng.integers(lo, hi, shape)).astype(dt)
    if dt == np.uint8 or dtype in UINTS:
        return np.asarray(rng.integers(0, 256, shape), dtype=dt)
    if dt.kind == "f" or dtype in HALVES:
        if domain == "any":
            x = rng.uniform(-4, 4, shape)
        elif domain == "pos":
            x = rng.uniform(0.1, 4, shape)
        elif domain == "nonzero":
            x = rng.uniform(0.5, 4, shape) * rng.choice([-1.0, 1.0], shape)
        elif domain == "gtm1":
            x = rng.uniform(-0.9, 4, shape)
        elif domain == "base":
            x = rng.uniform(0.1, 3, shape)
        elif domain == "wide":
            x = rng.uniform(-100, 100, shape)
        elif domain == "u8":
            x = rng.uniform(0, 255.9, shape)
        elif domain == "small":
            x = rng.integers(-2, 3, shape).astype(np.float64)
        elif domain == "halves":
            x = rng.integers(-20, 21, shape) / 2.0 + rng.choice([0.0, 0.1, -0.1], shape)
        else:
            raise ValueError(domain)
        return np.asarray(x, dtype=dt)
    lo, hi = {
        "any": (-50, 51),
        "nonzero": (1, 20),
        "base": (-5, 6),
        "exp": (0, 7),
        "wide": (-300, 301),
        "small": (-2, 3),
    }[domain]
    x = rng.integers(lo, hi, shape)
    if domain == "nonzero":
        x = x * rng.choice([-1, 1], shape)
    return np.asarray(x, dtype=dt)


def _reference(spec: Spec, ins) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(spec.ref(*ins)).astype(DTYPES[spec.out])


def _check(name: str, got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, name
    if got.dtype in (DTYPES["float16"], DTYPES["bfloat16"]):
        # one unit in the last place: float32's libm and NumPy's may round the
        # float32 result differently before the 16-bit rounding
        rtol = 2.0**-10 if got.dtype == np.float16 else 2.0**-7
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64), equal_nan=True, err_msg=name, rtol=rtol,
            atol=1e-7,
        )
        return
    if got.dtype.kind == "f":
        tol = dict(rtol=1e-5, atol=1e-6) if got.dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=name, **tol)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


# ---------------------------------------------------------------------------
# Layouts: each builds the inputs (views) and the output view for a spec.
# ---------------------------------------------------------------------------


def _contig(shape):
    def make(spec, rng):
        return [_rand(rng, d, dom, shape) for d, dom in spec.ins], np.empty(shape, DTYPES[spec.out])

    return make


def _broadcast(shape, in_shapes):
    """Input i has in_shapes[i] (cycled), broadcast to shape with stride 0."""

    def make(spec, rng):
        ins = [
            np.broadcast_to(_rand(rng, d, dom, in_shapes[i % len(in_shapes)]), shape)
            for i, (d, dom) in enumerate(spec.ins)
        ]
        return ins, np.empty(shape, DTYPES[spec.out])

    return make


def _scalar(shape, k):
    """Input k is a 0-d value broadcast to shape (stride 0 in every dim)."""

    def make(spec, rng):
        if k >= len(spec.ins):
            k_ = len(spec.ins) - 1
        else:
            k_ = k
        ins = []
        for i, (d, dom) in enumerate(spec.ins):
            if i == k_:
                ins.append(np.broadcast_to(_rand(rng, d, dom, ()), shape))
            else:
                ins.append(_rand(rng, d, dom, shape))
        return ins, np.empty(shape, DTYPES[spec.out])

    return make


def _negative(spec, rng):
    ins = [_rand(rng, d, dom, (6, 10))[::-1, ::-2] for d, dom in spec.ins]
    return ins, np.empty((6, 5), DTYPES[spec.out])


def _negative_out(spec, rng):
    ins = [_rand(rng, d, dom, (6, 5)) for d, dom in spec.ins]
    return ins, np.zeros((6, 10), DTYPES[spec.out])[::-1, ::-2]


def _transposed(base_shape):
    def make(spec, rng):
        ins = [_rand(rng, d, dom, base_shape).T for d, dom in spec.ins]
        return ins, np.empty(base_shape[::-1], DTYPES[spec.out])

    return make


def _transposed_out(spec, rng):
    ins = [_rand(rng, d, dom, (5, 7)) for d, dom in spec.ins]
    return ins, np.empty((7, 5), DTYPES[spec.out]).T


def _mixed(spec, rng):
    """Input 0 transposed, input 1 contiguous, input 2 with a broadcast dim."""
    ins = []
    for i, (d, dom) in enumerate(spec.ins):
        if i % 3 == 0:
            ins.append(_rand(rng, d, dom, (9, 4)).T)
        elif i % 3 == 1:
            ins.append(_rand(rng, d, dom, (4, 9)))
        else:
            ins.append(np.broadcast_to(_rand(rng, d, dom, (4, 1)), (4, 9)))
    return ins, np.empty((4, 9), DTYPES[spec.out])


def _many_dims(spec, rng):
    perm = (5, 0, 3, 1, 4, 2)
    ins = [np.transpose(_rand(rng, d, dom, (2, 3, 2, 3, 2, 3)), perm) for d, dom in spec.ins]
    return ins, np.empty(ins[0].shape, DTYPES[spec.out])


LARGE = (300, 257)  # 77100 elements > SF_PARALLEL_MIN
assert LARGE[0] * LARGE[1] > PARALLEL_MIN

LAYOUTS = {
    "contiguous": _contig((3, 5, 7)),
    "broadcast": _broadcast((4, 5, 6), [(1, 5, 1), (4, 1, 6), (4, 5, 1), (1, 1, 6)]),
    "scalar0": _scalar((5, 40), 0),
    "scalar1": _scalar((5, 40), 1),
    "negative": _negative,
    "negative_out": _negative_out,
    "transposed": _transposed((7, 5)),
    "transposed_out": _transposed_out,
    "mixed": _mixed,
    "many_dims": _many_dims,
    "0d": _contig(()),
    "1d": _contig((13,)),
    "empty": _contig((0, 4)),
    "empty_inner": _contig((3, 0, 2)),
    "large": _contig(LARGE),
    "large_scalar0": _scalar(LARGE, 0),
    "large_scalar1": _scalar(LARGE, 1),
    "large_transposed": _transposed(LARGE[::-1]),
    "large_short_rows": _broadcast((20000, 3), [(20000, 1), (1, 3), (20000, 3)]),
    "large_broadcast_rows": _broadcast((70, 1000), [(1, 1000), (70, 1000), (70, 1)]),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", sorted(SPEC))
def test_kernel_matches_numpy(name, layout):
    spec = SPEC[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}/{layout}".encode()))
    ins, out = LAYOUTS[layout](spec, rng)
    base = out.base if layout == "negative_out" else None
    if base is not None:
        sentinel = base.copy()
    call_kernel(name, ins, [out])
    _check(name, out, _reference(spec, ins))
    if base is not None:  # nothing written outside the output view
        mask = np.ones(base.shape, bool)
        mask[::-1, ::-2] = False
        np.testing.assert_array_equal(base[mask], sentinel[mask])


@pytest.mark.parametrize("name", sorted(SPEC_NEW))
def test_new_type_kernel_matches_numpy(name):
    spec = SPEC_NEW[name]
    for layout in NEW_LAYOUTS:
        rng = np.random.default_rng(zlib.crc32(f"{name}/{layout}".encode()))
        ins, out = LAYOUTS[layout](spec, rng)
        call_kernel(name, ins, [out])
        _check(f"{name}/{layout}", out, _reference(spec, ins))


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def _elementwise_table() -> list[str]:
    """Names in elementwise.c's own table, read through ctypes (the family
    entry functions are not part of the cffi cdef)."""
    import staticflow.backends._sf_cpu as ext

    lib = ctypes.CDLL(ext.__file__)
    try:
        fn = lib.sf_cpu_elementwise_entries
    except AttributeError:  # pragma: no cover - symbols hidden
        pytest.skip("sf_cpu_elementwise_entries is not exported")

    class Entry(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("fn", ctypes.c_void_p)]

    fn.restype = ctypes.c_int64
    fn.argtypes = [ctypes.POINTER(ctypes.POINTER(Entry))]
    entries = ctypes.POINTER(Entry)()
    n = fn(ctypes.byref(entries))
    return [entries[i].name.decode() for i in range(n)]


# The activations and activation gradients (some read fattr) are tested in
# test_nn_grad_kernels.py.
TESTED_ELSEWHERE = {
    f"sf_cpu_{op}_{dt}"
    for op in (
        "softplus",
        "elu",
        "selu",
        "leaky_relu",
        "relu_grad",
        "sigmoid_grad",
        "tanh_grad",
        "softplus_grad",
        "elu_grad",
        "selu_grad",
        "leaky_relu_grad",
        "rsqrt_grad",
        "sqrt_grad",
        "reciprocal_grad",
    )
    for dt in FLOATS + HALVES
}


def test_table_is_exactly_the_spec():
    names = _elementwise_table()
    assert len(names) == len(set(names)), "duplicate names in the elementwise table"
    specs = set(SPEC) | set(SPEC_NEW)
    assert not set(SPEC) & set(SPEC_NEW)
    assert set(names) - specs - TESTED_ELSEWHERE == set(), "kernels without a NumPy reference in SPEC"
    assert specs - set(names) == set(), "kernels missing from the elementwise table"
    assert TESTED_ELSEWHERE <= set(names), "kernels missing from the elementwise table"
    assert len(SPEC) == 163
    assert len(names) == 163 + len(SPEC_NEW) + len(TESTED_ELSEWHERE)


def test_every_spec_kernel_is_in_the_library_table():
    table = cpu.kernel_table()
    missing = sorted(n for n in (*SPEC, *SPEC_NEW) if n not in table)
    assert missing == []


# ---------------------------------------------------------------------------
# Errors: integer division/modulo by zero, negative integer powers, bad calls
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dt", INTS)
@pytest.mark.parametrize("op, what", [("floordiv", "division by zero"), ("mod", "modulo by zero")])
@pytest.mark.parametrize("n", [5, 100_000])
def test_integer_division_by_zero_is_an_error(dt, op, what, n):
    x = np.arange(n, dtype=dt)
    y = np.ones(n, dtype=dt)
    y[n - 2] = 0  # near the end: the last thread's chunk on the parallel path
    out = np.empty(n, dt)
    name = f"sf_cpu_{op}_{dt}"
    with pytest.raises(KernelError) as e:
        call_kernel(name, [x, y], [out])
    assert e.value.code == 3
    assert what in str(e.value) and name in str(e.value)
    # a broadcast zero divisor too
    with pytest.raises(KernelError, match=what):
        call_kernel(name, [x, np.broadcast_to(np.zeros((), dt), (n,))], [out])
    # and the library still works afterwards
    call_kernel(name, [x, np.full(n, 7, dt)], [out])
    np.testing.assert_array_equal(out, (np.floor_divide if op == "floordiv" else np.mod)(x, 7))


@pytest.mark.parametrize("dt", INTS)
def test_negative_integer_power_is_an_error(dt):
    x = np.array([2, 3, 4], dt)
    y = np.array([1, -1, 2], dt)
    with pytest.raises(KernelError, match="negative integer powers") as e:
        call_kernel(f"sf_cpu_pow_{dt}", [x, y], [np.empty(3, dt)])
    assert e.value.code == 3


@pytest.mark.parametrize("dt", INTS)
def test_integer_pow_edges(dt):
    x = np.array([0, 0, 1, -1, -1, 2, -2, 3, 7], dt)
    y = np.array([0, 3, 50, 3, 4, 10, 7, 0, 5], dt)
    out = np.empty_like(x)
    call_kernel(f"sf_cpu_pow_{dt}", [x, y], [out])
    np.testing.assert_array_equal(out, np.power(x, y))


@pytest.mark.parametrize("dt", INTS)
def test_min_int_divided_by_minus_one_wraps(dt):
    lo = np.iinfo(dt).min
    x = np.array([lo, lo, lo, 7], dt)
    y = np.array([-1, 1, 3, -1], dt)
    out = np.empty_like(x)
    call_kernel(f"sf_cpu_floordiv_{dt}", [x, y], [out])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, np.floor_divide(x, y))
    assert out[0] == lo
    call_kernel(f"sf_cpu_mod_{dt}", [x, y], [out])
    np.testing.assert_array_equal(out, np.mod(x, y))
    assert out[0] == 0
    # wrapping neg/abs of MIN (NumPy wraps too)
    call_kernel(f"sf_cpu_neg_{dt}", [x], [out])
    assert out[0] == lo
    call_kernel(f"sf_cpu_abs_{dt}", [x], [out])
    assert out[0] == lo


def test_wrong_dtype_is_an_error():
    x = np.ones(3, np.float64)
    with pytest.raises(KernelError, match="dtype float64, expected float32") as e:
        call_kernel("sf_cpu_add_float32", [x, x], [np.empty(3, np.float32)])
    assert e.value.code == 3
    with pytest.raises(KernelError, match="output has dtype"):
        call_kernel("sf_cpu_less_float64", [x, x], [np.empty(3, np.float64)])


def test_wrong_arity_is_an_error():
    x = np.ones(3, np.float32)
    with pytest.raises(KernelError, match="expected 2 input"):
        call_kernel("sf_cpu_add_float32", [x], [np.empty(3, np.float32)])
    with pytest.raises(KernelError, match="at least 1 input"):
        call_kernel("sf_cpu_addn_float32", [], [np.empty(3, np.float32)])


def test_shape_mismatch_is_an_error():
    with pytest.raises(KernelError, match=r"shape \[4\] does not broadcast to \[5, 3\]"):
        call_kernel(
            "sf_cpu_add_float32",
            [np.ones(4, np.float32), np.ones((5, 3), np.float32)],
            [np.empty((5, 3), np.float32)],
        )
    with pytest.raises(KernelError, match="expected the output's"):
        call_kernel(
            "sf_cpu_addn_float32",
            [np.ones((5, 1), np.float32), np.ones((5, 3), np.float32)],
            [np.empty((5, 3), np.float32)],
        )


def test_numpy_style_broadcasting_of_unexpanded_inputs():
    """Inputs normally arrive expanded to the output's shape, but size-1 dims
    and missing leading dims broadcast too."""
    a = np.arange(5, dtype=np.float64).reshape(5, 1)
    b = np.arange(3, dtype=np.float64)
    out = np.empty((5, 3))
    call_kernel("sf_cpu_sub_float64", [a, b], [out])
    np.testing.assert_array_equal(out, a - b)
    c = np.array([True, False, True])
    out = np.empty((2, 3), np.int32)
    call_kernel("sf_cpu_select_int32", [c, np.ones((1, 3), np.int32), np.zeros((2, 1), np.int32)], [out])
    np.testing.assert_array_equal(out, [[1, 0, 1], [1, 0, 1]])


# ---------------------------------------------------------------------------
# Semantics
# ---------------------------------------------------------------------------


def _run(name, *ins, out_dtype=None, shape=None):
    ins = [np.asarray(a) for a in ins]
    shape = np.broadcast_shapes(*(a.shape for a in ins)) if shape is None else shape
    out = np.empty(shape, out_dtype or ins[0].dtype)
    call_kernel(name, [np.broadcast_to(a, shape) for a in ins], [out])
    return out


@pytest.mark.parametrize("dt", FLOATS + INTS)
def test_floor_mod_and_floordiv_signs_match_numpy(dt):
    x = np.array([7, -7, 7, -7, 0, 6, -6, 1, -1, 9, -9], dt)
    y = np.array([3, 3, -3, -3, 5, -3, 3, 4, 4, -4, -4], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_mod_{dt}", x, y), np.mod(x, y))
    np.testing.assert_array_equal(_run(f"sf_cpu_floordiv_{dt}", x, y), np.floor_divide(x, y))
    if dt in FLOATS:  # signed zeros follow the divisor, like np.mod
        got = _run(f"sf_cpu_mod_{dt}", x, y)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(np.mod(x, y)))
        fx = np.array([5.5, -5.5, 5.5, -5.5, 1e-3, -1e-3], dt)
        fy = np.array([2.0, 2.0, -2.0, -2.0, 7.0, 7.0], dt)
        np.testing.assert_allclose(_run(f"sf_cpu_mod_{dt}", fx, fy), np.mod(fx, fy), rtol=1e-6)
        np.testing.assert_array_equal(_run(f"sf_cpu_floordiv_{dt}", fx, fy), np.floor_divide(fx, fy))


@pytest.mark.parametrize("dt", FLOATS)
def test_float_division_by_zero_is_ieee(dt):
    x = np.array([1.0, -1.0, 0.0, 3.0], dt)
    y = np.zeros(4, dt)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_run(f"sf_cpu_div_{dt}", x, y), x / y)
        np.testing.assert_array_equal(_run(f"sf_cpu_floordiv_{dt}", x, y), np.floor_divide(x, y))
        np.testing.assert_array_equal(_run(f"sf_cpu_mod_{dt}", x, y), np.mod(x, y))


@pytest.mark.parametrize("dt", FLOATS)
def test_round_is_half_to_even(dt):
    x = np.array(
        [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -0.0, 1e20, np.inf, -np.inf, np.nan], dt
    )
    want = np.array([0, 2, 2, 4, -0.0, -2, -2, 2, 3, -0.0, 1e20, np.inf, -np.inf, np.nan], dt)
    got = _run(f"sf_cpu_round_{dt}", x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, np.rint(x))


@pytest.mark.parametrize("dt", FLOATS)
def test_erf_matches_math_erf(dt):
    x = np.concatenate([np.linspace(-6, 6, 2001), [0.0, -0.0, 1e-8, -1e-8, 30.0, -30.0]]).astype(dt)
    got = _run(f"sf_cpu_erf_{dt}", x)
    want = np.array([math.erf(float(v)) for v in x])
    rtol, atol = (3e-7, 1e-7) if dt == "float32" else (1e-15, 1e-16)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    inf = np.array([np.inf, -np.inf, np.nan], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_erf_{dt}", inf), [1.0, -1.0, np.nan])


@pytest.mark.parametrize("dt", FLOATS)
def test_sigmoid_is_stable_for_large_inputs(dt):
    x = np.array([-1e4, -1000, -100, -88, -20, -1, 0, -0.0, 1, 20, 88, 100, 1000, 1e4, np.inf, -np.inf], dt)
    got = _run(f"sf_cpu_sigmoid_{dt}", x)
    assert not np.isnan(got).any()
    assert ((got >= 0) & (got <= 1)).all()
    # float32 results below ~1e-38 are subnormal: compare those absolutely
    tol = dict(rtol=1e-6, atol=1e-38) if dt == "float32" else dict(rtol=1e-14, atol=0)
    np.testing.assert_allclose(got, _sigmoid_ref(x).astype(dt), **tol)
    assert got[-2] == 1 and got[-1] == 0
    assert np.isnan(_run(f"sf_cpu_sigmoid_{dt}", np.array([np.nan], dt)))[0]


@pytest.mark.parametrize("dt", FLOATS)
def test_nan_propagation(dt):
    nan = np.nan
    x = np.array([nan, 1.0, nan, -1.0, -np.inf], dt)
    y = np.array([1.0, nan, nan, -2.0, nan], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_maximum_{dt}", x, y), np.maximum(x, y))
    np.testing.assert_array_equal(_run(f"sf_cpu_minimum_{dt}", x, y), np.minimum(x, y))
    r = np.array([nan, -np.inf, -3.0, -0.0, 0.0, 2.0, np.inf], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_relu_{dt}", r), np.maximum(r, 0))
    s = np.array([nan, -np.inf, -3.0, -0.0, 0.0, 2.0, np.inf], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_sign_{dt}", s), [nan, -1, -1, 0, 0, 1, 1])
    assert _run(f"sf_cpu_sign_{dt}", np.array([0.0], dt))[0] == 0
    # comparisons with NaN are false, except not_equal
    for op, ref in COMPARE.items():
        np.testing.assert_array_equal(_run(f"sf_cpu_{op}_{dt}", x, y, out_dtype=bool), ref(x, y), err_msg=op)


@pytest.mark.parametrize("dt", INTS)
def test_integer_sign_and_relu(dt):
    x = np.array([np.iinfo(dt).min, -5, -1, 0, 1, 5, np.iinfo(dt).max], dt)
    np.testing.assert_array_equal(_run(f"sf_cpu_sign_{dt}", x), np.sign(x))
    np.testing.assert_array_equal(_run(f"sf_cpu_relu_{dt}", x), np.maximum(x, 0))


@pytest.mark.parametrize("dt", FLOATS)
def test_special_values(dt):
    x = np.array([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan], dt)
    with np.errstate(all="ignore"):
        for op in (
            "reciprocal",
            "rsqrt",
            "log",
            "sqrt",
            "exp",
            "expm1",
            "log1p",
            "tanh",
            "abs",
            "neg",
            "square",
        ):
            ref = UNARY_FLOAT[op][0]
            np.testing.assert_allclose(_run(f"sf_cpu_{op}_{dt}", x), ref(x).astype(dt), rtol=1e-6, err_msg=op)


@pytest.mark.parametrize("src", FLOATS)
def test_cast_float_to_int_saturates_and_maps_nan_to_zero(src):
    f = DTYPES[src]
    x = np.array(
        [np.nan, np.inf, -np.inf, 1e30, -1e30, 2.9, -2.9, -0.5, 0.5, -0.0, 300.0, -300.0, 255.9, -1.0], f
    )
    for dst, lo, hi in (("int32", -(2**31), 2**31 - 1), ("int64", -(2**63), 2**63 - 1), ("uint8", 0, 255)):
        got = _run(f"sf_cpu_cast_{src}_{dst}", x, out_dtype=DTYPES[dst])
        want = [0, hi, lo, hi, lo, 2, -2, 0, 0, 0, 300, -300, 255, -1]
        want = [min(max(v, lo), hi) for v in want]
        np.testing.assert_array_equal(got, np.array(want, dtype=DTYPES[dst]), err_msg=dst)
    # the edges of int32: 2**31 saturates, the largest float below it converts exactly
    edge = np.array([2.0**31, -(2.0**31), float(np.nextafter(np.float32(2**31), np.float32(0)))], f)
    got = _run(f"sf_cpu_cast_{src}_int32", edge, out_dtype=np.int32)
    np.testing.assert_array_equal(got, [2**31 - 1, -(2**31), int(edge[2])])
    got = _run(f"sf_cpu_cast_{src}_int64", np.array([2.0**63, -(2.0**63), 2.0**62], f), out_dtype=np.int64)
    np.testing.assert_array_equal(got, [2**63 - 1, -(2**63), 2**62])
    # to bool: x != 0, NaN is true (like NumPy)
    got = _run(f"sf_cpu_cast_{src}_bool", x, out_dtype=np.bool_)
    np.testing.assert_array_equal(got, x.astype(bool))
    assert got[0] and not got[9]


def test_cast_between_integers_wraps_like_numpy():
    x = np.array([-(2**40) - 3, 2**31, -1, 255, 256, 2**63 - 1], np.int64)
    for dst in ("int32", "uint8", "bool", "float32", "float64"):
        got = _run(f"sf_cpu_cast_int64_{dst}", x, out_dtype=DTYPES[dst])
        np.testing.assert_array_equal(got, x.astype(DTYPES[dst]), err_msg=dst)


def test_non_canonical_bool_bytes():
    """A bool byte other than 0/1 still reads as true."""
    b = np.array([0, 1, 2, 255], np.uint8).view(np.bool_)
    t = np.array([1, 1, 1, 1], np.uint8).view(np.bool_)
    np.testing.assert_array_equal(_run("sf_cpu_logical_not_bool", b).view(np.uint8), [1, 0, 0, 0])
    np.testing.assert_array_equal(_run("sf_cpu_logical_and_bool", b, t).view(np.uint8), [0, 1, 1, 1])
    np.testing.assert_array_equal(_run("sf_cpu_equal_bool", b, t).view(np.uint8), [0, 1, 1, 1])
    np.testing.assert_array_equal(_run("sf_cpu_cast_bool_int32", b, out_dtype=np.int32), [0, 1, 1, 1])
    np.testing.assert_array_equal(_run("sf_cpu_cast_bool_bool", b).view(np.uint8), [0, 1, 1, 1])
    got = _run(
        "sf_cpu_select_float32", b, np.ones(4, np.float32), np.zeros(4, np.float32), out_dtype=np.float32
    )
    np.testing.assert_array_equal(got, [0, 1, 1, 1])


@pytest.mark.parametrize("n", [7, 100_000])
def test_in_place(n):
    """The output may be the same view as an input."""
    x = np.linspace(-3, 3, n, dtype=np.float32)
    y = np.linspace(1, 2, n, dtype=np.float32)
    want = x + y
    call_kernel("sf_cpu_add_float32", [x, y], [x])
    np.testing.assert_array_equal(x, want)
    a = [np.full(n, float(i), np.float64) for i in range(4)]
    call_kernel("sf_cpu_addn_float64", a, [a[2]])
    np.testing.assert_array_equal(a[2], np.full(n, 6.0))


@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_addn_input_counts(k):
    rng = np.random.default_rng(k)
    xs = [rng.standard_normal((33, 70)) for _ in range(k)]
    xs[0] = xs[0].T.copy().T  # one transposed view
    if k > 2:
        xs[2] = np.broadcast_to(rng.standard_normal(70), (33, 70))
    out = np.empty((33, 70))
    call_kernel("sf_cpu_addn_float64", xs, [out])
    np.testing.assert_allclose(out, sum(xs), rtol=1e-13)


def test_addn_integers_wrap():
    big = np.iinfo(np.int32).max
    xs = [np.full(5, big, np.int32), np.full(5, 2, np.int32)]
    out = np.empty(5, np.int32)
    call_kernel("sf_cpu_addn_int32", xs, [out])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, xs[0] + xs[1])


def test_large_results_do_not_depend_on_thread_count():
    x = np.random.default_rng(0).standard_normal((513, 300)).astype(np.float32)
    outs = []
    try:
        for t in (1, 3, 0):
            cpu.set_num_threads(t)
            out = np.empty_like(x)
            call_kernel("sf_cpu_tanh_float32", [x.T.copy().T], [out])
            outs.append(out)
    finally:
        cpu.set_num_threads(0)  # back to the default
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
