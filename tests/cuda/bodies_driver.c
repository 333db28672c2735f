/* The CUDA kernels' bodies (kernels/cuda/sf_cuda_bodies.h) run on the CPU: each
 * sf_emu_* function does what the CUDA kernel of the same name does, with the
 * grid's threads as a loop and a block's warp shuffles and shared memory as the
 * tree emulation of sf_cuda_bodies.h. Host pointers stand for device pointers.
 * Built by the tests with cffi (test_bodies.py); sf_emu_kernel_table lists the
 * emulated kernels under their CUDA names. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_cuda_bodies.h"
#include "sf_cuda_ew.h"
#include "sf_cuda_linalg.h"
#include "sf_cuda_fused.h"
#include "sf_cuda_random.h"
#include "sf_cuda_training.h"
#include "sf_cuda_gather.h"
#include "sf_cuda_arg.h"
#include "sf_cuda_debug.h"
#include "sf_cuda_pool.h"
#include "sf_cuda_topk.h"
#include "sf_cuda_segment.h"
#include "sf_scalar_table.h"

/* ---- elementwise: one "thread" per element ------------------------------- */

typedef int (*sf_emu_elem)(const sf_ew_plan *, int64_t, double);

static int sf_emu_ew_go(sf_call *c, const char *name, sf_emu_elem f, const sf_ew_plan *p, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const int b = f(p, i, c->fattr[SF_FATTR_ALPHA]);
        if (b > bad) bad = b; /* the kernels' atomicMax */
    }
    return bad ? sf_cu_ew_error(c, name, bad) : SF_OK;
}

