/* The elementwise kernels' host part shared by elementwise.cu and the CPU
 * driver of the tests: the call's checks and plan, and the error messages.
 * Host code (included after sf_cuda_bodies.h). */
#ifndef SF_CUDA_EW_H
#define SF_CUDA_EW_H

#include "sf_cuda_bodies.h"

static inline const char *sf_cu_dtype_name(int32_t code)
{
    switch (code) {
    case SF_FLOAT32: return "float32";
    case SF_FLOAT64: return "float64";
    case SF_INT32: return "int32";
    case SF_INT64: return "int64";
    case SF_UINT8: return "uint8";
    case SF_BOOL: return "bool";
    case SF_INT8: return "int8";
    case SF_INT16: return "int16";
    case SF_UINT16: return "uint16";
    case SF_UINT32: return "uint32";
    case SF_UINT64: return "uint64";
    case SF_FLOAT16: return "float16";
    case SF_BFLOAT16: return "bfloat16";
    default: return "unknown";
    }
}

/* Checks arity and dtypes (in_dt[i] < 0: input i may be any dtype), plans. */
static inline int sf_cu_ew_prepare(sf_call *c, const char *name, int nin, const int32_t *in_dt, int32_t out_dt,
                                   sf_ew_plan *p, int64_t *n)
{
    if (c->n_in != nin || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s: expected %d input(s) and 1 output, got %d and %d", name, nin,
                 (int)c->n_in, (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (c->out[0].dtype != out_dt) {
        snprintf(c->msg, SF_MSG_LEN, "%s: output has dtype %s, expected %s", name,
                 sf_cu_dtype_name(c->out[0].dtype), sf_cu_dtype_name(out_dt));
        return SF_ERR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < nin; i++)
        if (in_dt[i] >= 0 && c->in[i].dtype != in_dt[i]) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input %d has dtype %s, expected %s", name, i,
                     sf_cu_dtype_name(c->in[i].dtype), sf_cu_dtype_name(in_dt[i]));
            return SF_ERR_INVALID_ARGUMENT;
        }
    return sf_ew_plan_make(name, &c->out[0], c->in, nin, p, n, c->msg);
}

static inline int sf_cu_ew_error(sf_call *c, const char *name, int e)
{
    switch (e) {
    case EW_DIV_BY_ZERO: snprintf(c->msg, SF_MSG_LEN, "%s: integer division by zero", name); break;
    case EW_MOD_BY_ZERO: snprintf(c->msg, SF_MSG_LEN, "%s: integer modulo by zero", name); break;
    case EW_NEG_POW:
        snprintf(c->msg, SF_MSG_LEN, "%s: integers to negative integer powers are not allowed", name);
        break;
    default: snprintf(c->msg, SF_MSG_LEN, "%s: failed with error %d", name, e); return SF_ERR_INTERNAL;
    }
    return SF_ERR_INVALID_ARGUMENT;
}

/* Runs one elementwise pass over a plan: the GPU's launch (sf_cuda_ew.cuh) or the
 * CPU driver's loop. */
typedef int (*sf_ew_go_fn)(sf_call *c, const char *name, const sf_ew_plan *p, int64_t n);

/* addn: passes of up to three operands, the later ones reading out first. */
static inline int sf_ew_addn_run(sf_call *c, const char *name, int32_t dtc, sf_ew_go_fn go)
{
    if (c->n_in < 1 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s: expected inputs and 1 output", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i].dtype != dtc) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input %d has dtype %s", name, i, sf_cu_dtype_name(c->in[i].dtype));
            return SF_ERR_INVALID_ARGUMENT;
        }
    sf_tensor ops[3];
    for (int first = 0; first < c->n_in;) {
        int k = 0;
        if (first > 0) ops[k++] = c->out[0];
        while (k < 3 && first < c->n_in) ops[k++] = c->in[first++];
        sf_ew_plan p;
        int64_t n = 0;
        int st = sf_ew_plan_make(name, &c->out[0], ops, k, &p, &n, c->msg);
        if (st || n == 0) return st;
        if ((st = go(c, name, &p, n))) return st;
    }
    return SF_OK;
}

/* An expression that reports errors through `bad` needs its kernel's error
 * slot read back; the others do not wait for the device. */
#define SF_CU_FALLIBLE(EXPR) (strstr(#EXPR, "&bad") != NULL)

#endif
