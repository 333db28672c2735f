/* Top-k kernels: TensorFlow's TopKV2 and InTopKV2.
 *
 * top_k    sf_cpu_top_k_<dt> (float32 float64 int32 int64): in[0] a [rows, n]
 *          view (any strides) -> out[0] values [rows, k] and out[1] indices
 *          [rows, k] (int32), both contiguous, k = out[0].shape[1] <= n. Each
 *          row's k largest, best first; equal values keep their index order
 *          (TensorFlow's stable order); NaN ranks above every number. A
 *          k-slot heap of indices kept in the output row itself (its root the
 *          worst kept), then sorted in place: O(n log k), no workspace.
 * in_top_k sf_cpu_in_top_k_float32_<idx> (idx int32, int64): in[0]
 *          predictions [b, c] view, in[1] targets [b] view, in[2] k (0-d),
 *          out[0] bool [b]: true when fewer than k predictions of the row are
 *          strictly greater than the target's. As TensorFlow: false when the
 *          target is outside [0, c), or the row holds a non-finite value
 *          (NaN or Inf), or k <= 0.
 */
#include <math.h>
#include <stdint.h>

#include "sf_internal.h"

/* a ranks before b (values x[a], x[b]) */
#define TK_GT_FLOAT(x, y) ((x) > (y) || (isnan(x) && !isnan(y)))
#define TK_EQ_FLOAT(x, y) ((x) == (y) || (isnan(x) && isnan(y)))
#define TK_GT_INT(x, y) ((x) > (y))
#define TK_EQ_INT(x, y) ((x) == (y))

#define TOPK_DTYPES(X)                        \
    X(float32, SF_FLOAT32, float, FLOAT)      \
    X(float64, SF_FLOAT64, double, FLOAT)     \
    X(int32, SF_INT32, int32_t, INT)          \
    X(int64, SF_INT64, int64_t, INT)

static int topk_check(sf_call *c, int32_t code, const char *name)
{
    if (c->n_in != 1 || c->n_out != 2)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 1 input and 2 outputs, got %d and %d", name,
                       (int)c->n_in, (int)c->n_out);
    const sf_tensor *x = &c->in[0], *v = &c->out[0], *i = &c->out[1];
    if (x->dtype != code || v->dtype != code || i->dtype != SF_INT32)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input and values %s, indices int32; got %s, %s, %s",
                       name, sf_dtype_name(code), sf_dtype_name(x->dtype), sf_dtype_name(v->dtype),
                       sf_dtype_name(i->dtype));
    if (x->ndim != 2 || v->ndim != 2 || i->ndim != 2 || v->shape[0] != x->shape[0] ||
        i->shape[0] != x->shape[0] || i->shape[1] != v->shape[1])
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input [rows, n] -> values and indices [rows, k]", name);
    if (v->shape[1] > x->shape[1] || v->shape[1] < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "input must have last dimension >= k = %lld but is %lld",
                       (long long)v->shape[1], (long long)x->shape[1]);
    if (x->shape[1] > INT32_MAX)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: rows of more than 2^31 - 1 values", name);
    if (sf_numel(v) != 0 && (!sf_is_contiguous(v) || !sf_is_contiguous(i)))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the outputs must be contiguous", name);
    return SF_OK;
}