#define SF_EMU_EW_PUBLIC(NAME, NIN, D0, D1, D2, DOUT)                                          \
    int sf_emu_##NAME(sf_call *c)                                                              \
    {                                                                                          \
        static const int32_t dts[3] = {D0, D1, D2};                                            \
        sf_ew_plan p;                                                                          \
        int64_t n = 0;                                                                         \
        int st = sf_cu_ew_prepare(c, "sf_cuda_" #NAME, NIN, dts, DOUT, &p, &n);                \
        if (st || n == 0) return st;                                                           \
        return sf_emu_ew_go(c, "sf_cuda_" #NAME, sf_ew_elem_##NAME, &p, n);                    \
    }

#define X_U(OP, DT, T, EXPR) SF_EW_U(OP, DT, T, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT)
#define X_UA(OP, DT, T, EXPR) SF_EW_UA(OP, DT, T, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT)
#define X_B(OP, DT, TI, ODT, TO, EXPR) \
    SF_EW_B(OP, DT, TI, ODT, TO, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT)
#define X_BA(OP, DT, TI, ODT, TO, EXPR) \
    SF_EW_BA(OP, DT, TI, ODT, TO, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT)
#define X_UH(OP, DT, T, EXPR) SF_EW_UH(OP, DT, T, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT)
#define X_UAH(OP, DT, T, EXPR) SF_EW_UAH(OP, DT, T, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT)
#define X_BH(OP, DT, TI, ODT, TO, EXPR) \
    SF_EW_BH(OP, DT, TI, ODT, TO, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT)
#define X_BAH(OP, DT, TI, ODT, TO, EXPR) \
    SF_EW_BAH(OP, DT, TI, ODT, TO, EXPR) SF_EMU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT)
#define X_FLOAT(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, X_U, X_UA, X_B, X_BA)
#define X_HALF(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, X_UH, X_UAH, X_BH, X_BAH)
#define X_INT(DT, T, UT) SF_EW_INT_LISTS(DT, T, UT, X_U, X_B)
#define X_SMALL(DT, T, UT) SF_EW_SMALL_INT_LISTS(DT, T, UT, X_U, X_B)
#define X_UINT(DT, T, UT) SF_EW_UINT_LISTS(DT, T, UT, X_U, X_B)
SF_CU_FLOAT_TYPES(X_FLOAT)
SF_CU_HALF_TYPES(X_HALF)
SF_CU_INT_TYPES(X_INT)
SF_CU_SMALL_INT_TYPES(X_SMALL)
SF_CU_UINT_TYPES(X_UINT)
SF_EW_BOOL_LISTS(X_U, X_B)

#define X_CAST(SDT, ST, SK, DDT, DTT, DK) \
    SF_EW_CAST(SDT, ST, SK, DDT, DTT, DK) SF_EMU_EW_PUBLIC(cast_##SDT##_##DDT, 1, SF_DTC_##SDT, 0, 0, SF_DTC_##DDT)
SF_CAST_PAIRS(X_CAST)
/* transposing copies: each block's tile, its threads' loads, then their stores */
#define SF_EMU_TCOPY(ES, E)                                                                     \
    static void sf_emu_tcopy_##ES(const sf_ew_plan *p)                                          \
    {                                                                                           \
        const int64_t ntr = (p->shape[0] + SF_TILE - 1) / SF_TILE;                              \
        const int64_t ntc = (p->shape[1] + SF_TILE - 1) / SF_TILE;                              \
        E tile[SF_TILE][SF_TILE + 1];                                                           \
        for (int64_t t = 0; t < ntr * ntc; t++) {                                               \
            for (int ty = 0; ty < SF_TILE_ROWS; ty++)                                           \
                for (int tx = 0; tx < SF_TILE; tx++) sf_tile_load_##ES(p, t / ntc, t % ntc, tx, ty, tile); \
            for (int ty = 0; ty < SF_TILE_ROWS; ty++)                                           \
                for (int tx = 0; tx < SF_TILE; tx++) sf_tile_store_##ES(p, t / ntc, t % ntc, tx, ty, tile); \
        }                                                                                       \
    }
SF_EMU_TCOPY(1, uint8_t)
SF_EMU_TCOPY(2, uint16_t)
SF_EMU_TCOPY(4, uint32_t)
SF_EMU_TCOPY(8, uint64_t)

/* transposing copies made (for the tests: the tiled path must be taken) */
int64_t sf_emu_tiled_copies;

#define X_COPY(DT, T)                                                                           \
    SF_EW_COPY(DT, T)                                                                           \
    int sf_emu_copy_##DT(sf_call *c)                                                            \
    {                                                                                           \
        static const int32_t dts[3] = {SF_DTC_##DT, 0, 0};                                      \
        sf_ew_plan p;                                                                           \
        int64_t n = 0;                                                                          \
        int st = sf_cu_ew_prepare(c, "sf_cuda_copy_" #DT, 1, dts, SF_DTC_##DT, &p, &n);         \
        if (st || n == 0) return st;                                                            \
        if (!sf_copy_is_transpose(&p)) return sf_emu_ew_go(c, "sf_cuda_copy_" #DT, sf_ew_elem_copy_##DT, &p, n); \
        sf_emu_tiled_copies++;                                                                  \
        switch (sizeof(T)) {                                                                    \
        case 1: sf_emu_tcopy_1(&p); break;                                                      \
        case 2: sf_emu_tcopy_2(&p); break;                                                      \
        case 4: sf_emu_tcopy_4(&p); break;                                                      \
        default: sf_emu_tcopy_8(&p); break;                                                     \
        }                                                                                       \
        return SF_OK;                                                                           \
    }
SF_CU_ALL(X_COPY)
#define X_SELECT(DT, T) \
    SF_EW_SELECT(DT, T) SF_EMU_EW_PUBLIC(select_##DT, 3, SF_BOOL, SF_DTC_##DT, SF_DTC_##DT, SF_DTC_##DT)
SF_CU_ALL(X_SELECT)

#define SF_EMU_ADDN(DT)                                                                         \
    static int sf_emu_addn_go_##DT(sf_call *c, const char *name, const sf_ew_plan *p, int64_t n) \
    {                                                                                           \
        return sf_emu_ew_go(c, name, sf_ew_elem_addn_##DT, p, n);                               \
    }                                                                                           \
    int sf_emu_addn_##DT(sf_call *c)                                                            \
    {                                                                                           \
        return sf_ew_addn_run(c, "sf_cuda_addn_" #DT, SF_DTC_##DT, sf_emu_addn_go_##DT);        \
    }
#define X_ADDN(DT, T, UT) SF_EW_ADDN(DT, T, UT) SF_EMU_ADDN(DT)
SF_ADDN_TYPES(X_ADDN)
#define X_ADDN_H(DT) SF_EW_ADDN_H(DT) SF_EMU_ADDN(DT)
SF_ADDN_HALF_TYPES(X_ADDN_H)

/* ---- reductions: row mode through the block tree, column mode per output --- */

#define X_RED(OP, DT, T, ACC, INIT, FIN)                                                        \
    SF_RED_DEF_PARTIAL(OP, DT, T, ACC, INIT, FIN)                                               \
    SF_RED_DEF_TREE_EMU(OP, DT, T, ACC, INIT, FIN)                                              \
    int sf_emu_reduce_##OP##_##DT(sf_call *c)                                                   \
    {                                                                                           \
        sf_red_plan p;                                                                          \
        int st = sf_red_plan_make("sf_cuda_reduce_" #OP "_" #DT, &c->in[0], &c->out[0],         \
                                  c->iattr[SF_REDUCE_NDIMS], &p, c->msg);                       \
        if (st) return st;                                                                      \
        for (int64_t o = 0; o < p.nout; o++) {                                                  \
            if (p.column) {                                                                     \
                sf_red_final_##OP##_##DT(&p, o, sf_red_partial_##OP##_##DT(&p, o, 0, 1));       \
            } else {                                                                            \
                ACC v[SF_RED_THREADS];                                                          \
                for (int t = 0; t < SF_RED_THREADS; t++)                                        \
                    v[t] = sf_red_partial_##OP##_##DT(&p, o, t, SF_RED_THREADS);                \
                sf_red_final_##OP##_##DT(&p, o, sf_red_block_emu_##OP##_##DT(v, SF_RED_THREADS)); \
            }                                                                                   \
        }                                                                                       \
        return SF_OK;                                                                           \
    }
SF_RED_KERNELS(X_RED)

/* which mode the plan picks (1 column, 0 row), for the tests */
int sf_emu_reduce_mode(const sf_tensor *in, const sf_tensor *out, int64_t nred_dims)
{
    sf_red_plan p;
    char msg[SF_MSG_LEN];
    if (sf_red_plan_make("mode", in, out, nred_dims, &p, msg)) return -1;
    return p.column;
}

/* the block tree alone over 256 float32 partials summed in double: the order test */
double sf_emu_tree_sum_float32(const double *partials)
{
    double v[SF_RED_THREADS];
    memcpy(v, partials, sizeof v);
    return sf_red_block_emu_sum_float32(v, SF_RED_THREADS);
}

/* ---- softmax and cross-entropy: one block per row --------------------------- */

#define X_NN(DT, T, EXP)                                                                           \
    static T sf_emu_rowmax_##DT(const T *x, int64_t n, int64_t s)                                  \
    {                                                                                              \
        T v[SF_RED_THREADS];                                                                       \
        for (int t = 0; t < SF_RED_THREADS; t++) {                                                 \
            v[t] = (T)-INFINITY;                                                                   \
            for (int64_t j = t; j < n; j += SF_RED_THREADS) v[t] = SF_RCOMB_max(v[t], x[j * s]);   \
        }                                                                                          \
        return sf_red_block_emu_max_##DT(v, SF_RED_THREADS);                                       \
    }                                                                                              \
    static double sf_emu_rowexp_##DT(const T *x, int64_t n, int64_t s, T m)                        \
    {                                                                                              \
        double v[SF_RED_THREADS];                                                                  \
        for (int t = 0; t < SF_RED_THREADS; t++) {                                                 \
            v[t] = 0;                                                                              \
            for (int64_t j = t; j < n; j += SF_RED_THREADS) v[t] += (double)EXP(x[j * s] - m);     \
        }                                                                                          \
        return sf_red_block_emu_sum_float64(v, SF_RED_THREADS);                                    \
    }                                                                                              \
    static int sf_emu_softmax_any_##DT(sf_call *c, int log_)                                       \
    {                                                                                              \
        const sf_tensor *in = &c->in[0], *out = &c->out[0];                                        \
        const int nd = in->ndim;                                                                   \
        int64_t rows = 1;                                                                          \
        for (int d = 0; d + 1 < nd; d++) rows *= in->shape[d];                                     \
        const int64_t n = in->shape[nd - 1], si = in->strides[nd - 1], so = out->strides[nd - 1];  \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *x = (const T *)in->data + sf_row_off(in->shape, in->strides, nd, r);          \
            T *y = (T *)out->data + sf_row_off(in->shape, out->strides, nd, r);                    \
            const T m = sf_emu_rowmax_##DT(x, n, si);                                              \
            const double s = sf_emu_rowexp_##DT(x, n, si, m);                                      \
            if (log_) {                                                                            \
                const T ls = (T)log(s);                                                            \
                for (int64_t j = 0; j < n; j++) y[j * so] = (x[j * si] - m) - ls;                  \
            } else {                                                                               \
                const T inv = (T)(1.0 / s);                                                        \
                for (int64_t j = 0; j < n; j++) y[j * so] = EXP(x[j * si] - m) * inv;              \
            }                                                                                      \
        }                                                                                          \
        return SF_OK;                                                                              \
    }                                                                                              \
    int sf_emu_softmax_##DT(sf_call *c) { return sf_emu_softmax_any_##DT(c, 0); }                 \
    int sf_emu_log_softmax_##DT(sf_call *c) { return sf_emu_softmax_any_##DT(c, 1); }             \
    /* ix: sparse labels (IDX 32 or 64 bits), else dense label rows */                           \
    static int sf_emu_xent_any_##DT(sf_call *c, int idx_bits)                                      \
    {                                                                                              \
        const sf_tensor *x = &c->in[0], *l = &c->in[1], *lo = &c->out[0], *bp = &c->out[1];        \
        const int64_t rows = x->shape[0], n = x->shape[1];                                         \
        for (int64_t r = 0; idx_bits && r < rows; r++) {                                           \
            const int64_t v = idx_bits == 32 ? ((const int32_t *)l->data)[r * l->strides[0]]        \
                                             : ((const int64_t *)l->data)[r * l->strides[0]];       \
            if (v < 0 || v >= n) {                                                                 \
                snprintf(c->msg, SF_MSG_LEN,                                                       \
                         "Received a label value of %lld which is outside the valid range of [0, %lld).", \
                         (long long)v, (long long)n);                                              \
                return SF_ERR_INVALID_ARGUMENT;                                                    \
            }                                                                                      \
        }                                                                                          \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *xr = (const T *)x->data + r * x->strides[0];                                  \
            T *br = (T *)bp->data + r * bp->strides[0];                                            \
            const int64_t xs = x->strides[1], bs = bp->strides[1];                                 \
            const T m = sf_emu_rowmax_##DT(xr, n, xs);                                             \
            const double s = sf_emu_rowexp_##DT(xr, n, xs, m);                                     \
            const T ls = (T)log(s), inv = (T)(1.0 / s);                                            \
            T *lor = (T *)lo->data + r * lo->strides[0];                                           \
            if (idx_bits) {                                                                        \
                const int64_t lab = idx_bits == 32 ? ((const int32_t *)l->data)[r * l->strides[0]]  \
                                                   : ((const int64_t *)l->data)[r * l->strides[0]]; \
                for (int64_t j = 0; j < n; j++) {                                                  \
                    const T e = EXP(xr[j * xs] - m) * inv;                                         \
                    br[j * bs] = j == lab ? e - (T)1 : e;                                          \
                }                                                                                  \
                *lor = ls - (xr[lab * xs] - m);                                                    \
            } else {                                                                               \
                const T *lr = (const T *)l->data + r * l->strides[0];                              \
                double v[SF_RED_THREADS];                                                          \
                for (int t = 0; t < SF_RED_THREADS; t++) {                                         \
                    v[t] = 0;                                                                      \
                    for (int64_t j = t; j < n; j += SF_RED_THREADS) {                              \
                        const T lab = lr[j * l->strides[1]], xv = xr[j * xs];                      \
                        br[j * bs] = EXP(xv - m) * inv - lab;                                      \
                        v[t] += (double)(lab * (ls - (xv - m)));                                   \
                    }                                                                              \
                }                                                                                  \
                *lor = n ? (T)sf_red_block_emu_sum_float64(v, SF_RED_THREADS) : (T)0;              \
            }                                                                                      \
        }                                                                                          \
        return SF_OK;                                                                              \
    }                                                                                              \
    int sf_emu_softmax_xent_##DT(sf_call *c) { return sf_emu_xent_any_##DT(c, 0); }               \
    int sf_emu_sparse_softmax_xent_##DT##_int32(sf_call *c) { return sf_emu_xent_any_##DT(c, 32); } \
    int sf_emu_sparse_softmax_xent_##DT##_int64(sf_call *c) { return sf_emu_xent_any_##DT(c, 64); }
X_NN(float32, float, sf_cu_exp_f32)
X_NN(float64, double, sf_cu_exp_f64)

/* ---- optimizer updates: training.cu's kernels and launchers (sf_cuda_training.h) */

/* ---- random: random.cu's kernels and launchers (sf_cuda_random.h) ------------- */

#define SF_EMU_RANDOM SF_CU_RANDOM

/* ---- gather and one_hot: array.cu's kernels and launchers (sf_cuda_gather.h) ---- */

/* ---- matmul and conv: linalg.cu's plans and steps, with cuBLAS's and cuDNN's
 * documented results computed by loops ---------------------------------------- */

typedef struct sf_emu_ctx {
    sf_call *c;
    int64_t esize;
} sf_emu_ctx;

static void *sf_emu_alloc(void *ctx, int64_t bytes)
{
    sf_emu_ctx *x = (sf_emu_ctx *)ctx;
    void *p = malloc((size_t)(bytes > 0 ? bytes : 1));
    if (!p) snprintf(x->c->msg, SF_MSG_LEN, "out of memory");
    /* garbage, as fresh device memory: every step must write what it reads */
    if (p) memset(p, 0x7f, (size_t)(bytes > 0 ? bytes : 1));
    return p;
}

static void sf_emu_release(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static int sf_emu_gm_pack(void *ctx, const sf_gm_plan *p, const sf_gm_operand *o, int to_dense, void *view,
                          void *dense)
{
    const int64_t es = ((sf_emu_ctx *)ctx)->esize, n = p->batch * o->R * o->C;
    for (int64_t e = 0; e < n; e++) {
        char *v = (char *)view + sf_gm_pack_off(p, o, e) * es, *d = (char *)dense + e * es;
        if (to_dense) memcpy(d, v, (size_t)es);
        else memcpy(v, d, (size_t)es);
    }
    return SF_OK;
}

static int sf_emu_gm_zero(void *ctx, const sf_gm_plan *p, void *out)
{
    const int64_t es = ((sf_emu_ctx *)ctx)->esize, n = p->batch * p->M * p->N;
    for (int64_t e = 0; e < n; e++) memset((char *)out + sf_gm_pack_off(p, &p->Z, e) * es, 0, (size_t)es);
    return SF_OK;
}

/* cublas<t>gemmStridedBatched, alpha 1, beta 0: column-major, op N or T per operand */
#define SF_EMU_GEMM(T)                                                                               \
    static void sf_emu_gemm_##T(const sf_gm_plan *p, const T *x, int64_t sx, const T *y, int64_t sy, T *z, \
                                int64_t sz, int64_t count)                                           \
    {                                                                                                \
        for (int64_t t = 0; t < count; t++)                                                          \
            for (int64_t j = 0; j < p->n; j++)                                                       \
                for (int64_t i = 0; i < p->m; i++) {                                                 \
                    T s = 0;                                                                         \
                    for (int64_t q = 0; q < p->k; q++) {                                             \
                        const T xv = p->X.op == SF_GM_OP_N ? x[t * sx + i + q * p->X.ld] : x[t * sx + q + i * p->X.ld]; \
                        const T yv = p->Y.op == SF_GM_OP_N ? y[t * sy + q + j * p->Y.ld] : y[t * sy + j + q * p->Y.ld]; \
                        s += xv * yv;                                                                \
                    }                                                                                \
                    z[t * sz + i + j * p->Z.ld] = s;                                                 \
                }                                                                                    \
    }
SF_EMU_GEMM(float)
SF_EMU_GEMM(double)

/* cuBLAS: a stride of a batched call is used only with count > 1 */
static int sf_emu_gemm(void *ctx, const sf_gm_plan *p, const void *x, int64_t sx, const void *y, int64_t sy, void *z,
                       int64_t sz, int64_t count)
{
    if (count == 1) sx = sy = sz = 0;
    if (((sf_emu_ctx *)ctx)->esize == 4) sf_emu_gemm_float(p, x, sx, y, sy, z, sz, count);
    else sf_emu_gemm_double(p, x, sx, y, sy, z, sz, count);
    return SF_OK;
}

static int sf_emu_matmul(sf_call *c, const char *name, int32_t code, int64_t esize)
{
    sf_gm_plan p;
    int st = sf_gm_plan_make(c, &p, code, name);
    if (st) return st;
    sf_emu_ctx x = {c, esize};
    static const sf_gm_ops ops = {sf_emu_alloc, sf_emu_release, sf_emu_gm_pack, sf_emu_gm_zero, sf_emu_gemm};
    return sf_gm_run(c, &p, &ops, &x, esize);
}
int sf_emu_matmul_float32(sf_call *c) { return sf_emu_matmul(c, "sf_cuda_matmul_float32", SF_FLOAT32, 4); }
int sf_emu_matmul_float64(sf_call *c) { return sf_emu_matmul(c, "sf_cuda_matmul_float64", SF_FLOAT64, 8); }

#define SF_EMU_MATMUL_INT(DT, T, UT)                                                                 \
    int sf_emu_matmul_##DT(sf_call *c)                                                              \
    {                                                                                                \
        sf_gm_plan p;                                                                                \
        int st = sf_gm_plan_make(c, &p, SF_DTC_##DT, "sf_cuda_matmul_" #DT);                         \
        if (st) return st;                                                                           \
        for (int64_t e = 0; e < p.batch * p.M * p.N; e++)                                            \
            sf_gm_int_elem_##DT(&p, e, (const T *)c->in[0].data, (const T *)c->in[1].data, (T *)c->out[0].data); \
        return SF_OK;                                                                                \
    }
SF_EMU_MATMUL_INT(int32, int32_t, uint32_t)
SF_EMU_MATMUL_INT(int64, int64_t, uint64_t)

static int sf_emu_cv_zero(void *ctx, const sf_cv_plan *p, void *out, int64_t n)
{
    (void)p;
    memset(out, 0, (size_t)(n * ((sf_emu_ctx *)ctx)->esize));
    return SF_OK;
}

static int sf_emu_cv_filter(void *ctx, const sf_cv_plan *p, int to_oihw, void *hwio, void *oihw)
{
    const int64_t es = ((sf_emu_ctx *)ctx)->esize, n = p->O * p->I * p->KH * p->KW;
    for (int64_t e = 0; e < n; e++) {
        char *h = (char *)hwio + sf_cv_hwio_off(p, e) * es, *o = (char *)oihw + e * es;
        if (to_oihw) memcpy(o, h, (size_t)es);
        else memcpy(h, o, (size_t)es);
    }
    return SF_OK;
}

static int sf_emu_cv_pad(void *ctx, const sf_cv_plan *p, int to_padded, void *img, void *padded)
{
    const int64_t es = ((sf_emu_ctx *)ctx)->esize;
    const int64_t n = to_padded ? p->N * p->Hx * p->Wx * p->C : p->N * p->H * p->W * p->C;
    for (int64_t e = 0; e < n; e++) {
        const int64_t s = to_padded ? sf_cv_pad_src(p, e) : sf_cv_crop_src(p, e);
        char *dst = (char *)(to_padded ? padded : img) + e * es;
        if (s < 0) memset(dst, 0, (size_t)es);
        else memcpy(dst, (char *)(to_padded ? img : padded) + s * es, (size_t)es);
    }
    return SF_OK;
}

/* cuDNN's cross-correlation (alpha 1, beta 0) on the plan's descriptors: x [N, C, Hx, Wx]
 * and y [N, O, OH, OW] with NHWC strides, w packed OIHW, groups, symmetric padding */
#define SF_EMU_CONV(T)                                                                               \
    static void sf_emu_conv_##T(const sf_cv_plan *p, T *x, T *w, T *y)                               \
    {                                                                                                \
        const int64_t og = p->O / p->groups;                                                         \
        const int64_t nx = p->N * p->Hx * p->Wx * p->C, nw = p->O * p->I * p->KH * p->KW;            \
        if (p->kind == SF_CV_INPUT_GRAD) memset(x, 0, (size_t)nx * sizeof(T));                       \
        if (p->kind == SF_CV_FILTER_GRAD) memset(w, 0, (size_t)nw * sizeof(T));                      \
        for (int64_t n = 0; n < p->N; n++)                                                           \
            for (int64_t o = 0; o < p->O; o++)                                                       \
                for (int64_t oh = 0; oh < p->OH; oh++)                                               \
                    for (int64_t ow = 0; ow < p->OW; ow++) {                                         \
                        T *yv = y + ((n * p->OH + oh) * p->OW + ow) * p->O + o;                      \
                        T s = 0;                                                                     \
                        for (int64_t i = 0; i < p->I; i++)                                           \
                            for (int64_t kh = 0; kh < p->KH; kh++)                                   \
                                for (int64_t kw = 0; kw < p->KW; kw++) {                             \
                                    const int64_t h = oh * p->sh - p->ph + kh * p->dh;               \
                                    const int64_t ww = ow * p->sw - p->pw + kw * p->dw;              \
                                    if (h < 0 || h >= p->Hx || ww < 0 || ww >= p->Wx) continue;      \
                                    T *xv = x + ((n * p->Hx + h) * p->Wx + ww) * p->C + (o / og) * p->I + i; \
                                    T *wv = w + ((o * p->I + i) * p->KH + kh) * p->KW + kw;          \
                                    if (p->kind == SF_CV_FORWARD) s += *xv * *wv;                    \
                                    else if (p->kind == SF_CV_INPUT_GRAD) *xv += *yv * *wv;          \
                                    else *wv += *xv * *yv;                                           \
                                }                                                                    \
                        if (p->kind == SF_CV_FORWARD) *yv = s;                                       \
                    }                                                                                \
    }
SF_EMU_CONV(float)
SF_EMU_CONV(double)

static int sf_emu_cv_conv(void *ctx, const sf_cv_plan *p, void *x, void *w, void *y)
{
    if (((sf_emu_ctx *)ctx)->esize == 4) sf_emu_conv_float(p, x, w, y);
    else sf_emu_conv_double(p, x, w, y);
    return SF_OK;
}

static int sf_emu_conv(sf_call *c, const char *name, int kind, int dw, int32_t code, int64_t esize)
{
    sf_cv_plan p;
    int st = sf_cv_plan_make(c, &p, kind, dw, code, name);
    if (st) return st;
    sf_emu_ctx x = {c, esize};
    static const sf_cv_ops ops = {sf_emu_alloc, sf_emu_release, sf_emu_cv_zero, sf_emu_cv_filter, sf_emu_cv_pad,
                                  sf_emu_cv_conv};
    return sf_cv_run(c, &p, &ops, &x, esize);
}

#define X_CONV(NAME, KIND, DW)                                                                       \
    int sf_emu_##NAME##_float32(sf_call *c)                                                          \
    {                                                                                                \
        return sf_emu_conv(c, "sf_cuda_" #NAME "_float32", KIND, DW, SF_FLOAT32, 4);                 \
    }                                                                                                \
    int sf_emu_##NAME##_float64(sf_call *c)                                                          \
    {                                                                                                \
        return sf_emu_conv(c, "sf_cuda_" #NAME "_float64", KIND, DW, SF_FLOAT64, 8);                 \
    }
SF_CV_KERNELS(X_CONV)

/* ---- the fused kernels: sf_cuda_fused.h's checks, plans and kernels, with cuBLAS's
 * GEMM (alpha, beta) and the conv plan's steps as above --------------------------------- */

static int sf_emu_fu_zero(void *ctx, void *ptr, int64_t bytes)
{
    (void)ctx;
    memset(ptr, 0, (size_t)bytes);
    return SF_OK;
}

/* cublas<t>gemm: Z = alpha op(X) op(Y) + beta Z, column-major */
#define SF_EMU_FU_GEMM(T)                                                                            \
    static void sf_emu_fu_gemm_##T(const sf_fu_gemm *g, const T *x, const T *y, T *z, T alpha, T beta) \
    {                                                                                                \
        for (int64_t j = 0; j < g->n; j++)                                                           \
            for (int64_t i = 0; i < g->m; i++) {                                                     \
                T s = 0;                                                                             \
                for (int64_t q = 0; q < g->k; q++) {                                                 \
                    const T xv = g->opx == SF_GM_OP_N ? x[i + q * g->ldx] : x[q + i * g->ldx];       \
                    const T yv = g->opy == SF_GM_OP_N ? y[q + j * g->ldy] : y[j + q * g->ldy];       \
                    s += xv * yv;                                                                    \
                }                                                                                    \
                T *zv = z + i + j * g->ldz;                                                          \
                *zv = alpha * s + (beta != 0 ? beta * *zv : (T)0);                                   \
            }                                                                                        \
    }
SF_EMU_FU_GEMM(float)
SF_EMU_FU_GEMM(double)

static int sf_emu_fu_gemm(void *ctx, const sf_fu_gemm *g, const void *x, const void *y, void *z, const void *coef)
{
    if (((sf_emu_ctx *)ctx)->esize == 4) {
        const float *k = (const float *)coef;
        sf_emu_fu_gemm_float(g, (const float *)x, (const float *)y, (float *)z, k ? k[0] : 1, k ? k[1] : 0);
    } else {
        const double *k = (const double *)coef;
        sf_emu_fu_gemm_double(g, (const double *)x, (const double *)y, (double *)z, k ? k[0] : 1, k ? k[1] : 0);
    }
    return SF_OK;
}

static int sf_emu_fu_conv(void *ctx, const sf_cv_plan *p)
{
    static const sf_cv_ops ops = {sf_emu_alloc, sf_emu_release, sf_emu_cv_zero, sf_emu_cv_filter, sf_emu_cv_pad,
                                  sf_emu_cv_conv};
    return sf_cv_run(((sf_emu_ctx *)ctx)->c, p, &ops, ctx, ((sf_emu_ctx *)ctx)->esize);
}

static const sf_fu_ops sf_emu_fu_ops = {sf_emu_alloc, sf_emu_release, sf_emu_fu_zero, sf_emu_fu_gemm,
                                        sf_emu_fu_conv};

/* bias_activation_grad: linalg.cu's k_bag block by block (its threads as loops, the
 * shuffle tree as sf_bag_tree8 over the shared partials), then k_bag_finish */
#define X_FUSED(DT, T, S)                                                                            \
    int sf_emu_fused_matmul_##DT(sf_call *c)                                                         \
    {                                                                                                \
        sf_emu_ctx x = {c, sizeof(T)};                                                               \
        return sf_fu_fused_matmul_##DT(c, &sf_emu_fu_ops, &x);                                       \
    }                                                                                                \
    int sf_emu_gemm_apply_gradient_descent_##DT(sf_call *c)                                          \
    {                                                                                                \
        sf_emu_ctx x = {c, sizeof(T)};                                                               \
        return sf_fu_gemm_apply_##DT(c, &sf_emu_fu_ops, &x);                                         \
    }                                                                                                \
    int sf_emu_fused_conv2d_##DT(sf_call *c)                                                         \
    {                                                                                                \
        sf_emu_ctx x = {c, sizeof(T)};                                                               \
        return sf_fu_fused_conv2d_##DT(c, &sf_emu_fu_ops, &x);                                       \
    }                                                                                                \
    int sf_emu_bias_activation_grad_##DT(sf_call *c)                                                 \
    {                                                                                                \
        const char *name = "bias_activation_grad_" #DT;                                              \
        int64_t R, C;                                                                                \
        int st = sf_bag_check(c, SF_DTC_##DT, name, &R, &C);                                         \
        if (st || C == 0) return st;                                                                 \
        T *db = (T *)c->out[1].data;                                                                 \
        if (R == 0) {                                                                                \
            memset(db, 0, (size_t)C * sizeof(T));                                                    \
            return SF_OK;                                                                            \
        }                                                                                            \
        const T *g = (const T *)c->in[0].data, *f = (const T *)c->in[1].data;                        \
        T *bp = (T *)c->out[0].data;                                                                 \
        const int act = (int)c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION];                                  \
        const T alpha = (T)c->fattr[SF_FATTR_ALPHA];                                                 \
        const int64_t nchunks = (R + SF_BAG_ROWS - 1) / SF_BAG_ROWS;                                 \
        const int64_t ntiles = (C + SF_BAG_COLS - 1) / SF_BAG_COLS;                                  \
        double *part = (double *)malloc((size_t)(nchunks * C) * sizeof(double));                     \
        if (!part) {                                                                                 \
            snprintf(c->msg, SF_MSG_LEN, "out of memory");                                           \
            return SF_ERR_INTERNAL;                                                                  \
        }                                                                                            \
        for (int64_t bx = 0; bx < ntiles; bx++)                                                      \
            for (int64_t q = 0; q < nchunks; q++) {                                                  \
                double sm[SF_BAG_GROUPS][SF_BAG_COLS];                                               \
                const int64_t r0 = q * SF_BAG_ROWS, r1 = r0 + SF_BAG_ROWS < R ? r0 + SF_BAG_ROWS : R; \
                for (int grp = 0; grp < SF_BAG_GROUPS; grp++)                                        \
                    for (int lane = 0; lane < SF_BAG_COLS; lane++) {                                 \
                        const int64_t j = bx * SF_BAG_COLS + lane;                                   \
                        double acc = 0;                                                              \
                        if (j < C)                                                                   \
                            for (int64_t r = r0 + grp; r < r1; r += SF_BAG_GROUPS) {                 \
                                const int64_t e = r * C + j;                                         \
                                const T v = sf_fu_act_grad_##DT(g[e], f[e], act, alpha);             \
                                bp[e] = v;                                                           \
                                acc += (double)v;                                                    \
                            }                                                                        \
                        sm[grp][lane] = acc;                                                         \
                    }                                                                                \
                for (int col = 0; col < SF_BAG_COLS; col++)                                          \
                    if (bx * SF_BAG_COLS + col < C)                                                  \
                        part[q * C + bx * SF_BAG_COLS + col] = sf_bag_tree8(&sm[0][col], SF_BAG_COLS); \
            }                                                                                        \
        k_bag_finish_##DT(part, nchunks, C, db);                                                     \
        free(part);                                                                                  \
        return SF_OK;                                                                                \
    }
SF_FU_TYPES(X_FUSED)

/* ---- the table, under the CUDA kernels' names ------------------------------- */

#define E_U(OP, DT, T, EXPR) {"sf_cuda_" #OP "_" #DT, sf_emu_##OP##_##DT},
#define E_B(OP, DT, TI, ODT, TO, EXPR) {"sf_cuda_" #OP "_" #DT, sf_emu_##OP##_##DT},
#define E_FLOAT(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, E_U, E_U, E_B, E_B)
#define E_INT(DT, T, UT) SF_EW_INT_LISTS(DT, T, UT, E_U, E_B)
#define E_SMALL(DT, T, UT) SF_EW_SMALL_INT_LISTS(DT, T, UT, E_U, E_B)
#define E_UINT(DT, T, UT) SF_EW_UINT_LISTS(DT, T, UT, E_U, E_B)
#define E_CAST(SDT, ST, SK, DDT, DTT, DK) {"sf_cuda_cast_" #SDT "_" #DDT, sf_emu_cast_##SDT##_##DDT},
#define E_COPY(DT, T) {"sf_cuda_copy_" #DT, sf_emu_copy_##DT}, {"sf_cuda_select_" #DT, sf_emu_select_##DT},
#define E_ADDN(DT, T, UT) {"sf_cuda_addn_" #DT, sf_emu_addn_##DT},
#define E_ADDN_H(DT) {"sf_cuda_addn_" #DT, sf_emu_addn_##DT},
#define E_RED(OP, DT, T, ACC, INIT, FIN) {"sf_cuda_reduce_" #OP "_" #DT, sf_emu_reduce_##OP##_##DT},
#define E_NN(DT)                                                                       \
    {"sf_cuda_softmax_" #DT, sf_emu_softmax_##DT},                                     \
    {"sf_cuda_log_softmax_" #DT, sf_emu_log_softmax_##DT},                             \
    {"sf_cuda_softmax_xent_" #DT, sf_emu_softmax_xent_##DT},                           \
    {"sf_cuda_sparse_softmax_xent_" #DT "_int32", sf_emu_sparse_softmax_xent_##DT##_int32}, \
    {"sf_cuda_sparse_softmax_xent_" #DT "_int64", sf_emu_sparse_softmax_xent_##DT##_int64},
#define E_RANDOM(KIND, DT, T, EPB, BPU, PUBLIC) {"sf_cuda_" #PUBLIC, sf_cuda_##PUBLIC},
#define E_CONV(NAME, KIND, DW) \
    {"sf_cuda_" #NAME "_float32", sf_emu_##NAME##_float32}, {"sf_cuda_" #NAME "_float64", sf_emu_##NAME##_float64},
#define E_MATMUL(DT) {"sf_cuda_matmul_" #DT, sf_emu_matmul_##DT},
#define E_FUSED(DT, T, S)                                                                            \
    {"sf_cuda_fused_matmul_" #DT, sf_emu_fused_matmul_##DT},                                          \
        {"sf_cuda_gemm_apply_gradient_descent_" #DT, sf_emu_gemm_apply_gradient_descent_##DT},        \
        {"sf_cuda_fused_conv2d_" #DT, sf_emu_fused_conv2d_##DT},                                      \
        {"sf_cuda_bias_activation_grad_" #DT, sf_emu_bias_activation_grad_##DT},

static const sf_kernel_entry sf_emu_table[] = {
    SF_CU_FLOAT_TYPES(E_FLOAT) SF_CU_HALF_TYPES(E_FLOAT) SF_CU_INT_TYPES(E_INT) SF_CU_SMALL_INT_TYPES(E_SMALL) SF_CU_UINT_TYPES(E_UINT)
    SF_EW_BOOL_LISTS(E_U, E_B) SF_CAST_PAIRS(E_CAST) SF_CU_ALL(E_COPY) SF_ADDN_TYPES(E_ADDN) SF_ADDN_HALF_TYPES(E_ADDN_H)
    SF_RED_KERNELS(E_RED) E_NN(float32) E_NN(float64) SF_TR_OPS(SF_TR_ENTRY_F32) SF_TR_OPS(SF_TR_ENTRY_F64)
    SF_EMU_RANDOM(E_RANDOM) SF_CU_SIZES(SF_GATHER_ENTRY) SF_CV_KERNELS(E_CONV) SF_ARG_KERNELS(SF_ARG_ENTRY) SF_DEBUG_TYPES(SF_DEBUG_ENTRY)
    SF_POOL_TYPES(SF_POOL_ENTRY) SF_TOPK_TYPES(SF_TOPK_ENTRY) SF_IN_TOPK_ENTRIES
    SF_SEGMENT_TYPES(SF_SEGMENT_ENTRY)
    E_MATMUL(float32) E_MATMUL(float64)
    E_MATMUL(int32) E_MATMUL(int64) SF_FU_TYPES(E_FUSED) SF_SAMPLER_ENTRIES};

const sf_kernel_entry *sf_emu_kernel_table(int64_t *count)
{
    *count = (int64_t)(sizeof sf_emu_table / sizeof sf_emu_table[0]);
    return sf_emu_table;
}
