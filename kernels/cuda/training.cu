/* Optimizer-update CUDA kernels: sf_cuda_apply_<opt>_<dt> (float32, float64),
 * training.c's ops, expressions and checks (in place; hyper-parameters are
 * device scalars each thread reads). One thread per element, grid-stride. */
#include "sf_cuda.cuh"

#define X_TR_OP(OPT, NIN, MASK, DT, T)                                                          \
    static __global__ void k_apply_##OPT##_##DT(sf_tr_args a, int64_t n, int flag)              \
    {                                                                                           \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                   \
        void *const *in = a.in;                                                                 \
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)      \
            SF_TR_APPLY_##OPT(DT, T, i, in, flag);                                              \
    }                                                                                           \
    extern "C" int sf_cuda_apply_##OPT##_##DT(sf_call *c)                                       \
    {                                                                                           \
        const char *name = "sf_cuda_apply_" #OPT "_" #DT;                                       \
        int64_t n = 0;                                                                          \
        int st = sf_tr_check(c, name, SF_DTC_##DT, NIN, MASK, &n);                              \
        if (st || n == 0) return st;                                                            \
        sf_tr_args a;                                                                           \
        for (int i = 0; i < 10; i++) a.in[i] = i < NIN ? c->in[i].data : NULL;                  \
        k_apply_##OPT##_##DT<<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>( \
            a, n, (int)c->iattr[SF_APPLY_USE_NESTEROV]);                                        \
        return sf_cu_check(c, name);                                                            \
    }
#define X_TR_F32(OPT, NIN, MASK) X_TR_OP(OPT, NIN, MASK, float32, float)
#define X_TR_F64(OPT, NIN, MASK) X_TR_OP(OPT, NIN, MASK, float64, double)
SF_TR_OPS(X_TR_F32)
SF_TR_OPS(X_TR_F64)

#define E_TR_F32(OPT, NIN, MASK) {"sf_cuda_apply_" #OPT "_float32", sf_cuda_apply_##OPT##_float32},
#define E_TR_F64(OPT, NIN, MASK) {"sf_cuda_apply_" #OPT "_float64", sf_cuda_apply_##OPT##_float64},
static const sf_kernel_entry sf_cu_tr_table[] = {SF_TR_OPS(E_TR_F32) SF_TR_OPS(E_TR_F64)};
SF_CU_ENTRIES(training, sf_cu_tr_table)
