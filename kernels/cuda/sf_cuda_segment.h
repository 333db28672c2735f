/* unsorted_segment_sum (segment.cu) for nvcc and the CPU driver alike
 * (sf_cuda_launch.h): array.c's checks and messages. Three launches: the ids
 * are checked first (the smallest i with ids[i] >= n through the family's error
 * slot, read back, so nothing is written for a bad id), the output is zeroed,
 * then one thread per data element adds it to its segment's row atomically, as
 * TensorFlow's GPU kernel does: float sums therefore run in no fixed order
 * (the CPU build adds in row order, as the C kernel). 8- and 16-bit integers add
 * through a compare-and-swap on their 32-bit word. */
#ifndef SF_CUDA_SEGMENT_H
#define SF_CUDA_SEGMENT_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

SF_CU_ERROR_SLOT(segment)

#ifdef __CUDACC__
/* *p += v for an 8- or 16-bit integer, wrapping, through its aligned 32-bit word */
template <typename T, typename U>
static __device__ __forceinline__ void sf_cu_atomic_add_narrow(T *p, T v)
{
    unsigned int *w = (unsigned int *)((uintptr_t)p & ~(uintptr_t)3);
    const unsigned int shift = (unsigned int)((uintptr_t)p & 3) * 8;
    const unsigned int mask = (unsigned int)(U)~(U)0 << shift;
    unsigned int old = *w, assumed;
    do {
        assumed = old;
        const U cur = (U)((assumed & mask) >> shift);
        const U sum = (U)(cur + (U)v);
        old = atomicCAS(w, assumed, (assumed & ~mask) | ((unsigned int)sum << shift));
    } while (assumed != old);
}
#define SF_SEG_ADD_float32(p, v) atomicAdd((p), (v))
#define SF_SEG_ADD_float64(p, v) atomicAdd((p), (v))
#define SF_SEG_ADD_int32(p, v) atomicAdd((p), (v))
#define SF_SEG_ADD_uint32(p, v) atomicAdd((p), (v))
#define SF_SEG_ADD_int64(p, v) atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#define SF_SEG_ADD_uint64(p, v) atomicAdd((unsigned long long *)(p), (unsigned long long)(v))
#define SF_SEG_ADD_int8(p, v) sf_cu_atomic_add_narrow<int8_t, uint8_t>((p), (v))
#define SF_SEG_ADD_uint8(p, v) sf_cu_atomic_add_narrow<uint8_t, uint8_t>((p), (v))
#define SF_SEG_ADD_int16(p, v) sf_cu_atomic_add_narrow<int16_t, uint16_t>((p), (v))
#define SF_SEG_ADD_uint16(p, v) sf_cu_atomic_add_narrow<uint16_t, uint16_t>((p), (v))
#else
/* C: in order; integers wrap as the C kernel's (through their unsigned type) */
#define SF_SEG_ADD_float32(p, v) (*(p) += (v))
#define SF_SEG_ADD_float64(p, v) (*(p) += (v))
#define SF_SEG_ADD_int32(p, v) (*(p) = (int32_t)((uint32_t) * (p) + (uint32_t)(v)))
#define SF_SEG_ADD_uint32(p, v) (*(p) += (v))
#define SF_SEG_ADD_int64(p, v) (*(p) = (int64_t)((uint64_t) * (p) + (uint64_t)(v)))
#define SF_SEG_ADD_uint64(p, v) (*(p) += (v))
#define SF_SEG_ADD_int8(p, v) (*(p) = (int8_t)(uint8_t)((uint8_t) * (p) + (uint8_t)(v)))
#define SF_SEG_ADD_uint8(p, v) (*(p) = (uint8_t)(*(p) + (v)))
#define SF_SEG_ADD_int16(p, v) (*(p) = (int16_t)(uint16_t)((uint16_t) * (p) + (uint16_t)(v)))
#define SF_SEG_ADD_uint16(p, v) (*(p) = (uint16_t)(*(p) + (v)))
#endif

#define SF_SEGMENT_TYPES(X)                                                                       \
    X(float32, float) X(float64, double) X(int32, int32_t) X(int64, int64_t) X(int8, int8_t)       \
    X(int16, int16_t) X(uint8, uint8_t) X(uint16, uint16_t) X(uint32, uint32_t) X(uint64, uint64_t)

SF_HD static inline int64_t sf_seg_id(const void *ids, int is64, int64_t st, int64_t i)
{
    return is64 ? ((const int64_t *)ids)[i * st] : (int64_t)((const int32_t *)ids)[i * st];
}

SF_KERNEL k_segment_check(const void *ids, int is64, int64_t st, int64_t m, int64_t n, unsigned long long *first)
{
    SF_GRID_LOOP(i, m) {
        if (sf_seg_id(ids, is64, st, i) >= n) SF_ATOMIC_MIN(first, i);
    }
}

