/* top_k and in_top_k's rules, written once for topk.c and the CUDA kernels
 * (kernels/cuda/sf_cuda_topk.h): the rank order, the checks of a top_k call
 * and its messages, and in_top_k's test of one row. SF_HD is
 * __host__ __device__ under nvcc and empty in C. Not part of the ABI.
 *
 * Order: greater values first; NaN above every number (NaNs tie); equal values
 * keep their index order (TensorFlow's stable order). */
#ifndef SF_TOPK_H
#define SF_TOPK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "staticflow.h"

#include "sf_hd.h"

/* x ranks above y, x ties y (x != x: NaN, without isnan's overloads) */
#define SF_TK_GT_FLOAT(x, y) ((x) > (y) || ((x) != (x) && (y) == (y)))
#define SF_TK_EQ_FLOAT(x, y) ((x) == (y) || ((x) != (x) && (y) != (y)))
#define SF_TK_GT_INT(x, y) ((x) > (y))
#define SF_TK_EQ_INT(x, y) ((x) == (y))
/* element a (value xa) ranks before element b (value xb) */
#define SF_TK_BEFORE(KIND, xa, a, xb, b) (SF_TK_GT_##KIND(xa, xb) || (SF_TK_EQ_##KIND(xa, xb) && (a) < (b)))

/* the dtypes of top_k: X(DT, T, KIND) */
#define SF_TOPK_TYPES(X) X(float32, float, FLOAT) X(float64, double, FLOAT) X(int32, int32_t, INT) X(int64, int64_t, INT)

/* Checks a top_k call: in[0] [rows, n] of dtype `code` -> out[0] values and
 * out[1] int32 indices, [rows, k], contiguous, k <= n. `dtname` names dtype codes
 * in the messages. Host code. */
static inline int sf_topk_check(sf_call *c, int32_t code, const char *name, const char *(*dtname)(int32_t))
{
    if (c->n_in != 1 || c->n_out != 2) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 1 input and 2 outputs, got %d and %d", name, (int)c->n_in,
                 (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *x = &c->in[0], *v = &c->out[0], *i = &c->out[1];
    if (x->dtype != code || v->dtype != code || i->dtype != SF_INT32) {
        snprintf(c->msg, SF_MSG_LEN, "%s: input and values %s, indices int32; got %s, %s, %s", name, dtname(code),
                 dtname(x->dtype), dtname(v->dtype), dtname(i->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (x->ndim != 2 || v->ndim != 2 || i->ndim != 2 || v->shape[0] != x->shape[0] || i->shape[0] != x->shape[0] ||
        i->shape[1] != v->shape[1]) {
        snprintf(c->msg, SF_MSG_LEN, "%s: input [rows, n] -> values and indices [rows, k]", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (v->shape[1] > x->shape[1] || v->shape[1] < 0) {
        snprintf(c->msg, SF_MSG_LEN, "input must have last dimension >= k = %lld but is %lld",
                 (long long)v->shape[1], (long long)x->shape[1]);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (x->shape[1] > INT32_MAX) {
        snprintf(c->msg, SF_MSG_LEN, "%s: rows of more than 2^31 - 1 values", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t k = v->shape[1];
    const int contiguous = (v->shape[0] <= 1 || v->strides[0] == k) && (k <= 1 || v->strides[1] == 1) &&
                           (i->shape[0] <= 1 || i->strides[0] == k) && (k <= 1 || i->strides[1] == 1);
    if (v->shape[0] * k != 0 && !contiguous) {
        snprintf(c->msg, SF_MSG_LEN, "%s: the outputs must be contiguous", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

/* in_top_k of one row of nc predictions (stride s): true when fewer than k are
 * strictly greater than the target's; false when the target is outside [0, nc)
 * or the row holds a NaN or an infinity (TensorFlow's InTopKV2). */
SF_HD static inline uint8_t sf_in_top_k_row(const float *row, int64_t s, int64_t nc, int64_t target, int64_t k)
{
    int ok = target >= 0 && target < nc && isfinite(row[target * s]);
    int64_t more = 0;
    if (ok) {
        const float tp = row[target * s];
        for (int64_t j = 0; j < nc; j++) {
            const float v = row[j * s];
            if (!isfinite(v)) {
                ok = 0;
                break;
            }
            more += v > tp;
        }
    }
    return (uint8_t)(ok && more < k);
}

#endif
