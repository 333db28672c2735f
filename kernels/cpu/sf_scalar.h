/* Scalar helpers of the elementwise ops (not part of the ABI): the functions the
 * expressions of staticflow/ops/scalar_table.py call, shared by the hand-written
 * kernels (elementwise.c) and the fused kernels generated at plan time. Include
 * it after <math.h>, "sf_internal.h" and "sf_vector_math.h". */
#ifndef SF_SCALAR_H
#define SF_SCALAR_H

#include <math.h>
#include <stdint.h>

/* SF_HD marks the helpers __host__ __device__ where the CUDA kernels include
 * this header (kernels/cuda/sf_cuda_bodies.h defines it); empty in C. */
#ifndef SF_HD
#define SF_HD
#endif

/* Errors an expression reports through `bad` (0 is success). */
enum { EW_DIV_BY_ZERO = 1, EW_MOD_BY_ZERO = 2, EW_NEG_POW = 3 };

/* float32 exp and tanh of the CPU kernels, in plain arithmetic so that every loop
 * over them vectorizes inline (a libmvec call spills the loop's live vectors and
 * costs as much again as these). Exhaustively checked over all 2^32 inputs against
 * double precision: exp within 1.2 ulp (denormal results included), tanh within
 * 2.5 ulp; +-inf and NaN as libm gives them. CUDA keeps its own expf and tanhf. */
#ifndef __CUDACC__
typedef union { float f; uint32_t u; } sf_f32_pun;
static inline float sf_f32_of_bits(uint32_t u) { sf_f32_pun v; v.u = u; return v.f; }
static inline uint32_t sf_bits_of_f32(float f) { sf_f32_pun v; v.f = f; return v.u; }

/* 1.5 * 2^23: x + SF_EXP_SHIFTER rounds x to an integer n, held in the low mantissa bits */
#define SF_EXP_SHIFTER 12582912.0f

/* e^r - 1 for |r| <= ln(2) / 2: r + r^2 P(r), P a degree-4 fit (relative error 2e-8) */
static inline float sf_expm1_reduced(float r)
{
    float p = 0.0013953587f;
    p = p * r + 0.0083611757f;
    p = p * r + 0.04166624f;
    p = p * r + 0.1666659f;
    p = p * r + 0.5f;
    return p * (r * r) + r;
}

/* Cody-Waite: x = n ln2 + r with |r| <= ln(2) / 2, ln2 split so that n * hi is exact.
 * Returns x / ln2 + SF_EXP_SHIFTER, whose low mantissa bits hold n; r in *r. */
static inline float sf_exp_reduce(float x, float *r)
{
    const float t = x * 1.44269504088896341f + SF_EXP_SHIFTER;
    const float n = t - SF_EXP_SHIFTER;
    *r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    return t;
}

/* e^x = 2^n e^r, the scale applied as two factors so that results down to the smallest
 * denormal come out right. Inputs are clamped where e^x is already 0 or inf in float32. */
static inline float sf_expf(float x)
{
    x = x < -104.0f ? -104.0f : x; /* NaN stays NaN through both */
    x = x > 89.0f ? 89.0f : x;
    float r;
    const float t = sf_exp_reduce(x, &r);
    const float p = sf_expm1_reduced(r) + 1.0f;
    const int32_t ni = (int32_t)(sf_bits_of_f32(t) - sf_bits_of_f32(SF_EXP_SHIFTER));
    const int32_t n1 = ni / 2, n2 = ni - n1;
    return p * sf_f32_of_bits((uint32_t)(n1 + 127) << 23) * sf_f32_of_bits((uint32_t)(n2 + 127) << 23);
}

/* tanh|x| = m / (m + 2) with m = e^(2|x|) - 1 = 2^n (e^r - 1) + (2^n - 1), which keeps
 * e^r - 1's relative accuracy near 0; |x| >= 9 gives 1 in float32. */
static inline float sf_tanhf(float x)
{
    float a = fabsf(x) * 2.0f;
    a = a > 18.0f ? 18.0f : a; /* NaN stays NaN */
    float r;
    const float t = sf_exp_reduce(a, &r);
    const float s = sf_f32_of_bits((sf_bits_of_f32(t) << 23) + (127u << 23)); /* 2^n, 0 <= n <= 26 */
    const float m = s * sf_expm1_reduced(r) + (s - 1.0f);
    return copysignf(m / (m + 2.0f), x);
}
#define SF_EXPF sf_expf
#define SF_TANHF sf_tanhf
#else
#define SF_EXPF expf
#define SF_TANHF tanhf
#endif

/* exp_<dtype> and tanh_<dtype>: the expressions' exp and tanh (float16 and bfloat16
 * compute in float32) */
#define DEF_EXP_HELPERS(DT, T, EXP, TANH)                                      \
    static inline SF_HD T exp_##DT(T x) { return EXP(x); }                    \
    static inline SF_HD T tanh_##DT(T x) { return TANH(x); }
