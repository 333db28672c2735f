/* Streams, events, pinned host memory and stream-ordered copies (sf_cuda_runtime.h).
 * The entries wrap the CUDA runtime one call each; a failure clears CUDA's non-sticky
 * error and returns -1 with its message. */
#include <stdio.h>

#include "sf_cuda.cuh" /* the launch checks every family shares */
#include "sf_cuda_runtime.h"

static int sf_cu_rt(cudaError_t e, char *msg, int64_t msg_len)
{
    if (e == cudaSuccess) return 0;
    if (msg && msg_len > 0) snprintf(msg, (size_t)msg_len, "%s", cudaGetErrorString(e));
    (void)cudaGetLastError();
    return -1;
}

extern "C" int sf_cuda_stream_create(void **stream, char *msg, int64_t msg_len)
{
    cudaStream_t s = NULL;
    /* non-blocking: the session's stream does not wait for work on the legacy default stream */
    const int rc = sf_cu_rt(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), msg, msg_len);
    *stream = rc == 0 ? (void *)s : NULL;
    return rc;
}

extern "C" int sf_cuda_stream_destroy(void *stream, char *msg, int64_t msg_len)
{
    return stream ? sf_cu_rt(cudaStreamDestroy((cudaStream_t)stream), msg, msg_len) : 0;
}

extern "C" int sf_cuda_stream_synchronize(void *stream, char *msg, int64_t msg_len)
{
    return sf_cu_rt(cudaStreamSynchronize((cudaStream_t)stream), msg, msg_len);
}

extern "C" int sf_cuda_event_create(void **event, char *msg, int64_t msg_len)
{
    cudaEvent_t e = NULL;
    const int rc = sf_cu_rt(cudaEventCreate(&e), msg, msg_len); /* timed (the default flags) */
    *event = rc == 0 ? (void *)e : NULL;
    return rc;
}

extern "C" int sf_cuda_event_record(void *event, void *stream, char *msg, int64_t msg_len)
{
    return sf_cu_rt(cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream), msg, msg_len);
}

extern "C" int sf_cuda_event_elapsed(float *ms, void *start, void *end, char *msg, int64_t msg_len)
{
    *ms = 0.0f;
    return sf_cu_rt(cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)end), msg, msg_len);
}

extern "C" int sf_cuda_event_destroy(void *event, char *msg, int64_t msg_len)
{
    return event ? sf_cu_rt(cudaEventDestroy((cudaEvent_t)event), msg, msg_len) : 0;
}

extern "C" int sf_cuda_host_alloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len)
{
    *ptr = NULL;
    return sf_cu_rt(cudaMallocHost(ptr, (size_t)(nbytes > 0 ? nbytes : 1)), msg, msg_len);
}

extern "C" int sf_cuda_host_free(void *ptr, char *msg, int64_t msg_len)
{
    return ptr ? sf_cu_rt(cudaFreeHost(ptr), msg, msg_len) : 0;
}

extern "C" int sf_cuda_memcpy_async(void *dst, const void *src, int64_t nbytes, int kind, void *stream, char *msg,
                                    int64_t msg_len)
{
    if (nbytes <= 0) return 0;
    return sf_cu_rt(cudaMemcpyAsync(dst, src, (size_t)nbytes, (cudaMemcpyKind)kind, (cudaStream_t)stream), msg,
                    msg_len);
}

/* Bytes of a C-contiguous view; -1 when it is not one (or of an unknown dtype). */
static int64_t sf_cu_contiguous_bytes(const sf_tensor *t)
{
    int64_t n = sf_dtype_size(t->dtype), expect = 1;
    if (n == 0) return -1;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0) return 0; /* empty: any strides */
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != expect) return -1;
        expect *= t->shape[d];
    }
    return n * expect;
}

static int sf_cu_transfer(sf_call *call, int kind, const char *name)
{
    if (call->n_in < 1 || call->n_out < 1) {
        snprintf(call->msg, SF_MSG_LEN, "%s: needs one input and one output", name);
        return SF_ERR_INVALID_ARGUMENT;
    }
    const sf_tensor *src = &call->in[0], *dst = &call->out[0];
    const int64_t n = sf_cu_contiguous_bytes(src), m = sf_cu_contiguous_bytes(dst);
    if (n < 0 || m < 0 || n != m) {
        snprintf(call->msg, SF_MSG_LEN, "%s: the two sides must be C-contiguous views of one size (%lld, %lld bytes)",
                 name, (long long)n, (long long)m);
        return SF_ERR_INVALID_ARGUMENT;
    }
    if (n == 0) return SF_OK;
    return sf_cu_check_api(call, name, cudaMemcpyAsync(dst->data, src->data, (size_t)n, (cudaMemcpyKind)kind,
                                                       sf_cu_stream(call)));
}

extern "C" int sf_cuda_upload(sf_call *call) { return sf_cu_transfer(call, SF_CUDA_H2D, "upload"); }

extern "C" int sf_cuda_download(sf_call *call) { return sf_cu_transfer(call, SF_CUDA_D2H, "download"); }
