/* Own float32 GEMM for AVX-512 targets (the build's -march): packed panels, a
 * register-blocked 12x32 microkernel and the fused epilogues, with results that
 * do not depend on the thread count. Other targets (and float64) keep BLAS
 * (linalg.c); sf_sgemm_own below says 0 there and the callers take BLAS.
 *
 * C = alpha op(A) op(B) + beta C, then (optionally) C = act(C + bias), all
 * row-major. The product is cut in two ways:
 *   - K in blocks of SF_KC (a constant, not a cache size: each element of C is
 *     the sum of its K-blocks in order, each block a sequence of FMAs in k
 *     order from zero, so the bits depend on K alone);
 *   - C in chunks of whole micro-tiles (SF_MR rows x SF_NR columns) along its
 *     longer side, taken by whichever thread comes free. Which thread computes
 *     a chunk changes nothing in its arithmetic, so any thread count gives the
 *     same bits, and a thread that another process holds up delays one chunk.
 * The operand that every chunk reads (A when the chunks are column blocks,
 * else B) is packed once, by the team together, into the calling thread's
 * buffer; each chunk packs its own part of the other operand into its thread's
 * buffer, sized from the L2 cache read at run time (sysconf), so the chunk's
 * panel stays in L2 while the shared operand streams past it. The epilogue
 * (bias, activation) runs on each MR x chunk-width row block right after its
 * last K-block, while that block is in L1.
 */
#define _GNU_SOURCE /* posix_memalign, sysconf(_SC_LEVEL2_CACHE_SIZE) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>

#include "sf_internal.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#define SF_MR 12
#define SF_NR 32
#ifndef SF_KC
#define SF_KC 384
#endif

/* The K-block: K cut into equal blocks of at most SF_KC (on multiples of 8), so that no
 * block is a short remainder that pays C's load and store for a few FMAs. */
static inline int64_t sf_kc(int64_t K)
{
    const int64_t nk = (K + SF_KC - 1) / SF_KC, kc = (K + nk - 1) / nk;
    return (kc + 7) / 8 * 8;
}

/* Per-thread packing buffers, grown on demand and kept for the thread's life (the
 * kernels' threads persist, so the steady state allocates nothing). */
static _Thread_local float *sf_pack_buf;
static _Thread_local int64_t sf_pack_cap;

static float *sf_grow(float **buf, int64_t *cap, int64_t n)
{
    if (n <= *cap) return *buf;
    free(*buf);
    *buf = NULL;
    *cap = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)n * sizeof(float)) != 0) return NULL;
    *buf = p;
    *cap = n;
    return *buf;
}

/* L2 bytes per core, read once (0 when the system does not say: 1 MiB is assumed). */
static int64_t sf_l2_bytes(void)
{
    static int64_t l2;
    if (!l2) {
        long v = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
        v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        l2 = v > 65536 ? (int64_t)v : (int64_t)1 << 20;
    }
    return l2;
}

/* ---- packing -------------------------------------------------------------
 * A panel: rows [r0, r0 + SF_MR) of op(A), all K, as K groups of SF_MR values
 * (k-major), rows past M zero. B panel: columns [c0, c0 + SF_NR) of op(B), as K
 * groups of SF_NR values, columns past N zero. */

/* dst[c * dld + r] = src[r * ld + c] for c < ncols, r < 16 (the lanes set in `store`),
 * rows r >= nrows read as zero: a 16 x 16 transpose in registers. */
static inline void sf_tr16(const float *src, int64_t ld, int64_t nrows, int64_t ncols, float *dst,
                           int64_t dld, __mmask16 store)
{
    const __mmask16 cm = ncols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ncols) - 1);
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(cm, src + i * ld) : _mm512_setzero_ps();
    /* pairs of rows interleaved, then quads, then 128-bit lanes across quads */
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
    for (int c = 0; c < ncols; c++) _mm512_mask_storeu_ps(dst + c * dld, store, r[c]);
}

