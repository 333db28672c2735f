/* Array CUDA kernels: sf_cuda_copy_<dt> (a view into a view of the same shape:
 * transpose, slice, tile, broadcast, concat and split pieces, fill from a
 * stride-0 scalar; a 2-D transpose goes through shared-memory tiles so that it
 * reads and writes coalesced), sf_cuda_gather_<dt> and sf_cuda_one_hot_<dt>, array.c's
 * layouts and checks. Gathers move elements by size whatever their dtype. A
 * gather's indices are checked by a first kernel before anything is written
 * (its launcher waits for the result), with array.c's message. */
#include "sf_cuda_ew.cuh"

SF_CU_ERROR_SLOT(array)

/* transposing copies, by element size: tiles in a grid-stride loop */
#define X_TILE_K(ES, E)                                                                         \
    static __global__ void k_tcopy_##ES(sf_ew_plan p, int64_t ntr, int64_t ntc)                 \
    {                                                                                           \
        __shared__ E tile[SF_TILE][SF_TILE + 1];                                                \
        for (int64_t t = blockIdx.x; t < ntr * ntc; t += gridDim.x) {                           \
            const int64_t tr = t / ntc, tc = t % ntc;                                           \
            sf_tile_load_##ES(&p, tr, tc, threadIdx.x, threadIdx.y, tile);                      \
            __syncthreads();                                                                    \
            sf_tile_store_##ES(&p, tr, tc, threadIdx.x, threadIdx.y, tile);                     \
            __syncthreads();                                                                    \
        }                                                                                       \
    }
X_TILE_K(1, uint8_t)
X_TILE_K(2, uint16_t)
X_TILE_K(4, uint32_t)
X_TILE_K(8, uint64_t)

static int sf_cu_tcopy(sf_call *c, const char *name, const sf_ew_plan *p, int es)
{
    const int64_t ntr = (p->shape[0] + SF_TILE - 1) / SF_TILE, ntc = (p->shape[1] + SF_TILE - 1) / SF_TILE;
    const dim3 threads(SF_TILE, SF_TILE_ROWS);
    const unsigned nb = sf_cu_blocks(ntr * ntc, 1);
    cudaStream_t s = sf_cu_stream(c);
    switch (es) {
    case 1: k_tcopy_1<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    case 2: k_tcopy_2<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    case 4: k_tcopy_4<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    default: k_tcopy_8<<<nb, threads, 0, s>>>(*p, ntr, ntc); break;
    }
    return sf_cu_check(c, name);
}

#define X_COPY(DT, T)                                                                           \
    SF_EW_COPY(DT, T)                                                                           \
    SF_CU_EW_KERNEL(copy_##DT)                                                                  \
    extern "C" int sf_cuda_copy_##DT(sf_call *c)                                                \
    {                                                                                           \
        static const int32_t dts[3] = {SF_DTC_##DT, 0, 0};                                      \
        const char *name = "sf_cuda_copy_" #DT;                                                 \
        sf_ew_plan p;                                                                           \
        int64_t n = 0;                                                                          \
        int st = sf_cu_ew_prepare(c, name, 1, dts, SF_DTC_##DT, &p, &n);                        \
        if (st || n == 0) return st;                                                            \
        if (sf_copy_is_transpose(&p)) return sf_cu_tcopy(c, name, &p, (int)sizeof(T));          \
        return sf_cu_ew_go(c, name, k_copy_##DT, &p, n, 0);                                     \
    }
SF_CU_ALL(X_COPY)


/* the first k whose index is outside [0, lim) */
template <typename IT>
static __global__ void k_index_check(const IT *ix, int64_t is, int64_t m, int64_t lim, unsigned long long *err)
{
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; k < m; k += step) {
        const int64_t v = (int64_t)ix[k * is];
        if (v < 0 || v >= lim) atomicMin(err, (unsigned long long)k);
    }
}

#define X_GATHER_K(ES, E, IDX, IT)                                                                 \
    static __global__ void k_gather_##ES##_##IDX(E *o, sf_ew_plan v, const E *pa, const IT *ix,    \
                                                 int64_t is, int64_t m, int64_t inner, int64_t n)  \
    {                                                                                              \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                      \
        for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step)         \
            sf_gather_elem_##ES##_##IDX(e, o, v.st[0], pa, v.st[1], ix, is, m, inner);             \
    }                                                                                              \
    static __global__ void k_one_hot_##ES##_##IDX(E *o, sf_ew_plan v, const IT *ix, const E *on,   \
                                                  const E *off, int64_t depth, int64_t inner, int64_t n) \
    {                                                                                              \
        const int64_t step = (int64_t)gridDim.x * blockDim.x;                                      \
        const E von = *on, voff = *off;                                                            \
        for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step)         \
            sf_one_hot_elem_##ES##_##IDX(e, o, v.st[0], ix, v.st[1][0], v.st[1][1], depth, inner, von, voff); \
    }
