/* Array kernels: copy (any view to any view), gather, one_hot, unsorted_segment_sum.
 *
 * Every dtype has its own instantiation (X-macros below) on its own C type,
 * so no value is ever accessed through a type other than its own. bool and
 * uint8 are uint8_t; float16 and bfloat16 are their uint16_t bit patterns.
 */
#include <string.h>
#include <omp.h>

#include "sf_internal.h"

/* dtype name, dtype code, C type */
#define SF_ARRAY_DTYPES(X)               \
    X(float32, SF_FLOAT32, float)        \
    X(float64, SF_FLOAT64, double)       \
    X(int32, SF_INT32, int32_t)          \
    X(int64, SF_INT64, int64_t)          \
    X(bool, SF_BOOL, uint8_t)            \
    X(uint8, SF_UINT8, uint8_t)          \
    X(float16, SF_FLOAT16, uint16_t)     \
    X(bfloat16, SF_BFLOAT16, uint16_t)   \
    X(int8, SF_INT8, int8_t)             \
    X(int16, SF_INT16, int16_t)          \
    X(uint16, SF_UINT16, uint16_t)       \
    X(uint32, SF_UINT32, uint32_t)       \
    X(uint64, SF_UINT64, uint64_t)

/* Copies of at least this many bytes split their memcpy across threads. */
#define SF_MEMCPY_PARALLEL_BYTES ((int64_t)1 << 20)
/* Side of the square tiles of the 2-d transpose. */
#define SF_TILE 32

/* ---- shared helpers ----------------------------------------------------- */

static int sf_check_view(sf_call *c, const sf_tensor *t, const char *what)
{
    if (t->ndim < 0 || t->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s has %d dims (at most %d)", what,
                       (int)t->ndim, SF_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s has negative size %lld in dim %d",
                           what, (long long)t->shape[d], d);
    return SF_OK;
}

/* Two same-shaped views with size-1 dims dropped and adjacent dims merged
 * where both views allow it. nd == 0 means a single element. */
typedef struct {
    int nd;
    int64_t shape[SF_MAX_DIMS];
    int64_t so[SF_MAX_DIMS]; /* out strides */
    int64_t si[SF_MAX_DIMS]; /* in strides */
} sf_pair;

static void sf_pair_coalesce(sf_pair *p, const sf_tensor *out, const sf_tensor *in)
{
    int k = 0;
    for (int d = 0; d < out->ndim; d++) {
        if (out->shape[d] == 1) continue;
        if (k > 0 && p->so[k - 1] == out->strides[d] * out->shape[d] &&
            p->si[k - 1] == in->strides[d] * out->shape[d]) {
            p->shape[k - 1] *= out->shape[d];
            p->so[k - 1] = out->strides[d];
            p->si[k - 1] = in->strides[d];
            continue;
        }
        p->shape[k] = out->shape[d];
        p->so[k] = out->strides[d];
        p->si[k] = in->strides[d];
        k++;
    }
    p->nd = k;
}

/* Row iteration over dims [0, nd-1) of a pair: offsets of a row's first
 * element in both views, advanced in C order. */
typedef struct {
    int64_t idx[SF_MAX_DIMS];
    int64_t oo, oi;
} sf_rowpos;

static inline void sf_rowpos_init(sf_rowpos *r, const sf_pair *p, int64_t row)
{
    r->oo = r->oi = 0;
    for (int d = p->nd - 2; d >= 0; d--) {
        int64_t n = p->shape[d];
        r->idx[d] = row % n;
        row /= n;
        r->oo += r->idx[d] * p->so[d];
        r->oi += r->idx[d] * p->si[d];
    }
}

static inline void sf_rowpos_next(sf_rowpos *r, const sf_pair *p)
{
    for (int d = p->nd - 2; d >= 0; d--) {
        r->oo += p->so[d];
        r->oi += p->si[d];
        if (++r->idx[d] < p->shape[d]) return;
        r->oo -= p->so[d] * p->shape[d];
        r->oi -= p->si[d] * p->shape[d];
        r->idx[d] = 0;
    }
}

