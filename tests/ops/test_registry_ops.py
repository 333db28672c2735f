"""Tests generated from the op registry: every declared op, every case.

Each case runs through a Session (planner + C kernels) and is compared with
the op's NumPy reference; its construction-time shape inference is checked
against the real output shapes (with inputs of unknown dimensions too), and
the graph survives a GraphDef round trip with the same results.
"""

from __future__ import annotations

import pathlib

import numpy as np
import ondevice
import pytest

import staticflow as sf
from staticflow.backends import cpu
from staticflow.framework import dtypes
from staticflow.ops import builder, casegen, registry

RNG_SEED = 1234


def _cases(d):
    return d.cases(np.random.default_rng(RNG_SEED))


ALL_OPS = registry.all_ops()
PARAMS = [pytest.param(d.name, i, id=f"{d.name}-{i}") for d in ALL_OPS for i in range(len(_cases(d)))]


# 16-bit floats: a few units in the last place (their kernels round float32
# results, whose libm may differ from NumPy's in the last bit before rounding)
_RTOL = {
    np.dtype(np.float32): 2e-5,
    np.dtype(np.float16): 2e-3,
    dtypes.bfloat16.np: 1.6e-2,
}


def _tol(case, arr):
    """Relative tolerance per element, plus the same fraction of the largest magnitude
    (rounding in sums and products scales with the operands, not the result)."""
    if not dtypes.as_dtype(arr.dtype).is_floating:
        return None
    rtol = max(case.rtol or 0, _RTOL.get(arr.dtype, 1e-12))
    finite = np.abs(arr[np.isfinite(arr)])
    scale = float(finite.max()) if finite.size else 1.0
    return dict(rtol=rtol, atol=rtol * max(scale, 0.1))


def assert_same(got, want, case, what=""):
    want = np.asarray(want)
    # a scalar fetch is a NumPy scalar, or bytes for a string, as in TensorFlow
    got = np.asarray(got, dtype=object) if isinstance(got, bytes) else np.asarray(got)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    tol = _tol(case, want)
    if want.dtype == dtypes.bfloat16.np:  # NumPy's comparisons see bfloat16 through float32
        got, want = got.astype(np.float32), want.astype(np.float32)
    if tol is None:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, err_msg=what, equal_nan=True, **tol)


def _flat_args(d, case):
    """(Arg, array) per flattened input, with the grouping to rebuild op inputs."""
    out, groups = [], []
    for a, v in zip(d.inputs, case.inputs):
        if a.is_list:
            groups.append(len(v))
            out.extend((a, np.asarray(x)) for x in v)
        else:
            groups.append(None)
            out.append((a, np.asarray(v)))
    return out, groups


def _build(d, case, mode):
    """Build the case's op. mode: 'feed' (placeholders with unknown dims) or 'const'."""
    flat, groups = _flat_args(d, case)
    feeds, tensors = {}, []
    for a, v in flat:
        dt = dtypes.as_dtype(v.dtype)
        if a.host or mode == "const" or a.ref:
            tensors.append(sf.constant(v, dtype=dt))
        else:
            ph = sf.placeholder(dt, shape=[None] * v.ndim)
            feeds[ph] = v
            tensors.append(ph)
    grouped, i = [], 0
    for n in groups:
        if n is None:
            grouped.append(tensors[i])
            i += 1
        else:
            grouped.append(tensors[i : i + n])
            i += n
    return grouped, feeds


