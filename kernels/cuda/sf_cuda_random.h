/* The random kernels and their launchers (random.cu), for nvcc and the CPU
 * driver of the tests alike (sf_cuda_launch.h). */
#ifndef SF_CUDA_RANDOM_H
#define SF_CUDA_RANDOM_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"
#include "sf_sampler.h"

SF_KERNEL k_advance(int64_t *state, int64_t st, uint64_t blocks)
{
    state[2 * st] = (int64_t)((uint64_t)state[2 * st] + blocks);
}

#define X_GEN(KIND, DT, T, EPB, BLOCKS_PER_UNIT)                                                       \
    SF_KERNEL k_##KIND##_##DT(const int64_t *state, int64_t sst, T *o, int64_t n, uint64_t lo,         \
                              uint64_t range)                                                         \
    {                                                                                                 \
        const sf_ph_key k = sf_ph_key_of(state, sst);                                                 \
        const int64_t units = (n + EPB - 1) / EPB;                                                    \
        (void)lo;                                                                                     \
        (void)range;                                                                                  \
        SF_GRID_LOOP(u, units) {                                                                      \
            const int m = n - u * EPB < EPB ? (int)(n - u * EPB) : EPB;                               \
            SF_CU_GEN_##KIND(DT, &k, (uint64_t)u, o + u * EPB, m, lo, range);                          \
        }                                                                                             \
    }
#define SF_CU_GEN_uniform(DT, k, u, o, m, lo, range) sf_rand_uniform_##DT(k, u, o, m)
#define SF_CU_GEN_normal(DT, k, u, o, m, lo, range) sf_rand_normal_##DT(k, u, o, m)
#define SF_CU_GEN_truncated(DT, k, u, o, m, lo, range) sf_rand_truncated_##DT(k, u, o, m)
#define SF_CU_GEN_int(DT, k, u, o, m, lo, range) sf_rand_int_##DT(k, u, o, m, lo, range)

/* X(KIND, DT, T, EPB, BLOCKS_PER_UNIT, public name) */
#define SF_CU_RANDOM(X)                                                                         \
    X(uniform, float32, float, 4, 1, random_uniform_float32)                                    \
    X(uniform, float64, double, 2, 1, random_uniform_float64)                                   \
    X(normal, float32, float, 4, 1, random_normal_float32)                                      \
    X(normal, float64, double, 2, 1, random_normal_float64)                                     \
    X(truncated, float32, float, 4, SF_TN_RESERVE, truncated_normal_float32)                    \
    X(truncated, float64, double, 2, SF_TN_RESERVE, truncated_normal_float64)                   \
    X(int, int32, int32_t, 4, 1, random_uniform_int_int32)                                      \
    X(int, int64, int64_t, 2, 1, random_uniform_int_int64)