#define SF_SEGMENT_BODY(DT, T)                                                                    \
    SF_KERNEL k_segment_zero_##DT(T *out, int64_t total)                                         \
    {                                                                                             \
        SF_GRID_LOOP(e, total) out[e] = (T)0;                                                     \
    }                                                                                             \
    SF_KERNEL k_segment_sum_##DT(const T *data, const void *ids, int is64, int64_t st, int64_t inner, \
                                 T *out, int64_t total)                                           \
    {                                                                                             \
        SF_GRID_LOOP(e, total) {                                                                  \
            const int64_t i = e / inner, j = e % inner, k = sf_seg_id(ids, is64, st, i);          \
            if (k >= 0) SF_SEG_ADD_##DT(out + k * inner + j, data[e]);                            \
        }                                                                                         \
    }                                                                                             \
    SF_PUBLIC sf_cuda_unsorted_segment_sum_##DT(sf_call *c)                                       \
    {                                                                                             \
        const char *name = "sf_cuda_unsorted_segment_sum_" #DT;                                   \
        int st = sf_seg_check(c, SF_DTC_##DT);                                                    \
        if (st) return st;                                                                        \
        const sf_tensor *d = &c->in[0], *ix = &c->in[1];                                          \
        const int64_t m = d->shape[0], inner = d->shape[1], n = c->out[0].shape[0];               \
        const int is64 = ix->dtype == SF_INT64;                                                   \
        if (m > 0) {                                                                              \
            unsigned long long *first = NULL, bad = 0;                                            \
            if ((st = sf_cu_err_begin_segment(c, name, ~0ull, &first))) return st;                \
            SF_LAUNCH_TO(st, c, name, k_segment_check, m, ix->data, is64, ix->strides[0], m, n, first); \
            const int st2 = sf_cu_err_end_segment(c, name, &bad); /* releases the slot */         \
            if (st || (st = st2)) return st;                                                      \
            if (bad != ~0ull) {                                                                   \
                int64_t v = 0;                                                                    \
                const int64_t at = (int64_t)bad * ix->strides[0];                                 \
                if (is64) {                                                                       \
                    SF_TO_HOST(c, name, &v, (const int64_t *)ix->data + at, sizeof v);            \
                } else {                                                                          \
                    int32_t v32 = 0;                                                              \
                    SF_TO_HOST(c, name, &v32, (const int32_t *)ix->data + at, sizeof v32);        \
                    v = v32;                                                                      \
                }                                                                                 \
                snprintf(c->msg, SF_MSG_LEN, "segment_ids[%lld] = %lld is out of range [0, %lld)", \
                         (long long)bad, (long long)v, (long long)n);                             \
                return SF_ERR_INVALID_ARGUMENT;                                                   \
            }                                                                                     \
        }                                                                                         \
        if (n * inner == 0) return SF_OK;                                                         \
        SF_LAUNCH(c, name, k_segment_zero_##DT, n * inner, (T *)c->out[0].data, n * inner);       \
        if (m * inner == 0) return SF_OK;                                                         \
        SF_LAUNCH(c, name, k_segment_sum_##DT, m * inner, (const T *)d->data, ix->data, is64, ix->strides[0], \
                  inner, (T *)c->out[0].data, m * inner);                                         \
        return SF_OK;                                                                             \
    }

static inline int sf_seg_contiguous(const sf_tensor *t)
{
    return (t->shape[1] <= 1 || t->strides[1] == 1) && (t->shape[0] <= 1 || t->strides[0] == t->shape[1]);
}

static inline int sf_seg_check(sf_call *c, int32_t code)
{
    if (c->n_in != 2 || c->n_out != 1) {
        snprintf(c->msg, SF_MSG_LEN, "unsorted_segment_sum takes 2 inputs and 1 output");
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *d = &c->in[0], *ix = &c->in[1], *o = &c->out[0];
    if (d->dtype != code || o->dtype != code || d->ndim != 2 || o->ndim != 2 || ix->ndim != 1 ||
        ix->shape[0] != d->shape[0] || o->shape[1] != d->shape[1]) {
        snprintf(c->msg, SF_MSG_LEN, "unsorted_segment_sum: data [m, inner], ids [m], out [n, inner]");
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (ix->dtype != SF_INT32 && ix->dtype != SF_INT64) {
        snprintf(c->msg, SF_MSG_LEN, "unsorted_segment_sum: ids must be int32 or int64");
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (d->shape[0] < 0 || d->shape[1] < 0 || o->shape[0] < 0 || !sf_seg_contiguous(d) || !sf_seg_contiguous(o)) {
        snprintf(c->msg, SF_MSG_LEN, "unsorted_segment_sum: data and out must be contiguous, with non-negative sizes");
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

SF_SEGMENT_TYPES(SF_SEGMENT_BODY)

#define SF_SEGMENT_ENTRY(DT, T) {"sf_cuda_unsorted_segment_sum_" #DT, sf_cuda_unsorted_segment_sum_##DT},

#endif