static void sf_pack_a(float *restrict dst, int ta, const float *restrict A, int64_t lda, int64_t M,
                      int64_t k0, int64_t K, int64_t r0)
{
    A += ta ? k0 * lda : k0;
    const int64_t m = M - r0 < SF_MR ? M - r0 : SF_MR;
    if (ta) { /* A stored [K, M]: row k of the panel is contiguous */
        for (int64_t k = 0; k < K; k++) {
            const float *s = A + k * lda + r0;
            float *d = dst + k * SF_MR;
            int64_t i = 0;
            for (; i < m; i++) d[i] = s[i];
            for (; i < SF_MR; i++) d[i] = 0;
        }
    } else { /* A stored [M, K]: SF_MR rows transposed 16 k at a time */
        for (int64_t k = 0; k < K; k += 16)
            sf_tr16(A + r0 * lda + k, lda, m, K - k < 16 ? K - k : 16, dst + k * SF_MR, SF_MR,
                    (__mmask16)((1u << SF_MR) - 1));
    }
}

static void sf_pack_b(float *restrict dst, int tb, const float *restrict B, int64_t ldb, int64_t N,
                      int64_t k0, int64_t K, int64_t c0)
{
    B += tb ? k0 : k0 * ldb;
    const int64_t n = N - c0 < SF_NR ? N - c0 : SF_NR;
    if (!tb) { /* B stored [K, N]: row k of the panel is contiguous */
        if (n == SF_NR) {
            for (int64_t k = 0; k < K; k++) {
                const float *s = B + k * ldb + c0;
                _mm512_store_ps(dst + k * SF_NR, _mm512_loadu_ps(s));
                _mm512_store_ps(dst + k * SF_NR + 16, _mm512_loadu_ps(s + 16));
            }
        } else {
            for (int64_t k = 0; k < K; k++) {
                const float *s = B + k * ldb + c0;
                float *d = dst + k * SF_NR;
                int64_t j = 0;
                for (; j < n; j++) d[j] = s[j];
                for (; j < SF_NR; j++) d[j] = 0;
            }
        }
    } else { /* B stored [N, K]: up to SF_NR rows transposed 16 x 16 at a time */
        for (int64_t k = 0; k < K; k += 16) {
            const int64_t w = K - k < 16 ? K - k : 16;
            sf_tr16(B + c0 * ldb + k, ldb, n < 16 ? n : 16, w, dst + k * SF_NR, SF_NR, 0xFFFF);
            sf_tr16(B + (c0 + 16) * ldb + k, ldb, n - 16, w, dst + k * SF_NR + 16, SF_NR, 0xFFFF);
        }
    }
}

/* ---- microkernel ---------------------------------------------------------
 * acc = sum over k < kc of a[k] (SF_MR) x b[k] (SF_NR), then for the valid
 * rows (mr) and columns (mask0, mask1):
 *   first K-block:  C = alpha acc + beta C   (C not read when beta == 0)
 *   later blocks:   C = alpha acc + C */
static void sf_kernel_12x32(int64_t kc, const float *restrict a, const float *restrict b,
                            float *restrict C, int64_t ldc, float alpha, float beta, int first,
                            int64_t mr, __mmask16 mask0, __mmask16 mask1)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
    __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    __m512 c80 = _mm512_setzero_ps(), c81 = _mm512_setzero_ps();
    __m512 c90 = _mm512_setzero_ps(), c91 = _mm512_setzero_ps();
    __m512 ca0 = _mm512_setzero_ps(), ca1 = _mm512_setzero_ps();
    __m512 cb0 = _mm512_setzero_ps(), cb1 = _mm512_setzero_ps();
#define SF_STEP(R, X0, X1)                          \
    {                                               \
        const __m512 av = _mm512_set1_ps(a[R]);     \
        X0 = _mm512_fmadd_ps(av, b0, X0);           \
        X1 = _mm512_fmadd_ps(av, b1, X1);           \
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _mm_prefetch((const char *)(b + 8 * SF_NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 8 * SF_MR), _MM_HINT_T0);
        SF_STEP(0, c00, c01) SF_STEP(1, c10, c11) SF_STEP(2, c20, c21) SF_STEP(3, c30, c31)
        SF_STEP(4, c40, c41) SF_STEP(5, c50, c51) SF_STEP(6, c60, c61) SF_STEP(7, c70, c71)
        SF_STEP(8, c80, c81) SF_STEP(9, c90, c91) SF_STEP(10, ca0, ca1) SF_STEP(11, cb0, cb1)
        a += SF_MR;
        b += SF_NR;
    }
