/* The logic of the CUDA kernels as plain C: per-element bodies, the indexing of
 * strided and broadcast views, the reductions' tree order, Philox, the optimizer
 * updates. The .cu files call these from their __global__ functions; the test
 * suite compiles the same header for the CPU (tests/cuda/bodies_driver.c runs
 * every body over the elements as the GPU's threads would, and emulates the
 * block reductions lane by lane), so the kernels' logic is checked against
 * NumPy and the C kernels on machines without a GPU.
 *
 * SF_HD is __host__ __device__ under nvcc and empty in C. Functions without it
 * are host code: they check a call and plan it (dims coalesced, broadcast
 * strides), for the .cu launchers and the CPU driver alike.
 */
#ifndef SF_CUDA_BODIES_H
#define SF_CUDA_BODIES_H

#include "sf_hd.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sf_half.h"
#include "sf_philox.h"

/* C linkage for the ABI's declarations under nvcc (the .cu files define them) */
#ifdef __cplusplus
extern "C" {
#endif
#include "staticflow.h"
#ifdef __cplusplus
}
#endif
#include "sf_scalar.h"

/* ===========================================================================
 * Views: an output and up to three inputs broadcast to its shape, coalesced
 * ======================================================================== */

#define SF_EW_MAXT 4

/* Passed by value to the kernels. t = 0 is the output, 1.. the inputs; st[t][d]
 * the element stride of view t in dim d (0 where it broadcasts). */
typedef struct sf_ew_plan {
    int32_t nt;
    int32_t nd;
    int64_t shape[SF_MAX_DIMS];
    int64_t st[SF_EW_MAXT][SF_MAX_DIMS];
    void *data[SF_EW_MAXT];
} sf_ew_plan;

static inline int sf_bd_fail(char *msg, const char *fmt, const char *name, int i, const sf_tensor *a,
                             const sf_tensor *b)
{
    char s1[96], s2[96];
    size_t k;
    int d;
    const sf_tensor *t[2] = {a, b};
    char *s[2] = {s1, s2};
    for (int j = 0; j < 2; j++) {
        k = (size_t)snprintf(s[j], 96, "[");
        for (d = 0; d < t[j]->ndim && d < SF_MAX_DIMS && k < 90; d++)
            k += (size_t)snprintf(s[j] + k, 96 - k, d ? ", %lld" : "%lld", (long long)t[j]->shape[d]);
        snprintf(s[j] + k, 96 - k, "]");
    }
    snprintf(msg, SF_MSG_LEN, fmt, name, i, s1, s2);
    return SF_ERR_INVALID_ARGUMENT;
}

/* Plans out = f(in[0..nin)): inputs broadcast to out's shape (a missing leading
 * dim or a dim of 1 gets stride 0), size-1 dims dropped, neighbours that every
 * view steps through as one merged. *numel gets the element count. Returns
 * SF_OK or an error with a message in msg. Host code. */
static inline int sf_ew_plan_make(const char *name, const sf_tensor *out, const sf_tensor *in, int nin,
                                  sf_ew_plan *p, int64_t *numel, char *msg)
{
    const int nd = out->ndim, nt = nin + 1;
    int64_t shape[SF_MAX_DIMS], st[SF_EW_MAXT][SF_MAX_DIMS], total = 1;
    if (nd < 0 || nd > SF_MAX_DIMS || nin + 1 > SF_EW_MAXT) {
        snprintf(msg, SF_MSG_LEN, "%s: output has %d dims (at most %d)", name, nd, SF_MAX_DIMS);
        return SF_ERR_INVALID_ARGUMENT;
    }
    for (int k = 0; k < nd; k++) {
        if (out->shape[k] < 0) {
            snprintf(msg, SF_MSG_LEN, "%s: output has a negative dim", name);
            return SF_ERR_INVALID_ARGUMENT;
        }
        shape[k] = out->shape[k];
        st[0][k] = out->strides[k];
        total *= shape[k];
    }
    for (int i = 0; i < nin; i++) {
        const sf_tensor *t = &in[i];
        if (t->ndim < 0 || t->ndim > nd)
            return sf_bd_fail(msg, "%s: input %d of shape %s does not broadcast to %s", name, i, t, out);
        const int lead = nd - t->ndim;
        for (int k = 0; k < nd; k++) {
            if (k < lead)
                st[i + 1][k] = 0;
            else if (t->shape[k - lead] == shape[k])
                st[i + 1][k] = t->strides[k - lead];
            else if (t->shape[k - lead] == 1)
                st[i + 1][k] = 0;
            else
                return sf_bd_fail(msg, "%s: input %d of shape %s does not broadcast to %s", name, i, t, out);
        }
    }
    *numel = total;
    int m = 0;
    for (int k = 0; k < nd; k++) {
        if (shape[k] == 1) continue;
        if (m > 0) {
            int merge = 1;
            for (int t = 0; t < nt; t++)
                if (p->st[t][m - 1] != st[t][k] * shape[k]) merge = 0;
            if (merge) {
                p->shape[m - 1] *= shape[k];
                for (int t = 0; t < nt; t++) p->st[t][m - 1] = st[t][k];
                continue;
            }
        }
        p->shape[m] = shape[k];
        for (int t = 0; t < nt; t++) p->st[t][m] = st[t][k];
        m++;
    }
    if (m == 0) { /* one element */
        p->shape[0] = 1;
        for (int t = 0; t < nt; t++) p->st[t][0] = 0;
        m = 1;
    }
    for (int t = nt; t < SF_EW_MAXT; t++)
        for (int k = 0; k < m; k++) p->st[t][k] = 0;
    p->nt = nt;
    p->nd = m;
    p->data[0] = out->data;
    for (int t = 1; t < SF_EW_MAXT; t++) p->data[t] = t < nt ? in[t - 1].data : NULL;
    return SF_OK;
}

/* Element offsets of C-order element i of the plan's shape in each view. One
 * thread per i, adjacent threads adjacent i: a view with inner stride 1 is read
 * and written coalesced. */
SF_HD static inline void sf_ew_offsets(const sf_ew_plan *p, int64_t i, int64_t off[SF_EW_MAXT])
{
    for (int t = 0; t < SF_EW_MAXT; t++) off[t] = 0;
    for (int d = p->nd - 1; d >= 0; d--) {
        int64_t k = i;
        if (d) {
            k = i % p->shape[d];
            i /= p->shape[d];
        }
        for (int t = 0; t < SF_EW_MAXT; t++) off[t] += k * p->st[t][d];
    }
}

/* Element offset of the first element of row `row` of a view with dims
 * shape[0..nd-1) (the last dim is the row), strides st. */
SF_HD static inline int64_t sf_row_off(const int64_t *shape, const int64_t *st, int nd, int64_t row)
{
    int64_t off = 0;
    for (int d = nd - 2; d >= 0; d--) {
        off += (row % shape[d]) * st[d];
        row /= shape[d];
    }
    return off;
}

