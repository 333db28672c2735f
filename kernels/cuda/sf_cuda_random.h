/* The random kernels and their launchers (random.cu), for nvcc and the CPU
 * driver of the tests alike (sf_cuda_launch.h). */
#ifndef SF_CUDA_RANDOM_H
#define SF_CUDA_RANDOM_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

SF_KERNEL k_advance(int64_t *state, int64_t st, uint64_t blocks)
{
    state[2 * st] = (int64_t)((uint64_t)state[2 * st] + blocks);
}

#define X_GEN(KIND, DT, T, EPB, BLOCKS_PER_UNIT)                                                       \
    SF_KERNEL k_##KIND##_##DT(const int64_t *state, int64_t sst, T *o, int64_t n, uint64_t lo,         \
                              uint64_t range)                                                         \
    {                                                                                                 \
        const sf_ph_key k = sf_ph_key_of(state, sst);                                                 \
        const int64_t units = (n + EPB - 1) / EPB;                                                    \
        (void)lo;                                                                                     \
        (void)range;                                                                                  \
        SF_GRID_LOOP(u, units) {                                                                      \
            const int m = n - u * EPB < EPB ? (int)(n - u * EPB) : EPB;                               \
            SF_CU_GEN_##KIND(DT, &k, (uint64_t)u, o + u * EPB, m, lo, range);                          \
        }                                                                                             \
    }
#define SF_CU_GEN_uniform(DT, k, u, o, m, lo, range) sf_rand_uniform_##DT(k, u, o, m)
#define SF_CU_GEN_normal(DT, k, u, o, m, lo, range) sf_rand_normal_##DT(k, u, o, m)
#define SF_CU_GEN_truncated(DT, k, u, o, m, lo, range) sf_rand_truncated_##DT(k, u, o, m)
#define SF_CU_GEN_int(DT, k, u, o, m, lo, range) sf_rand_int_##DT(k, u, o, m, lo, range)

/* X(KIND, DT, T, EPB, BLOCKS_PER_UNIT, public name) */
#define SF_CU_RANDOM(X)                                                                         \
    X(uniform, float32, float, 4, 1, random_uniform_float32)                                    \
    X(uniform, float64, double, 2, 1, random_uniform_float64)                                   \
    X(normal, float32, float, 4, 1, random_normal_float32)                                      \
    X(normal, float64, double, 2, 1, random_normal_float64)                                     \
    X(truncated, float32, float, 4, SF_TN_RESERVE, truncated_normal_float32)                    \
    X(truncated, float64, double, 2, SF_TN_RESERVE, truncated_normal_float64)                   \
    X(int, int32, int32_t, 4, 1, random_uniform_int_int32)                                      \
    X(int, int64, int64_t, 2, 1, random_uniform_int_int64)

#define X_RANDOM(KIND, DT, T, EPB, BPU, PUBLIC)                                                  \
    X_GEN(KIND, DT, T, EPB, BPU)                                                                 \
    SF_PUBLIC sf_cuda_##PUBLIC(sf_call *c)                                                       \
    {                                                                                            \
        const char *name = "sf_cuda_" #PUBLIC;                                                   \
        const int is_int = sizeof(#KIND) == sizeof("int");                                       \
        const int nin = is_int ? 3 : 1;                                                          \
        uint64_t lo = 0, range = 0;                                                              \
        if (c->n_in != nin || c->n_out != 1) {                                                   \
            snprintf(c->msg, SF_MSG_LEN, "%s takes %d input(s) and 1 output, got %d and %d", name, nin, \
                     (int)c->n_in, (int)c->n_out);                                               \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        const sf_tensor *s = &c->in[0], *o = &c->out[0];                                         \
        if (s->dtype != SF_INT64 || s->ndim != 1 || s->shape[0] != 3) {                          \
            snprintf(c->msg, SF_MSG_LEN,                                                         \
                     "%s: in[0] must be the int64 state [seed, seed2, counter] of shape [3]", name); \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        if (o->dtype != SF_DTC_##DT || o->ndim < 0 || o->ndim > SF_MAX_DIMS) {                   \
            snprintf(c->msg, SF_MSG_LEN, "%s: the output has dtype %s", name,                    \
                     sf_cu_dtype_name(o->dtype));                                                \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        int64_t n = 1, expect = 1;                                                               \
        int contig = 1;                                                                          \
        for (int d = o->ndim - 1; d >= 0; d--) {                                                 \
            if (o->shape[d] < 0) {                                                               \
                snprintf(c->msg, SF_MSG_LEN, "%s: negative output dim", name);                   \
                return SF_ERR_INVALID_ARGUMENT;                                                  \
            }                                                                                    \
            if (o->shape[d] != 1 && o->strides[d] != expect) contig = 0;                         \
            expect *= o->shape[d];                                                               \
            n *= o->shape[d];                                                                    \
        }                                                                                        \
        if (n != 0 && !contig) {                                                                 \
            snprintf(c->msg, SF_MSG_LEN, "%s: the output must be contiguous", name);             \
            return SF_ERR_INVALID_ARGUMENT;                                                      \
        }                                                                                        \
        if (is_int) {                                                                            \
            T bounds[2];                                                                         \
            for (int i = 0; i < 2; i++) {                                                        \
                if (c->in[1 + i].dtype != SF_DTC_##DT) {                                         \
                    snprintf(c->msg, SF_MSG_LEN, "%s: minval and maxval must be %s", name, #DT); \
                    return SF_ERR_INVALID_ARGUMENT;                                              \
                }                                                                                \
                SF_TO_HOST(c, name, &bounds[i], c->in[1 + i].data, sizeof(T));                  \
            }                                                                                    \
            if (bounds[0] >= bounds[1]) {                                                        \
                snprintf(c->msg, SF_MSG_LEN, "Need minval < maxval: got %lld >= %lld", (long long)bounds[0], \
                         (long long)bounds[1]);                                                  \
                return SF_ERR_INVALID_ARGUMENT;                                                  \
            }                                                                                    \
            lo = (uint64_t)(int64_t)bounds[0];                                                   \
            range = (uint64_t)(int64_t)bounds[1] - lo;                                           \
        }                                                                                        \
        if (n == 0) return SF_OK;                                                                \
        const int64_t units = (n + EPB - 1) / EPB;                                               \
        SF_LAUNCH(c, name, k_##KIND##_##DT, units, (const int64_t *)s->data, s->strides[0], (T *)o->data, n, \
                  lo, range);                                                                    \
        SF_LAUNCH1(c, name, k_advance, (int64_t *)s->data, s->strides[0], (uint64_t)units * (BPU)); \
        return SF_OK;                                                                            \
    }
SF_CU_RANDOM(X_RANDOM)


#endif
