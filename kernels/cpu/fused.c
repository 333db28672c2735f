/* Fused kernels: the groups that pattern fusion (staticflow/passes/remap.py)
 * makes of a product and what follows it, or of an activation gradient and
 * the bias gradient that reads it.
 *
 * The point of each is memory traffic: a product's output block gets its
 * bias and activation while the block is still in the cache of the thread
 * that computed it; an activation gradient and its column sums take one pass
 * over the gradient instead of three (write backprops, read them to sum); a
 * weight gradient's product is accumulated straight into the variable
 * (GEMM with beta = 1) instead of being written, read back and subtracted.
 * The arithmetic is that of the unfused kernels, in the same order, so the
 * values agree with the unfused plan to rounding of the same operations.
 */
#include <math.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"
#include "sf_vector_math.h"
#include "sf_scalar.h"


/* ---- epilogue: bias + activation over rows ------------------------------ */

/* One loop per activation, so each vectorizes; X is the value after the bias. */
#define SF_EPI_LOOP(T, EXPR)                                                   \
    for (int64_t r = 0; r < rows; r++) {                                    \
        T *restrict row = y + r * ld;                                       \
        if (bias) {                                                         \
            for (int64_t j = 0; j < n; j++) {                               \
                const T x = row[j] + bias[j];                               \
                row[j] = (EXPR);                                            \
            }                                                               \
        } else {                                                            \
            for (int64_t j = 0; j < n; j++) {                               \
                const T x = row[j];                                         \
                row[j] = (EXPR);                                            \
            }                                                               \
        }                                                                   \
    }

#define SF_DEFINE_EPILOGUE(NAME, T, S)                                                          \
    static void sf_epi_rows_##NAME(T *y, int64_t rows, int64_t n, int64_t ld, const T *bias,    \
                                   int act, T alpha)                                            \
    {                                                                                           \
        switch (act) {                                                                          \
        case SF_ACT_RELU: SF_EPI_LOOP(T, x < 0 ? (T)0 : x) break;                                  \
        case SF_ACT_RELU6: SF_EPI_LOOP(T, x < 0 ? (T)0 : x > 6 ? (T)6 : x) break;                  \
        case SF_ACT_ELU: SF_EPI_LOOP(T, elu_##NAME(x)) break;                                      \
        case SF_ACT_SELU: SF_EPI_LOOP(T, selu_##NAME(x)) break;                                    \
        case SF_ACT_LEAKY_RELU: SF_EPI_LOOP(T, x > 0 ? x : alpha * x) break;                       \
        case SF_ACT_SIGMOID: SF_EPI_LOOP(T, sigmoid_##NAME(x)) break;                           \
        case SF_ACT_TANH: SF_EPI_LOOP(T, tanh_##NAME(x)) break;                                        \
        default:                                                                                \
            if (bias) SF_EPI_LOOP(T, x)                                                            \
            break;                                                                              \
        }                                                                                       \
    }

/* Rows as narrow as a conv layer's channels (6, 16) cost more in loop overhead than in
 * arithmetic: k contiguous rows are treated as one of k * n, the bias tiled k times. */
#define SF_DEFINE_EPILOGUE_NARROW(NAME, T)                                                      \
    void sf_epilogue_##NAME(T *y, int64_t rows, int64_t n, int64_t ld, const T *bias, int act, \
                            T alpha)                                                            \
    {                                                                                           \
        if (ld != n || n <= 0 || n >= 64 || rows < 2) {                                         \
            sf_epi_rows_##NAME(y, rows, n, ld, bias, act, alpha);                               \
            return;                                                                             \
        }                                                                                       \
        T tiled[256];                                                                           \
        const int64_t k = 256 / n < rows ? 256 / n : rows, L = k * n, full = rows / k;         \
        if (bias)                                                                               \
            for (int64_t j = 0; j < L; j += n) memcpy(tiled + j, bias, (size_t)n * sizeof(T));  \
        sf_epi_rows_##NAME(y, full, L, L, bias ? tiled : NULL, act, alpha);                     \
        const int64_t left = (rows - full * k) * n;                                             \
        if (left) sf_epi_rows_##NAME(y + full * L, 1, left, left, bias ? tiled : NULL, act, alpha); \
    }

SF_DEFINE_EPILOGUE(float32, float, f)
SF_DEFINE_EPILOGUE(float64, double, )
SF_DEFINE_EPILOGUE_NARROW(float32, float)
SF_DEFINE_EPILOGUE_NARROW(float64, double)

static int sf_act_ok(sf_call *c, int64_t act, const char *name)
{
    if (act < SF_ACT_NONE || act > SF_ACT_TANH)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: unknown activation code %lld", name,
                       (long long)act);
    return SF_OK;
}

static int sf_matrix(sf_call *c, const sf_tensor *t, int32_t code, const char *name, const char *what)
{
    if (t->dtype != code)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s is %s, expected %s", name, what,
                       sf_dtype_name(t->dtype), sf_dtype_name(code));
    if (t->ndim != 2 || (sf_numel(t) > 0 && !sf_is_contiguous(t)))
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s must be a contiguous matrix (%d dims)",
                       name, what, (int)t->ndim);
    if (t->shape[0] > INT32_MAX || t->shape[1] > INT32_MAX)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s exceeds the 32-bit BLAS limit", name, what);
    return SF_OK;
}