#undef SF_STEP
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(first ? beta : 1.0f);
    const int read = !first || beta != 0.0f;
#define SF_OUT(R, X0, X1)                                                                     \
    if (R < mr) {                                                                             \
        float *c = C + (R) * ldc;                                                             \
        __m512 y0 = _mm512_mul_ps(va, X0), y1 = _mm512_mul_ps(va, X1);                        \
        if (read) {                                                                           \
            y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask0, c), y0);                    \
            y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask1, c + 16), y1);               \
        }                                                                                     \
        _mm512_mask_storeu_ps(c, mask0, y0);                                                  \
        _mm512_mask_storeu_ps(c + 16, mask1, y1);                                             \
    }
    SF_OUT(0, c00, c01) SF_OUT(1, c10, c11) SF_OUT(2, c20, c21) SF_OUT(3, c30, c31)
    SF_OUT(4, c40, c41) SF_OUT(5, c50, c51) SF_OUT(6, c60, c61) SF_OUT(7, c70, c71)
    SF_OUT(8, c80, c81) SF_OUT(9, c90, c91) SF_OUT(10, ca0, ca1) SF_OUT(11, cb0, cb1)
#undef SF_OUT
}

static inline __mmask16 sf_mask(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* The product's geometry and epilogue, as the chunks see it. */
typedef struct {
    int ta, tb;
    int64_t M, N, K, lda, ldb, ldc, kb;
    const float *A, *B, *bias;
    float alpha, beta, act_alpha, *C;
    int act;
} sf_gemm_job;

/* One chunk of C: A panels [pa0, pa1) (rows), B panels [pb0, pb1) (columns). Per
 * K-block, the chunk packs its panels of both operands into `buf` (kb deep), then every
 * micro-tile of the chunk gets that K-block; a row block's epilogue follows its last
 * K-block. */
static void sf_chunk_run(const sf_gemm_job *j, int64_t pa0, int64_t pa1, int64_t pb0, int64_t pb1,
                         float *buf)
{
    const int64_t M = j->M, N = j->N, K = j->K;
    const int64_t r0 = pa0 * SF_MR, r1 = pa1 * SF_MR < M ? pa1 * SF_MR : M;
    const int64_t c0 = pb0 * SF_NR, c1 = pb1 * SF_NR < N ? pb1 * SF_NR : N;
    float *ap = buf, *bp = buf + (pa1 - pa0) * j->kb * SF_MR;
    for (int64_t k0 = 0; k0 < K; k0 += j->kb) {
        const int64_t kc = K - k0 < j->kb ? K - k0 : j->kb;
        const int first = k0 == 0, last = k0 + kc >= K;
        for (int64_t p = pa0; p < pa1; p++)
            sf_pack_a(ap + (p - pa0) * kc * SF_MR, j->ta, j->A, j->lda, M, k0, kc, p * SF_MR);
        for (int64_t p = pb0; p < pb1; p++)
            sf_pack_b(bp + (p - pb0) * kc * SF_NR, j->tb, j->B, j->ldb, N, k0, kc, p * SF_NR);
        for (int64_t i = r0; i < r1; i += SF_MR) {
            const float *a = ap + (i - r0) / SF_MR * kc * SF_MR;
            const int64_t mr = r1 - i < SF_MR ? r1 - i : SF_MR;
            for (int64_t jj = c0; jj < c1; jj += SF_NR) {
                const float *b = bp + (jj - c0) / SF_NR * kc * SF_NR;
                const int64_t nr = c1 - jj;
                sf_kernel_12x32(kc, a, b, j->C + i * j->ldc + jj, j->ldc, j->alpha, j->beta, first,
                                mr, sf_mask(nr), sf_mask(nr - 16));
            }
            if (last && (j->bias || j->act != SF_ACT_NONE))
                sf_epilogue_float32(j->C + i * j->ldc + c0, mr, c1 - c0, j->ldc,
                                    j->bias ? j->bias + c0 : NULL, j->act, j->act_alpha);
        }
    }
}

/* n panels in pieces of at most `cap` panels, as even as whole panels allow */
static int64_t sf_pieces(int64_t n, int64_t cap)
{
    if (cap < 1) cap = 1;
    return (n + cap - 1) / cap;
}

int sf_sgemm_own(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                 const float *bias, int act, float act_alpha)
{
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    const sf_gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, sf_kc(K), A, B, bias,
                           alpha, beta, act_alpha, C, act};
    /* C in a grid of chunks, each packing its own panels of A and B: no packed operand is
     * shared, so the threads never wait for each other before the end. Along C's longer
     * side, chunks of at most a quarter of it (room for two threads to even out); one
     * K-block of a chunk's panels of each operand within a quarter of the L2. Packing
     * costs a chunk (its rows + its columns) x K against rows x columns x K multiply-adds:
     * under 2% at the MLP's sizes. */
    const int64_t np_a = (M + SF_MR - 1) / SF_MR, np_b = (N + SF_NR - 1) / SF_NR;
    const int64_t l2q = sf_l2_bytes() / 4 / (j.kb * (int64_t)sizeof(float));
    int64_t cap_a = l2q / SF_MR, cap_b = l2q / SF_NR;
    if (N >= M) {
        if (cap_b > (np_b + 3) / 4) cap_b = (np_b + 3) / 4;
    } else if (cap_a > (np_a + 3) / 4) {
        cap_a = (np_a + 3) / 4;
    }
    const int64_t na = sf_pieces(np_a, cap_a), nb = sf_pieces(np_b, cap_b), nchunks = na * nb;
    const int64_t per_a = (np_a + na - 1) / na, per_b = (np_b + nb - 1) / nb;
    const double work = (double)M * (double)N * (double)K;
    int team = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (work < (double)SF_GEMM_PARALLEL_MIN || nchunks < 2) team = 1;
    if (team > nchunks) team = (int)nchunks;
    const int64_t need = (per_a * SF_MR + per_b * SF_NR) * j.kb;
    int failed = 0;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        float *buf = sf_grow(&sf_pack_buf, &sf_pack_cap, need);
        if (!buf) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        int bad;
#pragma omp atomic read
        bad = failed;
        if (!bad) {
            /* chunks row-block-major when C is tall (a thread's next chunk reuses its rows'
             * cache lines), column-block-major when it is wide */
#pragma omp for schedule(dynamic, 1)
            for (int64_t q = 0; q < nchunks; q++) {
                const int64_t ia = N >= M ? q % na : q / nb, ib = N >= M ? q / na : q % nb;
                const int64_t a0 = ia * per_a, b0 = ib * per_b;
                if (a0 >= np_a || b0 >= np_b) continue;
                sf_chunk_run(&j, a0, a0 + per_a < np_a ? a0 + per_a : np_a, b0,
                             b0 + per_b < np_b ? b0 + per_b : np_b, buf);
            }
        }
    }
    return !failed;
}

int sf_sgemm_own_wins(int64_t M, int64_t N, int64_t K)
{
    /* small or skinny products: BLAS's lower fixed cost (and tighter edge tiles) wins;
     * with the threshold lowered (sf_set_parallel_min, for tests) every size takes the
     * own path */
    const double madds = (double)M * (double)N * (double)K;
    if (sf_gemm_own_min_madds < SF_GEMM_OWN_MIN_DEFAULT) return madds >= (double)sf_gemm_own_min_madds;
    return madds >= (double)sf_gemm_own_min_madds && M >= 16 && N >= 16 && K >= 16;
}

#else /* no AVX-512: BLAS does every product */

int sf_sgemm_own_wins(int64_t M, int64_t N, int64_t K)
{
    (void)M, (void)N, (void)K;
    return 0;
}

int sf_sgemm_own(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                 const float *bias, int act, float act_alpha)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)bias, (void)act, (void)act_alpha;
    return 0;
}

#endif
