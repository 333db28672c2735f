/* The fused kernels of pattern fusion (kernels/cpu/fused.c, conv.c's
 * fused_conv2d) for nvcc and the CPU driver of the tests alike
 * (sf_cuda_launch.h): their checks and messages (the C kernels'), how cuBLAS
 * sees their products, the epilogue (bias + activation) and the activation
 * gradients, and the bias gradient's block tree. linalg.cu runs them with
 * cuBLAS, cuDNN and its kernels; tests/cuda/bodies_driver.c with loops that
 * compute what cuBLAS and cuDNN are documented to compute.
 *
 *   fused_matmul_<dt>          cuBLAS's GEMM into out (column-major out^T =
 *                              op(b)^T op(a)^T: both operands read in place),
 *                              then the epilogue kernel, one thread per element
 *   gemm_apply_gradient_descent_<dt>
 *                              var += (-lr) op(a) op(b) as one GEMM with beta = 1;
 *                              lr stays on the device (cuBLAS's device pointer mode)
 *   fused_conv2d_<dt>          conv2d's cuDNN plan (sf_cuda_linalg.h), the
 *                              epilogue kernel, then with a second output the
 *                              max pool kernel of sf_cuda_pool.h
 *   bias_activation_grad_<dt>  one pass: backprops = the activation gradient and
 *                              per-block column partials of them (see the tree
 *                              below), then one thread per column adds the
 *                              blocks' partials in order. No atomics: the sums'
 *                              bits depend on the sizes only. */
#ifndef SF_CUDA_FUSED_H
#define SF_CUDA_FUSED_H

#include "sf_cuda_launch.h"
#include "sf_cuda_linalg.h"

/* ---- checks (fused.c's conditions and messages) ---------------------------------- */

static inline int64_t sf_fu_numel(const sf_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static inline int sf_fu_contiguous(const sf_tensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != expect) return 0;
        expect *= t->shape[d];
    }
    return 1;
}