/* [M, K] x [K, N] with transposes: the sizes, checked against out [M, N]. */
static int sf_product_dims(sf_call *c, const sf_tensor *a, const sf_tensor *b, int64_t M, int64_t N,
                           int ta, int tb, int64_t *K, const char *name)
{
    const int64_t am = ta ? a->shape[1] : a->shape[0], ak = ta ? a->shape[0] : a->shape[1];
    const int64_t bk = tb ? b->shape[1] : b->shape[0], bn = tb ? b->shape[0] : b->shape[1];
    if (am != M || bn != N || ak != bk)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT,
                       "%s: a [%lld, %lld]%s times b [%lld, %lld]%s does not give [%lld, %lld]", name,
                       (long long)a->shape[0], (long long)a->shape[1], ta ? "^T" : "",
                       (long long)b->shape[0], (long long)b->shape[1], tb ? "^T" : "", (long long)M,
                       (long long)N);
    *K = ak;
    return SF_OK;
}

/* name, dtype code, C type, the BLAS product (one block per call), sf_sgemm or sf_dgemm
 * (a whole product split over the threads), the float suffix of <math.h> */
#define SF_FUSED_DTYPES(X)                                                 \
    X(float32, SF_FLOAT32, float, scipy_cblas_sgemm, sf_sgemm, f)          \
    X(float64, SF_FLOAT64, double, scipy_cblas_dgemm, sf_dgemm, )

/* ---- matmul + bias + activation ----------------------------------------- */

/* The own GEMM with the epilogue on each block (gemm.c) where it beats BLAS for these
 * sizes; 0 when the caller is to take the BLAS blocks (float64 always). */
static int sf_own_float32(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                          int64_t lda, const float *B, int64_t ldb, float *C, const float *bias,
                          int act, float alpha)
{
    return sf_sgemm_own_wins(ta, tb, M, N, K) &&
           sf_sgemm_own(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N, bias, act, alpha);
}

static int sf_own_float64(int ta, int tb, int64_t M, int64_t N, int64_t K, const double *A,
                          int64_t lda, const double *B, int64_t ldb, double *C, const double *bias,
                          int act, double alpha)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb;
    (void)C, (void)bias, (void)act, (void)alpha;
    return 0;
}