/* ===========================================================================
 * Elementwise bodies, from the scalar table's X-macro lists (sf_scalar_table.h)
 * ======================================================================== */

/* sf_ew_elem_<NAME>(plan, i, alpha): element i of out = EXPR(x[, y]); returns the
 * expression's error (EW_*), 0 on success. PRO reads the attribute. */
#define SF_EW_DEF_UNARY_(NAME, TI, TO, EXPR, PRO)                                       \
    SF_HD static inline int sf_ew_elem_##NAME(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                    \
        int64_t off[SF_EW_MAXT];                                                         \
        sf_ew_offsets(p, i, off);                                                        \
        const TI x = ((const TI *)p->data[1])[off[1]];                                   \
        int bad = 0;                                                                     \
        PRO;                                                                             \
        (void)alpha_;                                                                    \
        ((TO *)p->data[0])[off[0]] = (TO)(EXPR);                                         \
        return bad;                                                                      \
    }
#define SF_EW_DEF_BINARY_(NAME, TI, TO, EXPR, PRO)                                      \
    SF_HD static inline int sf_ew_elem_##NAME(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                    \
        int64_t off[SF_EW_MAXT];                                                         \
        sf_ew_offsets(p, i, off);                                                        \
        const TI x = ((const TI *)p->data[1])[off[1]];                                   \
        const TI y = ((const TI *)p->data[2])[off[2]];                                   \
        int bad = 0;                                                                     \
        PRO;                                                                             \
        (void)alpha_;                                                                    \
        ((TO *)p->data[0])[off[0]] = (TO)(EXPR);                                         \
        return bad;                                                                      \
    }

#define SF_EW_NOPRO (void)0
#define SF_EW_ALPHA(T) const T alpha = (T)alpha_

/* the list entries: X(op, DT, T, EXPR) and X(op, DT, TI, ODT, TO, EXPR) */
#define SF_EW_U(OP, DT, T, EXPR) SF_EW_DEF_UNARY_(OP##_##DT, T, T, EXPR, SF_EW_NOPRO)
#define SF_EW_UA(OP, DT, T, EXPR) SF_EW_DEF_UNARY_(OP##_##DT, T, T, EXPR, SF_EW_ALPHA(T))
#define SF_EW_B(OP, DT, TI, ODT, TO, EXPR) SF_EW_DEF_BINARY_(OP##_##DT, TI, TO, EXPR, SF_EW_NOPRO)
#define SF_EW_BA(OP, DT, TI, ODT, TO, EXPR) SF_EW_DEF_BINARY_(OP##_##DT, TI, TO, EXPR, SF_EW_ALPHA(TI))

/* 16-bit floats (sf_half.h): x (and y) load as float32, EXPR runs in float32 and
 * its value is rounded to the output dtype ODT (bool stores as is), as
 * elementwise.c's half kernels do; T is float, the compute type */
#define SF_EW_DEF_UNARY_H_(NAME, DT, EXPR, PRO)                                         \
    SF_HD static inline int sf_ew_elem_##NAME(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                    \
        int64_t off[SF_EW_MAXT];                                                         \
        sf_ew_offsets(p, i, off);                                                        \
        const float x = SF_HLD_##DT(((const uint16_t *)p->data[1])[off[1]]);             \
        int bad = 0;                                                                     \
        PRO;                                                                             \
        (void)alpha_;                                                                    \
        ((uint16_t *)p->data[0])[off[0]] = SF_HST_##DT(EXPR);                            \
        return bad;                                                                      \
    }
