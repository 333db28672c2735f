/* Reduction kernels: reduce_{sum,mean,max,min,prod}, reduce_{all,any}_bool,
 * argmax/argmin.
 *
 * The input view's last iattr[SF_REDUCE_NDIMS] dims are reduced; out[0] is contiguous and
 * holds the kept dims in C order. Both groups of dims are coalesced on their
 * own (the reduced ones sorted by stride first, since their order does not
 * matter), then one of two layouts runs:
 *
 *   row mode     each output reduces its own span(s): best when the reduced
 *                dims are innermost (row sums). Contiguous spans use several
 *                independent accumulators so the loop vectorizes without
 *                reassociating a single sum (no -ffast-math needed).
 *   column mode  the innermost kept dim has stride 1 and the reduced ones do
 *                not (column sums: [N, C] reduced over N arrives as shape
 *                (C, N) strides (1, C)): a chunk of adjacent outputs is
 *                accumulated row by row, so the inner loop is contiguous.
 *
 * Work of SF_PARALLEL_MIN input elements or more runs on OpenMP threads, over
 * outputs when there are enough of them, else by cutting the reduced range
 * into a number of parts set by its length (sf_parts), which the threads take
 * as they come free, and merging the partials in part order: the result
 * depends neither on timing nor on the thread count.
 *
 * Accumulators: float32 sums, means and products accumulate in double; int
 * sums and products wrap (unsigned arithmetic) like TensorFlow; int32 means
 * sum in int64 and truncate toward zero. max/min propagate NaN (as
 * TensorFlow's reduce_max/reduce_min). Empty reductions give the identity: sum
 * 0, prod 1, max -inf (floats) or the lowest int, min +inf or the highest int,
 * mean NaN (floats) or 0 (ints), all true, any false. argmax/argmin ignore NaN
 * (TensorFlow's rule, below); of an empty dim they are an error.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <omp.h>

#include "sf_internal.h"

/* Outputs of a column-mode chunk (its accumulators live on the stack). */
#define SF_CHUNK 2048
/* Independent accumulators of a contiguous span. */
#define SF_LANES 16
/* Most threads whose partials a split reduction keeps. */
#define SF_MAX_SPLIT 256

/* ---- geometry ----------------------------------------------------------- */

typedef struct {
    int nd;
    int64_t shape[SF_MAX_DIMS];
    int64_t st[SF_MAX_DIMS];
} sf_dims;

/* Multi-index and offset of flat C-order index `flat` over d. */
static inline int64_t sf_dims_seek(const sf_dims *d, int64_t flat, int64_t *idx)
{
    int64_t off = 0;
    for (int k = d->nd - 1; k >= 0; k--) {
        int64_t n = d->shape[k];
        idx[k] = flat % n;
        flat /= n;
        off += idx[k] * d->st[k];
    }
    return off;
}

/* Advances idx by one in C order; returns the change of offset. */
static inline int64_t sf_dims_next(const sf_dims *d, int64_t *idx)
{
    int64_t delta = 0;
    for (int k = d->nd - 1; k >= 0; k--) {
        delta += d->st[k];
        if (++idx[k] < d->shape[k]) return delta;
        delta -= d->st[k] * d->shape[k];
        idx[k] = 0;
    }
    return delta;
}

static int64_t sf_dims_count(const sf_dims *d)
{
    int64_t n = 1;
    for (int k = 0; k < d->nd; k++) n *= d->shape[k];
    return n;
}

/* Drops size-1 dims and merges adjacent dims of t[lo, hi); when `sort`, first
 * orders them by decreasing |stride| (dims whose order does not matter). */
static void sf_dims_from(sf_dims *d, const sf_tensor *t, int lo, int hi, int sort)
{
    int64_t sh[SF_MAX_DIMS], st[SF_MAX_DIMS];
    int n = 0;
    for (int k = lo; k < hi; k++) {
        if (t->shape[k] == 1) continue;
        sh[n] = t->shape[k];
        st[n] = t->strides[k];
        n++;
    }
    if (sort) { /* insertion sort, stable */
        for (int i = 1; i < n; i++) {
            int64_t a = sh[i], b = st[i];
            int j = i - 1;
            while (j >= 0 && llabs((long long)st[j]) < llabs((long long)b)) {
                sh[j + 1] = sh[j];
                st[j + 1] = st[j];
                j--;
            }
            sh[j + 1] = a;
            st[j + 1] = b;
        }
    }
    d->nd = 0;
    for (int i = 0; i < n; i++) {
        if (d->nd > 0 && d->st[d->nd - 1] == st[i] * sh[i]) {
            d->shape[d->nd - 1] *= sh[i];
            d->st[d->nd - 1] = st[i];
            continue;
        }
        d->shape[d->nd] = sh[i];
        d->st[d->nd] = st[i];
        d->nd++;
    }
}

