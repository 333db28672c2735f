"""NaN, Inf and -0.0 through every float op, generated from the registry.

The kernels and the NumPy references must agree on non-finite values (the
references are the oracle of the fuzzer and of constant folding), and both
follow TensorFlow (docs/nan_semantics.md lists each family's rules and the few
deliberate differences). Each case of every op with float inputs is run with
its float inputs overwritten by a cycle of special values; elementwise ops
also get every pair of specials. NaN and infinities must sit at the same
places with the same signs; finite values agree to the registry tests'
tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import dtypes
from staticflow.ops import builder, registry

SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 0.5, -2.5, 3.0)
# elementwise grids also reach overflow: products of these leave float32's range
GRID_SPECIALS = SPECIALS + (1e30, -1e-30)
CASES_PER_OP = 6


def _skip(d: registry.OpDef) -> bool:
    """Ops whose outputs do not come from float inputs by a kernel (placeholders,
    variables, planning-time values, random streams, host printing), and the TensorList ops
    (their kernel is their NumPy reference; NaNs pass through them as stored values)."""
    return (
        any(a.dtype is dtypes.variant for a in d.inputs + d.outputs)
        or d.random
        or d.stateful
        or d.static
        or any(a.ref for a in d.inputs)
        or d.name in ("Placeholder", "PlaceholderWithDefault", "Print")
        or d.tested_by is not None
    )


def _is_float(v) -> bool:
    """Float arrays, the 16-bit floats included (bfloat16 is no NumPy float kind)."""
    try:
        return dtypes.as_dtype(np.asarray(v).dtype).is_floating
    except TypeError:
        return False


def _inject(v: np.ndarray, offset: int) -> np.ndarray:
    v = np.array(v, copy=True)
    if not _is_float(v) or v.size == 0:
        return v
    flat = v.reshape(-1)
    for i in range(flat.size):
        flat[i] = SPECIALS[(i + offset) % len(SPECIALS)]
    return v


def _grid_case(d: registry.OpDef, cases):
    """Every pair (every value, for unary ops) of GRID_SPECIALS, for an elementwise op."""
    if not d.elementwise or any(a.is_list or a.host for a in d.inputs) or len(d.inputs) not in (1, 2):
        return None
    for case in cases:
        vs = [np.asarray(v) for v in case.inputs]
        if _is_float(vs[0]) and all(v.dtype == vs[0].dtype for v in vs):
            with np.errstate(over="ignore"):  # 1e30 is inf in a 16-bit float
                sp = np.array(GRID_SPECIALS, vs[0].dtype)
            grid = (sp,) if len(vs) == 1 else (np.repeat(sp, sp.size), np.tile(sp, sp.size))
            try:  # an elementwise op may still want another rank (BiasAdd)
                with sf.Graph().as_default():
                    builder.apply_op(d.name, [sf.constant(v) for v in grid], dict(case.attrs))
            except (TypeError, ValueError):
                return None
            return registry.Case(grid, case.attrs)
    return None


def _variants(d: registry.OpDef):
    """(case, inputs with specials) pairs of op d."""
    cases = d.cases(np.random.default_rng(1234))
    out = []
    grid = _grid_case(d, cases)
    if grid is not None:
        out.append((grid, list(grid.inputs)))
    taken = 0
    for case in cases:
        if taken >= CASES_PER_OP:
            break
        floats = [
            a
            for a, v in zip(d.inputs, case.inputs)
            if not a.host and any(_is_float(x) for x in (v if a.is_list else [v]))
        ]
        if not floats:
            continue
        taken += 1
        for offset in (0, 5):
            ins = []
            for a, v in zip(d.inputs, case.inputs):
                if a.host:
                    ins.append(np.asarray(v))
                elif a.is_list:
                    ins.append([_inject(np.asarray(x), offset + j) for j, x in enumerate(v)])
                else:
                    ins.append(_inject(np.asarray(v), offset))
            out.append((case, ins))
    return out


PARAMS = [
    pytest.param(d.name, i, id=f"{d.name}-{i}")
    for d in registry.all_ops()
    if not _skip(d)
    for i in range(len(_variants(d)))
]


def _run_kernel(d, case, ins):
    g = sf.Graph()
    feeds = {}
    with g.as_default():
        tensors = []
        for a, v in zip(d.inputs, ins):
            if a.is_list:
                tensors.append([sf.constant(x) for x in v])
            elif a.host:
                tensors.append(sf.constant(v))
            else:
                ph = sf.placeholder(dtypes.as_dtype(v.dtype), [None] * v.ndim)
                feeds[ph] = v
                tensors.append(ph)
        op = builder.apply_op(d.name, tensors, dict(case.attrs))
    with sf.Session(graph=g) as sess:
        return op, sess.run(list(op.outputs), feeds)


def _flat(d, ins):
    return [x for a, v in zip(d.inputs, ins) for x in (v if a.is_list else [v])]


def _at(bad, got, want) -> str:
    i = tuple(int(k) for k in bad[0])
    return f"{i}: kernel {got[i]}, reference {want[i]}"


_RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float16): 2e-3, dtypes.bfloat16.np: 1.6e-2}


def _assert_agree(got, want, what):
    # a scalar string fetch is bytes (NumPy's "S" arrays would drop its trailing zero bytes)
    got = np.asarray(got, dtype=object) if isinstance(got, bytes) else np.asarray(got)
    want = np.asarray(want)
    if got.dtype.kind in "SO" or want.dtype.kind in "SO":  # strings (summaries): the same bytes
        np.testing.assert_array_equal(got.astype(object), want.astype(object), err_msg=what)
        return
    assert (got.dtype, got.shape) == (want.dtype, want.shape), (
        f"{what}: {got.dtype}{got.shape} vs {want.dtype}{want.shape}"
    )
    if not dtypes.as_dtype(got.dtype).is_floating:
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    got, want, dt = got.astype(np.float64), want.astype(np.float64), got.dtype
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    bad = np.argwhere(nan_g != nan_w)
    assert not bad.size, f"{what}: NaN at {_at(bad, got, want)}"
    inf = (np.isinf(got) | np.isinf(want)) & ~nan_g
    bad = np.argwhere(inf & (got != want))
    assert not bad.size, f"{what}: Inf at {_at(bad, got, want)}"
    fin = ~nan_g & ~inf
    if fin.any():
        rtol = _RTOL.get(dt, 1e-12)
        scale = max(float(np.abs(want[fin]).max()), 0.1)
        np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("op_name,index", PARAMS)
def test_kernels_and_references_agree_on_nan_inf_and_negative_zero(op_name, index):
    d = registry.get(op_name)
    case, ins = _variants(d)[index]
    kernel_error = ref_error = None
    try:
        op, got = _run_kernel(d, case, ins)
    except sf.errors.OpError as e:
        kernel_error, op = e, None
    try:
        attrs = op.attrs if op is not None else case.attrs
        with np.errstate(all="ignore"):
            want = builder.run_reference(d, [np.array(x, copy=True) for x in _flat(d, ins)], attrs)
    except (ValueError, ZeroDivisionError, IndexError, FloatingPointError) as e:
        ref_error = e
    if kernel_error is not None or ref_error is not None:
        assert kernel_error is not None and ref_error is not None, (
            f"{op_name}: kernel error {kernel_error!r}, reference error {ref_error!r}"
        )
        return
    for j, (gv, wv) in enumerate(zip(got, want)):
        _assert_agree(gv, wv, f"{op_name} output {j}")


def test_every_float_op_is_covered():
    """A float op with no variant here would escape the NaN checks."""
    covered = {p.values[0] for p in PARAMS}
    missing = [
        d.name
        for d in registry.all_ops()
        if not _skip(d)
        and any(dt.is_floating for a in d.inputs for dt in _arg_dtypes(d, a))
        and d.name not in covered
    ]
    assert not missing, f"float ops without NaN cases: {missing}"


def _arg_dtypes(d, a):
    if a.dtype is not None:
        return [a.dtype]
    attr = d.attr(a.type_attr or a.type_list_attr)
    return list(attr.allowed or (dtypes.float32,))
