/* The cuBLAS and cuDNN entry points the product and convolution kernels call
 * (linalg.cu), declared here because the libraries are not linked: they are
 * opened at run time with dlopen (NVIDIA's PyPI wheels or the system's), so
 * the build needs neither their headers nor their libraries.
 *
 * Each X(ret, name, params) of SF_CUBLAS_FUNCS / SF_CUDNN_FUNCS is one function
 * as its header declares it, with the handles and descriptors as opaque
 * pointers and the enums as int (the same ABI). Compiled with SF_DNN_REAL after
 * cublas_v2.h and cudnn.h, the types are the headers' own, and
 * tests/cuda/test_library.py checks every declaration, constant and the
 * algorithm-result layout against the real headers (static_asserts). */
#ifndef SF_CUDA_DNN_H
#define SF_CUDA_DNN_H

#include <stddef.h>

#ifdef SF_DNN_REAL
typedef cublasStatus_t sf_cublas_status;
typedef cublasHandle_t sf_cublas_handle;
typedef cublasOperation_t sf_cublas_op;
typedef cublasPointerMode_t sf_cublas_pointer_mode;
typedef cudnnStatus_t sf_cudnn_status;
typedef cudnnHandle_t sf_cudnn_handle;
typedef cudnnTensorDescriptor_t sf_cudnn_tensor;
typedef cudnnFilterDescriptor_t sf_cudnn_filter;
typedef cudnnConvolutionDescriptor_t sf_cudnn_conv;
typedef cudnnDataType_t sf_cudnn_dtype;
typedef cudnnTensorFormat_t sf_cudnn_format;
typedef cudnnConvolutionMode_t sf_cudnn_mode;
typedef cudnnMathType_t sf_cudnn_math;
typedef cudnnConvolutionFwdAlgo_t sf_cudnn_fwd_algo;
typedef cudnnConvolutionBwdDataAlgo_t sf_cudnn_bwd_data_algo;
typedef cudnnConvolutionBwdFilterAlgo_t sf_cudnn_bwd_filter_algo;
typedef cudnnConvolutionFwdAlgoPerf_t sf_cudnn_fwd_perf;
typedef cudnnConvolutionBwdDataAlgoPerf_t sf_cudnn_bwd_data_perf;
typedef cudnnConvolutionBwdFilterAlgoPerf_t sf_cudnn_bwd_filter_perf;
#else
typedef int sf_cublas_status;
typedef struct sf_cublas_context *sf_cublas_handle;
typedef int sf_cublas_op;
typedef int sf_cublas_pointer_mode;
typedef int sf_cudnn_status;
typedef struct sf_cudnn_context *sf_cudnn_handle;
typedef struct sf_cudnn_tensor_struct *sf_cudnn_tensor;
typedef struct sf_cudnn_filter_struct *sf_cudnn_filter;
typedef struct sf_cudnn_conv_struct *sf_cudnn_conv;
typedef int sf_cudnn_dtype;
typedef int sf_cudnn_format;
typedef int sf_cudnn_mode;
typedef int sf_cudnn_math;
typedef int sf_cudnn_fwd_algo;
typedef int sf_cudnn_bwd_data_algo;
typedef int sf_cudnn_bwd_filter_algo;
typedef struct sf_cudnn_algo_perf sf_cudnn_fwd_perf;
typedef struct sf_cudnn_algo_perf sf_cudnn_bwd_data_perf;
typedef struct sf_cudnn_algo_perf sf_cudnn_bwd_filter_perf;
#endif

/* cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: one layout */
struct sf_cudnn_algo_perf {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};

/* the constants used (values of the headers' enums) */
#define SF_CUBLAS_STATUS_SUCCESS 0
#define SF_CUBLAS_OP_N 0
#define SF_CUBLAS_OP_T 1
#define SF_CUBLAS_POINTER_MODE_HOST 0
#define SF_CUBLAS_POINTER_MODE_DEVICE 1
#define SF_CUDNN_STATUS_SUCCESS 0
#define SF_CUDNN_DATA_FLOAT 0
#define SF_CUDNN_DATA_DOUBLE 1
#define SF_CUDNN_TENSOR_NCHW 0
#define SF_CUDNN_CROSS_CORRELATION 1
#define SF_CUDNN_FMA_MATH 3

#define SF_CUBLAS_FUNCS(X)                                                                              \
    X(sf_cublas_status, cublasCreate_v2, (sf_cublas_handle *))                                           \
    X(sf_cublas_status, cublasSetStream_v2, (sf_cublas_handle, cudaStream_t))                            \
    X(sf_cublas_status, cublasSetPointerMode_v2, (sf_cublas_handle, sf_cublas_pointer_mode))             \
    X(sf_cublas_status, cublasSgemm_v2,                                                                  \
      (sf_cublas_handle, sf_cublas_op, sf_cublas_op, int, int, int, const float *, const float *, int,   \
       const float *, int, const float *, float *, int))                                                 \
    X(sf_cublas_status, cublasDgemm_v2,                                                                  \
      (sf_cublas_handle, sf_cublas_op, sf_cublas_op, int, int, int, const double *, const double *, int, \
       const double *, int, const double *, double *, int))                                              \
    X(sf_cublas_status, cublasSgemmStridedBatched,                                                       \
      (sf_cublas_handle, sf_cublas_op, sf_cublas_op, int, int, int, const float *, const float *, int,   \
       long long int, const float *, int, long long int, const float *, float *, int, long long int, int)) \
    X(sf_cublas_status, cublasDgemmStridedBatched,                                                       \
      (sf_cublas_handle, sf_cublas_op, sf_cublas_op, int, int, int, const double *, const double *, int, \
       long long int, const double *, int, long long int, const double *, double *, int, long long int,  \
       int))