#define SF_EW_DEF_BINARY_H_(NAME, DT, ODT, EXPR, PRO)                                   \
    SF_HD static inline int sf_ew_elem_##NAME(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                    \
        int64_t off[SF_EW_MAXT];                                                         \
        sf_ew_offsets(p, i, off);                                                        \
        const float x = SF_HLD_##DT(((const uint16_t *)p->data[1])[off[1]]);             \
        const float y = SF_HLD_##DT(((const uint16_t *)p->data[2])[off[2]]);             \
        int bad = 0;                                                                     \
        PRO;                                                                             \
        (void)alpha_;                                                                    \
        ((SF_HOUTT_##ODT *)p->data[0])[off[0]] = SF_HOUT_##ODT(EXPR);                    \
        return bad;                                                                      \
    }
#define SF_EW_UH(OP, DT, T, EXPR) SF_EW_DEF_UNARY_H_(OP##_##DT, DT, EXPR, SF_EW_NOPRO)
#define SF_EW_UAH(OP, DT, T, EXPR) SF_EW_DEF_UNARY_H_(OP##_##DT, DT, EXPR, SF_EW_ALPHA(float))
#define SF_EW_BH(OP, DT, TI, ODT, TO, EXPR) SF_EW_DEF_BINARY_H_(OP##_##DT, DT, ODT, EXPR, SF_EW_NOPRO)
#define SF_EW_BAH(OP, DT, TI, ODT, TO, EXPR) SF_EW_DEF_BINARY_H_(OP##_##DT, DT, ODT, EXPR, SF_EW_ALPHA(float))

/* The dtypes the CUDA elementwise kernels cover: M(DT, T, S-or-UT), by class as
 * in staticflow/ops/scalar_table.py (16-bit floats: T float, the compute type,
 * stored as uint16_t; their op lists are the float ones, SF_EW_FLOAT_LISTS) */
#define SF_CU_FLOAT_TYPES(M) M(float32, float, f) M(float64, double, )
#define SF_CU_HALF_TYPES(M) M(float16, float, f) M(bfloat16, float, f)
#define SF_CU_INT_TYPES(M) M(int32, int32_t, uint32_t) M(int64, int64_t, uint64_t)
#define SF_CU_SMALL_INT_TYPES(M) M(int8, int8_t, uint32_t) M(int16, int16_t, uint32_t)
#define SF_CU_UINT_TYPES(M) \
    M(uint8, uint8_t, uint32_t) M(uint16, uint16_t, uint32_t) M(uint32, uint32_t, uint32_t) M(uint64, uint64_t, uint64_t)
/* every numeric dtype: M(DT, T) */
#define SF_CU_NUMERIC(M)                                                                               \
    M(float32, float) M(float64, double) M(int32, int32_t) M(int64, int64_t) M(int8, int8_t)          \
    M(int16, int16_t) M(uint8, uint8_t) M(uint16, uint16_t) M(uint32, uint32_t) M(uint64, uint64_t)
/* every dtype a copy or select moves: M(DT, storage type) */
#define SF_CU_ALL(M) SF_CU_NUMERIC(M) M(bool, uint8_t) M(float16, uint16_t) M(bfloat16, uint16_t)

/* dtype codes by name */
#define SF_DTC_float32 SF_FLOAT32
#define SF_DTC_float64 SF_FLOAT64
#define SF_DTC_int32 SF_INT32
#define SF_DTC_int64 SF_INT64
#define SF_DTC_int8 SF_INT8
#define SF_DTC_int16 SF_INT16
#define SF_DTC_uint8 SF_UINT8
#define SF_DTC_uint16 SF_UINT16
#define SF_DTC_uint32 SF_UINT32
#define SF_DTC_uint64 SF_UINT64
#define SF_DTC_bool SF_BOOL
#define SF_DTC_float16 SF_FLOAT16
#define SF_DTC_bfloat16 SF_BFLOAT16

/* Every elementwise op of the table for the covered dtypes, as X_U(op, DT, T,
 * EXPR) / X_UA / X_B(op, DT, TI, ODT, TO, EXPR) / X_BA. */
#define SF_EW_FLOAT_LISTS(DT, T, S, XU, XUA, XB, XBA)                                   \
    UNARY_FLOAT_OPS(XU, DT, T, S) UNARY_ATTR_FLOAT_OPS(XUA, DT, T, S)                   \
    BINARY_FLOAT_OPS(XB, DT, T, S) COMPARE_OPS(XB, DT, T)                               \
    BINARY_GRAD_FLOAT_OPS(XB, DT, T, S) BINARY_ATTR_FLOAT_OPS(XBA, DT, T, S)
#define SF_EW_INT_LISTS(DT, T, UT, XU, XB)                                              \
    UNARY_INT_OPS(XU, DT, T, UT) BINARY_INT_OPS(XB, DT, T, UT) COMPARE_OPS(XB, DT, T)
#define SF_EW_SMALL_INT_LISTS(DT, T, UT, XU, XB)                                        \
    UNARY_INT_OPS(XU, DT, T, UT) BINARY_SMALL_INT_OPS(XB, DT, T, UT) COMPARE_OPS(XB, DT, T)
#define SF_EW_UINT_LISTS(DT, T, UT, XU, XB)                                             \
    UNARY_UINT_OPS(XU, DT, T, UT) BINARY_UINT_OPS(XB, DT, T, UT) COMPARE_OPS(XB, DT, T)
#define SF_EW_BOOL_LISTS(XU, XB) UNARY_BOOL_OPS(XU) BINARY_BOOL_OPS(XB)

/* ---- cast: every pair of the covered dtypes; K the kind (KF float, KI integer,
 * KB bool, KH 16-bit float), the conversions sf_scalar.h's SF_CVT_<SK><DK>, as
 * elementwise.c's casts ------------------------------------------------------ */
/* X(SDT, ST, SK, DDT, DTT, DK) */
#define SF_CAST_DSTS(X, SDT, ST, SK)                                                     \
    X(SDT, ST, SK, float32, float, KF) X(SDT, ST, SK, float64, double, KF)               \
    X(SDT, ST, SK, int32, int32_t, KI) X(SDT, ST, SK, int64, int64_t, KI)                \
    X(SDT, ST, SK, bool, uint8_t, KB) X(SDT, ST, SK, uint8, uint8_t, KI)                 \
    X(SDT, ST, SK, int8, int8_t, KI) X(SDT, ST, SK, int16, int16_t, KI)                  \
    X(SDT, ST, SK, uint16, uint16_t, KI) X(SDT, ST, SK, uint32, uint32_t, KI)            \
    X(SDT, ST, SK, uint64, uint64_t, KI) X(SDT, ST, SK, float16, uint16_t, KH)           \
    X(SDT, ST, SK, bfloat16, uint16_t, KH)
#define SF_CAST_SRCS(M, X)                                                               \
    M(X, float32, float, KF) M(X, float64, double, KF) M(X, int32, int32_t, KI)          \
    M(X, int64, int64_t, KI) M(X, bool, uint8_t, KB) M(X, uint8, uint8_t, KI)            \
    M(X, int8, int8_t, KI) M(X, int16, int16_t, KI) M(X, uint16, uint16_t, KI)           \
    M(X, uint32, uint32_t, KI) M(X, uint64, uint64_t, KI) M(X, float16, uint16_t, KH)    \
    M(X, bfloat16, uint16_t, KH)
#define SF_CAST_SRC_(X, SDT, ST, SK) SF_CAST_DSTS(X, SDT, ST, SK)
/* X(SDT, ST, SK, DDT, DTT, DK) over every pair */
#define SF_CAST_PAIRS(X) SF_CAST_SRCS(SF_CAST_SRC_, X)

#define SF_EW_CAST(SDT, ST, SK, DDT, DTT, DK) \
    SF_EW_DEF_UNARY_(cast_##SDT##_##DDT, ST, DTT, SF_CVT_##SK##DK(SDT, DDT, DTT, x), SF_EW_NOPRO)

/* ---- copy (array ops: transpose, slice, concat pieces, fill): out = x ---- */
#define SF_EW_COPY(DT, T) SF_EW_DEF_UNARY_(copy_##DT, T, T, x, SF_EW_NOPRO)

/* ---- transposing copies: a 2-D plan (after coalescing) whose output is
 * contiguous along dim 1 and whose input is contiguous along dim 0 moves through
 * tiles of SF_TILE x SF_TILE elements: a block of SF_TILE x SF_TILE_ROWS threads
 * reads a tile along the input's contiguous dim into shared memory (one padding
 * column: no bank conflicts) and writes it along the output's, so both sides are
 * coalesced. Thread (tx, ty) loads element (row tr * 32 + tx, column tc * 32 + ty
 * + k) into tile[ty + k][tx], and stores element (row tr * 32 + ty + k, column
 * tc * 32 + tx) from tile[tx][ty + k], k = 0, 8, 16, 24. ----------------------- */
#define SF_TILE 32
#define SF_TILE_ROWS 8

static inline int sf_copy_is_transpose(const sf_ew_plan *p)
{
    return p->nd == 2 && p->st[0][1] == 1 && p->st[1][0] == 1 && p->st[1][1] != 1 && p->st[1][1] != 0;
}

#define SF_TILE_BODIES(ES, E)                                                                  \
    SF_HD static inline void sf_tile_load_##ES(const sf_ew_plan *p, int64_t tr, int64_t tc, int tx, int ty, \
                                               E tile[SF_TILE][SF_TILE + 1])                    \
    {                                                                                          \
        for (int k = 0; k < SF_TILE; k += SF_TILE_ROWS) {                                      \
            const int64_t r = tr * SF_TILE + tx, c = tc * SF_TILE + ty + k;                    \
            if (r < p->shape[0] && c < p->shape[1])                                            \
                tile[ty + k][tx] = ((const E *)p->data[1])[r * p->st[1][0] + c * p->st[1][1]];  \
        }                                                                                      \
    }                                                                                          \
    SF_HD static inline void sf_tile_store_##ES(const sf_ew_plan *p, int64_t tr, int64_t tc, int tx, int ty, \
                                                E tile[SF_TILE][SF_TILE + 1])                   \
    {                                                                                          \
        for (int k = 0; k < SF_TILE; k += SF_TILE_ROWS) {                                      \
            const int64_t r = tr * SF_TILE + ty + k, c = tc * SF_TILE + tx;                    \
            if (r < p->shape[0] && c < p->shape[1])                                            \
                ((E *)p->data[0])[r * p->st[0][0] + c * p->st[0][1]] = tile[tx][ty + k];      \
        }                                                                                      \
    }
