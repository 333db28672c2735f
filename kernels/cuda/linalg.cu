/* Matrix products through cuBLAS and convolutions through cuDNN, as TensorFlow
 * runs them: matmul (float32/float64 on cuBLAS's GEMM, batched when the batch
 * is linear in memory; int32/int64 on a kernel of ours), conv2d and depthwise
 * conv2d with their input and filter gradients (cuDNN, float32/float64).
 *
 * The libraries are opened at run time with dlopen, never linked or bundled:
 * NVIDIA's PyPI wheels (staticflow.backends.cuda passes their directories,
 * sf_cuda_add_library_dir) or the system's. Without them these kernels return
 * an error naming the library and the pip package to install; the rest of the
 * CUDA library works. One cuBLAS and one cuDNN handle per stream, made on first
 * use and set to that stream.
 *
 * The plans (which operand cuBLAS reads transposed, which must be packed; the
 * cuDNN descriptors, filter transposition, padding) and the steps are
 * sf_cuda_linalg.h's, shared with the CPU driver of the tests.
 *
 * The fused kernels of pattern fusion (fused_matmul, gemm_apply_gradient_descent,
 * fused_conv2d, bias_activation_grad) are here too: their products and convolutions
 * are these, followed by sf_cuda_fused.h's epilogue and gradient kernels. */
#include <dlfcn.h>

#include "sf_cuda.cuh"
#include "sf_cuda_dnn.h"
#define SF_POOL_NO_LAUNCHERS /* the max pool kernel only (the fused conv's pooling) */
#include "sf_cuda_fused.h"

/* ---- the libraries ---------------------------------------------------------- */

#define SF_DNN_MAX_DIRS 8
static pthread_mutex_t sf_dnn_lock = PTHREAD_MUTEX_INITIALIZER;
static char sf_dnn_dirs[SF_DNN_MAX_DIRS][1024];
static int sf_dnn_ndirs;

/* A directory searched for the libraries before the loader's default paths. */
extern "C" int sf_cuda_add_library_dir(const char *dir)
{
    pthread_mutex_lock(&sf_dnn_lock);
    int st = SF_ERR_INVALID_ARGUMENT;
    if (dir && strlen(dir) < sizeof sf_dnn_dirs[0] && sf_dnn_ndirs < SF_DNN_MAX_DIRS) {
        strcpy(sf_dnn_dirs[sf_dnn_ndirs++], dir);
        st = SF_OK;
    }
    pthread_mutex_unlock(&sf_dnn_lock);
    return st;
}

/* dlopen of the first of `names` found in the added directories, else by the loader. */
static void *sf_dnn_open(const char *const *names)
{
    char path[1200];
    for (int d = 0; d < sf_dnn_ndirs; d++)
        for (const char *const *n = names; *n; n++) {
            snprintf(path, sizeof path, "%s/%s", sf_dnn_dirs[d], *n);
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h) return h;
        }
    for (const char *const *n = names; *n; n++) {
        void *h = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
    }
    return NULL;
}

#define SF_DNN_MEMBER(R, NAME, ARGS) R(*NAME) ARGS;
struct sf_cublas_api {
    SF_CUBLAS_FUNCS(SF_DNN_MEMBER)
};
struct sf_cudnn_api {
    SF_CUDNN_FUNCS(SF_DNN_MEMBER)
};
static sf_cublas_api sf_blas;
static sf_cudnn_api sf_dnn;
static int sf_blas_state, sf_dnn_state; /* 0 not tried, 1 loaded, -1 missing */
static char sf_blas_err[256], sf_dnn_err[256];

static const char *const sf_blas_names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so", NULL};
static const char *const sf_dnn_names[] = {"libcudnn.so.9", "libcudnn.so", NULL};

