/* Helpers shared by the CPU kernel families (not part of the ABI). */
#ifndef SF_INTERNAL_H
#define SF_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "staticflow.h"

/* Work below this many elements runs on one thread: forking costs more. The
 * library reads the thresholds from variables (sf_set_parallel_min lowers them,
 * so that tests take the parallel paths on small inputs); generated kernels,
 * built apart from the library, keep the defaults. */
#define SF_PARALLEL_MIN_DEFAULT 32768
#define SF_GEMM_PARALLEL_MIN_DEFAULT (1 << 18)
/* Float32 products below this many multiply-adds keep BLAS (gemm.c, sf_sgemm_own_wins) */
#define SF_GEMM_OWN_MIN_DEFAULT (1 << 20)
#ifdef SF_JIT_KERNEL
#define SF_PARALLEL_MIN SF_PARALLEL_MIN_DEFAULT
#define SF_GEMM_PARALLEL_MIN SF_GEMM_PARALLEL_MIN_DEFAULT
#else
extern int64_t sf_parallel_min_elems, sf_gemm_parallel_min_madds, sf_gemm_own_min_madds;
#define SF_PARALLEL_MIN sf_parallel_min_elems
#define SF_GEMM_PARALLEL_MIN sf_gemm_parallel_min_madds
#endif

/* Row-major C = alpha op(A) op(B) + beta C (op transposes when ta/tb), on the
 * kernels' OpenMP threads (linalg.c); sizes must fit the 32-bit BLAS. Inside a
 * parallel region it runs on the calling thread. */
void sf_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void sf_dgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
              const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
/* The own float32 product on AVX-512 builds (gemm.c): C = alpha op(A) op(B) + beta C, then
 * C = act(C + bias) when bias is not NULL or act is not SF_ACT_NONE, on the kernels' threads
 * (the calling thread inside a parallel region), with the same bits for any thread count.
 * Returns 1 when it computed C, 0 when it did not (no AVX-512, empty sizes): the
 * caller then takes BLAS. sf_sgemm_own_wins says, from the sizes alone, whether it beats the
 * BLAS path on this machine (where it does not, callers keep BLAS). */
int sf_sgemm_own(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                 const float *bias, int act, float act_alpha);
int sf_sgemm_own_wins(int ta, int tb, int64_t M, int64_t N, int64_t K);
/* In place over rows [0, rows) of y (row length n, row stride ld): y += bias
 * (when bias is not NULL), then the activation `act` (SF_ACT_*, alpha for
 * leaky_relu): the epilogue of the fused kernels (fused.c, conv.c). */
void sf_epilogue_float32(float *y, int64_t rows, int64_t n, int64_t ld, const float *bias, int act,
                         float alpha);
void sf_epilogue_float64(double *y, int64_t rows, int64_t n, int64_t ld, const double *bias, int act,
                         double alpha);
/* One-row product y = x op(B) (+ bias, then the activation `act` as in the epilogue):
 * x has K elements at stride incx, B is [K, N] row-major (ldb), or [N, K] when tb;
 * y is N contiguous elements. On the kernels' threads, each a fixed block of columns,
 * with the same sums in the same order whatever the thread count (linalg.c). */
void sf_gemv_float32(int tb, int64_t N, int64_t K, const float *x, int64_t incx, const float *B,
                     int64_t ldb, float *y, const float *bias, int act, float alpha);
void sf_gemv_float64(int tb, int64_t N, int64_t K, const double *x, int64_t incx, const double *B,
                     int64_t ldb, double *y, const double *bias, int act, double alpha);
/* Products below SF_GEMM_PARALLEL_MIN multiply-adds run on the calling thread: forking
 * costs more. */

/* How many blocks a [M, N] product K deep is cut into: its rows when M >= N, else its
 * columns, in blocks of at least SF_GEMM_BLOCK_MIN rows (columns) on whole BLAS
 * micro-tiles (8), at most SF_GEMM_MAX_PARTS. A function of the sizes alone: each block is
 * one single-threaded BLAS call, taken by whichever thread comes free (sf_sgemm, the fused
 * matmul), so the bits do not depend on the thread count, and a thread that another
 * process holds up delays at most one block. */
#define SF_GEMM_BLOCK_MIN 64
#define SF_GEMM_MAX_PARTS 16
static inline int sf_gemm_parts(int64_t M, int64_t N, int64_t K)
{
    const int64_t len = M >= N ? M : N;
    const double work = (double)M * (double)N * (double)K;
    if (work < (double)SF_GEMM_PARALLEL_MIN || len < 2 * 8) return 1;
    int64_t parts = len / SF_GEMM_BLOCK_MIN;
    const double per = SF_GEMM_PARALLEL_MIN / 2 > 0 ? (double)(SF_GEMM_PARALLEL_MIN / 2) : 1.0;
    if ((double)parts > work / per) parts = (int64_t)(work / per);
    if (parts > SF_GEMM_MAX_PARTS) parts = SF_GEMM_MAX_PARTS;
    return parts < 1 ? 1 : (int)parts;
}

/* Iterations per chunk of a parallel loop whose iterations each touch `work` elements:
 * about SF_CHUNK_WORK elements, handed out a chunk at a time (schedule(dynamic, chunk)), so
 * a thread whose core another process holds leaves its share to the others instead of
 * holding up the whole call. Only for loops whose iterations write disjoint outputs that
 * do not depend on the thread that runs them: the same bits for any thread count. */
#define SF_CHUNK_WORK 16384
static inline int sf_chunk(int64_t work)
{
    if (work < 1) work = 1;
    const int64_t c = (SF_CHUNK_WORK + work - 1) / work;
    return c > (1 << 20) ? 1 << 20 : (int)c;
}

/* The threads that take a product's `parts` blocks: the kernels' count, none past the
 * blocks, one inside a parallel region. */
#define SF_GEMM_TEAM(parts) (omp_in_parallel() ? 1 : omp_get_max_threads() < (parts) ? omp_get_max_threads() : (parts))

/* Block p of `parts` over len rows (or columns): [*b0, *b1), boundaries on multiples of 8;
 * false when the block is empty. */
static inline int sf_gemm_block(int64_t len, int p, int parts, int64_t *b0, int64_t *b1)
{
    *b0 = len * p / parts / 8 * 8;
    *b1 = p + 1 == parts ? len : len * (p + 1) / parts / 8 * 8;
    return *b1 > *b0;
}

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
    case SF_BFLOAT16: return "bfloat16";
    case SF_INT8: return "int8";
    case SF_INT16: return "int16";
    case SF_UINT16: return "uint16";
    case SF_UINT32: return "uint32";
    case SF_UINT64: return "uint64";
    default: return "unknown";
    }
}

/* ---- 16-bit floats: sf_half_to_float, sf_float_to_half and the bfloat16 pair
 * (shared with the CUDA kernels) */
#include "sf_half.h"

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