SF_TILE_BODIES(1, uint8_t)
SF_TILE_BODIES(2, uint16_t)
SF_TILE_BODIES(4, uint32_t)
SF_TILE_BODIES(8, uint64_t)

/* ---- select: out = cond ? x : y; cond bool is input 1 --------------------- */
#define SF_EW_SELECT(DT, T)                                                                 \
    SF_HD static inline int sf_ew_elem_select_##DT(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                       \
        int64_t off[SF_EW_MAXT];                                                            \
        (void)alpha_;                                                                       \
        sf_ew_offsets(p, i, off);                                                           \
        const uint8_t c = ((const uint8_t *)p->data[1])[off[1]];                            \
        ((T *)p->data[0])[off[0]] =                                                         \
            c ? ((const T *)p->data[2])[off[2]] : ((const T *)p->data[3])[off[3]];          \
        return 0;                                                                           \
    }

/* ---- addn: out = in[1] + in[2] (+ in[3]) in that order, wrapping through UT;
 * n inputs take passes of up to three, the later ones reading out as their
 * first operand: ((a + b) + c) + d ..., the C kernel's order ----------------- */
#define SF_EW_ADDN(DT, T, UT)                                                                \
    SF_HD static inline int sf_ew_elem_addn_##DT(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                        \
        int64_t off[SF_EW_MAXT];                                                             \
        (void)alpha_;                                                                        \
        sf_ew_offsets(p, i, off);                                                            \
        UT s = (UT)((const T *)p->data[1])[off[1]];                                          \
        for (int t = 2; t < p->nt; t++) s = (UT)(s + (UT)((const T *)p->data[t])[off[t]]);   \
        ((T *)p->data[0])[off[0]] = (T)s;                                                    \
        return 0;                                                                            \
    }
/* 16-bit floats: each addition rounds to the type, in input order (elementwise.c's
 * rule, TensorFlow's AddN on Eigen::half); a later pass's first operand, out, holds
 * the rounded sum so far, so passes change nothing */
#define SF_EW_ADDN_H(DT)                                                                     \
    SF_HD static inline int sf_ew_elem_addn_##DT(const sf_ew_plan *p, int64_t i, double alpha_) \
    {                                                                                        \
        int64_t off[SF_EW_MAXT];                                                             \
        (void)alpha_;                                                                        \
        sf_ew_offsets(p, i, off);                                                            \
        float s = SF_HLD_##DT(((const uint16_t *)p->data[1])[off[1]]);                       \
        for (int t = 2; t < p->nt; t++)                                                      \
            s = SF_HLD_##DT(SF_HST_##DT(s + SF_HLD_##DT(((const uint16_t *)p->data[t])[off[t]]))); \
        ((uint16_t *)p->data[0])[off[0]] = SF_HST_##DT(s);                                   \
        return 0;                                                                            \
    }
/* X(DT) */
#define SF_ADDN_HALF_TYPES(X) X(float16) X(bfloat16)
/* X(DT, T, UT) */
#define SF_ADDN_TYPES(X)                                                                     \
    X(float32, float, float) X(float64, double, double) X(int32, int32_t, uint32_t)          \
    X(int64, int64_t, uint64_t) X(int8, int8_t, uint32_t) X(int16, int16_t, uint32_t)        \
    X(uint8, uint8_t, uint32_t) X(uint16, uint16_t, uint32_t) X(uint32, uint32_t, uint32_t)  \
    X(uint64, uint64_t, uint64_t)

/* ===========================================================================
 * Reductions: the plan and the tree order
 * ======================================================================== */

/* Threads of a block that reduces one output (row mode), and a warp's width. */
#define SF_RED_THREADS 256
#define SF_WARP 32

/* The input's kept dims (kshape/kst, C order of out[0]) and reduced dims
 * (rshape/rst, coalesced, sorted by decreasing stride so the last is the
 * innermost). */
typedef struct sf_red_plan {
    int32_t nk, nr;
    int32_t column; /* 1: one thread per output (see sf_red_plan_make) */
    int32_t pad_;
    int64_t nout, nred;
    int64_t kshape[SF_MAX_DIMS], kst[SF_MAX_DIMS];
    int64_t rshape[SF_MAX_DIMS], rst[SF_MAX_DIMS];
    const void *in;
    void *out;
} sf_red_plan;

/* Plans a reduction of in's last `nred_dims` dims into out (contiguous, the
 * kept dims). Row mode (one block per output, its threads striding through the
 * reduced elements: coalesced when the innermost reduced dim has stride 1)
 * unless the reduced elements are few or strided while adjacent outputs are
 * adjacent in memory: then column mode, one thread per output, whose warps
 * read adjacent outputs' elements together. Host code. */
static inline int sf_red_plan_make(const char *name, const sf_tensor *in, const sf_tensor *out, int64_t nred_dims,
                                   sf_red_plan *p, char *msg)
{
    if (in->ndim < 0 || in->ndim > SF_MAX_DIMS || nred_dims < 0 || nred_dims > in->ndim) {
        snprintf(msg, SF_MSG_LEN, "%s: cannot reduce %lld of %d dims", name, (long long)nred_dims, (int)in->ndim);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int nk = in->ndim - (int)nred_dims;
    int64_t nout = 1, nred = 1, on = 1;
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] < 0) {
            snprintf(msg, SF_MSG_LEN, "%s: negative dim", name);
            return SF_ERR_INVALID_ARGUMENT;
        }
        if (d < nk) nout *= in->shape[d];
        else nred *= in->shape[d];
    }
    for (int d = 0; d < out->ndim; d++) on *= out->shape[d];
    if (on != nout) {
        snprintf(msg, SF_MSG_LEN, "%s: output has %lld elements, expected %lld", name, (long long)on,
                 (long long)nout);
        return SF_ERR_INVALID_ARGUMENT;
    }
    /* kept dims: drop 1s, merge neighbours */
    int m = 0;
    for (int d = 0; d < nk; d++) {
        if (in->shape[d] == 1) continue;
        if (m > 0 && p->kst[m - 1] == in->strides[d] * in->shape[d]) {
            p->kshape[m - 1] *= in->shape[d];
            p->kst[m - 1] = in->strides[d];
            continue;
        }
        p->kshape[m] = in->shape[d];
        p->kst[m] = in->strides[d];
        m++;
    }
    if (m == 0) {
        p->kshape[0] = 1;
        p->kst[0] = 0;
        m = 1;
    }
    p->nk = m;
    /* reduced dims: drop 1s, sort by |stride| decreasing (order does not matter
     * to the result's definition), merge */
    int64_t rs[SF_MAX_DIMS], rt[SF_MAX_DIMS];
    int r = 0;
    for (int d = nk; d < in->ndim; d++) {
        if (in->shape[d] == 1) continue;
        rs[r] = in->shape[d];
        rt[r] = in->strides[d];
        r++;
    }
    for (int a = 1; a < r; a++)
        for (int b = a; b > 0; b--) {
            const int64_t s0 = rt[b - 1] < 0 ? -rt[b - 1] : rt[b - 1], s1 = rt[b] < 0 ? -rt[b] : rt[b];
            if (s0 >= s1) break;
            int64_t t = rs[b]; rs[b] = rs[b - 1]; rs[b - 1] = t;
            t = rt[b]; rt[b] = rt[b - 1]; rt[b - 1] = t;
        }
    m = 0;
    for (int d = 0; d < r; d++) {
        if (m > 0 && p->rst[m - 1] == rt[d] * rs[d]) {
            p->rshape[m - 1] *= rs[d];
            p->rst[m - 1] = rt[d];
            continue;
        }
        p->rshape[m] = rs[d];
        p->rst[m] = rt[d];
        m++;
    }
    if (m == 0) {
        p->rshape[0] = nred;
        p->rst[0] = 0;
        m = 1;
    }
    p->nr = m;
    p->nout = nout;
    p->nred = nred;
    const int64_t kin = p->kst[p->nk - 1], rin = p->rst[p->nr - 1];
    p->column = nred < SF_WARP || (kin == 1 && rin != 1 && nout >= SF_WARP);
    p->pad_ = 0;
    p->in = in->data;
    p->out = out->data;
    return SF_OK;
}