static inline void sf_split(int64_t n, int t, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

/* Fewer outputs (or column blocks) than this: each reduction is cut into parts. */
#define SF_SPLIT_BELOW 8

/* Parts of a reduction of n elements: one per SF_PARALLEL_MIN / 4 elements (at least one,
 * at most SF_MAX_SPLIT). A function of the size alone, so the bits do not depend on the
 * threads. */
static int64_t sf_parts(int64_t n)
{
    const int64_t per = SF_PARALLEL_MIN / 4 > 0 ? SF_PARALLEL_MIN / 4 : 1;
    const int64_t s = n / per;
    return s < 1 ? 1 : s > SF_MAX_SPLIT ? SF_MAX_SPLIT : s;
}

static int sf_threads(void)
{
    int nt = omp_get_max_threads();
    if (nt < 1) nt = 1;
    if (nt > SF_MAX_SPLIT) nt = SF_MAX_SPLIT;
    return nt;
}

/* Checks shared by every reduction; fills kept and reduced dims. */
static int sf_red_setup(sf_call *c, const char *name, int32_t in_code, int64_t nred, int argred,
                        sf_dims *kd, sf_dims *rd)
{
    if (c->n_in < 1 || c->n_out < 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 1 input and 1 output, got %d and %d",
                       name, (int)c->n_in, (int)c->n_out);
    const sf_tensor *in = &c->in[0], *out = &c->out[0];
    if (in->dtype != in_code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s got a %s input", name,
                       sf_dtype_name(in->dtype));
    if (in->ndim < 0 || in->ndim > SF_MAX_DIMS || out->ndim < 0 || out->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: bad rank %d -> %d", name, (int)in->ndim,
                       (int)out->ndim);
    for (int k = 0; k < in->ndim; k++)
        if (in->shape[k] < 0)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: negative input dim", name);
    if (nred < 0 || nred > in->ndim)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: cannot reduce %lld of %d dims", name,
                       (long long)nred, (int)in->ndim);
    const int nk = in->ndim - (int)nred;
    sf_dims_from(kd, in, 0, nk, 0);
    if (argred) {
        /* the reduced dim stays one dim (its index is the result) */
        rd->nd = 1;
        rd->shape[0] = nred ? in->shape[in->ndim - 1] : 1;
        rd->st[0] = nred ? in->strides[in->ndim - 1] : 0;
    } else {
        sf_dims_from(rd, in, nk, in->ndim, 1);
    }
    int64_t kept = 1;
    for (int k = 0; k < nk; k++) kept *= in->shape[k];
    if (sf_numel(out) != kept || (kept > 0 && !sf_is_contiguous(out)))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: out must be contiguous with the %lld kept elements, got %lld", name,
                       (long long)kept, (long long)sf_numel(out));
    return SF_OK;
}

/* Column mode applies when the innermost kept dim is unit-stride and the
 * innermost reduced one is not. */
static int sf_column_mode(const sf_dims *kd, const sf_dims *rd)
{
    return kd->nd >= 1 && kd->st[kd->nd - 1] == 1 && rd->nd >= 1 && rd->st[rd->nd - 1] != 1;
}

/* ---- value reductions --------------------------------------------------- */

#define SF_LOWEST_float32 (-INFINITY)
#define SF_LOWEST_float64 (-INFINITY)
#define SF_LOWEST_int32 INT32_MIN
#define SF_LOWEST_int64 INT64_MIN
#define SF_HIGHEST_float32 INFINITY
#define SF_HIGHEST_float64 INFINITY
#define SF_HIGHEST_int32 INT32_MAX
#define SF_HIGHEST_int64 INT64_MAX
#define SF_LOWEST_int8 INT8_MIN
#define SF_LOWEST_int16 INT16_MIN
#define SF_LOWEST_uint8 0
#define SF_LOWEST_uint16 0
#define SF_LOWEST_uint32 0
#define SF_LOWEST_uint64 0
#define SF_HIGHEST_int8 INT8_MAX
#define SF_HIGHEST_int16 INT16_MAX
#define SF_HIGHEST_uint8 UINT8_MAX
#define SF_HIGHEST_uint16 UINT16_MAX
#define SF_HIGHEST_uint32 UINT32_MAX
#define SF_HIGHEST_uint64 UINT64_MAX