static inline int sf_fu_matrix(sf_call *c, const sf_tensor *t, int32_t code, const char *name, const char *what)
{
    if (t->dtype != code) {
        snprintf(c->msg, SF_MSG_LEN, "%s: %s is %s, expected %s", name, what, sf_cu_dtype_name(t->dtype),
                 sf_cu_dtype_name(code));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (t->ndim != 2 || (sf_fu_numel(t) > 0 && !sf_fu_contiguous(t))) {
        snprintf(c->msg, SF_MSG_LEN, "%s: %s must be a contiguous matrix (%d dims)", name, what, (int)t->ndim);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (t->shape[0] > INT32_MAX || t->shape[1] > INT32_MAX) {
        snprintf(c->msg, SF_MSG_LEN, "%s: %s exceeds the 32-bit BLAS limit", name, what);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

static inline int sf_fu_act_ok(sf_call *c, int64_t act, const char *name)
{
    if (act < SF_ACT_NONE || act > SF_ACT_TANH) {
        snprintf(c->msg, SF_MSG_LEN, "%s: unknown activation code %lld", name, (long long)act);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

/* cuBLAS's column-major GEMM for a row-major out [M, N] = op(a) op(b) (a [.., ..] with
 * row length lda, b with ldb): out read column-major is out^T = op(b)^T op(a)^T, and a
 * row-major matrix read column-major is its transpose, so X = b (op T when tb), Y = a
 * (op T when ta), both in place; m = N, n = M, ldz = N. */
typedef struct sf_fu_gemm {
    int opx, opy;
    int64_t m, n, k, ldx, ldy, ldz;
    int xin, yin; /* the inputs X and Y are */
} sf_fu_gemm;

/* Checks a product of contiguous matrices a = in[ai], b = in[bi] into [M, N] and plans it. */
static inline int sf_fu_product(sf_call *c, int ai, int bi, int64_t M, int64_t N, const char *name,
                                sf_fu_gemm *g)
{
    const sf_tensor *a = &c->in[ai], *b = &c->in[bi];
    const int ta = c->iattr[SF_MATMUL_TRANSPOSE_A] != 0, tb = c->iattr[SF_MATMUL_TRANSPOSE_B] != 0;
    const int64_t am = ta ? a->shape[1] : a->shape[0], ak = ta ? a->shape[0] : a->shape[1];
    const int64_t bk = tb ? b->shape[1] : b->shape[0], bn = tb ? b->shape[0] : b->shape[1];
    if (am != M || bn != N || ak != bk) {
        snprintf(c->msg, SF_MSG_LEN, "%s: a [%lld, %lld]%s times b [%lld, %lld]%s does not give [%lld, %lld]", name,
                 (long long)a->shape[0], (long long)a->shape[1], ta ? "^T" : "", (long long)b->shape[0],
                 (long long)b->shape[1], tb ? "^T" : "", (long long)M, (long long)N);
        return SF_ERR_INVALID_ARGUMENT;
    }
    g->opx = tb ? SF_GM_OP_T : SF_GM_OP_N;
    g->opy = ta ? SF_GM_OP_T : SF_GM_OP_N;
    g->m = N, g->n = M, g->k = ak;
    g->ldx = b->shape[1] > 1 ? b->shape[1] : 1;
    g->ldy = a->shape[1] > 1 ? a->shape[1] : 1;
    g->ldz = N > 1 ? N : 1;
    g->xin = bi, g->yin = ai;
    return SF_OK;
}

/* The steps that need cuBLAS/cuDNN or device memory. ctx is the caller's. */
typedef struct sf_fu_ops {
    void *(*alloc)(void *ctx, int64_t bytes); /* NULL: failed, message set */
    void (*release)(void *ctx, void *ptr);
    int (*zero)(void *ctx, void *ptr, int64_t bytes);
    /* Z = alpha X Y + beta Z (column-major, as g says); coef NULL: alpha 1, beta 0; else
     * coef[0], coef[1] of the product's dtype, in device memory */
    int (*gemm)(void *ctx, const sf_fu_gemm *g, const void *x, const void *y, void *z, const void *coef);
    /* conv2d's cuDNN plan run into out[0] (sf_cv_run with the caller's table) */
    int (*conv)(void *ctx, const sf_cv_plan *p);
} sf_fu_ops;

/* ---- the epilogue and the activation gradients ----------------------------------- */

#define SF_FU_TYPES(X) X(float32, float, f) X(float64, double, )

#define SF_FU_BODIES(DT, T, S)                                                                         \
    /* fused.c's epilogue expression for x = the product (+ bias) */                                  \
    SF_HD static inline T sf_fu_act_##DT(T x, int act, T alpha)                                        \
    {                                                                                                  \
        switch (act) {                                                                                 \
        case SF_ACT_RELU: return x < 0 ? (T)0 : x;                                                     \
        case SF_ACT_RELU6: return x < 0 ? (T)0 : x > 6 ? (T)6 : x;                                     \
        case SF_ACT_ELU: return elu_##DT(x);                                                           \
        case SF_ACT_SELU: return selu_##DT(x);                                                         \
        case SF_ACT_LEAKY_RELU: return x > 0 ? x : alpha * x;                                          \
        case SF_ACT_SIGMOID: return sigmoid_##DT(x);                                                   \
        case SF_ACT_TANH: return tanh##S(x);                                                           \
        default: return x;                                                                             \
        }                                                                                              \
    }                                                                                                  \
    /* fused.c's activation gradient of x = the gradient, y = the feature */                          \
    SF_HD static inline T sf_fu_act_grad_##DT(T x, T y, int act, T alpha)                              \
    {                                                                                                  \
        switch (act) {                                                                                 \
        case SF_ACT_RELU: return x * (T)(y > 0);                                                       \
        case SF_ACT_LEAKY_RELU: return y > 0 ? x : x * alpha;                                          \
        case SF_ACT_ELU: return y < 0 ? x * (y + (T)1) : x;                                            \
        default: return y < 0 ? x * (y + (T)SELU_SCALE_ALPHA) : x * (T)SELU_SCALE;                     \
        }                                                                                              \
    }                                                                                                  \
    /* y [rows, n] row-major: + bias[j] (when bias), then the activation; one thread each */          \
    SF_KERNEL k_fu_epilogue_##DT(T *y, const T *bias, int64_t n, int act, T alpha, int64_t total)      \
    {                                                                                                  \
        SF_GRID_LOOP(e, total) {                                                                       \
            T x = y[e];                                                                                \
            if (bias) x += bias[e % n];                                                                \
            y[e] = sf_fu_act_##DT(x, act, alpha);                                                      \
        }                                                                                              \
    }                                                                                                  \
    /* gemm_apply's coefficients, on the device: (-lr, 1) */                                         \
    SF_KERNEL k_fu_coef_##DT(const T *lr, T *coef)                                                     \
    {                                                                                                  \
        coef[0] = -*lr;                                                                                \
        coef[1] = (T)1;                                                                                \
    }
SF_FU_TYPES(SF_FU_BODIES)

/* the epilogue over out [rows, n] unless there is none (no bias, no activation) */
#define SF_FU_EPILOGUE(DT, T, c, name, y, bias, n, total, act, alpha)                                  \
    do {                                                                                               \
        if (((bias) || (act) != SF_ACT_NONE) && (total) > 0)                                           \
            SF_LAUNCH(c, name, k_fu_epilogue_##DT, (total), (T *)(y), (const T *)(bias), (n), (act),    \
                      (T)(alpha), (total));                                                            \
    } while (0)

/* ---- fused_matmul, gemm_apply_gradient_descent ------------------------------------- */

#define SF_FU_PRODUCTS(DT, T, S)                                                                       \
    static inline int sf_fu_fused_matmul_##DT(sf_call *c, const sf_fu_ops *ops, void *ctx)            \
    {                                                                                                  \
        const char *name = "fused_matmul_" #DT;                                                        \
        const int has_bias = c->iattr[SF_FUSED_MATMUL_HAS_BIAS] != 0;                                  \
        if (c->n_in < 2 + has_bias || c->n_out < 1) {                                                  \
            snprintf(c->msg, SF_MSG_LEN, "%s takes %d inputs and 1 output", name, 2 + has_bias);       \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        const sf_tensor *to = &c->out[0];                                                              \
        int st;                                                                                        \
        if ((st = sf_fu_matrix(c, &c->in[0], SF_DTC_##DT, name, "a")) ||                               \
            (st = sf_fu_matrix(c, &c->in[1], SF_DTC_##DT, name, "b")) ||                               \
            (st = sf_fu_matrix(c, to, SF_DTC_##DT, name, "out")) ||                                    \
            (st = sf_fu_act_ok(c, c->iattr[SF_FUSED_MATMUL_ACTIVATION], name)))                        \
            return st;                                                                                 \
        const int act = (int)c->iattr[SF_FUSED_MATMUL_ACTIVATION];                                     \
        const int64_t M = to->shape[0], N = to->shape[1];                                              \
        sf_fu_gemm g;                                                                                  \
        if ((st = sf_fu_product(c, 0, 1, M, N, name, &g))) return st;                                  \
        const void *bias = NULL;                                                                       \
        if (has_bias) {                                                                                \
            const sf_tensor *tb = &c->in[2];                                                           \
            if (tb->dtype != SF_DTC_##DT || sf_fu_numel(tb) != N || !sf_fu_contiguous(tb)) {           \
                snprintf(c->msg, SF_MSG_LEN, "%s: the bias must be %lld contiguous %s values", name,   \
                         (long long)N, #DT);                                                           \
                return SF_ERR_INVALID_ARGUMENT;                                                        \
            }                                                                                          \
            bias = tb->data;                                                                           \
        }                                                                                              \
        if (M == 0 || N == 0) return SF_OK;                                                            \
        if (g.k > 0)                                                                                   \
            st = ops->gemm(ctx, &g, c->in[g.xin].data, c->in[g.yin].data, to->data, NULL);            \
        else                                                                                           \
            st = ops->zero(ctx, to->data, M * N * (int64_t)sizeof(T));                                 \
        if (st) return st;                                                                             \
        SF_FU_EPILOGUE(DT, T, c, name, to->data, bias, N, M * N, act, c->fattr[SF_FATTR_ALPHA]);       \
        return SF_OK;                                                                                  \
    }                                                                                                  \
    static inline int sf_fu_gemm_apply_##DT(sf_call *c, const sf_fu_ops *ops, void *ctx)              \
    {                                                                                                  \
        const char *name = "gemm_apply_gradient_descent_" #DT;                                         \
        if (c->n_in < 4) {                                                                             \
            snprintf(c->msg, SF_MSG_LEN, "%s takes 4 inputs", name);                                   \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        const sf_tensor *tv = &c->in[0];                                                               \
        int st;                                                                                        \
        if ((st = sf_fu_matrix(c, tv, SF_DTC_##DT, name, "var")) ||                                    \
            (st = sf_fu_matrix(c, &c->in[2], SF_DTC_##DT, name, "a")) ||                               \
            (st = sf_fu_matrix(c, &c->in[3], SF_DTC_##DT, name, "b")))                                 \
            return st;                                                                                 \
        if (c->in[1].dtype != SF_DTC_##DT || sf_fu_numel(&c->in[1]) != 1) {                            \
            snprintf(c->msg, SF_MSG_LEN, "%s: alpha must be one %s value", name, #DT);                 \
            return SF_ERR_INVALID_ARGUMENT;                                                            \
        }                                                                                              \
        const int64_t M = tv->shape[0], N = tv->shape[1];                                              \
        sf_fu_gemm g;                                                                                  \
        if ((st = sf_fu_product(c, 2, 3, M, N, name, &g))) return st;                                  \
        if (M == 0 || N == 0 || g.k == 0) return SF_OK;                                                \
        T *coef = (T *)ops->alloc(ctx, 2 * (int64_t)sizeof(T));                                        \
        if (!coef) return SF_ERR_INTERNAL;                                                             \
        SF_LAUNCH1_TO(st, c, name, k_fu_coef_##DT, (const T *)c->in[1].data, coef);                  \
        if (!st) st = ops->gemm(ctx, &g, c->in[g.xin].data, c->in[g.yin].data, tv->data, coef);       \
        ops->release(ctx, coef);                                                                       \
        return st;                                                                                     \
    }
SF_FU_TYPES(SF_FU_PRODUCTS)

/* ---- fused_conv2d ------------------------------------------------------------------ */

/* conv.c's epilogue attrs: SF_CONV_ACTIVATION, SF_CONV_HAS_BIAS (the last input), a
 * second output pooled with SF_CONV_POOL_* = [kh, kw, sh, sw, pt, pl] */
typedef struct sf_fu_conv_epi {
    const void *bias;
    int act;
    double alpha;
    int pooled;
    sf_pool_geo pg;
} sf_fu_conv_epi;

static inline int sf_fu_conv_epi_of(sf_call *c, sf_fu_conv_epi *e, int32_t code, const char *name)
{
    const sf_tensor *y = &c->out[0];
    memset(e, 0, sizeof *e);
    e->act = (int)c->iattr[SF_CONV_ACTIVATION];
    e->alpha = c->fattr[SF_FATTR_ALPHA];
    if (e->act < SF_ACT_NONE || e->act > SF_ACT_TANH) {
        snprintf(c->msg, SF_MSG_LEN, "%s: unknown activation code %d", name, e->act);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (c->iattr[SF_CONV_HAS_BIAS]) {
        const sf_tensor *b = &c->in[c->n_in - 1];
        if (b->dtype != code || sf_fu_numel(b) != y->shape[3] || !sf_fu_contiguous(b)) {
            snprintf(c->msg, SF_MSG_LEN, "%s: the bias (last input) must be %lld values", name,
                     (long long)y->shape[3]);
            return SF_ERR_INVALID_ARGUMENT;
        }
        e->bias = b->data;
    }
    if (c->n_out >= 2) {
        const sf_tensor *q = &c->out[1];
        const int st = sf_nhwc_check4(c, q, code, name, "pooled output");
        if (st) return st;
        sf_pool_geo *g = &e->pg;
        g->N = y->shape[0], g->H = y->shape[1], g->W = y->shape[2], g->C = y->shape[3];
        g->OH = q->shape[1], g->OW = q->shape[2];
        g->KH = c->iattr[SF_CONV_POOL_KSIZE_H], g->KW = c->iattr[SF_CONV_POOL_KSIZE_W];
        g->sh = c->iattr[SF_CONV_POOL_STRIDE_H], g->sw = c->iattr[SF_CONV_POOL_STRIDE_W];
        g->pt = c->iattr[SF_CONV_POOL_PAD_TOP], g->pl = c->iattr[SF_CONV_POOL_PAD_LEFT];
        if (q->shape[0] != g->N || q->shape[3] != g->C) {
            snprintf(c->msg, SF_MSG_LEN, "%s: the pooled output's batch or depth differ", name);
            return SF_ERR_INVALID_ARGUMENT;
        }
        if (g->KH < 1 || g->KW < 1 || g->sh < 1 || g->sw < 1 || g->pt < 0 || g->pl < 0) {
            snprintf(c->msg, SF_MSG_LEN, "%s: bad pool ksize, strides or padding", name);
            return SF_ERR_INVALID_ARGUMENT;
        }
        e->pooled = 1;
    }
    return SF_OK;
}

#define SF_FU_CONV(DT, T, S)                                                                           \
    static inline int sf_fu_fused_conv2d_##DT(sf_call *c, const sf_fu_ops *ops, void *ctx)            \
    {                                                                                                  \
        const char *name = "fused_conv2d_" #DT;                                                        \
        sf_cv_plan p;                                                                                  \
        sf_fu_conv_epi e;                                                                              \
        int st = sf_cv_plan_make(c, &p, SF_CV_FORWARD, 0, SF_DTC_##DT, name);                          \
        if (!st) st = sf_fu_conv_epi_of(c, &e, SF_DTC_##DT, name);                                     \
        if (st) return st;                                                                             \
        const int64_t total = p.N * p.OH * p.OW * p.O;                                                 \
        if (total == 0) return SF_OK;                                                                  \
        if ((st = ops->conv(ctx, &p))) return st;                                                      \
        SF_FU_EPILOGUE(DT, T, c, name, c->out[0].data, e.bias, p.O, total, e.act, e.alpha);            \
        if (e.pooled) {                                                                                \
            const int64_t n = e.pg.N * e.pg.OH * e.pg.OW * e.pg.C;                                     \
            if (n > 0)                                                                                 \
                SF_LAUNCH(c, name, k_max_pool_##DT, n, e.pg, (const T *)c->out[0].data,                \
                          (T *)c->out[1].data, n);                                                     \
        }                                                                                              \
        return SF_OK;                                                                                  \
    }
SF_FU_TYPES(SF_FU_CONV)

/* ---- bias_activation_grad ----------------------------------------------------------- */

/* A block of SF_BAG_THREADS threads owns SF_BAG_COLS adjacent columns (its lanes: reads
 * coalesced) of SF_BAG_ROWS rows; its SF_BAG_GROUPS warps' rows interleave (thread (g, l)
 * takes rows g, g + 8, ...), each thread adding its rows' gradients in float64. The
 * groups' partials of a column meet in shared memory, and eight lanes add them with
 * shuffles in the order of sf_bag_tree8. */
#define SF_BAG_COLS 32
#define SF_BAG_GROUPS 8
#define SF_BAG_THREADS (SF_BAG_COLS * SF_BAG_GROUPS)
#define SF_BAG_ROWS 256

/* The shuffle tree over 8 lanes (offsets 4, 2, 1) of a column's group partials p[0..7]. */
SF_HD static inline double sf_bag_tree8(const double *p, int64_t stride)
{
    const double q0 = p[0] + p[4 * stride], q1 = p[stride] + p[5 * stride];
    const double q2 = p[2 * stride] + p[6 * stride], q3 = p[3 * stride] + p[7 * stride];
    return (q0 + q2) + (q1 + q3);
}

/* Checks a bias_activation_grad call (fused.c's messages): *R, *C the matrix sizes. */
static inline int sf_bag_check(sf_call *c, int32_t code, const char *name, int64_t *R, int64_t *C)
{
    if (c->n_in < 3 || c->n_out < 2) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 3 inputs and 2 outputs", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    int st;
    if ((st = sf_fu_matrix(c, &c->in[0], code, name, "gradients")) ||
        (st = sf_fu_matrix(c, &c->in[1], code, name, "features")) ||
        (st = sf_fu_matrix(c, &c->out[0], code, name, "backprops")) ||
        (st = sf_fu_act_ok(c, c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION], name)))
        return st;
    *R = c->in[0].shape[0], *C = c->in[0].shape[1];
    if (c->in[1].shape[0] != *R || c->in[1].shape[1] != *C || c->out[0].shape[0] != *R ||
        c->out[0].shape[1] != *C || sf_fu_numel(&c->out[1]) != *C || c->out[1].dtype != code ||
        !sf_fu_contiguous(&c->out[1])) {
        snprintf(c->msg, SF_MSG_LEN,
                 "%s: gradients, features and backprops must be [%lld, %lld] and the bias gradient [%lld]", name,
                 (long long)*R, (long long)*C, (long long)*C);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int act = (int)c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION];
    if (act != SF_ACT_RELU && act != SF_ACT_LEAKY_RELU && act != SF_ACT_ELU && act != SF_ACT_SELU) {
        snprintf(c->msg, SF_MSG_LEN, "%s: no fused gradient for activation code %d", name, act);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (*C == 0) return SF_OK;
    /* the C kernel's scratch (its threads' accumulators): required alike, so that a plan
       runs on either device; the GPU keeps its partials in memory of its own */
    const int64_t k = *C < 256 ? 256 / *C : 1, per = *C + k * *C;
    const sf_tensor *ts = &c->in[2];
    if (ts->dtype != SF_FLOAT64 || !sf_fu_contiguous(ts) || sf_fu_numel(ts) < per) {
        snprintf(c->msg, SF_MSG_LEN, "%s: the scratch must be at least %lld contiguous float64 values", name,
                 (long long)per);
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

/* column j's sum: the chunks' partials [nchunks, C] added in chunk order */
#define SF_BAG_FINISH(DT, T, S)                                                                        \
    SF_KERNEL k_bag_finish_##DT(const double *part, int64_t nchunks, int64_t C, T *db)                 \
    {                                                                                                  \
        SF_GRID_LOOP(j, C) {                                                                           \
            double s = 0;                                                                              \
            for (int64_t q = 0; q < nchunks; q++) s += part[q * C + j];                                \
            db[j] = (T)s;                                                                              \
        }                                                                                              \
    }
SF_FU_TYPES(SF_BAG_FINISH)

#define SF_FU_ENTRY(DT, T, S)                                                                          \
    {"sf_cuda_fused_matmul_" #DT, sf_cuda_fused_matmul_##DT},                                          \
        {"sf_cuda_gemm_apply_gradient_descent_" #DT, sf_cuda_gemm_apply_gradient_descent_##DT},        \
        {"sf_cuda_fused_conv2d_" #DT, sf_cuda_fused_conv2d_##DT},                                      \
        {"sf_cuda_bias_activation_grad_" #DT, sf_cuda_bias_activation_grad_##DT},

#endif
