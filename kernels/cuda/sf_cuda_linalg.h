/* The matrix products and convolutions of linalg.cu as plain C: each call's
 * checks and plan (how cuBLAS or cuDNN sees the operands, which must be packed,
 * padded or transposed first) and the sequence of steps that runs a plan
 * through a table of operations. linalg.cu's table launches kernels and calls
 * cuBLAS/cuDNN; the CPU driver of the tests (tests/cuda/bodies_driver.c) runs
 * the same plans and sequences with loops that do what cuBLAS and cuDNN are
 * documented to do, so the plans are checked against the C kernels without a
 * GPU. Host code, except the SF_HD element bodies. */
#ifndef SF_CUDA_LINALG_H
#define SF_CUDA_LINALG_H

#include "sf_cuda_bodies.h"
#include "sf_cuda_ew.h"
#include "sf_cuda_pool.h" /* sf_nhwc_check4; the fused conv's pooling */

/* cuBLAS's operations (cublasOperation_t) */
#define SF_GM_OP_N 0
#define SF_GM_OP_T 1

/* ===========================================================================
 * matmul: out [batch..., M, N] = op(a) op(b), cuBLAS's column-major GEMM
 * ======================================================================== */

/* An operand as cuBLAS sees it: logical [R, C] (after op), element (i, j) at
 * i * sr + j * sc of its batch element. op/ld: how cuBLAS reads it in place,
 * or pack: copied first into a dense column-major [R, C] (ld = R). */
typedef struct sf_gm_operand {
    int64_t R, C, sr, sc;
    int op, pack;
    int64_t ld;
    int64_t bst[SF_MAX_DIMS]; /* batch strides */
    int64_t lin;              /* the single batch stride when the batch is linear, else -1 */
} sf_gm_operand;

typedef struct sf_gm_plan {
    int nb;
    int64_t batch, M, N, K;
    int64_t bshape[SF_MAX_DIMS];
    /* cuBLAS's m, n, k and operands: X [m, k] (in[xin]), Y [k, n] (in[1 - xin]), Z [m, n] (out) */
    int64_t m, n, k;
    int xin;
    sf_gm_operand X, Y, Z;
    /* the product's own geometry (the integer kernels): strides of op(a) [M, K], op(b) [K, N], out */
    int64_t am, ak, bk, bn, om, on;
    int64_t abs_[SF_MAX_DIMS], bbs[SF_MAX_DIMS], obs[SF_MAX_DIMS];
} sf_gm_plan;

/* Batch element t's offset in an operand with batch strides bst. */
SF_HD static inline int64_t sf_gm_boff(const sf_gm_plan *p, const int64_t *bst, int64_t t)
{
    int64_t off = 0;
    for (int d = p->nb - 1; d >= 0; d--) {
        const int64_t n = p->bshape[d];
        off += (t % n) * bst[d];
        t /= n;
    }
    return off;
}

/* How cuBLAS reads a logical column-major [R, C] with strides (sr, sc) in place. */
static inline void sf_gm_layout(sf_gm_operand *o)
{
    const int64_t R1 = o->R > 1 ? o->R : 1, C1 = o->C > 1 ? o->C : 1;
    /* as stored: column-major [R, C], ld = sc (strides of size-1 dims do not matter) */
    int64_t sr = o->R <= 1 ? 1 : o->sr, sc = o->C <= 1 ? R1 : o->sc;
    o->pack = 0;
    if (sr == 1 && sc >= R1) {
        o->op = SF_GM_OP_N;
        o->ld = sc;
        return;
    }
    /* transposed: stored column-major [C, R], ld = sr */
    sc = o->C <= 1 ? 1 : o->sc;
    sr = o->R <= 1 ? C1 : o->sr;
    if (sc == 1 && sr >= C1) {
        o->op = SF_GM_OP_T;
        o->ld = sr;
        return;
    }
    o->pack = 1;
    o->op = SF_GM_OP_N;
    o->ld = R1;
}

