/* gather and one_hot (array.cu) for nvcc and the CPU driver alike
 * (sf_cuda_launch.h): array.c's layouts, checks and messages. Gathers move
 * elements by size whatever their dtype. A gather's indices are checked by a
 * first kernel before anything is written (its launcher waits for the result). */
#ifndef SF_CUDA_GATHER_H
#define SF_CUDA_GATHER_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

SF_CU_ERROR_SLOT(gather)

/* the first k whose index is outside [0, lim) */
#define SF_GATHER_INDEX_CHECK(IDX, IT)                                                             \
    SF_KERNEL k_index_check_##IDX(const IT *ix, int64_t is, int64_t m, int64_t lim, unsigned long long *err) \
    {                                                                                              \
        SF_GRID_LOOP(k, m) {                                                                       \
            const int64_t v = (int64_t)ix[k * is];                                                 \
            if (v < 0 || v >= lim) SF_ATOMIC_MIN(err, k);                                          \
        }                                                                                          \
    }
SF_GATHER_INDEX_CHECK(int32, int32_t)
SF_GATHER_INDEX_CHECK(int64, int64_t)

#define X_GATHER_K(ES, E, IDX, IT)                                                                 \
    SF_KERNEL k_gather_##ES##_##IDX(E *o, sf_ew_plan v, const E *pa, const IT *ix, int64_t is,      \
                                    int64_t m, int64_t inner, int64_t n)                           \
    {                                                                                              \
        SF_GRID_LOOP(e, n) sf_gather_elem_##ES##_##IDX(e, o, v.st[0], pa, v.st[1], ix, is, m, inner); \
    }                                                                                              \
    SF_KERNEL k_one_hot_##ES##_##IDX(E *o, sf_ew_plan v, const IT *ix, const E *on, const E *off,   \
                                     int64_t depth, int64_t inner, int64_t n)                      \
    {                                                                                              \
        const E von = *on, voff = *off;                                                            \
        SF_GRID_LOOP(e, n)                                                                         \
            sf_one_hot_elem_##ES##_##IDX(e, o, v.st[0], ix, v.st[1][0], v.st[1][1], depth, inner, von, voff); \
    }
SF_GATHER_KINDS(X_GATHER_K)

