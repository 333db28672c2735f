/* Helpers shared by the CPU kernel families (not part of the ABI). */
#ifndef SF_INTERNAL_H
#define SF_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "staticflow.h"

/* Work below this many elements runs on one thread: forking costs more. */
#define SF_PARALLEL_MIN 32768

/* Row-major C = alpha op(A) op(B) + beta C (op transposes when ta/tb), on the
 * kernels' OpenMP threads (linalg.c); sizes must fit the 32-bit BLAS. Inside a
 * parallel region it runs on the calling thread. */
void sf_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void sf_dgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
              const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
/* Switches the BLAS library to one thread; called once, before any kernel runs. */
void sf_blas_init(void);

/* Record an error message on the call and return its status code. */
static inline int sf_fail(sf_call *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, SF_MSG_LEN, fmt, ap);
    va_end(ap);
    return code;
}

/* The dtype's name, for messages. */
static inline const char *sf_dtype_name(int32_t code)
{
    switch (code) {
    case SF_FLOAT32: return "float32";
    case SF_FLOAT64: return "float64";
    case SF_INT32: return "int32";
    case SF_INT64: return "int64";
    case SF_UINT8: return "uint8";
    case SF_BOOL: return "bool";
    case SF_FLOAT16: return "float16";
    default: return "unknown";
    }
}

/* "[2, 3]" into buf, for messages. */
static inline const char *sf_shape_str(const sf_tensor *t, char *buf, size_t size)
{
    size_t k = 0;
    int n = snprintf(buf, size, "[");
    k = n > 0 ? (size_t)n : 0;
    for (int d = 0; d < t->ndim && d < SF_MAX_DIMS && k < size; d++) {
        n = snprintf(buf + k, size - k, d ? ", %lld" : "%lld", (long long)t->shape[d]);
        if (n > 0) k += (size_t)n;
    }
    if (k < size) snprintf(buf + k, size - k, "]");
    return buf;
}

static inline int64_t sf_numel(const sf_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Rows of a view: every dim but the last. A 0-d tensor is one row of one. */
static inline int64_t sf_rows(const sf_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i + 1 < t->ndim; i++) n *= t->shape[i];
    return n;
}

static inline int64_t sf_row_len(const sf_tensor *t)
{
    return t->ndim ? t->shape[t->ndim - 1] : 1;
}

static inline int64_t sf_inner_stride(const sf_tensor *t)
{
    return t->ndim ? t->strides[t->ndim - 1] : 1;
}

/* Element offset of the first element of row `row` of view t, where rows are
 * numbered in C order over shape[0..ndim-1) of `like` (a tensor of the same
 * shape, usually the output). */
static inline int64_t sf_row_offset(const sf_tensor *t, const sf_tensor *like, int64_t row)
{
    int64_t off = 0;
    for (int d = like->ndim - 2; d >= 0; d--) {
        int64_t n = like->shape[d];
        off += (row % n) * t->strides[d];
        row /= n;
    }
    return off;
}

/* True when the view is dense C order. */
static inline int sf_is_contiguous(const sf_tensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != expect) return 0;
        expect *= t->shape[d];
    }
    return 1;
}

#endif