/* Offset of output o's first reduced element, and of reduced element j from it. */
SF_HD static inline int64_t sf_red_out_off(const sf_red_plan *p, int64_t o)
{
    int64_t off = 0;
    for (int d = p->nk - 1; d >= 0; d--) {
        off += (o % p->kshape[d]) * p->kst[d];
        o /= p->kshape[d];
    }
    return off;
}

SF_HD static inline int64_t sf_red_elem_off(const sf_red_plan *p, int64_t j)
{
    int64_t off = 0;
    for (int d = p->nr - 1; d >= 0; d--) {
        int64_t k = j;
        if (d) {
            k = j % p->rshape[d];
            j /= p->rshape[d];
        }
        off += k * p->rst[d];
    }
    return off;
}

/* a = a (op) x, and the tree's combination of two partials, per op; NaN wins
 * max/min (x != x), as the C kernels. */
#define SF_RSTEP_sum(a, x, ACC) ((a) += (ACC)(x))
#define SF_RSTEP_mean(a, x, ACC) ((a) += (ACC)(x))
#define SF_RSTEP_prod(a, x, ACC) ((a) *= (ACC)(x))
#define SF_RSTEP_max(a, x, ACC) ((a) = (((ACC)(x) > (a)) | ((x) != (x))) ? (ACC)(x) : (a))
#define SF_RSTEP_min(a, x, ACC) ((a) = (((ACC)(x) < (a)) | ((x) != (x))) ? (ACC)(x) : (a))
#define SF_RSTEP_all(a, x, ACC) ((a) &= (ACC)((x) != 0))
#define SF_RSTEP_any(a, x, ACC) ((a) |= (ACC)((x) != 0))
#define SF_RCOMB_sum(a, b) ((a) + (b))
#define SF_RCOMB_mean(a, b) ((a) + (b))
#define SF_RCOMB_prod(a, b) ((a) * (b))
#define SF_RCOMB_max(a, b) ((((b) > (a)) | ((b) != (b))) ? (b) : (a))
#define SF_RCOMB_min(a, b) ((((b) < (a)) | ((b) != (b))) ? (b) : (a))
#define SF_RCOMB_all(a, b) ((a) & (b))
#define SF_RCOMB_any(a, b) ((a) | (b))

/* The reductions the CUDA kernels cover: X(OP, DT, T, ACC, INIT, FINAL) with
 * FINAL(a, q) the output value from the accumulator and the count; accumulators
 * as reduce.c's (float32 sums, means and products in double; integer sums and
 * products wrap through the unsigned type; narrow ints in 64 bits; max/min of
 * narrow ints in 32 bits, which a warp shuffle moves). */
#define SF_FIN_ID(T, a, q) ((T)(a))
#define SF_FIN_MEANF(T, a, q) ((T)((a) / (double)(q)))
#define SF_FIN_MEANI(T, a, q) ((q) ? (T)((int64_t)(a) / (int64_t)(q)) : (T)0)
#define SF_FIN_MEANU(T, a, q) ((q) ? (T)((uint64_t)(a) / (uint64_t)(q)) : (T)0)

#define SF_RED_INT_OF(X, DT, T, WIDE, NARROW, LO, HI, MEANFIN) \
    X(sum, DT, T, WIDE, 0, SF_FIN_ID)                          \
    X(mean, DT, T, WIDE, 0, MEANFIN)                           \
    X(prod, DT, T, WIDE, 1, SF_FIN_ID)                         \
    X(max, DT, T, NARROW, LO, SF_FIN_ID)                       \
    X(min, DT, T, NARROW, HI, SF_FIN_ID)
#define SF_RED_KERNELS(X)                                                                 \
    X(sum, float32, float, double, 0, SF_FIN_ID)                                          \
    X(sum, float64, double, double, 0, SF_FIN_ID)                                         \
    X(mean, float32, float, double, 0, SF_FIN_MEANF)                                      \
    X(mean, float64, double, double, 0, SF_FIN_MEANF)                                     \
    X(prod, float32, float, double, 1, SF_FIN_ID)                                         \
    X(prod, float64, double, double, 1, SF_FIN_ID)                                        \
    X(max, float32, float, float, -INFINITY, SF_FIN_ID)                                   \
    X(max, float64, double, double, -INFINITY, SF_FIN_ID)                                 \
    X(min, float32, float, float, INFINITY, SF_FIN_ID)                                    \
    X(min, float64, double, double, INFINITY, SF_FIN_ID)                                  \
    X(sum, int32, int32_t, uint32_t, 0, SF_FIN_ID)                                        \
    X(mean, int32, int32_t, int64_t, 0, SF_FIN_MEANI)                                     \
    X(prod, int32, int32_t, uint32_t, 1, SF_FIN_ID)                                       \
    X(max, int32, int32_t, int32_t, INT32_MIN, SF_FIN_ID)                                 \
    X(min, int32, int32_t, int32_t, INT32_MAX, SF_FIN_ID)                                 \
    X(sum, int64, int64_t, uint64_t, 0, SF_FIN_ID)                                        \
    X(mean, int64, int64_t, uint64_t, 0, SF_FIN_MEANI)                                    \
    X(prod, int64, int64_t, uint64_t, 1, SF_FIN_ID)                                       \
    X(max, int64, int64_t, int64_t, INT64_MIN, SF_FIN_ID)                                 \
    X(min, int64, int64_t, int64_t, INT64_MAX, SF_FIN_ID)                                 \
    SF_RED_INT_OF(X, int8, int8_t, uint64_t, int32_t, INT8_MIN, INT8_MAX, SF_FIN_MEANI)   \
    SF_RED_INT_OF(X, int16, int16_t, uint64_t, int32_t, INT16_MIN, INT16_MAX, SF_FIN_MEANI) \
    SF_RED_INT_OF(X, uint8, uint8_t, uint64_t, uint32_t, 0, UINT8_MAX, SF_FIN_MEANU)      \
    SF_RED_INT_OF(X, uint16, uint16_t, uint64_t, uint32_t, 0, UINT16_MAX, SF_FIN_MEANU)   \
    SF_RED_INT_OF(X, uint32, uint32_t, uint64_t, uint32_t, 0, UINT32_MAX, SF_FIN_MEANU)   \
    SF_RED_INT_OF(X, uint64, uint64_t, uint64_t, uint64_t, 0, UINT64_MAX, SF_FIN_MEANU)   \
    X(all, bool, uint8_t, uint32_t, 1, SF_FIN_ID)                                         \
    X(any, bool, uint8_t, uint32_t, 0, SF_FIN_ID)