static int sf_cu_gather(sf_call *c, const char *name, int32_t code, int es)
{
    if (c->n_in < 2 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 2 inputs and 1 output, got %d and %d", name, (int)c->n_in,
                 (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *pa = &c->in[0], *ix = &c->in[1], *out = &c->out[0];
    if (pa->dtype != code || out->dtype != code || (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)) {
        snprintf(c->msg, SF_MSG_LEN, "%s got %s params, %s indices and %s output", name, sf_cu_dtype_name(pa->dtype),
                 sf_cu_dtype_name(ix->dtype), sf_cu_dtype_name(out->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (pa->ndim != 3 || ix->ndim != 1 || out->ndim != 3) {
        snprintf(c->msg, SF_MSG_LEN,
                 "gather takes params [outer, n, inner], indices [m] and out [outer, m, inner]; got %d, %d and %d dims",
                 (int)pa->ndim, (int)ix->ndim, (int)out->ndim);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t outer = pa->shape[0], n = pa->shape[1], inner = pa->shape[2], m = ix->shape[0];
    if (out->shape[0] != outer || out->shape[1] != m || out->shape[2] != inner || outer < 0 || n < 0 ||
        inner < 0 || m < 0) {
        snprintf(c->msg, SF_MSG_LEN, "gather: out shape [%lld, %lld, %lld] is not [%lld, %lld, %lld]",
                 (long long)out->shape[0], (long long)out->shape[1], (long long)out->shape[2], (long long)outer,
                 (long long)m, (long long)inner);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (m == 0) return SF_OK;
    const int i64 = ix->dtype == SF_INT64;
    const int64_t is = ix->strides[0];
    unsigned long long *err = NULL, bad = 0;
    int st = sf_cu_err_begin_gather(c, name, ~0ull, &err);
    if (st) return st;
    if (i64)
        SF_LAUNCH_TO(st, c, name, k_index_check_int64, m, (const int64_t *)ix->data, is, m, n, err);
    else
        SF_LAUNCH_TO(st, c, name, k_index_check_int32, m, (const int32_t *)ix->data, is, m, n, err);
    const int st2 = sf_cu_err_end_gather(c, name, &bad); /* releases the slot */
    if (st || (st = st2)) return st;
    if (bad != ~0ull) {
        int64_t v = 0;
        const size_t isz = i64 ? 8 : 4;
        int32_t v32 = 0;
        SF_TO_HOST(c, name, i64 ? (void *)&v : (void *)&v32, (const char *)ix->data + (int64_t)bad * is * (int64_t)isz,
                   isz);
        if (!i64) v = v32;
        snprintf(c->msg, SF_MSG_LEN, "indices[%lld] = %lld is not in [0, %lld)", (long long)bad, (long long)v,
                 (long long)n);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t total = outer * m * inner;
    if (total == 0) return SF_OK;
    sf_ew_plan v; /* only its strides: st[0] out's, st[1] params' */
    for (int d = 0; d < 3; d++) {
        v.st[0][d] = out->strides[d];
        v.st[1][d] = pa->strides[d];
    }
#define SF_CU_GATHER_GO(ES, E)                                                                                 \
    if (i64)                                                                                                   \
        SF_LAUNCH(c, name, k_gather_##ES##_int64, total, (E *)out->data, v, (const E *)pa->data,               \
                  (const int64_t *)ix->data, is, m, inner, total);                                             \
    else                                                                                                       \
        SF_LAUNCH(c, name, k_gather_##ES##_int32, total, (E *)out->data, v, (const E *)pa->data,               \
                  (const int32_t *)ix->data, is, m, inner, total);
    switch (es) {
    case 1: SF_CU_GATHER_GO(1, uint8_t) break;
    case 2: SF_CU_GATHER_GO(2, uint16_t) break;
    case 4: SF_CU_GATHER_GO(4, uint32_t) break;
    default: SF_CU_GATHER_GO(8, uint64_t) break;
    }
    return SF_OK;
}

static int sf_cu_one_hot(sf_call *c, const char *name, int32_t code, int es)
{
    if (c->n_in < 3 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 3 inputs and 1 output", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *ix = &c->in[0], *on = &c->in[1], *off = &c->in[2], *out = &c->out[0];
    if (on->dtype != code || off->dtype != code || out->dtype != code ||
        (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)) {
        snprintf(c->msg, SF_MSG_LEN, "%s: got %s on, %s off, %s indices and %s output", name,
                 sf_cu_dtype_name(on->dtype), sf_cu_dtype_name(off->dtype), sf_cu_dtype_name(ix->dtype),
                 sf_cu_dtype_name(out->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (ix->ndim != 2 || out->ndim != 3 || ix->shape[0] != out->shape[0] || ix->shape[1] != out->shape[2] ||
        out->shape[0] < 0 || out->shape[1] < 0 || out->shape[2] < 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s: indices must be [outer, inner] and out [outer, depth, inner]", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t depth = out->shape[1], inner = out->shape[2], total = out->shape[0] * depth * inner;
    if (total == 0) return SF_OK;
    sf_ew_plan v;
    for (int d = 0; d < 3; d++) v.st[0][d] = out->strides[d];
    v.st[1][0] = ix->strides[0];
    v.st[1][1] = ix->strides[1];
    const int i64 = ix->dtype == SF_INT64;
#define SF_CU_ONE_HOT_GO(ES, E)                                                                                \
    if (i64)                                                                                                   \
        SF_LAUNCH(c, name, k_one_hot_##ES##_int64, total, (E *)out->data, v, (const int64_t *)ix->data,        \
                  (const E *)on->data, (const E *)off->data, depth, inner, total);                             \
    else                                                                                                       \
        SF_LAUNCH(c, name, k_one_hot_##ES##_int32, total, (E *)out->data, v, (const int32_t *)ix->data,        \
                  (const E *)on->data, (const E *)off->data, depth, inner, total);
    switch (es) {
    case 1: SF_CU_ONE_HOT_GO(1, uint8_t) break;
    case 2: SF_CU_ONE_HOT_GO(2, uint16_t) break;
    case 4: SF_CU_ONE_HOT_GO(4, uint32_t) break;
    default: SF_CU_ONE_HOT_GO(8, uint64_t) break;
    }
    return SF_OK;
}

#define SF_GATHER_PUBLIC(DT, ES)                                                                         \
    SF_PUBLIC sf_cuda_gather_##DT(sf_call *c) { return sf_cu_gather(c, "sf_cuda_gather_" #DT, SF_DTC_##DT, ES); } \
    SF_PUBLIC sf_cuda_one_hot_##DT(sf_call *c)                                             \
    {                                                                                           \
        return sf_cu_one_hot(c, "sf_cuda_one_hot_" #DT, SF_DTC_##DT, ES);                       \
    }
SF_CU_SIZES(SF_GATHER_PUBLIC)

#define SF_GATHER_ENTRY(DT, ES) {"sf_cuda_gather_" #DT, sf_cuda_gather_##DT}, {"sf_cuda_one_hot_" #DT, sf_cuda_one_hot_##DT},

#endif
