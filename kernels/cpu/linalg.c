/* Linear algebra kernels: matmul.
 *
 * float32/float64 run on scipy-openblas32's CBLAS (sgemm/dgemm, 32-bit
 * blasint); int32/int64 run on loops that wrap on overflow like NumPy.
 *
 * Operand layouts. Each matrix of a, b and out (the last two dims of its
 * view, per batch element) is used by BLAS in place when it is
 *   - row-major:    last stride 1, second-to-last stride >= its column count;
 *   - column-major: second-to-last stride 1, last stride >= its row count
 *     (used as the transpose of a row-major matrix: the transpose flag flips;
 *     a column-major out computes out^T = op(b)^T op(a)^T instead).
 * A size-1 dim's stride is ignored. Any other layout (strides 0, negative,
 * or both > 1) is packed per batch element into call->workspace as a dense
 * row-major matrix: a needs M*K elements, b K*N and out M*N, each counted
 * only if that operand needs packing, in the order a, b, out. When
 * workspace_size (bytes) is too small the kernel returns
 * SF_ERR_INVALID_ARGUMENT saying which operand has which strides and how many
 * bytes it needs. The workspace must be aligned for the dtype.
 *
 * Batch dims (all but the last two, as many as out has) of a and b are
 * broadcast when their size is 1 or their stride is 0. Each batch element is
 * one product, split over the threads when it is large (sf_sgemm below).
 */
#include <limits.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"

/* The validated geometry of one matmul call. */
typedef struct {
    int nb;                                 /* batch dims */
    int64_t batch;                          /* batch elements */
    int64_t M, N, K;
    int64_t bshape[SF_MAX_DIMS];            /* out batch shape */
    int64_t abs_[SF_MAX_DIMS], bbs[SF_MAX_DIMS], obs[SF_MAX_DIMS]; /* batch strides */
    /* element strides of op(a) [M, K], op(b) [K, N], out [M, N] */
    int64_t am, ak, bk, bn, om, on;
} sf_mm;

static int sf_mm_setup(sf_call *c, sf_mm *g, int32_t code, const char *name)
{
    if (c->n_in < 2 || c->n_out < 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 2 inputs and 1 output, got %d and %d",
                       name, (int)c->n_in, (int)c->n_out);
    const sf_tensor *a = &c->in[0], *b = &c->in[1], *o = &c->out[0];
    if (a->dtype != code || b->dtype != code || o->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s got %s, %s -> %s", name,
                       sf_dtype_name(a->dtype), sf_dtype_name(b->dtype), sf_dtype_name(o->dtype));
    const int nd = o->ndim;
    if (nd < 2 || nd > SF_MAX_DIMS || a->ndim != nd || b->ndim != nd)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s needs a, b and out of the same rank >= 2, got %d, %d and %d dims", name,
                       (int)a->ndim, (int)b->ndim, (int)nd);
    const int ta = c->iattr[SF_MATMUL_TRANSPOSE_A] != 0, tb = c->iattr[SF_MATMUL_TRANSPOSE_B] != 0;
    const int64_t ar = a->shape[nd - 2], ac = a->shape[nd - 1];
    const int64_t br = b->shape[nd - 2], bc = b->shape[nd - 1];
    const int64_t asr = a->strides[nd - 2], asc = a->strides[nd - 1];
    const int64_t bsr = b->strides[nd - 2], bsc = b->strides[nd - 1];
    g->M = o->shape[nd - 2];
    g->N = o->shape[nd - 1];
    g->K = ta ? ar : ac;
    const int64_t aM = ta ? ac : ar, bK = tb ? bc : br, bN = tb ? br : bc;
    if (aM != g->M || bK != g->K || bN != g->N || g->M < 0 || g->N < 0 || g->K < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: a [%lld, %lld]%s times b [%lld, %lld]%s does not give out [%lld, %lld]",
                       name, (long long)ar, (long long)ac, ta ? "^T" : "", (long long)br,
                       (long long)bc, tb ? "^T" : "", (long long)g->M, (long long)g->N);
    g->am = ta ? asc : asr;
    g->ak = ta ? asr : asc;
    g->bk = tb ? bsc : bsr;
    g->bn = tb ? bsr : bsc;
    g->om = o->strides[nd - 2];
    g->on = o->strides[nd - 1];
    g->nb = nd - 2;
    g->batch = 1;
    for (int d = 0; d < g->nb; d++) {
        const int64_t n = o->shape[d];
        if (n < 0 || (a->shape[d] != n && a->shape[d] != 1) || (b->shape[d] != n && b->shape[d] != 1))
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                           "%s: batch dim %d of a (%lld) or b (%lld) does not broadcast to out's %lld",
                           name, d, (long long)a->shape[d], (long long)b->shape[d], (long long)n);
        g->bshape[d] = n;
        g->abs_[d] = a->shape[d] == n ? a->strides[d] : 0;
        g->bbs[d] = b->shape[d] == n ? b->strides[d] : 0;
        g->obs[d] = o->strides[d];
        g->batch *= n;
    }
    return SF_OK;
}