SF_GATHER_KINDS(X_GATHER_K)

static int sf_cu_gather(sf_call *c, const char *name, int32_t code, int es)
{
    if (c->n_in < 2 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 2 inputs and 1 output, got %d and %d", name, (int)c->n_in,
                 (int)c->n_out);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *pa = &c->in[0], *ix = &c->in[1], *out = &c->out[0];
    if (pa->dtype != code || out->dtype != code || (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)) {
        snprintf(c->msg, SF_MSG_LEN, "%s got %s params, %s indices and %s output", name, sf_cu_dtype_name(pa->dtype),
                 sf_cu_dtype_name(ix->dtype), sf_cu_dtype_name(out->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (pa->ndim != 3 || ix->ndim != 1 || out->ndim != 3) {
        snprintf(c->msg, SF_MSG_LEN,
                 "gather takes params [outer, n, inner], indices [m] and out [outer, m, inner]; got %d, %d and %d dims",
                 (int)pa->ndim, (int)ix->ndim, (int)out->ndim);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t outer = pa->shape[0], n = pa->shape[1], inner = pa->shape[2], m = ix->shape[0];
    if (out->shape[0] != outer || out->shape[1] != m || out->shape[2] != inner || outer < 0 || n < 0 ||
        inner < 0 || m < 0) {
        snprintf(c->msg, SF_MSG_LEN, "gather: out shape [%lld, %lld, %lld] is not [%lld, %lld, %lld]",
                 (long long)out->shape[0], (long long)out->shape[1], (long long)out->shape[2], (long long)outer,
                 (long long)m, (long long)inner);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (m == 0) return SF_OK;
    const int i64 = ix->dtype == SF_INT64;
    const int64_t is = ix->strides[0];
    cudaStream_t s = sf_cu_stream(c);
    unsigned long long *err = NULL, bad = 0;
    int st = sf_cu_err_begin_array(c, name, ~0ull, &err);
    if (st) return st;
    if (i64)
        k_index_check<int64_t><<<sf_cu_blocks(m, SF_CU_THREADS), SF_CU_THREADS, 0, s>>>(
            (const int64_t *)ix->data, is, m, n, err);
    else
        k_index_check<int32_t><<<sf_cu_blocks(m, SF_CU_THREADS), SF_CU_THREADS, 0, s>>>(
            (const int32_t *)ix->data, is, m, n, err);
    st = sf_cu_check(c, name);
    const int st2 = sf_cu_err_end_array(c, name, &bad);
    if (st || (st = st2)) return st;
    if (bad != ~0ull) {
        int64_t v = 0;
        const size_t isz = i64 ? 8 : 4;
        int32_t v32 = 0;
        st = sf_cu_check_api(c, name, cudaMemcpy(i64 ? (void *)&v : (void *)&v32,
                                                 (const char *)ix->data + (int64_t)bad * is * (int64_t)isz, isz,
                                                 cudaMemcpyDeviceToHost));
        if (st) return st;
        if (!i64) v = v32;
        snprintf(c->msg, SF_MSG_LEN, "indices[%lld] = %lld is not in [0, %lld)", (long long)bad, (long long)v,
                 (long long)n);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t total = outer * m * inner;
    if (total == 0) return SF_OK;
    sf_ew_plan v; /* only its strides: st[0] out's, st[1] params' */
    for (int d = 0; d < 3; d++) {
        v.st[0][d] = out->strides[d];
        v.st[1][d] = pa->strides[d];
    }
    const unsigned nb = sf_cu_blocks(total, SF_CU_THREADS);
#define SF_CU_GATHER_GO(ES, E)                                                                                 \
    if (i64)                                                                                                   \
        k_gather_##ES##_int64<<<nb, SF_CU_THREADS, 0, s>>>((E *)out->data, v, (const E *)pa->data,             \
                                                            (const int64_t *)ix->data, is, m, inner, total);   \
    else                                                                                                       \
        k_gather_##ES##_int32<<<nb, SF_CU_THREADS, 0, s>>>((E *)out->data, v, (const E *)pa->data,             \
                                                            (const int32_t *)ix->data, is, m, inner, total);
    switch (es) {
    case 1: SF_CU_GATHER_GO(1, uint8_t) break;
    case 2: SF_CU_GATHER_GO(2, uint16_t) break;
    case 4: SF_CU_GATHER_GO(4, uint32_t) break;
    default: SF_CU_GATHER_GO(8, uint64_t) break;
    }
    return sf_cu_check(c, name);
}

static int sf_cu_one_hot(sf_call *c, const char *name, int32_t code, int es)
{
    if (c->n_in < 3 || c->n_out < 1) {
        snprintf(c->msg, SF_MSG_LEN, "%s takes 3 inputs and 1 output", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *ix = &c->in[0], *on = &c->in[1], *off = &c->in[2], *out = &c->out[0];
    if (on->dtype != code || off->dtype != code || out->dtype != code ||
        (ix->dtype != SF_INT32 && ix->dtype != SF_INT64)) {
        snprintf(c->msg, SF_MSG_LEN, "%s: got %s on, %s off, %s indices and %s output", name,
                 sf_cu_dtype_name(on->dtype), sf_cu_dtype_name(off->dtype), sf_cu_dtype_name(ix->dtype),
                 sf_cu_dtype_name(out->dtype));
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (ix->ndim != 2 || out->ndim != 3 || ix->shape[0] != out->shape[0] || ix->shape[1] != out->shape[2] ||
        out->shape[0] < 0 || out->shape[1] < 0 || out->shape[2] < 0) {
        snprintf(c->msg, SF_MSG_LEN, "%s: indices must be [outer, inner] and out [outer, depth, inner]", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const int64_t depth = out->shape[1], inner = out->shape[2], total = out->shape[0] * depth * inner;
    if (total == 0) return SF_OK;
    sf_ew_plan v;
    for (int d = 0; d < 3; d++) v.st[0][d] = out->strides[d];
    v.st[1][0] = ix->strides[0];
    v.st[1][1] = ix->strides[1];
    const int i64 = ix->dtype == SF_INT64;
    const unsigned nb = sf_cu_blocks(total, SF_CU_THREADS);
    cudaStream_t s = sf_cu_stream(c);
#define SF_CU_ONE_HOT_GO(ES, E)                                                                                \
    if (i64)                                                                                                   \
        k_one_hot_##ES##_int64<<<nb, SF_CU_THREADS, 0, s>>>((E *)out->data, v, (const int64_t *)ix->data,      \
                                                             (const E *)on->data, (const E *)off->data, depth, \
                                                             inner, total);                                    \
    else                                                                                                       \
        k_one_hot_##ES##_int32<<<nb, SF_CU_THREADS, 0, s>>>((E *)out->data, v, (const int32_t *)ix->data,      \
                                                             (const E *)on->data, (const E *)off->data, depth, \
                                                             inner, total);
    switch (es) {
    case 1: SF_CU_ONE_HOT_GO(1, uint8_t) break;
    case 2: SF_CU_ONE_HOT_GO(2, uint16_t) break;
    case 4: SF_CU_ONE_HOT_GO(4, uint32_t) break;
    default: SF_CU_ONE_HOT_GO(8, uint64_t) break;
    }
    return sf_cu_check(c, name);
}

#define X_ARRAY(DT, ES)                                                                         \
    extern "C" int sf_cuda_gather_##DT(sf_call *c) { return sf_cu_gather(c, "sf_cuda_gather_" #DT, SF_DTC_##DT, ES); } \
    extern "C" int sf_cuda_one_hot_##DT(sf_call *c)                                             \
    {                                                                                           \
        return sf_cu_one_hot(c, "sf_cuda_one_hot_" #DT, SF_DTC_##DT, ES);                       \
    }
SF_CU_SIZES(X_ARRAY)

#define E_ARRAY(DT, ES) {"sf_cuda_gather_" #DT, sf_cuda_gather_##DT}, {"sf_cuda_one_hot_" #DT, sf_cuda_one_hot_##DT},
#define E_COPY(DT, T) {"sf_cuda_copy_" #DT, sf_cuda_copy_##DT},
static const sf_kernel_entry sf_cu_array_table[] = {SF_CU_ALL(E_COPY) SF_CU_SIZES(E_ARRAY)};
SF_CU_ENTRIES(array, sf_cu_array_table)
