/* Host code of the GPU fused kernels (not part of the ABI): a call's views packed
 * into the generated kernel's parameter, the error messages, and the generic
 * launcher `sf_cuda_fused_launch`, the sf_kernel that every generated kernel is
 * called through.
 *
 * Why one generic launcher: a plan's call record holds an sf_kernel (a host function
 * taking the sf_call), while NVRTC makes device code that only the driver API can
 * launch. Rather than a host trampoline compiled per kernel, one launcher (compiled
 * once by the system C compiler through the kernel cache, backends/jit.py) reads the
 * kernel's descriptor (sf_fused_fn, its address in iattr[0] of the call), packs the
 * call's sf_tensor records into the parameter and calls cuLaunchKernel through the
 * driver entry points the descriptor holds: the launcher links nothing, and loads on
 * machines without a driver. Generated kernels thus sit in the ABI's slot like the
 * hand-written ones: same sf_call, same status codes, same messages.
 *
 * Call layout: inputs = the kernel's NIN views, then (row mode with long rows) the
 * float64 partials, then (a fallible kernel) one 8-byte error word; outputs = the
 * elementwise outputs, then (a reduction) its K values.
 *
 * The tests include this header in the CPU build of generated sources
 * (tests/cuda/fused_driver.c) so that the packing they check is this one.
 */
#ifndef SF_FUSED_LAUNCH_H
#define SF_FUSED_LAUNCH_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "staticflow.h"
#include "sf_fused_cuda.h"

#define SF_FUSED_MAXT 48 /* views of one kernel: the parameter stays under 4 KB */

/* The driver's entry points (CUresult is an int, CUdeviceptr 64 bits, handles pointers). */
typedef int (*sf_cu_launch_fn)(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shmem, void *stream, void **params, void **extra);
typedef int (*sf_cu_memset32_fn)(unsigned long long dst, unsigned value, size_t n, void *stream);
typedef int (*sf_cu_dtoh_fn)(void *dst, unsigned long long src, size_t n, void *stream);
typedef int (*sf_cu_sync_fn)(void *stream);
typedef int (*sf_cu_ctx_get_fn)(void **ctx);
typedef int (*sf_cu_ctx_set_fn)(void *ctx);
typedef int (*sf_cu_errstr_fn)(int code, const char **str);

/* A generated kernel, loaded: made by backends/cuda_fused.py, alive as long as the process. */
typedef struct sf_fused_fn {
    void *ctx;  /* CUcontext the module was loaded in (the device's primary context) */
    void *func; /* CUfunction sf_fused */
    void *fin;  /* CUfunction sf_fused_fin (row mode), or NULL */
    sf_cu_launch_fn launch;
    sf_cu_memset32_fn memset32;
    sf_cu_dtoh_fn dtoh;
    sf_cu_sync_fn sync;
    sf_cu_ctx_get_fn ctx_get;
    sf_cu_ctx_set_fn ctx_set;
    sf_cu_errstr_fn errstr;
    int32_t mode; /* 0 elementwise, 1 row, 2 column */
    int32_t nin;  /* the kernel's input views */
    int32_t nout; /* its elementwise outputs */
    int32_t fallible;
    int32_t dt[SF_FUSED_MAXT + 1]; /* dtype codes of the views (inputs, outputs, reduction) */
} sf_fused_fn;

static inline int sf_fused_fail(sf_call *c, int code, const char *what)
{
    snprintf(c->msg, SF_MSG_LEN, "fused kernel: %s", what);
    return code;
}

/* The message of error word e (the CPU fused kernels' wording). */
static inline int sf_fused_error(sf_call *c, unsigned long long e)
{
    const int member = (int)(e >> 4) - 1, code = (int)(e & 15);
    switch (code) {
    case 1: snprintf(c->msg, SF_MSG_LEN, "fused member %d: integer division by zero", member); break;
    case 2: snprintf(c->msg, SF_MSG_LEN, "fused member %d: integer modulo by zero", member); break;
    case 3:
        snprintf(c->msg, SF_MSG_LEN, "fused member %d: integers to negative integer powers are not allowed",
                 member);
        break;
    default: snprintf(c->msg, SF_MSG_LEN, "fused member %d: failed with error %d", member, code); return SF_ERR_INTERNAL;
    }
    return SF_ERR_INVALID_ARGUMENT;
}