/* Offsets of batch element t in a, b and out. */
static inline void sf_mm_batch_offsets(const sf_mm *g, int64_t t, int64_t *oa, int64_t *ob,
                                       int64_t *oo)
{
    int64_t x = 0, y = 0, z = 0;
    for (int d = g->nb - 1; d >= 0; d--) {
        int64_t n = g->bshape[d], i = t % n;
        t /= n;
        x += i * g->abs_[d];
        y += i * g->bbs[d];
        z += i * g->obs[d];
    }
    *oa = x;
    *ob = y;
    *oo = z;
}

/* ---- BLAS path ---------------------------------------------------------- */

/* How BLAS sees a stored [R, C] matrix with strides (sr, sc), used as itself
 * in row-major order: pointer use needs `trans` and leading dim `ld`. */
typedef struct {
    int blasable;
    int trans; /* 1: the stored memory is the transpose of a row-major matrix */
    int64_t ld;
} sf_blas_view;

static sf_blas_view sf_blas_layout(int64_t R, int64_t C, int64_t sr, int64_t sc)
{
    sf_blas_view v = {0, 0, 0};
    const int64_t maxC = C > 1 ? C : 1, maxR = R > 1 ? R : 1;
    /* strides of size-1 dims do not matter */
    if (R <= 1) sr = maxC;
    if (C <= 1) sc = 1;
    if (sc == 1 && sr >= maxC) {
        v.blasable = 1;
        v.ld = sr;
    } else if (R <= 1 && C > 1 && sc >= 1) {
        /* one row with stride sc: a column-major [1, C] with ld = sc */
        v.blasable = 1;
        v.trans = 1;
        v.ld = sc;
    } else if (sr == 1 && sc >= maxR) {
        v.blasable = 1;
        v.trans = 1;
        v.ld = sc;
    }
    return v;
}

static int sf_fits_blasint(int64_t x)
{
    return x >= 0 && x <= INT_MAX;
}

/* ---- GEMM on the kernels' threads ---------------------------------------
 *
 * Every kernel's parallel work runs on one pool, OpenMP's: the BLAS library
 * is switched to one thread (sf_blas_init) and a large product is split here
 * into one block of C's rows (or, when C is wider than tall, columns) per
 * thread, each a single-threaded BLAS call. Two pools -- OpenMP's and
 * OpenBLAS's own pthreads -- would take turns spinning on the same cores
 * between the kernels of a step, and put each other to sleep: a LeNet
 * training step ran 30% slower that way on 2 cores. */

void sf_blas_init(void)
{
    scipy_openblas_set_num_threads(1);
}

