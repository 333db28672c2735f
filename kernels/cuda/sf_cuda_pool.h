/* max_pool, avg_pool and their gradients (pool.cu) for nvcc and the CPU driver
 * alike (sf_cuda_launch.h): conv.c's semantics and messages (NHWC, contiguous,
 * windows clipped to the image, padding never counted). Every kernel gathers:
 * one thread per element it writes, channels innermost (adjacent threads,
 * adjacent channels: coalesced), no atomics, so the sums run in the C kernels'
 * order:
 *   max_pool, avg_pool, max_pool_grad_grad: a thread per pooled element, over its window;
 *   max_pool_grad, avg_pool_grad: a thread per image element, over the windows that
 *     hold it (in row-major window order, as the C kernels add them). */
#ifndef SF_CUDA_POOL_H
#define SF_CUDA_POOL_H

#include <float.h>

#include "sf_cuda_launch.h"
#include "sf_cuda_ew.h"

typedef struct sf_pool_geo {
    int64_t N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl;
} sf_pool_geo;

static inline int sf_pool_check4(sf_call *c, const sf_tensor *t, int32_t code, const char *name, const char *what)
{
    if (t->dtype != code) {
        snprintf(c->msg, SF_MSG_LEN, "%s: %s has dtype code %d, expected %d", name, what, (int)t->dtype, (int)code);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (t->ndim != 4) {
        snprintf(c->msg, SF_MSG_LEN, "%s: %s must be 4-D, got %d dims", name, what, (int)t->ndim);
        return SF_ERR_INVALID_ARGUMENT;
    }
    for (int d = 3, s = 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != s) {
            snprintf(c->msg, SF_MSG_LEN, "%s: %s must be contiguous", name, what);
            return SF_ERR_INVALID_ARGUMENT;
        }
        s *= (int)t->shape[d];
    }
    return SF_OK;
}

/* iattr = [kh, kw, sh, sw, pt, pl]; img [N, H, W, C], pooled [N, OH, OW, C]; `other`, when
 * not NULL, must have img's shape (max_pool_grad's output, max_pool_grad_grad's grad). */
