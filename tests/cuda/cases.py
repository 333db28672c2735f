"""Inputs for every CUDA kernel, by name, and the comparison with its C kernel.

A CUDA kernel sf_cuda_<op>_<dtype> has the C kernel sf_cpu_<op>_<dtype> as its
reference (the C kernels are tested against NumPy in tests/kernels). `cases`
builds, for a kernel name, calls of it on strided, broadcast and edge-case
views; `run_and_compare` runs one call through a kernel caller (the CPU-compiled
bodies of test_bodies.py, or the GPU through staticflow.backends.cuda in
test_gpu.py) and through the C kernel on copies of the same arrays, and
compares every output and every input the kernel writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import ml_dtypes  # noqa: F401  (registers NumPy's "bfloat16")
import numpy as np

from staticflow.ops import scalar_table

DTYPES = ["float32", "float64", "int32", "int64", "int8", "int16", "uint8", "uint16", "uint32", "uint64",
          "bool", "float16", "bfloat16"]
FLOATS = ("float32", "float64")
HALF = ("float16", "bfloat16")  # stored in 16 bits, computed in float32


@dataclasses.dataclass
class Case:
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    iattr: tuple = ()
    fattr: tuple = ()
    # inputs the kernel writes (optimizer slots, random state)
    written: tuple = ()
    label: str = ""


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(abs(hash(name)) % (2**32))


def values(rng, dtype: str, shape, positive: bool = False) -> np.ndarray:
    dt = np.dtype(dtype)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dt.kind == "f" or dtype in HALF:
        v = rng.standard_normal(shape) * 3
        return (np.abs(v) + 0.1 if positive else v).astype(dt)
    info = np.iinfo(dt)
    lo, hi = (1, 6) if positive else (max(info.min, -50), min(info.max, 50))
    return rng.integers(lo, hi + 1, size=shape).astype(dt)


def _view_out(dtype: str, shape) -> np.ndarray:
    """An output view with a gap between its columns (stride 2 in the last dim) in a
    buffer of 7s: elements outside the view must stay 7."""
    base = np.full(tuple(shape[:-1]) + (2 * shape[-1],), 7).astype(dtype)
    return base[..., ::2]


def _split(name: str) -> tuple[str, str]:
    """(op, dtype) of sf_cuda_<op>_<dtype>."""
    rest = name[len("sf_cuda_"):]
    for dt in sorted(DTYPES, key=len, reverse=True):
        if rest.endswith("_" + dt):
            return rest[: -len(dt) - 1], dt
    raise ValueError(name)


def cases(name: str) -> list[Case]:
    rng = _rng(name)
    rest = name[len("sf_cuda_"):]
    if rest.startswith("cast_"):
        src, dst = None, None
        for s in DTYPES:
            if rest.startswith(f"cast_{s}_") and rest[len(f"cast_{s}_"):] in DTYPES:
                src, dst = s, rest[len(f"cast_{s}_"):]
        x = values(rng, src, (4, 6))
        if src in FLOATS:
            x.flat[:6] = [np.nan, np.inf, -np.inf, 3e9, -3e9, -0.7]
        if src in HALF:
            x.flat[:6] = [np.nan, np.inf, -np.inf, -0.7, 3e4, -1e-6 if src == "float16" else -3e38]
        if dst in HALF and src in FLOATS:
            # past float16's largest (65504), its subnormals, float16's and bfloat16's ties
            x.flat[6:14] = [65519.0, 65520.0, 3e-6, -1e-8, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11,
                            1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8]
        out = _view_out(dst, (6, 4))
        return [Case([x.T], [out])]
    if rest.startswith("reduce_"):
        return _reduce_cases(name, rng)
    if "softmax" in rest:
        return _nn_cases(name, rng)
    if rest.startswith("apply_"):
        return _apply_cases(name, rng)
    if rest.startswith(("random_", "truncated_normal_")):
        return _random_cases(name, rng)
    if "candidate_sampler" in rest:
        return _sampler_cases(name, rng)
    if rest.startswith(("fused_", "gemm_apply_", "bias_activation_grad_")):
        return _fused_cases(name, rng)
    if rest.startswith("matmul_"):
        return _matmul_cases(name, rng)
    if "conv2d" in rest:
        return _conv_cases(name, rng)
    if rest.startswith("unsorted_segment_sum_"):
        _, dt = _split(name)
        data = values(rng, dt, (9, 3))
        ids = np.array([4, 0, -1, 4, 2, 4, -3, 0, 1])
        big = values(rng, dt, (600, 2))
        return [Case([data, ids], [np.full((5, 3), 7).astype(dt)], label="int64 ids"),
                Case([data, ids.astype(np.int32)], [np.full((6, 3), 7).astype(dt)], label="int32 ids"),
                Case([big, rng.integers(-1, 3, 600)], [np.zeros((3, 2), dt)], label="many rows per segment"),
                Case([data[:0], ids[:0]], [np.full((2, 3), 7).astype(dt)], label="no rows")]
    if rest.startswith(("top_k_", "in_top_k_")):
        return _topk_cases(name, rng)
    if "_pool" in rest:
        return _pool_cases(name, rng)
    if rest.startswith(("argmax_", "argmin_")):
        return _arg_cases(name, rng)
    if rest.startswith("check_numerics_"):
        _, dt = _split(name)
        x = values(rng, dt, (6, 10))[::-1, ::2]
        y = x.copy()
        return [Case([x], [_view_out(dt, (6, 5))], label="copy"), Case([x], [], label="check only"),
                Case([y], [y], label="in place")]
    op, dt = _split(name)
    if op == "gather":
        params = values(rng, dt, (2, 5, 3))
        out = np.zeros((2, 4, 3), dtype=dt)
        return [Case([params, np.array([4, 0, 2, 4], dtype=np.int64)], [out]),
                Case([params[:, ::-1, ::2], np.array([1, 3, 0, 1], dtype=np.int32)],
                     [np.zeros((2, 4, 2), dt)])]
    if op == "one_hot":
        ix = np.array([[0, 3, -1], [2, 5, 1]], dtype=np.int64)
        on, off = np.array(values(rng, dt, ())), np.array(values(rng, dt, ()))
        return [Case([ix, on, off], [np.zeros((2, 4, 3), dt)]),
                Case([ix.astype(np.int32).T.copy().T, on, off], [np.zeros((2, 4, 3), dt)])]
    if op == "copy":
        x = values(rng, dt, (5, 6))
        out = _view_out(dt, (6, 5))
        fill = np.broadcast_to(values(rng, dt, ()), (6, 5))
        big = values(rng, dt, (70, 45))
        return [Case([x.T[:, ::-1]], [out]), Case([fill], [np.zeros((6, 5), dt)]),
                Case([x.T], [np.zeros((6, 5), dt)], label="transpose"),
                Case([big.T], [np.zeros((45, 70), dt)], label="transpose, partial tiles")]
    if op == "select":
        cond = rng.random((3, 1, 5)) < 0.5
        x, y = values(rng, dt, (4, 5)), values(rng, dt, (3, 4, 1))
        out = _view_out(dt, (3, 4, 5))
        return [Case([cond, x, y], [out])]
    if op == "addn":
        out = []
        for k in (1, 2, 3, 5, 7):
            xs = [values(rng, dt, (3, 4)) for _ in range(k)]
            xs[0] = xs[0].T.copy().T  # Fortran order: a strided view
            o = _view_out(dt, (3, 4))
            out.append(Case(xs, [o], label=f"{k} inputs"))
        return out
    return _elementwise_cases(op, dt, rng)


def _elementwise_cases(op: str, dt: str, rng) -> list[Case]:
    unary = scalar_table.lookup(op, dt, 1)
    entry = unary or scalar_table.lookup(op, dt, 2)
    if entry is None:
        raise KeyError(f"{op}_{dt} is not in the scalar table")
    odt = entry[1]
    fattr = (0.2,)
    positive = dt not in FLOATS + HALF and op in ("floordiv", "mod", "pow")
    if unary:
        base = values(rng, dt, (6, 10))
        x = base[::-1, ::2]  # negative and step strides
        out = _view_out(odt, (6, 5))
        return [Case([x], [out], fattr=fattr),
                Case([np.asarray(values(rng, dt, ()))], [np.zeros((), odt)], fattr=fattr, label="0-d")]
    x = values(rng, dt, (3, 1, 5))
    y = values(rng, dt, (4, 10), positive=positive)[:, ::2]
    out = _view_out(odt, (3, 4, 5))
    same = values(rng, dt, (257,))
    return [Case([x, y], [out], fattr=fattr, label="broadcast"),
            Case([same, values(rng, dt, (257,), positive=positive)], [np.zeros(257, odt)], fattr=fattr,
                 label="contiguous"),
            Case([np.asarray(values(rng, dt, ())), values(rng, dt, (257,), positive=positive)],
                 [np.zeros(257, odt)],
                 fattr=fattr, label="scalar")]


def _reduce_cases(name: str, rng) -> list[Case]:
    op, dt = _split(name)
    out = []
    # (input view, reduced trailing dims): row mode, column mode, several dims, empty, scalar
    shaped = [
        (values(rng, dt, (3, 1000)), 1),
        (values(rng, dt, (700, 40)).T, 1),  # [40, 700] strides (1, 40): column sums
        (values(rng, dt, (2, 6, 50, 4))[:, ::2].transpose(0, 3, 1, 2), 2),
        (values(rng, dt, (5, 0)), 1),
        (values(rng, dt, (4, 33))[:, ::-1], 2),
        (values(rng, dt, (64, 7)), 1),
    ]
    if dt in FLOATS and op in ("max", "min"):
        a = values(rng, dt, (2, 300))
        a[1, 123] = np.nan
        shaped.append((a, 1))
    if op == "prod" and dt in FLOATS:
        shaped = [(np.abs(a) ** 0.01 * np.sign(a) if a.size else a, k) for a, k in shaped]
    for a, k in shaped:
        kept = a.shape[: a.ndim - k]
        out.append(Case([a], [np.zeros(kept, dtype=a.dtype)], iattr=(k,), label=f"{a.shape} over {k}"))
    return out


def _nn_cases(name: str, rng) -> list[Case]:
    rest = name[len("sf_cuda_"):]
    dt = "float64" if "float64" in rest else "float32"
    if rest.startswith(("softmax_float", "log_softmax_float")):
        a = values(rng, dt, (3, 5, 700))
        b = values(rng, dt, (4, 9))[:, ::-2]
        return [Case([a], [np.zeros_like(a)]), Case([b], [np.zeros(b.shape, dt)]),
                Case([a[:, :, :3]], [np.zeros((3, 5, 3), dt)])]
    logits = values(rng, dt, (6, 300)) * 10
    if rest.startswith("softmax_xent"):
        lab = rng.random((6, 300)).astype(dt)
        lab /= lab.sum(1, keepdims=True)
        row = np.broadcast_to(lab[:1], (6, 300))
        return [Case([logits, lab], [np.zeros(6, dt), np.zeros((6, 300), dt)]),
                Case([logits[:, ::3], row[:, ::3]], [np.zeros(6, dt), np.zeros((6, 100), dt)],
                     label="strided")]
    it = np.int64 if rest.endswith("int64") else np.int32
    labels = np.array([0, 299, 5, 7, 7, 100], dtype=it)
    return [Case([logits, labels], [np.zeros(6, dt), np.zeros((6, 300), dt)])]


_APPLY_INPUTS = {  # (names, which are variable-shaped)
    "gradient_descent": ("var alpha delta", "101"),
    "momentum": ("var accum lr grad momentum", "11010"),
    "adam": ("var m v beta1_power beta2_power lr beta1 beta2 epsilon grad", "1110000001"),
    "rms_prop": ("var ms mom lr rho momentum epsilon grad", "11100001"),
    "centered_rms_prop": ("var mg ms mom lr rho momentum epsilon grad", "111100001"),
    "adagrad": ("var accum lr grad", "1101"),
}
_SCALARS = {"alpha": 0.1, "lr": 0.01, "momentum": 0.9, "beta1_power": 0.9**3, "beta2_power": 0.999**3,
            "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "rho": 0.9}


def _apply_cases(name: str, rng) -> list[Case]:
    op, dt = _split(name)
    opt = op[len("apply_"):]
    names, mask = _APPLY_INPUTS[opt]
    out = []
    for flag in (0, 1):
        ins = []
        for nm, vec in zip(names.split(), mask):
            if vec == "1":
                v = rng.standard_normal((37, 11)).astype(dt)
                if nm in ("v", "ms", "accum"):
                    v = np.abs(v) + 0.5  # second moments are positive
                if nm == "mg":
                    v = v * 0.1
                ins.append(v)
            else:
                ins.append(np.array(_SCALARS[nm], dtype=dt))
        written = tuple(i for i, (nm, v) in enumerate(zip(names.split(), mask))
                        if v == "1" and nm not in ("grad", "delta"))
        out.append(Case(ins, [], iattr=(flag,), written=written, label=f"flag {flag}"))
    return out


def _random_cases(name: str, rng) -> list[Case]:
    rest = name[len("sf_cuda_"):]
    dt = rest.rsplit("_", 1)[1]
    out = []
    for n, seed in ((1, 3), (1001, 7), (4096, 2**40 + 5)):
        state = np.array([seed, 11, 2**32 - 3], dtype=np.int64)  # the counter crosses 2^32
        ins = [state]
        if "uniform_int" in rest:
            ins += [np.array(-5, dtype=dt), np.array(1000 if n > 1 else -4, dtype=dt)]
        out.append(Case(ins, [np.zeros(n, dtype=dt)], written=(0,), label=f"{n} values"))
    return out


def _matmul_cases(name: str, rng) -> list[Case]:
    """Every way cuBLAS reads an operand: in place (row- or column-major, either
    transpose), packed (other strides), a linear batch (one strided-batched call), a
    broadcast batch (a call per element), a column-major or strided out, K = 0."""
    _, dt = _split(name)
    out = []
    for ta in (0, 1):
        for tb in (0, 1):
            a = values(rng, dt, (7, 5) if ta else (5, 7))
            b = values(rng, dt, (3, 7) if tb else (7, 3))
            out.append(Case([a, b], [np.zeros((5, 3), dt)], iattr=(ta, tb), label=f"ta {ta} tb {tb}"))
    a, b = values(rng, dt, (4, 5, 7)), values(rng, dt, (4, 7, 3))
    out.append(Case([a, b], [np.zeros((4, 5, 3), dt)], label="linear batch"))
    out.append(Case([a[:1], b], [np.zeros((4, 5, 3), dt)], label="a broadcast over the batch"))
    a2, b2 = values(rng, dt, (2, 1, 5, 7)), values(rng, dt, (1, 3, 7, 4))
    out.append(Case([a2, b2], [np.zeros((2, 3, 5, 4), dt)], label="broadcast batch dims"))
    a3, b3 = values(rng, dt, (5, 7)), values(rng, dt, (7, 3))
    out.append(Case([a3[None], b3[None]], [np.zeros((1, 3, 5), dt).transpose(0, 2, 1)],
                    label="column-major out"))
    out.append(Case([values(rng, dt, (3, 0)), values(rng, dt, (0, 4))], [np.full((3, 4), 7).astype(dt)],
                    label="K = 0"))
    out.append(Case([values(rng, dt, (1, 7)), values(rng, dt, (7, 1))], [np.zeros((1, 1), dt)],
                    label="1 x 1"))
    return out


def check_numerics_errors(both: Callable) -> None:
    """check_numerics on NaN, Inf and both: `both(name, ins, outs)` runs the CUDA kernel and
    the C kernel and returns their messages."""
    for dt in FLOATS:
        for bad, want in (([np.nan], "NaN"), ([np.inf], "Inf"), ([np.nan, -np.inf], "Inf and NaN")):
            x = np.arange(12, dtype=dt).reshape(3, 4)[:, ::-1]
            x.flat[[5, 9][: len(bad)]] = bad
            got, ref = both(f"check_numerics_{dt}", [x], [np.zeros((3, 4), dt)])
            assert got == ref == f"Tensor had {want} values", (got, ref)


def check_matmul_layouts(call: Callable) -> None:
    """Operands and outputs the C kernel packs only with a workspace (which the test
    callers do not pass): cuBLAS's plan packs them itself. Checked against NumPy."""
    rng = np.random.default_rng(5)
    for dt in ("float32", "float64", "int32", "int64"):
        a = values(rng, dt, (2, 5, 14))[:, :, ::2]  # both matrix strides > 1
        b = values(rng, dt, (3, 7, 2))[:, :, 0].T[None]  # [1, 7, 3], strides (0, 2, 14)
        buf = np.full((2, 5, 6), 7).astype(dt)
        out = buf[:, :, ::2]
        call(f"sf_cuda_matmul_{dt}", [a, b], [out], (0, 0), ())
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        if dt.startswith("float"):
            rtol = 1e-4 if dt == "float32" else 1e-12
            np.testing.assert_allclose(out, want, rtol=rtol, atol=1e-4, err_msg=dt)
        else:
            np.testing.assert_array_equal(out, want.astype(dt), err_msg=dt)
        np.testing.assert_array_equal(buf[:, :, 1::2], 7)


