/* check_numerics (debug.cu) for nvcc and the CPU driver alike (sf_cuda_launch.h):
 * debug.c's checks and messages. The input view is copied to the output view
 * (or only checked when n_out is 0; out may be the input itself) through the
 * elementwise plan, one thread per element; each thread ORs what it saw (bit 0
 * NaN, bit 1 Inf) into the family's error slot, read back after the launch. */
#ifndef SF_CUDA_DEBUG_H
#define SF_CUDA_DEBUG_H

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

SF_CU_ERROR_SLOT(debug)

#define SF_DEBUG_TYPES(X) X(float32, float) X(float64, double)

#define SF_DEBUG_BODY(DT, T)                                                                      \
    /* plan operand 0 is the output (the input again when there is none), 1 the input */         \
    SF_KERNEL k_check_numerics_##DT(sf_ew_plan p, int64_t n, int copy, unsigned long long *flags) \
    {                                                                                             \
        SF_GRID_LOOP(i, n) {                                                                      \
            int64_t off[SF_EW_MAXT];                                                              \
            sf_ew_offsets(&p, i, off);                                                            \
            const T v = ((const T *)p.data[1])[off[1]];                                           \
            if (copy) ((T *)p.data[0])[off[0]] = v;                                               \
            const int f = (v != v ? 1 : 0) | (v == (T)INFINITY || v == -(T)INFINITY ? 2 : 0);     \
            if (f) SF_ATOMIC_OR(flags, f);                                                        \
        }                                                                                         \
    }                                                                                             \
    SF_PUBLIC sf_cuda_check_numerics_##DT(sf_call *c)                                             \
    {                                                                                             \
        const char *name = "sf_cuda_check_numerics_" #DT;                                         \
        if (c->n_in != 1 || c->n_out > 1) {                                                       \
            snprintf(c->msg, SF_MSG_LEN, "%s takes 1 input and 0 or 1 output, got %d and %d", name, \
                     (int)c->n_in, (int)c->n_out);                                                \
            return SF_ERR_INVALID_ARGUMENT;                                                       \
        }                                                                                         \
        const sf_tensor *in = &c->in[0], *out = c->n_out ? &c->out[0] : in;                       \
        int same = in->dtype == SF_DTC_##DT && out->dtype == SF_DTC_##DT && out->ndim == in->ndim; \
        for (int d = 0; same && d < in->ndim; d++) same = out->shape[d] == in->shape[d];          \
        if (!same) {                                                                              \
            snprintf(c->msg, SF_MSG_LEN, "%s: the input and output must be " #DT " of one shape", name); \
            return SF_ERR_INVALID_ARGUMENT;                                                       \
        }                                                                                         \
        sf_ew_plan p;                                                                             \
        int64_t n = 0;                                                                            \
        int st = sf_ew_plan_make(name, out, in, 1, &p, &n, c->msg);                               \
        if (st || n == 0) return st;                                                              \
        unsigned long long *flags = NULL, seen = 0;                                               \
        if ((st = sf_cu_err_begin_debug(c, name, 0ull, &flags))) return st;                       \
        const int copy = c->n_out == 1 && out->data != in->data;                                  \
        SF_LAUNCH_TO(st, c, name, k_check_numerics_##DT, n, p, n, copy, flags);                   \
        const int st2 = sf_cu_err_end_debug(c, name, &seen); /* releases the slot */              \
        if (st || (st = st2)) return st;                                                          \
        switch (seen) {                                                                           \
        case 0: return SF_OK;                                                                     \
        case 1: snprintf(c->msg, SF_MSG_LEN, "Tensor had NaN values"); break;                     \
        case 2: snprintf(c->msg, SF_MSG_LEN, "Tensor had Inf values"); break;                     \
        default: snprintf(c->msg, SF_MSG_LEN, "Tensor had Inf and NaN values"); break;            \
        }                                                                                         \
        return SF_ERR_INVALID_ARGUMENT;                                                           \
    }
SF_DEBUG_TYPES(SF_DEBUG_BODY)

#define SF_DEBUG_ENTRY(DT, T) {"sf_cuda_check_numerics_" #DT, sf_cuda_check_numerics_##DT},

#endif
