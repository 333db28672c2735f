/* Random kernels: counter-based Philox4x32-10 (Salmon, Moraes, Dror & Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123
 * constants), as TensorFlow and JAX use.
 *
 * State. in[0] is the op's state, an int64 tensor of shape [3]:
 * [seed, seed2, counter]. Philox's 64-bit key is seed (key word 0 its low
 * 32 bits, word 1 its high 32 bits); block b of a call is generated from the
 * 128-bit counter (lo32(counter + b), hi32(counter + b), lo32(seed2),
 * hi32(seed2)), which is TensorFlow's PhiloxRandom(seed, seed2) layout. A call
 * that uses B blocks writes counter + B back into in[0][2] (mod 2^64), so the
 * next call continues the stream.
 *
 * Elements. Each block gives four 32-bit words w0..w3. An element's value is
 * a function of (seed, seed2, counter + its block index) alone, so results do
 * not depend on the thread count:
 *   random_uniform float32      4 per block: element i <- block i/4, word i%4:
 *                               (w >> 8) * 2^-24, in [0, 1)
 *   random_uniform float64      2 per block: element i <- block i/2, words
 *                               (2j, 2j+1), j = i%2: ((w2j << 32 | w2j+1)
 *                               >> 11) * 2^-53, in [0, 1)
 *   random_normal float32       4 per block, Box-Muller on the pairs (w0, w1)
 *                               and (w2, w3): u1 = ((wa >> 8) + 1) * 2^-24 in
 *                               (0, 1] (never log(0)), u2 = (wb >> 8) * 2^-24,
 *                               z = sqrt(-2 log u1) * (cos, sin)(2 pi u2)
 *   random_normal float64       2 per block: u1 from (w0, w1), u2 from
 *                               (w2, w3), 53 bits each, the same transform
 *   truncated_normal            groups of 4 (float32) or 2 (float64) elements;
 *                               group g owns the SF_TN_RESERVE blocks from
 *                               counter + g * SF_TN_RESERVE: it takes the
 *                               normals of those blocks in order (as above),
 *                               keeping those with |z| <= 2, until the group
 *                               is full (TensorFlow's resampling; a group
 *                               needs more than its blocks with probability
 *                               < 1e-18, and then reads on into the next
 *                               group's blocks, still deterministically)
 *   random_uniform_int int32    4 per block: minval + floor(w * range / 2^32)
 *   random_uniform_int int64    2 per block: minval + floor(x * range / 2^64),
 *                               x = w2j << 32 | w2j+1
 * (range = maxval - minval; the bias of a range that does not divide 2^32 or
 * 2^64 is at most range / 2^32 or range / 2^64, like TensorFlow's modulo.)
 *   candidate samplers          one value per draw, draw t = element t of the
 *                               float64 uniform stream, drawn in sequence
 *                               (see "candidate samplers" below)
 *
 * Outputs are contiguous. Work of >= SF_PARALLEL_MIN elements runs on OpenMP
 * threads; Philox runs on PH_LANES blocks at a time in vectorized loops.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sf_internal.h"
#include "sf_philox.h"
#include "sf_sampler.h"

#include "sf_vector_math.h" /* libmvec variants of the Box-Muller log, sin, cos */

/* Blocks Philox runs at once (lanes of the vector loops). */
#define PH_LANES 16
/* Blocks per parallel task (a multiple of PH_LANES). */
#define TASK_BLOCKS 2048

/* The blocks at ctr + first + l * step, l in [0, PH_LANES): w[word][lane].
 * The words are held in 64-bit lanes (their high halves zero) so that the
 * 32 x 32 -> 64-bit products vectorize (vpmuludq). */
