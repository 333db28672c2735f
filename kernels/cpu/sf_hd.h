/* SF_HD: the qualifier of a function the C kernels and the CUDA kernels share (host and
 * device under nvcc, nothing in C), defined once for every shared header. */
#ifndef SF_HD_H
#define SF_HD_H

#ifndef SF_HD
#ifdef __CUDACC__
#define SF_HD __host__ __device__
#else
#define SF_HD
#endif
#endif

#endif
