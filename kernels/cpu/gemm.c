/* Own float32 GEMM for AVX-512 targets (the build's -march): packed panels, a
 * register-blocked 8x48 microkernel and the fused epilogues, with results that
 * do not depend on the thread count. Other targets (and float64) keep BLAS
 * (linalg.c); sf_sgemm_own below says 0 there and the callers take BLAS.
 *
 * C = alpha op(A) op(B) + beta C, then (optionally) C = act(C + bias), all
 * row-major. The product is cut in two ways:
 *   - K in equal blocks of at most SF_KC (set by K alone, not by a cache size:
 *     each element of C is the sum of its K-blocks in order, each block a
 *     sequence of FMAs in k order from zero, so the bits depend on K alone);
 *   - C in a grid of chunks of whole micro-tiles (SF_MR rows x SF_NR columns),
 *     taken by whichever thread comes free. Which thread computes a chunk
 *     changes nothing in its arithmetic, so any thread count gives the same
 *     bits, and a thread that another process holds up delays one chunk.
 * A chunk packs its panels of B per K-block into its thread's buffer, sized
 * from the L2 cache read at run time (sysconf): twice the L2 per operand. A is
 * broadcast one float at a time, so A stored [M, K] is read in place; a
 * transposed A is packed like B (its rows then lie a whole row of A apart).
 * When every chunk reads all of one operand (the grid is one row or one
 * column of chunks), that operand's panels are packed once, by the first
 * chunk that needs each, and shared (sf_shared_panel); a transposed A is
 * given a grid of one row of chunks for that. The epilogue (bias,
 * activation) runs on each SF_MR-row block of a chunk right after its last
 * K-block, while that block is in cache.
 */
#define _GNU_SOURCE /* posix_memalign, sysconf(_SC_LEVEL2_CACHE_SIZE) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#ifndef SF_MR
#define SF_MR 8
#endif
/* The tile's width in vectors: 8 x 48 holds 24 accumulators, so each broadcast of A
 * feeds three FMAs. Ice Lake server, one core, a register-only loop: 8 x 32 (two per
 * broadcast) ran at 82% of the FMA peak, 8 x 48 and 6 x 64 at 99% (the broadcasts'
 * micro-ops were the limit); whole products 1.16x (A stored [M, K], B either way) and
 * 1.38x (A transposed, with its shared packing) faster on two cores. */
#ifndef SF_NV
#define SF_NV 3
#endif
#define SF_NR (16 * SF_NV)
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
static _Thread_local float *sf_pack_buf, *sf_shared_buf;
static _Thread_local int64_t sf_pack_cap, sf_shared_cap;

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

