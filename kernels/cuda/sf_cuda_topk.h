/* top_k and in_top_k (topk.cu) for nvcc and the CPU driver alike
 * (sf_cuda_launch.h): topk.c's order, checks and messages. top_k ranks by
 * counting: the thread of element j of a row counts the row's elements that
 * rank before it (greater; NaN above every number; ties by index) and, when
 * that rank r is below k, writes the value and index j at r. Exact and
 * deterministic, and the ranks of a row are a permutation, so every output is
 * written once; the work is n^2 per row of n (fine for class scores, slow for
 * rows of 10^5 values and more). in_top_k: one thread per row. */
#ifndef SF_CUDA_TOPK_H
#define SF_CUDA_TOPK_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

/* the order, the checks and in_top_k's row test: kernels/cpu/sf_topk.h, shared
 * with topk.c */
#include "sf_topk.h"

#define SF_TOPK_BODY(DT, T, KIND)                                                                   \
    SF_KERNEL k_top_k_##DT(const T *x, int64_t s0, int64_t s1, int64_t n, int64_t k, T *val, int32_t *idx, \
                           int64_t total)                                                           \
    {                                                                                               \
        SF_GRID_LOOP(e, total) {                                                                    \
            const int64_t r = e / n, j = e % n;                                                     \
            const T *row = x + r * s0;                                                              \
            const T xj = row[j * s1];                                                               \
            int64_t rank = 0;                                                                       \
            for (int64_t i = 0; i < n && rank < k; i++) {                                           \
                const T xi = row[i * s1];                                                           \
                rank += SF_TK_BEFORE(KIND, xi, i, xj, j);                                           \
            }                                                                                       \
            if (rank < k) {                                                                         \
                val[r * k + rank] = xj;                                                             \
                idx[r * k + rank] = (int32_t)j;                                                     \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    SF_PUBLIC sf_cuda_top_k_##DT(sf_call *c)                                                        \
    {                                                                                               \
        const char *name = "sf_cuda_top_k_" #DT;                                                    \
        int st = sf_topk_check(c, SF_DTC_##DT, name, sf_cu_dtype_name);                             \
        if (st) return st;                                                                          \
        const sf_tensor *x = &c->in[0];                                                             \
        const int64_t rows = x->shape[0], n = x->shape[1], k = c->out[0].shape[1], total = rows * n; \
        if (k == 0 || total == 0) return SF_OK;                                                     \
        SF_LAUNCH(c, name, k_top_k_##DT, total, (const T *)x->data, x->strides[0], x->strides[1], n, k, \
                  (T *)c->out[0].data, (int32_t *)c->out[1].data, total);                           \
        return SF_OK;                                                                               \
    }
SF_TOPK_TYPES(SF_TOPK_BODY)

#define SF_IN_TOPK_BODY(IDX, IT)                                                                    \
    SF_KERNEL k_in_top_k_##IDX(const float *p, int64_t ps0, int64_t ps1, const IT *t, int64_t ts,     \
                               const IT *kp, uint8_t *o, int64_t os, int64_t b, int64_t nc)         \
    {                                                                                               \
        SF_GRID_LOOP(r, b) {                                                                        \
            o[r * os] = sf_in_top_k_row(p + r * ps0, ps1, nc, (int64_t)t[r * ts], (int64_t)*kp);      \
        }                                                                                           \
    }                                                                                               \
    SF_PUBLIC sf_cuda_in_top_k_float32_##IDX(sf_call *c)                                            \
    {                                                                                               \
        const char *name = "sf_cuda_in_top_k_float32_" #IDX;                                        \
        if (c->n_in != 3 || c->n_out != 1) {                                                        \
            snprintf(c->msg, SF_MSG_LEN, "%s takes 3 inputs and 1 output, got %d and %d", name,     \
                     (int)c->n_in, (int)c->n_out);                                                  \
            return SF_ERR_INVALID_ARGUMENT;                                                         \
        }                                                                                           \
        const sf_tensor *p = &c->in[0], *t = &c->in[1], *kt = &c->in[2], *o = &c->out[0];           \
        if (p->dtype != SF_FLOAT32 || t->dtype != SF_DTC_##IDX || kt->dtype != SF_DTC_##IDX ||      \
            o->dtype != SF_BOOL) {                                                                  \
            snprintf(c->msg, SF_MSG_LEN, "%s: predictions float32, targets and k " #IDX ", output bool", name); \
            return SF_ERR_INVALID_ARGUMENT;                                                         \
        }                                                                                           \
        int64_t nk = 1;                                                                             \
        for (int d = 0; d < kt->ndim; d++) nk *= kt->shape[d];                                      \
        if (p->ndim != 2 || t->ndim != 1 || o->ndim != 1 || t->shape[0] != p->shape[0] ||           \
            o->shape[0] != p->shape[0] || nk != 1) {                                                \
            snprintf(c->msg, SF_MSG_LEN, "%s: predictions [b, c], targets [b], k a scalar -> [b]", name); \
            return SF_ERR_INVALID_ARGUMENT;                                                         \
        }                                                                                           \
        const int64_t b = p->shape[0];                                                              \
        if (b == 0) return SF_OK;                                                                   \
        SF_LAUNCH(c, name, k_in_top_k_##IDX, b, (const float *)p->data, p->strides[0], p->strides[1], \
                  (const IT *)t->data, t->strides[0], (const IT *)kt->data, (uint8_t *)o->data, o->strides[0], \
                  b, p->shape[1]);                                                                  \
        return SF_OK;                                                                               \
    }
SF_IN_TOPK_BODY(int32, int32_t)
SF_IN_TOPK_BODY(int64, int64_t)

#define SF_TOPK_ENTRY(DT, T, KIND) {"sf_cuda_top_k_" #DT, sf_cuda_top_k_##DT},
#define SF_IN_TOPK_ENTRIES                                                                          \
    {"sf_cuda_in_top_k_float32_int32", sf_cuda_in_top_k_float32_int32},                            \
        {"sf_cuda_in_top_k_float32_int64", sf_cuda_in_top_k_float32_int64},

#endif