/* [lo, hi) of n items for thread t of nt. */
static inline void sf_split(int64_t n, int t, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

/* ---- copy --------------------------------------------------------------- */

/* Layout of a copy after coalescing, chosen once per call. */
enum {
    SF_COPY_ROWS_MEMCPY, /* inner strides 1 and 1 */
    SF_COPY_ROWS_FILL,   /* inner in stride 0 */
    SF_COPY_ROWS_GATHER, /* inner out stride 1 */
    SF_COPY_ROWS_STRIDED,
    SF_COPY_TILED /* 2-d transpose on dims (tile_a, last) */
};

#define SF_DEFINE_COPY(NAME, CODE, T)                                                      \
    static void sf_copy_row_##NAME(int kind, T *restrict o, const T *restrict i, int64_t n, \
                                   int64_t so, int64_t si)                                 \
    {                                                                                      \
        switch (kind) {                                                                    \
        case SF_COPY_ROWS_MEMCPY:                                                          \
            memcpy(o, i, (size_t)n * sizeof(T));                                           \
            break;                                                                         \
        case SF_COPY_ROWS_FILL: {                                                          \
            const T v = *i;                                                                \
            if (so == 1)                                                                   \
                for (int64_t j = 0; j < n; j++) o[j] = v;                                  \
            else                                                                           \
                for (int64_t j = 0; j < n; j++) o[j * so] = v;                             \
            break;                                                                         \
        }                                                                                  \
        case SF_COPY_ROWS_GATHER:                                                          \
            if (si == -1)                                                                  \
                for (int64_t j = 0; j < n; j++) o[j] = i[-j];                              \
            else                                                                           \
                for (int64_t j = 0; j < n; j++) o[j] = i[j * si];                          \
            break;                                                                         \
        default:                                                                           \
            for (int64_t j = 0; j < n; j++) o[j * so] = i[j * si];                         \
            break;                                                                         \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    /* One na x nb block, out[a*soa + b*sob] = in[a*sia + b*sib], in tiles. */             \
    static void sf_copy_tile2d_##NAME(T *restrict o, const T *restrict i, int64_t na,      \
                                      int64_t nb, int64_t soa, int64_t sob, int64_t sia,   \
                                      int64_t sib)                                         \
    {                                                                                      \
        for (int64_t b0 = 0; b0 < nb; b0 += SF_TILE) {                                     \
            int64_t b1 = b0 + SF_TILE < nb ? b0 + SF_TILE : nb;                            \
            for (int64_t a = 0; a < na; a++) {                                             \
                T *restrict oa = o + a * soa;                                              \
                const T *restrict ia = i + a * sia;                                        \
                for (int64_t b = b0; b < b1; b++) oa[b * sob] = ia[b * sib];               \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    int sf_cpu_copy_##NAME(sf_call *c)                                                     \
    {                                                                                      \
        if (c->n_in < 1 || c->n_out < 1)                                                   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "copy_" #NAME " takes 1 input and 1 output, got %d and %d",     \
                           (int)c->n_in, (int)c->n_out);                                   \
        const sf_tensor *in = &c->in[0], *out = &c->out[0];                                \
        if (in->dtype != CODE || out->dtype != CODE)                                       \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "copy_" #NAME " got %s input and %s output",                    \
                           sf_dtype_name(in->dtype), sf_dtype_name(out->dtype));           \
        int st;                                                                            \
        if ((st = sf_check_view(c, in, "input")) || (st = sf_check_view(c, out, "output"))) \
            return st;                                                                     \
        if (in->ndim != out->ndim)                                                         \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "copy_" #NAME ": input has %d dims, output %d", (int)in->ndim,  \
                           (int)out->ndim);                                                \
        for (int d = 0; d < out->ndim; d++)                                                \
            if (in->shape[d] != out->shape[d])                                             \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                 \
                               "copy_" #NAME ": input dim %d is %lld, output's %lld", d,   \
                               (long long)in->shape[d], (long long)out->shape[d]);         \
        const int64_t total = sf_numel(out);                                               \
        if (total == 0) return SF_OK;                                                      \
        T *o = (T *)out->data;                                                             \
        const T *i = (const T *)in->data;                                                  \
        sf_pair p;                                                                         \
        sf_pair_coalesce(&p, out, in);                                                     \
        if (p.nd == 0) {                                                                   \
            *o = *i;                                                                       \
            return SF_OK;                                                                  \
        }                                                                                  \
        const int L = p.nd - 1;                                                            \
        const int64_t n = p.shape[L], so = p.so[L], si = p.si[L];                          \
        /* whole-buffer memcpy */                                                          \
        if (p.nd == 1 && so == 1 && si == 1) {                                             \
            const int64_t bytes = n * (int64_t)sizeof(T);                                  \
            if (bytes < SF_MEMCPY_PARALLEL_BYTES) {                                        \
                memcpy(o, i, (size_t)bytes);                                               \
                return SF_OK;                                                              \
            }                                                                              \
            _Pragma("omp parallel")                                                        \
            {                                                                              \
                int64_t lo, hi;                                                            \
                sf_split(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);        \
                if (hi > lo) memcpy(o + lo, i + lo, (size_t)(hi - lo) * sizeof(T));        \
            }                                                                              \
            return SF_OK;                                                                  \
        }                                                                                  \
        const int par = total >= SF_PARALLEL_MIN;                                          \
        /* 2-d transpose: one view is unit-stride along the last dim, the other  \
         * along an earlier dim a: copy in tiles over (a, last). */                        \
        int ta = -1;                                                                       \
        if (n >= 4 && !(so == 1 && si == 1) && si != 0 && (so == 1 || si == 1)) {          \
            for (int d = 0; d < L; d++) {                                                  \
                if (p.shape[d] < 4) continue;                                              \
                if ((so == 1 && p.si[d] == 1) || (si == 1 && p.so[d] == 1)) ta = d;        \
            }                                                                              \
        }                                                                                  \
        if (ta >= 0) {                                                                     \
            /* the other dims, as their own pair, iterate the 2-d planes */                \
            sf_pair q;                                                                     \
            q.nd = 0;                                                                      \
            for (int d = 0; d < L; d++) {                                                  \
                if (d == ta) continue;                                                     \
                q.shape[q.nd] = p.shape[d];                                                \
                q.so[q.nd] = p.so[d];                                                      \
                q.si[q.nd] = p.si[d];                                                      \
                q.nd++;                                                                    \
            }                                                                              \
            /* trailing dummy dim so that sf_rowpos walks all of q's dims */               \
            q.shape[q.nd] = 1;                                                             \
            q.so[q.nd] = q.si[q.nd] = 0;                                                   \
            q.nd++;                                                                        \
            int64_t planes = 1;                                                            \
            for (int d = 0; d + 1 < q.nd; d++) planes *= q.shape[d];                       \
            const int64_t na = p.shape[ta], soa = p.so[ta], sia = p.si[ta];                \
            const int64_t ablocks = (na + SF_TILE - 1) / SF_TILE;                          \
            const int64_t tasks = planes * ablocks;                                        \
            const int sf_ch_ = sf_chunk(SF_TILE * n);                                      \
            _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(par)")                           \
            for (int64_t t = 0; t < tasks; t++) {                                          \
                sf_rowpos r;                                                               \
                sf_rowpos_init(&r, &q, t / ablocks);                                       \
                int64_t a0 = (t % ablocks) * SF_TILE;                                      \
                int64_t a1 = a0 + SF_TILE < na ? a0 + SF_TILE : na;                        \
                sf_copy_tile2d_##NAME(o + r.oo + a0 * soa, i + r.oi + a0 * sia, a1 - a0,   \
                                      n, soa, so, sia, si);                                \
            }                                                                              \
            return SF_OK;                                                                  \
        }                                                                                  \
        int kind = (so == 1 && si == 1) ? SF_COPY_ROWS_MEMCPY                              \
                   : si == 0            ? SF_COPY_ROWS_FILL                                \
                   : so == 1            ? SF_COPY_ROWS_GATHER                              \
                                        : SF_COPY_ROWS_STRIDED;                            \
        const int64_t rows = total / n;                                                    \
        _Pragma("omp parallel if(par)")                                                    \
        {                                                                                  \
            int64_t lo, hi;                                                                \
            sf_split(rows, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);         \
            if (hi > lo) {                                                                 \
                sf_rowpos r;                                                               \
                sf_rowpos_init(&r, &p, lo);                                                \
                for (int64_t row = lo; row < hi; row++) {                                  \
                    sf_copy_row_##NAME(kind, o + r.oo, i + r.oi, n, so, si);               \
                    sf_rowpos_next(&r, &p);                                                \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        return SF_OK;                                                                      \
    }

SF_ARRAY_DTYPES(SF_DEFINE_COPY)

/* ---- gather ------------------------------------------------------------- */

/* Reads index k of a 1-d int32/int64 view. */
static inline int64_t sf_index_at(const sf_tensor *t, int64_t k)
{
    int64_t s = t->ndim ? t->strides[0] : 0;
    if (t->dtype == SF_INT32) return ((const int32_t *)t->data)[k * s];
    return ((const int64_t *)t->data)[k * s];
}

#define SF_DEFINE_GATHER(NAME, CODE, T)                                                    \
    int sf_cpu_gather_##NAME(sf_call *c)                                                   \
    {                                                                                      \
        if (c->n_in < 2 || c->n_out < 1)                                                   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "gather_" #NAME " takes 2 inputs and 1 output, got %d and %d",  \
                           (int)c->n_in, (int)c->n_out);                                   \
        const sf_tensor *pa = &c->in[0], *ix = &c->in[1], *out = &c->out[0];               \
        if (pa->dtype != CODE || out->dtype != CODE)                                       \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "gather_" #NAME " got %s params and %s output",                 \
                           sf_dtype_name(pa->dtype), sf_dtype_name(out->dtype));           \
        if (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)                                \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "gather indices must be int32 or int64, got %s",                \
                           sf_dtype_name(ix->dtype));                                      \
        if (pa->ndim != 3 || ix->ndim != 1 || out->ndim != 3)                              \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "gather takes params [outer, n, inner], indices [m] and out "   \
                           "[outer, m, inner]; got %d, %d and %d dims",                    \
                           (int)pa->ndim, (int)ix->ndim, (int)out->ndim);                  \
        const int64_t outer = pa->shape[0], n = pa->shape[1], inner = pa->shape[2];        \
        const int64_t m = ix->shape[0];                                                    \
        if (out->shape[0] != outer || out->shape[1] != m || out->shape[2] != inner ||      \
            outer < 0 || n < 0 || inner < 0 || m < 0)                                      \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "gather: out shape [%lld, %lld, %lld] is not [%lld, %lld, %lld]", \
                           (long long)out->shape[0], (long long)out->shape[1],             \
                           (long long)out->shape[2], (long long)outer, (long long)m,       \
                           (long long)inner);                                              \
        /* every index is checked before anything is written */                            \
        for (int64_t k = 0; k < m; k++) {                                                  \
            int64_t v = sf_index_at(ix, k);                                                \
            if (v < 0 || v >= n)                                                           \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                 \
                               "indices[%lld] = %lld is not in [0, %lld)", (long long)k,   \
                               (long long)v, (long long)n);                                \
        }                                                                                  \
        if (outer == 0 || m == 0 || inner == 0) return SF_OK;                              \
        T *o = (T *)out->data;                                                             \
        const T *s = (const T *)pa->data;                                                  \
        const int64_t ps0 = pa->strides[0], ps1 = pa->strides[1], ps2 = pa->strides[2];    \
        const int64_t os0 = out->strides[0], os1 = out->strides[1], os2 = out->strides[2]; \
        const int unit = ps2 == 1 && os2 == 1;                                             \
        const int64_t rows = outer * m;                                                    \
        const int par = rows * inner >= SF_PARALLEL_MIN;                                   \
        const int sf_ch_ = sf_chunk(inner);                                                \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(par)")                               \
        for (int64_t r = 0; r < rows; r++) {                                               \
            const int64_t a = r / m, k = r % m;                                            \
            const int64_t v = sf_index_at(ix, k);                                          \
            T *restrict od = o + a * os0 + k * os1;                                        \
            const T *restrict sd = s + a * ps0 + v * ps1;                                  \
            if (unit)                                                                      \
                memcpy(od, sd, (size_t)inner * sizeof(T));                                 \
            else                                                                           \
                for (int64_t j = 0; j < inner; j++) od[j * os2] = sd[j * ps2];             \
        }                                                                                  \
        return SF_OK;                                                                      \
    }