#define SF_CUDNN_FUNCS(X)                                                                               \
    X(sf_cudnn_status, cudnnCreate, (sf_cudnn_handle *))                                                 \
    X(sf_cudnn_status, cudnnSetStream, (sf_cudnn_handle, cudaStream_t))                                  \
    X(const char *, cudnnGetErrorString, (sf_cudnn_status))                                              \
    X(sf_cudnn_status, cudnnCreateTensorDescriptor, (sf_cudnn_tensor *))                                 \
    X(sf_cudnn_status, cudnnDestroyTensorDescriptor, (sf_cudnn_tensor))                                  \
    X(sf_cudnn_status, cudnnSetTensor4dDescriptorEx,                                                     \
      (sf_cudnn_tensor, sf_cudnn_dtype, int, int, int, int, int, int, int, int))                         \
    X(sf_cudnn_status, cudnnCreateFilterDescriptor, (sf_cudnn_filter *))                                 \
    X(sf_cudnn_status, cudnnDestroyFilterDescriptor, (sf_cudnn_filter))                                  \
    X(sf_cudnn_status, cudnnSetFilter4dDescriptor,                                                       \
      (sf_cudnn_filter, sf_cudnn_dtype, sf_cudnn_format, int, int, int, int))                            \
    X(sf_cudnn_status, cudnnCreateConvolutionDescriptor, (sf_cudnn_conv *))                              \
    X(sf_cudnn_status, cudnnDestroyConvolutionDescriptor, (sf_cudnn_conv))                               \
    X(sf_cudnn_status, cudnnSetConvolution2dDescriptor,                                                  \
      (sf_cudnn_conv, int, int, int, int, int, int, sf_cudnn_mode, sf_cudnn_dtype))                      \
    X(sf_cudnn_status, cudnnSetConvolutionGroupCount, (sf_cudnn_conv, int))                              \
    X(sf_cudnn_status, cudnnSetConvolutionMathType, (sf_cudnn_conv, sf_cudnn_math))                      \
    X(sf_cudnn_status, cudnnGetConvolutionForwardAlgorithm_v7,                                           \
      (sf_cudnn_handle, sf_cudnn_tensor, sf_cudnn_filter, sf_cudnn_conv, sf_cudnn_tensor, int, int *,    \
       sf_cudnn_fwd_perf *))                                                                             \
    X(sf_cudnn_status, cudnnGetConvolutionForwardWorkspaceSize,                                          \
      (sf_cudnn_handle, sf_cudnn_tensor, sf_cudnn_filter, sf_cudnn_conv, sf_cudnn_tensor,                \
       sf_cudnn_fwd_algo, size_t *))                                                                     \
    X(sf_cudnn_status, cudnnConvolutionForward,                                                          \
      (sf_cudnn_handle, const void *, sf_cudnn_tensor, const void *, sf_cudnn_filter, const void *,      \
       sf_cudnn_conv, sf_cudnn_fwd_algo, void *, size_t, const void *, sf_cudnn_tensor, void *))         \
    X(sf_cudnn_status, cudnnGetConvolutionBackwardDataAlgorithm_v7,                                      \
      (sf_cudnn_handle, sf_cudnn_filter, sf_cudnn_tensor, sf_cudnn_conv, sf_cudnn_tensor, int, int *,    \
       sf_cudnn_bwd_data_perf *))                                                                        \
    X(sf_cudnn_status, cudnnGetConvolutionBackwardDataWorkspaceSize,                                     \
      (sf_cudnn_handle, sf_cudnn_filter, sf_cudnn_tensor, sf_cudnn_conv, sf_cudnn_tensor,                \
       sf_cudnn_bwd_data_algo, size_t *))                                                                \
    X(sf_cudnn_status, cudnnConvolutionBackwardData,                                                     \
      (sf_cudnn_handle, const void *, sf_cudnn_filter, const void *, sf_cudnn_tensor, const void *,      \
       sf_cudnn_conv, sf_cudnn_bwd_data_algo, void *, size_t, const void *, sf_cudnn_tensor, void *))    \
    X(sf_cudnn_status, cudnnGetConvolutionBackwardFilterAlgorithm_v7,                                    \
      (sf_cudnn_handle, sf_cudnn_tensor, sf_cudnn_tensor, sf_cudnn_conv, sf_cudnn_filter, int, int *,    \
       sf_cudnn_bwd_filter_perf *))                                                                      \
    X(sf_cudnn_status, cudnnGetConvolutionBackwardFilterWorkspaceSize,                                   \
      (sf_cudnn_handle, sf_cudnn_tensor, sf_cudnn_tensor, sf_cudnn_conv, sf_cudnn_filter,                \
       sf_cudnn_bwd_filter_algo, size_t *))                                                              \
    X(sf_cudnn_status, cudnnConvolutionBackwardFilter,                                                   \
      (sf_cudnn_handle, const void *, sf_cudnn_tensor, const void *, sf_cudnn_tensor, const void *,      \
       sf_cudnn_conv, sf_cudnn_bwd_filter_algo, void *, size_t, const void *, sf_cudnn_filter, void *))

#endif
