/* Vector math for the CPU kernel families (not part of the ABI); include it
 * after <math.h>.
 *
 * glibc >= 2.35 ships SIMD variants of every libm function declared here in
 * libmvec (linked through libm.so's AS_NEEDED), within 4 ulp per the glibc
 * manual. Declaring the functions simd lets GCC vectorise the exp, log, sin,
 * tanh, erf, pow, ... loops (math.h only does so under -ffast-math). Define
 * SF_NO_LIBMVEC to call the scalar functions instead. */
#ifndef SF_VECTOR_MATH_H
#define SF_VECTOR_MATH_H

#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(SF_NO_LIBMVEC)
#if __GLIBC_PREREQ(2, 35)
#define SF_VECTOR_MATH(F, T) T F(T) __attribute__((simd("notinbranch")));
#define SF_VECTOR_MATH2(F, T) T F(T, T) __attribute__((simd("notinbranch")));
SF_VECTOR_MATH(expf, float) SF_VECTOR_MATH(exp, double)
SF_VECTOR_MATH(expm1f, float) SF_VECTOR_MATH(expm1, double)
SF_VECTOR_MATH(logf, float) SF_VECTOR_MATH(log, double)
SF_VECTOR_MATH(log1pf, float) SF_VECTOR_MATH(log1p, double)
SF_VECTOR_MATH(sinf, float) SF_VECTOR_MATH(sin, double)
SF_VECTOR_MATH(cosf, float) SF_VECTOR_MATH(cos, double)
SF_VECTOR_MATH(erff, float) SF_VECTOR_MATH(erf, double)
SF_VECTOR_MATH(tanhf, float) SF_VECTOR_MATH(tanh, double)
SF_VECTOR_MATH2(powf, float) SF_VECTOR_MATH2(pow, double)
#endif
#endif

#endif