#define SF_DNN_SYM(R, NAME, ARGS)                                                                     \
    if (ok && !(api->NAME = (R(*) ARGS)dlsym(h, #NAME))) {                                            \
        snprintf(err, 256, "%s has no %s (too old?)", what, #NAME);                                   \
        ok = 0;                                                                                       \
    }

static const sf_cublas_api *sf_cublas_get(sf_call *c, const char *name)
{
    pthread_mutex_lock(&sf_dnn_lock);
    if (!sf_blas_state) {
        void *h = sf_dnn_open(sf_blas_names);
        sf_cublas_api *api = &sf_blas;
        char *err = sf_blas_err;
        const char *what = "libcublas";
        int ok = 1;
        if (!h) {
            snprintf(err, 256, "cuBLAS (libcublas.so.13 or .12) was not found: install the pip package "
                               "nvidia-cublas-cu12 (or nvidia-cublas for CUDA 13)");
            ok = 0;
        }
        if (ok) { SF_CUBLAS_FUNCS(SF_DNN_SYM) }
        sf_blas_state = ok ? 1 : -1;
    }
    pthread_mutex_unlock(&sf_dnn_lock);
    if (sf_blas_state > 0) return &sf_blas;
    snprintf(c->msg, SF_MSG_LEN, "%s: %s", name, sf_blas_err);
    return NULL;
}

static const sf_cudnn_api *sf_cudnn_get(sf_call *c, const char *name)
{
    pthread_mutex_lock(&sf_dnn_lock);
    if (!sf_dnn_state) {
        void *h = sf_dnn_open(sf_dnn_names);
        sf_cudnn_api *api = &sf_dnn;
        char *err = sf_dnn_err;
        const char *what = "libcudnn";
        int ok = 1;
        if (!h) {
            snprintf(err, 256, "cuDNN (libcudnn.so.9) was not found: install the pip package nvidia-cudnn-cu12 "
                               "(or nvidia-cudnn-cu13 for CUDA 13)");
            ok = 0;
        }
        if (ok) { SF_CUDNN_FUNCS(SF_DNN_SYM) }
        sf_dnn_state = ok ? 1 : -1;
    }
    pthread_mutex_unlock(&sf_dnn_lock);
    if (sf_dnn_state > 0) return &sf_dnn;
    snprintf(c->msg, SF_MSG_LEN, "%s: %s", name, sf_dnn_err);
    return NULL;
}

/* ---- one handle per stream --------------------------------------------------- */

#define SF_DNN_MAX_STREAMS 64
static struct {
    void *stream;
    sf_cublas_handle h;
} sf_blas_handles[SF_DNN_MAX_STREAMS];
static struct {
    void *stream;
    sf_cudnn_handle h;
} sf_dnn_handles[SF_DNN_MAX_STREAMS];
static int sf_blas_nh, sf_dnn_nh;

static sf_cublas_handle sf_cublas_handle_of(sf_call *c, const char *name, const sf_cublas_api *api)
{
    sf_cublas_handle h = NULL;
    pthread_mutex_lock(&sf_dnn_lock);
    for (int i = 0; i < sf_blas_nh && !h; i++)
        if (sf_blas_handles[i].stream == c->stream) h = sf_blas_handles[i].h;
    if (!h && sf_blas_nh < SF_DNN_MAX_STREAMS) {
        sf_cublas_status s = api->cublasCreate_v2(&h);
        if (s == SF_CUBLAS_STATUS_SUCCESS) s = api->cublasSetStream_v2(h, sf_cu_stream(c));
        if (s != SF_CUBLAS_STATUS_SUCCESS) {
            snprintf(c->msg, SF_MSG_LEN, "%s: cuBLAS could not make a handle (status %d)", name, (int)s);
            h = NULL;
        } else {
            sf_blas_handles[sf_blas_nh].stream = c->stream;
            sf_blas_handles[sf_blas_nh++].h = h;
        }
    } else if (!h) {
        snprintf(c->msg, SF_MSG_LEN, "%s: more than %d streams use cuBLAS", name, SF_DNN_MAX_STREAMS);
    }
    pthread_mutex_unlock(&sf_dnn_lock);
    return h;
}

static sf_cudnn_handle sf_cudnn_handle_of(sf_call *c, const char *name, const sf_cudnn_api *api)
{
    sf_cudnn_handle h = NULL;
    pthread_mutex_lock(&sf_dnn_lock);
    for (int i = 0; i < sf_dnn_nh && !h; i++)
        if (sf_dnn_handles[i].stream == c->stream) h = sf_dnn_handles[i].h;
    if (!h && sf_dnn_nh < SF_DNN_MAX_STREAMS) {
        sf_cudnn_status s = api->cudnnCreate(&h);
        if (s == SF_CUDNN_STATUS_SUCCESS) s = api->cudnnSetStream(h, sf_cu_stream(c));
        if (s != SF_CUDNN_STATUS_SUCCESS) {
            snprintf(c->msg, SF_MSG_LEN, "%s: cuDNN could not make a handle: %s", name, api->cudnnGetErrorString(s));
            h = NULL;
        } else {
            sf_dnn_handles[sf_dnn_nh].stream = c->stream;
            sf_dnn_handles[sf_dnn_nh++].h = h;
        }
    } else if (!h) {
        snprintf(c->msg, SF_MSG_LEN, "%s: more than %d streams use cuDNN", name, SF_DNN_MAX_STREAMS);
    }
    pthread_mutex_unlock(&sf_dnn_lock);
    return h;
}

/* ---- the steps' kernels ------------------------------------------------------- */

template <typename T>
static __global__ void k_gm_pack(sf_gm_plan p, sf_gm_operand o, int to_dense, T *view, T *dense, int64_t n)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step) {
        const int64_t off = sf_gm_pack_off(&p, &o, e);
        if (to_dense) dense[e] = view[off];
        else view[off] = dense[e];
    }
}

template <typename T>
static __global__ void k_gm_zero(sf_gm_plan p, T *out, int64_t n)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step)
        out[sf_gm_pack_off(&p, &p.Z, e)] = (T)0;
}