/* The batch stride of an operand whose batch offsets are t * lin, or -1. */
static inline int64_t sf_gm_linear(const sf_gm_plan *p, const int64_t *bst)
{
    int64_t lin = -1, expect = 0;
    for (int d = p->nb - 1; d >= 0; d--) {
        const int64_t n = p->bshape[d];
        if (n == 1) continue;
        if (lin < 0) {
            lin = bst[d];
            expect = bst[d] * n;
        } else {
            if (bst[d] != expect) return -1;
            expect *= n;
        }
    }
    return lin < 0 ? 0 : lin;
}

static inline int sf_gm_fits_int(int64_t x) { return x >= 0 && x <= 2147483647; }

/* Checks a matmul call (the messages of linalg.c's) and plans it. */
static inline int sf_gm_plan_make(sf_call *c, sf_gm_plan *p, int32_t code, const char *name)
{
    memset(p, 0, sizeof *p);
    if (c->n_in < 2 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 2 inputs and 1 output, got %d and %d", name, (int)c->n_in,
                 (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *a = &c->in[0], *b = &c->in[1], *o = &c->out[0];
    if (a->dtype != code || b->dtype != code || o->dtype != code) {
        snprintf(c->msg, SF_MSG_LEN, "%s got %s, %s -> %s", name, sf_cu_dtype_name(a->dtype),
                 sf_cu_dtype_name(b->dtype), sf_cu_dtype_name(o->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int nd = o->ndim;
    if (nd < 2 || nd > SF_MAX_DIMS || a->ndim != nd || b->ndim != nd) {
        snprintf(c->msg, SF_MSG_LEN, "%s needs a, b and out of the same rank >= 2, got %d, %d and %d dims", name,
                 (int)a->ndim, (int)b->ndim, (int)nd);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int ta = c->iattr[SF_MATMUL_TRANSPOSE_A] != 0, tb = c->iattr[SF_MATMUL_TRANSPOSE_B] != 0;
    const int64_t ar = a->shape[nd - 2], ac = a->shape[nd - 1], br = b->shape[nd - 2], bc = b->shape[nd - 1];
    p->M = o->shape[nd - 2];
    p->N = o->shape[nd - 1];
    p->K = ta ? ar : ac;
    const int64_t aM = ta ? ac : ar, bK = tb ? bc : br, bN = tb ? br : bc;
    if (aM != p->M || bK != p->K || bN != p->N || p->M < 0 || p->N < 0 || p->K < 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s: a [%lld, %lld]%s times b [%lld, %lld]%s does not give out [%lld, %lld]",
                 name, (long long)ar, (long long)ac, ta ? "^T" : "", (long long)br, (long long)bc, tb ? "^T" : "",
                 (long long)p->M, (long long)p->N);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t asr = a->strides[nd - 2], asc = a->strides[nd - 1];
    const int64_t bsr = b->strides[nd - 2], bsc = b->strides[nd - 1];
    p->am = ta ? asc : asr;
    p->ak = ta ? asr : asc;
    p->bk = tb ? bsc : bsr;
    p->bn = tb ? bsr : bsc;
    p->om = o->strides[nd - 2];
    p->on = o->strides[nd - 1];
    p->nb = nd - 2;
    p->batch = 1;
    for (int d = 0; d < p->nb; d++) {
        const int64_t n = o->shape[d];
        if (n < 0 || (a->shape[d] != n && a->shape[d] != 1) || (b->shape[d] != n && b->shape[d] != 1)) {
            snprintf(c->msg, SF_MSG_LEN, "%s: batch dim %d of a (%lld) or b (%lld) does not broadcast to out's %lld",
                     name, d, (long long)a->shape[d], (long long)b->shape[d], (long long)n);
            return SF_ERR_INVALID_ARGUMENT;
        }
        p->bshape[d] = n;
        p->abs_[d] = a->shape[d] == n ? a->strides[d] : 0;
        p->bbs[d] = b->shape[d] == n ? b->strides[d] : 0;
        p->obs[d] = o->strides[d];
        p->batch *= n;
    }
    /* cuBLAS computes Z = X Y column-major. out read column-major in place: X = op(a),
     * Y = op(b); else out^T (row-major out in place, or packed): X = op(b)^T, Y = op(a)^T */
    sf_gm_operand z = {p->M, p->N, p->om, p->on, 0, 0, 0, {0}, 0};
    sf_gm_layout(&z);
    const int direct = !z.pack && z.op == SF_GM_OP_N;
    const sf_gm_operand opa = {p->M, p->K, p->am, p->ak, 0, 0, 0, {0}, 0};
    const sf_gm_operand opb = {p->K, p->N, p->bk, p->bn, 0, 0, 0, {0}, 0};
    if (direct) {
        p->m = p->M, p->n = p->N, p->xin = 0;
        p->X = opa, p->Y = opb, p->Z = z;
        memcpy(p->X.bst, p->abs_, sizeof p->abs_);
        memcpy(p->Y.bst, p->bbs, sizeof p->bbs);
    } else {
        p->m = p->N, p->n = p->M, p->xin = 1;
        p->X = (sf_gm_operand){p->N, p->K, p->bn, p->bk, 0, 0, 0, {0}, 0};
        p->Y = (sf_gm_operand){p->K, p->M, p->ak, p->am, 0, 0, 0, {0}, 0};
        p->Z = (sf_gm_operand){p->N, p->M, p->on, p->om, 0, 0, 0, {0}, 0};
        memcpy(p->X.bst, p->bbs, sizeof p->bbs);
        memcpy(p->Y.bst, p->abs_, sizeof p->abs_);
    }
    memcpy(p->Z.bst, p->obs, sizeof p->obs);
    p->k = p->K;
    sf_gm_layout(&p->X);
    sf_gm_layout(&p->Y);
    sf_gm_layout(&p->Z);
    if (p->Z.op != SF_GM_OP_N) p->Z.pack = 1, p->Z.op = SF_GM_OP_N, p->Z.ld = p->m > 1 ? p->m : 1;
    sf_gm_operand *ops[3] = {&p->X, &p->Y, &p->Z};
    for (int i = 0; i < 3; i++)
        ops[i]->lin = ops[i]->pack ? ops[i]->R * ops[i]->C : sf_gm_linear(p, ops[i]->bst);
    if (!sf_gm_fits_int(p->m) || !sf_gm_fits_int(p->n) || !sf_gm_fits_int(p->k) || !sf_gm_fits_int(p->X.ld) ||
        !sf_gm_fits_int(p->Y.ld) || !sf_gm_fits_int(p->Z.ld) || !sf_gm_fits_int(p->batch)) {
        snprintf(c->msg, SF_MSG_LEN, "%s: sizes exceed cuBLAS's 32-bit limits", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

/* Element e of a packed operand (dense column-major [R, C] per batch element)
 * and its place in the operand's view: returns the view's offset, *dense the
 * dense index (= e). */
SF_HD static inline int64_t sf_gm_pack_off(const sf_gm_plan *p, const sf_gm_operand *o, int64_t e)
{
    const int64_t rc = o->R * o->C, t = e / rc, r = e % rc;
    return sf_gm_boff(p, o->bst, t) + (r % o->R) * o->sr + (r / o->R) * o->sc;
}

/* Integer products (no cuBLAS): element e of out [batch, M, N], wrapping like NumPy. */
#define SF_GM_INT(DT, T, UT)                                                                          \
    SF_HD static inline void sf_gm_int_elem_##DT(const sf_gm_plan *p, int64_t e, const T *a, const T *b, \
                                                 T *o)                                                \
    {                                                                                                 \
        const int64_t mn = p->M * p->N, t = e / mn, r = e % mn, i = r / p->N, j = r % p->N;           \
        const T *ar = a + sf_gm_boff(p, p->abs_, t) + i * p->am;                                      \
        const T *bc = b + sf_gm_boff(p, p->bbs, t) + j * p->bn;                                       \
        UT s = 0;                                                                                     \
        for (int64_t q = 0; q < p->K; q++) s += (UT)ar[q * p->ak] * (UT)bc[q * p->bk];                \
        o[sf_gm_boff(p, p->obs, t) + i * p->om + j * p->on] = (T)s;                                   \
    }
SF_GM_INT(int32, int32_t, uint32_t)
SF_GM_INT(int64, int64_t, uint64_t)

/* The steps of a float product. ctx is the caller's (it holds the call and the
 * stream); a step returns a status with the call's message set. */
typedef struct sf_gm_ops {
    void *(*alloc)(void *ctx, int64_t bytes); /* NULL: failed, message set */
    void (*release)(void *ctx, void *ptr);
    /* dense <-> view copies of operand o: to_dense 1 packs view -> dense, 0 unpacks */
    int (*pack)(void *ctx, const sf_gm_plan *p, const sf_gm_operand *o, int to_dense, void *view, void *dense);
    int (*zero)(void *ctx, const sf_gm_plan *p, void *out); /* out's view = 0 (K = 0) */
    /* count products: Z_t = X_t Y_t at x + t * sx ... (elements) */
    int (*gemm)(void *ctx, const sf_gm_plan *p, const void *x, int64_t sx, const void *y, int64_t sy, void *z,
                int64_t sz, int64_t count);
} sf_gm_ops;

static inline int sf_gm_run(sf_call *c, const sf_gm_plan *p, const sf_gm_ops *ops, void *ctx, int64_t esize)
{
    if (p->batch == 0 || p->M == 0 || p->N == 0) return SF_OK;
    if (p->K == 0) return ops->zero(ctx, p, c->out[0].data);
    char *view[3] = {(char *)c->in[p->xin].data, (char *)c->in[1 - p->xin].data, (char *)c->out[0].data};
    const sf_gm_operand *o[3] = {&p->X, &p->Y, &p->Z};
    char *use[3] = {view[0], view[1], view[2]};
    void *buf[3] = {NULL, NULL, NULL};
    int st = SF_OK;
    for (int i = 0; i < 3 && !st; i++) {
        if (!o[i]->pack) continue;
        buf[i] = ops->alloc(ctx, p->batch * o[i]->R * o[i]->C * esize);
        if (!buf[i]) st = SF_ERR_INTERNAL;
        else if (i < 2) st = ops->pack(ctx, p, o[i], 1, view[i], buf[i]);
        use[i] = (char *)buf[i];
    }
    if (!st) {
        if (o[0]->lin >= 0 && o[1]->lin >= 0 && o[2]->lin >= 0) {
            st = ops->gemm(ctx, p, use[0], o[0]->lin, use[1], o[1]->lin, use[2], o[2]->lin, p->batch);
        } else {
            for (int64_t t = 0; t < p->batch && !st; t++) {
                int64_t off[3];
                for (int i = 0; i < 3; i++)
                    off[i] = o[i]->pack ? t * o[i]->R * o[i]->C : sf_gm_boff(p, o[i]->bst, t);
                st = ops->gemm(ctx, p, use[0] + off[0] * esize, 0, use[1] + off[1] * esize, 0,
                               use[2] + off[2] * esize, 0, 1);
            }
        }
    }
    if (!st && o[2]->pack) st = ops->pack(ctx, p, o[2], 0, view[2], buf[2]);
    for (int i = 0; i < 3; i++)
        if (buf[i]) ops->release(ctx, buf[i]);
    return st;
}

/* ===========================================================================
 * conv2d and depthwise conv2d, forward and gradients, through cuDNN
 * ======================================================================== */

enum { SF_CV_FORWARD = 0, SF_CV_INPUT_GRAD = 1, SF_CV_FILTER_GRAD = 2 };

/* NHWC images and HWIO filters (as conv.c's); cuDNN gets the images as strided
 * NCHW tensors and the filter transposed to packed OIHW [O, I, KH, KW]
 * (depthwise: groups = C, I = 1, O = C * M, as the HWIO filter [KH, KW, 1, C*M]).
 * cuDNN pads both sides by the same amount: when pad_top/pad_left and the
 * output size do not fit that, the image is copied into a zero-padded
 * [N, Hp, Wp, C] (cuDNN padding 0) and, for the input gradient, cropped back. */
typedef struct sf_cv_plan {
    int kind, depthwise, dtype;
    int64_t N, H, W, C, O, I, KH, KW, OH, OW, sh, sw, dh, dw, pt, pl, groups;
    int padded;
    int64_t Hx, Wx; /* the image cuDNN sees: H, W or Hp, Wp */
    int64_t ph, pw; /* cuDNN's (symmetric) padding */
} sf_cv_plan;

/* Checks a conv call (conv.c's conditions and messages) and plans it. */
static inline int sf_cv_plan_make(sf_call *c, sf_cv_plan *p, int kind, int depthwise, int32_t code,
                                  const char *name)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->depthwise = depthwise;
    p->dtype = code;
    if (c->n_in < 2 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, depthwise ? "%s takes 2 inputs and 1 output" : "%s takes 2 or 3 inputs and 1 output",
                 name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    /* which tensor is the image, the filter and the conv result */
    const sf_tensor *img = kind == SF_CV_INPUT_GRAD ? &c->out[0] : &c->in[0];
    const sf_tensor *filt = kind == SF_CV_FORWARD ? &c->in[1] : kind == SF_CV_INPUT_GRAD ? &c->in[0] : &c->out[0];
    const sf_tensor *res = kind == SF_CV_FORWARD ? &c->out[0] : &c->in[1];
    /* labels by role: in[0], in[1], out[0] */
    const char *role[3] = {"image", "filter", kind == SF_CV_FORWARD ? "output" : "out_backprop"};
    const int r0 = kind == SF_CV_INPUT_GRAD ? 1 : 0, r1 = kind == SF_CV_FORWARD ? 1 : 2;
    const int r2 = kind == SF_CV_FORWARD ? 2 : kind == SF_CV_INPUT_GRAD ? 0 : 1;
    int st;
    if ((st = sf_nhwc_check4(c, &c->in[0], code, name, role[r0]))) return st;
    if ((st = sf_nhwc_check4(c, &c->in[1], code, name, role[r1]))) return st;
    if ((st = sf_nhwc_check4(c, &c->out[0], code, name, role[r2]))) return st;
    p->N = img->shape[0], p->H = img->shape[1], p->W = img->shape[2], p->C = img->shape[3];
    p->KH = filt->shape[0], p->KW = filt->shape[1];
    p->OH = res->shape[1], p->OW = res->shape[2];
    p->sh = c->iattr[SF_CONV_STRIDE_H], p->sw = c->iattr[SF_CONV_STRIDE_W];
    p->dh = c->iattr[SF_CONV_DILATION_H], p->dw = c->iattr[SF_CONV_DILATION_W];
    p->pt = c->iattr[SF_CONV_PAD_TOP], p->pl = c->iattr[SF_CONV_PAD_LEFT];
    if (filt->shape[2] != p->C || res->shape[0] != p->N) {
        snprintf(c->msg, SF_MSG_LEN, "%s: filter in_channels %lld vs input depth %lld, or batch %lld vs %lld", name,
                 (long long)filt->shape[2], (long long)p->C, (long long)res->shape[0], (long long)p->N);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->pt < 0 || p->pl < 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s: bad strides, dilations or padding", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (depthwise) {
        p->groups = p->C;
        p->I = 1;
        p->O = p->C * filt->shape[3];
        if (res->shape[3] != p->O) {
            snprintf(c->msg, SF_MSG_LEN, "%s: %s depth must be %lld", name,
                     kind == SF_CV_FORWARD ? "output" : "out_backprop", (long long)p->O);
            return SF_ERR_INVALID_ARGUMENT;
        }
    } else {
        p->groups = 1;
        p->I = p->C;
        p->O = filt->shape[3];
        if (res->shape[3] != p->O) {
            snprintf(c->msg, SF_MSG_LEN, "%s: output depth %lld, filter has %lld", name, (long long)res->shape[3],
                     (long long)p->O);
            return SF_ERR_INVALID_ARGUMENT;
        }
    }
    const int64_t eh = (p->KH - 1) * p->dh + 1, ew = (p->KW - 1) * p->dw + 1;
    /* cuDNN's output size with symmetric padding pt, pl */
    const int64_t nh = p->H + 2 * p->pt - eh, nw = p->W + 2 * p->pl - ew;
    const int64_t oh = nh < 0 ? 0 : nh / p->sh + 1, ow = nw < 0 ? 0 : nw / p->sw + 1;
    p->padded = oh != p->OH || ow != p->OW;
    p->Hx = p->padded ? (p->OH - 1) * p->sh + eh : p->H;
    p->Wx = p->padded ? (p->OW - 1) * p->sw + ew : p->W;
    p->ph = p->padded ? 0 : p->pt;
    p->pw = p->padded ? 0 : p->pl;
    const int64_t big[] = {p->N * p->Hx * p->Wx * p->C, p->N * p->OH * p->OW * p->O, p->O * p->I * p->KH * p->KW,
                           p->N * p->H * p->W * p->C};
    for (int i = 0; i < 4; i++)
        if (!sf_gm_fits_int(big[i])) {
            snprintf(c->msg, SF_MSG_LEN, "%s: sizes exceed cuDNN's 32-bit limits", name);
            return SF_ERR_INVALID_ARGUMENT;
        }
    return SF_OK;
}

/* Whether the call has no work: an empty output, or a zero output (nothing summed). */
static inline int sf_cv_empty(const sf_cv_plan *p)
{
    return p->N == 0 || p->C == 0 || p->O == 0 || p->OH == 0 || p->OW == 0 || p->KH == 0 || p->KW == 0 ||
           p->H == 0 || p->W == 0;
}

/* Element e of the OIHW filter [O, I, KH, KW]: its offset in the HWIO one. */
SF_HD static inline int64_t sf_cv_hwio_off(const sf_cv_plan *p, int64_t e)
{
    const int64_t kw = e % p->KW, r1 = e / p->KW, kh = r1 % p->KH, r2 = r1 / p->KH, i = r2 % p->I, o = r2 / p->I;
    return ((kh * p->KW + kw) * p->I + i) * p->O + o;
}

/* Element e of the padded image [N, Hx, Wx, C]: its offset in the image, or -1 (padding). */
SF_HD static inline int64_t sf_cv_pad_src(const sf_cv_plan *p, int64_t e)
{
    const int64_t ch = e % p->C, r1 = e / p->C, w = r1 % p->Wx - p->pl, r2 = r1 / p->Wx, h = r2 % p->Hx - p->pt,
                  n = r2 / p->Hx;
    if (h < 0 || h >= p->H || w < 0 || w >= p->W) return -1;
    return ((n * p->H + h) * p->W + w) * p->C + ch;
}

/* Element e of the image [N, H, W, C]: its offset in the padded one, or -1 (cut off). */
SF_HD static inline int64_t sf_cv_crop_src(const sf_cv_plan *p, int64_t e)
{
    const int64_t ch = e % p->C, r1 = e / p->C, w = r1 % p->W + p->pl, r2 = r1 / p->W, h = r2 % p->H + p->pt,
                  n = r2 / p->H;
    if (h >= p->Hx || w >= p->Wx) return -1;
    return ((n * p->Hx + h) * p->Wx + w) * p->C + ch;
}

typedef struct sf_cv_ops {
    void *(*alloc)(void *ctx, int64_t bytes);
    void (*release)(void *ctx, void *ptr);
    int (*zero)(void *ctx, const sf_cv_plan *p, void *out, int64_t n);
    /* to_oihw 1: HWIO hwio -> OIHW oihw; 0: back */
    int (*filter)(void *ctx, const sf_cv_plan *p, int to_oihw, void *hwio, void *oihw);
    /* to_padded 1: image -> padded; 0: padded -> image (cropped) */
    int (*pad)(void *ctx, const sf_cv_plan *p, int to_padded, void *img, void *padded);
    /* cuDNN: x [N, C, Hx, Wx] (NHWC strides), w OIHW, y [N, O, OH, OW] (NHWC strides) */
    int (*conv)(void *ctx, const sf_cv_plan *p, void *x, void *w, void *y);
} sf_cv_ops;

static inline int sf_cv_run(sf_call *c, const sf_cv_plan *p, const sf_cv_ops *ops, void *ctx, int64_t esize)
{
    const sf_tensor *o = &c->out[0];
    int64_t nout = 1;
    for (int d = 0; d < 4; d++) nout *= o->shape[d];
    if (nout == 0) return SF_OK;
    if (sf_cv_empty(p)) return ops->zero(ctx, p, o->data, nout);
    const int64_t nf = p->O * p->I * p->KH * p->KW, nx = p->N * p->Hx * p->Wx * p->C;
    void *wt = ops->alloc(ctx, nf * esize), *xp = NULL;
    int st = wt ? SF_OK : SF_ERR_INTERNAL;
    if (!st && p->padded) st = (xp = ops->alloc(ctx, nx * esize)) ? SF_OK : SF_ERR_INTERNAL;
    if (!st) switch (p->kind) {
        case SF_CV_FORWARD: /* in[0] image, in[1] filter */
            st = ops->filter(ctx, p, 1, c->in[1].data, wt);
            if (!st && xp) st = ops->pad(ctx, p, 1, c->in[0].data, xp);
            if (!st) st = ops->conv(ctx, p, xp ? xp : c->in[0].data, wt, o->data);
            break;
        case SF_CV_INPUT_GRAD: /* in[0] filter, in[1] dy */
            st = ops->filter(ctx, p, 1, c->in[0].data, wt);
            if (!st) st = ops->conv(ctx, p, xp ? xp : o->data, wt, c->in[1].data);
            if (!st && xp) st = ops->pad(ctx, p, 0, o->data, xp);
            break;
        default: /* in[0] image, in[1] dy */
            if (xp) st = ops->pad(ctx, p, 1, c->in[0].data, xp);
            if (!st) st = ops->conv(ctx, p, xp ? xp : c->in[0].data, wt, c->in[1].data);
            if (!st) st = ops->filter(ctx, p, 0, o->data, wt);
            break;
        }
    if (xp) ops->release(ctx, xp);
    if (wt) ops->release(ctx, wt);
    return st;
}

/* X(NAME, KIND, DEPTHWISE): the conv kernels, float32 and float64 each */
#define SF_CV_KERNELS(X)                                                      \
    X(conv2d, SF_CV_FORWARD, 0)                                               \
    X(conv2d_backprop_input, SF_CV_INPUT_GRAD, 0)                             \
    X(conv2d_backprop_filter, SF_CV_FILTER_GRAD, 0)                           \
    X(depthwise_conv2d, SF_CV_FORWARD, 1)                                     \
    X(depthwise_conv2d_backprop_input, SF_CV_INPUT_GRAD, 1)                   \
    X(depthwise_conv2d_backprop_filter, SF_CV_FILTER_GRAD, 1)

#endif
