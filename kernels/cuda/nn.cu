/* Softmax and cross-entropy CUDA kernels (float32, float64), nn.c's
 * semantics: sf_cuda_{softmax,log_softmax}_<dt> over the last dim of any
 * strided view, sf_cuda_softmax_xent_<dt> (2-D logits and label
 * probabilities, any strides) -> loss [n], backprop [n, c], and
 * sf_cuda_sparse_softmax_xent_<dt>_<idx>, whose labels are checked before
 * anything is written (a checking kernel and a wait for its result).
 *
 * One block per row: the row's max (in T) and its sums of exponentials and of
 * the loss terms (in double) are block reductions in the tree order of
 * sf_cuda_bodies.h (warp shuffles, then shared memory); threads stride through
 * the row, so unit-stride rows are read coalesced.
 */
#include "sf_cuda.cuh"
#include "sf_cuda_ew.h"

SF_CU_ERROR_SLOT(nn)

template <typename A> static __device__ __forceinline__ A sf_cu_shfl(A a, int off)
{
    return __shfl_down_sync(0xffffffffu, a, off);
}

/* The block's sum (OPK 0) or NaN-propagating max (1) of the threads' a, in
 * every thread. s: shared scratch of SF_RED_THREADS / SF_WARP + 1 values. */
template <typename A, int OPK> static __device__ A sf_cu_block(A a, A init, A *s)
{
    const int lane = threadIdx.x % SF_WARP, w = threadIdx.x / SF_WARP;
    for (int off = SF_WARP / 2; off > 0; off >>= 1) {
        const A b = sf_cu_shfl(a, off);
        a = OPK ? SF_RCOMB_max(a, b) : SF_RCOMB_sum(a, b);
    }
    if (lane == 0) s[w] = a;
    __syncthreads();
    if (w == 0) {
        a = lane < (int)(blockDim.x / SF_WARP) ? s[lane] : init;
        for (int off = SF_WARP / 2; off > 0; off >>= 1) {
            const A b = sf_cu_shfl(a, off);
            a = OPK ? SF_RCOMB_max(a, b) : SF_RCOMB_sum(a, b);
        }
        if (lane == 0) s[SF_RED_THREADS / SF_WARP] = a;
    }
    __syncthreads();
    a = s[SF_RED_THREADS / SF_WARP];
    __syncthreads();
    return a;
}

/* Rows of a view: every dim but the last; in and out strides. */
typedef struct sf_cu_rows {
    int32_t nd, log_;
    int64_t rows, n;
    int64_t shape[SF_MAX_DIMS], ist[SF_MAX_DIMS], ost[SF_MAX_DIMS];
} sf_cu_rows;

template <typename T> static __device__ __forceinline__ T sf_cu_exp(T x);
template <> __device__ __forceinline__ float sf_cu_exp<float>(float x) { return sf_cu_exp_f32(x); }
template <> __device__ __forceinline__ double sf_cu_exp<double>(double x) { return sf_cu_exp_f64(x); }

template <typename T> static __global__ void k_softmax(const T *x, T *y, sf_cu_rows r)
{
    __shared__ T sm[SF_RED_THREADS / SF_WARP + 1];
    __shared__ double sd[SF_RED_THREADS / SF_WARP + 1];
    const int64_t si = r.ist[r.nd - 1], so = r.ost[r.nd - 1];
    for (int64_t row = blockIdx.x; row < r.rows; row += gridDim.x) {
        const T *xr = x + sf_row_off(r.shape, r.ist, r.nd, row);
        T *yr = y + sf_row_off(r.shape, r.ost, r.nd, row);
        T m = (T)-INFINITY;
        for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x) m = SF_RCOMB_max(m, xr[j * si]);
        m = sf_cu_block<T, 1>(m, (T)-INFINITY, sm);
        double s = 0;
        for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x) s += (double)sf_cu_exp<T>(xr[j * si] - m);
        s = sf_cu_block<double, 0>(s, 0.0, sd);
        if (r.log_) {
            const T ls = (T)log(s);
            for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x) yr[j * so] = (xr[j * si] - m) - ls;
        } else {
            const T inv = (T)(1.0 / s);
            for (int64_t j = threadIdx.x; j < r.n; j += blockDim.x) yr[j * so] = sf_cu_exp<T>(xr[j * si] - m) * inv;
        }
    }
}

