"""Value assertions for tests of staticflow models: dtype-aware closeness with a readable report.

`assert_all_close(actual, desired)` accepts arrays, Python numbers, Tensors and
Variables (evaluated in the default session, or a given one) and nested dicts,
lists and tuples of them. Without explicit tolerances it picks them from the
least precise dtype involved, with TensorFlow's table
(``assertAllCloseAccordingToType``): float16 1e-3, bfloat16 1e-2, float32 and
float64 1e-6; integers, bools and strings compare exactly. A failure names the
tensor (op and the source line that made it), counts the mismatches and gives
the index and values of the worst one, as NumPy's report does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import ml_dtypes
import numpy as np

# rtol, atol by dtype name: TensorFlow's assertAllCloseAccordingToType defaults
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-3),
    "bfloat16": (1e-2, 1e-2),
    "float32": (1e-6, 1e-6),
    "float64": (1e-6, 1e-6),
    "complex64": (1e-6, 1e-6),
    "complex128": (1e-6, 1e-6),
}
_MAX_LISTED = 5  # mismatches listed besides the worst


def _is_float(dt: np.dtype) -> bool:
    """Floating or complex, bfloat16 and the other ml_dtypes floats included."""
    if dt.kind in "fc":
        return True
    if dt.kind == "V":
        try:
            ml_dtypes.finfo(dt)
            return True
        except (ValueError, TypeError):
            return False
    return False


def default_tolerance(*dts) -> tuple[float, float]:
    """(rtol, atol) for comparing values of these dtypes: the loosest entry of the
    table among them; (0, 0) when none is a floating-point type (exact comparison)."""
    rtol = atol = 0.0
    for dt in dts:
        dt = np.dtype(dt)
        if not _is_float(dt):
            continue
        r, a = DEFAULT_TOLERANCES.get(dt.name, (1e-2, 1e-2))  # other 8/16-bit floats: the coarsest
        rtol, atol = max(rtol, r), max(atol, a)
    return rtol, atol


# ---------------------------------------------------------------------------------------------
# values: arrays as they are, tensors evaluated
# ---------------------------------------------------------------------------------------------
def _graph_element(x):
    """The Tensor `x` stands for (a Tensor, or a Variable's value), or None."""
    from staticflow.framework import ops as fops

    if isinstance(x, fops.Tensor):
        return x
    if hasattr(x, "initializer") and hasattr(x, "value") and callable(x.value):
        return x.value()
    return None


def short_location(loc) -> str:
    """'file:line' of a source location, the file relative to the working directory when
    it lies below it (as pytest shows paths)."""
    if not loc or loc[0].startswith("<"):
        return "<unknown location>"
    path = os.path.abspath(loc[0])
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        rel = path
    return f"{path if rel.startswith(os.pardir) else rel}:{loc[1]}"


def describe_tensor(t) -> str:
    """'Tensor 'name:0' (OpType, made at file:line)' for messages."""
    return f"Tensor '{t.name}' ({t.op.type}, made at {short_location(t.op.location)})"


def evaluate(values: list, session=None, feed_dict=None) -> list:
    """`values` with every Tensor or Variable replaced by its value, from one run.

    The run uses `session`, else the default session when it holds the tensors'
    graph, else a temporary session on that graph (whose variables are then
    uninitialized: a model with variables needs its session)."""
    from staticflow.runtime.session import Session, get_default_session

    elems = [_graph_element(v) for v in values]
    tensors = [t for t in elems if t is not None]
    if not tensors:
        return list(values)
    sess = session or get_default_session()
    if sess is not None and sess.graph is tensors[0].graph:
        fetched = sess.run(tensors, feed_dict)
    else:
        with Session(graph=tensors[0].graph) as tmp:
            fetched = tmp.run(tensors, feed_dict)
    it = iter(fetched)
    return [next(it) if t is not None else v for v, t in zip(values, elems)]


# ---------------------------------------------------------------------------------------------
# the comparison and its report
# ---------------------------------------------------------------------------------------------
def _fmt_index(idx: tuple) -> str:
    return (
        "()" if not idx else "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"
    )


def _summary(a: np.ndarray) -> str:
    with np.printoptions(threshold=60, edgeitems=3, linewidth=100):
        return np.array2string(a, separator=", ", prefix="  ").replace("\n", "\n  ")


def _as_compare_array(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind == "V" and _is_float(a.dtype):  # bfloat16 and friends: compare in float64
        return a.astype(np.float64)
    return a


def close_mask(actual: np.ndarray, desired: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Elementwise |actual - desired| <= atol + rtol * |desired|, with equal infinities
    and NaN against NaN counted as close (NumPy's assert_allclose with equal_nan)."""
    a, d = _as_compare_array(actual), _as_compare_array(desired)
    if a.dtype.kind in "OSUb" or d.dtype.kind in "OSUb" or (rtol == 0 and atol == 0):
        same = np.asarray(a == d)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            same = np.asarray(a == d) | (np.abs(a - d) <= atol + rtol * np.abs(d))
    if _is_float(np.asarray(actual).dtype) and _is_float(np.asarray(desired).dtype):
        same = same | (np.isnan(a) & np.isnan(d))
    return np.broadcast_to(same, np.broadcast_shapes(a.shape, d.shape))


def mismatch_report(
    actual,
    desired,
    rtol: float,
    atol: float,
    header: str = "Not close",
    actual_label: str = "",
    desired_label: str = "",
    names: tuple[str, str] = ("actual", "desired"),
) -> str | None:
    """None when `actual` and `desired` (same shape, or a scalar `desired`) are close;
    otherwise a report: mismatch count, the worst element (index, both values, the
    difference and what was allowed), the first few others, and both arrays. `names`
    are what the report calls the two values."""
    a_raw, d_raw = np.asarray(actual), np.asarray(desired)
    an, dn = names
    width = max(len(an), len(dn)) + 1
    exact = rtol == 0 and atol == 0
    tolerance = "" if exact else f"rtol={rtol:g}, atol={atol:g}; "
    lines = [f"{header} ({tolerance}{an} {a_raw.dtype.name}, {dn} {d_raw.dtype.name})"]
    if actual_label:
        lines.append(f"  {an + ':':<{width}} {actual_label}")
    if desired_label:
        lines.append(f"  {dn + ':':<{width}} {desired_label}")
    if a_raw.shape != d_raw.shape and d_raw.ndim != 0:
        lines.append(f"Shapes differ: {an} {a_raw.shape}, {dn} {d_raw.shape}")
        lines.append(f" {an + ':':<{width}} {_summary(a_raw)}")
        lines.append(f" {dn + ':':<{width}} {_summary(d_raw)}")
        return "\n".join(lines)
    close = close_mask(a_raw, d_raw, rtol, atol)
    if close.all():
        return None
    d_full = np.broadcast_to(d_raw, a_raw.shape)
    bad = np.argwhere(~close)
    bad_idx = tuple(bad.T)
    numeric = a_raw.dtype.kind not in "OSUb" and d_raw.dtype.kind not in "OSUb"
    if numeric:
        a64, d64 = _as_compare_array(a_raw), _as_compare_array(d_full)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            diff = np.abs(a64.astype(np.complex128 if a64.dtype.kind == "c" else np.float64) - d64)
            allowed = atol + rtol * np.abs(d64)
            # how far beyond the tolerance each mismatch is; NaN or infinite ones first
            excess = np.where(np.isfinite(diff), diff / np.where(allowed > 0, allowed, 1.0), np.inf)
        worst = tuple(bad[int(np.argmax(excess[bad_idx]))])
    else:
        worst = tuple(bad[0])
    n_bad, n = len(bad), a_raw.size
    lines.append(f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.3g}%)")
    lines.append(f"Worst mismatch at index {_fmt_index(worst)}: {an} {a_raw[worst]}, {dn} {d_full[worst]}")
    if numeric and not exact:
        lines.append(
            f"  |{an} - {dn}| = {diff[worst]:.6g}, allowed {allowed[worst]:.6g} (atol + rtol * |{dn}|)"
        )
    if numeric:
        bad_diff = diff[bad_idx]
        finite = np.isfinite(bad_diff)
        if finite.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = bad_diff[finite] / np.abs(d64[bad_idx][finite])
            lines.append(f"Max absolute difference among mismatches: {np.max(bad_diff[finite]):.6g}")
            lines.append(f"Max relative difference among mismatches: {np.max(rel):.6g}")
    others = [tuple(i) for i in bad[: _MAX_LISTED + 1] if tuple(i) != worst][:_MAX_LISTED]
    if others:
        lines.append(f"Other mismatches (index: {an} vs {dn}):")
        lines += [f"  {_fmt_index(i)}: {a_raw[i]} vs {d_full[i]}" for i in others]
        if n_bad - 1 > len(others):
            lines.append(f"  ... and {n_bad - 1 - len(others)} more")
    lines.append(f" {an + ':':<{width}} {_summary(a_raw)}")
    lines.append(f" {dn + ':':<{width}} {_summary(d_raw)}")
    return "\n".join(lines)


def _is_structure(x) -> bool:
    return isinstance(x, Mapping) or (isinstance(x, (list, tuple)) and _has_graph_elements(x))


def _has_graph_elements(x) -> bool:
    if isinstance(x, Mapping):
        return any(_has_graph_elements(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_graph_elements(v) for v in x)
    return _graph_element(x) is not None


def _leaves(actual, desired, path: str, out: list) -> None:
    """Pairs (path, actual leaf, desired leaf) of two nested structures, checked to match."""
    if hasattr(actual, "_asdict"):
        actual = actual._asdict()
    if hasattr(desired, "_asdict"):
        desired = desired._asdict()
    if isinstance(actual, Mapping) or isinstance(desired, Mapping):
        if not (isinstance(actual, Mapping) and isinstance(desired, Mapping)):
            raise AssertionError(f"at {path or 'the top'}: one value is a dict and the other is not")
        if set(actual) != set(desired):
            raise AssertionError(
                f"at {path or 'the top'}: keys differ: actual has {sorted(map(str, actual))}, "
                f"desired has {sorted(map(str, desired))}"
            )
        for k in actual:
            _leaves(actual[k], desired[k], f"{path}[{k!r}]", out)
        return
    if _is_structure(actual) or _is_structure(desired) or _ragged(actual) or _ragged(desired):
        # a structure against an array: the array's items along its first axis
        if isinstance(actual, np.ndarray) and actual.ndim:
            actual = list(actual)
        if isinstance(desired, np.ndarray) and desired.ndim:
            desired = list(desired)
        if not (isinstance(actual, (list, tuple)) and isinstance(desired, (list, tuple))):
            out.append((path, actual, desired))
            return
        if len(actual) != len(desired):
            raise AssertionError(
                f"at {path or 'the top'}: lengths differ: actual has {len(actual)} items, "
                f"desired has {len(desired)}"
            )
        for i, (a, d) in enumerate(zip(actual, desired)):
            _leaves(a, d, f"{path}[{i}]", out)
        return
    out.append((path, actual, desired))


def _ragged(x) -> bool:
    """A list or tuple that is no rectangular array (items of different shapes)."""
    if not isinstance(x, (list, tuple)):
        return False
    try:
        return np.asarray(x).dtype == object
    except ValueError:
        return True


def assert_all_close(
    actual,
    desired,
    rtol: float | None = None,
    atol: float | None = None,
    *,
    err_msg: str = "",
    session=None,
    feed_dict=None,
) -> None:
    """Assert that `actual` and `desired` are elementwise close.

    Either may be an array, a Python number, a Tensor or Variable (evaluated with
    `session`/`feed_dict`, or the default session) or a nested dict/list/tuple of
    those. Shapes must match (a scalar `desired` is compared with every element).
    Tolerances default by dtype (see DEFAULT_TOLERANCES); give `rtol`/`atol` to
    override; the test is |actual - desired| <= atol + rtol * |desired|.
    """
    __tracebackhide__ = True
    pairs: list = []
    _leaves(actual, desired, "", pairs)
    flat = evaluate([x for _, a, d in pairs for x in (a, d)], session, feed_dict)
    reports = []
    for k, (path, a_in, d_in) in enumerate(pairs):
        a_val, d_val = np.asarray(flat[2 * k]), np.asarray(flat[2 * k + 1])
        r_def, a_def = default_tolerance(a_val.dtype, d_val.dtype)
        r = r_def if rtol is None else rtol
        t = a_def if atol is None else atol
        a_elem, d_elem = _graph_element(a_in), _graph_element(d_in)
        header = ("Not equal" if r == 0 and t == 0 else "Not close") + (f" at {path}" if path else "")
        rep = mismatch_report(
            a_val,
            d_val,
            r,
            t,
            header,
            describe_tensor(a_elem) if a_elem is not None else "",
            describe_tensor(d_elem) if d_elem is not None else "",
        )
        if rep is not None:
            reports.append(rep)
    if reports:
        msg = "\n\n".join(reports)
        raise AssertionError(f"{err_msg}\n{msg}" if err_msg else msg)


def assert_all_equal(actual, desired, *, err_msg: str = "", session=None, feed_dict=None) -> None:
    """Assert that `actual` and `desired` are elementwise equal (NaN equals NaN);
    the same inputs and report as assert_all_close."""
    __tracebackhide__ = True
    assert_all_close(actual, desired, 0.0, 0.0, err_msg=err_msg, session=session, feed_dict=feed_dict)