template <typename T>
static __global__ void k_cv_filter(sf_cv_plan p, int to_oihw, T *hwio, T *oihw, int64_t n)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step) {
        const int64_t off = sf_cv_hwio_off(&p, e);
        if (to_oihw) oihw[e] = hwio[off];
        else hwio[off] = oihw[e];
    }
}

template <typename T>
static __global__ void k_cv_pad(sf_cv_plan p, int to_padded, T *img, T *padded, int64_t n)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step) {
        if (to_padded) {
            const int64_t s = sf_cv_pad_src(&p, e);
            padded[e] = s < 0 ? (T)0 : img[s];
        } else {
            const int64_t s = sf_cv_crop_src(&p, e);
            img[e] = s < 0 ? (T)0 : padded[s];
        }
    }
}

#define SF_GM_INT_KERNEL(DT, T, UT)                                                                   \
    static __global__ void k_gm_int_##DT(sf_gm_plan p, const T *a, const T *b, T *o, int64_t n)       \
    {                                                                                                 \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                         \
        for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step)            \
            sf_gm_int_elem_##DT(&p, e, a, b, o);                                                      \
    }
SF_GM_INT_KERNEL(int32, int32_t, uint32_t)
SF_GM_INT_KERNEL(int64, int64_t, uint64_t)

/* ---- the steps on the GPU ------------------------------------------------------ */

typedef struct sf_cu_ctx {
    sf_call *c;
    const char *name;
    int dbl;
    sf_cublas_handle blas;
    const sf_cublas_api *blas_api;
    sf_cudnn_handle dnn;
    const sf_cudnn_api *dnn_api;
} sf_cu_ctx;

static void *sf_cu_alloc(void *ctx, int64_t bytes)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    void *p = NULL;
    if (sf_cu_check_api(x->c, x->name, cudaMallocAsync(&p, (size_t)(bytes > 0 ? bytes : 1), sf_cu_stream(x->c))))
        return NULL;
    return p;
}

static void sf_cu_release(void *ctx, void *ptr)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    (void)cudaFreeAsync(ptr, sf_cu_stream(x->c));
}

template <typename T>
static int sf_cu_gm_pack(void *ctx, const sf_gm_plan *p, const sf_gm_operand *o, int to_dense, void *view,
                         void *dense)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const int64_t n = p->batch * o->R * o->C;
    k_gm_pack<T><<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(x->c)>>>(*p, *o, to_dense, (T *)view,
                                                                                      (T *)dense, n);
    return sf_cu_check(x->c, x->name);
}

template <typename T>
static int sf_cu_gm_zero(void *ctx, const sf_gm_plan *p, void *out)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const int64_t n = p->batch * p->M * p->N;
    k_gm_zero<T><<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(x->c)>>>(*p, (T *)out, n);
    return sf_cu_check(x->c, x->name);
}

template <typename T>
static int sf_cu_gemm(void *ctx, const sf_gm_plan *p, const void *xa, int64_t sx, const void *ya, int64_t sy, void *z,
                      int64_t sz, int64_t count)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const sf_cublas_api *api = x->blas_api;
    const T one = 1, zero = 0;
    const int m = (int)p->m, n = (int)p->n, k = (int)p->k;
    const int lx = (int)p->X.ld, ly = (int)p->Y.ld, lz = (int)p->Z.ld;
    sf_cublas_status s;
    if (sizeof(T) == 4) {
        s = count == 1 ? api->cublasSgemm_v2(x->blas, p->X.op, p->Y.op, m, n, k, (const float *)&one,
                                             (const float *)xa, lx, (const float *)ya, ly, (const float *)&zero,
                                             (float *)z, lz)
                       : api->cublasSgemmStridedBatched(x->blas, p->X.op, p->Y.op, m, n, k, (const float *)&one,
                                                        (const float *)xa, lx, sx, (const float *)ya, ly, sy,
                                                        (const float *)&zero, (float *)z, lz, sz, (int)count);
    } else {
        s = count == 1 ? api->cublasDgemm_v2(x->blas, p->X.op, p->Y.op, m, n, k, (const double *)&one,
                                             (const double *)xa, lx, (const double *)ya, ly, (const double *)&zero,
                                             (double *)z, lz)
                       : api->cublasDgemmStridedBatched(x->blas, p->X.op, p->Y.op, m, n, k, (const double *)&one,
                                                        (const double *)xa, lx, sx, (const double *)ya, ly, sy,
                                                        (const double *)&zero, (double *)z, lz, sz, (int)count);
    }
    if (s != SF_CUBLAS_STATUS_SUCCESS) {
        snprintf(x->c->msg, SF_MSG_LEN, "%s: cuBLAS GEMM failed (status %d)", x->name, (int)s);
        return SF_ERR_INTERNAL;
    }
    return SF_OK;
}