#define SF_DEFINE_FUSED_MATMUL(NAME, CODE, T, GEMM, SF_GEMM, S)                                          \
    int sf_cpu_fused_matmul_##NAME(sf_call *c)                                                  \
    {                                                                                           \
        const char *name = "fused_matmul_" #NAME;                                               \
        const int has_bias = c->iattr[SF_FUSED_MATMUL_HAS_BIAS] != 0;                                                  \
        if (c->n_in < 2 + has_bias || c->n_out < 1)                                             \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes %d inputs and 1 output", name, \
                           2 + has_bias);                                                       \
        const sf_tensor *ta_ = &c->in[0], *tb_ = &c->in[1], *to = &c->out[0];                   \
        int st;                                                                                 \
        if ((st = sf_matrix(c, ta_, CODE, name, "a")) || (st = sf_matrix(c, tb_, CODE, name, "b")) || \
            (st = sf_matrix(c, to, CODE, name, "out")) || (st = sf_act_ok(c, c->iattr[SF_FUSED_MATMUL_ACTIVATION], name)))  \
            return st;                                                                          \
        const int ta = c->iattr[SF_MATMUL_TRANSPOSE_A] != 0, tb = c->iattr[SF_MATMUL_TRANSPOSE_B] != 0; \
        const int act = (int)c->iattr[SF_FUSED_MATMUL_ACTIVATION];         \
        const int64_t M = to->shape[0], N = to->shape[1];                                       \
        int64_t K;                                                                              \
        if ((st = sf_product_dims(c, ta_, tb_, M, N, ta, tb, &K, name))) return st;             \
        const T *bias = NULL;                                                                   \
        if (has_bias) {                                                                         \
            const sf_tensor *tbias = &c->in[2];                                                 \
            if (tbias->dtype != CODE || sf_numel(tbias) != N || !sf_is_contiguous(tbias))       \
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                      \
                               "%s: the bias must be %lld contiguous %s values", name,          \
                               (long long)N, #NAME);                                            \
            bias = (const T *)tbias->data;                                                      \
        }                                                                                       \
        if (M == 0 || N == 0) return SF_OK;                                                     \
        const T *A = (const T *)ta_->data, *B = (const T *)tb_->data;                           \
        T *C = (T *)to->data;                                                                   \
        const T alpha = (T)c->fattr[SF_FATTR_ALPHA];                                                         \
        const int64_t lda = ta_->shape[1], ldb = tb_->shape[1];                                 \
        if (M == 1 && K > 0) { /* one row: the matrix-vector product (linalg.c) */           \
            sf_gemv_##NAME(tb, N, K, A, 1, B, ldb, C, bias, act, alpha);                        \
            return SF_OK;                                                                       \
        }                                                                                       \
        if (K > 0 && sf_own_##NAME(ta, tb, M, N, K, A, lda, B, ldb, C, bias, act, alpha))     \
            return SF_OK;                                                                       \
        const int rows = M >= N;                                                                \
        const int64_t len = rows ? M : N;                                                       \
        const int parts = sf_gemm_parts(M, N, K), team = SF_GEMM_TEAM(parts);                      \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(team) if(team > 1)")              \
        for (int p = 0; p < parts; p++) {                                                       \
            int64_t b0, b1;                                                                     \
            if (!sf_gemm_block(len, p, parts, &b0, &b1)) continue;                              \
            const T *a = A, *b = B;                                                             \
            T *cb = C;                                                                          \
            if (rows) {                                                                         \
                a += ta ? b0 : b0 * lda;                                                        \
                cb += b0 * N;                                                                   \
            } else {                                                                            \
                b += tb ? b0 * ldb : b0;                                                        \
                cb += b0;                                                                       \
            }                                                                                   \
            const int64_t m = rows ? b1 - b0 : M, n = rows ? N : b1 - b0;                       \
            if (K > 0)                                                                          \
                GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, \
                     (blasint)m, (blasint)n, (blasint)K, (T)1, a, (blasint)lda, b, (blasint)ldb,  \
                     (T)0, cb, (blasint)N);                                                     \
            else                                                                                \
                for (int64_t i = 0; i < m; i++) memset(cb + i * N, 0, (size_t)n * sizeof(T));   \
            sf_epilogue_##NAME(cb, m, n, N, bias ? bias + (rows ? 0 : b0) : NULL, act, alpha);  \
        }                                                                                       \
        return SF_OK;                                                                           \
    }

SF_FUSED_DTYPES(SF_DEFINE_FUSED_MATMUL)

/* ---- activation gradient + bias gradient -------------------------------- */

/* Chunks (of L = k * C elements: k whole rows, at least 256 elements when C is narrow)
 * summed in T before each flush into the float64 accumulators */
#define SF_SUM_BLOCK 16
#define SF_GRAD_WIDTH 256

/* The backprops may be written over the gradients or the features (the planner's in-place
 * writes: OpDef.inplace), so those pointers are not restrict: each element is read before it
 * is written at the same index, which the ivdep pragma tells the vectorizer is safe. */
#if defined(__clang__)
#define SF_GRAD_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define SF_GRAD_IVDEP _Pragma("GCC ivdep")
#else
#define SF_GRAD_IVDEP
#endif

