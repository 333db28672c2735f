/* The candidate samplers' draws and expected counts, shared by random.c and the CUDA
 * kernels (SF_HD), so both draw the same values from the same stream.
 *
 * TensorFlow's RangeSampler::SampleBatchGetExpectedCount (range_sampler.cc): draws of
 * the sampler's distribution over [0, range_max) until num_sampled values are picked
 * (distinct ones when unique), then each value's expected count in num_sampled picks
 * made with num_tries draws. Draw t is element t of the float64 uniform stream (block
 * t / 2, words (0, 1) or (2, 3)):
 *   log-uniform  v = (int64)exp(u * log1p(range_max)) - 1, mod range_max,
 *                P(v) = log((v + 2) / (v + 1)) / log1p(range_max)
 *   uniform      v = floor(x * range_max / 2^64) of the draw's 64 bits x,
 *                P(v) = 1 / range_max
 * Expected counts are float32, as TensorFlow computes them:
 *   p * num_sampled when num_tries == num_sampled, else
 *   -expm1(num_tries * log1p(-p)). */
#ifndef SF_SAMPLER_H
#define SF_SAMPLER_H

#include <math.h>
#include <stdint.h>

#include "sf_hd.h"
#include "sf_philox.h"

#define SF_SAMPLER_MAX_TRIES 2147483647LL /* TF's kint32max */

typedef struct sf_sampler {
    int log_uniform, unique;
    int64_t range, batch;
    int64_t cap; /* slots of the set (unique): a power of two, at least 2 batch */
    double log_range; /* log1p(range) */
} sf_sampler;

SF_HD static inline int64_t sf_sampler_draw(const sf_sampler *s, const uint32_t w[4], int half)
{
    const uint64_t x = sf_bits64(w[2 * half], w[2 * half + 1]);
    if (s->log_uniform) {
        const int64_t v = (int64_t)exp(sf_u01_f64(x) * s->log_range) - 1;
        return v % s->range;
    }
    return (int64_t)sf_mulhi64(x, (uint64_t)s->range);
}

SF_HD static inline float sf_sampler_prob(const sf_sampler *s, int64_t v)
{
    if (s->log_uniform) return (float)(log((v + 2.0) / (v + 1.0)) / s->log_range);
    return (float)(1.0 / (double)s->range);
}

SF_HD static inline float sf_sampler_expected(float p, int64_t batch, int64_t tries)
{
    if (tries == batch) return p * (float)batch;
    return -expm1f((float)tries * log1pf(-p));
}

/* Open addressing over cap (a power of two) slots, -1 marking an empty one: 1 when v
 * was added, 0 when it was there. */
SF_HD static inline int sf_sampler_insert(int64_t *slots, int64_t cap, int64_t v)
{
    uint64_t h = ((uint64_t)v * 0x9E3779B97F4A7C15ull) & (uint64_t)(cap - 1);
    while (slots[h] != -1) {
        if (slots[h] == v) return 0;
        h = (h + 1) & (uint64_t)(cap - 1);
    }
    slots[h] = v;
    return 1;
}

/* The batch's values into out (stride so), distinct ones through the set `slots` when
 * unique: the number of draws made, or -1 when SF_SAMPLER_MAX_TRIES draws left too few
 * distinct values. The draws depend on those before them, so this runs on one thread. */
SF_HD static inline int64_t sf_sampler_pick(const sf_sampler *s, const sf_ph_key *k, int64_t *out, int64_t so,
                                            int64_t *slots)
{
    int64_t tries = 0;
    uint32_t w[4] = {0, 0, 0, 0};
    if (s->unique) {
        for (int64_t i = 0; i < s->cap; i++) slots[i] = -1;
        int64_t picked = 0;
        while (picked < s->batch) {
            if (tries >= SF_SAMPLER_MAX_TRIES) return -1;
            if ((tries & 1) == 0) sf_philox(k, (uint64_t)(tries >> 1), w);
            const int64_t v = sf_sampler_draw(s, w, (int)(tries & 1));
            tries++;
            if (sf_sampler_insert(slots, s->cap, v)) out[picked++ * so] = v;
        }
    } else {
        for (; tries < s->batch; tries++) {
            if ((tries & 1) == 0) sf_philox(k, (uint64_t)(tries >> 1), w);
            out[tries * so] = sf_sampler_draw(s, w, (int)(tries & 1));
        }
    }
    return tries;
}

/* The expected counts of the batch's values (into se) and of the true classes tv (into
 * te), given the draws made. */
SF_HD static inline void sf_sampler_counts(const sf_sampler *s, int64_t tries, const int64_t *out, int64_t so,
                                           float *se, int64_t ses, const int64_t *tv, int64_t ts, int64_t n,
                                           float *te, int64_t tes)
{
    for (int64_t i = 0; i < s->batch; i++)
        se[i * ses] = sf_sampler_expected(sf_sampler_prob(s, out[i * so]), s->batch, tries);
    for (int64_t i = 0; i < n; i++)
        te[i * tes] = sf_sampler_expected(sf_sampler_prob(s, tv[i * ts]), s->batch, tries);
}

#endif