template <typename T>
static int sf_cu_matmul(sf_call *c, const char *name, int32_t code)
{
    sf_gm_plan p;
    int st = sf_gm_plan_make(c, &p, code, name);
    if (st) return st;
    sf_cu_ctx x = {c, name, sizeof(T) == 8, NULL, NULL, NULL, NULL};
    if (p.batch && p.M && p.N && p.K) {
        if (!(x.blas_api = sf_cublas_get(c, name))) return SF_ERR_INTERNAL;
        if (!(x.blas = sf_cublas_handle_of(c, name, x.blas_api))) return SF_ERR_INTERNAL;
        /* another call on the handle may have set another stream (handles are per stream, so only
           after a stream was destroyed and its address reused) */
        x.blas_api->cublasSetStream_v2(x.blas, sf_cu_stream(c));
    }
    static const sf_gm_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_gm_pack<T>, sf_cu_gm_zero<T>, sf_cu_gemm<T>};
    return sf_gm_run(c, &p, &ops, &x, sizeof(T));
}

#define SF_CU_MATMUL_INT(DT, T, UT)                                                                   \
    extern "C" int sf_cuda_matmul_##DT(sf_call *c)                                                    \
    {                                                                                                 \
        const char *name = "sf_cuda_matmul_" #DT;                                                     \
        sf_gm_plan p;                                                                                 \
        int st = sf_gm_plan_make(c, &p, SF_DTC_##DT, name);                                           \
        if (st) return st;                                                                            \
        const int64_t n = p.batch * p.M * p.N;                                                        \
        if (n == 0) return SF_OK;                                                                     \
        k_gm_int_##DT<<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(         \
            p, (const T *)c->in[0].data, (const T *)c->in[1].data, (T *)c->out[0].data, n);           \
        return sf_cu_check(c, name);                                                                  \
    }
SF_CU_MATMUL_INT(int32, int32_t, uint32_t)
SF_CU_MATMUL_INT(int64, int64_t, uint64_t)

extern "C" int sf_cuda_matmul_float32(sf_call *c) { return sf_cu_matmul<float>(c, "sf_cuda_matmul_float32", SF_FLOAT32); }
extern "C" int sf_cuda_matmul_float64(sf_call *c)
{
    return sf_cu_matmul<double>(c, "sf_cuda_matmul_float64", SF_FLOAT64);
}

/* ---- convolutions ----------------------------------------------------------------- */

template <typename T>
static int sf_cu_cv_zero(void *ctx, const sf_cv_plan *p, void *out, int64_t n)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    (void)p;
    return sf_cu_check_api(x->c, x->name, cudaMemsetAsync(out, 0, (size_t)n * sizeof(T), sf_cu_stream(x->c)));
}

template <typename T>
static int sf_cu_cv_filter(void *ctx, const sf_cv_plan *p, int to_oihw, void *hwio, void *oihw)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const int64_t n = p->O * p->I * p->KH * p->KW;
    k_cv_filter<T><<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(x->c)>>>(*p, to_oihw, (T *)hwio,
                                                                                        (T *)oihw, n);
    return sf_cu_check(x->c, x->name);
}

template <typename T>
static int sf_cu_cv_pad(void *ctx, const sf_cv_plan *p, int to_padded, void *img, void *padded)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const int64_t n = to_padded ? p->N * p->Hx * p->Wx * p->C : p->N * p->H * p->W * p->C;
    k_cv_pad<T><<<sf_cu_blocks(n, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(x->c)>>>(*p, to_padded, (T *)img,
                                                                                     (T *)padded, n);
    return sf_cu_check(x->c, x->name);
}

/* The cuDNN call of a plan: descriptors, the heuristics' first working algorithm,
 * its workspace (stream-ordered), the call. */