def _arg_cases(name: str, rng) -> list[Case]:
    """Rows of a view (long, strided, transposed: adjacent rows adjacent in memory), ties,
    and for floats NaN (never chosen) and rows of NaN or infinities (index 0)."""
    op, dt = _split(name)
    a = values(rng, dt, (5, 300))
    a[1, 7] = a[1, 200] = a[1].max() if op == "argmax" else a[1].min()  # a tie: the first wins
    if dt in FLOATS:
        a[2, :] = np.nan
        a[3, 10] = np.nan
        a[4, :] = -np.inf if op == "argmax" else np.inf
    b = values(rng, dt, (40, 6)).T  # [6, 40], strides (1, 6)
    return [Case([a], [np.zeros(5, np.int64)], label="rows, int64"),
            Case([a[:, ::-3]], [np.zeros(5, np.int32)], label="strided rows, int32"),
            Case([b], [np.zeros(6, np.int64)], label="transposed"),
            Case([values(rng, dt, (3, 4, 5))[:, ::2]], [np.zeros((3, 2), np.int32)], label="3-d"),
            Case([values(rng, dt, (1,))], [np.zeros((), np.int64)], label="one element")]


def _topk_cases(name: str, rng) -> list[Case]:
    """top_k: strided rows with ties (by index) and NaN (above every number), k from 0 to n;
    in_top_k: ties, targets out of range, a row with NaN, one with Inf."""
    rest = name[len("sf_cuda_"):]
    if rest.startswith("in_top_k"):
        it = rest.rsplit("_", 1)[1]
        pred = np.round(values(rng, "float32", (7, 12)))
        pred[4, 3] = np.nan
        pred[5, 0] = np.inf
        targets = np.array([0, 11, 5, -1, 2, 3, 12], dtype=it)
        return [Case([pred, targets, np.array(k, dtype=it)], [np.zeros(7, bool)], label=f"k {k}")
                for k in (0, 1, 3, 12)]
    _, dt = _split(name)
    x = np.round(values(rng, dt, (4, 100)) / 2).astype(dt)[:, ::2]  # [4, 50], ties
    if dt in FLOATS:
        x[1, [3, 30]] = np.nan
        x[2, 7] = -np.inf
    return [Case([x], [np.zeros((4, k), dt), np.zeros((4, k), np.int32)], label=f"k {k}")
            for k in (0, 1, 5, 50)]