#define SF_GRAD_LOOP(T, EXPR)                                                       \
    for (int64_t e = e0, nb = 0; e < e1; e += L, nb++) {                            \
        const int64_t m = e1 - e < L ? e1 - e : L;                                  \
        const T *gr = g + e, *fr = f + e;                                           \
        T *br = bp + e;                                                             \
        SF_GRAD_IVDEP                                                               \
        for (int64_t j = 0; j < m; j++) {                                           \
            const T x = gr[j], y = fr[j];                                           \
            const T v = (EXPR);                                                     \
            br[j] = v;                                                              \
            blk[j] += v;                                                            \
        }                                                                           \
        if (nb % SF_SUM_BLOCK == SF_SUM_BLOCK - 1 || e + L >= e1)                   \
            for (int64_t q = 0; q < L; q += C)                                      \
                for (int64_t j = 0; j < C; j++) {                                   \
                    acc[j] += (double)blk[q + j];                                   \
                    blk[q + j] = 0;                                                 \
                }                                                                   \
    }

#define SF_DEFINE_BIAS_ACT_GRAD(NAME, CODE, T, GEMM, SF_GEMM, S)                                         \
    int sf_cpu_bias_activation_grad_##NAME(sf_call *c)                                          \
    {                                                                                           \
        const char *name = "bias_activation_grad_" #NAME;                                       \
        if (c->n_in < 3 || c->n_out < 2)                                                        \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 3 inputs and 2 outputs", name); \
        int st;                                                                                 \
        if ((st = sf_matrix(c, &c->in[0], CODE, name, "gradients")) ||                          \
            (st = sf_matrix(c, &c->in[1], CODE, name, "features")) ||                           \
            (st = sf_matrix(c, &c->out[0], CODE, name, "backprops")) ||                         \
            (st = sf_act_ok(c, c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION], name)))                                             \
            return st;                                                                          \
        const int64_t R = c->in[0].shape[0], C = c->in[0].shape[1];                             \
        if (c->in[1].shape[0] != R || c->in[1].shape[1] != C || c->out[0].shape[0] != R ||      \
            c->out[0].shape[1] != C || sf_numel(&c->out[1]) != C || c->out[1].dtype != CODE ||  \
            !sf_is_contiguous(&c->out[1]))                                                      \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                          \
                           "%s: gradients, features and backprops must be [%lld, %lld] and the " \
                           "bias gradient [%lld]", name, (long long)R, (long long)C, (long long)C); \
        const int act = (int)c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION];                                                       \
        if (act != SF_ACT_RELU && act != SF_ACT_LEAKY_RELU && act != SF_ACT_ELU && act != SF_ACT_SELU) \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                          \
                           "%s: no fused gradient for activation code %d", name, act);          \
        const T alpha = (T)c->fattr[SF_FATTR_ALPHA];                                                         \
        const T *g = (const T *)c->in[0].data, *f = (const T *)c->in[1].data;                   \
        T *bp = (T *)c->out[0].data, *db = (T *)c->out[1].data;                                 \
        if (C == 0) return SF_OK;                                                               \
        const int64_t k = C < SF_GRAD_WIDTH ? SF_GRAD_WIDTH / C : 1, L = k * C;                 \
        const int64_t per = C + L; /* a part's accumulators (float64) and chunk sums (T) */     \
        const sf_tensor *ts = &c->in[2];                                                        \
        if (ts->dtype != SF_FLOAT64 || !sf_is_contiguous(ts) || sf_numel(ts) < per)             \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT,                                          \
                           "%s: the scratch must be at least %lld contiguous float64 values", name, \
                           (long long)per);                                                     \
        /* parts of whole rows, as many as the scratch holds (the plan sizes it): set by the  \
         * sizes, not by the threads that take them, so the sums' bits do not depend on the  \
         * thread count */                                                                    \
        int64_t nth = sf_numel(ts) / per;                                                       \
        if ((double)R * (double)C < SF_PARALLEL_MIN || R < 2) nth = 1;                          \
        if (nth > R) nth = R;                                                                   \
        const int team = omp_in_parallel() ? 1 : omp_get_max_threads();                         \
        double *scratch = (double *)ts->data;                                                   \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(team) if(nth > 1 && team > 1)") \
        for (int64_t t = 0; t < nth; t++) {                                                     \
            /* whole rows per part, so that every chunk starts at a row */                     \
            const int64_t e0 = R * t / nth * C, e1 = R * (t + 1) / nth * C;                     \
            double *acc = scratch + t * per;                                                    \
            T *blk = (T *)(acc + C);                                                            \
            for (int64_t j = 0; j < C; j++) acc[j] = 0;                                         \
            for (int64_t j = 0; j < L; j++) blk[j] = 0;                                         \
            switch (act) {                                                                      \
            case SF_ACT_RELU: SF_GRAD_LOOP(T, x * (T)(y > 0)) break;                            \
            case SF_ACT_LEAKY_RELU: SF_GRAD_LOOP(T, y > 0 ? x : x * alpha) break;               \
            case SF_ACT_ELU: SF_GRAD_LOOP(T, y < 0 ? x * (y + (T)1) : x) break;                 \
            case SF_ACT_SELU:                                                                   \
                SF_GRAD_LOOP(T, y < 0 ? x * (y + (T)SELU_SCALE_ALPHA) : x * (T)SELU_SCALE) \
                break;                                                                          \
            }                                                                                   \
        }                                                                                       \
        for (int64_t j = 0; j < C; j++) {                                                       \
            double s = 0;                                                                       \
            for (int t = 0; t < nth; t++) s += scratch[t * per + j];                            \
            db[j] = (T)s;                                                                       \
        }                                                                                       \
        return SF_OK;                                                                           \
    }