static void philox_lanes(const sf_ph_key *k, uint64_t first, uint64_t step, uint32_t w[4][PH_LANES])
{
    uint64_t x0[PH_LANES], x1[PH_LANES], x2[PH_LANES], x3[PH_LANES];
    for (int l = 0; l < PH_LANES; l++) {
        const uint64_t c = k->ctr + first + (uint64_t)l * step;
        x0[l] = c & 0xffffffffu;
        x1[l] = c >> 32;
        x2[l] = k->c2;
        x3[l] = k->c3;
    }
    uint64_t ka = k->k0, kb = k->k1;
    for (int r = 0; r < 10; r++) {
#pragma omp simd
        for (int l = 0; l < PH_LANES; l++) {
            const uint64_t p0 = (x0[l] & 0xffffffffu) * SF_PH_M0, p1 = (x2[l] & 0xffffffffu) * SF_PH_M1;
            const uint64_t y0 = (p1 >> 32) ^ x1[l] ^ ka;
            const uint64_t y2 = (p0 >> 32) ^ x3[l] ^ kb;
            x1[l] = p1 & 0xffffffffu;
            x3[l] = p0 & 0xffffffffu;
            x0[l] = y0;
            x2[l] = y2;
        }
        ka = (uint32_t)(ka + SF_PH_W0);
        kb = (uint32_t)(kb + SF_PH_W1);
    }
    for (int l = 0; l < PH_LANES; l++) {
        w[0][l] = (uint32_t)x0[l];
        w[1][l] = (uint32_t)x1[l];
        w[2][l] = (uint32_t)x2[l];
        w[3][l] = (uint32_t)x3[l];
    }
}

/* ---- word -> value conversions ------------------------------------------ */

/* sf_u01_*, sf_bits64 and Box-Muller (sf_bm_*): sf_philox.h */

/* A conversion turns PH_LANES blocks into PH_LANES * epb values, block-major
 * (lane l's values at dst[l * epb ...]). */
typedef void (*conv_fn)(const uint32_t w[4][PH_LANES], void *dst, const void *prm);

static void conv_uniform_f32(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    float *o = (float *)dst;
    (void)prm;
    for (int l = 0; l < PH_LANES; l++)
        for (int s = 0; s < 4; s++) o[l * 4 + s] = sf_u01_f32(w[s][l]);
}

static void conv_uniform_f64(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    double *o = (double *)dst;
    (void)prm;
    for (int l = 0; l < PH_LANES; l++) {
        o[l * 2] = sf_u01_f64(sf_bits64(w[0][l], w[1][l]));
        o[l * 2 + 1] = sf_u01_f64(sf_bits64(w[2][l], w[3][l]));
    }
}

/* Box-Muller over lanes, in separate loops (sin and cos of one argument in
 * one loop become a sincos call, which does not vectorize). */
static void conv_normal_f32(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    /* pair j: lanes j % PH_LANES, words (2p, 2p + 1) with p = j / PH_LANES */
    float r[2 * PH_LANES], t[2 * PH_LANES], zc[2 * PH_LANES], zs[2 * PH_LANES];
    const uint32_t *wa = &w[0][0];
    float *o = (float *)dst;
    (void)prm;
    for (int j = 0; j < 2 * PH_LANES; j++) {
        const int p = j / PH_LANES, l = j % PH_LANES;
        r[j] = sqrtf(-2.0f * logf(sf_u01c_f32(wa[2 * p * PH_LANES + l])));
        t[j] = (float)SF_TWO_PI * sf_u01_f32(wa[(2 * p + 1) * PH_LANES + l]);
    }
    for (int j = 0; j < 2 * PH_LANES; j++) zc[j] = r[j] * cosf(t[j]);
    for (int j = 0; j < 2 * PH_LANES; j++) zs[j] = r[j] * sinf(t[j]);
    for (int l = 0; l < PH_LANES; l++) {
        o[l * 4] = zc[l];
        o[l * 4 + 1] = zs[l];
        o[l * 4 + 2] = zc[PH_LANES + l];
        o[l * 4 + 3] = zs[PH_LANES + l];
    }
}

static void conv_normal_f64(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    double r[PH_LANES], t[PH_LANES], z[2][PH_LANES];
    double *o = (double *)dst;
    (void)prm;
    for (int l = 0; l < PH_LANES; l++) {
        r[l] = sqrt(-2.0 * log(sf_u01c_f64(sf_bits64(w[0][l], w[1][l]))));
        t[l] = SF_TWO_PI * sf_u01_f64(sf_bits64(w[2][l], w[3][l]));
    }
    for (int l = 0; l < PH_LANES; l++) z[0][l] = r[l] * cos(t[l]);
    for (int l = 0; l < PH_LANES; l++) z[1][l] = r[l] * sin(t[l]);
    for (int l = 0; l < PH_LANES; l++) {
        o[l * 2] = z[0][l];
        o[l * 2 + 1] = z[1][l];
    }
}

