/* Elementwise kernels: unary, binary, compare, logical, select, cast, addn,
 * and the activations and activation gradients (softplus, elu, selu,
 * leaky_relu and the *_grad ops; leaky_relu* read alpha from fattr[SF_FATTR_ALPHA]).
 *
 * Every kernel here is generated from an X-macro list of (op, dtype, C type,
 * scalar expression). A generated kernel is a small "row function" that runs
 * the expression over one strided run of elements, plus a descriptor; the
 * shared driver ew_run does the rest:
 *
 *   1. checks the call (arity, dtypes) and broadcasts each input to the
 *      output's shape (a dim of size 1, or a missing leading dim, gets
 *      stride 0),
 *   2. coalesces dims (drops size-1 dims, merges neighbours that are
 *      contiguous in every view), so dense same-shape tensors become one flat
 *      run and a broadcast scalar becomes one run with stride 0,
 *   3. walks rows (all dims but the last), calling the row function once per
 *      row piece, on OpenMP threads when there are >= SF_PARALLEL_MIN
 *      elements.
 *
 * Row functions specialise the inner strides (1,1,...), a stride-0 operand,
 * and a generic strided loop; the unit-stride loops auto-vectorise.
 *
 * Aliasing: an output may be the very same view as an input (in place); each
 * element is read before it is written at the same index, so the loops carry
 * no dependence and are marked SF_IVDEP. Partially overlapping views are not
 * supported.
 */
/* Floating-point exception flags are not part of any kernel's contract, so
 * let GCC assume no traps: this is what allows floor, ceil, round and the
 * saturating float->int casts to vectorise. Results (NaN, Inf, signed zeros)
 * are unchanged; it must come before any inline function is seen, so that
 * all inline into each other. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <stdint.h>

#include "sf_internal.h"

#include "sf_vector_math.h"

/* the scalar helpers, and the op lists generated from staticflow/ops/scalar_table.py */
#include "sf_scalar.h"
#include "sf_scalar_table.h"

#if defined(__clang__)
#define SF_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define SF_IVDEP _Pragma("GCC ivdep")
#else
#define SF_IVDEP
#endif

/* Column chunk of one parallel task: large enough to amortise the task's
 * setup, small enough to balance threads. */
#define EW_CHUNK 8192
/* Elements accumulated at a time by addn (on the stack). */
#define ADDN_BLOCK 1024

/* Errors a row function reports (0 is success). */

/* dtype codes by the name used in kernel names */
#define DTC_float32 SF_FLOAT32
#define DTC_float64 SF_FLOAT64
#define DTC_int32 SF_INT32
#define DTC_int64 SF_INT64
#define DTC_uint8 SF_UINT8
#define DTC_bool SF_BOOL
#define DTC_int8 SF_INT8
#define DTC_int16 SF_INT16
#define DTC_uint16 SF_UINT16
#define DTC_uint32 SF_UINT32
#define DTC_uint64 SF_UINT64
#define DTC_float16 SF_FLOAT16
#define DTC_bfloat16 SF_BFLOAT16

/* 16-bit floats: SF_HLD_<dt> loads as float32, SF_HST_<dt> rounds back,
 * SF_HOUT_<odt> stores a result (sf_half.h) */

static int64_t dt_size(int32_t code) { return sf_dtype_size(code); }

/* ===========================================================================
 * The driver
 * ======================================================================== */

/* One run of n elements: out o (stride so) from inputs a, b, c (strides sa,
 * sb, sc; unused ones are ignored). Strides are in elements; fa is the call's
 * fattr (read by the ops with attributes, e.g. leaky_relu's alpha). Returns 0
 * or an EW_* error. */
#define EW_ROW_ARGS                                                        \
    int64_t n, void *o_, int64_t so, const void *a_, int64_t sa,           \
    const void *b_, int64_t sb, const void *c_, int64_t sc, const double *fa
typedef int (*ew_row_fn)(EW_ROW_ARGS);

typedef struct ew_desc {
    const char *name;
    int nin;
    int32_t in_dt[3];
    int32_t out_dt;
    ew_row_fn row;
} ew_desc;

#define EW_MAXT 4 /* the output and up to 3 inputs */

/* The call's views broadcast to the output's shape and coalesced; v[0] is
 * the output, v[1..nt) the inputs. */
typedef struct ew_plan {
    int nt;
    sf_tensor v[EW_MAXT];
    int64_t esize[EW_MAXT];
    const double *fattr;
} ew_plan;

