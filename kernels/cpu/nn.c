/* Neural-network kernels: softmax and log_softmax over the last dim, and the
 * softmax cross-entropy losses (dense and sparse labels) with their backprop.
 *
 * in[0] and out[0] have the same shape; rows are every dim but the last
 * (normally [n, c] contiguous, but any row strides work and the last dim may
 * be strided). Each row is shifted by its max before exponentiating, so large
 * logits do not overflow; a row holding NaN gives NaN, a row of all -inf
 * gives NaN (like TensorFlow).
 *
 * softmax_xent / sparse_softmax_xent (TensorFlow's
 * SoftmaxCrossEntropyWithLogits and its sparse twin): logits [n, c], labels
 * [n, c] probabilities or [n] class ids, out[0] loss [n], out[1] backprop
 * [n, c]. Per row, with m the row max and lse = m + log(sum(exp(x - m))):
 *   loss     = sum_j labels_j * (lse - x_j), computed as
 *              labels_j * (log(sum) - (x_j - m)), so large logits never
 *              overflow (dense); lse - x_label (sparse)
 *   backprop = softmax(x) - labels (dense), softmax(x) - onehot(label)
 * Three passes over each row (max; exp stored into backprop and summed;
 * scale, subtract the labels and accumulate the loss), the last two
 * vectorized; views of any strides work, unit inner strides take the fast
 * path. backprop must not overlap logits or labels.
 *
 * float32 exponentials use sf_scalar.h's vectorizable exp (within 1.2 ulp,
 * denormal terms included) and the row sums accumulate in double; float64
 * uses libm's exp.
 */
#include <math.h>
#include <stdint.h>

#include "sf_internal.h"
#include "sf_vector_math.h"
#include "sf_scalar.h" /* exp_float32, exp_float64 */

#define SF_LANES 8

#define SF_NN_DTYPES(X)                              \
    X(float32, SF_FLOAT32, float, exp_float32) \
    X(float64, SF_FLOAT64, double, exp_float64)

static int sf_nn_check(sf_call *c, int32_t code, const char *name)
{
    if (c->n_in < 1 || c->n_out < 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 1 input and 1 output, got %d and %d",
                       name, (int)c->n_in, (int)c->n_out);
    const sf_tensor *in = &c->in[0], *out = &c->out[0];
    if (in->dtype != code || out->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s got %s -> %s", name,
                       sf_dtype_name(in->dtype), sf_dtype_name(out->dtype));
    if (in->ndim != out->ndim || in->ndim < 0 || in->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input has %d dims, output %d", name,
                       (int)in->ndim, (int)out->ndim);
    for (int d = 0; d < in->ndim; d++)
        if (in->shape[d] != out->shape[d] || in->shape[d] < 0)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input dim %d is %lld, output's %lld",
                           name, d, (long long)in->shape[d], (long long)out->shape[d]);
    return SF_OK;
}