#define SF_DEFINE_GEMM(NAME, T, GEMM)                                                          \
    void NAME(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A, int64_t lda, \
              const T *B, int64_t ldb, T beta, T *C, int64_t ldc)                              \
    {                                                                                          \
        const int rows = M >= N; /* split C's rows, else its columns */                        \
        const int64_t len = rows ? M : N;                                                      \
        const int parts = sf_gemm_parts(M, N, K), team = SF_GEMM_TEAM(parts);                      \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(team) if(team > 1)")              \
        for (int p = 0; p < parts; p++) {                                                      \
            int64_t b0, b1;                                                                    \
            if (!sf_gemm_block(len, p, parts, &b0, &b1)) continue;                             \
            const T *a = A, *b = B;                                                            \
            T *c = C;                                                                          \
            if (rows) {                                                                        \
                a += ta ? b0 : b0 * lda;                                                       \
                c += b0 * ldc;                                                                 \
            } else {                                                                           \
                b += tb ? b0 * ldb : b0;                                                       \
                c += b0;                                                                       \
            }                                                                                  \
            GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, \
                 (blasint)(rows ? b1 - b0 : M), (blasint)(rows ? N : b1 - b0), (blasint)K, alpha, \
                 a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);                      \
        }                                                                                      \
    }

SF_DEFINE_GEMM(sf_sgemm_blas, float, scipy_cblas_sgemm)
SF_DEFINE_GEMM(sf_dgemm, double, scipy_cblas_dgemm)

/* float32: the own GEMM where it beats BLAS for these sizes (gemm.c), else the BLAS blocks */
void sf_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
              int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (sf_sgemm_own_wins(ta, tb, M, N, K) &&
        sf_sgemm_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, SF_ACT_NONE, 0.0f))
        return;
    sf_sgemm_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- one-row products (gemv) ---------------------------------------------
 *
 * A product with one row of output (a batch-1 dense layer, y = x W) is a
 * matrix-vector product, limited by reading W once. BLAS's gemm spends as long
 * packing W as multiplying. Here W [K, N] is read in its own order: each sweep
 * takes four rows of W, whole cache lines one after another (streams the
 * hardware prefetchers follow), into a block of y that stays in L1. Walking a
 * column block down K instead jumps a whole row per step, and the prefetchers,
 * which stop at page boundaries, lose it: that order ran at half the speed.
 * The threads split W where it is contiguous. A W with short rows (a dense
 * layer of 512 units: 2 KiB a row) is cut along K into blocks of whole rows,
 * each summed in k order, y = fma(x[k], W[k, j], y), into a partial y of its
 * own; the partials then add in block order. Splitting such a W by columns
 * instead gives each thread half of every row, and the prefetchers, fetching
 * ahead past the half, bring each core most of the other's lines too: two
 * threads ran 1.4x one, where the K split runs 2x. A W with long rows is
 * split by columns, thread p always the same ones, each element one sum in k
 * order. The blocks are set by the sizes alone, so results do not depend on
 * the thread count; the plain and fused matmuls share this code, so a fused
 * plan gives the unfused plan's values. */

/* Columns of y per block: 4 KiB of float32, well inside L1 beside W's lines. */
#define SF_GEMV_COLS 1024
/* Elements of W below which the product runs on the calling thread. */
#define SF_GEMV_PARALLEL_MIN (1 << 16)
/* Bytes of the partial sums of a K-split product (on the caller's stack). */
#define SF_GEMV_PARTIAL_BYTES (64 * 1024)

/* K-blocks of a product y = x W with W [K, N] row-major: at least 128 rows each, at most
 * SF_GEMM_MAX_PARTS, their partial y within SF_GEMV_PARTIAL_BYTES; 1 (no split) for a W
 * whose rows are long enough (over 8 KiB) that a block of columns per thread is itself a
 * long contiguous read. Set by the sizes alone, so the sums do not depend on the threads. */
static int sf_gemv_kparts(int64_t N, int64_t K, int64_t elem)
{
    if (N * elem > 8192) return 1;
    int64_t p = K / 128;
    if (p > SF_GEMM_MAX_PARTS) p = SF_GEMM_MAX_PARTS;
    if (p > SF_GEMV_PARTIAL_BYTES / (N * elem)) p = SF_GEMV_PARTIAL_BYTES / (N * elem);
    return p < 1 ? 1 : (int)p;
}