static inline int sf_pool_plan(sf_call *c, sf_pool_geo *g, const sf_tensor *img, const sf_tensor *pooled,
                               const sf_tensor *other, const char *other_what, int32_t code, const char *name)
{
    int st;
    if ((st = sf_pool_check4(c, img, code, name, "input"))) return st;
    if ((st = sf_pool_check4(c, pooled, code, name, "pooled"))) return st;
    g->N = img->shape[0], g->H = img->shape[1], g->W = img->shape[2], g->C = img->shape[3];
    g->OH = pooled->shape[1], g->OW = pooled->shape[2];
    g->KH = c->iattr[SF_POOL_KSIZE_H], g->KW = c->iattr[SF_POOL_KSIZE_W];
    g->sh = c->iattr[SF_POOL_STRIDE_H], g->sw = c->iattr[SF_POOL_STRIDE_W];
    g->pt = c->iattr[SF_POOL_PAD_TOP], g->pl = c->iattr[SF_POOL_PAD_LEFT];
    if (pooled->shape[0] != g->N || pooled->shape[3] != g->C) {
        snprintf(c->msg, SF_MSG_LEN, "%s: input and pooled batch or depth differ", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (g->KH < 1 || g->KW < 1 || g->sh < 1 || g->sw < 1 || g->pt < 0 || g->pl < 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s: bad ksize, strides or padding", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (other) {
        if ((st = sf_pool_check4(c, other, code, name, other_what))) return st;
        for (int d = 0; d < 4; d++)
            if (other->shape[d] != img->shape[d]) {
                snprintf(c->msg, SF_MSG_LEN,
                         "%s: %s must have the input's shape [%lld, %lld, %lld, %lld], got [%lld, %lld, %lld, %lld]",
                         name, other_what, (long long)img->shape[0], (long long)img->shape[1],
                         (long long)img->shape[2], (long long)img->shape[3], (long long)other->shape[0],
                         (long long)other->shape[1], (long long)other->shape[2], (long long)other->shape[3]);
                return SF_ERR_INVALID_ARGUMENT;
            }
    }
    return SF_OK;
}

/* window (oh, ow), clipped: rows [*h0, *h1), columns [*w0, *w1) */
SF_HD static inline void sf_pool_window(const sf_pool_geo *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                                        int64_t *w0, int64_t *w1)
{
    *h0 = oh * g->sh - g->pt;
    *w0 = ow * g->sw - g->pl;
    *h1 = *h0 + g->KH;
    *w1 = *w0 + g->KW;
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > g->H) *h1 = g->H;
    if (*w1 > g->W) *w1 = g->W;
}

/* the pooled outputs whose windows hold image row ih: [*o0, *o1] (empty when o0 > o1) */
SF_HD static inline void sf_pool_covering(int64_t i, int64_t pad, int64_t k, int64_t s, int64_t n, int64_t *o0,
                                          int64_t *o1)
{
    int64_t a = i + pad - k + 1, b = (i + pad) / s;
    a = a <= 0 ? 0 : (a + s - 1) / s;
    if (b >= n) b = n - 1;
    *o0 = a;
    *o1 = b;
}

#define SF_POOL_TYPES(X) X(float32, float, -FLT_MAX) X(float64, double, -DBL_MAX)

#define SF_POOL_BODY(DT, T, LOWEST)                                                                    \
    /* the image offset (of channel 0's plane, + ch) of window (oh, ow)'s first maximum for           \
     * max_pool_grad: the window's first pixel to start, strictly greater values replace it */        \
    SF_HD static inline int64_t sf_pool_first_max_##DT(const sf_pool_geo *g, const T *img, int64_t oh,  \
                                                        int64_t ow, int64_t ch)                        \
    {                                                                                                  \
        int64_t h0, h1, w0, w1;                                                                        \
        sf_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);                                                 \
        int64_t at = (h0 * g->W + w0) * g->C + ch;                                                     \
        T m = img[at];                                                                                 \
        for (int64_t ih = h0; ih < h1; ih++)                                                           \
            for (int64_t iw = w0; iw < w1; iw++) {                                                     \
                const int64_t off = (ih * g->W + iw) * g->C + ch;                                      \
                if (img[off] > m) {                                                                    \
                    m = img[off];                                                                      \
                    at = off;                                                                          \
                }                                                                                      \
            }                                                                                          \
        return at;                                                                                     \
    }                                                                                                  \
    SF_KERNEL k_max_pool_##DT(sf_pool_geo g, const T *x, T *y, int64_t n)                              \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            const int64_t ch = e % g.C, r = e / g.C, ow = r % g.OW, r2 = r / g.OW, oh = r2 % g.OH,     \
                          b = r2 / g.OH;                                                               \
            int64_t h0, h1, w0, w1;                                                                    \
            sf_pool_window(&g, oh, ow, &h0, &h1, &w0, &w1);                                            \
            const T *img = x + b * g.H * g.W * g.C + ch;                                               \
            T o = (T)(LOWEST);                                                                         \
            for (int64_t ih = h0; ih < h1; ih++)                                                       \
                for (int64_t iw = w0; iw < w1; iw++) {                                                 \
                    const T v = img[(ih * g.W + iw) * g.C];                                            \
                    o = v > o ? v : o;                                                                 \
                }                                                                                      \
            y[e] = o;                                                                                  \
        }                                                                                              \
    }                                                                                                  \
    SF_KERNEL k_avg_pool_##DT(sf_pool_geo g, const T *x, T *y, int64_t n)                              \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            const int64_t ch = e % g.C, r = e / g.C, ow = r % g.OW, r2 = r / g.OW, oh = r2 % g.OH,     \
                          b = r2 / g.OH;                                                               \
            int64_t h0, h1, w0, w1;                                                                    \
            sf_pool_window(&g, oh, ow, &h0, &h1, &w0, &w1);                                            \
            const T *img = x + b * g.H * g.W * g.C + ch;                                               \
            T o = 0;                                                                                   \
            for (int64_t ih = h0; ih < h1; ih++)                                                       \
                for (int64_t iw = w0; iw < w1; iw++) o += img[(ih * g.W + iw) * g.C];                  \
            const int64_t cnt = (h1 - h0) * (w1 - w0);                                                 \
            y[e] = o * (cnt > 0 ? (T)1 / (T)cnt : (T)0);                                               \
        }                                                                                              \
    }                                                                                                  \
    /* dx at image element e: the grads of the windows whose first max it is */                      \
    SF_KERNEL k_max_pool_grad_##DT(sf_pool_geo g, const T *x, const T *gy, T *dx, int64_t n)           \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            const int64_t ch = e % g.C, r = e / g.C, iw = r % g.W, r2 = r / g.W, ih = r2 % g.H,        \
                          b = r2 / g.H;                                                                \
            const T *img = x + b * g.H * g.W * g.C;                                                    \
            const int64_t self = (ih * g.W + iw) * g.C + ch;                                           \
            int64_t oh0, oh1, ow0, ow1;                                                                \
            sf_pool_covering(ih, g.pt, g.KH, g.sh, g.OH, &oh0, &oh1);                                  \
            sf_pool_covering(iw, g.pl, g.KW, g.sw, g.OW, &ow0, &ow1);                                  \
            T d = 0;                                                                                   \
            for (int64_t oh = oh0; oh <= oh1; oh++)                                                    \
                for (int64_t ow = ow0; ow <= ow1; ow++)                                                \
                    if (sf_pool_first_max_##DT(&g, img, oh, ow, ch) == self)                           \
                        d += gy[((b * g.OH + oh) * g.OW + ow) * g.C + ch];                             \
            dx[e] = d;                                                                                 \
        }                                                                                              \
    }                                                                                                  \
    /* y at pooled element e: gg at the window's first element equal to its max_pool value            \
     * (NaN ignored, LOWEST to start), 0 when none is (a window of NaN and -inf) */                   \
    SF_KERNEL k_max_pool_grad_grad_##DT(sf_pool_geo g, const T *x, const T *gg, T *y, int64_t n)       \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            const int64_t ch = e % g.C, r = e / g.C, ow = r % g.OW, r2 = r / g.OW, oh = r2 % g.OH,     \
                          b = r2 / g.OH;                                                               \
            int64_t h0, h1, w0, w1;                                                                    \
            sf_pool_window(&g, oh, ow, &h0, &h1, &w0, &w1);                                            \
            const int64_t base = b * g.H * g.W * g.C + ch;                                             \
            T m = (T)(LOWEST);                                                                         \
            for (int64_t ih = h0; ih < h1; ih++)                                                       \
                for (int64_t iw = w0; iw < w1; iw++) {                                                 \
                    const T v = x[base + (ih * g.W + iw) * g.C];                                       \
                    if (v > m) m = v;                                                                  \
                }                                                                                      \
            T o = 0;                                                                                   \
            int found = 0;                                                                             \
            for (int64_t ih = h0; ih < h1 && !found; ih++)                                             \
                for (int64_t iw = w0; iw < w1 && !found; iw++) {                                       \
                    const int64_t off = base + (ih * g.W + iw) * g.C;                                  \
                    if (x[off] == m) {                                                                 \
                        o = gg[off];                                                                   \
                        found = 1;                                                                     \
                    }                                                                                  \
                }                                                                                      \
            y[e] = o;                                                                                  \
        }                                                                                              \
    }                                                                                                  \
    SF_KERNEL k_avg_pool_grad_##DT(sf_pool_geo g, const T *gy, T *dx, int64_t n)                       \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            const int64_t ch = e % g.C, r = e / g.C, iw = r % g.W, r2 = r / g.W, ih = r2 % g.H,        \
                          b = r2 / g.H;                                                                \
            int64_t oh0, oh1, ow0, ow1;                                                                \
            sf_pool_covering(ih, g.pt, g.KH, g.sh, g.OH, &oh0, &oh1);                                  \
            sf_pool_covering(iw, g.pl, g.KW, g.sw, g.OW, &ow0, &ow1);                                  \
            T d = 0;                                                                                   \
            for (int64_t oh = oh0; oh <= oh1; oh++)                                                    \
                for (int64_t ow = ow0; ow <= ow1; ow++) {                                              \
                    int64_t h0, h1, w0, w1;                                                            \
                    sf_pool_window(&g, oh, ow, &h0, &h1, &w0, &w1);                                    \
                    d += gy[((b * g.OH + oh) * g.OW + ow) * g.C + ch] * ((T)1 / (T)((h1 - h0) * (w1 - w0))); \
                }                                                                                      \
            dx[e] = d;                                                                                 \
        }                                                                                              \
    }                                                                                                  \
    SF_PUBLIC sf_cuda_max_pool_##DT(sf_call *c)                                                        \
    {                                                                                                  \
        const char *name = "sf_cuda_max_pool_" #DT;                                                            \
        sf_pool_geo g;                                                                                 \
        if (c->n_in < 1 || c->n_out < 1) {                                                             \
            snprintf(c->msg, SF_MSG_LEN, "max_pool takes 1 input and 1 output");                       \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        int st = sf_pool_plan(c, &g, &c->in[0], &c->out[0], NULL, NULL, SF_DTC_##DT, name);            \
        if (st) return st;                                                                             \
        const int64_t n = g.N * g.OH * g.OW * g.C;                                                     \
        if (n == 0) return SF_OK;                                                                      \
        SF_LAUNCH(c, name, k_max_pool_##DT, n, g, (const T *)c->in[0].data, (T *)c->out[0].data, n);   \
        return SF_OK;                                                                                  \
    }                                                                                                  \
    SF_PUBLIC sf_cuda_avg_pool_##DT(sf_call *c)                                                        \
    {                                                                                                  \
        const char *name = "sf_cuda_avg_pool_" #DT;                                                            \
        sf_pool_geo g;                                                                                 \
        if (c->n_in < 1 || c->n_out < 1) {                                                             \
            snprintf(c->msg, SF_MSG_LEN, "avg_pool takes 1 input and 1 output");                       \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        int st = sf_pool_plan(c, &g, &c->in[0], &c->out[0], NULL, NULL, SF_DTC_##DT, name);            \
        if (st) return st;                                                                             \
        const int64_t n = g.N * g.OH * g.OW * g.C;                                                     \
        if (n == 0) return SF_OK;                                                                      \
        SF_LAUNCH(c, name, k_avg_pool_##DT, n, g, (const T *)c->in[0].data, (T *)c->out[0].data, n);   \
        return SF_OK;                                                                                  \
    }                                                                                                  \
    SF_PUBLIC sf_cuda_max_pool_grad_##DT(sf_call *c)                                                   \
    {                                                                                                  \
        const char *name = "sf_cuda_max_pool_grad_" #DT;                                                       \
        sf_pool_geo g;                                                                                 \
        if (c->n_in < 2 || c->n_out < 1) {                                                             \
            snprintf(c->msg, SF_MSG_LEN, "max_pool_grad takes 2 inputs and 1 output");                 \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        int st = sf_pool_plan(c, &g, &c->in[0], &c->in[1], &c->out[0], "output", SF_DTC_##DT, name);   \
        if (st) return st;                                                                             \
        const int64_t n = g.N * g.H * g.W * g.C;                                                       \
        if (n == 0) return SF_OK;                                                                      \
        SF_LAUNCH(c, name, k_max_pool_grad_##DT, n, g, (const T *)c->in[0].data, (const T *)c->in[1].data, \
                  (T *)c->out[0].data, n);                                                             \
        return SF_OK;                                                                                  \
    }                                                                                                  \
    SF_PUBLIC sf_cuda_max_pool_grad_grad_##DT(sf_call *c)                                              \
    {                                                                                                  \
        const char *name = "sf_cuda_max_pool_grad_grad_" #DT;                                                  \
        sf_pool_geo g;                                                                                 \
        if (c->n_in < 2 || c->n_out < 1) {                                                             \
            snprintf(c->msg, SF_MSG_LEN, "max_pool_grad_grad takes 2 inputs and 1 output");            \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        int st = sf_pool_plan(c, &g, &c->in[0], &c->out[0], &c->in[1], "grad", SF_DTC_##DT, name);     \
        if (st) return st;                                                                             \
        const int64_t n = g.N * g.OH * g.OW * g.C;                                                     \
        if (n == 0) return SF_OK;                                                                      \
        SF_LAUNCH(c, name, k_max_pool_grad_grad_##DT, n, g, (const T *)c->in[0].data,                  \
                  (const T *)c->in[1].data, (T *)c->out[0].data, n);                                   \
        return SF_OK;                                                                                  \
    }                                                                                                  \
    SF_PUBLIC sf_cuda_avg_pool_grad_##DT(sf_call *c)                                                   \
    {                                                                                                  \
        const char *name = "sf_cuda_avg_pool_grad_" #DT;                                                       \
        sf_pool_geo g;                                                                                 \
        if (c->n_in < 1 || c->n_out < 1) {                                                             \
            snprintf(c->msg, SF_MSG_LEN, "avg_pool_grad takes 1 input and 1 output");                  \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        int st = sf_pool_plan(c, &g, &c->out[0], &c->in[0], NULL, NULL, SF_DTC_##DT, name);            \
        if (st) return st;                                                                             \
        const int64_t n = g.N * g.H * g.W * g.C;                                                       \
        if (n == 0) return SF_OK;                                                                      \
        SF_LAUNCH(c, name, k_avg_pool_grad_##DT, n, g, (const T *)c->in[0].data, (T *)c->out[0].data, n); \
        return SF_OK;                                                                                  \
    }
SF_POOL_TYPES(SF_POOL_BODY)

#define SF_POOL_ENTRY(DT, T, LOWEST)                                                                   \
    {"sf_cuda_max_pool_" #DT, sf_cuda_max_pool_##DT}, {"sf_cuda_avg_pool_" #DT, sf_cuda_avg_pool_##DT}, \
        {"sf_cuda_max_pool_grad_" #DT, sf_cuda_max_pool_grad_##DT},                                    \
        {"sf_cuda_max_pool_grad_grad_" #DT, sf_cuda_max_pool_grad_grad_##DT},                          \
        {"sf_cuda_avg_pool_grad_" #DT, sf_cuda_avg_pool_grad_##DT},

#endif