static int sf_cu_cv_conv(void *ctx, const sf_cv_plan *p, void *xd, void *wd, void *yd)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    const sf_cudnn_api *api = x->dnn_api;
    const sf_cudnn_dtype dt = x->dbl ? SF_CUDNN_DATA_DOUBLE : SF_CUDNN_DATA_FLOAT;
    sf_cudnn_tensor xdesc = NULL, ydesc = NULL;
    sf_cudnn_filter wdesc = NULL;
    sf_cudnn_conv cdesc = NULL;
    const int C = (int)p->C, Hx = (int)p->Hx, Wx = (int)p->Wx, O = (int)p->O, OH = (int)p->OH, OW = (int)p->OW;
    sf_cudnn_status s = api->cudnnCreateTensorDescriptor(&xdesc);
    if (!s) s = api->cudnnCreateTensorDescriptor(&ydesc);
    if (!s) s = api->cudnnCreateFilterDescriptor(&wdesc);
    if (!s) s = api->cudnnCreateConvolutionDescriptor(&cdesc);
    if (!s) s = api->cudnnSetTensor4dDescriptorEx(xdesc, dt, (int)p->N, C, Hx, Wx, Hx * Wx * C, 1, Wx * C, C);
    if (!s) s = api->cudnnSetTensor4dDescriptorEx(ydesc, dt, (int)p->N, O, OH, OW, OH * OW * O, 1, OW * O, O);
    if (!s) s = api->cudnnSetFilter4dDescriptor(wdesc, dt, SF_CUDNN_TENSOR_NCHW, O, (int)p->I, (int)p->KH, (int)p->KW);
    if (!s)
        s = api->cudnnSetConvolution2dDescriptor(cdesc, (int)p->ph, (int)p->pw, (int)p->sh, (int)p->sw, (int)p->dh,
                                                 (int)p->dw, SF_CUDNN_CROSS_CORRELATION, dt);
    if (!s) s = api->cudnnSetConvolutionGroupCount(cdesc, (int)p->groups);
    /* no TF32: float32 products as on the CPU */
    if (!s) s = api->cudnnSetConvolutionMathType(cdesc, SF_CUDNN_FMA_MATH);
    sf_cudnn_algo_perf perf[8];
    int got = 0;
    if (!s) {
        if (p->kind == SF_CV_FORWARD)
            s = api->cudnnGetConvolutionForwardAlgorithm_v7(x->dnn, xdesc, wdesc, cdesc, ydesc, 8, &got, perf);
        else if (p->kind == SF_CV_INPUT_GRAD)
            s = api->cudnnGetConvolutionBackwardDataAlgorithm_v7(x->dnn, wdesc, ydesc, cdesc, xdesc, 8, &got, perf);
        else
            s = api->cudnnGetConvolutionBackwardFilterAlgorithm_v7(x->dnn, xdesc, ydesc, cdesc, wdesc, 8, &got, perf);
    }
    int st = SF_OK;
    const char *step = "setting up the descriptors";
    int algo = -1;
    for (int i = 0; !s && i < got && algo < 0; i++)
        if (perf[i].status == SF_CUDNN_STATUS_SUCCESS) algo = perf[i].algo;
    if (!s && algo < 0) {
        snprintf(x->c->msg, SF_MSG_LEN, "%s: cuDNN has no algorithm for this convolution", x->name);
        st = SF_ERR_UNIMPLEMENTED;
    }
    size_t ws = 0;
    void *work = NULL;
    if (!s && !st) {
        step = "sizing the workspace";
        if (p->kind == SF_CV_FORWARD)
            s = api->cudnnGetConvolutionForwardWorkspaceSize(x->dnn, xdesc, wdesc, cdesc, ydesc, algo, &ws);
        else if (p->kind == SF_CV_INPUT_GRAD)
            s = api->cudnnGetConvolutionBackwardDataWorkspaceSize(x->dnn, wdesc, ydesc, cdesc, xdesc, algo, &ws);
        else
            s = api->cudnnGetConvolutionBackwardFilterWorkspaceSize(x->dnn, xdesc, ydesc, cdesc, wdesc, algo, &ws);
    }
    if (!s && !st && ws && !(work = sf_cu_alloc(ctx, (int64_t)ws))) st = SF_ERR_INTERNAL;
    if (!s && !st) {
        step = "running the convolution";
        const double one = 1, zero = 0;
        const float onef = 1, zerof = 0;
        const void *a = x->dbl ? (const void *)&one : (const void *)&onef;
        const void *b = x->dbl ? (const void *)&zero : (const void *)&zerof;
        if (p->kind == SF_CV_FORWARD)
            s = api->cudnnConvolutionForward(x->dnn, a, xdesc, xd, wdesc, wd, cdesc, algo, work, ws, b, ydesc, yd);
        else if (p->kind == SF_CV_INPUT_GRAD)
            s = api->cudnnConvolutionBackwardData(x->dnn, a, wdesc, wd, ydesc, yd, cdesc, algo, work, ws, b, xdesc, xd);
        else
            s = api->cudnnConvolutionBackwardFilter(x->dnn, a, xdesc, xd, ydesc, yd, cdesc, algo, work, ws, b, wdesc,
                                                    wd);
    }
    if (work) sf_cu_release(ctx, work);
    if (s && !st) {
        snprintf(x->c->msg, SF_MSG_LEN, "%s: cuDNN failed %s: %s", x->name, step, api->cudnnGetErrorString(s));
        st = SF_ERR_INTERNAL;
    }
    if (cdesc) api->cudnnDestroyConvolutionDescriptor(cdesc);
    if (wdesc) api->cudnnDestroyFilterDescriptor(wdesc);
    if (ydesc) api->cudnnDestroyTensorDescriptor(ydesc);
    if (xdesc) api->cudnnDestroyTensorDescriptor(xdesc);
    return st;
}