#define SF_INIT_sum(NAME) 0
#define SF_INIT_mean(NAME) 0
#define SF_INIT_prod(NAME) 1
#define SF_INIT_max(NAME) SF_LOWEST_##NAME
#define SF_INIT_min(NAME) SF_HIGHEST_##NAME
#define SF_INIT_all(NAME) 1
#define SF_INIT_any(NAME) 0

/* a = a (op) x; x != x is NaN (always false for ints): NaN wins max/min */
#define SF_STEP_sum(a, x, ACC) ((a) += (ACC)(x))
#define SF_STEP_mean(a, x, ACC) ((a) += (ACC)(x))
#define SF_STEP_prod(a, x, ACC) ((a) *= (ACC)(x))
#define SF_STEP_max(a, x, ACC) ((a) = (((x) > (a)) | ((x) != (x))) ? (x) : (a))
#define SF_STEP_min(a, x, ACC) ((a) = (((x) < (a)) | ((x) != (x))) ? (x) : (a))
#define SF_STEP_all(a, x, ACC) ((a) &= (ACC)((x) != 0))
#define SF_STEP_any(a, x, ACC) ((a) |= (ACC)((x) != 0))

/* output value of accumulator a over q elements; CLS F float, I int, B bool */
#define SF_FINAL_sum_F(a, q, T) ((T)(a))
#define SF_FINAL_sum_I(a, q, T) ((T)(a))
#define SF_FINAL_prod_F(a, q, T) ((T)(a))
#define SF_FINAL_prod_I(a, q, T) ((T)(a))
#define SF_FINAL_max_F(a, q, T) ((T)(a))
#define SF_FINAL_max_I(a, q, T) ((T)(a))
#define SF_FINAL_min_F(a, q, T) ((T)(a))
#define SF_FINAL_min_I(a, q, T) ((T)(a))
#define SF_FINAL_mean_F(a, q, T) ((T)((a) / (double)(q))) /* 0/0 = NaN when empty */
#define SF_FINAL_mean_I(a, q, T) ((q) ? (T)((int64_t)(a) / (int64_t)(q)) : (T)0)
/* U: unsigned ints (their means divide unsigned) */
#define SF_FINAL_sum_U(a, q, T) ((T)(a))
#define SF_FINAL_prod_U(a, q, T) ((T)(a))
#define SF_FINAL_max_U(a, q, T) ((T)(a))
#define SF_FINAL_min_U(a, q, T) ((T)(a))
#define SF_FINAL_mean_U(a, q, T) ((q) ? (T)((uint64_t)(a) / (uint64_t)(q)) : (T)0)
#define SF_FINAL_all_B(a, q, T) ((T)(a))
#define SF_FINAL_any_B(a, q, T) ((T)(a))

/* op, dtype name, dtype code, C type, accumulator type, class */
#define SF_REDUCE_KERNELS(X)                              \
    X(sum, float32, SF_FLOAT32, float, double, F)         \
    X(sum, float64, SF_FLOAT64, double, double, F)        \
    X(sum, int32, SF_INT32, int32_t, uint32_t, I)         \
    X(sum, int64, SF_INT64, int64_t, uint64_t, I)         \
    X(mean, float32, SF_FLOAT32, float, double, F)        \
    X(mean, float64, SF_FLOAT64, double, double, F)       \
    X(mean, int32, SF_INT32, int32_t, int64_t, I)         \
    X(mean, int64, SF_INT64, int64_t, uint64_t, I)        \
    X(max, float32, SF_FLOAT32, float, float, F)          \
    X(max, float64, SF_FLOAT64, double, double, F)        \
    X(max, int32, SF_INT32, int32_t, int32_t, I)          \
    X(max, int64, SF_INT64, int64_t, int64_t, I)          \
    X(min, float32, SF_FLOAT32, float, float, F)          \
    X(min, float64, SF_FLOAT64, double, double, F)        \
    X(min, int32, SF_INT32, int32_t, int32_t, I)          \
    X(min, int64, SF_INT64, int64_t, int64_t, I)          \
    X(prod, float32, SF_FLOAT32, float, double, F)        \
    X(prod, float64, SF_FLOAT64, double, double, F)       \
    X(prod, int32, SF_INT32, int32_t, uint32_t, I)        \
    X(prod, int64, SF_INT64, int64_t, uint64_t, I)        \
    X(all, bool, SF_BOOL, uint8_t, uint8_t, B)            \
    X(any, bool, SF_BOOL, uint8_t, uint8_t, B)            \
    SF_REDUCE_SMALL_INT_KERNELS(X)

