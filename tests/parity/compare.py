"""Comparing staticflow's results with TensorFlow's, aspect by aspect.

An aspect is one kind of agreement: "import" (both engines accept the GraphDef,
or both reject it), "dtypes", "shapes" (staticflow's static shapes at least as
precise as TensorFlow's, and compatible with the computed values), "values",
"gradients". `compare_case` returns the problems found, by aspect, so that the
differences list can excuse exactly the aspects it names.
"""

from __future__ import annotations

import numpy as np

from parity import summaries

ASPECTS = ("import", "dtypes", "shapes", "values", "gradients")


def is_float(dtype: np.dtype) -> bool:
    """NumPy's floats and ml_dtypes' (bfloat16, whose NumPy kind is "V")."""
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or (dtype.kind == "V" and dtype.name == "bfloat16")


def tolerance(dtype: np.dtype, rtol: float | None = None, grad: bool = False) -> float:
    """Relative tolerance for a dtype (also applied to the largest magnitude as an absolute
    one): the two engines round differently (summation order, vectorized transcendental
    functions), by a few units in the last place per operation; gradients chain several.
    bfloat16 keeps 8 significant bits: two of its units in the last place."""
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        base = 1.6e-2
    else:
        base = {2: 2e-3, 4: 2e-5, 8: 1e-10}.get(dtype.itemsize, 2e-5)
    if grad:
        base *= 5
    return max(base, rtol or 0.0)


def array_problem(
    got, want, what: str, rtol: float | None = None, grad: bool = False, values: bool = True
) -> str | None:
    """Why `got` (staticflow) differs from `want` (TensorFlow), or None. Floats within a
    dtype-aware tolerance relative to the largest magnitude, the rest exactly."""
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype and not (got.dtype.kind in "OSU" and want.dtype.kind in "OSU"):
        return f"{what}: dtype {got.dtype} != TensorFlow's {want.dtype}"
    if got.shape != want.shape:
        return f"{what}: shape {got.shape} != TensorFlow's {want.shape}"
    if not values:
        return None
    if is_float(want.dtype):
        r = tolerance(want.dtype, rtol, grad)
        if want.dtype.kind != "f":  # bfloat16 widens exactly to float32
            got, want = got.astype(np.float32), want.astype(np.float32)
        finite = np.abs(want[np.isfinite(want)])
        scale = float(finite.max()) if finite.size else 1.0
        try:
            np.testing.assert_allclose(got, want, rtol=r, atol=r * max(scale, 0.1), equal_nan=True)
        except AssertionError as e:
            return f"{what}: values differ{_detail(e)}"
        return None
    if want.dtype.kind in "OSU":
        g, w = _as_bytes(got), _as_bytes(want)
        return None if g == w else f"{what}: strings differ: {g[:6]} != TensorFlow's {w[:6]}"
    if not np.array_equal(got, want):
        return f"{what}: values differ{_detail_exact(got, want)}"
    return None


def _summary_outputs(op: str, names: list[str]) -> set[str]:
    """The op's outputs that hold serialized Summary protocol buffers: string outputs that
    the registry names "summary", as TensorFlow's summary ops do."""
    from staticflow.framework import dtypes
    from staticflow.ops import registry

    d = registry.lookup(op)
    if d is None or len(d.outputs) != len(names):
        return set()
    return {n for n, a in zip(names, d.outputs) if a.name == "summary" and a.dtype is dtypes.string}


def _canonical_summaries(a) -> np.ndarray:
    a = np.asarray(a)
    flat = [summaries.canonical(x if isinstance(x, bytes) else str(x).encode()) for x in a.ravel()]
    return np.array(flat, dtype=object).reshape(a.shape)


def _as_bytes(a: np.ndarray) -> list[bytes]:
    """A string tensor's elements as bytes (TensorFlow's strings are bytes, not text: a
    serialized protocol buffer or a PNG is no UTF-8)."""
    return [x if isinstance(x, bytes) else str(x).encode() for x in a.ravel()]


def _detail(e: AssertionError) -> str:
    lines = [ln for ln in str(e).splitlines() if ln.strip() and "Not equal" not in ln]
    return ":\n    " + "\n    ".join(lines[:8])


def _detail_exact(got, want) -> str:
    bad = np.argwhere(got != want) if got.ndim else np.zeros((1, 0), int)
    idx = tuple(bad[0]) if len(bad) else ()
    return f" ({len(bad)} elements) first at {idx}: staticflow {got[idx]!r}, TensorFlow {want[idx]!r}"