template <typename T>
static int sf_cu_conv(sf_call *c, const char *name, int kind, int depthwise, int32_t code)
{
    sf_cv_plan p;
    int st = sf_cv_plan_make(c, &p, kind, depthwise, code, name);
    if (st) return st;
    sf_cu_ctx x = {c, name, sizeof(T) == 8, NULL, NULL, NULL, NULL};
    if (!sf_cv_empty(&p)) {
        if (!(x.dnn_api = sf_cudnn_get(c, name))) return SF_ERR_INTERNAL;
        if (!(x.dnn = sf_cudnn_handle_of(c, name, x.dnn_api))) return SF_ERR_INTERNAL;
        x.dnn_api->cudnnSetStream(x.dnn, sf_cu_stream(c));
    }
    static const sf_cv_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_cv_zero<T>, sf_cu_cv_filter<T>, sf_cu_cv_pad<T>,
                                  sf_cu_cv_conv};
    return sf_cv_run(c, &p, &ops, &x, sizeof(T));
}

#define SF_CU_CONV(NAME, KIND, DW)                                                                         \
    extern "C" int sf_cuda_##NAME##_float32(sf_call *c)                                                    \
    {                                                                                                      \
        return sf_cu_conv<float>(c, "sf_cuda_" #NAME "_float32", KIND, DW, SF_FLOAT32);                    \
    }                                                                                                      \
    extern "C" int sf_cuda_##NAME##_float64(sf_call *c)                                                    \
    {                                                                                                      \
        return sf_cu_conv<double>(c, "sf_cuda_" #NAME "_float64", KIND, DW, SF_FLOAT64);                   \
    }
SF_CV_KERNELS(SF_CU_CONV)

/* ---- the fused kernels (sf_cuda_fused.h) --------------------------------------------- */

/* the cuBLAS handle of the call's stream, on first use */
static int sf_cu_blas_ready(sf_cu_ctx *x)
{
    if (x->blas) return SF_OK;
    if (!(x->blas_api = sf_cublas_get(x->c, x->name))) return SF_ERR_INTERNAL;
    if (!(x->blas = sf_cublas_handle_of(x->c, x->name, x->blas_api))) return SF_ERR_INTERNAL;
    x->blas_api->cublasSetStream_v2(x->blas, sf_cu_stream(x->c));
    return SF_OK;
}

static int sf_cu_fu_zero(void *ctx, void *ptr, int64_t bytes)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    return sf_cu_check_api(x->c, x->name, cudaMemsetAsync(ptr, 0, (size_t)bytes, sf_cu_stream(x->c)));
}

template <typename T>
static int sf_cu_fu_gemm(void *ctx, const sf_fu_gemm *g, const void *xa, const void *ya, void *z, const void *coef)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    int st = sf_cu_blas_ready(x);
    if (st) return st;
    const sf_cublas_api *api = x->blas_api;
    const T one = 1, zero = 0;
    /* coefficients in device memory: no wait for the device to read lr */
    const T *alpha = coef ? (const T *)coef : &one, *beta = coef ? (const T *)coef + 1 : &zero;
    sf_cublas_status s = SF_CUBLAS_STATUS_SUCCESS;
    if (coef) s = api->cublasSetPointerMode_v2(x->blas, SF_CUBLAS_POINTER_MODE_DEVICE);
    if (s == SF_CUBLAS_STATUS_SUCCESS) {
        const int m = (int)g->m, n = (int)g->n, k = (int)g->k, lx = (int)g->ldx, ly = (int)g->ldy, lz = (int)g->ldz;
        if (sizeof(T) == 4)
            s = api->cublasSgemm_v2(x->blas, g->opx, g->opy, m, n, k, (const float *)alpha, (const float *)xa, lx,
                                    (const float *)ya, ly, (const float *)beta, (float *)z, lz);
        else
            s = api->cublasDgemm_v2(x->blas, g->opx, g->opy, m, n, k, (const double *)alpha, (const double *)xa, lx,
                                    (const double *)ya, ly, (const double *)beta, (double *)z, lz);
    }
    /* the handle is shared by the stream's other products, which pass host scalars */
    if (coef) api->cublasSetPointerMode_v2(x->blas, SF_CUBLAS_POINTER_MODE_HOST);
    if (s != SF_CUBLAS_STATUS_SUCCESS) {
        snprintf(x->c->msg, SF_MSG_LEN, "%s: cuBLAS GEMM failed (status %d)", x->name, (int)s);
        return SF_ERR_INTERNAL;
    }
    return SF_OK;
}

