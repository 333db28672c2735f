/* The fixed part of the fused kernels generated for the GPU
 * (staticflow/backends/fused_codegen.py's `cuda_source`, compiled by NVRTC at plan
 * time): the kernel parameter's layout, the indexing of its views, the block
 * reduction, and the host code that packs a call into the parameter and launches
 * it (the generic launcher).
 *
 * A generated source defines NT (its views), the per-element functions from the
 * members' scalar expressions (sf_fused_elem, or sf_fused_relem and the row /
 * column partials) and includes this header twice over: the device part (here,
 * __host__ __device__ under a CUDA compiler, plain C otherwise) and, where
 * SF_FUSED_KERNELS is defined, the __global__ wrappers. The tests compile the
 * same source as C and run its per-element functions the way the GPU's threads
 * would (tests/cuda/fused_driver.c).
 *
 * Kernel parameter: one struct passed by value, a head then NT views:
 *   views 0..NIN-1: the kernel's inputs (broadcast with 0 strides);
 *   then the elementwise outputs; with a reduction, the reduction's output
 *   (K contiguous values) is not a view of the parameter: head.out holds it.
 * Elementwise: every view has the shape head.shape[0..nd) (coalesced by the
 * planner). Reduction: every view is 2-D [K, R] (head.K, head.R).
 */
#ifndef SF_FUSED_CUDA_H
#define SF_FUSED_CUDA_H

#ifndef SF_HD
#if defined(__CUDACC__)
#define SF_HD __host__ __device__
#else
#define SF_HD
#endif
#endif

#define SF_FUSED_MAXD 8     /* dims of a view (SF_MAX_DIMS) */
#define SF_FUSED_THREADS 256 /* threads of a block */
#define SF_FUSED_WARP 32
#define SF_FUSED_MAX_BLOCKS 65535
/* Row mode: reduced elements of one block's task. Rows longer than this take several
 * tasks whose partials (float64, a scratch input) a second pass adds in order, so the
 * result depends only on the sizes, never on the GPU or the timing. */
#define SF_FUSED_CHUNK 16384

typedef struct sf_fused_head {
    int64_t n;     /* elements (elementwise) or K * nch tasks (row mode) */
    int64_t nd;    /* dims of the elementwise views */
    int64_t K, R;  /* reduction: kept and reduced extents */
    int64_t nch;   /* row mode: tasks per row */
    int64_t pad_;
    int64_t shape[SF_FUSED_MAXD];
    unsigned long long *err; /* fallible kernels: ((member + 1) << 4) | code, atomicMax */
    double *part;            /* row mode with nch > 1: K * nch partials */
    void *out;               /* the reduction's output: K values */
    void *pad2_;
} sf_fused_head;

typedef struct sf_fused_view {
    char *data;
    int64_t st[SF_FUSED_MAXD]; /* element strides; [0], [1] in reduction mode */
} sf_fused_view;

/* The multi-index of C-order element i of shape[0..nd), which has n elements: in 32-bit
 * arithmetic when n fits (a GPU's 64-bit division is a long instruction sequence). */
SF_HD static inline void sf_fused_unravel(const int64_t *shape, int nd, int64_t i, int64_t *ix, int64_t n)
{
    if (n <= (int64_t)0xffffffff) {
        uint32_t j = (uint32_t)i;
        for (int d = nd - 1; d > 0; d--) {
            const uint32_t s = (uint32_t)shape[d];
            ix[d] = j % s;
            j /= s;
        }
        ix[0] = j;
        return;
    }
    for (int d = nd - 1; d > 0; d--) {
        ix[d] = i % shape[d];
        i /= shape[d];
    }
    ix[0] = i;
}

/* Element offset of multi-index ix (element i) in a view: adjacent i of a unit-stride
 * view are adjacent in memory, so a warp reads and writes it coalesced. */
SF_HD static inline int64_t sf_fused_off(const int64_t *ix, const int64_t *st, int nd, int64_t i)
{
    if (nd == 1) return i * st[0];
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o += ix[d] * st[d];
    return o;
}

/* The block tree of a row-mode task, the order the GPU adds the threads' partials in:
 * each warp combines lanes l and l + off for off = 16 ... 1 (a lane past the warp's end
 * reads its own value), then warp 0 does the same over the warps' lane-0 values padded
 * with zeros. This is the CPU rendering, which the tests run; sf_fused_block_sum below
 * is the same order with warp shuffles. Host code (NVRTC takes device code only). */
#ifndef __CUDACC_RTC__
static inline double sf_fused_warp_emu(double *v)
{
    for (int off = SF_FUSED_WARP / 2; off > 0; off >>= 1) {
        double old[SF_FUSED_WARP];
        for (int l = 0; l < SF_FUSED_WARP; l++) old[l] = v[l];
        for (int l = 0; l < SF_FUSED_WARP; l++) v[l] = old[l] + (l + off < SF_FUSED_WARP ? old[l + off] : old[l]);
    }
    return v[0];
}