def _pool_cases(name: str, rng) -> list[Case]:
    """Overlapping and disjoint windows, padding (clipped windows), ties (the first max
    wins), NaN and -inf windows."""
    rest = name[len("sf_cuda_"):]
    dt = rest.rsplit("_", 1)[1]
    op = rest[: -len(dt) - 1]
    out = []
    # (H, W, KH, KW, stride, (pt, pb), (pl, pr))
    geos = [(7, 6, 3, 3, 2, (1, 1), (1, 1)), (8, 8, 2, 2, 2, (0, 0), (0, 0)), (6, 7, 3, 2, 1, (1, 1), (0, 1)),
            (5, 5, 2, 3, 3, (0, 1), (1, 1))]
    N, C = 2, 5
    for H, W, KH, KW, s, (pt, pb), (pl, pr) in geos:
        OH, OW = _conv_out(H, KH, s, 1, pt, pb), _conv_out(W, KW, s, 1, pl, pr)
        x = np.round(values(rng, dt, (N, H, W, C))).astype(dt)  # rounded: ties in windows
        if dt in FLOATS:
            x[0, 0, 0, 0] = np.nan
            x[1, :2, :2, 1] = -np.inf
        gy = values(rng, dt, (N, OH, OW, C))
        iattr = (KH, KW, s, s, pt, pl)
        label = f"{H}x{W} k {KH}x{KW} s {s} pad {pt},{pb} {pl},{pr}"
        if op in ("max_pool", "avg_pool"):
            out.append(Case([x], [np.zeros((N, OH, OW, C), dt)], iattr=iattr, label=label))
        elif op == "max_pool_grad":
            out.append(Case([x, gy], [np.zeros(x.shape, dt)], iattr=iattr, label=label))
        elif op == "max_pool_grad_grad":
            out.append(Case([x, values(rng, dt, x.shape)], [np.zeros((N, OH, OW, C), dt)], iattr=iattr,
                            label=label))
        else:
            out.append(Case([gy], [np.zeros(x.shape, dt)], iattr=iattr, label=label))
    return out