/* The narrow and unsigned integers accumulate in uint64_t (wrapping). Sums
 * and products wrap to the type;
 * means accumulate in 64 bits first (TensorFlow's mean of uint8 [250, 250]
 * is 250), truncating toward zero. */
#define SF_REDUCE_INT_OF(X, NAME, CODE, T, WIDE, CLS)     \
    X(sum, NAME, CODE, T, WIDE, CLS)                      \
    X(mean, NAME, CODE, T, WIDE, CLS)                     \
    X(max, NAME, CODE, T, T, CLS)                         \
    X(min, NAME, CODE, T, T, CLS)                         \
    X(prod, NAME, CODE, T, WIDE, CLS)
#define SF_REDUCE_SMALL_INT_KERNELS(X)                          \
    SF_REDUCE_INT_OF(X, int8, SF_INT8, int8_t, uint64_t, I)     \
    SF_REDUCE_INT_OF(X, int16, SF_INT16, int16_t, uint64_t, I)  \
    SF_REDUCE_INT_OF(X, uint8, SF_UINT8, uint8_t, uint64_t, U)  \
    SF_REDUCE_INT_OF(X, uint16, SF_UINT16, uint16_t, uint64_t, U) \
    SF_REDUCE_INT_OF(X, uint32, SF_UINT32, uint32_t, uint64_t, U) \
    SF_REDUCE_INT_OF(X, uint64, SF_UINT64, uint64_t, uint64_t, U)

