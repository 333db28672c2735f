"""check_gradients: a model's symbolic gradients against central differences, in float64.

The function under test is built on float64 placeholders in a graph of its own,
its outputs are weighted by random cotangents (so that a transposed or
mis-broadcast gradient cannot pass by symmetry), and the gradient of that sum
from sf.gradients is compared, element by element, with central differences of
the same sum computed by running the graph. A failure names the input, the
worst element (index, both values, the difference and what was allowed) and the
ops between that input and the outputs, with the source lines that made them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from staticflow.testing.assertions import short_location

_MAX_PATH_OPS = 12  # ops listed on the path from an input to the outputs


@dataclass
class InputCheck:
    """The comparison for one differentiated input."""

    name: str
    shape: tuple
    symbolic: np.ndarray  # the whole symbolic gradient of the weighted outputs
    numerical: np.ndarray  # central differences (NaN where an element was not sampled)
    checked: np.ndarray  # flat indices that were compared
    max_abs_error: float


@dataclass
class GradientCheck:
    """What check_gradients compared; returned when every checked element agrees."""

    inputs: list[InputCheck] = field(default_factory=list)
    cotangents: list[np.ndarray] = field(default_factory=list)

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.inputs), default=0.0)


def _fn_location(fn) -> str:
    try:
        path = inspect.getsourcefile(fn) or "<unknown>"
        line = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return "<unknown location>"
    return short_location((path, line))


def _input_names(fn, n: int) -> list[str]:
    """Names for the placeholders: fn's parameter names where it has them."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    names = params[:n] + [f"input_{i}" for i in range(len(params), n)]
    return names


def _path_ops(xs_tensor, ys) -> list:
    from staticflow import autodiff

    between = autodiff._between(ys, [xs_tensor], set())
    g = xs_tensor.graph
    return [op for op in g.get_operations() if op._id in between and op.type != "Placeholder"]


def _describe_op(op) -> str:
    from staticflow import autodiff

    text = f"{op.type} '{op.name}' ({short_location(op.location)})"
    override = autodiff._override_of(op)
    if override is not None:
        text += f" [gradient overridden by {override!r}]"
    return text


def check_gradients(
    fn,
    inputs,
    *,
    delta: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_elements: int | None = 256,
    seed: int = 0,
) -> GradientCheck:
    """Assert that the symbolic gradient of `fn` matches central differences.

    `fn(*tensors)` builds the computation and returns a Tensor or a list/tuple of
    Tensors. `inputs` is one array or a list of arrays, one per argument of `fn`:
    floating-point ones become float64 placeholders and are differentiated,
    integer and bool ones are fed as they are. Variables `fn` creates are
    initialized by their initializers. The compared quantity is
    sum_k <c_k, y_k> over the outputs y_k with standard-normal cotangents c_k
    (from `seed`); an element agrees when |symbolic - numerical| <= atol + rtol *
    |numerical|. At most `max_elements` elements of each input are perturbed
    (a seeded sample beyond that; None checks all). Returns a GradientCheck.
    """
    __tracebackhide__ = True
    from staticflow import autodiff
    from staticflow.framework import dtypes
    from staticflow.framework import ops as fops
    from staticflow.ops import array_ops, math_ops, state_ops
    from staticflow.runtime.session import Session
    from staticflow.testing.assertions import _is_float

    single = not isinstance(inputs, (list, tuple))
    values = [np.asarray(inputs)] if single else [np.asarray(v) for v in inputs]
    names = _input_names(fn, len(values))
    rng = np.random.default_rng(seed)
    graph = fops.Graph()
    with graph.as_default():
        phs, diff_idx = [], []
        for i, (v, name) in enumerate(zip(values, names)):
            if _is_float(v.dtype):
                values[i] = v = v.astype(np.float64)
                diff_idx.append(i)
            phs.append(array_ops.placeholder(dtypes.as_dtype(v.dtype), shape=v.shape, name=name))
        outs = fn(*phs)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for k, y in enumerate(outs):
            if not isinstance(y, fops.Tensor):
                raise TypeError(
                    f"check_gradients: fn returned {type(y).__name__} as output {k}, not a Tensor"
                )
        ys = [y for y in outs if y.dtype.is_floating]
        if not ys:
            raise TypeError("check_gradients: fn returned no floating-point output to differentiate")
        ys64 = [math_ops.cast(y, dtypes.float64) if y.dtype != dtypes.float64 else y for y in ys]
        init = state_ops.global_variables_initializer() if state_ops.global_variables() else None
    feeds = dict(zip(phs, values))
    report = GradientCheck()
    with Session(graph=graph) as sess:
        if init is not None:
            sess.run(init)
        shapes = [np.shape(v) for v in sess.run(ys64, feeds)]
        report.cotangents = [rng.standard_normal(s) for s in shapes]
        with graph.as_default():
            cs = [array_ops.constant(c, dtype=dtypes.float64) for c in report.cotangents]
            objective = math_ops.add_n([math_ops.reduce_sum(y * c) for y, c in zip(ys64, cs)])
            grads = autodiff.gradients(objective, [phs[i] for i in diff_idx])
        fetch = [g for g in grads if g is not None]
        sym_values = iter(sess.run(fetch, feeds))
        failures = []
        for i, gr in zip(diff_idx, grads):
            v, p = values[i], phs[i]
            sym = np.asarray(next(sym_values), np.float64) if gr is not None else np.zeros(v.shape)
            flat = np.arange(v.size)
            if max_elements is not None and v.size > max_elements:
                flat = np.sort(rng.choice(v.size, max_elements, replace=False))
            num = np.full(v.shape, np.nan)
            for j in flat:
                idx = np.unravel_index(j, v.shape)
                up, down = v.copy(), v.copy()
                up[idx] += delta
                down[idx] -= delta
                fu = sess.run(objective, {**feeds, p: up})
                fd = sess.run(objective, {**feeds, p: down})
                num[idx] = (fu - fd) / (2 * delta)
            sym_c, num_c = sym.reshape(-1)[flat], num.reshape(-1)[flat]
            err = np.abs(sym_c - num_c)
            allowed = atol + rtol * np.abs(num_c)
            bad = ~(err <= allowed)
            check = InputCheck(names[i], v.shape, sym, num, flat, float(np.nanmax(err)) if err.size else 0.0)
            report.inputs.append(check)
            if bad.any():
                failures.append((i, gr is None, check, flat, err, allowed, bad))
    if failures:
        raise AssertionError(_failure_text(fn, failures, phs, ys, len(values), delta, rtol, atol, seed))
    return report