#define X_RANDOM(KIND, DT, T, EPB, BPU, PUBLIC)                                                  \
    X_GEN(KIND, DT, T, EPB, BPU)                                                                 \
    SF_PUBLIC sf_cuda_##PUBLIC(sf_call *c)                                                       \
    {                                                                                            \
        const char *name = "sf_cuda_" #PUBLIC;                                                   \
        const int is_int = sizeof(#KIND) == sizeof("int");                                       \
        const int nin = is_int ? 3 : 1;                                                          \
        uint64_t lo = 0, range = 0;                                                              \
        if (c->n_in != nin || c->n_out != 1) {                                                   \
            snprintf(c->msg, SF_MSG_LEN, "%s takes %d input(s) and 1 output, got %d and %d", name, nin, \
                     (int)c->n_in, (int)c->n_out);                                               \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        const sf_tensor *s = &c->in[0], *o = &c->out[0];                                         \
        if (s->dtype != SF_INT64 || s->ndim != 1 || s->shape[0] != 3) {                          \
            snprintf(c->msg, SF_MSG_LEN,                                                         \
                     "%s: in[0] must be the int64 state [seed, seed2, counter] of shape [3]", name); \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        if (o->dtype != SF_DTC_##DT || o->ndim < 0 || o->ndim > SF_MAX_DIMS) {                   \
            snprintf(c->msg, SF_MSG_LEN, "%s: the output has dtype %s", name,                    \
                     sf_cu_dtype_name(o->dtype));                                                \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        int64_t n = 1, expect = 1;                                                               \
        int contig = 1;                                                                          \
        for (int d = o->ndim - 1; d >= 0; d--) {                                                 \
            if (o->shape[d] < 0) {                                                               \
                snprintf(c->msg, SF_MSG_LEN, "%s: negative output dim", name);                   \
                return SF_ERR_INVALID_ARGUMENT;                                                  \
            }                                                                                    \
            if (o->shape[d] != 1 && o->strides[d] != expect) contig = 0;                         \
            expect *= o->shape[d];                                                               \
            n *= o->shape[d];                                                                    \
        }                                                                                        \
        if (n != 0 && !contig) {                                                                 \
            snprintf(c->msg, SF_MSG_LEN, "%s: the output must be contiguous", name);             \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        if (is_int) {                                                                            \
            T bounds[2];                                                                         \
            for (int i = 0; i < 2; i++) {                                                        \
                if (c->in[1 + i].dtype != SF_DTC_##DT) {                                         \
                    snprintf(c->msg, SF_MSG_LEN, "%s: minval and maxval must be %s", name, #DT); \
                    return SF_ERR_INVALID_ARGUMENT;                                              \
                }                                                                                \
                SF_TO_HOST(c, name, &bounds[i], c->in[1 + i].data, sizeof(T));                  \
            }                                                                                    \
            if (bounds[0] >= bounds[1]) {                                                        \
                snprintf(c->msg, SF_MSG_LEN, "Need minval < maxval: got %lld >= %lld", (long long)bounds[0], \
                         (long long)bounds[1]);                                                  \
                return SF_ERR_INVALID_ARGUMENT;                                                  \
            }                                                                                    \
            lo = (uint64_t)(int64_t)bounds[0];                                                   \
            range = (uint64_t)(int64_t)bounds[1] - lo;                                           \
        }                                                                                        \
        if (n == 0) return SF_OK;                                                                \
        const int64_t units = (n + EPB - 1) / EPB;                                               \
        SF_LAUNCH(c, name, k_##KIND##_##DT, units, (const int64_t *)s->data, s->strides[0], (T *)o->data, n, \
                  lo, range);                                                                    \
        SF_LAUNCH1(c, name, k_advance, (int64_t *)s->data, s->strides[0], (uint64_t)units * (BPU)); \
        return SF_OK;                                                                            \
    }
SF_CU_RANDOM(X_RANDOM)

/* ---- candidate samplers ---------------------------------------------------------------
 * random.c's sampler_kernel: draw t is element t of the float64 uniform stream, drawn in
 * sequence until num_sampled values are picked (distinct ones when unique), then the
 * expected counts. The draws depend on the draws before them (unique: on the set), so
 * one thread makes them, with the set in out[3], as the C kernel does; a first kernel
 * checks true_classes (the first bad index into the error slot) and the sampler skips
 * its work when it found one, so the stream does not move on a bad input. The slot
 * comes back in one wait: a bad index, SF_SAMPLER_GAVE_UP, or nothing.
 * The candidates equal the C kernel's bit for bit (the uniform sampler's integer
 * arithmetic; the log-uniform one's exp() within an ulp of the host's, which moves a
 * value only when exp lands within an ulp of an integer); the expected counts come
 * from the device's log, expm1f and log1pf (within a few ulp of the host's). */

SF_CU_ERROR_SLOT(random)

#define SF_SAMPLER_NONE 0xffffffffffffffffull
#define SF_SAMPLER_GAVE_UP 0x4000000000000000ull

SF_KERNEL k_sampler_check(const int64_t *tv, int64_t ts, int64_t n, int64_t range, unsigned long long *err)
{
    SF_GRID_LOOP(i, n) {
        const int64_t v = tv[i * ts];
        if (v < 0 || v >= range) SF_ATOMIC_MIN(err, (unsigned long long)i);
    }
}

typedef struct sf_sampler_args {
    sf_sampler s;
    int64_t n;
    int64_t so, ts, ses, tes; /* strides: candidates, true classes, their counts */
} sf_sampler_args;

SF_KERNEL k_sampler(sf_sampler_args a, int64_t *state, int64_t sst, const int64_t *tv, int64_t *out, float *te,
                    float *se, int64_t *slots, unsigned long long *err)
{
    if (*err != SF_SAMPLER_NONE) return; /* a bad true class: nothing drawn */
    const sf_ph_key k = sf_ph_key_of(state, sst);
    const int64_t tries = sf_sampler_pick(&a.s, &k, out, a.so, slots);
    if (tries < 0) {
        *err = SF_SAMPLER_GAVE_UP;
        return;
    }
    sf_sampler_counts(&a.s, tries, out, a.so, se, a.ses, tv, a.ts, a.n, te, a.tes);
    state[2 * sst] = (int64_t)(k.ctr + (uint64_t)((tries + 1) / 2));
}

static int sf_cu_sampler(sf_call *c, const char *name, int log_uniform)
{
    if (c->n_in != 2 || c->n_out != 4) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 2 inputs and 4 outputs, got %d and %d", name, (int)c->n_in,
                 (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *s = &c->in[0], *tc = &c->in[1], *cand = &c->out[0], *tec = &c->out[1], *sec = &c->out[2],
                    *set = &c->out[3];
    if (s->dtype != SF_INT64 || s->ndim != 1 || s->shape[0] != 3) {
        snprintf(c->msg, SF_MSG_LEN, "%s: in[0] must be the int64 state [seed, seed2, counter] of shape [3]", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (tc->dtype != SF_INT64 || cand->dtype != SF_INT64 || set->dtype != SF_INT64 || tec->dtype != SF_FLOAT32 ||
        sec->dtype != SF_FLOAT32) {
        snprintf(c->msg, SF_MSG_LEN, "%s: true_classes, the candidates and the set are int64, the counts float32",
                 name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (tc->ndim != 1 || cand->ndim != 1 || tec->ndim != 1 || sec->ndim != 1 || set->ndim != 1 ||
        tec->shape[0] != tc->shape[0] || sec->shape[0] != cand->shape[0]) {
        snprintf(c->msg, SF_MSG_LEN, "%s: true_classes [n] -> candidates [S], counts [n] and [S], set [cap]", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    sf_sampler_args a;
    a.s.log_uniform = log_uniform;
    a.n = tc->shape[0], a.s.batch = cand->shape[0], a.s.cap = set->shape[0];
    a.s.range = c->iattr[SF_SAMPLER_RANGE_MAX];
    a.s.unique = c->iattr[SF_SAMPLER_UNIQUE] != 0;
    if (a.s.range < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s: range_max must be >= 1, got %lld", name, (long long)a.s.range);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (a.s.unique && a.s.batch > a.s.range) {
        snprintf(c->msg, SF_MSG_LEN, "Sampler's range is too small.");
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (a.s.unique && (a.s.cap < 2 * a.s.batch || (a.s.cap & (a.s.cap - 1)) != 0)) {
        snprintf(c->msg, SF_MSG_LEN, "%s: the set needs a power-of-two size >= %lld", name,
                 (long long)(2 * a.s.batch));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (a.s.unique && set->strides[0] != 1 && a.s.cap > 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s: the set must be contiguous", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    a.s.log_range = log1p((double)a.s.range);
    a.so = cand->strides[0], a.ts = tc->strides[0], a.ses = sec->strides[0], a.tes = tec->strides[0];
    unsigned long long *err = NULL, got = SF_SAMPLER_NONE;
    int st = sf_cu_err_begin_random(c, name, SF_SAMPLER_NONE, &err);
    if (st) return st;
    if (a.n > 0)
        SF_LAUNCH_TO(st, c, name, k_sampler_check, a.n, (const int64_t *)tc->data, a.ts, a.n, a.s.range, err);
    if (!st)
        SF_LAUNCH1_TO(st, c, name, k_sampler, a, (int64_t *)s->data, s->strides[0], (const int64_t *)tc->data,
                     (int64_t *)cand->data, (float *)tec->data, (float *)sec->data, (int64_t *)set->data, err);
    const int st2 = sf_cu_err_end_random(c, name, &got); /* releases the slot */
    if (st) return st;
    if (st2) return st2;
    if (got == SF_SAMPLER_GAVE_UP) {
        snprintf(c->msg, SF_MSG_LEN, "%s: no %lld distinct values after %lld draws", name, (long long)a.s.batch,
                 (long long)SF_SAMPLER_MAX_TRIES);
        return SF_ERR_INTERNAL;
    }
    if (got != SF_SAMPLER_NONE) {
        int64_t v = 0;
        SF_TO_HOST(c, name, &v, (const int64_t *)tc->data + (int64_t)got * a.ts, sizeof v);
        snprintf(c->msg, SF_MSG_LEN, "`true_candidate` out of range [0, %lld), received %lld", (long long)a.s.range,
                 (long long)v);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

SF_PUBLIC sf_cuda_log_uniform_candidate_sampler_int64(sf_call *c)
{
    return sf_cu_sampler(c, "log_uniform_candidate_sampler", 1);
}

SF_PUBLIC sf_cuda_uniform_candidate_sampler_int64(sf_call *c)
{
    return sf_cu_sampler(c, "uniform_candidate_sampler", 0);
}

#define SF_SAMPLER_ENTRIES                                                                             \
    {"sf_cuda_log_uniform_candidate_sampler_int64", sf_cuda_log_uniform_candidate_sampler_int64},      \
        {"sf_cuda_uniform_candidate_sampler_int64", sf_cuda_uniform_candidate_sampler_int64},

#endif