/* Rows of softmax_xent: logits x, labels l, loss lo, backprop bp (2-D strides). */
typedef struct sf_cu_xent {
    int64_t rows, n;
    int64_t xs0, xs1, ls0, ls1, los0, bs0, bs1;
} sf_cu_xent;

/* labels: dense (l, probabilities) or sparse (ix, class ids) */
template <typename T, typename IT>
static __global__ void k_xent(const T *x, const T *l, const IT *ix, T *lo, T *bp, sf_cu_xent q)
{
    __shared__ T sm[SF_RED_THREADS / SF_WARP + 1];
    __shared__ double sd[SF_RED_THREADS / SF_WARP + 1];
    for (int64_t row = blockIdx.x; row < q.rows; row += gridDim.x) {
        const T *xr = x + row * q.xs0;
        T *br = bp + row * q.bs0;
        T m = (T)-INFINITY;
        for (int64_t j = threadIdx.x; j < q.n; j += blockDim.x) m = SF_RCOMB_max(m, xr[j * q.xs1]);
        m = sf_cu_block<T, 1>(m, (T)-INFINITY, sm);
        double s = 0;
        for (int64_t j = threadIdx.x; j < q.n; j += blockDim.x) s += (double)sf_cu_exp<T>(xr[j * q.xs1] - m);
        s = sf_cu_block<double, 0>(s, 0.0, sd);
        const T ls = (T)log(s), inv = (T)(1.0 / s);
        if (ix) {
            const int64_t lab = (int64_t)ix[row * q.ls0];
            for (int64_t j = threadIdx.x; j < q.n; j += blockDim.x) {
                const T e = sf_cu_exp<T>(xr[j * q.xs1] - m) * inv;
                br[j * q.bs1] = j == lab ? e - (T)1 : e;
            }
            if (threadIdx.x == 0) lo[row * q.los0] = ls - (xr[lab * q.xs1] - m);
        } else {
            const T *lr = l + row * q.ls0;
            double loss = 0;
            for (int64_t j = threadIdx.x; j < q.n; j += blockDim.x) {
                const T lab = lr[j * q.ls1], xv = xr[j * q.xs1];
                br[j * q.bs1] = sf_cu_exp<T>(xv - m) * inv - lab;
                loss += (double)(lab * (ls - (xv - m)));
            }
            loss = sf_cu_block<double, 0>(loss, 0.0, sd);
            if (threadIdx.x == 0) lo[row * q.los0] = q.n ? (T)loss : (T)0;
        }
    }
}

/* the first row whose label is outside [0, n) */
template <typename IT> static __global__ void k_label_check(const IT *ix, int64_t s, int64_t rows, int64_t n,
                                                          unsigned long long *err)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += step) {
        const IT v = ix[r * s];
        if (v < 0 || (int64_t)v >= n) atomicMin(err, (unsigned long long)r);
    }
}

