"""C source of a fused elementwise kernel, generated from the members' scalar expressions.

A fused kernel computes a group of elementwise ops (and optionally a sum or mean that
ends it) in one pass over memory: every operand is read once, every member's value
lives in a register, and only the group's outputs are written. It has the ABI's
signature (``int sf_cpu_fused(sf_call *)``) and is called like a hand-written
kernel:

- elementwise: every input and output is a view of one shape (inputs broadcast to it
  with 0 strides), coalesced by the planner; the kernel walks rows (all dims but the
  last) and splits long rows into blocks of `BLOCK` elements, which are the tasks of
  an OpenMP loop when the work is large (``SF_PARALLEL_MIN`` elements). The inner
  loop is specialized on each operand's inner stride (1, 0 for a broadcast value, or
  any) and marked ``omp simd``, so it vectorizes, transcendentals included (the
  libmvec declarations of sf_vector_math.h);
- with a reduction: every view is 2-D, [kept, reduced]. In row mode (reduced elements
  adjacent) each output accumulates its row in double (an ``omp simd`` reduction),
  long rows in fixed blocks of `RBLOCK` whose partials (in a scratch input) are added
  in order; in column mode (kept elements adjacent) a block of `CBLOCK` outputs
  accumulates row after row. Results never depend on the thread count.

Errors (integer division by zero, negative integer powers) return
SF_ERR_INVALID_ARGUMENT with "fused member <k>: <what>", which the planner turns into
an error naming member k's op and source line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from staticflow.framework import dtypes
from staticflow.ops import fused_elementwise as fe
from staticflow.ops import scalar_table
from staticflow.ops.lowering import coalesce

BLOCK = 16384  # elements of one task of an elementwise kernel
RBLOCK = 32768  # reduced elements per partial of a row-mode reduction
CBLOCK = 256  # outputs accumulated together by a column-mode reduction

# stride classes of an operand's inner loop
ANY, BROADCAST, UNIT = -1, 0, 1


@dataclass(frozen=True)
class Member:
    """One op of the group: `text` over the variables `names`, which read `args` (("in", k)
    kernel input k, or ("m", j) member j's value) of dtypes `arg_dtypes`."""

    text: str
    names: tuple[str, ...]
    args: tuple[tuple[str, int], ...]
    arg_dtypes: tuple[str, ...]
    out: str
    fattrs: tuple[tuple[str, float], ...] = ()

    @property
    def can_fail(self) -> bool:
        return "&bad" in self.text


@dataclass(frozen=True)
class Spec:
    """What the source depends on. inputs: (dtype, stride class) per kernel input; outputs:
    (member, stride class) per elementwise output; reduce: None or (kind, member, mode)
    with kind "sum" or "mean" and mode "row" or "col" (its output comes last)."""

    inputs: tuple[tuple[str, int], ...]
    members: tuple[Member, ...]
    outputs: tuple[tuple[int, int], ...]
    reduce: tuple[str, int, str] | None = None


_DTC = {
    "float32": "SF_FLOAT32", "float64": "SF_FLOAT64", "float16": "SF_FLOAT16", "bfloat16": "SF_BFLOAT16",
    "int32": "SF_INT32", "int64": "SF_INT64", "int8": "SF_INT8", "int16": "SF_INT16", "uint8": "SF_UINT8",
    "uint16": "SF_UINT16", "uint32": "SF_UINT32", "uint64": "SF_UINT64", "bool": "SF_BOOL",
}
_SIZE = {
    "float64": 8, "int64": 8, "uint64": 8, "float32": 4, "int32": 4, "uint32": 4,
    "float16": 2, "bfloat16": 2, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "bool": 1,
}
_HALF_LOAD = {"float16": "sf_half_to_float", "bfloat16": "sf_bfloat16_to_float"}
_HALF_STORE = {"float16": "sf_float_to_half", "bfloat16": "sf_float_to_bfloat16"}


def compute_type(dt: str) -> str:
    return scalar_table.DTYPES[dt][1]


def storage_type(dt: str) -> str:
    return "uint16_t" if dt in _HALF_LOAD else compute_type(dt)


def _load(dt: str, ref: str) -> str:
    return f"{_HALF_LOAD[dt]}({ref})" if dt in _HALF_LOAD else ref


def _store(dt: str, v: str) -> str:
    return f"{_HALF_STORE[dt]}({v})" if dt in _HALF_STORE else v


def _result(dt: str, text: str) -> str:
    """A member's value: its expression in its output's compute type (16-bit floats
    rounded to their type, as their unfused kernels round every op's result)."""
    if dt in _HALF_LOAD:
        return f"{_HALF_LOAD[dt]}({_HALF_STORE[dt]}((float)({text})))"
    return f"({compute_type(dt)})({text})"


def _index(cls: int, t: int, i: str) -> str:
    """The CPU loops' subscript of view t at element i (its inner stride in st[t])."""
    return {UNIT: f"[{i}]", BROADCAST: "[0]"}.get(cls, f"[{i} * st[{t}]]")


def _body(spec: Spec, index, red_target: str | None) -> list[str]:
    """Statements computing one element: loads, members, stores (and the reduction's
    accumulation into `red_target`). `index(t)` is the subscript of view t (inputs, then
    outputs) at that element: the one place where the CPU loops and the GPU threads differ.
    Both emitters take this body, so a member's expression, its rounding and its error
    flag are written once."""
    lines = []
    nin = len(spec.inputs)
    for k, (dt, _c) in enumerate(spec.inputs):
        lines.append(f"const {compute_type(dt)} a{k} = {_load(dt, f'in{k}' + index(k))};")
    for j, m in enumerate(spec.members):
        decls = []
        for name, (kind, idx), dt in zip(m.names, m.args, m.arg_dtypes):
            decls.append(f"const {compute_type(dt)} {name} = {'a' if kind == 'in' else 'm'}{idx};")
        for name, value in m.fattrs:
            decls.append(f"const {compute_type(m.out)} {name} = ({compute_type(m.out)}){value!r};")
        if m.can_fail:
            decls.append("int bad = 0;")
            tail = f" if (bad) bad{j} = bad;"
        else:
            tail = ""
        lines.append(
            f"{compute_type(m.out)} m{j}; {{ {' '.join(decls)} m{j} = {_result(m.out, m.text)};{tail} }}"
        )
    for o, (j, _c) in enumerate(spec.outputs):
        dt = spec.members[j].out
        lines.append(f"out{o}{index(nin + o)} = {_store(dt, f'm{j}')};")
    if red_target is not None:
        lines.append(f"{red_target} += (double)m{spec.reduce[1]};")
    return lines


def _cpu_body(spec: Spec, i: str, classes: list[int], red_target: str | None) -> list[str]:
    return _body(spec, lambda t: _index(classes[t], t, i), red_target)


def _prologue(spec: Spec, ptr=lambda t: f"p[{t}]") -> list[str]:
    """Typed pointers from the byte pointers `ptr(t)` (p[t] in the CPU loops) and the error
    flags."""
    lines = []
    for k, (dt, _c) in enumerate(spec.inputs):
        lines.append(f"const {storage_type(dt)} *in{k} = (const {storage_type(dt)} *){ptr(k)};")
    nin = len(spec.inputs)
    for o, (j, _c) in enumerate(spec.outputs):
        st = storage_type(spec.members[j].out)
        lines.append(f"{st} *out{o} = ({st} *){ptr(nin + o)};")
    for j, m in enumerate(spec.members):
        if m.can_fail:
            lines.append(f"int bad{j} = 0;")
    return lines


def _epilogue(spec: Spec) -> list[str]:
    lines = []
    for j, m in enumerate(spec.members):
        if m.can_fail:
            lines.append(f"if (bad{j}) return (({j} + 1) << 4) | bad{j};")
    lines.append("return 0;")
    return lines


def _simd(spec: Spec, clause: str = "") -> str:
    # a member that reports errors writes a flag: keep such loops scalar
    if any(m.can_fail for m in spec.members):
        return ""
    return f"#pragma omp simd{clause}"


_HEADER = """\
/* A fused kernel generated by staticflow (backends/fused_codegen.py). */
#include <math.h>
#include <stdint.h>

#define SF_JIT_KERNEL 1
#include "sf_internal.h"
#include "sf_vector_math.h"
#include "sf_scalar.h"

#define NIN {nin}
#define NOUT {nout}
#define NT (NIN + NOUT)

static const int32_t in_dt[NIN + 1] = {{{in_dt}}};
static const int32_t out_dt[NOUT + 1] = {{{out_dt}}};
static const int64_t esize[NT + 1] = {{{esize}}};
static const int cls[NT + 1] = {{{classes}}};

static int fused_error(sf_call *call, int e)
{{
    const int member = (e >> 4) - 1, code = e & 15;
    switch (code) {{
    case EW_DIV_BY_ZERO:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused member %d: integer division by zero", member);
    case EW_MOD_BY_ZERO:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused member %d: integer modulo by zero", member);
    case EW_NEG_POW:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT,
                       "fused member %d: integers to negative integer powers are not allowed", member);
    default:
        return sf_fail(call, SF_ERR_INTERNAL, "fused member %d: failed with error %d", member, code);
    }}
}}

/* Checks the call against what the source was generated for: arity, dtypes, one shape
 * of rank `rank` (0: any) for every view but the reduction's output, and the inner
 * strides the loops were specialized on (dim `inner` of each view). */
static int fused_check(sf_call *call, int nin_extra, int nout_ew, int rank, int inner)
{{
    if (call->n_in != NIN + nin_extra || call->n_out != NOUT)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT,
                       "fused kernel: expected %d inputs and %d outputs, got %d and %d",
                       NIN + nin_extra, NOUT, (int)call->n_in, (int)call->n_out);
    for (int t = 0; t < NIN; t++)
        if (call->in[t].dtype != in_dt[t])
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused kernel: input %d has dtype %s, expected %s",
                           t, sf_dtype_name(call->in[t].dtype), sf_dtype_name(in_dt[t]));
    for (int t = 0; t < NOUT; t++)
        if (call->out[t].dtype != out_dt[t])
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused kernel: output %d has dtype %s, expected %s",
                           t, sf_dtype_name(call->out[t].dtype), sf_dtype_name(out_dt[t]));
    const sf_tensor *ref = &call->in[0];
    if (ref->ndim > SF_MAX_DIMS || (rank && ref->ndim != rank))
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused kernel: views of rank %d", (int)ref->ndim);
    for (int t = 0; t < NIN + nout_ew; t++) {{
        const sf_tensor *v = t < NIN ? &call->in[t] : &call->out[t - NIN];
        int same = v->ndim == ref->ndim;
        for (int d = 0; same && d < ref->ndim; d++) same = v->shape[d] == ref->shape[d];
        if (!same) return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused kernel: view %d's shape differs", t);
        const int64_t s = v->ndim ? v->strides[inner < 0 ? v->ndim - 1 : inner] : 1;
        const int c = cls[t];
        if ((c == 0 && s != 0 && v->ndim) || (c == 1 && s != 1 && v->ndim))
            return sf_fail(call, SF_ERR_INTERNAL,
                           "fused kernel: view %d has inner stride %lld, compiled for %d",
                           t, (long long)s, c);
    }}
    return SF_OK;
}}
"""


def _header(spec: Spec) -> str:
    nin, nout = len(spec.inputs), len(spec.outputs) + (spec.reduce is not None)
    out_dts = [spec.members[j].out for j, _c in spec.outputs]
    if spec.reduce is not None:
        out_dts.append(spec.members[spec.reduce[1]].out)
    dts = [d for d, _c in spec.inputs] + out_dts
    classes = [c for _d, c in spec.inputs] + [c for _j, c in spec.outputs] + ([ANY] if spec.reduce else [])
    return _HEADER.format(
        nin=nin,
        nout=nout,
        in_dt=", ".join([_DTC[d] for d, _c in spec.inputs] + ["0"]),
        out_dt=", ".join([_DTC[d] for d in out_dts] + ["0"]),
        esize=", ".join([str(_SIZE[d]) for d in dts] + ["0"]),
        classes=", ".join([str(c) for c in classes] + ["0"]),
    )


def _elementwise(spec: Spec) -> str:
    classes = [c for _d, c in spec.inputs] + [c for _j, c in spec.outputs]
    body = "\n        ".join(_cpu_body(spec, "i", classes, None))
    pro = "\n    ".join(_prologue(spec))
    epi = "\n    ".join(_epilogue(spec))
    return f"""
static int row(int64_t n, char *const *p, const int64_t *st)
{{
    (void)st;
    {pro}
    {_simd(spec)}
    for (int64_t i = 0; i < n; i++) {{
        {body}
    }}
    {epi}
}}

int sf_cpu_fused(sf_call *call)
{{
    int rc = fused_check(call, 0, NOUT, 0, -1);
    if (rc != SF_OK) return rc;
    const sf_tensor *ref = &call->in[0];
    const sf_tensor *v[NT];
    int64_t inner[NT];
    for (int t = 0; t < NT; t++) {{
        v[t] = t < NIN ? &call->in[t] : &call->out[t - NIN];
        inner[t] = sf_inner_stride(v[t]);
    }}
    const int64_t len = sf_row_len(ref), rows = sf_rows(ref), total = len * rows;
    if (total == 0) return SF_OK;
    /* tasks: a block of one long row, or a group of short rows, handed out one at a time
     * (a descheduled thread leaves its share to the others) */
    const int64_t cpr = (len + {BLOCK} - 1) / {BLOCK};
    const int64_t rpt = len >= {BLOCK} ? 1 : {BLOCK} / len;
    const int64_t ntasks = (rows + rpt - 1) / rpt * cpr;
    int err = 0;
#pragma omp parallel for schedule(dynamic) if (total >= SF_PARALLEL_MIN)
    for (int64_t task = 0; task < ntasks; task++) {{
        int seen;
#pragma omp atomic read
        seen = err;
        if (seen) continue;
        const int64_t r0 = task / cpr * rpt, c0 = task % cpr * {BLOCK};
        const int64_t r1 = r0 + rpt < rows ? r0 + rpt : rows;
        const int64_t c1 = c0 + {BLOCK} < len ? c0 + {BLOCK} : len;
        for (int64_t r = r0; r < r1; r++) {{
            char *p[NT];
            for (int t = 0; t < NT; t++)
                p[t] = (char *)v[t]->data + (sf_row_offset(v[t], ref, r) + c0 * inner[t]) * esize[t];
            int e = row(c1 - c0, p, inner);
            if (e) {{
#pragma omp atomic write
                err = e;
                break;
            }}
        }}
    }}
    return err ? fused_error(call, err) : SF_OK;
}}
"""


def _reduction(spec: Spec) -> str:
    kind, red, mode = spec.reduce
    nout_ew = len(spec.outputs)
    classes = [c for _d, c in spec.inputs] + [c for _j, c in spec.outputs]
    pro = "\n    ".join(_prologue(spec))
    epi = "\n    ".join(_epilogue(spec))
    out_t = compute_type(spec.members[red].out)
    final = "acc" if kind == "sum" else "acc / (double)R"
    nt_ew = "(NIN + NOUT - 1)"
    if mode == "row":
        body = "\n        ".join(_cpu_body(spec, "i", classes, "acc"))
        return f"""
static int row(int64_t n, char *const *p, const int64_t *st, double *acc_out)
{{
    (void)st;
    {pro}
    double acc = 0;
    {_simd(spec, " reduction(+:acc)")}
    for (int64_t i = 0; i < n; i++) {{
        {body}
    }}
    *acc_out = acc;
    {epi}
}}

int sf_cpu_fused(sf_call *call)
{{
    const int64_t R0 = call->n_in > 0 && call->in[0].ndim == 2 ? call->in[0].shape[1] : 0;
    const int64_t nch = R0 > {RBLOCK} ? (R0 + {RBLOCK} - 1) / {RBLOCK} : 1;
    int rc = fused_check(call, nch > 1, {nout_ew}, 2, 1);
    if (rc != SF_OK) return rc;
    const int64_t K = call->in[0].shape[0], R = call->in[0].shape[1];
    const sf_tensor *v[NT];
    int64_t sk[NT], sr[NT];
    for (int t = 0; t < {nt_ew}; t++) {{
        v[t] = t < NIN ? &call->in[t] : &call->out[t - NIN];
        sk[t] = v[t]->strides[0];
        sr[t] = v[t]->strides[1];
    }}
    {out_t} *out = ({out_t} *)call->out[NOUT - 1].data;
    double *part = nch > 1 ? (double *)call->in[NIN].data : 0;
    if (nch > 1 && call->in[NIN].dtype != SF_FLOAT64)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "fused kernel: partials must be float64");
    const int64_t ntasks = K * nch;
    int err = 0;
#pragma omp parallel for schedule(dynamic) if (K * R >= SF_PARALLEL_MIN)
    for (int64_t task = 0; task < ntasks; task++) {{
        int seen;
#pragma omp atomic read
        seen = err;
        if (seen) continue;
        const int64_t k = task / nch, r0 = task % nch * {RBLOCK};
        const int64_t r1 = r0 + {RBLOCK} < R ? r0 + {RBLOCK} : R;
        char *p[NT];
        for (int t = 0; t < {nt_ew}; t++) p[t] = (char *)v[t]->data + (k * sk[t] + r0 * sr[t]) * esize[t];
        double acc = 0;
        int e = row(r1 - r0, p, sr, &acc);
        if (e) {{
#pragma omp atomic write
            err = e;
            continue;
        }}
        if (nch > 1) part[task] = acc;
        else out[k] = ({out_t})({final});
    }}
    if (err) return fused_error(call, err);
    if (nch > 1) /* partials added in order: the result does not depend on the threads */
        for (int64_t k = 0; k < K; k++) {{
            double acc = 0;
            for (int64_t c = 0; c < nch; c++) acc += part[k * nch + c];
            out[k] = ({out_t})({final});
        }}
    return SF_OK;
}}
"""
    body = "\n        ".join(_cpu_body(spec, "i", classes, "acc[i]"))
    return f"""
static int cols(int64_t n, char *const *p, const int64_t *st, double *acc)
{{
    (void)st;
    {pro}
    {_simd(spec)}
    for (int64_t i = 0; i < n; i++) {{
        {body}
    }}
    {epi}
}}

int sf_cpu_fused(sf_call *call)
{{
    int rc = fused_check(call, 0, {nout_ew}, 2, 0);
    if (rc != SF_OK) return rc;
    const int64_t K = call->in[0].shape[0], R = call->in[0].shape[1];
    const sf_tensor *v[NT];
    int64_t sk[NT], sr[NT];
    for (int t = 0; t < {nt_ew}; t++) {{
        v[t] = t < NIN ? &call->in[t] : &call->out[t - NIN];
        sk[t] = v[t]->strides[0];
        sr[t] = v[t]->strides[1];
    }}
    {out_t} *out = ({out_t} *)call->out[NOUT - 1].data;
    const int64_t ntasks = (K + {CBLOCK} - 1) / {CBLOCK};
    int err = 0;
#pragma omp parallel for schedule(dynamic) if (K * R >= SF_PARALLEL_MIN)
    for (int64_t task = 0; task < ntasks; task++) {{
        int seen;
#pragma omp atomic read
        seen = err;
        if (seen) continue;
        const int64_t k0 = task * {CBLOCK}, n = K - k0 < {CBLOCK} ? K - k0 : {CBLOCK};
        double acc[{CBLOCK}];
        for (int64_t i = 0; i < n; i++) acc[i] = 0;
        for (int64_t r = 0; r < R; r++) {{
            char *p[NT];
            for (int t = 0; t < {nt_ew}; t++) p[t] = (char *)v[t]->data + (k0 * sk[t] + r * sr[t]) * esize[t];
            int e = cols(n, p, sk, acc);
            if (e) {{
#pragma omp atomic write
                err = e;
                break;
            }}
        }}
        for (int64_t i = 0; i < n; i++) {{
            const double a = acc[i];
            out[k0 + i] = ({out_t})({final.replace("acc", "a")});
        }}
    }}
    return err ? fused_error(call, err) : SF_OK;
}}
"""


@lru_cache(maxsize=4096)
def source(spec: Spec) -> str:
    """The C source of the kernel `sf_cpu_fused` that `spec` describes (remembered: an
    unrolled loop fuses the same group at every step)."""
    return _header(spec) + (_elementwise(spec) if spec.reduce is None else _reduction(spec))


# ---------------------------------------------------------------------------
# the GPU's kernels: the same body, indexed by a thread's element
# ---------------------------------------------------------------------------
# dtypes the GPU kernels cover (the CUDA library's: no 16-bit floats yet)
CUDA_DTYPES = frozenset(_DTC) - {"float16", "bfloat16"}
CUDA_MAX_VIEWS = 48  # views of one kernel (SF_FUSED_MAXT): its parameter stays under 4 KB
CUDA_CHUNK = 16384  # reduced elements of one block's task in row mode (SF_FUSED_CHUNK)

_CUDA_HEADER = """\
/* A fused GPU kernel generated by staticflow (backends/fused_codegen.py), for NVRTC,
 * nvcc, or a C compiler (the tests' CPU build of its per-element functions). */
#include <math.h>
#include <stdint.h>
#include "sf_fused_cuda.h"
#include "sf_scalar.h"

#define NT {nt}
#define SF_FUSED_MODE {mode}
typedef struct sf_fused_args {{
    sf_fused_head h;
    sf_fused_view v[NT];
}} sf_fused_args;
"""


def cuda_unsupported(spec: Spec) -> str | None:
    """Why `spec` has no GPU kernel (None: it has one)."""
    dts = {d for d, _c in spec.inputs} | {m.out for m in spec.members}
    dts |= {d for m in spec.members for d in m.arg_dtypes}
    if dts - CUDA_DTYPES:
        return f"no GPU fused kernels for {', '.join(sorted(dts - CUDA_DTYPES))}"
    if len(spec.inputs) + len(spec.outputs) > CUDA_MAX_VIEWS:
        return f"more than {CUDA_MAX_VIEWS} views"
    return None


def cuda_view_dtypes(spec: Spec) -> list[str]:
    """Dtypes of the kernel's views in call order: inputs, elementwise outputs, then the
    reduction's output."""
    out = [d for d, _c in spec.inputs] + [spec.members[j].out for j, _c in spec.outputs]
    if spec.reduce is not None:
        out.append(spec.members[spec.reduce[1]].out)
    return out


def cuda_fallible(spec: Spec) -> bool:
    """Whether a member reports errors (the kernel then takes an error word)."""
    return any(m.can_fail for m in spec.members)


@lru_cache(maxsize=4096)
def cuda_source(spec: Spec) -> str:
    """The CUDA source of `spec`'s GPU kernel: `sf_fused` (and `sf_fused_fin`, the second
    pass of long rows), launched by sf_cuda_fused_launch (kernels/cuda/sf_fused_launch.h),
    with its per-element functions in plain C for the tests' CPU build."""
    why = cuda_unsupported(spec)
    if why:
        raise ValueError(why)
    nin = len(spec.inputs)
    nt = nin + len(spec.outputs)
    mode = 0 if spec.reduce is None else 1 if spec.reduce[2] == "row" else 2
    pro = "\n    ".join(_prologue(spec, lambda t: f"a->v[{t}].data"))
    epi = "\n    ".join(_epilogue(spec))
    offs = "\n    ".join(
        f"const int64_t o{t} = sf_fused_off(ix, a->v[{t}].st, nd, i);" if mode == 0
        else f"const int64_t o{t} = k * a->v[{t}].st[0] + r * a->v[{t}].st[1];"
        for t in range(nt)
    )
    head = _CUDA_HEADER.format(nt=nt, mode=mode)
    if mode == 0:
        body = "\n    ".join(_body(spec, lambda t: f"[o{t}]", None))
        return head + f"""
/* element i of the views (C order of their shape); returns the error word, 0 if none */
SF_HD static inline int sf_fused_elem(const sf_fused_args *a, int64_t i)
{{
    const int nd = (int)a->h.nd;
    int64_t ix[SF_FUSED_MAXD];
    if (nd > 1) sf_fused_unravel(a->h.shape, nd, i, ix, a->h.n);
    (void)ix;
    {pro}
    {offs}
    {body}
    {epi}
}}

#define SF_FUSED_KERNELS 1
#include "sf_fused_cuda.h"
"""
    kind, red, _mode = spec.reduce
    out_t = compute_type(spec.members[red].out)
    final = "acc" if kind == "sum" else "acc / (double)a->h.R"
    body = "\n    ".join(_body(spec, lambda t: f"[o{t}]", "*acc"))
    return head + f"""
/* element (k, r) of the 2-D views: the elementwise outputs, and the reduced value added
 * to *acc (in double); returns the error word, 0 if none */
SF_HD static inline int sf_fused_relem(const sf_fused_args *a, int64_t k, int64_t r, double *acc)
{{
    {pro}
    {offs}
    {body}
    {epi}
}}

/* thread t of n's partial of row k over r0 <= r < r1: elements r0 + t, r0 + t + n, ... */
SF_HD static inline double sf_fused_partial(const sf_fused_args *a, int64_t k, int64_t r0, int64_t r1, int t,
                                            int n, int *bad)
{{
    double acc = 0;
    for (int64_t r = r0 + t; r < r1; r += n) {{
        const int e = sf_fused_relem(a, k, r, &acc);
        if (e && e > *bad) *bad = e;
    }}
    return acc;
}}

/* the reduction's output k from its row's sum */
SF_HD static inline void sf_fused_final(const sf_fused_args *a, int64_t k, double acc)
{{
    (({out_t} *)a->h.out)[k] = ({out_t})({final});
}}

#define SF_FUSED_KERNELS 1
#include "sf_fused_cuda.h"
"""


# ---------------------------------------------------------------------------
# lowering of a fused group (ops/fused_elementwise.py) to one generated kernel
# ---------------------------------------------------------------------------
def _class(stride: int) -> int:
    return UNIT if stride == 1 else BROADCAST if stride == 0 else ANY


def _spec(group, ctx, classes: list[int], mode: str | None) -> Spec:
    operands = fe.kernel_operands(group)
    index = {key: k for k, key in enumerate(operands)}
    members = []
    for m in group.members:
        e = m.opdef.scalar.expression(m.in_dtypes, m.out_dtype)
        args = tuple(
            ("in", index[(i, a)]) if kind == "in" else ("m", i) for (kind, i), a in zip(m.args, m.aligned)
        )
        fattrs = tuple((name, float(m.attrs[name])) for name in e.fattrs)
        members.append(Member(e.text, e.operands, args, tuple(t.name for t in m.in_dtypes), e.out, fattrs))
    nin = len(operands)
    inputs = tuple((ctx.in_dtypes[i].name, classes[k]) for k, (i, _a) in enumerate(operands))
    outputs = tuple((j, classes[nin + o]) for o, j in enumerate(group.outputs))
    red = None if group.reduce is None else (group.reduce.kind, group.reduce.member, mode)
    return Spec(inputs, tuple(members), outputs, red)


def _lowering_key(ctx, group) -> tuple | None:
    """What the lowering of `group` in `ctx` depends on (its members' ops, wiring, alignment,
    attributes and dtypes; the node's input and output shapes and dtypes), or None when an
    attribute cannot be a key. An unrolled loop fuses the same group at every step: equal keys
    lower to the same views and kernel source."""
    r = group.reduce
    try:
        key = (
            tuple(group.shape),
            tuple(group.outputs),
            None if r is None else (r.kind, r.op_type, tuple(r.axes), r.member, tuple(r.out_shape)),
            tuple(
                (m.op_type, m.args, m.aligned, m.in_dtypes, m.out_dtype, tuple(m.attrs.items()))
                for m in group.members
            ),
            tuple(tuple(s) for s in ctx.in_shapes),
            tuple(ctx.in_dtypes),
            tuple(tuple(s) for s in ctx.out_shapes),
            tuple(ctx.out_dtypes),
        )
        hash(key)
    except TypeError:  # an unhashable attribute value
        return None
    return key


# lowering key -> (the kernel's views, its scratch buffer's (shape, dtype) or None, the number
# of input views, its source): views name only ("in", i) and ("out", j) buffers, which mean
# the same in every context with the key's shapes
_LOWERED: dict = {}


def lower(ctx, group) -> bool:
    """Lower `group` in `ctx` to one call of a kernel generated from its members' scalar
    expressions, compiled (or found in the cache) by jit; False, after one warning, when no
    kernel can be made here. Identical groups (`_lowering_key`) reuse the first one's views
    and source."""
    from staticflow.backends import jit

    if not jit.available():
        return False
    key = _lowering_key(ctx, group)
    hit = _LOWERED.get(key) if key is not None else None
    if hit is None:
        hit = _lowered(ctx, group)
        if key is not None:
            if len(_LOWERED) > 4096:
                _LOWERED.clear()
            _LOWERED[key] = hit
    views, scratch, nin, src = hit
    try:
        addr = jit.load(src, "sf_cpu_fused")
    except jit.CompileError as e:
        jit.warn_once(f"the compiler failed: {str(e).splitlines()[-1][:200]}")
        return False
    extra = () if scratch is None else (ctx.scratch_buffer(*scratch),)
    ctx.call_generated("sf_cpu_fused", addr, views[:nin] + extra, views[nin:])
    return True


def _lowered(ctx, group) -> tuple:
    """The views of `group`'s kernel call in `ctx` (inputs, then outputs), the (shape, dtype)
    of the scratch buffer it needs or None, the number of inputs, and its C source."""
    views, scratch, nin, classes, mode = geometry(ctx, group, RBLOCK)
    return tuple(views), scratch, nin, source(_spec(group, ctx, classes, mode))


def geometry(ctx, group, chunk: int) -> tuple:
    """The views of `group`'s kernel call in `ctx` (inputs, then outputs: elementwise ones
    coalesced to one shape, or 2-D [kept, reduced] views and the reduction's K values),
    the (shape, dtype) of the partials a row-mode reduction needs when its rows are longer
    than `chunk` elements (else None), the number of inputs, each view's inner-stride class
    and the reduction's mode. Shared by the CPU and GPU kernels' lowerings."""
    operands = fe.kernel_operands(group)
    ins = [fe._input_view(i, ctx.in_shapes[i], ctx.in_dtypes[i], a, group.shape) for i, a in operands]
    outs = [ctx.out(o) for o in range(len(group.outputs))]
    scratch = None
    if group.reduce is None:
        views = coalesce(ins + outs)
        mode = None
        classes = [_class(v.strides[-1]) if v.ndim else UNIT for v in views]
    else:
        views, mode = fe.operand_views(ins + outs, group.shape, group.reduce.axes)
        inner = 1 if mode == "row" else 0
        classes = [_class(v.strides[inner]) for v in views]
        K, R = views[0].shape
        if mode == "row" and R > chunk:  # per-block partials, added in order
            scratch = ((K * ((R + chunk - 1) // chunk),), dtypes.float64)
        outs_red = ctx.out(len(group.outputs))
        views = views + [outs_red.reshape((K,))]
    return list(views), scratch, len(ins), classes, mode