#define SF_DEFINE_GEMV(NAME, T)                                                                  \
    /* y[j] = sum_k x[k * incx] op(B)[k, j] for j in [j0, j1) */                                \
    static void sf_gemv_cols_##NAME(int tb, int64_t K, const T *restrict x, int64_t incx,       \
                                    const T *restrict B, int64_t ldb, T *restrict y, int64_t j0, \
                                    int64_t j1)                                                 \
    {                                                                                           \
        if (!tb) { /* B [K, N] row-major: y += x[k] B[k, :], four rows per sweep */            \
            for (int64_t jb = j0; jb < j1; jb += SF_GEMV_COLS) {                                \
                const int64_t n = j1 - jb < SF_GEMV_COLS ? j1 - jb : SF_GEMV_COLS;              \
                T *restrict yb = y + jb;                                                        \
                for (int64_t t = 0; t < n; t++) yb[t] = 0;                                      \
                int64_t k = 0;                                                                  \
                for (; k + 4 <= K; k += 4) {                                                    \
                    const T s0 = x[k * incx], s1 = x[(k + 1) * incx];                           \
                    const T s2 = x[(k + 2) * incx], s3 = x[(k + 3) * incx];                     \
                    const T *restrict w0 = B + k * ldb + jb, *restrict w1 = w0 + ldb;           \
                    const T *restrict w2 = w1 + ldb, *restrict w3 = w2 + ldb;                   \
                    /* left to right: the order of the sum over k, one fma per term */        \
                    for (int64_t t = 0; t < n; t++)                                             \
                        yb[t] = yb[t] + s0 * w0[t] + s1 * w1[t] + s2 * w2[t] + s3 * w3[t];      \
                }                                                                               \
                for (; k < K; k++) {                                                            \
                    const T s = x[k * incx];                                                    \
                    const T *restrict w = B + k * ldb + jb;                                     \
                    for (int64_t t = 0; t < n; t++) yb[t] = yb[t] + s * w[t];                   \
                }                                                                               \
            }                                                                                   \
        } else { /* B [N, K] row-major: y[j] = x . B[j, :], in 16 lanes summed at the end,    \
                  * four columns at a time (four independent accumulators) */                  \
            int64_t j = j0;                                                                     \
            if (incx == 1)                                                                      \
                for (; j + 4 <= j1; j += 4) {                                                   \
                    const T *restrict w0 = B + j * ldb, *restrict w1 = w0 + ldb;                \
                    const T *restrict w2 = w1 + ldb, *restrict w3 = w2 + ldb;                   \
                    T l0[16] = {0}, l1[16] = {0}, l2[16] = {0}, l3[16] = {0};                   \
                    int64_t k = 0;                                                              \
                    for (; k + 16 <= K; k += 16)                                                \
                        for (int t = 0; t < 16; t++) {                                          \
                            l0[t] += x[k + t] * w0[k + t];                                      \
                            l1[t] += x[k + t] * w1[k + t];                                      \
                            l2[t] += x[k + t] * w2[k + t];                                      \
                            l3[t] += x[k + t] * w3[k + t];                                      \
                        }                                                                       \
                    for (; k < K; k++) {                                                        \
                        l0[0] += x[k] * w0[k];                                                  \
                        l1[0] += x[k] * w1[k];                                                  \
                        l2[0] += x[k] * w2[k];                                                  \
                        l3[0] += x[k] * w3[k];                                                  \
                    }                                                                           \
                    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                           \
                    for (int t = 0; t < 16; t++) {                                              \
                        s0 += l0[t];                                                            \
                        s1 += l1[t];                                                            \
                        s2 += l2[t];                                                            \
                        s3 += l3[t];                                                            \
                    }                                                                           \
                    y[j] = s0, y[j + 1] = s1, y[j + 2] = s2, y[j + 3] = s3;                     \
                }                                                                               \
            for (; j < j1; j++) {                                                               \
                const T *restrict w = B + j * ldb;                                              \
                T lane[16] = {0};                                                               \
                int64_t k = 0;                                                                  \
                if (incx == 1)                                                                  \
                    for (; k + 16 <= K; k += 16)                                                \
                        for (int t = 0; t < 16; t++) lane[t] += x[k + t] * w[k + t];            \
                for (; k < K; k++) lane[0] += x[k * incx] * w[k];                               \
                T sum = 0;                                                                      \
                for (int t = 0; t < 16; t++) sum += lane[t];                                    \
                y[j] = sum;                                                                     \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
                                                                                                \
    void sf_gemv_##NAME(int tb, int64_t N, int64_t K, const T *x, int64_t incx, const T *B,     \
                        int64_t ldb, T *y, const T *bias, int act, T alpha)                     \
    {                                                                                           \
        const int big = (double)N * (double)K >= SF_GEMV_PARALLEL_MIN;                          \
        const int kparts = big && !tb ? sf_gemv_kparts(N, K, (int64_t)sizeof(T)) : 1;          \
        /* a narrow W [K, N]: K in blocks, each a contiguous run of W's rows summed into its \
         * own partial y; the partials then add in block order, column blocks per thread */   \
        if (kparts > 1) {                                                                       \
            T part[SF_GEMV_PARTIAL_BYTES / sizeof(T)];                                          \
            const int team = SF_GEMM_TEAM(kparts);                                              \
            _Pragma("omp parallel num_threads(team) if(team > 1)")                              \
            {                                                                                   \
                _Pragma("omp for schedule(static)")                                             \
                for (int p = 0; p < kparts; p++) {                                              \
                    const int64_t k0 = K * p / kparts, k1 = K * (p + 1) / kparts;               \
                    sf_gemv_cols_##NAME(0, k1 - k0, x + k0 * incx, incx, B + k0 * ldb, ldb,     \
                                        part + p * N, 0, N);                                    \
                }                                                                               \
                const int q = omp_get_thread_num(), nq = omp_get_num_threads();                 \
                const int64_t j0 = N * q / nq / 16 * 16;                                        \
                const int64_t j1 = q + 1 == nq ? N : N * (q + 1) / nq / 16 * 16;                \
                for (int64_t j = j0; j < j1; j++) {                                             \
                    T sum = part[j];                                                            \
                    for (int p = 1; p < kparts; p++) sum += part[p * N + j];                    \
                    y[j] = sum;                                                                 \
                }                                                                               \
                if (j1 > j0 && (bias || act != SF_ACT_NONE))                                    \
                    sf_epilogue_##NAME(y + j0, 1, j1 - j0, j1 - j0, bias ? bias + j0 : NULL,    \
                                       act, alpha);                                             \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        /* otherwise one block of columns per thread (64 columns or more each), the same    \
         * block on every call */                                                               \
        int parts = (int)(N / 64 < SF_GEMM_MAX_PARTS ? N / 64 : SF_GEMM_MAX_PARTS);             \
        if (!big || parts < 1) parts = 1;                                                       \
        const int team = SF_GEMM_TEAM(parts);                                                   \
        _Pragma("omp parallel num_threads(team) if(team > 1)")                                  \
        {                                                                                       \
            const int p = omp_get_thread_num(), np = omp_get_num_threads();                     \
            /* blocks on multiples of 16 columns (whole cache lines of floats) */              \
            const int64_t j0 = N * p / np / 16 * 16;                                            \
            const int64_t j1 = p + 1 == np ? N : N * (p + 1) / np / 16 * 16;                    \
            if (j1 > j0) {                                                                      \
                sf_gemv_cols_##NAME(tb, K, x, incx, B, ldb, y, j0, j1);                         \
                if (bias || act != SF_ACT_NONE)                                                 \
                    sf_epilogue_##NAME(y + j0, 1, j1 - j0, j1 - j0, bias ? bias + j0 : NULL,    \
                                       act, alpha);                                             \
            }                                                                                   \
        }                                                                                       \
    }

SF_DEFINE_GEMV(float32, float)
SF_DEFINE_GEMV(float64, double)

#define SF_FLOAT_DTYPES(X)                \
    X(float32, SF_FLOAT32, float, sf_sgemm) \
    X(float64, SF_FLOAT64, double, sf_dgemm)

#define SF_DEFINE_MATMUL_BLAS(NAME, CODE, T, GEMM)                                            \
    /* dense row-major copy of an [R, C] strided matrix */                                   \
    static void sf_pack_##NAME(T *restrict dst, const T *restrict src, int64_t R, int64_t C, \
                               int64_t sr, int64_t sc)                                       \
    {                                                                                        \
        for (int64_t r = 0; r < R; r++)                                                      \
            for (int64_t j = 0; j < C; j++) dst[r * C + j] = src[r * sr + j * sc];           \
    }                                                                                        \
                                                                                             \
    int sf_cpu_matmul_##NAME(sf_call *c)                                                     \
    {                                                                                        \
        sf_mm g;                                                                             \
        int st = sf_mm_setup(c, &g, CODE, "matmul_" #NAME);                                  \
        if (st) return st;                                                                   \
        const int64_t M = g.M, N = g.N, K = g.K;                                             \
        T *o = (T *)c->out[0].data;                                                          \
        const T *A = (const T *)c->in[0].data, *B = (const T *)c->in[1].data;                \
        if (M == 0 || N == 0 || g.batch == 0) return SF_OK;                                  \
        if (K == 0) {                                                                        \
            for (int64_t t = 0; t < g.batch; t++) {                                          \
                int64_t x, y, z;                                                             \
                sf_mm_batch_offsets(&g, t, &x, &y, &z);                                      \
                for (int64_t i = 0; i < M; i++)                                              \
                    for (int64_t j = 0; j < N; j++) o[z + i * g.om + j * g.on] = 0;          \
            }                                                                                \
            return SF_OK;                                                                    \
        }                                                                                    \
        /* the product is computed in row-major form C = op(A) op(B), or, for a        \
         * column-major out, as C^T = op(B)^T op(A)^T */                                     \
        sf_blas_view vo = sf_blas_layout(M, N, g.om, g.on);                                  \
        const int swap = vo.blasable && vo.trans;                                            \
        sf_blas_view va = sf_blas_layout(M, K, g.am, g.ak);                                  \
        sf_blas_view vb = sf_blas_layout(K, N, g.bk, g.bn);                                  \
        int64_t need = 0;                                                                    \
        const int64_t wa = va.blasable ? 0 : M * K, wb = vb.blasable ? 0 : K * N;            \
        const int64_t wo = vo.blasable ? 0 : M * N;                                          \
        need = (wa + wb + wo) * (int64_t)sizeof(T);                                          \
        if (need > 0 && (c->workspace == NULL || c->workspace_size < need)) {                \
            const char *who = !va.blasable ? "a" : !vb.blasable ? "b" : "out";               \
            int64_t s0 = !va.blasable ? g.am : !vb.blasable ? g.bk : g.om;                   \
            int64_t s1 = !va.blasable ? g.ak : !vb.blasable ? g.bn : g.on;                   \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                       \
                           "matmul_" #NAME ": %s's matrix strides (%lld, %lld) are neither "  \
                           "row- nor column-major; packing needs a workspace of %lld bytes, " \
                           "got %lld",                                                       \
                           who, (long long)s0, (long long)s1, (long long)need,               \
                           (long long)(c->workspace ? c->workspace_size : 0));               \
        }                                                                                    \
        if (!sf_fits_blasint(M) || !sf_fits_blasint(N) || !sf_fits_blasint(K) ||            \
            (va.blasable && !sf_fits_blasint(va.ld)) ||                                      \
            (vb.blasable && !sf_fits_blasint(vb.ld)) ||                                      \
            (vo.blasable && !sf_fits_blasint(vo.ld)))                                        \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                       \
                           "matmul_" #NAME ": [%lld, %lld] x [%lld, %lld] or its leading "   \
                           "dims exceed the 32-bit BLAS limit of %d",                        \
                           (long long)M, (long long)K, (long long)K, (long long)N, INT_MAX); \
        if (M == 1 && g.batch == 1 && !need && vo.blasable && !vo.trans) {                   \
            sf_gemv_##NAME(vb.trans, N, K, A, va.trans ? va.ld : 1, B, vb.ld, o, NULL,         \
                           SF_ACT_NONE, (T)0);                                              \
            return SF_OK;                                                                    \
        }                                                                                    \
        T *pa = (T *)c->workspace, *pb = pa + wa, *po = pb + wb;                             \
        if (!va.blasable) va = (sf_blas_view){1, 0, K};                                      \
        if (!vb.blasable) vb = (sf_blas_view){1, 0, N};                                      \
        const int64_t ldo = vo.blasable ? vo.ld : N;                                         \
        for (int64_t t = 0; t < g.batch; t++) {                                              \
            int64_t x, y, z;                                                                 \
            sf_mm_batch_offsets(&g, t, &x, &y, &z);                                          \
            const T *ap = A + x, *bp = B + y;                                                \
            T *op = vo.blasable ? o + z : po;                                                \
            if (wa) {                                                                        \
                sf_pack_##NAME(pa, ap, M, K, g.am, g.ak);                                    \
                ap = pa;                                                                     \
            }                                                                                \
            if (wb) {                                                                        \
                sf_pack_##NAME(pb, bp, K, N, g.bk, g.bn);                                    \
                bp = pb;                                                                     \
            }                                                                                \
            if (!swap)                                                                       \
                GEMM(va.trans, vb.trans, M, N, K, (T)1, ap, va.ld, bp, vb.ld, (T)0, op, ldo); \
            else                                                                             \
                GEMM(!vb.trans, !va.trans, N, M, K, (T)1, bp, vb.ld, ap, va.ld, (T)0, op, ldo); \
            if (wo)                                                                          \
                for (int64_t i = 0; i < M; i++)                                              \
                    for (int64_t j = 0; j < N; j++)                                          \
                        o[z + i * g.om + j * g.on] = po[i * N + j];                          \
        }                                                                                    \
        return SF_OK;                                                                        \
    }