/* The per-thread part of row mode: thread t of B accumulates reduced elements
 * t, t + B, t + 2B, ... of output o in that order. Column mode is this with
 * t = 0, B = 1. */
#define SF_RED_DEF_PARTIAL(OP, DT, T, ACC, INIT, FIN)                                       \
    SF_HD static inline ACC sf_red_partial_##OP##_##DT(const sf_red_plan *p, int64_t o, int64_t t, \
                                                       int64_t nthreads)                   \
    {                                                                                       \
        const T *x = (const T *)p->in + sf_red_out_off(p, o);                               \
        ACC a = (ACC)(INIT);                                                                \
        for (int64_t j = t; j < p->nred; j += nthreads) {                                   \
            const T v = x[sf_red_elem_off(p, j)];                                           \
            SF_RSTEP_##OP(a, v, ACC);                                                       \
        }                                                                                   \
        return a;                                                                           \
    }                                                                                       \
    SF_HD static inline void sf_red_final_##OP##_##DT(const sf_red_plan *p, int64_t o, ACC a) \
    {                                                                                       \
        ((T *)p->out)[o] = FIN(T, a, p->nred);                                              \
    }

/* The tree a block's partials are combined in (row mode), the CUDA kernels'
 * order: within each warp, for off = 16, 8, 4, 2, 1, lane l takes
 * comb(v[l], v[l + off]) (comb(v[l], v[l]) past the warp's end, as
 * __shfl_down_sync returns the lane's own value); lane 0 of each warp stores
 * its result in shared memory; then warp 0 does the same over those (INIT past
 * the number of warps), and its lane 0 holds the block's result. The CPU
 * emulation below runs it on an array; the kernels on registers. */
#define SF_RED_DEF_TREE_EMU(OP, DT, T, ACC, INIT, FIN)                                      \
    static inline void sf_red_warp_emu_##OP##_##DT(ACC *v)                                  \
    {                                                                                       \
        for (int off = SF_WARP / 2; off > 0; off >>= 1) {                                   \
            ACC old[SF_WARP];                                                               \
            for (int l = 0; l < SF_WARP; l++) old[l] = v[l];                                \
            for (int l = 0; l < SF_WARP; l++) {                                             \
                const ACC b = l + off < SF_WARP ? old[l + off] : old[l];                    \
                v[l] = SF_RCOMB_##OP(old[l], b);                                            \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static inline ACC sf_red_block_emu_##OP##_##DT(ACC *v, int nthreads)                    \
    {                                                                                       \
        ACC s[SF_RED_THREADS / SF_WARP];                                                    \
        const int nw = nthreads / SF_WARP;                                                  \
        for (int w = 0; w < nw; w++) {                                                      \
            sf_red_warp_emu_##OP##_##DT(v + w * SF_WARP);                                   \
            s[w] = v[w * SF_WARP];                                                          \
        }                                                                                   \
        ACC u[SF_WARP];                                                                     \
        for (int l = 0; l < SF_WARP; l++) u[l] = l < nw ? s[l] : (ACC)(INIT);               \
        sf_red_warp_emu_##OP##_##DT(u);                                                     \
        return u[0];                                                                        \
    }

/* ===========================================================================
 * Softmax and cross-entropy: one block per row; a row's max and sums are
 * row-mode reductions in the tree order above (max in T, sums in double)
 * ======================================================================== */

SF_HD static inline float sf_cu_exp_f32(float x) { return expf(x); }
SF_HD static inline double sf_cu_exp_f64(double x) { return exp(x); }

/* ===========================================================================
 * Optimizer updates: element i, the C kernels' expressions in their order;
 * hyper-parameters are read through pointers (device scalars)
 * ======================================================================== */

#define SF_TR_BODIES(DT, T, S)                                                                 \
    SF_HD static inline void sf_tr_gradient_descent_##DT(int64_t i, T *var, const T *alpha,    \
                                                         const T *delta)                       \
    {                                                                                          \
        var[i] -= delta[i] * alpha[0];                                                         \
    }                                                                                          \
    SF_HD static inline void sf_tr_momentum_##DT(int64_t i, int nesterov, T *var, T *accum,    \
                                                 const T *lr_, const T *grad, const T *mom_)   \
    {                                                                                          \
        const T lr = lr_[0], mom = mom_[0], g = grad[i];                                       \
        const T a = accum[i] * mom + g;                                                        \
        accum[i] = a;                                                                          \
        if (nesterov) var[i] -= g * lr + a * mom * lr;                                         \
        else var[i] -= lr * a;                                                                 \
    }                                                                                          \
    SF_HD static inline void sf_tr_adam_##DT(int64_t i, int nesterov, T *var, T *m, T *v,      \
                                             const T *const *s, const T *grad)                 \
    {                                                                                          \
        /* s: beta1_power, beta2_power, lr, beta1, beta2, epsilon */                         \
        const T b1p = *s[0], b2p = *s[1], lr = *s[2], b1 = *s[3], b2 = *s[4], eps = *s[5];     \
        const T alpha = lr * sqrt##S((T)1 - b2p) / ((T)1 - b1p);                               \
        const T omb1 = (T)1 - b1, omb2 = (T)1 - b2, g = grad[i];                               \
        const T mi = m[i] + (g - m[i]) * omb1;                                                 \
        const T vi = v[i] + (g * g - v[i]) * omb2;                                             \
        m[i] = mi;                                                                             \
        v[i] = vi;                                                                             \
        if (nesterov) var[i] -= ((g * omb1 + b1 * mi) * alpha) / (sqrt##S(vi) + eps);          \
        else var[i] -= (mi * alpha) / (sqrt##S(vi) + eps);                                     \
    }                                                                                          \
    SF_HD static inline void sf_tr_rms_prop_##DT(int64_t i, T *var, T *ms, T *mom,             \
                                                 const T *const *s, const T *grad)             \
    {                                                                                          \
        /* s: lr, rho, momentum, epsilon */                                                  \
        const T lr = *s[0], rho = *s[1], momentum = *s[2], eps = *s[3], omr = (T)1 - rho;     \
        const T g = grad[i];                                                                   \
        const T q = ms[i] + (g * g - ms[i]) * omr;                                             \
        ms[i] = q;                                                                             \
        const T u = mom[i] * momentum + (g * lr) / sqrt##S(q + eps);                           \
        mom[i] = u;                                                                            \
        var[i] -= u;                                                                           \
    }                                                                                          \
    SF_HD static inline void sf_tr_centered_rms_prop_##DT(int64_t i, T *var, T *mg, T *ms,     \
                                                          T *mom, const T *const *s,           \
                                                          const T *grad)                       \
    {                                                                                          \
        const T lr = *s[0], rho = *s[1], momentum = *s[2], eps = *s[3], omr = (T)1 - rho;     \
        const T g = grad[i];                                                                   \
        const T q = ms[i] + (g * g - ms[i]) * omr;                                             \
        ms[i] = q;                                                                             \
        const T a = mg[i] + (g - mg[i]) * omr;                                                 \
        mg[i] = a;                                                                             \
        const T u = mom[i] * momentum + (g * lr) / sqrt##S((q - a * a) + eps);                 \
        mom[i] = u;                                                                            \
        var[i] -= u;                                                                           \
    }                                                                                          \
    SF_HD static inline void sf_tr_adagrad_##DT(int64_t i, int update_slots, T *var, T *accum, \
                                                const T *lr_, const T *grad)                   \
    {                                                                                          \
        const T lr = lr_[0], g = grad[i];                                                      \
        if (update_slots) {                                                                    \
            const T a = accum[i] + g * g;                                                      \
            accum[i] = a;                                                                      \
            var[i] -= g * lr / sqrt##S(a);                                                     \
        } else {                                                                               \
            var[i] -= g * lr / sqrt##S(accum[i]);                                              \
        }                                                                                      \
    }