def _conv_out(size: int, k: int, s: int, d: int, before: int, after: int) -> int:
    return (size + before + after - (k - 1) * d - 1) // s + 1


def _conv_cases(name: str, rng) -> list[Case]:
    """Symmetric padding (cuDNN's own), asymmetric (SAME with an even window: the
    zero-padded copy), strides that leave rows unused, dilation; forward and both
    gradients, with the C kernels' scratch where they take one."""
    rest = name[len("sf_cuda_"):]
    dt = rest.rsplit("_", 1)[1]
    op = rest[: -len(dt) - 1]
    depthwise = op.startswith("depthwise")
    out = []
    # (H, W, KH, KW, stride, dilation, (pt, pb), (pl, pr))
    geos = [(7, 6, 3, 3, 1, 1, (1, 1), (1, 1)), (8, 7, 2, 3, 2, 1, (0, 1), (1, 1)),
            (9, 9, 3, 2, 2, 2, (2, 2), (0, 1)), (7, 5, 2, 2, 3, 1, (0, 0), (0, 0)),
            (5, 5, 1, 1, 1, 1, (0, 0), (0, 0)), (6, 7, 4, 2, 1, 1, (1, 2), (0, 1)),
            (7, 8, 4, 3, 2, 1, (1, 2), (0, 1))]
    N, C, depth_out = 2, 3, 4
    for H, W, KH, KW, s, d, (pt, pb), (pl, pr) in geos:
        OH, OW = _conv_out(H, KH, s, d, pt, pb), _conv_out(W, KW, s, d, pl, pr)
        depth = C * 2 if depthwise else depth_out
        x = values(rng, dt, (N, H, W, C))
        f = values(rng, dt, (KH, KW, C, 2 if depthwise else depth_out))
        dy = values(rng, dt, (N, OH, OW, depth))
        iattr = (s, s, d, d, pt, pl, 0)
        # the C kernels' im2col scratch: every image's column matrix and planar copy, and a filter
        per_image = OH * OW * KH * KW * C + H * (W + 64) * C
        scratch = [] if depthwise else [np.zeros(N * per_image + KH * KW * C * depth_out, dt)]
        label = f"{H}x{W} k {KH}x{KW} s {s} d {d} pad {pt},{pb} {pl},{pr}"
        if op.endswith("backprop_input"):
            out.append(Case([f, dy, *scratch], [np.zeros((N, H, W, C), dt)], iattr=iattr, label=label))
        elif op.endswith("backprop_filter"):
            out.append(Case([x, dy, *scratch], [np.zeros(f.shape, dt)], iattr=iattr, label=label))
        else:
            out.append(Case([x, f, *scratch], [np.zeros((N, OH, OW, depth), dt)], iattr=iattr, label=label))
    return out