SF_ARRAY_DTYPES(SF_DEFINE_GATHER)

/* ---- one_hot ------------------------------------------------------------ */

static inline int64_t sf_index2_at(const sf_tensor *t, int64_t a, int64_t b)
{
    int64_t off = a * t->strides[0] + b * t->strides[1];
    if (t->dtype == SF_INT32) return ((const int32_t *)t->data)[off];
    return ((const int64_t *)t->data)[off];
}

#define SF_DEFINE_ONE_HOT(NAME, CODE, T)                                                   \
    int sf_cpu_one_hot_##NAME(sf_call *c)                                                  \
    {                                                                                      \
        if (c->n_in < 3 || c->n_out < 1)                                                   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot_" #NAME " takes 3 inputs and 1 output, got %d and %d", \
                           (int)c->n_in, (int)c->n_out);                                   \
        const sf_tensor *ix = &c->in[0], *on = &c->in[1], *off = &c->in[2];                \
        const sf_tensor *out = &c->out[0];                                                 \
        if (on->dtype != CODE || off->dtype != CODE || out->dtype != CODE)                 \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot_" #NAME " got %s on, %s off and %s output values",     \
                           sf_dtype_name(on->dtype), sf_dtype_name(off->dtype),            \
                           sf_dtype_name(out->dtype));                                     \
        if (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)                                \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot indices must be int32 or int64, got %s",               \
                           sf_dtype_name(ix->dtype));                                      \
        if (ix->ndim != 2 || out->ndim != 3)                                               \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot takes indices [outer, inner] and out [outer, depth, "  \
                           "inner]; got %d and %d dims",                                   \
                           (int)ix->ndim, (int)out->ndim);                                 \
        const int64_t outer = out->shape[0], depth = out->shape[1], inner = out->shape[2]; \
        if (ix->shape[0] != outer || ix->shape[1] != inner || depth < 0 || outer < 0 ||    \
            inner < 0)                                                                     \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot: indices [%lld, %lld] do not match out [%lld, %lld, "  \
                           "%lld]",                                                        \
                           (long long)ix->shape[0], (long long)ix->shape[1],               \
                           (long long)outer, (long long)depth, (long long)inner);          \
        if (on->ndim < 0 || on->ndim > SF_MAX_DIMS || off->ndim < 0 ||                     \
            off->ndim > SF_MAX_DIMS || sf_numel(on) != 1 || sf_numel(off) != 1)            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "one_hot: on_value and off_value must be scalars, got %lld and "  \
                           "%lld elements", (long long)sf_numel(on), (long long)sf_numel(off)); \
        if (outer == 0 || depth == 0 || inner == 0) return SF_OK;                          \
        const T von = *(const T *)on->data, voff = *(const T *)off->data;                  \
        T *o = (T *)out->data;                                                             \
        const int64_t s0 = out->strides[0], s1 = out->strides[1], s2 = out->strides[2];    \
        const int par = outer * depth * inner >= SF_PARALLEL_MIN;                          \
        const int sf_ch_ = sf_chunk(depth * inner);                                        \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(par)")                               \
        for (int64_t a = 0; a < outer; a++) {                                              \
            T *restrict oa = o + a * s0;                                                   \
            if (s2 == 1 && s1 == inner) {                                                  \
                for (int64_t j = 0; j < depth * inner; j++) oa[j] = voff;                  \
            } else {                                                                       \
                for (int64_t d = 0; d < depth; d++)                                        \
                    for (int64_t j = 0; j < inner; j++) oa[d * s1 + j * s2] = voff;        \
            }                                                                              \
            for (int64_t j = 0; j < inner; j++) {                                          \
                int64_t v = sf_index2_at(ix, a, j);                                        \
                if (v >= 0 && v < depth) oa[v * s1 + j * s2] = von;                        \
            }                                                                              \
        }                                                                                  \
        return SF_OK;                                                                      \
    }