#define SF_DEFINE_REDUCE(OP, NAME, CODE, T, ACC, CLS)                                          \
    /* *a (op)= the n elements x[0], x[s], ... */                                             \
    __attribute__((noinline)) static void sf_span_##OP##_##NAME(const T *restrict x, int64_t n, \
                                                                int64_t s, ACC *a)            \
    {                                                                                         \
        int64_t j = 0;                                                                        \
        if (n >= 2 * SF_LANES) {                                                              \
            /* independent lanes; omp simd makes GCC vectorize the selects of  \
             * max/min too (it will not if-convert them once unrolled) */                    \
            ACC l[SF_LANES];                                                                  \
            for (int k = 0; k < SF_LANES; k++) l[k] = (ACC)SF_INIT_##OP(NAME);                \
            if (s == 1) {                                                                     \
                for (; j + SF_LANES <= n; j += SF_LANES) {                                    \
                    _Pragma("omp simd")                                                       \
                    for (int k = 0; k < SF_LANES; k++) SF_STEP_##OP(l[k], x[j + k], ACC);     \
                }                                                                             \
            } else {                                                                          \
                for (; j + SF_LANES <= n; j += SF_LANES) {                                    \
                    _Pragma("omp simd")                                                       \
                    for (int k = 0; k < SF_LANES; k++)                                        \
                        SF_STEP_##OP(l[k], x[(j + k) * s], ACC);                              \
                }                                                                             \
            }                                                                                 \
            for (int k = 0; k < SF_LANES; k++) SF_STEP_##OP(*a, l[k], ACC);                   \
        }                                                                                     \
        for (; j < n; j++) SF_STEP_##OP(*a, x[j * s], ACC);                                   \
    }                                                                                         \
                                                                                              \
    /* row mode: *a (op)= reduced elements [q0, q1) of the output at base */                  \
    static void sf_range_##OP##_##NAME(const T *base, const sf_dims *rd, int64_t q0,         \
                                       int64_t q1, ACC *a)                                    \
    {                                                                                         \
        if (rd->nd == 0) {                                                                    \
            if (q1 > q0) SF_STEP_##OP(*a, base[0], ACC);                                      \
            return;                                                                           \
        }                                                                                     \
        sf_dims od = *rd;                                                                     \
        od.nd--;                                                                              \
        const int64_t rn = rd->shape[rd->nd - 1], s = rd->st[rd->nd - 1];                     \
        int64_t idx[SF_MAX_DIMS];                                                             \
        int64_t off = sf_dims_seek(&od, q0 / rn, idx), j = q0 % rn;                           \
        while (q0 < q1) {                                                                     \
            int64_t len = rn - j < q1 - q0 ? rn - j : q1 - q0;                                \
            sf_span_##OP##_##NAME(base + off + j * s, len, s, a);                             \
            q0 += len;                                                                        \
            j = 0;                                                                            \
            off += sf_dims_next(&od, idx);                                                    \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    /* column mode: acc[0, len) (op)= reduced elements [q0, q1) of the len     \
     * adjacent outputs at base */                                                            \
    static void sf_cols_##OP##_##NAME(const T *base, const sf_dims *rd, int64_t q0,          \
                                      int64_t q1, ACC *restrict acc, int64_t len)             \
    {                                                                                         \
        int64_t idx[SF_MAX_DIMS];                                                             \
        int64_t off = sf_dims_seek(rd, q0, idx);                                              \
        int64_t q = q0;                                                                       \
        /* four rows per pass: the accumulator stays in a register */                         \
        for (; q + 4 <= q1; q += 4) {                                                         \
            const T *restrict x0 = base + off;                                                \
            const T *restrict x1 = base + (off += sf_dims_next(rd, idx));                     \
            const T *restrict x2 = base + (off += sf_dims_next(rd, idx));                     \
            const T *restrict x3 = base + (off += sf_dims_next(rd, idx));                     \
            off += sf_dims_next(rd, idx);                                                     \
            _Pragma("omp simd")                                                               \
            for (int64_t jj = 0; jj < len; jj++) {                                            \
                ACC v = acc[jj];                                                              \
                SF_STEP_##OP(v, x0[jj], ACC);                                                 \
                SF_STEP_##OP(v, x1[jj], ACC);                                                 \
                SF_STEP_##OP(v, x2[jj], ACC);                                                 \
                SF_STEP_##OP(v, x3[jj], ACC);                                                 \
                acc[jj] = v;                                                                  \
            }                                                                                 \
        }                                                                                     \
        for (; q < q1; q++) {                                                                 \
            const T *restrict x = base + off;                                                 \
            _Pragma("omp simd")                                                               \
            for (int64_t jj = 0; jj < len; jj++) SF_STEP_##OP(acc[jj], x[jj], ACC);           \
            off += sf_dims_next(rd, idx);                                                     \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    int sf_cpu_reduce_##OP##_##NAME(sf_call *c)                                               \
    {                                                                                         \
        sf_dims kd, rd;                                                                       \
        int st = sf_red_setup(c, "reduce_" #OP "_" #NAME, CODE, c->iattr[SF_REDUCE_NDIMS], 0, &kd, &rd);    \
        if (st) return st;                                                                    \
        if (c->out[0].dtype != CODE)                                                          \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "reduce_" #OP "_" #NAME                \
                           " got a %s output", sf_dtype_name(c->out[0].dtype));               \
        const T *x = (const T *)c->in[0].data;                                                \
        T *o = (T *)c->out[0].data;                                                           \
        const int64_t P = sf_dims_count(&kd), Q = sf_dims_count(&rd);                         \
        if (P == 0) return SF_OK;                                                             \
        if (Q == 0) {                                                                         \
            const ACC a = (ACC)SF_INIT_##OP(NAME);                                            \
            const T v = SF_FINAL_##OP##_##CLS(a, 0, T);                                       \
            for (int64_t p = 0; p < P; p++) o[p] = v;                                         \
            return SF_OK;                                                                     \
        }                                                                                     \
        /* every choice below follows from the sizes, never from the thread count, so the  \
         * bits do not depend on it: outputs in parallel when there are enough of them,     \
         * else each reduction in a fixed number of parts (sf_parts), merged in order */     \
        const int nt = sf_threads();                                                          \
        const int big = (double)P * (double)Q >= (double)SF_PARALLEL_MIN;                     \
        const int64_t S = big ? sf_parts(Q) : 1;                                              \
        if (!sf_column_mode(&kd, &rd)) {                                                      \
            if (!big || P >= SF_SPLIT_BELOW || S == 1) {                                      \
                _Pragma("omp parallel if(big && nt > 1) num_threads(nt)")                     \
                {                                                                             \
                    int64_t lo, hi, idx[SF_MAX_DIMS];                                         \
                    sf_split(P, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);       \
                    if (hi > lo) {                                                            \
                        int64_t off = sf_dims_seek(&kd, lo, idx);                             \
                        for (int64_t p = lo; p < hi; p++) {                                   \
                            ACC a = (ACC)SF_INIT_##OP(NAME);                                  \
                            sf_range_##OP##_##NAME(x + off, &rd, 0, Q, &a);                   \
                            o[p] = SF_FINAL_##OP##_##CLS(a, Q, T);                            \
                            off += sf_dims_next(&kd, idx);                                    \
                        }                                                                     \
                    }                                                                         \
                }                                                                             \
                return SF_OK;                                                                 \
            }                                                                                 \
            /* few outputs, long reductions: S parts of each, taken as threads come free */   \
            ACC part[SF_SPLIT_BELOW * SF_MAX_SPLIT];                                          \
            int64_t koffs[SF_SPLIT_BELOW];                                                    \
            {                                                                                 \
                int64_t kidx[SF_MAX_DIMS];                                                    \
                koffs[0] = sf_dims_seek(&kd, 0, kidx);                                        \
                for (int64_t p = 1; p < P; p++) koffs[p] = koffs[p - 1] + sf_dims_next(&kd, kidx); \
            }                                                                                 \
            _Pragma("omp parallel for schedule(dynamic, 1) if(nt > 1) num_threads(nt)")       \
            for (int64_t w = 0; w < P * S; w++) {                                             \
                const int64_t p = w / S, t = w % S;                                           \
                ACC a = (ACC)SF_INIT_##OP(NAME);                                              \
                sf_range_##OP##_##NAME(x + koffs[p], &rd, Q * t / S, Q * (t + 1) / S, &a);    \
                part[w] = a;                                                                  \
            }                                                                                 \
            for (int64_t p = 0; p < P; p++) {                                                 \
                ACC a = (ACC)SF_INIT_##OP(NAME);                                              \
                for (int64_t t = 0; t < S; t++) SF_STEP_##OP(a, part[p * S + t], ACC);        \
                o[p] = SF_FINAL_##OP##_##CLS(a, Q, T);                                        \
            }                                                                                 \
            return SF_OK;                                                                     \
        }                                                                                     \
        /* column mode: blocks of SF_CHUNK adjacent outputs */                                \
        sf_dims ko = kd;                                                                      \
        ko.nd--;                                                                              \
        const int64_t n = kd.shape[kd.nd - 1];                                                \
        const int64_t nchunks = (n + SF_CHUNK - 1) / SF_CHUNK;                                \
        const int64_t blocks = (P / n) * nchunks;                                             \
        if (!big || blocks >= SF_SPLIT_BELOW || S == 1) {                                     \
            _Pragma("omp parallel for schedule(static) if(big && nt > 1) num_threads(nt)")    \
            for (int64_t b = 0; b < blocks; b++) {                                            \
                int64_t idx[SF_MAX_DIMS];                                                     \
                const int64_t kr = b / nchunks, j0 = (b % nchunks) * SF_CHUNK;                \
                const int64_t len = n - j0 < SF_CHUNK ? n - j0 : SF_CHUNK;                    \
                ACC acc[SF_CHUNK];                                                            \
                for (int64_t jj = 0; jj < len; jj++) acc[jj] = (ACC)SF_INIT_##OP(NAME);       \
                sf_cols_##OP##_##NAME(x + sf_dims_seek(&ko, kr, idx) + j0, &rd, 0, Q, acc,    \
                                      len);                                                   \
                T *ob = o + kr * n + j0;                                                      \
                for (int64_t jj = 0; jj < len; jj++)                                          \
                    ob[jj] = SF_FINAL_##OP##_##CLS(acc[jj], Q, T);                            \
            }                                                                                 \
            return SF_OK;                                                                     \
        }                                                                                     \
        /* few blocks, long reductions: S parts of the reduced range per block, taken as    \
         * threads come free, merged in part order (an ordered section) */                   \
        for (int64_t b = 0; b < blocks; b++) {                                                \
            int64_t idx[SF_MAX_DIMS];                                                         \
            const int64_t kr = b / nchunks, j0 = (b % nchunks) * SF_CHUNK;                    \
            const int64_t len = n - j0 < SF_CHUNK ? n - j0 : SF_CHUNK;                        \
            const T *base = x + sf_dims_seek(&ko, kr, idx) + j0;                              \
            ACC total[SF_CHUNK];                                                              \
            _Pragma("omp parallel for schedule(dynamic, 1) ordered if(nt > 1) num_threads(nt)") \
            for (int64_t t = 0; t < S; t++) {                                                 \
                ACC acc[SF_CHUNK];                                                            \
                for (int64_t jj = 0; jj < len; jj++) acc[jj] = (ACC)SF_INIT_##OP(NAME);       \
                sf_cols_##OP##_##NAME(base, &rd, Q * t / S, Q * (t + 1) / S, acc, len);       \
                _Pragma("omp ordered")                                                        \
                {                                                                             \
                    if (t == 0)                                                               \
                        for (int64_t jj = 0; jj < len; jj++) total[jj] = acc[jj];             \
                    else                                                                      \
                        for (int64_t jj = 0; jj < len; jj++) SF_STEP_##OP(total[jj], acc[jj], ACC); \
                }                                                                             \
            }                                                                                 \
            T *ob = o + kr * n + j0;                                                          \
            for (int64_t jj = 0; jj < len; jj++) ob[jj] = SF_FINAL_##OP##_##CLS(total[jj], Q, T); \
        }                                                                                     \
        return SF_OK;                                                                         \
    }

SF_REDUCE_KERNELS(SF_DEFINE_REDUCE)

/* ---- argmax / argmin ---------------------------------------------------- */

/* TensorFlow's argmax/argmin: index 0 holding the lowest (highest) finite value to
 * start, replaced by each strictly greater (smaller) element. NaN never wins, so it is
 * ignored, and a row of NaN (or of -inf for argmax, +inf for argmin) gives 0. */
#define SF_BEATS_argmax(x, best) ((x) > (best))
#define SF_BEATS_argmin(x, best) ((x) < (best))
#define SF_ARG_START_argmax_float32 (-FLT_MAX)
#define SF_ARG_START_argmax_float64 (-DBL_MAX)
#define SF_ARG_START_argmax_int32 INT32_MIN
#define SF_ARG_START_argmax_int64 INT64_MIN
#define SF_ARG_START_argmin_float32 FLT_MAX
#define SF_ARG_START_argmin_float64 DBL_MAX
#define SF_ARG_START_argmin_int32 INT32_MAX
#define SF_ARG_START_argmin_int64 INT64_MAX
#define SF_ARG_START_argmax_int8 SF_LOWEST_int8
#define SF_ARG_START_argmax_int16 SF_LOWEST_int16
#define SF_ARG_START_argmax_uint8 SF_LOWEST_uint8
#define SF_ARG_START_argmax_uint16 SF_LOWEST_uint16
#define SF_ARG_START_argmax_uint32 SF_LOWEST_uint32
#define SF_ARG_START_argmax_uint64 SF_LOWEST_uint64
#define SF_ARG_START_argmin_int8 SF_HIGHEST_int8
#define SF_ARG_START_argmin_int16 SF_HIGHEST_int16
#define SF_ARG_START_argmin_uint8 SF_HIGHEST_uint8
#define SF_ARG_START_argmin_uint16 SF_HIGHEST_uint16
#define SF_ARG_START_argmin_uint32 SF_HIGHEST_uint32
#define SF_ARG_START_argmin_uint64 SF_HIGHEST_uint64

#define SF_ARG_KERNELS(X)                       \
    X(argmax, float32, SF_FLOAT32, float)       \
    X(argmax, float64, SF_FLOAT64, double)      \
    X(argmax, int32, SF_INT32, int32_t)         \
    X(argmax, int64, SF_INT64, int64_t)         \
    X(argmin, float32, SF_FLOAT32, float)       \
    X(argmin, float64, SF_FLOAT64, double)      \
    X(argmin, int32, SF_INT32, int32_t)         \
    X(argmin, int64, SF_INT64, int64_t)         \
    X(argmax, int8, SF_INT8, int8_t)            \
    X(argmax, int16, SF_INT16, int16_t)         \
    X(argmax, uint8, SF_UINT8, uint8_t)         \
    X(argmax, uint16, SF_UINT16, uint16_t)      \
    X(argmax, uint32, SF_UINT32, uint32_t)      \
    X(argmax, uint64, SF_UINT64, uint64_t)      \
    X(argmin, int8, SF_INT8, int8_t)            \
    X(argmin, int16, SF_INT16, int16_t)         \
    X(argmin, uint8, SF_UINT8, uint8_t)         \
    X(argmin, uint16, SF_UINT16, uint16_t)      \
    X(argmin, uint32, SF_UINT32, uint32_t)      \
    X(argmin, uint64, SF_UINT64, uint64_t)

#define SF_DEFINE_ARG(OP, NAME, CODE, T)                                                      \
    int sf_cpu_##OP##_##NAME(sf_call *c)                                                      \
    {                                                                                         \
        sf_dims kd, rd;                                                                       \
        const int64_t nred = c->n_in >= 1 && c->in[0].ndim > 0 ? 1 : 0;                       \
        int st = sf_red_setup(c, #OP "_" #NAME, CODE, nred, 1, &kd, &rd);                     \
        if (st) return st;                                                                    \
        const int32_t odt = c->out[0].dtype;                                                  \
        if (odt != SF_INT32 && odt != SF_INT64)                                               \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                        \
                           #OP "_" #NAME " writes int32 or int64, got a %s output",           \
                           sf_dtype_name(odt));                                               \
        const T *x = (const T *)c->in[0].data;                                                \
        const int64_t P = sf_dims_count(&kd), R = rd.shape[0], s = rd.st[0];                  \
        if (P == 0) return SF_OK;                                                             \
        if (R == 0)                                                                           \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                        \
                           #OP " of an empty dimension (%lld rows of 0 elements)",            \
                           (long long)P);                                                     \
        int32_t *o32 = (int32_t *)c->out[0].data;                                             \
        int64_t *o64 = (int64_t *)c->out[0].data;                                             \
        const int big = (double)P * (double)R >= (double)SF_PARALLEL_MIN;                     \
        if (!(kd.nd >= 1 && kd.st[kd.nd - 1] == 1 && s != 1)) {                               \
            /* row mode */                                                                    \
            _Pragma("omp parallel if(big)")                                                   \
            {                                                                                 \
                int64_t lo, hi, idx[SF_MAX_DIMS];                                             \
                sf_split(P, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);           \
                if (hi > lo) {                                                                \
                    int64_t off = sf_dims_seek(&kd, lo, idx);                                 \
                    for (int64_t p = lo; p < hi; p++) {                                       \
                        const T *restrict r = x + off;                                        \
                        T best = SF_ARG_START_##OP##_##NAME;                                  \
                        int64_t bi = 0;                                                       \
                        for (int64_t i = 0; i < R; i++) {                                     \
                            const T v = r[i * s];                                             \
                            if (SF_BEATS_##OP(v, best)) {                                     \
                                best = v;                                                     \
                                bi = i;                                                       \
                            }                                                                 \
                        }                                                                     \
                        if (odt == SF_INT32)                                                  \
                            o32[p] = (int32_t)bi;                                             \
                        else                                                                  \
                            o64[p] = bi;                                                      \
                        off += sf_dims_next(&kd, idx);                                        \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
            return SF_OK;                                                                     \
        }                                                                                     \
        /* column mode: chunks of adjacent outputs scanned row by row */                      \
        sf_dims ko = kd;                                                                      \
        ko.nd--;                                                                              \
        const int64_t n = kd.shape[kd.nd - 1];                                                \
        const int64_t nchunks = (n + SF_CHUNK - 1) / SF_CHUNK;                                \
        const int64_t blocks = (P / n) * nchunks;                                             \
        _Pragma("omp parallel for schedule(static) if(big)")                                  \
        for (int64_t b = 0; b < blocks; b++) {                                                \
            int64_t idx[SF_MAX_DIMS];                                                         \
            const int64_t kr = b / nchunks, j0 = (b % nchunks) * SF_CHUNK;                    \
            const int64_t len = n - j0 < SF_CHUNK ? n - j0 : SF_CHUNK;                        \
            const T *base = x + sf_dims_seek(&ko, kr, idx) + j0;                              \
            T best[SF_CHUNK];                                                                 \
            int64_t bi[SF_CHUNK];                                                             \
            for (int64_t jj = 0; jj < len; jj++) {                                            \
                best[jj] = SF_ARG_START_##OP##_##NAME;                                        \
                bi[jj] = 0;                                                                   \
            }                                                                                 \
            for (int64_t j = 0; j < R; j++) {                                                 \
                const T *restrict r = base + j * s;                                           \
                _Pragma("omp simd")                                                           \
                for (int64_t jj = 0; jj < len; jj++) {                                        \
                    const T v = r[jj];                                                        \
                    const int w = SF_BEATS_##OP(v, best[jj]);                                 \
                    best[jj] = w ? v : best[jj];                                              \
                    bi[jj] = w ? j : bi[jj];                                                  \
                }                                                                             \
            }                                                                                 \
            const int64_t ob = kr * n + j0;                                                   \
            for (int64_t jj = 0; jj < len; jj++) {                                            \
                if (odt == SF_INT32)                                                          \
                    o32[ob + jj] = (int32_t)bi[jj];                                           \
                else                                                                          \
                    o64[ob + jj] = bi[jj];                                                    \
            }                                                                                 \
        }                                                                                     \
        return SF_OK;                                                                         \
    }

SF_ARG_KERNELS(SF_DEFINE_ARG)

/* ---- table -------------------------------------------------------------- */

#define SF_REDUCE_ENTRY(OP, NAME, CODE, T, ACC, CLS) \
    {"sf_cpu_reduce_" #OP "_" #NAME, sf_cpu_reduce_##OP##_##NAME},
#define SF_ARG_ENTRY(OP, NAME, CODE, T) {"sf_cpu_" #OP "_" #NAME, sf_cpu_##OP##_##NAME},

static const sf_kernel_entry sf_reduce_table[] = {
    SF_REDUCE_KERNELS(SF_REDUCE_ENTRY) SF_ARG_KERNELS(SF_ARG_ENTRY)};

int64_t sf_cpu_reduce_entries(const sf_kernel_entry **out)
{
    *out = sf_reduce_table;
    return (int64_t)(sizeof sf_reduce_table / sizeof sf_reduce_table[0]);
}
