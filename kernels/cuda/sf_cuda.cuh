/* Shared host glue of the CUDA kernel families (not part of the ABI): launch
 * shapes, the launch check every kernel runs after each launch, and the error
 * slot through which a kernel reports a bad input (an index out of range, an
 * integer division by zero) to its launcher. */
#ifndef SF_CUDA_CUH
#define SF_CUDA_CUH

#include <cuda_runtime.h>
#include <pthread.h>

#include "sf_cuda_bodies.h"

/* Threads per block of the elementwise-style kernels; a grid-stride loop
 * covers what the grid's blocks do not. */
#define SF_CU_THREADS 256
#define SF_CU_MAX_BLOCKS 65535

static inline unsigned sf_cu_blocks(int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    return (unsigned)(b > SF_CU_MAX_BLOCKS ? SF_CU_MAX_BLOCKS : b);
}

static inline cudaStream_t sf_cu_stream(const sf_call *c) { return (cudaStream_t)c->stream; }

static inline int sf_cu_fail(sf_call *c, int code, const char *fmt, const char *name, const char *what)
{
    snprintf(c->msg, SF_MSG_LEN, fmt, name, what);
    return code;
}

/* After every launch: a launch error (bad configuration, no device, a sticky
 * error of an earlier kernel) becomes SF_ERR_INTERNAL with CUDA's message. */
static inline int sf_cu_check(sf_call *c, const char *name)
{
    const cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return SF_OK;
    return sf_cu_fail(c, SF_ERR_INTERNAL, "%s: CUDA launch failed: %s", name, cudaGetErrorString(e));
}

static inline int sf_cu_check_api(sf_call *c, const char *name, cudaError_t e)
{
    if (e == cudaSuccess) return SF_OK;
    (void)cudaGetLastError(); /* clear a non-sticky error */
    return sf_cu_fail(c, SF_ERR_INTERNAL, "%s: CUDA call failed: %s", name, cudaGetErrorString(e));
}

/* The error slot of a family (one __device__ variable per .cu file, see
 * SF_CU_ERROR_SLOT): cleared before a checking kernel, read back (a stream
 * synchronization) after it. Calls that use it hold the family's lock, so two
 * host threads never share it. */
#define SF_CU_ERROR_SLOT(FAMILY)                                                               \
    static __device__ unsigned long long sf_cu_err_##FAMILY;                                   \
    static pthread_mutex_t sf_cu_err_lock_##FAMILY = PTHREAD_MUTEX_INITIALIZER;                \
    static int sf_cu_err_begin_##FAMILY(sf_call *c, const char *name, unsigned long long init, \
                                        unsigned long long **dev)                              \
    {                                                                                          \
        pthread_mutex_lock(&sf_cu_err_lock_##FAMILY);                                          \
        int st = sf_cu_check_api(c, name, cudaGetSymbolAddress((void **)dev, sf_cu_err_##FAMILY)); \
        if (!st)                                                                               \
            st = sf_cu_check_api(c, name, cudaMemcpyToSymbolAsync(sf_cu_err_##FAMILY, &init, sizeof init, 0, \
                                                                   cudaMemcpyHostToDevice, sf_cu_stream(c))); \
        if (st) pthread_mutex_unlock(&sf_cu_err_lock_##FAMILY);                                \
        return st;                                                                             \
    }                                                                                          \
    /* the slot's value after the stream's work so far; unlocks */                            \
    static int sf_cu_err_end_##FAMILY(sf_call *c, const char *name, unsigned long long *out)   \
    {                                                                                          \
        int st = sf_cu_check_api(c, name, cudaMemcpyFromSymbolAsync(out, sf_cu_err_##FAMILY, sizeof *out, 0, \
                                                                    cudaMemcpyDeviceToHost, sf_cu_stream(c))); \
        if (!st) st = sf_cu_check_api(c, name, cudaStreamSynchronize(sf_cu_stream(c)));       \
        pthread_mutex_unlock(&sf_cu_err_lock_##FAMILY);                                        \
        return st;                                                                             \
    }

/* The family's table of exported kernels (joined by table.cu). */
#define SF_CU_ENTRIES(FAMILY, TABLE)                                                   \
    extern "C" int64_t sf_cuda_##FAMILY##_entries(const sf_kernel_entry **out)         \
    {                                                                                  \
        if (out) *out = TABLE;                                                         \
        return (int64_t)(sizeof TABLE / sizeof TABLE[0]);                              \
    }

#endif
