/* 16-bit floats: float16 (IEEE binary16) and bfloat16, stored as their uint16_t
 * bit patterns. Kernels compute in float32 and round back to nearest, ties to
 * even, as TensorFlow's CPU kernels (Eigen::half, Eigen::bfloat16) do. A NaN
 * becomes the quiet NaN of its sign (Eigen's 0x7e00 / 0x7fc0).
 *
 * One header for the C kernels (through sf_internal.h), the CUDA kernels
 * (kernels/cuda/sf_cuda_bodies.h) and the fused kernels: SF_HD is
 * __host__ __device__ under nvcc and empty in C, so a value converts to the same
 * bits on either. Not part of the ABI. */
#ifndef SF_HALF_H
#define SF_HALF_H

#include <stdint.h>
#include <string.h>

#include "sf_hd.h"

SF_HD static inline uint32_t sf_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

SF_HD static inline float sf_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

SF_HD static inline float sf_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) /* Inf, NaN: keep the payload */
        return sf_bits_f32(sign | 0x7f800000u | ((em & 0x3ffu) << 13));
    if (em >= 0x0400u) /* normal: rebias the exponent */
        return sf_bits_f32(sign | ((em << 13) + ((uint32_t)(127 - 15) << 23)));
    /* zero or subnormal: em * 2^-24, exact in float */
    return sf_bits_f32(sign | sf_f32_bits((float)em * 5.9604644775390625e-08f));
}

SF_HD static inline uint16_t sf_float_to_half(float f)
{
    const uint32_t u = sf_f32_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;  /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 (and Inf) rounds to Inf */
    if (a < 0x38800000u) {                       /* below 2^-14: subnormal half */
        /* adding 0.5 puts the 2^-24 unit in float's last place; the FPU
         * rounds to nearest even, and the low bits are the half's bits */
        const float r = sf_bits_f32(a) + 0.5f;
        return sign | (uint16_t)(sf_f32_bits(r) - 0x3f000000u);
    }
    a += ((uint32_t)(15 - 127) << 23) + 0xfffu + ((a >> 13) & 1u); /* rebias, round half even */
    return sign | (uint16_t)(a >> 13);
}

SF_HD static inline float sf_bfloat16_to_float(uint16_t b) { return sf_bits_f32((uint32_t)b << 16); }

SF_HD static inline uint16_t sf_float_to_bfloat16(float f)
{
    uint32_t u = sf_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) & 0x8000u) | 0x7fc0u; /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round half even; overflow carries into Inf */
    return (uint16_t)(u >> 16);
}

/* By dtype name, for the kernels generated from the op lists: load a value as
 * float32, round a float32 back (SF_HLD_/SF_HST_); how a 16-bit-float op stores
 * a result of output dtype ODT (its own type rounded, bool as is) and the
 * output's storage type (SF_HOUT_/SF_HOUTT_). */
#define SF_HLD_float16(v) sf_half_to_float(v)
#define SF_HLD_bfloat16(v) sf_bfloat16_to_float(v)
#define SF_HST_float16(v) sf_float_to_half(v)
#define SF_HST_bfloat16(v) sf_float_to_bfloat16(v)
#define SF_HOUT_float16(v) sf_float_to_half(v)
#define SF_HOUT_bfloat16(v) sf_float_to_bfloat16(v)
#define SF_HOUT_bool(v) ((uint8_t)(v))
#define SF_HOUTT_float16 uint16_t
#define SF_HOUTT_bfloat16 uint16_t
#define SF_HOUTT_bool uint8_t

#endif