static inline double sf_fused_tree_emu(double *v /* SF_FUSED_THREADS partials */)
{
    double s[SF_FUSED_WARP];
    const int nw = SF_FUSED_THREADS / SF_FUSED_WARP;
    for (int w = 0; w < SF_FUSED_WARP; w++) s[w] = w < nw ? sf_fused_warp_emu(v + w * SF_FUSED_WARP) : 0.0;
    return sf_fused_warp_emu(s);
}
#endif

#if defined(__CUDACC__)
static __device__ __forceinline__ double sf_fused_warp_sum(double a)
{
    for (int off = SF_FUSED_WARP / 2; off > 0; off >>= 1) a += __shfl_down_sync(0xffffffffu, a, off);
    return a;
}

/* The block's sum of `a` (every thread's partial) in sf_fused_tree_emu's order; the
 * result is valid in thread 0. Every thread of the block calls it. */
static __device__ __forceinline__ double sf_fused_block_sum(double a)
{
    __shared__ double s[SF_FUSED_THREADS / SF_FUSED_WARP];
    const int lane = threadIdx.x % SF_FUSED_WARP, w = threadIdx.x / SF_FUSED_WARP;
    a = sf_fused_warp_sum(a);
    if (lane == 0) s[w] = a;
    __syncthreads();
    if (w == 0) {
        a = lane < (int)(blockDim.x / SF_FUSED_WARP) ? s[lane] : 0.0;
        a = sf_fused_warp_sum(a);
    }
    __syncthreads();
    return a;
}
#endif

#endif /* SF_FUSED_CUDA_H */

/* ---- the __global__ wrappers of a generated source (SF_FUSED_KERNELS, under a CUDA
 * compiler): mode SF_FUSED_MODE is 0 elementwise, 1 row, 2 column ---- */
#if defined(SF_FUSED_KERNELS) && defined(__CUDACC__) && !defined(SF_FUSED_KERNELS_DONE)
#define SF_FUSED_KERNELS_DONE
#if SF_FUSED_MODE == 0
/* grid-stride, one thread per element, adjacent threads on adjacent elements */
extern "C" __global__ void __launch_bounds__(SF_FUSED_THREADS) sf_fused(sf_fused_args a)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.h.n; i += step) {
        const int bad = sf_fused_elem(&a, i);
        if (bad && a.h.err) atomicMax(a.h.err, (unsigned long long)bad);
    }
}
#elif SF_FUSED_MODE == 1
/* a block per task (row k, chunk c): threads stride through the chunk (coalesced where
 * the reduced dim has unit stride), then the block tree */
extern "C" __global__ void __launch_bounds__(SF_FUSED_THREADS) sf_fused(sf_fused_args a)
{
    for (int64_t task = blockIdx.x; task < a.h.n; task += gridDim.x) {
        const int64_t k = task / a.h.nch, r0 = task % a.h.nch * SF_FUSED_CHUNK;
        const int64_t r1 = r0 + SF_FUSED_CHUNK < a.h.R ? r0 + SF_FUSED_CHUNK : a.h.R;
        int bad = 0;
        double acc = sf_fused_partial(&a, k, r0, r1, threadIdx.x, blockDim.x, &bad);
        if (bad && a.h.err) atomicMax(a.h.err, (unsigned long long)bad);
        acc = sf_fused_block_sum(acc);
        if (threadIdx.x == 0) {
            if (a.h.nch > 1) a.h.part[task] = acc;
            else sf_fused_final(&a, k, acc);
        }
    }
}
/* the second pass of long rows: one thread per row adds its partials in order */
extern "C" __global__ void __launch_bounds__(SF_FUSED_THREADS) sf_fused_fin(sf_fused_args a)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < a.h.K; k += step) {
        double acc = 0;
        for (int64_t c = 0; c < a.h.nch; c++) acc += a.h.part[k * a.h.nch + c];
        sf_fused_final(&a, k, acc);
    }
}
#else
/* column mode: one thread per output, adjacent threads on adjacent outputs (coalesced
 * where the kept dim has unit stride), each walking its column */
extern "C" __global__ void __launch_bounds__(SF_FUSED_THREADS) sf_fused(sf_fused_args a)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < a.h.K; k += step) {
        int bad = 0;
        const double acc = sf_fused_partial(&a, k, 0, a.h.R, 0, 1, &bad);
        if (bad && a.h.err) atomicMax(a.h.err, (unsigned long long)bad);
        sf_fused_final(&a, k, acc);
    }
}
#endif
#endif
