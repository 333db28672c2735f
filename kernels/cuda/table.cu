/* The CUDA library's kernel table (every family's entries, joined once), and
 * the device query behind staticflow.backends.cuda.available(). */
#include <stdlib.h>

#include "sf_cuda.cuh"

extern "C" {
int64_t sf_cuda_elementwise_entries(const sf_kernel_entry **out);
int64_t sf_cuda_cast_entries(const sf_kernel_entry **out);
int64_t sf_cuda_reduce_entries(const sf_kernel_entry **out);
int64_t sf_cuda_nn_entries(const sf_kernel_entry **out);
int64_t sf_cuda_training_entries(const sf_kernel_entry **out);
int64_t sf_cuda_array_entries(const sf_kernel_entry **out);
int64_t sf_cuda_random_entries(const sf_kernel_entry **out);
int64_t sf_cuda_linalg_entries(const sf_kernel_entry **out);
int64_t sf_cuda_arg_entries(const sf_kernel_entry **out);
int64_t sf_cuda_debug_entries(const sf_kernel_entry **out);
int64_t sf_cuda_pool_entries(const sf_kernel_entry **out);
int64_t sf_cuda_topk_entries(const sf_kernel_entry **out);
int64_t sf_cuda_segment_entries(const sf_kernel_entry **out);
}

static int64_t (*const sf_cu_families[])(const sf_kernel_entry **) = {
    sf_cuda_elementwise_entries, sf_cuda_cast_entries,   sf_cuda_reduce_entries, sf_cuda_nn_entries,
    sf_cuda_training_entries,    sf_cuda_array_entries,  sf_cuda_random_entries, sf_cuda_linalg_entries,
    sf_cuda_arg_entries,         sf_cuda_debug_entries,  sf_cuda_pool_entries, sf_cuda_topk_entries,
    sf_cuda_segment_entries,
};

static sf_kernel_entry *sf_cu_table;
static int64_t sf_cu_count;
static pthread_once_t sf_cu_once = PTHREAD_ONCE_INIT;

static void sf_cu_join(void)
{
    int64_t n = 0;
    const int nf = (int)(sizeof sf_cu_families / sizeof sf_cu_families[0]);
    for (int f = 0; f < nf; f++) n += sf_cu_families[f](NULL);
    sf_cu_table = (sf_kernel_entry *)malloc((size_t)(n ? n : 1) * sizeof *sf_cu_table);
    if (!sf_cu_table) return;
    for (int f = 0; f < nf; f++) {
        const sf_kernel_entry *e;
        const int64_t k = sf_cu_families[f](&e);
        for (int64_t i = 0; i < k; i++) sf_cu_table[sf_cu_count++] = e[i];
    }
}

extern "C" const sf_kernel_entry *sf_cuda_kernel_table(int64_t *count)
{
    pthread_once(&sf_cu_once, sf_cu_join);
    *count = sf_cu_table ? sf_cu_count : 0;
    return sf_cu_table;
}

extern "C" int sf_cuda_device_count(char *msg, int64_t msg_len)
{
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (msg && msg_len > 0) snprintf(msg, (size_t)msg_len, "%s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return -1;
    }
    return n;
}

/* Device memory and copies for the Python side (staticflow.backends.cuda:
 * tests, and the device interface to come). Each returns 0, or -1 with CUDA's
 * message in msg. */
static int sf_cu_api(cudaError_t e, char *msg, int64_t msg_len)
{
    if (e == cudaSuccess) return 0;
    if (msg && msg_len > 0) snprintf(msg, (size_t)msg_len, "%s", cudaGetErrorString(e));
    (void)cudaGetLastError();
    return -1;
}

extern "C" int sf_cuda_malloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len)
{
    *ptr = NULL;
    return sf_cu_api(cudaMalloc(ptr, (size_t)(nbytes > 0 ? nbytes : 1)), msg, msg_len);
}

extern "C" int sf_cuda_free(void *ptr, char *msg, int64_t msg_len) { return sf_cu_api(cudaFree(ptr), msg, msg_len); }

/* kind: 1 host to device, 2 device to host, 3 device to device (cudaMemcpyKind) */
extern "C" int sf_cuda_memcpy(void *dst, const void *src, int64_t nbytes, int kind, char *msg, int64_t msg_len)
{
    return sf_cu_api(cudaMemcpy(dst, src, (size_t)nbytes, (cudaMemcpyKind)kind), msg, msg_len);
}

extern "C" int sf_cuda_synchronize(char *msg, int64_t msg_len)
{
    return sf_cu_api(cudaDeviceSynchronize(), msg, msg_len);
}
