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

/* the order, the checks and in_top_k's row test: sf_topk.h, shared with the
 * CUDA kernels */
#include "sf_topk.h"

/* dtype codes by name */
#define TK_CODE_float32 SF_FLOAT32
#define TK_CODE_float64 SF_FLOAT64
#define TK_CODE_int32 SF_INT32
#define TK_CODE_int64 SF_INT64

#define DEF_TOPK(DT, T, KIND)                                                                  \
    /* a ranks before b */                                                                     \
    static inline int tk_before_##DT(const T *x, int64_t s, int32_t a, int32_t b)              \
    {                                                                                          \
        const T xa = x[a * s], xb = x[b * s];                                                  \
        return SF_TK_BEFORE(KIND, xa, a, xb, b);                                               \
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
        int st = sf_topk_check(c, TK_CODE_##DT, "top_k_" #DT, sf_dtype_name);                  \
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

SF_TOPK_TYPES(DEF_TOPK)

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
            od[r * o->strides[0]] = sf_in_top_k_row(pd + r * p->strides[0], p->strides[1], nc, \
                                                    (int64_t)td[r * t->strides[0]], k);        \
        }                                                                                      \
        return SF_OK;                                                                          \
    }

DEF_IN_TOPK(int32, SF_INT32, int32_t)
DEF_IN_TOPK(int64, SF_INT64, int64_t)

#define TOPK_ENTRY(DT, T, KIND) {"sf_cpu_top_k_" #DT, sf_cpu_top_k_##DT},

static const sf_kernel_entry topk_entries[] = {
    SF_TOPK_TYPES(TOPK_ENTRY)
    {"sf_cpu_in_top_k_float32_int32", sf_cpu_in_top_k_float32_int32},
    {"sf_cpu_in_top_k_float32_int64", sf_cpu_in_top_k_float32_int64},
};

int64_t sf_cpu_topk_entries(const sf_kernel_entry **out)
{
    if (out) *out = topk_entries;
    return (int64_t)(sizeof topk_entries / sizeof topk_entries[0]);
}