template <typename T>
static int sf_cu_fu_conv(void *ctx, const sf_cv_plan *p)
{
    sf_cu_ctx *x = (sf_cu_ctx *)ctx;
    if (!sf_cv_empty(p) && !x->dnn) {
        if (!(x->dnn_api = sf_cudnn_get(x->c, x->name))) return SF_ERR_INTERNAL;
        if (!(x->dnn = sf_cudnn_handle_of(x->c, x->name, x->dnn_api))) return SF_ERR_INTERNAL;
        x->dnn_api->cudnnSetStream(x->dnn, sf_cu_stream(x->c));
    }
    static const sf_cv_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_cv_zero<T>, sf_cu_cv_filter<T>, sf_cu_cv_pad<T>,
                                  sf_cu_cv_conv};
    return sf_cv_run(x->c, p, &ops, ctx, sizeof(T));
}

/* bias_activation_grad's pass: block (column tile, chunk of SF_BAG_ROWS rows) writes the
 * backprops of its elements and its columns' partials part[chunk, j] */
#define SF_CU_BAG_KERNEL(DT, T, S)                                                                    \
    static __global__ void __launch_bounds__(SF_BAG_THREADS)                                          \
        k_bag_##DT(const T *g, const T *f, T *bp, double *part, int64_t R, int64_t C, int64_t nchunks,  \
                   int act, T alpha)                                                                  \
    {                                                                                                 \
        __shared__ double sm[SF_BAG_GROUPS][SF_BAG_COLS];                                             \
        const int lane = threadIdx.x % 32, grp = threadIdx.x / 32;                                    \
        const int64_t j = (int64_t)blockIdx.x * SF_BAG_COLS + lane;                                   \
        /* the tree's lanes: warp grp adds columns 4 grp .. 4 grp + 3, eight lanes each */            \
        const int col = grp * 4 + lane / 8, gi = lane % 8;                                            \
        const int64_t jc = (int64_t)blockIdx.x * SF_BAG_COLS + col;                                   \
        for (int64_t q = blockIdx.y; q < nchunks; q += gridDim.y) {                                   \
            const int64_t r0 = q * SF_BAG_ROWS, r1 = r0 + SF_BAG_ROWS < R ? r0 + SF_BAG_ROWS : R;    \
            double acc = 0;                                                                           \
            if (j < C)                                                                                \
                for (int64_t r = r0 + grp; r < r1; r += SF_BAG_GROUPS) {                              \
                    const int64_t e = r * C + j;                                                      \
                    const T v = sf_fu_act_grad_##DT(g[e], f[e], act, alpha);                          \
                    bp[e] = v;                                                                        \
                    acc += (double)v;                                                                 \
                }                                                                                     \
            sm[grp][lane] = acc;                                                                      \
            __syncthreads();                                                                          \
            double v = sm[gi][col];                                                                   \
            v += __shfl_down_sync(0xffffffffu, v, 4, 8);                                              \
            v += __shfl_down_sync(0xffffffffu, v, 2, 8);                                              \
            v += __shfl_down_sync(0xffffffffu, v, 1, 8);                                              \
            if (gi == 0 && jc < C) part[q * C + jc] = v;                                              \
            __syncthreads();                                                                          \
        }                                                                                             \
    }
SF_FU_TYPES(SF_CU_BAG_KERNEL)