def _failure_text(fn, failures, phs, ys, n_inputs, delta, rtol, atol, seed) -> str:
    fn_name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
    lines = [
        f"check_gradients: the symbolic gradient of `{fn_name}` ({_fn_location(fn)}) disagrees with "
        f"central differences"
    ]
    for i, unconnected, check, flat, err, allowed, bad in failures:
        excess = np.where(np.isfinite(err), err / allowed, np.inf)
        w = int(np.argmax(np.where(bad, excess, -1.0)))
        idx = np.unravel_index(int(flat[w]), check.shape)
        idx_s = "(" + ", ".join(str(int(k)) for k in idx) + ("," if len(idx) == 1 else "") + ")"
        sampled = (
            f" (a sample of {len(flat)} of {int(np.prod(check.shape))})"
            if len(flat) < np.prod(check.shape)
            else ""
        )
        lines.append(
            f"  input '{check.name}' (#{i} of {n_inputs}, shape {check.shape}): "
            f"{int(bad.sum())} of {len(flat)} checked elements{sampled} differ"
        )
        lines.append(
            f"    worst at index {idx_s}: symbolic {check.symbolic[idx]:.6g}, numerical "
            f"{check.numerical[idx]:.6g}, |difference| {err[w]:.3g} > allowed {allowed[w]:.3g}"
        )
        if unconnected:
            lines.append(
                "    sf.gradients found no path from the outputs to this input (gradient None), "
                "yet the outputs change with it"
            )
        ops = _path_ops(phs[i], ys)
        if ops:
            shown = ", ".join(_describe_op(op) for op in ops[:_MAX_PATH_OPS])
            more = f", ... ({len(ops) - _MAX_PATH_OPS} more)" if len(ops) > _MAX_PATH_OPS else ""
            lines.append(
                f"    ops between this input and the outputs, whose gradients are involved: {shown}{more}"
            )
    lines.append(
        f"  (compared: sum_k <c_k, y_k> with standard-normal cotangents c_k (seed {seed}); central "
        f"differences of width 2*{delta:g} in float64; allowed = {atol:g} + {rtol:g} * |numerical|)"
    )
    return "\n".join(lines)
