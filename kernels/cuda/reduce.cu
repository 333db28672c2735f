/* Reduction CUDA kernels: sf_cuda_reduce_{sum,mean,max,min,prod}_<dt> (float32,
 * float64 and every int) and sf_cuda_reduce_{all,any}_bool, reduce.c's
 * semantics (accumulators, NaN, empty reductions; sf_cuda_bodies.h).
 *
 * Row mode: one block of SF_RED_THREADS threads per output (a grid-stride loop
 * over outputs); thread t accumulates reduced elements t, t + 256, ... (the
 * innermost reduced dim read coalesced), then the block combines its partials
 * with warp shuffles and, across warps, through shared memory, in the tree
 * order of sf_cuda_bodies.h. Column mode (few or strided reduced elements,
 * adjacent outputs adjacent in memory): one thread per output.
 */
#include "sf_cuda.cuh"
#include "sf_cuda_ew.h"

#define X_RED(OP, DT, T, ACC, INIT, FIN)                                                        \
    SF_RED_DEF_PARTIAL(OP, DT, T, ACC, INIT, FIN)                                               \
    static __device__ __forceinline__ ACC sf_cu_warp_##OP##_##DT(ACC a)                         \
    {                                                                                           \
        for (int off = SF_WARP / 2; off > 0; off >>= 1) {                                       \
            const ACC b = __shfl_down_sync(0xffffffffu, a, off);                                \
            a = SF_RCOMB_##OP(a, b);                                                            \
        }                                                                                       \
        return a;                                                                               \
    }                                                                                           \
    static __global__ void k_red_##OP##_##DT(sf_red_plan p)                                     \
    {                                                                                           \
        __shared__ ACC s[SF_RED_THREADS / SF_WARP];                                             \
        const int lane = threadIdx.x % SF_WARP, w = threadIdx.x / SF_WARP;                      \
        for (int64_t o = blockIdx.x; o < p.nout; o += gridDim.x) {                              \
            ACC a = sf_red_partial_##OP##_##DT(&p, o, threadIdx.x, blockDim.x);                 \
            a = sf_cu_warp_##OP##_##DT(a);                                                      \
            if (lane == 0) s[w] = a;                                                            \
            __syncthreads();                                                                    \
            if (w == 0) {                                                                       \
                a = lane < (int)(blockDim.x / SF_WARP) ? s[lane] : (ACC)(INIT);                 \
                a = sf_cu_warp_##OP##_##DT(a);                                                  \
                if (lane == 0) sf_red_final_##OP##_##DT(&p, o, a);                              \
            }                                                                                   \
            __syncthreads();                                                                    \
        }                                                                                       \
    }                                                                                           \
    static __global__ void k_redc_##OP##_##DT(sf_red_plan p)                                    \
    {                                                                                           \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                   \
        for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < p.nout; o += step) \
            sf_red_final_##OP##_##DT(&p, o, sf_red_partial_##OP##_##DT(&p, o, 0, 1));           \
    }                                                                                           \
    extern "C" int sf_cuda_reduce_##OP##_##DT(sf_call *c)                                       \
    {                                                                                           \
        const char *name = "sf_cuda_reduce_" #OP "_" #DT;                                       \
        if (c->n_in != 1 || c->n_out != 1) {                                                    \
            snprintf(c->msg, SF_MSG_LEN, "%s takes 1 input and 1 output", name);                \
            return SF_ERR_INVALID_ARGUMENT;                                                     \
        }                                                                                       \
        if (c->in[0].dtype != SF_DTC_##DT || c->out[0].dtype != SF_DTC_##DT) {                  \
            snprintf(c->msg, SF_MSG_LEN, "%s: got %s input and %s output", name,                \
                     sf_cu_dtype_name(c->in[0].dtype), sf_cu_dtype_name(c->out[0].dtype));      \
            return SF_ERR_INVALID_ARGUMENT;                                                     \
        }                                                                                       \
        sf_red_plan p;                                                                          \
        int st = sf_red_plan_make(name, &c->in[0], &c->out[0], c->iattr[SF_REDUCE_NDIMS], &p, c->msg); \
        if (st || p.nout == 0) return st;                                                       \
        if (p.column)                                                                           \
            k_redc_##OP##_##DT<<<sf_cu_blocks(p.nout, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(p); \
        else                                                                                    \
            k_red_##OP##_##DT<<<sf_cu_blocks(p.nout, 1), SF_RED_THREADS, 0, sf_cu_stream(c)>>>(p); \
        return sf_cu_check(c, name);                                                            \
    }
SF_RED_KERNELS(X_RED)

#define E_RED(OP, DT, T, ACC, INIT, FIN) {"sf_cuda_reduce_" #OP "_" #DT, sf_cuda_reduce_##OP##_##DT},
static const sf_kernel_entry sf_cu_red_table[] = {SF_RED_KERNELS(E_RED)};
SF_CU_ENTRIES(reduce, sf_cu_red_table)