/* LOG: 0 softmax, 1 log_softmax */
#define SF_DEFINE_SOFTMAX(NAME, CODE, T, EXP)                                          \
    static T sf_rowmax_##NAME(const T *restrict x, int64_t n, int64_t s)                    \
    {                                                                                       \
        T m = x[0];                                                                         \
        int64_t j = 0;                                                                      \
        if (s == 1 && n >= 2 * SF_LANES) {                                                  \
            T l[SF_LANES];                                                                  \
            for (int k = 0; k < SF_LANES; k++) l[k] = x[k];                                 \
            for (j = SF_LANES; j + SF_LANES <= n; j += SF_LANES) {                          \
                _Pragma("omp simd")                                                         \
                for (int k = 0; k < SF_LANES; k++) l[k] = x[j + k] > l[k] ? x[j + k] : l[k]; \
            }                                                                               \
            for (int k = 0; k < SF_LANES; k++) m = l[k] > m ? l[k] : m;                     \
        }                                                                                   \
        for (; j < n; j++) m = x[j * s] > m ? x[j * s] : m;                                 \
        return m;                                                                           \
    }                                                                                       \
                                                                                            \
    /* y[j] = exp(x[j] - m), acc[k] += y[j] over whole SF_LANES groups; kept   \
     * out of line: GCC vectorizes it standalone, not always once inlined */               \
    __attribute__((noinline)) static int64_t sf_exp_store_##NAME(                           \
        const T *restrict x, T *restrict y, int64_t n, T m, double *restrict acc)          \
    {                                                                                       \
        double a[SF_LANES];                                                                 \
        for (int k = 0; k < SF_LANES; k++) a[k] = acc[k];                                   \
        for (int64_t j = 0; j + SF_LANES <= n; j += SF_LANES)                               \
            for (int k = 0; k < SF_LANES; k++) {                                            \
                const T e = EXP(x[j + k] - m);                                              \
                y[j + k] = e;                                                               \
                a[k] += (double)e;                                                          \
            }                                                                               \
        for (int k = 0; k < SF_LANES; k++) acc[k] = a[k];                                   \
        return n / SF_LANES * SF_LANES;                                                     \
    }                                                                                       \
                                                                                            \
    __attribute__((noinline)) static int64_t sf_exp_sum_##NAME(                             \
        const T *restrict x, int64_t n, T m, double *restrict acc)                          \
    {                                                                                       \
        double a[SF_LANES];                                                                 \
        for (int k = 0; k < SF_LANES; k++) a[k] = acc[k];                                   \
        for (int64_t j = 0; j + SF_LANES <= n; j += SF_LANES)                               \
            for (int k = 0; k < SF_LANES; k++) a[k] += (double)EXP(x[j + k] - m);           \
        for (int k = 0; k < SF_LANES; k++) acc[k] = a[k];                                   \
        return n / SF_LANES * SF_LANES;                                                     \
    }                                                                                       \
                                                                                            \
    static void sf_softmax_row_##NAME(const T *restrict x, T *restrict y, int64_t n,        \
                                      int64_t si, int64_t so, int log_)                     \
    {                                                                                       \
        const T m = sf_rowmax_##NAME(x, n, si);                                             \
        double acc[SF_LANES] = {0};                                                         \
        double sum = 0;                                                                     \
        int64_t j = 0;                                                                      \
        if (si == 1 && so == 1)                                                             \
            j = log_ ? sf_exp_sum_##NAME(x, n, m, acc) : sf_exp_store_##NAME(x, y, n, m, acc); \
        for (; j < n; j++) {                                                                \
            const T e = EXP(x[j * si] - m);                                                 \
            if (!log_) y[j * so] = e;                                                       \
            sum += (double)e;                                                               \
        }                                                                                   \
        for (int k = 0; k < SF_LANES; k++) sum += acc[k];                                   \
        if (!log_) {                                                                        \
            const T inv = (T)(1.0 / sum);                                                   \
            if (so == 1)                                                                    \
                for (int64_t i = 0; i < n; i++) y[i] *= inv;                                \
            else                                                                            \
                for (int64_t i = 0; i < n; i++) y[i * so] *= inv;                           \
        } else {                                                                            \
            const T ls = (T)log(sum);                                                       \
            if (si == 1 && so == 1)                                                         \
                for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls;                     \
            else                                                                            \
                for (int64_t i = 0; i < n; i++) y[i * so] = (x[i * si] - m) - ls;           \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    static int sf_softmax_any_##NAME(sf_call *c, int log_, const char *name)                \
    {                                                                                       \
        int st = sf_nn_check(c, CODE, name);                                                \
        if (st) return st;                                                                  \
        const sf_tensor *in = &c->in[0], *out = &c->out[0];                                 \
        const int64_t rows = sf_rows(out), n = sf_row_len(out);                             \
        if (rows == 0 || n == 0) return SF_OK;                                              \
        const int64_t si = sf_inner_stride(in), so = sf_inner_stride(out);                  \
        const T *x = (const T *)in->data;                                                   \
        T *y = (T *)out->data;                                                              \
        const int big = (double)rows * (double)n >= (double)SF_PARALLEL_MIN && rows > 1;    \
        const int sf_ch_ = sf_chunk(n);                                                     \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(big)")                                \
        for (int64_t r = 0; r < rows; r++)                                                  \
            sf_softmax_row_##NAME(x + sf_row_offset(in, out, r), y + sf_row_offset(out, out, r), \
                                  n, si, so, log_);                                         \
        return SF_OK;                                                                       \
    }                                                                                       \
                                                                                            \
    int sf_cpu_softmax_##NAME(sf_call *c)                                                   \
    {                                                                                       \
        return sf_softmax_any_##NAME(c, 0, "softmax_" #NAME);                               \
    }                                                                                       \
                                                                                            \
    int sf_cpu_log_softmax_##NAME(sf_call *c)                                               \
    {                                                                                       \
        return sf_softmax_any_##NAME(c, 1, "log_softmax_" #NAME);                           \
    }

SF_NN_DTYPES(SF_DEFINE_SOFTMAX)

/* ---- softmax cross-entropy --------------------------------------------- */

static int sf_same_dim(const sf_tensor *t, int d, int64_t want)
{
    return t->shape[d] == want;
}

/* sparse: labels are [n] of idx_code; otherwise [n, c] of code */
static int sf_xent_check(sf_call *c, int32_t code, int32_t idx_code, const char *name)
{
    const int sparse = idx_code != 0;
    if (c->n_in != 2 || c->n_out != 2)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 2 inputs (logits, labels) and 2 outputs "
                       "(loss, backprop), got %d and %d", name, (int)c->n_in, (int)c->n_out);
    const sf_tensor *x = &c->in[0], *l = &c->in[1], *loss = &c->out[0], *bp = &c->out[1];
    if (x->dtype != code || loss->dtype != code || bp->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: logits, loss and backprop must be %s, got %s, %s, %s",
                       name, sf_dtype_name(code), sf_dtype_name(x->dtype), sf_dtype_name(loss->dtype),
                       sf_dtype_name(bp->dtype));
    if (l->dtype != (sparse ? idx_code : code))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: labels must be %s, got %s", name,
                       sf_dtype_name(sparse ? idx_code : code), sf_dtype_name(l->dtype));
    if (x->ndim != 2 || x->shape[0] < 0 || x->shape[1] < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: logits must be 2-D [batch, classes], got %d dims",
                       name, (int)x->ndim);
    const int64_t n = x->shape[0], k = x->shape[1];
    if (sparse ? (l->ndim != 1 || !sf_same_dim(l, 0, n))
               : (l->ndim != 2 || !sf_same_dim(l, 0, n) || !sf_same_dim(l, 1, k)))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, sparse ? "%s: labels must be [%lld] (one per logits row)"
                       : "%s: labels must have the logits' shape [%lld, %lld]", name, (long long)n, (long long)k);
    if (loss->ndim != 1 || !sf_same_dim(loss, 0, n))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: loss must be [%lld]", name, (long long)n);
    if (bp->ndim != 2 || !sf_same_dim(bp, 0, n) || !sf_same_dim(bp, 1, k))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: backprop must have the logits' shape [%lld, %lld]",
                       name, (long long)n, (long long)k);
    return SF_OK;
}

