/* Array CUDA kernels: sf_cuda_copy_<dt> (a view into a view of the same shape:
 * transpose, slice, tile, broadcast, concat and split pieces, fill from a
 * stride-0 scalar; a 2-D transpose goes through shared-memory tiles so that it
 * reads and writes coalesced), and sf_cuda_gather_<dt> and sf_cuda_one_hot_<dt>
 * (sf_cuda_gather.h, shared with the test driver). */
#include "sf_cuda_ew.cuh"
#include "sf_cuda_gather.h"

/* transposing copies, by element size: tiles in a grid-stride loop */
#define X_TILE_K(ES, E)                                                                         \
    static __global__ void k_tcopy_##ES(sf_ew_plan p, int64_t ntr, int64_t ntc)                 \
    {                                                                                           \
        __shared__ E tile[SF_TILE][SF_TILE + 1];                                                \
        for (int64_t t = blockIdx.x; t < ntr * ntc; t += gridDim.x) {                           \
            const int64_t tr = t / ntc, tc = t % ntc;                                           \
            sf_tile_load_##ES(&p, tr, tc, threadIdx.x, threadIdx.y, tile);                      \
            __syncthreads();                                                                    \
            sf_tile_store_##ES(&p, tr, tc, threadIdx.x, threadIdx.y, tile);                     \
            __syncthreads();                                                                    \
        }                                                                                       \
    }
X_TILE_K(1, uint8_t)
X_TILE_K(2, uint16_t)
X_TILE_K(4, uint32_t)
X_TILE_K(8, uint64_t)

static int sf_cu_tcopy(sf_call *c, const char *name, const sf_ew_plan *p, int es)
{
    const int64_t ntr = (p->shape[0] + SF_TILE - 1) / SF_TILE, ntc = (p->shape[1] + SF_TILE - 1) / SF_TILE;
    const dim3 threads(SF_TILE, SF_TILE_ROWS);
    const unsigned nb = sf_cu_blocks(ntr * ntc, 1);
    cudaStream_t s = sf_cu_stream(c);
    switch (es) {
    case 1: k_tcopy_1<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    case 2: k_tcopy_2<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    case 4: k_tcopy_4<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    default: k_tcopy_8<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    }
    return sf_cu_check(c, name);
}

#define X_COPY(DT, T)                                                                           \
    SF_EW_COPY(DT, T)                                                                           \
    SF_CU_EW_KERNEL(copy_##DT)                                                                  \
    extern "C" int sf_cuda_copy_##DT(sf_call *c)                                                \
    {                                                                                           \
        static const int32_t dts[3] = {SF_DTC_##DT, 0, 0};                                      \
        const char *name = "sf_cuda_copy_" #DT;                                                 \
        sf_ew_plan p;                                                                           \
        int64_t n = 0;                                                                          \
        int st = sf_cu_ew_prepare(c, name, 1, dts, SF_DTC_##DT, &p, &n);                        \
        if (st || n == 0) return st;                                                            \
        if (sf_copy_is_transpose(&p)) return sf_cu_tcopy(c, name, &p, (int)sizeof(T));          \
        return sf_cu_ew_go(c, name, k_copy_##DT, &p, n, 0);                                     \
    }
SF_CU_ALL(X_COPY)


#define E_COPY(DT, T) {"sf_cuda_copy_" #DT, sf_cuda_copy_##DT},
static const sf_kernel_entry sf_cu_array_table[] = {SF_CU_ALL(E_COPY) SF_CU_SIZES(SF_GATHER_ENTRY)};
SF_CU_ENTRIES(array, sf_cu_array_table)