def shape_problem(sf_shape, tf_shape, actual, what: str) -> str | None:
    """staticflow's static shape must know everything TensorFlow's knows (and agree),
    and both must be compatible with the computed value's shape `actual` (or None)."""
    if tf_shape is not None:
        if sf_shape is None:
            return f"{what}: static shape of unknown rank; TensorFlow infers {_fmt(tf_shape)}"
        if len(sf_shape) != len(tf_shape):
            return f"{what}: static shape {_fmt(sf_shape)}, TensorFlow infers {_fmt(tf_shape)}"
        for a, b in zip(sf_shape, tf_shape):
            if b is not None and a != b:
                return (
                    f"{what}: static shape {_fmt(sf_shape)} is less precise "
                    f"than TensorFlow's {_fmt(tf_shape)}"
                )
    if actual is not None:
        for name, s in (("staticflow's", sf_shape), ("TensorFlow's", tf_shape)):
            if s is None:
                continue
            if len(s) != len(actual) or any(d is not None and d != a for d, a in zip(s, actual)):
                return (
                    f"{what}: {name} static shape {_fmt(s)} disagrees with the computed shape {tuple(actual)}"
                )
    return None


def _fmt(shape) -> str:
    if shape is None:
        return "<unknown>"
    return (
        "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def compare_case(b, sf_res, tf_res, skip: frozenset = frozenset()) -> dict[str, list[str]]:
    """Problems by aspect between staticflow's run of a built case and TensorFlow's.
    Aspects in `skip` differ on purpose: "values" then still compares shapes and dtypes."""
    problems: dict[str, list[str]] = {}

    def add(aspect, text):
        if text is not None and aspect not in skip:
            problems.setdefault(aspect, []).append(text)

    if tf_res.import_error or sf_res.import_error:
        if not (tf_res.import_error and sf_res.import_error):
            if sf_res.import_error:
                add("import", f"staticflow rejects the graph that TensorFlow accepts: {sf_res.import_error}")
            else:
                add("import", f"TensorFlow rejects the graph that staticflow accepts: {tf_res.import_error}")
        return problems

    # static shapes and dtypes of the op's outputs
    actual = {}
    for step, tf_step in zip(b.steps, tf_res.steps):
        if tf_step.error is None:
            for n, v in zip(step.fetches, tf_step.outputs):
                actual.setdefault(n, np.shape(v))
    for name in b.outputs:
        (s_sf, dt_sf), (s_tf, dt_tf) = sf_res.shapes[name], tf_res.shapes[name]
        if dt_sf != dt_tf:
            add("dtypes", f"{name}: dtype {dt_sf}, TensorFlow's {dt_tf}")
        add("shapes", shape_problem(s_sf, s_tf, actual.get(name), name))

    # values, step by step; serialized Summary protocol buffers by their content
    summary_outputs = {n for n in b.outputs if n in _summary_outputs(b.op, b.outputs)}
    for k, (step, (err, got), tf_step) in enumerate(zip(b.steps, sf_res.steps, tf_res.steps)):
        if err or tf_step.error:
            if not (err and tf_step.error):
                add("values", f"run {k}: staticflow: {err or 'ok'}; TensorFlow: {tf_step.error or 'ok'}")
            continue
        for n, g, w in zip(step.fetches, got, tf_step.outputs):
            if n in summary_outputs:
                g, w = _canonical_summaries(g), _canonical_summaries(w)
            add("values", array_problem(g, w, f"run {k}, {n}", b.case.rtol, values="values" not in skip))

    # gradients of the weighted sum of the outputs
    if b.grad is not None and "gradients" not in skip:
        if sf_res.grad_error or tf_res.grad_error:
            if not (sf_res.grad_error and tf_res.grad_error):
                add(
                    "gradients",
                    f"staticflow: {sf_res.grad_error or 'ok'}; TensorFlow: {tf_res.grad_error or 'ok'}",
                )
        else:
            for x, g, w in zip(b.grad.xs, sf_res.grads, tf_res.grads):
                if (g is None) != (w is None):
                    add(
                        "gradients",
                        f"d/d{x}: staticflow {'None' if g is None else 'a gradient'}, "
                        f"TensorFlow {'None' if w is None else 'a gradient'}",
                    )
                elif g is not None:
                    add("gradients", array_problem(g, w, f"d/d{x}", b.case.rtol, grad=True))
    return problems
