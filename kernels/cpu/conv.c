/* Convolution and pooling kernels, NHWC, float32/float64.
 *
 * Every tensor is a contiguous 4-D view: images [N, H, W, C], filters
 * [KH, KW, C, O] (depthwise: [KH, KW, C, M]), outputs [N, OH, OW, ...].
 * Python computes the padding (SAME / VALID / explicit) and passes the top
 * and left amounts; the bottom and right padding follow from the shapes.
 * The iattr convention is documented in staticflow.h ("conv.c").
 *
 * conv2d and its two backprops are im2col + one GEMM per chunk of images:
 * the column matrix of a chunk is [chunk * OH * OW, KH * KW * C] (row k =
 * (kh * KW + kw) * C + c, the row-major order of the filter), built in a
 * slot of the scratch tensor in[2] and multiplied with the filter viewed as
 * [K, O]. With at least as many chunks as threads each thread takes whole
 * chunks into its own slot with single-threaded products (sf_cut below);
 * otherwise the chunks run in turn, each im2col and product split over the
 * threads (sf_sgemm). A 1x1 filter with stride 1 and no padding needs no
 * column matrix: the image is the matrix. The input backprop forms the
 * transposed column gradient W dY^T (a row per filter tap) and adds each row
 * into a planar copy of its image (col2im), then transposes that to NHWC.
 * Narrow stride-1 convs have direct kernels instead ("direct convolution of
 * narrow layers" below). Pooling kernels are direct loops, vectorized over
 * channels, parallel over (image, output row) or, for the max pool
 * gradient's scatter, over images.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <float.h>
#include <limits.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"

/* Geometry of one conv/pool call. */
typedef struct {
    int64_t N, H, W, C;   /* input image */
    int64_t KH, KW, O;    /* filter (O: out channels, or depth multiplier) */
    int64_t OH, OW;       /* output */
    int64_t sh, sw, dh, dw, pt, pl;
} sf_geo;

static int sf_check4(sf_call *c, const sf_tensor *t, int32_t code, const char *name, const char *what)
{
    if (t->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s has dtype code %d, expected %d", name, what,
                       (int)t->dtype, (int)code);
    if (t->ndim != 4)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s must be 4-D, got %d dims", name, what,
                       (int)t->ndim);
    if (!sf_is_contiguous(t))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s must be contiguous", name, what);
    return SF_OK;
}

/* `t` must have the shape of `like` (both 4-D): a kernel that walks one by the other's
 * sizes never leaves it. */
static int sf_same4(sf_call *c, const sf_tensor *t, const sf_tensor *like, const char *name,
                    const char *what)
{
    for (int d = 0; d < 4; d++)
        if (t->shape[d] != like->shape[d])
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                           "%s: %s must have the input's shape [%lld, %lld, %lld, %lld], got [%lld, %lld, "
                           "%lld, %lld]", name, what, (long long)like->shape[0], (long long)like->shape[1],
                           (long long)like->shape[2], (long long)like->shape[3], (long long)t->shape[0],
                           (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3]);
    return SF_OK;
}

/* max_pool's start value, as TensorFlow's: a window of NaN and -inf pools to it */
#define SF_LOWEST_float32 (-FLT_MAX)
#define SF_LOWEST_float64 (-DBL_MAX)

/* window [h0, h1) x [w0, w1) of output (oh, ow), clipped to the image */
#define SF_WINDOW(g, oh, ow)                                         \
    int64_t h0 = (oh) * (g).sh - (g).pt, w0 = (ow) * (g).sw - (g).pl; \
    int64_t h1 = h0 + (g).KH, w1 = w0 + (g).KW;                      \
    if (h0 < 0) h0 = 0;                                              \
    if (w0 < 0) w0 = 0;                                              \
    if (h1 > (g).H) h1 = (g).H;                                      \
    if (w1 > (g).W) w1 = (g).W;

/* img: [N, H, W, C]; filt: [KH, KW, C, O] (or NULL for pools: KH/KW from iattr);
 * out: [N, OH, OW, *]. iattr = [sh, sw, dh, dw, pt, pl] for convs. */
static int sf_conv_geo(sf_call *c, sf_geo *g, const sf_tensor *img, const sf_tensor *filt,
                       const sf_tensor *out, const char *name)
{
    g->N = img->shape[0];
    g->H = img->shape[1];
    g->W = img->shape[2];
    g->C = img->shape[3];
    g->KH = filt->shape[0];
    g->KW = filt->shape[1];
    g->O = filt->shape[3];
    g->OH = out->shape[1];
    g->OW = out->shape[2];
    g->sh = c->iattr[SF_CONV_STRIDE_H];
    g->sw = c->iattr[SF_CONV_STRIDE_W];
    g->dh = c->iattr[SF_CONV_DILATION_H];
    g->dw = c->iattr[SF_CONV_DILATION_W];
    g->pt = c->iattr[SF_CONV_PAD_TOP];
    g->pl = c->iattr[SF_CONV_PAD_LEFT];
    if (filt->shape[2] != g->C || out->shape[0] != g->N)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: filter in_channels %lld vs input depth %lld, or batch %lld vs %lld", name,
                       (long long)filt->shape[2], (long long)g->C, (long long)out->shape[0],
                       (long long)g->N);
    if (g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1 || g->pt < 0 || g->pl < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: bad strides, dilations or padding", name);
    /* every window start must be computable; the kernels clip reads to the image */
    return SF_OK;
}

/* The checks and geometry of a depthwise conv call: in[0], in[1] (named what0
 * and what1) and out[0] are contiguous 4-D tensors of dtype code; img, filt and
 * res say which of them (0: in[0], 1: in[1], 2: out[0]) are the image, the
 * filter [KH, KW, C, M] and the conv result, whose depth must be C * M. */
static int sf_depthwise_setup(sf_call *c, sf_geo *g, int32_t code, const char *name, const char *what0,
                              const char *what1, int img, int filt, int res)
{
    if (c->n_in < 2 || c->n_out < 1)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 2 inputs and 1 output", name);
    const sf_tensor *t[3] = {&c->in[0], &c->in[1], &c->out[0]};
    int st;
    if ((st = sf_check4(c, t[0], code, name, what0))) return st;
    if ((st = sf_check4(c, t[1], code, name, what1))) return st;
    if ((st = sf_check4(c, t[2], code, name, "output"))) return st;
    if ((st = sf_conv_geo(c, g, t[img], t[filt], t[res], name))) return st;
    if (t[res]->shape[3] != g->C * g->O)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s depth must be %lld", name,
                       res == 2 ? "output" : "out_backprop", (long long)(g->C * g->O));
    return SF_OK;
}

static int sf_fits_int(int64_t x)
{
    return x >= 0 && x <= INT_MAX;
}

/* a 1x1 filter, stride 1, no padding: the image itself is the column matrix */
static int sf_is_pointwise(const sf_geo *g)
{
    return g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->OH == g->H && g->OW == g->W;
}

/* Vector width of the build target, and GCC vector types of that width that
 * load and store unaligned (the direct convs and col2im use them). */
#if defined(__AVX512F__)
#define SF_SIMD_BYTES 64
#elif defined(__AVX__)
#define SF_SIMD_BYTES 32
#else
#define SF_SIMD_BYTES 16
#endif

/* the most vector registers a direct-conv chunk may take */
#define SF_DC_MAX_M 8

int sf_cpu_simd_bytes(void)
{
    return SF_SIMD_BYTES;
}

typedef float sf_vf32 __attribute__((vector_size(SF_SIMD_BYTES), aligned(4), may_alias));
typedef double sf_vf64 __attribute__((vector_size(SF_SIMD_BYTES), aligned(8), may_alias));
typedef int32_t sf_vi32 __attribute__((vector_size(SF_SIMD_BYTES)));
typedef int64_t sf_vi64 __attribute__((vector_size(SF_SIMD_BYTES)));
typedef sf_vf32 sf_vec_float32;
typedef sf_vf64 sf_vec_float64;
/* the integer vectors of the same lanes (comparison results, lane indices) */
#define SF_VI_float32 sf_vi32
#define SF_VI_float64 sf_vi64
#define SF_LI_float32 int32_t
#define SF_LI_float64 int64_t

/* The first n lanes of the vector at p and zeros in the others (0 <= n <
 * lanes); a whole vector at p must be readable. */
#define SF_DEFINE_HEAD(NAME, T, V, VI, IT)                                \
    static inline V sf_head_##NAME(const T *p, int64_t n)                 \
    {                                                                     \
        VI lane;                                                          \
        for (int t = 0; t < (int)(SF_SIMD_BYTES / sizeof(T)); t++) lane[t] = t; \
        const VI keep = lane < ((VI){0} + (IT)n);                         \
        return (V)((VI)(*(const V *)p) & keep);                           \
    }
SF_DEFINE_HEAD(float32, float, sf_vf32, sf_vi32, int32_t)
SF_DEFINE_HEAD(float64, double, sf_vf64, sf_vi64, int64_t)

/* How an im2col conv's images are cut into chunks: iattr[SF_CONV_CHUNK] images per chunk
 * (0: as many as the whole scratch holds), the scratch in[2] holding `slots`
 * slots of chunk * (OH*OW*KH*KW*C column entries + img_extra) plus `extra`
 * each. With at least as many chunks as threads, every thread runs whole
 * chunks in its own
 * slot with single-threaded products (column matrices that stay in its
 * cache); otherwise the chunks run one after another in slot 0, with each
 * im2col and product split over the threads. */
typedef struct {
    int64_t chunk, slot, slots, nchunks;
    int nth;
} sf_cut;

static int sf_cut_of(const sf_call *c, const sf_geo *g, int64_t img_extra, int64_t extra, sf_cut *k)
{
    const int64_t per = g->OH * g->OW * g->KH * g->KW * g->C + img_extra;
    const int64_t have = c->n_in >= 3 ? sf_numel(&c->in[2]) : 0;
    int64_t chunk = c->iattr[SF_CONV_CHUNK] > 0 ? c->iattr[SF_CONV_CHUNK] : per ? (have - extra) / per : g->N;
    if (chunk > g->N) chunk = g->N;
    if (chunk < 1) return 0;
    k->chunk = chunk;
    k->slot = chunk * per + extra;
    k->slots = k->slot ? have / k->slot : 1;
    if (k->slots < 1) return 0;
    k->nchunks = (g->N + chunk - 1) / chunk;
    const int64_t threads = omp_get_max_threads();
    int64_t t = threads < k->slots ? threads : k->slots;
    const double work = (double)g->N * (double)per * (double)g->O;
    k->nth = t >= 2 && k->nchunks >= threads && work >= SF_PARALLEL_MIN ? (int)t : 1;
    return 1;
}

static int sf_cut_fail(sf_call *c, const sf_geo *g, const char *more, const char *name)
{
    return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                   "%s: the scratch tensor in[2] must hold one image's column matrix (%lld elements)%s",
                   name, (long long)(g->OH * g->OW * g->KH * g->KW * g->C), more);
}

/* What a fused conv does to each chunk of finished output images while they
 * are in cache: + bias and the activation (sf_epilogue, fused.c), then, with
 * `pooled`, a max pool of those images into it (as sf_cpu_max_pool). */
typedef struct {
    const void *bias; /* NULL: none */
    int act;          /* SF_ACT_* */
    double alpha;
    void *pooled;     /* NULL: no pool */
    sf_geo pg;        /* the pool's geometry (H, W, C of the conv output) */
} sf_conv_epi;

/* The epilogue of fused conv kernels from their attrs: SF_CONV_ACTIVATION, SF_CONV_HAS_BIAS
 * (the last input), a second output pooled with SF_CONV_POOL_* = [kh, kw, sh, sw, pt, pl]. */
static int sf_conv_epi_of(sf_call *c, sf_conv_epi *e, const sf_tensor *y, int32_t code, const char *name)
{
    memset(e, 0, sizeof *e);
    e->act = (int)c->iattr[SF_CONV_ACTIVATION];
    e->alpha = c->fattr[SF_FATTR_ALPHA];
    if (e->act < SF_ACT_NONE || e->act > SF_ACT_TANH)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: unknown activation code %d", name, e->act);
    if (c->iattr[SF_CONV_HAS_BIAS]) {
        const sf_tensor *b = &c->in[c->n_in - 1];
        if (b->dtype != code || sf_numel(b) != y->shape[3] || !sf_is_contiguous(b))
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the bias (last input) must be %lld values",
                           name, (long long)y->shape[3]);
        e->bias = b->data;
    }
    if (c->n_out >= 2) {
        const sf_tensor *q = &c->out[1];
        int st = sf_check4(c, q, code, name, "pooled output");
        if (st) return st;
        sf_geo *g = &e->pg;
        g->N = y->shape[0], g->H = y->shape[1], g->W = y->shape[2], g->C = g->O = y->shape[3];
        g->OH = q->shape[1], g->OW = q->shape[2];
        g->KH = c->iattr[SF_CONV_POOL_KSIZE_H], g->KW = c->iattr[SF_CONV_POOL_KSIZE_W];
        g->sh = c->iattr[SF_CONV_POOL_STRIDE_H], g->sw = c->iattr[SF_CONV_POOL_STRIDE_W];
        g->pt = c->iattr[SF_CONV_POOL_PAD_TOP], g->pl = c->iattr[SF_CONV_POOL_PAD_LEFT], g->dh = g->dw = 1;
        if (q->shape[0] != g->N || q->shape[3] != g->C)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the pooled output's batch or depth differ", name);
        if (g->KH < 1 || g->KW < 1 || g->sh < 1 || g->sw < 1 || g->pt < 0 || g->pl < 0)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: bad pool ksize, strides or padding", name);
        e->pooled = q->data;
    }
    return SF_OK;
}

