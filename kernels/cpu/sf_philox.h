/* Philox4x32-10 and its word -> value conversions, shared by the C random
 * kernels (random.c) and the CUDA ones (kernels/cuda/sf_cuda_bodies.h), so
 * that both draw the same streams from one definition. random.c documents the
 * stream layout. SF_HD is __host__ __device__ under nvcc and empty in C. */
#ifndef SF_PHILOX_H
#define SF_PHILOX_H

#include <math.h>
#include <stdint.h>

#include "sf_hd.h"

#define SF_PH_M0 0xD2511F53u
#define SF_PH_M1 0xCD9E8D57u
#define SF_PH_W0 0x9E3779B9u
#define SF_PH_W1 0xBB67AE85u
/* Blocks each truncated_normal group owns. */
#define SF_TN_RESERVE 8
/* A truncated_normal group gives up after this many blocks (probability 0 in
 * practice) and fills what is left with 0. */
#define SF_TN_MAX_BLOCKS 4096
#define SF_TWO_PI 6.283185307179586476925286766559

typedef struct sf_ph_key {
    uint32_t k0, k1; /* the key: seed */
    uint32_t c2, c3; /* the counter's high words: seed2 */
    uint64_t ctr;    /* the state's counter: block 0 of this call */
} sf_ph_key;

/* The key of the state [seed, seed2, counter] (element stride st). */
SF_HD static inline sf_ph_key sf_ph_key_of(const int64_t *state, int64_t st)
{
    sf_ph_key k;
    const uint64_t seed = (uint64_t)state[0], seed2 = (uint64_t)state[st];
    k.k0 = (uint32_t)seed;
    k.k1 = (uint32_t)(seed >> 32);
    k.c2 = (uint32_t)seed2;
    k.c3 = (uint32_t)(seed2 >> 32);
    k.ctr = (uint64_t)state[2 * st];
    return k;
}

/* Block ctr + b: four words. */
SF_HD static inline void sf_philox(const sf_ph_key *k, uint64_t b, uint32_t w[4])
{
    const uint64_t c = k->ctr + b;
    uint32_t x0 = (uint32_t)c, x1 = (uint32_t)(c >> 32), x2 = k->c2, x3 = k->c3;
    uint32_t ka = k->k0, kb = k->k1;
    for (int r = 0; r < 10; r++) {
        const uint64_t p0 = (uint64_t)SF_PH_M0 * x0, p1 = (uint64_t)SF_PH_M1 * x2;
        const uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ ka;
        const uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ kb;
        x1 = (uint32_t)p1;
        x3 = (uint32_t)p0;
        x0 = y0;
        x2 = y2;
        ka += SF_PH_W0;
        kb += SF_PH_W1;
    }
    w[0] = x0;
    w[1] = x1;
    w[2] = x2;
    w[3] = x3;
}

/* ---- word -> value conversions ------------------------------------------ */

SF_HD static inline float sf_u01_f32(uint32_t w) { return (float)(w >> 8) * 5.9604644775390625e-08f; } /* 2^-24 */
/* (0, 1] */
SF_HD static inline float sf_u01c_f32(uint32_t w) { return (float)((w >> 8) + 1) * 5.9604644775390625e-08f; }
SF_HD static inline uint64_t sf_bits64(uint32_t hi, uint32_t lo) { return (uint64_t)hi << 32 | lo; }
SF_HD static inline double sf_u01_f64(uint64_t x) { return (double)(x >> 11) * 1.1102230246251565e-16; } /* 2^-53 */
/* (0, 1] */
SF_HD static inline double sf_u01c_f64(uint64_t x) { return (double)((x >> 11) + 1) * 1.1102230246251565e-16; }

/* Box-Muller: two normals from the words (a, b) [float32] */
SF_HD static inline void sf_bm_f32(uint32_t a, uint32_t b, float *z0, float *z1)
{
    const float r = sqrtf(-2.0f * logf(sf_u01c_f32(a)));
    const float t = (float)SF_TWO_PI * sf_u01_f32(b);
    *z0 = r * cosf(t);
    *z1 = r * sinf(t);
}

/* Box-Muller: two normals from one block [float64] */
SF_HD static inline void sf_bm_f64(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, double *z0, double *z1)
{
    const double r = sqrt(-2.0 * log(sf_u01c_f64(sf_bits64(w0, w1))));
    const double t = SF_TWO_PI * sf_u01_f64(sf_bits64(w2, w3));
    *z0 = r * cos(t);
    *z1 = r * sin(t);
}

/* The high 64 bits of a 64 x 64-bit product. */
SF_HD static inline uint64_t sf_mulhi64(uint64_t a, uint64_t b)
{
#ifdef __CUDA_ARCH__
    return __umul64hi(a, b);
#else
    __extension__ typedef unsigned __int128 sf_u128;
    return (uint64_t)(((sf_u128)a * b) >> 64);
#endif
}

#endif