typedef struct int_prm {
    uint64_t lo;    /* minval, as unsigned */
    uint64_t range; /* maxval - minval, as unsigned (> 0) */
} int_prm;

static void conv_int_i32(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    const int_prm *p = (const int_prm *)prm;
    const uint32_t lo = (uint32_t)p->lo;
    const uint64_t range = p->range;
    int32_t *o = (int32_t *)dst;
    for (int l = 0; l < PH_LANES; l++)
        for (int s = 0; s < 4; s++) o[l * 4 + s] = (int32_t)(lo + (uint32_t)(((uint64_t)w[s][l] * range) >> 32));
}

static void conv_int_i64(const uint32_t w[4][PH_LANES], void *dst, const void *prm)
{
    const int_prm *p = (const int_prm *)prm;
    int64_t *o = (int64_t *)dst;
    for (int l = 0; l < PH_LANES; l++)
        for (int s = 0; s < 2; s++) {
            const uint64_t x = sf_bits64(w[2 * s][l], w[2 * s + 1][l]);
            o[l * 2 + s] = (int64_t)(p->lo + sf_mulhi64(x, p->range));
        }
}

/* ---- the drivers --------------------------------------------------------- */

/* Reads and checks the state in[0]; fills *k. */
static int state_read(sf_call *c, const char *name, sf_ph_key *k)
{
    const sf_tensor *s = &c->in[0];
    if (s->dtype != SF_INT64 || s->ndim != 1 || s->shape[0] != 3)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: in[0] must be the int64 state [seed, seed2, counter] of shape [3]", name);
    const int64_t *d = (const int64_t *)s->data, st = s->strides[0];
    *k = sf_ph_key_of(d, st);
    return SF_OK;
}

static void state_advance(sf_call *c, const sf_ph_key *k, uint64_t blocks)
{
    const sf_tensor *s = &c->in[0];
    ((int64_t *)s->data)[2 * s->strides[0]] = (int64_t)(k->ctr + blocks);
}