#define SF_TR_DTYPES(X) X(float32, float, f) X(float64, double, )
SF_TR_DTYPES(SF_TR_BODIES)

/* The optimizers: X(OPT, NIN, VEC_MASK) with VEC_MASK bit i set when in[i] has
 * the variable's shape (as training.c's checks) */
#define SF_TR_OPS(X)                          \
    X(gradient_descent, 3, 0x5u)              \
    X(momentum, 5, 0xBu)                      \
    X(adam, 10, 0x207u)                       \
    X(rms_prop, 8, 0x87u)                     \
    X(centered_rms_prop, 9, 0x10Fu)           \
    X(adagrad, 4, 0xBu)

/* Checks an apply kernel's call (as training.c's tr_check). Host code. */
static inline int sf_tr_check(sf_call *c, const char *name, int32_t code, int nin, unsigned vec_mask,
                              int64_t *numel)
{
    if (c->n_in != nin || c->n_out != 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes %d inputs and no outputs, got %d and %d", name, nin,
                 (int)c->n_in, (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *var = &c->in[0];
    int64_t n = 1;
    for (int d = 0; d < var->ndim; d++) n *= var->shape[d];
    for (int i = 0; i < nin; i++) {
        const sf_tensor *t = &c->in[i];
        int64_t tn = 1, expect = 1, contig = 1;
        if (t->ndim < 0 || t->ndim > SF_MAX_DIMS) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input %d has %d dims", name, i, (int)t->ndim);
            return SF_ERR_INVALID_ARGUMENT;
        }
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] != 1 && t->strides[d] != expect) contig = 0;
            expect *= t->shape[d];
            tn *= t->shape[d];
        }
        if (t->dtype != code) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input %d has dtype code %d, expected %d", name, i, (int)t->dtype,
                     (int)code);
            return SF_ERR_INVALID_ARGUMENT;
        }
        if (vec_mask >> i & 1u) {
            int same = t->ndim == var->ndim;
            for (int d = 0; same && d < var->ndim; d++) same = t->shape[d] == var->shape[d];
            if (!same || (!contig && tn != 0)) {
                snprintf(c->msg, SF_MSG_LEN, "%s: input %d must be contiguous with var's shape", name, i);
                return SF_ERR_INVALID_ARGUMENT;
            }
        } else if (tn != 1) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input %d is not a scalar", name, i);
            return SF_ERR_INVALID_ARGUMENT;
        }
    }
    *numel = n;
    return SF_OK;
}

/* Element i of optimizer OPT for the call's inputs (device pointers). */
#define SF_TR_PTR(T, K) ((T *)in[K])
#define SF_TR_APPLY_gradient_descent(DT, T, i, in, flag) \
    sf_tr_gradient_descent_##DT(i, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2))
#define SF_TR_APPLY_momentum(DT, T, i, in, flag) \
    sf_tr_momentum_##DT(i, flag, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2), SF_TR_PTR(T, 3), SF_TR_PTR(T, 4))
#define SF_TR_APPLY_adam(DT, T, i, in, flag)                                                           \
    do {                                                                                               \
        const T *s_[6] = {SF_TR_PTR(T, 3), SF_TR_PTR(T, 4), SF_TR_PTR(T, 5), SF_TR_PTR(T, 6),           \
                          SF_TR_PTR(T, 7), SF_TR_PTR(T, 8)};                                           \
        sf_tr_adam_##DT(i, flag, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2), s_, SF_TR_PTR(T, 9)); \
    } while (0)
#define SF_TR_APPLY_rms_prop(DT, T, i, in, flag)                                                       \
    do {                                                                                               \
        const T *s_[4] = {SF_TR_PTR(T, 3), SF_TR_PTR(T, 4), SF_TR_PTR(T, 5), SF_TR_PTR(T, 6)};         \
        sf_tr_rms_prop_##DT(i, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2), s_, SF_TR_PTR(T, 7)); \
    } while (0)
#define SF_TR_APPLY_centered_rms_prop(DT, T, i, in, flag)                                              \
    do {                                                                                               \
        const T *s_[4] = {SF_TR_PTR(T, 4), SF_TR_PTR(T, 5), SF_TR_PTR(T, 6), SF_TR_PTR(T, 7)};         \
        sf_tr_centered_rms_prop_##DT(i, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2), SF_TR_PTR(T, 3), \
                                     s_, SF_TR_PTR(T, 8));                                             \
    } while (0)
#define SF_TR_APPLY_adagrad(DT, T, i, in, flag) \
    sf_tr_adagrad_##DT(i, flag, SF_TR_PTR(T, 0), SF_TR_PTR(T, 1), SF_TR_PTR(T, 2), SF_TR_PTR(T, 3))