SF_FLOAT_DTYPES(SF_DEFINE_MATMUL_BLAS)

/* ---- integer loops ------------------------------------------------------ */

/* Arithmetic in the unsigned type so that overflow wraps (defined behaviour)
 * like NumPy's and TensorFlow's integer matmul. */
#define SF_INT_DTYPES(X)                  \
    X(int32, SF_INT32, int32_t, uint32_t) \
    X(int64, SF_INT64, int64_t, uint64_t)

#define SF_DEFINE_MATMUL_INT(NAME, CODE, T, U)                                                \
    int sf_cpu_matmul_##NAME(sf_call *c)                                                     \
    {                                                                                        \
        sf_mm g;                                                                             \
        int st = sf_mm_setup(c, &g, CODE, "matmul_" #NAME);                                  \
        if (st) return st;                                                                   \
        const int64_t M = g.M, N = g.N, K = g.K;                                             \
        if (M == 0 || N == 0 || g.batch == 0) return SF_OK;                                  \
        U *o = (U *)c->out[0].data;                                                          \
        const U *A = (const U *)c->in[0].data, *B = (const U *)c->in[1].data;                \
        const int64_t rows = g.batch * M;                                                    \
        const int par = rows > 1 && (double)rows * (double)N * (double)(K ? K : 1) >=        \
                                        (double)SF_PARALLEL_MIN;                             \
        const int64_t am = g.am, ak = g.ak, bk = g.bk, bn = g.bn, om = g.om, on = g.on;      \
        const int sf_ch_ = sf_chunk(N * (K ? K : 1));                                        \
        _Pragma("omp parallel for schedule(dynamic, sf_ch_) if(par)")                                 \
        for (int64_t r = 0; r < rows; r++) {                                                 \
            const int64_t t = r / M, i = r % M;                                              \
            int64_t x, y, z;                                                                 \
            sf_mm_batch_offsets(&g, t, &x, &y, &z);                                          \
            const U *restrict ar = A + x + i * am;                                           \
            const U *restrict bp = B + y;                                                    \
            U *restrict orow = o + z + i * om;                                               \
            if (on == 1 && bn == 1) {                                                        \
                /* out row += a[i, k] * b[k, :], contiguous rows */                          \
                for (int64_t j = 0; j < N; j++) orow[j] = 0;                                 \
                for (int64_t k = 0; k < K; k++) {                                            \
                    const U s = ar[k * ak];                                                  \
                    const U *restrict bk_ = bp + k * bk;                                     \
                    for (int64_t j = 0; j < N; j++) orow[j] += s * bk_[j];                   \
                }                                                                            \
            } else {                                                                         \
                for (int64_t j = 0; j < N; j++) {                                            \
                    const U *restrict bc = bp + j * bn;                                      \
                    U acc = 0;                                                               \
                    if (ak == 1 && bk == 1)                                                  \
                        for (int64_t k = 0; k < K; k++) acc += ar[k] * bc[k];                \
                    else                                                                     \
                        for (int64_t k = 0; k < K; k++) acc += ar[k * ak] * bc[k * bk];      \
                    orow[j * on] = acc;                                                      \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        return SF_OK;                                                                        \
    }

SF_INT_DTYPES(SF_DEFINE_MATMUL_INT)

/* ---- table -------------------------------------------------------------- */

#define SF_MATMUL_FLOAT_ENTRY(NAME, CODE, T, GEMM) {"sf_cpu_matmul_" #NAME, sf_cpu_matmul_##NAME},
#define SF_MATMUL_INT_ENTRY(NAME, CODE, T, U) {"sf_cpu_matmul_" #NAME, sf_cpu_matmul_##NAME},

static const sf_kernel_entry sf_linalg_table[] = {
    SF_FLOAT_DTYPES(SF_MATMUL_FLOAT_ENTRY) SF_INT_DTYPES(SF_MATMUL_INT_ENTRY)};

int64_t sf_cpu_linalg_entries(const sf_kernel_entry **out)
{
    *out = sf_linalg_table;
    return (int64_t)(sizeof sf_linalg_table / sizeof sf_linalg_table[0]);
}
