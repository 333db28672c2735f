/* The elementwise-style launch shared by elementwise.cu, cast.cu and array.cu's
 * copies: a grid-stride kernel over a view plan calling one body of
 * sf_cuda_bodies.h per element, and its launcher (host code). */
#ifndef SF_CUDA_EW_CUH
#define SF_CUDA_EW_CUH

#include "sf_cuda.cuh"
#include "sf_cuda_ew.h"

SF_CU_ERROR_SLOT(ew)

#define SF_CU_EW_KERNEL(NAME)                                                                   \
    static __global__ void k_##NAME(sf_ew_plan p, int64_t n, double alpha, unsigned long long *err) \
    {                                                                                           \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                   \
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {    \
            const int bad = sf_ew_elem_##NAME(&p, i, alpha);                                    \
            if (bad && err) atomicMax(err, (unsigned long long)bad);                            \
        }                                                                                       \
    }

/* Launches k_NAME over the plan; FALLIBLE kernels read the error slot back. */
static int sf_cu_ew_go(sf_call *c, const char *name,
                       void (*kern)(sf_ew_plan, int64_t, double, unsigned long long *), const sf_ew_plan *p,
                       int64_t n, int fallible)
{
    unsigned long long *err = NULL;
    int st;
    if (fallible && (st = sf_cu_err_begin_ew(c, name, 0ull, &err))) return st;
    kern<<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(*p, n, c->fattr[SF_FATTR_ALPHA], err);
    st = sf_cu_check(c, name);
    if (fallible) {
        unsigned long long e = 0;
        const int st2 = sf_cu_err_end_ew(c, name, &e);
        if (!st) st = st2;
        if (!st && e) st = sf_cu_ew_error(c, name, (int)e);
    }
    return st;
}

#define SF_CU_EW_PUBLIC(NAME, NIN, D0, D1, D2, DOUT, FALLIBLE)                                  \
    extern "C" int sf_cuda_##NAME(sf_call *c)                                                   \
    {                                                                                           \
        static const int32_t dts[3] = {D0, D1, D2};                                             \
        sf_ew_plan p;                                                                           \
        int64_t n = 0;                                                                          \
        int st = sf_cu_ew_prepare(c, "sf_cuda_" #NAME, NIN, dts, DOUT, &p, &n);                 \
        if (st || n == 0) return st;                                                            \
        return sf_cu_ew_go(c, "sf_cuda_" #NAME, k_##NAME, &p, n, FALLIBLE);                     \
    }

#endif