DEF_EXP_HELPERS(float32, float, SF_EXPF, SF_TANHF)
DEF_EXP_HELPERS(float64, double, exp, tanh)
DEF_EXP_HELPERS(float16, float, SF_EXPF, SF_TANHF)
DEF_EXP_HELPERS(bfloat16, float, SF_EXPF, SF_TANHF)


#define DEF_FLOAT_HELPERS(DT, T, S)                                            \
    static inline SF_HD T sign_##DT(T x) { return x > 0 ? (T)1 : x < 0 ? (T)-1 : x; } \
    /* exp of -|x| never overflows; NaN stays NaN */                          \
    static inline SF_HD T sigmoid_##DT(T x)                                          \
    {                                                                          \
        const T e = exp_##DT(-fabs##S(x));                                       \
        const T r = (T)1 / ((T)1 + e);                                         \
        return x >= 0 ? r : e * r;                                             \
    }                                                                          \
    /* floor mod, like np.mod: the result takes the divisor's sign */         \
    static inline SF_HD T mod_##DT(T x, T y)                                         \
    {                                                                          \
        T r = fmod##S(x, y);                                                   \
        if (r != 0) {                                                          \
            if ((r < 0) != (y < 0)) r += y;                                    \
        } else {                                                               \
            r = copysign##S((T)0, y);                                          \
        }                                                                      \
        return r;                                                              \
    }                                                                          \
    /* NaN-propagating, like np.maximum / np.minimum: the plain select, then x where x */ \
    /* is NaN, as two selects in a row (GCC 12 vectorizes these in long fused loops; */   \
    /* a nested select or || it does not) */                                             \
    static inline SF_HD T max_##DT(T x, T y) { T r = x > y ? x : y; return x != x ? x : r; }    \
    static inline SF_HD T min_##DT(T x, T y) { T r = x < y ? x : y; return x != x ? x : r; }

DEF_FLOAT_HELPERS(float32, float, f)
DEF_FLOAT_HELPERS(float64, double, )
/* float16 and bfloat16 compute in float32 */
DEF_FLOAT_HELPERS(float16, float, f)
DEF_FLOAT_HELPERS(bfloat16, float, f)

/* SELU's constants, TensorFlow's (SELU_SCALE_ALPHA = scale * alpha). */
#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE_ALPHA 1.7580993408473768599402175208123

/* Activations. softplus is max(x, 0) + log1p(exp(-|x|)): exp never
 * overflows, and large |x| loses nothing to cancellation. */
#define DEF_ACT_HELPERS(DT, T, S)                                              \
    static inline SF_HD T softplus_##DT(T x)                                         \
    {                                                                          \
        return (x > 0 ? x : (T)0) + log1p##S(exp_##DT(-fabs##S(x)));             \
    }                                                                          \
    static inline SF_HD T elu_##DT(T x) { return x > 0 ? x : expm1##S(x); }          \
    static inline SF_HD T selu_##DT(T x)                                             \
    {                                                                          \
        return x > 0 ? (T)SELU_SCALE * x : (T)SELU_SCALE_ALPHA * expm1##S(x);  \
    }

DEF_ACT_HELPERS(float32, float, f)
DEF_ACT_HELPERS(float64, double, )
DEF_ACT_HELPERS(float16, float, f)
DEF_ACT_HELPERS(bfloat16, float, f)

/* Integer helpers. Arithmetic that may overflow goes through the unsigned
 * type UT, so it wraps (like NumPy) instead of being undefined. */
#define DEF_INT_HELPERS(DT, T, UT)                                             \
    /* rounds toward -inf, like Python's // */                                \
    static inline SF_HD T floordiv_##DT(T x, T y, int *bad)                          \
    {                                                                          \
        if (y == 0) { *bad = EW_DIV_BY_ZERO; return 0; }                       \
        if (y == -1) return (T)((UT)0 - (UT)x); /* MIN / -1 wraps */           \
        T q = x / y;                                                           \
        if (x % y != 0 && (x < 0) != (y < 0)) q--;                             \
        return q;                                                              \
    }                                                                          \
    static inline SF_HD T mod_##DT(T x, T y, int *bad)                               \
    {                                                                          \
        if (y == 0) { *bad = EW_MOD_BY_ZERO; return 0; }                       \
        if (y == -1) return 0; /* MIN % -1 would trap */                       \
        T r = x % y;                                                           \
        if (r != 0 && (r < 0) != (y < 0)) r += y;                              \
        return r;                                                              \
    }                                                                          \
    /* by repeated squaring, wrapping */                                      \
    static inline SF_HD T pow_##DT(T x, T y, int *bad)                               \
    {                                                                          \
        if (y < 0) { *bad = EW_NEG_POW; return 0; }                            \
        UT r = 1, b = (UT)x;                                                   \
        while (y) {                                                            \
            if (y & 1) r *= b;                                                 \
            b *= b;                                                            \
            y >>= 1;                                                           \
        }                                                                      \
        return (T)r;                                                           \
    }