SF_ARRAY_DTYPES(SF_DEFINE_ONE_HOT)

/* ---- unsorted_segment_sum ------------------------------------------------
 * in[0] data [m, inner] contiguous, in[1] segment ids [m] (int32/int64),
 * out[0] [n, inner] contiguous: out[k] = sum of data rows whose id is k.
 * Negative ids drop their row (TensorFlow's rule); an id >= n is an error,
 * reported before anything is written. The gradient of gather. */
#define SF_DEFINE_SEGMENT_SUM(NAME, CODE, T)                                              \
    int sf_cpu_unsorted_segment_sum_##NAME(sf_call *c)                                     \
    {                                                                                      \
        if (c->n_in != 2 || c->n_out != 1)                                                 \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "unsorted_segment_sum takes 2 inputs and 1 output");            \
        const sf_tensor *d = &c->in[0], *ix = &c->in[1];                                   \
        sf_tensor *o = &c->out[0];                                                         \
        if (d->dtype != CODE || o->dtype != CODE || d->ndim != 2 || o->ndim != 2 ||        \
            ix->ndim != 1 || ix->shape[0] != d->shape[0] || o->shape[1] != d->shape[1])    \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "unsorted_segment_sum: data [m, inner], ids [m], out [n, inner]"); \
        if (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)                                \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "unsorted_segment_sum: ids must be int32 or int64");            \
        const int64_t m = d->shape[0], inner = d->shape[1], n = o->shape[0];               \
        if (m < 0 || inner < 0 || n < 0 || !sf_is_contiguous(d) || !sf_is_contiguous(o))   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                     \
                           "unsorted_segment_sum: data and out must be contiguous, with "  \
                           "non-negative sizes");                                          \
        for (int64_t i = 0; i < m; i++) {                                                  \
            int64_t k = sf_index_at(ix, i);                                                \
            if (k >= n)                                                                    \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                 \
                               "segment_ids[%lld] = %lld is out of range [0, %lld)",       \
                               (long long)i, (long long)k, (long long)n);                  \
        }                                                                                  \
        T *out = (T *)o->data;                                                             \
        const T *data = (const T *)d->data;                                                \
        memset(out, 0, (size_t)(n * inner) * sizeof(T));                                   \
        for (int64_t i = 0; i < m; i++) {                                                  \
            int64_t k = sf_index_at(ix, i);                                                \
            if (k < 0) continue;                                                           \
            T *dst = out + k * inner;                                                      \
            const T *src = data + i * inner;                                               \
            for (int64_t j = 0; j < inner; j++) dst[j] += src[j];                          \
        }                                                                                  \
        return SF_OK;                                                                      \
    }