/* The lanes below n (all 16 from n >= 16, none from n <= 0) */
static inline __mmask16 sf_mask(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* dst[c * dld + r] = src[r * ld + c] for c < ncols, r < 16 (the lanes set in `store`),
 * rows r >= nrows read as zero: a 16 x 16 transpose in registers. */
static inline void sf_tr16(const float *src, int64_t ld, int64_t nrows, int64_t ncols, float *dst,
                           int64_t dld, __mmask16 store)
{
    const __mmask16 cm = sf_mask(ncols);
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

/* Panels [p0, p1) of op(A) for A stored [K, M] (ta), packed together: row k of A
 * holds row k of every panel side by side, so reading it whole, one row after
 * another, is the order the prefetchers follow; packing one panel at a time reads
 * SF_MR floats a row, a page (or more) apart. (A stored [M, K] is never packed: the
 * microkernel reads its rows in place.) */
static void sf_pack_a_rows(float *restrict dst, const float *restrict A, int64_t lda, int64_t M,
                           int64_t k0, int64_t K, int64_t p0, int64_t p1)
{
    const int64_t r0 = p0 * SF_MR, r1 = p1 * SF_MR < M ? p1 * SF_MR : M;
    const __mmask16 sm = sf_mask(SF_MR);
    for (int64_t k = 0; k < K; k++) {
        const float *row = A + (k0 + k) * lda;
        float *d = dst + k * SF_MR;
        int64_t r = r0;
        if (SF_MR == 8) /* two panels per 64-byte load */
            for (; r + 16 <= r1; r += 16, d += 2 * K * SF_MR) {
                const __m512 v = _mm512_loadu_ps(row + r);
                _mm256_storeu_ps(d, _mm512_castps512_ps256(v));
                _mm256_storeu_ps(d + K * SF_MR, _mm512_extractf32x8_ps(v, 1));
            }
        for (; r < r1; r += SF_MR, d += K * SF_MR) {
            const int64_t m = r1 - r < SF_MR ? r1 - r : SF_MR;
            _mm512_mask_storeu_ps(d, sm, _mm512_maskz_loadu_ps(sf_mask(m), row + r));
        }
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
#pragma GCC unroll 4
                for (int v = 0; v < SF_NV; v++)
                    _mm512_store_ps(dst + k * SF_NR + 16 * v, _mm512_loadu_ps(s + 16 * v));
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
            for (int v = 0; v < SF_NV; v++) {
                const int64_t rows = n - 16 * v < 16 ? n - 16 * v : 16;
                sf_tr16(B + (c0 + 16 * v) * ldb + k, ldb, rows, w, dst + k * SF_NR + 16 * v,
                        SF_NR, 0xFFFF);
            }
        }
    }
}

/* ---- microkernel ---------------------------------------------------------
 * acc = sum over k < kc of a(r, k) x b[k * bs] (16 nv floats, nv <= SF_NV: a constant
 * at each call) for the SF_MR rows r, then for the valid rows (mr) and columns (nr):
 *   first K-block:  C = alpha acc + beta C   (C not read when beta == 0)
 *   later blocks:   C = alpha acc + C
 * a(r, k) = a[r * rs + k * ks]: a packed panel (rs 1, ks SF_MR, rows past M zero)
 * or A's own rows read in place (rs lda, ks 1; rows past mr read row 0 again, and
 * their sums are never stored). The operand is only ever broadcast, one float at a
 * time, so reading it in place costs no more than reading a packed copy, and saves
 * the copy: 5-20% on the products of this library's models (bits unchanged).
 * b is a packed panel (bs SF_NR, columns past N zero) or B's own rows (bs ldb; with
 * bmask, loads masked to the valid columns: masked loads run slower, so only a tile at
 * the edge takes them). */
static inline __attribute__((always_inline)) void
sf_ukernel(int64_t kc, const float *restrict a, int64_t rs, int64_t ks, const float *restrict b,
           int64_t bs, int bmask, float *restrict C, int64_t ldc, float alpha, float beta,
           int first, int64_t mr, int64_t nr, const int nv)
{
    __m512 acc[SF_MR][SF_NV];
    __mmask16 mask[SF_NV];
    int64_t o[SF_MR];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) mask[v] = sf_mask(nr - 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < SF_MR; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
        o[r] = (ks == 1 && r >= mr ? 0 : r) * rs;
    }
    /* C's tile, read or written after the K loop, is fetched now, the loop's length
     * ahead: its lines lie a row of C apart, in as many pages, where no hardware
     * prefetcher follows, and a large C comes from L3 or memory at every K-block. For
     * writing (prefetchw): the tile is stored whether it is read or not. Two cores, the
     * 4096-wide MLP's three products alternated in one process: 2-6% faster, most when
     * other tenants load the shared L3 and memory. Only the lines of the tile's valid
     * columns are fetched (a narrow layer's tile has one). */
#pragma GCC unroll 16
    for (int r = 0; r < SF_MR; r++) {
        if (r >= mr) break;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            if (mask[v]) _mm_prefetch((const char *)(C + r * ldc + 16 * v), _MM_HINT_ET0);
    }
#pragma GCC unroll 2 /* halves the loop's own micro-ops per FMA */
    for (int64_t k = 0; k < kc; k++) {
        __m512 bv[SF_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bv[v] = bmask ? _mm512_maskz_loadu_ps(mask[v], b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
        _mm_prefetch((const char *)(b + 8 * bs), _MM_HINT_T0);
        if (ks != 1) _mm_prefetch((const char *)(a + 8 * ks), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < SF_MR; r++) {
            const __m512 av = _mm512_set1_ps(a[o[r]]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += ks;
        b += bs;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(first ? beta : 1.0f);
    const int read = !first || beta != 0.0f;
#pragma GCC unroll 16
    for (int r = 0; r < SF_MR; r++) {
        if (r >= mr) break;
        float *c = C + r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            __m512 y = _mm512_mul_ps(va, acc[r][v]);
            if (read) y = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c + 16 * v), y);
            _mm512_mask_storeu_ps(c + 16 * v, mask[v], y);
        }
    }
}

/* A tile of nr columns (nr <= SF_NR) with as few vectors as cover it: a panel at C's
 * right edge (N not a multiple of SF_NR) does no multiply-adds on its zero columns */
static inline __attribute__((always_inline)) void
sf_tile(int64_t kc, const float *restrict a, int64_t rs, int64_t ks, const float *restrict b,
        int64_t bs, int bmask, float *restrict C, int64_t ldc, float alpha, float beta, int first,
        int64_t mr, int64_t nr)
{
    if (nr > 16 * (SF_NV - 1))
        sf_ukernel(kc, a, rs, ks, b, bs, bmask, C, ldc, alpha, beta, first, mr, nr, SF_NV);
    else if (SF_NV > 2 && nr > 16)
        sf_ukernel(kc, a, rs, ks, b, bs, bmask, C, ldc, alpha, beta, first, mr, nr, SF_NV - 1);
    else
        sf_ukernel(kc, a, rs, ks, b, bs, bmask, C, ldc, alpha, beta, first, mr, nr, 1);
}

/* The product's geometry and epilogue, as the chunks see it. */
typedef struct {
    int ta, tb;
    int64_t M, N, K, lda, ldb, ldc, kb;
    const float *A, *B, *bias;
    float alpha, beta, act_alpha, *C;
    int act;
    /* When the chunks are one row of column blocks (side 1: every chunk reads all of A) or
     * one column of row blocks (side 2: all of B), that operand's panels are packed once,
     * by whichever chunk needs one first, into `shared` (slot p * nkb + t: panel p, K-block
     * t), with flags[slot] 0 (not packed), 1 (being packed) or 2 (packed). A chunk that
     * finds a panel being packed packs its own copy instead of waiting for it. */
    int side;
    /* B stored [K, N] read in place (b_rows) rather than packed: for a short C with short
     * rows of B, where a packed panel would serve only a few row blocks */
    int b_rows;
    int64_t nkb;
    float *shared;
    int *flags;
} sf_gemm_job;

/* C's rows, at most, for B stored [K, N] to be read in place (sf_sgemm_own) */
#define SF_B_ROWS_MAX_M 128

/* B's panels on the shared side, at most (the chunk's table of their addresses) */
#define SF_SHARED_MAX 64

/* A transposed and packed whole, shared by a row of chunks: at most this many floats
 * (32 MiB), beyond which each column of chunks packs its own. With the thresholds lowered
 * (sf_set_parallel_min, for tests) none is shared, so that tests take both paths. */
#define SF_SHARED_A_MAX \
    (sf_gemm_own_min_madds < SF_GEMM_OWN_MIN_DEFAULT ? (int64_t)0 : (int64_t)1 << 23)

/* The address of panel p's K-block t on the shared side: the shared copy when it is
 * packed or this call claims it, else `mine` (packed here). */
static const float *sf_shared_panel(const sf_gemm_job *j, int64_t p, int64_t t, int64_t k0,
                                    int64_t kc, float *mine)
{
    const int64_t w = j->side == 1 ? SF_MR : SF_NR, slot = p * j->nkb + t;
    float *dst = j->shared + slot * j->kb * w;
    int *flag = j->flags + slot;
    int state = __atomic_load_n(flag, __ATOMIC_ACQUIRE);
    if (state == 2) return dst;
    int expect = 0;
    if (state != 0 || !__atomic_compare_exchange_n(flag, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                                   __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 2) return dst;
        dst = mine;
        flag = NULL;
    }
    if (j->side == 1)
        sf_pack_a_rows(dst, j->A, j->lda, j->M, k0, kc, p, p + 1);
    else
        sf_pack_b(dst, j->tb, j->B, j->ldb, j->N, k0, kc, p * SF_NR);
    if (flag) __atomic_store_n(flag, 2, __ATOMIC_RELEASE);
    return dst;
}

/* One chunk of C: A panels [pa0, pa1) (rows), B panels [pb0, pb1) (columns). Per
 * K-block, the chunk packs its panels of B (unless read in place) and of a transposed A
 * into `buf` (kb deep), then every micro-tile of the chunk gets that K-block; a row
 * block's epilogue follows its last K-block. */
static void sf_chunk_run(const sf_gemm_job *j, int64_t pa0, int64_t pa1, int64_t pb0, int64_t pb1,
                         float *buf)
{
    const int64_t M = j->M, N = j->N, K = j->K;
    const int64_t r0 = pa0 * SF_MR, r1 = pa1 * SF_MR < M ? pa1 * SF_MR : M;
    const int64_t c0 = pb0 * SF_NR, c1 = pb1 * SF_NR < N ? pb1 * SF_NR : N;
    /* the chunk's packed panels: a transposed A's (one panel's room when A is shared), then
     * B's (buf is NULL when neither is) */
    float *ap = buf, *bp = !j->ta ? buf : buf + (j->side == 1 ? 1 : pa1 - pa0) * j->kb * SF_MR;
    const float *sp[SF_SHARED_MAX]; /* B's shared panels for this K-block (side 2) */
    for (int64_t k0 = 0, t = 0; k0 < K; k0 += j->kb, t++) {
        const int64_t kc = K - k0 < j->kb ? K - k0 : j->kb;
        const int first = k0 == 0, last = k0 + kc >= K;
        if (j->ta && j->side != 1) {
            sf_pack_a_rows(ap, j->A, j->lda, M, k0, kc, pa0, pa1);
        }
        for (int64_t p = pb0; p < pb1 && !j->b_rows; p++) {
            float *mine = bp + (p - pb0) * kc * SF_NR;
            if (j->side == 2)
                sp[p - pb0] = sf_shared_panel(j, p, t, k0, kc, mine);
            else
                sf_pack_b(mine, j->tb, j->B, j->ldb, N, k0, kc, p * SF_NR);
        }
        for (int64_t i = r0; i < r1; i += SF_MR) {
            const int64_t mr = r1 - i < SF_MR ? r1 - i : SF_MR;
            /* A's panel (packed when transposed) or its rows in place; the kernel is
             * inlined once per operand form, with that form's strides as constants */
            const float *a = !j->ta         ? j->A + i * j->lda + k0
                             : j->side == 1 ? sf_shared_panel(j, i / SF_MR, t, k0, kc, ap)
                                            : ap + (i - r0) / SF_MR * kc * SF_MR;
            for (int64_t jj = c0; jj < c1; jj += SF_NR) {
                const int64_t nr = c1 - jj;
                float *c = j->C + i * j->ldc + jj;
                if (j->b_rows) { /* never with a transposed A */
                    const float *b = j->B + k0 * j->ldb + jj;
                    if (nr >= SF_NR)
                        sf_ukernel(kc, a, j->lda, 1, b, j->ldb, 0, c, j->ldc, j->alpha, j->beta,
                                   first, mr, nr, SF_NV);
                    else
                        sf_tile(kc, a, j->lda, 1, b, j->ldb, 1, c, j->ldc, j->alpha, j->beta,
                                first, mr, nr);
                    continue;
                }
                const float *b = j->side == 2 ? sp[(jj - c0) / SF_NR] : bp + (jj - c0) / SF_NR * kc * SF_NR;
                if (j->ta)
                    sf_tile(kc, a, 1, SF_MR, b, SF_NR, 0, c, j->ldc, j->alpha, j->beta, first, mr,
                            nr);
                else
                    sf_tile(kc, a, j->lda, 1, b, SF_NR, 0, c, j->ldc, j->alpha, j->beta, first, mr,
                            nr);
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

/* A cap of at least cap / 2 whose pieces are a whole number per thread, where one is:
 * 13 chunks on two threads leave one running the last alone (1024x4096x4096 on two
 * cores: 16 chunks of 8 panels ran 1-5% faster than 13 of 10, the low end within this
 * VM's run-to-run noise). The chunks' shapes change no arithmetic, so the bits stay
 * those of any other thread count. */
static int64_t sf_even_cap(int64_t n, int64_t cap, int team)
{
    if (team < 2) return cap;
    for (int64_t c = cap; c >= 1 && 2 * c >= cap; c--)
        if (sf_pieces(n, c) % team == 0) return c;
    return cap;
}

int sf_sgemm_own(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                 const float *bias, int act, float act_alpha)
{
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    sf_gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, sf_kc(K), A, B, bias,
                     alpha, beta, act_alpha, C, act, 0, 0, 0, NULL, NULL};
    /* B read in place when C has at most SF_B_ROWS_MAX_M rows and B's rows fit half a
     * page (2 KiB): the eight K steps a prefetch looks ahead then stay within a few pages.
     * Same run, two cores: 64x3136x512 200 -> 218 GFLOPS, 128x512x512 212 -> 221; with
     * 4 KiB rows (N 1024 and up) in place was 20-25% slower. */
    j.b_rows = !ta && !tb && M <= SF_B_ROWS_MAX_M && ldb <= 512;
    /* C in a grid of chunks, each packing its own panels (but for a shared operand,
     * below): the threads never wait for each other before the end. Along C's
     * longer side, chunks of at most an eighth of it (room for two threads to even out
     * when another process holds one up); one K-block of a chunk's panels of each operand
     * up to twice the L2 (smaller chunks pack more often: every operand is packed once per
     * chunk across it). */
    const int64_t np_a = (M + SF_MR - 1) / SF_MR, np_b = (N + SF_NR - 1) / SF_NR;
    const int64_t l2h = sf_l2_bytes() / 2 / (j.kb * (int64_t)sizeof(float));
    int64_t cap_a = l2h / SF_MR, cap_b = l2h / SF_NR;
    /* Chunks four times those: every row of chunks packs B again (and with A transposed
     * and too large to share, every column packs A), which costs more than the panels'
     * spilling from L2. Two Zen 5 cores, against OpenBLAS in the same runs (before A's
     * packing was shared): 4096x4096x1024 with A transposed (the 4096-wide MLP's weight
     * gradient) 0.83x at one, 0.90x at twice, 0.90x at four times; 1024x4096x4096
     * 0.93x -> 1.00x and with B transposed 0.96x -> 0.99x at four times. */
    cap_a *= 4, cap_b *= 4;
    int team = omp_in_parallel() ? 1 : omp_get_max_threads();
    j.nkb = (K + j.kb - 1) / j.kb;
    /* A transposed and small enough to be packed whole and shared (side 1, below) */
    const int share_a = ta && np_a * j.nkb * j.kb * SF_MR <= SF_SHARED_A_MAX;
    if (N >= M) {
        if (cap_b > (np_b + 7) / 8) cap_b = (np_b + 7) / 8;
        cap_b = sf_even_cap(np_b, cap_b, team);
        /* one row of chunks, so that a shared A's panels are packed once rather than once
         * per column of chunks */
        if (share_a) cap_a = np_a;
    } else {
        if (cap_a > (np_a + 7) / 8) cap_a = (np_a + 7) / 8;
        cap_a = sf_even_cap(np_a, cap_a, team);
    }
    const int64_t na = sf_pieces(np_a, cap_a), nb = sf_pieces(np_b, cap_b), nchunks = na * nb;
    const int64_t per_a = (np_a + na - 1) / na, per_b = (np_b + nb - 1) / nb;
    const double work = (double)M * (double)N * (double)K;
    if (work < (double)SF_GEMM_PARALLEL_MIN || nchunks < 2) team = 1;
    if (team > nchunks) team = (int)nchunks;
    /* one operand read whole by every chunk, its packing shared: a transposed A's by the
     * chunks in turn, one thread or several (A stored [M, K] is never packed), or B's by
     * a team */
    if (share_a && na == 1 && nb > 1) j.side = 1;
    else if (team > 1 && !j.b_rows && nb == 1 && np_b <= SF_SHARED_MAX) j.side = 2;
    if (j.side) {
        const int64_t slots = (j.side == 1 ? np_a : np_b) * j.nkb;
        const int64_t floats = slots * j.kb * (j.side == 1 ? SF_MR : SF_NR);
        /* the flags after the panels, on their own cache lines */
        float *sh = sf_grow(&sf_shared_buf, &sf_shared_cap, floats + 16 + slots);
        if (sh) {
            j.shared = sh;
            j.flags = (int *)(sh + floats + 16);
            memset(j.flags, 0, (size_t)slots * sizeof(int));
        } else {
            j.side = 0;
        }
    }
    /* a chunk's own panels: a transposed A's (one panel's room when they are shared: it
     * packs its own copy of a panel that another thread is packing), and B's */
    const int64_t need =
        ((ta ? (j.side == 1 ? 1 : per_a) * SF_MR : 0) + (j.b_rows ? 0 : per_b * SF_NR)) * j.kb;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        /* no barrier before the chunks: a thread that another process holds up neither
         * delays the start nor holds a chunk until it runs */
        float *buf = need ? sf_grow(&sf_pack_buf, &sf_pack_cap, need) : NULL;
        /* chunks row-block-major when C is tall (a thread's next chunk reuses its rows'
         * cache lines), column-block-major when it is wide */
#pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < nchunks; q++) {
            const int64_t ia = N >= M ? q % na : q / nb, ib = N >= M ? q / na : q % nb;
            const int64_t a0 = ia * per_a, b0 = ib * per_b;
            if (a0 >= np_a || b0 >= np_b) continue;
            const int64_t a1 = a0 + per_a < np_a ? a0 + per_a : np_a;
            const int64_t b1 = b0 + per_b < np_b ? b0 + per_b : np_b;
            if (buf || !need) {
                sf_chunk_run(&j, a0, a1, b0, b1, buf);
            } else { /* no memory for the panels: BLAS on the chunk's block */
                const int64_t r0 = a0 * SF_MR, r1 = a1 * SF_MR < M ? a1 * SF_MR : M;
                const int64_t c0 = b0 * SF_NR, c1 = b1 * SF_NR < N ? b1 * SF_NR : N;
                scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                                  tb ? CblasTrans : CblasNoTrans, (blasint)(r1 - r0),
                                  (blasint)(c1 - c0), (blasint)K, alpha,
                                  ta ? A + r0 : A + r0 * lda, (blasint)lda,
                                  tb ? B + c0 * ldb : B + c0, (blasint)ldb, beta,
                                  C + r0 * ldc + c0, (blasint)ldc);
                if (bias || act != SF_ACT_NONE)
                    sf_epilogue_float32(C + r0 * ldc + c0, r1 - r0, c1 - c0, ldc,
                                        bias ? bias + c0 : NULL, act, act_alpha);
            }
        }
    }
    return 1;
}

int sf_sgemm_own_wins(int ta, int tb, int64_t M, int64_t N, int64_t K)
{
    /* small or skinny products: BLAS's lower fixed cost (and tighter edge tiles) wins;
     * with the threshold lowered (sf_set_parallel_min, for tests) every size takes the
     * own path */
    const double madds = (double)M * (double)N * (double)K;
    if (sf_gemm_own_min_madds < SF_GEMM_OWN_MIN_DEFAULT) return madds >= (double)sf_gemm_own_min_madds;
    if (M < 32 || N < 32) return 0;
    /* but a short K against a transposed B (a dense layer's input gradient from a narrow
     * next layer: 128x10 times 10x512) is 2-2.5x faster here at any size: BLAS threads
     * it poorly (two cores, 128x512x10 16 vs 35 us, 64x512x10 7.7 vs 19) */
    if (K < 16) return !ta && tb;
    if (madds < (double)sf_gemm_own_min_madds) return 0;
    /* a long product into a narrow C (a conv's filter gradient, 800 x 64 x 3136): BLAS's
     * packing of the tall operand is the faster there (64 vs 77 GFLOPS on one core) */
    return !(ta && N <= 64 && K > 2 * M);
}

#else /* no AVX-512: BLAS does every product */

int sf_sgemm_own_wins(int ta, int tb, int64_t M, int64_t N, int64_t K)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K;
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