static int ew_prepare(sf_call *call, const ew_desc *d, ew_plan *p, int64_t *numel)
{
    char s1[96], s2[96];
    if (call->n_in != d->nin || call->n_out < 1)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: expected %d input(s) and 1 output, got %d and %d",
                       d->name, d->nin, (int)call->n_in, (int)call->n_out);
    const sf_tensor *out = &call->out[0];
    if (out->dtype != d->out_dt)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: output has dtype %s, expected %s", d->name,
                       sf_dtype_name(out->dtype), sf_dtype_name(d->out_dt));
    if (out->ndim < 0 || out->ndim > SF_MAX_DIMS)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: output has %d dims (at most %d)", d->name,
                       (int)out->ndim, SF_MAX_DIMS);

    const int nd = out->ndim, nt = d->nin + 1;
    int64_t shape[SF_MAX_DIMS], st[EW_MAXT][SF_MAX_DIMS];
    int64_t total = 1;
    for (int k = 0; k < nd; k++) {
        if (out->shape[k] < 0)
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: output has a negative dim", d->name);
        shape[k] = out->shape[k];
        st[0][k] = out->strides[k];
        total *= shape[k];
    }
    for (int i = 0; i < d->nin; i++) {
        const sf_tensor *in = &call->in[i];
        if (in->dtype != d->in_dt[i])
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: input %d has dtype %s, expected %s", d->name, i,
                           sf_dtype_name(in->dtype), sf_dtype_name(d->in_dt[i]));
        if (in->ndim < 0 || in->ndim > nd)
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: input %d of shape %s does not broadcast to %s",
                           d->name, i, sf_shape_str(in, s1, sizeof s1), sf_shape_str(out, s2, sizeof s2));
        const int lead = nd - in->ndim;
        for (int k = 0; k < nd; k++) {
            if (k < lead) {
                st[i + 1][k] = 0;
            } else if (in->shape[k - lead] == shape[k]) {
                st[i + 1][k] = in->strides[k - lead];
            } else if (in->shape[k - lead] == 1) {
                st[i + 1][k] = 0;
            } else {
                return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: input %d of shape %s does not broadcast to %s",
                               d->name, i, sf_shape_str(in, s1, sizeof s1), sf_shape_str(out, s2, sizeof s2));
            }
        }
    }
    *numel = total;
    if (total == 0) return SF_OK;

    /* coalesce: drop size-1 dims, merge an outer dim into the next inner one
     * when every view steps through both as one */
    int m = 0;
    int64_t cshape[SF_MAX_DIMS], cst[EW_MAXT][SF_MAX_DIMS];
    for (int k = 0; k < nd; k++) {
        if (shape[k] == 1) continue;
        if (m > 0) {
            int merge = 1;
            for (int t = 0; t < nt; t++)
                if (cst[t][m - 1] != st[t][k] * shape[k]) merge = 0;
            if (merge) {
                cshape[m - 1] *= shape[k];
                for (int t = 0; t < nt; t++) cst[t][m - 1] = st[t][k];
                continue;
            }
        }
        cshape[m] = shape[k];
        for (int t = 0; t < nt; t++) cst[t][m] = st[t][k];
        m++;
    }
    if (m == 0) { /* a single element */
        cshape[0] = 1;
        for (int t = 0; t < nt; t++) cst[t][0] = 0;
        m = 1;
    }

    p->nt = nt;
    p->fattr = call->fattr;
    for (int t = 0; t < EW_MAXT; t++) {
        const sf_tensor *src = t == 0 ? out : t < nt ? &call->in[t - 1] : out;
        sf_tensor *v = &p->v[t];
        v->data = src->data;
        v->dtype = src->dtype;
        v->ndim = m;
        for (int k = 0; k < m; k++) {
            v->shape[k] = cshape[k];
            v->strides[k] = t < nt ? cst[t][k] : 0;
        }
        p->esize[t] = t < nt ? dt_size(src->dtype) : 0;
    }
    return SF_OK;
}

