/* Kernels and their launchers written once for nvcc and for the CPU driver of
 * the tests (tests/cuda/bodies_driver.c), so that the driver runs the launch
 * logic itself (argument checks, launch sizes, the order of launches, copies
 * to the host) and not a copy of it.
 *
 *   SF_KERNEL            a __global__ function under nvcc; a plain function in C
 *   SF_GRID_LOOP(i, n)   the grid-stride loop of a kernel's threads; in C, i over [0, n)
 *   SF_LAUNCH(c, name, K, n, args...)
 *                        launches K over n threads on the call's stream and returns a
 *                        launch error as the call's status; in C calls K(args...)
 *   SF_LAUNCH_TO(st, c, name, K, n, args...)
 *                        the same, the launch's status into st (no return: a lock to release)
 *   SF_LAUNCH1(c, name, K, args...)  one thread (a scalar update)
 *   SF_LAUNCH1_TO(st, c, name, K, args...)  the same, the status into st
 *   SF_TO_HOST(c, name, dst, src, bytes)
 *                        copies device memory to the host (and waits); in C memcpy
 *   SF_CU_ERROR_SLOT(F)  a family's error slot (sf_cuda.cuh); in C a static variable
 *   SF_ATOMIC_OR(p, v)   atomicOr on an error slot; in C *p |= v
 *   SF_ATOMIC_MIN(p, v)  atomicMin on an error slot; in C *p = min(*p, v)
 * A status is returned from the enclosing function when a launch fails. */
#ifndef SF_CUDA_LAUNCH_H
#define SF_CUDA_LAUNCH_H

#ifdef __CUDACC__
#include "sf_cuda.cuh"

#define SF_KERNEL static __global__ void
#define SF_GRID_LOOP(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)
#define SF_LAUNCH(c, name, K, n, ...)                                                          \
    do {                                                                                       \
        K<<<sf_cu_blocks((n), SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(__VA_ARGS__); \
        const int sf_st_ = sf_cu_check((c), (name));                                           \
        if (sf_st_) return sf_st_;                                                             \
    } while (0)
#define SF_LAUNCH_TO(st, c, name, K, n, ...)                                                   \
    do {                                                                                       \
        K<<<sf_cu_blocks((n), SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(__VA_ARGS__); \
        (st) = sf_cu_check((c), (name));                                                       \
    } while (0)
#define SF_LAUNCH1(c, name, K, ...)                                                            \
    do {                                                                                       \
        K<<<1, 1, 0, sf_cu_stream(c)>>>(__VA_ARGS__);                                          \
        const int sf_st_ = sf_cu_check((c), (name));                                           \
        if (sf_st_) return sf_st_;                                                             \
    } while (0)
#define SF_LAUNCH1_TO(st, c, name, K, ...)                                                     \
    do {                                                                                       \
        K<<<1, 1, 0, sf_cu_stream(c)>>>(__VA_ARGS__);                                          \
        (st) = sf_cu_check((c), (name));                                                       \
    } while (0)
#define SF_TO_HOST(c, name, dst, src, bytes)                                                   \
    do {                                                                                       \
        int sf_st_ = sf_cu_check_api((c), (name), cudaMemcpyAsync((dst), (src), (bytes),       \
                                                                 cudaMemcpyDeviceToHost, sf_cu_stream(c))); \
        if (!sf_st_) sf_st_ = sf_cu_check_api((c), (name), cudaStreamSynchronize(sf_cu_stream(c))); \
        if (sf_st_) return sf_st_;                                                             \
    } while (0)
#define SF_PUBLIC extern "C" int
#define SF_ATOMIC_OR(p, v) atomicOr((p), (unsigned long long)(v))
#define SF_ATOMIC_MIN(p, v) atomicMin((p), (unsigned long long)(v))

#else
#include <string.h>

#include "sf_cuda_bodies.h"

#define SF_KERNEL static void
#define SF_GRID_LOOP(i, n) for (int64_t i = 0; i < (n); i++)
#define SF_LAUNCH(c, name, K, n, ...) K(__VA_ARGS__)
#define SF_LAUNCH_TO(st, c, name, K, n, ...) (K(__VA_ARGS__), (st) = SF_OK)
#define SF_LAUNCH1(c, name, K, ...) K(__VA_ARGS__)
#define SF_LAUNCH1_TO(st, c, name, K, ...) (K(__VA_ARGS__), (st) = SF_OK)
#define SF_TO_HOST(c, name, dst, src, bytes) memcpy((dst), (src), (bytes))
#define SF_PUBLIC int
#define SF_ATOMIC_OR(p, v) (*(p) |= (unsigned long long)(v))
#define SF_ATOMIC_MIN(p, v) (*(p) = *(p) < (unsigned long long)(v) ? *(p) : (unsigned long long)(v))
#define SF_CU_ERROR_SLOT(FAMILY)                                                                      \
    static unsigned long long sf_cu_err_##FAMILY;                                                     \
    static int sf_cu_err_begin_##FAMILY(sf_call *c, const char *name, unsigned long long init,        \
                                        unsigned long long **dev)                                     \
    {                                                                                                 \
        (void)c;                                                                                      \
        (void)name;                                                                                   \
        sf_cu_err_##FAMILY = init;                                                                    \
        *dev = &sf_cu_err_##FAMILY;                                                                   \
        return SF_OK;                                                                                 \
    }                                                                                                 \
    static int sf_cu_err_end_##FAMILY(sf_call *c, const char *name, unsigned long long *out)          \
    {                                                                                                 \
        (void)c;                                                                                      \
        (void)name;                                                                                   \
        *out = sf_cu_err_##FAMILY;                                                                    \
        return SF_OK;                                                                                 \
    }
#endif

#endif
