/* argmax / argmin (arg.cu) for nvcc and the CPU driver alike (sf_cuda_launch.h):
 * reduce.c's semantics, the last dim of a view reduced, int32 or int64 indices
 * by out[0].dtype. The start is the lowest (highest) finite value at index 0,
 * and only strictly better values replace it: NaN never does, the first index
 * wins ties, a row of NaN (or -inf for argmax, +inf for argmin) gives 0. One
 * thread per output row, reading its row with the row's stride (column mode of
 * the reductions: adjacent threads read adjacent rows' elements when the rows
 * are the view's inner dim). */
#ifndef SF_CUDA_ARG_H
#define SF_CUDA_ARG_H

#include <float.h>

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

/* X(OP, DT, T, START, BEATS) */
#define SF_ARG_GT(a, b) ((a) > (b))
#define SF_ARG_LT(a, b) ((a) < (b))
#define SF_ARG_KERNELS(X)                                                                        \
    X(argmax, float32, float, -FLT_MAX, SF_ARG_GT) X(argmax, float64, double, -DBL_MAX, SF_ARG_GT) \
    X(argmax, int32, int32_t, INT32_MIN, SF_ARG_GT) X(argmax, int64, int64_t, INT64_MIN, SF_ARG_GT) \
    X(argmax, int8, int8_t, INT8_MIN, SF_ARG_GT) X(argmax, int16, int16_t, INT16_MIN, SF_ARG_GT)   \
    X(argmax, uint8, uint8_t, 0, SF_ARG_GT) X(argmax, uint16, uint16_t, 0, SF_ARG_GT)              \
    X(argmax, uint32, uint32_t, 0, SF_ARG_GT) X(argmax, uint64, uint64_t, 0, SF_ARG_GT)            \
    X(argmin, float32, float, FLT_MAX, SF_ARG_LT) X(argmin, float64, double, DBL_MAX, SF_ARG_LT)   \
    X(argmin, int32, int32_t, INT32_MAX, SF_ARG_LT) X(argmin, int64, int64_t, INT64_MAX, SF_ARG_LT) \
    X(argmin, int8, int8_t, INT8_MAX, SF_ARG_LT) X(argmin, int16, int16_t, INT16_MAX, SF_ARG_LT)   \
    X(argmin, uint8, uint8_t, UINT8_MAX, SF_ARG_LT) X(argmin, uint16, uint16_t, UINT16_MAX, SF_ARG_LT) \
    X(argmin, uint32, uint32_t, UINT32_MAX, SF_ARG_LT) X(argmin, uint64, uint64_t, UINT64_MAX, SF_ARG_LT)

/* the index of row o's best element */
#define SF_ARG_BODY(OP, DT, T, START, BEATS)                                                     \
    SF_HD static inline int64_t sf_arg_row_##OP##_##DT(const sf_red_plan *p, int64_t o)          \
    {                                                                                            \
        const T *x = (const T *)p->in + sf_red_out_off(p, o);                                    \
        T best = (T)(START);                                                                     \
        int64_t bi = 0;                                                                          \
        for (int64_t j = 0; j < p->nred; j++) {                                                  \
            const T v = x[sf_red_elem_off(p, j)];                                                \
            if (BEATS(v, best)) {                                                                \
                best = v;                                                                        \
                bi = j;                                                                          \
            }                                                                                    \
        }                                                                                        \
        return bi;                                                                               \
    }                                                                                            \
    SF_KERNEL k_##OP##_##DT(sf_red_plan p, int is64)                                             \
    {                                                                                            \
        SF_GRID_LOOP(o, p.nout) {                                                                \
            const int64_t bi = sf_arg_row_##OP##_##DT(&p, o);                                    \
            if (is64) ((int64_t *)p.out)[o] = bi;                                                \
            else ((int32_t *)p.out)[o] = (int32_t)bi;                                            \
        }                                                                                        \
    }                                                                                            \
    SF_PUBLIC sf_cuda_##OP##_##DT(sf_call *c)                                                    \
    {                                                                                            \
        const char *name = "sf_cuda_" #OP "_" #DT;                                               \
        if (c->n_in != 1 || c->n_out != 1) {                                                     \
            snprintf(c->msg, SF_MSG_LEN, "%s takes 1 input and 1 output, got %d and %d", name,   \
                     (int)c->n_in, (int)c->n_out);                                               \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        const int32_t odt = c->out[0].dtype;                                                     \
        if (c->in[0].dtype != SF_DTC_##DT || (odt != SF_INT32 && odt != SF_INT64)) {             \
            snprintf(c->msg, SF_MSG_LEN, "%s: got %s -> %s, expected " #DT " -> int32 or int64", \
                     name, sf_cu_dtype_name(c->in[0].dtype), sf_cu_dtype_name(odt));             \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        const sf_tensor *out = &c->out[0];                                                       \
        for (int d = out->ndim - 1, s = 1; d >= 0; d--) {                                        \
            if (out->shape[d] != 1 && out->strides[d] != s) {                                    \
                snprintf(c->msg, SF_MSG_LEN, "%s: the output must be contiguous", name);         \
                return SF_ERR_INVALID_ARGUMENT;                                                  \
            }                                                                                    \
            s *= (int)out->shape[d];                                                             \
        }                                                                                        \
        sf_red_plan p;                                                                           \
        int st = sf_red_plan_make(name, &c->in[0], out, c->in[0].ndim > 0 ? 1 : 0, &p, c->msg);  \
        if (st) return st;                                                                       \
        if (p.nout == 0) return SF_OK;                                                           \
        if (p.nred == 0) {                                                                       \
            snprintf(c->msg, SF_MSG_LEN, #OP " of an empty dimension (%lld rows of 0 elements)",  \
                     (long long)p.nout);                                                         \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        SF_LAUNCH(c, name, k_##OP##_##DT, p.nout, p, odt == SF_INT64);                           \
        return SF_OK;                                                                            \
    }
SF_ARG_KERNELS(SF_ARG_BODY)

#define SF_ARG_ENTRY(OP, DT, T, START, BEATS) {"sf_cuda_" #OP "_" #DT, sf_cuda_##OP##_##DT},

#endif