DEF_INT_HELPERS(int32, int32_t, uint32_t)
DEF_INT_HELPERS(int64, int64_t, uint64_t)
/* narrow types wrap through uint32_t: their products promote to int, which
 * could overflow */
DEF_INT_HELPERS(int8, int8_t, uint32_t)
DEF_INT_HELPERS(int16, int16_t, uint32_t)

/* Unsigned helpers: division rounds toward zero, which is floor here. */
#define DEF_UINT_HELPERS(DT, T)                                                \
    static inline SF_HD T floordiv_##DT(T x, T y, int *bad)                          \
    {                                                                          \
        if (y == 0) { *bad = EW_DIV_BY_ZERO; return 0; }                       \
        return (T)(x / y);                                                     \
    }                                                                          \
    static inline SF_HD T mod_##DT(T x, T y, int *bad)                               \
    {                                                                          \
        if (y == 0) { *bad = EW_MOD_BY_ZERO; return 0; }                       \
        return (T)(x % y);                                                     \
    }

DEF_UINT_HELPERS(uint8, uint8_t)
DEF_UINT_HELPERS(uint16, uint16_t)
DEF_UINT_HELPERS(uint32, uint32_t)
DEF_UINT_HELPERS(uint64, uint64_t)

/* float -> int: truncate toward zero, saturate, NaN -> 0. The bounds are
 * MAX + 1 and MIN - 1 rounded to the float type: every x strictly between
 * them truncates into range, and a bound that rounded onto MIN or MAX itself
 * saturates to that same value. */
#define DEF_SAT(SDT, ST, DDT, DT_T, MINV, MAXV)                                \
    static inline SF_HD DT_T sat_##SDT##_##DDT(ST x)                                 \
    {                                                                          \
        return x != x ? 0 : x >= (ST)(MAXV) + (ST)1 ? (MAXV) : x <= (ST)(MINV) - (ST)1 ? (MINV) : (DT_T)x; \
    }
#define DEF_SATS(SDT, ST)                                        \
    DEF_SAT(SDT, ST, int32, int32_t, INT32_MIN, INT32_MAX)       \
    DEF_SAT(SDT, ST, int64, int64_t, INT64_MIN, INT64_MAX)       \
    DEF_SAT(SDT, ST, uint8, uint8_t, 0, UINT8_MAX)               \
    DEF_SAT(SDT, ST, int8, int8_t, INT8_MIN, INT8_MAX)           \
    DEF_SAT(SDT, ST, int16, int16_t, INT16_MIN, INT16_MAX)       \
    DEF_SAT(SDT, ST, uint16, uint16_t, 0, UINT16_MAX)            \
    DEF_SAT(SDT, ST, uint32, uint32_t, 0, UINT32_MAX)            \
    DEF_SAT(SDT, ST, uint64, uint64_t, 0, UINT64_MAX)
DEF_SATS(float32, float)
DEF_SATS(float64, double)

/* cast's conversions by (source kind, destination kind): KF float, KI integer, KB
 * bool, KH 16-bit float (SF_HLD_/SF_HST_ of sf_half.h, included before use). S and
 * D name the dtypes, T is the destination's C type. float to int truncates and
 * saturates (NaN -> 0); int to int wraps, like NumPy's astype; to bool is x != 0;
 * 16-bit floats go through float32, as TensorFlow's Eigen::half(x) and
 * Eigen::bfloat16(x) do (float64 and integers are first converted to float32).
 * elementwise.c's casts and the CUDA casts expand the same macros. */
#define SF_CVT_KFKF(S, D, T, x) ((T)(x))
#define SF_CVT_KFKI(S, D, T, x) sat_##S##_##D(x)
#define SF_CVT_KFKB(S, D, T, x) ((uint8_t)((x) != 0))
#define SF_CVT_KIKF(S, D, T, x) ((T)(x))
#define SF_CVT_KIKI(S, D, T, x) ((T)(x))
#define SF_CVT_KIKB(S, D, T, x) ((uint8_t)((x) != 0))
#define SF_CVT_KBKF(S, D, T, x) ((T)((x) != 0))
#define SF_CVT_KBKI(S, D, T, x) ((T)((x) != 0))
#define SF_CVT_KBKB(S, D, T, x) ((uint8_t)((x) != 0))
#define SF_CVT_KHKF(S, D, T, x) ((T)SF_HLD_##S(x))
#define SF_CVT_KHKI(S, D, T, x) sat_float32_##D(SF_HLD_##S(x))
#define SF_CVT_KHKB(S, D, T, x) ((uint8_t)(SF_HLD_##S(x) != 0))
#define SF_CVT_KHKH(S, D, T, x) SF_HST_##D(SF_HLD_##S(x))
#define SF_CVT_KFKH(S, D, T, x) SF_HST_##D((float)(x))
#define SF_CVT_KIKH(S, D, T, x) SF_HST_##D((float)(x))
#define SF_CVT_KBKH(S, D, T, x) SF_HST_##D((x) != 0 ? 1.0f : 0.0f)

#endif