static inline int64_t sf_fused_numel(const sf_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Packs call c into buf (the kernel parameter: head and NT views); *size gets its bytes.
 * Checks arity, dtypes and shapes against the descriptor. */
static inline int sf_fused_pack(sf_call *c, const sf_fused_fn *f, void *buf, size_t cap, size_t *size)
{
    const int nin = f->nin, nout = f->nout, red = f->mode != 0, nt = nin + nout;
    if (nt > SF_FUSED_MAXT || sizeof(sf_fused_head) + (size_t)nt * sizeof(sf_fused_view) > cap)
        return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "too many views");
    if (c->n_out != nout + red || c->n_in < nin)
        return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "unexpected number of inputs or outputs");
    sf_fused_head *h = (sf_fused_head *)buf;
    sf_fused_view *v = (sf_fused_view *)((char *)buf + sizeof(sf_fused_head));
    memset(buf, 0, sizeof(sf_fused_head) + (size_t)nt * sizeof(sf_fused_view));
    const sf_tensor *ref = nin ? &c->in[0] : &c->out[0];
    if (ref->ndim > SF_FUSED_MAXD || (red && ref->ndim != 2))
        return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "views of an unexpected rank");
    for (int t = 0; t < nt + red; t++) {
        const sf_tensor *x = t < nin ? &c->in[t] : &c->out[t - nin];
        if (x->dtype != f->dt[t]) {
            snprintf(c->msg, SF_MSG_LEN, "fused kernel: view %d has dtype code %d, expected %d", t, (int)x->dtype,
                     (int)f->dt[t]);
            return SF_ERR_INVALID_ARGUMENT;
        }
        if (t == nt) break; /* the reduction's output: K values */
        int same = x->ndim == ref->ndim;
        for (int d = 0; same && d < ref->ndim; d++) same = x->shape[d] == ref->shape[d];
        if (!same) {
            snprintf(c->msg, SF_MSG_LEN, "fused kernel: view %d's shape differs", t);
            return SF_ERR_INVALID_ARGUMENT;
        }
        v[t].data = (char *)x->data;
        for (int d = 0; d < x->ndim; d++) v[t].st[d] = x->strides[d];
    }
    int k = nin;
    if (!red) {
        h->nd = ref->ndim ? ref->ndim : 1;
        h->shape[0] = 1;
        for (int d = 0; d < ref->ndim; d++) h->shape[d] = ref->shape[d];
        h->n = sf_fused_numel(ref);
    } else {
        h->K = ref->shape[0];
        h->R = ref->shape[1];
        h->nd = 2;
        h->nch = f->mode == 1 && h->R > SF_FUSED_CHUNK ? (h->R + SF_FUSED_CHUNK - 1) / SF_FUSED_CHUNK : 1;
        h->n = h->K * h->nch;
        const sf_tensor *o = &c->out[nout];
        if (sf_fused_numel(o) != h->K) return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "reduction output size");
        h->out = o->data;
        if (h->nch > 1) {
            if (c->n_in <= k || c->in[k].dtype != SF_FLOAT64 || sf_fused_numel(&c->in[k]) < h->n)
                return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "the partials must be K * tasks float64 values");
            h->part = (double *)c->in[k].data;
            k++;
        }
    }
    if (f->fallible) {
        if (c->n_in <= k || sf_fused_numel(&c->in[k]) * (c->in[k].dtype == SF_INT64 ? 8 : 0) < 8)
            return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "the error word must be an int64 input");
        h->err = (unsigned long long *)c->in[k].data;
        k++;
    }
    if (c->n_in != k) return sf_fused_fail(c, SF_ERR_INVALID_ARGUMENT, "unexpected number of inputs");
    *size = sizeof(sf_fused_head) + (size_t)nt * sizeof(sf_fused_view);
    return SF_OK;
}

#ifdef SF_FUSED_LAUNCHER
static int sf_fused_cu(sf_call *c, const sf_fused_fn *f, int rc, const char *what)
{
    const char *s = NULL;
    if (rc == 0) return SF_OK;
    if (f->errstr) f->errstr(rc, &s);
    snprintf(c->msg, SF_MSG_LEN, "fused kernel: %s failed: %s (CUDA error %d)", what, s ? s : "unknown", rc);
    return SF_ERR_INTERNAL;
}

static unsigned sf_fused_grid(int64_t n, int64_t per)
{
    int64_t b = (n + per - 1) / per;
    if (b < 1) b = 1;
    return (unsigned)(b > SF_FUSED_MAX_BLOCKS ? SF_FUSED_MAX_BLOCKS : b);
}

/* The sf_kernel of every generated GPU kernel: call->iattr[0] is its sf_fused_fn. */
int sf_cuda_fused_launch(sf_call *c)
{
    const sf_fused_fn *f = (const sf_fused_fn *)(intptr_t)c->iattr[0];
    if (!f || !f->func) return sf_fused_fail(c, SF_ERR_INTERNAL, "no kernel descriptor in iattr[0]");
    union { sf_fused_head h; char bytes[4096]; } buf;
    size_t size = 0;
    int st = sf_fused_pack(c, f, &buf, sizeof buf, &size);
    if (st) return st;
    const sf_fused_head *h = &buf.h;
    if (h->n == 0 || (f->mode && h->K == 0)) return SF_OK;
    void *cur = NULL; /* launches go to the module's context, whichever thread runs the plan */
    if (f->ctx_get(&cur) != 0 || cur != f->ctx)
        if ((st = sf_fused_cu(c, f, f->ctx_set(f->ctx), "cuCtxSetCurrent"))) return st;
    void *params[1] = {&buf};
    if (f->fallible && (st = sf_fused_cu(c, f, f->memset32((unsigned long long)(uintptr_t)h->err, 0, 2, c->stream),
                                         "cuMemsetD32Async")))
        return st;
    const unsigned T = SF_FUSED_THREADS;
    unsigned grid = f->mode == 1 ? sf_fused_grid(h->n, 1) : sf_fused_grid(f->mode == 2 ? h->K : h->n, T);
    if ((st = sf_fused_cu(c, f, f->launch(f->func, grid, 1, 1, T, 1, 1, 0, c->stream, params, NULL), "cuLaunchKernel")))
        return st;
    if (f->mode == 1 && h->nch > 1 &&
        (st = sf_fused_cu(c, f, f->launch(f->fin, sf_fused_grid(h->K, T), 1, 1, T, 1, 1, 0, c->stream, params, NULL),
                          "cuLaunchKernel")))
        return st;
    if (f->fallible) { /* read the error word back: the only wait for the device */
        unsigned long long e = 0;
        if ((st = sf_fused_cu(c, f, f->dtoh(&e, (unsigned long long)(uintptr_t)h->err, 8, c->stream),
                              "cuMemcpyDtoHAsync")))
            return st;
        if ((st = sf_fused_cu(c, f, f->sync(c->stream), "cuStreamSynchronize"))) return st;
        if (e) return sf_fused_error(c, e);
    }
    return SF_OK;
}
#endif

#endif /* SF_FUSED_LAUNCH_H */