/* Checks arity and the output; *n gets its element count. */
static int out_check(sf_call *c, const char *name, int nin, int32_t code, int64_t *n)
{
    if (c->n_in != nin || c->n_out != 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes %d input(s) and 1 output, got %d and %d", name, nin,
                       (int)c->n_in, (int)c->n_out);
    const sf_tensor *o = &c->out[0];
    if (o->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the output has dtype code %d, expected %d", name,
                       (int)o->dtype, (int)code);
    if (o->ndim < 0 || o->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the output has %d dims", name, (int)o->ndim);
    for (int d = 0; d < o->ndim; d++)
        if (o->shape[d] < 0) return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: negative output dim", name);
    *n = sf_numel(o);
    if (*n != 0 && !sf_is_contiguous(o))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the output must be contiguous", name);
    return SF_OK;
}

/* n values, epb per block, esize bytes each, into out; returns the blocks
 * used. */
static uint64_t gen_run(const sf_ph_key *k, int64_t n, int epb, size_t esize, conv_fn f, const void *prm,
                        void *out)
{
    const int64_t nblocks = (n + epb - 1) / epb;
    const int64_t ntasks = (nblocks + TASK_BLOCKS - 1) / TASK_BLOCKS;
#pragma omp parallel for schedule(dynamic) if (n >= SF_PARALLEL_MIN)
    for (int64_t t = 0; t < ntasks; t++) {
        const int64_t b1 = (t + 1) * TASK_BLOCKS < nblocks ? (t + 1) * TASK_BLOCKS : nblocks;
        uint32_t w[4][PH_LANES];
        union { /* PH_LANES * epb values of up to 8 bytes */
            float f[PH_LANES * 4];
            double d[PH_LANES * 4];
            int32_t i[PH_LANES * 4];
            int64_t l[PH_LANES * 4];
        } tmp;
        for (int64_t b = t * TASK_BLOCKS; b < b1; b += PH_LANES) {
            philox_lanes(k, (uint64_t)b, 1, w);
            f(w, &tmp, prm);
            const int64_t e0 = b * epb, e1 = (b + PH_LANES) * epb < n ? (b + PH_LANES) * epb : n;
            memcpy((char *)out + (size_t)e0 * esize, &tmp, (size_t)(e1 - e0) * esize);
        }
    }
    return (uint64_t)nblocks;
}

/* truncated normal: groups of epb values, each from its SF_TN_RESERVE blocks */
#define DEF_TRUNC(DT, T, EPB)                                                                   \
    static void tn_fill_##DT(const sf_ph_key *k, uint64_t g, const T *first, T *dst, int64_t m)     \
    {                                                                                           \
        T v[EPB], z[EPB];                                                                       \
        int cnt = 0;                                                                            \
        for (int s = 0; s < EPB; s++)                                                           \
            if (fabs((double)first[s]) <= 2.0) v[cnt++] = first[s];                             \
        for (uint64_t a = 1; cnt < EPB && a < SF_TN_MAX_BLOCKS; a++) {                             \
            uint32_t w[4];                                                                      \
            sf_philox(k, g * SF_TN_RESERVE + a, w);                                               \
            tn_block_##DT(w, z);                                                                \
            for (int s = 0; s < EPB && cnt < EPB; s++)                                          \
                if (fabs((double)z[s]) <= 2.0) v[cnt++] = z[s];                                 \
        }                                                                                       \
        for (; cnt < EPB; cnt++) v[cnt] = 0;                                                    \
        for (int64_t s = 0; s < m; s++) dst[s] = v[s];                                          \
    }                                                                                           \
                                                                                                \
    static uint64_t tn_run_##DT(const sf_ph_key *k, int64_t n, T *out)                             \
    {                                                                                           \
        const int64_t ngroups = (n + EPB - 1) / EPB;                                            \
        const int64_t ntasks = (ngroups + TASK_BLOCKS - 1) / TASK_BLOCKS;                       \
        _Pragma("omp parallel for schedule(dynamic) if (n >= SF_PARALLEL_MIN)")                 \
        for (int64_t t = 0; t < ntasks; t++) {                                                  \
            const int64_t g1 = (t + 1) * TASK_BLOCKS < ngroups ? (t + 1) * TASK_BLOCKS : ngroups; \
            uint32_t w[4][PH_LANES];                                                            \
            T tmp[PH_LANES * EPB];                                                              \
            for (int64_t g = t * TASK_BLOCKS; g < g1; g += PH_LANES) {                          \
                philox_lanes(k, (uint64_t)g * SF_TN_RESERVE, SF_TN_RESERVE, w);                       \
                conv_normal_##DT(w, tmp, NULL);                                                 \
                for (int64_t l = 0; l < PH_LANES && g + l < g1; l++) {                          \
                    const int64_t e0 = (g + l) * EPB;                                           \
                    const int64_t m = n - e0 < EPB ? n - e0 : EPB;                              \
                    const T *z = tmp + l * EPB;                                                 \
                    int ok = 1;                                                                 \
                    for (int s = 0; s < EPB; s++) ok &= fabs((double)z[s]) <= 2.0;              \
                    if (ok)                                                                     \
                        for (int64_t s = 0; s < m; s++) out[e0 + s] = z[s];                     \
                    else                                                                        \
                        tn_fill_##DT(k, (uint64_t)(g + l), z, out + e0, m);                     \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        return (uint64_t)ngroups * SF_TN_RESERVE;                                                  \
    }

static inline void tn_block_f32(const uint32_t w[4], float z[4])
{
    sf_bm_f32(w[0], w[1], &z[0], &z[1]);
    sf_bm_f32(w[2], w[3], &z[2], &z[3]);
}

static inline void tn_block_f64(const uint32_t w[4], double z[2])
{
    sf_bm_f64(w[0], w[1], w[2], w[3], &z[0], &z[1]);
}

DEF_TRUNC(f32, float, 4)
DEF_TRUNC(f64, double, 2)

/* ---- the kernels --------------------------------------------------------- */

#define DEF_FLOAT_KERNELS(DT, CODE, SUF, EPB, T)                                               \
    int sf_cpu_random_uniform_##DT(sf_call *c)                                                 \
    {                                                                                          \
        sf_ph_key k;                                                                              \
        int64_t n;                                                                             \
        int st = out_check(c, "random_uniform_" #DT, 1, CODE, &n);                             \
        if (!st) st = state_read(c, "random_uniform_" #DT, &k);                                \
        if (st) return st;                                                                     \
        state_advance(c, &k, gen_run(&k, n, EPB, sizeof(T), conv_uniform_##SUF, NULL, c->out[0].data)); \
        return SF_OK;                                                                          \
    }                                                                                          \
    int sf_cpu_random_normal_##DT(sf_call *c)                                                  \
    {                                                                                          \
        sf_ph_key k;                                                                              \
        int64_t n;                                                                             \
        int st = out_check(c, "random_normal_" #DT, 1, CODE, &n);                              \
        if (!st) st = state_read(c, "random_normal_" #DT, &k);                                 \
        if (st) return st;                                                                     \
        state_advance(c, &k, gen_run(&k, n, EPB, sizeof(T), conv_normal_##SUF, NULL, c->out[0].data)); \
        return SF_OK;                                                                          \
    }                                                                                          \
    int sf_cpu_truncated_normal_##DT(sf_call *c)                                               \
    {                                                                                          \
        sf_ph_key k;                                                                              \
        int64_t n;                                                                             \
        int st = out_check(c, "truncated_normal_" #DT, 1, CODE, &n);                           \
        if (!st) st = state_read(c, "truncated_normal_" #DT, &k);                              \
        if (st) return st;                                                                     \
        state_advance(c, &k, tn_run_##SUF(&k, n, (T *)c->out[0].data));                        \
        return SF_OK;                                                                          \
    }

DEF_FLOAT_KERNELS(float32, SF_FLOAT32, f32, 4, float)
DEF_FLOAT_KERNELS(float64, SF_FLOAT64, f64, 2, double)

#define DEF_INT_KERNEL(DT, CODE, SUF, EPB, T)                                                  \
    int sf_cpu_random_uniform_int_##DT(sf_call *c)                                             \
    {                                                                                          \
        static const char name[] = "random_uniform_int_" #DT;                                  \
        sf_ph_key k;                                                                              \
        int64_t n;                                                                             \
        int st = out_check(c, name, 3, CODE, &n);                                              \
        if (!st) st = state_read(c, name, &k);                                                 \
        if (st) return st;                                                                     \
        for (int i = 1; i < 3; i++)                                                            \
            if (c->in[i].dtype != CODE || c->in[i].ndim < 0 || c->in[i].ndim > SF_MAX_DIMS ||  \
                sf_numel(&c->in[i]) != 1)                                                      \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s must be a scalar of the output's dtype", \
                               name, i == 1 ? "minval" : "maxval");                            \
        const T lo = *(const T *)c->in[1].data, hi = *(const T *)c->in[2].data;                \
        if (lo >= hi)                                                                          \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Need minval < maxval: got %lld >= %lld", \
                           (long long)lo, (long long)hi);                                      \
        int_prm p;                                                                             \
        p.lo = (uint64_t)(int64_t)lo;                                                          \
        p.range = (uint64_t)(int64_t)hi - (uint64_t)(int64_t)lo;                               \
        state_advance(c, &k, gen_run(&k, n, EPB, sizeof(T), conv_int_##SUF, &p, c->out[0].data)); \
        return SF_OK;                                                                          \
    }

DEF_INT_KERNEL(int32, SF_INT32, i32, 4, int32_t)
DEF_INT_KERNEL(int64, SF_INT64, i64, 2, int64_t)

/* ---- candidate samplers -------------------------------------------------- */

/* The draws and expected counts are sf_sampler.h's, shared with the CUDA kernels. */

static int sampler_kernel(sf_call *c, const char *name, int log_uniform)
{
    if (c->n_in != 2 || c->n_out != 4)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 2 inputs and 4 outputs, got %d and %d", name,
                       (int)c->n_in, (int)c->n_out);
    sf_ph_key k;
    int st = state_read(c, name, &k);
    if (st) return st;
    const sf_tensor *tc = &c->in[1], *cand = &c->out[0], *tec = &c->out[1], *sec = &c->out[2],
                    *set = &c->out[3];
    if (tc->dtype != SF_INT64 || cand->dtype != SF_INT64 || set->dtype != SF_INT64 ||
        tec->dtype != SF_FLOAT32 || sec->dtype != SF_FLOAT32)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: true_classes, the candidates and the set are int64, the counts float32", name);
    if (tc->ndim != 1 || cand->ndim != 1 || tec->ndim != 1 || sec->ndim != 1 || set->ndim != 1 ||
        tec->shape[0] != tc->shape[0] || sec->shape[0] != cand->shape[0])
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: true_classes [n] -> candidates [S], counts [n] and [S], set [cap]", name);
    const int64_t n = tc->shape[0], batch = cand->shape[0], cap = set->shape[0];
    const int64_t range = c->iattr[SF_SAMPLER_RANGE_MAX];
    const int unique = c->iattr[SF_SAMPLER_UNIQUE] != 0;
    if (range < 1) return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: range_max must be >= 1, got %lld", name,
                                  (long long)range);
    if (unique && batch > range) return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "Sampler's range is too small.");
    if (unique && (cap < 2 * batch || (cap & (cap - 1)) != 0))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the set needs a power-of-two size >= %lld", name,
                       (long long)(2 * batch));
    /* as TensorFlow, before anything is drawn: the stream does not move on a bad input */
    const int64_t *tv = (const int64_t *)tc->data;
    for (int64_t i = 0; i < n; i++) {
        const int64_t v = tv[i * tc->strides[0]];
        if (v < 0 || v >= range)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "`true_candidate` out of range [0, %lld), received %lld",
                           (long long)range, (long long)v);
    }
    const sf_sampler s = {log_uniform, unique, range, batch, cap, log1p((double)range)};
    int64_t *out = (int64_t *)cand->data, *slots = (int64_t *)set->data;
    if (unique && set->strides[0] != 1 && cap > 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the set must be contiguous", name);
    const int64_t tries = sf_sampler_pick(&s, &k, out, cand->strides[0], slots);
    if (tries < 0)
        return sf_fail(c, SF_ERR_INTERNAL, "%s: no %lld distinct values after %lld draws", name, (long long)batch,
                       (long long)SF_SAMPLER_MAX_TRIES);
    sf_sampler_counts(&s, tries, out, cand->strides[0], (float *)sec->data, sec->strides[0], tv, tc->strides[0], n,
                      (float *)tec->data, tec->strides[0]);
    state_advance(c, &k, (uint64_t)((tries + 1) / 2));
    return SF_OK;
}

int sf_cpu_log_uniform_candidate_sampler_int64(sf_call *c)
{
    return sampler_kernel(c, "log_uniform_candidate_sampler", 1);
}

int sf_cpu_uniform_candidate_sampler_int64(sf_call *c)
{
    return sampler_kernel(c, "uniform_candidate_sampler", 0);
}

static const sf_kernel_entry rnd_entries[] = {
    {"sf_cpu_random_uniform_float32", sf_cpu_random_uniform_float32},
    {"sf_cpu_random_uniform_float64", sf_cpu_random_uniform_float64},
    {"sf_cpu_random_normal_float32", sf_cpu_random_normal_float32},
    {"sf_cpu_random_normal_float64", sf_cpu_random_normal_float64},
    {"sf_cpu_truncated_normal_float32", sf_cpu_truncated_normal_float32},
    {"sf_cpu_truncated_normal_float64", sf_cpu_truncated_normal_float64},
    {"sf_cpu_random_uniform_int_int32", sf_cpu_random_uniform_int_int32},
    {"sf_cpu_random_uniform_int_int64", sf_cpu_random_uniform_int_int64},
    {"sf_cpu_log_uniform_candidate_sampler_int64", sf_cpu_log_uniform_candidate_sampler_int64},
    {"sf_cpu_uniform_candidate_sampler_int64", sf_cpu_uniform_candidate_sampler_int64},
};

int64_t sf_cpu_random_entries(const sf_kernel_entry **out)
{
    if (out) *out = rnd_entries;
    return (int64_t)(sizeof rnd_entries / sizeof rnd_entries[0]);
}
