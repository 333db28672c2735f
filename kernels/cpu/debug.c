/* Debug kernels: check_numerics.
 *
 * sf_cpu_check_numerics_<dt> (float32, float64): in[0] view -> out[0] view
 * of the same shape, a copy (the output may be the very same view as the
 * input, or absent: n_out = 0 only checks). If any element is NaN or
 * +-Inf it returns SF_ERR_INVALID_ARGUMENT with TensorFlow's message,
 * "Tensor had NaN values", "Tensor had Inf values" or "Tensor had Inf and NaN
 * values" (the caller prefixes the op's message); the output is written
 * either way.
 *
 * One pass: copy and test together, in simd loops over unit-stride rows; rows
 * (or chunks of one long row) on OpenMP threads when there are >=
 * SF_PARALLEL_MIN elements.
 */
#include <math.h>
#include <stdint.h>

#include "sf_internal.h"

/* Elements per parallel task of a long row. */
#define DBG_CHUNK 16384

static int dbg_check(sf_call *c, const char *name, int32_t code)
{
    if (c->n_in != 1 || c->n_out > 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 1 input and 0 or 1 output, got %d and %d", name,
                       (int)c->n_in, (int)c->n_out);
    const sf_tensor *in = &c->in[0];
    if (in->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the input has dtype code %d, expected %d", name,
                       (int)in->dtype, (int)code);
    if (in->ndim < 0 || in->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the input has %d dims", name, (int)in->ndim);
    for (int d = 0; d < in->ndim; d++)
        if (in->shape[d] < 0) return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: negative dim", name);
    if (c->n_out == 1) {
        const sf_tensor *out = &c->out[0];
        int same = out->dtype == code && out->ndim == in->ndim;
        for (int d = 0; same && d < in->ndim; d++) same = out->shape[d] == in->shape[d];
        if (!same)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the output must have the input's dtype and shape",
                           name);
    }
    return SF_OK;
}

/* Bit 0: a NaN was seen, bit 1: an Inf. */
static int dbg_status(sf_call *c, int flags)
{
    switch (flags) {
    case 0: return SF_OK;
    case 1: return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Tensor had NaN values");
    case 2: return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Tensor had Inf values");
    default: return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Tensor had Inf and NaN values");
    }
}

#define DBG_DTYPES(X) X(float32, SF_FLOAT32, float, f) X(float64, SF_FLOAT64, double, )

#define DBG_DEFINE(DT, CODE, T, S)                                                              \
    /* n elements from x (stride sx) to y (stride sy; y NULL: no copy); the                    \
     * NaN / Inf flags */                                                                      \
    static int dbg_run_##DT(const T *x, int64_t sx, T *y, int64_t sy, int64_t n)               \
    {                                                                                          \
        int nan_ = 0, inf_ = 0;                                                                \
        if (!y && sx == 1) {                                                                   \
            _Pragma("omp simd reduction(|:nan_, inf_)")                                        \
            for (int64_t i = 0; i < n; i++) {                                                  \
                const T v = x[i];                                                              \
                nan_ |= v != v;                                                                \
                inf_ |= fabs##S(v) == (T)INFINITY;                                             \
            }                                                                                  \
        } else if (!y) {                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                  \
                const T v = x[i * sx];                                                         \
                nan_ |= v != v;                                                                \
                inf_ |= fabs##S(v) == (T)INFINITY;                                             \
            }                                                                                  \
        } else if (sx == 1 && sy == 1) {                                                       \
            _Pragma("omp simd reduction(|:nan_, inf_)")                                        \
            for (int64_t i = 0; i < n; i++) {                                                  \
                const T v = x[i];                                                              \
                y[i] = v;                                                                      \
                nan_ |= v != v;                                                                \
                inf_ |= fabs##S(v) == (T)INFINITY;                                             \
            }                                                                                  \
        } else {                                                                               \
            for (int64_t i = 0; i < n; i++) {                                                  \
                const T v = x[i * sx];                                                         \
                y[i * sy] = v;                                                                 \
                nan_ |= v != v;                                                                \
                inf_ |= fabs##S(v) == (T)INFINITY;                                             \
            }                                                                                  \
        }                                                                                      \
        return (nan_ ? 1 : 0) | (inf_ ? 2 : 0);                                                \
    }                                                                                          \
                                                                                               \
    int sf_cpu_check_numerics_##DT(sf_call *c)                                                 \
    {                                                                                          \
        int st = dbg_check(c, "check_numerics_" #DT, CODE);                                    \
        if (st) return st;                                                                     \
        const sf_tensor *in = &c->in[0], *out = c->n_out ? &c->out[0] : NULL;                  \
        const int64_t total = sf_numel(in);                                                    \
        if (total == 0) return SF_OK;                                                          \
        /* dense views: one flat run; otherwise rows of the input's shape */                   \
        const int flat = sf_is_contiguous(in) && (!out || sf_is_contiguous(out));              \
        const int64_t rows = flat ? 1 : sf_rows(in), len = flat ? total : sf_row_len(in);      \
        const int64_t si = flat ? 1 : sf_inner_stride(in), so = !out ? 0 : flat ? 1 : sf_inner_stride(out); \
        const int64_t cpr = (len + DBG_CHUNK - 1) / DBG_CHUNK, ntasks = rows * cpr;            \
        const T *x = (const T *)in->data;                                                      \
        T *y = out ? (T *)out->data : NULL;                                                    \
        int flags = 0;                                                                         \
        const int sf_ch_ = sf_chunk(DBG_CHUNK);                                                      \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) reduction(|:flags) if(total >= SF_PARALLEL_MIN)") \
        for (int64_t t = 0; t < ntasks; t++) {                                                 \
            const int64_t r = t / cpr, c0 = t % cpr * DBG_CHUNK;                               \
            const int64_t m = len - c0 < DBG_CHUNK ? len - c0 : DBG_CHUNK;                     \
            const int64_t xo = (flat ? 0 : sf_row_offset(in, in, r)) + c0 * si;                \
            const int64_t yo = !out ? 0 : (flat ? 0 : sf_row_offset(out, in, r)) + c0 * so;    \
            flags |= dbg_run_##DT(x + xo, si, y ? y + yo : NULL, so, m);                       \
        }                                                                                      \
        return dbg_status(c, flags);                                                           \
    }

DBG_DTYPES(DBG_DEFINE)

#define DBG_ENTRY(DT, CODE, T, S) {"sf_cpu_check_numerics_" #DT, sf_cpu_check_numerics_##DT},

static const sf_kernel_entry dbg_entries[] = {DBG_DTYPES(DBG_ENTRY)};

int64_t sf_cpu_debug_entries(const sf_kernel_entry **out)
{
    if (out) *out = dbg_entries;
    return (int64_t)(sizeof dbg_entries / sizeof dbg_entries[0]);
}