#define SF_CU_FUSED(DT, T, S)                                                                         \
    extern "C" int sf_cuda_fused_matmul_##DT(sf_call *c)                                              \
    {                                                                                                 \
        sf_cu_ctx x = {c, "fused_matmul_" #DT, sizeof(T) == 8, NULL, NULL, NULL, NULL};               \
        static const sf_fu_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_fu_zero, sf_cu_fu_gemm<T>,      \
                                      sf_cu_fu_conv<T>};                                               \
        return sf_fu_fused_matmul_##DT(c, &ops, &x);                                                  \
    }                                                                                                 \
    extern "C" int sf_cuda_gemm_apply_gradient_descent_##DT(sf_call *c)                               \
    {                                                                                                 \
        sf_cu_ctx x = {c, "gemm_apply_gradient_descent_" #DT, sizeof(T) == 8, NULL, NULL, NULL, NULL};\
        static const sf_fu_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_fu_zero, sf_cu_fu_gemm<T>,      \
                                      sf_cu_fu_conv<T>};                                               \
        return sf_fu_gemm_apply_##DT(c, &ops, &x);                                                    \
    }                                                                                                 \
    extern "C" int sf_cuda_fused_conv2d_##DT(sf_call *c)                                              \
    {                                                                                                 \
        sf_cu_ctx x = {c, "fused_conv2d_" #DT, sizeof(T) == 8, NULL, NULL, NULL, NULL};               \
        static const sf_fu_ops ops = {sf_cu_alloc, sf_cu_release, sf_cu_fu_zero, sf_cu_fu_gemm<T>,      \
                                      sf_cu_fu_conv<T>};                                               \
        return sf_fu_fused_conv2d_##DT(c, &ops, &x);                                                  \
    }                                                                                                 \
    extern "C" int sf_cuda_bias_activation_grad_##DT(sf_call *c)                                      \
    {                                                                                                 \
        const char *name = "bias_activation_grad_" #DT;                                               \
        int64_t R, C;                                                                                 \
        int st = sf_bag_check(c, SF_DTC_##DT, name, &R, &C);                                          \
        if (st || C == 0) return st;                                                                  \
        T *db = (T *)c->out[1].data;                                                                  \
        if (R == 0) return sf_cu_check_api(c, name, cudaMemsetAsync(db, 0, (size_t)C * sizeof(T), sf_cu_stream(c))); \
        sf_cu_ctx x = {c, name, sizeof(T) == 8, NULL, NULL, NULL, NULL};                              \
        const int64_t nchunks = (R + SF_BAG_ROWS - 1) / SF_BAG_ROWS;                                  \
        double *part = (double *)sf_cu_alloc(&x, nchunks * C * (int64_t)sizeof(double));              \
        if (!part) return SF_ERR_INTERNAL;                                                            \
        const dim3 grid((unsigned)((C + SF_BAG_COLS - 1) / SF_BAG_COLS),                              \
                        (unsigned)(nchunks < SF_CU_MAX_BLOCKS ? nchunks : SF_CU_MAX_BLOCKS));         \
        k_bag_##DT<<<grid, SF_BAG_THREADS, 0, sf_cu_stream(c)>>>(                                     \
            (const T *)c->in[0].data, (const T *)c->in[1].data, (T *)c->out[0].data, part, R, C, nchunks, \
            (int)c->iattr[SF_BIAS_ACT_GRAD_ACTIVATION], (T)c->fattr[SF_FATTR_ALPHA]);                 \
        st = sf_cu_check(c, name);                                                                    \
        if (!st) {                                                                                    \
            k_bag_finish_##DT<<<sf_cu_blocks(C, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(   \
                part, nchunks, C, db);                                                                \
            st = sf_cu_check(c, name);                                                                \
        }                                                                                             \
        sf_cu_release(&x, part);                                                                      \
        return st;                                                                                    \
    }
SF_FU_TYPES(SF_CU_FUSED)

/* ---- the family's table ------------------------------------------------------------ */

#define SF_CU_CONV_ENTRY(NAME, KIND, DW)                                                                   \
    {"sf_cuda_" #NAME "_float32", sf_cuda_##NAME##_float32}, {"sf_cuda_" #NAME "_float64", sf_cuda_##NAME##_float64},
static const sf_kernel_entry sf_cu_linalg_table[] = {
    {"sf_cuda_matmul_float32", sf_cuda_matmul_float32}, {"sf_cuda_matmul_float64", sf_cuda_matmul_float64},
    {"sf_cuda_matmul_int32", sf_cuda_matmul_int32},     {"sf_cuda_matmul_int64", sf_cuda_matmul_int64},
    SF_CV_KERNELS(SF_CU_CONV_ENTRY) SF_FU_TYPES(SF_FU_ENTRY)};
SF_CU_ENTRIES(linalg, sf_cu_linalg_table)