#define SF_DEFINE_CONV_FINISH(NAME, CODE, T, GEMM)                                                 \
    /* images [n0, n0 + nb) of y (P = OH * OW pixels of O channels each) */                       \
    static void sf_conv_finish_##NAME(const sf_conv_epi *e, T *y, int64_t n0, int64_t nb, int64_t P, \
                                      int64_t O, int threaded)                                     \
    {                                                                                              \
        if (e->bias || e->act) {                                                                   \
            const int64_t rows = nb * P;                                                           \
            T *base = y + n0 * P * O;                                                              \
            const int par = threaded && rows > 512 && (double)rows * O >= SF_PARALLEL_MIN &&        \
                            !omp_in_parallel();                                                    \
            if (!par) {                                                                            \
                sf_epilogue_##NAME(base, rows, O, O, (const T *)e->bias, e->act, (T)e->alpha);     \
            } else {                                                                               \
                const int64_t blk = 256, nblk = (rows + blk - 1) / blk;                            \
                _Pragma("omp parallel for schedule(static)")                                      \
                for (int64_t b = 0; b < nblk; b++) {                                               \
                    const int64_t r0 = b * blk, r1 = r0 + blk < rows ? r0 + blk : rows;            \
                    sf_epilogue_##NAME(base + r0 * O, r1 - r0, O, O, (const T *)e->bias, e->act,   \
                                       (T)e->alpha);                                               \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        if (!e->pooled) return;                                                                    \
        const sf_geo *g = &e->pg;                                                                  \
        const int64_t C = g->C, prow = nb * g->OH;                                                 \
        const int par = threaded && prow > 1 && !omp_in_parallel() &&                              \
                        (double)prow * g->OW * C * g->KH * g->KW >= SF_PARALLEL_MIN;               \
        T *q = (T *)e->pooled;                                                                     \
        _Pragma("omp parallel for schedule(static) if(par)")                                      \
        for (int64_t r = 0; r < prow; r++) {                                                       \
            const int64_t n = n0 + r / g->OH, oh = r % g->OH;                                      \
            const T *img = y + n * g->H * g->W * C;                                                \
            for (int64_t ow = 0; ow < g->OW; ow++) {                                               \
                T *o = q + ((n * g->OH + oh) * g->OW + ow) * C;                                    \
                SF_WINDOW(*g, oh, ow)                                                              \
                for (int64_t ch = 0; ch < C; ch++) o[ch] = SF_LOWEST_##NAME;                       \
                for (int64_t ih = h0; ih < h1; ih++)                                               \
                    for (int64_t iw = w0; iw < w1; iw++) {                                         \
                        const T *in = img + (ih * g->W + iw) * C;                                  \
                        for (int64_t ch = 0; ch < C; ch++) o[ch] = in[ch] > o[ch] ? in[ch] : o[ch]; \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
    }

#define SF_CONV_DTYPES(X)                            \
    X(float32, SF_FLOAT32, float, sf_sgemm) \
    X(float64, SF_FLOAT64, double, sf_dgemm)

#define SF_DEFINE_CONV(NAME, CODE, T, GEMM)                                                        \
    /* column matrix rows of images [n0, n0 + nb): col[(i*OH*OW + p) * K + k] */                 \
    static void sf_im2col_##NAME(const sf_geo *g, const T *restrict x, T *restrict col, int64_t n0, \
                                 int64_t nb, int threaded)                                        \
    {                                                                                             \
        const int64_t K = g->KH * g->KW * g->C, C = g->C;                                         \
        const int64_t rows = nb * g->OH;                                                          \
        const int par = threaded && (double)rows * g->OW * K >= SF_PARALLEL_MIN && rows > 1;      \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t r = 0; r < rows; r++) {                                                      \
            const int64_t i = r / g->OH, oh = r % g->OH;                                          \
            const T *img = x + (n0 + i) * g->H * g->W * C;                                        \
            T *dst = col + (i * g->OH + oh) * g->OW * K;                                          \
            for (int64_t ow = 0; ow < g->OW; ow++, dst += K) {                                    \
                T *d = dst;                                                                       \
                for (int64_t kh = 0; kh < g->KH; kh++) {                                          \
                    const int64_t ih = oh * g->sh - g->pt + kh * g->dh;                           \
                    if (ih < 0 || ih >= g->H) {                                                   \
                        memset(d, 0, (size_t)(g->KW * C) * sizeof(T));                            \
                        d += g->KW * C;                                                           \
                        continue;                                                                 \
                    }                                                                             \
                    const T *row = img + ih * g->W * C;                                           \
                    const int64_t iw0 = ow * g->sw - g->pl;                                       \
                    if (g->dw == 1) {                                                             \
                        /* the taps inside the image are one contiguous run of the row */         \
                        const int64_t a = iw0 < 0 ? -iw0 : 0;                                     \
                        int64_t b = g->W - iw0;                                                   \
                        b = b > g->KW ? g->KW : b;                                                \
                        b = b < a ? a : b;                                                        \
                        if (a) memset(d, 0, (size_t)(a * C) * sizeof(T));                         \
                        if (b > a) memcpy(d + a * C, row + (iw0 + a) * C, (size_t)((b - a) * C) * sizeof(T)); \
                        if (b < g->KW) memset(d + b * C, 0, (size_t)((g->KW - b) * C) * sizeof(T)); \
                        d += g->KW * C;                                                           \
                        continue;                                                                 \
                    }                                                                             \
                    for (int64_t kw = 0; kw < g->KW; kw++, d += C) {                              \
                        const int64_t iw = iw0 + kw * g->dw;                                      \
                        if (iw < 0 || iw >= g->W)                                                 \
                            memset(d, 0, (size_t)C * sizeof(T));                                  \
                        else                                                                      \
                            memcpy(d, row + iw * C, (size_t)C * sizeof(T));                       \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    /* dx of images [n0, n0 + nb) from their transposed column gradient colT [K, nb * OH * OW]: \
     * each filter tap's row adds into one channel plane of the image (contiguous runs of a    \
     * row at stride 1, so the adds vectorize), in a planar [C, H, W] copy per image (`planes`, \
     * nb of them) that is then transposed into NHWC. Parallel over images. */                  \
    static void sf_col2im_##NAME(const sf_geo *g, const T *restrict colT, T *restrict planes,     \
                                 T *restrict dx, int64_t n0, int64_t nb, int threaded)            \
    {                                                                                             \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                   \
        /* planar rows have a vector of padding: Wp = W + L */                                   \
        const int64_t C = g->C, H = g->H, W = g->W, Wp = W + L, P = g->OH * g->OW, ld = nb * P;   \
        const int par = threaded && nb > 1 && (double)nb * P * g->KH * g->KW * C >= SF_PARALLEL_MIN; \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t i = 0; i < nb; i++) {                                                        \
            T *pl = planes + i * C * H * Wp;                                                      \
            memset(pl, 0, (size_t)(C * H * Wp) * sizeof(T));                                      \
            for (int64_t kh = 0; kh < g->KH; kh++)                                                \
                for (int64_t kw = 0; kw < g->KW; kw++) {                                          \
                    /* output columns whose input column iw = ow*sw - pl + kw*dw is inside */    \
                    const int64_t off = kw * g->dw - g->pl;                                       \
                    int64_t ow0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;                       \
                    int64_t ow1 = W - off <= 0 ? 0 : (W - off + g->sw - 1) / g->sw;               \
                    if (ow1 > g->OW) ow1 = g->OW;                                                 \
                    for (int64_t ch = 0; ch < C; ch++) {                                          \
                        const T *src = colT + ((kh * g->KW + kw) * C + ch) * ld + i * P;          \
                        for (int64_t oh = 0; oh < g->OH; oh++) {                                  \
                            const int64_t ih = oh * g->sh - g->pt + kh * g->dh;                   \
                            if (ih < 0 || ih >= H) continue;                                      \
                            T *dst = pl + (ch * H + ih) * Wp + off;                               \
                            const T *s_ = src + oh * g->OW;                                       \
                            if (g->sw == 1) {                                                     \
                                /* whole vectors; the last one adds zeros past the run, into the  \
                                 * row's padding or columns this tap does not reach */            \
                                typedef sf_vec_##NAME V;                                          \
                                int64_t ow = ow0;                                                 \
                                for (; ow + L <= ow1; ow += L) *(V *)(dst + ow) += *(const V *)(s_ + ow); \
                                if (ow < ow1) *(V *)(dst + ow) += sf_head_##NAME(s_ + ow, ow1 - ow); \
                            } else {                                                              \
                                for (int64_t ow = ow0; ow < ow1; ow++) dst[ow * g->sw] += s_[ow]; \
                            }                                                                     \
                        }                                                                         \
                    }                                                                             \
                }                                                                                 \
            T *out = dx + (n0 + i) * H * W * C;                                                   \
            for (int64_t ih = 0; ih < H; ih++)                                                    \
                for (int64_t iw = 0; iw < W; iw++)                                                \
                    for (int64_t ch = 0; ch < C; ch++)                                            \
                        out[(ih * W + iw) * C + ch] = pl[(ch * H + ih) * Wp + iw];                \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    static int sf_conv_check_##NAME(sf_call *c, sf_geo *g, const char *name, int ii, int fi,      \
                                    int oi, int img_is_out)                                       \
    {                                                                                             \
        if (c->n_in < 2 || c->n_out < 1)                                                          \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 2 or 3 inputs and 1 output",     \
                           name);                                                                 \
        const sf_tensor *img = img_is_out ? &c->out[0] : &c->in[ii];                              \
        const sf_tensor *filt = fi < 0 ? &c->out[0] : &c->in[fi];                                 \
        const sf_tensor *o = oi < 0 ? &c->out[0] : &c->in[oi];                                    \
        int st;                                                                                   \
        if ((st = sf_check4(c, img, CODE, name, "image"))) return st;                             \
        if ((st = sf_check4(c, filt, CODE, name, "filter"))) return st;                           \
        if ((st = sf_check4(c, o, CODE, name, "output"))) return st;                              \
        if ((st = sf_conv_geo(c, g, img, filt, o, name))) return st;                              \
        if (o->shape[3] != g->O)                                                                  \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: output depth %lld, filter has %lld",  \
                           name, (long long)o->shape[3], (long long)g->O);                        \
        const int64_t K = g->KH * g->KW * g->C;                                                   \
        if (!sf_fits_int(K) || !sf_fits_int(g->O) || !sf_fits_int(g->N * g->OH * g->OW) ||      \
            !sf_fits_int(g->N * g->H * g->W))                                                     \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: sizes exceed the 32-bit BLAS limit",  \
                           name);                                                                 \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    static int sf_conv2d_run_##NAME(sf_call *c, int fused, const char *name)                      \
    {                                                                                             \
        sf_geo g;                                                                                 \
        int st = sf_conv_check_##NAME(c, &g, name, 0, 1, -1, 0);                                  \
        if (st) return st;                                                                        \
        sf_conv_epi e;                                                                            \
        memset(&e, 0, sizeof e);                                                                  \
        if (fused && (st = sf_conv_epi_of(c, &e, &c->out[0], CODE, name))) return st;             \
        const T *x = (const T *)c->in[0].data, *w = (const T *)c->in[1].data;                     \
        T *y = (T *)c->out[0].data;                                                               \
        const int64_t K = g.KH * g.KW * g.C, P = g.OH * g.OW;                                     \
        if (g.N * P * g.O == 0) return SF_OK;                                                     \
        if (K == 0 || sf_is_pointwise(&g)) {                                                      \
            if (K == 0)                                                                           \
                memset(y, 0, (size_t)(g.N * P * g.O) * sizeof(T));                                \
            else                                                                                  \
                GEMM(0, 0, (blasint)(g.N * P), (blasint)g.O, (blasint)K, (T)1, x, (blasint)K, w,  \
                     (blasint)g.O, (T)0, y, (blasint)g.O);                                        \
            sf_conv_finish_##NAME(&e, y, 0, g.N, P, g.O, 1);                                      \
            return SF_OK;                                                                         \
        }                                                                                         \
        sf_cut k;                                                                                 \
        if (!sf_cut_of(c, &g, 0, 0, &k)) return sf_cut_fail(c, &g, "", name);                     \
        T *scratch = (T *)c->in[2].data;                                                          \
        _Pragma("omp parallel for schedule(static) num_threads(k.nth) if(k.nth > 1)")             \
        for (int64_t ci = 0; ci < k.nchunks; ci++) {                                              \
            T *col = scratch + (k.nth > 1 ? omp_get_thread_num() : 0) * k.slot;                   \
            const int64_t n0 = ci * k.chunk, nb = g.N - n0 < k.chunk ? g.N - n0 : k.chunk;        \
            sf_im2col_##NAME(&g, x, col, n0, nb, k.nth == 1);                                     \
            GEMM(0, 0, nb * P, g.O, K, (T)1, col, K, w, g.O, (T)0, y + n0 * P * g.O, g.O);         \
            sf_conv_finish_##NAME(&e, y, n0, nb, P, g.O, k.nth == 1);                             \
        }                                                                                         \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    int sf_cpu_conv2d_##NAME(sf_call *c) { return sf_conv2d_run_##NAME(c, 0, "conv2d_" #NAME); }  \
                                                                                                  \
    /* conv2d with a bias, activation and max pool epilogue (staticflow.h, "fused") */           \
    int sf_cpu_fused_conv2d_##NAME(sf_call *c)                                                    \
    {                                                                                             \
        return sf_conv2d_run_##NAME(c, 1, "fused_conv2d_" #NAME);                                 \
    }                                                                                             \
                                                                                                  \
    /* in[0] filter, in[1] dy, in[2] scratch -> out[0] dx */                                     \
    int sf_cpu_conv2d_backprop_input_##NAME(sf_call *c)                                           \
    {                                                                                             \
        sf_geo g;                                                                                 \
        int st = sf_conv_check_##NAME(c, &g, "conv2d_backprop_input_" #NAME, -1, 0, 1, 1);       \
        if (st) return st;                                                                        \
        const T *w = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                    \
        T *dx = (T *)c->out[0].data;                                                              \
        const int64_t K = g.KH * g.KW * g.C, P = g.OH * g.OW;                                     \
        if (g.N * g.H * g.W * g.C == 0) return SF_OK;                                             \
        if (P * g.O == 0) {                                                                       \
            memset(dx, 0, (size_t)(g.N * g.H * g.W * g.C) * sizeof(T));                           \
            return SF_OK;                                                                         \
        }                                                                                         \
        if (sf_is_pointwise(&g)) {                                                                \
            GEMM(0, 1, (blasint)(g.N * P), (blasint)K,         \
                 (blasint)g.O, (T)1, dy, (blasint)g.O, w, (blasint)g.O, (T)0, dx, (blasint)K);    \
            return SF_OK;                                                                         \
        }                                                                                         \
        /* colT = W dy^T ([K, O] times [O, images * P]), then col2im; a slot holds colT and   \
         * the chunk's planar images */                                                           \
        sf_cut k;                                                                                 \
        const int64_t planar = g.H * (g.W + SF_SIMD_BYTES / (int64_t)sizeof(T)) * g.C;            \
        if (!sf_cut_of(c, &g, planar, 0, &k))                                                     \
            return sf_cut_fail(c, &g, " and one image", "conv2d_backprop_input_" #NAME);           \
        T *scratch = (T *)c->in[2].data;                                                          \
        _Pragma("omp parallel for schedule(static) num_threads(k.nth) if(k.nth > 1)")             \
        for (int64_t ci = 0; ci < k.nchunks; ci++) {                                              \
            T *colT = scratch + (k.nth > 1 ? omp_get_thread_num() : 0) * k.slot;                  \
            const int64_t n0 = ci * k.chunk, nb = g.N - n0 < k.chunk ? g.N - n0 : k.chunk;        \
            GEMM(0, 1, K, nb * P, g.O, (T)1, w, g.O, dy + n0 * P * g.O, g.O, (T)0, colT, nb * P);  \
            sf_col2im_##NAME(&g, colT, colT + k.chunk * P * K, dx, n0, nb, k.nth == 1);           \
        }                                                                                         \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    /* in[0] x, in[1] dy, in[2] scratch -> out[0] dw */                                          \
    int sf_cpu_conv2d_backprop_filter_##NAME(sf_call *c)                                          \
    {                                                                                             \
        sf_geo g;                                                                                 \
        int st = sf_conv_check_##NAME(c, &g, "conv2d_backprop_filter_" #NAME, 0, -1, 1, 0);      \
        if (st) return st;                                                                        \
        const T *x = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                    \
        T *dw = (T *)c->out[0].data;                                                              \
        const int64_t K = g.KH * g.KW * g.C, P = g.OH * g.OW;                                     \
        if (K * g.O == 0) return SF_OK;                                                           \
        if (g.N * P == 0) {                                                                       \
            memset(dw, 0, (size_t)(K * g.O) * sizeof(T));                                         \
            return SF_OK;                                                                         \
        }                                                                                         \
        if (sf_is_pointwise(&g)) {                                                                \
            GEMM(1, 0, (blasint)K, (blasint)g.O,               \
                 (blasint)(g.N * P), (T)1, x, (blasint)K, dy, (blasint)g.O, (T)0, dw,             \
                 (blasint)g.O);                                                                   \
            return SF_OK;                                                                         \
        }                                                                                         \
        sf_cut k;                                                                                 \
        if (!sf_cut_of(c, &g, 0, K * g.O, &k))                                                       \
            return sf_cut_fail(c, &g, " and the filter", "conv2d_backprop_filter_" #NAME);                  \
        T *scratch = (T *)c->in[2].data;                                                          \
        /* parts: partial dw's, each summing a fixed run of chunks, as many as the scratch has \
         * slots for (never more than chunks): set by the sizes and the plan's scratch, not by \
         * the threads that run them, so the sum's bits do not depend on the thread count */   \
        const double work_ = (double)g.N * (double)(P * K) * (double)g.O;                         \
        int64_t parts = k.slots < k.nchunks ? k.slots : k.nchunks;                                \
        if (parts < 2 || work_ < SF_PARALLEL_MIN) parts = 1;                                      \
        if (parts == 1) {                                                                         \
            for (int64_t n0 = 0; n0 < g.N; n0 += k.chunk) {                                       \
                const int64_t nb = g.N - n0 < k.chunk ? g.N - n0 : k.chunk;                       \
                sf_im2col_##NAME(&g, x, scratch, n0, nb, 1);                                      \
                GEMM(1, 0, K, g.O, nb * P, (T)1, scratch, K, dy + n0 * P * g.O, g.O,              \
                     (T)(n0 ? 1 : 0), dw, g.O);                                                   \
            }                                                                                     \
            return SF_OK;                                                                         \
        }                                                                                         \
        /* part s sums chunks [s * nchunks / parts, (s + 1) * nchunks / parts) in its slot; the \
         * threads take parts as they come free; then the partials are added in order */        \
        const int nth_ = omp_in_parallel() ? 1 : omp_get_max_threads();                          \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nth_) if(nth_ > 1)")           \
        for (int64_t s = 0; s < parts; s++) {                                                     \
            T *col = scratch + s * k.slot, *part = col + k.chunk * P * K;                         \
            const int64_t c0 = s * k.nchunks / parts, c1 = (s + 1) * k.nchunks / parts;           \
            for (int64_t ci = c0; ci < c1; ci++) {                                                \
                const int64_t n0 = ci * k.chunk, nb = g.N - n0 < k.chunk ? g.N - n0 : k.chunk;    \
                sf_im2col_##NAME(&g, x, col, n0, nb, 0);                                          \
                GEMM(1, 0, K, g.O, nb * P, (T)1, col, K, dy + n0 * P * g.O, g.O, (T)(ci > c0),    \
                     part, g.O);                                                                  \
            }                                                                                     \
        }                                                                                         \
        memcpy(dw, scratch + k.chunk * P * K, (size_t)(K * g.O) * sizeof(T));                     \
        for (int64_t s = 1; s < parts; s++) {                                                     \
            const T *part = scratch + s * k.slot + k.chunk * P * K;                               \
            for (int64_t j = 0; j < K * g.O; j++) dw[j] += part[j];                               \
        }                                                                                         \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    /* ---- depthwise: filter [KH, KW, C, M], out depth C * M (channel c*M + m) ---- */          \
    int sf_cpu_depthwise_conv2d_##NAME(sf_call *c)                                                \
    {                                                                                             \
        sf_geo g;                                                                                 \
        const char *name = "depthwise_conv2d_" #NAME;                                            \
        int st = sf_depthwise_setup(c, &g, CODE, name, "input", "filter", 0, 1, 2);              \
        if (st) return st;                                                                        \
        const int64_t M = g.O, CM = g.C * g.O;                                                    \
        const T *x = (const T *)c->in[0].data, *w = (const T *)c->in[1].data;                     \
        T *y = (T *)c->out[0].data;                                                               \
        const int64_t rows = g.N * g.OH;                                                          \
        const int par = (double)rows * g.OW * CM * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;    \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t r = 0; r < rows; r++) {                                                      \
            const int64_t n = r / g.OH, oh = r % g.OH;                                            \
            const T *img = x + n * g.H * g.W * g.C;                                               \
            for (int64_t ow = 0; ow < g.OW; ow++) {                                               \
                T *o = y + ((n * g.OH + oh) * g.OW + ow) * CM;                                    \
                for (int64_t j = 0; j < CM; j++) o[j] = 0;                                        \
                for (int64_t kh = 0; kh < g.KH; kh++) {                                           \
                    const int64_t ih = oh * g.sh - g.pt + kh * g.dh;                              \
                    if (ih < 0 || ih >= g.H) continue;                                            \
                    for (int64_t kw = 0; kw < g.KW; kw++) {                                       \
                        const int64_t iw = ow * g.sw - g.pl + kw * g.dw;                          \
                        if (iw < 0 || iw >= g.W) continue;                                        \
                        const T *in = img + (ih * g.W + iw) * g.C;                                \
                        const T *f = w + (kh * g.KW + kw) * CM;                                   \
                        for (int64_t ch = 0; ch < g.C; ch++)                                      \
                            for (int64_t m = 0; m < M; m++)                                       \
                                o[ch * M + m] += in[ch] * f[ch * M + m];                          \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    /* in[0] filter, in[1] dy -> out[0] dx (a gather over the windows that read each pixel) */   \
    int sf_cpu_depthwise_conv2d_backprop_input_##NAME(sf_call *c)                                 \
    {                                                                                             \
        sf_geo g;                                                                                 \
        const char *name = "depthwise_conv2d_backprop_input_" #NAME;                             \
        int st = sf_depthwise_setup(c, &g, CODE, name, "filter", "out_backprop", 2, 0, 1);       \
        if (st) return st;                                                                        \
        const int64_t M = g.O, CM = g.C * g.O;                                                    \
        const T *w = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                    \
        T *dx = (T *)c->out[0].data;                                                              \
        const int64_t rows = g.N * g.H;                                                           \
        const int par = (double)rows * g.W * CM * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;     \
        _Pragma("omp parallel for schedule(static) if(par)")                                     \
        for (int64_t r = 0; r < rows; r++) {                                                      \
            const int64_t n = r / g.H, ih = r % g.H;                                              \
            for (int64_t iw = 0; iw < g.W; iw++) {                                                \
                T *o = dx + ((n * g.H + ih) * g.W + iw) * g.C;                                    \
                for (int64_t ch = 0; ch < g.C; ch++) o[ch] = 0;                                   \
                for (int64_t kh = 0; kh < g.KH; kh++) {                                           \
                    const int64_t t = ih + g.pt - kh * g.dh;                                      \
                    if (t < 0 || t % g.sh) continue;                                              \
                    const int64_t oh = t / g.sh;                                                  \
                    if (oh >= g.OH) continue;                                                     \
                    for (int64_t kw = 0; kw < g.KW; kw++) {                                       \
                        const int64_t u = iw + g.pl - kw * g.dw;                                  \
                        if (u < 0 || u % g.sw) continue;                                          \
                        const int64_t ow = u / g.sw;                                              \
                        if (ow >= g.OW) continue;                                                 \
                        const T *d = dy + ((n * g.OH + oh) * g.OW + ow) * CM;                     \
                        const T *f = w + (kh * g.KW + kw) * CM;                                   \
                        for (int64_t ch = 0; ch < g.C; ch++) {                                    \
                            T acc = 0;                                                            \
                            for (int64_t m = 0; m < M; m++) acc += d[ch * M + m] * f[ch * M + m]; \
                            o[ch] += acc;                                                         \
                        }                                                                         \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        return SF_OK;                                                                             \
    }                                                                                             \
                                                                                                  \
    /* in[0] x, in[1] dy -> out[0] dw [KH, KW, C, M]; parallel over filter taps */                \
    int sf_cpu_depthwise_conv2d_backprop_filter_##NAME(sf_call *c)                                \
    {                                                                                             \
        sf_geo g;                                                                                 \
        const char *name = "depthwise_conv2d_backprop_filter_" #NAME;                            \
        int st = sf_depthwise_setup(c, &g, CODE, name, "input", "out_backprop", 0, 2, 1);        \
        if (st) return st;                                                                        \
        const int64_t M = g.O, CM = g.C * g.O;                                                    \
        const T *x = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                    \
        T *dw = (T *)c->out[0].data;                                                              \
        const int64_t taps = g.KH * g.KW;                                                         \
        const int par = (double)taps * g.N * g.OH * g.OW * CM >= SF_PARALLEL_MIN && taps > 1;     \
        _Pragma("omp parallel for schedule(dynamic, 1) if(par)")                                 \
        for (int64_t tap = 0; tap < taps; tap++) {                                                \
            const int64_t kh = tap / g.KW, kw = tap % g.KW;                                       \
            T *f = dw + tap * CM;                                                                 \
            for (int64_t j = 0; j < CM; j++) f[j] = 0;                                            \
            for (int64_t n = 0; n < g.N; n++)                                                     \
                for (int64_t oh = 0; oh < g.OH; oh++) {                                           \
                    const int64_t ih = oh * g.sh - g.pt + kh * g.dh;                              \
                    if (ih < 0 || ih >= g.H) continue;                                            \
                    for (int64_t ow = 0; ow < g.OW; ow++) {                                       \
                        const int64_t iw = ow * g.sw - g.pl + kw * g.dw;                          \
                        if (iw < 0 || iw >= g.W) continue;                                        \
                        const T *in = x + ((n * g.H + ih) * g.W + iw) * g.C;                      \
                        const T *d = dy + ((n * g.OH + oh) * g.OW + ow) * CM;                     \
                        for (int64_t ch = 0; ch < g.C; ch++)                                      \
                            for (int64_t m = 0; m < M; m++) f[ch * M + m] += in[ch] * d[ch * M + m]; \
                    }                                                                             \
                }                                                                                 \
        }                                                                                         \
        return SF_OK;                                                                             \
    }

SF_CONV_DTYPES(SF_DEFINE_CONV_FINISH)
SF_CONV_DTYPES(SF_DEFINE_CONV)

/* ---- direct convolution of narrow layers (stride 1, dilation 1) ---------
 *
 * Layers with few channels (LeNet's 1 -> 6 -> 16) make skinny GEMMs that a
 * BLAS runs far below its peak, and their im2col matrix is KH*KW times the
 * image. These kernels instead treat an output row [OW, O] as one flat
 * vector j = ow * O + o and compute it in chunks of CH = M vector registers:
 *
 *   y[oh, j] = sum over (kh, kw, c) of  xe[oh + kh, c][j + kw * O] * wt[kh, kw, c][j mod O]
 *
 * where xe is the image, zero-padded and with every pixel repeated O times
 * ("expanded": xe[r, c][q * O + o] = x[r - pt, q - pl, c]) so that the
 * product is an aligned elementwise one, and wt is the filter's row for
 * (kh, kw, c) tiled to CH entries (CH is a multiple of O, so every chunk
 * sees the same tile). The M accumulators stay in registers over all
 * KH * KW * C taps. The filter gradient is the same loop with the roles
 * turned: dw[kh, kw, c] accumulates xe[oh + kh, c][j + kw * O] * dy[oh, j]
 * over the chunks of every row, folded mod O at the end. The input gradient
 * of a stride-1 conv is itself a conv (of dy, with the filter flipped and its
 * channel axes swapped, padded KH-1-pt / KW-1-pl), so Python lowers it onto
 * the forward kernel.
 *
 * iattr = [1, 1, 1, 1, pad_top, pad_left, CH]; in[2] is the scratch: the
 * tiled filter (forward) and, per thread, an expanded image (and for the
 * filter gradient a zero-tailed copy of dy and the accumulators); threads run
 * over images, as many as the scratch has slots for. Python picks CH
 * (sf_cpu_simd_bytes tells the vector width) and sizes the scratch with the
 * same formulas as sf_dc_sizes below.
 */

typedef struct {
    int64_t N, H, W, C, KH, KW, O, OH, OW, pt, pl;
    int64_t CH, M;    /* chunk length and its vector count */
    int64_t nchunk;   /* chunks per output row */
    int64_t Wx;       /* expanded entries per (row, channel) */
    int64_t R;        /* expanded (padded) rows */
    int64_t wt, xe, dyp, acc;  /* scratch sizes, elements */
} sf_dgeo;

/* x [N, H, W, C], filter [KH, KW, C, O], y [N, OH, OW, O] (y is dy for the filter gradient) */
static int sf_dc_sizes(sf_call *c, sf_dgeo *d, const sf_tensor *x, const sf_tensor *f, const sf_tensor *y,
                       int64_t lanes, const char *name)
{
    d->N = x->shape[0], d->H = x->shape[1], d->W = x->shape[2], d->C = x->shape[3];
    d->KH = f->shape[0], d->KW = f->shape[1], d->O = f->shape[3];
    d->OH = y->shape[1], d->OW = y->shape[2];
    d->pt = c->iattr[SF_CONV_PAD_TOP], d->pl = c->iattr[SF_CONV_PAD_LEFT], d->CH = c->iattr[SF_CONV_CHUNK];
    if (f->shape[2] != d->C || y->shape[0] != d->N || y->shape[3] != d->O)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input, filter and output depths or batch differ", name);
    if (c->iattr[SF_CONV_STRIDE_H] != 1 || c->iattr[SF_CONV_STRIDE_W] != 1 || c->iattr[SF_CONV_DILATION_H] != 1 ||
        c->iattr[SF_CONV_DILATION_W] != 1 || d->pt < 0 || d->pl < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: needs strides and dilations 1 and padding >= 0", name);
    d->M = d->CH / lanes;
    if (d->O < 1 || d->CH < 1 || d->CH % lanes || d->CH % d->O || d->M > SF_DC_MAX_M)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: chunk %lld must be a multiple of the depth %lld and of %lld lanes, at most %d vectors",
                       name, (long long)d->CH, (long long)d->O, (long long)lanes, SF_DC_MAX_M);
    d->nchunk = (d->OW * d->O + d->CH - 1) / d->CH;
    d->Wx = d->nchunk * d->CH + (d->KW - 1) * d->O;
    d->R = d->OH + d->KH - 1;
    d->wt = d->KH * d->KW * d->C * d->CH;
    d->xe = d->R * d->C * d->Wx + lanes; /* + the expansion's slack */
    d->dyp = d->OH * d->nchunk * d->CH;
    d->acc = d->wt;
    return SF_OK;
}

/* threads for n units of work: at most the OpenMP count and the scratch slots */
static int sf_dc_threads(int64_t slots, int64_t units)
{
    int64_t t = omp_get_max_threads();
    if (t > slots) t = slots;
    if (t > units) t = units;
    return t < 1 ? 1 : (int)t;
}

#define SF_DC_VECTOR_DTYPES(X) \
    X(float32, SF_FLOAT32, float, sf_vf32) \
    X(float64, SF_FLOAT64, double, sf_vf64)

/* one output row (oh) of one image, chunks of M vectors */
#define SF_DC_FWD_ROW(NAME, T, V, M)                                                                \
    static void sf_dc_fwd_##NAME##_##M(const sf_dgeo *d, const T *restrict xe, const T *restrict wt, \
                                       T *restrict y, int64_t oh)                                   \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t n_out = d->OW * d->O;                                    \
        for (int64_t jb = 0; jb < n_out; jb += M * L) {                                             \
            V acc[M];                                                                               \
            _Pragma("GCC unroll 8") for (int v = 0; v < M; v++) acc[v] = (V){0};                    \
            const T *wk = wt;                                                                       \
            for (int64_t kh = 0; kh < d->KH; kh++)                                                  \
                for (int64_t kw = 0; kw < d->KW; kw++) {                                            \
                    const T *xs = xe + (oh + kh) * d->C * d->Wx + jb + kw * d->O;                   \
                    for (int64_t c = 0; c < d->C; c++, xs += d->Wx, wk += M * L)                    \
                        _Pragma("GCC unroll 8") for (int v = 0; v < M; v++)                        \
                            acc[v] += *(const V *)(xs + v * L) * *(const V *)(wk + v * L);         \
                }                                                                                   \
            if (n_out - jb >= M * L) {                                                              \
                _Pragma("GCC unroll 8") for (int v = 0; v < M; v++) *(V *)(y + jb + v * L) = acc[v]; \
            } else {                                                                                \
                memcpy(y + jb, acc, (size_t)(n_out - jb) * sizeof(T));                              \
            }                                                                                       \
        }                                                                                           \
    }

/* the filter gradient's taps [k0, k1) (k = (kh * KW + kw) * C + c) over one image */
#define SF_DC_DW_TAPS(NAME, T, V, M)                                                                \
    static void sf_dc_dw_##NAME##_##M(const sf_dgeo *d, const T *restrict xe, const T *restrict dyp, \
                                      T *restrict acc_mem, int64_t k0, int64_t k1)                  \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t row = d->nchunk * M * L;                                                      \
        for (int64_t k = k0; k < k1; k++) {                                                         \
            const int64_t c = k % d->C, kw = (k / d->C) % d->KW, kh = k / (d->C * d->KW);          \
            V acc[M];                                                                               \
            T *am = acc_mem + k * M * L;                                                            \
            _Pragma("GCC unroll 8") for (int v = 0; v < M; v++) acc[v] = *(const V *)(am + v * L);  \
            for (int64_t oh = 0; oh < d->OH; oh++) {                                                \
                const T *xs = xe + ((oh + kh) * d->C + c) * d->Wx + kw * d->O;                      \
                const T *ds = dyp + oh * row;                                                       \
                for (int64_t jb = 0; jb < row; jb += M * L)                                         \
                    _Pragma("GCC unroll 8") for (int v = 0; v < M; v++)                            \
                        acc[v] += *(const V *)(xs + jb + v * L) * *(const V *)(ds + jb + v * L);   \
            }                                                                                       \
            _Pragma("GCC unroll 8") for (int v = 0; v < M; v++) *(V *)(am + v * L) = acc[v];        \
        }                                                                                           \
    }

#define SF_DC_VARIANTS(X, NAME, T, V) X(NAME, T, V, 1) X(NAME, T, V, 2) X(NAME, T, V, 3) X(NAME, T, V, 4) \
    X(NAME, T, V, 5) X(NAME, T, V, 6) X(NAME, T, V, 7) X(NAME, T, V, 8)
#define SF_DC_CASE_FWD(NAME, T, V, M) case M: return sf_dc_fwd_##NAME##_##M;
#define SF_DC_CASE_DW(NAME, T, V, M) case M: return sf_dc_dw_##NAME##_##M;

#define SF_DEFINE_DIRECT(NAME, CODE, T, V)                                                         \
    SF_DC_VARIANTS(SF_DC_FWD_ROW, NAME, T, V)                                                       \
    SF_DC_VARIANTS(SF_DC_DW_TAPS, NAME, T, V)                                                       \
    typedef void (*sf_dc_fwd_fn_##NAME)(const sf_dgeo *, const T *, const T *, T *, int64_t);       \
    typedef void (*sf_dc_dw_fn_##NAME)(const sf_dgeo *, const T *, const T *, T *, int64_t, int64_t); \
    static sf_dc_fwd_fn_##NAME sf_dc_fwd_pick_##NAME(int64_t m)                                     \
    {                                                                                               \
        switch (m) { SF_DC_VARIANTS(SF_DC_CASE_FWD, NAME, T, V) }                                   \
        return NULL;                                                                                \
    }                                                                                               \
    static sf_dc_dw_fn_##NAME sf_dc_dw_pick_##NAME(int64_t m)                                       \
    {                                                                                               \
        switch (m) { SF_DC_VARIANTS(SF_DC_CASE_DW, NAME, T, V) }                                    \
        return NULL;                                                                                \
    }                                                                                               \
                                                                                                    \
    /* image [H, W, C] -> its expanded rows xe (see above) */                                       \
    static void sf_dc_expand_##NAME(const sf_dgeo *d, const T *restrict img, T *restrict xe)        \
    {                                                                                               \
        for (int64_t r = 0; r < d->R; r++) {                                                        \
            const int64_t ih = r - d->pt;                                                           \
            for (int64_t c = 0; c < d->C; c++) {                                                    \
                T *row = xe + (r * d->C + c) * d->Wx;                                               \
                if (ih < 0 || ih >= d->H) {                                                         \
                    memset(row, 0, (size_t)d->Wx * sizeof(T));                                      \
                    continue;                                                                       \
                }                                                                                   \
                const T *src = img + ih * d->W * d->C + c;                                          \
                /* O copies as whole-vector stores: each spills past its O entries into the  \
                 * next ones, which are written after it (the buffer has a vector of slack) */ \
                for (int64_t q = 0; q * d->O < d->Wx; q++) {                                        \
                    const int64_t iw = q - d->pl;                                                   \
                    const V b = (V){0} + (iw >= 0 && iw < d->W ? src[iw * d->C] : (T)0);             \
                    for (int64_t o = 0; o < d->O; o += SF_SIMD_BYTES / sizeof(T))                   \
                        *(V *)(row + q * d->O + o) = b;                                             \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* one image for the filter gradient: x expanded, dy with each row zero-tailed to whole chunks */ \
    static void sf_dc_load_##NAME(const sf_dgeo *d, const T *img, const T *dy, T *xe, T *dyp)        \
    {                                                                                               \
        const int64_t row = d->nchunk * d->CH, used = d->OW * d->O;                                 \
        sf_dc_expand_##NAME(d, img, xe);                                                            \
        for (int64_t oh = 0; oh < d->OH; oh++) {                                                    \
            memcpy(dyp + oh * row, dy + oh * used, (size_t)used * sizeof(T));                       \
            memset(dyp + oh * row + used, 0, (size_t)(row - used) * sizeof(T));                     \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    static int sf_dc_check_##NAME(sf_call *c, const char *name, const char *second)                 \
    {                                                                                               \
        if (c->n_in < 3 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 3 inputs and 1 output", name);     \
        int st;                                                                                     \
        if ((st = sf_check4(c, &c->in[0], CODE, name, "input"))) return st;                         \
        if ((st = sf_check4(c, &c->in[1], CODE, name, second))) return st;                          \
        if ((st = sf_check4(c, &c->out[0], CODE, name, "output"))) return st;                       \
        if (c->in[2].dtype != CODE || !sf_is_contiguous(&c->in[2]))                                 \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must be contiguous %s", name, \
                           #NAME);                                                                  \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* in[0] x, in[1] filter, in[2] scratch -> out[0] y; fused: the epilogue (sf_conv_epi) */     \
    static int sf_conv2d_direct_run_##NAME(sf_call *c, int fused, const char *name)                  \
    {                                                                                               \
        sf_dgeo d;                                                                                  \
        int st;                                                                                     \
        if ((st = sf_dc_check_##NAME(c, name, "filter"))) return st;                                \
        sf_conv_epi e;                                                                              \
        memset(&e, 0, sizeof e);                                                                    \
        if (fused && (st = sf_conv_epi_of(c, &e, &c->out[0], CODE, name))) return st;               \
        if ((st = sf_dc_sizes(c, &d, &c->in[0], &c->in[1], &c->out[0], SF_SIMD_BYTES / sizeof(T), name))) \
            return st;                                                                              \
        const int64_t slots = d.xe ? (sf_numel(&c->in[2]) - d.wt) / d.xe : 1;                       \
        if (slots < 1)                                                                              \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements", name, \
                           (long long)(d.wt + d.xe));                                               \
        const T *x = (const T *)c->in[0].data, *w = (const T *)c->in[1].data;                       \
        T *y = (T *)c->out[0].data, *wt = (T *)c->in[2].data;                                       \
        const sf_dc_fwd_fn_##NAME row = sf_dc_fwd_pick_##NAME(d.M);                                 \
        for (int64_t k = 0; k < d.KH * d.KW * d.C; k++)                                             \
            for (int64_t t = 0; t < d.CH; t++) wt[k * d.CH + t] = w[k * d.O + t % d.O];             \
        const int64_t per_image = d.OH * d.OW * d.O * d.KH * d.KW * d.C, ysz = d.OH * d.OW * d.O;   \
        const int nth = (double)d.N * per_image >= SF_PARALLEL_MIN ? sf_dc_threads(slots, d.N) : 1;  \
        _Pragma("omp parallel num_threads(nth) if(nth > 1)")                                       \
        {                                                                                           \
            T *xe = wt + d.wt + omp_get_thread_num() * d.xe;                                        \
            _Pragma("omp for schedule(static)")                                                    \
            for (int64_t n = 0; n < d.N; n++) {                                                     \
                sf_dc_expand_##NAME(&d, x + n * d.H * d.W * d.C, xe);                               \
                for (int64_t oh = 0; oh < d.OH; oh++) row(&d, xe, wt, y + n * ysz + oh * d.OW * d.O, oh); \
                sf_conv_finish_##NAME(&e, y, n, 1, d.OH * d.OW, d.O, nth == 1);                      \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_conv2d_direct_##NAME(sf_call *c)                                                     \
    {                                                                                               \
        return sf_conv2d_direct_run_##NAME(c, 0, "conv2d_direct_" #NAME);                           \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_fused_conv2d_direct_##NAME(sf_call *c)                                               \
    {                                                                                               \
        return sf_conv2d_direct_run_##NAME(c, 1, "fused_conv2d_direct_" #NAME);                     \
    }                                                                                               \
                                                                                                    \
    /* in[0] x, in[1] dy, in[2] scratch -> out[0] dw [KH, KW, C, O] */                              \
    int sf_cpu_conv2d_backprop_filter_direct_##NAME(sf_call *c)                                     \
    {                                                                                               \
        const char *name = "conv2d_backprop_filter_direct_" #NAME;                                  \
        sf_dgeo d;                                                                                  \
        int st;                                                                                     \
        if ((st = sf_dc_check_##NAME(c, name, "dy"))) return st;                                    \
        if ((st = sf_dc_sizes(c, &d, &c->in[0], &c->out[0], &c->in[1], SF_SIMD_BYTES / sizeof(T), name))) \
            return st;                                                                              \
        const int64_t per = d.xe + d.dyp + d.acc;                                                   \
        const int64_t slots = per ? sf_numel(&c->in[2]) / per : 1;                                  \
        if (slots < 1)                                                                              \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements", name, \
                           (long long)per);                                                         \
        const T *x = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                      \
        T *dw = (T *)c->out[0].data, *scratch = (T *)c->in[2].data;                                 \
        const sf_dc_dw_fn_##NAME taps = sf_dc_dw_pick_##NAME(d.M);                                  \
        const int64_t K = d.KH * d.KW * d.C, ysz = d.OH * d.OW * d.O;                               \
        const int64_t per_image = ysz * K;                                                          \
        const int big = (double)d.N * per_image >= SF_PARALLEL_MIN;                                 \
        /* many images: parts of whole images, one scratch slot each, as many as the slots  \
         * (the plan's) and the images allow; few: the taps split over threads (each tap's   \
         * sum is one thread's). The parts follow from the sizes and the slots, not from the \
         * thread count, so the bits do not depend on it. */                                 \
        const int by_image = d.N >= slots || !big;                                                  \
        const int64_t parts = by_image ? (big ? (slots < d.N ? slots : d.N) : 1) : 1;             \
        const int team = omp_in_parallel() ? 1 : omp_get_max_threads();                            \
        const int nth = by_image ? (team < parts ? team : (int)parts)                               \
                                 : (big ? sf_dc_threads(1 << 30, K) : 1);                          \
        const int64_t used = parts;                                                                 \
        for (int64_t s = 0; s < used; s++) memset(scratch + s * per + d.xe + d.dyp, 0, (size_t)d.acc * sizeof(T)); \
        if (by_image) {                                                                             \
            _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nth) if(nth > 1)")          \
            for (int64_t s = 0; s < parts; s++) {                                                   \
                T *xe = scratch + s * per, *dyp = xe + d.xe, *acc = dyp + d.dyp;                    \
                for (int64_t n = d.N * s / parts; n < d.N * (s + 1) / parts; n++) {                 \
                    sf_dc_load_##NAME(&d, x + n * d.H * d.W * d.C, dy + n * ysz, xe, dyp);          \
                    taps(&d, xe, dyp, acc, 0, K);                                                   \
                }                                                                                   \
            }                                                                                       \
        } else {                                                                                    \
        _Pragma("omp parallel num_threads(nth) if(nth > 1)")                                       \
        {                                                                                           \
            T *xe = scratch, *dyp = xe + d.xe, *acc = dyp + d.dyp;                                  \
            for (int64_t n = 0; n < d.N; n++) {                                                     \
                _Pragma("omp single")                                                              \
                sf_dc_load_##NAME(&d, x + n * d.H * d.W * d.C, dy + n * ysz, xe, dyp);              \
                const int nt = omp_get_num_threads(), id = omp_get_thread_num();                    \
                taps(&d, xe, dyp, acc, K * id / nt, K * (id + 1) / nt);                             \
                _Pragma("omp barrier")                                                             \
            }                                                                                       \
        }                                                                                           \
        }                                                                                           \
        /* fold: dw[k, o] = sum over slots and over the chunk entries t = o (mod O) */              \
        for (int64_t k = 0; k < K; k++)                                                             \
            for (int64_t o = 0; o < d.O; o++) {                                                     \
                T s = 0;                                                                            \
                for (int64_t u = 0; u < used; u++) {                                                \
                    const T *a = scratch + u * per + d.xe + d.dyp + k * d.CH;                       \
                    for (int64_t t = o; t < d.CH; t += d.O) s += a[t];                              \
                }                                                                                   \
                dw[k * d.O + o] = s;                                                                \
            }                                                                                       \
        return SF_OK;                                                                               \
    }

SF_DC_VECTOR_DTYPES(SF_DEFINE_DIRECT)

/* ---- implicit-GEMM convolution of wide layers ---------------------------
 *
 * Layers with many channels (the wider LeNet's 32 -> 64) are GEMMs of a
 * healthy size, but im2col writes and reads a column matrix KH*KW times the
 * image and cuts the product into one small BLAS call per image. These
 * kernels instead run the GEMM's register tile directly on a zero-padded
 * copy of the image: a block of PB output pixels of one row times OV vectors
 * of output channels stays in PB*OV vector registers over all KH*KW*C taps;
 * each tap broadcasts one input value per pixel and loads OV filter vectors
 * (the filter's [KH, KW, C, O] layout has them contiguous). The filter
 * gradient is the same tile with the roles turned: CB input channels of one
 * tap times OV vectors of dy's channels, accumulated over every output pixel
 * of every image. The input gradient of a stride-1 conv is the forward conv
 * of dy (padded (KH-1)*dh - pt on top, (KW-1)*dw - pl on the left) with the
 * filter flipped in space and its channel axes swapped. The vector channels
 * (O; C for the input gradient) must be a multiple of the vector lanes.
 *
 * Scratch (in[2], elements), with Hp = (OH-1)*sh + (KH-1)*dh + 1 and Wp
 * likewise the padded image's size:
 *   forward          slots * Hp*Wp*C (one padded image per thread);
 *   input gradient   KH*KW*O*C (the flipped filter) + slots * (H + (KH-1)*dh)
 *                    * (W + (KW-1)*dw) * O (one padded dy per thread);
 *   filter gradient  N * Hp*Wp*C (every padded image).
 * Threads run over images (forward, input gradient: each in its slot) or,
 * for fewer images than threads, over the rows of one image at a time; the
 * filter gradient splits its taps over the threads, so each dw entry is one
 * thread's sum over the images in order: the result does not depend on the
 * thread count. */

/* the tile sizes: at most SF_IG_ACC accumulators, and OV <= 4 */
#define SF_IG_ACC 28
/* the filter gradient passes over blocks of images of about this many elements (padded
 * images and dy): half a megabyte of float32, in a core's L2 cache */
#define SF_IG_BLOCK (1 << 17)

typedef struct {
    int64_t N, Hp, Wp, C;  /* padded input image */
    int64_t KH, KW, O;     /* filter [KH, KW, C, O] */
    int64_t OH, OW;        /* output */
    int64_t sh, sw, dh, dw;
} sf_ig;

/* src [sH, sW, C] -> dst [Hp, Wp, C]: src pixel (i, j) at (i + top, j + left), zeros around */
#define SF_DEFINE_IG_PAD(NAME, T)                                                                   \
    static void sf_ig_pad_##NAME(const T *restrict src, int64_t sH, int64_t sW, int64_t C,         \
                                 T *restrict dst, int64_t Hp, int64_t Wp, int64_t top, int64_t left) \
    {                                                                                               \
        const int64_t j0 = left, j1 = left + sW < Wp ? left + sW : Wp;                              \
        for (int64_t r = 0; r < Hp; r++) {                                                          \
            T *d = dst + r * Wp * C;                                                                \
            const int64_t i = r - top;                                                              \
            if (i < 0 || i >= sH || j1 <= j0) {                                                     \
                memset(d, 0, (size_t)(Wp * C) * sizeof(T));                                         \
                continue;                                                                           \
            }                                                                                       \
            memset(d, 0, (size_t)(j0 * C) * sizeof(T));                                             \
            memcpy(d + j0 * C, src + i * sW * C, (size_t)((j1 - j0) * C) * sizeof(T));              \
            memset(d + j1 * C, 0, (size_t)((Wp - j1) * C) * sizeof(T));                             \
        }                                                                                           \
    }

/* y[p, v] (output pixels ow0 + p of row oh; OV vectors from channel o0) over all taps */
#define SF_IG_FWD(NAME, T, V, OV, PB)                                                               \
    static void sf_ig_fwd_##NAME##_##OV##_##PB(const sf_ig *g, const T *restrict xp,                \
                                               const T *restrict w, T *restrict y, int64_t oh,      \
                                               int64_t ow0, int64_t o0)                             \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        V acc[PB][OV];                                                                              \
        _Pragma("GCC unroll 16") for (int p = 0; p < PB; p++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[p][v] = (V){0};                \
        const int64_t C = g->C, O = g->O, ps = g->sw * C;                                           \
        /* undilated rows: the taps (kw, c) of a filter row are one run of the image row */       \
        const int64_t nrun = g->dw == 1 ? 1 : g->KW, run = g->dw == 1 ? g->KW * C : C;              \
        for (int64_t kh = 0; kh < g->KH; kh++)                                                      \
            for (int64_t kw = 0; kw < nrun; kw++) {                                                 \
                const T *xs = xp + ((oh * g->sh + kh * g->dh) * g->Wp + ow0 * g->sw + kw * g->dw) * C; \
                const T *ws = w + (kh * g->KW + kw) * C * O + o0;                                   \
                for (int64_t c = 0; c < run; c++, xs++, ws += O) {                                  \
                    V f[OV];                                                                        \
                    _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) f[v] = *(const V *)(ws + v * L); \
                    _Pragma("GCC unroll 16") for (int p = 0; p < PB; p++) {                        \
                        const T b = xs[p * ps];                                                     \
                        _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[p][v] += b * f[v]; \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
        T *out = y + (oh * g->OW + ow0) * O + o0;                                                   \
        _Pragma("GCC unroll 16") for (int p = 0; p < PB; p++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) *(V *)(out + p * O + v * L) = acc[p][v]; \
    }

/* dw[kh, kw, c0 + i, o0 + v-th vector] += over every output pixel of one image; c0 + i may
 * run past C into the next kw's channels when dw == 1 (a filter row's taps are one run) */
#define SF_IG_DW(NAME, T, V, OV, CB)                                                                \
    static void sf_ig_dw_##NAME##_##OV##_##CB(const sf_ig *g, const T *restrict xp,                 \
                                              const T *restrict dy, T *restrict dw, int64_t kh,     \
                                              int64_t kw, int64_t c0, int64_t o0)                   \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t C = g->C, O = g->O, ps = g->sw * C;                                           \
        T *d = dw + ((kh * g->KW + kw) * C + c0) * O + o0;                                          \
        V acc[CB][OV];                                                                              \
        _Pragma("GCC unroll 16") for (int i = 0; i < CB; i++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[i][v] = *(const V *)(d + i * O + v * L); \
        for (int64_t oh = 0; oh < g->OH; oh++) {                                                    \
            const T *xs = xp + ((oh * g->sh + kh * g->dh) * g->Wp + kw * g->dw) * C + c0;           \
            const T *ds = dy + oh * g->OW * O + o0;                                                 \
            for (int64_t ow = 0; ow < g->OW; ow++, xs += ps, ds += O) {                             \
                V e[OV];                                                                            \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) e[v] = *(const V *)(ds + v * L); \
                _Pragma("GCC unroll 16") for (int i = 0; i < CB; i++) {                            \
                    const T b = xs[i];                                                              \
                    _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[i][v] += b * e[v];     \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 16") for (int i = 0; i < CB; i++)                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) *(V *)(d + i * O + v * L) = acc[i][v]; \
    }

/* the tile variants: OV vectors by 1..14 (OV 1, 2), 1..9 (OV 3) or 1..7 (OV 4) rows */
#define SF_IG_R7(X, N, T, V, OV) X(N, T, V, OV, 1) X(N, T, V, OV, 2) X(N, T, V, OV, 3) X(N, T, V, OV, 4) \
    X(N, T, V, OV, 5) X(N, T, V, OV, 6) X(N, T, V, OV, 7)
#define SF_IG_R9(X, N, T, V, OV) SF_IG_R7(X, N, T, V, OV) X(N, T, V, OV, 8) X(N, T, V, OV, 9)
#define SF_IG_R14(X, N, T, V, OV) SF_IG_R9(X, N, T, V, OV) X(N, T, V, OV, 10) X(N, T, V, OV, 11) \
    X(N, T, V, OV, 12) X(N, T, V, OV, 13) X(N, T, V, OV, 14)
#define SF_IG_VARIANTS(X, N, T, V) SF_IG_R14(X, N, T, V, 1) SF_IG_R14(X, N, T, V, 2) \
    SF_IG_R9(X, N, T, V, 3) SF_IG_R7(X, N, T, V, 4)
#define SF_IG_CASE_FWD(N, T, V, OV, R) case OV * 100 + R: return sf_ig_fwd_##N##_##OV##_##R;
#define SF_IG_CASE_DW(N, T, V, OV, R) case OV * 100 + R: return sf_ig_dw_##N##_##OV##_##R;

/* the most tile rows (pixels or channels) for OV vectors */
static int64_t sf_ig_max_rows(int64_t ov)
{
    const int64_t r = SF_IG_ACC / ov;
    return ov == 4 ? 7 : r > 14 ? 14 : r;
}

/* n rows in blocks of at most `most`, as even as can be: the block count */
static int64_t sf_ig_blocks(int64_t n, int64_t most)
{
    return (n + most - 1) / most;
}

#define SF_DEFINE_IGEMM(NAME, CODE, T, V)                                                           \
    SF_DEFINE_IG_PAD(NAME, T)                                                                       \
                                                                                                    \
    /* wf [KH, KW, O, C] = w [KH, KW, C, O] flipped in space, its channel axes swapped: the        \
     * filter of the forward conv that gives a stride-1 conv's input gradient */                   \
    static void sf_flip_filter_##NAME(const T *restrict w, int64_t KH, int64_t KW, int64_t C,      \
                                      int64_t O, T *restrict wf)                                    \
    {                                                                                               \
        for (int64_t kh = 0; kh < KH; kh++)                                                         \
            for (int64_t kw = 0; kw < KW; kw++) {                                                   \
                const T *s = w + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * C * O;                      \
                T *d = wf + (kh * KW + kw) * O * C;                                                 \
                for (int64_t ci = 0; ci < C; ci++)                                                  \
                    for (int64_t o = 0; o < O; o++) d[o * C + ci] = s[ci * O + o];                  \
            }                                                                                       \
    }                                                                                               \
    SF_IG_VARIANTS(SF_IG_FWD, NAME, T, V)                                                           \
    SF_IG_VARIANTS(SF_IG_DW, NAME, T, V)                                                            \
    typedef void (*sf_ig_fwd_fn_##NAME)(const sf_ig *, const T *, const T *, T *, int64_t, int64_t, \
                                        int64_t);                                                   \
    typedef void (*sf_ig_dw_fn_##NAME)(const sf_ig *, const T *, const T *, T *, int64_t, int64_t,  \
                                       int64_t, int64_t);                                           \
    static sf_ig_fwd_fn_##NAME sf_ig_fwd_pick_##NAME(int64_t ov, int64_t rows)                      \
    {                                                                                               \
        switch (ov * 100 + rows) { SF_IG_VARIANTS(SF_IG_CASE_FWD, NAME, T, V) }                     \
        return NULL;                                                                                \
    }                                                                                               \
    static sf_ig_dw_fn_##NAME sf_ig_dw_pick_##NAME(int64_t ov, int64_t rows)                        \
    {                                                                                               \
        switch (ov * 100 + rows) { SF_IG_VARIANTS(SF_IG_CASE_DW, NAME, T, V) }                      \
        return NULL;                                                                                \
    }                                                                                               \
                                                                                                    \
    /* one output row oh of one image: every pixel block and channel block */                      \
    static void sf_ig_row_##NAME(const sf_ig *g, const T *xp, const T *w, T *y, int64_t oh)         \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t nv = g->O / L;                                                                \
        for (int64_t v0 = 0; v0 < nv; v0 += 4) {                                                    \
            const int64_t ov = nv - v0 < 4 ? nv - v0 : 4, nb = sf_ig_blocks(g->OW, sf_ig_max_rows(ov)); \
            for (int64_t b = 0; b < nb; b++) {                                                      \
                const int64_t p0 = g->OW * b / nb, p1 = g->OW * (b + 1) / nb;                       \
                sf_ig_fwd_pick_##NAME(ov, p1 - p0)(g, xp, w, y, oh, p0, v0 * L);                    \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* y [N, OH, OW, O] = the conv of the images src [N, sH, sW, C] placed at (top, left) in       \
     * padded [Hp, Wp, C] copies (in `slots` scratch slots), with w [KH, KW, C, O]; then the        \
     * epilogue per image */                                                                        \
    static void sf_ig_conv_##NAME(const sf_ig *g, const T *src, int64_t sH, int64_t sW, int64_t top, \
                                  int64_t left, const T *w, T *y, T *scratch, int64_t slots,         \
                                  const sf_conv_epi *e)                                             \
    {                                                                                               \
        const int64_t pimg = g->Hp * g->Wp * g->C, simg = sH * sW * g->C, P = g->OH * g->OW;        \
        const double work = (double)g->N * P * g->O * g->KH * g->KW * g->C;                         \
        const int64_t t = omp_get_max_threads();                                                    \
        const int par = t > 1 && work >= SF_PARALLEL_MIN && !omp_in_parallel();                     \
        if (par && g->N < t) { /* few images: one at a time, its rows over the threads */           \
            for (int64_t n = 0; n < g->N; n++) {                                                    \
                sf_ig_pad_##NAME(src + n * simg, sH, sW, g->C, scratch, g->Hp, g->Wp, top, left);   \
                T *yn = y + n * P * g->O;                                                           \
                _Pragma("omp parallel for schedule(static)")                                       \
                for (int64_t oh = 0; oh < g->OH; oh++) sf_ig_row_##NAME(g, scratch, w, yn, oh);     \
            }                                                                                       \
            if (e) sf_conv_finish_##NAME(e, y, 0, g->N, P, g->O, 1);                                \
            return;                                                                                 \
        }                                                                                           \
        const int nth = par ? (int)(t < slots ? t : slots) : 1;                                     \
        _Pragma("omp parallel num_threads(nth) if(nth > 1)")                                       \
        {                                                                                           \
            T *xp = scratch + omp_get_thread_num() * pimg;                                          \
            /* dynamic: a thread that loses its core to another process leaves its images to \
             * the others instead of holding the whole team at the end */                        \
            _Pragma("omp for schedule(dynamic, 1)")                                                \
            for (int64_t n = 0; n < g->N; n++) {                                                    \
                sf_ig_pad_##NAME(src + n * simg, sH, sW, g->C, xp, g->Hp, g->Wp, top, left);        \
                T *yn = y + n * P * g->O;                                                           \
                for (int64_t oh = 0; oh < g->OH; oh++) sf_ig_row_##NAME(g, xp, w, yn, oh);          \
                if (e) sf_conv_finish_##NAME(e, y, n, 1, P, g->O, 0);                               \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* the geometry of an implicit-GEMM call; vec the channel count that must fill vectors */      \
    static int sf_ig_check_##NAME(sf_call *c, const sf_geo *g, int64_t vec, const char *name)       \
    {                                                                                               \
        if (c->n_in < 3 || c->in[2].dtype != CODE || !sf_is_contiguous(&c->in[2]))                 \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: in[2] must be a contiguous %s scratch", \
                           name, #NAME);                                                            \
        if (vec % (SF_SIMD_BYTES / (int64_t)sizeof(T)))                                             \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                              \
                           "%s: %lld channels are not a multiple of the %d vector lanes", name,     \
                           (long long)vec, (int)(SF_SIMD_BYTES / sizeof(T)));                       \
        (void)g;                                                                                    \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    static void sf_ig_of_##NAME(sf_ig *ig, const sf_geo *g)                                         \
    {                                                                                               \
        ig->N = g->N, ig->C = g->C, ig->KH = g->KH, ig->KW = g->KW, ig->O = g->O;                  \
        ig->OH = g->OH, ig->OW = g->OW, ig->sh = g->sh, ig->sw = g->sw, ig->dh = g->dh, ig->dw = g->dw; \
        ig->Hp = (g->OH - 1) * g->sh + (g->KH - 1) * g->dh + 1;                                    \
        ig->Wp = (g->OW - 1) * g->sw + (g->KW - 1) * g->dw + 1;                                    \
    }                                                                                               \
                                                                                                    \
    static int sf_conv2d_igemm_run_##NAME(sf_call *c, int fused, const char *name)                  \
    {                                                                                               \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, 0, 1, -1, 0);                                    \
        if (st || (st = sf_ig_check_##NAME(c, &g, g.O, name))) return st;                           \
        sf_conv_epi e;                                                                              \
        memset(&e, 0, sizeof e);                                                                    \
        if (fused && (st = sf_conv_epi_of(c, &e, &c->out[0], CODE, name))) return st;               \
        if (g.N * g.OH * g.OW * g.O == 0) return SF_OK;                                             \
        sf_ig ig;                                                                                   \
        sf_ig_of_##NAME(&ig, &g);                                                                   \
        const int64_t pimg = ig.Hp * ig.Wp * g.C;                                                   \
        const int64_t slots = pimg ? sf_numel(&c->in[2]) / pimg : 1;                                \
        if (slots < 1)                                                                              \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements",   \
                           name, (long long)pimg);                                                  \
        sf_ig_conv_##NAME(&ig, (const T *)c->in[0].data, g.H, g.W, g.pt, g.pl, (const T *)c->in[1].data, \
                          (T *)c->out[0].data, (T *)c->in[2].data, slots, fused ? &e : NULL);       \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_conv2d_igemm_##NAME(sf_call *c)                                                      \
    {                                                                                               \
        return sf_conv2d_igemm_run_##NAME(c, 0, "conv2d_igemm_" #NAME);                             \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_fused_conv2d_igemm_##NAME(sf_call *c)                                                \
    {                                                                                               \
        return sf_conv2d_igemm_run_##NAME(c, 1, "fused_conv2d_igemm_" #NAME);                       \
    }                                                                                               \
                                                                                                    \
    /* in[0] filter, in[1] dy, in[2] scratch -> out[0] dx; stride 1 */                             \
    int sf_cpu_conv2d_backprop_input_igemm_##NAME(sf_call *c)                                       \
    {                                                                                               \
        const char *name = "conv2d_backprop_input_igemm_" #NAME;                                   \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, -1, 0, 1, 1);                                    \
        if (st || (st = sf_ig_check_##NAME(c, &g, g.C, name))) return st;                           \
        const int64_t top = (g.KH - 1) * g.dh - g.pt, left = (g.KW - 1) * g.dw - g.pl;              \
        if (g.sh != 1 || g.sw != 1 || top < 0 || left < 0)                                          \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                              \
                           "%s: needs strides 1 and padding at most the dilated filter size - 1", name); \
        T *dx = (T *)c->out[0].data;                                                                \
        const int64_t K = g.KH * g.KW * g.C * g.O;                                                  \
        if (g.N * g.H * g.W * g.C == 0) return SF_OK;                                               \
        /* the flipped conv: input dy [OH, OW, O], filter wf [KH, KW, O, C], output [H, W, C] */   \
        sf_ig ig = {g.N, g.H + (g.KH - 1) * g.dh, g.W + (g.KW - 1) * g.dw, g.O, g.KH, g.KW, g.C,   \
                    g.H, g.W, 1, 1, g.dh, g.dw};                                                    \
        const int64_t pimg = ig.Hp * ig.Wp * ig.C;                                                  \
        const int64_t slots = pimg ? (sf_numel(&c->in[2]) - K) / pimg : 1;                          \
        if (slots < 1)                                                                              \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements",   \
                           name, (long long)(K + pimg));                                            \
        const T *w = (const T *)c->in[0].data;                                                      \
        T *wf = (T *)c->in[2].data;                                                                 \
        sf_flip_filter_##NAME(w, g.KH, g.KW, g.C, g.O, wf);                                         \
        sf_ig_conv_##NAME(&ig, (const T *)c->in[1].data, g.OH, g.OW, top, left, wf, dx, wf + K, slots, NULL); \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* in[0] x, in[1] dy, in[2] scratch -> out[0] dw */                                            \
    int sf_cpu_conv2d_backprop_filter_igemm_##NAME(sf_call *c)                                      \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const char *name = "conv2d_backprop_filter_igemm_" #NAME;                                  \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, 0, -1, 1, 0);                                    \
        if (st || (st = sf_ig_check_##NAME(c, &g, g.O, name))) return st;                           \
        T *dw = (T *)c->out[0].data;                                                                \
        const int64_t K = g.KH * g.KW * g.C;                                                        \
        if (K * g.O == 0) return SF_OK;                                                             \
        sf_ig ig;                                                                                   \
        sf_ig_of_##NAME(&ig, &g);                                                                   \
        const int64_t pimg = ig.Hp * ig.Wp * g.C, P = g.OH * g.OW;                                  \
        if (P && sf_numel(&c->in[2]) < g.N * pimg)                                                  \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements",   \
                           name, (long long)(g.N * pimg));                                          \
        memset(dw, 0, (size_t)(K * g.O) * sizeof(T));                                               \
        if (g.N * P == 0) return SF_OK;                                                             \
        const T *x = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                     \
        T *xp = (T *)c->in[2].data;                                                                 \
        /* units: (tap, channel block, vector block); undilated rows make a filter row's     \
         * taps (kw, c) one run of KW * C "channels" */                                              \
        const int64_t nv = g.O / L, nvb = (nv + 3) / 4;                                             \
        const int64_t ovl = nv - (nvb - 1) * 4; /* the last vector block's vectors */               \
        const int64_t ntap = g.dw == 1 ? g.KH : g.KH * g.KW, run = g.dw == 1 ? g.KW * g.C : g.C;   \
        const int64_t ncb = sf_ig_blocks(run, sf_ig_max_rows(4)), ncbl = sf_ig_blocks(run, sf_ig_max_rows(ovl)); \
        const int64_t per_tap = (nvb - 1) * ncb + ncbl, units = ntap * per_tap;                     \
        const double work = (double)g.N * P * K * g.O;                                              \
        const int par = omp_get_max_threads() > 1 && work >= SF_PARALLEL_MIN && !omp_in_parallel(); \
        const int64_t per_img = pimg + P * g.O, iblk = per_img < SF_IG_BLOCK ? SF_IG_BLOCK / per_img : 1; \
        _Pragma("omp parallel if(par)")                                                            \
        {                                                                                           \
            _Pragma("omp for schedule(static)")                                                    \
            for (int64_t n = 0; n < g.N; n++)                                                       \
                sf_ig_pad_##NAME(x + n * g.H * g.W * g.C, g.H, g.W, g.C, xp + n * pimg, ig.Hp, ig.Wp, \
                                 g.pt, g.pl);                                                       \
            /* blocks of images whose padded copies and dy stay in cache while every unit     \
             * passes over them; units are dealt out dynamically, and each unit sums its images \
             * in order, so the sums do not depend on which thread runs it */                   \
            for (int64_t n0 = 0; n0 < g.N; n0 += iblk) {                                            \
                const int64_t n1 = n0 + iblk < g.N ? n0 + iblk : g.N;                               \
                _Pragma("omp for schedule(dynamic, 1)")                                            \
                for (int64_t u = 0; u < units; u++)                                                 \
                for (int64_t n = n0; n < n1; n++) {                                                 \
                    const int64_t tap = u / per_tap, r = u % per_tap;                               \
                    const int64_t vb = r / ncb < nvb - 1 ? r / ncb : nvb - 1;                       \
                    const int64_t ov = vb < nvb - 1 ? 4 : ovl, nb = vb < nvb - 1 ? ncb : ncbl;      \
                    const int64_t b = r - vb * ncb;                                                 \
                    const int64_t c0 = run * b / nb, c1 = run * (b + 1) / nb;                       \
                    const int64_t kh = g.dw == 1 ? tap : tap / g.KW, kw = g.dw == 1 ? 0 : tap % g.KW; \
                    sf_ig_dw_pick_##NAME(ov, c1 - c0)(&ig, xp + n * pimg, dy + n * P * g.O, dw, kh, kw, \
                                                      c0, vb * 4 * L);                              \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }

SF_DC_VECTOR_DTYPES(SF_DEFINE_IGEMM)

/* ---- Winograd convolution of 5x5 layers ---------------------------------
 *
 * A stride-1, undilated 5x5 conv as Lavin and Gray's F(2x2, 5x5) ("Fast
 * Algorithms for Convolutional Neural Networks", 2016): each 2x2 block of
 * output pixels is y = A^T [(G f G^T) . (B^T d B)] A over the 6x6 block d of
 * the image under it, for every pair of channels. The products become 36
 * GEMMs (one per position xi of the 6x6 transform) of tiles x C by C x O:
 * 36 multiplications per 4 outputs instead of 100, 2.8 times fewer. The
 * transforms use the points 0, 1, -1, 2, -2 and infinity, whose matrices hold
 * only small integers (B, A) or are applied once per call (G):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *          0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1], G as sf_wg_G below.
 * The input gradient is the forward conv of dy with the filter flipped and
 * its channel axes swapped (as for the implicit-GEMM kernels). The forward
 * map is linear in the filter, so its adjoint gives the filter gradient with
 * the same matrices: dw = G^T [sum over tiles (A dy A^T) . (B^T d B)] G, one
 * GEMM of C x tiles by tiles x O per position.
 *
 * A forward block is up to SF_WG_TB tiles of one image: its transformed image
 * [36][tiles][C] and products [36][tiles][O] stay in L1/L2 between the three
 * stages. The filter gradient sums blocks of SF_WG_TBF tiles into one partial
 * sum per block of images; there are at most SF_WG_PARTS blocks, fixed by the
 * batch, and they are added in order, so the result does not depend on the
 * thread count.
 *
 * The transforms mix the values of a tile, so one non-finite input would
 * spread to outputs whose window never saw it (Inf - Inf is NaN). An image
 * whose result holds a non-finite value is therefore computed again by the
 * implicit-GEMM kernel, whose non-finite results are the im2col reference's;
 * a non-finite filter gradient reruns that kernel for the whole call.
 *
 * Scratch (in[2], elements), Ci and Co the channels read and written (the
 * forward's C and O; O and C for the input gradient), Hp x Wp the padded
 * image of the implicit-GEMM fallback (sf_ig):
 *   forward          36*Ci*Co + slots * (36*TB*(Ci + Co) + Hp*Wp*Ci);
 *   input gradient   36*Ci*Co + 25*Ci*Co (the flipped filter) + the same slots;
 *   filter gradient  max(parts * 36*C*O + slots * 36*TBF*(C + O), N*Hp*Wp*C).
 * Both channel counts must be multiples of the vector lanes. */

#define SF_WG_TB 7
#define SF_WG_TBF 49
#define SF_WG_PARTS 8

/* G of F(2, 5) at the points 0, 1, -1, 2, -2 and infinity (6 x 5) */
static const double sf_wg_G[6][5] = {
    {1.0 / 4, 0, 0, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
    {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
    {0, 0, 0, 0, 1},
};

typedef struct {
    int64_t H, W, C;   /* the image read (unpadded) */
    int64_t OH, OW, O; /* the output */
    int64_t top, left; /* where the image sits in the padded frame */
    int64_t TH, TW;    /* tiles: ceil(OH / 2) x ceil(OW / 2) */
} sf_wg;

static void sf_wg_of(sf_wg *g, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t O,
                     int64_t top, int64_t left)
{
    g->H = H, g->W = W, g->C = C, g->OH = OH, g->OW = OW, g->O = O, g->top = top, g->left = left;
    g->TH = (OH + 1) / 2, g->TW = (OW + 1) / 2;
}

/* the slot of one thread: transformed image, products, the fallback's padded image */
static int64_t sf_wg_slot(const sf_wg *g, int64_t pimg)
{
    return 36 * SF_WG_TB * (g->C + g->O) + pimg;
}

/* where block b of n tiles cut into nb blocks (sf_ig_blocks) starts: block b is
 * [sf_wg_cut(n, nb, b), sf_wg_cut(n, nb, b + 1)), as even as whole tiles allow */
static inline int64_t sf_wg_cut(int64_t n, int64_t nb, int64_t b)
{
    return n * b / nb;
}

#define SF_WG_GEMM(NAME, T, V, OV, R)                                                               \
    /* forward: m[xi][t][o0 + v-th vector] = sum over c of vb[xi][t][c] u[xi][c][...], R tiles */  \
    static void sf_wg_mm_##NAME##_##OV##_##R(const T *restrict vb, const T *restrict u,            \
                                             T *restrict m, int64_t C, int64_t O, int64_t vs,       \
                                             int64_t ms, int64_t o0)                                \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        for (int64_t xi = 0; xi < 36; xi++) {                                                       \
            const T *vx = vb + xi * vs, *ux = u + xi * C * O + o0;                                  \
            V acc[R][OV];                                                                           \
            _Pragma("GCC unroll 8") for (int t = 0; t < R; t++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[t][v] = (V){0};            \
            for (int64_t c = 0; c < C; c++) {                                                       \
                V f[OV];                                                                            \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) f[v] = *(const V *)(ux + c * O + v * L); \
                _Pragma("GCC unroll 8") for (int t = 0; t < R; t++) {                              \
                    const T b = vx[t * C + c];                                                      \
                    _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[t][v] += b * f[v];    \
                }                                                                                   \
            }                                                                                       \
            T *mx = m + xi * ms + o0;                                                               \
            _Pragma("GCC unroll 8") for (int t = 0; t < R; t++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) *(V *)(mx + t * O + v * L) = acc[t][v]; \
        }                                                                                           \
    }                                                                                               \
    /* filter gradient: acc[xi][c0 + i][o0 + v-th vector] += sum over nt tiles of                  \
     * vb[xi][t][c0 + i] zb[xi][t][...], R channels */                                              \
    static void sf_wg_dw_##NAME##_##OV##_##R(const T *restrict vb, const T *restrict zb,           \
                                             T *restrict acc_, int64_t nt, int64_t C, int64_t O,    \
                                             int64_t vs, int64_t zs, int64_t c0, int64_t o0)        \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        for (int64_t xi = 0; xi < 36; xi++) {                                                       \
            const T *vx = vb + xi * vs + c0, *zx = zb + xi * zs + o0;                               \
            T *d = acc_ + (xi * C + c0) * O + o0;                                                   \
            V acc[R][OV];                                                                           \
            _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[i][v] = *(const V *)(d + i * O + v * L); \
            for (int64_t t = 0; t < nt; t++) {                                                      \
                V e[OV];                                                                            \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) e[v] = *(const V *)(zx + t * O + v * L); \
                _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {                              \
                    const T b = vx[t * C + i];                                                      \
                    _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) acc[i][v] += b * e[v];    \
                }                                                                                   \
            }                                                                                       \
            _Pragma("GCC unroll 8") for (int i = 0; i < R; i++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) *(V *)(d + i * O + v * L) = acc[i][v]; \
        }                                                                                           \
    }

#define SF_WG_R7(X, N, T, V, OV) X(N, T, V, OV, 1) X(N, T, V, OV, 2) X(N, T, V, OV, 3) X(N, T, V, OV, 4) \
    X(N, T, V, OV, 5) X(N, T, V, OV, 6) X(N, T, V, OV, 7)
#define SF_WG_VARIANTS(X, N, T, V) SF_WG_R7(X, N, T, V, 1) SF_WG_R7(X, N, T, V, 2) \
    SF_WG_R7(X, N, T, V, 3) SF_WG_R7(X, N, T, V, 4)
#define SF_WG_CASE_MM(N, T, V, OV, R) case OV * 100 + R: return sf_wg_mm_##N##_##OV##_##R;
#define SF_WG_CASE_DW(N, T, V, OV, R) case OV * 100 + R: return sf_wg_dw_##N##_##OV##_##R;

#define SF_DEFINE_WINOGRAD(NAME, CODE, T, V)                                                        \
    SF_WG_VARIANTS(SF_WG_GEMM, NAME, T, V)                                                          \
    typedef void (*sf_wg_mm_fn_##NAME)(const T *, const T *, T *, int64_t, int64_t, int64_t, int64_t, \
                                       int64_t);                                                    \
    typedef void (*sf_wg_dw_fn_##NAME)(const T *, const T *, T *, int64_t, int64_t, int64_t, int64_t, \
                                       int64_t, int64_t, int64_t);                                  \
    static sf_wg_mm_fn_##NAME sf_wg_mm_pick_##NAME(int64_t ov, int64_t rows)                        \
    {                                                                                               \
        switch (ov * 100 + rows) { SF_WG_VARIANTS(SF_WG_CASE_MM, NAME, T, V) }                      \
        return NULL;                                                                                \
    }                                                                                               \
    static sf_wg_dw_fn_##NAME sf_wg_dw_pick_##NAME(int64_t ov, int64_t rows)                        \
    {                                                                                               \
        switch (ov * 100 + rows) { SF_WG_VARIANTS(SF_WG_CASE_DW, NAME, T, V) }                      \
        return NULL;                                                                                \
    }                                                                                               \
                                                                                                    \
    /* u[xi][a][b] = (G f G^T)[xi] for na x nb pairs, f the 5x5 taps of pair (a, b) at           \
     * w + a*sa + b*sb + kh*sh + kw*sw (strides in elements, of any sign) */                       \
    static void sf_wg_filter_##NAME(const T *w, int64_t sh, int64_t sw, int64_t sa, int64_t sb,    \
                                    int64_t na, int64_t nb, T *u, int par)                          \
    {                                                                                               \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t a = 0; a < na; a++)                                                            \
            for (int64_t b = 0; b < nb; b++) {                                                      \
                const T *f = w + a * sa + b * sb;                                                   \
                double r[6][5];                                                                     \
                for (int i = 0; i < 6; i++)                                                         \
                    for (int l = 0; l < 5; l++) {                                                   \
                        double s = 0;                                                               \
                        for (int k = 0; k < 5; k++)                                                 \
                            if (sf_wg_G[i][k] != 0) s += sf_wg_G[i][k] * (double)f[k * sh + l * sw]; \
                        r[i][l] = s;                                                                \
                    }                                                                               \
                for (int i = 0; i < 6; i++)                                                         \
                    for (int j = 0; j < 6; j++) {                                                   \
                        double s = 0;                                                               \
                        for (int l = 0; l < 5; l++)                                                 \
                            if (sf_wg_G[j][l] != 0) s += r[i][l] * sf_wg_G[j][l];                  \
                        u[((i * 6 + j) * na + a) * nb + b] = (T)s;                                  \
                    }                                                                               \
            }                                                                                       \
    }                                                                                               \
                                                                                                    \
    /* one 1-D input transform, B^T d, of six vectors */                                           \
    static inline void sf_wg_bt_##NAME(V d0, V d1, V d2, V d3, V d4, V d5, V *t)                    \
    {                                                                                               \
        const V four = (V){0} + (T)4, five = (V){0} + (T)5, two = (V){0} + (T)2;                   \
        t[0] = four * d0 - five * d2 + d4;                                                          \
        t[1] = d3 + d4 - four * (d1 + d2);                                                          \
        t[2] = d4 - d3 + four * (d1 - d2);                                                          \
        t[3] = d4 - d2 + two * (d3 - d1);                                                           \
        t[4] = d4 - d2 + two * (d1 - d3);                                                           \
        t[5] = four * d1 - five * d3 + d5;                                                          \
    }                                                                                               \
                                                                                                    \
    /* vb[xi][t][c] = (B^T d B)[xi] of tiles [t0, t0 + nt) of image x [H, W, C] (vs: per xi) */    \
    static void sf_wg_in_##NAME(const sf_wg *g, const T *restrict x, int64_t t0, int64_t nt,        \
                                T *restrict vb, int64_t vs)                                         \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t C = g->C;                                                                     \
        for (int64_t t = 0; t < nt; t++) {                                                          \
            const int64_t ty = (t0 + t) / g->TW, tx = (t0 + t) % g->TW;                             \
            const int64_t r0 = 2 * ty - g->top, q0 = 2 * tx - g->left;                              \
            const int inside = r0 >= 0 && q0 >= 0 && r0 + 6 <= g->H && q0 + 6 <= g->W;             \
            for (int64_t cv = 0; cv < C; cv += L) {                                                 \
                V w[6][6];                                                                          \
                for (int a = 0; a < 6; a++) {                                                       \
                    V d[6];                                                                         \
                    const int64_t r = r0 + a;                                                       \
                    const T *row = x + (r * g->W + q0) * C + cv;                                    \
                    if (inside) {                                                                   \
                        _Pragma("GCC unroll 6") for (int b = 0; b < 6; b++) d[b] = *(const V *)(row + b * C); \
                    } else {                                                                        \
                        _Pragma("GCC unroll 6") for (int b = 0; b < 6; b++) {                      \
                            const int64_t q = q0 + b;                                               \
                            d[b] = r >= 0 && r < g->H && q >= 0 && q < g->W ? *(const V *)(row + b * C) \
                                                                            : (V){0};               \
                        }                                                                           \
                    }                                                                               \
                    sf_wg_bt_##NAME(d[0], d[1], d[2], d[3], d[4], d[5], w[a]);                      \
                }                                                                                   \
                T *out = vb + t * C + cv;                                                           \
                _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++) {                              \
                    V v[6];                                                                         \
                    sf_wg_bt_##NAME(w[0][j], w[1][j], w[2][j], w[3][j], w[4][j], w[5][j], v);       \
                    _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) *(V *)(out + (i * 6 + j) * vs) = v[i]; \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* y's 2x2 blocks of tiles [t0, t0 + nt) from mb[xi][t][o] (A^T m A); returns whether one   \
     * of the values written is not finite */                                                     \
    static int sf_wg_out_##NAME(const sf_wg *g, const T *restrict mb, int64_t ms, int64_t t0,      \
                                int64_t nt, T *restrict y)                                          \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t O = g->O;                                                                     \
        const V two = (V){0} + (T)2;                                                                \
        V chk = (V){0};                                                                             \
        for (int64_t t = 0; t < nt; t++) {                                                          \
            const int64_t ty = (t0 + t) / g->TW, tx = (t0 + t) % g->TW;                             \
            const int64_t oh = 2 * ty, ow = 2 * tx;                                                 \
            for (int64_t ov = 0; ov < O; ov += L) {                                                 \
                const T *m = mb + t * O + ov;                                                       \
                V r0[6], r1[6];                                                                     \
                _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {                              \
                    const T *mi = m + i * 6 * ms;                                                   \
                    const V m0 = *(const V *)mi, m1 = *(const V *)(mi + ms), m2 = *(const V *)(mi + 2 * ms); \
                    const V m3 = *(const V *)(mi + 3 * ms), m4 = *(const V *)(mi + 4 * ms);         \
                    const V m5 = *(const V *)(mi + 5 * ms);                                         \
                    r0[i] = m0 + m1 + m2 + m3 + m4;                                                 \
                    r1[i] = m1 - m2 + two * (m3 - m4) + m5;                                         \
                }                                                                                   \
                const V y00 = r0[0] + r0[1] + r0[2] + r0[3] + r0[4];                                \
                const V y01 = r1[0] + r1[1] + r1[2] + r1[3] + r1[4];                                \
                const V y10 = r0[1] - r0[2] + two * (r0[3] - r0[4]) + r0[5];                        \
                const V y11 = r1[1] - r1[2] + two * (r1[3] - r1[4]) + r1[5];                        \
                T *o = y + (oh * g->OW + ow) * O + ov;                                              \
                *(V *)o = y00;                                                                      \
                chk += y00 * 0;                                                                     \
                if (ow + 1 < g->OW) *(V *)(o + O) = y01, chk += y01 * 0;                            \
                if (oh + 1 < g->OH) {                                                               \
                    *(V *)(o + g->OW * O) = y10, chk += y10 * 0;                                    \
                    if (ow + 1 < g->OW) *(V *)(o + (g->OW + 1) * O) = y11, chk += y11 * 0;          \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        int bad = 0;                                                                                \
        for (int l = 0; l < L; l++) bad |= chk[l] != chk[l];                                        \
        return bad;                                                                                 \
    }                                                                                               \
                                                                                                    \
    /* block b of nb of one image's tiles: transform, 36 products, transform back */              \
    static int sf_wg_block_##NAME(const sf_wg *g, const T *x, const T *u, T *y, T *slot, int64_t b, \
                                  int64_t nb)                                                       \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t all = g->TH * g->TW, t0 = sf_wg_cut(all, nb, b);                              \
        const int64_t nt = sf_wg_cut(all, nb, b + 1) - t0;                                          \
        const int64_t vs = SF_WG_TB * g->C, ms = SF_WG_TB * g->O;                                   \
        T *vb = slot, *mb = slot + 36 * vs;                                                         \
        sf_wg_in_##NAME(g, x, t0, nt, vb, vs);                                                      \
        const int64_t nv = g->O / L;                                                                \
        for (int64_t v0 = 0; v0 < nv; v0 += 4)                                                      \
            sf_wg_mm_pick_##NAME(nv - v0 < 4 ? nv - v0 : 4, nt)(vb, u, mb, g->C, g->O, vs, ms, v0 * L); \
        return sf_wg_out_##NAME(g, mb, ms, t0, nt, y);                                              \
    }                                                                                               \
                                                                                                    \
    /* y [N, OH, OW, O] = the conv of images src [N, H, W, C] (u: the transformed filter); an    \
     * image with a non-finite result runs again on the implicit-GEMM kernel (ig, filter w);      \
     * then the epilogue per image */                                                               \
    static void sf_wg_conv_##NAME(const sf_wg *g, const sf_ig *ig, int64_t N, const T *src,         \
                                  const T *u, const T *w, T *y, T *scratch, int64_t slots,          \
                                  const sf_conv_epi *e)                                             \
    {                                                                                               \
        const int64_t pimg = ig->Hp * ig->Wp * g->C, slot = sf_wg_slot(g, pimg);                    \
        const int64_t simg = g->H * g->W * g->C, P = g->OH * g->OW, nt = g->TH * g->TW;             \
        const int64_t nb = sf_ig_blocks(nt, SF_WG_TB);                                              \
        const double work = (double)N * P * g->O * 25 * g->C;                                       \
        const int64_t th = omp_get_max_threads();                                                   \
        const int par = th > 1 && work >= SF_PARALLEL_MIN && !omp_in_parallel();                    \
        const int nth = par ? (int)(th < slots ? th : slots) : 1;                                   \
        if (nth > 1 && N < nth) { /* few images: one at a time, its blocks over the threads */      \
            for (int64_t n = 0; n < N; n++) {                                                       \
                const T *xn = src + n * simg;                                                       \
                T *yn = y + n * P * g->O;                                                           \
                int bad = 0;                                                                        \
                _Pragma("omp parallel for num_threads(nth) schedule(static) reduction(|:bad)")     \
                for (int64_t b = 0; b < nb; b++) {                                                  \
                    T *s = scratch + omp_get_thread_num() * slot;                                   \
                    bad |= sf_wg_block_##NAME(g, xn, u, yn, s, b, nb);                                  \
                }                                                                                   \
                if (bad) {                                                                          \
                    T *xp = scratch + slot - pimg;                                                  \
                    sf_ig_pad_##NAME(xn, g->H, g->W, g->C, xp, ig->Hp, ig->Wp, g->top, g->left);    \
                    _Pragma("omp parallel for num_threads(nth) schedule(static)")                  \
                    for (int64_t oh = 0; oh < g->OH; oh++) sf_ig_row_##NAME(ig, xp, w, yn, oh);     \
                }                                                                                   \
            }                                                                                       \
            if (e) sf_conv_finish_##NAME(e, y, 0, N, P, g->O, 1);                                   \
            return;                                                                                 \
        }                                                                                           \
        _Pragma("omp parallel num_threads(nth) if(nth > 1)")                                       \
        {                                                                                           \
            T *s = scratch + omp_get_thread_num() * slot;                                           \
            _Pragma("omp for schedule(dynamic, 1)")                                                \
            for (int64_t n = 0; n < N; n++) {                                                       \
                const T *xn = src + n * simg;                                                       \
                T *yn = y + n * P * g->O;                                                           \
                int bad = 0;                                                                        \
                for (int64_t b = 0; b < nb; b++)                                                    \
                    bad |= sf_wg_block_##NAME(g, xn, u, yn, s, b, nb);                                  \
                if (bad) {                                                                          \
                    T *xp = s + slot - pimg;                                                        \
                    sf_ig_pad_##NAME(xn, g->H, g->W, g->C, xp, ig->Hp, ig->Wp, g->top, g->left);    \
                    for (int64_t oh = 0; oh < g->OH; oh++) sf_ig_row_##NAME(ig, xp, w, yn, oh);     \
                }                                                                                   \
                if (e) sf_conv_finish_##NAME(e, y, n, 1, P, g->O, 0);                               \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* a stride-1, undilated 5x5 conv whose channel counts fill vectors */                         \
    static int sf_wg_check_##NAME(sf_call *c, const sf_geo *g, const char *name)                    \
    {                                                                                               \
        int st = sf_ig_check_##NAME(c, g, g->O, name);                                              \
        if (st || (st = sf_ig_check_##NAME(c, g, g->C, name))) return st;                           \
        if (g->KH != 5 || g->KW != 5 || g->sh != 1 || g->sw != 1 || g->dh != 1 || g->dw != 1)     \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                              \
                           "%s: needs a 5x5 filter, strides 1 and dilations 1", name);             \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    static int sf_wg_scratch_fail_##NAME(sf_call *c, int64_t need, const char *name)                \
    {                                                                                               \
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: the scratch must hold %lld elements", name, \
                       (long long)need);                                                            \
    }                                                                                               \
                                                                                                    \
    static int sf_conv2d_winograd_run_##NAME(sf_call *c, int fused, const char *name)               \
    {                                                                                               \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, 0, 1, -1, 0);                                    \
        if (st || (st = sf_wg_check_##NAME(c, &g, name))) return st;                                \
        sf_conv_epi e;                                                                              \
        memset(&e, 0, sizeof e);                                                                    \
        if (fused && (st = sf_conv_epi_of(c, &e, &c->out[0], CODE, name))) return st;               \
        sf_ig ig;                                                                                   \
        sf_ig_of_##NAME(&ig, &g);                                                                   \
        sf_wg wg;                                                                                   \
        sf_wg_of(&wg, g.H, g.W, g.C, g.OH, g.OW, g.O, g.pt, g.pl);                                  \
        const int64_t U = 36 * g.C * g.O, slot = sf_wg_slot(&wg, ig.Hp * ig.Wp * g.C);              \
        const int64_t slots = (sf_numel(&c->in[2]) - U) / slot;                                     \
        if (slots < 1) return sf_wg_scratch_fail_##NAME(c, U + slot, name);                         \
        if (g.N * g.OH * g.OW * g.O == 0) return SF_OK;                                             \
        const T *w = (const T *)c->in[1].data;                                                      \
        T *u = (T *)c->in[2].data;                                                                  \
        const int par = omp_get_max_threads() > 1 && !omp_in_parallel() && g.C * g.O >= 256;       \
        sf_wg_filter_##NAME(w, 5 * g.C * g.O, g.C * g.O, g.O, 1, g.C, g.O, u, par);                  \
        sf_wg_conv_##NAME(&wg, &ig, g.N, (const T *)c->in[0].data, u, w, (T *)c->out[0].data, u + U, \
                          slots, fused ? &e : NULL);                                                \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_conv2d_winograd_##NAME(sf_call *c)                                                   \
    {                                                                                               \
        return sf_conv2d_winograd_run_##NAME(c, 0, "conv2d_winograd_" #NAME);                       \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_fused_conv2d_winograd_##NAME(sf_call *c)                                             \
    {                                                                                               \
        return sf_conv2d_winograd_run_##NAME(c, 1, "fused_conv2d_winograd_" #NAME);                 \
    }                                                                                               \
                                                                                                    \
    /* in[0] filter, in[1] dy, in[2] scratch -> out[0] dx */                                       \
    int sf_cpu_conv2d_backprop_input_winograd_##NAME(sf_call *c)                                    \
    {                                                                                               \
        const char *name = "conv2d_backprop_input_winograd_" #NAME;                                \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, -1, 0, 1, 1);                                    \
        if (st || (st = sf_wg_check_##NAME(c, &g, name))) return st;                                \
        const int64_t top = 4 - g.pt, left = 4 - g.pl;                                              \
        if (top < 0 || left < 0)                                                                    \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: needs padding of at most 4", name);     \
        /* the flipped conv: input dy [OH, OW, O], filter wf [5, 5, O, C], output [H, W, C] */     \
        sf_ig ig = {g.N, g.H + 4, g.W + 4, g.O, 5, 5, g.C, g.H, g.W, 1, 1, 1, 1};                   \
        sf_wg wg;                                                                                   \
        sf_wg_of(&wg, g.OH, g.OW, g.O, g.H, g.W, g.C, top, left);                                   \
        const int64_t U = 36 * g.C * g.O, K = 25 * g.C * g.O;                                       \
        const int64_t slot = sf_wg_slot(&wg, ig.Hp * ig.Wp * g.O);                                  \
        const int64_t slots = (sf_numel(&c->in[2]) - U - K) / slot;                                 \
        if (slots < 1) return sf_wg_scratch_fail_##NAME(c, U + K + slot, name);                     \
        if (g.N * g.H * g.W * g.C == 0) return SF_OK;                                               \
        const T *w = (const T *)c->in[0].data;                                                      \
        T *u = (T *)c->in[2].data, *wf = u + U;                                                     \
        sf_flip_filter_##NAME(w, 5, 5, g.C, g.O, wf);                                               \
        const int par = omp_get_max_threads() > 1 && !omp_in_parallel() && g.C * g.O >= 256;       \
        sf_wg_filter_##NAME(wf, 5 * g.C * g.O, g.C * g.O, g.C, 1, g.O, g.C, u, par);                 \
        sf_wg_conv_##NAME(&wg, &ig, g.N, (const T *)c->in[1].data, u, wf, (T *)c->out[0].data,      \
                          wf + K, slots, NULL);                                                     \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* zb[xi][t][o] = (A e A^T)[xi] of dy's 2x2 blocks for tiles [t0, t0 + nt) (zeros outside) */  \
    static void sf_wg_dy_##NAME(const sf_wg *g, const T *restrict dy, int64_t t0, int64_t nt,       \
                                T *restrict zb, int64_t zs)                                         \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t O = g->O;                                                                     \
        const V two = (V){0} + (T)2;                                                                \
        for (int64_t t = 0; t < nt; t++) {                                                          \
            const int64_t ty = (t0 + t) / g->TW, tx = (t0 + t) % g->TW;                             \
            const int64_t oh = 2 * ty, ow = 2 * tx;                                                 \
            const int right = ow + 1 < g->OW, down = oh + 1 < g->OH;                                \
            for (int64_t ov = 0; ov < O; ov += L) {                                                 \
                const T *e = dy + (oh * g->OW + ow) * O + ov;                                       \
                const V e00 = *(const V *)e, e01 = right ? *(const V *)(e + O) : (V){0};            \
                const V e10 = down ? *(const V *)(e + g->OW * O) : (V){0};                          \
                const V e11 = down && right ? *(const V *)(e + (g->OW + 1) * O) : (V){0};           \
                /* rows: w_a = A e_a, then columns */                                               \
                const V w0[6] = {e00, e00 + e01, e00 - e01, e00 + two * e01, e00 - two * e01, e01}; \
                const V w1[6] = {e10, e10 + e11, e10 - e11, e10 + two * e11, e10 - two * e11, e11}; \
                T *z = zb + t * O + ov;                                                             \
                _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++) {                              \
                    const V a = w0[j], b = w1[j];                                                   \
                    *(V *)(z + j * zs) = a;                                                         \
                    *(V *)(z + (6 + j) * zs) = a + b;                                               \
                    *(V *)(z + (12 + j) * zs) = a - b;                                              \
                    *(V *)(z + (18 + j) * zs) = a + two * b;                                        \
                    *(V *)(z + (24 + j) * zs) = a - two * b;                                        \
                    *(V *)(z + (30 + j) * zs) = b;                                                  \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* in[0] x, in[1] dy, in[2] scratch -> out[0] dw */                                            \
    int sf_cpu_conv2d_backprop_filter_winograd_##NAME(sf_call *c)                                   \
    {                                                                                               \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const char *name = "conv2d_backprop_filter_winograd_" #NAME;                               \
        sf_geo g;                                                                                   \
        int st = sf_conv_check_##NAME(c, &g, name, 0, -1, 1, 0);                                    \
        if (st || (st = sf_wg_check_##NAME(c, &g, name))) return st;                                \
        sf_wg wg;                                                                                   \
        sf_wg_of(&wg, g.H, g.W, g.C, g.OH, g.OW, g.O, g.pt, g.pl);                                  \
        const int64_t M = 36 * g.C * g.O, K = 25 * g.C * g.O, P = g.OH * g.OW;                     \
        const int64_t parts = g.N < SF_WG_PARTS ? g.N : SF_WG_PARTS;                                \
        const int64_t slot = 36 * SF_WG_TBF * (g.C + g.O);                                          \
        const int64_t have = sf_numel(&c->in[2]) - parts * M;                                       \
        const int64_t slots = have >= slot ? have / slot : 0;                                       \
        if (parts && slots < 1) return sf_wg_scratch_fail_##NAME(c, parts * M + slot, name);        \
        T *dw = (T *)c->out[0].data;                                                                \
        if (K == 0) return SF_OK;                                                                   \
        if (g.N * P == 0) {                                                                         \
            memset(dw, 0, (size_t)K * sizeof(T));                                                   \
            return SF_OK;                                                                           \
        }                                                                                           \
        const T *x = (const T *)c->in[0].data, *dy = (const T *)c->in[1].data;                     \
        T *acc = (T *)c->in[2].data, *slot0 = acc + parts * M;                                      \
        const int64_t nt = wg.TH * wg.TW, nb = sf_ig_blocks(nt, SF_WG_TBF);                         \
        const int64_t vs = SF_WG_TBF * g.C, zs = SF_WG_TBF * g.O, nv = g.O / L;                     \
        const int64_t ncb = sf_ig_blocks(g.C, 7);                                                   \
        const double work = (double)g.N * P * K;                                                    \
        const int64_t th = omp_get_max_threads();                                                   \
        const int par = th > 1 && work >= SF_PARALLEL_MIN && !omp_in_parallel();                    \
        const int nth = par ? (int)(th < slots ? th : slots) : 1;                                   \
        int bad = 0;                                                                                \
        _Pragma("omp parallel num_threads(nth) if(nth > 1) reduction(|:bad)")                      \
        {                                                                                           \
            T *vb = slot0 + omp_get_thread_num() * slot, *zb = vb + 36 * vs;                        \
            /* partial sums over fixed blocks of images, each one thread's, in image order */     \
            _Pragma("omp for schedule(dynamic, 1)")                                                \
            for (int64_t p = 0; p < parts; p++) {                                                   \
                T *ap = acc + p * M;                                                                \
                memset(ap, 0, (size_t)M * sizeof(T));                                               \
                for (int64_t n = g.N * p / parts; n < g.N * (p + 1) / parts; n++) {                 \
                    const T *xn = x + n * g.H * g.W * g.C, *dn = dy + n * P * g.O;                  \
                    for (int64_t b = 0; b < nb; b++) {                                              \
                        const int64_t t0 = sf_wg_cut(nt, nb, b), cnt = sf_wg_cut(nt, nb, b + 1) - t0; \
                        sf_wg_in_##NAME(&wg, xn, t0, cnt, vb, vs);                                  \
                        sf_wg_dy_##NAME(&wg, dn, t0, cnt, zb, zs);                                  \
                        for (int64_t v0 = 0; v0 < nv; v0 += 4)                                      \
                            for (int64_t cb = 0; cb < ncb; cb++) {                                  \
                                const int64_t c0 = g.C * cb / ncb, c1 = g.C * (cb + 1) / ncb;       \
                                sf_wg_dw_pick_##NAME(nv - v0 < 4 ? nv - v0 : 4, c1 - c0)(           \
                                    vb, zb, ap, cnt, g.C, g.O, vs, zs, c0, v0 * L);                 \
                            }                                                                       \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
            /* dw = G^T (the parts' sum) G for each channel pair */                                 \
            _Pragma("omp for schedule(static)")                                                    \
            for (int64_t ci = 0; ci < g.C; ci++)                                                    \
                for (int64_t o = 0; o < g.O; o++) {                                                 \
                    double m[36], r[6][5];                                                          \
                    for (int xi = 0; xi < 36; xi++) {                                               \
                        double s = 0;                                                               \
                        for (int64_t p = 0; p < parts; p++) s += acc[p * M + (xi * g.C + ci) * g.O + o]; \
                        m[xi] = s;                                                                  \
                    }                                                                               \
                    for (int i = 0; i < 6; i++)                                                     \
                        for (int l = 0; l < 5; l++) {                                               \
                            double s = 0;                                                           \
                            for (int j = 0; j < 6; j++)                                             \
                                if (sf_wg_G[j][l] != 0) s += m[i * 6 + j] * sf_wg_G[j][l];          \
                            r[i][l] = s;                                                            \
                        }                                                                           \
                    for (int k = 0; k < 5; k++)                                                     \
                        for (int l = 0; l < 5; l++) {                                               \
                            double s = 0;                                                           \
                            for (int i = 0; i < 6; i++)                                             \
                                if (sf_wg_G[i][k] != 0) s += sf_wg_G[i][k] * r[i][l];               \
                            const T v = (T)s;                                                       \
                            dw[((k * 5 + l) * g.C + ci) * g.O + o] = v;                             \
                            bad |= v - v != 0; /* NaN and Inf */                                    \
                        }                                                                           \
                }                                                                                   \
        }                                                                                           \
        /* a non-finite gradient: the implicit-GEMM kernel's, whose NaN and Inf are im2col's */    \
        if (bad) return sf_cpu_conv2d_backprop_filter_igemm_##NAME(c);                              \
        return SF_OK;                                                                               \
    }

SF_DC_VECTOR_DTYPES(SF_DEFINE_WINOGRAD)

/* ---- pooling ------------------------------------------------------------ */

/* iattr = [kh, kw, sh, sw, pt, pl]; img [N, H, W, C], pooled [N, OH, OW, C]. */
static int sf_pool_geo(sf_call *c, sf_geo *g, const sf_tensor *img, const sf_tensor *pooled, int32_t code,
                       const char *name)
{
    int st;
    if ((st = sf_check4(c, img, code, name, "input"))) return st;
    if ((st = sf_check4(c, pooled, code, name, "pooled"))) return st;
    g->N = img->shape[0];
    g->H = img->shape[1];
    g->W = img->shape[2];
    g->C = img->shape[3];
    g->OH = pooled->shape[1];
    g->OW = pooled->shape[2];
    g->KH = c->iattr[SF_POOL_KSIZE_H];
    g->KW = c->iattr[SF_POOL_KSIZE_W];
    g->sh = c->iattr[SF_POOL_STRIDE_H];
    g->sw = c->iattr[SF_POOL_STRIDE_W];
    g->pt = c->iattr[SF_POOL_PAD_TOP];
    g->pl = c->iattr[SF_POOL_PAD_LEFT];
    g->dh = g->dw = 1;
    g->O = g->C;
    if (pooled->shape[0] != g->N || pooled->shape[3] != g->C)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: input and pooled batch or depth differ", name);
    if (g->KH < 1 || g->KW < 1 || g->sh < 1 || g->sw < 1 || g->pt < 0 || g->pl < 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: bad ksize, strides or padding", name);
    return SF_OK;
}


#define SF_DEFINE_POOL(NAME, CODE, T, GEMM)                                                          \
    int sf_cpu_max_pool_##NAME(sf_call *c)                                                          \
    {                                                                                               \
        sf_geo g;                                                                                   \
        if (c->n_in < 1 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "max_pool takes 1 input and 1 output");      \
        int st = sf_pool_geo(c, &g, &c->in[0], &c->out[0], CODE, "max_pool_" #NAME);                \
        if (st) return st;                                                                          \
        const T *x = (const T *)c->in[0].data;                                                      \
        T *y = (T *)c->out[0].data;                                                                 \
        const int64_t C = g.C, rows = g.N * g.OH;                                                   \
        const int par = (double)rows * g.OW * C * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;       \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const int64_t n = r / g.OH, oh = r % g.OH;                                              \
            const T *img = x + n * g.H * g.W * C;                                                   \
            for (int64_t ow = 0; ow < g.OW; ow++) {                                                 \
                T *o = y + (r * g.OW + ow) * C;                                                     \
                SF_WINDOW(g, oh, ow)                                                                \
                for (int64_t ch = 0; ch < C; ch++) o[ch] = SF_LOWEST_##NAME;                        \
                for (int64_t ih = h0; ih < h1; ih++)                                                \
                    for (int64_t iw = w0; iw < w1; iw++) {                                          \
                        const T *in = img + (ih * g.W + iw) * C;                                    \
                        for (int64_t ch = 0; ch < C; ch++) o[ch] = in[ch] > o[ch] ? in[ch] : o[ch]; \
                    }                                                                               \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* flat index (ih * W + iw) of the first element of window (oh, ow), channel ch, that      \
     * equals the window's max_pool value (NaN ignored, the lowest finite value to start, as     \
     * max_pool); -1 if none does (a window of NaN and -inf). TensorFlow's MaxPoolGradGrad      \
     * searches the window for its orig_output value this way. */                                \
    static inline int64_t sf_argmax_##NAME(const sf_geo *g, const T *img, int64_t oh, int64_t ow,   \
                                           int64_t ch)                                              \
    {                                                                                               \
        SF_WINDOW(*g, oh, ow)                                                                       \
        int64_t best = -1;                                                                          \
        T m = SF_LOWEST_##NAME;                                                                     \
        for (int64_t ih = h0; ih < h1; ih++)                                                        \
            for (int64_t iw = w0; iw < w1; iw++) {                                                  \
                const T v = img[(ih * g->W + iw) * g->C + ch];                                      \
                if (v > m) m = v;                                                                   \
            }                                                                                       \
        for (int64_t ih = h0; ih < h1 && best < 0; ih++)                                            \
            for (int64_t iw = w0; iw < w1; iw++)                                                    \
                if (img[(ih * g->W + iw) * g->C + ch] == m) {                                       \
                    best = ih * g->W + iw;                                                          \
                    break;                                                                          \
                }                                                                                   \
        return best;                                                                                \
    }                                                                                               \
                                                                                                    \
    /* in[0] orig input, in[1] grad [N, OH, OW, C] -> out[0] dx (each grad to its window's        \
     * first max, in row-major window order) */                                                     \
    /* max_pool_grad for windows that do not overlap (strides >= ksize): each pixel is in at  \
     * most one window, so each window's taps are written once, the first max getting the     \
     * gradient and the others 0, a vector of channels at a time; the image is zeroed first   \
     * only where the windows leave pixels out */                                              \
    static void sf_max_pool_grad_apart_##NAME(const sf_geo *g, const T *x, const T *gy, T *dx, int par) \
    {                                                                                               \
        typedef sf_vec_##NAME V;                                                                    \
        typedef SF_VI_##NAME VI;                                                                    \
        typedef SF_LI_##NAME LI;                                                                    \
        enum { L = SF_SIMD_BYTES / sizeof(T) };                                                     \
        const int64_t C = g->C, img_size = g->H * g->W * C;                                         \
        const int covered = g->pt == 0 && g->pl == 0 && g->sh == g->KH && g->sw == g->KW &&        \
                            g->OH * g->KH == g->H && g->OW * g->KW == g->W;                         \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t n = 0; n < g->N; n++) {                                                        \
            const T *img = x + n * img_size;                                                        \
            T *d = dx + n * img_size;                                                               \
            if (!covered) memset(d, 0, (size_t)img_size * sizeof(T));                               \
            for (int64_t oh = 0; oh < g->OH; oh++)                                                  \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                            \
                    const T *gr = gy + ((n * g->OH + oh) * g->OW + ow) * C;                         \
                    SF_WINDOW(*g, oh, ow)                                                           \
                    if (h0 >= h1 || w0 >= w1) continue;                                             \
                    const int64_t first = (h0 * g->W + w0) * C;                                     \
                    int64_t ch = 0;                                                                 \
                    for (; ch + L <= C; ch += L) {                                                  \
                        V m = *(const V *)(img + first + ch);                                       \
                        VI at = (VI){0} + (LI)first;                                                    \
                        for (int64_t ih = h0; ih < h1; ih++)                                        \
                            for (int64_t iw = w0; iw < w1; iw++) {                                  \
                                const int64_t off = (ih * g->W + iw) * C;                           \
                                const V v = *(const V *)(img + off + ch);                           \
                                const VI gt = (VI)(v > m);                                          \
                                m = (V)(((VI)v & gt) | ((VI)m & ~gt));                              \
                                at = (at & ~gt) | (((VI){0} + (LI)off) & gt);                           \
                            }                                                                       \
                        const V gv = *(const V *)(gr + ch);                                         \
                        for (int64_t ih = h0; ih < h1; ih++)                                        \
                            for (int64_t iw = w0; iw < w1; iw++) {                                  \
                                const int64_t off = (ih * g->W + iw) * C;                           \
                                const VI hit = (VI)(at == ((VI){0} + (LI)off));                         \
                                *(V *)(d + off + ch) = (V)((VI)gv & hit);                           \
                            }                                                                       \
                    }                                                                               \
                    for (; ch < C; ch++) {                                                          \
                        int64_t at = first + ch;                                                    \
                        T m = img[at];                                                              \
                        for (int64_t ih = h0; ih < h1; ih++)                                        \
                            for (int64_t iw = w0; iw < w1; iw++) {                                  \
                                const int64_t off = (ih * g->W + iw) * C + ch;                      \
                                if (img[off] > m) {                                                 \
                                    m = img[off];                                                   \
                                    at = off;                                                       \
                                }                                                                   \
                            }                                                                       \
                        for (int64_t ih = h0; ih < h1; ih++)                                        \
                            for (int64_t iw = w0; iw < w1; iw++) {                                  \
                                const int64_t off = (ih * g->W + iw) * C + ch;                      \
                                d[off] = off == at ? gr[ch] : (T)0;                                 \
                            }                                                                       \
                    }                                                                               \
                }                                                                               \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    int sf_cpu_max_pool_grad_##NAME(sf_call *c)                                                     \
    {                                                                                               \
        sf_geo g;                                                                                   \
        if (c->n_in < 2 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "max_pool_grad takes 2 inputs and 1 output"); \
        int st = sf_pool_geo(c, &g, &c->in[0], &c->in[1], CODE, "max_pool_grad_" #NAME);            \
        if (st) return st;                                                                          \
        if ((st = sf_check4(c, &c->out[0], CODE, "max_pool_grad_" #NAME, "output"))) return st;     \
        if ((st = sf_same4(c, &c->out[0], &c->in[0], "max_pool_grad_" #NAME, "output"))) return st; \
        const T *x = (const T *)c->in[0].data, *gy = (const T *)c->in[1].data;                      \
        T *dx = (T *)c->out[0].data;                                                                \
        const int64_t C = g.C, img_size = g.H * g.W * C;                                            \
        const int par = (double)g.N * g.OH * g.OW * C * g.KH * g.KW >= SF_PARALLEL_MIN && g.N > 1;  \
        if (g.sh >= g.KH && g.sw >= g.KW && img_size <= INT32_MAX) { /* lane indices fit 32 bits */ \
            sf_max_pool_grad_apart_##NAME(&g, x, gy, dx, par);                                      \
            return SF_OK;                                                                           \
        }                                                                                           \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t n = 0; n < g.N; n++) {                                                         \
            const T *img = x + n * img_size;                                                        \
            T *d = dx + n * img_size;                                                               \
            memset(d, 0, (size_t)img_size * sizeof(T));                                             \
            for (int64_t oh = 0; oh < g.OH; oh++)                                                   \
                for (int64_t ow = 0; ow < g.OW; ow++) {                                             \
                    const T *gr = gy + ((n * g.OH + oh) * g.OW + ow) * C;                           \
                    SF_WINDOW(g, oh, ow)                                                            \
                    if (h0 >= h1 || w0 >= w1) continue;                                             \
                    /* each channel's first max: a scalar scan of the (small) window per        \
                     * channel beats vectorizing over channels, whose counts are often not a   \
                     * multiple of the vector width (LeNet's 6 and 16) */                       \
                    const int64_t first = (h0 * g.W + w0) * C;                                      \
                    for (int64_t ch = 0; ch < C; ch++) {                                            \
                        int64_t at = first + ch;                                                    \
                        T m = img[at];                                                              \
                        for (int64_t ih = h0; ih < h1; ih++)                                        \
                            for (int64_t iw = w0; iw < w1; iw++) {                                  \
                                const int64_t off = (ih * g.W + iw) * C + ch;                       \
                                if (img[off] > m) {                                                 \
                                    m = img[off];                                                   \
                                    at = off;                                                       \
                                }                                                                   \
                            }                                                                       \
                        d[at] += gr[ch];                                                            \
                    }                                                                               \
                }                                                                                   \
        }                                                                                           \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* in[0] orig input, in[1] g [N, H, W, C] -> out[0] [N, OH, OW, C] = g at each window's      \
     * first max (the gradient of max_pool_grad w.r.t. its grad) */                                 \
    int sf_cpu_max_pool_grad_grad_##NAME(sf_call *c)                                                \
    {                                                                                               \
        sf_geo g;                                                                                   \
        if (c->n_in < 2 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                              \
                           "max_pool_grad_grad takes 2 inputs and 1 output");                       \
        int st = sf_pool_geo(c, &g, &c->in[0], &c->out[0], CODE, "max_pool_grad_grad_" #NAME);      \
        if (st) return st;                                                                          \
        if ((st = sf_check4(c, &c->in[1], CODE, "max_pool_grad_grad_" #NAME, "grad"))) return st;   \
        if ((st = sf_same4(c, &c->in[1], &c->in[0], "max_pool_grad_grad_" #NAME, "grad"))) return st; \
        const T *x = (const T *)c->in[0].data, *gg = (const T *)c->in[1].data;                      \
        T *y = (T *)c->out[0].data;                                                                 \
        const int64_t C = g.C, rows = g.N * g.OH, img_size = g.H * g.W * C;                         \
        const int par = (double)rows * g.OW * C * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;       \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const int64_t n = r / g.OH, oh = r % g.OH;                                              \
            for (int64_t ow = 0; ow < g.OW; ow++) {                                                 \
                T *o = y + (r * g.OW + ow) * C;                                                     \
                for (int64_t ch = 0; ch < C; ch++) {                                                \
                    const int64_t b = sf_argmax_##NAME(&g, x + n * img_size, oh, ow, ch);           \
                    o[ch] = b >= 0 ? gg[n * img_size + b * C + ch] : (T)0;                          \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* mean over the window's pixels inside the image (padding is not counted, as TF) */            \
    int sf_cpu_avg_pool_##NAME(sf_call *c)                                                          \
    {                                                                                               \
        sf_geo g;                                                                                   \
        if (c->n_in < 1 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "avg_pool takes 1 input and 1 output");      \
        int st = sf_pool_geo(c, &g, &c->in[0], &c->out[0], CODE, "avg_pool_" #NAME);                \
        if (st) return st;                                                                          \
        const T *x = (const T *)c->in[0].data;                                                      \
        T *y = (T *)c->out[0].data;                                                                 \
        const int64_t C = g.C, rows = g.N * g.OH;                                                   \
        const int par = (double)rows * g.OW * C * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;       \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const int64_t n = r / g.OH, oh = r % g.OH;                                              \
            const T *img = x + n * g.H * g.W * C;                                                   \
            for (int64_t ow = 0; ow < g.OW; ow++) {                                                 \
                T *o = y + (r * g.OW + ow) * C;                                                     \
                SF_WINDOW(g, oh, ow)                                                                \
                for (int64_t ch = 0; ch < C; ch++) o[ch] = 0;                                       \
                for (int64_t ih = h0; ih < h1; ih++)                                                \
                    for (int64_t iw = w0; iw < w1; iw++) {                                          \
                        const T *in = img + (ih * g.W + iw) * C;                                    \
                        for (int64_t ch = 0; ch < C; ch++) o[ch] += in[ch];                         \
                    }                                                                               \
                const int64_t cnt = (h1 - h0) * (w1 - w0);                                          \
                const T inv = cnt > 0 ? (T)1 / (T)cnt : (T)0;                                       \
                for (int64_t ch = 0; ch < C; ch++) o[ch] *= inv;                                    \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }                                                                                               \
                                                                                                    \
    /* in[0] grad [N, OH, OW, C] -> out[0] dx [N, H, W, C] (a gather over covering windows) */     \
    int sf_cpu_avg_pool_grad_##NAME(sf_call *c)                                                     \
    {                                                                                               \
        sf_geo g;                                                                                   \
        if (c->n_in < 1 || c->n_out < 1)                                                            \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "avg_pool_grad takes 1 input and 1 output"); \
        int st = sf_pool_geo(c, &g, &c->out[0], &c->in[0], CODE, "avg_pool_grad_" #NAME);           \
        if (st) return st;                                                                          \
        const T *gy = (const T *)c->in[0].data;                                                     \
        T *dx = (T *)c->out[0].data;                                                                \
        const int64_t C = g.C, rows = g.N * g.H;                                                    \
        const int par = (double)rows * g.W * C * g.KH * g.KW >= SF_PARALLEL_MIN && rows > 1;        \
        _Pragma("omp parallel for schedule(static) if(par)")                                       \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const int64_t n = r / g.H, ih = r % g.H;                                                \
            /* outputs oh whose window [oh*sh - pt, + KH) holds ih */                               \
            int64_t oh0 = ih + g.pt - g.KH + 1, oh1 = (ih + g.pt) / g.sh;                           \
            oh0 = oh0 <= 0 ? 0 : (oh0 + g.sh - 1) / g.sh;                                           \
            if (oh1 >= g.OH) oh1 = g.OH - 1;                                                        \
            for (int64_t iw = 0; iw < g.W; iw++) {                                                  \
                T *o = dx + (r * g.W + iw) * C;                                                     \
                for (int64_t ch = 0; ch < C; ch++) o[ch] = 0;                                       \
                int64_t ow0 = iw + g.pl - g.KW + 1, ow1 = (iw + g.pl) / g.sw;                       \
                ow0 = ow0 <= 0 ? 0 : (ow0 + g.sw - 1) / g.sw;                                       \
                if (ow1 >= g.OW) ow1 = g.OW - 1;                                                    \
                for (int64_t oh = oh0; oh <= oh1; oh++)                                             \
                    for (int64_t ow = ow0; ow <= ow1; ow++) {                                       \
                        SF_WINDOW(g, oh, ow)                                                        \
                        const T inv = (T)1 / (T)((h1 - h0) * (w1 - w0));                            \
                        const T *gr = gy + ((n * g.OH + oh) * g.OW + ow) * C;                       \
                        for (int64_t ch = 0; ch < C; ch++) o[ch] += gr[ch] * inv;                   \
                    }                                                                               \
            }                                                                                       \
        }                                                                                           \
        return SF_OK;                                                                               \
    }

SF_CONV_DTYPES(SF_DEFINE_POOL)

/* ---- table -------------------------------------------------------------- */

#define SF_CONV_ENTRY(NAME, CODE, T, GEMM)                                                      \
    {"sf_cpu_conv2d_" #NAME, sf_cpu_conv2d_##NAME},                                             \
    {"sf_cpu_conv2d_backprop_input_" #NAME, sf_cpu_conv2d_backprop_input_##NAME},               \
    {"sf_cpu_conv2d_backprop_filter_" #NAME, sf_cpu_conv2d_backprop_filter_##NAME},             \
    {"sf_cpu_depthwise_conv2d_" #NAME, sf_cpu_depthwise_conv2d_##NAME},                         \
    {"sf_cpu_depthwise_conv2d_backprop_input_" #NAME, sf_cpu_depthwise_conv2d_backprop_input_##NAME}, \
    {"sf_cpu_depthwise_conv2d_backprop_filter_" #NAME,                                          \
     sf_cpu_depthwise_conv2d_backprop_filter_##NAME},                                           \
    {"sf_cpu_conv2d_direct_" #NAME, sf_cpu_conv2d_direct_##NAME},                               \
    {"sf_cpu_fused_conv2d_" #NAME, sf_cpu_fused_conv2d_##NAME},                                 \
    {"sf_cpu_fused_conv2d_direct_" #NAME, sf_cpu_fused_conv2d_direct_##NAME},                   \
    {"sf_cpu_conv2d_backprop_filter_direct_" #NAME, sf_cpu_conv2d_backprop_filter_direct_##NAME}, \
    {"sf_cpu_conv2d_igemm_" #NAME, sf_cpu_conv2d_igemm_##NAME},                                 \
    {"sf_cpu_fused_conv2d_igemm_" #NAME, sf_cpu_fused_conv2d_igemm_##NAME},                     \
    {"sf_cpu_conv2d_backprop_input_igemm_" #NAME, sf_cpu_conv2d_backprop_input_igemm_##NAME},   \
    {"sf_cpu_conv2d_backprop_filter_igemm_" #NAME, sf_cpu_conv2d_backprop_filter_igemm_##NAME}, \
    {"sf_cpu_conv2d_winograd_" #NAME, sf_cpu_conv2d_winograd_##NAME},                           \
    {"sf_cpu_fused_conv2d_winograd_" #NAME, sf_cpu_fused_conv2d_winograd_##NAME},               \
    {"sf_cpu_conv2d_backprop_input_winograd_" #NAME, sf_cpu_conv2d_backprop_input_winograd_##NAME}, \
    {"sf_cpu_conv2d_backprop_filter_winograd_" #NAME, sf_cpu_conv2d_backprop_filter_winograd_##NAME}, \
    {"sf_cpu_max_pool_" #NAME, sf_cpu_max_pool_##NAME},                                         \
    {"sf_cpu_max_pool_grad_" #NAME, sf_cpu_max_pool_grad_##NAME},                               \
    {"sf_cpu_max_pool_grad_grad_" #NAME, sf_cpu_max_pool_grad_grad_##NAME},                     \
    {"sf_cpu_avg_pool_" #NAME, sf_cpu_avg_pool_##NAME},                                         \
    {"sf_cpu_avg_pool_grad_" #NAME, sf_cpu_avg_pool_grad_##NAME},

static const sf_kernel_entry sf_conv_table[] = {SF_CONV_DTYPES(SF_CONV_ENTRY)};

int64_t sf_cpu_conv_entries(const sf_kernel_entry **out)
{
    *out = sf_conv_table;
    return (int64_t)(sizeof sf_conv_table / sizeof sf_conv_table[0]);
}