/* Rows [r0, r1) of the plan, columns [c0, c1) of each. */
static int ew_block(const ew_plan *p, ew_row_fn fn, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
    const sf_tensor *out = &p->v[0];
    const int nd = out->ndim, nt = p->nt;
    int64_t off[EW_MAXT], inner[EW_MAXT], idx[SF_MAX_DIMS];
    for (int t = 0; t < EW_MAXT; t++) {
        inner[t] = p->v[t].strides[nd - 1];
        off[t] = t < nt ? sf_row_offset(&p->v[t], out, r0) + c0 * inner[t] : 0;
    }
    int64_t r = r0;
    for (int d = nd - 2; d >= 0; d--) {
        idx[d] = r % out->shape[d];
        r /= out->shape[d];
    }
    char *base[EW_MAXT];
    for (int t = 0; t < EW_MAXT; t++) base[t] = (char *)p->v[t].data;

    for (int64_t row = r0;; row++) {
        int e = fn(c1 - c0, base[0] + off[0] * p->esize[0], inner[0], base[1] + off[1] * p->esize[1], inner[1],
                   base[2] + off[2] * p->esize[2], inner[2], base[3] + off[3] * p->esize[3], inner[3], p->fattr);
        if (e) return e;
        if (row + 1 >= r1) break;
        for (int d = nd - 2; d >= 0; d--) { /* next row: odometer over outer dims */
            for (int t = 0; t < nt; t++) off[t] += p->v[t].strides[d];
            if (++idx[d] < out->shape[d]) break;
            for (int t = 0; t < nt; t++) off[t] -= p->v[t].strides[d] * out->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}

static int ew_error(sf_call *call, const char *name, int e)
{
    switch (e) {
    case EW_DIV_BY_ZERO:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: integer division by zero", name);
    case EW_MOD_BY_ZERO:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: integer modulo by zero", name);
    case EW_NEG_POW:
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT,
                       "%s: integers to negative integer powers are not allowed", name);
    default:
        return sf_fail(call, SF_ERR_INTERNAL, "%s: failed with error %d", name, e);
    }
}

static int ew_run(sf_call *call, const ew_desc *d)
{
    ew_plan p;
    int64_t total = 0;
    int rc = ew_prepare(call, d, &p, &total);
    if (rc != SF_OK || total == 0) return rc;

    const sf_tensor *out = &p.v[0];
    const int64_t len = sf_row_len(out), rows = sf_rows(out);
    int err = 0;
    if (total < SF_PARALLEL_MIN) {
        err = ew_block(&p, d->row, 0, rows, 0, len);
    } else {
        /* tasks: a chunk of one long row, or a group of short rows, handed out one at a
         * time: a thread the system deschedules (cores shared with other processes)
         * leaves its tasks to the others instead of holding up the whole call */
        const int64_t cpr = (len + EW_CHUNK - 1) / EW_CHUNK;
        const int64_t rpt = len >= EW_CHUNK ? 1 : EW_CHUNK / len;
        const int64_t ntasks = (rows + rpt - 1) / rpt * cpr;
#pragma omp parallel for schedule(dynamic)
        for (int64_t task = 0; task < ntasks; task++) {
            int seen;
#pragma omp atomic read
            seen = err;
            if (seen) continue;
            const int64_t r0 = task / cpr * rpt, c0 = task % cpr * EW_CHUNK;
            const int64_t r1 = r0 + rpt < rows ? r0 + rpt : rows;
            const int64_t c1 = c0 + EW_CHUNK < len ? c0 + EW_CHUNK : len;
            int e = ew_block(&p, d->row, r0, r1, c0, c1);
            if (e) {
#pragma omp atomic write
                err = e;
            }
        }
    }
    return err ? ew_error(call, d->name, err) : SF_OK;
}

/* A public kernel sf_cpu_<NAME> running row_<NAME> through the driver. */
#define EW_PUBLIC(NAME, NIN, D0, D1, D2, DOUT)                                  \
    static const ew_desc desc_##NAME = {"sf_cpu_" #NAME, NIN, {D0, D1, D2}, DOUT, row_##NAME}; \
    int sf_cpu_##NAME(sf_call *call) { return ew_run(call, &desc_##NAME); }

/* ===========================================================================
 * Type lists (X-macros). The op lists (UNARY_FLOAT_OPS, BINARY_INT_OPS, ...,
 * each entry X(op, dtype, C type, ..., expression)) come from the table in
 * staticflow/ops/scalar_table.py, through the generated sf_scalar_table.h:
 * unary expressions read x, binary ones x and y, and integer ops that can
 * fail set `bad` through &bad.
 * ======================================================================== */

#define FOR_FLOAT_TYPES(M) M(float32, float, f) M(float64, double, )
#define FOR_INT_TYPES(M) M(int32, int32_t, uint32_t) M(int64, int64_t, uint64_t)
/* 16-bit floats: C type float (the compute type), stored as uint16_t */
#define FOR_HALF_TYPES(M) M(float16, float, f) M(bfloat16, float, f)
#define FOR_SMALL_INT_TYPES(M) M(int8, int8_t, uint32_t) M(int16, int16_t, uint32_t)
#define FOR_UINT_TYPES(M) \
    M(uint8, uint8_t, uint32_t) M(uint16, uint16_t, uint32_t) M(uint32, uint32_t, uint32_t) M(uint64, uint64_t, uint64_t)

/* X(DT, T) */
#define SELECT_TYPES(X)                                                                   \
    X(float32, float) X(float64, double) X(int32, int32_t) X(int64, int64_t) X(bool, uint8_t) X(uint8, uint8_t) \
    X(float16, uint16_t) X(bfloat16, uint16_t) X(int8, int8_t) X(int16, int16_t) X(uint16, uint16_t)         \
    X(uint32, uint32_t) X(uint64, uint64_t)

/* cast: every (source, destination) pair; K is the kind: KF float, KI
 * integer, KB bool. X(SDT, ST, SK, DDT, DTT, DK) */
#define CAST_DSTS(X, SDT, ST, SK)                                                          \
    X(SDT, ST, SK, float32, float, KF) X(SDT, ST, SK, float64, double, KF)                 \
    X(SDT, ST, SK, int32, int32_t, KI) X(SDT, ST, SK, int64, int64_t, KI)                  \
    X(SDT, ST, SK, bool, uint8_t, KB) X(SDT, ST, SK, uint8, uint8_t, KI)                   \
    X(SDT, ST, SK, float16, uint16_t, KH) X(SDT, ST, SK, bfloat16, uint16_t, KH)           \
    X(SDT, ST, SK, int8, int8_t, KI) X(SDT, ST, SK, int16, int16_t, KI)                    \
    X(SDT, ST, SK, uint16, uint16_t, KI) X(SDT, ST, SK, uint32, uint32_t, KI)              \
    X(SDT, ST, SK, uint64, uint64_t, KI)
#define CAST_SRCS(M)                                                               \
    M(float32, float, KF) M(float64, double, KF) M(int32, int32_t, KI) M(int64, int64_t, KI) \
    M(bool, uint8_t, KB) M(uint8, uint8_t, KI) M(float16, uint16_t, KH) M(bfloat16, uint16_t, KH) \
    M(int8, int8_t, KI) M(int16, int16_t, KI) M(uint16, uint16_t, KI) M(uint32, uint32_t, KI) \
    M(uint64, uint64_t, KI)

/* conversions by (source kind, destination kind): sf_scalar.h's SF_CVT_<SK><DK>,
 * shared with the CUDA casts */

/* X(DT, T, UT) */
#define ADDN_TYPES(X)                                                                                   \
    X(float32, float, float) X(float64, double, double) X(int32, int32_t, uint32_t) X(int64, int64_t, uint64_t) \
    X(int8, int8_t, uint32_t) X(int16, int16_t, uint32_t) X(uint8, uint8_t, uint32_t)                    \
    X(uint16, uint16_t, uint32_t) X(uint32, uint32_t, uint32_t) X(uint64, uint64_t, uint64_t)
/* X(DT) */
#define ADDN_HALF_TYPES(X) X(float16) X(bfloat16)

/* ===========================================================================
 * Kernel definitions
 * ======================================================================== */

/* The loops: SO, SA, ... are either a constant (1 or 0, so the compiler
 * specialises and vectorises) or the run's stride. */
#define UNARY_LOOP(T, TO, EXPR, SO, SA)                 \
    do {                                                \
        SF_IVDEP                                        \
        for (int64_t i = 0; i < n; i++) {               \
            const T x = a[i * (SA)];                    \
            o[i * (SO)] = (TO)(EXPR);                   \
        }                                               \
    } while (0)

/* PRO: a statement run before the loop (reads the attributes) */
#define DEF_UNARY_(OP, DT, T, EXPR, PRO)                                        \
    static int row_##OP##_##DT(EW_ROW_ARGS)                                     \
    {                                                                           \
        T *o = (T *)o_;                                                         \
        const T *a = (const T *)a_;                                             \
        (void)b_; (void)sb; (void)c_; (void)sc;                                 \
        PRO;                                                                    \
        if (so == 1 && sa == 1) UNARY_LOOP(T, T, EXPR, 1, 1);                   \
        else UNARY_LOOP(T, T, EXPR, so, sa);                                    \
        return 0;                                                               \
    }                                                                           \
    EW_PUBLIC(OP##_##DT, 1, DTC_##DT, 0, 0, DTC_##DT)
#define DEF_UNARY(OP, DT, T, EXPR) DEF_UNARY_(OP, DT, T, EXPR, (void)fa)
#define DEF_UNARY_ATTR(OP, DT, T, EXPR) DEF_UNARY_(OP, DT, T, EXPR, const T alpha = (T)fa[SF_FATTR_ALPHA])

#define BINARY_LOOP(TI, TO, EXPR, SO, SA, SB)           \
    do {                                                \
        SF_IVDEP                                        \
        for (int64_t i = 0; i < n; i++) {               \
            const TI x = a[i * (SA)];                   \
            const TI y = b[i * (SB)];                   \
            o[i * (SO)] = (TO)(EXPR);                   \
        }                                               \
    } while (0)

#define DEF_BINARY_(OP, DT, TI, ODT, TO, EXPR, PRO)                             \
    static int row_##OP##_##DT(EW_ROW_ARGS)                                     \
    {                                                                           \
        TO *o = (TO *)o_;                                                       \
        const TI *a = (const TI *)a_, *b = (const TI *)b_;                      \
        int bad = 0;                                                            \
        (void)c_; (void)sc;                                                     \
        PRO;                                                                    \
        if (so == 1 && sa == 1 && sb == 1) BINARY_LOOP(TI, TO, EXPR, 1, 1, 1);  \
        else if (so == 1 && sa == 0 && sb == 1) BINARY_LOOP(TI, TO, EXPR, 1, 0, 1); \
        else if (so == 1 && sa == 1 && sb == 0) BINARY_LOOP(TI, TO, EXPR, 1, 1, 0); \
        else BINARY_LOOP(TI, TO, EXPR, so, sa, sb);                             \
        return bad;                                                             \
    }                                                                           \
    EW_PUBLIC(OP##_##DT, 2, DTC_##DT, DTC_##DT, 0, DTC_##ODT)
#define DEF_BINARY(OP, DT, TI, ODT, TO, EXPR) DEF_BINARY_(OP, DT, TI, ODT, TO, EXPR, (void)fa)
#define DEF_BINARY_ATTR(OP, DT, TI, ODT, TO, EXPR) \
    DEF_BINARY_(OP, DT, TI, ODT, TO, EXPR, const TI alpha = (TI)fa[SF_FATTR_ALPHA])

/* x and y are both loaded, so the choice is a branch-free blend */
#define SELECT_LOOP(T, SO, SC, SX, SY)                  \
    do {                                                \
        SF_IVDEP                                        \
        for (int64_t i = 0; i < n; i++) {               \
            const T xv = x[i * (SX)], yv = y[i * (SY)]; \
            o[i * (SO)] = c[i * (SC)] ? xv : yv;        \
        }                                               \
    } while (0)

#define DEF_SELECT(DT, T)                                                       \
    static int row_select_##DT(EW_ROW_ARGS)                                     \
    {                                                                           \
        T *o = (T *)o_;                                                         \
        const uint8_t *c = (const uint8_t *)a_;                                 \
        const T *x = (const T *)b_, *y = (const T *)c_;                         \
        if (so == 1 && sa == 1 && sb == 1 && sc == 1) SELECT_LOOP(T, 1, 1, 1, 1); \
        else if (so == 1 && sa == 1 && sb == 1 && sc == 0) SELECT_LOOP(T, 1, 1, 1, 0); \
        else if (so == 1 && sa == 1 && sb == 0 && sc == 1) SELECT_LOOP(T, 1, 1, 0, 1); \
        else SELECT_LOOP(T, so, sa, sb, sc);                                    \
        return 0;                                                               \
    }                                                                           \
    EW_PUBLIC(select_##DT, 3, SF_BOOL, DTC_##DT, DTC_##DT, DTC_##DT)

#define DEF_CAST(SDT, ST, SK, DDT, DTT, DK)                                     \
    static int row_cast_##SDT##_##DDT(EW_ROW_ARGS)                              \
    {                                                                           \
        DTT *o = (DTT *)o_;                                                     \
        const ST *a = (const ST *)a_;                                           \
        (void)b_; (void)sb; (void)c_; (void)sc;                                 \
        if (so == 1 && sa == 1) UNARY_LOOP(ST, DTT, SF_CVT_##SK##DK(SDT, DDT, DTT, x), 1, 1); \
        else UNARY_LOOP(ST, DTT, SF_CVT_##SK##DK(SDT, DDT, DTT, x), so, sa);        \
        return 0;                                                               \
    }                                                                           \
    EW_PUBLIC(cast_##SDT##_##DDT, 1, DTC_##SDT, 0, 0, DTC_##DDT)

/* 16-bit floats: x (and y) are loaded as float32, EXPR runs in float32 and
 * its value is rounded to the output type (SF_HOUT_<odt>: bool stores as is). */
#define UNARY_LOOP_H(DT, EXPR, SO, SA)                  \
    do {                                                \
        SF_IVDEP                                        \
        for (int64_t i = 0; i < n; i++) {               \
            const float x = SF_HLD_##DT(a[i * (SA)]);   \
            o[i * (SO)] = SF_HST_##DT(EXPR);            \
        }                                               \
    } while (0)

#define DEF_UNARY_H_(OP, DT, T, EXPR, PRO)                                      \
    static int row_##OP##_##DT(EW_ROW_ARGS)                                     \
    {                                                                           \
        uint16_t *o = (uint16_t *)o_;                                           \
        const uint16_t *a = (const uint16_t *)a_;                               \
        (void)b_; (void)sb; (void)c_; (void)sc;                                 \
        PRO;                                                                    \
        if (so == 1 && sa == 1) UNARY_LOOP_H(DT, EXPR, 1, 1);                   \
        else UNARY_LOOP_H(DT, EXPR, so, sa);                                    \
        return 0;                                                               \
    }                                                                           \
    EW_PUBLIC(OP##_##DT, 1, DTC_##DT, 0, 0, DTC_##DT)
#define DEF_UNARY_H(OP, DT, T, EXPR) DEF_UNARY_H_(OP, DT, T, EXPR, (void)fa)
#define DEF_UNARY_ATTR_H(OP, DT, T, EXPR) DEF_UNARY_H_(OP, DT, T, EXPR, const float alpha = (float)fa[SF_FATTR_ALPHA])

#define BINARY_LOOP_H(DT, ODT, EXPR, SO, SA, SB)        \
    do {                                                \
        SF_IVDEP                                        \
        for (int64_t i = 0; i < n; i++) {               \
            const float x = SF_HLD_##DT(a[i * (SA)]);   \
            const float y = SF_HLD_##DT(b[i * (SB)]);   \
            o[i * (SO)] = SF_HOUT_##ODT(EXPR);          \
        }                                               \
    } while (0)

#define DEF_BINARY_H_(OP, DT, TI, ODT, TO, EXPR, PRO)                           \
    static int row_##OP##_##DT(EW_ROW_ARGS)                                     \
    {                                                                           \
        SF_HOUTT_##ODT *o = (SF_HOUTT_##ODT *)o_;                               \
        const uint16_t *a = (const uint16_t *)a_, *b = (const uint16_t *)b_;    \
        (void)c_; (void)sc;                                                     \
        PRO;                                                                    \
        if (so == 1 && sa == 1 && sb == 1) BINARY_LOOP_H(DT, ODT, EXPR, 1, 1, 1); \
        else if (so == 1 && sa == 0 && sb == 1) BINARY_LOOP_H(DT, ODT, EXPR, 1, 0, 1); \
        else if (so == 1 && sa == 1 && sb == 0) BINARY_LOOP_H(DT, ODT, EXPR, 1, 1, 0); \
        else BINARY_LOOP_H(DT, ODT, EXPR, so, sa, sb);                          \
        return 0;                                                               \
    }                                                                           \
    EW_PUBLIC(OP##_##DT, 2, DTC_##DT, DTC_##DT, 0, DTC_##ODT)
#define DEF_BINARY_H(OP, DT, TI, ODT, TO, EXPR) DEF_BINARY_H_(OP, DT, TI, ODT, TO, EXPR, (void)fa)
#define DEF_BINARY_ATTR_H(OP, DT, TI, ODT, TO, EXPR) \
    DEF_BINARY_H_(OP, DT, TI, ODT, TO, EXPR, const float alpha = (float)fa[SF_FATTR_ALPHA])

#define INST_UNARY_FLOAT(DT, T, S) UNARY_FLOAT_OPS(DEF_UNARY, DT, T, S) UNARY_ATTR_FLOAT_OPS(DEF_UNARY_ATTR, DT, T, S)
#define INST_UNARY_HALF(DT, T, S) UNARY_FLOAT_OPS(DEF_UNARY_H, DT, T, S) UNARY_ATTR_FLOAT_OPS(DEF_UNARY_ATTR_H, DT, T, S)
#define INST_UNARY_UINT(DT, T, UT) UNARY_UINT_OPS(DEF_UNARY, DT, T, UT)
#define INST_BINARY_HALF(DT, T, S)                                              \
    BINARY_FLOAT_OPS(DEF_BINARY_H, DT, T, S) COMPARE_OPS(DEF_BINARY_H, DT, T)   \
    BINARY_GRAD_FLOAT_OPS(DEF_BINARY_H, DT, T, S) BINARY_ATTR_FLOAT_OPS(DEF_BINARY_ATTR_H, DT, T, S)
#define INST_BINARY_SMALL_INT(DT, T, UT) BINARY_SMALL_INT_OPS(DEF_BINARY, DT, T, UT) COMPARE_OPS(DEF_BINARY, DT, T)
#define INST_BINARY_UINT(DT, T, UT) BINARY_UINT_OPS(DEF_BINARY, DT, T, UT) COMPARE_OPS(DEF_BINARY, DT, T)
#define INST_UNARY_INT(DT, T, UT) UNARY_INT_OPS(DEF_UNARY, DT, T, UT)
#define INST_BINARY_FLOAT(DT, T, S)                                             \
    BINARY_FLOAT_OPS(DEF_BINARY, DT, T, S) COMPARE_OPS(DEF_BINARY, DT, T)       \
    BINARY_GRAD_FLOAT_OPS(DEF_BINARY, DT, T, S) BINARY_ATTR_FLOAT_OPS(DEF_BINARY_ATTR, DT, T, S)
#define INST_BINARY_INT(DT, T, UT) BINARY_INT_OPS(DEF_BINARY, DT, T, UT) COMPARE_OPS(DEF_BINARY, DT, T)
#define INST_CAST_SRC(SDT, ST, SK) CAST_DSTS(DEF_CAST, SDT, ST, SK)

FOR_FLOAT_TYPES(INST_UNARY_FLOAT)
FOR_INT_TYPES(INST_UNARY_INT)
UNARY_BOOL_OPS(DEF_UNARY)
FOR_FLOAT_TYPES(INST_BINARY_FLOAT)
FOR_INT_TYPES(INST_BINARY_INT)
BINARY_BOOL_OPS(DEF_BINARY)
SELECT_TYPES(DEF_SELECT)
CAST_SRCS(INST_CAST_SRC)
FOR_HALF_TYPES(INST_UNARY_HALF)
FOR_HALF_TYPES(INST_BINARY_HALF)
FOR_SMALL_INT_TYPES(INST_UNARY_INT)
FOR_SMALL_INT_TYPES(INST_BINARY_SMALL_INT)
FOR_UINT_TYPES(INST_UNARY_UINT)
FOR_UINT_TYPES(INST_BINARY_UINT)

/* ---- addn: n_in views of the output's shape, summed --------------------- */

/* Sums inputs into a stack block before writing, so an output that is the
 * same view as one of the inputs is fine. */
typedef void (*addn_block_fn)(const sf_call *call, int flat, int64_t row, int64_t c0, int64_t n);

static int addn_run(sf_call *call, const char *name, int32_t dt, addn_block_fn fn)
{
    char s1[96], s2[96];
    if (call->n_in < 1 || call->n_out < 1)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: expected at least 1 input and 1 output, got %d and %d",
                       name, (int)call->n_in, (int)call->n_out);
    const sf_tensor *out = &call->out[0];
    if (out->dtype != dt)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: output has dtype %s, expected %s", name,
                       sf_dtype_name(out->dtype), sf_dtype_name(dt));
    if (out->ndim < 0 || out->ndim > SF_MAX_DIMS)
        return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: output has %d dims (at most %d)", name,
                       (int)out->ndim, SF_MAX_DIMS);
    int flat = sf_is_contiguous(out);
    for (int k = 0; k < call->n_in; k++) {
        const sf_tensor *in = &call->in[k];
        if (in->dtype != dt)
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: input %d has dtype %s, expected %s", name, k,
                           sf_dtype_name(in->dtype), sf_dtype_name(dt));
        int same = in->ndim == out->ndim;
        for (int d = 0; same && d < out->ndim; d++) same = in->shape[d] == out->shape[d];
        if (!same)
            return sf_fail(call, SF_ERR_INVALID_ARGUMENT, "%s: input %d has shape %s, expected the output's %s",
                           name, k, sf_shape_str(in, s1, sizeof s1), sf_shape_str(out, s2, sizeof s2));
        flat = flat && sf_is_contiguous(in);
    }
    const int64_t total = sf_numel(out);
    if (total <= 0) return SF_OK;
    /* all dense: one flat run; otherwise the output's rows */
    const int64_t rows = flat ? 1 : sf_rows(out), len = flat ? total : sf_row_len(out);
    const int64_t cpr = (len + ADDN_BLOCK - 1) / ADDN_BLOCK, ntasks = rows * cpr;
    if (total < SF_PARALLEL_MIN) {
        for (int64_t task = 0; task < ntasks; task++) {
            const int64_t c0 = task % cpr * ADDN_BLOCK;
            fn(call, flat, task / cpr, c0, len - c0 < ADDN_BLOCK ? len - c0 : ADDN_BLOCK);
        }
    } else {
        const int chunk = sf_chunk(ADDN_BLOCK);
#pragma omp parallel for schedule(dynamic, chunk)
        for (int64_t task = 0; task < ntasks; task++) {
            const int64_t c0 = task % cpr * ADDN_BLOCK;
            fn(call, flat, task / cpr, c0, len - c0 < ADDN_BLOCK ? len - c0 : ADDN_BLOCK);
        }
    }
    return SF_OK;
}

#define DEF_ADDN(DT, T, UT)                                                     \
    static void addn_block_##DT(const sf_call *call, int flat, int64_t row, int64_t c0, int64_t n) \
    {                                                                           \
        UT acc[ADDN_BLOCK];                                                     \
        const sf_tensor *out = &call->out[0];                                   \
        for (int k = 0; k < call->n_in; k++) {                                  \
            const sf_tensor *in = &call->in[k];                                 \
            const int64_t s = flat ? 1 : sf_inner_stride(in);                   \
            const T *p = (const T *)in->data + (flat ? 0 : sf_row_offset(in, out, row)) + c0 * s; \
            if (k == 0) {                                                       \
                if (s == 1) for (int64_t i = 0; i < n; i++) acc[i] = (UT)p[i];  \
                else for (int64_t i = 0; i < n; i++) acc[i] = (UT)p[i * s];     \
            } else if (s == 1) {                                                \
                for (int64_t i = 0; i < n; i++) acc[i] += (UT)p[i];             \
            } else if (s == 0) {                                                \
                const UT v = (UT)p[0];                                          \
                for (int64_t i = 0; i < n; i++) acc[i] += v;                    \
            } else {                                                            \
                for (int64_t i = 0; i < n; i++) acc[i] += (UT)p[i * s];         \
            }                                                                   \
        }                                                                       \
        const int64_t so = flat ? 1 : sf_inner_stride(out);                     \
        T *o = (T *)out->data + (flat ? 0 : sf_row_offset(out, out, row)) + c0 * so; \
        if (so == 1) for (int64_t i = 0; i < n; i++) o[i] = (T)acc[i];          \
        else for (int64_t i = 0; i < n; i++) o[i * so] = (T)acc[i];             \
    }                                                                           \
    int sf_cpu_addn_##DT(sf_call *call) { return addn_run(call, "sf_cpu_addn_" #DT, DTC_##DT, addn_block_##DT); }

ADDN_TYPES(DEF_ADDN)

/* 16-bit floats: each addition rounds to the type, in input order, as
 * TensorFlow's AddN on Eigen::half / Eigen::bfloat16 does. */
#define DEF_ADDN_H(DT)                                                          \
    static void addn_block_##DT(const sf_call *call, int flat, int64_t row, int64_t c0, int64_t n) \
    {                                                                           \
        float acc[ADDN_BLOCK];                                                  \
        const sf_tensor *out = &call->out[0];                                   \
        for (int k = 0; k < call->n_in; k++) {                                  \
            const sf_tensor *in = &call->in[k];                                 \
            const int64_t s = flat ? 1 : sf_inner_stride(in);                   \
            const uint16_t *p = (const uint16_t *)in->data + (flat ? 0 : sf_row_offset(in, out, row)) + c0 * s; \
            if (k == 0)                                                         \
                for (int64_t i = 0; i < n; i++) acc[i] = SF_HLD_##DT(p[i * s]); \
            else                                                                \
                for (int64_t i = 0; i < n; i++) acc[i] = SF_HLD_##DT(SF_HST_##DT(acc[i] + SF_HLD_##DT(p[i * s]))); \
        }                                                                       \
        const int64_t so = flat ? 1 : sf_inner_stride(out);                     \
        uint16_t *o = (uint16_t *)out->data + (flat ? 0 : sf_row_offset(out, out, row)) + c0 * so; \
        for (int64_t i = 0; i < n; i++) o[i * so] = SF_HST_##DT(acc[i]);        \
    }                                                                           \
    int sf_cpu_addn_##DT(sf_call *call) { return addn_run(call, "sf_cpu_addn_" #DT, DTC_##DT, addn_block_##DT); }

ADDN_HALF_TYPES(DEF_ADDN_H)

/* ===========================================================================
 * The family's kernel table
 * ======================================================================== */

#define ENT(NAME) {"sf_cpu_" #NAME, sf_cpu_##NAME},
#define ENT_UNARY(OP, DT, T, EXPR) ENT(OP##_##DT)
#define ENT_BINARY(OP, DT, TI, ODT, TO, EXPR) ENT(OP##_##DT)
#define ENT_SELECT(DT, T) ENT(select_##DT)
#define ENT_CAST(SDT, ST, SK, DDT, DTT, DK) ENT(cast_##SDT##_##DDT)
#define ENT_ADDN(DT, T, UT) ENT(addn_##DT)
#define TAB_UNARY_FLOAT(DT, T, S) UNARY_FLOAT_OPS(ENT_UNARY, DT, T, S) UNARY_ATTR_FLOAT_OPS(ENT_UNARY, DT, T, S)
#define TAB_UNARY_INT(DT, T, UT) UNARY_INT_OPS(ENT_UNARY, DT, T, UT)
#define TAB_BINARY_FLOAT(DT, T, S)                                              \
    BINARY_FLOAT_OPS(ENT_BINARY, DT, T, S) COMPARE_OPS(ENT_BINARY, DT, T)       \
    BINARY_GRAD_FLOAT_OPS(ENT_BINARY, DT, T, S) BINARY_ATTR_FLOAT_OPS(ENT_BINARY, DT, T, S)
#define TAB_BINARY_INT(DT, T, UT) BINARY_INT_OPS(ENT_BINARY, DT, T, UT) COMPARE_OPS(ENT_BINARY, DT, T)
#define TAB_UNARY_UINT(DT, T, UT) UNARY_UINT_OPS(ENT_UNARY, DT, T, UT)
#define TAB_BINARY_SMALL_INT(DT, T, UT) BINARY_SMALL_INT_OPS(ENT_BINARY, DT, T, UT) COMPARE_OPS(ENT_BINARY, DT, T)
#define TAB_BINARY_UINT(DT, T, UT) BINARY_UINT_OPS(ENT_BINARY, DT, T, UT) COMPARE_OPS(ENT_BINARY, DT, T)
#define ENT_ADDN_H(DT) ENT(addn_##DT)
#define TAB_CAST_SRC(SDT, ST, SK) CAST_DSTS(ENT_CAST, SDT, ST, SK)

static const sf_kernel_entry ew_entries[] = {
    FOR_FLOAT_TYPES(TAB_UNARY_FLOAT)
    FOR_INT_TYPES(TAB_UNARY_INT)
    UNARY_BOOL_OPS(ENT_UNARY)
    FOR_FLOAT_TYPES(TAB_BINARY_FLOAT)
    FOR_INT_TYPES(TAB_BINARY_INT)
    BINARY_BOOL_OPS(ENT_BINARY)
    SELECT_TYPES(ENT_SELECT)
    CAST_SRCS(TAB_CAST_SRC)
    ADDN_TYPES(ENT_ADDN)
    FOR_HALF_TYPES(TAB_UNARY_FLOAT)
    FOR_HALF_TYPES(TAB_BINARY_FLOAT)
    FOR_SMALL_INT_TYPES(TAB_UNARY_INT)
    FOR_SMALL_INT_TYPES(TAB_BINARY_SMALL_INT)
    FOR_UINT_TYPES(TAB_UNARY_UINT)
    FOR_UINT_TYPES(TAB_BINARY_UINT)
    ADDN_HALF_TYPES(ENT_ADDN_H)
};

int64_t sf_cpu_elementwise_entries(const sf_kernel_entry **out)
{
    if (out) *out = ew_entries;
    return (int64_t)(sizeof ew_entries / sizeof ew_entries[0]);
}