static int sf_cu_nn_check(sf_call *c, const char *name, int32_t code, int nin, int nout)
{
    if (c->n_in != nin || c->n_out != nout) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes %d inputs and %d outputs, got %d and %d", name, nin, nout,
                 (int)c->n_in, (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (c->in[0].dtype != code || c->out[0].dtype != code) {
        snprintf(c->msg, SF_MSG_LEN, "%s: got %s logits and %s output", name, sf_cu_dtype_name(c->in[0].dtype),
                 sf_cu_dtype_name(c->out[0].dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    return SF_OK;
}

template <typename T> static int sf_cu_softmax(sf_call *c, const char *name, int32_t code, int log_)
{
    int st = sf_cu_nn_check(c, name, code, 1, 1);
    if (st) return st;
    const sf_tensor *in = &c->in[0], *out = &c->out[0];
    if (in->ndim < 1 || in->ndim != out->ndim || in->ndim > SF_MAX_DIMS) {
        snprintf(c->msg, SF_MSG_LEN, "%s: input and output must have the same rank >= 1", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    sf_cu_rows r;
    r.nd = in->ndim;
    r.log_ = log_;
    r.rows = 1;
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] != out->shape[d]) {
            snprintf(c->msg, SF_MSG_LEN, "%s: input and output shapes differ in dim %d", name, d);
            return SF_ERR_INVALID_ARGUMENT;
        }
        r.shape[d] = in->shape[d];
        r.ist[d] = in->strides[d];
        r.ost[d] = out->strides[d];
        if (d + 1 < in->ndim) r.rows *= in->shape[d];
    }
    r.n = in->shape[in->ndim - 1];
    if (r.rows == 0 || r.n == 0) return SF_OK;
    k_softmax<T><<<sf_cu_blocks(r.rows, 1), SF_RED_THREADS, 0, sf_cu_stream(c)>>>((const T *)in->data,
                                                                                  (T *)out->data, r);
    return sf_cu_check(c, name);
}

static int sf_cu_xent_shapes(sf_call *c, const char *name, int sparse, sf_cu_xent *q)
{
    const sf_tensor *x = &c->in[0], *l = &c->in[1], *lo = &c->out[0], *bp = &c->out[1];
    if (x->ndim != 2 || bp->ndim != 2 || lo->ndim != 1 || l->ndim != (sparse ? 1 : 2) ||
        l->shape[0] != x->shape[0] || (!sparse && l->shape[1] != x->shape[1]) || lo->shape[0] != x->shape[0] ||
        bp->shape[0] != x->shape[0] || bp->shape[1] != x->shape[1] || bp->dtype != x->dtype) {
        snprintf(c->msg, SF_MSG_LEN, "%s: expected logits [n, c], labels [n%s], loss [n] and backprop [n, c]", name,
                 sparse ? "" : ", c");
        return SF_ERR_INVALID_ARGUMENT;
    }
    q->rows = x->shape[0];
    q->n = x->shape[1];
    q->xs0 = x->strides[0];
    q->xs1 = x->strides[1];
    q->ls0 = l->strides[0];
    q->ls1 = sparse ? 0 : l->strides[1];
    q->los0 = lo->strides[0];
    q->bs0 = bp->strides[0];
    q->bs1 = bp->strides[1];
    return SF_OK;
}

template <typename T> static int sf_cu_dense_xent(sf_call *c, const char *name, int32_t code)
{
    int st = sf_cu_nn_check(c, name, code, 2, 2);
    if (st) return st;
    if (c->in[1].dtype != code) {
        snprintf(c->msg, SF_MSG_LEN, "%s: labels have dtype %s", name, sf_cu_dtype_name(c->in[1].dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    sf_cu_xent q;
    if ((st = sf_cu_xent_shapes(c, name, 0, &q)) || q.rows == 0) return st;
    k_xent<T, int32_t><<<sf_cu_blocks(q.rows, 1), SF_RED_THREADS, 0, sf_cu_stream(c)>>>(
        (const T *)c->in[0].data, (const T *)c->in[1].data, NULL, (T *)c->out[0].data, (T *)c->out[1].data, q);
    return sf_cu_check(c, name);
}

template <typename T, typename IT>
static int sf_cu_sparse_xent(sf_call *c, const char *name, int32_t code, int32_t icode)
{
    int st = sf_cu_nn_check(c, name, code, 2, 2);
    if (st) return st;
    if (c->in[1].dtype != icode) {
        snprintf(c->msg, SF_MSG_LEN, "%s: labels have dtype %s", name, sf_cu_dtype_name(c->in[1].dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    sf_cu_xent q;
    if ((st = sf_cu_xent_shapes(c, name, 1, &q)) || q.rows == 0) return st;
    if (q.n == 0) {
        snprintf(c->msg, SF_MSG_LEN, "Must have at least one class, but got logits shape [%lld,0]",
                 (long long)q.rows);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const IT *ix = (const IT *)c->in[1].data;
    unsigned long long *err = NULL, bad = 0;
    if ((st = sf_cu_err_begin_nn(c, name, ~0ull, &err))) return st;
    k_label_check<IT><<<sf_cu_blocks(q.rows, SF_CU_THREADS), SF_CU_THREADS, 0, sf_cu_stream(c)>>>(
        ix, q.ls0, q.rows, q.n, err);
    st = sf_cu_check(c, name);
    const int st2 = sf_cu_err_end_nn(c, name, &bad);
    if (st || (st = st2)) return st;
    if (bad != ~0ull) {
        IT v = 0;
        if ((st = sf_cu_check_api(c, name, cudaMemcpy(&v, ix + (int64_t)bad * q.ls0, sizeof v,
                                                      cudaMemcpyDeviceToHost))))
            return st;
        snprintf(c->msg, SF_MSG_LEN, "Received a label value of %lld which is outside the valid range of [0, %lld).",
                 (long long)v, (long long)q.n);
        return SF_ERR_INVALID_ARGUMENT;
    }
    k_xent<T, IT><<<sf_cu_blocks(q.rows, 1), SF_RED_THREADS, 0, sf_cu_stream(c)>>>(
        (const T *)c->in[0].data, NULL, ix, (T *)c->out[0].data, (T *)c->out[1].data, q);
    return sf_cu_check(c, name);
}

#define X_NN(DT, T)                                                                                       \
    extern "C" int sf_cuda_softmax_##DT(sf_call *c) { return sf_cu_softmax<T>(c, "sf_cuda_softmax_" #DT, SF_DTC_##DT, 0); } \
    extern "C" int sf_cuda_log_softmax_##DT(sf_call *c)                                                   \
    {                                                                                                     \
        return sf_cu_softmax<T>(c, "sf_cuda_log_softmax_" #DT, SF_DTC_##DT, 1);                           \
    }                                                                                                     \
    extern "C" int sf_cuda_softmax_xent_##DT(sf_call *c)                                                  \
    {                                                                                                     \
        return sf_cu_dense_xent<T>(c, "sf_cuda_softmax_xent_" #DT, SF_DTC_##DT);                                \
    }                                                                                                     \
    extern "C" int sf_cuda_sparse_softmax_xent_##DT##_int32(sf_call *c)                                   \
    {                                                                                                     \
        return sf_cu_sparse_xent<T, int32_t>(c, "sf_cuda_sparse_softmax_xent_" #DT "_int32", SF_DTC_##DT, SF_INT32); \
    }                                                                                                     \
    extern "C" int sf_cuda_sparse_softmax_xent_##DT##_int64(sf_call *c)                                   \
    {                                                                                                     \
        return sf_cu_sparse_xent<T, int64_t>(c, "sf_cuda_sparse_softmax_xent_" #DT "_int64", SF_DTC_##DT, SF_INT64); \
    }
#define SF_NN_TYPES(X) X(float32, float) X(float64, double)
SF_NN_TYPES(X_NN)

#define E_NN(DT, T)                                                                    \
    {"sf_cuda_softmax_" #DT, sf_cuda_softmax_##DT},                                    \
    {"sf_cuda_log_softmax_" #DT, sf_cuda_log_softmax_##DT},                            \
    {"sf_cuda_softmax_xent_" #DT, sf_cuda_softmax_xent_##DT},                          \
    {"sf_cuda_sparse_softmax_xent_" #DT "_int32", sf_cuda_sparse_softmax_xent_##DT##_int32}, \
    {"sf_cuda_sparse_softmax_xent_" #DT "_int64", sf_cuda_sparse_softmax_xent_##DT##_int64},
static const sf_kernel_entry sf_cu_nn_table[] = {SF_NN_TYPES(E_NN)};
SF_CU_ENTRIES(nn, sf_cu_nn_table)