#define SF_DEFINE_XENT(NAME, CODE, T, EXP)                                                  \
    /* y[j] = y[j] * inv - l[j], acc[k] += l[j] * (ls - (x[j] - m)) over whole     \
     * SF_LANES groups */                                                                   \
    __attribute__((noinline)) static int64_t sf_xent_tail_##NAME(                           \
        const T *restrict x, const T *restrict l, T *restrict y, int64_t n, T m, T ls, T inv, \
        double *restrict acc)                                                               \
    {                                                                                       \
        double a[SF_LANES];                                                                 \
        for (int k = 0; k < SF_LANES; k++) a[k] = acc[k];                                   \
        for (int64_t j = 0; j + SF_LANES <= n; j += SF_LANES)                               \
            for (int k = 0; k < SF_LANES; k++) {                                            \
                const T lab = l[j + k];                                                     \
                y[j + k] = y[j + k] * inv - lab;                                            \
                a[k] += (double)(lab * (ls - (x[j + k] - m)));                              \
            }                                                                               \
        for (int k = 0; k < SF_LANES; k++) acc[k] = a[k];                                   \
        return n / SF_LANES * SF_LANES;                                                     \
    }                                                                                       \
                                                                                            \
    /* exp(x - m) into y, returns their sum; m is the row max */                          \
    static double sf_xent_exp_##NAME(const T *restrict x, int64_t sx, T *restrict y, int64_t sy, \
                                int64_t n, T m)                                             \
    {                                                                                       \
        double acc[SF_LANES] = {0};                                                         \
        double sum = 0;                                                                     \
        int64_t j = 0;                                                                      \
        if (sx == 1 && sy == 1) j = sf_exp_store_##NAME(x, y, n, m, acc);                   \
        for (; j < n; j++) {                                                                \
            const T e = EXP(x[j * sx] - m);                                                 \
            y[j * sy] = e;                                                                  \
            sum += (double)e;                                                               \
        }                                                                                   \
        for (int k = 0; k < SF_LANES; k++) sum += acc[k];                                   \
        return sum;                                                                         \
    }                                                                                       \
                                                                                            \
    static T sf_xent_row_##NAME(const T *restrict x, int64_t sx, const T *restrict l,       \
                                int64_t sl, T *restrict y, int64_t sy, int64_t n)           \
    {                                                                                       \
        if (n == 0) return 0;                                                               \
        const T m = sf_rowmax_##NAME(x, n, sx);                                             \
        const double sum = sf_xent_exp_##NAME(x, sx, y, sy, n, m);                          \
        const T ls = (T)log(sum), inv = (T)(1.0 / sum);                                     \
        double acc[SF_LANES] = {0};                                                         \
        double loss = 0;                                                                    \
        int64_t j = 0;                                                                      \
        if (sx == 1 && sl == 1 && sy == 1) j = sf_xent_tail_##NAME(x, l, y, n, m, ls, inv, acc); \
        for (; j < n; j++) {                                                                \
            const T lab = l[j * sl];                                                        \
            y[j * sy] = y[j * sy] * inv - lab;                                              \
            loss += (double)(lab * (ls - (x[j * sx] - m)));                                 \
        }                                                                                   \
        for (int k = 0; k < SF_LANES; k++) loss += acc[k];                                  \
        return (T)loss;                                                                     \
    }                                                                                       \
                                                                                            \
    int sf_cpu_softmax_xent_##NAME(sf_call *c)                                              \
    {                                                                                       \
        int st = sf_xent_check(c, CODE, 0, "softmax_xent_" #NAME);                          \
        if (st) return st;                                                                  \
        const sf_tensor *x = &c->in[0], *l = &c->in[1], *lo = &c->out[0], *bp = &c->out[1]; \
        const int64_t rows = x->shape[0], n = x->shape[1];                                  \
        const T *xd = (const T *)x->data, *ld = (const T *)l->data;                         \
        T *lod = (T *)lo->data, *bpd = (T *)bp->data;                                       \
        const int big = (double)rows * (double)n >= (double)SF_PARALLEL_MIN && rows > 1;    \
        const int sf_ch_ = sf_chunk(n);                                                     \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(big)")                                \
        for (int64_t r = 0; r < rows; r++)                                                  \
            lod[r * lo->strides[0]] = sf_xent_row_##NAME(                                   \
                xd + r * x->strides[0], x->strides[1], ld + r * l->strides[0], l->strides[1], \
                bpd + r * bp->strides[0], bp->strides[1], n);                               \
        return SF_OK;                                                                       \
    }                                                                                       \
                                                                                            \
    /* sparse: loss = lse - x[label]; backprop = softmax, then -1 at the label */          \
    static T sf_sparse_xent_row_##NAME(const T *restrict x, int64_t sx, int64_t label,      \
                                       T *restrict y, int64_t sy, int64_t n)                \
    {                                                                                       \
        const T m = sf_rowmax_##NAME(x, n, sx);                                             \
        const double sum = sf_xent_exp_##NAME(x, sx, y, sy, n, m);                          \
        const T ls = (T)log(sum), inv = (T)(1.0 / sum);                                     \
        if (sy == 1)                                                                        \
            for (int64_t j = 0; j < n; j++) y[j] *= inv;                                    \
        else                                                                                \
            for (int64_t j = 0; j < n; j++) y[j * sy] *= inv;                               \
        y[label * sy] -= (T)1;                                                              \
        return ls - (x[label * sx] - m);                                                    \
    }

#define SF_DEFINE_SPARSE_XENT(NAME, CODE, T, IDX, ICODE, IT)                                \
    int sf_cpu_sparse_softmax_xent_##NAME##_##IDX(sf_call *c)                               \
    {                                                                                       \
        int st = sf_xent_check(c, CODE, ICODE, "sparse_softmax_xent_" #NAME "_" #IDX);      \
        if (st) return st;                                                                  \
        const sf_tensor *x = &c->in[0], *l = &c->in[1], *lo = &c->out[0], *bp = &c->out[1]; \
        const int64_t rows = x->shape[0], n = x->shape[1];                                  \
        const IT *ld = (const IT *)l->data;                                                 \
        const int64_t sl = l->strides[0];                                                   \
        if (rows > 0 && n == 0)                                                             \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Must have at least one class, but got " \
                           "logits shape [%lld,0]", (long long)rows);                       \
        for (int64_t r = 0; r < rows; r++) {                                                \
            const IT v = ld[r * sl];                                                        \
            if (v < 0 || (int64_t)v >= n)                                                   \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Received a label value of %lld which is " \
                               "outside the valid range of [0, %lld).", (long long)v, (long long)n); \
        }                                                                                   \
        const T *xd = (const T *)x->data;                                                   \
        T *lod = (T *)lo->data, *bpd = (T *)bp->data;                                       \
        const int big = (double)rows * (double)n >= (double)SF_PARALLEL_MIN && rows > 1;    \
        const int sf_ch_ = sf_chunk(n);                                                     \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(big)")                                \
        for (int64_t r = 0; r < rows; r++)                                                  \
            lod[r * lo->strides[0]] = sf_sparse_xent_row_##NAME(                            \
                xd + r * x->strides[0], x->strides[1], (int64_t)ld[r * sl],                 \
                bpd + r * bp->strides[0], bp->strides[1], n);                               \
        return SF_OK;                                                                       \
    }

SF_NN_DTYPES(SF_DEFINE_XENT)

#define SF_XENT_IDX(X, NAME, CODE, T) X(NAME, CODE, T, int32, SF_INT32, int32_t) X(NAME, CODE, T, int64, SF_INT64, int64_t)
#define SF_SPARSE_XENT_DEFS(NAME, CODE, T, EXP) SF_XENT_IDX(SF_DEFINE_SPARSE_XENT, NAME, CODE, T)
SF_NN_DTYPES(SF_SPARSE_XENT_DEFS)

#define SF_SPARSE_XENT_ENTRY(NAME, CODE, T, IDX, ICODE, IT) \
    {"sf_cpu_sparse_softmax_xent_" #NAME "_" #IDX, sf_cpu_sparse_softmax_xent_##NAME##_##IDX},
#define SF_NN_ENTRY(NAME, CODE, T, EXP)                           \
    {"sf_cpu_softmax_" #NAME, sf_cpu_softmax_##NAME},             \
    {"sf_cpu_log_softmax_" #NAME, sf_cpu_log_softmax_##NAME},     \
    {"sf_cpu_softmax_xent_" #NAME, sf_cpu_softmax_xent_##NAME},   \
    SF_XENT_IDX(SF_SPARSE_XENT_ENTRY, NAME, CODE, T)

static const sf_kernel_entry sf_nn_table[] = {SF_NN_DTYPES(SF_NN_ENTRY)};

int64_t sf_cpu_nn_entries(const sf_kernel_entry **out)
{
    *out = sf_nn_table;
    return (int64_t)(sizeof sf_nn_table / sizeof sf_nn_table[0]);
}