#define SF_SEGMENT_DTYPES(X)                                                               \
    X(float32, SF_FLOAT32, float) X(float64, SF_FLOAT64, double)                           \
    X(int32, SF_INT32, int32_t) X(int64, SF_INT64, int64_t)                                \
    X(int8, SF_INT8, int8_t) X(int16, SF_INT16, int16_t) X(uint8, SF_UINT8, uint8_t)       \
    X(uint16, SF_UINT16, uint16_t) X(uint32, SF_UINT32, uint32_t) X(uint64, SF_UINT64, uint64_t)

SF_SEGMENT_DTYPES(SF_DEFINE_SEGMENT_SUM)

/* ---- table -------------------------------------------------------------- */

#define SF_ARRAY_ENTRY(NAME, CODE, T)                        \
    {"sf_cpu_copy_" #NAME, sf_cpu_copy_##NAME},              \
    {"sf_cpu_gather_" #NAME, sf_cpu_gather_##NAME},          \
    {"sf_cpu_one_hot_" #NAME, sf_cpu_one_hot_##NAME},

#define SF_SEGMENT_ENTRY(NAME, CODE, T) \
    {"sf_cpu_unsorted_segment_sum_" #NAME, sf_cpu_unsorted_segment_sum_##NAME},

static const sf_kernel_entry sf_array_table[] = {SF_ARRAY_DTYPES(SF_ARRAY_ENTRY)
                                                     SF_SEGMENT_DTYPES(SF_SEGMENT_ENTRY)};

int64_t sf_cpu_array_entries(const sf_kernel_entry **out)
{
    *out = sf_array_table;
    return (int64_t)(sizeof sf_array_table / sizeof sf_array_table[0]);
}