#define DEF_TOPK(DT, CODE, T, KIND)                                                            \
    /* a ranks before b */                                                                     \
    static inline int tk_before_##DT(const T *x, int64_t s, int32_t a, int32_t b)              \
    {                                                                                          \
        const T xa = x[a * s], xb = x[b * s];                                                  \
        return TK_GT_##KIND(xa, xb) || (TK_EQ_##KIND(xa, xb) && a < b);                        \
    }                                                                                          \
    /* heap h[0..m): every parent ranks after its children (root: the worst) */                \
    static void tk_sift_down_##DT(const T *x, int64_t s, int32_t *h, int64_t m, int64_t p)     \
    {                                                                                          \
        for (;;) {                                                                             \
            int64_t w = p, l = 2 * p + 1, r = l + 1;                                           \
            if (l < m && tk_before_##DT(x, s, h[w], h[l])) w = l;                              \
            if (r < m && tk_before_##DT(x, s, h[w], h[r])) w = r;                              \
            if (w == p) return;                                                                \
            const int32_t t = h[p];                                                            \
            h[p] = h[w];                                                                       \
            h[w] = t;                                                                          \
            p = w;                                                                             \
        }                                                                                      \
    }                                                                                          \
    static void tk_row_##DT(const T *x, int64_t s, int64_t n, int64_t k, T *val, int32_t *h)   \
    {                                                                                          \
        if (k == 0) return;                                                                    \
        int64_t m = 0;                                                                         \
        for (int64_t i = 0; i < n; i++) {                                                      \
            if (m < k) { /* push, sift up */                                                   \
                int64_t q = m++;                                                               \
                h[q] = (int32_t)i;                                                             \
                while (q > 0 && tk_before_##DT(x, s, h[(q - 1) / 2], h[q])) {                  \
                    const int64_t p = (q - 1) / 2;                                             \
                    const int32_t t = h[p];                                                    \
                    h[p] = h[q];                                                               \
                    h[q] = t;                                                                  \
                    q = p;                                                                     \
                }                                                                              \
            } else if (tk_before_##DT(x, s, (int32_t)i, h[0])) {                               \
                h[0] = (int32_t)i;                                                             \
                tk_sift_down_##DT(x, s, h, m, 0);                                              \
            }                                                                                  \
        }                                                                                      \
        /* heap sort: the worst left goes to the back, so the row ends best first */          \
        for (int64_t e = k - 1; e > 0; e--) {                                                  \
            const int32_t t = h[0];                                                            \
            h[0] = h[e];                                                                       \
            h[e] = t;                                                                          \
            tk_sift_down_##DT(x, s, h, e, 0);                                                  \
        }                                                                                      \
        for (int64_t j = 0; j < k; j++) val[j] = x[(int64_t)h[j] * s];                         \
    }                                                                                          \
    int sf_cpu_top_k_##DT(sf_call *c)                                                          \
    {                                                                                          \
        int st = topk_check(c, CODE, "top_k_" #DT);                                            \
        if (st) return st;                                                                     \
        const sf_tensor *x = &c->in[0];                                                        \
        const int64_t rows = x->shape[0], n = x->shape[1], k = c->out[0].shape[1];             \
        const T *xd = (const T *)x->data;                                                      \
        T *vd = (T *)c->out[0].data;                                                           \
        int32_t *id = (int32_t *)c->out[1].data;                                               \
        const int big = (double)rows * (double)n >= (double)SF_PARALLEL_MIN && rows > 1;       \
        const int sf_ch_ = sf_chunk(n);                                                        \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(big)")                                   \
        for (int64_t r = 0; r < rows; r++)                                                     \
            tk_row_##DT(xd + r * x->strides[0], x->strides[1], n, k, vd + r * k, id + r * k);  \
        return SF_OK;                                                                          \
    }

TOPK_DTYPES(DEF_TOPK)

#define DEF_IN_TOPK(IDX, ICODE, IT)                                                            \
    int sf_cpu_in_top_k_float32_##IDX(sf_call *c)                                              \
    {                                                                                          \
        static const char name[] = "in_top_k_float32_" #IDX;                                   \
        if (c->n_in != 3 || c->n_out != 1)                                                     \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 3 inputs and 1 output, got %d and %d", \
                           name, (int)c->n_in, (int)c->n_out);                                 \
        const sf_tensor *p = &c->in[0], *t = &c->in[1], *kt = &c->in[2], *o = &c->out[0];      \
        if (p->dtype != SF_FLOAT32 || t->dtype != ICODE || kt->dtype != ICODE || o->dtype != SF_BOOL) \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                         \
                           "%s: predictions float32, targets and k " #IDX ", output bool", name); \
        if (p->ndim != 2 || t->ndim != 1 || o->ndim != 1 || t->shape[0] != p->shape[0] ||       \
            o->shape[0] != p->shape[0] || sf_numel(kt) != 1)                                   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                         \
                           "%s: predictions [b, c], targets [b], k a scalar -> [b]", name);    \
        const int64_t b = p->shape[0], nc = p->shape[1];                                       \
        const int64_t k = (int64_t) * (const IT *)kt->data;                                    \
        const float *pd = (const float *)p->data;                                              \
        const IT *td = (const IT *)t->data;                                                    \
        uint8_t *od = (uint8_t *)o->data;                                                      \
        const int big = (double)b * (double)nc >= (double)SF_PARALLEL_MIN && b > 1;            \
        const int sf_ch_ = sf_chunk(nc);                                                       \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(big)")                                   \
        for (int64_t r = 0; r < b; r++) {                                                      \
            const float *row = pd + r * p->strides[0];                                         \
            const int64_t s = p->strides[1], target = (int64_t)td[r * t->strides[0]];          \
            int ok = target >= 0 && target < nc && isfinite(row[target * s]);                  \
            int64_t more = 0;                                                                  \
            if (ok) {                                                                          \
                const float tp = row[target * s];                                              \
                for (int64_t j = 0; j < nc; j++) {                                             \
                    const float v = row[j * s];                                                \
                    if (!isfinite(v)) {                                                        \
                        ok = 0;                                                                \
                        break;                                                                 \
                    }                                                                          \
                    more += v > tp;                                                            \
                }                                                                              \
            }                                                                                  \
            od[r * o->strides[0]] = (uint8_t)(ok && more < k);                                 \
        }                                                                                      \
        return SF_OK;                                                                          \
    }

DEF_IN_TOPK(int32, SF_INT32, int32_t)
DEF_IN_TOPK(int64, SF_INT64, int64_t)

#define TOPK_ENTRY(DT, CODE, T, KIND) {"sf_cpu_top_k_" #DT, sf_cpu_top_k_##DT},

static const sf_kernel_entry topk_entries[] = {
    TOPK_DTYPES(TOPK_ENTRY)
    {"sf_cpu_in_top_k_float32_int32", sf_cpu_in_top_k_float32_int32},
    {"sf_cpu_in_top_k_float32_int64", sf_cpu_in_top_k_float32_int64},
};

int64_t sf_cpu_topk_entries(const sf_kernel_entry **out)
{
    if (out) *out = topk_entries;
    return (int64_t)(sizeof topk_entries / sizeof topk_entries[0]);
}
