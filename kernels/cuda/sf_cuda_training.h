/* The optimizer updates (training.cu) for nvcc and the CPU driver alike
 * (sf_cuda_launch.h): sf_cuda_apply_<opt>_<dt> (float32, float64), training.c's
 * ops, expressions and checks (in place; hyper-parameters are device scalars
 * each thread reads). One thread per element, grid-stride. */
#ifndef SF_CUDA_TRAINING_H
#define SF_CUDA_TRAINING_H

#include "sf_cuda_launch.h"

#define SF_TR_KERNEL(OPT, NIN, MASK, DT, T)                                                     \
    SF_KERNEL k_apply_##OPT##_##DT(sf_tr_args a, int64_t n, int flag)                           \
    {                                                                                           \
        void *const *in = a.in;                                                                 \
        (void)flag;                                                                             \
        SF_GRID_LOOP(i, n) SF_TR_APPLY_##OPT(DT, T, i, in, flag);                               \
    }                                                                                           \
    SF_PUBLIC sf_cuda_apply_##OPT##_##DT(sf_call *c)                                            \
    {                                                                                           \
        const char *name = "sf_cuda_apply_" #OPT "_" #DT;                                       \
        int64_t n = 0;                                                                          \
        int st = sf_tr_check(c, name, SF_DTC_##DT, NIN, MASK, &n);                              \
        if (st || n == 0) return st;                                                            \
        sf_tr_args a;                                                                           \
        for (int i = 0; i < 10; i++) a.in[i] = i < NIN ? c->in[i].data : NULL;                  \
        SF_LAUNCH(c, name, k_apply_##OPT##_##DT, n, a, n, (int)c->iattr[SF_APPLY_USE_NESTEROV]); \
        return SF_OK;                                                                           \
    }
#define SF_TR_F32(OPT, NIN, MASK) SF_TR_KERNEL(OPT, NIN, MASK, float32, float)
#define SF_TR_F64(OPT, NIN, MASK) SF_TR_KERNEL(OPT, NIN, MASK, float64, double)
SF_TR_OPS(SF_TR_F32)
SF_TR_OPS(SF_TR_F64)

#define SF_TR_ENTRY_F32(OPT, NIN, MASK) {"sf_cuda_apply_" #OPT "_float32", sf_cuda_apply_##OPT##_float32},
#define SF_TR_ENTRY_F64(OPT, NIN, MASK) {"sf_cuda_apply_" #OPT "_float64", sf_cuda_apply_##OPT##_float64},

#endif