def _run_special(d, case):
    """Ops whose value does not come from inputs: placeholders and variables."""
    g = sf.Graph()
    with g.as_default(), ondevice.scope(), ondevice.session(g) as sess:
        if d.name == "Placeholder":
            dt = case.attrs["dtype"]
            x = builder.apply_op("Placeholder", [], case.attrs).outputs[0]
            v = np.asarray(np.random.default_rng(0).uniform(-3, 3, (2, 3))).astype(dt.np)
            assert_same(sess.run(x, {x: v}), v, case, "fed placeholder")
            with pytest.raises(sf.errors.InvalidArgumentError, match="must feed a value for placeholder"):
                sess.run(x)
            return
        if d.name == "VariableV2":
            var = builder.apply_op("VariableV2", [], case.attrs).outputs[0]
            dt = case.attrs["dtype"]
            v = (
                casegen.rand(np.random.default_rng(0), (2, 3), dt)
                if dt is dtypes.string
                else np.arange(6).reshape(2, 3).astype(dt.np)
            )
            sess.run(sf.assign(var, v))
            assert_same(sess.run(var), v, case, "variable value")
            return
        # ops that update variables: each ref input is a variable holding the case's value
        flat, groups = _flat_args(d, case)
        ins, refs = [], []
        for a, v in flat:
            if a.ref:
                var = builder.apply_op(
                    "VariableV2", [], {"shape": sf.TensorShape(v.shape), "dtype": dtypes.as_dtype(v.dtype)}
                ).outputs[0]
                sess.run(sf.assign(var, v))
                refs.append(var)
                ins.append(var)
            else:
                ins.append(sf.constant(v))
        out = builder.apply_op(d.name, ins, case.attrs).outputs[0]
        arrays = [v.copy() for _, v in flat]
        want = builder.run_reference(d, arrays, out.op.attrs)[0]
        assert_same(sess.run(out), want, case, "update result")
        updated = [(a, arr) for (a, _), arr in zip(flat, arrays) if a.ref]
        for (a, arr), var in zip(updated, refs):
            assert_same(sess.run(var), arr, case, f"variable {a.name} after the update")


@pytest.mark.parametrize("op_name,index", PARAMS)
def test_op_matches_reference(op_name, index):
    d = registry.get(op_name)
    case = _cases(d)[index]
    if case.scenario is not None:  # an op of session state: it checks itself
        case.scenario(sf)
        return
    if case.label in ("feed", "variable"):
        _run_special(d, case)
        return
    flat, _ = _flat_args(d, case)
    want = None
    for mode in ("feed", "const"):
        g = sf.Graph()
        with g.as_default(), ondevice.scope():
            inputs, feeds = _build(d, case, mode)
            op = builder.apply_op(d.name, inputs, dict(case.attrs))
        if want is None:
            try:  # the reference sees the attrs as the op holds them (defaults, inferred types)
                want = builder.run_reference(d, [v for _, v in flat], op.attrs)
            except (ValueError, IndexError, ZeroDivisionError) as e:
                pytest.fail(f"reference raised on a valid case: {e}")
        got = ondevice.run(g, list(op.outputs) if op.outputs else op, feeds, d.name)
        if not op.outputs:
            assert got is None
            continue
        for j, (t, gv, wv) in enumerate(zip(op.outputs, got, want)):
            assert_same(gv, wv, case, f"{op_name} output {j} ({mode} inputs)")
            assert t.shape.is_compatible_with(np.shape(gv)), (
                f"static shape {t.shape} disagrees with the computed {np.shape(gv)} ({mode} inputs)"
            )
            if mode == "const" and case.label != "partial_shape":
                assert t.shape.is_fully_defined(), f"shape not inferred from constant inputs: {t.shape}"
            assert t.dtype.np == (np.dtype(object) if isinstance(gv, bytes) else gv.dtype)
        # GraphDef round trip: same values from the re-imported graph (an op only the compiler
        # makes is refused on import: tests/passes/test_remap.py)
        if mode == "feed" and not d.internal:
            data = g.as_graph_def().SerializeToString()
            g2 = sf.Graph()
            with g2.as_default():
                sf.import_graph_def(sf.GraphDef.FromString(data), name="")
            feeds2 = {g2.get_tensor_by_name(t.name): v for t, v in feeds.items()}
            got2 = ondevice.run(g2, [g2.get_tensor_by_name(t.name) for t in op.outputs], feeds2, d.name)
            for a, b in zip(got, got2):
                np.testing.assert_array_equal(a, b)


def test_every_op_has_cases_and_complete_declaration():
    problems = registry.validate(set(cpu.kernel_table()))
    assert not problems, "\n".join(problems)
    root = pathlib.Path(__file__).resolve().parents[2]
    for d in ALL_OPS:
        if d.tested_by is not None:  # built by a pass from plan-time objects, tested there
            assert d.internal and (root / d.tested_by).is_file(), f"{d.name}: tested_by {d.tested_by}"
            continue
        assert len(_cases(d)) > 0, f"{d.name} has no test cases"


def test_every_kernel_is_used_by_some_op():
    declared = {k for d in ALL_OPS for k in d.kernels}
    unused = sorted(set(cpu.kernel_table()) - declared)
    assert not unused, f"kernels no op declares (untested through the registry): {unused}"
