/* The CUDA library's runtime entries for the Python side (staticflow.backends.cuda and
 * cuda_device): streams, events, pinned host memory and stream-ordered copies, and the
 * transfer kernels that a plan's copy nodes call through the ABI. Each entry returns 0, or
 * -1 with CUDA's message in msg (msg_len bytes, NUL-terminated); none aborts. Streams and
 * events are passed as void * (a cudaStream_t / cudaEvent_t). Plain C declarations: the
 * cffi cdef of staticflow/backends/cuda.py repeats them, and tests/cuda/test_runtime.py
 * compiles the two together (with cuda_runtime.h) so that they cannot drift apart. */
#ifndef SF_CUDA_RUNTIME_H
#define SF_CUDA_RUNTIME_H

#include <stdint.h>

#include "staticflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cudaMemcpyKind values the entries take */
#define SF_CUDA_H2D 1
#define SF_CUDA_D2H 2
#define SF_CUDA_D2D 3

int sf_cuda_stream_create(void **stream, char *msg, int64_t msg_len);
int sf_cuda_stream_destroy(void *stream, char *msg, int64_t msg_len);
int sf_cuda_stream_synchronize(void *stream, char *msg, int64_t msg_len);
int sf_cuda_event_create(void **event, char *msg, int64_t msg_len);
int sf_cuda_event_record(void *event, void *stream, char *msg, int64_t msg_len);
int sf_cuda_event_elapsed(float *ms, void *start, void *end, char *msg, int64_t msg_len);
int sf_cuda_event_destroy(void *event, char *msg, int64_t msg_len);
int sf_cuda_host_alloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len);
int sf_cuda_host_free(void *ptr, char *msg, int64_t msg_len);
int sf_cuda_memcpy_async(void *dst, const void *src, int64_t nbytes, int kind, void *stream, char *msg,
                         int64_t msg_len);
/* The transfer kernels (framework.backend.UPLOAD / DOWNLOAD): in[0] and out[0] are one
 * tensor's host and device views (C-contiguous, same dtype and shape); the copy is queued
 * on call->stream (asynchronous where the host side is pinned memory). */
int sf_cuda_upload(sf_call *call);
int sf_cuda_download(sf_call *call);

#ifdef __cplusplus
}
#endif

#endif