SF_FUSED_DTYPES(SF_DEFINE_BIAS_ACT_GRAD)

/* ---- weight gradient product accumulated into the variable -------------- */

#define SF_DEFINE_GEMM_UPDATE(NAME, CODE, T, GEMM, SF_GEMM, S)                                           \
    int sf_cpu_gemm_apply_gradient_descent_##NAME(sf_call *c)                                 \
    {                                                                                           \
        const char *name = "gemm_apply_gradient_descent_" #NAME;                              \
        if (c->n_in < 4)                                                                        \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes 4 inputs", name);              \
        int st;                                                                                 \
        const sf_tensor *tv = &c->in[0], *ta_ = &c->in[2], *tb_ = &c->in[3];                    \
        if ((st = sf_matrix(c, tv, CODE, name, "var")) || (st = sf_matrix(c, ta_, CODE, name, "a")) || \
            (st = sf_matrix(c, tb_, CODE, name, "b")))                                          \
            return st;                                                                          \
        if (c->in[1].dtype != CODE || sf_numel(&c->in[1]) != 1)                                 \
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: alpha must be one %s value", name,  \
                           #NAME);                                                              \
        const int ta = c->iattr[SF_MATMUL_TRANSPOSE_A] != 0, tb = c->iattr[SF_MATMUL_TRANSPOSE_B] != 0;                                 \
        const int64_t M = tv->shape[0], N = tv->shape[1];                                       \
        int64_t K;                                                                              \
        if ((st = sf_product_dims(c, ta_, tb_, M, N, ta, tb, &K, name))) return st;             \
        if (M == 0 || N == 0 || K == 0) return SF_OK;                                           \
        const T lr = *(const T *)c->in[1].data;                                                 \
        /* var -= lr * op(a) op(b): the product accumulated into var (beta = 1) */              \
        SF_GEMM(ta, tb, M, N, K, -lr, (const T *)ta_->data, ta_->shape[1], (const T *)tb_->data, \
                tb_->shape[1], (T)1, (T *)tv->data, N);                                         \
        return SF_OK;                                                                           \
    }

SF_FUSED_DTYPES(SF_DEFINE_GEMM_UPDATE)

/* ---- table -------------------------------------------------------------- */

#define SF_FUSED_ENTRY(NAME, CODE, T, GEMM, SF_GEMM, S)                                       \
    {"sf_cpu_fused_matmul_" #NAME, sf_cpu_fused_matmul_##NAME},                      \
    {"sf_cpu_bias_activation_grad_" #NAME, sf_cpu_bias_activation_grad_##NAME},      \
    {"sf_cpu_gemm_apply_gradient_descent_" #NAME, sf_cpu_gemm_apply_gradient_descent_##NAME},

static const sf_kernel_entry sf_fused_table[] = {SF_FUSED_DTYPES(SF_FUSED_ENTRY)};

int64_t sf_cpu_fused_entries(const sf_kernel_entry **out)
{
    *out = sf_fused_table;
    return (int64_t)(sizeof sf_fused_table / sizeof sf_fused_table[0]);
}