/* Pointers to an apply call's inputs, by value for a kernel. */
typedef struct sf_tr_args {
    void *in[10];
} sf_tr_args;

/* ===========================================================================
 * Random: Philox4x32-10, random.c's stream layout (see there)
 * ======================================================================== */

/* Philox, its conversions and Box-Muller: kernels/cpu/sf_philox.h, shared with random.c */

SF_HD static inline void sf_normals_float32(const sf_ph_key *k, uint64_t b, float z[4])
{
    uint32_t w[4];
    sf_philox(k, b, w);
    sf_bm_f32(w[0], w[1], &z[0], &z[1]);
    sf_bm_f32(w[2], w[3], &z[2], &z[3]);
}

SF_HD static inline void sf_normals_float64(const sf_ph_key *k, uint64_t b, double z[2])
{
    uint32_t w[4];
    sf_philox(k, b, w);
    sf_bm_f64(w[0], w[1], w[2], w[3], &z[0], &z[1]);
}

/* Values of block b (its elements' indices e0 = b * epb ...), at most m written. */
SF_HD static inline void sf_rand_uniform_float32(const sf_ph_key *k, uint64_t b, float *o, int m)
{
    uint32_t w[4];
    sf_philox(k, b, w);
    for (int s = 0; s < m; s++) o[s] = sf_u01_f32(w[s]);
}

SF_HD static inline void sf_rand_uniform_float64(const sf_ph_key *k, uint64_t b, double *o, int m)
{
    uint32_t w[4];
    sf_philox(k, b, w);
    for (int s = 0; s < m; s++) o[s] = sf_u01_f64(sf_bits64(w[2 * s], w[2 * s + 1]));
}

#define SF_RAND_NORMAL(DT, T, EPB)                                                            \
    SF_HD static inline void sf_rand_normal_##DT(const sf_ph_key *k, uint64_t b, T *o, int m) \
    {                                                                                         \
        T z[EPB];                                                                             \
        sf_normals_##DT(k, b, z);                                                             \
        for (int s = 0; s < m; s++) o[s] = z[s];                                              \
    }                                                                                         \
    /* group g: the normals of blocks g * RESERVE, g * RESERVE + 1, ... with |z| <= 2, in  \
     * order, until EPB are kept (random.c's resampling) */                                 \
    SF_HD static inline void sf_rand_truncated_##DT(const sf_ph_key *k, uint64_t g, T *o, int m) \
    {                                                                                         \
        T v[EPB], z[EPB];                                                                     \
        int cnt = 0;                                                                          \
        for (uint64_t a = 0; cnt < EPB && a < SF_TN_MAX_BLOCKS; a++) {                        \
            sf_normals_##DT(k, g * SF_TN_RESERVE + a, z);                                     \
            for (int s = 0; s < EPB && cnt < EPB; s++)                                        \
                if (fabs((double)z[s]) <= 2.0) v[cnt++] = z[s];                               \
        }                                                                                     \
        for (; cnt < EPB; cnt++) v[cnt] = 0;                                                  \
        for (int s = 0; s < m; s++) o[s] = v[s];                                              \
    }
SF_RAND_NORMAL(float32, float, 4)
SF_RAND_NORMAL(float64, double, 2)

SF_HD static inline void sf_rand_int_int32(const sf_ph_key *k, uint64_t b, int32_t *o, int m, uint64_t lo,
                                           uint64_t range)
{
    uint32_t w[4];
    sf_philox(k, b, w);
    for (int s = 0; s < m; s++) o[s] = (int32_t)((uint32_t)lo + (uint32_t)(((uint64_t)w[s] * range) >> 32));
}

SF_HD static inline void sf_rand_int_int64(const sf_ph_key *k, uint64_t b, int64_t *o, int m, uint64_t lo,
                                           uint64_t range)
{
    uint32_t w[4];
    sf_philox(k, b, w);
    for (int s = 0; s < m; s++) o[s] = (int64_t)(lo + sf_mulhi64(sf_bits64(w[2 * s], w[2 * s + 1]), range));
}

/* ===========================================================================
 * Array ops: gather [outer, n, inner] by indices [m]; one_hot; segment sums
 * ======================================================================== */

/* Element e of gather's out [outer, m, inner] (strides os; params strides ps):
 * gathers move elements of ES bytes whatever their dtype (E the storage type). */
#define SF_GATHER_ELEM(ES, E, IDX, IT)                                                           \
    SF_HD static inline void sf_gather_elem_##ES##_##IDX(int64_t e, E *o, const int64_t *os,     \
                                                         const E *pa, const int64_t *ps,         \
                                                         const IT *ix, int64_t is, int64_t m,    \
                                                         int64_t inner)                          \
    {                                                                                            \
        const int64_t j = e % inner, r = e / inner, k = r % m, a = r / m;                        \
        const int64_t v = (int64_t)ix[k * is];                                                   \
        o[a * os[0] + k * os[1] + j * os[2]] = pa[a * ps[0] + v * ps[1] + j * ps[2]];            \
    }
/* X(ES, E, IDX, IT) */
#define SF_GATHER_KINDS(X)                                                                       \
    X(1, uint8_t, int32, int32_t) X(2, uint16_t, int32, int32_t) X(4, uint32_t, int32, int32_t)  \
    X(8, uint64_t, int32, int32_t) X(1, uint8_t, int64, int64_t) X(2, uint16_t, int64, int64_t)  \
    X(4, uint32_t, int64, int64_t) X(8, uint64_t, int64, int64_t)
SF_GATHER_KINDS(SF_GATHER_ELEM)

/* Element e of one_hot's out [outer, depth, inner] (strides os): on where the
 * index at (a, j) (strides is0, is1) is d, else off. */
#define SF_ONE_HOT_ELEM(ES, E, IDX, IT)                                                          \
    SF_HD static inline void sf_one_hot_elem_##ES##_##IDX(int64_t e, E *o, const int64_t *os,    \
                                                          const IT *ix, int64_t is0, int64_t is1, \
                                                          int64_t depth, int64_t inner, E on,    \
                                                          E off)                                 \
    {                                                                                            \
        const int64_t j = e % inner, r = e / inner, d = r % depth, a = r / depth;                \
        o[a * os[0] + d * os[1] + j * os[2]] = (int64_t)ix[a * is0 + j * is1] == d ? on : off;   \
    }
SF_GATHER_KINDS(SF_ONE_HOT_ELEM)

/* The storage size of each dtype a gather or copy moves: M(DT, ES) */
#define SF_CU_SIZES(M)                                                                           \
    M(float32, 4) M(float64, 8) M(int32, 4) M(int64, 8) M(int8, 1) M(int16, 2) M(uint8, 1)        \
    M(uint16, 2) M(uint32, 4) M(uint64, 8) M(bool, 1) M(float16, 2) M(bfloat16, 2)

#endif
