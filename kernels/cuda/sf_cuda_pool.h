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

/* A contiguous 4-D tensor of dtype code, or conv.c's message (the convs' and the
 * pools' one check: sf_cuda_linalg.h's plans call it too). */
static inline int sf_nhwc_check4(sf_call *c, const sf_tensor *t, int32_t code, const char *name, const char *what)
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
    if ((st = sf_nhwc_check4(c, img, code, name, "input"))) return st;
    if ((st = sf_nhwc_check4(c, pooled, code, name, "pooled"))) return st;
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
        if ((st = sf_nhwc_check4(c, other, code, name, other_what))) return st;
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

/* the pixels window (oh, ow) holds (padding never counted) */
SF_HD static inline int64_t sf_pool_count(const sf_pool_geo *g, int64_t oh, int64_t ow)
{
    int64_t h0, h1, w0, w1;
    sf_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
    return (h1 - h0) * (w1 - w0);
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

/* The two loops every kernel runs, written once. SF_POOL_EACH_PIXEL: BODY for each pixel
 * of the clipped window (oh, ow) in row-major order, `off` its offset in an image's
 * channel plane (ih * W + iw) * C. SF_POOL_EACH_WINDOW:
 * BODY for each pooled (oh, ow) whose window holds image pixel (ih, iw), in row-major
 * order (the C kernels' order of adding them). */
#define SF_POOL_EACH_PIXEL(g, oh, ow, off, BODY)                                                       \
    do {                                                                                               \
        int64_t h0_, h1_, w0_, w1_;                                                                    \
        sf_pool_window(&(g), (oh), (ow), &h0_, &h1_, &w0_, &w1_);                                      \
        for (int64_t ih_ = h0_; ih_ < h1_; ih_++)                                                      \
            for (int64_t iw_ = w0_; iw_ < w1_; iw_++) {                                                \
                const int64_t off = (ih_ * (g).W + iw_) * (g).C;                                       \
                BODY                                                                                   \
            }                                                                                          \
    } while (0)
#define SF_POOL_EACH_WINDOW(g, ih, iw, oh, ow, BODY)                                                   \
    do {                                                                                               \
        int64_t oh0_, oh1_, ow0_, ow1_;                                                                \
        sf_pool_covering((ih), (g).pt, (g).KH, (g).sh, (g).OH, &oh0_, &oh1_);                          \
        sf_pool_covering((iw), (g).pl, (g).KW, (g).sw, (g).OW, &ow0_, &ow1_);                          \
        for (int64_t oh = oh0_; oh <= oh1_; oh++)                                                      \
            for (int64_t ow = ow0_; ow <= ow1_; ow++) {                                                \
                BODY                                                                                   \
            }                                                                                          \
    } while (0)

/* element e of a pooled [N, OH, OW, C] (ch, ow, oh, b), or of an image [N, H, W, C] */
#define SF_POOL_UNRAVEL(e, C_, W_, H_, ch, w, h, b)                                                    \
    const int64_t ch = (e) % (C_), w = (e) / (C_) % (W_), h = (e) / (C_) / (W_) % (H_),                \
                  b = (e) / (C_) / (W_) / (H_)

#define SF_POOL_TYPES(X) X(float32, float, -FLT_MAX) X(float64, double, -DBL_MAX)

/* The window scans: `at` the offset (from the image's channel plane) of the window's
 * first maximum, as the C kernels find it: strictly greater values replace the running
 * one, NaN never does; at < 0 takes the first value equal to the start (a window whose
 * maximum is the start value itself). */
#define SF_POOL_MAX_SCAN(T, g, img, oh, ow, m, at)                                                        \
    SF_POOL_EACH_PIXEL(g, oh, ow, off_, {                                                        \
        const T v_ = (img)[off_];                                                                          \
        if (v_ > (m) || ((at) < 0 && v_ == (m))) {                                                     \
            (m) = v_;                                                                                  \
            (at) = off_;                                                                               \
        }                                                                                              \
    })

#define SF_POOL_KERNELS(DT, T, LOWEST)                                                                 \
    /* the image offset (of channel 0's plane, + ch) of window (oh, ow)'s first maximum for           \
     * max_pool_grad: the window's first pixel to start, strictly greater values replace it */        \
    SF_HD static inline int64_t sf_pool_first_max_##DT(const sf_pool_geo *g, const T *img, int64_t oh,  \
                                                        int64_t ow, int64_t ch)                        \
    {                                                                                                  \
        int64_t h0, h1, w0, w1;                                                                        \
        sf_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);                                                 \
        int64_t at = (h0 * g->W + w0) * g->C;                                                          \
        T m = img[at + ch];                                                                            \
        SF_POOL_MAX_SCAN(T, *g, img + ch, oh, ow, m, at);                                                 \
        return at + ch;                                                                                \
    }                                                                                                  \
    /* a pooled element: the max of its window from LOWEST (NaN ignored; TensorFlow's start) */       \
    SF_HD static inline T sf_pool_max_##DT(const sf_pool_geo *g, const T *x, int64_t e)                \
    {                                                                                                  \
        SF_POOL_UNRAVEL(e, g->C, g->OW, g->OH, ch, ow, oh, b);                                         \
        const T *img = x + b * g->H * g->W * g->C + ch;                                                \
        T m = (T)(LOWEST);                                                                             \
        int64_t at = -1;                                                                               \
        SF_POOL_MAX_SCAN(T, *g, img, oh, ow, m, at);                                                      \
        return m;                                                                                      \
    }                                                                                                  \
    SF_KERNEL k_max_pool_##DT(sf_pool_geo g, const T *x, T *y, int64_t n)                              \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) y[e] = sf_pool_max_##DT(&g, x, e);                                          \
    }                                                                                                  \
    SF_KERNEL k_avg_pool_##DT(sf_pool_geo g, const T *x, T *y, int64_t n)                              \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            SF_POOL_UNRAVEL(e, g.C, g.OW, g.OH, ch, ow, oh, b);                                        \
            const T *img = x + b * g.H * g.W * g.C + ch;                                               \
            T o = 0;                                                                                   \
            SF_POOL_EACH_PIXEL(g, oh, ow, off, { o += img[off]; });                                    \
            const int64_t count = sf_pool_count(&g, oh, ow);                                           \
            y[e] = o * (count > 0 ? (T)1 / (T)count : (T)0);                                           \
        }                                                                                              \
    }                                                                                                  \
    /* dx at image element e: the grads of the windows whose first max it is */                      \
    SF_KERNEL k_max_pool_grad_##DT(sf_pool_geo g, const T *x, const T *gy, T *dx, int64_t n)           \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            SF_POOL_UNRAVEL(e, g.C, g.W, g.H, ch, iw, ih, b);                                          \
            const T *img = x + b * g.H * g.W * g.C;                                                    \
            const int64_t self = (ih * g.W + iw) * g.C + ch;                                           \
            T d = 0;                                                                                   \
            SF_POOL_EACH_WINDOW(g, ih, iw, oh, ow, {                                                   \
                if (sf_pool_first_max_##DT(&g, img, oh, ow, ch) == self)                               \
                    d += gy[((b * g.OH + oh) * g.OW + ow) * g.C + ch];                                 \
            });                                                                                        \
            dx[e] = d;                                                                                 \
        }                                                                                              \
    }                                                                                                  \
    /* y at pooled element e: gg at the window's first element equal to its max_pool value            \
     * (NaN ignored, LOWEST to start), 0 when none is (a window of NaN and -inf) */                   \
    SF_KERNEL k_max_pool_grad_grad_##DT(sf_pool_geo g, const T *x, const T *gg, T *y, int64_t n)       \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            SF_POOL_UNRAVEL(e, g.C, g.OW, g.OH, ch, ow, oh, b);                                        \
            const int64_t base = b * g.H * g.W * g.C + ch;                                             \
            T m = (T)(LOWEST);                                                                         \
            int64_t at = -1;                                                                           \
            SF_POOL_MAX_SCAN(T, g, x + base, oh, ow, m, at);                                              \
            y[e] = at < 0 ? (T)0 : gg[base + at];                                                      \
        }                                                                                              \
    }                                                                                                  \
    SF_KERNEL k_avg_pool_grad_##DT(sf_pool_geo g, const T *gy, T *dx, int64_t n)                       \
    {                                                                                                  \
        SF_GRID_LOOP(e, n) {                                                                           \
            SF_POOL_UNRAVEL(e, g.C, g.W, g.H, ch, iw, ih, b);                                          \
            T d = 0;                                                                                   \
            SF_POOL_EACH_WINDOW(g, ih, iw, oh, ow, {                                                   \
                const int64_t cnt = sf_pool_count(&g, oh, ow);                                         \
                d += gy[((b * g.OH + oh) * g.OW + ow) * g.C + ch] * ((T)1 / (T)cnt);                   \
            });                                                                                        \
            dx[e] = d;                                                                                 \
        }                                                                                              \
    }
SF_POOL_TYPES(SF_POOL_KERNELS)

/* the launchers (pool.cu's exported kernels); a family that only launches the kernels
 * (linalg.cu's fused conv) defines SF_POOL_NO_LAUNCHERS */
#define SF_POOL_LAUNCHERS(DT, T, LOWEST)                                                               \
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
#ifndef SF_POOL_NO_LAUNCHERS
SF_POOL_TYPES(SF_POOL_LAUNCHERS)
#endif

#define SF_POOL_ENTRY(DT, T, LOWEST)                                                                   \
    {"sf_cuda_max_pool_" #DT, sf_cuda_max_pool_##DT}, {"sf_cuda_avg_pool_" #DT, sf_cuda_avg_pool_##DT}, \
        {"sf_cuda_max_pool_grad_" #DT, sf_cuda_max_pool_grad_##DT},                                    \
        {"sf_cuda_max_pool_grad_grad_" #DT, sf_cuda_max_pool_grad_grad_##DT},                          \
        {"sf_cuda_avg_pool_grad_" #DT, sf_cuda_avg_pool_grad_##DT},

#endif