def _sampler_cases(name: str, rng) -> list[Case]:
    """Unique draws with many retries (a small range: the expected counts' expm1 branch) and
    with few, draws with repeats, true classes at the range's ends, a strided candidates
    output; the state (written) must advance alike."""
    out = []
    for rng_max, batch, unique in ((10, 8, 1), (1000, 64, 1), (1000, 64, 0), (2**40, 33, 1), (1, 5, 0)):
        state = np.array([5, 9, 2**32 - 7], dtype=np.int64)
        true = np.array([0, rng_max - 1, rng_max // 2, 0], dtype=np.int64)
        cap = 1 << max(1, int(2 * batch - 1).bit_length())
        cand = np.zeros(2 * batch, np.int64)[::2] if batch == 64 and not unique else np.zeros(batch, np.int64)
        outs = [cand, np.zeros(4, np.float32), np.zeros(batch, np.float32), np.full(cap, 3, np.int64)]
        out.append(Case([state, true], outs, iattr=(rng_max, unique), written=(0,),
                        label=f"range {rng_max} S {batch} unique {unique}"))
    return out


_ACT_CODES = range(8)  # SF_ACT_NONE .. SF_ACT_TANH
_GRAD_ACT_CODES = (1, 3, 4, 5)  # RELU, ELU, SELU, LEAKY_RELU


def _fused_cases(name: str, rng) -> list[Case]:
    op, dt = _split(name)
    out = []
    if op == "fused_matmul":
        for act in _ACT_CODES:
            for ta, tb, bias in ((0, 0, 1), (1, 0, 0), (0, 1, 1), (1, 1, 1)):
                a = values(rng, dt, (7, 5) if ta else (5, 7))
                b = values(rng, dt, (3, 7) if tb else (7, 3))
                ins = [a, b] + ([values(rng, dt, (3,))] if bias else [])
                out.append(Case(ins, [np.zeros((5, 3), dt)], iattr=(ta, tb, act, bias), fattr=(0.2,),
                                label=f"act {act} ta {ta} tb {tb} bias {bias}"))
        out.append(Case([values(rng, dt, (1, 40)), values(rng, dt, (40, 70)), values(rng, dt, (70,))],
                        [np.zeros((1, 70), dt)], iattr=(0, 0, 1, 1), label="one row"))
        out.append(Case([values(rng, dt, (4, 0)), values(rng, dt, (0, 6)), values(rng, dt, (6,))],
                        [np.full((4, 6), 7).astype(dt)], iattr=(0, 0, 6, 1), label="K = 0"))
        out.append(Case([values(rng, dt, (130, 33)), values(rng, dt, (33, 65)), values(rng, dt, (65,))],
                        [np.zeros((130, 65), dt)], iattr=(0, 0, 5, 1), fattr=(0.3,), label="large"))
    elif op == "gemm_apply_gradient_descent":
        for ta, tb in ((0, 0), (1, 0), (0, 1), (1, 1)):
            a = values(rng, dt, (9, 6) if ta else (6, 9))
            b = values(rng, dt, (4, 9) if tb else (9, 4))
            out.append(Case([values(rng, dt, (6, 4)), np.array(0.05, dt), a, b], [], iattr=(ta, tb),
                            written=(0,), label=f"ta {ta} tb {tb}"))
        out.append(Case([values(rng, dt, (3, 2)), np.array(0.5, dt), values(rng, dt, (3, 0)),
                         values(rng, dt, (0, 2))], [], written=(0,), label="K = 0"))
    elif op == "bias_activation_grad":
        for act in _GRAD_ACT_CODES:
            for r, c in ((600, 19), (5, 40), (300, 70), (0, 4), (1, 1)):
                g = values(rng, dt, (r, c))
                f = rng.uniform(-0.9, 2.0, (r, c)).astype(dt)  # activations' outputs: ELU's > -1
                f[rng.random((r, c)) < 0.1] = 0.0
                k = 256 // c if c < 256 else 1
                scratch = np.zeros(2 * (c + k * c), np.float64)
                out.append(Case([g, f, scratch], [np.zeros((r, c), dt), np.full(c, 7).astype(dt)],
                                iattr=(act,), fattr=(0.3,), label=f"act {act} [{r}, {c}]"))
    else:  # fused_conv2d: conv2d's geometries, every activation, bias or not, pooled or not
        geos = [(7, 6, 3, 3, 1, 1, (1, 1), (1, 1)), (8, 7, 2, 3, 2, 1, (0, 1), (1, 1)),
                (9, 9, 3, 2, 2, 2, (2, 2), (0, 1)), (5, 5, 1, 1, 1, 1, (0, 0), (0, 0))]
        N, C, depth = 2, 3, 4
        for i, (H, W, KH, KW, s, d, (pt, pb), (pl, pr)) in enumerate(geos):
            for act in _ACT_CODES:
                bias, pooled = (act + i) % 2, (act + i) % 3 != 0
                OH, OW = _conv_out(H, KH, s, d, pt, pb), _conv_out(W, KW, s, d, pl, pr)
                x, f = values(rng, dt, (N, H, W, C)), values(rng, dt, (KH, KW, C, depth))
                per_image = OH * OW * KH * KW * C + H * (W + 64) * C
                ins = [x, f, np.zeros(N * per_image + KH * KW * C * depth, dt)]
                ins += [values(rng, dt, (depth,))] if bias else []
                outs = [np.zeros((N, OH, OW, depth), dt)]
                pool = (0,) * 6
                if pooled:
                    pk, ps, ppad = (2, 2, 0) if act % 2 else (3, 2, 1)
                    POH, POW = _conv_out(OH, pk, ps, 1, ppad, ppad), _conv_out(OW, pk, ps, 1, ppad, ppad)
                    outs.append(np.zeros((N, POH, POW, depth), dt))
                    pool = (pk, pk, ps, ps, ppad, ppad)
                iattr = (s, s, d, d, pt, pl, 0, act, bias, *pool)
                out.append(Case(ins, outs, iattr=iattr, fattr=(0.2,),
                                label=f"{H}x{W} k {KH}x{KW} s {s} act {act} bias {bias} pool {pool}"))
    return out


def tolerance(name: str, a: np.ndarray) -> tuple[float, float]:
    """(rtol, atol) for comparing with the C kernel: exact for integers, bools and
    moves; a few ulps for floats (the C kernels run vectorized libm and fused
    multiply-adds, and sum in another order)."""
    rest = name[len("sf_cuda_"):]
    exact = ("copy_", "select_", "gather_", "one_hot_", "cast_", "random_uniform")
    if a.dtype.kind != "f" or a.dtype.itemsize == 2 or rest.startswith(exact):
        return 0.0, 0.0
    if rest.startswith(("matmul_", "fused_", "gemm_apply_", "bias_activation_grad_")) or "conv2d" in rest:
        # sums of products, in another order
        return (1e-4, 1e-4) if a.dtype == np.float32 else (1e-11, 1e-11)
    if a.dtype == np.float32:
        return 2e-5, 2e-6
    return 1e-11, 1e-13


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _copy_view(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of view a with the same strides, the copied memory it views, flat)."""
    root = _root(a)
    flat = root.copy(order="K").ravel(order="K")  # the root's memory, in memory order
    lo = min(root.__array_interface__["data"][0], a.__array_interface__["data"][0])
    offset = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    assert lo == root.__array_interface__["data"][0], "views start inside their root's memory"
    view = np.ndarray(a.shape, a.dtype, buffer=flat.view(np.uint8), offset=offset, strides=a.strides)
    return view, flat


def run_and_compare(name: str, case: Case, call: Callable, reference: Callable) -> None:
    """Run `call(name, ins, outs, iattr, fattr)` and the C kernel on copies of the case's
    arrays; compare outputs (their whole memory, so writes outside a view show) and the
    inputs the kernel writes."""
    runs = []
    for _ in range(2):
        ins = [_copy_view(a) for a in case.inputs]
        outs = [_copy_view(a) for a in case.outputs]
        runs.append((ins, outs))
    (ins_a, outs_a), (ins_b, outs_b) = runs
    reference("sf_cpu_" + name[len("sf_cuda_"):], [v for v, _ in ins_b], [v for v, _ in outs_b], case.iattr,
              case.fattr)
    call(name, [v for v, _ in ins_a], [v for v, _ in outs_a], case.iattr, case.fattr)
    pairs = [(a[1], b[1], f"output {i}") for i, (a, b) in enumerate(zip(outs_a, outs_b))]
    pairs += [(ins_a[i][1], ins_b[i][1], f"input {i}") for i in case.written]
    for a, b, what in pairs:
        rtol, atol = tolerance(name, a)
        if a.dtype.itemsize == 2 and a.dtype.kind in "fV":  # 16-bit floats: bit for bit, NaNs too
            np.testing.assert_array_equal(a.view(np.uint16), b.view(np.uint16),
                                          err_msg=f"{name} {case.label}: {what}")
        elif rtol == 0 and atol == 0:
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {case.label}: {what}")
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"{name} {case.label}: {what}")
